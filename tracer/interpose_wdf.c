/*
 * interpose_wdf.c - the hooks of the interpose_table.h rows that record
 * the life of KMDF objects: each object gets an identity of type WdfObject
 * when the framework finished creating it (FxObjectCreated), and every
 * reference and dereference (the driver's and the framework's own, told
 * apart by their stacks), the deletion of its creation reference, its
 * cleanup, its destruction, and the file object a remote I/O target holds
 * are events on it. Nothing needs configuring: every object of every kind
 * is recorded.
 *
 * Uses only the tracer core's interface (tracer.h), which asks the
 * simulation (NtsimQueryWdfObject, looked up at start); doc/trace-format.md §5.4 lists the fields.
 */
#include <stdio.h>
#include <string.h>

#include "interpose_hooks_wdf.h"
#include "ntsim.h"
#include "ntsim_kernel.h"
#include "wdf.h"
#include "interpose_fields.h"
#include "tracer.h"

#define WDF_PTR(x) ((void *)(uintptr_t)(x))
#define WDF_U(x) ((uint64_t)(uintptr_t)(x))

_Static_assert(FX_DELETE_BY_DRIVER == OBT_WDF_DELETE_BY_DRIVER && FX_DELETE_WITH_PARENT == OBT_WDF_DELETE_WITH_PARENT &&
                   FX_DELETE_BY_FRAMEWORK == OBT_WDF_DELETE_BY_FRAMEWORK,
               "FxReleaseCreation's Why is recorded as it is");
_Static_assert(FX_CLOSE_BY_DRIVER == OBT_WDF_CLOSE_BY_DRIVER && FX_CLOSE_QUERY_REMOVE == OBT_WDF_CLOSE_QUERY_REMOVE &&
                   FX_CLOSE_REMOVE == OBT_WDF_CLOSE_REMOVE && FX_CLOSE_DELETED == OBT_WDF_CLOSE_DELETED,
               "FxCloseIoTarget's Why is recorded as it is");

/* The kind number of a WDK handle type name ("WDFDEVICE"), OBT_WDF_OBJECT when unknown. */
static uint64_t wdf_kind_of(const char *name)
{
#define WDF_KIND_MATCH_(sym, value, text) \
    if (name && !strcmp(name, text))     \
        return value;
    OBT_WDF_KINDS(WDF_KIND_MATCH_)
#undef WDF_KIND_MATCH_
    return OBT_WDF_OBJECT;
}

/* The OBT_WDF_* flags of the simulation's NTSIM_WDF_* flags. */
static uint64_t wdf_flags_of(ULONG flags)
{
    return ((flags & NTSIM_WDF_CONTROL_DEVICE) ? OBT_WDF_CONTROL_DEVICE : 0) |
           ((flags & NTSIM_WDF_FILTER) ? OBT_WDF_FILTER : 0) | ((flags & NTSIM_WDF_PDO) ? OBT_WDF_PDO : 0) |
           ((flags & NTSIM_WDF_REMOTE_TARGET) ? OBT_WDF_REMOTE_TARGET : 0);
}

/* The reference count of a live KMDF object, 0 when it is gone. */
static int32_t wdf_references(const void *handle)
{
    NTSIM_WDF_OBJECT_INFO info;
    return !obt_wdf_describe(handle, &info) ? (int32_t)info.References : 0;
}

/* The recorded id of a simulation object (a DEVICE_OBJECT, a FILE_OBJECT), 0 for none. */
static uint32_t wdm_id(struct obt_call *c, const void *addr, int expect)
{
    return addr ? obt_recorded_id(obt_object_lookup(c->tls, addr, expect)) : 0;
}

/* Sets the event's string to text (len bytes); nothing when it cannot be interned. */
static void wdf_set_string(struct obt_call *c, const char *text, size_t len)
{
    uint32_t id = len ? obt_string_intern(c->tls, text, len) : 0;
    if (id) {
        c->ev.string = id;
        c->ev.flags |= OBT_EV_STRING;
    }
}

void obt_wdf_pre_object(struct obt_call *c, const uint64_t *a)
{
    c->pre[0] = obt_object_lookup(c->tls, WDF_PTR(a[0]), OBT_OBJ_WDF);
    obt_ev_set_object(&c->ev, c->pre[0]);
}

void obt_wdf_post_none(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)c, (void)a, (void)r;
}

