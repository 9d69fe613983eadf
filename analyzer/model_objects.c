/*
 * model_objects.c - object lifetime events of the replay: creation,
 * references and dereferences, handles, devices (create, delete, attach,
 * detach, opens), removal and IRPs, each applied to the object and its
 * ledger (model_ledger.c).
 */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "xalloc.h"

/* ---- object lifetime events ------------------------------------------------------------------- */

static void device_try_unlink(struct model *m, struct object *d, const struct tr_event *ev)
{
    (void)m;
    if (d->delete_called && !d->is_unlinked && d->refcount <= 0 && !d->attached_above) {
        d->is_unlinked = true;
        d->unlinked = evref(ev);
    }
}

/* The object's pointer count reached zero: framework follow-ups, then retirement. */
static void object_freed(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if (o->type == OBT_OBJ_DEVICE && o->owner) {
        /* the delete procedure dereferenced the driver inside this call */
        struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_DEREF, o->owner, ev->stack);
        if (inner)
            ref_repair(model_object(m, o->owner), inner, LBL_DEVICE, o->id);
    }
    if (o->type == OBT_OBJ_DRIVER) {
        struct driver *d = driver_get(m, o->id);
        d->freed = evref(ev);
    }
    /* a device freed while still attached above another stays its lower's attachment (nt-semantics §2.4: the
     * lower's delete never completes); the freed ring keeps what the rules say about it */
    object_retire(m, o);
}

void on_create(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if (!o->created.seq)
        o->created = evref(ev);
    ref_reconcile(m, o, ev, ev->count > 0 ? ev->count : 1, LBL_CREATE, 0);
    site_add(o, ev->stack, 0, 1, 0);
    if (o->type == OBT_OBJ_FILE) {
        o->opened = evref(ev);
        if (ev->obj2)
            o->file_device = ev->obj2;
        for (unsigned back = 0; !o->file_device && back < RING; back++) {
            struct ring_ev *r = ring_at(t, back);
            if (r->seq && r->op == OBT_OP_DEV_OPEN_REF)
                o->file_device = r->object;
        }
    }
    if (o->type == OBT_OBJ_DRIVER)
        driver_get(m, o->id);
}

/* IoGetDeviceObjectPointer records the file object with the device in obj2 and the name it opened. */
static uint8_t ref_via(const struct model *m, const struct object *o, const struct tr_event *ev)
{
    const struct object *o2 = model_object(m, ev->obj2);
    if (o->type == OBT_OBJ_FILE && o2 && o2->type == OBT_OBJ_DEVICE && (ev->flags & OBT_EV_STRING))
        return VIA_DEVICE_POINTER;
    return VIA_NONE;
}

/*
 * An outer call whose reference was already counted when the call it made
 * inside was recorded (ObReferenceObjectByHandle, IoGetDeviceObjectPointer):
 * the reference is the outer call's; it takes over the inner entry.
 */
static bool ref_adopt_nested(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                             uint8_t op)
{
    if (ev->count < 0)
        return false;
    bool counted = op == OBT_OP_OBJ_REF ? o->nrefs >= (size_t)ev->count : o->nrefs <= (size_t)ev->count;
    if (!counted)
        return false;
    struct ring_ev *inner = ring_find_nested(m, t, op, o->id, ev->stack);
    if (!inner)
        return false;
    uint32_t tag = model_tag_is_explicit(ev->tag) ? ev->tag : 0;
    if (op == OBT_OP_OBJ_REF) {
        site_add(o, inner->stack, tag, -1, 0);
        site_add(o, ev->stack, tag, 1, 0);
        for (size_t i = o->nrefs; i-- > 0;) {
            struct ref_entry *e = &o->refs[i];
            if (e->seq != inner->seq)
                continue;
            e->seq = ev->seq;
            e->stack = ev->stack;
            e->op = ev->op;
            e->via = ref_via(m, o, ev);
            e->caller = stack_caller(m, ev->stack, ev->seq);
            break;
        }
    } else {
        site_add(o, inner->stack, tag, 0, -1);
        site_add(o, ev->stack, tag, 0, 1);
    }
    inner->seq = ev->seq; /* a later outer call finds the entry under its new seq */
    inner->stack = ev->stack;
    inner->claimed = false;
    return true;
}

void on_ref(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    struct object *o2 = model_object(m, ev->obj2);
    if (o->type == OBT_OBJ_FILE && !o->file_device && o2 && o2->type == OBT_OBJ_DEVICE)
        o->file_device = o2->id;
    if (ref_adopt_nested(m, o, ev, t, OBT_OP_OBJ_REF))
        return;
    ref_push_as(o, ev, LBL_REF, 0, stack_caller(m, ev->stack, ev->seq));
    o->refs[o->nrefs - 1].via = ref_via(m, o, ev);
    site_add(o, ev->stack, model_tag_is_explicit(ev->tag) ? ev->tag : 0, 1, 0);
}

