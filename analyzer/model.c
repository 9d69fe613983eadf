/*
 * model.c - replays the record stream into the object/image model
 * (model.h): the object store, the dispatch of each event to the file that
 * handles its idea (object lifetime events in model_objects.c, the
 * reference ledger in model_ledger.c, drivers and images in
 * model_modules.c, incidents in model_incidents.c), locks and waits, host
 * actions and PnP state, the non-event records, and loading a trace.
 *
 * Counting: REF/DEREF change a pointer count by one; operations whose
 * effect on the count is implicit (creation, IoDeleteDevice, making a
 * name temporary, notification registration) reconcile the outstanding
 * reference list to the count the event reports (model_ledger.c says how
 * releases are paired with references).
 */
#include "model_internal.h"

#include "cycles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

/* ---- small helpers ------------------------------------------------------------ */

bool model_tag_is_explicit(uint32_t tag)
{
    return tag != 0 && tag != TAG_DEFAULT;
}

struct event_ref evref(const struct tr_event *ev)
{
    return (struct event_ref){ .seq = ev->seq, .stack = ev->stack, .tid = ev->tid, .op = ev->op };
}

struct thread_state *thread_of(struct model *m, uint32_t tid)
{
    for (size_t i = 0; i < m->nthreads; i++)
        if (m->threads[i].tid == tid)
            return &m->threads[i];
    xgrow(&m->threads, &m->capthreads, m->nthreads + 1, sizeof(*m->threads));
    struct thread_state *t = &m->threads[m->nthreads++];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    return t;
}

/* The ring slot `back` events ago (0 = the latest). */
struct ring_ev *ring_at(struct thread_state *t, unsigned back)
{
    return &t->ring[(t->pos + RING - 1 - back) % RING];
}

const struct stack *model_stack(const struct model *m, uint32_t id)
{
    return id ? idmap_get(&m->stacks, id) : NULL;
}

/*
 * True when inner was recorded inside the call recorded with outer: outer,
 * from its innermost frame (the return address into the caller of the
 * traced call), appears in inner below at least one extra frame. A call
 * made earlier by the same function (a sibling: its return address into
 * that function differs) is not nested.
 */
bool stack_nested(const struct model *m, uint32_t inner_id, uint32_t outer_id)
{
    const struct stack *in = model_stack(m, inner_id), *out = model_stack(m, outer_id);
    if (!in || !out || !out->depth || inner_id == outer_id)
        return false;
    for (uint32_t p = 1; p <= 12 && p < in->depth; p++) {
        uint32_t n = in->depth - p < out->depth ? in->depth - p : out->depth;
        uint32_t need = out->depth < 4 ? out->depth : 4;
        if (n >= need && !memcmp(in->frames + p, out->frames, n * 8ull))
            return true;
    }
    return false;
}

/* Common outermost frames of two stacks (cached): how alike their call paths are. */
unsigned stack_similarity(struct model *m, uint32_t a, uint32_t b)
{
    if (!a || !b)
        return 0;
    uint64_t key = (uint64_t)a << 32 | b;
    size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 48) & (SIM_CACHE - 1);
    if (!m->sim_cache)
        m->sim_cache = xcalloc(SIM_CACHE, sizeof(uint64_t));
    if (m->sim_cache[slot] >> 8 == (key & 0x00ffffffffffffffull))
        return (unsigned)(m->sim_cache[slot] & 0xff);
    const struct stack *x = model_stack(m, a), *y = model_stack(m, b);
    unsigned n = 0;
    if (x && y)
        while (n < x->depth && n < y->depth && n < 255 &&
               x->frames[x->depth - 1 - n] == y->frames[y->depth - 1 - n])
            n++;
    m->sim_cache[slot] = (key & 0x00ffffffffffffffull) << 8 | n;
    return n;
}

/* ---- objects ---------------------------------------------------------------------- */

struct object *model_object(const struct model *m, uint32_t id)
{
    return id ? idmap_get(&m->objects, id) : NULL;
}

