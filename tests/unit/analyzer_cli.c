/*
 * analyzer_cli.c - the `obtrace` command end to end on synthetic traces:
 * exit codes (0 clean, 1 findings, 2 unusable/incomplete, 64 usage), the
 * one-line error for bad input, the text verdict shape, the JSON document
 * (parsed with json-c), `dump` lines and `history` with its per-tag
 * balance footer. Runs $O/bin/obtrace (O defaults to build).
 */
#include <check.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obt_test.h"
#include "synth_trace.h"

static char trace[64], out[64], obtrace[512];

static void setup(void)
{
    snprintf(trace, sizeof(trace), "/tmp/obt-cli-%d.obt", (int)getpid());
    snprintf(out, sizeof(out), "/tmp/obt-cli-%d.out", (int)getpid());
    obt_test_obtrace_path(obtrace, sizeof(obtrace));
}

static void teardown(void)
{
    unlink(trace);
    unlink(out);
}

/* Runs obtrace with args (a shell fragment), stdout+stderr into out; returns the exit code. */
static int run(const char *args)
{
    return obt_test_run(obtrace, NULL, out, "%s", args);
}

static char *slurp(void)
{
    return obt_test_slurp(out);
}

/* A legacy driver whose device leaks a tagged reference: one verdict. */
static void write_leak(bool end, bool clean)
{
    struct synth_trace *t = synth_open(trace, NULL);
    synth_module_load(t, 1, 0x40000, 0x40000, 0x50000, NULL, 0, "/x/leaky.so");
    synth_object(t, 1, OBT_OBJ_DRIVER, 0x1000, 0, 1, "\\Driver\\leaky");
    uint64_t f1[2] = { 0x40100, 0x40200 }, f2[2] = { 0x40300, 0x40200 }, f3[2] = { 0x40400, 0x40200 };
    uint64_t f1in[3] = { 0x40500, 0x40100, 0x40200 }; /* IoCreateDevice's reference on the driver, inside it */
    uint32_t s1 = synth_stack(t, f1, 2), s2 = synth_stack(t, f2, 2), s3 = synth_stack(t, f3, 2);
    uint32_t s1in = synth_stack(t, f1in, 3);
    SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = 1, .count = 1, .stack = s1);
    SYNTH_EV(t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = 1, .arg = 0x40010, .module = 1,
             .flags = OBT_EV_STATUS, .stack = s1);
    synth_object(t, 5, OBT_OBJ_DEVICE, 0x2000, 1, 0, "\\Device\\Leaky");
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DRIVER, .object = 1, .count = 2, .stack = s1in);
    SYNTH_EV(t, .op = OBT_OP_DEV_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = 5, .count = 1, .obj2 = 1, .stack = s1);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DEVICE, .object = 5, .count = 2, .stack = s2, .tag = 'kaeL');
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DEVICE, .object = 5, .count = 3, .stack = s2, .tag = 'kaeL');
    SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DEVICE, .object = 5, .count = 2, .stack = s3, .tag = 'kaeL');
    if (clean)
        SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DEVICE, .object = 5, .count = 1, .stack = s3,
                 .tag = 'kaeL');
    uint32_t svc = synth_string(t, "leaky");
    SYNTH_EV(t, .op = OBT_OP_SERVICE_STOP, .string = svc, .flags = OBT_EV_STATUS, .stack = s1);
    SYNTH_EV(t, .op = OBT_OP_DRIVER_UNLOAD, .obj_type = OBT_OBJ_DRIVER, .object = 1, .flags = OBT_EV_PRE, .stack = s1);
    SYNTH_EV(t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = 5, .count = clean ? 0 : 1, .stack = s1);
    if (clean) {
        SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DRIVER, .object = 1, .count = 1, .stack = s1);
        SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DRIVER, .object = 1, .count = 0, .stack = s1);
        synth_module_unload(t, 1);
    }
    if (end)
        synth_end(t);
    synth_close(t);
}

START_TEST(exit_codes_are_a_contract)
{
    ck_assert_msg(access(obtrace, X_OK) == 0, "%s is not built", obtrace);
    write_leak(true, true);
    ck_assert_int_eq(run(trace), 64); /* no command */
    char args[256];
    snprintf(args, sizeof(args), "report %s", trace);
    ck_assert_int_eq(run(args), 0);
    ck_assert_ptr_nonnull(strstr(slurp(), "no findings"));
    write_leak(true, false);
    ck_assert_int_eq(run(args), 1);
    snprintf(args, sizeof(args), "report -o /dev/full %s", trace);
    ck_assert_int_eq(run(args), 2); /* a report that could not be written must not pass */
    snprintf(args, sizeof(args), "report %s", trace);
    write_leak(false, false);
    ck_assert_int_eq(run(args), 2);
    ck_assert_ptr_nonnull(strstr(slurp(), "[trace-incomplete]"));
    ck_assert_int_eq(run("report"), 64);
    ck_assert_int_eq(run("report --format xml x.obt"), 64);
    ck_assert_int_eq(run("frobnicate"), 64);
    ck_assert_int_eq(run("--version"), 0);
    ck_assert_int_eq(run("--help"), 0);
    ck_assert_int_eq(run("report /nonexistent/trace.obt"), 2);
    ck_assert_ptr_nonnull(strstr(slurp(), "obtrace: /nonexistent/trace.obt: cannot open"));
}
END_TEST

