/*
 * tracer.c - libobtrace's core: start-up and shutdown, fork and exec,
 * the canary, event emission, stack capture and interning, strings and
 * object identities (see tracer.h).
 *
 * Start-up: the constructor starts tracing when libntsim is loaded (found
 * by its NtsimQueryObject export); otherwise the tracer stays dormant and
 * writes no file, and the first interposed call starts it if libntsim was
 * loaded later. Shutdown: a destructor writes the END record. Crash: every
 * record is already in the shared file mapping; there is nothing to flush.
 */
#include "tracer.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ntsim.h"

#define OBT_STACK_TABLE_LOG2 14 /* the first level: 12K stacks in 512 KiB; four levels hold 1M */
#define OBT_STRING_TABLE_LOG2 12
#define OBT_OBJECT_TABLE_LOG2 20
#define OBT_AUX_TABLE_LOG2 16
#define OBT_SEED_FP 0x6670u
#define OBT_SEED_STACK 0x73746bu
#define OBT_SEED_STRING 0x737472u

struct obt_tracer obt_g;
__thread struct obt_tls obt_tls_v __attribute__((tls_model("initial-exec")));
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;

typedef NTSTATUS (*query_fn)(PVOID, PNTSIM_OBJECT_INFO);

/* ---- per-thread state ------------------------------------------- */

struct obt_tls *obt_tls_get(void)
{
    struct obt_tls *t = &obt_tls_v;
    if (__builtin_expect(!t->ready, 0)) {
        /* forget ids of another process's tables (after a fork) */
        memset(t->scache, 0, sizeof(t->scache));
        for (unsigned i = 0; i < OBT_MEMO_SLOTS; i++) {
            t->memo[i].id = 0;
            t->memo_ret[i] = 0;
        }
        t->tb.tid = (uint32_t)syscall(SYS_gettid);
        obt_stack_bounds_current(&t->bounds);
        t->ready = 1;
    }
    return t;
}

int obt_call_begin_slow(struct obt_call *c, const void *frame, const void *ret_addr, uint8_t op)
{
    struct obt_tls *t = &obt_tls_v;
    if (__builtin_expect(atomic_load_explicit(&obt_g.state, memory_order_relaxed) != OBT_RUNNING, 0)) {
        if (t->busy)
            return 0;
        obt_tracer_start_if_needed();
        if (atomic_load(&obt_g.state) != OBT_RUNNING)
            return 0;
    }
    if (t->busy)
        return 0;
    t = obt_tls_get();
    t->busy = 1;
    obt_call_fill(c, t, frame, ret_addr, op);
    return 1;
}

/* ---- stacks ------------------------------------------------------ */

static int stack_record_write(struct obt_tls *t, uint32_t id, const uint64_t *frames, unsigned n)
{
    uint32_t size = (uint32_t)(sizeof(struct obt_stack) + n * sizeof(uint64_t));
    char *p = obt_tbuf_reserve(&obt_g.w, &t->tb, size);
    struct obt_stack st;
    if (!p)
        return -1;
    memset(&st, 0, sizeof(st));
    st.id = id;
    st.depth = n;
    memcpy(p + 4, (char *)&st + 4, sizeof(st) - 4);
    memcpy(p + sizeof(st), frames, n * sizeof(uint64_t));
    obt_tbuf_commit(&t->tb, p, OBT_REC_STACK, size);
    return 0;
}

/* Publishes a freshly inserted slot: module scan, STACK record, id. */
static uint32_t stack_slot_define(struct obt_tls *t, struct obt_intern_slot *s, const uint64_t *frames, unsigned n)
{
    uint32_t id = atomic_fetch_add(&obt_g.next_stack_id, 1);
    obt_modules_scan_if_changed(&obt_g.mods, &obt_g.w, &t->tb);
    if (stack_record_write(t, id, frames, n))
        atomic_fetch_add(&obt_g.w.failures, 1);
    obt_intern_publish(s, id);
    return id;
}

/* The id cached for key on this thread, 0 if none. */
static inline uint32_t scache_get(const struct obt_tls *t, struct obt_key key)
{
    const struct obt_scache_entry *e = &t->scache[key.hi & (OBT_SCACHE_SLOTS - 1)];
    return e->lo == key.lo && e->hi == key.hi ? e->id : 0;
}

static inline void scache_put(struct obt_tls *t, struct obt_key key, uint32_t id)
{
    struct obt_scache_entry *e = &t->scache[key.hi & (OBT_SCACHE_SLOTS - 1)];
    e->lo = key.lo;
    e->hi = key.hi;
    e->id = id;
}

/* The id of the stack named key (frames on first use), through the thread's cache. */
static uint32_t stack_intern_key(struct obt_tls *t, struct obt_key key, const uint64_t *frames, unsigned n,
                                 uint32_t flags)
{
    int inserted;
    uint32_t id = scache_get(t, key);
    if (__builtin_expect(id != 0, 1))
        return id;
    struct obt_intern_slot *s = obt_intern_get(&obt_g.stacks, key, &inserted);
    if (!s) {
        atomic_fetch_add(&obt_g.w.failures, 1);
        return OBT_NO_STACK;
    }
    if (inserted) {
        atomic_store_explicit(&s->flags, flags, memory_order_relaxed);
        id = stack_slot_define(t, s, frames, n);
    } else {
        id = obt_intern_id(s);
    }
    scache_put(t, key, id);
    return id;
}

uint32_t obt_stack_intern(struct obt_tls *t, const uint64_t *frames, unsigned n)
{
    return stack_intern_key(t, obt_hash_words(frames, n, OBT_SEED_STACK), frames, n, 0);
}

/*
 * The frame-pointer walk agrees with libunwind when it found the same
 * frames, or the same frames up to the outermost few that libunwind alone
 * can see: the C library's process and thread start frames
 * (__libc_start_call_main, __libc_start_main, start_thread, clone3) and the
 * program's entry code (_start), which have no frame pointer but are the
 * same for every stack that reaches them the same way. A frame of the
 * program's own among the unseen ones (say main, called through a frame
 * whose %rbp is no frame pointer) makes the walk disagree: another caller
 * there would give the same walk.
 */
