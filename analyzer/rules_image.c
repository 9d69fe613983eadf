/*
 * rules_image.c - why each driver image that stayed mapped did not unload.
 *
 * The chain (nt-semantics §0, §3.3): image mapped ⇐ driver object
 * referenced ⇐ {devices not freed, notification registrations, leaked
 * references} ⇐ device not freed ⇐ {never deleted, delete pending on open
 * file objects or an attached device, zombie with leaked references} ⇐
 * who holds what. Two stages decide the headline: DriverUnload never
 * called (nothing asked, the request was refused or deferred, devices
 * left on the driver's list, no routine) versus DriverUnload called but
 * the driver object still referenced. Root causes are findings; what
 * they cause is marked as a consequence.
 *
 * This file walks the chain and writes the headline; each family of
 * findings along it has its file (rules_chain.h lists them).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntnames.h"
#include "rules_chain.h"
#include "xalloc.h"

const char *rules_type_name(unsigned type)
{
    const char *n = tr_obj_type_name(type);
    return n ? n : "Object";
}

bool is_device_of(const struct object *o, const struct driver *d)
{
    return o->type == OBT_OBJ_DEVICE && d && o->owner == d->id;
}

/* The PDO at the bottom of dev's stack (dev itself for a PDO or a device not attached). */
const struct object *bottom_device(const struct model *m, const struct object *dev)
{
    const struct object *lower;
    for (int depth = 0; depth < 64 && dev->attached_to && (lower = model_object(m, dev->attached_to)); depth++)
        dev = lower;
    return dev;
}

/* A device's name; an unnamed one by its devnode ("(unnamed, on ROOT\TOASTER\0000)"), else by id. */
const char *device_name(const struct model *m, const struct object *o, char *buf, size_t len)
{
    if (o->name[0])
        return o->name;
    const struct object *pdo = bottom_device(m, o);
    const char *inst = pdo->is_pdo ? model_string(m, pdo->instance) : NULL;
    if (inst)
        snprintf(buf, len, "(unnamed, on %s)", inst);
    else
        snprintf(buf, len, "(unnamed) #%u", o->id);
    return buf;
}

struct finding *chain_add(struct chain *c, enum finding_id id, const struct object *o)
{
    struct finding *f = verdict_add_finding(c->v, id);
    if (o) {
        char buf[300];
        finding_object(f, o->id, o->name[0] ? o->name : device_name(c->m, o, buf, sizeof(buf)), rules_type_name(o->type));
    }
    return f;
}

void add_event_site(struct finding *f, const char *verb, struct event_ref at)
{
    if (at.seq)
        finding_add_site(f, verb, at.stack, at.seq, at.tid);
}

/* ---- why DriverUnload was never called -------------------------------------------------------------------------- */

static void report_unload_routine(struct chain *c)
{
    const struct driver *d = c->d;
    if (d->unload_replaced.seq) {
        struct finding *f = chain_add(c, F_UNLOAD_ROUTINE_REPLACED, c->dobj);
        const struct module *lib = model_module_at(c->m, d->unload_routine, d->unload_replaced.seq);
        finding_subject(f, "DriverUnload of %s was overwritten with a routine of %s", d->name[0] ? d->name : "the driver",
                        lib ? model_module_basename(lib) : "another module");
        add_event_site(f, "overwritten", d->unload_replaced);
    }
}

static bool has_unload_routine(const struct driver *d)
{
    return d->unload_routine != 0;
}

static void report_no_unload(struct chain *c)
{
    struct finding *f = chain_add(c, F_NO_UNLOAD_ROUTINE, c->dobj);
    finding_subject(f, "%s has no DriverUnload routine", c->d->name[0] ? c->d->name : "the driver");
    if (c->d->driver_init)
        finding_add_code_site(f, "its DriverEntry never set one:", c->d->driver_init, c->d->entry.seq);
    add_event_site(f, "DriverEntry returned", c->d->entry);
}

/* Another driver's devices attached above this driver's: they go only with the whole stack. */
static void note_attached_above(struct chain *c, struct finding *f)
{
    char ubuf[300], dbuf[64], drv[64];
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        const struct object *up = is_device_of(dev, c->d) ? model_object(c->m, dev->attached_above) : NULL;
        if (!up || up->owner == c->d->id)
            continue;
        const struct object *pdo = bottom_device(c->m, dev);
        const char *inst = pdo->is_pdo ? model_string(c->m, pdo->instance) : NULL;
        finding_note(f, "a device of %s is attached above this driver's device %s%s: removing the devnode removes both",
                     model_object_label(c->m, up->owner, drv, sizeof(drv)), inst ? "on " : "",
                     inst ? inst : device_name(c->m, dev, dbuf, sizeof(dbuf)));
        (void)ubuf;
    }
}