const struct object *model_freed_object(const struct model *m, uint32_t id)
{
    uintptr_t slot = (uintptr_t)idmap_get(&m->freed_index, id);
    return slot ? &m->freed_ring[slot - 1] : NULL;
}

static struct object *object_new(struct model *m, uint32_t id, uint8_t type)
{
    struct object *o = xcalloc(1, sizeof(*o));
    o->id = id;
    o->type = type;
    o->name = xstrdup("");
    idmap_put(&m->objects, id, o);
    return o;
}

/* The live object id, created on first sight; NULL for id 0 or an object already freed. */
struct object *object_get(struct model *m, uint32_t id, uint8_t type)
{
    if (!id)
        return NULL;
    struct object *o = idmap_get(&m->objects, id);
    if (o) {
        if (o->type == OBT_OBJ_NONE)
            o->type = type;
        return o;
    }
    if (model_freed_object(m, id))
        return NULL;
    return object_new(m, id, type);
}

static void object_free_contents(struct object *o)
{
    free(o->refs);
    free(o->sites);
    free(o->holds);
    o->refs = NULL;
    o->sites = NULL;
    o->holds = NULL;
    o->nrefs = o->nsites = o->nholds = 0;
    o->caprefs = o->capsites = o->capholds = 0;
}

/* Moves o out of the live table into the ring of recently freed objects. */
void object_retire(struct model *m, struct object *o)
{
    idmap_remove(&m->objects, o->id);
    if (!m->freed_ring)
        m->freed_ring = xcalloc(FREED_RING, sizeof(*m->freed_ring));
    struct object *slot = &m->freed_ring[m->freed_pos];
    if (slot->id) {
        idmap_remove(&m->freed_index, slot->id);
        free(slot->name);
        wdf_info_free(slot->wdf);
    }
    object_free_contents(o);
    *slot = *o;
    idmap_put(&m->freed_index, o->id, (void *)(uintptr_t)(m->freed_pos + 1));
    m->freed_pos = (m->freed_pos + 1) % FREED_RING;
    free(o);
}

char *model_object_label(const struct model *m, uint32_t id, char *buf, size_t size)
{
    const struct object *o = model_object(m, id);
    if (!o)
        o = model_freed_object(m, id);
    if (o && o->name[0])
        snprintf(buf, size, "%s", o->name);
    else
        snprintf(buf, size, "%s #%u", o ? (tr_obj_type_name(o->type) ? tr_obj_type_name(o->type) : "Object")
                                        : "Object", id);
    return buf;
}

/* ---- locks, waits, pool ---------------------------------------------------------------------------- */

static uint64_t lock_tag(const struct tr_event *ev)
{
    return (ev->flags & OBT_EV_TAG) ? ev->tag : ev->arg;
}

static void on_lock_acquire(struct object *l, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    xgrow(&l->holds, &l->capholds, l->nholds + 1, sizeof(*l->holds));
    l->holds[l->nholds++] = (struct lock_hold){ .tag = lock_tag(ev), .at = evref(ev) };
}

static void on_lock_release(struct model *m, struct object *l, const struct tr_event *ev)
{
    uint64_t tag = lock_tag(ev);
    bool tagged = l->type == OBT_OBJ_REMLOCK;
    for (size_t i = l->nholds; i-- > 0;) {
        if (!tagged || l->holds[i].tag == tag) {
            memmove(&l->holds[i], &l->holds[i + 1], (l->nholds - i - 1) * sizeof(*l->holds));
            l->nholds--;
            return;
        }
    }
    struct incident *inc = incident_add(m, INC_LOCK_UNKNOWN_RELEASE, l, l->id, ev);
    if (inc)
        inc->arg = tag;
}

static void on_lock_wait(struct model *m, struct object *l, const struct tr_event *ev)
{
    if (ev->op == OBT_OP_REMLOCK_WAIT)
        on_lock_release(m, l, ev);
    if (ev->flags & OBT_EV_PRE) { /* recorded before the wait: it ends with WAIT_END, if ever */
        l->waiting = true;
        l->wait = evref(ev);
        return;
    }
    if ((ev->flags & OBT_EV_STATUS) && ev->status == STATUS_TIMEOUT_) {
        l->wait_stuck = true;
        l->waiting = true;
        l->wait = evref(ev);
    } else {
        l->waiting = false;
    }
}

