/*
 * tracer_trace.c - libobtrace end to end: the tracee (tests/tracer/tracee.c,
 * linked with a libntsim stand-in) runs with libobtrace.so preloaded, and
 * the trace it leaves is read back with an independent parser. Proves:
 * counts and stacks land in the calling function; a reference the
 * framework takes itself is traced; SIGKILL at a random point, abort and
 * SIGSEGV keep every completed event; fork gives the child its own trace;
 * exec marks the trace complete and the new image traces to its own file;
 * 4 threads x 1M events lose and duplicate nothing; an image unloaded and
 * another loaded keep separate module instances; stacks that differ in one
 * deep frame only, met alternately, keep their own stack ids (whatever
 * the tracer caches per thread); the canary warns about a
 * -Bsymbolic framework; a program without libntsim gets no trace;
 * IoCreateDevice describes its device once; `obtrace record` runs a
 * program and counts its events, and lists each trace as the tracer wrote
 * it (a taken name, an exec'd image, a forked child).
 */
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tracer/trace_parse.h"
#include "../../tracer/record.c"
#include "obt_test.h"

extern char **environ;
static char tmpdir[64];
static char lib[PATH_MAX], tracee[PATH_MAX], tracee_sym[PATH_MAX], image_a[PATH_MAX], image_b[PATH_MAX];

static void paths_init(void)
{
    const char *o = getenv("O") ? getenv("O") : "build";
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/lib/libobtrace.so", o);
    ck_assert_ptr_nonnull(realpath(rel, lib));
    snprintf(rel, sizeof(rel), "%s/tests/tracer/tracee", o);
    ck_assert_ptr_nonnull(realpath(rel, tracee));
    snprintf(rel, sizeof(rel), "%s/tests/tracer/tracee_symbolic", o);
    ck_assert_ptr_nonnull(realpath(rel, tracee_sym));
    snprintf(rel, sizeof(rel), "%s/tests/tracer/image_a.so", o);
    ck_assert_ptr_nonnull(realpath(rel, image_a));
    snprintf(rel, sizeof(rel), "%s/tests/tracer/image_b.so", o);
    ck_assert_ptr_nonnull(realpath(rel, image_b));
    strcpy(tmpdir, "/tmp/obt-trace-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/*
 * Starts argv under libobtrace with OBTRACE_OUTPUT=tmpdir/name and the
 * extra NAME=VALUE settings; the tracee reports to report_fd (or -1);
 * stderr goes to tmpdir/stderr.
 */
static pid_t spawn(char *const argv[], const char *name, int report_fd, const char *const *extra)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid)
        return pid;
    char v[PATH_MAX * 2], errpath[PATH_MAX];
    const char *prefix = getenv("OBTRACE_TEST_PRELOAD_PREFIX");
    snprintf(v, sizeof(v), "%s%s%s", prefix && *prefix ? prefix : "", prefix && *prefix ? ":" : "", lib);
    setenv("LD_PRELOAD", v, 1);
    snprintf(v, sizeof(v), "%s/%s", tmpdir, name);
    setenv("OBTRACE_OUTPUT", v, 1);
    unsetenv("OBTRACE_UNWIND");
    unsetenv("OBTRACE_DEPTH");
    if (report_fd >= 0) {
        snprintf(v, sizeof(v), "%d", report_fd);
        setenv("TRACEE_REPORT_FD", v, 1);
    }
    for (; extra && *extra; extra++) {
        snprintf(v, sizeof(v), "%s", *extra);
        char *eq = strchr(v, '=');
        *eq = 0;
        setenv(v, eq + 1, 1);
    }
    snprintf(errpath, sizeof(errpath), "%s/stderr", tmpdir);
    if (!freopen(errpath, "a", stderr))
        _exit(126);
    execv(argv[0], argv);
    _exit(127);
}

static int wait_status(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return st;
}

static void trace_path(char *out, size_t len, const char *name, pid_t pid)
{
    snprintf(out, len, "%s/%s", tmpdir, name);
    char *p = strstr(out, "%p");
    if (p) {
        char rest[256];
        snprintf(rest, sizeof(rest), "%s", p + 2);
        snprintf(p, len - (size_t)(p - out), "%d%s", (int)pid, rest);
    }
}

static void load(struct tp_trace *t, const char *name, pid_t pid)
{
    char path[PATH_MAX];
    trace_path(path, sizeof(path), name, pid);
    ck_assert_msg(tp_load(path, t) == 0, "no trace at %s", path);
}

