/*
 * rules_refs.c - references that pin the driver object: zombie devices
 * (unlinked, still referenced), notification registrations never undone,
 * and references on the driver object itself (leaked-reference,
 * notification-registered).
 */
#include "rules_chain.h"

#include "ntnames.h"

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

void report_zombies(struct chain *c, bool consequence_of_unload)
{
    char dbuf[300];
    (void)consequence_of_unload;
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *dev = c->live->items[i];
        if (!is_device_of(dev, c->d) || !dev->is_unlinked || !dev->nrefs || report_wdf_zombie(c, dev))
            continue;
        struct finding *f = chain_add(c, F_LEAKED_REFERENCE, dev);
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

void report_registrations(struct chain *c)
{
    char tbuf[300], cbuf[48];
    for (size_t i = 0; i < c->live->n; i++) {
        const struct object *r = c->live->items[i];
        if (r->type != OBT_OBJ_NOTIFY || r->notify_driver != c->d->id)
            continue;
        struct finding *f = chain_add(c, F_NOTIFICATION_REGISTERED, r);
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

void report_driver_leaks(struct chain *c)
{
    if (!c->dobj)
        return;
    unsigned explicit_refs = count_refs(c->dobj, LBL_BIT(LBL_REF));
    if (!explicit_refs)
        return;
    struct finding *f = chain_add(c, F_LEAKED_REFERENCE, c->dobj);
    finding_subject(f, "%u reference%s leaked on driver object %s", explicit_refs, explicit_refs == 1 ? "" : "s",
                    c->dobj->name[0] ? c->dobj->name : "(unnamed)");
    rules_add_ref_sites(f, c->dobj, LBL_BIT(LBL_REF), "references taken at");
    note_mistagged(f, c->dobj);
}
