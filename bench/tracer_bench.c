/*
 * tracer_bench.c - the workload behind bench/run.sh's tracer rows: a call
 * chain ~25 frames deep crossing two shared objects (bench/tracer_chain/),
 * ending in a leaf that does the measured thing once or twice:
 *
 *   tracer_bench ref    STACKS THREADS ITERS   ObfReferenceObject + ObfDereferenceObject (2 events)
 *   tracer_bench malloc STACKS THREADS ITERS   malloc + free (the heaptrack twin, 2 events)
 *   tracer_bench unw    STACKS THREADS ITERS   one bare unw_backtrace of 32 frames
 *   tracer_bench fp     STACKS THREADS ITERS   one bare frame-pointer walk of 32 frames
 *   tracer_bench none   STACKS THREADS ITERS   nothing: the cost of the chain itself
 *   tracer_bench floor  STACKS THREADS ITERS   the ref leaf, each call recorded by a minimal recorder
 *                                              built from the tracer's own parts (2 events): the limit
 *                                              a tracer's added cost is judged against
 *
 * STACKS distinct call paths (1 or a power of two) are cycled through.
 * Every mode takes an optional fifth argument, CPUS: a comma-separated
 * list of CPU numbers; thread i is pinned to the i-th of them (modulo their
 * number), so a 1-thread run measures one chosen CPU and not whichever the
 * scheduler picked: a VM's CPUs can differ in speed by a fifth or more.
 * Each thread first warms up on its own stack (every path met twice, so a
 * tracer has interned them and primed its per-thread state), then all
 * threads start the measured loop together. Prints
 *   ns_per_event=X cpu_ns_per_event=P thread_cpu_ns_per_event=T events=N events_per_sec=R calls=C
 * X = wall time of the measured loops / events one thread handled in them
 * (per event, per thread), P = CPU time of the whole process (helper
 * threads of a preloaded tool included) during the loops / N, T = CPU time
 * of the workload threads alone in their loops / N (what the traced code
 * path itself pays), N = events of all threads in the measured loops,
 * R = N / that wall time, C = every lifetime call made, warm-up and object
 * creations included (what a trace of the run holds). The preloaded tool's
 * start-up and exit are not counted.
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "intern.h"
#include "ntsim.h"
#include "ntsim_kernel.h"
#include "unwind.h"

#define CHAIN_DEPTH 24

typedef void chain_leaf_fn(void *ctx);
typedef void chain_step_fn(int depth, uint32_t path, chain_leaf_fn *leaf, void *ctx);

static chain_step_fn *step_a;
static unsigned long long iters;
static uint32_t stacks;
static chain_leaf_fn *leaf;
static int events_per_leaf;
static unsigned long long warm_iters;
static pthread_barrier_t start_line;
static struct timespec cpu0; /* process CPU time when the measured loops start */
static int cpus[16];         /* the CPUS argument: thread i runs on cpus[i % ncpus] */
static unsigned ncpus;

#define FLOOR_BUFFER (64 * 1024)

/*
 * The floor recorder's per-thread state: the tracer's frame-pointer walk
 * (obt_unwind_fp) from the recorded call, the stack interned in the
 * tracer's table (obt_intern_*), a 28-byte event (and a stack record the
 * first time) appended to a private buffer written out with write(2) when
 * full. No shared write per event beyond the intern lookup, no mapping.
 */
struct floor_state {
    struct obt_stack_bounds bounds;
    int fd;
    uint32_t used, next_id, seq;
    unsigned char buf[FLOOR_BUFFER];
};

static struct obt_intern floor_stacks;

struct thread_ctx {
    void *obj;
    struct floor_state *floor;
    uintptr_t lo, hi;
    volatile uint64_t sink;
    struct timespec t0, t1;
    struct timespec cpu_t0, cpu_t1; /* this thread's CPU time around its measured loop */
    int cpu;                        /* the CPU this thread is pinned to, or -1 */
} __attribute__((aligned(64)));

