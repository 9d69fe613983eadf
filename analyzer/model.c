/*
 * model.c - applies the record stream to the object/image model (model.h).
 *
 * Counting: REF/DEREF change a pointer count by one; operations whose
 * effect on the count is implicit (creation, IoDeleteDevice, making a
 * name temporary, notification registration) reconcile the outstanding
 * reference list to the count the event reports.
 *
 * Attribution: every outstanding reference remembers the stack that took
 * it. A tagged dereference releases the latest reference with its tag
 * (exact); an untagged one releases the most similar untagged reference
 * (longest common stack suffix, ties to the latest: heuristic). The
 * framework's own references are recognised by nesting: the tracer
 * records an operation after it returns, so a reference the framework
 * took inside IoCreateDevice (on the driver), ObOpenObjectByPointer (the
 * handle's), IoRegisterPlugPlayNotification or IoDeleteDevice precedes the
 * outer event on the same thread, with the outer stack as its tail. Such
 * inner references are relabelled (device, handle, registration,
 * keep-alive), and inner releases are re-paired to the reference they
 * really dropped.
 *
 * Work items: each IoQueueWorkItem takes a reference on the item's device
 * inside the call, and the I/O manager drops one after the item's routine
 * returns, on the worker thread, with no driver on the stack. The queue's
 * reference is labelled with its work item (by id: an item freed and
 * allocated again at the same address is another item), and such a drop
 * releases the oldest queue of one work item: queue N goes with routine N.
 */
#include "model.h"

#include "cycles.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

#define RING 8             /* recent events remembered per thread */
#define PAIR_WINDOW 16     /* references considered when pairing an untagged release */
#define FREED_RING 4096
#define MAX_INCIDENTS 10000
#define SIM_CACHE 65536
#define MAX_IMPLIED_REFS 64  /* references one operation may take implicitly */

#define STATUS_TIMEOUT_ 0x00000102
#define STATUS_IMAGE_ALREADY_LOADED_ ((int32_t)0xC000010E)
#define IRP_MJ_PNP_ 0x1b
#define IRP_MN_REMOVE_DEVICE_ 0x02
#define IRP_MN_QUERY_REMOVE_DEVICE_ 0x01
#define IRP_MN_SURPRISE_REMOVAL_ 0x17
#define DEVNODE_INITIALIZED_ 0x302 /* DeviceNodeInitialized: the devnode's drivers are being added */
#define STATUS_PENDING_ 0x00000103
#define STATUS_INVALID_DEVICE_REQUEST_ ((int32_t)0xC0000010)
#define BUGCHECK_REFERENCE_BY_POINTER 0x18
#define BUGCHECK_DRIVER_UNLOADED_PENDING 0xCE

struct ring_ev {
    uint64_t seq;
    uint32_t object;
    uint32_t stack;
    uint8_t op;
    bool claimed;
    bool has_popped;
    struct ref_entry popped;
};

struct thread_state {
    uint32_t tid;
    unsigned pos;
    uint32_t adding_for; /* the PDO whose devnode this thread is initializing (AddDevice calls), 0 = none */
    uint32_t running_item, running_device; /* the work item whose routine this thread runs (WORKITEM_RUN), 0 = none */
    struct ring_ev ring[RING];
};

/* ---- small helpers ------------------------------------------------------------ */

bool model_tag_is_explicit(uint32_t tag)
{
    return tag != 0 && tag != TAG_DEFAULT;
}

static struct event_ref evref(const struct tr_event *ev)
{
    return (struct event_ref){ .seq = ev->seq, .stack = ev->stack, .tid = ev->tid, .op = ev->op };
}

static struct thread_state *thread_of(struct model *m, uint32_t tid)
{
    for (size_t i = 0; i < m->nthreads; i++)
        if (m->threads[i].tid == tid)
            return &m->threads[i];
    xgrow(&m->threads, &m->capthreads, m->nthreads + 1, sizeof(*m->threads));
    struct thread_state *t = &m->threads[m->nthreads++];
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    return t;
}

/* The ring slot `back` events ago (0 = the latest). */
static struct ring_ev *ring_at(struct thread_state *t, unsigned back)
{
    return &t->ring[(t->pos + RING - 1 - back) % RING];
}

const struct stack *model_stack(const struct model *m, uint32_t id)
{
    return id ? idmap_get(&m->stacks, id) : NULL;
}

/*
 * True when inner was recorded inside the call recorded with outer: outer,
 * from its innermost frame (the return address into the caller of the
 * traced call), appears in inner below at least one extra frame. A call
 * made earlier by the same function (a sibling: its return address into
 * that function differs) is not nested.
 */
static bool stack_nested(const struct model *m, uint32_t inner_id, uint32_t outer_id)
{
    const struct stack *in = model_stack(m, inner_id), *out = model_stack(m, outer_id);
    if (!in || !out || !out->depth || inner_id == outer_id)
        return false;
    for (uint32_t p = 1; p <= 12 && p < in->depth; p++) {
        uint32_t n = in->depth - p < out->depth ? in->depth - p : out->depth;
        uint32_t need = out->depth < 4 ? out->depth : 4;
        if (n >= need && !memcmp(in->frames + p, out->frames, n * 8ull))
            return true;
    }
    return false;
}

/* Common outermost frames of two stacks (cached): how alike their call paths are. */
static unsigned stack_similarity(struct model *m, uint32_t a, uint32_t b)
{
    if (!a || !b)
        return 0;
    uint64_t key = (uint64_t)a << 32 | b;
    size_t slot = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 48) & (SIM_CACHE - 1);
    if (!m->sim_cache)
        m->sim_cache = xcalloc(SIM_CACHE, sizeof(uint64_t));
    if (m->sim_cache[slot] >> 8 == (key & 0x00ffffffffffffffull))
        return (unsigned)(m->sim_cache[slot] & 0xff);
    const struct stack *x = model_stack(m, a), *y = model_stack(m, b);
    unsigned n = 0;
    if (x && y)
        while (n < x->depth && n < y->depth && n < 255 &&
               x->frames[x->depth - 1 - n] == y->frames[y->depth - 1 - n])
            n++;
    m->sim_cache[slot] = (key & 0x00ffffffffffffffull) << 8 | n;
    return n;
}

/* ---- objects ---------------------------------------------------------------------- */

struct object *model_object(const struct model *m, uint32_t id)
{
    return id ? idmap_get(&m->objects, id) : NULL;
}

const struct object *model_freed_object(const struct model *m, uint32_t id)
{
    uintptr_t slot = (uintptr_t)idmap_get(&m->freed_index, id);
    return slot ? &m->freed_ring[slot - 1] : NULL;
}

static struct object *object_new(struct model *m, uint32_t id, uint8_t type)
{
    struct object *o = xcalloc(1, sizeof(*o));
    o->id = id;
    o->type = type;
    o->name = xstrdup("");
    idmap_put(&m->objects, id, o);
    return o;
}

/* The live object id, created on first sight; NULL for id 0 or an object already freed. */
static struct object *object_get(struct model *m, uint32_t id, uint8_t type)
{
    if (!id)
        return NULL;
    struct object *o = idmap_get(&m->objects, id);
    if (o) {
        if (o->type == OBT_OBJ_NONE)
            o->type = type;
        return o;
    }
    if (model_freed_object(m, id))
        return NULL;
    return object_new(m, id, type);
}

static void object_free_contents(struct object *o)
{
    free(o->refs);
    free(o->sites);
    free(o->holds);
    o->refs = NULL;
    o->sites = NULL;
    o->holds = NULL;
    o->nrefs = o->nsites = o->nholds = 0;
    o->caprefs = o->capsites = o->capholds = 0;
}

/* Moves o out of the live table into the ring of recently freed objects. */
static void object_retire(struct model *m, struct object *o)
{
    idmap_remove(&m->objects, o->id);
    if (!m->freed_ring)
        m->freed_ring = xcalloc(FREED_RING, sizeof(*m->freed_ring));
    struct object *slot = &m->freed_ring[m->freed_pos];
    if (slot->id) {
        idmap_remove(&m->freed_index, slot->id);
        free(slot->name);
    }
    object_free_contents(o);
    *slot = *o;
    idmap_put(&m->freed_index, o->id, (void *)(uintptr_t)(m->freed_pos + 1));
    m->freed_pos = (m->freed_pos + 1) % FREED_RING;
    free(o);
}

char *model_object_label(const struct model *m, uint32_t id, char *buf, size_t size)
{
    const struct object *o = model_object(m, id);
    if (!o)
        o = model_freed_object(m, id);
    if (o && o->name[0])
        snprintf(buf, size, "%s", o->name);
    else
        snprintf(buf, size, "%s #%u", o ? (tr_obj_type_name(o->type) ? tr_obj_type_name(o->type) : "Object")
                                        : "Object", id);
    return buf;
}

/* ---- reference lists ------------------------------------------------------------------ */

