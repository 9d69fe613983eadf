/*
 * cli.c - `obtrace report`, `obtrace graph`, `obtrace history` and
 * `obtrace check`: option parsing (one parser; each command says which
 * options and formats it takes), loading the trace into the model, CI
 * gating around the report, and the exit codes (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gate.h"
#include "graph.h"
#include "model.h"
#include "model_wdf.h"
#include "record.h"
#include "render.h"
#include "rules.h"
#include "symbolize.h"
#include "xalloc.h"

#define MAX_DEBUG_PATHS 16
#define MAX_SUPPRESS 16

const char cli_usage_text[] =
    "usage: obtrace report [--format text|json|sarif|junit] [-o FILE] [--suppress FILE]... [--baseline FILE]\n"
    "                      [--write-baseline FILE] [--debug-path DIR]... [--sysroot DIR] TRACE\n"
    "       obtrace graph [--format dot|svg] [-o FILE] [--at SEQ] [--debug-path DIR]... [--sysroot DIR] TRACE\n"
    "       obtrace history [--debug-path DIR]... [--sysroot DIR] TRACE OBJECT\n"
    "       obtrace check [report options] -- PROGRAM [ARGS...]\n"
    "       obtrace dump TRACE\n"
    "       obtrace record [options] -- PROGRAM [ARGS...]\n"
    "       obtrace --help | --version\n";

/* What a command accepts besides --debug-path and --sysroot. */
struct command_spec {
    const char *name;
    const char *const *formats; /* the first is the default; NULL = no --format and no -o */
    const char *formats_text;   /* for the error message */
    bool gate;                  /* --suppress, --baseline, --write-baseline */
    bool at;                    /* --at SEQ */
};

static const char *const report_formats[] = { "text", "json", "sarif", "junit", NULL };
static const char *const graph_formats[] = { "dot", "svg", NULL };
static const struct command_spec report_spec = { "report", report_formats, "text, json, sarif or junit", true, false };
static const struct command_spec check_spec = { "check", report_formats, "text, json, sarif or junit", true, false };
static const struct command_spec graph_spec = { "graph", graph_formats, "dot or svg", false, true };
static const struct command_spec history_spec = { "history", NULL, NULL, false, false };

struct report_opts {
    const char *format;
    const char *output; /* NULL = stdout */
    const char *debug_paths[MAX_DEBUG_PATHS + 1];
    int ndebug;
    const char *sysroot;
    const char *suppress[MAX_SUPPRESS];
    int nsuppress;
    const char *baseline, *write_baseline;
    uint64_t at; /* UINT64_MAX = the end of the trace */
};

/* The renderers behind report --format. */
static const struct {
    const char *name;
    render_fn *render;
} renderers[] = {
    { "text", render_text }, { "json", render_json }, { "sarif", render_sarif }, { "junit", render_junit },
};

static int usage_error(const char *cmd, const char *what)
{
    fprintf(stderr, "obtrace %s: %s\n", cmd, what);
    fputs(cli_usage_text, stderr);
    return EXIT_USAGE;
}

static bool format_known(const struct command_spec *spec, const char *format)
{
    for (const char *const *f = spec->formats; f && *f; f++)
        if (!strcmp(*f, format))
            return true;
    return false;
}

