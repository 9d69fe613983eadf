/*
 * tracer_core.c - unit tests of libobtrace's parts, in process: the
 * crash-safe writer (threads, per-thread numbering, END, staging chunks
 * copied out, a death between copy and clearing), the lock-free intern table under contention, the
 * frame-pointer walk against libunwind, the walk's
 * streaming hash and its record-and-recheck (the per-thread walk memo), the
 * configuration parser, the intern table's levels, and doc/trace-format.md's tables against
 * include/obtrace/trace.h.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tracer/trace_parse.h"
#include "config.h"
#include "intern.h"
#include "obt_test.h"
#include "unwind.h"
#include "writer.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/obt-core-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- writer ---------------------------------------------------------- */

struct writer_job {
    struct obt_writer *w;
    unsigned n;
};

/* Writes an event stamped now whose count is the thread's event number (tb->seq). */
static void write_event_at(struct obt_writer *w, struct obt_tbuf *tb, uint32_t object, uint64_t now)
{
    char *p = obt_tbuf_timed_slot(w, tb, sizeof(struct obt_event), now);
    struct obt_event e;
    memset(&e, 0, sizeof(e));
    e.op = OBT_OP_OBJ_REF;
    e.ts_delta = (uint32_t)(now - tb->base_ns);
    e.object = object;
    e.count = (int32_t)tb->seq;
    memcpy(p + 4, (char *)&e + 4, sizeof(e) - 4);
    obt_tbuf_commit(tb, p, OBT_REC_EVENT, sizeof(e));
}

static void write_event(struct obt_writer *w, struct obt_tbuf *tb, uint32_t object)
{
    write_event_at(w, tb, object, obt_now_ns());
}

static void *writer_thread(void *arg)
{
    struct writer_job *j = arg;
    struct obt_tbuf tb;
    memset(&tb, 0, sizeof(tb));
    tb.tid = (uint32_t)gettid();
    for (unsigned i = 0; i < j->n; i++)
        write_event(j->w, &tb, tb.tid);
    return NULL;
}

START_TEST(writer_threads_keep_every_event_once)
{
    struct obt_writer *w = calloc(1, sizeof(*w));
    struct obt_writer_info info = { (uint32_t)getpid(), (uint32_t)getppid(), 0, "test\0", 5 };
    char path[128];
    pthread_t th[4];
    struct writer_job job = { w, 100000 };
    struct obt_tbuf tb;
    struct tp_trace t;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/w.obt", tmpdir);
    ck_assert_int_eq(obt_writer_init(w, path, 4096, &info), 0);
    {
        struct obt_writer *again = calloc(1, sizeof(*again));
        ck_assert_int_eq(obt_writer_init(again, path, 4096, &info), -EEXIST); /* O_CREAT|O_EXCL */
        free(again);
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, writer_thread, &job);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    memset(&tb, 0, sizeof(tb));
    obt_writer_finish(w, &tb);
    obt_writer_release(w);
    ck_assert_int_eq(tp_load(path, &t), 0);
    ck_assert_uint_eq(t.nev, 400000);
    ck_assert_int_eq(tp_threads_dense(&t), 1);
    ck_assert_int_eq(t.nend, 1);
    for (size_t i = 0; i < t.nev; i++)
        ck_assert_uint_eq((uint64_t)(uint32_t)t.ev[i].count, (uint32_t)t.ev[i].seq);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_uint_eq((uint64_t)sb.st_size, obt_chunk_offset(4096, t.chunks)); /* truncated to use */
    tp_free(&t);
    free(w);
    remove_tmpdir();
}
END_TEST