static void site_add(struct object *o, uint32_t stack, uint32_t tag, int refs, int derefs)
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
static uint8_t stack_caller(const struct model *m, uint32_t stack, uint64_t seq)
{
    const struct stack *s = model_stack(m, stack);
    const struct module *mod = s && s->depth ? model_module_at(m, s->frames[0], seq) : NULL;
    if (!mod)
        return CALL_UNKNOWN;
    return mod->is_driver ? CALL_DRIVER : CALL_OTHER;
}

static void ref_push_as(struct object *o, const struct tr_event *ev, uint8_t label, uint32_t holder, uint8_t caller)
{
    xgrow(&o->refs, &o->caprefs, o->nrefs + 1, sizeof(*o->refs));
    o->refs[o->nrefs++] = (struct ref_entry){
        .seq = ev->seq, .stack = ev->stack, .tid = ev->tid, .holder = holder, .label = label, .op = ev->op,
        .tag = model_tag_is_explicit(ev->tag) ? ev->tag : 0, .caller = caller,
    };
}

static void ref_push(struct object *o, const struct tr_event *ev, uint8_t label, uint32_t holder)
{
    ref_push_as(o, ev, label, holder, CALL_UNKNOWN);
}

static struct ref_entry ref_take(struct object *o, size_t i)
{
    struct ref_entry e = o->refs[i];
    memmove(&o->refs[i], &o->refs[i + 1], (o->nrefs - i - 1) * sizeof(*o->refs));
    o->nrefs--;
    return e;
}

/* The latest entry with label (and holder, when non-zero); -1 if none. */
static long ref_find_label(const struct object *o, uint8_t label, uint32_t holder)
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
static long ref_pick_work_item_drop(struct model *m, struct object *o, const struct tr_event *ev)
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
static void ref_release(struct model *m, struct object *o, const struct tr_event *ev, struct ring_ev *slot)
{
    long i = ref_pick_for_release(m, o, ev);
    if (i < 0)
        return;
    slot->popped = ref_take(o, (size_t)i);
    slot->has_popped = true;
}

/* Brings the outstanding list to count: pushes entries labelled label, or drops, preferring label. */
static void ref_reconcile(struct model *m, struct object *o, const struct tr_event *ev, int32_t count,
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
static void ref_repair(struct object *o, struct ring_ev *slot, uint8_t label, uint32_t holder)
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
static struct ref_entry *ref_at_seq(struct object *o, uint64_t seq)
{
    for (size_t i = o ? o->nrefs : 0; i-- > 0;)
        if (o->refs[i].seq == seq)
            return &o->refs[i];
    return NULL;
}

/* Relabels the entry pushed by the ring event (same seq) as label/holder. */
static void ref_relabel(struct object *o, const struct ring_ev *slot, uint8_t label, uint32_t holder)
{
    struct ref_entry *e = ref_at_seq(o, slot->seq);
    if (e) {
        e->label = label;
        e->holder = holder;
    }
}

/* The latest unclaimed event of this thread with op on object nested in outer_stack; claims it. */
static struct ring_ev *ring_find_nested(struct model *m, struct thread_state *t, uint8_t op, uint32_t object,
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

/* ---- drivers and modules ------------------------------------------------------------------ */

struct driver *model_driver(const struct model *m, uint32_t id)
{
    for (size_t i = 0; i < m->ndrivers; i++)
        if (m->drivers[i].id == id)
            return &m->drivers[i];
    return NULL;
}

static struct driver *driver_get(struct model *m, uint32_t id)
{
    if (!id)
        return NULL;
    struct driver *d = model_driver(m, id);
    if (d)
        return d;
    xgrow(&m->drivers, &m->capdrivers, m->ndrivers + 1, sizeof(*m->drivers));
    d = &m->drivers[m->ndrivers++];
    memset(d, 0, sizeof(*d));
    d->id = id;
    d->name = xstrdup("");
    return d;
}

/* The driver owning object o (o itself when it is a driver), or NULL. */
static struct driver *driver_of(struct model *m, const struct object *o)
{
    if (!o)
        return NULL;
    if (o->type == OBT_OBJ_DRIVER)
        return driver_get(m, o->id);
    return o->owner ? driver_get(m, o->owner) : NULL;
}

const struct module *model_module(const struct model *m, uint32_t instance)
{
    for (size_t i = m->nmodules; i-- > 0;)
        if (m->modules[i].instance == instance)
            return &m->modules[i];
    return NULL;
}

static struct module *module_mut(struct model *m, uint32_t instance)
{
    return (struct module *)model_module(m, instance);
}

const struct module *model_module_at(const struct model *m, uint64_t addr, uint64_t seq)
{
    for (size_t i = m->nmodules; i-- > 0;) {
        const struct module *mod = &m->modules[i];
        if (addr >= mod->start && addr < mod->end && mod->load_seq <= seq &&
            (!mod->unload_seq || seq <= mod->unload_seq))
            return mod;
    }
    /* nothing mapped there at seq: the instance unmapped last before it (a call into an unloaded image),
       else one mapped later (a frame recorded just before its module record) */
    const struct module *before = NULL, *later = NULL;
    for (size_t i = m->nmodules; i-- > 0;) {
        const struct module *mod = &m->modules[i];
        if (addr < mod->start || addr >= mod->end)
            continue;
        if (mod->unload_seq && mod->unload_seq < seq && (!before || mod->unload_seq > before->unload_seq))
            before = mod;
        else if (!later)
            later = mod;
    }
    return before ? before : later;
}

const char *model_module_basename(const struct module *mod)
{
    const char *slash = strrchr(mod->path, '/');
    return slash ? slash + 1 : mod->path;
}

/* The mapped module whose path (or base name) is path; NULL if none. */
static struct module *module_by_path(struct model *m, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    for (size_t i = m->nmodules; i-- > 0;) {
        struct module *mod = &m->modules[i];
        if (!mod->unload_seq && (!strcmp(mod->path, path) || !strcmp(model_module_basename(mod), base)))
            return mod;
    }
    return NULL;
}

static void driver_set_image(struct model *m, struct driver *d, uint32_t instance)
{
    if (!d || !instance)
        return;
    d->image = instance;
    struct module *mod = module_mut(m, instance);
    if (mod) {
        mod->is_driver = true;
        mod->driver = d->id;
    }
}

/* ---- incidents ------------------------------------------------------------------------------- */

static struct incident *incident_add(struct model *m, uint8_t kind, const struct object *o, uint32_t id,
                                     const struct tr_event *ev)
{
    if (m->nincidents >= MAX_INCIDENTS) {
        m->incidents_lost++;
        return NULL;
    }
    xgrow(&m->incidents, &m->capincidents, m->nincidents + 1, sizeof(*m->incidents));
    struct incident *inc = &m->incidents[m->nincidents++];
    memset(inc, 0, sizeof(*inc));
    inc->kind = kind;
    inc->object = o ? o->id : id;
    inc->object_name = xstrdup(o ? o->name : "");
    inc->object_type = o ? o->type : (ev ? ev->obj_type : 0);
    inc->image = o ? o->image : 0;
    if (ev)
        inc->at = evref(ev);
    return inc;
}

/* A release (dereference, close, delete, free) of an object with nothing left to release. */
static void report_double_release(struct model *m, const struct object *o, uint32_t id, const struct tr_event *ev,
                                  struct event_ref earlier)
{
    struct incident *inc = incident_add(m, INC_DOUBLE_RELEASE, o, id, ev);
    if (inc)
        inc->other = earlier;
}

/* The module of an object's image when that image was already unmapped at seq; NULL otherwise. */
static const struct module *unmapped_image_of(struct model *m, const struct object *o)
{
    if (!o)
        return NULL;
    uint32_t image = o->image;
    if (!image && o->owner) {
        struct driver *d = model_driver(m, o->owner);
        image = d ? d->image : 0;
    }
    const struct module *mod = image ? model_module(m, image) : NULL;
    return mod && mod->unload_seq ? mod : NULL;
}

static void check_call_into_unloaded(struct model *m, const struct object *o, const struct tr_event *ev)
{
    const struct module *mod = unmapped_image_of(m, o);
    if (!mod)
        return;
    struct incident *inc = incident_add(m, INC_CALL_INTO_UNLOADED, o, ev->object, ev);
    if (inc) {
        inc->image = mod->instance;
        inc->other = (struct event_ref){ .seq = mod->unload_seq };
    }
}

static void check_pool_at_unload(struct model *m, const struct module *mod);

/* ---- object lifetime events ------------------------------------------------------------------- */

static void device_try_unlink(struct model *m, struct object *d, const struct tr_event *ev)
{
    (void)m;
    if (d->delete_called && !d->is_unlinked && d->refcount <= 0 && !d->attached_above) {
        d->is_unlinked = true;
        d->unlinked = evref(ev);
    }
}

/* The object's pointer count reached zero: framework follow-ups, then retirement. */
static void object_freed(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if (o->type == OBT_OBJ_DEVICE && o->owner) {
        /* the delete procedure dereferenced the driver inside this call */
        struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_DEREF, o->owner, ev->stack);
        if (inner)
            ref_repair(model_object(m, o->owner), inner, LBL_DEVICE, o->id);
    }
    if (o->type == OBT_OBJ_DRIVER) {
        struct driver *d = driver_get(m, o->id);
        d->freed = evref(ev);
    }
    /* a device freed while still attached above another stays its lower's attachment (nt-semantics §2.4: the
     * lower's delete never completes); the freed ring keeps what the rules say about it */
    object_retire(m, o);
}

static void on_create(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if (!o->created.seq)
        o->created = evref(ev);
    ref_reconcile(m, o, ev, ev->count > 0 ? ev->count : 1, LBL_CREATE, 0);
    site_add(o, ev->stack, 0, 1, 0);
    if (o->type == OBT_OBJ_FILE) {
        o->opened = evref(ev);
        if (ev->obj2)
            o->file_device = ev->obj2;
        for (unsigned back = 0; !o->file_device && back < RING; back++) {
            struct ring_ev *r = ring_at(t, back);
            if (r->seq && r->op == OBT_OP_DEV_OPEN_REF)
                o->file_device = r->object;
        }
    }
    if (o->type == OBT_OBJ_DRIVER)
        driver_get(m, o->id);
}

/* IoGetDeviceObjectPointer records the file object with the device in obj2 and the name it opened. */
static uint8_t ref_via(const struct model *m, const struct object *o, const struct tr_event *ev)
{
    const struct object *o2 = model_object(m, ev->obj2);
    if (o->type == OBT_OBJ_FILE && o2 && o2->type == OBT_OBJ_DEVICE && (ev->flags & OBT_EV_STRING))
        return VIA_DEVICE_POINTER;
    return VIA_NONE;
}

/*
 * An outer call whose reference was already counted when the call it made
 * inside was recorded (ObReferenceObjectByHandle, IoGetDeviceObjectPointer):
 * the reference is the outer call's; it takes over the inner entry.
 */
static bool ref_adopt_nested(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                             uint8_t op)
{
    if (ev->count < 0)
        return false;
    bool counted = op == OBT_OP_OBJ_REF ? o->nrefs >= (size_t)ev->count : o->nrefs <= (size_t)ev->count;
    if (!counted)
        return false;
    struct ring_ev *inner = ring_find_nested(m, t, op, o->id, ev->stack);
    if (!inner)
        return false;
    uint32_t tag = model_tag_is_explicit(ev->tag) ? ev->tag : 0;
    if (op == OBT_OP_OBJ_REF) {
        site_add(o, inner->stack, tag, -1, 0);
        site_add(o, ev->stack, tag, 1, 0);
        for (size_t i = o->nrefs; i-- > 0;) {
            struct ref_entry *e = &o->refs[i];
            if (e->seq != inner->seq)
                continue;
            e->seq = ev->seq;
            e->stack = ev->stack;
            e->op = ev->op;
            e->via = ref_via(m, o, ev);
            e->caller = stack_caller(m, ev->stack, ev->seq);
            break;
        }
    } else {
        site_add(o, inner->stack, tag, 0, -1);
        site_add(o, ev->stack, tag, 0, 1);
    }
    inner->seq = ev->seq; /* a later outer call finds the entry under its new seq */
    inner->stack = ev->stack;
    inner->claimed = false;
    return true;
}

static void on_ref(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    struct object *o2 = model_object(m, ev->obj2);
    if (o->type == OBT_OBJ_FILE && !o->file_device && o2 && o2->type == OBT_OBJ_DEVICE)
        o->file_device = o2->id;
    if (ref_adopt_nested(m, o, ev, t, OBT_OP_OBJ_REF))
        return;
    ref_push_as(o, ev, LBL_REF, 0, stack_caller(m, ev->stack, ev->seq));
    o->refs[o->nrefs - 1].via = ref_via(m, o, ev);
    site_add(o, ev->stack, model_tag_is_explicit(ev->tag) ? ev->tag : 0, 1, 0);
}

/*
 * IoQueueWorkItem(Ex) of item: the device reference the I/O manager took
 * inside the call (recorded just before it on this thread, its stack
 * nested in the call's) is this queue's, held for the item until the
 * routine returns (ref_pick_work_item_drop).
 */
static void on_workitem_queue(struct model *m, const struct object *item, const struct tr_event *ev,
                              struct thread_state *t)
{
    for (unsigned back = 0; back < RING; back++) {
        struct ring_ev *r = ring_at(t, back);
        struct object *dev = r->seq && r->op == OBT_OP_OBJ_REF && !r->claimed ? model_object(m, r->object) : NULL;
        if (!dev || dev->type != OBT_OBJ_DEVICE || !stack_nested(m, r->stack, ev->stack))
            continue;
        struct ref_entry *e = ref_at_seq(dev, r->seq);
        r->claimed = true;
        if (e) {
            e->via = VIA_WORKITEM;
            e->holder = item->id;
        }
        return;
    }
}

static void on_deref(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                     struct ring_ev *slot)
{
    if (ev->count > 0 && ref_adopt_nested(m, o, ev, t, OBT_OP_OBJ_DEREF)) {
        o->last_release = evref(ev);
        return;
    }
    site_add(o, ev->stack, model_tag_is_explicit(ev->tag) ? ev->tag : 0, 0, 1);
    if (ev->count < 0) {
        report_double_release(m, o, o->id, ev, o->last_release);
        return;
    }
    ref_release(m, o, ev, slot);
    o->last_release = evref(ev);
    if (ev->count == 0)
        object_freed(m, o, ev, t);
}

static void on_handle_open(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    o->handles = ev->count;
    struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_REF, o->id, ev->stack);
    if (inner)
        ref_relabel(o, inner, LBL_HANDLE, 0);
    else
        ref_push(o, ev, LBL_HANDLE, 0);
    if (o->type == OBT_OBJ_FILE && !o->opened.seq)
        o->opened = evref(ev);
}