const struct host_action *model_action_at(const struct model *m, uint64_t seq)
{
    size_t lo = 0, hi = m->nactions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->actions[mid].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &m->actions[lo - 1] : NULL;
}

char *model_mark_label(const struct model *m, const struct host_action *a, char *buf, size_t len)
{
    const char *where = model_string(m, a->where), *what = model_string(m, a->what);
    const char *slash = where ? strrchr(where, '/') : NULL;
    snprintf(buf, len, "%s  %s", slash ? slash + 1 : where ? where : "?", what ? what : "");
    return buf;
}

/* The latest action recorded on thread tid, NULL when none. */
static const struct host_action *latest_action_of(const struct model *m, uint32_t tid)
{
    for (size_t i = m->nactions; i-- > 0;)
        if (m->actions[i].tid == tid)
            return &m->actions[i];
    return NULL;
}

/* HOST_ACTION: a mark (string = where) or a request (no string, a stack); see struct host_action. */
static void on_host_action(struct model *m, const struct tr_event *ev)
{
    bool request = !(ev->flags & OBT_EV_STRING) && ev->stack;
    const struct host_action *last = request ? latest_action_of(m, ev->tid) : NULL;
    if (last && last->where) /* part of the marked action under way */
        return;
    xgrow(&m->actions, &m->capactions, m->nactions + 1, sizeof(*m->actions));
    m->actions[m->nactions++] = (struct host_action){
        .seq = ev->seq, .where = ev->string, .what = (ev->flags & OBT_EV_ARG) ? (uint32_t)ev->arg : 0,
        .stack = request ? ev->stack : 0, .tid = ev->tid,
    };
}

/* PipNotePnpIrpSent: obj = a device of the stack, obj2 = the PDO, arg = minor | parameter << 32. */
static void on_pnp_irp_sent(struct model *m, struct object *dev, const struct tr_event *ev)
{
    unsigned minor = (unsigned)(ev->arg & 0xff);
    struct object *pdo = model_object(m, ev->obj2);
    mark_pnp(m, dev);
    if (pdo) {
        pdo->is_pdo = true;
        if (minor == IRP_MN_QUERY_REMOVE_DEVICE_)
            pdo->query_remove = evref(ev);
        if (minor == IRP_MN_SURPRISE_REMOVAL_)
            pdo->surprise = evref(ev);
    }
    if (minor == IRP_MN_SURPRISE_REMOVAL_)
        dev->surprise = evref(ev);
    if (minor == IRP_MN_REMOVE_DEVICE_)
        on_removed(m, dev, ev);
}

/* PipNoteVeto: obj = the device blamed, obj2 = the PDO, arg = PNP_VETO_TYPE, string = who vetoed. */
static void on_veto(struct model *m, struct object *dev, const struct tr_event *ev)
{
    struct object *pdo = model_object(m, ev->obj2);
    struct object *targets[2] = { dev, pdo };
    for (int k = 0; k < 2; k++) {
        if (!targets[k])
            continue;
        targets[k]->veto = evref(ev);
        targets[k]->veto_type = (uint32_t)ev->arg;
        targets[k]->veto_string = ev->string;
        targets[k]->veto_device = dev ? dev->id : 0;
    }
}

/*
 * While a devnode is DeviceNodeInitialized the PnP manager, on this thread,
 * calls the AddDevice routines of its drivers: devices created meanwhile
 * are theirs for that PDO (t->adding_for).
 */
static void on_devnode_state(struct object *pdo, const struct tr_event *ev, struct thread_state *t)
{
    if ((uint32_t)ev->arg == DEVNODE_INITIALIZED_)
        t->adding_for = pdo->id;
    else if (t->adding_for == pdo->id)
        t->adding_for = 0;
    pdo->is_pdo = true;
    pdo->devnode_state = (uint32_t)ev->arg;
    if (ev->string)
        pdo->instance = ev->string;
}