START_TEST(writer_rebases_long_silences)
{
    struct obt_writer *w = calloc(1, sizeof(*w));
    struct obt_writer_info info = { 1, 0, 0, "", 0 };
    struct obt_tbuf tb;
    struct tp_trace t;
    char path[128];

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/r.obt", tmpdir);
    ck_assert_int_eq(obt_writer_init(w, path, 0, &info), 0);
    memset(&tb, 0, sizeof(tb));
    uint64_t now = obt_now_ns();
    write_event_at(w, &tb, 1, now);
    write_event_at(w, &tb, 2, now + 5000000000ull); /* 5 s later: the delta needs a new base */
    obt_writer_finish(w, &tb);
    obt_writer_release(w);
    ck_assert_int_eq(tp_load(path, &t), 0);
    ck_assert_uint_eq(t.nev, 2);
    ck_assert_uint_eq(t.ev[0].ns, now);
    ck_assert_uint_eq(t.ev[1].ns, now + 5000000000ull);
    ck_assert_uint_eq(t.ev[1].seq, 1);
    tp_free(&t);
    free(w);
    remove_tmpdir();
}
END_TEST

/*
 * The staging chunk is copied out whenever it fills: 2000 events in 4 KiB
 * chunks make a dozen copies, each thread's chunks numbered without a gap.
 * A copy left twice (a death between copy and clearing: here the first
 * chunk appended again, whole and cut short) is read once.
 */
/* Chunks lie at multiples of their size, the hole after the header page empty; each thread has its own serial. */
START_TEST(writer_chunks_are_aligned_to_their_size)
{
    enum { CHUNK = 16384 };
    struct obt_writer *w = calloc(1, sizeof(*w));
    struct obt_writer_info info = { 1, 0, 0, "", 0 };
    struct obt_tbuf a, b;
    struct tp_trace t;
    char path[128];

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/a.obt", tmpdir);
    ck_assert_int_eq(obt_writer_init(w, path, CHUNK, &info), 0);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.tid = 11;
    b.tid = 12;
    for (int i = 0; i < 3000; i++) {
        write_event(w, &a, 1);
        write_event(w, &b, 2);
    }
    obt_writer_finish(w, &a);
    obt_writer_release(w);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    off_t end = lseek(fd, 0, SEEK_END);
    ck_assert_int_eq(end % CHUNK, 0);
    static char hole[CHUNK - OBT_HEADER_SIZE], zeros[CHUNK - OBT_HEADER_SIZE];
    ck_assert_int_eq(pread(fd, hole, sizeof(hole), OBT_HEADER_SIZE), (ssize_t)sizeof(hole));
    ck_assert_int_eq(memcmp(hole, zeros, sizeof(hole)), 0);
    uint32_t serial[2] = { 0, 0 };
    unsigned chunks = 0;
    for (off_t off = (off_t)obt_chunk_offset(CHUNK, 0); off < end; off += CHUNK) {
        struct obt_chunk_header ch;
        ck_assert_int_eq(pread(fd, &ch, sizeof(ch), off), (ssize_t)sizeof(ch));
        if (ch.magic != OBT_CHUNK_MAGIC)
            continue;
        chunks++;
        unsigned who = ch.tid == 12;
        ck_assert_uint_ne(ch.thread_serial, 0);
        if (!serial[who])
            serial[who] = ch.thread_serial;
        ck_assert_uint_eq(ch.thread_serial, serial[who]);
    }
    close(fd);
    ck_assert_uint_ne(serial[0], serial[1]);
    ck_assert_uint_ge(chunks, 2 * (3000 * sizeof(struct obt_event) / CHUNK));
    ck_assert_int_eq(tp_load(path, &t), 0);
    ck_assert_uint_eq(t.nev, 6000);
    ck_assert_int_eq(tp_threads_dense(&t), 1);
    tp_free(&t);
    free(w);
    remove_tmpdir();
}
END_TEST

