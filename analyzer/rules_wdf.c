/*
 * rules_wdf.c - the KMDF findings, in KMDF words, where the WDM rules would
 * name only what the framework did underneath:
 *
 *  - a deleted WDFDEVICE kept by WDF references its driver took and never
 *    dropped (the WDFDEVICE holds its DEVICE_OBJECT until destroyed, so
 *    the device is a zombie and the image stays): wdf-leaked-reference,
 *    instead of leaked-reference on the framework's own reference;
 *  - a control device never deleted: wdf-control-device, instead of
 *    undeleted-device;
 *  - a remote I/O target still open on a device: wdf-iotarget-open,
 *    instead of leaked-reference on the file object the framework opened;
 *  - after the verdicts: WDF references an unloaded image left on objects
 *    still alive, and dereferences of a tag never referenced.
 *
 * The model's ledger (model_wdf.h) pairs a driver's dereference with its
 * reference by tag, exactly as KMDF counts them; untagged ones among
 * several sites are paired by recency and labelled heuristic.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "model_wdf.h"
#include "rules_chain.h"

/* Whether a tag is a four-character constant ('Abcd'), shown as such; else it is a pointer (differs every run). */
static bool wdf_tag_is_text(uint64_t tag)
{
    if (!tag || tag > UINT32_MAX)
        return false;
    for (int k = 0; k < 4; k++) {
        unsigned ch = (unsigned)(tag >> (8 * k)) & 0xffu;
        if (ch < 0x20 || ch >= 0x7f)
            return false;
    }
    return true;
}

/* Whether o is anc or below it in the KMDF tree (a child holds its parent). */
static bool wdf_descends_from(const struct model *m, const struct object *o, const struct object *anc)
{
    for (int depth = 0; o && o->wdf && depth < 64; depth++) {
        if (o == anc)
            return true;
        o = model_object(m, o->wdf->parent);
    }
    return false;
}

/* Adds one site per outstanding driver reference of o; returns how many; *guessed when a pairing was a guess. */
static unsigned add_wdf_ref_sites(struct finding *f, const struct object *o, bool *guessed)
{
    const struct wdf_info *w = o->wdf;
    for (size_t i = 0; i < w->nrefs; i++) {
        const struct wdf_ref *r = &w->refs[i];
        const char *verb = !r->tag ? "WdfObjectReference (untagged) at"
                           : wdf_tag_is_text(r->tag) ? "WdfObjectReferenceWithTag at"
                                                     : "WdfObjectReferenceWithTag (a pointer tag) at";
        struct site *s = finding_add_site(f, verb, r->at.stack, r->at.seq, r->at.tid);
        if (s && wdf_tag_is_text(r->tag))
            s->tag = (uint32_t)r->tag;
    }
    *guessed = *guessed || w->guessed;
    return (unsigned)w->nrefs;
}

/* Outstanding driver references on holder and every live KMDF object below it, as sites of f; *below when some
 * are on objects under it. */
static unsigned add_subtree_refs(struct finding *f, const struct model *m, const struct object_list *live,
                                 const struct object *holder, bool *guessed, bool *below)
{
    unsigned n = 0;
    for (size_t i = 0; i < live->n; i++) {
        const struct object *o = live->items[i];
        if (!o->wdf || !o->wdf->nrefs || !wdf_descends_from(m, o, holder))
            continue;
        n += add_wdf_ref_sites(f, o, guessed);
        *below = *below || o != holder;
    }
    return n;
}

/* Whether a site of f is one of the WDF reference sites add_wdf_ref_sites added. */
static bool is_wdf_ref_site(const struct site *s)
{
    return !strncmp(s->verb, "WdfObjectReference", strlen("WdfObjectReference"));
}