static void why_not_called_pnp(struct chain *c, bool stack_pending)
{
    const struct driver *d = c->d;
    char *reason = NULL;
    bool cdo_left = d->last_device_removed && c->linked; /* the stop is not why: the devices were removed */
    if (d->nstops && d->stop_status < 0 && !cdo_left) {
        struct finding *f = chain_add(c, F_STOP_REFUSED_PNP, c->dobj);
        char sbuf[16];
        finding_subject(f, "a service stop was sent to the PnP driver %s and refused (%s)", d->name[0] ? d->name : "",
                        nt_status_name(d->stop_status, sbuf));
        add_event_site(f, "stop requested", d->stop);
        finding_note(f, "a PnP driver is unloaded by removing its devices (disable, eject or unplug), not by a service stop");
        note_attached_above(c, f);
    }
    bool refused = d->nstops && d->stop_status < 0 && !cdo_left; /* that finding already says how to unload */
    if (stack_pending && !refused) {
        struct finding *f = chain_add(c, F_UNLOAD_NOT_REQUESTED, c->dobj);
        finding_subject(f, "the driver's devices were never removed (no disable, eject or unplug of their devnodes)");
        free(f->fix);
        f->fix = xstrdup("remove the device (disable, eject or unplug it); a PnP driver unloads after its last device is removed");
    }
    if (c->v->reason)
        return;
    const struct object *stuck = lock_wait_stuck(c);
    if (stuck)
        reason = xasprintf("its IRP_MN_REMOVE_DEVICE handler never returned: it waits in %s", lock_wait_call(stuck));
    else if (stack_pending)
        reason = xstrdup("its devices were never removed, so the PnP manager had no reason to unload it");
    else if (c->linked)
        reason = xasprintf("the PnP manager skipped the unload: %u device object%s of the driver %s never deleted",
                           c->linked, c->linked == 1 ? "" : "s", c->linked == 1 ? "was" : "were");
    else if (!has_unload_routine(d))
        reason = xstrdup("the driver has no DriverUnload routine");
    else
        reason = xstrdup("an outstanding registration or reference kept the PnP manager from calling it");
    c->v->reason = reason;
}

static void why_not_called_legacy(struct chain *c)
{
    const struct driver *d = c->d;
    if (!d->nstops) {
        struct finding *f = chain_add(c, F_UNLOAD_NOT_REQUESTED, c->dobj);
        finding_subject(f, "the service of %s was never stopped", d->name[0] ? d->name : "the driver");
        free(f->fix);
        f->fix = xstrdup("stop the service (ZwUnloadDriver / sc stop) to unload a legacy driver");
        c->v->reason = xstrdup("nothing asked for the unload");
        return;
    }
    char sbuf[16];
    if (d->stop_status < 0) {
        c->v->reason = xasprintf("the service stop failed (%s)", nt_status_name(d->stop_status, sbuf));
        return;
    }
    c->v->reason = xasprintf("the service stop was accepted (%s), but DriverUnload is deferred",
                             nt_status_name(d->stop_status, sbuf));
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        if (!is_device_of(dev, c->d) || dev->is_unlinked)
            continue;
        unsigned files = report_open_files(c, dev, "the deferred DriverUnload waits for it");
        if (dev->attached_above)
            report_attached_above(c, dev);
        if (files || dev->attached_above) {
            char dbuf[300];
            struct finding *f = chain_add(c, F_UNLOAD_DEFERRED, dev);
            f->consequence = true;
            finding_subject(f, "the unload waits for %s (ReferenceCount %d%s)", device_name(c->m, dev, dbuf, sizeof(dbuf)),
                            dev->refcount, dev->attached_above ? ", a device attached above" : "");
            add_event_site(f, "stop requested", d->stop);
        }
    }
}

static void why_not_called(struct chain *c)
{
    bool stack_pending = false;
    if (!has_unload_routine(c->d))
        report_no_unload(c);
    if (c->d->pnp) {
        report_linked_devices(c, &stack_pending);
        why_not_called_pnp(c, stack_pending);
    } else {
        why_not_called_legacy(c);
    }
    if (c->d->nstops || c->d->last_device_removed) /* a registration pins the driver only once it is to go */
        report_registrations(c);
}

