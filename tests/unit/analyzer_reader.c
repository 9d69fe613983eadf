/*
 * analyzer_reader.c - unit tests of the trace reader: round trip of every
 * record type through the synthetic writer, the k-way merge across
 * threads and chunks, skipping unknown records, and each kind of bad
 * input (foreign byte order, wrong version, pointer size, bad magic,
 * truncated and corrupt data), which must give a clear error, never a crash.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obt_test.h"
#include "synth_trace.h"
#include "trace_reader.h"

static char path[64];

static void setup(void)
{
    snprintf(path, sizeof(path), "/tmp/obt-reader-%d.obt", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
}

static void patch(long off, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, off, SEEK_SET);
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static int open_err(char *err, size_t len)
{
    struct trace_reader *r;
    int rc = trace_reader_open(&r, path, 0, err, len);
    trace_reader_free(r);
    return rc;
}

START_TEST(roundtrip_every_record_type)
{
    struct synth_trace *t = synth_open(path, &(struct synth_opts){ .cmdline = "ntsim scenario.ntsim" });
    uint8_t bid[4] = { 0xde, 0xad, 0xbe, 0xef };
    synth_module_load(t, 1, 0x400000, 0x400000, 0x410000, bid, 4, "/x/drv.so");
    uint64_t frames[3] = { 0x401000, 0x402000, 0x403000 };
    uint32_t st = synth_stack(t, frames, 3);
    synth_object(t, 7, OBT_OBJ_DEVICE, 0xabc0, 2, 1, "\\Device\\X");
    uint32_t s = synth_string(t, "hello");
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DEVICE, .object = 7, .count = 3, .stack = st,
             .tag = 'tlfD', .status = -5, .obj2 = 9, .arg = 0x1122334455667788ull, .string = s);
    synth_dropped(t, 4, OBT_DROP_NO_SPACE);
    synth_module_unload(t, 1);
    synth_end(t);
    ck_assert_int_eq(synth_close(t), 0);

    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    ck_assert_str_eq(trace_reader_header(r)->cmdline, "ntsim");
    struct tr_record rec;
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_MODULE_LOAD);
    ck_assert_str_eq(rec.u.mload.path, "/x/drv.so");
    ck_assert_int_eq(rec.u.mload.build_id_len, 4);
    ck_assert_int_eq(rec.u.mload.build_id[3], 0xef);
    ck_assert_uint_eq(rec.u.mload.end, 0x410000);
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_STACK);
    ck_assert_uint_eq(rec.u.stack.depth, 3);
    ck_assert_uint_eq(rec.u.stack.frames[2], 0x403000);
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_OBJECT);
    ck_assert_str_eq(rec.u.object.name, "\\Device\\X");
    ck_assert_uint_eq(rec.u.object.address, 0xabc0);
    ck_assert_uint_eq(rec.u.object.owner, 2);
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_STRING);
    ck_assert_str_eq(rec.u.string.text, "hello");
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_EVENT);
    ck_assert_uint_eq(rec.u.ev.seq, 1);
    ck_assert_uint_eq(rec.u.ev.tag, 'tlfD');
    ck_assert_int_eq(rec.u.ev.status, -5);
    ck_assert_uint_eq(rec.u.ev.obj2, 9);
    ck_assert_uint_eq(rec.u.ev.arg, 0x1122334455667788ull);
    ck_assert_uint_eq(rec.u.ev.string, s);
    ck_assert_int_eq(rec.u.ev.count, 3);
    char tag[16];
    ck_assert_str_eq(tr_format_tag(rec.u.ev.tag, tag), "Dflt");
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_DROPPED);
    ck_assert_uint_eq(rec.u.dropped.count, 4);
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_MODULE_UNLOAD);
    ck_assert_int_eq(trace_reader_next(r, &rec), 1);
    ck_assert_int_eq(rec.type, OBT_REC_END);
    ck_assert_uint_eq(rec.u.end.events, 1);
    ck_assert_int_eq(trace_reader_next(r, &rec), 0);
    ck_assert_ptr_null(trace_reader_damage(r));
    trace_reader_free(r);
}
END_TEST

START_TEST(merge_threads_and_chunks_by_time)
{
    /* 3 threads, small chunks: each thread's events span many chunks */
    struct synth_trace *t = synth_open(path, &(struct synth_opts){ .chunk_size = 4096 });
    for (int i = 0; i < 3000; i++) {
        synth_thread(t, 100 + (uint32_t)(i * 7 % 3));
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = (uint32_t)i + 1, .count = i);
    }
    synth_end(t);
    synth_close(t);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    ck_assert_uint_eq(trace_reader_threads(r), 3);
    struct tr_record rec;
    uint64_t want = 1;
    int ends = 0;
    while (trace_reader_next(r, &rec)) {
        if (rec.type == OBT_REC_END) {
            ends++;
            continue;
        }
        ck_assert_int_eq(rec.type, OBT_REC_EVENT);
        ck_assert_uint_eq(rec.u.ev.seq, want);
        ck_assert_uint_eq(rec.u.ev.object, want);
        want++;
    }
    ck_assert_uint_eq(want, 3001);
    ck_assert_int_eq(ends, 1);
    ck_assert_ptr_null(trace_reader_damage(r));
    trace_reader_free(r);
}
END_TEST

