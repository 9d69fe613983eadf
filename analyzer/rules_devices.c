/*
 * rules_devices.c - devices of the driver still on its list: deleted but
 * still attached or referenced, attached above by another driver, never
 * deleted (undeleted-device, with the IRP_MN_REMOVE_DEVICE that was not
 * passed down or the AddDevice orphan), removals vetoed or pending.
 */
#include "rules_chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntnames.h"
#include "xalloc.h"

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
    struct finding *f = chain_add(c, F_UNDELETED_DEVICE, dev);
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

void report_attached_above(struct chain *c, const struct object *dev)
{
    const struct object *upper = object_or_freed(c, dev->attached_above);
    char ubuf[300], dbuf[64], drv[64];
    if (upper && upper->delete_called && upper->owner != dev->owner) {
        report_deleted_attached(c, dev, upper);
        return;
    }
    struct finding *f = chain_add(c, F_UNLOAD_DEFERRED, dev);
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
        struct finding *f = chain_add(c, F_UNDELETED_DEVICE, dev);
        finding_subject(f, "device %s: delete pending (ReferenceCount %d)", device_name(c->m, dev, dbuf, sizeof(dbuf)),
                        dev->refcount);
        add_event_site(f, "deleted", dev->deleted);
    }
}

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
    struct finding *f = chain_add(c, F_UNDELETED_DEVICE, dev);
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
    if (report_wdf_control_device(c, dev))
        return;
    const char *before = undeleted_kind(c, dev, &after, &fix);
    struct finding *f = chain_add(c, F_UNDELETED_DEVICE, dev);
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
    struct finding *f = chain_add(c, held ? F_INTERFACE_OUTLIVED : F_UNLOAD_NOT_REQUESTED, vetoer ? vetoer : pdo);
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

void report_linked_devices(struct chain *c, bool *stack_pending)
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
