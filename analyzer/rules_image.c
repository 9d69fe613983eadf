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
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntnames.h"
#include "rules.h"
#include "xalloc.h"

#define STATUS_INVALID_DEVICE_REQUEST_ ((int32_t)0xC0000010)

/* Everything one image's verdict looks at. */
struct chain {
    const struct model *m;
    const struct object_list *live;
    const struct module *mod;
    const struct driver *d;
    const struct object *dobj;  /* the live driver object, NULL once freed */
    struct verdict *v;
    unsigned linked, zombies;   /* devices of the driver still on its list / unlinked but referenced */
};

const char *rules_type_name(unsigned type)
{
    const char *n = tr_obj_type_name(type);
    return n ? n : "Object";
}

static bool is_device_of(const struct object *o, const struct driver *d)
{
    return o->type == OBT_OBJ_DEVICE && d && o->owner == d->id;
}

/* The PDO at the bottom of dev's stack (dev itself for a PDO or a device not attached). */
static const struct object *bottom_device(const struct model *m, const struct object *dev)
{
    const struct object *lower;
    for (int depth = 0; depth < 64 && dev->attached_to && (lower = model_object(m, dev->attached_to)); depth++)
        dev = lower;
    return dev;
}

/* A device's name; an unnamed one by its devnode ("(unnamed, on ROOT\TOASTER\0000)"), else by id. */
static const char *device_name(const struct model *m, const struct object *o, char *buf, size_t len)
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

static struct finding *add(struct chain *c, enum finding_id id, const struct object *o)
{
    struct finding *f = verdict_add_finding(c->v, id);
    if (o) {
        char buf[300];
        finding_object(f, o->id, o->name[0] ? o->name : device_name(c->m, o, buf, sizeof(buf)), rules_type_name(o->type));
    }
    return f;
}

static void add_event_site(struct finding *f, const char *verb, struct event_ref at)
{
    if (at.seq)
        finding_add_site(f, verb, at.stack, at.seq, at.tid);
}

/* ---- open file objects on a device ---------------------------------------------------------------- */

/* "driver x.so" when a driver image made the call recorded with stack, else "the application". */
static const char *caller_of(const struct chain *c, uint32_t stack, uint64_t seq, char *buf, size_t len)
{
    const struct module *mod = model_stack_driver(c->m, stack, seq);
    if (!mod)
        return "the application";
    snprintf(buf, len, "driver %s", model_module_basename(mod));
    return buf;
}

/* The reference IoGetDeviceObjectPointer handed to its caller, if file still holds it. */
static const struct ref_entry *device_pointer_ref(const struct object *file)
{
    for (size_t i = 0; i < file->nrefs; i++)
        if (file->refs[i].via == VIA_DEVICE_POINTER)
            return &file->refs[i];
    return NULL;
}

static void open_handle_finding(struct chain *c, const struct object *file, const struct object *dev)
{
    char dbuf[300], who[160];
    long h = -1;
    for (size_t i = 0; i < file->nrefs && h < 0; i++)
        if (file->refs[i].label == LBL_HANDLE)
            h = (long)i;
    const struct ref_entry *at = h >= 0 ? &file->refs[h] : NULL;
    struct finding *f = add(c, F_OPEN_HANDLE, file);
    finding_subject(f, "%s still holds %d handle%s open on %s",
                    at ? caller_of(c, at->stack, at->seq, who, sizeof(who)) : "a process", file->handles,
                    file->handles == 1 ? "" : "s", device_name(c->m, dev, dbuf, sizeof(dbuf)));
    rules_add_ref_sites(f, file, LBL_BIT(LBL_HANDLE), "handle opened");
    rules_add_ref_sites(f, file, LBL_BIT(LBL_REF), "references taken");
    finding_set_fix(f, "close the handle (CloseHandle / ZwClose) before the driver is stopped or its device removed");
}

/* A live target-device notification registration made on file (its driver watches the device), or NULL. */
static const struct object *target_registration_on(const struct chain *c, const struct object *file)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *r = c->live->items[i];
        if (r->type == OBT_OBJ_NOTIFY && r->notify_file == file->id)
            return r;
    }
    return NULL;
}