/* Remembers a successful close of handle value ev->arg on o. */
static void note_handle_close(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct handle_close *c = &m->closes[m->closes_pos++ % HANDLE_CLOSES];
    c->handle = ev->arg;
    c->object = o->id;
    c->at = evref(ev);
}

/*
 * A close of a handle value that names no open handle (STATUS_INVALID_HANDLE):
 * when the same value was closed before, a double close of that object
 * (named by o_name, image: the image of the device it was opened on), else
 * a close of an unknown handle.
 */
static void report_unknown_close(struct model *m, const struct tr_event *ev)
{
    const struct handle_close *prev = NULL;
    for (size_t i = 0; i < HANDLE_CLOSES && i < m->closes_pos; i++) {
        const struct handle_close *c = &m->closes[(m->closes_pos - 1 - i) % HANDLE_CLOSES];
        if (c->handle == ev->arg && c->at.seq) {
            prev = c;
            break;
        }
    }
    const struct object *o = prev ? model_object(m, prev->object) : NULL;
    if (prev && !o)
        o = model_freed_object(m, prev->object);
    struct incident *inc = incident_add(m, INC_DOUBLE_RELEASE, NULL, prev ? prev->object : 0, ev);
    if (!inc)
        return;
    inc->arg = ev->arg;
    if (prev)
        inc->other = prev->at;
    if (!o)
        return;
    inc->object_type = o->type;
    const struct object *dev = o->file_device ? model_object(m, o->file_device) : NULL;
    if (!dev && o->file_device)
        dev = model_freed_object(m, o->file_device);
    const struct driver *d = dev && dev->owner ? model_driver(m, dev->owner) : NULL;
    const struct module *mod = d && d->image ? model_module(m, d->image) : NULL;
    char buf[400];
    if (!dev || !dev->name[0])
        return;
    snprintf(buf, sizeof(buf), "a file object on %s%s%s", dev->name, mod ? " of " : "",
             mod ? model_module_basename(mod) : "");
    free(inc->object_name);
    inc->object_name = xstrdup(buf);
    inc->image = mod ? mod->instance : 0;
}

static void on_handle_close(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                            struct ring_ev *slot)
{
    if (ev->count < 0 || o->handles <= 0 || ((ev->flags & OBT_EV_STATUS) && ev->status < 0)) {
        report_double_release(m, o, o->id, ev, o->last_release);
        return;
    }
    o->handles = ev->count;
    o->last_release = evref(ev);
    o->closes_since_count++;
    note_handle_close(m, o, ev);
    struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_DEREF, o->id, ev->stack);
    if (inner) {
        ref_repair(o, inner, LBL_HANDLE, 0);
        return;
    }
    long i = ref_find_label(o, LBL_HANDLE, 0);
    if (i >= 0) {
        slot->popped = ref_take(o, (size_t)i);
        slot->has_popped = true;
    }
}

