/*
 * analyzer_formats.c - the machine formats and the object graph on
 * synthetic traces: SARIF 2.1.0 (parsed with json-c: version, $schema,
 * rules, ruleId, level, the leaking line as startLine, relatedLocations,
 * fingerprints, suppressions), JUnit XML (well-formed, testcases and
 * failures counted, `<&"` escaped), and the DOT graph (exact node and edge
 * lines, red for what a finding names). The SARIF trace's driver image is
 * this very program, so its frames symbolize to lines of this file. SVG
 * is tried only when Graphviz's dot is installed; its absence gives one
 * error line and exit 2. Renders in-process; the command runs from
 * $O/bin/obtrace (O defaults to build) when it is built.
 */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "graph.h"
#include "model.h"
#include "obt_test.h"
#include "render.h"
#include "rules.h"
#include "synth_trace.h"

#define NTSIM_LO 0x10000ull
#define DRV_LO 0x40000ull
#define CLEAN_LO 0x60000ull

static char trace[64], out[64], obtrace[512], exe[4096];

/* ---- this program as a module -------------------------------------------------------------------- */

static struct obt_test_image self;

/* Return addresses in this file, on known lines: the "driver" code of the SARIF trace. */
static uint64_t leak_addr, leak_line, dispatch_addr, dispatch_line;

__attribute__((noinline)) static uint64_t return_address(void)
{
    uint64_t a = (uint64_t)(uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return a;
}

/* The leak is taken in LeakyIoctl, called from LeakyDispatch: both return addresses are kept. */
__attribute__((noinline)) void LeakyIoctl(void);
__attribute__((noinline)) void LeakyIoctl(void)
{
    leak_addr = return_address(); leak_line = __LINE__;
    dispatch_addr = (uint64_t)(uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void LeakyDispatch(void);
__attribute__((noinline)) void LeakyDispatch(void)
{
    LeakyIoctl(); dispatch_line = __LINE__;
    __asm__ volatile("" ::: "memory");
}

static void setup(void)
{
    snprintf(trace, sizeof(trace), "/tmp/obt-fmt-%d.obt", (int)getpid());
    snprintf(out, sizeof(out), "/tmp/obt-fmt-%d.out", (int)getpid());
    obt_test_obtrace_path(obtrace, sizeof(obtrace));
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    obt_test_self_image(&self);
    LeakyDispatch();
}

static void teardown(void)
{
    unlink(trace);
    unlink(out);
}

/* ---- traces ------------------------------------------------------------------------------------------ */

/*
 * Two legacy drivers: `img` (module instance 2 at lo, path) keeps a device
 * whose name is dev_name with a leaked tagged reference taken at
 * leak_stack; clean.so (instance 3) unloads cleanly.
 */
static void write_two_drivers(const char *path, uint64_t lo, uint64_t hi, const uint8_t *bid, uint8_t bid_len,
                              const char *dev_name, const uint64_t *leak_frames, uint32_t leak_depth, bool end)
{
    struct synth_trace *t = synth_open(trace, NULL);
    synth_module_load(t, 1, NTSIM_LO, NTSIM_LO, NTSIM_LO + 0x10000, NULL, 0, "/sim/libntsim.so");
    synth_module_load(t, 2, lo, lo, hi, bid, bid_len, path);
    synth_module_load(t, 3, CLEAN_LO, CLEAN_LO, CLEAN_LO + 0x10000, NULL, 0, "/x/clean.so");
    uint64_t fsim[2] = { NTSIM_LO + 0x100, NTSIM_LO + 0x200 }, fin[3] = { NTSIM_LO + 0x300, NTSIM_LO + 0x100,
                                                                         NTSIM_LO + 0x200 };
    uint32_t ssim = synth_stack(t, fsim, 2), sin = synth_stack(t, fin, 3);
    uint32_t sleak = synth_stack(t, leak_frames, leak_depth);
    for (uint32_t drv = 1; drv <= 2; drv++) {
        synth_object(t, drv, OBT_OBJ_DRIVER, 0x1000 * drv, 0, drv + 1, drv == 1 ? "\\Driver\\leaky" : "\\Driver\\clean");
        SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 1, .stack = ssim);
        SYNTH_EV(t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = drv, .arg = 0x10, .module = drv + 1,
                 .flags = OBT_EV_STATUS | OBT_EV_ARG, .stack = ssim);
        uint32_t dev = 4 + drv;
        synth_object(t, dev, OBT_OBJ_DEVICE, 0x2000 * drv, drv, 0, drv == 1 ? dev_name : "\\Device\\Clean");
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 2, .stack = sin);
        SYNTH_EV(t, .op = OBT_OP_DEV_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 1, .obj2 = drv,
                 .stack = ssim);
        if (drv == 1)
            SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 2, .stack = sleak,
                     .tag = 'kaeL');
        uint32_t svc = synth_string(t, drv == 1 ? "leaky" : "clean");
        SYNTH_EV(t, .op = OBT_OP_SERVICE_STOP, .string = svc, .flags = OBT_EV_STATUS, .stack = ssim);
        SYNTH_EV(t, .op = OBT_OP_DRIVER_UNLOAD, .obj_type = OBT_OBJ_DRIVER, .object = drv, .flags = OBT_EV_PRE,
                 .stack = ssim);
        if (drv == 2) /* nothing else holds it: IoDeleteDevice frees it */
            SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 0, .stack = sin);
        SYNTH_EV(t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = drv == 1 ? 1 : 0,
                 .stack = ssim);
        if (drv == 2) {
            SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 1, .stack = ssim);
            SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 0, .stack = ssim);
            synth_module_unload(t, 3);
        }
    }
    if (end)
        synth_end(t);
    ck_assert_int_eq(synth_close(t), 0);
}