/* A handle-less file object kept by a pointer reference: IoGetDeviceObjectPointer's, or another leaked one. */
static void file_reference_finding(struct chain *c, const struct object *file, const struct object *dev)
{
    char dbuf[300], who[160];
    const struct ref_entry *gdop = device_pointer_ref(file);
    struct finding *f = add(c, F_LEAKED_REFERENCE, file);
    if (!gdop) {
        finding_subject(f, "file object File #%u on %s is still referenced, without a handle", file->id,
                        device_name(c->m, dev, dbuf, sizeof(dbuf)));
        add_event_site(f, "opened", file->opened);
        rules_add_ref_sites(f, file, LBL_BIT(LBL_REF) | LBL_BIT(LBL_CREATE), "references taken");
        return;
    }
    const struct module *client = model_stack_driver(c->m, gdop->stack, gdop->seq);
    const struct driver *cd = client && client->driver ? model_driver(c->m, client->driver) : NULL;
    finding_subject(f, "%s holds the file object on %s that IoGetDeviceObjectPointer returned to it, "
                    "and never dereferenced it", caller_of(c, gdop->stack, gdop->seq, who, sizeof(who)),
                    device_name(c->m, dev, dbuf, sizeof(dbuf)));
    rules_add_ref_sites(f, file, LBL_BIT(LBL_REF) | LBL_BIT(LBL_CREATE), "IoGetDeviceObjectPointer called");
    if (cd && cd->unload.seq && cd->own_unload)
        finding_add_code_site(f, "its DriverUnload, which did not dereference it:", cd->own_unload, cd->unload.seq);
    if (client && client->unload_seq)
        finding_note(f, "%s was unloaded while still holding it; nothing can release it now",
                     model_module_basename(client));
    const struct object *reg = target_registration_on(c, file);
    if (reg) {
        add_event_site(f, "registered for target-device notification on it", reg->created);
        finding_note(f, "the registration's callback is where the file object must be let go: on "
                        "GUID_TARGET_DEVICE_QUERY_REMOVE (the PnP manager then checks for open files)");
    }
    if (client && reg)
        finding_set_fix(f, "ObDereferenceObject the file object in %s's target-device notification callback on "
                           "GUID_TARGET_DEVICE_QUERY_REMOVE (re-open it on GUID_TARGET_DEVICE_REMOVE_CANCELLED)",
                        model_module_basename(client));
    else if (client && cd && cd->pnp)
        finding_set_fix(f, "ObDereferenceObject the file object in %s when its own device is removed "
                           "(IRP_MN_REMOVE_DEVICE) and when the target's removal is queried (register for "
                           "target-device notification: GUID_TARGET_DEVICE_QUERY_REMOVE)",
                        model_module_basename(client));
    else if (client)
        finding_set_fix(f, "ObDereferenceObject the file object in %s when done with the device, at the latest in "
                           "its DriverUnload", model_module_basename(client));
    else
        finding_set_fix(f, "ObDereferenceObject the file object from IoGetDeviceObjectPointer when done with the device");
    if (cd && cd->pnp && !cd->unload.seq && client && !client->unload_seq)
        finding_note(f, "%s is a PnP driver whose devices are still present: its DriverUnload has not run (the PnP "
                        "manager calls it only after its last device is removed), so a release there comes too late "
                        "for this device's removal", model_module_basename(client));
}

/* Reports each live file object opened on dev: an open handle, or a kernel pointer reference without one. */
static unsigned report_open_files(struct chain *c, const struct object *dev, const char *blocked)
{
    unsigned n = 0;
    char dbuf[300], vbuf[24];
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *file = c->live->items[i];
        if (file->type != OBT_OBJ_FILE || file->file_device != dev->id || !file->nrefs)
            continue;
        n++;
        if (file->handles > 0)
            open_handle_finding(c, file, dev);
        else
            file_reference_finding(c, file, dev);
        struct finding *f = &c->v->findings[c->v->nfindings - 1];
        if (blocked)
            finding_note(f, "%s", blocked);
        const struct object *pdo = bottom_device(c->m, dev);
        const char *inst = pdo->veto.seq ? model_string(c->m, pdo->instance) : NULL;
        if (pdo->veto.seq)
            finding_note(f, "it vetoed the removal of %s (%s)", inst ? inst : device_name(c->m, pdo, dbuf, sizeof(dbuf)),
                         nt_veto_name(pdo->veto_type, vbuf));
    }
    return n;
}

/* ---- devices still on the driver's list ------------------------------------------------------------- */

/* The live or recently freed object id (a device freed while still attached stays the lower's attachment). */
static const struct object *object_or_freed(const struct chain *c, uint32_t id)
{
    const struct object *o = model_object(c->m, id);
    return o ? o : model_freed_object(c->m, id);
}

/*
 * The upper device was deleted (IoDeleteDevice) while still attached above
 * dev: its driver never called IoDetachDevice, so dev's own delete (or its
 * driver's unload) can never complete. The line to change is the upper
 * driver's: where it deleted its device without detaching it first.
 */
static void report_deleted_attached(struct chain *c, const struct object *dev, const struct object *upper)
{
    char ubuf[300], dbuf[300], drv[64];
    struct finding *f = add(c, F_UNDELETED_DEVICE, dev);
    finding_subject(f, "device %s: delete pending: %s (driver %s) was deleted while still attached above it, "
                       "never detached", device_name(c->m, dev, dbuf, sizeof(dbuf)),
                    device_name(c->m, upper, ubuf, sizeof(ubuf)), model_object_label(c->m, upper->owner, drv, sizeof(drv)));
    add_event_site(f, "attached", upper->attached);
    add_event_site(f, "deleted without IoDetachDevice", upper->deleted);
    if (dev->delete_called)
        add_event_site(f, "this device's IoDeleteDevice, left pending,", dev->deleted);
    finding_set_fix(f, "the upper driver must IoDetachDevice from the device below before IoDeleteDevice of its own "
                       "(in its IRP_MN_REMOVE_DEVICE handler)");
}