static void on_dev_create(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    o->type = OBT_OBJ_DEVICE;
    if (!o->created.seq)
        o->created = evref(ev);
    struct object *obj2 = model_object(m, ev->obj2);
    if (!o->owner && obj2 && obj2->type == OBT_OBJ_DRIVER)
        o->owner = obj2->id;
    ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
    struct driver *d = driver_of(m, o);
    if (!d)
        return;
    d->devices_created++;
    if (t->adding_for && !o->added_for) { /* created in an AddDevice routine: the driver is PnP */
        o->added_for = t->adding_for;
        d->pnp = true;
    }
    struct ring_ev *inner = ring_find_nested(m, t, OBT_OP_OBJ_REF, d->id, ev->stack);
    if (inner)
        ref_relabel(model_object(m, d->id), inner, LBL_DEVICE, o->id);
}

/* Releases of o nested in a framework operation dropped its keep-alive/name references. */
static void repair_nested_keepalive(struct model *m, struct object *o, const struct tr_event *ev,
                                    struct thread_state *t)
{
    struct ring_ev *inner;
    while ((inner = ring_find_nested(m, t, OBT_OP_OBJ_DEREF, o->id, ev->stack)))
        ref_repair(o, inner, LBL_CREATE, 0);
}

/* IoDeleteDevice of o (live, or freed by that very call): an FDO's or filter's delete after its REMOVE. */
static void note_stack_device_deleted(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct driver *d = driver_of(m, o);
    if (d && o->removed && (o->attached_to || o->detached.seq))
        d->stack_device_deleted = evref(ev);
}

static void on_dev_delete(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t)
{
    if (o->delete_called) {
        report_double_release(m, o, o->id, ev, o->deleted);
        return;
    }
    o->delete_called = true;
    o->deleted = evref(ev);
    note_stack_device_deleted(m, o, ev);
    repair_nested_keepalive(m, o, ev, t);
    ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
    device_try_unlink(m, o, ev);
}

static void mark_pnp(struct model *m, const struct object *dev)
{
    struct driver *d = driver_of(m, dev);
    if (d && dev->type == OBT_OBJ_DEVICE)
        d->pnp = true;
}

static void on_attach(struct model *m, struct object *upper, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    struct object *lower = object_get(m, ev->obj2, OBT_OBJ_DEVICE);
    if (!lower)
        return;
    upper->attached_to = lower->id; /* a legacy driver may stack its own devices: PnP is what the PnP manager drives */
    upper->attached = evref(ev);
    lower->attached_above = upper->id;
    lower->was_above = upper->id;
}

static void on_detach(struct model *m, struct object *lower, const struct tr_event *ev, struct thread_state *t)
{
    struct object *upper = model_object(m, lower->attached_above);
    if (upper && upper->attached_to == lower->id) {
        upper->attached_to = 0;
        upper->detached = evref(ev);
    }
    lower->attached_above = 0;
    lower->upper_detached = evref(ev);
    repair_nested_keepalive(m, lower, ev, t);
    device_try_unlink(m, lower, ev);
}

static void on_open_ref(struct model *m, struct object *dev, const struct tr_event *ev, struct thread_state *t)
{
    dev->refcount = ev->count;
    struct object *file = model_object(m, ev->obj2);
    for (unsigned back = 0; !file && back < RING; back++) {
        struct ring_ev *r = ring_at(t, back);
        struct object *f = r->seq && r->op == OBT_OP_OBJ_CREATE ? model_object(m, r->object) : NULL;
        if (f && f->type == OBT_OBJ_FILE && !f->file_device)
            file = f;
    }
    if (file && file->type == OBT_OBJ_FILE)
        file->file_device = dev->id;
}

static void on_open_deref(struct model *m, struct object *dev, const struct tr_event *ev, struct thread_state *t)
{
    dev->refcount = ev->count;
    repair_nested_keepalive(m, dev, ev, t);
    device_try_unlink(m, dev, ev);
}

static void on_removed(struct model *m, struct object *dev, const struct tr_event *ev)
{
    dev->removed = true;
    mark_pnp(m, dev);
    struct driver *d = driver_of(m, dev);
    if (d)
        d->last_device_removed = ev->seq;
}

static void on_irp_call(struct model *m, struct object *o, const struct tr_event *ev)
{
    unsigned major = (unsigned)(ev->arg >> 8) & 0xff, minor = (unsigned)ev->arg & 0xff;
    if (o && o->type == OBT_OBJ_DEVICE && major == IRP_MJ_PNP_) {
        mark_pnp(m, o);
        if (minor == IRP_MN_REMOVE_DEVICE_) {
            on_removed(m, o, ev);
            o->remove_passed = evref(ev);
        }
    }
    if (o && (ev->flags & OBT_EV_STATUS) && ev->status == STATUS_PENDING_)
        o->pended = evref(ev);
    check_call_into_unloaded(m, o, ev);
}

/* ---- images and drivers ------------------------------------------------------------------------- */

/* The module an image/service event is about: the driver's image, else by path or service name. */
static struct module *module_for_event(struct model *m, const struct object *o, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_MODULE) && module_mut(m, ev->module))
        return module_mut(m, ev->module);
    struct driver *d = o ? driver_of(m, o) : NULL;
    if (d && d->image && module_mut(m, d->image))
        return module_mut(m, d->image);
    const char *s = model_string(m, ev->string);
    if (s) {
        struct module *mod = module_by_path(m, s);
        if (mod)
            return mod;
        char drvname[512];
        snprintf(drvname, sizeof(drvname), "\\Driver\\%s", strrchr(s, '\\') ? strrchr(s, '\\') + 1 : s);
        for (size_t i = 0; i < m->ndrivers; i++)
            if (!strcmp(m->drivers[i].name, drvname) && m->drivers[i].image)
                return module_mut(m, m->drivers[i].image);
    }
    return NULL;
}

/* What held the deleted devices of mod's driver when its reload was refused (the state is gone later). */
static void note_reload_holders(struct model *m, struct module *mod)
{
    for (size_t i = 0; i < m->objects.cap && mod->driver; i++) {
        const struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (!o || o->type != OBT_OBJ_DEVICE || o->owner != mod->driver || !o->delete_called)
            continue;
        for (size_t k = 0; k < o->nrefs && mod->nreload_holders < 4; k++) {
            if (o->refs[k].label != LBL_REF)
                continue;
            mod->reload_holder_objects[mod->nreload_holders] = o->id;
            mod->reload_holders[mod->nreload_holders++] = o->refs[k];
        }
    }
}

static void on_load_refused(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct module *mod = module_for_event(m, o, ev);
    if (mod && !mod->reload_refused.seq) {
        mod->reload_refused = evref(ev);
        mod->reload_status = ev->status;
        note_reload_holders(m, mod);
    }
}

static void on_image_unload(struct model *m, const struct object *o, const struct tr_event *ev)
{
    struct module *mod = module_for_event(m, o, ev);
    if (mod && !mod->unload_seq) {
        mod->unload_seq = ev->seq;
        cycles_note_unload(m, mod);
        check_pool_at_unload(m, mod);
    }
}

const struct module *model_stack_driver(const struct model *m, uint32_t stack, uint64_t seq)
{
    const struct stack *s = model_stack(m, stack);
    for (uint32_t i = 0; s && i < s->depth; i++) {
        const struct module *mod = model_module_at(m, s->frames[i], seq);
        if (mod && mod->is_driver)
            return mod;
    }
    return NULL;
}

/* Is addr code of the driver's own image (at seq)? */
static bool in_driver_image(const struct model *m, const struct driver *d, uint64_t addr, uint64_t seq)
{
    const struct module *mod = addr ? model_module_at(m, addr, seq) : NULL;
    return mod && d->image && mod->instance == d->image;
}

/*
 * Which routine is the driver's own and whether a routine of another module
 * replaced it, from the writes so far. A class library writes before the
 * driver's image is known (inside DriverEntry), so this is judged again
 * when DriverEntry returns.
 */
static void driver_judge_unload_writes(struct model *m, struct driver *d)
{
    if (!d->image)
        return;
    for (unsigned i = 0; i < d->nwrites; i++) {
        const struct unload_write *w = &d->writes[i];
        if (in_driver_image(m, d, w->routine, w->at.seq)) {
            d->own_unload = w->routine;
            d->unload_set = w->at;
            d->unload_replaced = (struct event_ref){ 0 };
        } else if (in_driver_image(m, d, w->old, w->at.seq) && !d->unload_replaced.seq) {
            d->own_unload = w->old;
            d->unload_replaced = w->at;
        }
    }
}

/* arg = the new routine, arg2 = the routine it replaces (IopNoteDriverUnloadWrite). */
static void on_unload_write(struct model *m, struct driver *d, const struct tr_event *ev)
{
    uint64_t old = (ev->flags & OBT_EV_ARG2) ? ev->arg2 : d->unload_routine;
    d->unload_routine = ev->arg;
    d->unload_written = true;
    if (d->nwrites < MAX_UNLOAD_WRITES)
        d->writes[d->nwrites++] = (struct unload_write){ .routine = ev->arg, .old = old, .at = evref(ev) };
    driver_judge_unload_writes(m, d);
}