/* The one fix line for the references of f: the tag's dereference when all share one text tag. */
static void set_deref_fix(struct finding *f)
{
    char tag[16];
    uint32_t t = 0;
    bool one = true;
    for (size_t i = 0; i < f->nsites; i++) {
        if (!is_wdf_ref_site(&f->sites[i]))
            continue;
        one = one && f->sites[i].tag && (!t || f->sites[i].tag == t);
        t = f->sites[i].tag;
    }
    if (one && t)
        finding_set_fix(f, "add the missing WdfObjectDereferenceWithTag (tag %s) on the path that took the "
                           "reference, at the latest in the object's EvtCleanupCallback",
                        tr_format_tag(t, tag));
    else
        finding_set_fix(f, "add the missing WdfObjectDereference[WithTag] (the same tag) on the path that took the "
                           "reference, at the latest in the object's EvtCleanupCallback");
}

/* A device's name; an unnamed FDO that left its stack by the devnode its AddDevice was for. */
static const char *wdf_device_label(const struct model *m, const struct object *dev, char *buf, size_t len)
{
    const struct object *pdo = dev->name[0] || !dev->added_for ? NULL : model_object(m, dev->added_for);
    if (!pdo && !dev->name[0] && dev->added_for)
        pdo = model_freed_object(m, dev->added_for);
    const char *inst = pdo && pdo->is_pdo ? model_string(m, pdo->instance) : NULL;
    if (!inst)
        return device_name(m, dev, buf, len);
    snprintf(buf, len, "(unnamed, on %s)", inst);
    return buf;
}

bool report_wdf_zombie(struct chain *c, const struct object *dev)
{
    const struct object *holder = model_wdf_holder(c->m, dev->id);
    if (!holder || holder->wdf->kind != OBT_WDF_DEVICE || !holder->wdf->deleted.seq)
        return false;
    char dbuf[300];
    struct finding *f = chain_add(c, F_WDF_LEAKED_REFERENCE, holder);
    bool guessed = false, below = false;
    unsigned n = add_subtree_refs(f, c->m, c->live, holder, &guessed, &below);
    f->attribution = guessed ? "heuristic" : "exact";
    const char *name = wdf_device_label(c->m, dev, dbuf, sizeof(dbuf));
    if (n)
        finding_subject(f, "the WDFDEVICE %s was deleted, but %u WDF reference%s the driver took on it%s %s never "
                           "dropped: the WDFDEVICE is not destroyed, and it keeps its DEVICE_OBJECT",
                        name, n, n == 1 ? "" : "s", below ? " or on objects below it (a child holds its parent)" : "",
                        n == 1 ? "was" : "were");
    else
        finding_subject(f, "the WDFDEVICE %s was deleted but is still referenced (%d reference%s left after its "
                           "deletion, none taken by a driver frame the trace saw): it holds its DEVICE_OBJECT",
                        name, holder->wdf->after_delete, holder->wdf->after_delete == 1 ? "" : "s");
    add_event_site(f, "deleted", holder->wdf->deleted);
    finding_note(f, "the deleted device object is a zombie: unlinked from the driver, not freed, it keeps the driver "
                    "object and the image");
    set_deref_fix(f);
    return true;
}

bool report_wdf_control_device(struct chain *c, const struct object *dev)
{
    const struct object *holder = model_wdf_holder(c->m, dev->id);
    if (!holder || !(holder->wdf->flags & OBT_WDF_CONTROL_DEVICE) || holder->wdf->deleted.seq)
        return false;
    char dbuf[300];
    struct finding *f = chain_add(c, F_WDF_CONTROL_DEVICE, holder);
    finding_subject(f, "control device %s was never deleted: a PnP KMDF driver must WdfObjectDelete it, the "
                       "framework does not", wdf_device_label(c->m, dev, dbuf, sizeof(dbuf)));
    add_event_site(f, "created (WdfDeviceCreate of a WdfControlDeviceInitAllocate init)", holder->created);
    if (c->d->stack_device_deleted.seq)
        add_event_site(f, "its last PnP device deleted", c->d->stack_device_deleted);
    finding_note(f, "it stays on the driver's device list, so the driver never unloads after its PnP devices are "
                    "removed");
    return true;
}