static void report_attached_above(struct chain *c, const struct object *dev)
{
    const struct object *upper = object_or_freed(c, dev->attached_above);
    char ubuf[300], dbuf[64], drv[64];
    if (upper && upper->delete_called && upper->owner != dev->owner) {
        report_deleted_attached(c, dev, upper);
        return;
    }
    struct finding *f = add(c, F_UNLOAD_DEFERRED, dev);
    if (upper && upper->owner == dev->owner) {
        finding_subject(f, "the driver's own device %s is attached above %s: the unload waits for it to detach, "
                           "which only DriverUnload would do", device_name(c->m, upper, ubuf, sizeof(ubuf)),
                        device_name(c->m, dev, dbuf, sizeof(dbuf)));
        add_event_site(f, "attached device created", upper->created);
        finding_set_fix(f, "detach and delete the upper device before the driver is stopped, or do not stack the "
                           "driver's own devices in a legacy driver");
        return;
    }
    finding_subject(f, "%s is still attached above %s (driver %s)",
                    upper ? device_name(c->m, upper, ubuf, sizeof(ubuf)) : "a device", device_name(c->m, dev, dbuf, sizeof(dbuf)),
                    upper ? model_object_label(c->m, upper->owner, drv, sizeof(drv)) : "?");
    if (upper)
        add_event_site(f, "created", upper->created);
    free(f->fix);
    f->fix = xstrdup("the upper driver must IoDetachDevice from this device (on its removal or unload)");
}

/* A device whose IoDeleteDevice was called but whose delete has not completed. */
static void report_delete_pending(struct chain *c, const struct object *dev)
{
    char dbuf[300];
    char *blocked = xasprintf("it keeps the deleted device %s on the driver's list (its delete is pending)",
                              device_name(c->m, dev, dbuf, sizeof(dbuf)));
    unsigned files = report_open_files(c, dev, blocked);
    free(blocked);
    if (dev->attached_above)
        report_attached_above(c, dev);
    if (!files && !dev->attached_above) {
        struct finding *f = add(c, F_UNDELETED_DEVICE, dev);
        finding_subject(f, "device %s: delete pending (ReferenceCount %d)", device_name(c->m, dev, dbuf, sizeof(dbuf)),
                        dev->refcount);
        add_event_site(f, "deleted", dev->deleted);
    }
}

static const struct object *lock_wait_stuck(const struct chain *c);
static const char *lock_wait_call(const struct object *l);
static const char *lock_what(const struct object *l);

/* " (ROOT\TOASTER\0000)" for the PDO of a devnode, else "". */
static const char *devnode_of(const struct chain *c, const struct object *dev, char *buf, size_t len)
{
    const char *inst = dev->is_pdo ? model_string(c->m, dev->instance) : NULL;
    if (!inst)
        return "";
    snprintf(buf, len, " (%s)", inst);
    return buf;
}

/*
 * An unnamed device an AddDevice routine created and never attached to any
 * stack: no PnP IRP can ever reach it (a named one may be a control device).
 */
static bool is_adddevice_orphan(const struct object *dev)
{
    return dev->added_for && !dev->name[0] && !dev->attached.seq && !dev->is_pdo && !dev->attached_above;
}

/*
 * The device directly above dev when IRP_MN_REMOVE_DEVICE came, if the
 * REMOVE never reached dev (the upper one, removed, detached from it, and
 * no IoCallDriver of REMOVE to dev returned; none is still running in a
 * stuck REMOVE handler); else NULL.
 */
static const struct object *remove_stopped_above(const struct chain *c, const struct object *dev)
{
    if (!dev->removed || dev->remove_passed.seq || !dev->was_above || !dev->upper_detached.seq || lock_wait_stuck(c))
        return NULL;
    const struct object *upper = object_or_freed(c, dev->was_above);
    return upper && upper->removed ? upper : NULL;
}

/*
 * IRP_MN_REMOVE_DEVICE was sent to dev's stack but never passed down to
 * dev: the driver directly above completed it (after detaching from dev)
 * instead of passing it down, so dev's driver never saw its REMOVE. The
 * line to change is the upper driver's REMOVE handler.
 */
