/*
 * model_incidents.c - incidents: what the stream showed directly rather
 * than what the model derives at the end: double releases, calls into
 * unmapped images, pool an image did not free by its unload, bug checks
 * (with the object and caller they name) and interfaces handed out by
 * IRP_MN_QUERY_INTERFACE.
 */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* ---- incidents ------------------------------------------------------------------------------- */

struct incident *incident_add(struct model *m, uint8_t kind, const struct object *o, uint32_t id,
                                     const struct tr_event *ev)
{
    if (m->nincidents >= MAX_INCIDENTS) {
        m->incidents_lost++;
        return NULL;
    }
    xgrow(&m->incidents, &m->capincidents, m->nincidents + 1, sizeof(*m->incidents));
    struct incident *inc = &m->incidents[m->nincidents++];
    memset(inc, 0, sizeof(*inc));
    inc->kind = kind;
    inc->object = o ? o->id : id;
    inc->object_name = xstrdup(o ? o->name : "");
    inc->object_type = o ? o->type : (ev ? ev->obj_type : 0);
    inc->image = o ? o->image : 0;
    if (ev)
        inc->at = evref(ev);
    return inc;
}

/* A release (dereference, close, delete, free) of an object with nothing left to release. */
void report_double_release(struct model *m, const struct object *o, uint32_t id, const struct tr_event *ev,
                                  struct event_ref earlier)
{
    struct incident *inc = incident_add(m, INC_DOUBLE_RELEASE, o, id, ev);
    if (inc)
        inc->other = earlier;
}

/* The module of an object's image when that image was already unmapped at seq; NULL otherwise. */
static const struct module *unmapped_image_of(struct model *m, const struct object *o)
{
    if (!o)
        return NULL;
    uint32_t image = o->image;
    if (!image && o->owner) {
        struct driver *d = model_driver(m, o->owner);
        image = d ? d->image : 0;
    }
    const struct module *mod = image ? model_module(m, image) : NULL;
    return mod && mod->unload_seq ? mod : NULL;
}

void check_call_into_unloaded(struct model *m, const struct object *o, const struct tr_event *ev)
{
    const struct module *mod = unmapped_image_of(m, o);
    if (!mod)
        return;
    struct incident *inc = incident_add(m, INC_CALL_INTO_UNLOADED, o, ev->object, ev);
    if (inc) {
        inc->image = mod->instance;
        inc->other = (struct event_ref){ .seq = mod->unload_seq };
    }
}


void check_pool_at_unload(struct model *m, const struct module *mod)
{
    struct collect { struct model *m; const struct module *mod; } c = { m, mod };
    struct object **live = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < m->objects.cap; i++) {
        struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->type == OBT_OBJ_POOL && o->image == c.mod->instance) {
            xgrow(&live, &cap, n + 1, sizeof(*live));
            live[n++] = o;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct incident *inc = incident_add(m, INC_POOL_LEAK, live[i], live[i]->id, NULL);
        if (inc) {
            inc->at = live[i]->created;
            inc->arg = live[i]->pool_bytes;
            inc->image = mod->instance;
            inc->object2 = live[i]->pool_tag;
            inc->other = (struct event_ref){ .seq = mod->unload_seq };
        }
        object_retire(m, live[i]);
    }
    free(live);
}

void on_pool_alloc(struct model *m, struct object *p, const struct tr_event *ev)
{
    p->type = OBT_OBJ_POOL;
    p->created = evref(ev);
    p->pool_bytes = ev->arg;
    p->pool_tag = ev->tag;
    if (ev->flags & OBT_EV_MODULE)
        p->image = ev->module;
    if (!p->image) { /* charge it to the first driver image on the stack */
        const struct stack *s = model_stack(m, ev->stack);
        for (uint32_t i = 0; s && i < s->depth && !p->image; i++) {
            const struct module *mod = model_module_at(m, s->frames[i], ev->seq);
            if (mod && mod->is_driver)
                p->image = mod->instance;
        }
    }
}

/* The live object at address, else the most recently freed one there. */
static struct object *object_at_address(const struct model *m, uint64_t address)
{
    struct object *best = NULL;
    for (size_t i = 0; address && i < m->objects.cap; i++) {
        struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->address == address && (!best || o->id > best->id))
            best = o;
    }
    return best;
}