START_TEST(writer_copies_full_staging_chunks_once)
{
    struct obt_writer *w = calloc(1, sizeof(*w));
    struct obt_writer_info info = { 1, 0, 0, "", 0 };
    struct obt_tbuf tb;
    struct tp_trace t;
    char path[128];
    uint64_t nev, threads, breaks;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/s.obt", tmpdir);
    ck_assert_int_eq(obt_writer_init(w, path, 4096, &info), 0);
    memset(&tb, 0, sizeof(tb));
    tb.tid = 77;
    for (int i = 0; i < 2000; i++)
        write_event(w, &tb, 3);
    ck_assert_uint_ge(tb.chunk_no, 12);
    obt_writer_finish(w, &tb);
    obt_writer_release(w);
    static char chunk[4096];
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    off_t end = lseek(fd, 0, SEEK_END);
    off_t first = -1;
    for (off_t off = (off_t)obt_chunk_offset(4096, 0); off < end && first < 0; off += 4096) {
        struct obt_chunk_header ch;
        ck_assert_int_eq(pread(fd, &ch, sizeof(ch), off), (ssize_t)sizeof(ch));
        if (ch.magic == OBT_CHUNK_MAGIC && ch.thread_chunk_no == 0)
            first = off;
    }
    ck_assert_int_ge(first, 0);
    ck_assert_int_eq(pread(fd, chunk, sizeof(chunk), first), (ssize_t)sizeof(chunk));
    ck_assert_int_eq(pwrite(fd, chunk, sizeof(chunk), end), (ssize_t)sizeof(chunk));
    memset(chunk + 1000, 0, sizeof(chunk) - 1000);
    ck_assert_int_eq(pwrite(fd, chunk, sizeof(chunk), end + 4096), (ssize_t)sizeof(chunk));
    close(fd);
    ck_assert_int_eq(tp_load(path, &t), 0);
    ck_assert_uint_eq(t.nev, 2000);
    ck_assert_int_eq(tp_threads_dense(&t), 1);
    ck_assert_int_eq(t.nend, 1);
    tp_free(&t);
    ck_assert_int_eq(tp_scan_threads(path, &nev, &threads, &breaks), 0);
    ck_assert_uint_eq(nev, 2000);
    ck_assert_uint_eq(threads, 1);
    ck_assert_uint_eq(breaks, 0);
    free(w);
    remove_tmpdir();
}
END_TEST

/* A child writes events and dies by SIGKILL without finishing: all of them are in the file. */
START_TEST(writer_events_survive_sigkill)
{
    char path[128];
    struct tp_trace t;
    int pfd[2];
    uint64_t done = 0, v;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/k.obt", tmpdir);
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct obt_writer w;
        struct obt_writer_info info = { 1, 0, 0, "", 0 };
        struct obt_tbuf tb;
        memset(&tb, 0, sizeof(tb));
        if (obt_writer_init(&w, path, 4096, &info))
            _exit(1);
        for (uint64_t i = 1; i <= 5000; i++) {
            write_event(&w, &tb, 7);
            if (write(pfd[1], &i, 8) != 8)
                _exit(1);
        }
        kill(getpid(), SIGKILL);
    }
    close(pfd[1]);
    while (read(pfd[0], &v, 8) == 8)
        done = v;
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    ck_assert_uint_eq(done, 5000);
    ck_assert_int_eq(tp_load(path, &t), 0);
    ck_assert_uint_eq(t.nev, 5000);
    ck_assert_int_eq(t.nend, 0);
    ck_assert_int_eq(tp_threads_dense(&t), 1);
    tp_free(&t);
    remove_tmpdir();
}
END_TEST

/* ---- intern table ---------------------------------------------------- */

static struct obt_intern itable;
static _Atomic uint32_t next_id = 1;
static uint32_t ids[4][5000];

static void *intern_thread(void *arg)
{
    long k = (long)arg;
    for (uint64_t i = 0; i < 5000; i++) {
        uint64_t frames[3] = { i, i * 7, 42 };
        int inserted;
        struct obt_intern_slot *s = obt_intern_get(&itable, obt_hash_words(frames, 3, 1), &inserted);
        if (inserted)
            obt_intern_publish(s, atomic_fetch_add(&next_id, 1));
        ids[k][i] = obt_intern_id(s);
    }
    return NULL;
}

START_TEST(intern_gives_each_key_one_id_under_contention)
{
    pthread_t th[4];
    ck_assert_int_eq(obt_intern_init(&itable, 16), 0);
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, intern_thread, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(atomic_load(&next_id), 5001); /* 5000 distinct keys, each inserted once */
    for (int i = 0; i < 5000; i++)
        for (int k = 1; k < 4; k++)
            ck_assert_uint_eq(ids[k][i], ids[0][i]);
    obt_intern_release(&itable);
}
END_TEST