static void report_remove_not_passed(struct chain *c, const struct object *dev, const struct object *upper)
{
    char dbuf[300], ubuf[300], drv[64];
    struct finding *f = add(c, F_UNDELETED_DEVICE, dev);
    finding_subject(f, "device %s never received IRP_MN_REMOVE_DEVICE: %s (driver %s) above it did not pass it down",
                    device_name(c->m, dev, dbuf, sizeof(dbuf)), device_name(c->m, upper, ubuf, sizeof(ubuf)),
                    model_object_label(c->m, upper->owner, drv, sizeof(drv)));
    add_event_site(f, "created", dev->created);
    add_event_site(f, "the upper device detached from it while handling REMOVE", dev->upper_detached);
    if (upper->delete_called)
        add_event_site(f, "and deleted itself", upper->deleted);
    finding_note(f, "every filter and function driver must pass IRP_MN_REMOVE_DEVICE down the stack "
                    "(IoSkipCurrentIrpStackLocation + IoCallDriver) before it detaches; only the bus driver "
                    "completes it");
    finding_set_fix(f, "in the REMOVE handler of %s, pass IRP_MN_REMOVE_DEVICE to the lower device before "
                       "IoDetachDevice / IoDeleteDevice", model_object_label(c->m, upper->owner, drv, sizeof(drv)));
}

/* What kind of undeleted device dev is: the subject is before + name + after; sets *fix. */
static const char *undeleted_kind(const struct chain *c, const struct object *dev, const char **after,
                                  const char **fix)
{
    *after = "";
    if (is_adddevice_orphan(dev)) {
        *fix = "IoDeleteDevice the device on every AddDevice path that does not attach it (an AddDevice that "
               "fails must delete what it created)";
        *after = " was created in AddDevice, never attached to the device stack, and never deleted";
        return "device ";
    }
    if (c->d->pnp && !dev->attached_to && !dev->attached_above && !dev->removed && !dev->is_pdo) {
        *fix = "delete the control device when the last PnP device is removed";
        *after = " (hybrid driver)";
        return "control device ";
    }
    if (dev->removed && (dev->attached_to || dev->detached.seq)) {
        *fix = "IoDetachDevice and IoDeleteDevice the device in the IRP_MN_REMOVE_DEVICE handler";
        *after = " was not deleted on IRP_MN_REMOVE_DEVICE";
        return "device ";
    }
    if (dev->is_pdo && !dev->attached_to && dev->removed) {
        *fix = "delete a child PDO on IRP_MN_REMOVE_DEVICE once it was reported missing, and delete all children "
               "when the bus FDO is removed";
        *after = " was never deleted";
        return "bus child PDO ";
    }
    if (!c->d->pnp) {
        *fix = "IoDeleteDevice every device of the driver in DriverUnload";
        *after = " was not deleted by DriverUnload";
        return "device ";
    }
    *fix = "IoDeleteDevice the device when it is removed";
    *after = " was never deleted";
    return "device ";
}

/*
 * A child PDO that was still present (no surprise removal: it was removed
 * with an orderly REMOVE) and whose bus driver then had one of its stack
 * devices (the bus FDO) removed and deleted: the parent's removal, not a
 * report of the child missing, is where the child had to go.
 */
static bool parent_removed_after(const struct chain *c, const struct object *dev)
{
    uint64_t child_removed = dev->remove_completed.seq ? dev->remove_completed.seq : dev->remove_passed.seq;
    return !dev->surprise.seq && c->d->stack_device_deleted.seq && c->d->stack_device_deleted.seq > child_removed;
}

/* What became of the devnode an orphan device was created for. */
static void note_orphan(struct chain *c, struct finding *f, const struct object *dev)
{
    const struct object *pdo = model_object(c->m, dev->added_for);
    if (!pdo)
        pdo = model_freed_object(c->m, dev->added_for);
    const char *inst = pdo ? model_string(c->m, pdo->instance) : NULL;
    finding_note(f, "no PnP IRP can reach a device outside every stack%s%s%s", inst ? ": the stack of " : "",
                 inst ? inst : "", inst && pdo->removed ? " was removed without it" : inst ? " was built without it" : "");
}

