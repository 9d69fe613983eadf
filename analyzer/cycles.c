/*
 * cycles.c - load/unload cycles of driver images and the cycle-leak rule
 * (see cycles.h).
 *
 * At each unload of a driver image's instance (for references and handles:
 * once the call that unloaded it has returned, cycles_settle; the module
 * records' seq hints bound that moment from both sides) the live
 * objects are walked once: every outstanding reference or handle whose taker (the first
 * driver frame of the stack that took it) is an instance of the same
 * image counts for the image's running total, and for this cycle when
 * the taker is the instance that is going. Pool blocks and symbolic links
 * carry their instance already. The walk is bounded by live objects and
 * runs once per unload, so a trace of many cycles costs cycles x live.
 */
#include "cycles.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"
#include "xalloc.h"

uint32_t leftovers_sum(const struct leftovers *l)
{
    return l->refs + l->handles + l->pool + l->links;
}

static bool same_image(const struct module *a, const struct module *b)
{
    return a && b && a->path && b->path && !strcmp(a->path, b->path);
}

/* Keeps ev as the cycle's first leftover when it is earlier than the one kept. */
static void note_first(struct cycle *c, struct event_ref at, uint32_t object)
{
    if (at.seq && (!c->first.seq || at.seq < c->first.seq)) {
        c->first = at;
        c->first_object = object;
    }
}

/* Counts what o's outstanding references and handles taken by instances of mod's image leave. */
static void count_refs(const struct model *m, const struct module *mod, const struct object *o, struct cycle *c)
{
    for (size_t i = 0; i < o->nrefs; i++) {
        const struct ref_entry *e = &o->refs[i];
        if (e->label != LBL_REF && e->label != LBL_CREATE && e->label != LBL_HANDLE)
            continue;
        const struct module *taker = model_stack_driver(m, e->stack, e->seq);
        if (!same_image(taker, mod))
            continue;
        uint32_t *total = e->label == LBL_HANDLE ? &c->total.handles : &c->total.refs;
        (*total)++;
        if (taker->instance != mod->instance)
            continue;
        (*(e->label == LBL_HANDLE ? &c->left.handles : &c->left.refs))++;
        note_first(c, (struct event_ref){ .seq = e->seq, .stack = e->stack, .tid = e->tid, .op = e->op }, o->id);
    }
}

/* Pool blocks of instances of mod's image still allocated (earlier instances' blocks were retired: counted then). */
static void count_pool(const struct module *mod, const struct object *o, struct cycle *c)
{
    if (o->type != OBT_OBJ_POOL || o->image != mod->instance)
        return;
    c->left.pool++;
    note_first(c, o->created, 0);
}

static void count_links(const struct model *m, const struct module *mod, struct cycle *c)
{
    for (size_t i = 0; i < m->nlinks; i++) {
        const struct module *owner = model_module(m, m->links[i].image);
        if (!same_image(owner, mod))
            continue;
        c->total.links++;
        if (owner->instance == mod->instance) {
            c->left.links++;
            note_first(c, m->links[i].at, 0);
        }
    }
}

/* The cycles of mod's image recorded so far. */
static uint32_t cycles_before(const struct model *m, const struct module *mod, uint32_t *pool_before)
{
    uint32_t n = 0;
    *pool_before = 0;
    for (size_t i = 0; i < m->ncycles; i++) {
        if (same_image(model_module(m, m->cycles[i].instance), mod)) {
            n++;
            *pool_before += m->cycles[i].left.pool;
        }
    }
    return n;
}

/* The refs and handles part of a cycle: a walk of the live objects. */
static void count_cycle_refs(const struct model *m, struct cycle *c)
{
    const struct module *mod = model_module(m, c->instance);
    for (size_t i = 0; mod && i < m->objects.cap; i++) {
        const struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->type != OBT_OBJ_POOL)
            count_refs(m, mod, o, c);
    }
    c->refs_pending = false;
}

void cycles_flush(struct model *m)
{
    if (m->ncycles && m->cycles[m->ncycles - 1].refs_pending)
        count_cycle_refs(m, &m->cycles[m->ncycles - 1]);
}