/* Levels of 16, 64, 256 and 1024 slots hold 12 + 48 + 192 + 768 keys, each found where it went in. */
START_TEST(intern_grows_in_levels)
{
    static struct obt_intern t;
    static struct obt_intern_slot *slot[1020];
    int inserted;
    ck_assert_int_eq(obt_intern_init(&t, 4), 0);
    for (unsigned i = 0; i < 1020; i++) {
        struct obt_key k = { obt_mix64(i + 1), i };
        slot[i] = obt_intern_get(&t, k, &inserted);
        ck_assert_ptr_nonnull(slot[i]);
        ck_assert_int_eq(inserted, 1);
        obt_intern_publish(slot[i], i + 1);
        ck_assert_ptr_nonnull(atomic_load(&t.level[i < 12 ? 0 : i < 60 ? 1 : i < 252 ? 2 : 3].slots));
    }
    for (unsigned l = 0; l < OBT_INTERN_LEVELS; l++)
        ck_assert_uint_eq(atomic_load(&t.level[l].used), (16u << (2 * l)) / 4 * 3);
    for (unsigned i = 0; i < 1020; i++) {
        struct obt_key k = { obt_mix64(i + 1), i };
        ck_assert_ptr_eq(obt_intern_get(&t, k, &inserted), slot[i]);
        ck_assert_int_eq(inserted, 0);
        ck_assert_uint_eq(obt_intern_id(slot[i]), i + 1);
    }
    struct obt_key more = { obt_mix64(5000), 5000 };
    ck_assert_ptr_null(obt_intern_get(&t, more, &inserted)); /* every level full */
    obt_intern_release(&t);
}
END_TEST

START_TEST(hash_separates_close_stacks)
{
    uint64_t a[32], b[32];
    for (int i = 0; i < 32; i++)
        a[i] = b[i] = 0x401000 + (uint64_t)i * 16;
    b[31] ^= 1;
    struct obt_key ka = obt_hash_words(a, 32, 0), kb = obt_hash_words(b, 32, 0), kc = obt_hash_words(a, 31, 0);
    ck_assert(ka.lo != kb.lo && ka.hi != kb.hi);
    ck_assert(ka.lo != kc.lo && ka.hi != kc.hi);
    struct obt_key k1 = obt_hash_bytes("abc", 3, 0), k2 = obt_hash_bytes("abd", 3, 0);
    ck_assert(k1.lo != k2.lo);
}
END_TEST

static struct obt_key hstream_of(const uint64_t *w, unsigned n)
{
    struct obt_hstream h;
    obt_hstream_init(&h, 7);
    for (unsigned i = 0; i < n; i++)
        obt_hstream_add(&h, w[i]);
    return obt_hstream_key(&h, n);
}

/* The walk's streaming hash: one deep frame, a high bit, or the count changes the whole key. */
START_TEST(hstream_separates_close_stacks)
{
    uint64_t a[32], b[32], c[32];
    for (int i = 0; i < 32; i++)
        a[i] = b[i] = c[i] = 0x7f0000401000ull + (uint64_t)i * 16;
    b[27] ^= 1;
    c[3] ^= 1ull << 63;
    struct obt_key ka = hstream_of(a, 32), kb = hstream_of(b, 32), kc = hstream_of(c, 32), kd = hstream_of(a, 31);
    struct obt_key ka2 = hstream_of(a, 32);
    ck_assert(ka.lo == ka2.lo && ka.hi == ka2.hi);
    ck_assert(ka.lo != kb.lo && ka.hi != kb.hi);
    ck_assert(ka.lo != kc.lo && ka.hi != kc.hi);
    ck_assert(ka.lo != kd.lo && ka.hi != kd.hi);
}
END_TEST

/* A fake frame-pointer chain of n frames in buf: frame i at buf + 4i, return address 0x1000 + i. */
static void fake_chain(uint64_t *buf, unsigned n)
{
    memset(buf, 0, 4 * (n + 1) * sizeof(uint64_t));
    for (unsigned i = 0; i < n; i++) {
        buf[4 * i] = (uint64_t)(uintptr_t)&buf[4 * (i + 1)];
        buf[4 * i + 1] = 0x1000 + i;
    }
}