/* The SARIF trace: the leaking driver is this program; the leak was taken in LeakyIoctl ← LeakyDispatch. */
static void write_self_leak(void)
{
    uint64_t f[2] = { leak_addr, dispatch_addr };
    write_two_drivers(exe, self.start, self.end, self.build_id, self.build_id_len, "\\Device\\A<&\"B", f, 2, true);
}

/* The same with a module that cannot be read: frames stay module+offset, so output is the same everywhere. */
static void write_plain_leak(void)
{
    uint64_t f[2] = { DRV_LO + 0x280, DRV_LO + 0x2c0 };
    write_two_drivers("/x/leaky.so", DRV_LO, DRV_LO + 0x10000, NULL, 0, "\\Device\\Leaky", f, 2, true);
}

/* Loads the trace, runs the rules and renders with fn into a string (caller frees). */
static char *render_with(render_fn *fn)
{
    struct model m;
    char err[256], *buf = NULL;
    size_t len = 0;
    model_init(&m);
    ck_assert_int_eq(model_load(&m, trace, err, sizeof(err)), 0);
    struct report r;
    report_init(&r, trace);
    rules_run(&m, &r);
    struct symbolizer *sym = symbolizer_new(NULL);
    FILE *f = open_memstream(&buf, &len);
    fn(f, &r, &m, sym);
    fclose(f);
    symbolizer_free(sym);
    report_release(&r);
    model_release(&m);
    return buf;
}

static void graph_dot(FILE *f, const struct report *r, const struct model *m, struct symbolizer *sym)
{
    graph_write_dot(f, m, r, sym);
}

/* ---- SARIF ------------------------------------------------------------------------------------------------ */

static json_object *get(json_object *o, const char *key)
{
    json_object *v = NULL;
    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key %s", key);
    return v;
}

static const char *str(json_object *o, const char *key)
{
    return json_object_get_string(get(o, key));
}