/*
 * IoQueueWorkItem(Ex) of item: the device reference the I/O manager took
 * inside the call (recorded just before it on this thread, its stack
 * nested in the call's) is this queue's, held for the item until the
 * routine returns (ref_pick_work_item_drop).
 */
void on_workitem_queue(struct model *m, const struct object *item, const struct tr_event *ev,
                              struct thread_state *t)
{
    for (unsigned back = 0; back < RING; back++) {
        struct ring_ev *r = ring_at(t, back);
        struct object *dev = r->seq && r->op == OBT_OP_OBJ_REF && !r->claimed ? model_object(m, r->object) : NULL;
        if (!dev || dev->type != OBT_OBJ_DEVICE || !stack_nested(m, r->stack, ev->stack))
            continue;
        struct ref_entry *e = ref_at_seq(dev, r->seq);
        r->claimed = true;
        if (e) {
            e->via = VIA_WORKITEM;
            e->holder = item->id;
        }
        return;
    }
}

void on_deref(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                     struct ring_ev *slot)
{
    if (ev->count > 0 && ref_adopt_nested(m, o, ev, t, OBT_OP_OBJ_DEREF)) {
        o->last_release = evref(ev);
        return;
    }
    site_add(o, ev->stack, model_tag_is_explicit(ev->tag) ? ev->tag : 0, 0, 1);
    if (ev->count < 0) {
        report_double_release(m, o, o->id, ev, o->last_release);
        return;
    }
    ref_release(m, o, ev, slot);
    o->last_release = evref(ev);
    if (ev->count == 0)
        object_freed(m, o, ev, t);
}

void on_handle_open(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    o->handles = ev->count;
    struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_REF, o->id, ev->stack);
    if (inner)
        ref_relabel(o, inner, LBL_HANDLE, 0);
    else
        ref_push(o, ev, LBL_HANDLE, 0);
    if (o->type == OBT_OBJ_FILE && !o->opened.seq)
        o->opened = evref(ev);
}

/* Remembers a successful close of handle value ev->arg on o. */
void note_handle_close(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct handle_close *c = &m->closes[m->closes_pos++ % HANDLE_CLOSES];
    c->handle = ev->arg;
    c->object = o->id;
    c->at = evref(ev);
}

/*
 * A close of a handle value that names no open handle (STATUS_INVALID_HANDLE):
 * when the same value was closed before, a double close of that object
 * (named by o_name, image: the image of the device it was opened on), else
 * a close of an unknown handle.
 */
void report_unknown_close(struct model *m, const struct tr_event *ev)
{
    const struct handle_close *prev = NULL;
    for (size_t i = 0; i < HANDLE_CLOSES && i < m->closes_pos; i++) {
        const struct handle_close *c = &m->closes[(m->closes_pos - 1 - i) % HANDLE_CLOSES];
        if (c->handle == ev->arg && c->at.seq) {
            prev = c;
            break;
        }
    }
    const struct object *o = prev ? model_object(m, prev->object) : NULL;
    if (prev && !o)
        o = model_freed_object(m, prev->object);
    struct incident *inc = incident_add(m, INC_DOUBLE_RELEASE, NULL, prev ? prev->object : 0, ev);
    if (!inc)
        return;
    inc->arg = ev->arg;
    if (prev)
        inc->other = prev->at;
    if (!o)
        return;
    inc->object_type = o->type;
    const struct object *dev = o->file_device ? model_object(m, o->file_device) : NULL;
    if (!dev && o->file_device)
        dev = model_freed_object(m, o->file_device);
    const struct driver *d = dev && dev->owner ? model_driver(m, dev->owner) : NULL;
    const struct module *mod = d && d->image ? model_module(m, d->image) : NULL;
    char buf[400];
    if (!dev || !dev->name[0])
        return;
    snprintf(buf, sizeof(buf), "a file object on %s%s%s", dev->name, mod ? " of " : "",
             mod ? model_module_basename(mod) : "");
    free(inc->object_name);
    inc->object_name = xstrdup(buf);
    inc->image = mod ? mod->instance : 0;
}

void on_handle_close(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                            struct ring_ev *slot)
{
    if (ev->count < 0 || o->handles <= 0 || ((ev->flags & OBT_EV_STATUS) && ev->status < 0)) {
        report_double_release(m, o, o->id, ev, o->last_release);
        return;
    }
    o->handles = ev->count;
    o->last_release = evref(ev);
    o->closes_since_count++;
    note_handle_close(m, o, ev);
    struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_DEREF, o->id, ev->stack);
    if (inner) {
        ref_repair(o, inner, LBL_HANDLE, 0);
        return;
    }
    long i = ref_find_label(o, LBL_HANDLE, 0);
    if (i >= 0) {
        slot->popped = ref_take(o, (size_t)i);
        slot->has_popped = true;
    }
}