/* ---- event dispatch ------------------------------------------------------------------------------------ */

/*
 * A release whose count says it took effect before the last count the
 * trace reported for o, by another thread: the tracer records an event
 * after the call returned, so a thread preempted in between records its
 * release after a later one (a work item's drop after the DriverUnload it
 * signalled, say). A release never raises the pointer count; on a freed
 * object (last count 0) any positive count is such a late record.
 */
static bool release_recorded_late(const struct object *o, const struct tr_event *ev)
{
    return ev->op == OBT_OP_OBJ_DEREF && o->last_count_tid && o->last_count_tid != ev->tid &&
           ev->count >= o->last_count && ev->count > 0;
}

/* Events on an object that is already gone: releases are double releases, the rest is ignored. */
static void on_freed_object(struct model *m, const struct tr_event *ev, struct ring_ev *slot)
{
    struct object *f = (struct object *)model_freed_object(m, ev->object);
    if (f->wdf && on_wdf_late(m, f, ev))
        return;
    if (release_recorded_late(f, ev)) {
        ref_release(m, f, ev, slot);
        return;
    }
    switch (ev->op) {
    case OBT_OP_DEV_DELETE:
        if (!f->delete_called) { /* the delete itself freed it: recorded after it returned */
            f->delete_called = true;
            f->deleted = evref(ev);
            note_stack_device_deleted(m, f, ev);
            break;
        }
        report_double_release(m, f, ev->object, ev, f->deleted);
        break;
    case OBT_OP_HANDLE_CLOSE:
        if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
            report_double_release(m, f, ev->object, ev, f->last_release);
        else
            note_handle_close(m, f, ev); /* the close dropped the last reference */
        break;
    case OBT_OP_OBJ_DEREF:
    case OBT_OP_POOL_FREE:
        report_double_release(m, f, ev->object, ev, f->last_release.seq ? f->last_release : f->deleted);
        break;
    case OBT_OP_WORKITEM_RUN:
    case OBT_OP_IRP_CALL:
        check_call_into_unloaded(m, f, ev);
        break;
    case OBT_OP_BUGCHECK:
        on_bugcheck(m, NULL, ev);
        break;
    }
}

/* The driver of a service: "...\\Services\\<name>" -> \\Driver\\<name>. */
static struct driver *driver_by_service(struct model *m, const char *service)
{
    if (!service)
        return NULL;
    const char *base = strrchr(service, '\\') ? strrchr(service, '\\') + 1 : service;
    char name[512];
    snprintf(name, sizeof(name), "\\Driver\\%s", base);
    for (size_t i = m->ndrivers; i-- > 0;)
        if (!strcasecmp(m->drivers[i].name, name))
            return &m->drivers[i];
    return NULL;
}

static void dispatch_driver_ops(struct model *m, struct object *o, const struct tr_event *ev)
{
    struct driver *d = o ? driver_of(m, o) : driver_by_service(m, model_string(m, ev->string));
    if (!d)
        return;
    switch (ev->op) {
    case OBT_OP_DRIVER_ENTRY:
        d->entry = evref(ev);
        d->entry_status = ev->status;
        if (ev->flags & OBT_EV_ARG2)
            d->driver_init = ev->arg2;
        if (ev->flags & OBT_EV_MODULE)
            driver_set_image(m, d, ev->module);
        if (d->image && module_mut(m, d->image) && !module_mut(m, d->image)->entry_seq)
            module_mut(m, d->image)->entry_seq = ev->seq;
        if (ev->flags & OBT_EV_ARG) {
            d->unload_routine = ev->arg;
            d->unload_written = true;
            if (ev->arg && !d->own_unload) {
                const struct module *mod = model_module_at(m, ev->arg, ev->seq);
                if (mod && mod->instance == d->image)
                    d->own_unload = ev->arg;
            }
        }
        driver_judge_unload_writes(m, d);
        break;
    case OBT_OP_DRIVER_UNLOAD:
        d->unload = evref(ev);
        d->unload_called = ev->arg;
        break;
    case OBT_OP_UNLOAD_WRITE:
        on_unload_write(m, d, ev);
        break;
    case OBT_OP_SERVICE_STOP:
        d->stop = evref(ev);
        d->stop_status = ev->status;
        d->nstops++;
        if (ev->status == STATUS_INVALID_DEVICE_REQUEST_ && d->unload_routine)
            d->pnp = true; /* ZwUnloadDriver refuses a PnP driver that has an unload routine */
        break;
    }
}