START_TEST(sarif_structure)
{
    write_self_leak();
    char *doc = render_with(render_sarif);
    json_object *root = json_tokener_parse(doc);
    ck_assert_msg(root != NULL, "%s", doc);
    ck_assert_str_eq(str(root, "version"), "2.1.0");
    ck_assert_str_eq(str(root, "$schema"), "https://json.schemastore.org/sarif-2.1.0.json");
    json_object *runs = get(root, "runs");
    ck_assert_int_eq(json_object_array_length(runs), 1);
    json_object *run = json_object_array_get_idx(runs, 0);
    json_object *drv = get(get(run, "tool"), "driver");
    ck_assert_str_eq(str(drv, "name"), "obtrace");
    json_object *rules = get(drv, "rules");
    ck_assert_int_eq(json_object_array_length(rules), F_COUNT);
    json_object *rule = json_object_array_get_idx(rules, F_LEAKED_REFERENCE);
    ck_assert_str_eq(str(rule, "id"), "leaked-reference");
    ck_assert_str_eq(str(get(rule, "shortDescription"), "text"), finding_meaning(F_LEAKED_REFERENCE));
    ck_assert_ptr_nonnull(strstr(str(get(rule, "help"), "text"), finding_fix(F_LEAKED_REFERENCE)));
    ck_assert_ptr_nonnull(get(rule, "fullDescription"));

    json_object *results = get(run, "results");
    ck_assert_int_eq(json_object_array_length(results), 1);
    json_object *res = json_object_array_get_idx(results, 0);
    ck_assert_str_eq(str(res, "ruleId"), "leaked-reference");
    ck_assert_int_eq(json_object_get_int(get(res, "ruleIndex")), F_LEAKED_REFERENCE);
    ck_assert_str_eq(str(res, "level"), "error");
    ck_assert_ptr_nonnull(strstr(str(get(res, "message"), "text"), "\\Device\\A<&\"B"));
    json_object *loc = json_object_array_get_idx(get(res, "locations"), 0);
    json_object *phys = get(loc, "physicalLocation");
    const char *uri = str(get(phys, "artifactLocation"), "uri");
    ck_assert_msg(strstr(uri, "analyzer_formats.c") != NULL, "%s", uri);
    if (access("tests/unit/analyzer_formats.c", R_OK) == 0) { /* run from the source tree: a relative path */
        ck_assert_str_eq(uri, "tests/unit/analyzer_formats.c");
        ck_assert_str_eq(str(get(phys, "artifactLocation"), "uriBaseId"), "%SRCROOT%");
    }
    ck_assert_int_eq(json_object_get_int(get(get(phys, "region"), "startLine")), (int)leak_line);
    json_object *related = get(res, "relatedLocations");
    ck_assert_int_ge(json_object_array_length(related), 1);
    json_object *rel0 = json_object_array_get_idx(related, 0);
    ck_assert_int_eq(json_object_get_int(get(get(get(rel0, "physicalLocation"), "region"), "startLine")),
                     (int)dispatch_line);
    ck_assert_str_eq(str(get(rel0, "message"), "text"), "references taken at: LeakyDispatch");
    const char *fp = str(get(res, "partialFingerprints"), "obtrace/v1");
    ck_assert_int_eq(strlen(fp), 16);
    ck_assert(!json_object_object_get_ex(res, "suppressions", NULL));
    ck_assert(!json_object_object_get_ex(res, "baselineState", NULL));
    ck_assert(json_object_get_boolean(get(json_object_array_get_idx(get(run, "invocations"), 0), "executionSuccessful")));

    /* the same finding in a second rendering has the same fingerprint */
    char *again = render_with(render_sarif);
    ck_assert_ptr_nonnull(strstr(again, fp));
    free(again);
    json_object_put(root);
    free(doc);
}
END_TEST

START_TEST(sarif_without_source_lines)
{
    write_plain_leak();
    char *doc = render_with(render_sarif);
    json_object *root = json_tokener_parse(doc);
    ck_assert_ptr_nonnull(root);
    json_object *res = json_object_array_get_idx(get(json_object_array_get_idx(get(root, "runs"), 0), "results"), 0);
    json_object *loc = json_object_array_get_idx(get(res, "locations"), 0);
    /* no source line: the location is the trace, named with the object */
    char uri[128];
    snprintf(uri, sizeof(uri), "file://%s", trace);
    ck_assert_str_eq(str(get(get(loc, "physicalLocation"), "artifactLocation"), "uri"), uri);
    ck_assert_str_eq(str(json_object_array_get_idx(get(loc, "logicalLocations"), 0), "name"), "\\Device\\Leaky");
    ck_assert(!json_object_object_get_ex(res, "relatedLocations", NULL));
    json_object_put(root);
    free(doc);
}
END_TEST

/* ---- JUnit ------------------------------------------------------------------------------------------------- */