START_TEST(foreign_endian_gives_one_line)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(true, false);
    FILE *f = fopen(trace, "r+b");
    uint32_t bom = __builtin_bswap32(OBT_BYTE_ORDER_MARK);
    fseek(f, 12, SEEK_SET);
    fwrite(&bom, 4, 1, f);
    fclose(f);
    char args[256];
    snprintf(args, sizeof(args), "report %s", trace);
    ck_assert_int_eq(run(args), 2);
    char *o = slurp();
    ck_assert_ptr_nonnull(strstr(o, "foreign-endian"));
    ck_assert_ptr_eq(strchr(o, '\n'), o + strlen(o) - 1); /* exactly one line */
}
END_TEST

START_TEST(text_verdict_shape)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(true, false);
    char args[256];
    snprintf(args, sizeof(args), "report %s", trace);
    ck_assert_int_eq(run(args), 1);
    char *o = slurp();
    ck_assert_msg(!strncmp(o, "image leaky.so NOT UNLOADED — DriverUnload ran", 45), "%s", o);
    ck_assert_ptr_nonnull(strstr(o, "\n  [leaked-reference] 1 reference still held on deleted device \\Device\\Leaky"));
    ck_assert_ptr_nonnull(strstr(o, "1/2 references taken at"));
    ck_assert_ptr_nonnull(strstr(o, "(tag Leak)"));
    ck_assert_ptr_nonnull(strstr(o, "\n  fix: "));
}
END_TEST

START_TEST(json_is_versioned_and_parses)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(true, false);
    char args[256];
    snprintf(args, sizeof(args), "report --format json -o %s.json %s", out, trace);
    ck_assert_int_eq(run(args), 1);
    char jpath[80];
    snprintf(jpath, sizeof(jpath), "%s.json", out);
    json_object *root = json_object_from_file(jpath);
    unlink(jpath);
    ck_assert_ptr_nonnull(root);
    json_object *v, *images, *img, *findings, *f0, *sites;
    ck_assert(json_object_object_get_ex(root, "format", &v));
    ck_assert_str_eq(json_object_get_string(v), "obtrace-report");
    ck_assert(json_object_object_get_ex(root, "version", &v));
    ck_assert_int_eq(json_object_get_int(v), 2); /* 2: sites without seq/thread, decisive frames only */
    ck_assert(json_object_object_get_ex(root, "exit", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(root, "images", &images));
    ck_assert_int_eq(json_object_array_length(images), 1);
    img = json_object_array_get_idx(images, 0);
    ck_assert(json_object_object_get_ex(img, "image", &v));
    ck_assert_str_eq(json_object_get_string(v), "leaky.so");
    ck_assert(json_object_object_get_ex(img, "findings", &findings));
    f0 = json_object_array_get_idx(findings, 0);
    ck_assert(json_object_object_get_ex(f0, "id", &v));
    ck_assert_str_eq(json_object_get_string(v), "leaked-reference");
    ck_assert(json_object_object_get_ex(f0, "attribution", &v));
    ck_assert_str_eq(json_object_get_string(v), "exact");
    ck_assert(json_object_object_get_ex(f0, "sites", &sites));
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(sites, 0), "count", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    /* keys in a stable order */
    struct json_object_iterator it = json_object_iter_begin(root);
    ck_assert_str_eq(json_object_iter_peek_name(&it), "format");
    json_object_put(root);
}
END_TEST

START_TEST(dump_and_history)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(true, false);
    char args[256];
    snprintf(args, sizeof(args), "dump %s", trace);
    ck_assert_int_eq(run(args), 0);
    char *o = slurp();
    ck_assert(!strncmp(o, "header version=2 ", 17));
    ck_assert_ptr_nonnull(strstr(o, "EVENT op=OBJ_REF type=Device obj=5 count=2 stack=2 tag=Leak"));
    ck_assert_ptr_nonnull(strstr(o, "OBJECT id=5 type=Device address=0x2000 owner=1 image=0 name=\"\\Device\\Leaky\""));
    ck_assert_ptr_nonnull(strstr(o, " END events="));
    snprintf(args, sizeof(args), "history %s '\\Device\\Leaky'", trace);
    ck_assert_int_eq(run(args), 0);
    o = slurp();
    ck_assert_ptr_nonnull(strstr(o, "Tag: Leak References: 2 Dereferences: 1 Over reference by: 1"));
    snprintf(args, sizeof(args), "history %s '#5'", trace);
    ck_assert_int_eq(run(args), 0);
    snprintf(args, sizeof(args), "history %s 0x2000", trace);
    ck_assert_int_eq(run(args), 0);
    snprintf(args, sizeof(args), "history %s '\\Device\\Nope'", trace);
    ck_assert_int_eq(run(args), 2);
    snprintf(args, sizeof(args), "history %s", trace);
    ck_assert_int_eq(run(args), 64);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, exit_codes_are_a_contract);
    tcase_add_test(tc, foreign_endian_gives_one_line);
    tcase_add_test(tc, text_verdict_shape);
    tcase_add_test(tc, json_is_versioned_and_parses);
    tcase_add_test(tc, dump_and_history);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