struct site {
    unsigned long off, size;
};

/* Reads "name offset size" lines of `tracee sites`. */
/* The address range of the tracee's function called name (as `tracee sites` prints it). */
static void site_named(const char *name, struct site *out)
{
    char cmd[PATH_MAX + 16], got[64];
    struct site s;
    snprintf(cmd, sizeof(cmd), "%s sites", tracee);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    while (fscanf(f, "%63s %lu %lu", got, &s.off, &s.size) == 3)
        if (!strcmp(got, name))
            *out = s;
    pclose(f);
    ck_assert_msg(out->size > 0, "tracee has no function %s", name);
}

static void sites(struct site *ref, struct site *deref, struct site *internal, struct site *mainf)
{
    char cmd[PATH_MAX + 16], name[64];
    struct site s;
    snprintf(cmd, sizeof(cmd), "%s sites", tracee);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    while (fscanf(f, "%63s %lu %lu", name, &s.off, &s.size) == 3) {
        if (!strcmp(name, "tracee_ref_site"))
            *ref = s;
        else if (!strcmp(name, "tracee_deref_site"))
            *deref = s;
        else if (!strcmp(name, "FakeInternalReference"))
            *internal = s;
        else if (!strcmp(name, "main"))
            *mainf = s;
    }
    pclose(f);
}

/* TRUE when addr lies in function s of the module whose path ends in suffix. */
static int in_function(const struct tp_trace *t, uint64_t addr, const char *suffix, struct site s)
{
    const struct tp_module *m = tp_module_at(t, addr, 0);
    if (!m)
        return 0;
    size_t pl = strlen(m->path), sl = strlen(suffix);
    if (pl < sl || strcmp(m->path + pl - sl, suffix))
        return 0;
    return addr - m->base > s.off && addr - m->base <= s.off + s.size;
}

static void check_refs_trace(const char *unwind)
{
    struct site ref = { 0, 0 }, deref = { 0, 0 }, internal, mainf = { 0, 0 };
    struct tp_trace t;
    char env[64];
    snprintf(env, sizeof(env), "OBTRACE_UNWIND=%s", unwind);
    const char *extra[] = { env, NULL };

    sites(&ref, &deref, &internal, &mainf);
    ck_assert_uint_gt(ref.size, 0);
    pid_t pid = spawn((char *const[]){ tracee, "refs", "100", NULL }, "t-%p.obt", -1, extra);
    ck_assert_int_eq(wait_status(pid), 0);
    load(&t, "t-%p.obt", pid);
    ck_assert_uint_eq(t.nev, 202);
    ck_assert_int_eq(t.nend, 1);
    ck_assert_uint_eq(t.end.dropped, 0);
    ck_assert_int_eq(tp_threads_dense(&t), 1);
    ck_assert_uint_eq(t.h.pid, (uint32_t)pid);
    ck_assert_uint_eq(t.ev[0].op, OBT_OP_OBJ_CREATE);
    ck_assert_int_eq(t.ev[0].count, 1);
    ck_assert_uint_eq(t.ev[0].obj_type, OBT_OBJ_DEVICE);
    ck_assert_uint_eq(t.nobj, 1);
    ck_assert_str_eq(t.obj[0].name, "\\Device\\Tracee");
    for (size_t i = 1; i < 201; i++) {
        const struct tp_event *e = &t.ev[i];
        int is_ref = (i % 2) == 1;
        ck_assert_uint_eq(e->op, is_ref ? OBT_OP_OBJ_REF : OBT_OP_OBJ_DEREF);
        ck_assert_int_eq(e->count, is_ref ? 2 : 1);
        ck_assert_uint_eq(e->object, t.obj[0].id);
        const struct tp_stack *s = tp_stack(&t, e->stack);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_ge(s->depth, 3);
        ck_assert_msg(in_function(&t, s->frames[0], "/tracee", is_ref ? ref : deref),
                      "%s: frame 0 of event %zu is not in its call site", unwind, i);
        ck_assert_msg(in_function(&t, s->frames[1], "/tracee", mainf) ||
                          in_function(&t, s->frames[2], "/tracee", mainf),
                      "%s: main is not among the callers", unwind);
    }
    ck_assert_int_eq(t.ev[201].count, 0);
    ck_assert_uint_le(t.nst, 6); /* each distinct stack written once */
    tp_free(&t);
}

START_TEST(counts_and_stacks_point_into_the_caller)
{
    paths_init();
    check_refs_trace("auto");
    check_refs_trace("fp");
    check_refs_trace("dwarf");
    cleanup();
}
END_TEST

