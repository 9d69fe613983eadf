/*
 * interpose.c - the exported interposers of libobtrace and their hooks.
 *
 * Each row of interpose_table.h becomes a function with the name and
 * prototype of the libntsim export it replaces. It forwards to the real
 * function (looked up once with dlsym(RTLD_NEXT)) and records what the call
 * did. Objects are identified before a call that may free them; counts are
 * the values the call returned, or, for calls that return none, read from
 * the simulation right after the call (0 when the object is gone).
 * The exec family is interposed too, to mark the trace complete before the
 * process image is replaced.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interpose_hooks_irp.h"
#include "interpose_hooks_pnp.h"
#include "interpose_hooks_wdf.h"
#include "ntsim.h"
#include "ntsim_kernel.h"
#include "wdf.h"
#include "interpose_fields.h"
#include "tracer.h"
#include "wdmsec.h"

#define OBT_U(x) ((uint64_t)(uintptr_t)(x))
#define OBT_PTR(x) ((void *)(uintptr_t)(x))
#define OBT_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, N, ...) N
#define OBT_NARGS(...) OBT_NARGS_(__VA_ARGS__, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define OBT_CAT_(a, b) a##b
#define OBT_CAT(a, b) OBT_CAT_(a, b)
#define OBT_PACK_1(a) OBT_U(a)
#define OBT_PACK_2(a, ...) OBT_U(a), OBT_PACK_1(__VA_ARGS__)
#define OBT_PACK_3(a, ...) OBT_U(a), OBT_PACK_2(__VA_ARGS__)
#define OBT_PACK_4(a, ...) OBT_U(a), OBT_PACK_3(__VA_ARGS__)
#define OBT_PACK_5(a, ...) OBT_U(a), OBT_PACK_4(__VA_ARGS__)
#define OBT_PACK_6(a, ...) OBT_U(a), OBT_PACK_5(__VA_ARGS__)
#define OBT_PACK_7(a, ...) OBT_U(a), OBT_PACK_6(__VA_ARGS__)
#define OBT_PACK_8(a, ...) OBT_U(a), OBT_PACK_7(__VA_ARGS__)
#define OBT_PACK_9(a, ...) OBT_U(a), OBT_PACK_8(__VA_ARGS__)
#define OBT_PACK(...) { OBT_CAT(OBT_PACK_, OBT_NARGS(__VA_ARGS__))(__VA_ARGS__) }

static void *obt_resolve_slow(void *_Atomic *slot, const char *name);

/* The real function behind name, looked up once. */
static inline void *obt_resolve(void *_Atomic *slot, const char *name)
{
    void *f = atomic_load_explicit(slot, memory_order_relaxed);
    if (__builtin_expect(f != NULL, 1))
        return f;
    return obt_resolve_slow(slot, name);
}

static void *obt_resolve_slow(void *_Atomic *slot, const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "obtrace: %s: no such function after libobtrace.so (is libntsim loaded?)\n", name);
        abort();
    }
    atomic_store_explicit(slot, f, memory_order_relaxed);
    return f;
}

/* ---- hook helpers --------------------------------------------------- */

static struct obt_tls *T(struct obt_call *c)
{
    return c->tls;
}

/* Sets ev's object from a live simulation object and returns its packed value. */
static uint64_t set_obj(struct obt_call *c, const void *addr)
{
    uint64_t v = obt_object_lookup(T(c), addr, 0);
    obt_ev_set_object(&c->ev, v);
    return v;
}

static uint32_t obj_id(struct obt_call *c, const void *addr, int expect)
{
    return OBT_OV_ID(obt_object_lookup(T(c), addr, expect));
}

static void set_module(struct obt_call *c, uint32_t instance)
{
    if (instance) {
        c->ev.module = instance;
        c->ev.flags |= OBT_EV_MODULE;
    }
}

static void set_string(struct obt_call *c, const char *s, size_t len)
{
    uint32_t id = obt_string_intern(T(c), s, len);
    if (id) {
        c->ev.string = id;
        c->ev.flags |= OBT_EV_STRING;
    }
}

