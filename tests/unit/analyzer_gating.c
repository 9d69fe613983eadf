/*
 * analyzer_gating.c - CI gating on synthetic traces: the fingerprint's
 * canonical text, its stability when addresses, sequence numbers and
 * object ids change, baselines (written, then matched: exit 0 when every
 * finding is in the baseline, 1 when a new one appears, only the new one
 * shown), suppressions (id, image and site globs; listed as suppressed in
 * text and JSON, not counted), and bad suppression or baseline files (one
 * line, exit 64). An incomplete trace exits 2 whatever is suppressed.
 * The command runs from $O/bin/obtrace (O defaults to build).
 */
#include <check.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "model.h"
#include "obt_test.h"
#include "rules.h"
#include "synth_trace.h"

#define NTSIM_LO 0x10000ull
#define DRV_LO 0x40000ull

static char trace[64], out[64], sup[64], base[64], obtrace[512];

static void setup(void)
{
    int pid = (int)getpid();
    snprintf(trace, sizeof(trace), "/tmp/obt-gate-%d.obt", pid);
    snprintf(out, sizeof(out), "/tmp/obt-gate-%d.out", pid);
    snprintf(sup, sizeof(sup), "/tmp/obt-gate-%d.sup", pid);
    snprintf(base, sizeof(base), "/tmp/obt-gate-%d.base", pid);
    obt_test_obtrace_path(obtrace, sizeof(obtrace));
}

static void teardown(void)
{
    unlink(trace);
    unlink(out);
    unlink(sup);
    unlink(base);
}

/* How a run of the same leaky driver differs from another. */
struct variant {
    uint64_t shift;   /* the image (and so every frame in it) loads this much higher */
    uint32_t noise;   /* unrelated events before: later sequence numbers */
    uint32_t id_base; /* object ids start here */
    bool second_leak; /* a second device leaks a reference at another site */
    bool end;
};

/* IoCreateDevice (its reference on the driver taken inside it), then a reference on the device never dropped. */
static void leak_device(struct synth_trace *t, uint32_t drv, uint32_t dev, const char *name, uint64_t site, int drv_count,
                        uint32_t screate)
{
    uint64_t f[2] = { site, site + 0x40 }, fin[3] = { NTSIM_LO + 0x300, NTSIM_LO + 0x100, NTSIM_LO + 0x200 };
    uint32_t sleak = synth_stack(t, f, 2), sin = synth_stack(t, fin, 3);
    synth_object(t, dev, OBT_OBJ_DEVICE, 0x2000 + dev * 0x100, drv, 0, name);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = drv_count, .stack = sin);
    SYNTH_EV(t, .op = OBT_OP_DEV_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 1, .obj2 = drv,
             .stack = screate);
    SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 2, .stack = sleak,
             .tag = 'kaeL');
}

/* A legacy driver leaky.so whose device \Device\Leaky leaks a tagged reference at leaky.so+0x280; stopped. */
static void write_leak(const struct variant *v)
{
    struct synth_trace *t = synth_open(trace, NULL);
    uint64_t lo = DRV_LO + v->shift;
    synth_module_load(t, 1, NTSIM_LO, NTSIM_LO, NTSIM_LO + 0x10000, NULL, 0, "/sim/libntsim.so");
    uint64_t fsim[2] = { NTSIM_LO + 0x100, NTSIM_LO + 0x200 };
    uint32_t ssim = synth_stack(t, fsim, 2);
    for (uint32_t i = 0; i < v->noise; i++) {
        synth_object(t, 900 + i, OBT_OBJ_OTHER, 0x9000 + i, 0, 0, "");
        SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_OTHER, .object = 900 + i, .count = 1, .stack = ssim);
        SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_OTHER, .object = 900 + i, .count = 0, .stack = ssim);
    }
    synth_module_load(t, 2, lo, lo, lo + 0x10000, NULL, 0, "/x/leaky.so");
    uint32_t drv = v->id_base;
    synth_object(t, drv, OBT_OBJ_DRIVER, 0x1000 + v->shift, 0, 2, "\\Driver\\leaky");
    SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 1, .stack = ssim);
    SYNTH_EV(t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = drv, .arg = lo + 0x10, .module = 2,
             .flags = OBT_EV_STATUS | OBT_EV_ARG, .stack = ssim);
    leak_device(t, drv, drv + 4, "\\Device\\Leaky", lo + 0x280, 2, ssim);
    if (v->second_leak)
        leak_device(t, drv, drv + 5, "\\Device\\Second", lo + 0x380, 3, ssim);
    uint32_t svc = synth_string(t, "leaky");
    SYNTH_EV(t, .op = OBT_OP_SERVICE_STOP, .string = svc, .flags = OBT_EV_STATUS, .stack = ssim);
    SYNTH_EV(t, .op = OBT_OP_DRIVER_UNLOAD, .obj_type = OBT_OBJ_DRIVER, .object = drv, .flags = OBT_EV_PRE,
             .stack = ssim);
    SYNTH_EV(t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = drv + 4, .count = 1, .stack = ssim);
    if (v->second_leak)
        SYNTH_EV(t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = drv + 5, .count = 1, .stack = ssim);
    if (v->end)
        synth_end(t);
    ck_assert_int_eq(synth_close(t), 0);
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs obtrace with printf-formatted arguments, stdout+stderr into out; returns the exit code. */
static int run(const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    return obt_test_run(obtrace, NULL, out, "%s", args);
}