/* The first frame where two stacks differ, or -1. */
static int first_difference(const struct tp_stack *a, const struct tp_stack *b)
{
    unsigned n = a->depth < b->depth ? a->depth : b->depth;
    for (unsigned i = 0; i < n; i++)
        if (a->frames[i] != b->frames[i])
            return (int)i;
    return a->depth == b->depth ? -1 : (int)n;
}

/*
 * tracee deep: pairs alternate between two paths that differ in one frame
 * 22 below the call site (deep-runs: run pairs on one path, then run on the
 * other, through a frame without a frame pointer too). Every event must
 * carry the stack of its own path: 4 stacks (ref/deref x path), each the
 * same for every event of its kind, the two paths' stacks equal but for
 * that one deep frame. Runs longer than two let dwarf mode learn a stack
 * and then meet the other path at the same frames: what it learned must
 * tell them apart.
 */
static void check_deep_trace(const char *unwind, unsigned run)
{
    struct tp_trace t;
    char env[64], run_arg[16];
    snprintf(env, sizeof(env), "OBTRACE_UNWIND=%s", unwind);
    snprintf(run_arg, sizeof(run_arg), "%u", run);
    const char *extra[] = { env, NULL };
    const unsigned pairs_n = 500;

    char *const deep[] = { tracee, "deep", "500", NULL }, *const runs[] = { tracee, "deep-runs", "500", run_arg, NULL };
    pid_t pid = spawn(run > 1 ? runs : deep, "d-%p.obt", -1, extra);
    ck_assert_int_eq(wait_status(pid), 0);
    load(&t, "d-%p.obt", pid);
    ck_assert_uint_eq(t.nev, 2 + 2 * pairs_n);
    uint32_t id[2][2] = { { 0, 0 }, { 0, 0 } }; /* [path][deref] */
    for (unsigned i = 0; i < 2 * pairs_n; i++) {
        const struct tp_event *e = &t.ev[1 + i];
        unsigned path = (i / 2 / run) & 1, deref = i & 1;
        ck_assert_uint_eq(e->op, deref ? OBT_OP_OBJ_DEREF : OBT_OP_OBJ_REF);
        ck_assert_uint_ne(e->stack, OBT_NO_STACK);
        if (!id[path][deref])
            id[path][deref] = e->stack;
        ck_assert_msg(e->stack == id[path][deref], "%s: event %u of path %u has stack %u, not %u", unwind, i, path,
                      e->stack, id[path][deref]);
    }
    for (unsigned deref = 0; deref < 2; deref++) {
        ck_assert_uint_ne(id[0][deref], id[1][deref]);
        const struct tp_stack *a = tp_stack(&t, id[0][deref]), *b = tp_stack(&t, id[1][deref]);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(a->depth, b->depth);
        int at = first_difference(a, b);
        ck_assert_msg(at >= 20, "%s: the paths differ at frame %d, not deep down", unwind, at);
        for (unsigned i = (unsigned)at + 1; i < a->depth; i++)
            ck_assert_uint_eq(a->frames[i], b->frames[i]);
    }
    tp_free(&t);
}

START_TEST(stacks_differing_in_one_deep_frame_keep_their_ids)
{
    paths_init();
    check_deep_trace("fp", 1);
    check_deep_trace("auto", 1);
    check_deep_trace("dwarf", 1);
    check_deep_trace("auto", 5);
    check_deep_trace("dwarf", 5);
    cleanup();
}
END_TEST

/*
 * tracee foreign-rbp: every call site is reached through a frame whose
 * %rbp is no frame pointer. The frame-pointer walk stops right above it;
 * libunwind goes on to main. fp mode records the short walk, auto finds
 * on first meeting that the walk disagrees with libunwind and records
 * libunwind's frames every time after (the same stack, the same id),
 * dwarf records them too.
 */