/* The seqs of the events of the trace at path, in the order the reader delivers them, into seqs[max]. */
static size_t delivered_seqs(uint64_t *seqs, size_t max, uint32_t *objects)
{
    struct trace_reader *r;
    char err[256];
    struct tr_record rec;
    size_t n = 0;
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    while (trace_reader_next(r, &rec))
        if (rec.type == OBT_REC_EVENT && n < max) {
            seqs[n] = (uint64_t)rec.u.ev.count;
            objects[n++] = rec.u.ev.object;
        }
    ck_assert_ptr_null(trace_reader_damage(r));
    trace_reader_free(r);
    return n;
}

/*
 * Thread 200's clock reads 15 ns early. On different objects the clock
 * decides: its event goes before thread 100's later one. On one object's
 * counter the counts decide: 200's reference (count 3) cannot follow the
 * creation (count 1), 100's (count 2) can, so 100's goes first.
 */
START_TEST(counts_order_one_objects_events_where_the_clocks_disagree)
{
    uint64_t counts[8];
    uint32_t objects[8];
    struct synth_trace *t = synth_open(path, NULL);
    synth_thread(t, 100);
    SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .object = 7, .count = 1);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 7, .count = 2);
    synth_thread(t, 200);
    synth_thread_skew(t, -15);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 7, .count = 3);
    synth_thread(t, 100);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 8, .count = 5);
    synth_thread(t, 200);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 9, .count = 6); /* stamped before 100's object-8 event */
    synth_end(t);
    synth_close(t);
    ck_assert_uint_eq(delivered_seqs(counts, 8, objects), 5);
    ck_assert_uint_eq(counts[0], 1);
    ck_assert_uint_eq(counts[1], 2); /* 100's, stamped later: its count follows */
    ck_assert_uint_eq(counts[2], 3);
    ck_assert_uint_eq(objects[3], 9); /* the clock decides across objects */
    ck_assert_uint_eq(objects[4], 8);
}
END_TEST

/*
 * A process that died between copying its staging chunk out and clearing
 * it leaves the chunk twice, or a cut copy beside the whole one: each
 * event is read once, from the fuller copy, and that is no damage.
 */
/* The trace at path reads as events only, thread tid's, counts and seqs 1 .. n in order, undamaged. */
static void expect_counts_in_order(int32_t n, uint32_t tid)
{
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    int32_t want = 1;
    while (trace_reader_next(r, &rec)) {
        ck_assert_int_eq(rec.type, OBT_REC_EVENT);
        ck_assert_uint_eq(rec.tid, tid);
        ck_assert_int_eq(rec.u.ev.count, want);
        ck_assert_uint_eq(rec.u.ev.seq, (uint64_t)want);
        want++;
    }
    ck_assert_int_eq(want, n + 1);
    ck_assert_ptr_null(trace_reader_damage(r));
    trace_reader_free(r);
}

START_TEST(a_chunk_copied_twice_is_read_once)
{
    struct synth_trace *t = synth_open(path, &(struct synth_opts){ .chunk_size = 4096 });
    for (int i = 1; i <= 500; i++)
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = i);
    synth_close(t);
    static uint8_t chunk[4096];
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, (long)obt_chunk_offset(4096, 0), SEEK_SET), 0);
    ck_assert_uint_eq(fread(chunk, 1, sizeof(chunk), f), sizeof(chunk));
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    fwrite(chunk, 1, sizeof(chunk), f);                 /* copied out, never cleared */
    memset(chunk + 2048, 0, sizeof(chunk) - 2048);
    fwrite(chunk, 1, sizeof(chunk), f);                 /* a copy cut short */
    fclose(f);
    expect_counts_in_order(500, 4242);
}
END_TEST