/* Parses a decimal sequence number; false when s is not one. */
static bool parse_seq(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* Handles one option that only some commands accept; returns 0 or the usage exit code. */
static int parse_command_opt(int c, const struct command_spec *spec, struct report_opts *o)
{
    char what[128];
    switch (c) {
    case 'f':
        if (!spec->formats || !format_known(spec, optarg)) {
            snprintf(what, sizeof(what), "--format must be %s", spec->formats ? spec->formats_text : "absent");
            return usage_error(spec->name, what);
        }
        o->format = optarg;
        return 0;
    case 'o':
        if (!spec->formats)
            return usage_error(spec->name, "-o is not an option of this command");
        o->output = optarg;
        return 0;
    case 'S':
    case 'b':
    case 'w':
        if (!spec->gate)
            return usage_error(spec->name, "--suppress, --baseline and --write-baseline are options of report and check");
        if (c == 'S' && o->nsuppress == MAX_SUPPRESS)
            return usage_error(spec->name, "too many --suppress options");
        if (c == 'S')
            o->suppress[o->nsuppress++] = optarg;
        else if (c == 'b')
            o->baseline = optarg;
        else
            o->write_baseline = optarg;
        return 0;
    case 'a':
        if (!spec->at)
            return usage_error(spec->name, "--at is an option of graph");
        if (!parse_seq(optarg, &o->at))
            return usage_error(spec->name, "--at expects a sequence number");
        return 0;
    }
    return usage_error(spec->name, c == 'h' ? "help" : "unknown option");
}

/* Parses the options of a command from argv (getopt state reset); returns 0 or the usage exit code. */
static int parse_report_opts(int argc, char **argv, struct report_opts *o, const struct command_spec *spec)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        { "debug-path", required_argument, NULL, 'd' },
        { "sysroot", required_argument, NULL, 's' },
        { "suppress", required_argument, NULL, 'S' },
        { "baseline", required_argument, NULL, 'b' },
        { "write-baseline", required_argument, NULL, 'w' },
        { "at", required_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->format = spec->formats ? spec->formats[0] : NULL;
    o->at = UINT64_MAX;
    optind = 1;
    opterr = 0;
    int c, rc;
    while ((c = getopt_long(argc, argv, "+f:o:d:s:h", longopts, NULL)) != -1) {
        if (c == 'd') {
            if (o->ndebug == MAX_DEBUG_PATHS)
                return usage_error(spec->name, "too many --debug-path options");
            o->debug_paths[o->ndebug++] = optarg;
        } else if (c == 's') {
            o->sysroot = optarg;
        } else if ((rc = parse_command_opt(c, spec, o)) != 0) {
            return rc;
        }
    }
    return 0;
}

static struct symbolizer *make_symbolizer(const struct report_opts *o)
{
    struct sym_options so = { .debug_paths = o->debug_paths, .sysroot = o->sysroot };
    return symbolizer_new(&so);
}

/* Loads trace into m up to seq until; on failure prints "obtrace: TRACE: what" and returns false. */
static bool load_trace(struct model *m, const char *trace, uint64_t until)
{
    char err[512];
    model_init(m);
    if (model_load_until(m, trace, until, err, sizeof(err)) < 0) {
        fprintf(stderr, "obtrace: %s: %s\n", trace, err);
        model_release(m);
        return false;
    }
    return true;
}

/* Reads the suppression and baseline files of o into g; returns 0 or EXIT_USAGE after one error line. */
static int load_gate(struct gate *g, const struct report_opts *o)
{
    char err[1024];
    int rc = 0;
    for (int i = 0; i < o->nsuppress && !rc; i++)
        rc = gate_load_suppressions(g, o->suppress[i], err, sizeof(err));
    if (!rc && o->baseline)
        rc = gate_load_baseline(g, o->baseline, err, sizeof(err));
    if (rc)
        fprintf(stderr, "obtrace: %s\n", err);
    return rc ? EXIT_USAGE : 0;
}

/* Opens -o FILE (or stdout); NULL after an error line. */
static FILE *open_output(const struct report_opts *o)
{
    FILE *out = o->output ? fopen(o->output, "w") : stdout;
    if (!out)
        fprintf(stderr, "obtrace: %s: %s\n", o->output, strerror(errno));
    return out;
}

/*
 * Finishes writing to out (closes it unless it is stdout). FALSE, after a
 * one-line error, when any write failed: a truncated report must not pass.
 */
static bool close_output(FILE *out, const struct report_opts *o)
{
    bool failed = ferror(out) != 0;
    failed |= (out == stdout ? fflush(out) : fclose(out)) != 0;
    if (failed)
        fprintf(stderr, "obtrace: %s: write error\n", o->output ? o->output : "standard output");
    return !failed;
}

static render_fn *renderer_for(const char *format)
{
    for (size_t i = 0; i < sizeof(renderers) / sizeof(renderers[0]); i++)
        if (!strcmp(renderers[i].name, format))
            return renderers[i].render;
    return render_text;
}

/* Gates r (suppressions, then the baseline), writing --write-baseline in between; returns 0 or EXIT_UNUSABLE. */
static int gate_report(struct gate *g, struct report *r, const struct model *m, struct symbolizer *sym,
                       const struct report_opts *o)
{
    char err[1024];
    gate_suppress(g, r, m, sym);
    if (o->write_baseline && gate_write_baseline(r, m, sym, o->write_baseline, err, sizeof(err)) < 0) {
        fprintf(stderr, "obtrace: %s\n", err);
        return EXIT_UNUSABLE;
    }
    gate_drop_baselined(g, r, m, sym);
    return 0;
}

/*
 * Analyzes trace under o's gate and returns the exit code of its verdict;
 * renders the report to o's output when render is set (else only the exit
 * code counts: `check` on a trace besides the program's own).
 */
static int analyze_trace(const char *trace, const struct report_opts *o, bool render)
{
    struct gate g;
    gate_init(&g);
    int rc = load_gate(&g, o);
    struct model m;
    if (rc || !load_trace(&m, trace, UINT64_MAX)) {
        gate_release(&g);
        return rc ? rc : EXIT_UNUSABLE;
    }
    struct report r;
    report_init(&r, trace);
    rules_run(&m, &r);
    struct symbolizer *sym = make_symbolizer(o);
    FILE *out = NULL;
    rc = gate_report(&g, &r, &m, sym, o);
    if (!rc && render && !(out = open_output(o)))
        rc = EXIT_UNUSABLE;
    if (!rc) {
        if (render)
            renderer_for(o->format)(out, &r, &m, sym);
        rc = !render || close_output(out, o) ? report_exit_code(&r) : EXIT_UNUSABLE;
        if (r.incomplete)
            fprintf(stderr, "obtrace: %s: %s; the verdict covers only what was recorded\n", trace,
                    model_incomplete_reason(&m, "the trace is incomplete"));
    }
    symbolizer_free(sym);
    report_release(&r);
    model_release(&m);
    gate_release(&g);
    return rc;
}

static int run_report(const char *trace, const struct report_opts *o)
{
    return analyze_trace(trace, o, true);
}

int cli_report(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse_report_opts(argc, argv, &o, &report_spec);
    if (rc)
        return rc;
    if (argc - optind != 1)
        return usage_error("report", "expects exactly one TRACE");
    return run_report(argv[optind], &o);
}

/* ---- graph ------------------------------------------------------------------------------------------ */

/* Writes the graph of m (DOT, or SVG through dot) to out; returns 0 or EXIT_UNUSABLE after an error line. */
static int write_graph(FILE *out, const struct report_opts *o, const struct model *m, const struct report *r,
                       struct symbolizer *sym)
{
    if (!strcmp(o->format, "dot")) {
        graph_write_dot(out, m, r, sym);
        return 0;
    }
    char *dot = NULL, err[512];
    size_t len = 0;
    FILE *mem = open_memstream(&dot, &len);
    if (!mem) {
        fputs("obtrace: out of memory\n", stderr);
        return EXIT_UNUSABLE;
    }
    graph_write_dot(mem, m, r, sym);
    fclose(mem);
    int rc = graph_dot_to_svg(dot, len, out, err, sizeof(err));
    free(dot);
    if (rc < 0)
        fprintf(stderr, "obtrace graph: %s\n", err);
    return rc < 0 ? EXIT_UNUSABLE : 0;
}

int cli_graph(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse_report_opts(argc, argv, &o, &graph_spec);
    if (rc)
        return rc;
    if (argc - optind != 1)
        return usage_error("graph", "expects exactly one TRACE");
    const char *trace = argv[optind];
    struct model m;
    if (!load_trace(&m, trace, o.at))
        return EXIT_UNUSABLE;
    struct report r;
    report_init(&r, trace);
    rules_run(&m, &r);
    struct symbolizer *sym = make_symbolizer(&o);
    FILE *out = open_output(&o);
    rc = out ? write_graph(out, &o, &m, &r, sym) : EXIT_UNUSABLE;
    if (out && !close_output(out, &o) && !rc)
        rc = EXIT_UNUSABLE;
    if (!rc && r.incomplete) {
        fprintf(stderr, "obtrace: %s: %s\n", trace, model_incomplete_reason(&m, "the trace is incomplete"));
        rc = EXIT_UNUSABLE;
    }
    symbolizer_free(sym);
    report_release(&r);
    model_release(&m);
    return rc;
}

/* ---- history ----------------------------------------------------------------------------------- */

struct tag_balance {
    uint32_t tag;
    unsigned refs, derefs;
};

struct history {
    const char *query;
    uint32_t want_id;
    uint64_t want_address;
    uint32_t matched;          /* the object id being shown (the latest match) */
    unsigned shown;
    struct tag_balance tags[64];
    unsigned ntags;
    unsigned refs, derefs;
    struct symbolizer *sym;
};

static const struct object *any_object(const struct model *m, uint32_t id)
{
    const struct object *o = model_object(m, id);
    return o ? o : model_freed_object(m, id);
}

static bool history_matches(const struct history *h, const struct object *o)
{
    if (!o)
        return false;
    if (h->want_id)
        return o->id == h->want_id;
    if (h->want_address)
        return o->address == h->want_address;
    return o->name[0] && !strcasecmp(o->name, h->query);
}

static struct tag_balance *tag_slot(struct history *h, uint32_t tag)
{
    for (unsigned i = 0; i < h->ntags; i++)
        if (h->tags[i].tag == tag)
            return &h->tags[i];
    if (h->ntags == 64)
        return &h->tags[63];
    h->tags[h->ntags] = (struct tag_balance){ .tag = tag };
    return &h->tags[h->ntags++];
}

/* +n / -n for operations that change the pointer count (a KMDF object's reference count), 0 for the others. */
static int history_delta(const struct tr_event *ev)
{
    switch (ev->op) {
    case OBT_OP_OBJ_CREATE: return ev->count > 0 ? ev->count : 1;
    case OBT_OP_OBJ_REF:
    case OBT_OP_HANDLE_OPEN:
    case OBT_OP_WDF_CREATE:
    case OBT_OP_WDF_REF: return 1;
    case OBT_OP_OBJ_DEREF:
    case OBT_OP_HANDLE_CLOSE:
    case OBT_OP_WDF_DEREF:
    case OBT_OP_WDF_DELETE: return -1; /* WDF_DELETE: the creation's reference goes */
    }
    return 0;
}

static void history_hook(struct model *m, const struct tr_event *ev, void *ctx)
{
    struct history *h = ctx;
    const struct object *o = any_object(m, ev->object);
    if (!history_matches(h, o)) {
        const struct object *o2 = any_object(m, ev->obj2);
        if (!history_matches(h, o2))
            return;
    }
    if (!h->shown)
        printf("%-8s %-8s %-5s %-10s %-6s %-20s %s\n", "Sequence", "Thread", "+/-", "Tag", "Count", "Operation", "Stack");
    h->shown++;
    int delta = ev->object && history_matches(h, o) ? history_delta(ev) : 0;
    uint32_t tag = (ev->flags & OBT_EV_TAG) ? ev->tag : TAG_DEFAULT;
    char tagbuf[16], sign[16], line[1024];
    if (delta) {
        struct tag_balance *b = tag_slot(h, tag);
        if (delta > 0) {
            b->refs += (unsigned)delta;
            h->refs += (unsigned)delta;
        } else {
            b->derefs += (unsigned)-delta;
            h->derefs += (unsigned)-delta;
        }
        snprintf(sign, sizeof(sign), "%+d", delta);
    } else {
        snprintf(sign, sizeof(sign), " ");
    }
    h->matched = o && history_matches(h, o) ? o->id : h->matched;
    printf("%-8" PRIu64 " %-8u %-5s %-10s %-6d %-20s %s\n", ev->seq, ev->tid, sign,
           delta ? tr_format_tag(tag, tagbuf) : "", ev->count, tr_op_name(ev->op) ? tr_op_name(ev->op) : "?",
           render_stack_line(h->sym, m, ev->stack, ev->seq, line, sizeof(line)));
}

static void history_footer(const struct history *h, const struct model *m)
{
    char tagbuf[16];
    const struct object *o = any_object(m, h->matched);
    printf("\nObject: %s%s%s (%s #%u)%s\n", o && o->wdf ? model_wdf_kind_name(o->wdf->kind) : "",
           o && o->wdf ? " " : "", o && o->name[0] ? o->name : "(unnamed)", o ? rules_type_name(o->type) : "Object",
           h->matched, o && model_object(m, h->matched) ? "" : " (freed)");
    printf("References: %u, Dereferences %u\n", h->refs, h->derefs);
    for (unsigned i = 0; i < h->ntags; i++) {
        const struct tag_balance *b = &h->tags[i];
        printf("Tag: %s References: %u Dereferences: %u", tr_format_tag(b->tag, tagbuf), b->refs, b->derefs);
        if (b->refs > b->derefs)
            printf(" Over reference by: %u", b->refs - b->derefs);
        else if (b->refs < b->derefs)
            printf(" Under reference by: %u", b->derefs - b->refs);
        putchar('\n');
    }
}

static void history_parse_query(struct history *h, const char *q)
{
    h->query = q;
    char *end;
    if (q[0] == '#' && q[1]) {
        h->want_id = (uint32_t)strtoul(q + 1, &end, 10);
    } else if (!strncmp(q, "0x", 2) || !strncmp(q, "0X", 2)) {
        h->want_address = strtoull(q, &end, 16);
    } else {
        unsigned long v = strtoul(q, &end, 10);
        if (*q && !*end)
            h->want_id = (uint32_t)v;
    }
}

int cli_history(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse_report_opts(argc, argv, &o, &history_spec);
    if (rc)
        return rc;
    if (argc - optind != 2)
        return usage_error("history", "expects TRACE and OBJECT (\\Device\\X, #id or 0xADDRESS)");
    const char *trace = argv[optind];
    struct history h = { 0 };
    history_parse_query(&h, argv[optind + 1]);
    h.sym = make_symbolizer(&o);
    struct model m;
    model_init(&m);
    m.event_hook = history_hook;
    m.hook_ctx = &h;
    char err[512];
    rc = 0;
    if (model_load(&m, trace, err, sizeof(err)) < 0) {
        fprintf(stderr, "obtrace: %s: %s\n", trace, err);
        rc = EXIT_UNUSABLE;
    } else if (!h.shown) {
        fprintf(stderr, "obtrace: %s: no object matches '%s'\n", trace, h.query);
        rc = EXIT_UNUSABLE;
    } else {
        history_footer(&h, &m);
        if (m.damage || m.cut_short || !m.saw_end) {
            fprintf(stderr, "obtrace: %s: %s\n", trace, model_incomplete_reason(&m, "the trace has no end record"));
            rc = EXIT_UNUSABLE;
        }
    }
    symbolizer_free(h.sym);
    model_release(&m);
    return rc;
}

/* ---- check ---------------------------------------------------------------------------------------- */

/*
 * The verdict of one more trace of a check run (a forked child's, an exec'd
 * program's): analyzed under the same gate, not rendered (the program's
 * own report stays the one document on the output), named on stderr.
 */
static int check_other_trace(const char *trace, const struct report_opts *o)
{
    struct report_opts quiet = *o;
    quiet.write_baseline = NULL; /* the program's own trace writes it */
    int rc = analyze_trace(trace, &quiet, false);
    fprintf(stderr, "obtrace check: also recorded %s: %s (obtrace report %s shows it)\n", trace,
            rc == EXIT_CLEAN ? "clean" : rc == EXIT_FINDINGS ? "findings" : "unusable", trace);
    return rc;
}

/* The worse of two exit codes of verdicts: unusable over findings over clean. */
static int worse_exit(int a, int b)
{
    return a > b ? a : b;
}

/*
 * `obtrace check [report options] -- PROGRAM ARGS`: records PROGRAM (and
 * every process of it that traces: forked children, exec'd programs) into
 * a temporary directory ($TMPDIR, else /tmp), reports on the program's own
 * trace, and gates on every trace. Clean traces are deleted; the others
 * are kept and named.
 */
int cli_check(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse_report_opts(argc, argv, &o, &check_spec);
    if (rc)
        return rc;
    if (optind >= argc || strcmp(argv[optind - 1], "--"))
        return usage_error("check", "expects -- PROGRAM [ARGS...]");
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[PATH_MAX], pattern[PATH_MAX + 16];
    if (snprintf(dir, sizeof(dir), "%s/obtrace-check-XXXXXX", tmp) >= (int)sizeof(dir) || !mkdtemp(dir)) {
        fprintf(stderr, "obtrace check: cannot create a temporary directory: %s\n", strerror(errno));
        return EXIT_UNUSABLE;
    }
    snprintf(pattern, sizeof(pattern), "%s/%%p.obt", dir);
    struct obtrace_record_options ro;
    struct obtrace_record_traces traces;
    obtrace_record_options_init(&ro);
    ro.output = pattern;
    ro.quiet = 1;
    int status = obtrace_record_run(&ro, argv + optind, &traces);
    if (!traces.n) {
        fprintf(stderr, "obtrace check: no trace was recorded (status %d)\n", status);
        rc = EXIT_UNUSABLE;
    }
    for (size_t i = 0; i < traces.n; i++) {
        int one = i ? check_other_trace(traces.paths[i], &o) : run_report(traces.paths[i], &o);
        rc = i ? worse_exit(rc, one) : one;
        if (one == EXIT_CLEAN)
            unlink(traces.paths[i]);
        else
            fprintf(stderr, "obtrace check: trace kept at %s\n", traces.paths[i]);
    }
    obtrace_record_traces_release(&traces);
    rmdir(dir); /* only when every trace was clean */
    return rc;
}
