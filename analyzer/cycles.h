/*
 * cycles.h - load/unload cycles of one image and what each left behind.
 *
 * A driver test loads and unloads its driver many times. Every unload of
 * a driver image's instance ends a cycle; at that moment the model is
 * asked what the instance leaves behind that nothing can release any more:
 * references and handles its code took on objects that are still live,
 * pool it never freed, symbolic links it never deleted. The same count
 * over every earlier instance of the image says whether the leftovers
 * accumulate. The rule that reads these (cycle-leak) and the renderers
 * see the cycles in trace order, one per unloaded instance.
 */
#ifndef OBTRACE_CYCLES_H
#define OBTRACE_CYCLES_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "report.h"

/* What a cycle left behind, by kind. */
struct leftovers {
    uint32_t refs;    /* pointer references on live objects */
    uint32_t handles; /* kernel handles still open */
    uint32_t pool;    /* pool blocks never freed */
    uint32_t links;   /* symbolic links never deleted */
};

/* One load/unload cycle: a module instance of a driver image, from its load to its unload. */
struct cycle {
    uint32_t instance;          /* the module instance */
    uint32_t number;            /* 1 for the image's first cycle in the trace, 2 for the next ... */
    uint64_t load_seq, unload_seq; /* its DriverEntry's return (else the module record), its unload */
    struct leftovers left;      /* left behind by this instance */
    struct leftovers total;     /* still outstanding at its unload, left by this and every earlier instance */
    struct event_ref first;     /* the event that took the first thing this instance left behind */
    uint32_t first_object;      /* what it was taken on (0 for pool and links) */
    uint32_t settle_tid;        /* while refs_pending: the unloading thread */
    uint64_t settle_from;       /* while refs_pending: not counted before the event of this seq */
    uint64_t settle_by;         /* while refs_pending: counted at the event of this seq at the latest (0: none) */
    bool refs_pending;          /* references and handles not counted yet (cycles_settle) */
};

/*
 * Records the cycle that mod's unload ends (called by the model when the
 * unload is seen, before the unload's own bookkeeping retires anything).
 * Only driver images have cycles. Pool and links are counted at once; the
 * references and handles only once the call that unloaded the image has
 * returned: the unload happens inside a dereference whose record (written
 * when the call returns) comes after the unload's, so the thread's
 * dereference records that follow still belong before it. tid is the
 * unloading thread (OBT_CYCLE_ANY_THREAD: not known yet; the image's next
 * IMAGE_UNLOAD event names it, or a later load, unload or the end of the
 * trace counts the cycle); from is the first event
 * seq at which the unload had happened (a module record is read where its
 * writer's stream was, which can be before events issued earlier; 0: now).
 */
#define OBT_CYCLE_ANY_THREAD UINT32_MAX
void cycles_note_unload(struct model *m, const struct module *mod, uint32_t tid, uint64_t from);

/*
 * Something (a new mapping) was observed when the next event seq was seq:
 * the waiting cycle's unloading call had returned by then, so it is
 * counted at the first event of that seq or later at the latest.
 */
void cycles_settle_by(struct model *m, uint64_t seq);

/*
 * Counts the references and handles of a cycle still waiting for its
 * unloading call to return, when ev shows it has: ev is about to be
 * applied, from the unloading thread, and is not the release of an
 * enclosing call. Called by the model before every event.
 */
void cycles_settle(struct model *m, const struct tr_event *ev);

/* Counts a waiting cycle now (another unload, or the end of the trace). */
void cycles_flush(struct model *m);

/* Total count of a cycle's leftovers of every kind. */
uint32_t leftovers_sum(const struct leftovers *l);

/*
 * The cycle-leak rule: for each image whose instances were unloaded at
 * least twice and left something behind in two or more of those cycles,
 * a global finding that lists every cycle's leftovers and whether they
 * grow, with the site of the first.
 */
void rules_cycles(const struct model *m, struct report *r);

/* True when some image went through two load/unload cycles or more (renderers list the cycles then). */
bool cycles_repeated(const struct model *m);

#endif /* OBTRACE_CYCLES_H */
