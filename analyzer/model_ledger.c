/*
 * model_ledger.c - the reference ledger of the model: per object, the
 * outstanding pointer references (each with the stack, tag and thread that
 * took it) and per-site totals, and the rules that pair a release with the
 * reference it drops.
 *
 * A tagged dereference releases the latest reference with its tag
 * (exact); an untagged one releases the most similar untagged reference
 * (longest common stack suffix, ties to the latest: heuristic).
 * Operations whose effect on the count is implicit reconcile the list to
 * the count the event reports. The framework's own references are
 * recognised by nesting (ring_find_nested): the tracer records an
 * operation after it returns, so a reference the framework took inside it
 * precedes the outer event on the same thread, with the outer stack as its
 * tail; such references are relabelled, such releases re-paired.
 *
 * Work items: each IoQueueWorkItem takes a reference on the item's device
 * inside the call, and the I/O manager drops one after the item's routine
 * returns, on the worker thread, with no driver on the stack. The queue's
 * reference is labelled with its work item (by id: an item freed and
 * allocated again at the same address is another item), and such a drop
 * releases the oldest queue of one work item: queue N goes with routine N.
 */
#include "model_internal.h"

#include <string.h>

#include "xalloc.h"

/* ---- reference lists ------------------------------------------------------------------ */

void site_add(struct object *o, uint32_t stack, uint32_t tag, int refs, int derefs)
{
    for (size_t i = o->nsites; i-- > 0;) {
        struct site_total *s = &o->sites[i];
        if (s->stack == stack && s->tag == tag) {
            s->refs += (uint32_t)refs;
            s->derefs += (uint32_t)derefs;
            return;
        }
    }
    xgrow(&o->sites, &o->capsites, o->nsites + 1, sizeof(*o->sites));
    o->sites[o->nsites++] = (struct site_total){ stack, tag, (uint32_t)refs, (uint32_t)derefs, 0, 0 };
}

/*
 * Who made the call recorded with stack at seq: a driver image or not (the
 * kernel acting on its own behalf, e.g. the I/O manager's reference on an
 * IRP's file object, or the application). Decided by the innermost frame,
 * the return address into the caller of the traced call.
 */
uint8_t stack_caller(const struct model *m, uint32_t stack, uint64_t seq)
{
    const struct stack *s = model_stack(m, stack);
    const struct module *mod = s && s->depth ? model_module_at(m, s->frames[0], seq) : NULL;
    if (!mod)
        return CALL_UNKNOWN;
    return mod->is_driver ? CALL_DRIVER : CALL_OTHER;
}

void ref_push_as(struct object *o, const struct tr_event *ev, uint8_t label, uint32_t holder, uint8_t caller)
{
    xgrow(&o->refs, &o->caprefs, o->nrefs + 1, sizeof(*o->refs));
    o->refs[o->nrefs++] = (struct ref_entry){
        .seq = ev->seq, .stack = ev->stack, .tid = ev->tid, .holder = holder, .label = label, .op = ev->op,
        .tag = model_tag_is_explicit(ev->tag) ? ev->tag : 0, .caller = caller,
    };
}

void ref_push(struct object *o, const struct tr_event *ev, uint8_t label, uint32_t holder)
{
    ref_push_as(o, ev, label, holder, CALL_UNKNOWN);
}

struct ref_entry ref_take(struct object *o, size_t i)
{
    struct ref_entry e = o->refs[i];
    memmove(&o->refs[i], &o->refs[i + 1], (o->nrefs - i - 1) * sizeof(*o->refs));
    o->nrefs--;
    return e;
}

/* The latest entry with label (and holder, when non-zero); -1 if none. */
long ref_find_label(const struct object *o, uint8_t label, uint32_t holder)
{
    for (size_t i = o->nrefs; i-- > 0;)
        if (o->refs[i].label == label && (!holder || o->refs[i].holder == holder))
            return (long)i;
    return -1;
}

/* Defined below: ref_pick_untagged with whether the pick was clear, and whether it was a tie. */
static long ref_pick_untagged_ex(struct model *m, struct object *o, uint32_t stack, uint8_t caller, bool *clear,
                                 bool *tied);

/* The site total of (stack, untagged), or NULL. */
static struct site_total *site_find(struct object *o, uint32_t stack)
{
    for (size_t i = o->nsites; i-- > 0;)
        if (o->sites[i].stack == stack && o->sites[i].tag == 0)
            return &o->sites[i];
    return NULL;
}