static void apply_event(struct model *m, const struct tr_event *ev)
{
    cycles_settle(m, ev);
    m->events++;
    m->last_seq = ev->seq;
    struct thread_state *t = thread_of(m, ev->tid);
    struct ring_ev slot = { .seq = ev->seq, .object = ev->object, .stack = ev->stack, .op = ev->op };
    struct object *o = object_get(m, ev->object, ev->obj_type);
    if (!o && ev->object && model_freed_object(m, ev->object) && ev->op != OBT_OP_OBJ_CREATE) {
        on_freed_object(m, ev, &slot);
        goto done;
    }
    if (!o && ev->object)
        o = object_new(m, ev->object, ev->obj_type); /* a freed id created again: trust the trace */
    if (o && o->type == OBT_OBJ_NONE)
        o->type = ev->obj_type;
    note_init_failure(m, ev);
    if (failed_call(ev))
        goto done;
    if (o && ev->op != OBT_OP_HANDLE_OPEN && ev->op != OBT_OP_HANDLE_CLOSE &&
        !strcmp(tr_op_count_meaning(ev->op), "pointer") && !release_recorded_late(o, ev)) {
        o->last_count = ev->count;
        o->last_count_tid = ev->tid;
        o->closes_since_count = 0;
    }
    switch (ev->op) {
    case OBT_OP_OBJ_CREATE: if (o) on_create(m, o, ev, t); break;
    case OBT_OP_OBJ_REF: if (o) on_ref(m, o, ev, t); break;
    case OBT_OP_OBJ_DEREF: if (o) on_deref(m, o, ev, t, &slot); break;
    case OBT_OP_OBJ_MAKE_TEMPORARY:
        if (o) {
            o->temporary = evref(ev);
            ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
        }
        break;
    case OBT_OP_HANDLE_OPEN: if (o) on_handle_open(m, o, ev, t); break;
    case OBT_OP_HANDLE_CLOSE:
        if (o)
            on_handle_close(m, o, ev, t, &slot);
        else if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
            report_unknown_close(m, ev);
        break;
    case OBT_OP_DEV_CREATE: if (o) on_dev_create(m, o, ev, t); break;
    case OBT_OP_DEV_DELETE: if (o) on_dev_delete(m, o, ev, t); break;
    case OBT_OP_DEV_ATTACH: if (o) on_attach(m, o, ev); break;
    case OBT_OP_DEV_DETACH: if (o) on_detach(m, o, ev, t); break;
    case OBT_OP_DEV_OPEN_REF: if (o) on_open_ref(m, o, ev, t); break;
    case OBT_OP_DEV_OPEN_DEREF: if (o) on_open_deref(m, o, ev, t); break;
    case OBT_OP_IRP_CALL: on_irp_call(m, o, ev); break;
    case OBT_OP_IRP_COMPLETE:
        if (o && ev->arg == ((uint64_t)IRP_MJ_PNP_ << 8 | IRP_MN_REMOVE_DEVICE_))
            o->remove_completed = evref(ev);
        break;
    case OBT_OP_WORKITEM_ALLOC:
        if (o) {
            o->created = evref(ev);
            o->owner = o->owner ? o->owner : ev->obj2;
        }
        break;
    case OBT_OP_WORKITEM_QUEUE: if (o) on_workitem_queue(m, o, ev, t); break;
    case OBT_OP_WORKITEM_FREE: if (o) object_retire(m, o); break;
    case OBT_OP_SHUTDOWN_REGISTER:
    case OBT_OP_SHUTDOWN_UNREGISTER:
        if (o)
            ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
        break;
    case OBT_OP_IMAGE_LOAD:
    case OBT_OP_SERVICE_START:
        if ((ev->flags & OBT_EV_STATUS) && ev->status == STATUS_IMAGE_ALREADY_LOADED_)
            on_load_refused(m, o, ev);
        break;
    case OBT_OP_IMAGE_UNLOAD: on_image_unload(m, o, ev); break;
    case OBT_OP_DRIVER_ENTRY:
    case OBT_OP_DRIVER_UNLOAD:
    case OBT_OP_UNLOAD_WRITE:
    case OBT_OP_SERVICE_STOP:
        dispatch_driver_ops(m, o, ev);
        break;
    case OBT_OP_POOL_ALLOC: if (o) on_pool_alloc(m, o, ev); break;
    case OBT_OP_POOL_FREE: if (o) object_retire(m, o); break;
    case OBT_OP_WORKITEM_RUN:
        check_call_into_unloaded(m, o, ev);
        t->running_item = o ? o->id : 0;
        t->running_device = ev->obj2;
        break;
    case OBT_OP_WAIT_BEGIN:
        if (o) {
            o->waiting = true;
            o->wait = evref(ev);
        }
        break;
    case OBT_OP_WAIT_END:
        if (o)
            o->waiting = o->wait_stuck = false;
        break;
    case OBT_OP_WAIT_STUCK:
        if (o) {
            o->wait_stuck = o->waiting = true;
            if (!o->wait.seq)
                o->wait = evref(ev);
        }
        break;
    case OBT_OP_BUGCHECK: on_bugcheck(m, o, ev); break;
    case OBT_OP_NOTIFY_REGISTER: if (o) on_notify(m, o, ev, t, true); break;
    case OBT_OP_NOTIFY_UNREGISTER: if (o) on_notify(m, o, ev, t, false); break;
    case OBT_OP_REMLOCK_ACQUIRE:
    case OBT_OP_RUNDOWN_ACQUIRE:
        if (o) on_lock_acquire(o, ev);
        break;
    case OBT_OP_REMLOCK_RELEASE:
    case OBT_OP_RUNDOWN_RELEASE:
        if (o) on_lock_release(m, o, ev);
        break;
    case OBT_OP_REMLOCK_WAIT:
    case OBT_OP_RUNDOWN_WAIT:
        if (o) on_lock_wait(m, o, ev);
        break;
    case OBT_OP_INTERFACE_QUERY: if (o) on_interface(m, o, ev); break;
    case OBT_OP_WDF_CREATE:
    case OBT_OP_WDF_REF:
    case OBT_OP_WDF_DEREF:
    case OBT_OP_WDF_DELETE:
    case OBT_OP_WDF_CLEANUP:
    case OBT_OP_WDF_DESTROY:
    case OBT_OP_WDF_IOTARGET_OPEN:
    case OBT_OP_WDF_IOTARGET_CLOSE:
        if (o)
            on_wdf_event(m, o, ev);
        break;
    case OBT_OP_PNP_EVENT:
        if (o && o->type == OBT_OBJ_DEVICE)
            on_pnp_irp_sent(m, o, ev);
        break;
    case OBT_OP_VETO: on_veto(m, o, ev); break;
    case OBT_OP_DEVNODE_STATE: if (o) on_devnode_state(o, ev, t); break;
    case OBT_OP_PNP_IRP_DONE:
        if (o && (ev->arg & 0xff) == IRP_MN_REMOVE_DEVICE_)
            o->remove_done = true;
        break;
    case OBT_OP_HOST_ACTION: on_host_action(m, ev); break;
    case OBT_OP_SYMLINK_CREATE:
    case OBT_OP_SYMLINK_DELETE:
        on_symlink(m, ev);
        break;
    }
done:
    t->ring[t->pos] = slot;
    t->pos = (t->pos + 1) % RING;
    if (m->event_hook)
        m->event_hook(m, ev, m->hook_ctx);
}

