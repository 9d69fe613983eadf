/*
 * tracer.h - libobtrace's core: the process-wide tracer state and what the
 * interposers call to record an event.
 *
 * An interposer brackets its forwarded call with obt_call_begin /
 * obt_call_forward / obt_call_resume / obt_call_end (and, between the
 * last two, obt_call_capture for the libunwind stack). The thread-local
 * guard is set only while tracer code runs, not while the real function
 * runs: a libntsim function the framework calls from inside a traced call
 * through its exported symbol is traced as its own event, while anything
 * the tracer itself calls (NtsimQueryObject, the canary) is not.
 */
#ifndef OBTRACE_TRACER_H
#define OBTRACE_TRACER_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "intern.h"
#include "modules.h"
#include "unwind.h"
#include "writer.h"

enum obt_state { OBT_DORMANT = 0, OBT_RUNNING = 1, OBT_OFF = 2 };

/* Packed object-map value: id | type << 32 | flags << 40. */
#define OBT_OV_FILTERED 0x01u /* events on this object are not recorded */
#define OBT_OV_SIM 0x02u      /* an object of the simulation's object manager */
#define OBT_OV_ID(v) ((uint32_t)(v))
#define OBT_OV_TYPE(v) ((uint8_t)((v) >> 32))
#define OBT_OV_FLAGS(v) ((uint8_t)((v) >> 40))
#define OBT_OV_MAKE(id, type, flags) ((uint64_t)(id) | (uint64_t)(type) << 32 | (uint64_t)(flags) << 40)

/* Intern-slot flags of the auto unwinder. */
#define OBT_STACK_FP_GOOD 0x1u
#define OBT_STACK_FP_BAD 0x2u
#define OBT_STACK_NO_RECORD UINT32_MAX

struct obt_tracer {
    _Atomic int state;
    int pid;
    struct obt_config cfg;
    struct obt_writer w;
    struct obt_intern stacks;   /* frames hash -> stack id */
    struct obt_intern strings;  /* text hash -> string id */
    struct obt_addrmap objects; /* address -> packed object value */
    struct obt_addrmap aux;     /* handle -> object address, notification entry -> driver, image handle -> instance */
    struct obt_modules mods;
    _Atomic uint32_t next_stack_id, next_string_id, next_object_id;
    _Atomic uint32_t code_generation; /* counts unloads: code at an address may have changed */
    _Atomic uint64_t canary_hits;
    _Atomic int canary_armed;
    void *query;                /* NtsimQueryObject */
    void *find_device;          /* NtsimFindDeviceByExtensionAddress, NULL when libntsim lacks it */
    void *query_wdf;            /* NtsimQueryWdfObject, NULL when libntsim lacks it */
};

extern struct obt_tracer obt_g;

/* One event being built; zero it, then set what applies. */
struct obt_ev {
    uint8_t op, obj_type;
    uint16_t flags; /* OBT_EV_* of the optional fields set below */
    uint32_t object;
    int32_t count;
    uint32_t tag;
    int32_t status;
    uint32_t obj2;
    uint64_t arg;
    uint32_t string;
    uint32_t module;
    uint64_t arg2;
    int filtered;   /* set by hooks: the event is not recorded */
};

/*
 * The per-thread stack cache: a direct-mapped table from a stack's 128-bit
 * key to the id the intern table gave it, so a stack this thread met
 * recently costs one compare instead of a lookup in the shared table. An
 * entry is only ever a copy of a published (key, id) pair, which never
 * changes, and a hit needs the whole key to match; id 0 = empty.
 */
#define OBT_SCACHE_SLOTS 256u
struct obt_scache_entry {
    uint64_t lo, hi;
    uint32_t id;
    uint32_t reserved;
};

/*
 * A frame-pointer walk this thread did, kept with the id its stack got: a
 * walk from the same interposer frame that finds the same words in the
 * same frames (obt_unwind_fp_same, a few independent loads) has the same
 * stack, so it needs neither the walk's chain of dependent loads nor a
 * hash nor a lookup. Found by the interposer's return address (memo_ret),
 * replaced in turn; id 0 = empty, OBT_MEMO_FP_BAD = a stack the walk does
 * not name (auto mode: libunwind disagreed). Used while the configured
 * depth is at most OBT_MEMO_DEPTH.
 */