static char *slurp(const char *path)
{
    return obt_test_slurp(path);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* True when the output is exactly one line containing what. */
static bool one_line_with(const char *what)
{
    char *o = slurp(out);
    return strstr(o, what) && strchr(o, '\n') == o + strlen(o) - 1;
}

static const struct variant plain = { .id_base = 1, .end = true };

/* ---- fingerprints (in-process) ------------------------------------------------------------------------- */

/* The fingerprint of the first finding of the first verdict of the trace. */
static void first_fingerprint(struct fingerprint *fp)
{
    struct model m;
    char err[256];
    model_init(&m);
    ck_assert_int_eq(model_load(&m, trace, err, sizeof(err)), 0);
    struct report r;
    report_init(&r, trace);
    rules_run(&m, &r);
    ck_assert_uint_ge(r.nverdicts, 1);
    struct symbolizer *sym = symbolizer_new(NULL);
    fingerprint_of(fp, &r.verdicts[0].findings[0], r.verdicts[0].image, &m, sym);
    symbolizer_free(sym);
    report_release(&r);
    model_release(&m);
}

START_TEST(fingerprint_text_and_stability)
{
    write_leak(&plain);
    struct fingerprint a, b;
    first_fingerprint(&a);
    ck_assert_str_eq(a.text, "leaked-reference\tleaky.so\tDevice \\Device\\Leaky\t"
                             "references taken at leaky.so+0x280 ← leaky.so+0x2c0");
    ck_assert_int_eq(strlen(a.hex), 16);
    /* another load address, later sequence numbers, other object ids: the same fingerprint */
    write_leak(&(struct variant){ .shift = 0x100000, .noise = 7, .id_base = 40, .end = true });
    first_fingerprint(&b);
    ck_assert_str_eq(a.hex, b.hex);
    fingerprint_release(&a);
    fingerprint_release(&b);
}
END_TEST

/* ---- baselines --------------------------------------------------------------------------------------------- */

START_TEST(baseline_roundtrip)
{
    ck_assert_msg(access(obtrace, X_OK) == 0, "%s is not built", obtrace);
    write_leak(&(struct variant){ .id_base = 1, .end = true });
    ck_assert_int_eq(run("report --write-baseline %s %s", base, trace), 1); /* the report itself is unchanged */
    char *b = slurp(base);
    ck_assert_msg(!strncmp(b, GATE_BASELINE_HEADER "\n", strlen(GATE_BASELINE_HEADER) + 1), "%s", b);
    ck_assert_ptr_nonnull(strstr(b, "\tleaked-reference\tleaky.so\tDevice \\Device\\Leaky\treferences taken at"));
    ck_assert_int_eq(run("report --baseline %s %s", base, trace), 0);
    char *o = slurp(out);
    ck_assert_ptr_null(strstr(o, "[leaked-reference]"));
    ck_assert_ptr_nonnull(strstr(o, "gating: 0 findings suppressed, 1 in the baseline (not shown)"));
    ck_assert_int_eq(run("report --format json --baseline %s %s", base, trace), 0);
    json_object *root = json_tokener_parse(slurp(out)), *v;
    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(root, "baselined", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(root, "exit", &v));
    ck_assert_int_eq(json_object_get_int(v), 0);
    json_object_put(root);
    /* a rerun that moved everything still matches */
    write_leak(&(struct variant){ .shift = 0x200000, .noise = 3, .id_base = 77, .end = true });
    ck_assert_int_eq(run("report --baseline %s %s", base, trace), 0);
}
END_TEST

START_TEST(baseline_new_finding_fails)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(&(struct variant){ .id_base = 1, .end = true });
    ck_assert_int_eq(run("report --write-baseline %s %s", base, trace), 1);
    write_leak(&(struct variant){ .id_base = 1, .second_leak = true, .end = true });
    ck_assert_int_eq(run("report --baseline %s %s", base, trace), 1);
    char *o = slurp(out);
    ck_assert_ptr_nonnull(strstr(o, "deleted device \\Device\\Second"));
    ck_assert_ptr_null(strstr(o, "deleted device \\Device\\Leaky"));
    ck_assert_ptr_nonnull(strstr(o, "1 in the baseline"));
    ck_assert_int_eq(run("report --format sarif --baseline %s %s", base, trace), 1);
    o = slurp(out);
    ck_assert_ptr_nonnull(strstr(o, "\"baselineState\": \"new\""));
}
END_TEST