/* ---- non-event records -------------------------------------------------------------------------------------- */

static void apply_object(struct model *m, const struct tr_object *r)
{
    if (!r->id || model_freed_object(m, r->id))
        return;
    struct object *o = object_get(m, r->id, r->type);
    o->type = r->type ? r->type : o->type;
    o->address = r->address;
    o->owner = r->owner;
    o->image = r->image;
    free(o->name);
    o->name = xstrdup(r->name);
    if (o->type == OBT_OBJ_DRIVER) {
        struct driver *d = driver_get(m, o->id);
        free(d->name);
        d->name = xstrdup(r->name);
        driver_set_image(m, d, r->image);
    }
}

static void apply_stack(struct model *m, const struct tr_stack *r)
{
    if (idmap_get(&m->stacks, r->id))
        return;
    struct stack *s = xmalloc(sizeof(*s) + r->depth * sizeof(uint64_t));
    s->id = r->id;
    s->depth = r->depth;
    memcpy(s->frames, r->frames, r->depth * sizeof(uint64_t));
    idmap_put(&m->stacks, r->id, s);
}

/* The event seq whose low 32 bits a module record's seq_hint holds: the one nearest the last event applied. */
static uint64_t seq_of_hint(const struct model *m, uint32_t hint)
{
    uint64_t seq = (m->last_seq & ~(uint64_t)UINT32_MAX) | hint;
    if (seq + (UINT64_C(1) << 31) < m->last_seq)
        seq += UINT64_C(1) << 32;
    else if (seq > m->last_seq + (UINT64_C(1) << 31) && seq >= (UINT64_C(1) << 32))
        seq -= UINT64_C(1) << 32;
    return seq;
}