void on_dev_create(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    o->type = OBT_OBJ_DEVICE;
    if (!o->created.seq)
        o->created = evref(ev);
    struct object *obj2 = model_object(m, ev->obj2);
    if (!o->owner && obj2 && obj2->type == OBT_OBJ_DRIVER)
        o->owner = obj2->id;
    ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
    struct driver *d = driver_of(m, o);
    if (!d)
        return;
    d->devices_created++;
    if (t->adding_for && !o->added_for) { /* created in an AddDevice routine: the driver is PnP */
        o->added_for = t->adding_for;
        d->pnp = true;
    }
    struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_REF, d->id, ev->stack);
    if (inner)
        ref_relabel(model_object(m, d->id), inner, LBL_DEVICE, o->id);
}

/* Releases of o nested in a framework operation dropped its keep-alive/name references. */
static void repair_nested_keepalive(struct model *m, struct object *o, const struct tr_event *ev,
                                    struct thread_state *t)
{
    struct ring_ev *inner;
    while ((inner = ring_find_nested(m, t, OBT_OP_OBJ_DEREF, o->id, ev->stack)))
        ref_repair(o, inner, LBL_CREATE, 0);
}

/* IoDeleteDevice of o (live, or freed by that very call): an FDO's or filter's delete after its REMOVE. */
void note_stack_device_deleted(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct driver *d = driver_of(m, o);
    if (d && o->removed && (o->attached_to || o->detached.seq))
        d->stack_device_deleted = evref(ev);
}

void on_dev_delete(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if (o->delete_called) {
        report_double_release(m, o, o->id, ev, o->deleted);
        return;
    }
    o->delete_called = true;
    o->deleted = evref(ev);
    note_stack_device_deleted(m, o, ev);
    repair_nested_keepalive(m, o, ev, t);
    ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
    device_try_unlink(m, o, ev);
}

void mark_pnp(struct model *m, const struct object *dev)
{
    struct driver *d = driver_of(m, dev);
    if (d && dev->type == OBT_OBJ_DEVICE)
        d->pnp = true;
}

void on_attach(struct model *m, struct object *upper, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    struct object *lower = object_get(m, ev->obj2, OBT_OBJ_DEVICE);
    if (!lower)
        return;
    upper->attached_to = lower->id; /* a legacy driver may stack its own devices: PnP is what the PnP manager drives */
    upper->attached = evref(ev);
    lower->attached_above = upper->id;
    lower->was_above = upper->id;
}

void on_detach(struct model *m, struct object *lower, const struct tr_event *ev, struct thread_state *t)
{
    struct object *upper = model_object(m, lower->attached_above);
    if (upper && upper->attached_to == lower->id) {
        upper->attached_to = 0;
        upper->detached = evref(ev);
    }
    lower->attached_above = 0;
    lower->upper_detached = evref(ev);
    repair_nested_keepalive(m, lower, ev, t);
    device_try_unlink(m, lower, ev);
}

void on_open_ref(struct model *m, struct object *dev, const struct tr_event *ev, struct thread_state *t)
{
    dev->refcount = ev->count;
    struct object *file = model_object(m, ev->obj2);
    for (unsigned back = 0; !file && back < RING; back++) {
        struct ring_ev *r = ring_at(t, back);
        struct object *f = r->seq && r->op == OBT_OP_OBJ_CREATE ? model_object(m, r->object) : NULL;
        if (f && f->type == OBT_OBJ_FILE && !f->file_device)
            file = f;
    }
    if (file && file->type == OBT_OBJ_FILE)
        file->file_device = dev->id;
}

void on_open_deref(struct model *m, struct object *dev, const struct tr_event *ev, struct thread_state *t)
{
    dev->refcount = ev->count;
    repair_nested_keepalive(m, dev, ev, t);
    device_try_unlink(m, dev, ev);
}

void on_removed(struct model *m, struct object *dev, const struct tr_event *ev)
{
    dev->removed = true;
    mark_pnp(m, dev);
    struct driver *d = driver_of(m, dev);
    if (d)
        d->last_device_removed = ev->seq;
}

void on_irp_call(struct model *m, struct object *o, const struct tr_event *ev)
{
    unsigned major = (unsigned)(ev->arg >> 8) & 0xff, minor = (unsigned)ev->arg & 0xff;
    if (o && o->type == OBT_OBJ_DEVICE && major == IRP_MJ_PNP_) {
        mark_pnp(m, o);
        if (minor == IRP_MN_REMOVE_DEVICE_) {
            on_removed(m, o, ev);
            o->remove_passed = evref(ev);
        }
    }
    if (o && (ev->flags & OBT_EV_STATUS) && ev->status == STATUS_PENDING_)
        o->pended = evref(ev);
    check_call_into_unloaded(m, o, ev);
}