/* The operations that return from a call enclosing an unload (the unload happens in their last release). */
static bool unwinds_release(uint16_t op)
{
    switch (op) {
    case OBT_OP_OBJ_DEREF:
    case OBT_OP_DEV_OPEN_DEREF:
    case OBT_OP_HANDLE_CLOSE:
    case OBT_OP_DEV_DELETE:
    case OBT_OP_DEV_DETACH:
    case OBT_OP_SERVICE_STOP:
    case OBT_OP_WORKITEM_RUN:
    case OBT_OP_WORKITEM_FREE:
    case OBT_OP_IRP_COMPLETE:
    case OBT_OP_IRP_FREE:
    case OBT_OP_PNP_IRP_DONE:
    case OBT_OP_NOTIFY_UNREGISTER:
    case OBT_OP_DEVNODE_STATE:
    case OBT_OP_WDF_DEREF:
    case OBT_OP_WDF_DELETE:
    case OBT_OP_WDF_DESTROY:
        return true;
    default:
        return false;
    }
}

/* The cycle still waiting for its unloading call to return, if any. */
static struct cycle *waiting_cycle(struct model *m)
{
    struct cycle *c = m->ncycles ? &m->cycles[m->ncycles - 1] : NULL;
    return c && c->refs_pending ? c : NULL;
}

/* Whether ev is the IMAGE_UNLOAD of the unload a module record noted (its thread is the unloading one). */
static bool names_unloading_thread(const struct cycle *c, const struct tr_event *ev)
{
    if (ev->op != OBT_OP_IMAGE_UNLOAD || c->settle_tid != OBT_CYCLE_ANY_THREAD || ev->seq < c->settle_from)
        return false;
    return !(ev->flags & OBT_EV_MODULE) || ev->module == c->instance;
}

/* Whether ev, about to be applied, comes after the return of c's unloading call. */
static bool after_unloading_call(const struct cycle *c, const struct tr_event *ev)
{
    if (c->settle_by && ev->seq >= c->settle_by)
        return true;
    if (ev->seq < c->settle_from || ev->op == OBT_OP_IMAGE_UNLOAD)
        return false;
    if (c->settle_tid == OBT_CYCLE_ANY_THREAD)
        return false;
    return ev->tid == c->settle_tid && !unwinds_release(ev->op);
}

void cycles_settle(struct model *m, const struct tr_event *ev)
{
    struct cycle *c = waiting_cycle(m);
    if (!c)
        return;
    if (names_unloading_thread(c, ev))
        c->settle_tid = ev->tid;
    if (after_unloading_call(c, ev))
        count_cycle_refs(m, c);
}

void cycles_settle_by(struct model *m, uint64_t seq)
{
    struct cycle *c = waiting_cycle(m);
    if (c && (!c->settle_by || seq < c->settle_by))
        c->settle_by = seq;
}

void cycles_note_unload(struct model *m, const struct module *mod, uint32_t tid, uint64_t from)
{
    if (!mod->is_driver)
        return;
    cycles_flush(m);
    uint32_t pool_before;
    /* the load is dated by DriverEntry's return: the module record itself may be written a little later */
    struct cycle c = { .instance = mod->instance, .load_seq = mod->entry_seq ? mod->entry_seq : mod->load_seq,
                       .unload_seq = mod->unload_seq, .settle_tid = tid, .settle_from = from,
                       .refs_pending = true };
    c.number = cycles_before(m, mod, &pool_before) + 1;
    for (size_t i = 0; i < m->objects.cap; i++) {
        const struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->type == OBT_OBJ_POOL)
            count_pool(mod, o, &c);
    }
    c.total.pool = pool_before + c.left.pool;
    count_links(m, mod, &c);
    xgrow(&m->cycles, &m->capcycles, m->ncycles + 1, sizeof(*m->cycles));
    m->cycles[m->ncycles++] = c;
}

bool cycles_repeated(const struct model *m)
{
    for (size_t i = 0; i < m->ncycles; i++)
        if (m->cycles[i].number >= 2)
            return true;
    return false;
}

/* ---- the cycle-leak rule ---------------------------------------------------------------------------------- */

/* "1 reference, 2 handles" for what l counts; "nothing" when empty. Into buf[len]; returns buf. */
static char *leftovers_text(const struct leftovers *l, char *buf, size_t len)
{
    const struct { uint32_t n; const char *one, *many; } kinds[] = {
        { l->refs, "reference", "references" },
        { l->handles, "handle", "handles" },
        { l->pool, "pool block", "pool blocks" },
        { l->links, "symbolic link", "symbolic links" },
    };
    size_t used = 0;
    buf[0] = 0;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        if (!kinds[k].n || used >= len)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu32 " %s", used ? ", " : "", kinds[k].n,
                                 kinds[k].n == 1 ? kinds[k].one : kinds[k].many);
    }
    if (!used)
        snprintf(buf, len, "nothing");
    return buf;
}