bool report_wdf_open_target(struct chain *c, const struct object *file, const struct object *dev)
{
    const struct object *target = model_wdf_holder(c->m, file->id);
    if (!target || target->wdf->kind != OBT_WDF_IOTARGET || target->wdf->target_file != file->id)
        return false;
    char dbuf[300];
    const struct module *client = model_module(c->m, target->image);
    const char *owner = client && client->path ? model_module_basename(client) : "a KMDF driver";
    struct finding *f = chain_add(c, F_WDF_IOTARGET_OPEN, target);
    finding_subject(f, "a remote I/O target of %s is still open on %s: its file object holds the device",
                    owner, wdf_device_label(c->m, dev, dbuf, sizeof(dbuf)));
    add_event_site(f, "opened (WdfIoTargetOpen)", target->wdf->target_open);
    if (client && client->unload_seq)
        finding_note(f, "%s is already unloaded: nothing can close it any more", owner);
    if (c->d->pnp)
        finding_set_fix(f, "in %s, WdfIoTargetClose the target when done with it, and in its EvtIoTargetQueryRemove "
                           "call WdfIoTargetCloseForQueryRemove when the device is about to go", owner);
    else
        finding_set_fix(f, "in %s, WdfIoTargetClose the target when done with it (open it when needed, not for the "
                           "driver's whole life)", owner);
    return true;
}

/* References an unloaded image took on KMDF objects still alive: nothing can drop them any more. */
static void report_orphaned_refs(const struct model *m, const struct object_list *live, struct report *r)
{
    for (size_t i = 0; i < live->n; i++) {
        const struct object *o = live->items[i];
        const struct module *mod = o->wdf && o->wdf->nrefs ? model_module(m, o->image) : NULL;
        if (!mod || !mod->unload_seq)
            continue;
        struct finding *f = report_add_global(r, F_WDF_LEAKED_REFERENCE);
        char name[300];
        finding_object(f, o->id, model_object_label(m, o->id, name, sizeof(name)), "WdfObject");
        bool guessed = false;
        unsigned n = add_wdf_ref_sites(f, o, &guessed);
        f->attribution = guessed ? "heuristic" : "exact";
        f->image = mod->instance;
        finding_subject(f, "%s unloaded with %u WDF reference%s it took on a %s never dropped: the object is never "
                           "destroyed", mod->path ? model_module_basename(mod) : "an image", n, n == 1 ? "" : "s",
                        model_wdf_kind_name(o->wdf->kind));
        set_deref_fix(f);
    }
}

/* WdfObjectDereferenceWithTag of a tag with no outstanding reference. */
static void report_mistags(const struct model *m, struct report *r)
{
    for (size_t i = 0; i < m->nwdf_mistags; i++) {
        const struct wdf_mistag *t = &m->wdf_mistags[i];
        struct finding *f = report_add_global(r, F_WDF_UNKNOWN_TAG);
        char name[300];
        finding_object(f, t->object, model_object_label(m, t->object, name, sizeof(name)), "WdfObject");
        struct site *s = finding_add_site(f, "dereferenced at", t->at.stack, t->at.seq, t->at.tid);
        if (s && wdf_tag_is_text(t->tag))
            s->tag = (uint32_t)t->tag;
        const struct object *o = model_object(m, t->object);
        if (!o)
            o = model_freed_object(m, t->object);
        const char *kind = o && o->wdf ? model_wdf_kind_name(o->wdf->kind) : "KMDF object";
        finding_subject(f, "WdfObjectDereferenceWithTag on a %s with a tag no outstanding reference had%s", kind,
                        wdf_tag_is_text(t->tag) ? "" : " (a pointer tag)");
        if (t->meant.at.seq) {
            struct site *m2 = finding_add_site(f, "the tagged reference it may have meant: taken at",
                                               t->meant.at.stack, t->meant.at.seq, t->meant.at.tid);
            if (m2 && wdf_tag_is_text(t->meant.tag))
                m2->tag = (uint32_t)t->meant.tag;
        }
        finding_note(f, "KMDF counted it against an untagged reference; with the KMDF verifier on, the system "
                        "breaks here");
    }
}

void rules_wdf_global(const struct model *m, const struct object_list *live, struct report *r)
{
    report_orphaned_refs(m, live, r);
    report_mistags(m, r);
}