#define OBT_MEMO_SLOTS 8u
#define OBT_MEMO_FP_BAD UINT32_MAX
#define OBT_MEMO_DEPTH 64u
struct obt_walk_memo {
    uint64_t frame;    /* the interposer frame the walk started from */
    uint32_t id;
    uint32_t nvisit;
    uint64_t words[2 * OBT_MEMO_DEPTH]; /* what the walk read, see obt_unwind_fp_record */
};

/*
 * dwarf mode, and auto mode for stacks the walk does not name: what a
 * libunwind trace from an interposer read (its slots) and the id of the
 * stack it found, kept beside the walk memo of the same interposer return
 * address. id 0 = nothing learned; learned counts the
 * learnings that did not pay off yet (stops at OBT_DWARF_LEARN_MAX, so a
 * call site whose slots change every time is not learned forever).
 */
#define OBT_DWARF_LEARN_MAX 4u
struct obt_dwarf_memo {
    uint32_t id;
    uint32_t generation; /* obt_g.code_generation when learned */
    uint32_t learned;
    uint32_t last_id;    /* auto mode: the stack libunwind last found from here, */
    uint64_t last_frame; /* and the interposer frame it found it from */
    struct obt_dwarf_slots slots;
};

/* The per-thread state: what every event touches first, then the caches. */
struct obt_tls {
    struct obt_tbuf tb;
    int busy;
    int ready;
    int host_marked;       /* this thread's latest host action was a mark with a where (interpose_pnp.c) */
    struct obt_stack_bounds bounds;
    uint64_t memo_ret[OBT_MEMO_SLOTS] __attribute__((aligned(64)));
    unsigned memo_turn;
    struct obt_scache_entry scache[OBT_SCACHE_SLOTS];
    struct obt_walk_memo memo[OBT_MEMO_SLOTS];
    uint64_t dwbuf[OBT_MAX_DEPTH + OBT_DWARF_LEAD]; /* obt_call_capture's unw_backtrace output */
    struct obt_dwarf_memo dmemo[OBT_MEMO_SLOTS];     /* dwarf mode, by the walk memo's index */
    struct obt_cfi_cache cfi;
};

struct obt_call {
    const void *frame;     /* the interposer's frame address */
    const void *ret_addr;  /* the interposer's return address */
    struct obt_tls *tls;
    struct obt_ev ev;
    uint64_t pre[4];       /* scratch the pre hook leaves for the post hook */
    int have_stack;        /* obt_call_capture took the caller's stack: its id is stack, its time now */
    uint32_t stack;
    uint64_t now;
};

/* The calling thread's state; obt_tls_get initializes it on first use. */
extern __thread struct obt_tls obt_tls_v __attribute__((tls_model("initial-exec")));

/* Fills c for a traced call of thread t (guard set by the caller). */
static inline void obt_call_fill(struct obt_call *c, struct obt_tls *t, const void *frame, const void *ret_addr,
                                 uint8_t op)
{
    c->frame = frame;
    c->ret_addr = ret_addr;
    c->tls = t;
    c->have_stack = 0;
    memset(&c->ev, 0, sizeof(c->ev));
    c->ev.op = op;
}

/* obt_call_begin for a thread not yet set up, a tracer not running, or a call from inside the tracer. */
int obt_call_begin_slow(struct obt_call *c, const void *frame, const void *ret_addr, uint8_t op);

/*
 * Starts an interposed call: returns 1 when it is to be traced (the guard
 * is now set), 0 when the caller must just forward (tracer off, or the
 * call comes from inside the tracer). Inline: a running tracer and a ready
 * thread cost two loads and a store.
 */