static void set_ustring(struct obt_call *c, const UNICODE_STRING *u)
{
    char buf[2048];
    if (!u || !u->Buffer)
        return;
    size_t n = obt_utf16_to_utf8(u->Buffer, u->Length / 2, buf, sizeof(buf));
    set_string(c, buf, n);
}

/* Pointer count of a (its sim id in pre[1]) after a call, 0 when it is gone (forgotten then). */
static int32_t pointer_after(struct obt_call *c, const void *addr, uint64_t value, uint64_t sim_id)
{
    int64_t pointer;
    uint64_t id;
    if (sim_id && obt_object_counts(addr, &pointer, NULL, &id) == 0 && id == sim_id)
        return (int32_t)pointer;
    obt_object_forget(addr, value);
    (void)c;
    return 0;
}

static int32_t pointer_now(const void *addr)
{
    int64_t pointer;
    return obt_object_counts(addr, &pointer, NULL, NULL) == 0 ? (int32_t)pointer : 0;
}

/* ---- generic hooks ------------------------------------------------- */

static void pre_none(struct obt_call *c, const uint64_t *a)
{
    (void)c;
    (void)a;
}

static void post_none(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)c;
    (void)a;
    (void)r;
}

static void post_emit(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)a;
    (void)r;
    obt_emit(c);
}

/* The first argument is a simulation object. */
static void pre_obj0(struct obt_call *c, const uint64_t *a)
{
    c->pre[0] = set_obj(c, OBT_PTR(a[0]));
}

/* ... and remember its simulation id to tell later whether it is still alive. */
static void pre_obj0_id(struct obt_call *c, const uint64_t *a)
{
    pre_obj0(c, a);
    uint64_t sim_id = 0;
    if (c->pre[0])
        obt_object_counts(OBT_PTR(a[0]), NULL, NULL, &sim_id);
    c->pre[1] = sim_id;
}

static void post_obj0(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    post_emit(c, a, r);
}

static void post_obj0_status(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r);
    obt_emit(c);
    (void)a;
}

/* ---- object manager -------------------------------------------------- */

static void post_count(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    c->ev.count = (int32_t)r;
    post_emit(c, a, r);
}

static void post_deref(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    post_count(c, a, r);
    if ((int64_t)r == 0)
        obt_object_forget(OBT_PTR(a[0]), c->pre[0]);
}

static void post_count_tag(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_tag(c, (uint32_t)a[1]);
    post_count(c, a, r);
}

static void post_deref_tag(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_tag(c, (uint32_t)a[1]);
    post_deref(c, a, r);
}

static void post_pointer_after(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    c->ev.count = pointer_after(c, OBT_PTR(a[0]), c->pre[0], c->pre[1]);
    post_emit(c, a, r);
}

static void post_pointer_after_tag(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_tag(c, (uint32_t)a[1]);
    post_pointer_after(c, a, r);
}

static void post_pointer_status(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r);
    post_pointer_after(c, a, r);
}

static void post_ref_by_handle(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PVOID *out = OBT_PTR(a[4]);
    obt_field_status(c, r);
    obt_field_arg(c, a[0]);
    if (NT_SUCCESS((NTSTATUS)r) && out && *out) {
        set_obj(c, *out);
        c->ev.count = pointer_now(*out);
    }
    obt_emit(c);
}

static void pre_handle(struct obt_call *c, const uint64_t *a)
{
    void *obj = OBT_PTR(obt_addrmap_get(&obt_g.aux, a[0]));
    c->pre[2] = (uint64_t)(uintptr_t)obj;
    c->pre[0] = obj ? set_obj(c, obj) : 0;
    c->pre[1] = 0;
    if (c->pre[0])
        obt_object_counts(obj, NULL, NULL, &c->pre[1]);
}