/*
 * The walk memo's check: the recorded walk's frames and key match a plain
 * walk, and a change to any word the walk read, however deep, is seen.
 */
START_TEST(fp_walk_record_and_recheck)
{
    static uint64_t buf[4 * 41];
    uint64_t frames[64], plain[64], words[128];
    struct obt_stack_bounds b = { (uintptr_t)buf, (uintptr_t)(buf + 4 * 41) };
    struct obt_key key;
    unsigned nvisit;

    fake_chain(buf, 40);
    unsigned n = obt_unwind_fp_record(buf, &b, frames, words, 32, 5, &key, &nvisit);
    ck_assert_uint_eq(n, 32);
    ck_assert_uint_eq(obt_unwind_fp(buf, &b, plain, 32), 32);
    ck_assert_mem_eq(frames, plain, n * sizeof(uint64_t));
    ck_assert_uint_eq(nvisit, 32);
    ck_assert(obt_unwind_fp_same(buf, words, nvisit));
    for (unsigned i = 0; i < nvisit; i++) {
        for (unsigned w = 0; w < 2; w++) {
            buf[4 * i + w] ^= 8;
            ck_assert_msg(!obt_unwind_fp_same(buf, words, nvisit), "frame %u word %u changed unseen", i, w);
            buf[4 * i + w] ^= 8;
        }
    }
    ck_assert(obt_unwind_fp_same(buf, words, nvisit));
    /* a walk that ends on a zero return address visits that frame too */
    buf[4 * 10 + 1] = 0;
    n = obt_unwind_fp_record(buf, &b, frames, words, 32, 5, &key, &nvisit);
    ck_assert_uint_eq(n, 10);
    ck_assert_uint_eq(nvisit, 11);
    buf[4 * 10 + 1] = 0x1234;
    ck_assert(!obt_unwind_fp_same(buf, words, nvisit));
}
END_TEST

START_TEST(addrmap_overwrites_and_cas)
{
    struct obt_addrmap m;
    ck_assert_int_eq(obt_addrmap_init(&m, 10), 0);
    ck_assert_uint_eq(obt_addrmap_get(&m, 0x1000), 0);
    ck_assert_int_eq(obt_addrmap_set(&m, 0x1000, 5), 0);
    ck_assert_uint_eq(obt_addrmap_get(&m, 0x1000), 5);
    ck_assert_uint_eq(obt_addrmap_cas(&m, 0x1000, 4, 9), 5);
    ck_assert_uint_eq(obt_addrmap_cas(&m, 0x1000, 5, 9), 9);
    ck_assert_uint_eq(obt_addrmap_get(&m, 0x1000), 9);
    obt_addrmap_release(&m);
}
END_TEST

/* ---- unwinding --------------------------------------------------------- */

static uint64_t fp_frames[16], dw_frames[16];
static unsigned fp_n, dw_n;
static const void *capture_ret;

__attribute__((noinline)) static void capture(void)
{
    struct obt_stack_bounds b;
    obt_stack_bounds_current(&b);
    capture_ret = __builtin_return_address(0);
    fp_n = obt_unwind_fp(__builtin_frame_address(0), &b, fp_frames, 6);
    dw_n = obt_unwind_dwarf(capture_ret, dw_frames, 6);
    __asm__ volatile("" ::: "memory");
}

#define CHAIN(name, next)                          \
    __attribute__((noinline)) static void name(void) \
    {                                              \
        next();                                    \
        __asm__ volatile("" ::: "memory");         \
    }
CHAIN(chain1, capture)
CHAIN(chain2, chain1)
CHAIN(chain3, chain2)
CHAIN(chain4, chain3)
CHAIN(chain5, chain4)
CHAIN(chain6, chain5)
CHAIN(chain7, chain6)

START_TEST(fp_walk_agrees_with_libunwind)
{
    chain7();
    ck_assert_uint_eq(fp_n, 6);
    ck_assert_uint_eq(dw_n, 6);
    ck_assert_uint_eq(fp_frames[0], (uint64_t)(uintptr_t)capture_ret);
    for (unsigned i = 0; i < 6; i++)
        ck_assert_uint_eq(fp_frames[i], dw_frames[i]);
    /* frames[0] is inside chain1, the function that called the "interposer" */
    ck_assert(fp_frames[0] > (uint64_t)(uintptr_t)chain1 && fp_frames[0] < (uint64_t)(uintptr_t)chain1 + 64);
}
END_TEST

