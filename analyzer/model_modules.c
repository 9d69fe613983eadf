/*
 * model_modules.c - drivers and module instances of the model: which image
 * a driver object belongs to, where an address lies at a given time, what
 * happened at an image's load and unload (refused reloads, who held its
 * devices, DriverUnload writes), notification registrations, symbolic links
 * and the failed call that made a DriverEntry fail.
 */
#include "model_internal.h"

#include "cycles.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

/* ---- drivers and modules ------------------------------------------------------------------ */

struct driver *model_driver(const struct model *m, uint32_t id)
{
    for (size_t i = 0; i < m->ndrivers; i++)
        if (m->drivers[i].id == id)
            return &m->drivers[i];
    return NULL;
}

struct driver *driver_get(struct model *m, uint32_t id)
{
    if (!id)
        return NULL;
    struct driver *d = model_driver(m, id);
    if (d)
        return d;
    xgrow(&m->drivers, &m->capdrivers, m->ndrivers + 1, sizeof(*m->drivers));
    d = &m->drivers[m->ndrivers++];
    memset(d, 0, sizeof(*d));
    d->id = id;
    d->name = xstrdup("");
    return d;
}

/* The driver owning object o (o itself when it is a driver), or NULL. */
struct driver *driver_of(struct model *m, const struct object *o)
{
    if (!o)
        return NULL;
    if (o->type == OBT_OBJ_DRIVER)
        return driver_get(m, o->id);
    return o->owner ? driver_get(m, o->owner) : NULL;
}

const struct module *model_module(const struct model *m, uint32_t instance)
{
    for (size_t i = m->nmodules; i-- > 0;)
        if (m->modules[i].instance == instance)
            return &m->modules[i];
    return NULL;
}

struct module *module_mut(struct model *m, uint32_t instance)
{
    return (struct module *)model_module(m, instance);
}

const struct module *model_module_at(const struct model *m, uint64_t addr, uint64_t seq)
{
    for (size_t i = m->nmodules; i-- > 0;) {
        const struct module *mod = &m->modules[i];
        if (addr >= mod->start && addr < mod->end && mod->load_seq <= seq &&
            (!mod->unload_seq || seq <= mod->unload_seq))
            return mod;
    }
    /* nothing mapped there at seq: the instance unmapped last before it (a call into an unloaded image),
       else one mapped later (a frame recorded just before its module record) */
    const struct module *before = NULL, *later = NULL;
    for (size_t i = m->nmodules; i-- > 0;) {
        const struct module *mod = &m->modules[i];
        if (addr < mod->start || addr >= mod->end)
            continue;
        if (mod->unload_seq && mod->unload_seq < seq && (!before || mod->unload_seq > before->unload_seq))
            before = mod;
        else if (!later)
            later = mod;
    }
    return before ? before : later;
}

const char *model_module_basename(const struct module *mod)
{
    const char *slash = strrchr(mod->path, '/');
    return slash ? slash + 1 : mod->path;
}

/* The mapped module whose path (or base name) is path; NULL if none. */
static struct module *module_by_path(struct model *m, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t i = m->nmodules; i-- > 0;) {
        struct module *mod = &m->modules[i];
        if (!mod->unload_seq && (!strcmp(mod->path, path) || !strcmp(model_module_basename(mod), base)))
            return mod;
    }
    return NULL;
}

void driver_set_image(struct model *m, struct driver *d, uint32_t instance)
{
    if (!d || !instance)
        return;
    d->image = instance;
    struct module *mod = module_mut(m, instance);
    if (mod) {
        mod->is_driver = true;
        mod->driver = d->id;
    }
}

/* ---- images and drivers ------------------------------------------------------------------------- */

/* The module an image/service event is about: the driver's image, else by path or service name. */
static struct module *module_for_event(struct model *m, const struct object *o, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_MODULE) && module_mut(m, ev->module))
        return module_mut(m, ev->module);
    struct driver *d = o ? driver_of(m, o) : NULL;
    if (d && d->image && module_mut(m, d->image))
        return module_mut(m, d->image);
    const char *s = model_string(m, ev->string);
    if (s) {
        struct module *mod = module_by_path(m, s);
        if (mod)
            return mod;
        char drvname[512];
        snprintf(drvname, sizeof(drvname), "\\Driver\\%s", strrchr(s, '\\') ? strrchr(s, '\\') + 1 : s);
        for (size_t i = 0; i < m->ndrivers; i++)
            if (!strcmp(m->drivers[i].name, drvname) && m->drivers[i].image)
                return module_mut(m, m->drivers[i].image);
    }
    return NULL;
}