/*
 * True when references taken at stack are seen released on their own call
 * path (an earlier release chose one of them on a clearly closer path than
 * any other candidate): such a site drops its references where it takes
 * them, so a release from an unrelated path is less likely one of them
 * than a reference stored for later.
 */
static bool site_releases_locally(struct object *o, uint32_t stack)
{
    const struct site_total *st = site_find(o, stack);
    return st && st->local;
}

/* Which outstanding reference an untagged release at stack by caller drops (see ref_pick_untagged_ex). */
static long ref_pick_untagged(struct model *m, struct object *o, uint32_t stack, uint8_t caller)
{
    return ref_pick_untagged_ex(m, o, stack, caller, NULL, NULL);
}

/*
 * How far apart two call paths are where they part: the distance between
 * their first differing frames counted from the outermost, when both are
 * in one function's code (an inlined callee's code lies together in its
 * caller's, so the nearer return address is the nearer path); UINT64_MAX
 * when one stack ends first.
 */
static uint64_t stack_parting_distance(const struct model *m, uint32_t a, uint32_t b, unsigned common)
{
    const struct stack *x = model_stack(m, a), *y = model_stack(m, b);
    if (!x || !y || common >= x->depth || common >= y->depth)
        return UINT64_MAX;
    uint64_t fa = x->frames[x->depth - 1 - common], fb = y->frames[y->depth - 1 - common];
    return fa > fb ? fa - fb : fb - fa;
}

/* How one candidate reference compares for an untagged release: larger fields first, in order. */
struct pick_key {
    bool same_caller;   /* taken by the same kind of caller (driver / kernel) as the release */
    unsigned sim;       /* common outermost frames with the release */
    uint64_t distance;  /* where the paths part: smaller is closer */
    bool stored;        /* its site was never seen releasing on its own path */
    bool untagged;
    bool explicit_ref;  /* LBL_REF rather than a creation reference */
};

/* > 0 when a is the better candidate, < 0 when b is, 0 on a tie; closeness only (sim, distance) when path_only. */
static int pick_key_cmp(const struct pick_key *a, const struct pick_key *b, bool path_only)
{
    if (!path_only && a->same_caller != b->same_caller)
        return a->same_caller ? 1 : -1;
    if (a->sim != b->sim)
        return a->sim > b->sim ? 1 : -1;
    if (a->distance != b->distance)
        return a->distance < b->distance ? 1 : -1;
    if (path_only)
        return 0;
    if (a->stored != b->stored)
        return a->stored ? 1 : -1;
    if (a->untagged != b->untagged)
        return a->untagged ? 1 : -1;
    if (a->explicit_ref != b->explicit_ref)
        return a->explicit_ref ? 1 : -1;
    return 0;
}

/*
 * Which outstanding reference an untagged release at stack drops, among the
 * explicit and creation ones: first one taken by the same kind of caller
 * (a driver drops what drivers took; the kernel drops what it took for
 * itself, like an IRP's file-object reference released at completion,
 * whose stack runs through the very dispatch routine that took the
 * driver's own reference); then the closest call path; then a reference
 * of a site not seen releasing its references on its own path (one stored
 * for later); ties to the latest. caller is the release's enum call_role
 * (CALL_UNKNOWN: no preference). *clear (when not NULL) says whether the
 * pick was on a strictly closer path than every reference taken elsewhere;
 * *tied (when not NULL) whether a reference taken at another stack ranked
 * exactly as high (only "the latest" decided).
 */