static void post_handle_close(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    void *obj = OBT_PTR(c->pre[2]);
    int64_t handles;
    uint64_t id;

    obt_field_status(c, r);
    obt_field_arg(c, a[0]);
    if (obj && c->pre[1] && obt_object_counts(obj, NULL, &handles, &id) == 0 && id == c->pre[1])
        c->ev.count = (int32_t)handles;
    else if (obj)
        obt_object_forget(obj, c->pre[0]);
    if (NT_SUCCESS((NTSTATUS)r))
        obt_addrmap_set(&obt_g.aux, a[0], 0);
    obt_emit(c);
}

static void post_create_object(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PVOID *out = OBT_PTR(a[4]);
    obt_field_status(c, r);
    if (NT_SUCCESS((NTSTATUS)r) && out && *out) {
        uint8_t type = obt_object_type_of(OBT_PTR(a[0]));
        const UNICODE_STRING *name = OBT_PTR(a[1]);
        if (type) {
            char text[1024];
            obt_utf16_to_utf8(name ? name->Buffer : NULL, name ? name->Length / 2 : 0, text, sizeof(text));
            obt_ev_set_object(&c->ev, obt_object_new_named(T(c), *out, type, text));
            c->ev.count = name && name->Buffer ? 2 : 1; /* the creator's reference, and the name's */
        } else {
            obt_ev_set_object(&c->ev, obt_object_new(T(c), *out, 0));
            c->ev.count = pointer_now(*out);
        }
    } else {
        set_ustring(c, OBT_PTR(a[1]));
    }
    obt_emit(c);
}

static void post_handle_open(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PHANDLE out = OBT_PTR(a[6]);
    int64_t handles;
    obt_field_status(c, r);
    if (NT_SUCCESS((NTSTATUS)r) && out) {
        obt_field_arg(c, OBT_U(*out));
        obt_addrmap_set(&obt_g.aux, OBT_U(*out), a[0]);
        if (obt_object_counts(OBT_PTR(a[0]), NULL, &handles, NULL) == 0)
            c->ev.count = (int32_t)handles;
    }
    obt_emit(c);
}

/* ---- devices --------------------------------------------------------- */

/*
 * Sets ev's object and count from the device IoCreateDevice made, with one
 * query: when the nested ObCreateObject was traced the device has its
 * identity already, described before its driver was set, and its OBJECT
 * record is refreshed now (trace-format.md 5.2); otherwise its one OBJECT
 * record is written here, driver included.
 */
static void set_new_device(struct obt_call *c, PDEVICE_OBJECT dev)
{
    int64_t pointer;
    obt_ev_set_object(&c->ev, obt_object_built(T(c), dev, &pointer));
    c->ev.count = (int32_t)pointer;
}

static void device_created(struct obt_call *c, PDRIVER_OBJECT drv, PDEVICE_OBJECT *out, uint64_t r)
{
    obt_field_status(c, r);
    obt_field_obj2(c, obj_id(c, drv, 0));
    if (NT_SUCCESS((NTSTATUS)r) && out && *out)
        set_new_device(c, *out);
    obt_emit(c);
}

static void post_create_device(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    device_created(c, OBT_PTR(a[0]), OBT_PTR(a[6]), r);
}

static void post_create_device_secure(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    device_created(c, OBT_PTR(a[0]), OBT_PTR(a[8]), r);
}

static void attached(struct obt_call *c, const uint64_t *a, PDEVICE_OBJECT to)
{
    set_obj(c, OBT_PTR(a[0]));
    obt_field_obj2(c, obj_id(c, to, 0));
    obt_field_arg(c, obj_id(c, OBT_PTR(a[1]), 0));
    obt_emit(c);
}

static void post_attach(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE);
    attached(c, a, OBT_PTR(r));
}

static void post_attach_safe(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PDEVICE_OBJECT *out = OBT_PTR(a[2]);
    obt_field_status(c, r);
    attached(c, a, NT_SUCCESS((NTSTATUS)r) && out ? *out : NULL);
}

