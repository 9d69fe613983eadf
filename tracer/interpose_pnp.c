/*
 * interpose_pnp.c - the hooks of the interpose_table.h rows that record
 * what the PnP manager does (IRPs sent to each device of a stack and their
 * completion, vetoes, devnode states), interface hand-outs
 * (IRP_MN_QUERY_INTERFACE), remove-lock misuse reports, the host's action
 * marks (NtsimNoteHostAction) and requests (NtsimStartService, ...), and the tagged / Ex variants of core calls
 * (ObReferenceObjectBy{Pointer,Handle}WithTag, IoSetCompletionRoutineEx,
 * KeWaitForMultipleObjects).
 *
 * Kept apart from interpose.c so that the hot-path hooks there and these
 * can change independently: these use only the tracer core's interface
 * (tracer.h), with their own small field setters. doc/trace-format.md
 * §5.4 says which fields each event carries; the hooks fill exactly those.
 */
#include <stdio.h>
#include <string.h>

#include "interpose_hooks_irp.h"
#include "interpose_hooks_pnp.h"
#include "ntsim.h"
#include "ntsim_kernel.h"
#include "interpose_fields.h"
#include "tracer.h"

#define PNP_PTR(x) ((void *)(uintptr_t)(x))
#define PNP_U(x) ((uint64_t)(uintptr_t)(x))

/* ---- field setters ---------------------------------------------------- */

/* Sets the event's object from addr (expect as obt_object_lookup) and returns the packed value. */
static uint64_t pnp_set_obj(struct obt_call *c, const void *addr, int expect)
{
    uint64_t v = addr ? obt_object_lookup(c->tls, addr, expect) : 0;
    obt_ev_set_object(&c->ev, v);
    return v;
}

/* The object id of a simulation object, 0 when it is none (or NULL). */
static uint32_t pnp_obj_id(struct obt_call *c, const void *addr)
{
    return addr ? OBT_OV_ID(obt_object_lookup(c->tls, addr, 0)) : 0;
}

/* The interned id of a NUL-terminated text, 0 for NULL (or on failure). */
static uint32_t pnp_string_id(struct obt_call *c, const char *s)
{
    return s ? obt_string_intern(c->tls, s, strlen(s)) : 0;
}

static void pnp_set_string_id(struct obt_call *c, uint32_t id)
{
    if (id) {
        c->ev.string = id;
        c->ev.flags |= OBT_EV_STRING;
    }
}

/* The pointer count of a live simulation object, 0 when it is none. */
static int32_t pnp_pointer_now(const void *addr)
{
    int64_t pointer;
    return addr && obt_object_counts(addr, &pointer, NULL, NULL) == 0 ? (int32_t)pointer : 0;
}

/* ---- generic ------------------------------------------------------------ */

void obt_pnp_pre_none(struct obt_call *c, const uint64_t *a)
{
    (void)c;
    (void)a;
}

void obt_pnp_post_none(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)c;
    (void)a;
    (void)r;
}

/* ---- the PnP manager's notes ---------------------------------------------- */

void obt_pnp_post_irp_sent(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    pnp_set_obj(c, PNP_PTR(a[0]), 0);
    obt_field_obj2(c, pnp_obj_id(c, PNP_PTR(a[1])));
    obt_field_arg(c, (uint64_t)(uint8_t)a[2] | (uint64_t)(uint32_t)a[3] << 32);
    obt_emit(c);
}

void obt_pnp_post_irp_done(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    pnp_set_obj(c, PNP_PTR(a[0]), 0);
    obt_field_arg(c, (uint8_t)a[1]);
    obt_field_status(c, a[2]);
    obt_emit(c);
}

void obt_pnp_post_veto(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    pnp_set_obj(c, PNP_PTR(a[1]), 0);
    obt_field_obj2(c, pnp_obj_id(c, PNP_PTR(a[0])));
    obt_field_arg(c, (uint32_t)a[2]);
    pnp_set_string_id(c, pnp_string_id(c, PNP_PTR(a[3])));
    obt_emit(c);
}

void obt_pnp_post_devnode_state(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    pnp_set_obj(c, PNP_PTR(a[0]), 0);
    pnp_set_string_id(c, pnp_string_id(c, PNP_PTR(a[1])));
    obt_field_arg(c, (uint32_t)a[3]);
    obt_field_arg2(c, (uint32_t)a[2]);
    obt_emit(c);
}