/* What held the deleted devices of mod's driver when its reload was refused (the state is gone later). */
static void note_reload_holders(struct model *m, struct module *mod)
{
    for (size_t i = 0; i < m->objects.cap && mod->driver; i++) {
        const struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (!o || o->type != OBT_OBJ_DEVICE || o->owner != mod->driver || !o->delete_called)
            continue;
        for (size_t k = 0; k < o->nrefs && mod->nreload_holders < 4; k++) {
            if (o->refs[k].label != LBL_REF)
                continue;
            mod->reload_holder_objects[mod->nreload_holders] = o->id;
            mod->reload_holders[mod->nreload_holders++] = o->refs[k];
        }
    }
}

void on_load_refused(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct module *mod = module_for_event(m, o, ev);
    if (mod && !mod->reload_refused.seq) {
        mod->reload_refused = evref(ev);
        mod->reload_status = ev->status;
        note_reload_holders(m, mod);
    }
}

void on_image_unload(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct module *mod = module_for_event(m, o, ev);
    if (mod && !mod->unload_seq) {
        mod->unload_seq = ev->seq;
        cycles_note_unload(m, mod, ev->tid, 0);
        check_pool_at_unload(m, mod);
    }
}

const struct module *model_stack_driver(const struct model *m, uint32_t stack, uint64_t seq)
{
    const struct stack *s = model_stack(m, stack);
    for (uint32_t i = 0; s && i < s->depth; i++) {
        const struct module *mod = model_module_at(m, s->frames[i], seq);
        if (mod && mod->is_driver)
            return mod;
    }
    return NULL;
}

/* Is addr code of the driver's own image (at seq)? */
static bool in_driver_image(const struct model *m, const struct driver *d, uint64_t addr, uint64_t seq)
{
    const struct module *mod = addr ? model_module_at(m, addr, seq) : NULL;
    return mod && d->image && mod->instance == d->image;
}

/*
 * Which routine is the driver's own and whether a routine of another module
 * replaced it, from the writes so far. A class library writes before the
 * driver's image is known (inside DriverEntry), so this is judged again
 * when DriverEntry returns.
 */
void driver_judge_unload_writes(struct model *m, struct driver *d)
{
    if (!d->image)
        return;
    for (unsigned i = 0; i < d->nwrites; i++) {
        const struct unload_write *w = &d->writes[i];
        if (in_driver_image(m, d, w->routine, w->at.seq)) {
            d->own_unload = w->routine;
            d->unload_set = w->at;
            d->unload_replaced = (struct event_ref){ 0 };
        } else if (in_driver_image(m, d, w->old, w->at.seq) && !d->unload_replaced.seq) {
            d->own_unload = w->old;
            d->unload_replaced = w->at;
        }
    }
}

/* arg = the new routine, arg2 = the routine it replaces (IopNoteDriverUnloadWrite). */
void on_unload_write(struct model *m, struct driver *d, const struct tr_event *ev)
{
    uint64_t old = (ev->flags & OBT_EV_ARG2) ? ev->arg2 : d->unload_routine;
    d->unload_routine = ev->arg;
    d->unload_written = true;
    if (d->nwrites < MAX_UNLOAD_WRITES)
        d->writes[d->nwrites++] = (struct unload_write){ .routine = ev->arg, .old = old, .at = evref(ev) };
    driver_judge_unload_writes(m, d);
}

void on_notify(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                      bool reg)
{
    struct object *o2 = model_object(m, ev->obj2);
    struct object *r = o->type == OBT_OBJ_DRIVER ? o2 : o;
    struct object *drv = o->type == OBT_OBJ_DRIVER ? o : (o2 && o2->type == OBT_OBJ_DRIVER ? o2 : NULL);
    if (!r)
        return;
    if (!drv)
        drv = model_object(m, r->notify_driver ? r->notify_driver : r->owner);
    if (reg) {
        r->type = OBT_OBJ_NOTIFY;
        r->created = evref(ev);
        r->notify_driver = drv ? drv->id : 0;
        r->notify_category = (uint32_t)ev->arg;
        if (o2 && o2->type == OBT_OBJ_DEVICE)
            r->notify_target = o2->id;
        struct object *data = (ev->flags & OBT_EV_ARG2) ? model_object(m, (uint32_t)ev->arg2) : NULL;
        if (data && data->type == OBT_OBJ_FILE)
            r->notify_file = data->id;
        if (data && data->type == OBT_OBJ_FILE && data->file_device)
            r->notify_target = data->file_device;
        else if (data && data->type == OBT_OBJ_DEVICE)
            r->notify_target = data->id;
    }
    uint32_t ids[2] = { drv ? drv->id : 0, r->notify_target };
    for (int k = 0; k < 2; k++) {
        struct object *held = model_object(m, ids[k]);
        if (!held)
            continue;
        struct ring_ev *inner = ring_find_nested(m, t, reg ? OBT_OP_OBJ_REF : OBT_OP_OBJ_DEREF, held->id, ev->stack);
        if (inner && reg)
            ref_relabel(held, inner, LBL_NOTIFY, r->id);
        else if (inner)
            ref_repair(held, inner, LBL_NOTIFY, r->id);
        else if (held == o && ev->count >= 0)
            ref_reconcile(m, held, ev, ev->count, LBL_NOTIFY, r->id);
    }
    if (!reg)
        object_retire(m, r);
}

