/*
 * interpose_hooks_pnp.h - the pre and post hooks (interpose_pnp.c) of the
 * interpose_table.h rows for the PnP manager's notes, the remove-lock
 * misuse report, the interface hand-out note, the host-action note and the
 * tagged / Ex variants of core calls (ObReference*WithTag,
 * IoSetCompletionRoutineEx, KeWaitForMultipleObjects). interpose.c
 * includes it before expanding the table; doc/trace-format.md says which
 * event fields each hook fills.
 *
 * Every hook has the shape the table's generator expects: a pre hook
 * (struct obt_call *, const uint64_t a[]) runs before the call is
 * forwarded, a post hook (..., uint64_t r) after it with the return value.
 */
#ifndef OBTRACE_INTERPOSE_HOOKS_PNP_H
#define OBTRACE_INTERPOSE_HOOKS_PNP_H

#include <stdint.h>

struct obt_call;

/* Pre hook that records nothing (the post hook does everything). */
void obt_pnp_pre_none(struct obt_call *c, const uint64_t *a);
/* Post hook that records nothing (the event was recorded before the call). */
void obt_pnp_post_none(struct obt_call *c, const uint64_t *a, uint64_t r);

/* PipNotePnpIrpSent(Device, Pdo, Minor, Parameter): PNP_EVENT. */
void obt_pnp_post_irp_sent(struct obt_call *c, const uint64_t *a, uint64_t r);
/* PipNotePnpIrpCompleted(Pdo, Minor, Status): PNP_IRP_DONE. */
void obt_pnp_post_irp_done(struct obt_call *c, const uint64_t *a, uint64_t r);
/* PipNoteVeto(Pdo, VetoingDevice, VetoType, VetoName): VETO. */
void obt_pnp_post_veto(struct obt_call *c, const uint64_t *a, uint64_t r);
/* PipNoteDevnodeState(Pdo, InstanceId, OldState, NewState): DEVNODE_STATE. */
void obt_pnp_post_devnode_state(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IopNoteInterfaceHandedOut(Device, Answering, Type, Interface, Status, NoOp, Irp): INTERFACE_QUERY (+ FUNCS). */
void obt_pnp_post_interface(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IopReportRemoveLockMisuse(Lock, Kind, Tag, File, Line, Value): REMLOCK_MISUSE. */
void obt_pnp_post_remlock_misuse(struct obt_call *c, const uint64_t *a, uint64_t r);
/* NtsimNoteHostAction(Where, What): HOST_ACTION. */
void obt_pnp_post_host_action(struct obt_call *c, const uint64_t *a, uint64_t r);
/*
 * NtsimStartService / StopService (a[0] = service), NtsimPlugDevice (a[1] =
 * instance), Unplug / Disable / Enable / EjectDevice (a[0] = instance):
 * HOST_ACTION recorded before the call on the caller's thread, with its
 * stack, no string, arg = string id of "VERB NAME" ("stop rtcodec").
 */
void obt_pnp_pre_request_start(struct obt_call *c, const uint64_t *a);
void obt_pnp_pre_request_stop(struct obt_call *c, const uint64_t *a);
void obt_pnp_pre_request_plug(struct obt_call *c, const uint64_t *a);
void obt_pnp_pre_request_unplug(struct obt_call *c, const uint64_t *a);
void obt_pnp_pre_request_disable(struct obt_call *c, const uint64_t *a);
void obt_pnp_pre_request_enable(struct obt_call *c, const uint64_t *a);
void obt_pnp_pre_request_eject(struct obt_call *c, const uint64_t *a);

/* ObReferenceObjectByPointerWithTag(Object, Access, Type, Mode, Tag): OBJ_REF; pre identifies Object. */
void obt_pnp_pre_ref_pointer(struct obt_call *c, const uint64_t *a);
void obt_pnp_post_ref_pointer_tag(struct obt_call *c, const uint64_t *a, uint64_t r);
/* ObReferenceObjectByHandleWithTag(Handle, Access, Type, Mode, Tag, Object, Info): OBJ_REF. */
void obt_pnp_post_ref_handle_tag(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IoSetCompletionRoutineEx(Device, Irp, Routine, ...): OBJ_REF on the device's driver object. */
void obt_pnp_post_completion_ex(struct obt_call *c, const uint64_t *a, uint64_t r);
/* KeWaitForMultipleObjects(Count, Object[], WaitType, ...): WAIT_BEGIN (pre) / WAIT_END per object. */
void obt_pnp_pre_wait_multiple(struct obt_call *c, const uint64_t *a);
void obt_pnp_post_wait_multiple(struct obt_call *c, const uint64_t *a, uint64_t r);

#endif /* OBTRACE_INTERPOSE_HOOKS_PNP_H */