/* ---- DriverUnload ran but the image stayed ------------------------------------------------------------------------ */

static void why_still_mapped(struct chain *c)
{
    bool stack_pending = false;
    unsigned refs = c->dobj ? (unsigned)c->dobj->nrefs : 0;
    c->v->reason = xasprintf("the driver object %s still has %u reference%s", c->d->name[0] ? c->d->name : "",
                             refs, refs == 1 ? "" : "s");
    report_linked_devices(c, &stack_pending);
    report_zombies(c, true);
    report_registrations(c);
    report_driver_leaks(c);
}

/* ---- per image ------------------------------------------------------------------------------------------------------- */

static void count_devices(struct chain *c)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        if (!is_device_of(dev, c->d))
            continue;
        if (dev->is_unlinked)
            c->zombies++;
        else
            c->linked++;
    }
}

static void report_reload(struct chain *c)
{
    if (!c->mod->reload_refused.seq)
        return;
    struct finding *f = verdict_add_finding(c->v, F_RELOAD_FAILED);
    f->consequence = c->v->nfindings > 1;
    char sbuf[16];
    finding_subject(f, "loading %s again failed (%s): the previous instance was still mapped",
                    model_module_basename(c->mod), nt_status_name(c->mod->reload_status, sbuf));
    add_event_site(f, "load attempted", c->mod->reload_refused);
}

/* The instance of the same image file loaded last before mod, or NULL. */
static const struct module *previous_instance(const struct model *m, const struct module *mod)
{
    const struct module *prev = NULL;
    for (size_t i = 0; i < m->nmodules; i++) {
        const struct module *o = &m->modules[i];
        if (o != mod && o->load_seq <= mod->load_seq && !strcmp(o->path, mod->path) &&
            (!prev || o->load_seq >= prev->load_seq))
            prev = o;
    }
    return prev;
}

/* True when mod is a reload (an earlier instance of its image ran) whose DriverEntry failed. */
static bool reload_entry_failed(const struct model *m, const struct module *mod)
{
    const struct driver *d = mod->driver ? model_driver(m, mod->driver) : NULL;
    return d && d->image == mod->instance && d->entry.seq && d->entry_status < 0 && previous_instance(m, mod);
}

/* The kernel routine a traced operation stands for, for the ops a DriverEntry typically fails in. */
static const char *call_name(uint8_t op)
{
    switch (op) {
    case OBT_OP_SYMLINK_CREATE: return "IoCreateSymbolicLink";
    case OBT_OP_DEV_CREATE: return "IoCreateDevice";
    case OBT_OP_DEV_ATTACH: return "IoAttachDeviceToDeviceStack";
    case OBT_OP_NOTIFY_REGISTER: return "IoRegisterPlugPlayNotification";
    default: return tr_op_name(op) ? tr_op_name(op) : "a call";
    }
}

/* The link a failed IoCreateSymbolicLink of c->mod collided with: who created it, and the fix. */
static void report_link_collision(struct chain *c, struct finding *f)
{
    const struct symlink *l = &c->mod->collided;
    const char *name = model_string(c->m, l->name);
    const struct module *owner = model_module(c->m, l->image);
    if (!l->at.seq || !name)
        return;
    if (owner && !strcmp(owner->path, c->mod->path)) {
        add_event_site(f, "the link was created by the previous instance", l->at);
        finding_note(f, "the previous instance of %s created %s and never deleted it (no IoDeleteSymbolicLink): "
                        "a symbolic link outlives the driver that created it", model_module_basename(c->mod), name);
        finding_set_fix(f, "delete the symbolic link in DriverUnload (IoDeleteSymbolicLink %s)", name);
        return;
    }
    add_event_site(f, "the link was created", l->at);
    finding_note(f, "%s already existed, created by %s", name, owner ? model_module_basename(owner) : "another caller");
    finding_set_fix(f, "give the link a name no other driver uses, or delete it where it is no longer needed");
}