/* The name a WDF object's OBJECT record carries: its WDM device's name for a WDFDEVICE, else empty. */
static void wdf_name(const NTSIM_WDF_OBJECT_INFO *info, char *buf, size_t len)
{
    NTSIM_OBJECT_INFO wdm;
    buf[0] = 0;
    if (info->WdmObject && !strcmp(info->KindName, "WDFDEVICE") && !obt_sim_describe(info->WdmObject, &wdm))
        snprintf(buf, len, "%s", wdm.Name);
}

void obt_wdf_post_created(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    NTSIM_WDF_OBJECT_INFO info;
    char name[256];
    if (obt_wdf_describe(WDF_PTR(a[0]), &info))
        return;
    wdf_name(&info, name, sizeof(name));
    uint64_t v = obt_object_new_wdf(c->tls, WDF_PTR(a[0]), name, info.DriverObject);
    obt_ev_set_object(&c->ev, v);
    uint64_t kind = wdf_kind_of(info.KindName);
    obt_field_obj2(c, info.Parent ? obt_recorded_id(obt_object_lookup(c->tls, info.Parent, OBT_OBJ_WDF)) : 0);
    obt_field_arg(c, kind | wdf_flags_of(info.Flags));
    uint32_t under = wdm_id(c, info.WdmObject, kind == OBT_WDF_REQUEST ? -OBT_OBJ_IRP : 0);
    if (under)
        obt_field_arg2(c, under);
    obt_field_status(c, STATUS_SUCCESS);
    c->ev.count = info.References;
    obt_emit(c);
}

void obt_wdf_post_reference(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    uint64_t tag = a[1];
    if (tag) {
        obt_field_tag(c, (uint32_t)tag);
        if (tag >> 32)
            obt_field_arg2(c, tag);
    }
    const char *file = WDF_PTR(a[3]);
    if (file) {
        char where[512];
        int n = snprintf(where, sizeof(where), "%s:%ld", file, (long)(LONG)a[2]);
        wdf_set_string(c, where, n < 0 ? 0 : (size_t)n < sizeof(where) ? (size_t)n : sizeof(where) - 1);
    }
    c->ev.count = wdf_references(WDF_PTR(a[0]));
    obt_emit(c);
}

void obt_wdf_pre_cleanup(struct obt_call *c, const uint64_t *a)
{
    obt_wdf_pre_object(c, a);
    obt_field_arg(c, a[1]);
    c->ev.count = wdf_references(WDF_PTR(a[0]));
    c->ev.flags |= OBT_EV_PRE;
    obt_emit(c);
}

void obt_wdf_post_delete(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_arg(c, a[1]);
    c->ev.count = (int32_t)(LONG)r;
    obt_emit(c);
}

void obt_wdf_post_destroy(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    obt_field_arg(c, a[1]);
    c->ev.count = 0;
    obt_emit(c);
    obt_object_forget(WDF_PTR(a[0]), c->pre[0]);
}

void obt_wdf_post_target_open(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    NTSIM_WDF_OBJECT_INFO info;
    const WDF_IO_TARGET_OPEN_PARAMS *params = WDF_PTR(a[1]);
    obt_field_status(c, r);
    if (NT_SUCCESS((NTSTATUS)r) && !obt_wdf_describe(WDF_PTR(a[0]), &info))
        obt_field_obj2(c, wdm_id(c, info.WdmObject, 0));
    if (params && params->TargetDeviceName.Buffer) {
        char name[512];
        size_t n = obt_utf16_to_utf8((const uint16_t *)params->TargetDeviceName.Buffer,
                                     params->TargetDeviceName.Length / 2, name, sizeof(name));
        wdf_set_string(c, name, n);
    }
    obt_emit(c);
}

void obt_wdf_pre_target_close(struct obt_call *c, const uint64_t *a)
{
    NTSIM_WDF_OBJECT_INFO info;
    obt_wdf_pre_object(c, a);
    c->pre[1] = !obt_wdf_describe(WDF_PTR(a[0]), &info) ? WDF_U(info.WdmObject) : 0;
    obt_field_obj2(c, wdm_id(c, WDF_PTR(c->pre[1]), 0));
}

void obt_wdf_post_target_close(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    if (!c->pre[1])
        return; /* nothing was open: nothing let go */
    obt_field_arg(c, a[1]);
    obt_emit(c);
}