/* ---- suppressions ----------------------------------------------------------------------------------------------- */

START_TEST(suppressions_match_id_image_and_site)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(&plain);
    write_file(sup, "# known issues\n\nleaked-reference leaky.so   # tracked in BUG-12 <&>\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 0);
    char *o = slurp(out);
    ck_assert_ptr_nonnull(strstr(o, "  [leaked-reference] (suppressed: tracked in BUG-12 <&>) 1 reference still held"));
    ck_assert_ptr_nonnull(strstr(o, "gating: 1 finding suppressed, 0 in the baseline"));
    ck_assert_int_eq(run("report --format json --suppress %s %s", sup, trace), 0);
    json_object *root = json_tokener_parse(slurp(out)), *v, *img, *f;
    ck_assert_ptr_nonnull(root);
    ck_assert(json_object_object_get_ex(root, "images", &v));
    img = json_object_array_get_idx(v, 0);
    ck_assert(json_object_object_get_ex(img, "findings", &v));
    f = json_object_array_get_idx(v, 0);
    ck_assert(json_object_object_get_ex(f, "suppressed", &v));
    ck_assert_str_eq(json_object_get_string(v), "tracked in BUG-12 <&>");
    ck_assert(json_object_object_get_ex(root, "suppressed", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    json_object_put(root);
    ck_assert_int_eq(run("report --format sarif --suppress %s %s", sup, trace), 0);
    ck_assert_ptr_nonnull(strstr(slurp(out), "\"justification\": \"tracked in BUG-12 <&>\""));

    write_file(sup, "leaked-* * leaky.so+0x28?\n"); /* a site glob on the decisive frame; no reason given */
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 0);
    char where[80];
    snprintf(where, sizeof(where), "(suppressed: %s:1)", sup);
    ck_assert_ptr_nonnull(strstr(slurp(out), where));
    write_file(sup, "leaked-reference leaky.so LeakyIoctl  # another function\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 1);
    write_file(sup, "leaked-reference other.so  # another image\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 1);
    write_file(sup, "open-handle  # another finding\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 1);
}
END_TEST

START_TEST(incomplete_trace_is_never_gated_to_zero)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(&(struct variant){ .id_base = 1, .end = false });
    write_file(sup, "*  # everything\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 2);
    ck_assert_ptr_nonnull(strstr(slurp(out), "[trace-incomplete]"));
}
END_TEST

/* ---- bad files ----------------------------------------------------------------------------------------------------- */

START_TEST(bad_gate_files_are_usage_errors)
{
    if (access(obtrace, X_OK))
        return;
    write_leak(&plain);
    char what[128];
    write_file(sup, "# ok\nleaked-refrence  # a typo\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 64);
    snprintf(what, sizeof(what), "obtrace: %s:2: 'leaked-refrence' matches no finding id", sup);
    ck_assert_msg(one_line_with(what), "%s", slurp(out));
    write_file(sup, "leaked-reference a b c\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 64);
    ck_assert(one_line_with(":1: expected 'finding-id [image-glob] [site-glob]  # reason'"));
    write_file(sup, "trace-incomplete\n");
    ck_assert_int_eq(run("report --suppress %s %s", sup, trace), 64);
    ck_assert_int_eq(run("report --suppress /nonexistent/sup %s", trace), 64);
    ck_assert(one_line_with("obtrace: /nonexistent/sup: No such file or directory"));

    write_file(base, "0123456789abcdef\tleaked-reference\n");
    ck_assert_int_eq(run("report --baseline %s %s", base, trace), 64);
    ck_assert(one_line_with("not an obtrace baseline"));
    write_file(base, "");
    ck_assert_int_eq(run("report --baseline %s %s", base, trace), 64);
    ck_assert(one_line_with("the file is empty"));
    write_file(base, GATE_BASELINE_HEADER "\nnot-a-fingerprint\n");
    ck_assert_int_eq(run("report --baseline %s %s", base, trace), 64);
    ck_assert(one_line_with(":2: expected a 16-digit fingerprint"));
    ck_assert_int_eq(run("report --write-baseline /nonexistent/dir/base %s", trace), 2);
    ck_assert(one_line_with("obtrace: /nonexistent/dir/base: No such file or directory"));
    ck_assert_int_eq(run("history --baseline %s %s x", base, trace), 64);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_gating");
    TCase *tc = tcase_create("gating");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, fingerprint_text_and_stability);
    tcase_add_test(tc, baseline_roundtrip);
    tcase_add_test(tc, baseline_new_finding_fails);
    tcase_add_test(tc, suppressions_match_id_image_and_site);
    tcase_add_test(tc, incomplete_trace_is_never_gated_to_zero);
    tcase_add_test(tc, bad_gate_files_are_usage_errors);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