static void check_foreign_rbp_trace(const char *unwind, int full)
{
    struct site ref = { 0, 0 }, deref = { 0, 0 }, internal, mainf = { 0, 0 }, foreign = { 0, 0 };
    struct tp_trace t;
    char env[64];
    snprintf(env, sizeof(env), "OBTRACE_UNWIND=%s", unwind);
    const char *extra[] = { env, NULL };
    const unsigned pairs_n = 300;

    sites(&ref, &deref, &internal, &mainf);
    site_named("call_with_foreign_rbp", &foreign);
    pid_t pid = spawn((char *const[]){ tracee, "foreign-rbp", "300", NULL }, "f-%p.obt", -1, extra);
    ck_assert_int_eq(wait_status(pid), 0);
    load(&t, "f-%p.obt", pid);
    ck_assert_uint_eq(t.nev, 2 + 2 * pairs_n);
    uint32_t id[2] = { 0, 0 };
    for (unsigned i = 0; i < 2 * pairs_n; i++) {
        const struct tp_event *e = &t.ev[1 + i];
        unsigned is_deref = i & 1;
        ck_assert_uint_eq(e->op, is_deref ? OBT_OP_OBJ_DEREF : OBT_OP_OBJ_REF);
        if (!id[is_deref])
            id[is_deref] = e->stack;
        ck_assert_msg(e->stack == id[is_deref], "%s: event %u has stack %u, not %u", unwind, i, e->stack,
                      id[is_deref]);
    }
    for (unsigned is_deref = 0; is_deref < 2; is_deref++) {
        const struct tp_stack *s = tp_stack(&t, id[is_deref]);
        ck_assert_ptr_nonnull(s);
        ck_assert(in_function(&t, s->frames[0], "/tracee", is_deref ? deref : ref));
        ck_assert(in_function(&t, s->frames[1], "/tracee", foreign));
        if (!full) {
            ck_assert_uint_eq(s->depth, 2);
            continue;
        }
        ck_assert_uint_ge(s->depth, 4);
        int has_main = 0;
        for (unsigned f = 2; f < s->depth; f++)
            has_main |= in_function(&t, s->frames[f], "/tracee", mainf);
        ck_assert_msg(has_main, "%s: main is not among the callers", unwind);
    }
    tp_free(&t);
}

START_TEST(auto_uses_libunwind_where_the_walk_stops_short)
{
#if defined(__x86_64__) /* the tracee's foreign-%rbp frame is x86-64 assembly */
    paths_init();
    check_foreign_rbp_trace("fp", 0);
    check_foreign_rbp_trace("auto", 1);
    check_foreign_rbp_trace("dwarf", 1);
    cleanup();
#endif
}
END_TEST

START_TEST(framework_internal_reference_is_traced)
{
    struct site ref, deref, internal = { 0, 0 }, mainf = { 0, 0 };
    struct tp_trace t;
    paths_init();
    sites(&ref, &deref, &internal, &mainf);
    pid_t pid = spawn((char *const[]){ tracee, "internal", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    load(&t, "t-%p.obt", pid);
    ck_assert_uint_eq(t.nev, 4);
    ck_assert_uint_eq(t.ev[1].op, OBT_OP_OBJ_REF);
    ck_assert_int_eq(t.ev[1].count, 2);
    const struct tp_stack *s = tp_stack(&t, t.ev[1].stack);
    ck_assert_ptr_nonnull(s);
    ck_assert(in_function(&t, s->frames[0], "/libfakentsim.so", internal));
    ck_assert(in_function(&t, s->frames[1], "/tracee", mainf));
    tp_free(&t);
    cleanup();
}
END_TEST

/* Runs `tracee MODE N` to its death, reading its progress; returns the last completed count. */
static uint64_t run_until_death(const char *mode, const char *n, int kill_after_ms, int expect_signal,
                                pid_t *pid_out)
{
    int pfd[2];
    uint64_t done = 0, buf[512];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = spawn((char *const[]){ tracee, (char *)mode, (char *)n, NULL }, "t-%p.obt", pfd[1], NULL);
    close(pfd[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int killed = 0;
    for (;;) {
        struct pollfd p = { pfd[0], POLLIN, 0 };
        if (kill_after_ms >= 0 && !killed) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
            if (ms >= kill_after_ms) {
                kill(pid, SIGKILL);
                killed = 1;
            }
        }
        if (poll(&p, 1, 5) <= 0)
            continue;
        ssize_t r = read(pfd[0], buf, sizeof(buf));
        if (r <= 0)
            break;
        if (r >= 8)
            done = buf[r / 8 - 1];
        /* a partial value is finished by the next read; the count only matters at the end */
    }
    close(pfd[0]);
    int st = wait_status(pid);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(WTERMSIG(st), expect_signal);
    *pid_out = pid;
    return done;
}

static void check_crash_trace(pid_t pid, uint64_t done)
{
    struct tp_trace t;
    load(&t, "t-%p.obt", pid);
    ck_assert_int_eq(t.nend, 0);
    ck_assert_msg(t.nev >= done, "trace holds %zu events, the tracee completed %llu", t.nev,
                  (unsigned long long)done);
    ck_assert_uint_le(t.nev, done + 1); /* at most the call in flight */
    ck_assert_int_eq(tp_threads_dense(&t), 1);
    for (size_t i = 0; i < t.nev; i++)
        ck_assert_ptr_nonnull(tp_stack(&t, t.ev[i].stack));
    tp_free(&t);
}

START_TEST(sigkill_at_a_random_point_keeps_completed_events)
{
    pid_t pid;
    paths_init();
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int round = 0; round < 3; round++) {
        int ms = 20 + rand() % 200;
        uint64_t done = run_until_death("kill", "0", ms, SIGKILL, &pid);
        ck_assert_uint_gt(done, 0);
        check_crash_trace(pid, done);
    }
    cleanup();
}
END_TEST

START_TEST(abort_and_sigsegv_keep_completed_events)
{
    pid_t pid;
    paths_init();
    uint64_t done = run_until_death("abort", "1000", -1, SIGABRT, &pid);
    ck_assert_uint_eq(done, 2001);
    check_crash_trace(pid, done);
    done = run_until_death("segv", "1000", -1, SIGSEGV, &pid);
    ck_assert_uint_eq(done, 2001);
    check_crash_trace(pid, done);
    cleanup();
}
END_TEST

static int list_traces(char names[][256], int max)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) && n < max)
        if (strstr(de->d_name, ".obt"))
            snprintf(names[n++], 256, "%s", de->d_name);
    closedir(d);
    return n;
}