/* ---- interfaces ------------------------------------------------------------ */

/* GUID text as the registry writes it: {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}; returns its id. */
static uint32_t pnp_guid_string(struct obt_call *c, const GUID *g)
{
    char text[40];
    if (!g)
        return 0;
    int n = snprintf(text, sizeof(text), "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned)g->Data1,
                     g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2], g->Data4[3], g->Data4[4],
                     g->Data4[5], g->Data4[6], g->Data4[7]);
    return n > 0 ? obt_string_intern(c->tls, text, (size_t)n) : 0;
}

/* The INTERFACE_FUNCS event that follows a hand-out: the reference functions' addresses. */
static void pnp_emit_interface_funcs(struct obt_call *c, const INTERFACE *iface, uint32_t guid)
{
    struct obt_ev ev = c->ev;
    ev.op = OBT_OP_INTERFACE_FUNCS;
    ev.flags = (uint16_t)((ev.flags & (OBT_EV_OBJ2 | OBT_EV_STRING)) | OBT_EV_ARG | OBT_EV_ARG2);
    ev.arg = PNP_U(iface->InterfaceReference);
    ev.arg2 = PNP_U(iface->InterfaceDereference);
    ev.string = guid;
    obt_emit_ev(c, &ev);
}

void obt_pnp_post_interface(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    const INTERFACE *iface = PNP_PTR(a[3]);
    (void)r;
    pnp_set_obj(c, PNP_PTR(a[0]), 0);
    obt_field_obj2(c, pnp_obj_id(c, PNP_PTR(a[1])));
    uint32_t guid = pnp_guid_string(c, PNP_PTR(a[2]));
    pnp_set_string_id(c, guid);
    obt_field_status(c, a[4]);
    uint64_t irp = obt_irp_id(c->tls, PNP_PTR(a[6])); /* joins the requester's IRP_CALL of that IRP */
    obt_field_arg(c, ((uint8_t)a[5] ? OBT_IFACE_NOOP_REFS : 0) | irp << OBT_IFACE_IRP_SHIFT);
    obt_field_arg2(c, PNP_U(iface));
    obt_emit(c);
    if (iface)
        pnp_emit_interface_funcs(c, iface, guid);
}

/* ---- remove-lock misuse ------------------------------------------------------- */

void obt_pnp_post_remlock_misuse(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    const IO_REMOVE_LOCK *lock = PNP_PTR(a[0]);
    const char *file = PNP_PTR(a[3]);
    (void)r;
    pnp_set_obj(c, lock, OBT_OBJ_REMLOCK);
    if (lock)
        c->ev.count = __atomic_load_n(&lock->Common.IoCount, __ATOMIC_RELAXED);
    obt_field_tag(c, (uint32_t)a[1]);
    obt_field_arg(c, a[2]);
    obt_field_obj2(c, obt_irp_id_known(PNP_PTR(a[2]))); /* the tag is an IRP the trace knows */
    obt_field_arg2(c, a[5]);
    if (file) {
        char where[1024];
        int n = snprintf(where, sizeof(where), "%s:%u", file, (unsigned)a[4]);
        size_t len = n < (int)sizeof(where) ? (size_t)n : sizeof(where) - 1;
        if (n > 0)
            pnp_set_string_id(c, obt_string_intern(c->tls, where, len));
    }
    obt_emit(c);
}

/* ---- host actions ---------------------------------------------------------------- */

void obt_pnp_post_host_action(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    pnp_set_string_id(c, pnp_string_id(c, PNP_PTR(a[0])));
    c->tls->host_marked = a[0] != 0;
    uint32_t what = pnp_string_id(c, PNP_PTR(a[1]));
    if (what)
        obt_field_arg(c, what);
    obt_emit(c);
}

/*
 * A host request (HOST_ACTION without a string): arg = the id of "VERB
 * NAME", or of VERB alone when NAME is NULL; recorded now, before the
 * request runs, so the stack is the caller's. Not recorded when the
 * thread's latest host action was a mark with a where (the scenario
 * runner marks every line): the request belongs to that mark.
 */