#define OBT_FP_UNSEEN_OUTER_FRAMES 4u
#define OBT_FP_BOGUS_OUTER_FRAMES 2u
#define OBT_ENTRY_CODE_BYTES 64u /* _start: from the ELF entry point to the return from __libc_start_main */

/* TRUE when addr is in the C library (the object that holds abort) or in the program's entry code. */
static int is_start_code(uint64_t addr)
{
    static void *_Atomic libc_base;
    Dl_info di;
    if (addr - getauxval(AT_ENTRY) < OBT_ENTRY_CODE_BYTES)
        return 1;
    void *libc = atomic_load_explicit(&libc_base, memory_order_relaxed);
    if (!libc && dladdr((void *)(uintptr_t)abort, &di)) {
        libc = di.dli_fbase;
        atomic_store_explicit(&libc_base, libc, memory_order_relaxed);
    }
    return libc && dladdr((void *)(uintptr_t)addr, &di) && di.dli_fbase == libc;
}

static int fp_walk_verified(const uint64_t *fp, unsigned nf, const uint64_t *dw, unsigned nd, unsigned depth)
{
    unsigned same = 0;
    while (same < nf && same < nd && fp[same] == dw[same])
        same++;
    if (same == nf && nf == nd)
        return 1;
    /*
     * A start frame without a frame pointer may leave a pointer in %rbp
     * that the walk follows for a frame or two of garbage (start_thread
     * keeps its struct pthread there): accept that outer tail too, when
     * everything the program itself called agrees.
     */
    if (!same || nf >= depth || nf - same > OBT_FP_BOGUS_OUTER_FRAMES || nd - same > OBT_FP_UNSEEN_OUTER_FRAMES)
        return 0;
    for (unsigned i = same; i < nd; i++)
        if (!is_start_code(dw[i]))
            return 0;
    return 1;
}

/* The index of the walk memo kept for an interposer returning to ret (a scan of one cache line), or -1. */
static inline int memo_find(const struct obt_tls *t, const void *ret)
{
    uint64_t r = (uint64_t)(uintptr_t)ret;
    for (unsigned i = 0; i < OBT_MEMO_SLOTS; i++)
        if (t->memo_ret[i] == r)
            return (int)i;
    return -1;
}

/* The walk memo for an interposer returning to ret: the one kept for ret, else the next in turn, emptied. */
static struct obt_walk_memo *memo_slot(struct obt_tls *t, const void *ret)
{
    int found = memo_find(t, ret);
    if (found >= 0)
        return &t->memo[found];
    unsigned i = t->memo_turn++ % OBT_MEMO_SLOTS;
    t->memo_ret[i] = (uint64_t)(uintptr_t)ret;
    t->memo[i].id = 0;
    t->dmemo[i].id = 0;
    t->dmemo[i].learned = 0;
    t->dmemo[i].last_id = 0;
    return &t->memo[i];
}

/*
 * dwarf and auto: a stack found twice running from the same interposer frame is
 * likely to come again: learn what its trace reads, so that its next
 * meetings need only compare those words (obt_stack_dwarf_recall).
 */
static void dwarf_learn(struct obt_call *c, struct obt_dwarf_memo *d, const uint64_t *frames, unsigned n, int ended,
                        uint32_t id)
{
    struct obt_tls *t = c->tls;
    if (d->learned >= OBT_DWARF_LEARN_MAX)
        return;
    d->learned++;
    d->id = 0;
    d->generation = atomic_load_explicit(&obt_g.code_generation, memory_order_acquire);
    if (!obt_unwind_dwarf_learn(c->frame, &t->bounds, frames, n, ended, &t->cfi, &d->slots))
        d->id = id;
}

/*
 * auto: libunwind's frames of c's caller, interned by their own hash, for
 * a stack the walk does not name. Recalled without unwinding when what the
 * trace from this interposer frame read is still there; learned when
 * libunwind found the same stack from the same frame twice running.
 */
static uint32_t capture_dwarf(struct obt_call *c, unsigned depth)
{
    uint64_t buf[OBT_MAX_DEPTH + OBT_DWARF_SLACK];
    uint64_t frame = (uint64_t)(uintptr_t)c->frame;
    unsigned first;
    uint32_t id = obt_stack_dwarf_recall(c);
    if (id)
        return id;
    unsigned n = obt_unwind_dwarf_inline(c->ret_addr, buf, depth, &first);
    id = obt_stack_intern(c->tls, buf + first, n);
    int i = memo_find(c->tls, c->ret_addr);
    if (i < 0 || id == OBT_NO_STACK)
        return id;
    struct obt_dwarf_memo *d = &c->tls->dmemo[i];
    int ended = n < depth && first + n < depth + OBT_DWARF_SLACK;
    if (d->last_id == id && d->last_frame == frame)
        dwarf_learn(c, d, buf + first, n, ended, id);
    d->last_id = id;
    d->last_frame = frame;
    return id;
}

/*
 * auto, first meeting of a frame-pointer stack (slot s just inserted, its
 * walk in fp): libunwind checks the walk once. Agreeing stacks get the id
 * of a STACK record holding libunwind's frames; the others are marked so
 * every later meeting captures with libunwind. Returns the id, and in
 * *good whether the walk names it from now on.
 */
static uint32_t auto_first_meeting(struct obt_call *c, struct obt_intern_slot *s, const uint64_t *fp, unsigned nf,
                                   unsigned depth, int *good)
{
    uint64_t dw[OBT_MAX_DEPTH];
    unsigned nd = obt_unwind_dwarf(c->ret_addr, dw, depth);
    *good = fp_walk_verified(fp, nf, dw, nd, depth);
    if (*good) {
        atomic_store_explicit(&s->flags, OBT_STACK_FP_GOOD, memory_order_relaxed);
        return stack_slot_define(c->tls, s, dw, nd);
    }
    atomic_store_explicit(&s->flags, OBT_STACK_FP_BAD, memory_order_relaxed);
    obt_intern_publish(s, OBT_STACK_NO_RECORD);
    return obt_stack_intern(c->tls, dw, nd);
}