static long ref_pick_untagged_ex(struct model *m, struct object *o, uint32_t stack, uint8_t caller, bool *clear,
                                 bool *tied)
{
    long best = -1;
    struct pick_key bk = { 0 }, rival = { 0 };
    bool have_rival = false, tie = false;
    uint32_t first_stack = 0;
    bool alike = true; /* every candidate was taken at one stack: the choice is no guess */
    size_t low = o->nrefs > PAIR_WINDOW ? o->nrefs - PAIR_WINDOW : 0;
    for (size_t i = o->nrefs; i-- > low;) {
        const struct ref_entry *e = &o->refs[i];
        if ((e->label != LBL_REF && e->label != LBL_CREATE) || e->via == VIA_WORKITEM)
            continue;
        if (!first_stack)
            first_stack = e->stack;
        alike = alike && e->stack == first_stack;
        unsigned sim = stack_similarity(m, e->stack, stack);
        struct pick_key k = {
            .same_caller = caller != CALL_UNKNOWN && e->caller == caller, .sim = sim,
            .distance = stack_parting_distance(m, e->stack, stack, sim),
            .stored = !site_releases_locally(o, e->stack), .untagged = !e->tag, .explicit_ref = e->label == LBL_REF,
        };
        int cmp = best < 0 ? 1 : pick_key_cmp(&k, &bk, false);
        if (cmp > 0) {
            if (best >= 0 && o->refs[best].stack != e->stack && (!have_rival || pick_key_cmp(&bk, &rival, true) > 0)) {
                rival = bk;
                have_rival = true;
            }
            bk = k;
            best = (long)i;
            tie = false;
        } else if (e->stack != o->refs[best].stack) {
            tie = tie || cmp == 0;
            if (!have_rival || pick_key_cmp(&k, &rival, true) > 0) {
                rival = k;
                have_rival = true;
            }
        }
    }
    if (!alike)
        o->guessed = true;
    if (clear)
        *clear = best >= 0 && have_rival && pick_key_cmp(&bk, &rival, true) > 0;
    if (tied)
        *tied = best >= 0 && tie;
    if (best < 0 && o->nrefs)
        best = (long)o->nrefs - 1;
    return best;
}

/* True when no driver frame is on the stack: the kernel (or the application) acted on its own. */
static bool stack_without_driver(const struct model *m, uint32_t stack, uint64_t seq)
{
    return !model_stack_driver(m, stack, seq);
}

/*
 * True when e, a reference the kernel took with no driver on its stack, was
 * taken on the call path of the release recorded with ev: every frame of
 * the release but its innermost is one of the reference's outermost frames
 * (a reference the releasing function's callee took, like the open of a
 * name's lookup reference).
 */
static bool ref_on_release_path(struct model *m, const struct ref_entry *e, const struct tr_event *ev)
{
    const struct stack *rs = model_stack(m, ev->stack);
    if (!rs || !rs->depth || e->caller == CALL_DRIVER || !stack_without_driver(m, e->stack, e->seq))
        return false;
    return stack_similarity(m, e->stack, ev->stack) + 1 >= rs->depth;
}

/* The oldest outstanding queue reference of work item `item` (0 = of any) on o, or -1. */
static long ref_oldest_queue_of(const struct object *o, uint32_t item)
{
    long pick = -1;
    for (size_t i = 0; i < o->nrefs; i++)
        if (o->refs[i].via == VIA_WORKITEM && (!item || o->refs[i].holder == item) &&
            (pick < 0 || o->refs[i].seq < o->refs[pick].seq))
            pick = (long)i;
    return pick;
}

/*
 * The I/O manager's drop after a work item's routine returned: an untagged
 * release of a device holding queue references (VIA_WORKITEM), with no
 * driver frame on its stack, that releases no kernel reference taken on its
 * own call path. It drops the oldest queue of the work item whose routine
 * the thread ran (its WORKITEM_RUN; queue N is released after routine N),
 * exactly. A trace without WORKITEM_RUN events (older tracers): when
 * several work items of the device are queued, the oldest queue of all
 * (workers start items in queue order), a guess unless the items' oldest
 * queues were taken at one stack. Returns the index of that reference, or
 * -1 when ev is no such drop.
 */
long ref_pick_work_item_drop(struct model *m, struct object *o, const struct tr_event *ev)
{
    if (o->type != OBT_OBJ_DEVICE || model_tag_is_explicit(ev->tag))
        return -1;
    long first = ref_oldest_queue_of(o, 0);
    if (first < 0 || !stack_without_driver(m, ev->stack, ev->seq))
        return -1;
    for (size_t i = 0; i < o->nrefs; i++) {
        const struct ref_entry *e = &o->refs[i];
        if (e->via != VIA_WORKITEM && (e->label == LBL_REF || e->label == LBL_CREATE) && ref_on_release_path(m, e, ev))
            return -1;
    }
    /* The thread says whose routine just returned (WORKITEM_RUN): that item's oldest queue, exactly. */
    struct thread_state *t = thread_of(m, ev->tid);
    long mine = t->running_device == o->id ? ref_oldest_queue_of(o, t->running_item) : -1;
    if (mine >= 0) {
        t->running_item = t->running_device = 0;
        return mine;
    }
    bool guess = false;
    for (size_t i = 0; i < o->nrefs; i++) {
        const struct ref_entry *e = &o->refs[i], *pick = &o->refs[first];
        if (e->via == VIA_WORKITEM && e->holder != pick->holder && e->stack != pick->stack)
            guess = guess || ref_oldest_queue_of(o, e->holder) == (long)i;
    }
    o->guessed = o->guessed || guess;
    return first;
}