static void on_notify(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                      bool reg)
{
    struct object *o2 = model_object(m, ev->obj2);
    struct object *r = o->type == OBT_OBJ_DRIVER ? o2 : o;
    struct object *drv = o->type == OBT_OBJ_DRIVER ? o : (o2 && o2->type == OBT_OBJ_DRIVER ? o2 : NULL);
    if (!r)
        return;
    if (!drv)
        drv = model_object(m, r->notify_driver ? r->notify_driver : r->owner);
    if (reg) {
        r->type = OBT_OBJ_NOTIFY;
        r->created = evref(ev);
        r->notify_driver = drv ? drv->id : 0;
        r->notify_category = (uint32_t)ev->arg;
        if (o2 && o2->type == OBT_OBJ_DEVICE)
            r->notify_target = o2->id;
        struct object *data = (ev->flags & OBT_EV_ARG2) ? model_object(m, (uint32_t)ev->arg2) : NULL;
        if (data && data->type == OBT_OBJ_FILE)
            r->notify_file = data->id;
        if (data && data->type == OBT_OBJ_FILE && data->file_device)
            r->notify_target = data->file_device;
        else if (data && data->type == OBT_OBJ_DEVICE)
            r->notify_target = data->id;
    }
    uint32_t ids[2] = { drv ? drv->id : 0, r->notify_target };
    for (int k = 0; k < 2; k++) {
        struct object *held = model_object(m, ids[k]);
        if (!held)
            continue;
        struct ring_ev *inner = ring_find_nested(m, t, reg ? OBT_OP_OBJ_REF : OBT_OP_OBJ_DEREF, held->id, ev->stack);
        if (inner && reg)
            ref_relabel(held, inner, LBL_NOTIFY, r->id);
        else if (inner)
            ref_repair(held, inner, LBL_NOTIFY, r->id);
        else if (held == o && ev->count >= 0)
            ref_reconcile(m, held, ev, ev->count, LBL_NOTIFY, r->id);
    }
    if (!reg)
        object_retire(m, r);
}

/* ---- locks, waits, pool ---------------------------------------------------------------------------- */

static uint64_t lock_tag(const struct tr_event *ev)
{
    return (ev->flags & OBT_EV_TAG) ? ev->tag : ev->arg;
}

static void on_lock_acquire(struct object *l, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    xgrow(&l->holds, &l->capholds, l->nholds + 1, sizeof(*l->holds));
    l->holds[l->nholds++] = (struct lock_hold){ .tag = lock_tag(ev), .at = evref(ev) };
}

static void on_lock_release(struct model *m, struct object *l, const struct tr_event *ev)
{
    uint64_t tag = lock_tag(ev);
    bool tagged = l->type == OBT_OBJ_REMLOCK;
    for (size_t i = l->nholds; i-- > 0;) {
        if (!tagged || l->holds[i].tag == tag) {
            memmove(&l->holds[i], &l->holds[i + 1], (l->nholds - i - 1) * sizeof(*l->holds));
            l->nholds--;
            return;
        }
    }
    struct incident *inc = incident_add(m, INC_LOCK_UNKNOWN_RELEASE, l, l->id, ev);
    if (inc)
        inc->arg = tag;
}

static void on_lock_wait(struct model *m, struct object *l, const struct tr_event *ev)
{
    if (ev->op == OBT_OP_REMLOCK_WAIT)
        on_lock_release(m, l, ev);
    if (ev->flags & OBT_EV_PRE) { /* recorded before the wait: it ends with WAIT_END, if ever */
        l->waiting = true;
        l->wait = evref(ev);
        return;
    }
    if ((ev->flags & OBT_EV_STATUS) && ev->status == STATUS_TIMEOUT_) {
        l->wait_stuck = true;
        l->waiting = true;
        l->wait = evref(ev);
    } else {
        l->waiting = false;
    }
}

static void check_pool_at_unload(struct model *m, const struct module *mod)
{
    struct collect { struct model *m; const struct module *mod; } c = { m, mod };
    struct object **live = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < m->objects.cap; i++) {
        struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->type == OBT_OBJ_POOL && o->image == c.mod->instance) {
            xgrow(&live, &cap, n + 1, sizeof(*live));
            live[n++] = o;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct incident *inc = incident_add(m, INC_POOL_LEAK, live[i], live[i]->id, NULL);
        if (inc) {
            inc->at = live[i]->created;
            inc->arg = live[i]->pool_bytes;
            inc->image = mod->instance;
            inc->object2 = live[i]->pool_tag;
            inc->other = (struct event_ref){ .seq = mod->unload_seq };
        }
        object_retire(m, live[i]);
    }
    free(live);
}

static void on_pool_alloc(struct model *m, struct object *p, const struct tr_event *ev)
{
    p->type = OBT_OBJ_POOL;
    p->created = evref(ev);
    p->pool_bytes = ev->arg;
    p->pool_tag = ev->tag;
    if (ev->flags & OBT_EV_MODULE)
        p->image = ev->module;
    if (!p->image) { /* charge it to the first driver image on the stack */
        const struct stack *s = model_stack(m, ev->stack);
        for (uint32_t i = 0; s && i < s->depth && !p->image; i++) {
            const struct module *mod = model_module_at(m, s->frames[i], ev->seq);
            if (mod && mod->is_driver)
                p->image = mod->instance;
        }
    }
}

/* The live object at address, else the most recently freed one there. */
static struct object *object_at_address(const struct model *m, uint64_t address)
{
    struct object *best = NULL;
    for (size_t i = 0; address && i < m->objects.cap; i++) {
        struct object *o = m->objects.keys[i] ? m->objects.values[i] : NULL;
        if (o && o->address == address && (!best || o->id > best->id))
            best = o;
    }
    return best;
}

static const struct object *freed_at_address(const struct model *m, uint64_t address)
{
    const struct object *best = NULL;
    for (size_t i = 0; address && m->freed_ring && i < FREED_RING; i++) {
        const struct object *o = &m->freed_ring[i];
        if (o->id && o->address == address && (!best || o->last_release.seq > best->last_release.seq))
            best = o;
    }
    return best;
}

/*
 * The part of stack below the frame at addr (a fault in code that is gone:
 * that frame is the address called, not a return address, and the frame
 * after it is the caller), as a new stack; stack itself when addr is not on it.
 */
static uint32_t stack_from_caller_of(struct model *m, uint32_t stack, uint64_t addr)
{
    const struct stack *s = model_stack(m, stack);
    for (uint32_t i = 0; s && addr && i + 1 < s->depth; i++) {
        if (s->frames[i] != addr)
            continue;
        uint32_t depth = s->depth - i - 1;
        struct stack *d = xmalloc(sizeof(*d) + depth * sizeof(uint64_t));
        d->id = DERIVED_STACK_BASE + m->derived_stacks++;
        d->depth = depth;
        memcpy(d->frames, s->frames + i + 1, depth * sizeof(uint64_t));
        idmap_put(&m->stacks, d->id, d);
        return d->id;
    }
    return stack;
}

static void on_bugcheck(struct model *m, struct object *o, const struct tr_event *ev)
{
    if (!o && (ev->flags & OBT_EV_ARG2))
        o = object_at_address(m, ev->arg2);
    if (!o && ev->arg == BUGCHECK_REFERENCE_BY_POINTER && (ev->flags & OBT_EV_ARG2)) {
        const struct object *f = freed_at_address(m, ev->arg2);
        if (f) {
            m->bugcheck = evref(ev);
            m->bugcheck_code = ev->arg;
            m->bugcheck_object = f->id;
            m->bugcheck_explained = true;
            report_double_release(m, f, f->id, ev, f->last_release);
            return;
        }
    }
    m->bugcheck = evref(ev);
    m->bugcheck_code = ev->arg;
    m->bugcheck_object = ev->object;
    if (ev->arg == BUGCHECK_REFERENCE_BY_POINTER) {
        report_double_release(m, o, ev->object, ev, o ? o->last_release : (struct event_ref){ 0 });
        m->bugcheck_explained = true;
    } else if (ev->arg == BUGCHECK_DRIVER_UNLOADED_PENDING) {
        struct incident *inc = incident_add(m, INC_CALL_INTO_UNLOADED, o, ev->object, ev);
        if (inc) {
            inc->arg = ev->arg;
            inc->addr = ev->arg2;
            inc->at.stack = stack_from_caller_of(m, ev->stack, ev->arg2);
            const struct module *mod = model_module_at(m, ev->arg2, ev->seq);
            inc->image = mod ? mod->instance : 0;
        }
        m->bugcheck_explained = true;
    } else {
        struct incident *inc = incident_add(m, INC_BUGCHECK, o, ev->object, ev);
        if (inc)
            inc->arg = ev->arg;
    }
}