/* A reload whose DriverEntry failed: which call failed with which status, and why when the trace shows it. */
static void report_entry_failed(struct chain *c)
{
    char sbuf[16], cbuf[16];
    const struct module *mod = c->mod;
    struct finding *f = verdict_add_finding(c->v, F_RELOAD_FAILED);
    finding_subject(f, "loading %s again failed: its DriverEntry returned %s", model_module_basename(mod),
                    nt_status_name(c->d->entry_status, sbuf));
    finding_set_fix(f, "find what the previous instance left behind that makes DriverEntry fail, and undo it in "
                       "DriverUnload");
    if (!mod->init_failure.seq)
        return;
    const char *what = mod->init_failure_string ? model_string(c->m, mod->init_failure_string) : NULL;
    finding_note(f, "%s%s%s%s returned %s", call_name(mod->init_failure.op), what ? " (" : "", what ? what : "",
                 what ? ")" : "", nt_status_name(mod->init_failure_status, cbuf));
    add_event_site(f, "the call that failed", mod->init_failure);
    report_link_collision(c, f);
}

/* Why the previous instance was still mapped when its reload was refused, though it unloaded later. */
static void report_reload_holders(struct chain *c)
{
    struct finding *f = &c->v->findings[c->v->nfindings - 1];
    char dbuf[160];
    for (unsigned i = 0; i < c->mod->nreload_holders; i++) {
        const struct ref_entry *e = &c->mod->reload_holders[i];
        finding_add_site(f, "the deleted device was still referenced", e->stack, e->seq, e->tid)->callee = true;
        if (i == 0)
            finding_note(f, "DriverUnload had run, but %s (deleted) still pinned the driver object; the reference "
                            "was dropped later and the image unloaded then",
                         model_object_label(c->m, c->mod->reload_holder_objects[i], dbuf, sizeof(dbuf)));
    }
    if (c->mod->nreload_holders)
        finding_set_fix(f, "in DriverUnload, wait for (or cancel) the work that holds the device before deleting it, "
                           "so the stop unloads the image at once");
}

static void explain_image(const struct model *m, const struct object_list *live, const struct module *mod,
                          struct report *r)
{
    static const struct driver none = { .name = (char *)"" };
    const struct driver *d = mod->driver ? model_driver(m, mod->driver) : NULL;
    struct verdict *v = report_add_verdict(r);
    struct chain c = { .m = m, .live = live, .mod = mod, .d = d ? d : &none, .v = v };
    c.dobj = d ? model_object(m, d->id) : NULL;
    v->image = xstrdup(model_module_basename(mod));
    v->path = xstrdup(mod->path);
    v->instance = mod->instance;
    v->driver = xstrdup(c.d->name);
    if (!mod->reload_refused.seq && reload_entry_failed(m, mod)) { /* a reload whose DriverEntry failed */
        v->state = xstrdup("reload-failed");
        v->headline = xstrdup("RELOAD FAILED — DriverEntry failed");
        report_entry_failed(&c);
        return;
    }
    if (mod->unload_seq) { /* unloaded in the end, but a reload failed on the way */
        v->state = xstrdup("reload-failed");
        v->headline = xstrdup("RELOAD FAILED — the previous instance was still mapped");
        report_reload(&c);
        report_reload_holders(&c);
        return;
    }
    v->state = xstrdup("not-unloaded");
    count_devices(&c);
    if (!d) {
        v->headline = xstrdup("NOT UNLOADED — no driver object of it was seen");
    } else if (!d->unload.seq) {
        v->headline = xstrdup("NOT UNLOADED — DriverUnload was never called");
        why_not_called(&c);
    } else {
        v->headline = xstrdup("NOT UNLOADED — DriverUnload ran, but the image is still mapped");
        why_still_mapped(&c);
    }
    if (d) {
        report_unload_routine(&c);
        report_locks(&c);
    }
    report_reload(&c);
}

static bool image_needs_verdict(const struct model *m, const struct module *mod)
{
    if (!mod->is_driver)
        return false;
    if (mod->reload_refused.seq || reload_entry_failed(m, mod))
        return true;
    if (mod->unload_seq)
        return false;
    if (!m->saw_end && m->bugcheck.seq)
        return false; /* the run stopped at a bug check: no image had the chance to unload */
    const struct driver *d = model_driver(m, mod->driver);
    /* a failed DriverEntry unmaps the image; one still mapped then is a framework matter, not the driver's */
    return !(d && d->entry.seq && d->entry_status < 0 && d->freed.seq);
}

void rules_images(const struct model *m, const struct object_list *live, struct report *r)
{
    for (size_t i = 0; i < m->nmodules; i++) {
        const struct module *mod = &m->modules[i];
        if (!mod->is_driver)
            continue;
        r->images_seen++;
        if (mod->unload_seq)
            r->images_unloaded++;
        if (image_needs_verdict(m, mod))
            explain_image(m, live, mod, r);
    }
}