static void apply_module_load(struct model *m, const struct tr_module_load *r, uint64_t seq)
{
    cycles_settle_by(m, seq_of_hint(m, r->seq_hint));
    xgrow(&m->modules, &m->capmodules, m->nmodules + 1, sizeof(*m->modules));
    struct module *mod = &m->modules[m->nmodules++];
    memset(mod, 0, sizeof(*mod));
    mod->instance = r->instance;
    mod->path = xstrdup(r->path);
    mod->base = r->base;
    mod->start = r->start;
    mod->end = r->end;
    mod->build_id_len = r->build_id_len < sizeof(mod->build_id) ? r->build_id_len : sizeof(mod->build_id);
    memcpy(mod->build_id, r->build_id, mod->build_id_len);
    mod->load_seq = seq;
    for (size_t i = 0; i < m->ndrivers; i++) /* a driver object seen before its image record */
        if (m->drivers[i].image == r->instance)
            driver_set_image(m, &m->drivers[i], r->instance);
}

static void apply_module_unload(struct model *m, const struct tr_module_unload *r, uint64_t seq)
{
    struct module *mod = module_mut(m, r->instance);
    if (!mod || mod->unload_seq)
        return;
    mod->unload_seq = seq ? seq : 1;
    if (mod->is_driver) {
        cycles_note_unload(m, mod, OBT_CYCLE_ANY_THREAD, seq_of_hint(m, r->seq_hint));
        check_pool_at_unload(m, mod);
    }
}

void model_apply(struct model *m, const struct tr_record *rec)
{
    switch (rec->type) {
    case OBT_REC_EVENT: apply_event(m, &rec->u.ev); break;
    case OBT_REC_STACK: apply_stack(m, &rec->u.stack); break;
    case OBT_REC_MODULE_LOAD: apply_module_load(m, &rec->u.mload, rec->seq); break;
    case OBT_REC_MODULE_UNLOAD: apply_module_unload(m, &rec->u.munload, rec->seq); break;
    case OBT_REC_OBJECT: apply_object(m, &rec->u.object); break;
    case OBT_REC_STRING:
        if (!idmap_get(&m->strings, rec->u.string.id))
            idmap_put(&m->strings, rec->u.string.id, xstrdup(rec->u.string.text));
        break;
    case OBT_REC_DROPPED:
        m->dropped += rec->u.dropped.count;
        m->dropped_records++;
        break;
    case OBT_REC_END:
        m->saw_end = true;
        m->end_events = rec->u.end.events;
        m->end_dropped = rec->u.end.dropped;
        m->end_failures = rec->u.end.failures;
        break;
    }
}