/* IopNoteInterfaceHandedOut: obj = the device asked, obj2 = the device that answered, string = the GUID. */
static void on_interface(struct model *m, struct object *target, const struct tr_event *ev)
{
    if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
        return;
    struct object *exporter = model_object(m, ev->obj2);
    if (!exporter)
        exporter = target;
    struct driver *d = driver_of(m, exporter);
    const struct module *importer = NULL; /* the outermost driver frame: the driver that sent the query */
    const struct stack *st = model_stack(m, ev->stack);
    for (uint32_t i = 0; st && i < st->depth; i++) {
        const struct module *mod = model_module_at(m, st->frames[i], ev->seq);
        if (mod && mod->is_driver)
            importer = mod;
    }
    xgrow(&m->ifaces, &m->capifaces, m->nifaces + 1, sizeof(*m->ifaces));
    m->ifaces[m->nifaces++] = (struct iface){
        .exporter = exporter->id, .requester = target->id, .exporter_image = d ? d->image : exporter->image,
        .importer_image = importer ? importer->instance : 0, .guid = ev->string,
        .noop = (ev->arg & OBT_IFACE_NOOP_REFS) != 0, .at = evref(ev), .arg = ev->arg,
    };
}

const struct host_action *model_action_at(const struct model *m, uint64_t seq)
{
    size_t lo = 0, hi = m->nactions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->actions[mid].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &m->actions[lo - 1] : NULL;
}

char *model_mark_label(const struct model *m, const struct host_action *a, char *buf, size_t len)
{
    const char *where = model_string(m, a->where), *what = model_string(m, a->what);
    const char *slash = where ? strrchr(where, '/') : NULL;
    snprintf(buf, len, "%s  %s", slash ? slash + 1 : where ? where : "?", what ? what : "");
    return buf;
}

/* The latest action recorded on thread tid, NULL when none. */
static const struct host_action *latest_action_of(const struct model *m, uint32_t tid)
{
    for (size_t i = m->nactions; i-- > 0;)
        if (m->actions[i].tid == tid)
            return &m->actions[i];
    return NULL;
}

/* HOST_ACTION: a mark (string = where) or a request (no string, a stack); see struct host_action. */
static void on_host_action(struct model *m, const struct tr_event *ev)
{
    bool request = !(ev->flags & OBT_EV_STRING) && ev->stack;
    const struct host_action *last = request ? latest_action_of(m, ev->tid) : NULL;
    if (last && last->where) /* part of the marked action under way */
        return;
    xgrow(&m->actions, &m->capactions, m->nactions + 1, sizeof(*m->actions));
    m->actions[m->nactions++] = (struct host_action){
        .seq = ev->seq, .where = ev->string, .what = (ev->flags & OBT_EV_ARG) ? (uint32_t)ev->arg : 0,
        .stack = request ? ev->stack : 0, .tid = ev->tid,
    };
}

/* PipNotePnpIrpSent: obj = a device of the stack, obj2 = the PDO, arg = minor | parameter << 32. */
static void on_pnp_irp_sent(struct model *m, struct object *dev, const struct tr_event *ev)
{
    unsigned minor = (unsigned)(ev->arg & 0xff);
    struct object *pdo = model_object(m, ev->obj2);
    mark_pnp(m, dev);
    if (pdo) {
        pdo->is_pdo = true;
        if (minor == IRP_MN_QUERY_REMOVE_DEVICE_)
            pdo->query_remove = evref(ev);
        if (minor == IRP_MN_SURPRISE_REMOVAL_)
            pdo->surprise = evref(ev);
    }
    if (minor == IRP_MN_SURPRISE_REMOVAL_)
        dev->surprise = evref(ev);
    if (minor == IRP_MN_REMOVE_DEVICE_)
        on_removed(m, dev, ev);
}

/* PipNoteVeto: obj = the device blamed, obj2 = the PDO, arg = PNP_VETO_TYPE, string = who vetoed. */
static void on_veto(struct model *m, struct object *dev, const struct tr_event *ev)
{
    struct object *pdo = model_object(m, ev->obj2);
    struct object *targets[2] = { dev, pdo };
    for (int k = 0; k < 2; k++) {
        if (!targets[k])
            continue;
        targets[k]->veto = evref(ev);
        targets[k]->veto_type = (uint32_t)ev->arg;
        targets[k]->veto_string = ev->string;
        targets[k]->veto_device = dev ? dev->id : 0;
    }
}

/*
 * While a devnode is DeviceNodeInitialized the PnP manager, on this thread,
 * calls the AddDevice routines of its drivers: devices created meanwhile
 * are theirs for that PDO (t->adding_for).
 */
static void on_devnode_state(struct object *pdo, const struct tr_event *ev, struct thread_state *t)
{
    if ((uint32_t)ev->arg == DEVNODE_INITIALIZED_)
        t->adding_for = pdo->id;
    else if (t->adding_for == pdo->id)
        t->adding_for = 0;
    pdo->is_pdo = true;
    pdo->devnode_state = (uint32_t)ev->arg;
    if (ev->string)
        pdo->instance = ev->string;
}

/* ---- event dispatch ------------------------------------------------------------------------------------ */

/*
 * A release whose count says it took effect before the last count the
 * trace reported for o, by another thread: the tracer records an event
 * after the call returned, so a thread preempted in between records its
 * release after a later one (a work item's drop after the DriverUnload it
 * signalled, say). A release never raises the pointer count; on a freed
 * object (last count 0) any positive count is such a late record.
 */
static bool release_recorded_late(const struct object *o, const struct tr_event *ev)
{
    return ev->op == OBT_OP_OBJ_DEREF && o->last_count_tid && o->last_count_tid != ev->tid &&
           ev->count >= o->last_count && ev->count > 0;
}

/* Events on an object that is already gone: releases are double releases, the rest is ignored. */
static void on_freed_object(struct model *m, const struct tr_event *ev, struct ring_ev *slot)
{
    struct object *f = (struct object *)model_freed_object(m, ev->object);
    if (release_recorded_late(f, ev)) {
        ref_release(m, f, ev, slot);
        return;
    }
    switch (ev->op) {
    case OBT_OP_DEV_DELETE:
        if (!f->delete_called) { /* the delete itself freed it: recorded after it returned */
            f->delete_called = true;
            f->deleted = evref(ev);
            note_stack_device_deleted(m, f, ev);
            break;
        }
        report_double_release(m, f, ev->object, ev, f->deleted);
        break;
    case OBT_OP_HANDLE_CLOSE:
        if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
            report_double_release(m, f, ev->object, ev, f->last_release);
        else
            note_handle_close(m, f, ev); /* the close dropped the last reference */
        break;
    case OBT_OP_OBJ_DEREF:
    case OBT_OP_POOL_FREE:
        report_double_release(m, f, ev->object, ev, f->last_release.seq ? f->last_release : f->deleted);
        break;
    case OBT_OP_WORKITEM_RUN:
    case OBT_OP_IRP_CALL:
        check_call_into_unloaded(m, f, ev);
        break;
    case OBT_OP_BUGCHECK:
        on_bugcheck(m, NULL, ev);
        break;
    }
}

/* The driver of a service: "...\\Services\\<name>" -> \\Driver\\<name>. */
static struct driver *driver_by_service(struct model *m, const char *service)
{
    if (!service)
        return NULL;
    const char *base = strrchr(service, '\\') ? strrchr(service, '\\') + 1 : service;
    char name[512];
    snprintf(name, sizeof(name), "\\Driver\\%s", base);
    for (size_t i = m->ndrivers; i-- > 0;)
        if (!strcasecmp(m->drivers[i].name, name))
            return &m->drivers[i];
    return NULL;
}

static void dispatch_driver_ops(struct model *m, struct object *o, const struct tr_event *ev)
{
    struct driver *d = o ? driver_of(m, o) : driver_by_service(m, model_string(m, ev->string));
    if (!d)
        return;
    switch (ev->op) {
    case OBT_OP_DRIVER_ENTRY:
        d->entry = evref(ev);
        d->entry_status = ev->status;
        if (ev->flags & OBT_EV_ARG2)
            d->driver_init = ev->arg2;
        if (ev->flags & OBT_EV_MODULE)
            driver_set_image(m, d, ev->module);
        if (d->image && module_mut(m, d->image) && !module_mut(m, d->image)->entry_seq)
            module_mut(m, d->image)->entry_seq = ev->seq;
        if (ev->flags & OBT_EV_ARG) {
            d->unload_routine = ev->arg;
            d->unload_written = true;
            if (ev->arg && !d->own_unload) {
                const struct module *mod = model_module_at(m, ev->arg, ev->seq);
                if (mod && mod->instance == d->image)
                    d->own_unload = ev->arg;
            }
        }
        driver_judge_unload_writes(m, d);
        break;
    case OBT_OP_DRIVER_UNLOAD:
        d->unload = evref(ev);
        d->unload_called = ev->arg;
        break;
    case OBT_OP_UNLOAD_WRITE:
        on_unload_write(m, d, ev);
        break;
    case OBT_OP_SERVICE_STOP:
        d->stop = evref(ev);
        d->stop_status = ev->status;
        d->nstops++;
        if (ev->status == STATUS_INVALID_DEVICE_REQUEST_ && d->unload_routine)
            d->pnp = true; /* ZwUnloadDriver refuses a PnP driver that has an unload routine */
        break;
    }
}