static void report_never_deleted(struct chain *c, const struct object *dev)
{
    char dbuf[300], ibuf[300], sbuf[16];
    const char *fix, *after;
    const struct object *stopper = remove_stopped_above(c, dev);
    if (stopper) {
        report_remove_not_passed(c, dev, stopper);
        return;
    }
    const char *before = undeleted_kind(c, dev, &after, &fix);
    struct finding *f = add(c, F_UNDELETED_DEVICE, dev);
    if (dev->is_pdo && dev->removed && !dev->remove_done && !dev->attached_to) { /* REMOVE is stuck above it */
        f->consequence = true;
        finding_subject(f, "bus child PDO %s%s is not deleted: its IRP_MN_REMOVE_DEVICE never completed (a driver "
                           "above it is stuck in its REMOVE handler)", device_name(c->m, dev, dbuf, sizeof(dbuf)),
                        devnode_of(c, dev, ibuf, sizeof(ibuf)));
        return;
    }
    const struct object *stuck = dev->removed ? lock_wait_stuck(c) : NULL;
    if (stuck) { /* the REMOVE handler never got to IoDeleteDevice */
        f->consequence = true;
        finding_subject(f, "device %s was not deleted: its IRP_MN_REMOVE_DEVICE handler is still waiting in %s",
                        device_name(c->m, dev, dbuf, sizeof(dbuf)), lock_wait_call(stuck));
        return;
    }
    finding_subject(f, "%s%s%s%s", before, device_name(c->m, dev, dbuf, sizeof(dbuf)), devnode_of(c, dev, ibuf, sizeof(ibuf)),
                    after);
    finding_set_fix(f, "%s", fix);
    add_event_site(f, "created", dev->created);
    bool bus_child = !strcmp(before, "bus child PDO ");
    bool parent_gone = bus_child && parent_removed_after(c, dev);
    if (parent_gone) {
        add_event_site(f, "the bus FDO was removed after it, and its REMOVE handler deleted only the FDO",
                       c->d->stack_device_deleted);
        finding_note(f, "it was still present (never reported missing), so keeping it on its own IRP_MN_REMOVE_DEVICE "
                        "was right; but the bus FDO that owns it was removed and did not IoDeleteDevice it: it "
                        "stays on the driver's device list");
        finding_set_fix(f, "when the bus FDO is removed (its IRP_MN_REMOVE_DEVICE handler), IoDeleteDevice every "
                           "child PDO it still owns");
    } else if (dev->removed && dev->detached.seq)
        add_event_site(f, "detached from its stack (IRP_MN_REMOVE_DEVICE), with no IoDeleteDevice after it,",
                       dev->detached);
    else if (dev->removed && dev->remove_completed.seq)
        add_event_site(f, "IRP_MN_REMOVE_DEVICE completed, with no IoDeleteDevice before it,", dev->remove_completed);
    if (bus_child && !parent_gone)
        finding_note(f, "it was reported missing and its IRP_MN_REMOVE_DEVICE was handled, but the bus driver did not "
                        "IoDeleteDevice it: it stays on the driver's device list");
    if (is_adddevice_orphan(dev))
        note_orphan(c, f, dev);
    if (!strcmp(before, "control device ") && c->d->last_device_removed)
        finding_note(f, "the last PnP device of the driver was removed; no IoDeleteDevice for the control device followed");
    if (!strcmp(before, "control device ") && c->d->nstops && c->d->stop_status < 0)
        finding_note(f, "the service stop was refused too (%s): a PnP driver is unloaded by the PnP manager once "
                        "its last device object is deleted", nt_status_name(c->d->stop_status, sbuf));
    char *blocked = xasprintf("an open file object keeps %s busy", device_name(c->m, dev, dbuf, sizeof(dbuf)));
    report_open_files(c, dev, blocked);
    free(blocked);
}

/* A PnP device whose stack was never removed: nothing asked for it to go. */
static bool stack_never_removed(const struct chain *c, const struct object *dev)
{
    if (!c->d->pnp || dev->removed || dev->delete_called)
        return false;
    if (dev->attached_to) {
        const struct object *lower = model_object(c->m, dev->attached_to);
        return !lower || !lower->removed;
    }
    return dev->attached_above != 0;
}

/* A counted interface this image handed out whose importer is still loaded, or NULL. */
static const struct iface *counted_interface_still_held(const struct chain *c)
{
    for (size_t k = 0; k < c->m->nifaces; k++) {
        const struct iface *i = &c->m->ifaces[k];
        const struct module *imp = model_module(c->m, i->importer_image);
        if (i->exporter_image == c->mod->instance && imp && !imp->unload_seq && !i->noop)
            return i;
    }
    return NULL;
}

/* The removal of pdo's devnode was requested and vetoed: who vetoed, and what it protects. */
static void report_veto(struct chain *c, const struct object *pdo)
{
    char vbuf[24], dbuf[64], drv[64];
    const char *inst = model_string(c->m, pdo->instance);
    c->v->reason = xasprintf("the removal of %s was vetoed (%s), so its devices stay", inst ? inst : "the device",
                             nt_veto_name(pdo->veto_type, vbuf));
    unsigned files = 0;
    const struct object *dev = pdo;
    for (int depth = 0; dev && depth < 64; depth++) {
        files += report_open_files(c, dev, NULL);
        dev = dev->attached_above ? model_object(c->m, dev->attached_above) : NULL;
    }
    if (files)
        return;
    const struct object *vetoer = model_object(c->m, pdo->veto_device);
    const char *who = model_string(c->m, pdo->veto_string);
    const struct iface *held = counted_interface_still_held(c);
    struct finding *f = add(c, held ? F_INTERFACE_OUTLIVED : F_UNLOAD_NOT_REQUESTED, vetoer ? vetoer : pdo);
    if (held)
        finding_subject(f, "interface %s handed out to %s is still referenced: the query-remove of %s was refused "
                           "(%s%s%s)",
                        model_string(c->m, held->guid) ? model_string(c->m, held->guid) : "?",
                        model_module_basename(model_module(c->m, held->importer_image)), inst ? inst : "the device",
                        nt_veto_name(pdo->veto_type, vbuf), who ? ", by " : "", who ? who : "");
    else
        finding_subject(f, "%s is still present: its removal was vetoed (%s%s%s)", inst ? inst : "the device",
                        nt_veto_name(pdo->veto_type, vbuf), who ? ", by " : "", who ? who : "");
    if (held)
        add_event_site(f, "interface handed out", held->at);
    add_event_site(f, "removal requested", pdo->query_remove);
    if (vetoer && vetoer->owner != c->d->id && !vetoer->is_pdo)
        finding_note(f, "the vetoing device %s belongs to %s", device_name(c->m, vetoer, dbuf, sizeof(dbuf)),
                     model_object_label(c->m, vetoer->owner, drv, sizeof(drv)));
    if (held) {
        finding_note(f, "the exporter counts its interface references, so refusing the query-remove is the "
                        "protection working; the importer never released its reference");
        finding_set_fix(f, "the importer must dereference the interface (on GUID_TARGET_DEVICE_QUERY_REMOVE) "
                           "before the device can be removed");
    }
}