static inline int obt_call_begin(struct obt_call *c, const void *frame, const void *ret_addr, uint8_t op)
{
    struct obt_tls *t = &obt_tls_v;
    if (__builtin_expect(atomic_load_explicit(&obt_g.state, memory_order_relaxed) != OBT_RUNNING || t->busy ||
                             !t->ready,
                         0))
        return obt_call_begin_slow(c, frame, ret_addr, op);
    t->busy = 1;
    obt_call_fill(c, t, frame, ret_addr, op);
    return 1;
}
/* Clears the guard around the forwarded call. */
static inline void obt_call_forward(struct obt_call *c)
{
    c->tls->busy = 0;
}

/* Sets the guard again after the forwarded call. */
static inline void obt_call_resume(struct obt_call *c)
{
    c->tls->busy = 1;
}

/* Ends the call: clears the guard. */
static inline void obt_call_end(struct obt_call *c)
{
    c->tls->busy = 0;
}

/*
 * dwarf mode (and auto's libunwind stacks): the id of c's caller's stack without unwinding, when what
 * the last trace from this interposer frame read is all still there (see
 * struct obt_dwarf_memo); 0 when it must be unwound.
 */
uint32_t obt_stack_dwarf_recall(struct obt_call *c);

/*
 * dwarf mode: the id of the stack in t->dwbuf[0 .. got), which
 * unw_backtrace wrote from an interposer (see obt_call_capture); 0 when
 * c's return address is not among the first OBT_DWARF_LEAD + 1 frames.
 */
uint32_t obt_stack_dwarf_take(struct obt_call *c, int got);

/*
 * dwarf mode: captures c's caller's stack from the interposer itself (this
 * is inlined into it), so libunwind steps through no tracer frame but
 * unw_backtrace's own and the interposer's, and asks for no more frames
 * than the configured depth needs; first, a stack it recalls needs no
 * unwinding at all (obt_stack_dwarf_recall). Events c emits afterwards
 * carry it; skipped when c's event is already filtered. Other modes:
 * nothing.
 */
static inline __attribute__((always_inline)) void obt_call_capture(struct obt_call *c)
{
    unsigned depth = obt_g.cfg.depth;
    if (__builtin_expect(obt_g.cfg.unwind != OBT_UNWIND_DWARF || !depth || c->ev.filtered, 1))
        return;
    c->now = obt_now_ns();
    c->stack = obt_stack_dwarf_recall(c);
    if (!c->stack) {
        int got = unw_backtrace((void **)c->tls->dwbuf, (int)(depth + OBT_DWARF_LEAD));
        c->stack = obt_stack_dwarf_take(c, got);
    }
    c->have_stack = c->stack != OBT_NO_STACK;
}

/* Records c->ev (with a stack) unless filtered. */
void obt_emit(struct obt_call *c);
/* Records ev as a second event of the same call (same stack rules). */
void obt_emit_ev(struct obt_call *c, const struct obt_ev *ev);

/* The interned id of a stack of n frames (writing its record on first use); 0 on failure. */
uint32_t obt_stack_intern(struct obt_tls *t, const uint64_t *frames, unsigned n);

/* Interns text (len bytes), writing its STRING record on first use; 0 on failure. */
uint32_t obt_string_intern(struct obt_tls *t, const char *text, size_t len);

/*
 * Object identities. obt_object_lookup returns the packed value of the
 * object at addr (0 if none), creating its identity and OBJECT record on a
 * miss. expect says what addr may be: 0 a simulation object (asked with
 * NtsimQueryObject; 0 if the simulation does not know it), > 0 a plain
 * structure of type expect (a pool block, a remove lock: never asked),
 * < 0 a simulation object if the simulation knows it, else type -expect.
 * The lookup of a known object is inline; obt_object_lookup_miss makes a
 * new identity.
 */