/* ---- symbolic links, failed driver initialization ------------------------------------------------ */

/* The module of the direct caller of the call recorded with stack (its innermost frame), mutable; NULL if none. */
static struct module *caller_module(struct model *m, uint32_t stack, uint64_t seq)
{
    const struct stack *s = model_stack(m, stack);
    const struct module *mod = s && s->depth ? model_module_at(m, s->frames[0], seq) : NULL;
    return mod ? module_mut(m, mod->instance) : NULL;
}

/* The index of the live link named like string id name (names compare case-insensitively); -1 if none. */
static long link_find(const struct model *m, uint32_t name)
{
    const char *want = model_string(m, name);
    for (size_t i = m->nlinks; want && i-- > 0;) {
        const char *have = model_string(m, m->links[i].name);
        if (have && !strcasecmp(have, want))
            return (long)i;
    }
    return -1;
}

/* IoCreateSymbolicLink / IoDeleteSymbolicLink (string = the link): keeps the list of live links. */
static void on_symlink(struct model *m, const struct tr_event *ev)
{
    if (!(ev->flags & OBT_EV_STRING) || ((ev->flags & OBT_EV_STATUS) && ev->status < 0))
        return;
    long i = link_find(m, ev->string);
    if (ev->op == OBT_OP_SYMLINK_DELETE) {
        if (i >= 0)
            m->links[i] = m->links[--m->nlinks];
        return;
    }
    const struct module *mod = caller_module(m, ev->stack, ev->seq);
    xgrow(&m->links, &m->caplinks, m->nlinks + 1, sizeof(*m->links));
    m->links[m->nlinks++] = (struct symlink){ .name = ev->string, .image = mod ? mod->instance : 0, .at = evref(ev) };
}

/*
 * A call that failed, made directly by an image whose DriverEntry has not
 * returned yet: remembered as why the initialization may have failed (with,
 * for IoCreateSymbolicLink, the live link it collided with).
 */
static void note_init_failure(struct model *m, const struct tr_event *ev)
{
    if (!(ev->flags & OBT_EV_STATUS) || ev->status >= 0)
        return;
    struct module *mod = caller_module(m, ev->stack, ev->seq);
    if (!mod || mod->entry_seq || mod->unload_seq)
        return;
    mod->init_failure = evref(ev);
    mod->init_failure_status = ev->status;
    mod->init_failure_string = (ev->flags & OBT_EV_STRING) ? ev->string : 0;
    long i = ev->op == OBT_OP_SYMLINK_CREATE && (ev->flags & OBT_EV_STRING) ? link_find(m, ev->string) : -1;
    mod->collided = i >= 0 ? m->links[i] : (struct symlink){ 0 };
}

/* A call that failed changed nothing (a failed close of a handle is a double release, reported first). */
static bool failed_call(const struct tr_event *ev)
{
    if (!(ev->flags & OBT_EV_STATUS) || ev->status >= 0)
        return false;
    switch (ev->op) {
    case OBT_OP_OBJ_CREATE:
    case OBT_OP_OBJ_REF:
    case OBT_OP_HANDLE_OPEN:
    case OBT_OP_DEV_CREATE:
    case OBT_OP_DEV_ATTACH:
    case OBT_OP_NOTIFY_REGISTER:
    case OBT_OP_NOTIFY_UNREGISTER:
    case OBT_OP_SHUTDOWN_REGISTER:
    case OBT_OP_REMLOCK_ACQUIRE:
    case OBT_OP_RUNDOWN_ACQUIRE:
        return true;
    }
    return false;
}

static void apply_event(struct model *m, const struct tr_event *ev)
{
    m->events++;
    m->last_seq = ev->seq;
    struct thread_state *t = thread_of(m, ev->tid);
    struct ring_ev slot = { .seq = ev->seq, .object = ev->object, .stack = ev->stack, .op = ev->op };
    struct object *o = object_get(m, ev->object, ev->obj_type);
    if (!o && ev->object && model_freed_object(m, ev->object) && ev->op != OBT_OP_OBJ_CREATE) {
        on_freed_object(m, ev, &slot);
        goto done;
    }
    if (!o && ev->object)
        o = object_new(m, ev->object, ev->obj_type); /* a freed id created again: trust the trace */
    if (o && o->type == OBT_OBJ_NONE)
        o->type = ev->obj_type;
    note_init_failure(m, ev);
    if (failed_call(ev))
        goto done;
    if (o && ev->op != OBT_OP_HANDLE_OPEN && ev->op != OBT_OP_HANDLE_CLOSE &&
        !strcmp(tr_op_count_meaning(ev->op), "pointer") && !release_recorded_late(o, ev)) {
        o->last_count = ev->count;
        o->last_count_tid = ev->tid;
        o->closes_since_count = 0;
    }
    switch (ev->op) {
    case OBT_OP_OBJ_CREATE: if (o) on_create(m, o, ev, t); break;
    case OBT_OP_OBJ_REF: if (o) on_ref(m, o, ev, t); break;
    case OBT_OP_OBJ_DEREF: if (o) on_deref(m, o, ev, t, &slot); break;
    case OBT_OP_OBJ_MAKE_TEMPORARY:
        if (o) {
            o->temporary = evref(ev);
            ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
        }
        break;
    case OBT_OP_HANDLE_OPEN: if (o) on_handle_open(m, o, ev, t); break;
    case OBT_OP_HANDLE_CLOSE:
        if (o)
            on_handle_close(m, o, ev, t, &slot);
        else if ((ev->flags & OBT_EV_STATUS) && ev->status < 0)
            report_unknown_close(m, ev);
        break;
    case OBT_OP_DEV_CREATE: if (o) on_dev_create(m, o, ev, t); break;
    case OBT_OP_DEV_DELETE: if (o) on_dev_delete(m, o, ev, t); break;
    case OBT_OP_DEV_ATTACH: if (o) on_attach(m, o, ev); break;
    case OBT_OP_DEV_DETACH: if (o) on_detach(m, o, ev, t); break;
    case OBT_OP_DEV_OPEN_REF: if (o) on_open_ref(m, o, ev, t); break;
    case OBT_OP_DEV_OPEN_DEREF: if (o) on_open_deref(m, o, ev, t); break;
    case OBT_OP_IRP_CALL: on_irp_call(m, o, ev); break;
    case OBT_OP_IRP_COMPLETE:
        if (o && ev->arg == ((uint64_t)IRP_MJ_PNP_ << 8 | IRP_MN_REMOVE_DEVICE_))
            o->remove_completed = evref(ev);
        break;
    case OBT_OP_WORKITEM_ALLOC:
        if (o) {
            o->created = evref(ev);
            o->owner = o->owner ? o->owner : ev->obj2;
        }
        break;
    case OBT_OP_WORKITEM_QUEUE: if (o) on_workitem_queue(m, o, ev, t); break;
    case OBT_OP_WORKITEM_FREE: if (o) object_retire(m, o); break;
    case OBT_OP_SHUTDOWN_REGISTER:
    case OBT_OP_SHUTDOWN_UNREGISTER:
        if (o)
            ref_reconcile(m, o, ev, ev->count, LBL_CREATE, 0);
        break;
    case OBT_OP_IMAGE_LOAD:
    case OBT_OP_SERVICE_START:
        if ((ev->flags & OBT_EV_STATUS) && ev->status == STATUS_IMAGE_ALREADY_LOADED_)
            on_load_refused(m, o, ev);
        break;
    case OBT_OP_IMAGE_UNLOAD: on_image_unload(m, o, ev); break;
    case OBT_OP_DRIVER_ENTRY:
    case OBT_OP_DRIVER_UNLOAD:
    case OBT_OP_UNLOAD_WRITE:
    case OBT_OP_SERVICE_STOP:
        dispatch_driver_ops(m, o, ev);
        break;
    case OBT_OP_POOL_ALLOC: if (o) on_pool_alloc(m, o, ev); break;
    case OBT_OP_POOL_FREE: if (o) object_retire(m, o); break;
    case OBT_OP_WORKITEM_RUN:
        check_call_into_unloaded(m, o, ev);
        t->running_item = o ? o->id : 0;
        t->running_device = ev->obj2;
        break;
    case OBT_OP_WAIT_BEGIN:
        if (o) {
            o->waiting = true;
            o->wait = evref(ev);
        }
        break;
    case OBT_OP_WAIT_END:
        if (o)
            o->waiting = o->wait_stuck = false;
        break;
    case OBT_OP_WAIT_STUCK:
        if (o) {
            o->wait_stuck = o->waiting = true;
            if (!o->wait.seq)
                o->wait = evref(ev);
        }
        break;
    case OBT_OP_BUGCHECK: on_bugcheck(m, o, ev); break;
    case OBT_OP_NOTIFY_REGISTER: if (o) on_notify(m, o, ev, t, true); break;
    case OBT_OP_NOTIFY_UNREGISTER: if (o) on_notify(m, o, ev, t, false); break;
    case OBT_OP_REMLOCK_ACQUIRE:
    case OBT_OP_RUNDOWN_ACQUIRE:
        if (o) on_lock_acquire(o, ev);
        break;
    case OBT_OP_REMLOCK_RELEASE:
    case OBT_OP_RUNDOWN_RELEASE:
        if (o) on_lock_release(m, o, ev);
        break;
    case OBT_OP_REMLOCK_WAIT:
    case OBT_OP_RUNDOWN_WAIT:
        if (o) on_lock_wait(m, o, ev);
        break;
    case OBT_OP_INTERFACE_QUERY: if (o) on_interface(m, o, ev); break;
    case OBT_OP_PNP_EVENT:
        if (o && o->type == OBT_OBJ_DEVICE)
            on_pnp_irp_sent(m, o, ev);
        break;
    case OBT_OP_VETO: on_veto(m, o, ev); break;
    case OBT_OP_DEVNODE_STATE: if (o) on_devnode_state(o, ev, t); break;
    case OBT_OP_PNP_IRP_DONE:
        if (o && (ev->arg & 0xff) == IRP_MN_REMOVE_DEVICE_)
            o->remove_done = true;
        break;
    case OBT_OP_HOST_ACTION: on_host_action(m, ev); break;
    case OBT_OP_SYMLINK_CREATE:
    case OBT_OP_SYMLINK_DELETE:
        on_symlink(m, ev);
        break;
    }
done:
    t->ring[t->pos] = slot;
    t->pos = (t->pos + 1) % RING;
    if (m->event_hook)
        m->event_hook(m, ev, m->hook_ctx);
}