/*
 * auto: the id of the stack whose walk (frames fp, key) was just made; the
 * walk names it when its slot says it was checked against libunwind (once,
 * when first met) and agreed, the record then holding libunwind's frames.
 * Others are captured with libunwind every time. *good as above.
 */
static uint32_t auto_lookup(struct obt_call *c, struct obt_key key, const uint64_t *fp, unsigned nf, unsigned depth,
                            int *good)
{
    struct obt_tls *t = c->tls;
    uint32_t id = scache_get(t, key);
    int inserted;

    *good = 1;
    if (__builtin_expect(id != 0, 1))
        return id;
    struct obt_intern_slot *s = obt_intern_get(&obt_g.stacks, key, &inserted);
    if (!s) {
        atomic_fetch_add(&obt_g.w.failures, 1);
        *good = 0;
        return OBT_NO_STACK;
    }
    if (inserted)
        id = auto_first_meeting(c, s, fp, nf, depth, good);
    else
        id = obt_intern_id(s);
    if (!inserted && !(atomic_load_explicit(&s->flags, memory_order_relaxed) & OBT_STACK_FP_GOOD))
        *good = 0;
    if (!*good)
        return inserted ? id : capture_dwarf(c, depth);
    scache_put(t, key, id);
    return id;
}

/* fp: the walk, hashed as it goes, names and is the stack. */
static uint32_t fp_lookup(struct obt_call *c, struct obt_key key, const uint64_t *fp, unsigned nf, int *good)
{
    uint32_t id = stack_intern_key(c->tls, key, fp, nf, OBT_STACK_FP_GOOD);
    *good = id != OBT_NO_STACK;
    return id;
}

/*
 * fp and auto: the frame-pointer walk from the interposer, or its memo
 * when the frames still hold what the last walk from there read. A stack
 * the walk names (good) is remembered for next time; so is, in auto mode,
 * a stack the walk was found not to name (OBT_MEMO_FP_BAD): its next
 * meeting goes straight to libunwind, without the walk, its hash and the
 * shared table's verdict.
 */
static uint32_t capture_walk(struct obt_call *c, unsigned depth, int fp_mode)
{
    struct obt_tls *t = c->tls;
    struct obt_walk_memo *m = memo_slot(t, c->ret_addr);
    uint64_t frames[OBT_MAX_DEPTH], words[2 * OBT_MAX_DEPTH];
    uint64_t *w = words;
    unsigned nvisit, n;
    struct obt_key key;
    uint32_t id;
    int good;

    if (m->id && m->frame == (uint64_t)(uintptr_t)c->frame && obt_unwind_fp_same(c->frame, m->words, m->nvisit))
        return m->id != OBT_MEMO_FP_BAD ? m->id : capture_dwarf(c, depth);
    if (depth <= OBT_MEMO_DEPTH) {
        w = m->words;
        m->id = 0;
    }
    n = obt_unwind_fp_record(c->frame, &t->bounds, frames, w, depth, OBT_SEED_FP, &key, &nvisit);
    id = fp_mode ? fp_lookup(c, key, frames, n, &good) : auto_lookup(c, key, frames, n, depth, &good);
    if (w == m->words && id != OBT_NO_STACK && (good || !fp_mode)) {
        m->frame = (uint64_t)(uintptr_t)c->frame;
        m->nvisit = nvisit;
        m->id = good ? id : OBT_MEMO_FP_BAD;
    }
    return id;
}

/*
 * dwarf: the id of libunwind's frames[0 .. n) of c's caller. The walk memo
 * of the interposer's return address holds the frames it last named (in
 * words[0 .. nvisit)) and the frame they were found from: when they are
 * the same, so is the id, found by one exact compare instead of a hash
 * and a lookup, and, from the same frame, the trace is learned (ended as
 * obt_unwind_dwarf_learn takes it; < 0: the frames were not found from the
 * interposer, nothing is learned). Otherwise the frames are hashed once and
 * interned, and remembered. In dwarf mode nothing else uses the memo.
 */
static uint32_t dwarf_id(struct obt_call *c, const uint64_t *frames, unsigned n, int ended)
{
    struct obt_walk_memo *m = memo_slot(c->tls, c->ret_addr);
    size_t bytes = n * sizeof(uint64_t);
    uint64_t frame = (uint64_t)(uintptr_t)c->frame;
    if (m->id && m->nvisit == n && !memcmp(m->words, frames, bytes)) {
        if (m->frame == frame && ended >= 0)
            dwarf_learn(c, &c->tls->dmemo[m - c->tls->memo], frames, n, ended, m->id);
        m->frame = frame;
        return m->id;
    }
    m->id = 0;
    uint32_t id = obt_stack_intern(c->tls, frames, n);
    if (id != OBT_NO_STACK && n <= 2 * OBT_MEMO_DEPTH) {
        memcpy(m->words, frames, bytes);
        m->nvisit = n;
        m->frame = frame;
        m->id = id;
    }
    return id;
}

uint32_t obt_stack_dwarf_recall(struct obt_call *c)
{
    struct obt_tls *t = c->tls;
    int i = memo_find(t, c->ret_addr);
    if (i < 0)
        return 0;
    struct obt_dwarf_memo *d = &t->dmemo[i];
    if (!d->id || d->slots.frame != (uint64_t)(uintptr_t)c->frame ||
        d->generation != atomic_load_explicit(&obt_g.code_generation, memory_order_acquire) ||
        !obt_dwarf_slots_hold(&d->slots))
        return 0;
    d->learned = 0;
    return d->id;
}