static long ref_pick_for_release(struct model *m, struct object *o, const struct tr_event *ev)
{
    long drop = ref_pick_work_item_drop(m, o, ev);
    if (drop >= 0)
        return drop;
    if (model_tag_is_explicit(ev->tag)) {
        for (size_t i = o->nrefs; i-- > 0;)
            if (o->refs[i].tag == ev->tag)
                return (long)i;
        o->mistagged = evref(ev); /* a tag no outstanding reference had: paired by likeness below */
        o->mistag = ev->tag;
        o->guessed = true;
    }
    bool clear = false, tied = false;
    long i = ref_pick_untagged_ex(m, o, ev->stack, stack_caller(m, ev->stack, ev->seq), &clear, &tied);
    struct site_total *st = i >= 0 && (clear || tied) ? site_find(o, o->refs[i].stack) : NULL;
    if (st && clear)
        st->local++;
    if (st && tied)
        st->tied++;
    return i;
}

/* Drops one reference for ev; remembers which in the thread's ring slot. */
void ref_release(struct model *m, struct object *o, const struct tr_event *ev, struct ring_ev *slot)
{
    long i = ref_pick_for_release(m, o, ev);
    if (i < 0)
        return;
    slot->popped = ref_take(o, (size_t)i);
    slot->has_popped = true;
}

/* Brings the outstanding list to count: pushes entries labelled label, or drops, preferring label. */
void ref_reconcile(struct model *m, struct object *o, const struct tr_event *ev, int32_t count,
                          uint8_t label, uint32_t holder)
{
    if (count < 0)
        return;
    if ((size_t)count > o->nrefs + MAX_IMPLIED_REFS) /* no single call takes that many: a damaged count */
        count = (int32_t)(o->nrefs + MAX_IMPLIED_REFS);
    while (o->nrefs < (size_t)count)
        ref_push_as(o, ev, label, holder, stack_caller(m, ev->stack, ev->seq));
    while (o->nrefs > (size_t)count) {
        long i = ref_find_label(o, label, holder);
        if (i < 0)
            i = ref_pick_untagged(m, o, ev->stack, CALL_UNKNOWN);
        ref_take(o, (size_t)i);
    }
}

/*
 * A release recorded in slot should have dropped the entry with label
 * (holder): swap it back in exchange for that entry.
 */
void ref_repair(struct object *o, struct ring_ev *slot, uint8_t label, uint32_t holder)
{
    if (!o || !slot->has_popped)
        return;
    if (slot->popped.label == label && (!holder || slot->popped.holder == holder))
        return;
    long i = ref_find_label(o, label, holder);
    if (i < 0)
        return;
    struct ref_entry right = o->refs[i];
    o->refs[i] = slot->popped;
    slot->popped = right;
}

/* The outstanding entry pushed by the event with sequence number seq, or NULL. */
struct ref_entry *ref_at_seq(struct object *o, uint64_t seq)
{
    for (size_t i = o ? o->nrefs : 0; i-- > 0;)
        if (o->refs[i].seq == seq)
            return &o->refs[i];
    return NULL;
}

/* Relabels the entry pushed by the ring event (same seq) as label/holder. */
void ref_relabel(struct object *o, const struct ring_ev *slot, uint8_t label, uint32_t holder)
{
    struct ref_entry *e = ref_at_seq(o, slot->seq);
    if (e) {
        e->label = label;
        e->holder = holder;
    }
}

/* The latest unclaimed event of this thread with op on object nested in outer_stack; claims it. */
struct ring_ev *ring_find_nested(struct model *m, struct thread_state *t, uint8_t op, uint32_t object,
                                        uint32_t outer_stack)
{
    for (unsigned back = 0; back < RING; back++) {
        struct ring_ev *r = ring_at(t, back);
        if (!r->seq || r->claimed || r->op != op || r->object != object)
            continue;
        if (stack_nested(m, r->stack, outer_stack)) {
            r->claimed = true;
            return r;
        }
    }
    return NULL;
}