/* ---- non-event records -------------------------------------------------------------------------------------- */

static void apply_object(struct model *m, const struct tr_object *r)
{
    if (!r->id || model_freed_object(m, r->id))
        return;
    struct object *o = object_get(m, r->id, r->type);
    o->type = r->type ? r->type : o->type;
    o->address = r->address;
    o->owner = r->owner;
    o->image = r->image;
    free(o->name);
    o->name = xstrdup(r->name);
    if (o->type == OBT_OBJ_DRIVER) {
        struct driver *d = driver_get(m, o->id);
        free(d->name);
        d->name = xstrdup(r->name);
        driver_set_image(m, d, r->image);
    }
}

static void apply_stack(struct model *m, const struct tr_stack *r)
{
    if (idmap_get(&m->stacks, r->id))
        return;
    struct stack *s = xmalloc(sizeof(*s) + r->depth * sizeof(uint64_t));
    s->id = r->id;
    s->depth = r->depth;
    memcpy(s->frames, r->frames, r->depth * sizeof(uint64_t));
    idmap_put(&m->stacks, r->id, s);
}

static void apply_module_load(struct model *m, const struct tr_module_load *r, uint64_t seq)
{
    xgrow(&m->modules, &m->capmodules, m->nmodules + 1, sizeof(*m->modules));
    struct module *mod = &m->modules[m->nmodules++];
    memset(mod, 0, sizeof(*mod));
    mod->instance = r->instance;
    mod->path = xstrdup(r->path);
    mod->base = r->base;
    mod->start = r->start;
    mod->end = r->end;
    mod->build_id_len = r->build_id_len < sizeof(mod->build_id) ? r->build_id_len : sizeof(mod->build_id);
    memcpy(mod->build_id, r->build_id, mod->build_id_len);
    mod->load_seq = seq;
    for (size_t i = 0; i < m->ndrivers; i++) /* a driver object seen before its image record */
        if (m->drivers[i].image == r->instance)
            driver_set_image(m, &m->drivers[i], r->instance);
}

static void apply_module_unload(struct model *m, const struct tr_module_unload *r, uint64_t seq)
{
    struct module *mod = module_mut(m, r->instance);
    if (!mod || mod->unload_seq)
        return;
    mod->unload_seq = seq ? seq : 1;
    if (mod->is_driver) {
        cycles_note_unload(m, mod);
        check_pool_at_unload(m, mod);
    }
}

void model_apply(struct model *m, const struct tr_record *rec)
{
    switch (rec->type) {
    case OBT_REC_EVENT: apply_event(m, &rec->u.ev); break;
    case OBT_REC_STACK: apply_stack(m, &rec->u.stack); break;
    case OBT_REC_MODULE_LOAD: apply_module_load(m, &rec->u.mload, rec->seq); break;
    case OBT_REC_MODULE_UNLOAD: apply_module_unload(m, &rec->u.munload, rec->seq); break;
    case OBT_REC_OBJECT: apply_object(m, &rec->u.object); break;
    case OBT_REC_STRING:
        if (!idmap_get(&m->strings, rec->u.string.id))
            idmap_put(&m->strings, rec->u.string.id, xstrdup(rec->u.string.text));
        break;
    case OBT_REC_DROPPED:
        m->dropped += rec->u.dropped.count;
        m->dropped_records++;
        break;
    case OBT_REC_END:
        m->saw_end = true;
        m->end_events = rec->u.end.events;
        m->end_dropped = rec->u.end.dropped;
        m->end_failures = rec->u.end.failures;
        break;
    }
}

const char *model_string(const struct model *m, uint32_t id)
{
    return id ? idmap_get(&m->strings, id) : NULL;
}

void model_set_damage(struct model *m, const char *damage)
{
    free(m->damage);
    m->damage = damage ? xstrdup(damage) : NULL;
}

/* True when rec belongs to the trace up to event until: other records carry the seq of the event before them. */
static bool record_before(const struct tr_record *rec, uint64_t until)
{
    if (until == UINT64_MAX || rec->type == OBT_REC_END || rec->type == OBT_REC_DROPPED)
        return true;
    return rec->type == OBT_REC_EVENT ? rec->seq <= until : rec->seq < until;
}

void model_note_header(struct model *m, const struct tr_header *h)
{
    char text[160];
    free(m->cut_short);
    m->cut_short = NULL;
    if (!(h->flags & OBT_FILE_OUT_OF_SPACE))
        return;
    snprintf(text, sizeof(text), "the file system refused the trace more space (%s); the events after that were lost",
             strerror(h->space_errno ? (int)h->space_errno : ENOSPC));
    m->cut_short = xstrdup(text);
}

const char *model_incomplete_reason(const struct model *m, const char *fallback)
{
    return m->damage ? m->damage : m->cut_short ? m->cut_short : fallback;
}

int model_load_until(struct model *m, const char *path, uint64_t until, char *err, size_t errlen)
{
    struct trace_reader *r;
    if (trace_reader_open(&r, path, 0, err, errlen) < 0)
        return -1;
    model_note_header(m, trace_reader_header(r));
    struct tr_record rec;
    while (trace_reader_next(r, &rec))
        if (record_before(&rec, until))
            model_apply(m, &rec);
    model_set_damage(m, trace_reader_damage(r));
    trace_reader_free(r);
    return 0;
}

int model_load(struct model *m, const char *path, char *err, size_t errlen)
{
    return model_load_until(m, path, UINT64_MAX, err, errlen);
}

/* ---- lifetime ----------------------------------------------------------------------------------------------- */

void model_init(struct model *m)
{
    memset(m, 0, sizeof(*m));
    idmap_init(&m->objects);
    idmap_init(&m->stacks);
    idmap_init(&m->strings);
    idmap_init(&m->freed_index);
}

static void free_object(void *v, void *ctx)
{
    (void)ctx;
    struct object *o = v;
    object_free_contents(o);
    free(o->name);
    free(o);
}

static void free_plain(void *v, void *ctx)
{
    (void)ctx;
    free(v);
}

void model_release(struct model *m)
{
    idmap_each(&m->objects, free_object, NULL);
    idmap_each(&m->stacks, free_plain, NULL);
    idmap_each(&m->strings, free_plain, NULL);
    idmap_release(&m->objects);
    idmap_release(&m->stacks);
    idmap_release(&m->strings);
    idmap_release(&m->freed_index);
    for (size_t i = 0; m->freed_ring && i < FREED_RING; i++)
        free(m->freed_ring[i].name);
    free(m->freed_ring);
    free(m->links);
    for (size_t i = 0; i < m->ndrivers; i++)
        free(m->drivers[i].name);
    free(m->drivers);
    for (size_t i = 0; i < m->nmodules; i++)
        free(m->modules[i].path);
    free(m->modules);
    for (size_t i = 0; i < m->nincidents; i++) {
        free(m->incidents[i].object_name);
        free(m->incidents[i].text);
    }
    free(m->incidents);
    free(m->ifaces);
    free(m->cycles);
    free(m->actions);
    free(m->threads);
    free(m->damage);
    free(m->cut_short);
    free(m->sim_cache);
    memset(m, 0, sizeof(*m));
}