uint32_t obt_stack_dwarf_take(struct obt_call *c, int got)
{
    const uint64_t *buf = c->tls->dwbuf;
    uint64_t ret = (uint64_t)(uintptr_t)c->ret_addr;
    unsigned depth = obt_g.cfg.depth;
    for (int i = 0; i < got && i <= (int)OBT_DWARF_LEAD; i++) {
        if (buf[i] != ret)
            continue;
        unsigned found = (unsigned)(got - i), n = found < depth ? found : depth;
        int ended = got < (int)(depth + OBT_DWARF_LEAD) && found <= depth;
        return dwarf_id(c, buf + i, n, ended);
    }
    return OBT_NO_STACK;
}

/* Inline into the emitters so a libunwind capture starts right above the interposer. */
static inline __attribute__((always_inline)) uint32_t stack_capture_inline(struct obt_call *c)
{
    unsigned depth = obt_g.cfg.depth;
    switch (obt_g.cfg.unwind) {
    case OBT_UNWIND_FP:
        return capture_walk(c, depth, 1);
    case OBT_UNWIND_DWARF: {
        uint64_t buf[OBT_MAX_DEPTH + OBT_DWARF_SLACK];
        unsigned first;
        unsigned n = obt_unwind_dwarf_inline(c->ret_addr, buf, depth, &first);
        return dwarf_id(c, buf + first, n, -1);
    }
    default:
        return capture_walk(c, depth, 0);
    }
}

/* ---- strings ----------------------------------------------------- */

uint32_t obt_string_intern(struct obt_tls *t, const char *text, size_t len)
{
    int inserted;
    struct obt_intern_slot *s;

    if (len > 4000)
        len = 4000;
    s = obt_intern_get(&obt_g.strings, obt_hash_bytes(text, len, OBT_SEED_STRING), &inserted);
    if (!s)
        return 0;
    if (!inserted)
        return obt_intern_id(s);
    uint32_t id = atomic_fetch_add(&obt_g.next_string_id, 1);
    uint32_t size = (uint32_t)((sizeof(struct obt_string) + len + 3) & ~(size_t)3);
    char *p = obt_tbuf_reserve(&obt_g.w, &t->tb, size);
    if (p) {
        struct obt_string st;
        memset(&st, 0, sizeof(st));
        st.id = id;
        st.len = (uint32_t)len;
        memset(p + 4, 0, size - 4);
        memcpy(p + 4, (char *)&st + 4, sizeof(st) - 4);
        memcpy(p + sizeof(st), text, len);
        obt_tbuf_commit(&t->tb, p, OBT_REC_STRING, size);
    } else {
        atomic_fetch_add(&obt_g.w.failures, 1);
    }
    obt_intern_publish(s, id);
    return id;
}

size_t obt_utf16_to_utf8(const uint16_t *s, size_t units, char *buf, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < units && s; i++) {
        uint32_t cp = s[i];
        if (cp >= 0xd800 && cp < 0xdc00 && i + 1 < units && s[i + 1] >= 0xdc00 && s[i + 1] < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (s[i + 1] - 0xdc00);
            i++;
        }
        char tmp[4];
        size_t k;
        if (cp < 0x80) {
            tmp[0] = (char)cp;
            k = 1;
        } else if (cp < 0x800) {
            tmp[0] = (char)(0xc0 | cp >> 6);
            tmp[1] = (char)(0x80 | (cp & 0x3f));
            k = 2;
        } else if (cp < 0x10000) {
            tmp[0] = (char)(0xe0 | cp >> 12);
            tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[2] = (char)(0x80 | (cp & 0x3f));
            k = 3;
        } else {
            tmp[0] = (char)(0xf0 | cp >> 18);
            tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
            tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
            tmp[3] = (char)(0x80 | (cp & 0x3f));
            k = 4;
        }
        if (n + k >= len)
            break;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    if (len)
        buf[n] = 0;
    return n;
}

/* ---- objects ----------------------------------------------------- */

static uint8_t type_from_name(const char *name)
{
#define OBT_TYPE_FROM_NAME_(sym, value, text) \
    if (name && !strcmp(name, text))          \
        return value;
    OBT_OBJ_TYPES(OBT_TYPE_FROM_NAME_)
#undef OBT_TYPE_FROM_NAME_
    return OBT_OBJ_OTHER;
}

static int sim_query(const void *addr, NTSIM_OBJECT_INFO *info)
{
    query_fn q = (query_fn)obt_g.query;
    if (!q || !addr)
        return -1;
    return q((PVOID)addr, info) == STATUS_SUCCESS ? 0 : -1;
}

int obt_sim_describe(const void *addr, NTSIM_OBJECT_INFO *info)
{
    return sim_query(addr, info);
}

int obt_wdf_describe(const void *addr, NTSIM_WDF_OBJECT_INFO *info)
{
    NTSTATUS (*q)(PVOID, PNTSIM_WDF_OBJECT_INFO) = (NTSTATUS(*)(PVOID, PNTSIM_WDF_OBJECT_INFO))obt_g.query_wdf;
    if (!q || !addr)
        return -1;
    return q((PVOID)addr, info) == STATUS_SUCCESS ? 0 : -1;
}

int obt_object_counts(const void *addr, int64_t *pointer, int64_t *handle, uint64_t *sim_id_out)
{
    NTSIM_OBJECT_INFO info;
    if (sim_query(addr, &info))
        return -1;
    if (pointer)
        *pointer = info.PointerCount;
    if (handle)
        *handle = info.HandleCount;
    if (sim_id_out)
        *sim_id_out = info.Id;
    return 0;
}

/* The driver object an object belongs to, read from the WDM structures. */
static PDRIVER_OBJECT owner_driver(const void *addr, uint8_t type)
{
    if (type == OBT_OBJ_DRIVER)
        return (PDRIVER_OBJECT)addr;
    if (type == OBT_OBJ_DEVICE)
        return ((const DEVICE_OBJECT *)addr)->DriverObject;
    if (type == OBT_OBJ_FILE) {
        PDEVICE_OBJECT d = ((const FILE_OBJECT *)addr)->DeviceObject;
        return d ? d->DriverObject : NULL;
    }
    return NULL;
}