uint64_t obt_object_lookup_miss(struct obt_tls *t, const void *addr, int expect);
static inline uint64_t obt_object_lookup(struct obt_tls *t, const void *addr, int expect)
{
    uint64_t v = addr ? obt_addrmap_get(&obt_g.objects, (uint64_t)(uintptr_t)addr) : 0;
    return __builtin_expect(v != 0 || !addr, 1) ? v : obt_object_lookup_miss(t, addr, expect);
}
/* A new object at addr (the address may be reused): fresh id, OBJECT record; expect as above. */
uint64_t obt_object_new(struct obt_tls *t, const void *addr, int expect);
/*
 * A simulation object just created (ObCreateObject), described from the
 * creation's arguments: the simulation is not asked about an object its
 * creator has not finished building.
 */
uint64_t obt_object_new_named(struct obt_tls *t, const void *addr, uint8_t type, const char *name);
/*
 * A plain structure at addr of type (a remove lock) that lives in the
 * extension of owner_device (a live device, or NULL): fresh id, OBJECT
 * record with owner = the device's id and image = its driver's image.
 */
uint64_t obt_object_new_owned(struct obt_tls *t, const void *addr, uint8_t type, const void *owner_device);
/*
 * A KMDF object just created at addr (its handle): fresh id, OBJECT record
 * of type WdfObject with name, owner = driver_object's id and image = its
 * image (driver_object may be NULL).
 */
uint64_t obt_object_new_wdf(struct obt_tls *t, const void *addr, const char *name, const void *driver_object);
/* Describes the simulation object at addr (NtsimQueryObject): 0, or -1 when it is none. */
struct _NTSIM_OBJECT_INFO;
struct _NTSIM_WDF_OBJECT_INFO;
int obt_sim_describe(const void *addr, struct _NTSIM_OBJECT_INFO *info);
/* Describes the live KMDF object of handle addr (NtsimQueryWdfObject): 0, or -1 when it is none. */
int obt_wdf_describe(const void *addr, struct _NTSIM_WDF_OBJECT_INFO *info);
/* The device whose extension contains addr (NtsimFindDeviceByExtensionAddress), or NULL. */
const void *obt_device_of_extension(const void *addr);
/* The obt_obj_type of a POBJECT_TYPE the simulation exports (IoDeviceObjectType ...), 0 if unknown. */
uint8_t obt_object_type_of(const void *object_type);
/* Re-writes the OBJECT record of a known object (its name, owner or image became known). */
void obt_object_refresh(struct obt_tls *t, const void *addr, uint64_t value);
/*
 * The simulation object at addr that a creation call (IoCreateDevice) just
 * finished building, asked about once: a new identity and OBJECT record
 * when it is unknown, else its OBJECT record rewritten under its id (its
 * driver is known now). *pointer = its pointer count (0 if the simulation
 * does not know it). Returns the packed value (0 if none).
 */
uint64_t obt_object_built(struct obt_tls *t, const void *addr, int64_t *pointer);
/* Forgets the object at addr if it still maps to value (it was freed). */
void obt_object_forget(const void *addr, uint64_t value);
/*
 * Reads the simulation's counters of the object at addr: pointer and handle
 * counts. Returns 0, or -1 when addr is no live object with id sim_id (0 =
 * any id). *sim_id_out may be NULL.
 */
int obt_object_counts(const void *addr, int64_t *pointer, int64_t *handle, uint64_t *sim_id_out);
/* Puts the object fields of ev from a packed value. */
static inline void obt_ev_set_object(struct obt_ev *ev, uint64_t value)
{
    ev->object = OBT_OV_ID(value);
    ev->obj_type = OBT_OV_TYPE(value);
    if (OBT_OV_FLAGS(value) & OBT_OV_FILTERED)
        ev->filtered = 1;
}

/* Starts the tracer if it is dormant and libntsim is loaded now. */
void obt_tracer_start_if_needed(void);
/* Per-thread state (initialized on first use). */
struct obt_tls *obt_tls_get(void);
/* Finishes the trace (END record). */
void obt_tracer_finish(void);

/* UTF-16 UNICODE_STRING -> UTF-8 into buf; returns the length. */
size_t obt_utf16_to_utf8(const uint16_t *s, size_t units, char *buf, size_t len);

#endif /* OBTRACE_TRACER_H */