static const struct object *freed_at_address(const struct model *m, uint64_t address)
{
    const struct object *best = NULL;
    for (size_t i = 0; address && m->freed_ring && i < FREED_RING; i++) {
        const struct object *o = &m->freed_ring[i];
        if (o->id && o->address == address && (!best || o->last_release.seq > best->last_release.seq))
            best = o;
    }
    return best;
}

/*
 * The part of stack below the frame at addr (a fault in code that is gone:
 * that frame is the address called, not a return address, and the frame
 * after it is the caller), as a new stack; stack itself when addr is not on it.
 */
static uint32_t stack_from_caller_of(struct model *m, uint32_t stack, uint64_t addr)
{
    const struct stack *s = model_stack(m, stack);
    for (uint32_t i = 0; s && addr && i + 1 < s->depth; i++) {
        if (s->frames[i] != addr)
            continue;
        uint32_t depth = s->depth - i - 1;
        struct stack *d = xmalloc(sizeof(*d) + depth * sizeof(uint64_t));
        d->id = DERIVED_STACK_BASE + m->derived_stacks++;
        d->depth = depth;
        memcpy(d->frames, s->frames + i + 1, depth * sizeof(uint64_t));
        idmap_put(&m->stacks, d->id, d);
        return d->id;
    }
    return stack;
}

void on_bugcheck(struct model *m, struct object *o, const struct tr_event *ev)
{
    if (!o && (ev->flags & OBT_EV_ARG2))
        o = object_at_address(m, ev->arg2);
    if (!o && ev->arg == BUGCHECK_REFERENCE_BY_POINTER && (ev->flags & OBT_EV_ARG2)) {
        const struct object *f = freed_at_address(m, ev->arg2);
        if (f) {
            m->bugcheck = evref(ev);
            m->bugcheck_code = ev->arg;
            m->bugcheck_object = f->id;
            m->bugcheck_explained = true;
            report_double_release(m, f, f->id, ev, f->last_release);
            return;
        }
    }
    m->bugcheck = evref(ev);
    m->bugcheck_code = ev->arg;
    m->bugcheck_object = ev->object;
    if (ev->arg == BUGCHECK_REFERENCE_BY_POINTER) {
        report_double_release(m, o, ev->object, ev, o ? o->last_release : (struct event_ref){ 0 });
        m->bugcheck_explained = true;
    } else if (ev->arg == BUGCHECK_DRIVER_UNLOADED_PENDING) {
        struct incident *inc = incident_add(m, INC_CALL_INTO_UNLOADED, o, ev->object, ev);
        if (inc) {
            inc->arg = ev->arg;
            inc->addr = ev->arg2;
            inc->at.stack = stack_from_caller_of(m, ev->stack, ev->arg2);
            const struct module *mod = model_module_at(m, ev->arg2, ev->seq);
            inc->image = mod ? mod->instance : 0;
        }
        m->bugcheck_explained = true;
    } else {
        struct incident *inc = incident_add(m, INC_BUGCHECK, o, ev->object, ev);
        if (inc)
            inc->arg = ev->arg;
    }
}

/* IopNoteInterfaceHandedOut: obj = the device asked, obj2 = the device that answered, string = the GUID. */
void on_interface(struct model *m, struct object *target, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    struct object *exporter = model_object(m, ev->obj2);
    if (!exporter)
        exporter = target;
    struct driver *d = driver_of(m, exporter);
    const struct module *importer = NULL; /* the outermost driver frame: the driver that sent the query */
    const struct stack *st = model_stack(m, ev->stack);
    for (uint32_t i = 0; st && i < st->depth; i++) {
        const struct module *mod = model_module_at(m, st->frames[i], ev->seq);
        if (mod && mod->is_driver)
            importer = mod;
    }
    xgrow(&m->ifaces, &m->capifaces, m->nifaces + 1, sizeof(*m->ifaces));
    m->ifaces[m->nifaces++] = (struct iface){
        .exporter = exporter->id, .requester = target->id, .exporter_image = d ? d->image : exporter->image,
        .importer_image = importer ? importer->instance : 0, .guid = ev->string,
        .noop = (ev->arg & OBT_IFACE_NOOP_REFS) != 0, .at = evref(ev), .arg = ev->arg,
    };
}