static void pre_detach(struct obt_call *c, const uint64_t *a)
{
    PDEVICE_OBJECT target = OBT_PTR(a[0]);
    pre_obj0(c, a);
    if (target)
        obt_field_obj2(c, obj_id(c, target->AttachedDevice, 0));
}

static void post_returned_reference(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    if (!r)
        return;
    set_obj(c, OBT_PTR(r));
    obt_field_obj2(c, obj_id(c, OBT_PTR(a[0]), 0));
    c->ev.count = pointer_now(OBT_PTR(r));
    obt_emit(c);
}

static void post_device_pointer(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PFILE_OBJECT *file = OBT_PTR(a[2]);
    PDEVICE_OBJECT *dev = OBT_PTR(a[3]);
    obt_field_status(c, r);
    set_ustring(c, OBT_PTR(a[0]));
    if (NT_SUCCESS((NTSTATUS)r) && file && *file) {
        set_obj(c, *file);
        c->ev.count = pointer_now(*file);
        obt_field_obj2(c, dev ? obj_id(c, *dev, 0) : 0);
    }
    obt_emit(c);
}

static void post_symlink(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r);
    set_ustring(c, OBT_PTR(a[0]));
    if (c->ev.op == OBT_OP_SYMLINK_CREATE) {
        uint32_t link = c->ev.string;
        uint16_t flags = c->ev.flags;
        set_ustring(c, OBT_PTR(a[1]));
        obt_field_arg(c, c->ev.string); /* arg = string id of the target */
        c->ev.string = link;
        c->ev.flags |= flags & OBT_EV_STRING;
    }
    obt_emit(c);
}

/* ---- IRPs ------------------------------------------------------------ */

/* The IRP's id is taken before the call: the IRP may be completed and freed inside it. */
static void pre_call_driver(struct obt_call *c, const uint64_t *a)
{
    pre_obj0(c, a);
    if (!a[1])
        return;
    obt_field_arg(c, obt_irp_function(OBT_PTR(a[1]), 1));
    obt_field_obj2(c, obt_irp_id(T(c), OBT_PTR(a[1])));
}

static void pre_complete_request(struct obt_call *c, const uint64_t *a)
{
    const IRP *irp = OBT_PTR(a[0]);
    if (!irp)
        return;
    uint64_t fn = obt_irp_function(irp, 0);
    obt_field_arg(c, fn);
    obt_field_status(c, (uint32_t)irp->IoStatus.Status);
    if (fn != 0xffff)
        set_obj(c, irp->Tail.Overlay.CurrentStackLocation->DeviceObject);
    obt_field_obj2(c, obt_irp_id(T(c), irp));
}

/* ---- pool and work items ----------------------------------------------- */

static void post_pool_alloc(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_tag(c, (uint32_t)a[2]);
    obt_field_arg(c, a[1]);
    set_module(c, obt_modules_instance_at(&obt_g.mods, OBT_U(c->ret_addr)));
    if (r)
        obt_ev_set_object(&c->ev, obt_object_new(T(c), OBT_PTR(r), OBT_OBJ_POOL));
    else
        obt_field_status(c, (uint64_t)(uint32_t)STATUS_INSUFFICIENT_RESOURCES);
    obt_emit(c);
}

static void pre_pool(struct obt_call *c, const uint64_t *a)
{
    c->pre[0] = obt_object_lookup(T(c), OBT_PTR(a[0]), OBT_OBJ_POOL);
    obt_ev_set_object(&c->ev, c->pre[0]);
}

static void post_pool_free(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_object_forget(OBT_PTR(a[0]), c->pre[0]);
    post_emit(c, a, r);
}

static void post_pool_free_tag(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_tag(c, (uint32_t)a[1]);
    post_pool_free(c, a, r);
}

static void post_workitem_alloc(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_obj2(c, obj_id(c, OBT_PTR(a[0]), 0));
    if (!r)
        return;
    obt_ev_set_object(&c->ev, obt_object_new(T(c), OBT_PTR(r), OBT_OBJ_WORKITEM));
    obt_emit(c);
}