/* ---- symbolic links, failed driver initialization ------------------------------------------------ */

/* The module of the direct caller of the call recorded with stack (its innermost frame), mutable; NULL if none. */
static struct module *caller_module(struct model *m, uint32_t stack, uint64_t seq)
{
    const struct stack *s = model_stack(m, stack);
    const struct module *mod = s && s->depth ? model_module_at(m, s->frames[0], seq) : NULL;
    return mod ? module_mut(m, mod->instance) : NULL;
}

/* The index of the live link named like string id name (names compare case-insensitively); -1 if none. */
static long link_find(const struct model *m, uint32_t name)
{
    const char *want = model_string(m, name);
    for (size_t i = m->nlinks; want && i-- > 0;) {
        const char *have = model_string(m, m->links[i].name);
        if (have && !strcasecmp(have, want))
            return (long)i;
    }
    return -1;
}

/* IoCreateSymbolicLink / IoDeleteSymbolicLink (string = the link): keeps the list of live links. */
void on_symlink(struct model *m, const struct tr_event *ev)
{
    if (!(ev->flags & OBT_EV_STRING) || ((ev->flags & OBT_EV_STATUS) && ev->status < 0))
        return;
    long i = link_find(m, ev->string);
    if (ev->op == OBT_OP_SYMLINK_DELETE) {
        if (i >= 0)
            m->links[i] = m->links[--m->nlinks];
        return;
    }
    const struct module *mod = caller_module(m, ev->stack, ev->seq);
    xgrow(&m->links, &m->caplinks, m->nlinks + 1, sizeof(*m->links));
    m->links[m->nlinks++] = (struct symlink){ .name = ev->string, .image = mod ? mod->instance : 0, .at = evref(ev) };
}

/*
 * A call that failed, made directly by an image whose DriverEntry has not
 * returned yet: remembered as why the initialization may have failed (with,
 * for IoCreateSymbolicLink, the live link it collided with).
 */
void note_init_failure(struct model *m, const struct tr_event *ev)
{
    if (!(ev->flags & OBT_EV_STATUS) || ev->status >= 0)
        return;
    struct module *mod = caller_module(m, ev->stack, ev->seq);
    if (!mod || mod->entry_seq || mod->unload_seq)
        return;
    mod->init_failure = evref(ev);
    mod->init_failure_status = ev->status;
    mod->init_failure_string = (ev->flags & OBT_EV_STRING) ? ev->string : 0;
    long i = ev->op == OBT_OP_SYMLINK_CREATE && (ev->flags & OBT_EV_STRING) ? link_find(m, ev->string) : -1;
    mod->collided = i >= 0 ? m->links[i] : (struct symlink){ 0 };
}

/* A call that failed changed nothing (a failed close of a handle is a double release, reported first). */
bool failed_call(const struct tr_event *ev)
{
    if (!(ev->flags & OBT_EV_STATUS) || ev->status >= 0)
        return false;
    switch (ev->op) {
    case OBT_OP_OBJ_CREATE:
    case OBT_OP_OBJ_REF:
    case OBT_OP_HANDLE_OPEN:
    case OBT_OP_DEV_CREATE:
    case OBT_OP_DEV_ATTACH:
    case OBT_OP_NOTIFY_REGISTER:
    case OBT_OP_NOTIFY_UNREGISTER:
    case OBT_OP_SHUTDOWN_REGISTER:
    case OBT_OP_REMLOCK_ACQUIRE:
    case OBT_OP_RUNDOWN_ACQUIRE:
        return true;
    }
    return false;
}
