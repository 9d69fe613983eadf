/*
 * interpose_hooks_wdf.h - the pre and post hooks (interpose_wdf.c) of the
 * interpose_table.h rows for the KMDF object model: creation
 * (FxObjectCreated), references (WdfObjectReferenceActual /
 * DereferenceActual), deletion (FxCallCleanup, FxReleaseCreation),
 * destruction (FxDestroyObject) and remote I/O targets (WdfIoTargetOpen,
 * FxCloseIoTarget). interpose.c includes it before expanding the table;
 * doc/trace-format.md says which event fields each hook fills.
 */
#ifndef OBTRACE_INTERPOSE_HOOKS_WDF_H
#define OBTRACE_INTERPOSE_HOOKS_WDF_H

#include <stdint.h>

struct obt_call;

/* Pre hook: a[0] is a KMDF handle; identifies it (c->pre[0]). */
void obt_wdf_pre_object(struct obt_call *c, const uint64_t *a);
/* Post hook that records nothing. */
void obt_wdf_post_none(struct obt_call *c, const uint64_t *a, uint64_t r);
/* FxObjectCreated(Object): WDF_CREATE with a fresh identity. */
void obt_wdf_post_created(struct obt_call *c, const uint64_t *a, uint64_t r);
/* WdfObject{Reference,Dereference}Actual(Handle, Tag, Line, File): WDF_REF / WDF_DEREF. */
void obt_wdf_post_reference(struct obt_call *c, const uint64_t *a, uint64_t r);
/* FxCallCleanup(Object, Cleanup): WDF_CLEANUP recorded before the callback runs. */
void obt_wdf_pre_cleanup(struct obt_call *c, const uint64_t *a);
/* FxReleaseCreation(Object, Why): WDF_DELETE, count = the references left. */
void obt_wdf_post_delete(struct obt_call *c, const uint64_t *a, uint64_t r);
/* FxDestroyObject(Object, Destroy): WDF_DESTROY; the identity is retired. */
void obt_wdf_post_destroy(struct obt_call *c, const uint64_t *a, uint64_t r);
/* WdfIoTargetOpen(IoTarget, OpenParams): WDF_IOTARGET_OPEN. */
void obt_wdf_post_target_open(struct obt_call *c, const uint64_t *a, uint64_t r);
/* FxCloseIoTarget(IoTarget, Why): pre identifies the file object; post records WDF_IOTARGET_CLOSE. */
void obt_wdf_pre_target_close(struct obt_call *c, const uint64_t *a);
void obt_wdf_post_target_close(struct obt_call *c, const uint64_t *a, uint64_t r);

#endif /* OBTRACE_INTERPOSE_HOOKS_WDF_H */