static void emit_pre(struct obt_call *c);

static void pre_workitem(struct obt_call *c, const uint64_t *a)
{
    c->pre[0] = obt_object_lookup(T(c), OBT_PTR(a[0]), OBT_OBJ_WORKITEM);
    obt_ev_set_object(&c->ev, c->pre[0]);
}

static void post_workitem(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_arg(c, a[1]);
    post_emit(c, a, r);
}

/* A work item's routine is about to run (recorded first: the call may never return). */
static void pre_workitem_run(struct obt_call *c, const uint64_t *a)
{
    pre_workitem(c, a);
    obt_field_obj2(c, obj_id(c, OBT_PTR(a[1]), 0));
    obt_field_arg(c, a[3] ? a[3] : a[2]);
    emit_pre(c);
}

static void post_workitem_free(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_object_forget(OBT_PTR(a[0]), c->pre[0]);
    post_emit(c, a, r);
}

/* ---- waits, bug checks -------------------------------------------------- */

/* Records the pre-call event now (the call may never return). */
static void emit_pre(struct obt_call *c)
{
    c->ev.flags |= OBT_EV_PRE;
    obt_emit(c);
}

static void wait_done(struct obt_call *c, uint64_t status)
{
    struct obt_ev ev = c->ev;
    ev.op = OBT_OP_WAIT_END;
    ev.flags = (uint16_t)((ev.flags & ~(OBT_EV_PRE | OBT_EV_STATUS | OBT_EV_TAG | OBT_EV_ARG | OBT_EV_STRING)) |
                          OBT_EV_STATUS);
    ev.status = (int32_t)status;
    obt_emit_ev(c, &ev);
}

static void pre_wait_begin(struct obt_call *c, const uint64_t *a)
{
    obt_ev_set_object(&c->ev, obt_object_lookup(T(c), OBT_PTR(a[0]), -OBT_OBJ_EVENT));
    emit_pre(c);
}

static void post_wait_end(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)a;
    wait_done(c, r);
}

static void post_wait_done(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)a;
    (void)r;
    wait_done(c, STATUS_SUCCESS);
}

static void pre_bugcheck(struct obt_call *c, const uint64_t *a)
{
    obt_field_arg(c, a[0]);
    obt_field_arg2(c, a[1]);
    emit_pre(c);
}

static void pre_stuck_wait(struct obt_call *c, const uint64_t *a)
{
    const char *what = OBT_PTR(a[1]);
    obt_ev_set_object(&c->ev, obt_object_lookup(T(c), OBT_PTR(a[0]), -OBT_OBJ_EVENT));
    if (what)
        set_string(c, what, strlen(what));
    obt_field_arg(c, a[2]);
    emit_pre(c);
}

/* ---- PnP notifications -------------------------------------------------- */

static void post_notify_register(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    PVOID *entry = OBT_PTR(a[6]);
    obt_field_status(c, r);
    set_obj(c, OBT_PTR(a[3]));
    obt_field_arg(c, a[0]);
    if (a[0] == EventCategoryTargetDeviceChange)
        obt_field_arg2(c, obj_id(c, OBT_PTR(a[2]), 0));
    if (NT_SUCCESS((NTSTATUS)r) && entry && *entry) {
        obt_field_obj2(c, OBT_OV_ID(obt_object_new(T(c), *entry, OBT_OBJ_NOTIFY)));
        obt_addrmap_set(&obt_g.aux, OBT_U(*entry), a[3]);
    }
    c->ev.count = pointer_now(OBT_PTR(a[3]));
    obt_emit(c);
}

static void pre_notify_unregister(struct obt_call *c, const uint64_t *a)
{
    void *drv = OBT_PTR(obt_addrmap_get(&obt_g.aux, a[0]));
    c->pre[2] = OBT_U(drv);
    c->pre[3] = obt_object_lookup(T(c), OBT_PTR(a[0]), OBT_OBJ_NOTIFY);
    obt_field_obj2(c, OBT_OV_ID(c->pre[3]));
    c->pre[0] = drv ? set_obj(c, drv) : 0;
    c->pre[1] = 0;
    if (drv)
        obt_object_counts(drv, NULL, NULL, &c->pre[1]);
}