/* A thread that reuses an exited thread's tid is another stream: its first chunk is no copy of the other's. */
START_TEST(a_reused_tid_is_another_thread)
{
    struct synth_trace *t = synth_open(path, &(struct synth_opts){ .chunk_size = 4096 });
    for (int i = 1; i <= 200; i++)
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = i);
    synth_thread_reused_tid(t, 4242);
    for (int i = 201; i <= 400; i++)
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = i);
    synth_close(t);
    expect_counts_in_order(400, 4242);
}
END_TEST

/* A record without a time is read no earlier than its chunk began, not before the whole trace. */
START_TEST(an_untimed_record_waits_for_its_chunk)
{
    struct synth_trace *t = synth_open(path, NULL);
    for (int i = 1; i <= 300; i++)
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = i);
    synth_thread(t, 77);
    uint64_t frames[2] = { 0x401000, 0x402000 };
    synth_stack(t, frames, 2);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 2, .count = 1);
    synth_close(t);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    uint64_t stack_after = UINT64_MAX;
    while (trace_reader_next(r, &rec))
        if (rec.type == OBT_REC_STACK)
            stack_after = rec.seq;
    /* thread 77's chunk began 100 events (SYNTH_BASE_LEAD) before its event, the 301st */
    ck_assert_uint_eq(stack_after, 200);
    ck_assert_ptr_null(trace_reader_damage(r));
    trace_reader_free(r);
}
END_TEST

/*
 * The counts deliver thread 77's event ahead of an earlier-stamped one, and
 * its next record is stamped earlier still (its clock stepped back): that
 * record goes next, before the other thread's, by its time.
 */
START_TEST(a_stream_whose_time_steps_back_is_merged_by_it)
{
    struct synth_trace *t = synth_open(path, NULL);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = 1);                   /* 1000010 */
    synth_thread(t, 77);
    synth_thread_skew(t, 15);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = 2);                   /* 1000035 */
    synth_thread(t, 4242);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = 3);                   /* 1000030 */
    synth_thread(t, 77);
    synth_thread_skew(t, -20);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 2, .count = 1);                   /* 1000020 */
    synth_close(t);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    const uint32_t want_object[] = { 1, 1, 2, 1 }, want_count[] = { 1, 2, 1, 3 };
    unsigned n = 0;
    while (trace_reader_next(r, &rec)) {
        ck_assert_uint_lt(n, 4);
        ck_assert_uint_eq(rec.u.ev.object, want_object[n]);
        ck_assert_int_eq(rec.u.ev.count, (int32_t)want_count[n]);
        n++;
    }
    ck_assert_uint_eq(n, 4);
    trace_reader_free(r);
}
END_TEST

/* A thread's chunk gone (its magic never written): the next one starts past the events read, which is damage. */
START_TEST(a_lost_chunk_is_damage)
{
    struct synth_trace *t = synth_open(path, &(struct synth_opts){ .chunk_size = 4096 });
    for (int i = 1; i <= 300; i++)
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = i);
    synth_close(t);
    uint32_t zero = 0;
    patch(obt_chunk_offset(4096, 0), &zero, 4);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    int n = 0;
    while (trace_reader_next(r, &rec))
        n++;
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, 300);
    ck_assert_ptr_nonnull(strstr(trace_reader_damage(r), "(events lost)"));
    trace_reader_free(r);
}
END_TEST

START_TEST(unknown_record_types_are_skipped_by_size)
{
    struct synth_trace *t = synth_open(path, NULL);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1);
    synth_raw(t, 999, "abcdefgh", 8);
    SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .object = 1);
    synth_end(t);
    synth_close(t);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    int n = 0;
    while (trace_reader_next(r, &rec))
        n++;
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_null(trace_reader_damage(r));
    trace_reader_free(r);
}
END_TEST

static void write_small_trace(void)
{
    struct synth_trace *t = synth_open(path, NULL);
    for (int i = 0; i < 10; i++)
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .object = 1, .count = i);
    synth_end(t);
    synth_close(t);
}

START_TEST(foreign_endian_is_a_clear_error)
{
    write_small_trace();
    uint32_t bom = __builtin_bswap32(OBT_BYTE_ORDER_MARK);
    patch(12, &bom, 4);
    char err[256];
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "byte order"));
}
END_TEST

START_TEST(wrong_version_is_a_clear_error)
{
    write_small_trace();
    uint16_t v = OBT_VERSION + 1;
    patch(8, &v, 2);
    char err[256];
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "unsupported trace format version 3 (this obtrace reads version 2)"));
    v = 1; /* the global-sequence format: named, and what to do about it */
    patch(8, &v, 2);
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "trace format version 1, written by an older libobtrace"));
    ck_assert_ptr_nonnull(strstr(err, "record the run again"));
}
END_TEST