/*
 * pdo's devnode was surprise-removed (unplugged, or reported missing):
 * IRP_MN_REMOVE_DEVICE follows only once every file object on its stack is
 * closed. Reports those still open; returns how many.
 */
static unsigned report_pending_closes(struct chain *c, const struct object *pdo)
{
    const char *inst = model_string(c->m, pdo->instance);
    unsigned files = 0;
    const struct object *dev = pdo;
    for (int depth = 0; dev && depth < 64; depth++) {
        files += report_open_files(c, dev, "IRP_MN_REMOVE_DEVICE after the surprise removal waits for it to close");
        dev = dev->attached_above ? model_object(c->m, dev->attached_above) : NULL;
    }
    if (files && !c->v->reason)
        c->v->reason = xasprintf("%s was surprise-removed, but IRP_MN_REMOVE_DEVICE waits for the open files on its "
                                 "stack, so its devices stay", inst ? inst : "the device");
    for (size_t k = c->v->nfindings - files; files && k < c->v->nfindings; k++)
        add_event_site(&c->v->findings[k], "surprise removal", pdo->surprise);
    return files;
}

static void report_linked_devices(struct chain *c, bool *stack_pending)
{
    const struct object *vetoed = NULL;
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        if (!is_device_of(dev, c->d) || dev->is_unlinked)
            continue;
        const struct object *pdo = bottom_device(c->m, dev);
        if (dev->delete_called) {
            report_delete_pending(c, dev);
        } else if (stack_never_removed(c, dev) && pdo->surprise.seq && pdo != vetoed) {
            if (!report_pending_closes(c, pdo))
                *stack_pending = true;
            vetoed = pdo;
        } else if (stack_never_removed(c, dev) && pdo->surprise.seq) {
            continue;
        } else if (stack_never_removed(c, dev) && pdo->veto.seq) {
            if (pdo != vetoed)
                report_veto(c, pdo);
            vetoed = pdo;
        } else if (stack_never_removed(c, dev)) {
            *stack_pending = true;
        } else if (c->d->pnp || c->d->unload.seq) {
            report_never_deleted(c, dev);
        }
    }
}

/* ---- references that pin the driver object ------------------------------------------------------------ */

/*
 * A release of o whose explicit tag no outstanding reference had (a wrong
 * tag): shown as a site, since the reference it was meant for is likely
 * among those still held, and the release line may be the one to change.
 */
static void note_mistagged(struct finding *f, const struct object *o)
{
    char tag[16];
    if (!o->mistagged.seq)
        return;
    finding_add_site(f, "released with a tag no reference held at", o->mistagged.stack, o->mistagged.seq,
                     o->mistagged.tid)->tag = o->mistag;
    finding_note(f, "a release used tag %s, which no outstanding reference had: the tagged references still held "
                    "and that release may belong together (a wrong tag)", tr_format_tag(o->mistag, tag));
    f->attribution = "heuristic"; /* that release was paired by likeness, not by its tag */
    finding_set_fix(f, "release with the tag the reference was taken with, and drop the reference on every path "
                       "that took it");
}