const char *model_string(const struct model *m, uint32_t id)
{
    return id ? idmap_get(&m->strings, id) : NULL;
}

void model_set_damage(struct model *m, const char *damage)
{
    free(m->damage);
    m->damage = damage ? xstrdup(damage) : NULL;
}

/* True when rec belongs to the trace up to event until: other records carry the seq of the event before them. */
static bool record_before(const struct tr_record *rec, uint64_t until)
{
    if (until == UINT64_MAX || rec->type == OBT_REC_END || rec->type == OBT_REC_DROPPED)
        return true;
    return rec->type == OBT_REC_EVENT ? rec->seq <= until : rec->seq < until;
}

void model_note_header(struct model *m, const struct tr_header *h)
{
    char text[160];
    free(m->cut_short);
    m->cut_short = NULL;
    if (!(h->flags & OBT_FILE_OUT_OF_SPACE))
        return;
    snprintf(text, sizeof(text), "the file system refused the trace more space (%s); the events after that were lost",
             strerror(h->space_errno ? (int)h->space_errno : ENOSPC));
    m->cut_short = xstrdup(text);
}

const char *model_incomplete_reason(const struct model *m, const char *fallback)
{
    return m->damage ? m->damage : m->cut_short ? m->cut_short : fallback;
}

int model_load_until(struct model *m, const char *path, uint64_t until, char *err, size_t errlen)
{
    struct trace_reader *r;
    if (trace_reader_open(&r, path, 0, err, errlen) < 0)
        return -1;
    model_note_header(m, trace_reader_header(r));
    struct tr_record rec;
    while (trace_reader_next(r, &rec))
        if (record_before(&rec, until))
            model_apply(m, &rec);
    cycles_flush(m);
    model_set_damage(m, trace_reader_damage(r));
    trace_reader_free(r);
    return 0;
}

int model_load(struct model *m, const char *path, char *err, size_t errlen)
{
    return model_load_until(m, path, UINT64_MAX, err, errlen);
}

/* ---- lifetime ----------------------------------------------------------------------------------------------- */

void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    idmap_init(&m->objects);
    idmap_init(&m->stacks);
    idmap_init(&m->strings);
    idmap_init(&m->freed_index);
}

static void free_object(void *v, void *ctx)
{
    (void)ctx;
    struct object *o = v;
    object_free_contents(o);
    wdf_info_free(o->wdf);
    free(o->name);
    free(o);
}

static void free_plain(void *v, void *ctx)
{
    (void)ctx;
    free(v);
}

void model_release(struct model *m)
{
    idmap_each(&m->objects, free_object, NULL);
    idmap_each(&m->stacks, free_plain, NULL);
    idmap_each(&m->strings, free_plain, NULL);
    idmap_release(&m->objects);
    idmap_release(&m->stacks);
    idmap_release(&m->strings);
    idmap_release(&m->freed_index);
    for (size_t i = 0; m->freed_ring && i < FREED_RING; i++) {
        free(m->freed_ring[i].name);
        wdf_info_free(m->freed_ring[i].wdf);
    }
    free(m->wdf_mistags);
    free(m->freed_ring);
    free(m->links);
    for (size_t i = 0; i < m->ndrivers; i++)
        free(m->drivers[i].name);
    free(m->drivers);
    for (size_t i = 0; i < m->nmodules; i++)
        free(m->modules[i].path);
    free(m->modules);
    for (size_t i = 0; i < m->nincidents; i++) {
        free(m->incidents[i].object_name);
        free(m->incidents[i].text);
    }
    free(m->incidents);
    free(m->ifaces);
    free(m->cycles);
    free(m->actions);
    free(m->threads);
    free(m->damage);
    free(m->cut_short);
    free(m->sim_cache);
    memset(m, 0, sizeof(*m));
}