static uint64_t driver_code_address(const DRIVER_OBJECT *drv)
{
    if (!drv)
        return 0;
    if (drv->DriverStart)
        return (uint64_t)(uintptr_t)drv->DriverStart;
    return (uint64_t)(uintptr_t)drv->DriverInit;
}

static int object_filtered(uint8_t type, const char *name, uint64_t image_addr)
{
    const struct obt_config *cfg = &obt_g.cfg;
    char path[4096];

    if (!(cfg->type_mask & (1u << type)))
        return 1;
    if (cfg->names[0] && (!name[0] || !obt_glob_list_match(cfg->names, name))) /* unnamed: not traced */
        return 1;
    if (cfg->images[0]) {
        if (!image_addr || obt_modules_path_at(&obt_g.mods, image_addr, path, sizeof(path)))
            return 1;
        const char *base = strrchr(path, '/');
        if (!obt_glob_list_match(cfg->images, path) && !(base && obt_glob_list_match(cfg->images, base + 1)))
            return 1;
    }
    return 0;
}

/*
 * Writes the OBJECT record of id (owner: an object id or 0; image_addr: code
 * of the owning driver's image or 0) unless the object is filtered, and
 * returns its packed value.
 */
static uint64_t object_write(struct obt_tls *t, const void *addr, uint32_t id, uint8_t type, int sim,
                             const char *name, uint32_t owner, uint64_t image_addr)
{
    struct obt_object ob;
    size_t nlen = strlen(name);
    uint32_t image = image_addr ? obt_modules_instance_at(&obt_g.mods, image_addr) : 0;
    uint8_t flags = (uint8_t)((sim ? OBT_OV_SIM : 0) |
                              (object_filtered(type, name, image_addr) ? OBT_OV_FILTERED : 0));
    uint64_t value = OBT_OV_MAKE(id, type, flags);
    if (flags & OBT_OV_FILTERED)
        return value;
    if (nlen > 1024)
        nlen = 1024;
    uint32_t size = (uint32_t)((sizeof(ob) + nlen + 3) & ~(size_t)3);
    char *p = obt_tbuf_reserve(&obt_g.w, &t->tb, size);
    if (!p) {
        atomic_fetch_add(&obt_g.w.failures, 1);
        return value;
    }
    memset(&ob, 0, sizeof(ob));
    ob.id = id;
    ob.type = type;
    ob.name_len = (uint16_t)nlen;
    ob.address = (uint64_t)(uintptr_t)addr;
    ob.owner = owner;
    ob.image = image;
    memset(p + 4, 0, size - 4);
    memcpy(p + 4, (char *)&ob + 4, sizeof(ob) - 4);
    memcpy(p + sizeof(ob), name, nlen);
    obt_tbuf_commit(&t->tb, p, OBT_REC_OBJECT, size);
    return value;
}

/* Writes the OBJECT record of id, its owner and image read from the WDM structures when sim. */
static uint64_t object_describe(struct obt_tls *t, const void *addr, uint32_t id, uint8_t type, int sim,
                                const char *name)
{
    uint32_t owner = 0;
    uint64_t image_addr = 0;

    if (sim) {
        PDRIVER_OBJECT drv = owner_driver(addr, type);
        image_addr = driver_code_address(drv);
        if (drv && (const void *)drv != addr)
            owner = OBT_OV_ID(obt_addrmap_get(&obt_g.objects, (uint64_t)(uintptr_t)drv));
    }
    return object_write(t, addr, id, type, sim, name, owner, image_addr);
}

/* expect: 0 a simulation object; > 0 not one, of that type; < 0 either, -expect if not. */
static uint64_t object_make(struct obt_tls *t, const void *addr, int expect, int *ok)
{
    NTSIM_OBJECT_INFO info;
    uint32_t id;

    *ok = 1;
    if (expect <= 0 && sim_query(addr, &info) == 0) {
        id = atomic_fetch_add(&obt_g.next_object_id, 1);
        return object_describe(t, addr, id, type_from_name(info.TypeName), 1, info.Name);
    }
    if (!expect) {
        *ok = 0;
        return 0;
    }
    id = atomic_fetch_add(&obt_g.next_object_id, 1);
    return object_describe(t, addr, id, (uint8_t)(expect < 0 ? -expect : expect), 0, "");
}

uint64_t obt_object_lookup_miss(struct obt_tls *t, const void *addr, int expect)
{
    uint64_t key = (uint64_t)(uintptr_t)addr;
    uint64_t v;
    int ok;

    v = object_make(t, addr, expect, &ok);
    if (!ok)
        return 0;
    return obt_addrmap_cas(&obt_g.objects, key, 0, v);
}

uint8_t obt_object_type_of(const void *object_type)
{
    static const struct {
        const char *var;
        uint8_t type;
    } known[] = { { "IoDeviceObjectType", OBT_OBJ_DEVICE },
                  { "IoDriverObjectType", OBT_OBJ_DRIVER },
                  { "IoFileObjectType", OBT_OBJ_FILE },
                  { "ExEventObjectType", OBT_OBJ_EVENT } };
    for (size_t i = 0; object_type && i < sizeof(known) / sizeof(known[0]); i++) {
        /* the export is a POBJECT_TYPE *, as in the WDK */
        void *const *const *var = dlsym(RTLD_DEFAULT, known[i].var);
        if (var && *var && **var == object_type)
            return known[i].type;
    }
    return 0;
}

uint64_t obt_object_new_named(struct obt_tls *t, const void *addr, uint8_t type, const char *name)
{
    uint32_t id = atomic_fetch_add(&obt_g.next_object_id, 1);
    uint64_t v = object_describe(t, addr, id, type, 1, name);
    if (obt_addrmap_set(&obt_g.objects, (uint64_t)(uintptr_t)addr, v))
        atomic_fetch_add(&obt_g.w.failures, 1);
    return v;
}