static void post_notify_unregister(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r);
    if (c->pre[2])
        c->ev.count = pointer_after(c, OBT_PTR(c->pre[2]), c->pre[0], c->pre[1]);
    if (NT_SUCCESS((NTSTATUS)r)) {
        obt_object_forget(OBT_PTR(a[0]), c->pre[3]);
        obt_addrmap_set(&obt_g.aux, a[0], 0);
    }
    obt_emit(c);
}

/* ---- remove locks, run-down ----------------------------------------------- */

static void remlock_fields(struct obt_call *c, const uint64_t *a)
{
    const IO_REMOVE_LOCK *lock = OBT_PTR(a[0]);
    obt_ev_set_object(&c->ev, obt_object_lookup(T(c), lock, OBT_OBJ_REMLOCK));
    obt_field_arg(c, a[1]);
    obt_field_obj2(c, obt_irp_id_known(OBT_PTR(a[1]))); /* the tag is an IRP the trace knows */
    if (lock)
        c->ev.count = __atomic_load_n(&lock->Common.IoCount, __ATOMIC_RELAXED);
}

static void post_remlock_acquire(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    char where[1024];
    const char *file = OBT_PTR(a[2]);
    remlock_fields(c, a);
    obt_field_status(c, r);
    if (file) {
        int n = snprintf(where, sizeof(where), "%s:%u", file, (unsigned)a[3]);
        set_string(c, where, n < (int)sizeof(where) ? (size_t)n : sizeof(where) - 1);
    }
    obt_emit(c);
}

static void post_remlock(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    remlock_fields(c, a);
    post_emit(c, a, r);
}

static void pre_remlock_wait(struct obt_call *c, const uint64_t *a)
{
    remlock_fields(c, a);
    emit_pre(c);
}

static void rundown_fields(struct obt_call *c, const uint64_t *a)
{
    const EX_RUNDOWN_REF *ref = OBT_PTR(a[0]);
    obt_ev_set_object(&c->ev, obt_object_lookup(T(c), ref, OBT_OBJ_RUNDOWN));
    if (ref)
        c->ev.count = (int32_t)(__atomic_load_n(&ref->Count, __ATOMIC_RELAXED) >> EX_RUNDOWN_COUNT_SHIFT);
}

static void post_rundown_acquire(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    rundown_fields(c, a);
    obt_field_arg(c, c->ev.op == OBT_OP_RUNDOWN_ACQUIRE && a[1] && (uint8_t)r ? a[1] : 1);
    obt_field_status(c, (uint8_t)r ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL);
    obt_emit(c);
}

static void post_rundown_release(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    rundown_fields(c, a);
    post_emit(c, a, r);
}

static void pre_rundown_wait(struct obt_call *c, const uint64_t *a)
{
    rundown_fields(c, a);
    emit_pre(c);
}

/* ---- images and drivers ---------------------------------------------------- */

static void post_image_load(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    const char *path = OBT_PTR(a[0]);
    PVOID *handle = OBT_PTR(a[1]), *base = OBT_PTR(a[2]);

    obt_modules_scan(&obt_g.mods, &obt_g.w, &T(c)->tb);
    obt_field_status(c, r);
    if (path)
        set_string(c, path, strlen(path));
    if (NT_SUCCESS((NTSTATUS)r) && base && *base) {
        uint32_t instance = obt_modules_instance_at(&obt_g.mods, OBT_U(*base));
        obt_field_arg(c, OBT_U(*base));
        set_module(c, instance);
        if (handle && *handle)
            obt_addrmap_set(&obt_g.aux, OBT_U(*handle), instance);
    }
    obt_emit(c);
}