START_TEST(pointer_size_and_magic_and_chunk_size)
{
    char err[256];
    write_small_trace();
    uint8_t ps = 4;
    patch(16, &ps, 1);
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "32-bit"));
    write_small_trace();
    patch(0, "NOTATRCE", 8);
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "magic"));
    write_small_trace();
    uint32_t cs = 100;
    patch(20, &cs, 4);
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "chunk size"));
    ck_assert_int_eq(truncate(path, 20), 0);
    ck_assert_int_eq(open_err(err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
}
END_TEST

START_TEST(truncated_tail_keeps_what_was_read)
{
    write_small_trace();
    /* cut inside the first chunk after 5 events: header page + chunk header + 5 events */
    ck_assert_int_eq(truncate(path, obt_chunk_offset(OBT_CHUNK_SIZE_DEFAULT, 0) + sizeof(struct obt_chunk_header) + 5 * sizeof(struct obt_event) + 6), 0);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    int n = 0;
    while (trace_reader_next(r, &rec))
        n++;
    ck_assert_int_eq(n, 5);
    ck_assert_ptr_nonnull(trace_reader_damage(r));
    ck_assert_ptr_nonnull(strstr(trace_reader_damage(r), "truncated"));
    trace_reader_free(r);
}
END_TEST

START_TEST(corrupt_record_size_ends_the_stream)
{
    write_small_trace();
    uint16_t bad = 6; /* not a multiple of 4 */
    patch(obt_chunk_offset(OBT_CHUNK_SIZE_DEFAULT, 0) + sizeof(struct obt_chunk_header) + 3 * sizeof(struct obt_event) + 2, &bad, 2);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    int n = 0;
    while (trace_reader_next(r, &rec))
        n++;
    ck_assert_int_eq(n, 3);
    ck_assert_ptr_nonnull(strstr(trace_reader_damage(r), "corrupt record"));
    trace_reader_free(r);
}
END_TEST

START_TEST(bad_chunk_magic_is_damage)
{
    write_small_trace();
    uint32_t bad = 0x12345678;
    patch(obt_chunk_offset(OBT_CHUNK_SIZE_DEFAULT, 0), &bad, 4);
    struct trace_reader *r;
    char err[256];
    ck_assert_int_eq(trace_reader_open(&r, path, 0, err, sizeof(err)), 0);
    struct tr_record rec;
    ck_assert_int_eq(trace_reader_next(r, &rec), 0);
    ck_assert_ptr_nonnull(strstr(trace_reader_damage(r), "chunk magic"));
    trace_reader_free(r);
}
END_TEST

START_TEST(names_come_from_the_xmacro_tables)
{
    ck_assert_str_eq(tr_op_name(OBT_OP_OBJ_REF), "OBJ_REF");
    ck_assert_str_eq(tr_op_name(OBT_OP_VETO), "VETO");
    ck_assert_ptr_null(tr_op_name(200));
    ck_assert_str_eq(tr_record_type_name(OBT_REC_MODULE_LOAD), "MODULE_LOAD");
    ck_assert_str_eq(tr_obj_type_name(OBT_OBJ_DEVICE), "Device");
    ck_assert_str_eq(tr_op_count_meaning(OBT_OP_HANDLE_OPEN), "handle");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_reader");
    TCase *tc = tcase_create("reader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, roundtrip_every_record_type);
    tcase_add_test(tc, merge_threads_and_chunks_by_time);
    tcase_add_test(tc, counts_order_one_objects_events_where_the_clocks_disagree);
    tcase_add_test(tc, a_chunk_copied_twice_is_read_once);
    tcase_add_test(tc, a_lost_chunk_is_damage);
    tcase_add_test(tc, a_reused_tid_is_another_thread);
    tcase_add_test(tc, an_untimed_record_waits_for_its_chunk);
    tcase_add_test(tc, a_stream_whose_time_steps_back_is_merged_by_it);
    tcase_add_test(tc, unknown_record_types_are_skipped_by_size);
    tcase_add_test(tc, foreign_endian_is_a_clear_error);
    tcase_add_test(tc, wrong_version_is_a_clear_error);
    tcase_add_test(tc, pointer_size_and_magic_and_chunk_size);
    tcase_add_test(tc, truncated_tail_keeps_what_was_read);
    tcase_add_test(tc, corrupt_record_size_ends_the_stream);
    tcase_add_test(tc, bad_chunk_magic_is_damage);
    tcase_add_test(tc, names_come_from_the_xmacro_tables);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