/* A fresh identity for the plain structure at addr owned by the simulation object owner (or NULL) of image_addr. */
static uint64_t object_new_plain(struct obt_tls *t, const void *addr, uint8_t type, const char *name,
                                 const void *owner_object, uint64_t image_addr)
{
    uint32_t owner = 0;
    if (!addr)
        return 0;
    if (owner_object) {
        uint64_t ov = obt_object_lookup(t, owner_object, 0);
        owner = (OBT_OV_FLAGS(ov) & OBT_OV_FILTERED) ? 0 : OBT_OV_ID(ov);
    }
    uint32_t id = atomic_fetch_add(&obt_g.next_object_id, 1);
    uint64_t v = object_write(t, addr, id, type, 0, name, owner, image_addr);
    if (obt_addrmap_set(&obt_g.objects, (uint64_t)(uintptr_t)addr, v))
        atomic_fetch_add(&obt_g.w.failures, 1);
    return v;
}

uint64_t obt_object_new_owned(struct obt_tls *t, const void *addr, uint8_t type, const void *owner_device)
{
    const DEVICE_OBJECT *dev = owner_device;
    return object_new_plain(t, addr, type, "", dev, dev ? driver_code_address(dev->DriverObject) : 0);
}

uint64_t obt_object_new_wdf(struct obt_tls *t, const void *addr, const char *name, const void *driver_object)
{
    return object_new_plain(t, addr, OBT_OBJ_WDF, name ? name : "", driver_object,
                            driver_code_address(driver_object));
}

const void *obt_device_of_extension(const void *addr)
{
    PVOID (*find)(PVOID) = (PVOID(*)(PVOID))obt_g.find_device;
    return find && addr ? find((PVOID)addr) : NULL;
}

uint64_t obt_object_new(struct obt_tls *t, const void *addr, int expect)
{
    int ok;
    uint64_t v;
    if (!addr)
        return 0;
    v = object_make(t, addr, expect, &ok);
    if (ok && obt_addrmap_set(&obt_g.objects, (uint64_t)(uintptr_t)addr, v))
        atomic_fetch_add(&obt_g.w.failures, 1);
    return ok ? v : 0;
}

/* Rewrites the OBJECT record of the known simulation object (addr, value) from info; its new value. */
static uint64_t object_redescribe(struct obt_tls *t, const void *addr, uint64_t value, const NTSIM_OBJECT_INFO *info)
{
    uint64_t nv = object_describe(t, addr, OBT_OV_ID(value), OBT_OV_TYPE(value), 1, info->Name);
    obt_addrmap_cas(&obt_g.objects, (uint64_t)(uintptr_t)addr, value, nv);
    return nv;
}

void obt_object_refresh(struct obt_tls *t, const void *addr, uint64_t value)
{
    NTSIM_OBJECT_INFO info;
    if (!value || !(OBT_OV_FLAGS(value) & OBT_OV_SIM) || sim_query(addr, &info))
        return;
    object_redescribe(t, addr, value, &info);
}

uint64_t obt_object_built(struct obt_tls *t, const void *addr, int64_t *pointer)
{
    uint64_t v = obt_addrmap_get(&obt_g.objects, (uint64_t)(uintptr_t)addr);
    NTSIM_OBJECT_INFO info;
    *pointer = 0;
    if (sim_query(addr, &info))
        return v;
    *pointer = info.PointerCount;
    if (!v)
        return obt_object_new_named(t, addr, type_from_name(info.TypeName), info.Name);
    return (OBT_OV_FLAGS(v) & OBT_OV_SIM) ? object_redescribe(t, addr, v, &info) : v;
}

void obt_object_forget(const void *addr, uint64_t value)
{
    if (addr && value)
        obt_addrmap_cas(&obt_g.objects, (uint64_t)(uintptr_t)addr, value, 0);
}

/* ---- events ------------------------------------------------------ */

static uint32_t event_size_optional(uint16_t flags)
{
    uint32_t size = sizeof(struct obt_event);
    size += (flags & OBT_EV_TAG) ? 4 : 0;
    size += (flags & OBT_EV_STATUS) ? 4 : 0;
    size += (flags & OBT_EV_OBJ2) ? 4 : 0;
    size += (flags & OBT_EV_ARG) ? 8 : 0;
    size += (flags & OBT_EV_STRING) ? 4 : 0;
    size += (flags & OBT_EV_MODULE) ? 4 : 0;
    size += (flags & OBT_EV_ARG2) ? 8 : 0;
    return size;
}

/* The bytes of an event with the optional fields flags names. */
static inline uint32_t event_size(uint16_t flags)
{
    if (__builtin_expect(!(flags & OBT_EV_OPTIONAL_MASK), 1))
        return sizeof(struct obt_event);
    return event_size_optional(flags);
}

static char *put32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
    return p + 4;
}

static char *put64(char *p, uint64_t v)
{
    memcpy(p, &v, 8);
    return p + 8;
}

/*
 * The fixed part of an event, stored straight into its slot in the mapping
 * (type word excepted, obt_tbuf_commit stores it last): building it on the
 * stack and copying it would read back narrow stores as one wide load, a
 * store-forwarding stall on every event.
 */
static inline void event_fixed_put(char *p, const struct obt_ev *ev, uint32_t ts_delta, uint32_t stack)
{
    struct obt_event *e = (struct obt_event *)p;
    e->ts_delta = ts_delta;
    e->op = ev->op;
    e->obj_type = ev->obj_type;
    e->flags = ev->flags;
    e->object = ev->object;
    e->count = ev->count;
    e->stack = stack;
}

/* The optional fields of ev, in the order trace.h gives, from q. */
static void event_optional_put(char *q, const struct obt_ev *ev)
{
    if (ev->flags & OBT_EV_TAG)
        q = put32(q, ev->tag);
    if (ev->flags & OBT_EV_STATUS)
        q = put32(q, (uint32_t)ev->status);
    if (ev->flags & OBT_EV_OBJ2)
        q = put32(q, ev->obj2);
    if (ev->flags & OBT_EV_ARG)
        q = put64(q, ev->arg);
    if (ev->flags & OBT_EV_STRING)
        q = put32(q, ev->string);
    if (ev->flags & OBT_EV_MODULE)
        q = put32(q, ev->module);
    if (ev->flags & OBT_EV_ARG2)
        put64(q, ev->arg2);
}