START_TEST(fork_child_writes_its_own_trace)
{
    char names[4][256];
    struct tp_trace parent, child;
    paths_init();
    pid_t pid = spawn((char *const[]){ tracee, "fork", "50", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert_int_eq(list_traces(names, 4), 2);
    load(&parent, "t-%p.obt", pid);
    char pname[64];
    snprintf(pname, sizeof(pname), "t-%d.obt", (int)pid);
    const char *other = strcmp(names[0], pname) ? names[0] : names[1];
    load(&child, other, 0);
    ck_assert_uint_eq(parent.h.flags & OBT_FILE_FORKED, 0);
    ck_assert_uint_eq(parent.nev, 1 + 100 + 100); /* create, pairs before and after the fork */
    ck_assert_int_eq(parent.nend, 1);
    ck_assert_int_eq(tp_threads_dense(&parent), 1);
    ck_assert_uint_eq(child.h.flags & OBT_FILE_FORKED, OBT_FILE_FORKED);
    ck_assert_uint_eq(child.h.ppid, (uint32_t)pid);
    ck_assert_uint_eq(child.nev, 100);
    ck_assert_int_eq(child.nend, 1);
    ck_assert_uint_ge(child.nmod, 3);  /* modules recorded again */
    ck_assert_uint_eq(child.nobj, 1);  /* the object described again */
    for (size_t i = 0; i < child.nev; i++) {
        ck_assert_uint_eq(child.ev[i].object, child.obj[0].id);
        ck_assert_ptr_nonnull(tp_stack(&child, child.ev[i].stack));
    }
    tp_free(&parent);
    tp_free(&child);
    cleanup();
}
END_TEST

START_TEST(exec_completes_the_trace_and_follows_by_option)
{
    char names[4][256];
    struct tp_trace before, after;
    paths_init();
    pid_t pid = spawn((char *const[]){ tracee, "exec", "10", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert_int_eq(list_traces(names, 4), 2);
    load(&before, "t-%p.obt", pid);
    ck_assert_uint_eq(before.nev, 21);
    ck_assert_int_eq(before.nend, 1);
    load(&after, "t-%p.1.obt", pid);
    ck_assert_uint_eq(after.nev, 22);
    ck_assert_int_eq(after.nend, 1);
    tp_free(&before);
    tp_free(&after);
    cleanup();

    paths_init();
    const char *noexec[] = { "OBTRACE_FOLLOW_EXEC=0", NULL };
    pid = spawn((char *const[]){ tracee, "exec", "10", NULL }, "t-%p.obt", -1, noexec);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert_int_eq(list_traces(names, 4), 1);
    cleanup();
}
END_TEST

START_TEST(four_threads_million_events_each_no_loss_no_duplicate)
{
    char path[PATH_MAX];
    uint64_t nev, threads, breaks;
    const uint64_t total = 4 * 1000000 + 2;
    paths_init();
    pid_t pid = spawn((char *const[]){ tracee, "threads", "4", "1000000", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    trace_path(path, sizeof(path), "t-%p.obt", pid);
    ck_assert_int_eq(tp_scan_threads(path, &nev, &threads, &breaks), 0);
    ck_assert_uint_eq(nev, total);
    ck_assert_uint_eq(threads, 5); /* main (create, delete) and four workers */
    ck_assert_uint_eq(breaks, 0);
    cleanup();
}
END_TEST

START_TEST(replaced_image_gets_its_own_module_instance)
{
    struct tp_trace t;
    paths_init();
    pid_t pid = spawn((char *const[]){ tracee, "images", image_a, image_b, NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    load(&t, "t-%p.obt", pid);
    const struct tp_module *a = NULL, *b = NULL;
    for (size_t i = 0; i < t.nmod; i++) {
        if (strstr(t.mod[i].path, "/image_a.so"))
            a = &t.mod[i];
        if (strstr(t.mod[i].path, "/image_b.so"))
            b = &t.mod[i];
    }
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_ne(a->instance, b->instance);
    ck_assert(a->unloaded && b->unloaded);
    ck_assert_uint_lt(a->unload_index, b->load_index); /* A went before B came */
    ck_assert_uint_eq(tp_count_op(&t, OBT_OP_IMAGE_LOAD), 2);
    ck_assert_uint_eq(tp_count_op(&t, OBT_OP_IMAGE_UNLOAD), 2);
    uint32_t load_modules[2];
    int nload = 0, in_a = 0, in_b = 0;
    for (size_t i = 0; i < t.nev; i++) {
        const struct tp_event *e = &t.ev[i];
        if (e->op == OBT_OP_IMAGE_LOAD && nload < 2)
            load_modules[nload++] = e->module;
        if (e->op == OBT_OP_OBJ_REF) {
            const struct tp_stack *s = tp_stack(&t, e->stack);
            ck_assert_ptr_nonnull(s);
            /* frame 0 is in the image that was live when the event happened */
            if (nload == 1) {
                ck_assert(s->frames[0] >= a->start && s->frames[0] < a->end);
                in_a++;
            } else {
                ck_assert(s->frames[0] >= b->start && s->frames[0] < b->end);
                in_b++;
            }
        }
    }
    ck_assert_int_eq(nload, 2);
    ck_assert_uint_eq(load_modules[0], a->instance);
    ck_assert_uint_eq(load_modules[1], b->instance);
    ck_assert_int_eq(in_a, 1);
    ck_assert_int_eq(in_b, 2);
    tp_free(&t);
    cleanup();
}
END_TEST

static int stderr_contains(const char *text)
{
    char path[PATH_MAX], buf[4096];
    snprintf(path, sizeof(path), "%s/stderr", tmpdir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return strstr(buf, text) != NULL;
}

START_TEST(canary_warns_when_the_framework_binds_its_own_calls)
{
    char names[4][256];
    paths_init();
    pid_t pid = spawn((char *const[]){ tracee_sym, "refs", "1", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert(stderr_contains("obtrace: warning: "));
    ck_assert(stderr_contains("binds its own lifetime calls directly"));
    cleanup();

    paths_init();
    pid = spawn((char *const[]){ tracee, "refs", "1", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert(!stderr_contains("warning"));
    cleanup();

    paths_init(); /* no libntsim in the program: quiet, no trace */
    pid = spawn((char *const[]){ "/bin/sh", "-c", "exit 0", NULL }, "t-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert_int_eq(list_traces(names, 4), 0);
    ck_assert(!stderr_contains("obtrace"));
    cleanup();
}
END_TEST

/* The OBJECT records of the object called name: how many, and the last one in *last. */
static size_t object_records(const struct tp_trace *t, const char *name, struct tp_object *last)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nobj; i++)
        if (!strcmp(t->obj[i].name, name)) {
            *last = t->obj[i];
            n++;
        }
    return n;
}

/*
 * One IoCreateDevice, one description of its device: the tracer asks the
 * simulation about it once when the device's ObCreateObject was not traced
 * (the -Bsymbolic stand-in binds it directly) and writes its one OBJECT
 * record, driver included; when ObCreateObject was traced, that call wrote
 * the record before the driver was set, and IoCreateDevice writes the one
 * refresh trace-format.md 5.2 allows, from the same single query. Either
 * way the DEV_CREATE event names the device and its driver.
 */
static void check_device_trace(const char *program, size_t records, long queries)
{
    struct tp_trace t;
    struct tp_object dev, drv;
    char text[64];
    paths_init();
    pid_t pid = spawn((char *const[]){ (char *)program, "device", NULL }, "d-%p.obt", -1, NULL);
    ck_assert_int_eq(wait_status(pid), 0);
    snprintf(text, sizeof(text), "tracee: queries after IoCreateDevice: %ld\n", queries);
    ck_assert_msg(stderr_contains(text), "%s: not %ld queries", program, queries);
    load(&t, "d-%p.obt", pid);
    ck_assert_uint_eq(object_records(&t, "\\Driver\\Tracee", &drv), 1);
    ck_assert_uint_eq(object_records(&t, "\\Device\\TraceeDevice", &dev), records);
    ck_assert_uint_eq(dev.type, OBT_OBJ_DEVICE);
    ck_assert_uint_eq(dev.owner, drv.id);
    ck_assert_uint_eq(tp_count_op(&t, OBT_OP_DEV_CREATE), 1);
    for (size_t i = 0; i < t.nev; i++)
        if (t.ev[i].op == OBT_OP_DEV_CREATE) {
            ck_assert_uint_eq(t.ev[i].object, dev.id);
            ck_assert_uint_eq(t.ev[i].obj2, drv.id);
            ck_assert_int_eq(t.ev[i].count, 1);
        }
    tp_free(&t);
    cleanup();
}

START_TEST(io_create_device_describes_its_device_once)
{
    check_device_trace(tracee_sym, 1, 1);
    check_device_trace(tracee, 2, 1);
}
END_TEST

/* Appends to the trace at path a copy of its first chunk cut after its header and first record. */
static void append_copy_of_first_chunk(const char *path)
{
    struct obt_file_header h;
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
    char *c = calloc(1, h.chunk_size);
    ck_assert_int_eq(pread(fd, c, h.chunk_size, (off_t)obt_chunk_offset(h.chunk_size, 0)), (ssize_t)h.chunk_size);
    struct obt_record_header rh;
    memcpy(&rh, c + OBT_CHUNK_HEADER_SIZE, sizeof(rh));
    memset(c + OBT_CHUNK_HEADER_SIZE + rh.size, 0, h.chunk_size - OBT_CHUNK_HEADER_SIZE - rh.size);
    off_t end = lseek(fd, 0, SEEK_END);
    ck_assert_int_eq(pwrite(fd, c, h.chunk_size, end), (ssize_t)h.chunk_size);
    free(c);
    close(fd);
}

START_TEST(record_runs_the_program_and_counts_its_events)
{
    struct obtrace_record_options o;
    struct obtrace_record_traces tr;
    char out[PATH_MAX];
    int complete;
    paths_init();
    obtrace_record_options_init(&o);
    snprintf(out, sizeof(out), "%s/rec.obt", tmpdir);
    o.output = out;
    o.library = lib;
    o.depth = 8;
    ck_assert_int_eq(obtrace_record_run(&o, (char *const[]){ tracee, "refs", "5", NULL }, &tr), 0);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_str_eq(tr.paths[0], out);
    ck_assert_int_eq(obtrace_record_count_events(tr.paths[0], &complete), 12);
    ck_assert_int_eq(complete, 1);
    append_copy_of_first_chunk(tr.paths[0]); /* a death between copy and clearing: still counted once */
    ck_assert_int_eq(obtrace_record_count_events(tr.paths[0], &complete), 12);
    obtrace_record_traces_release(&tr);
    /* again on the same path: the stale trace is replaced, the exit status passed on */
    ck_assert_int_eq(obtrace_record_run(&o, (char *const[]){ tracee, "bogus", NULL }, &tr), 64);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_str_eq(tr.paths[0], out);
    ck_assert_int_eq(obtrace_record_count_events(tr.paths[0], &complete), 1);
    obtrace_record_traces_release(&tr);
    ck_assert_int_eq(obtrace_record_main(3, (char *[]){ "record", "--depth", "x", NULL }), 64);
    ck_assert_int_eq(obtrace_record_main(3, (char *[]){ "record", "--depth", "", NULL }), 64);
    ck_assert_int_eq(obtrace_record_main(3, (char *[]){ "record", "--depth", "4294967297", NULL }), 64);
    ck_assert_int_eq(obtrace_record_main(1, (char *[]){ "record", NULL }), 64);
    /* a program that cannot be started is no trace: -1 from the run, exit 2 from the command */
    ck_assert_int_eq(obtrace_record_run(&o, (char *const[]){ "/nonexistent/program", NULL }, &tr), -1);
    ck_assert_uint_eq(tr.n, 0);
    ck_assert_int_eq(obtrace_record_main(3, (char *[]){ "record", "--", "/nonexistent/program", NULL }), 2);
    cleanup();
}
END_TEST

/*
 * record lists the traces the tracer wrote, not the name it was given: a
 * name taken by something record does not remove (a symlink) gets ".1",
 * an exec'd image writes a second trace under the same pid, a forked child
 * its own; each listed path is a complete trace.
 */
START_TEST(record_lists_each_trace_as_written)
{
    struct obtrace_record_options o;
    struct obtrace_record_traces tr;
    char out[PATH_MAX], want[PATH_MAX];
    int complete;
    paths_init();
    obtrace_record_options_init(&o);
    o.library = lib;
    o.output = out;
    snprintf(out, sizeof(out), "%s/taken.obt", tmpdir);
    ck_assert_int_eq(symlink("/nonexistent/target", out), 0);
    ck_assert_int_eq(obtrace_record_run(&o, (char *const[]){ tracee, "refs", "5", NULL }, &tr), 0);
    snprintf(want, sizeof(want), "%s/taken.1.obt", tmpdir);
    ck_assert_uint_eq(tr.n, 1);
    ck_assert_str_eq(tr.paths[0], want);
    ck_assert_int_eq(obtrace_record_count_events(tr.paths[0], &complete), 12);
    obtrace_record_traces_release(&tr);

    snprintf(out, sizeof(out), "%s/exec.obt", tmpdir);
    ck_assert_int_eq(obtrace_record_run(&o, (char *const[]){ tracee, "exec", "10", NULL }, &tr), 0);
    ck_assert_uint_eq(tr.n, 2);
    ck_assert_str_eq(tr.paths[0], out);
    snprintf(want, sizeof(want), "%s/exec.1.obt", tmpdir);
    ck_assert_str_eq(tr.paths[1], want);
    ck_assert_int_eq(obtrace_record_count_events(tr.paths[0], &complete), 21);
    ck_assert_int_eq(obtrace_record_count_events(tr.paths[1], &complete), 22);
    ck_assert_int_eq(complete, 1);
    obtrace_record_traces_release(&tr);

    snprintf(out, sizeof(out), "%s/fork-%%p.obt", tmpdir);
    ck_assert_int_eq(obtrace_record_run(&o, (char *const[]){ tracee, "fork", "5", NULL }, &tr), 0);
    ck_assert_uint_eq(tr.n, 2);
    struct tp_trace parent, child;
    ck_assert_int_eq(tp_load(tr.paths[0], &parent), 0);
    ck_assert_int_eq(tp_load(tr.paths[1], &child), 0);
    ck_assert_uint_eq(child.h.ppid, parent.h.pid);
    snprintf(want, sizeof(want), "%s/fork-%u.obt", tmpdir, (unsigned)parent.h.pid);
    ck_assert_str_eq(tr.paths[0], want);
    snprintf(want, sizeof(want), "%s/fork-%u.obt", tmpdir, (unsigned)child.h.pid);
    ck_assert_str_eq(tr.paths[1], want);
    ck_assert_int_eq(parent.nend, 1);
    ck_assert_int_eq(child.nend, 1);
    tp_free(&parent);
    tp_free(&child);
    obtrace_record_traces_release(&tr);
    cleanup();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracer_trace");
    TCase *tc = tcase_create("trace");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, counts_and_stacks_point_into_the_caller);
    tcase_add_test(tc, stacks_differing_in_one_deep_frame_keep_their_ids);
    tcase_add_test(tc, auto_uses_libunwind_where_the_walk_stops_short);
    tcase_add_test(tc, framework_internal_reference_is_traced);
    tcase_add_test(tc, sigkill_at_a_random_point_keeps_completed_events);
    tcase_add_test(tc, abort_and_sigsegv_keep_completed_events);
    tcase_add_test(tc, fork_child_writes_its_own_trace);
    tcase_add_test(tc, exec_completes_the_trace_and_follows_by_option);
    tcase_add_test(tc, four_threads_million_events_each_no_loss_no_duplicate);
    tcase_add_test(tc, replaced_image_gets_its_own_module_instance);
    tcase_add_test(tc, canary_warns_when_the_framework_binds_its_own_calls);
    tcase_add_test(tc, io_create_device_describes_its_device_once);
    tcase_add_test(tc, record_runs_the_program_and_counts_its_events);
    tcase_add_test(tc, record_lists_each_trace_as_written);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