/* A small XML well-formedness check: tags balance, attributes are quoted, '&' starts a known entity, no raw '<' in text. */
static bool xml_well_formed(const char *s, char *why, size_t len)
{
    const char *stack[32];
    size_t lens[32], depth = 0;
    if (strncmp(s, "<?xml ", 6) || !(s = strstr(s, "?>")))
        return snprintf(why, len, "no XML declaration"), false;
    for (s += 2; *s; s++) {
        if (*s == '&') {
            static const char *const ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#9;" };
            bool ok = false;
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
                ok = ok || !strncmp(s, ents[i], strlen(ents[i]));
            if (!ok)
                return snprintf(why, len, "bare & at %.20s", s), false;
            continue;
        }
        if (*s != '<')
            continue;
        const char *end = strchr(s, '>');
        if (!end)
            return snprintf(why, len, "unterminated tag"), false;
        for (const char *q = s + 1; q < end; q++)
            if (*q == '<')
                return snprintf(why, len, "raw < inside a tag at %.30s", s), false;
        if (s[1] == '/') {
            size_t n = (size_t)(end - s - 2);
            if (!depth || lens[depth - 1] != n || strncmp(stack[depth - 1], s + 2, n))
                return snprintf(why, len, "mismatched close tag %.*s", (int)n + 3, s), false;
            depth--;
        } else if (end[-1] != '/') {
            if (depth == 32)
                return snprintf(why, len, "too deep"), false;
            stack[depth] = s + 1;
            lens[depth++] = strcspn(s + 1, " >");
        }
        s = end;
    }
    return depth == 0 || (snprintf(why, len, "unclosed %.*s", (int)lens[depth - 1], stack[depth - 1]), false);
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (; (s = strstr(s, needle)); s++)
        n++;
    return n;
}

START_TEST(junit_cases_and_escaping)
{
    write_self_leak();
    char *doc = render_with(render_junit), why[128];
    ck_assert_msg(xml_well_formed(doc, why, sizeof(why)), "%s\n%s", why, doc);
    ck_assert_int_eq(count(doc, "<testsuite "), 1);
    ck_assert_int_eq(count(doc, "<testcase "), 3); /* two driver images and the trace */
    ck_assert_int_eq(count(doc, "<failure "), 1);
    ck_assert_int_eq(count(doc, "<error "), 0);
    ck_assert_ptr_nonnull(strstr(doc, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"0\""));
    ck_assert_ptr_nonnull(strstr(doc, "<testcase classname=\"obtrace\" name=\"clean.so\"/>"));
    ck_assert_ptr_nonnull(strstr(doc, "<testcase classname=\"obtrace\" name=\"trace\"/>"));
    ck_assert_ptr_nonnull(strstr(doc, "<failure type=\"leaked-reference\" message=\"NOT UNLOADED — DriverUnload ran"));
    ck_assert_ptr_nonnull(strstr(doc, "\\Device\\A&lt;&amp;&quot;B"));
    ck_assert_ptr_null(strstr(doc, "A<&"));
    ck_assert_ptr_nonnull(strstr(doc, "[leaked-reference] 1 reference still held"));
    free(doc);
}
END_TEST

START_TEST(junit_incomplete_trace_errors)
{
    uint64_t f[2] = { DRV_LO + 0x280, DRV_LO + 0x2c0 };
    write_two_drivers("/x/leaky.so", DRV_LO, DRV_LO + 0x10000, NULL, 0, "\\Device\\Leaky", f, 2, false);
    char *doc = render_with(render_junit), why[128];
    ck_assert_msg(xml_well_formed(doc, why, sizeof(why)), "%s\n%s", why, doc);
    ck_assert_int_eq(count(doc, "<error type=\"trace-incomplete\""), 1);
    ck_assert_ptr_nonnull(strstr(doc, "errors=\"1\""));
    free(doc);
}
END_TEST

/* ---- DOT ------------------------------------------------------------------------------------------------------ */