static void pre_image_unload(struct obt_call *c, const uint64_t *a)
{
    set_module(c, (uint32_t)obt_addrmap_get(&obt_g.aux, a[0]));
}

static void post_image_unload(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_modules_scan(&obt_g.mods, &obt_g.w, &T(c)->tb);
    obt_field_status(c, r);
    if (NT_SUCCESS((NTSTATUS)r))
        obt_addrmap_set(&obt_g.aux, a[0], 0);
    obt_emit(c);
}

static void post_service(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_status(c, r);
    set_ustring(c, OBT_PTR(a[0]));
    obt_emit(c);
}

static uint32_t driver_image(const DRIVER_OBJECT *drv)
{
    uint64_t code = drv ? OBT_U(drv->DriverStart ? drv->DriverStart : (PVOID)drv->DriverInit) : 0;
    return code ? obt_modules_instance_at(&obt_g.mods, code) : 0;
}

static void post_driver_entry(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    const DRIVER_OBJECT *drv = OBT_PTR(a[0]);
    obt_object_refresh(T(c), drv, c->pre[0]); /* its image and name are known now */
    obt_field_status(c, r);
    set_ustring(c, OBT_PTR(a[1]));
    set_module(c, driver_image(drv));
    if (drv) {
        obt_field_arg(c, OBT_U(drv->DriverUnload));
        obt_field_arg2(c, OBT_U(drv->DriverInit));
    }
    obt_emit(c);
}

static void pre_driver_unload(struct obt_call *c, const uint64_t *a)
{
    const DRIVER_OBJECT *drv = OBT_PTR(a[0]);
    pre_obj0(c, a);
    if (drv)
        obt_field_arg(c, OBT_U(drv->DriverUnload));
    set_module(c, driver_image(drv));
    emit_pre(c);
}

static void post_unload_write(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    obt_field_arg(c, a[2]);
    obt_field_arg2(c, a[1]);
    post_emit(c, a, r);
}

/* ---- the generated interposers ------------------------------------------------ */

#define OBT_GEN_HEAD(RET, NAME, PARAMS, OP)                                                         \
    typedef RET(*obt_fn_##NAME) PARAMS;                                                             \
    static void *_Atomic obt_real_##NAME;                                                           \
    RET NAME PARAMS                                                                                 \
    {                                                                                               \
        obt_fn_##NAME real_ = (obt_fn_##NAME)obt_resolve(&obt_real_##NAME, #NAME);                 \
        struct obt_call c_;

#define OBT_GEN_R(RET, NAME, PARAMS, ARGS, OP, PRE, POST)                                           \
    OBT_GEN_HEAD(RET, NAME, PARAMS, OP)                                                             \
    if (!obt_call_begin(&c_, __builtin_frame_address(0), __builtin_return_address(0), OP))        \
        return real_ ARGS;                                                                          \
    const uint64_t a_[10] = OBT_PACK ARGS; /* unused tail reads as 0 */                                                            \
    PRE(&c_, a_);                                                                                   \
    obt_call_forward(&c_);                                                                          \
    RET r_ = real_ ARGS;                                                                            \
    obt_call_resume(&c_);                                                                           \
    obt_call_capture(&c_);                                                                          \
    POST(&c_, a_, OBT_U(r_));                                                                       \
    obt_call_end(&c_);                                                                              \
    return r_;                                                                                      \
    }

#define OBT_GEN_V(RET, NAME, PARAMS, ARGS, OP, PRE, POST)                                           \
    OBT_GEN_HEAD(RET, NAME, PARAMS, OP)                                                             \
    if (!obt_call_begin(&c_, __builtin_frame_address(0), __builtin_return_address(0), OP)) {      \
        real_ ARGS;                                                                                 \
        return;                                                                                     \
    }                                                                                               \
    const uint64_t a_[10] = OBT_PACK ARGS; /* unused tail reads as 0 */                                                            \
    PRE(&c_, a_);                                                                                   \
    obt_call_forward(&c_);                                                                          \
    real_ ARGS;                                                                                     \
    obt_call_resume(&c_);                                                                           \
    obt_call_capture(&c_);                                                                          \
    POST(&c_, a_, 0);                                                                               \
    obt_call_end(&c_);                                                                              \
    }

