/*
 * cli.c - `obtrace report`, `obtrace history` and `obtrace check`: option
 * parsing, loading the trace into the model, and the exit codes (cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model.h"
#include "render.h"
#include "rules.h"
#include "symbolize.h"
#include "xalloc.h"

#define MAX_DEBUG_PATHS 16

struct report_opts {
    const char *format; /* "text" | "json" */
    const char *output; /* NULL = stdout */
    const char *debug_paths[MAX_DEBUG_PATHS + 1];
    int ndebug;
    const char *sysroot;
};

static int usage_error(const char *cmd, const char *what)
{
    fprintf(stderr, "obtrace %s: %s\n", cmd, what);
    fprintf(stderr, "usage: obtrace report [--format text|json] [-o FILE] [--debug-path DIR] [--sysroot DIR] TRACE\n"
                    "       obtrace history [--debug-path DIR] [--sysroot DIR] TRACE OBJECT\n"
                    "       obtrace check [report options] -- PROGRAM [ARGS...]\n");
    return EXIT_USAGE;
}

/* Parses report options from argv (getopt state reset); returns 0 or the usage exit code. */
static int parse_report_opts(int argc, char **argv, struct report_opts *o, bool allow_format)
{
    static const struct option longopts[] = {
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        { "debug-path", required_argument, NULL, 'd' },
        { "sysroot", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->format = "text";
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+f:o:d:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!allow_format || (strcmp(optarg, "text") && strcmp(optarg, "json")))
                return usage_error(argv[0], "--format must be text or json");
            o->format = optarg;
            break;
        case 'o':
            if (!allow_format)
                return usage_error(argv[0], "-o is not an option of this command");
            o->output = optarg;
            break;
        case 'd':
            if (o->ndebug == MAX_DEBUG_PATHS)
                return usage_error(argv[0], "too many --debug-path options");
            o->debug_paths[o->ndebug++] = optarg;
            break;
        case 's':
            o->sysroot = optarg;
            break;
        case 'h':
        default:
            return usage_error(argv[0], c == 'h' ? "help" : "unknown option");
        }
    }
    return 0;
}

static struct symbolizer *make_symbolizer(const struct report_opts *o)
{
    struct sym_options so = { .debug_paths = o->debug_paths, .sysroot = o->sysroot };
    return symbolizer_new(&so);
}

/* Loads trace into m; on failure prints "obtrace: TRACE: what" and returns false. */
static bool load_trace(struct model *m, const char *trace)
{
    char err[512];
    model_init(m);
    if (model_load(m, trace, err, sizeof(err)) < 0) {
        fprintf(stderr, "obtrace: %s: %s\n", trace, err);
        model_release(m);
        return false;
    }
    return true;
}

static int run_report(const char *trace, const struct report_opts *o)
{
    struct model m;
    if (!load_trace(&m, trace))
        return EXIT_UNUSABLE;
    struct report r;
    report_init(&r, trace);
    rules_run(&m, &r);
    FILE *out = stdout;
    if (o->output && !(out = fopen(o->output, "w"))) {
        fprintf(stderr, "obtrace: %s: %s\n", o->output, strerror(errno));
        report_release(&r);
        model_release(&m);
        return EXIT_UNUSABLE;
    }
    struct symbolizer *sym = make_symbolizer(o);
    if (!strcmp(o->format, "json"))
        render_json(out, &r, &m, sym);
    else
        render_text(out, &r, &m, sym);
    int rc = report_exit_code(&r);
    if (out != stdout)
        fclose(out);
    if (r.incomplete)
        fprintf(stderr, "obtrace: %s: the trace is incomplete; the verdict covers only what was recorded\n", trace);
    symbolizer_free(sym);
    report_release(&r);
    model_release(&m);
    return rc;
}

int cli_report(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse_report_opts(argc, argv, &o, true);
    if (rc)
        return rc;
    if (argc - optind != 1)
        return usage_error("report", "expects exactly one TRACE");
    return run_report(argv[optind], &o);
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

/* +n / -n for operations that change the pointer count, 0 for the others. */
static int history_delta(const struct tr_event *ev)
{
    switch (ev->op) {
    case OBT_OP_OBJ_CREATE: return ev->count > 0 ? ev->count : 1;
    case OBT_OP_OBJ_REF:
    case OBT_OP_HANDLE_OPEN: return 1;
    case OBT_OP_OBJ_DEREF:
    case OBT_OP_HANDLE_CLOSE: return -1;
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
    printf("\nObject: %s (%s #%u)%s\n", o && o->name[0] ? o->name : "(unnamed)",
           o ? rules_type_name(o->type) : "Object", h->matched, o && model_object(m, h->matched) ? "" : " (freed)");
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
    int rc = parse_report_opts(argc, argv, &o, false);
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
        if (m.damage || !m.saw_end) {
            fprintf(stderr, "obtrace: %s: %s\n", trace, m.damage ? m.damage : "the trace has no end record");
            rc = EXIT_UNUSABLE;
        }
    }
    symbolizer_free(h.sym);
    model_release(&m);
    return rc;
}

/* ---- check ---------------------------------------------------------------------------------------- */

/* Runs `obtrace record -- PROGRAM ARGS` with the trace written to path; returns the program's status. */
static int record_into(const char *path, char **prog)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        size_t n = 0;
        while (prog[n])
            n++;
        char **args = xcalloc(n + 6, sizeof(char *));
        args[0] = (char *)"obtrace";
        args[1] = (char *)"record";
        args[2] = (char *)"-o";
        args[3] = (char *)path;
        args[4] = (char *)"--";
        memcpy(args + 5, prog, n * sizeof(char *));
        execv("/proc/self/exe", args);
        fprintf(stderr, "obtrace check: cannot run obtrace record: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}

int cli_check(int argc, char **argv)
{
    struct report_opts o;
    int rc = parse_report_opts(argc, argv, &o, true);
    if (rc)
        return rc;
    if (optind >= argc || strcmp(argv[optind - 1], "--"))
        return usage_error("check", "expects -- PROGRAM [ARGS...]");
    char path[] = "/tmp/obtrace-check-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "obtrace check: cannot create a temporary trace: %s\n", strerror(errno));
        return EXIT_UNUSABLE;
    }
    close(fd);
    unlink(path); /* the recorder creates it exclusively */
    int status = record_into(path, argv + optind);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "obtrace check: no trace was recorded (status %d)\n", status);
        return EXIT_UNUSABLE;
    }
    rc = run_report(path, &o);
    if (rc == EXIT_CLEAN)
        unlink(path);
    else
        fprintf(stderr, "obtrace check: trace kept at %s\n", path);
    return rc;
}