static inline __attribute__((always_inline)) void event_write(struct obt_tls *t, const struct obt_ev *ev, uint32_t stack,
                                                               uint64_t now)
{
    struct obt_writer *w = &obt_g.w;
    uint32_t size = event_size(ev->flags);
    char *p = obt_tbuf_timed_slot(w, &t->tb, size, now);

    if (__builtin_expect(!p, 0)) {
        atomic_fetch_add(&w->dropped, 1);
        return;
    }
    event_fixed_put(p, ev, (uint32_t)(now - t->tb.base_ns), stack);
    if (ev->flags & OBT_EV_OPTIONAL_MASK)
        event_optional_put(p + sizeof(struct obt_event), ev);
    obt_tbuf_commit(&t->tb, p, OBT_REC_EVENT, size);
}

static inline __attribute__((always_inline)) void emit_inline(struct obt_call *c, const struct obt_ev *ev)
{
    if (ev->filtered)
        return;
    uint32_t stack = c->have_stack ? c->stack : obt_g.cfg.depth ? stack_capture_inline(c) : OBT_NO_STACK;
    event_write(c->tls, ev, stack, c->have_stack ? c->now : obt_now_ns());
}

void obt_emit_ev(struct obt_call *c, const struct obt_ev *ev)
{
    emit_inline(c, ev);
}

void obt_emit(struct obt_call *c)
{
    emit_inline(c, &c->ev);
}

/* ---- start, canary, fork, exec, finish ---------------------------- */

static size_t read_cmdline(char *buf, size_t len)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len) : -1;
    if (fd >= 0)
        close(fd);
    return n > 0 ? (size_t)n : 0;
}

static int open_trace(uint16_t flags)
{
    char cmdline[3072], path[sizeof(obt_g.w.path)];
    struct obt_writer_info info = { (uint32_t)getpid(), (uint32_t)getppid(), flags, cmdline, 0 };
    uint32_t gen = obt_g.w.generation;
    int rc = -EEXIST;

    info.cmdline_len = (uint32_t)read_cmdline(cmdline, sizeof(cmdline));
    for (unsigned attempt = 0; attempt < 100 && rc == -EEXIST; attempt++) {
        if (obt_config_expand_path(obt_g.cfg.output, (int)info.pid, attempt, path, sizeof(path)))
            return -ENAMETOOLONG;
        rc = obt_writer_init(&obt_g.w, path, obt_g.cfg.chunk_size, &info);
    }
    if (rc == 0) {
        obt_g.w.generation = gen + 1;
        obt_config_report_trace(&obt_g.cfg, path); /* obtrace record lists it */
    } else {
        fprintf(stderr, "obtrace: cannot create trace %s: %s\n", path, strerror(-rc));
    }
    return rc;
}

static int tables_init(void)
{
    if (obt_intern_init(&obt_g.stacks, OBT_STACK_TABLE_LOG2) ||
        obt_intern_init(&obt_g.strings, OBT_STRING_TABLE_LOG2) ||
        obt_addrmap_init(&obt_g.objects, OBT_OBJECT_TABLE_LOG2) || obt_addrmap_init(&obt_g.aux, OBT_AUX_TABLE_LOG2))
        return -1;
    atomic_store(&obt_g.next_stack_id, 1);
    atomic_store(&obt_g.next_string_id, 1);
    atomic_store(&obt_g.next_object_id, 1);
    return 0;
}

static void tables_release(void)
{
    obt_intern_release(&obt_g.stacks);
    obt_intern_release(&obt_g.strings);
    obt_addrmap_release(&obt_g.objects);
    obt_addrmap_release(&obt_g.aux);
}

/* Removes every LD_PRELOAD entry naming our library (OBTRACE_FOLLOW_EXEC=0). */
static void strip_preload(void)
{
    const char *v = getenv("LD_PRELOAD");
    char out[4096];
    size_t n = 0;
    if (!v || strlen(v) >= sizeof(out))
        return;
    while (*v) {
        size_t len = strcspn(v, ": ");
        const char *base = v;
        for (size_t i = 0; i < len; i++)
            if (v[i] == '/')
                base = v + i + 1;
        size_t blen = len - (size_t)(base - v);
        if (len && !(blen == strlen("libobtrace.so") && !memcmp(base, "libobtrace.so", blen))) {
            if (n)
                out[n++] = ':';
            memcpy(out + n, v, len);
            n += len;
        }
        v += len;
        if (*v)
            v++;
    }
    out[n] = 0;
    if (n)
        setenv("LD_PRELOAD", out, 1);
    else
        unsetenv("LD_PRELOAD");
}

static const char *const internal_call_symbols[] = { "ObfReferenceObject", "ObfDereferenceObject", "ObCreateObject",
                                                     "IopReferenceDeviceObject" };

static int is_internal_call_symbol(const char *name)
{
    for (size_t i = 0; i < sizeof(internal_call_symbols) / sizeof(internal_call_symbols[0]); i++)
        if (!strcmp(name, internal_call_symbols[i]))
            return 1;
    return 0;
}

static uintptr_t dyn_ptr(const struct link_map *lm, uintptr_t v)
{
    return v < lm->l_addr ? v + lm->l_addr : v;
}

static int relocs_name_symbol(const ElfW(Rela) *r, size_t bytes, const ElfW(Sym) *symtab, const char *strtab)
{
    for (size_t i = 0; r && i < bytes / sizeof(*r); i++) {
        size_t sym = ELF64_R_SYM(r[i].r_info);
        if (sym && is_internal_call_symbol(strtab + symtab[sym].st_name))
            return 1;
    }
    return 0;
}

/*
 * TRUE when the framework library calls its own exported lifetime
 * functions through the dynamic linker (so they reach our interposers):
 * not linked -Bsymbolic (DF_SYMBOLIC) and with a relocation naming one of
 * them. A -Bsymbolic(-functions) link resolves those calls at link time.
 */
