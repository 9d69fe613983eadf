/*
 * rules_locks.c - remove locks and run-down protection: a wait that never
 * returned because acquisitions are still held (remove-lock-wait), and
 * acquisitions or releases that do not balance (remove-lock-unbalanced).
 */
#include "rules_chain.h"

#include <stdio.h>

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
const char *lock_wait_call(const struct object *l)
{
    return l->type == OBT_OBJ_REMLOCK ? "IoReleaseRemoveLockAndWait" : "ExWaitForRundownProtectionRelease";
}

/* What the lock is, in words. */
const char *lock_what(const struct object *l)
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
    struct finding *f = chain_add(c, F_REMOVE_LOCK_WAIT, l);
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
    struct finding *u = chain_add(c, F_REMOVE_LOCK_UNBALANCED, l);
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
const struct object *lock_wait_stuck(const struct chain *c)
{
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *l = c->live->items[i];
        if (lock_of_driver(c, l) && (l->waiting || l->wait_stuck))
            return l;
    }
    return NULL;
}

void report_locks(struct chain *c)
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
            struct finding *f = chain_add(c, F_REMOVE_LOCK_UNBALANCED, l);
            finding_subject(f, "%s: %zu acquisition%s never released", name, l->nholds, l->nholds == 1 ? "" : "s");
            add_hold_sites(f, l, "acquired");
            f->attribution = l->type == OBT_OBJ_REMLOCK ? "exact" : "heuristic";
        }
    }
}