START_TEST(dot_nodes_and_edges)
{
    write_plain_leak();
    char *doc = render_with(graph_dot);
    static const char *const lines[] = {
        "digraph obtrace {\n",
        "  img2 [label=\"leaky.so\\nnot-unloaded\", shape=folder, color=red, fontcolor=red];\n",
        "  obj1 [label=\"\\\\Driver\\\\leaky\\nDriver #1, 2 refs\", shape=component, color=red, fontcolor=red];\n",
        "  img2 -> obj1 [label=\"driver\", color=red, fontcolor=red];\n",
        "  obj5 [label=\"\\\\Device\\\\Leaky\\nDevice #5, 1 ref, deleted\", color=red, fontcolor=red];\n",
        "  obj1 -> obj5 [label=\"deleted device\", style=dashed, color=red, fontcolor=red];\n",
        "  obj5_h1 [label=\"1/1 references taken at\\nleaky.so+0x280 ← leaky.so+0x2c0\\ntag Leak\\nthread 4242\", "
        "shape=ellipse, color=red, fontcolor=red];\n",
        "  obj5 -> obj5_h1 [label=\"held by\", color=red, fontcolor=red];\n",
        "}\n",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        ck_assert_msg(strstr(doc, lines[i]) != NULL, "missing line %s in\n%s", lines[i], doc);
    ck_assert_ptr_null(strstr(doc, "clean.so")); /* unloaded: gone from the graph */
    ck_assert_ptr_null(strstr(doc, "obj6 "));
    free(doc);
}
END_TEST

/* Runs a shell command line with obtrace, output into out; returns the exit code. */
static int run(const char *env, const char *args)
{
    return obt_test_run(obtrace, env, out, "%s", args);
}

static char *slurp(void)
{
    return obt_test_slurp(out);
}

static bool have_dot(void)
{
    return system("command -v dot >/dev/null 2>&1") == 0;
}

START_TEST(graph_command)
{
    ck_assert_msg(access(obtrace, X_OK) == 0, "%s is not built", obtrace);
    write_plain_leak();
    char args[256];
    snprintf(args, sizeof(args), "graph %s", trace);
    ck_assert_int_eq(run("", args), 0);
    ck_assert(!strncmp(slurp(), "digraph obtrace {\n", 18));
    /* as of seq 2: only the first driver object exists, with its creation reference */
    snprintf(args, sizeof(args), "graph --at 2 %s", trace);
    ck_assert_int_eq(run("", args), 0);
    char *o = slurp();
    ck_assert_ptr_nonnull(strstr(o, "label=\"as of seq 2\""));
    ck_assert_ptr_nonnull(strstr(o, "  obj1 [label=\"\\\\Driver\\\\leaky\\nDriver #1, 1 ref\", shape=component"));
    ck_assert_ptr_null(strstr(o, "obj5"));
    snprintf(args, sizeof(args), "graph --at x %s", trace);
    ck_assert_int_eq(run("", args), 64);
    snprintf(args, sizeof(args), "graph --format png %s", trace);
    ck_assert_int_eq(run("", args), 64);
    snprintf(args, sizeof(args), "graph --suppress x %s", trace);
    ck_assert_int_eq(run("", args), 64);
    /* svg without Graphviz: one line, exit 2 */
    snprintf(args, sizeof(args), "graph --format svg %s", trace);
    ck_assert_int_eq(run("PATH=/nonexistent", args), 2);
    o = slurp();
    ck_assert_ptr_nonnull(strstr(o, "needs Graphviz's dot"));
    ck_assert_ptr_eq(strchr(o, '\n'), o + strlen(o) - 1);
    if (have_dot()) {
        snprintf(args, sizeof(args), "graph --format svg %s", trace);
        ck_assert_int_eq(run("", args), 0);
        ck_assert_ptr_nonnull(strstr(slurp(), "<svg"));
    }
}
END_TEST

START_TEST(report_formats_on_the_command_line)
{
    if (access(obtrace, X_OK))
        return;
    write_plain_leak();
    char args[256];
    snprintf(args, sizeof(args), "report --format sarif %s", trace);
    ck_assert_int_eq(run("", args), 1);
    json_object *root = json_tokener_parse(slurp());
    ck_assert_ptr_nonnull(root);
    ck_assert_str_eq(str(root, "version"), "2.1.0");
    json_object_put(root);
    snprintf(args, sizeof(args), "report --format junit %s", trace);
    ck_assert_int_eq(run("", args), 1);
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ";
    ck_assert(!strncmp(slurp(), head, strlen(head)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_formats");
    TCase *tc = tcase_create("formats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sarif_structure);
    tcase_add_test(tc, sarif_without_source_lines);
    tcase_add_test(tc, junit_cases_and_escaping);
    tcase_add_test(tc, junit_incomplete_trace_errors);
    tcase_add_test(tc, dot_nodes_and_edges);
    tcase_add_test(tc, graph_command);
    tcase_add_test(tc, report_formats_on_the_command_line);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