static int framework_calls_interposable(void *framework_symbol, char *lib, size_t liblen)
{
    Dl_info di;
    struct link_map *lm = NULL;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *rela = NULL, *jmprel = NULL;
    size_t relasz = 0, pltrelsz = 0;
    int symbolic = 0;

    if (!dladdr1(framework_symbol, &di, (void **)&lm, RTLD_DL_LINKMAP) || !lm || !lm->l_ld)
        return 1;
    snprintf(lib, liblen, "%s", di.dli_fname ? di.dli_fname : "libntsim.so");
    for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMBOLIC: symbolic = 1; break;
        case DT_FLAGS: symbolic |= (d->d_un.d_val & DF_SYMBOLIC) != 0; break;
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_ptr(lm, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)dyn_ptr(lm, d->d_un.d_ptr); break;
        case DT_RELA: rela = (const ElfW(Rela) *)dyn_ptr(lm, d->d_un.d_ptr); break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn_ptr(lm, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: pltrelsz = d->d_un.d_val; break;
        default: break;
        }
    }
    if (symbolic)
        return 0;
    if (!symtab || !strtab)
        return 1;
    return relocs_name_symbol(jmprel, pltrelsz, symtab, strtab) || relocs_name_symbol(rela, relasz, symtab, strtab);
}

static void canary(void *framework_symbol)
{
    char lib[1024];
    KIRQL (*irql)(void) = (KIRQL(*)(void))dlsym(RTLD_DEFAULT, "KeGetCurrentIrql");

    if (irql) {
        uint64_t before = atomic_load(&obt_g.canary_hits);
        atomic_store(&obt_g.canary_armed, 1);
        irql();
        atomic_store(&obt_g.canary_armed, 0);
        if (atomic_load(&obt_g.canary_hits) == before) {
            fprintf(stderr, "obtrace: warning: the tracer's hooks do not fire (libobtrace.so must be "
                            "in LD_PRELOAD): nothing will be traced\n");
            return;
        }
    }
    if (!framework_calls_interposable(framework_symbol, lib, sizeof(lib)))
        fprintf(stderr, "obtrace: warning: %s binds its own lifetime calls directly (linked -Bsymbolic?): "
                        "references the framework takes internally will be missing from the trace\n", lib);
}

static void atfork_prepare(void)
{
    pthread_mutex_lock(&start_lock);
    if (atomic_load(&obt_g.state) == OBT_RUNNING) {
        pthread_mutex_lock(&obt_g.w.grow_lock);
        pthread_mutex_lock(&obt_g.mods.lock);
    }
}

static void atfork_parent(void)
{
    if (atomic_load(&obt_g.state) == OBT_RUNNING) {
        pthread_mutex_unlock(&obt_g.mods.lock);
        pthread_mutex_unlock(&obt_g.w.grow_lock);
    }
    pthread_mutex_unlock(&start_lock);
}

/* The child writes its own trace: a new file, fresh tables, modules again. */
static void atfork_child(void)
{
    pthread_mutex_init(&start_lock, NULL);
    if (atomic_load(&obt_g.state) != OBT_RUNNING)
        return;
    pthread_mutex_init(&obt_g.mods.lock, NULL);
    obt_writer_release(&obt_g.w);
    tables_release();
    obt_modules_release(&obt_g.mods);
    obt_g.pid = getpid();
    struct obt_tls *t = &obt_tls_v;
    t->ready = 0;
    t->busy = 0;
    if (tables_init() || open_trace(OBT_FILE_FORKED)) {
        atomic_store(&obt_g.state, OBT_OFF);
        return;
    }
    obt_modules_scan(&obt_g.mods, &obt_g.w, &obt_tls_get()->tb);
}

static void tracer_start_locked(void)
{
    void *query = dlsym(RTLD_DEFAULT, "NtsimQueryObject");

    if (atomic_load(&obt_g.state) != OBT_DORMANT || !query)
        return;
    obt_g.query = query;
    obt_g.find_device = dlsym(RTLD_DEFAULT, "NtsimFindDeviceByExtensionAddress"); /* NULL in an older libntsim */
    obt_g.query_wdf = dlsym(RTLD_DEFAULT, "NtsimQueryWdfObject");
    obt_g.pid = getpid();
    if (tables_init() || open_trace(0)) {
        atomic_store(&obt_g.state, OBT_OFF);
        return;
    }
    obt_modules_init(&obt_g.mods);
    struct obt_tls *t = obt_tls_get();
    t->busy = 1;
    obt_modules_scan(&obt_g.mods, &obt_g.w, &t->tb);
    atomic_store(&obt_g.state, OBT_RUNNING);
    canary(query);
    t->busy = 0;
}

void obt_tracer_start_if_needed(void)
{
    if (atomic_load(&obt_g.state) != OBT_DORMANT)
        return;
    if (!dlsym(RTLD_DEFAULT, "NtsimQueryObject"))
        return;
    pthread_mutex_lock(&start_lock);
    tracer_start_locked();
    pthread_mutex_unlock(&start_lock);
}

void obt_tracer_finish(void)
{
    if (atomic_load(&obt_g.state) != OBT_RUNNING || getpid() != obt_g.pid)
        return;
    struct obt_tls *t = obt_tls_get();
    t->busy = 1;
    obt_writer_finish(&obt_g.w, &t->tb);
    atomic_store(&obt_g.state, OBT_OFF);
}

__attribute__((constructor)) static void obt_tracer_ctor(void)
{
    char err[256];
    if (obt_config_from_env(&obt_g.cfg, err, sizeof(err)))
        fprintf(stderr, "obtrace: warning: %s\n", err);
    if (!obt_g.cfg.follow_exec)
        strip_preload();
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    if (getenv("OBTRACE_DISABLE"))
        atomic_store(&obt_g.state, OBT_OFF);
    obt_tracer_start_if_needed();
}

__attribute__((destructor)) static void obt_tracer_dtor(void)
{
    obt_tracer_finish();
}