/* The scenario line under way at seq into buf ("" when none); returns whether there was one. */
static bool mark_text(const struct model *m, uint64_t seq, char *buf, size_t len)
{
    const struct host_action *a = model_action_at(m, seq);
    buf[0] = 0;
    if (!a || a->stack)
        return false;
    model_mark_label(m, a, buf, len);
    return true;
}

/* " (scenario.ntsim:8  start drv … scenario.ntsim:9  stop drv)": the lines that loaded and unloaded c, if known. */
static char *span_text(const struct model *m, const struct cycle *c, char *buf, size_t len)
{
    char load[512], unload[512];
    bool l = mark_text(m, c->load_seq, load, sizeof(load)), u = mark_text(m, c->unload_seq, unload, sizeof(unload));
    if (l || u)
        snprintf(buf, len, " (%s%s%s)", load, l && u ? " … " : "", unload);
    else
        buf[0] = 0;
    return buf;
}

/* The cycles of the image of cycles[first], in order, into list; returns how many. */
static size_t image_cycles(const struct model *m, size_t first, const struct cycle **list)
{
    const struct module *mod = model_module(m, m->cycles[first].instance);
    size_t n = 0;
    for (size_t i = first; i < m->ncycles; i++)
        if (same_image(model_module(m, m->cycles[i].instance), mod))
            list[n++] = &m->cycles[i];
    return n;
}

/* True when the totals never fell and rose from the first cycle to the last. */
static bool totals_grow(const struct cycle *const *list, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (leftovers_sum(&list[i]->total) < leftovers_sum(&list[i - 1]->total))
            return false;
    return leftovers_sum(&list[n - 1]->total) > leftovers_sum(&list[0]->total);
}

static void cycle_finding(const struct model *m, struct report *r, const struct cycle *const *list, size_t n,
                          size_t leaking, const struct cycle *first)
{
    const struct module *mod = model_module(m, list[n - 1]->instance);
    const char *name = model_module_basename(mod);
    char left[160], total[160], span[1100], obj[300];
    struct finding *f = report_add_global(r, F_CYCLE_LEAK);
    f->image = mod->instance;
    leftovers_text(&list[n - 1]->total, total, sizeof(total));
    if (leaking == n)
        finding_subject(f, "each of the %zu load/unload cycles of %s left something behind: %s outstanding after the "
                           "last%s", n, name, total, totals_grow(list, n) ? ", growing with every cycle" : "");
    else
        finding_subject(f, "%zu of the %zu load/unload cycles of %s left something behind: %s outstanding after the "
                           "last, first in cycle %" PRIu32, leaking, n, name, total, first->number);
    for (size_t i = 0; i < n; i++)
        finding_note(f, "cycle %" PRIu32 "%s: left %s (%s outstanding)", list[i]->number,
                     span_text(m, list[i], span, sizeof(span)), leftovers_text(&list[i]->left, left, sizeof(left)),
                     leftovers_text(&list[i]->total, total, sizeof(total)));
    const struct object *o = first->first_object ? model_object(m, first->first_object) : NULL;
    if (o)
        finding_object(f, o->id, model_object_label(m, o->id, obj, sizeof(obj)), rules_type_name(o->type));
    finding_note(f, "the first leftover was taken in cycle %" PRIu32, first->number);
    finding_add_site(f, "first left behind at", first->first.stack, first->first.seq, first->first.tid);
    finding_set_fix(f, "release in DriverUnload (or when the work is done) what each load takes: every cycle of %s "
                       "must end with nothing of it outstanding", name);
}

void rules_cycles(const struct model *m, struct report *r)
{
    const struct cycle **list = xcalloc(m->ncycles ? m->ncycles : 1, sizeof(*list));
    for (size_t i = 0; i < m->ncycles; i++) {
        if (m->cycles[i].number != 1)
            continue; /* each image once, from its first cycle */
        size_t n = image_cycles(m, i, list), leaking = 0;
        const struct cycle *first = NULL;
        for (size_t k = 0; k < n; k++) {
            if (!leftovers_sum(&list[k]->left))
                continue;
            leaking++;
            if (!first)
                first = list[k];
        }
        if (n >= 2 && leaking >= 2)
            cycle_finding(m, r, list, n, leaking, first);
    }
    free(list);
}