__attribute__((noinline)) static void leaf_ref(void *p)
{
    struct thread_ctx *c = p;
    ObfReferenceObject(c->obj);
    ObfDereferenceObject(c->obj);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void leaf_malloc(void *p)
{
    struct thread_ctx *c = p;
    void *volatile m = malloc(16);
    c->sink += (uintptr_t)m;
    free(m);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void leaf_unw(void *p)
{
    struct thread_ctx *c = p;
    void *ips[32];
    c->sink += (uint64_t)unw_backtrace(ips, 32);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void leaf_fp(void *p)
{
    struct thread_ctx *c = p;
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    uint64_t frames[32];
    unsigned n = 0;
    while (n < 32 && fp >= c->lo && fp <= c->hi - 16 && !(fp & 7)) {
        const uintptr_t *f = (const uintptr_t *)fp;
        if (!f[1])
            break;
        frames[n++] = f[1];
        if (f[0] <= fp)
            break;
        fp = f[0];
    }
    c->sink += n + frames[n ? n - 1 : 0];
    __asm__ volatile("" ::: "memory");
}

static void floor_append(struct floor_state *f, const void *rec, uint32_t len)
{
    if (f->used + len > FLOOR_BUFFER) {
        if (write(f->fd, f->buf, f->used) < 0)
            abort();
        f->used = 0;
    }
    memcpy(f->buf + f->used, rec, len);
    f->used += len;
}

/* Records one call the way a minimal tracer would: stack walk, intern, buffered record. */
__attribute__((noinline)) static void floor_record(struct floor_state *f, const void *obj, uint32_t op, int32_t count)
{
    uint64_t frames[64];
    unsigned n = obt_unwind_fp(__builtin_frame_address(0), &f->bounds, frames, 64);
    int inserted;
    struct obt_intern_slot *slot = obt_intern_get(&floor_stacks, obt_hash_words(frames, n, 0), &inserted);
    uint32_t id = 0;
    if (slot && inserted) {
        id = ++f->next_id;
        uint32_t head[2] = { id, n };
        floor_append(f, head, sizeof(head));
        floor_append(f, frames, n * (uint32_t)sizeof(uint64_t));
        obt_intern_publish(slot, id);
    } else if (slot) {
        id = obt_intern_id(slot);
    }
    struct __attribute__((packed)) {
        uint32_t type_size, seq, op, object, stack;
        int32_t count;
        uint32_t tid;
    } ev = { 28u << 16, ++f->seq, op, (uint32_t)(uintptr_t)obj, id, count, 0 };
    floor_append(f, &ev, sizeof(ev));
}

__attribute__((noinline)) static void leaf_floor(void *p)
{
    struct thread_ctx *c = p;
    floor_record(c->floor, c->obj, 2, (int32_t)ObfReferenceObject(c->obj));
    floor_record(c->floor, c->obj, 3, (int32_t)ObfDereferenceObject(c->obj));
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void leaf_none(void *p)
{
    (void)p;
    __asm__ volatile("" ::: "memory");
}

/* The floor recorder's table and per-thread buffers, each writing to its own unlinked file. */
static int floor_open(struct thread_ctx *ctx, unsigned threads)
{
    if (obt_intern_init(&floor_stacks, 16))
        return -1;
    for (unsigned i = 0; i < threads; i++) {
        char path[] = "/tmp/obt-floor-XXXXXX";
        ctx[i].floor = calloc(1, sizeof(*ctx[i].floor));
        if (!ctx[i].floor || (ctx[i].floor->fd = mkstemp(path)) < 0)
            return -1;
        unlink(path);
    }
    return 0;
}

static void *object_new(void)
{
    void *obj = NULL;
#ifdef TRACER_BENCH_FAKE
    UNICODE_STRING name = { 0, 0, NULL };
    ObCreateObject((POBJECT_TYPE) "Event", &name, 0, 16, &obj);
#else
    ObCreateObject(*ExEventObjectType, NULL, 0, sizeof(KEVENT), &obj);
#endif
    return obj;
}

__attribute__((noinline)) static void run_loop(struct thread_ctx *c, unsigned long long n)
{
    for (unsigned long long i = 0; i < n; i++)
        step_a(CHAIN_DEPTH, (uint32_t)i & (stacks - 1), leaf, c);
}

static void stack_bounds(struct thread_ctx *c)
{
    pthread_attr_t a;
    void *addr;
    size_t size;
    pthread_getattr_np(pthread_self(), &a);
    pthread_attr_getstack(&a, &addr, &size);
    pthread_attr_destroy(&a);
    c->lo = (uintptr_t)addr;
    c->hi = (uintptr_t)addr + size;
}

/* Warm-up on this thread's own stack, then the measured loop, started together. */
static void *thread_start(void *p)
{
    struct thread_ctx *c = p;
    if (c->cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(c->cpu, &set);
        if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
            fprintf(stderr, "tracer_bench: cannot run on CPU %d\n", c->cpu);
            exit(2);
        }
    }
    stack_bounds(c);
    if (c->floor)
        obt_stack_bounds_current(&c->floor->bounds);
    /* one call site for both loops (the volatile count keeps the compiler from unrolling it): the
       measured loop meets the stacks the warm-up met, not new ones under another return address */
    for (volatile int measured = 0; measured < 2; measured++) {
        if (measured) {
            if (pthread_barrier_wait(&start_line) == PTHREAD_BARRIER_SERIAL_THREAD)
                clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
            clock_gettime(CLOCK_MONOTONIC, &c->t0);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c->cpu_t0);
        }
        run_loop(c, measured ? iters : warm_iters);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c->cpu_t1);
    clock_gettime(CLOCK_MONOTONIC, &c->t1);
    return NULL;
}

/* Parses the CPUS argument into cpus[]: 0, or -1 when it is not a list of CPU numbers. */
static int cpus_parse(const char *list)
{
    char *end;
    do {
        long cpu = strtol(list, &end, 10);
        if (end == list || cpu < 0 || cpu >= CPU_SETSIZE || ncpus == 16 || (*end && *end != ','))
            return -1;
        cpus[ncpus++] = (int)cpu;
        list = end + 1;
    } while (*end);
    return 0;
}

static double ts_ns(struct timespec t)
{
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void load_chain(const char *self)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", self);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    snprintf(path, sizeof(path), "%s/libtrchain_a.so", dir);
    void *a = dlopen(path, RTLD_NOW);
    snprintf(path, sizeof(path), "%s/libtrchain_b.so", dir);
    void *b = dlopen(path, RTLD_NOW);
    if (!a || !b) {
        fprintf(stderr, "tracer_bench: %s\n", dlerror());
        exit(2);
    }
    step_a = (chain_step_fn *)dlsym(a, "chain_step_a");
    chain_step_fn *step_b = (chain_step_fn *)dlsym(b, "chain_step_b");
    ((void (*)(chain_step_fn *))dlsym(a, "chain_set_next_a"))(step_b);
    ((void (*)(chain_step_fn *))dlsym(b, "chain_set_next_b"))(step_a);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: tracer_bench ref|malloc|unw|fp|none|floor STACKS THREADS ITERS [CPUS]\n");
        return 64;
    }
    const char *mode = argv[1];
    stacks = (uint32_t)strtoul(argv[2], NULL, 10);
    unsigned threads = (unsigned)strtoul(argv[3], NULL, 10);
    iters = strtoull(argv[4], NULL, 10);
    if (!stacks || (stacks & (stacks - 1)) || !threads || threads > 16 || (argc > 5 && cpus_parse(argv[5])))
        return 64;
    load_chain(argv[0]);
    leaf = !strcmp(mode, "ref") ? leaf_ref : !strcmp(mode, "malloc") ? leaf_malloc
           : !strcmp(mode, "unw") ? leaf_unw : !strcmp(mode, "fp") ? leaf_fp
           : !strcmp(mode, "floor") ? leaf_floor : leaf_none;
    events_per_leaf = (leaf == leaf_ref || leaf == leaf_malloc || leaf == leaf_floor) ? 2 : 1;
    static struct thread_ctx ctx[16];
    memset(ctx, 0, sizeof(ctx));
    for (unsigned i = 0; i < threads; i++)
        ctx[i].cpu = ncpus ? cpus[i % ncpus] : -1;
    if (leaf == leaf_floor && floor_open(ctx, threads))
        return 2;
    if (leaf == leaf_ref || leaf == leaf_floor) {
#ifndef TRACER_BENCH_FAKE
        NtsimInitialize(NULL);
#endif
        for (unsigned i = 0; i < threads; i++)
            ctx[i].obj = object_new();
    }
    warm_iters = stacks * 2 > 4096 ? stacks * 2 : 4096;
    pthread_barrier_init(&start_line, NULL, threads);
    pthread_t th[16];
    for (unsigned i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, thread_start, &ctx[i]);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    struct timespec cpu1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
    double start = ts_ns(ctx[0].t0), end = ts_ns(ctx[0].t1);
    for (unsigned i = 1; i < threads; i++) {
        start = ts_ns(ctx[i].t0) < start ? ts_ns(ctx[i].t0) : start;
        end = ts_ns(ctx[i].t1) > end ? ts_ns(ctx[i].t1) : end;
    }
    double ns = end - start, thread_cpu = 0;
    for (unsigned i = 0; i < threads; i++)
        thread_cpu += ts_ns(ctx[i].cpu_t1) - ts_ns(ctx[i].cpu_t0);
    unsigned long long events = iters * threads * (unsigned long long)events_per_leaf;
    unsigned long long calls = (iters + warm_iters) * threads * (unsigned long long)events_per_leaf +
                               (leaf == leaf_ref || leaf == leaf_floor ? threads : 0);
    printf("ns_per_event=%.2f cpu_ns_per_event=%.2f thread_cpu_ns_per_event=%.2f events=%llu events_per_sec=%.0f "
           "calls=%llu\n",
           ns / (double)(iters * events_per_leaf), (ts_ns(cpu1) - ts_ns(cpu0)) / (double)events,
           thread_cpu / (double)events, events, (double)events / ns * 1e9, calls);
    return 0;
}