static void report_zombies(struct chain *c, bool consequence_of_unload)
{
    char dbuf[300];
    (void)consequence_of_unload;
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        if (!is_device_of(dev, c->d) || !dev->is_unlinked || !dev->nrefs)
            continue;
        struct finding *f = add(c, F_LEAKED_REFERENCE, dev);
        finding_subject(f, "%zu reference%s still held on deleted device %s (a zombie: unlinked, not freed)",
                        dev->nrefs, dev->nrefs == 1 ? "" : "s", device_name(c->m, dev, dbuf, sizeof(dbuf)));
        rules_add_ref_sites(f, dev, LBL_BIT(LBL_REF) | LBL_BIT(LBL_CREATE) | LBL_BIT(LBL_HANDLE), "references taken at");
        char tag[16];
        note_mistagged(f, dev);
        if (f->nsites == 1 && f->sites[0].tag && !dev->mistagged.seq)
            finding_set_fix(f, "add the missing ObDereferenceObjectWithTag (tag %s) on the path that took the reference",
                            tr_format_tag(f->sites[0].tag, tag));
        for (size_t k = 0; k < dev->nrefs; k++) {
            if (dev->refs[k].label != LBL_NOTIFY)
                continue;
            finding_note(f, "a target-device notification registration holds a reference on it (see notification-registered)");
            break;
        }
        add_event_site(f, "deleted", dev->deleted);
    }
}

static void report_registrations(struct chain *c)
{
    char tbuf[300], cbuf[48];
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *r = c->live->items[i];
        if (r->type != OBT_OBJ_NOTIFY || r->notify_driver != c->d->id)
            continue;
        struct finding *f = add(c, F_NOTIFICATION_REGISTERED, r);
        const struct object *target = model_object(c->m, r->notify_target);
        if (target) {
            const char *inst = target->is_pdo ? model_string(c->m, target->instance) : NULL;
            finding_subject(f, "a target-device notification on %s%s%s%s is still registered: it pins this driver "
                               "object and that PDO", device_name(c->m, target, tbuf, sizeof(tbuf)),
                            inst ? " (" : "", inst ? inst : "", inst ? ")" : "");
        } else {
            finding_subject(f, "a %s notification registration is still registered: it pins the driver object",
                            nt_notify_category_name(r->notify_category, cbuf));
        }
        add_event_site(f, "registered", r->created);
    }
}

static unsigned count_refs(const struct object *o, unsigned mask)
{
    unsigned n = 0;
    for (size_t i = 0; i < o->nrefs; i++)
        n += (mask & LBL_BIT(o->refs[i].label)) != 0;
    return n;
}

static void report_driver_leaks(struct chain *c)
{
    if (!c->dobj)
        return;
    unsigned explicit_refs = count_refs(c->dobj, LBL_BIT(LBL_REF));
    if (!explicit_refs)
        return;
    struct finding *f = add(c, F_LEAKED_REFERENCE, c->dobj);
    finding_subject(f, "%u reference%s leaked on driver object %s", explicit_refs, explicit_refs == 1 ? "" : "s",
                    c->dobj->name[0] ? c->dobj->name : "(unnamed)");
    rules_add_ref_sites(f, c->dobj, LBL_BIT(LBL_REF), "references taken at");
    note_mistagged(f, c->dobj);
}

/* ---- remove locks and run-down protection ------------------------------------------------------------------- */

/* A remove lock lives in a device extension the trace does not name: its driver is the one that uses it. */
static bool lock_of_driver(const struct chain *c, const struct object *l)
{
    if (l->type != OBT_OBJ_REMLOCK && l->type != OBT_OBJ_RUNDOWN)
        return false;
    if (l->owner == c->d->id)
        return true;
    const struct object *owner = model_object(c->m, l->owner);
    if (owner && owner->type == OBT_OBJ_DEVICE)
        return owner->owner == c->d->id;
    struct event_ref at = l->wait.seq ? l->wait : l->nholds ? l->holds[0].at : (struct event_ref){ 0 };
    const struct module *mod = at.seq ? model_stack_driver(c->m, at.stack, at.seq) : NULL;
    return mod && mod->driver == c->d->id;
}

/* The routine that waits for a lock's holders. */
static const char *lock_wait_call(const struct object *l)
{
    return l->type == OBT_OBJ_REMLOCK ? "IoReleaseRemoveLockAndWait" : "ExWaitForRundownProtectionRelease";
}

/* What the lock is, in words. */
static const char *lock_what(const struct object *l)
{
    return l->type == OBT_OBJ_REMLOCK ? "remove lock" : "run-down reference";
}

/* Each outstanding acquisition as a site; remove-lock tags shown (run-down protection has none). */
static void add_hold_sites(struct finding *f, const struct object *l, const char *verb)
{
    for (size_t i = 0; i < l->nholds; i++) {
        struct site *s = finding_add_site(f, verb, l->holds[i].at.stack, l->holds[i].at.seq, l->holds[i].at.tid);
        if (l->type == OBT_OBJ_REMLOCK)
            s->lock_tag = l->holds[i].tag;
    }
}

/* The driver's attached device whose lower device pended an IRP and never got REMOVE after the wait began. */
static const struct object *pending_below(const struct chain *c, const struct object *l)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        const struct object *lower = is_device_of(dev, c->d) ? model_object(c->m, dev->attached_to) : NULL;
        if (lower && lower->pended.seq && lower->pended.seq < l->wait.seq &&
            lower->remove_passed.seq < l->wait.seq)
            return lower;
    }
    return NULL;
}

