/*
 * model_wdf.c - the replay of KMDF object events (OBT_OP_WDF_*) into the
 * objects' wdf_info (model_wdf.h): creation, the driver's references and
 * dereferences paired by tag, deletion, destruction, and the file object
 * an open remote I/O target holds.
 *
 * A dereference can be recorded after the destruction it caused (the
 * destroy happens inside it): it then applies to the retired copy of the
 * object, whose wdf_info outlives the object in the freed ring.
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "model_wdf.h"
#include "xalloc.h"

const char *model_wdf_kind_name(uint32_t kind)
{
#define WDF_KIND_NAME_(sym, value, text) \
    if (kind == (value))                \
        return text;
    OBT_WDF_KINDS(WDF_KIND_NAME_)
#undef WDF_KIND_NAME_
    return "WDFOBJECT";
}

void wdf_info_free(struct wdf_info *w)
{
    if (!w)
        return;
    free(w->refs);
    free(w->tags);
    free(w);
}

/* The whole tag of a WDF_REF / WDF_DEREF: arg2 when it did not fit in 32 bits, else the tag field. */
static uint64_t event_tag(const struct tr_event *ev)
{
    if (ev->flags & OBT_EV_ARG2)
        return ev->arg2;
    return (ev->flags & OBT_EV_TAG) ? ev->tag : 0;
}

static struct wdf_tag_total *tag_total(struct wdf_info *w, uint64_t tag)
{
    for (size_t i = 0; i < w->ntags; i++)
        if (w->tags[i].tag == tag)
            return &w->tags[i];
    xgrow(&w->tags, &w->captags, w->ntags + 1, sizeof(*w->tags));
    w->tags[w->ntags] = (struct wdf_tag_total){ .tag = tag };
    return &w->tags[w->ntags++];
}

/* The newest outstanding driver reference of tag, or -1. */
static long newest_ref(const struct wdf_info *w, uint64_t tag)
{
    for (size_t i = w->nrefs; i-- > 0;)
        if (w->refs[i].tag == tag)
            return (long)i;
    return -1;
}

/* Whether the untagged references outstanding come from more than one site (a pairing among them is a guess). */
static bool untagged_sites_differ(const struct wdf_info *w)
{
    uint32_t first = 0;
    for (size_t i = 0; i < w->nrefs; i++) {
        if (w->refs[i].tag)
            continue;
        if (first && w->refs[i].at.stack != first)
            return true;
        first = w->refs[i].at.stack;
    }
    return false;
}

static void drop_ref(struct wdf_info *w, long i)
{
    memmove(&w->refs[i], &w->refs[i + 1], (w->nrefs - (size_t)i - 1) * sizeof(*w->refs));
    w->nrefs--;
}

static void note_mistag(struct model *m, const struct object *o, const struct tr_event *ev, uint64_t tag)
{
    const struct wdf_info *w = o->wdf;
    struct wdf_ref meant = { 0 };
    for (size_t i = w->nrefs; i-- > 0 && !meant.at.seq;)
        if (w->refs[i].tag)
            meant = w->refs[i];
    xgrow(&m->wdf_mistags, &m->capwdf_mistags, m->nwdf_mistags + 1, sizeof(*m->wdf_mistags));
    m->wdf_mistags[m->nwdf_mistags++] = (struct wdf_mistag){
        .object = o->id, .tag = tag, .where = (ev->flags & OBT_EV_STRING) ? ev->string : 0, .at = evref(ev),
        .meant = meant,
    };
}

static void on_wdf_ref(struct model *m, struct wdf_info *w, const struct tr_event *ev)
{
    if (stack_caller(m, ev->stack, ev->seq) != CALL_DRIVER)
        return;
    uint64_t tag = event_tag(ev);
    tag_total(w, tag)->refs++;
    xgrow(&w->refs, &w->caprefs, w->nrefs + 1, sizeof(*w->refs));
    w->refs[w->nrefs++] = (struct wdf_ref){
        .tag = tag, .where = (ev->flags & OBT_EV_STRING) ? ev->string : 0, .at = evref(ev),
    };
}

static void on_wdf_deref(struct model *m, const struct object *o, struct wdf_info *w, const struct tr_event *ev)
{
    if (stack_caller(m, ev->stack, ev->seq) != CALL_DRIVER)
        return;
    uint64_t tag = event_tag(ev);
    tag_total(w, tag)->derefs++;
    long i = newest_ref(w, tag);
    if (i < 0 && tag) { /* KMDF counts it against the untagged references: so does the ledger */
        note_mistag(m, o, ev, tag);
        i = newest_ref(w, 0);
    }
    if (i < 0)
        return;
    if (!tag && untagged_sites_differ(w))
        w->guessed = true;
    drop_ref(w, i);
}

static void on_wdf_create(struct object *o, struct wdf_info *w, const struct tr_event *ev)
{
    o->created = evref(ev);
    w->kind = (uint32_t)(ev->arg & OBT_WDF_KIND_MASK);
    w->flags = (uint32_t)(ev->arg & ~(uint64_t)OBT_WDF_KIND_MASK);
    w->parent = (ev->flags & OBT_EV_OBJ2) ? ev->obj2 : 0;
    w->wdm = (ev->flags & OBT_EV_ARG2) ? (uint32_t)ev->arg2 : 0;
}

/* Applies a WDF event to o (live, or the retired copy for a late release). */
static void apply_wdf(struct model *m, struct object *o, const struct tr_event *ev)
{
    if (!o->wdf)
        o->wdf = xcalloc(1, sizeof(*o->wdf));
    struct wdf_info *w = o->wdf;
    switch (ev->op) {
    case OBT_OP_WDF_CREATE: on_wdf_create(o, w, ev); break;
    case OBT_OP_WDF_REF: on_wdf_ref(m, w, ev); break;
    case OBT_OP_WDF_DEREF: on_wdf_deref(m, o, w, ev); break;
    case OBT_OP_WDF_DELETE:
        w->deleted = evref(ev);
        w->after_delete = ev->count;
        o->delete_called = true;
        o->deleted = w->deleted;
        break;
    case OBT_OP_WDF_IOTARGET_OPEN:
        w->target_file = (ev->flags & OBT_EV_OBJ2) ? ev->obj2 : 0;
        w->target_open = evref(ev);
        break;
    case OBT_OP_WDF_IOTARGET_CLOSE: w->target_file = 0; break;
    default: break;
    }
}

void on_wdf_event(struct model *m, struct object *o, const struct tr_event *ev)
{
    apply_wdf(m, o, ev);
    if (ev->op == OBT_OP_WDF_DESTROY)
        object_retire(m, o);
}

bool on_wdf_late(struct model *m, struct object *f, const struct tr_event *ev)
{
    if (ev->op != OBT_OP_WDF_DEREF && ev->op != OBT_OP_WDF_DELETE)
        return false;
    apply_wdf(m, f, ev);
    return true;
}

const struct object *model_wdf_holder(const struct model *m, uint32_t wdm)
{
    for (size_t i = 0; wdm && i < m->objects.cap; i++) {
        const struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->wdf && (o->wdf->wdm == wdm || o->wdf->target_file == wdm))
            return o;
    }
    return NULL;
}