START_TEST(fp_walk_stops_outside_the_stack)
{
    uint64_t frames[4];
    struct obt_stack_bounds b = { 0x1000, 0x2000 };
    uintptr_t fake[4] = { 0, 0x1234, 0, 0 };
    ck_assert_uint_eq(obt_unwind_fp(fake, &b, frames, 4), 0);
}
END_TEST

/* ---- configuration ---------------------------------------------------- */

START_TEST(config_expands_and_parses)
{
    char out[64];
    uint32_t mask;
    ck_assert_int_eq(obt_config_expand_path("t-%p.obt", 42, 0, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "t-42.obt");
    ck_assert_int_eq(obt_config_expand_path("t-%p.obt", 42, 2, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "t-42.2.obt");
    ck_assert_int_eq(obt_config_expand_path("x%%y", 1, 1, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "x%y.1");
    ck_assert_int_eq(obt_config_expand_path("%p%p%p%p%p%p%p", 123456789, 0, out, 16), -1);
    ck_assert_int_eq(obt_config_parse_types("Device,file", &mask), 0);
    ck_assert_uint_eq(mask, (1u << OBT_OBJ_DEVICE) | (1u << OBT_OBJ_FILE));
    ck_assert_int_eq(obt_config_parse_types("Bogus", &mask), -1);
    ck_assert_int_eq(obt_config_parse_unwind("fp"), OBT_UNWIND_FP);
    ck_assert_int_eq(obt_config_parse_unwind("x"), -1);
    ck_assert_int_eq(obt_glob_list_match("\\Device\\Toaster*,\\Driver\\*", "\\Device\\ToasterFilter"), 1);
    ck_assert_int_eq(obt_glob_list_match("\\Device\\Toaster*", "\\Device\\Other"), 0);

    struct obt_config c;
    char err[128];
    setenv("OBTRACE_DEPTH", "999", 1);
    setenv("OBTRACE_UNWIND", "dwarf", 1);
    ck_assert_int_eq(obt_config_from_env(&c, err, sizeof(err)), -1);
    ck_assert_uint_eq(c.depth, OBT_DEFAULT_DEPTH);
    ck_assert_int_eq(c.unwind, OBT_UNWIND_DWARF);
    ck_assert_ptr_nonnull(strstr(err, "OBTRACE_DEPTH"));
    unsetenv("OBTRACE_DEPTH");
    unsetenv("OBTRACE_UNWIND");
}
END_TEST

/* ---- doc/trace-format.md against trace.h -------------------------------- */

struct named_value {
    const char *name;
    int value;
    const char *extra;
};

#define REC_ROW(n, v, st, d) { #n, v, #st },
#define OP_ROW(n, v, count, d) { #n, v, #count },
static const struct named_value header_records[] = { OBT_RECORD_TYPES(REC_ROW) };
static const struct named_value header_ops[] = { OBT_OPS(OP_ROW) };
#define KIND_ROW(n, v, text) { #n, v, text },
static const struct named_value header_wdf_kinds[] = { OBT_WDF_KINDS(KIND_ROW) };

/* Checks every "| NAME | value | extra |" row of the doc with prefix against table, and the reverse. */
static void check_doc_table(const char *doc, const char *pattern, const struct named_value *table, size_t n)
{
    regex_t re;
    regmatch_t m[4];
    size_t found = 0;
    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    for (const char *p = doc; regexec(&re, p, 4, m, 0) == 0; p += m[0].rm_eo) {
        char name[64], extra[64];
        int value = atoi(p + m[2].rm_so);
        snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), p + m[1].rm_so);
        snprintf(extra, sizeof(extra), "%.*s", (int)(m[3].rm_eo - m[3].rm_so), p + m[3].rm_so);
        size_t i = 0;
        while (i < n && strcmp(table[i].name, name))
            i++;
        ck_assert_msg(i < n, "%s is in doc/trace-format.md but not in trace.h", name);
        ck_assert_msg(table[i].value == value, "%s: doc says %d, header %d", name, value, table[i].value);
        ck_assert_msg(strstr(extra, table[i].extra) != NULL, "%s: doc says '%s', header '%s'", name, extra,
                      table[i].extra);
        found++;
    }
    regfree(&re);
    ck_assert_msg(found == n, "doc/trace-format.md lists %zu of the %zu entries of trace.h", found, n);
}

START_TEST(doc_tables_match_header)
{
    FILE *f = fopen("doc/trace-format.md", "r");
    ck_assert_ptr_nonnull(f);
    static char doc[1 << 17];
    size_t len = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[len] = 0;
    check_doc_table(doc, "^\\| (OBT_REC_[A-Z0-9_]+) \\| ([0-9]+) \\| ([^|]*) \\|", header_records,
                    sizeof(header_records) / sizeof(header_records[0]));
    check_doc_table(doc, "^\\| (OBT_OP_[A-Z0-9_]+) \\| ([0-9]+) \\| ([a-z]+) \\|", header_ops,
                    sizeof(header_ops) / sizeof(header_ops[0]));
    check_doc_table(doc, "^\\| (OBT_WDF_[A-Z0-9_]+) \\| ([0-9]+) \\| ([A-Z]+) \\|", header_wdf_kinds,
                    sizeof(header_wdf_kinds) / sizeof(header_wdf_kinds[0]));
}
END_TEST

START_TEST(struct_layouts_are_as_documented)
{
    ck_assert_uint_eq(sizeof(struct obt_event), 24);
    ck_assert_uint_eq(offsetof(struct obt_event, ts_delta), OBT_TS_DELTA_OFFSET);
    ck_assert_uint_eq(offsetof(struct obt_module_load, ts_delta), OBT_TS_DELTA_OFFSET);
    ck_assert_uint_eq(offsetof(struct obt_module_unload, ts_delta), OBT_TS_DELTA_OFFSET);
    ck_assert_uint_eq(offsetof(struct obt_end, ts_delta), OBT_TS_DELTA_OFFSET);
    ck_assert_uint_eq(sizeof(struct obt_chunk_header), OBT_CHUNK_HEADER_SIZE);
    ck_assert_uint_eq(sizeof(struct obt_stack), 12);
    ck_assert_uint_eq(sizeof(struct obt_module_load), 48);
    ck_assert_uint_eq(offsetof(struct obt_module_load, base), 16);
    ck_assert_uint_eq(offsetof(struct obt_module_load, path_len), 44);
    ck_assert_uint_eq(sizeof(struct obt_object), 32);
    ck_assert_uint_eq(offsetof(struct obt_object, address), 16);
    ck_assert_uint_eq(sizeof(struct obt_string), 12);
    ck_assert_uint_eq(sizeof(struct obt_end), 40);
    ck_assert_uint_eq(sizeof(struct obt_rebase), 24);
    ck_assert_uint_eq(offsetof(struct obt_file_header, cmdline_len), 48);
    ck_assert_uint_eq(sizeof(struct obt_file_header), 56);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracer_core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, writer_threads_keep_every_event_once);
    tcase_add_test(tc, writer_rebases_long_silences);
    tcase_add_test(tc, writer_chunks_are_aligned_to_their_size);
    tcase_add_test(tc, writer_copies_full_staging_chunks_once);
    tcase_add_test(tc, writer_events_survive_sigkill);
    tcase_add_test(tc, intern_gives_each_key_one_id_under_contention);
    tcase_add_test(tc, intern_grows_in_levels);
    tcase_add_test(tc, hash_separates_close_stacks);
    tcase_add_test(tc, addrmap_overwrites_and_cas);
    tcase_add_test(tc, fp_walk_agrees_with_libunwind);
    tcase_add_test(tc, fp_walk_stops_outside_the_stack);
    tcase_add_test(tc, hstream_separates_close_stacks);
    tcase_add_test(tc, fp_walk_record_and_recheck);
    tcase_add_test(tc, config_expands_and_parses);
    tcase_add_test(tc, doc_tables_match_header);
    tcase_add_test(tc, struct_layouts_are_as_documented);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