static void report_lock_wait(struct chain *c, const struct object *l, const char *what, const char *name)
{
    char dbuf[300], drv[64];
    const struct object *lower = l->type == OBT_OBJ_REMLOCK ? pending_below(c, l) : NULL;
    struct finding *f = add(c, F_REMOVE_LOCK_WAIT, l);
    (void)what;
    finding_subject(f, "%s on %s never returned: %zu acquisition%s still held", lock_wait_call(l), name, l->nholds,
                    l->nholds == 1 ? "" : "s");
    add_event_site(f, "waiting since", l->wait);
    add_hold_sites(f, l, "still held, acquired");
    f->attribution = l->type == OBT_OBJ_REMLOCK ? "exact" : "heuristic";
    if (lower) {
        finding_note(f, "the wait began before IRP_MN_REMOVE_DEVICE was passed down to %s (driver %s), which had "
                        "pended an IRP holding the lock: it completes that IRP only when it sees REMOVE, so the wait "
                        "never ends", device_name(c->m, lower, dbuf, sizeof(dbuf)),
                     model_object_label(c->m, lower->owner, drv, sizeof(drv)));
        finding_set_fix(f, "pass IRP_MN_REMOVE_DEVICE down (or cancel the IRPs pended below) before "
                           "IoReleaseRemoveLockAndWait, or do not hold the remove lock across IRPs the lower driver pends");
        return;
    }
    if (!l->nholds)
        return;
    f->consequence = true;
    struct finding *u = add(c, F_REMOVE_LOCK_UNBALANCED, l);
    finding_subject(u, "%s: %zu acquisition%s never released; %s waits for %s forever", name, l->nholds,
                    l->nholds == 1 ? "" : "s", lock_wait_call(l), l->nholds == 1 ? "it" : "them");
    add_hold_sites(u, l, "acquired");
    u->attribution = l->type == OBT_OBJ_REMLOCK ? "exact" : "heuristic";
    if (l->type == OBT_OBJ_REMLOCK)
        finding_set_fix(u, "release the remove lock (IoReleaseRemoveLock with the same tag) on every path that "
                           "acquired it, error paths included");
    else
        finding_set_fix(u, "release run-down protection (ExReleaseRundownProtection) on every path that acquired it, "
                           "error paths included");
}

/* The driver's remove lock or run-down reference whose wait never returned (its REMOVE handler is stuck in it), or NULL. */
static const struct object *lock_wait_stuck(const struct chain *c)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *l = c->live->items[i];
        if (lock_of_driver(c, l) && (l->waiting || l->wait_stuck))
            return l;
    }
    return NULL;
}

static void report_locks(struct chain *c)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *l = c->live->items[i];
        if (!lock_of_driver(c, l))
            continue;
        const char *what = lock_what(l);
        char name[300];
        if (l->name[0])
            snprintf(name, sizeof(name), "%s %s", what, l->name);
        else
            snprintf(name, sizeof(name), "the driver's %s", what);
        if (l->waiting || l->wait_stuck) {
            report_lock_wait(c, l, what, name);
        } else if (l->nholds) {
            struct finding *f = add(c, F_REMOVE_LOCK_UNBALANCED, l);
            finding_subject(f, "%s: %zu acquisition%s never released", name, l->nholds, l->nholds == 1 ? "" : "s");
            add_hold_sites(f, l, "acquired");
            f->attribution = l->type == OBT_OBJ_REMLOCK ? "exact" : "heuristic";
        }
    }
}

/* ---- why DriverUnload was never called -------------------------------------------------------------------------- */

static void report_unload_routine(struct chain *c)
{
    const struct driver *d = c->d;
    if (d->unload_replaced.seq) {
        struct finding *f = add(c, F_UNLOAD_ROUTINE_REPLACED, c->dobj);
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
    struct finding *f = add(c, F_NO_UNLOAD_ROUTINE, c->dobj);
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
        struct finding *f = add(c, F_STOP_REFUSED_PNP, c->dobj);
        char sbuf[16];
        finding_subject(f, "a service stop was sent to the PnP driver %s and refused (%s)", d->name[0] ? d->name : "",
                        nt_status_name(d->stop_status, sbuf));
        add_event_site(f, "stop requested", d->stop);
        finding_note(f, "a PnP driver is unloaded by removing its devices (disable, eject or unplug), not by a service stop");
        note_attached_above(c, f);
    }
    bool refused = d->nstops && d->stop_status < 0 && !cdo_left; /* that finding already says how to unload */
    if (stack_pending && !refused) {
        struct finding *f = add(c, F_UNLOAD_NOT_REQUESTED, c->dobj);
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
        struct finding *f = add(c, F_UNLOAD_NOT_REQUESTED, c->dobj);
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
            struct finding *f = add(c, F_UNLOAD_DEFERRED, dev);
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