static void pnp_host_request(struct obt_call *c, const char *verb, const char *name)
{
    if (c->tls->host_marked)
        return;
    char what[512];
    int n = name ? snprintf(what, sizeof(what), "%s %s", verb, name) : snprintf(what, sizeof(what), "%s", verb);
    size_t len = n < (int)sizeof(what) ? (size_t)n : sizeof(what) - 1;
    uint32_t id = n > 0 ? obt_string_intern(c->tls, what, len) : 0;
    if (id)
        obt_field_arg(c, id);
    obt_emit(c);
}

void obt_pnp_pre_request_start(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "start", PNP_PTR(a[0]));
}

void obt_pnp_pre_request_stop(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "stop", PNP_PTR(a[0]));
}

void obt_pnp_pre_request_plug(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "plug", PNP_PTR(a[1]));
}

void obt_pnp_pre_request_unplug(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "unplug", PNP_PTR(a[0]));
}

void obt_pnp_pre_request_disable(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "disable", PNP_PTR(a[0]));
}

void obt_pnp_pre_request_enable(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "enable", PNP_PTR(a[0]));
}

void obt_pnp_pre_request_eject(struct obt_call *c, const uint64_t *a)
{
    pnp_host_request(c, "eject", PNP_PTR(a[0]));
}

/* ---- tagged references, unload-safe completion routines ---------------------------- */

void obt_pnp_pre_ref_pointer(struct obt_call *c, const uint64_t *a)
{
    pnp_set_obj(c, PNP_PTR(a[0]), 0);
}

void obt_pnp_post_ref_pointer_tag(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r);
    obt_field_tag(c, (uint32_t)a[4]);
    if (NT_SUCCESS((NTSTATUS)r))
        c->ev.count = pnp_pointer_now(PNP_PTR(a[0]));
    obt_emit(c);
}

void obt_pnp_post_ref_handle_tag(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PVOID *out = PNP_PTR(a[5]);
    obt_field_status(c, r);
    obt_field_arg(c, a[0]);
    obt_field_tag(c, (uint32_t)a[4]);
    if (NT_SUCCESS((NTSTATUS)r) && out && *out) {
        pnp_set_obj(c, *out, 0);
        c->ev.count = pnp_pointer_now(*out);
    }
    obt_emit(c);
}

void obt_pnp_post_completion_ex(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    const DEVICE_OBJECT *device = PNP_PTR(a[0]);
    obt_field_status(c, r);
    obt_field_obj2(c, pnp_obj_id(c, device));
    obt_field_arg(c, a[2]);
    obt_field_arg2(c, a[1]);
    if (NT_SUCCESS((NTSTATUS)r) && device) {
        pnp_set_obj(c, device->DriverObject, 0);
        c->ev.count = pnp_pointer_now(device->DriverObject);
    }
    obt_emit(c);
}

/* ---- waits on several objects ------------------------------------------------------- */

/* How many entries of KeWaitForMultipleObjects' array the hooks read. */
static unsigned pnp_wait_count(const uint64_t *a)
{
    uint64_t n = a[0];
    return a[1] ? (unsigned)(n < MAXIMUM_WAIT_OBJECTS ? n : MAXIMUM_WAIT_OBJECTS) : 0;
}

/* One event per object of the wait: op, status (WAIT_END) or pre flag (WAIT_BEGIN). */
static void pnp_emit_waits(struct obt_call *c, const uint64_t *a, uint8_t op, int have_status, uint64_t status)
{
    PVOID *objects = PNP_PTR(a[1]);
    for (unsigned i = 0; i < pnp_wait_count(a); i++) {
        struct obt_ev ev;
        memset(&ev, 0, sizeof(ev));
        ev.op = op;
        obt_ev_set_object(&ev, objects[i] ? obt_object_lookup(c->tls, objects[i], -OBT_OBJ_EVENT) : 0);
        ev.arg = a[0];
        ev.arg2 = (uint64_t)i << 32 | (uint32_t)a[2];
        ev.flags = OBT_EV_ARG | OBT_EV_ARG2;
        if (have_status) {
            ev.status = (int32_t)status;
            ev.flags |= OBT_EV_STATUS;
        } else {
            ev.flags |= OBT_EV_PRE;
        }
        obt_emit_ev(c, &ev);
    }
}

void obt_pnp_pre_wait_multiple(struct obt_call *c, const uint64_t *a)
{
    pnp_emit_waits(c, a, OBT_OP_WAIT_BEGIN, 0, 0);
}

void obt_pnp_post_wait_multiple(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    pnp_emit_waits(c, a, OBT_OP_WAIT_END, 1, r);
}
