/*
 * rules_global.c - findings that stand outside one image's chain (double
 * releases, calls into unmapped images, pool leaks at unload, references
 * an unloaded image left on live objects, remove-lock releases of unknown
 * tags, interfaces that outlived their exporter, an incomplete trace),
 * the grouping of outstanding references into sites, and rules_run, which
 * runs every rule.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntnames.h"
#include "rules.h"

#include "cycles.h"
#include "xalloc.h"

/* ---- shared helpers -------------------------------------------------------------------------------- */

static void collect_one(void *v, void *ctx)
{
    struct object_list *l = ctx;
    l->items[l->n++] = v;
}

static int cmp_object(const void *a, const void *b)
{
    const struct object *x = *(struct object *const *)a, *y = *(struct object *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void object_list_collect(const struct model *m, struct object_list *list)
{
    list->items = xcalloc(m->objects.len + 1, sizeof(*list->items));
    list->n = 0;
    idmap_each(&m->objects, collect_one, list);
    if (list->n > 1)
        qsort(list->items, list->n, sizeof(*list->items), cmp_object);
}

static uint32_t total_refs_at(const struct object *o, uint32_t stack, uint32_t tag)
{
    for (size_t i = 0; i < o->nsites; i++)
        if (o->sites[i].stack == stack && o->sites[i].tag == tag)
            return o->sites[i].refs;
    return 0;
}

static int cmp_site(const void *a, const void *b)
{
    const struct site *x = a, *y = b;
    /* most unbalanced first: outstanding count, then share of all references there */
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    uint64_t lx = (uint64_t)x->count * (y->of ? y->of : 1), ly = (uint64_t)y->count * (x->of ? x->of : 1);
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Sites whose references are all released, but one of them only by a
 * tie-break (a reference taken elsewhere ranked as high for that release):
 * the reference still held may as well be theirs, so they are shown after
 * the unbalanced ones. seq: when to symbolize them (the first site's).
 */
static void add_tied_sites(struct finding *f, const struct object *o, uint64_t seq)
{
    for (size_t i = 0; i < o->nsites; i++) {
        const struct site_total *st = &o->sites[i];
        bool held = false;
        for (size_t k = 0; k < o->nrefs && !held; k++)
            held = o->refs[k].stack == st->stack;
        if (!st->tied || held)
            continue;
        struct site *s = finding_add_site(f, "as likely the one still held (a release was paired by a tie): "
                                             "the reference taken at", st->stack, seq, 0);
        s->tag = st->tag;
    }
}

unsigned rules_add_ref_sites(struct finding *f, const struct object *o, unsigned mask, const char *verb)
{
    size_t first = f->nsites;
    unsigned n = 0, tagged = 0;
    for (size_t i = 0; i < o->nrefs; i++) {
        const struct ref_entry *e = &o->refs[i];
        if (!(mask & LBL_BIT(e->label)))
            continue;
        n++;
        tagged += e->tag != 0 || e->label == LBL_HANDLE;
        struct site *s = NULL;
        for (size_t k = first; k < f->nsites; k++)
            if (f->sites[k].stack == e->stack && f->sites[k].tag == e->tag && f->sites[k].verb == verb)
                s = &f->sites[k];
        if (!s) {
            s = finding_add_site(f, verb, e->stack, e->seq, e->tid);
            s->tag = e->tag;
            s->of = total_refs_at(o, e->stack, e->tag);
        }
        s->count++;
        if (s->of < s->count)
            s->of = s->count;
    }
    if (f->nsites - first > 1)
        qsort(f->sites + first, f->nsites - first, sizeof(*f->sites), cmp_site);
    if (f->nsites > first)
        add_tied_sites(f, o, f->sites[first].seq);
    /* exact: tags or handle values paired every release, or no release had to be paired by likeness */
    bool exact = tagged == n || !o->guessed;
    if (n && !f->attribution)
        f->attribution = exact ? "exact" : "heuristic";
    else if (n && !exact)
        f->attribution = "heuristic";
    return n;
}

/* ---- incidents ---------------------------------------------------------------------------------------- */

static const char *image_name(const struct model *m, uint32_t instance)
{
    const struct module *mod = model_module(m, instance);
    return mod ? model_module_basename(mod) : "an unloaded image";
}

static const char *inc_object(const struct incident *inc, char *buf, size_t len)
{
    if (inc->object_name && inc->object_name[0])
        return inc->object_name;
    snprintf(buf, len, "%s #%u", rules_type_name(inc->object_type), inc->object);
    return buf;
}

static void double_release(struct report *r, const struct incident *inc)
{
    char buf[64];
    struct finding *f = report_add_global(r, F_DOUBLE_RELEASE);
    finding_object(f, inc->object, inc_object(inc, buf, sizeof(buf)), rules_type_name(inc->object_type));
    const char *what = inc->at.op == OBT_OP_HANDLE_CLOSE ? "handle close"
                       : inc->at.op == OBT_OP_DEV_DELETE ? "IoDeleteDevice"
                       : inc->at.op == OBT_OP_POOL_FREE  ? "pool free"
                       : inc->at.op == OBT_OP_BUGCHECK   ? "dereference (bug check 0x18 REFERENCE_BY_POINTER)"
                                                         : "dereference";
    /* arg: the handle value of a close that named no open handle (model.c report_unknown_close) */
    if (inc->at.op == OBT_OP_HANDLE_CLOSE && inc->arg && !inc->other.seq)
        finding_subject(f, "close of handle 0x%" PRIx64 ", which is not open (STATUS_INVALID_HANDLE)", inc->arg);
    else if (inc->at.op == OBT_OP_HANDLE_CLOSE && inc->arg)
        finding_subject(f, "close of handle 0x%" PRIx64 " (%s), which was already closed", inc->arg,
                        inc_object(inc, buf, sizeof(buf)));
    else
        finding_subject(f, "%s of %s with nothing left to release", what, inc_object(inc, buf, sizeof(buf)));
    finding_add_site(f, "released again", inc->at.stack, inc->at.seq, inc->at.tid);
    if (inc->other.seq)
        finding_add_site(f, "released before", inc->other.stack, inc->other.seq, inc->other.tid);
}

static void call_into_unloaded(const struct model *m, struct report *r, const struct incident *inc)
{
    char buf[64], cbuf[24];
    struct finding *f = report_add_global(r, F_CALL_INTO_UNLOADED);
    f->image = inc->image;
    if (inc->arg == 0xCE) {
        const struct module *caller = model_stack_driver(m, inc->at.stack, inc->at.seq);
        finding_subject(f, "%s called code of %s after it was unloaded (bug check 0xCE %s)",
                        caller ? model_module_basename(caller) : "the application", image_name(m, inc->image),
                        nt_bugcheck_name(inc->arg, cbuf));
        finding_add_site(f, "called", inc->at.stack, inc->at.seq, inc->at.tid);
        if (inc->addr)
            finding_add_code_site(f, "the code called, in the unloaded image:", inc->addr, inc->at.seq);
        return;
    }
    finding_object(f, inc->object, inc_object(inc, buf, sizeof(buf)), rules_type_name(inc->object_type));
    finding_subject(f, "%s of %s was called after the image was unmapped",
                    tr_op_name(inc->at.op) ? tr_op_name(inc->at.op) : "code", image_name(m, inc->image));
    finding_add_site(f, "called", inc->at.stack, inc->at.seq, inc->at.tid);
}

/* The driver whose image is the module instance, or NULL. */
static const struct driver *driver_of_image(const struct model *m, uint32_t instance)
{
    const struct module *mod = model_module(m, instance);
    return mod && mod->driver ? model_driver(m, mod->driver) : NULL;
}

/*
 * An image that unloaded although its own DriverUnload never ran: a library
 * replaced the routine (the verdicts of images still mapped report it there).
 */
static void unload_replaced(const struct model *m, struct report *r)
{
    for (size_t i = 0; i < m->nmodules; i++) {
        const struct module *mod = &m->modules[i];
        const struct driver *d = mod->is_driver && mod->unload_seq ? driver_of_image(m, mod->instance) : NULL;
        if (!d || !d->unload_replaced.seq || !d->own_unload || d->unload_called == d->own_unload)
            continue;
        const struct module *lib = model_module_at(m, d->unload_routine, d->unload_replaced.seq);
        struct finding *f = report_add_global(r, F_UNLOAD_ROUTINE_REPLACED);
        f->image = mod->instance;
        finding_subject(f, "%s unloaded, but its own DriverUnload never ran: a class library routine in %s "
                        "overwrote it during DriverEntry", model_module_basename(mod),
                        lib ? model_module_basename(lib) : "another module");
        finding_add_site(f, "overwritten", d->unload_replaced.stack, d->unload_replaced.seq, d->unload_replaced.tid)
            ->callee = true;
        finding_add_code_site(f, "the driver's routine, never called:", d->own_unload, d->unload_replaced.seq);
        if (d->unload_called)
            finding_add_code_site(f, "called instead:", d->unload_called, d->unload.seq);
        finding_set_fix(f, "set DriverObject->DriverUnload after the class library's registration call returns "
                           "(or chain to the library's routine from your own)");
    }
}

/* Adds one leaked block (allocated at, bytes, tag) to f, grouped by allocation stack. */
static void add_pool_site(struct finding *f, struct event_ref at, uint32_t tag)
{
    struct site *s = NULL;
    for (size_t j = 0; j < f->nsites; j++)
        if (f->sites[j].stack == at.stack)
            s = &f->sites[j];
    if (!s) {
        s = finding_add_site(f, "allocated", at.stack, at.seq, at.tid);
        s->tag = tag;
    }
    s->count++;
    s->of = s->count;
}

/*
 * Whether the live pool block p of a still-mapped image is a leak: its
 * driver's DriverUnload already ran (nothing of the driver frees it later:
 * the image only stays mapped because something else still pins it).
 */
static bool pool_held_after_unload(const struct model *m, const struct object *p, uint32_t instance)
{
    const struct module *mod = model_module(m, instance);
    const struct driver *d = mod && !mod->unload_seq ? driver_of_image(m, instance) : NULL;
    return p->type == OBT_OBJ_POOL && p->image == instance && d && d->unload.seq && p->created.seq < d->unload.seq;
}

static void pool_leaks(const struct model *m, const struct object_list *live, struct report *r)
{
    /* one finding per image, sites grouped by allocation stack */
    for (size_t i = 0; i < m->nmodules; i++) {
        struct finding *f = NULL;
        uint64_t bytes = 0;
        unsigned blocks = 0;
        uint32_t instance = m->modules[i].instance;
        for (size_t k = 0; k < m->nincidents; k++) {
            const struct incident *inc = &m->incidents[k];
            if (inc->kind != INC_POOL_LEAK || inc->image != instance)
                continue;
            if (!f)
                f = report_add_global(r, F_POOL_LEAK);
            bytes += inc->arg;
            blocks++;
            add_pool_site(f, inc->at, inc->object2);
        }
        for (size_t k = 0; k < live->n; k++) { /* still mapped: blocks DriverUnload left behind */
            const struct object *p = live->items[k];
            if (!pool_held_after_unload(m, p, instance))
                continue;
            if (!f)
                f = report_add_global(r, F_POOL_LEAK);
            bytes += p->pool_bytes;
            blocks++;
            add_pool_site(f, p->created, p->pool_tag);
        }
        if (!f)
            continue;
        f->image = instance;
        finding_subject(f, "%u pool allocation%s (%" PRIu64 " bytes) of %s not freed %s", blocks,
                        blocks == 1 ? "" : "s", bytes, model_module_basename(&m->modules[i]),
                        m->modules[i].unload_seq ? "when it unloaded" : "by its DriverUnload (the image is still mapped)");
        const struct driver *d = driver_of_image(m, instance);
        if (d && d->unload_replaced.seq && d->own_unload && d->unload_called != d->own_unload) {
            f->consequence = true;
            finding_note(f, "the driver's own DriverUnload, which frees it, never ran (unload-routine-replaced)");
        } else if (d && d->unload.seq && d->unload_called) {
            finding_add_code_site(f, "DriverUnload ran without freeing it:", d->unload_called, d->unload.seq);
        }
    }
}

static void lock_unknown_release(struct report *r, const struct incident *inc)
{
    char buf[64];
    struct finding *f = report_add_global(r, F_REMOVE_LOCK_UNBALANCED);
    finding_object(f, inc->object, inc_object(inc, buf, sizeof(buf)), rules_type_name(inc->object_type));
    finding_subject(f, "release of %s with tag 0x%" PRIx64 ", which was not acquired (or already released)",
                    inc_object(inc, buf, sizeof(buf)), inc->arg);
    struct site *s = finding_add_site(f, "released", inc->at.stack, inc->at.seq, inc->at.tid);
    s->lock_tag = inc->arg;
    f->attribution = "exact";
}

static void incidents(const struct model *m, const struct object_list *live, struct report *r)
{
    for (size_t k = 0; k < m->nincidents; k++) {
        const struct incident *inc = &m->incidents[k];
        switch (inc->kind) {
        case INC_DOUBLE_RELEASE: double_release(r, inc); break;
        case INC_CALL_INTO_UNLOADED: call_into_unloaded(m, r, inc); break;
        case INC_LOCK_UNKNOWN_RELEASE: lock_unknown_release(r, inc); break;
        default: break;
        }
    }
    pool_leaks(m, live, r);
}

/* ---- references an unloaded image left on live objects ------------------------------------------ */

/*
 * The driver image that took e itself and has unloaded since, or NULL: an
 * explicit reference (ObReferenceObject*, IoGetDeviceObjectPointer's file
 * object) whose traced call the driver made directly. References the system
 * takes on a driver's behalf (the devices', registrations', handles' ones,
 * the PnP manager's on relations it was handed) are labelled otherwise or
 * made by the kernel, and are not the driver's to release.
 */
static const struct module *unloaded_taker(const struct model *m, const struct ref_entry *e)
{
    if (e->label != LBL_REF || e->caller != CALL_DRIVER)
        return NULL;
    const struct stack *s = model_stack(m, e->stack);
    const struct module *mod = s && s->depth ? model_module_at(m, s->frames[0], e->seq) : NULL;
    return mod && mod->is_driver && mod->unload_seq ? mod : NULL;
}

/* True when a verdict already reports leaked references on object id. */
static bool leak_reported(const struct report *r, uint32_t id)
{
    for (size_t v = 0; v < r->nverdicts; v++)
        for (size_t k = 0; k < r->verdicts[v].nfindings; k++)
            if (r->verdicts[v].findings[k].id == F_LEAKED_REFERENCE && r->verdicts[v].findings[k].object == id)
                return true;
    return false;
}

/* One finding for the references mod took on o and left behind (refs: o's entries taken by mod, n of them). */
static void orphan_finding(const struct model *m, struct report *r, const struct object *o, const struct module *mod,
                           struct ref_entry *refs, size_t n)
{
    char buf[300];
    struct object only = *o; /* o's site totals, with only mod's outstanding references */
    only.refs = refs;
    only.nrefs = n;
    struct finding *f = report_add_global(r, F_LEAKED_REFERENCE);
    f->image = mod->instance;
    finding_object(f, o->id, model_object_label(m, o->id, buf, sizeof(buf)), rules_type_name(o->type));
    finding_subject(f, "%s unloaded still holding %zu pointer reference%s on %s, which is still alive: nothing "
                    "can release %s any more", model_module_basename(mod), n, n == 1 ? "" : "s", buf,
                    n == 1 ? "it" : "them");
    rules_add_ref_sites(f, &only, LBL_BIT(LBL_REF), "references taken at");
    finding_set_fix(f, "drop the reference (ObDereferenceObject) on the path that ends its use, at the latest "
                       "when the device is removed or in DriverUnload");
}

/* References on live device, file and driver objects taken by driver images that have unloaded since. */
static void orphaned_references(const struct model *m, const struct object_list *live, struct report *r)
{
    for (size_t i = 0; i < live->n; i++) {
        const struct object *o = live->items[i];
        /* the pointer count the trace shows (less the handle references closes dropped since) must back
           every outstanding entry: a file whose count reached 0 in its last close is freed, its entries stale */
        if ((o->type != OBT_OBJ_DEVICE && o->type != OBT_OBJ_FILE && o->type != OBT_OBJ_DRIVER) ||
            o->last_count - o->closes_since_count < (int32_t)o->nrefs || leak_reported(r, o->id))
            continue;
        struct ref_entry *mine = xcalloc(o->nrefs + 1, sizeof(*mine));
        for (size_t k = 0; k < m->nmodules; k++) { /* per image, in load order */
            const struct module *mod = &m->modules[k];
            size_t n = 0;
            for (size_t j = 0; j < o->nrefs; j++)
                if (unloaded_taker(m, &o->refs[j]) == mod)
                    mine[n++] = o->refs[j];
            if (n)
                orphan_finding(m, r, o, mod, mine, n);
        }
        free(mine);
    }
}

/* ---- interfaces --------------------------------------------------------------------------------------------- */

static bool exporter_gone(const struct model *m, const struct iface *i)
{
    const struct object *e = model_object(m, i->exporter);
    const struct module *mod = model_module(m, i->exporter_image);
    return !e || e->removed || e->delete_called || (mod && mod->unload_seq);
}

/* An interface handed to a driver of another image that still held it when its exporter went away. */
static void interfaces(const struct model *m, struct report *r)
{
    char ebuf[300];
    for (size_t k = 0; k < m->nifaces; k++) {
        const struct iface *i = &m->ifaces[k];
        const struct module *imp = model_module(m, i->importer_image);
        const struct module *exp = model_module(m, i->exporter_image);
        if (!imp || imp == exp || imp->unload_seq || !exporter_gone(m, i))
            continue;
        const char *guid = model_string(m, i->guid);
        struct finding *f = report_add_global(r, F_INTERFACE_OUTLIVED);
        f->image = i->exporter_image;
        finding_object(f, i->exporter, model_object_label(m, i->exporter, ebuf, sizeof(ebuf)), "Device");
        finding_subject(f, "the interface %s of %s, handed to %s%s, outlived its exporter",
                        guid ? guid : "(unknown type)", exp ? model_module_basename(exp) : ebuf,
                        model_module_basename(imp), i->noop ? " with no-op reference functions" : "");
        finding_add_site(f, "handed out on the query", i->at.stack, i->at.seq, i->at.tid);
        if (i->noop)
            finding_note(f, "InterfaceReference/InterfaceDereference are no-ops: nothing kept %s from being removed "
                            "while %s held the interface", exp ? model_module_basename(exp) : "the exporter",
                         model_module_basename(imp));
        if (exp && exp->unload_seq)
            finding_note(f, "%s was unloaded while %s still held its function pointers", model_module_basename(exp),
                         model_module_basename(imp));
        finding_set_fix(f, "count interface references for requesters in other stacks (fail the query-remove while "
                           "held); %s must dereference the interface on GUID_TARGET_DEVICE_QUERY_REMOVE",
                        model_module_basename(imp));
    }
}

/* A call into an unloaded exporter through an interface that outlived it follows from that interface. */
static void link_calls_to_interfaces(struct report *r)
{
    for (size_t k = 0; k < r->nglobal; k++) {
        struct finding *call = &r->global[k];
        for (size_t j = 0; call->id == F_CALL_INTO_UNLOADED && j < r->nglobal; j++) {
            if (r->global[j].id != F_INTERFACE_OUTLIVED || r->global[j].image != call->image || !call->image)
                continue;
            call->consequence = true;
            finding_note(call, "the code was reached through the interface that outlived its exporter "
                               "(interface-outlived)");
            break;
        }
    }
}

/* ---- completeness -------------------------------------------------------------------------------------------- */

/* The run ended in a bug check the findings explain: everything before the crash is in the trace. */
static bool ended_in_explained_crash(const struct model *m)
{
    return !m->saw_end && m->bugcheck.seq && m->bugcheck_explained && m->bugcheck.seq == m->last_seq &&
           !m->dropped && !m->damage && !m->cut_short;
}

static void completeness(const struct model *m, struct report *r)
{
    char cbuf[24];
    if ((m->saw_end && !m->dropped && !m->end_dropped && !m->damage && !m->cut_short) ||
        ended_in_explained_crash(m))
        return;
    r->incomplete = true;
    struct finding *f = report_add_global(r, F_TRACE_INCOMPLETE);
    if (m->damage)
        finding_subject(f, "the trace is damaged: %s", m->damage);
    else if (m->cut_short)
        finding_subject(f, "%s", m->cut_short);
    else if (!m->saw_end)
        finding_subject(f, "the trace ends without its end record (the process crashed or was killed)");
    else
        finding_subject(f, "%" PRIu64 " events were dropped by the tracer",
                        m->dropped > m->end_dropped ? m->dropped : m->end_dropped);
    if (m->cut_short && m->damage)
        finding_note(f, "%s", m->cut_short);
    if (m->cut_short && !m->saw_end)
        finding_note(f, "the end record did not fit either: the run's end is not in the trace");
    if ((m->dropped || m->end_dropped) && (m->damage || !m->saw_end || m->cut_short))
        finding_note(f, "%" PRIu64 " events were dropped by the tracer",
                     m->dropped > m->end_dropped ? m->dropped : m->end_dropped);
    if (m->bugcheck.seq) {
        finding_note(f, "the simulation stopped with bug check 0x%" PRIx64 " %s", m->bugcheck_code,
                     nt_bugcheck_name(m->bugcheck_code, cbuf));
        finding_add_site(f, "bug check", m->bugcheck.stack, m->bugcheck.seq, m->bugcheck.tid);
    }
    finding_note(f, "the verdict covers the events that were recorded; references taken or released in what is "
                    "missing are not seen");
}

void rules_global(const struct model *m, const struct object_list *live, struct report *r)
{
    completeness(m, r);
    incidents(m, live, r);
    unload_replaced(m, r);
    orphaned_references(m, live, r);
    interfaces(m, r);
    link_calls_to_interfaces(r);
}

void rules_run(const struct model *m, struct report *r)
{
    struct object_list live;
    object_list_collect(m, &live);
    rules_images(m, &live, r);
    rules_global(m, &live, r);
    rules_wdf_global(m, &live, r);
    rules_cycles(m, r);
    free(live.items);
    r->events = m->events;
    report_sort(r);
}