#define OBT_GEN_N(RET, NAME, PARAMS, ARGS, OP, PRE, POST)                                           \
    OBT_GEN_HEAD(RET, NAME, PARAMS, OP)                                                             \
    if (obt_call_begin(&c_, __builtin_frame_address(0), __builtin_return_address(0), OP)) {       \
        const uint64_t a_[10] = OBT_PACK ARGS; /* unused tail reads as 0 */                                                        \
        PRE(&c_, a_);                                                                               \
        (void)POST;                                                                                 \
        obt_call_end(&c_);                                                                          \
    }                                                                                               \
    real_ ARGS;                                                                                     \
    __builtin_unreachable();                                                                        \
    }

#include "interpose_table.h"

OBT_INTERPOSERS(OBT_GEN_R, OBT_GEN_V, OBT_GEN_N)

/* The canary: counts calls reaching us through the normal (global) lookup. */
static void *_Atomic obt_real_KeGetCurrentIrql;
KIRQL KeGetCurrentIrql(void)
{
    KIRQL (*real)(void) = (KIRQL(*)(void))obt_resolve(&obt_real_KeGetCurrentIrql, "KeGetCurrentIrql");
    if (__builtin_expect(atomic_load_explicit(&obt_g.canary_armed, memory_order_relaxed), 0))
        atomic_fetch_add(&obt_g.canary_hits, 1);
    return real();
}

/*
 * dlclose: once an object is unmapped, other code may be mapped at its
 * addresses, so what a dwarf stack memo learned about the code there
 * (struct obt_dwarf_memo) no longer holds: the generation moves on and
 * every memo learned before is dropped at its next use.
 */
static void *_Atomic obt_real_dlclose;
OBT_EXPORT int dlclose(void *handle)
{
    int (*real)(void *) = (int (*)(void *))obt_resolve(&obt_real_dlclose, "dlclose");
    int rc = real(handle);
    atomic_fetch_add_explicit(&obt_g.code_generation, 1, memory_order_release);
    return rc;
}

/* ---- exec: mark the trace complete before the image is replaced ------------- */

extern char **environ;

static void exec_begin(void)
{
    if (atomic_load(&obt_g.state) == OBT_RUNNING && getpid() == obt_g.pid) {
        struct obt_tls *t = obt_tls_get();
        int busy = t->busy;
        t->busy = 1;
        obt_writer_write_end(&obt_g.w, &t->tb);
        t->busy = busy;
    }
}

#define OBT_EXEC_RESOLVE(name) ((obt_fn_exec_##name)obt_resolve(&obt_real_exec_##name, #name))

typedef int (*obt_fn_exec_execve)(const char *, char *const[], char *const[]);
typedef int (*obt_fn_exec_execv)(const char *, char *const[]);
typedef int (*obt_fn_exec_execvp)(const char *, char *const[]);
typedef int (*obt_fn_exec_execvpe)(const char *, char *const[], char *const[]);
static void *_Atomic obt_real_exec_execve, *_Atomic obt_real_exec_execv, *_Atomic obt_real_exec_execvp,
    *_Atomic obt_real_exec_execvpe;

OBT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
    exec_begin();
    return OBT_EXEC_RESOLVE(execve)(path, argv, envp);
}

OBT_EXPORT int execv(const char *path, char *const argv[])
{
    exec_begin();
    return OBT_EXEC_RESOLVE(execv)(path, argv);
}

OBT_EXPORT int execvp(const char *file, char *const argv[])
{
    exec_begin();
    return OBT_EXEC_RESOLVE(execvp)(file, argv);
}

OBT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    exec_begin();
    return OBT_EXEC_RESOLVE(execvpe)(file, argv, envp);
}
