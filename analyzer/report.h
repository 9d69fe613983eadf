/*
 * report.h - the verdict the rules build from the model and the renderers
 * print: per driver image that stayed mapped (or whose reload failed), the
 * chain of causes as findings, root causes first; findings not tied to
 * one image (double releases, calls into unloaded images, an incomplete
 * trace) separately. Stacks stay raw (id + seq) here; renderers
 * symbolize them.
 */
#ifndef OBTRACE_REPORT_H
#define OBTRACE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "findings.h"

/* A decisive stack: "3/5 references taken at ..." or "created at ...". */
struct site {
    const char *verb;   /* static text: "created", "opened", "references taken at", ... */
    uint32_t stack;
    uint64_t seq;       /* when (the first time, for grouped sites) */
    uint32_t tid;
    uint32_t count;     /* occurrences still unbalanced at this stack (0 = a single event) */
    uint32_t of;        /* all occurrences at this stack */
    uint32_t tag;       /* explicit tag, 0 = none */
    uint64_t lock_tag;  /* remove-lock tag */
    uint64_t code;      /* instead of a stack: a routine's address, shown as its source line */
    bool callee;        /* name the kernel routine the decisive frame called ("by StreamClassRegisterAdapter") */
};

struct finding {
    enum finding_id id;
    bool consequence;     /* follows from another finding */
    char *subject;        /* one line */
    char **notes;
    size_t nnotes;
    struct site *sites;
    size_t nsites;
    const char *attribution; /* "exact", "heuristic" or NULL */
    uint32_t object;      /* 0 = none */
    char *object_name;
    char *object_type;
    char *fix;
    char *suppressed;     /* why it is not counted (suppression reason); NULL = counted (gate.h) */
    uint32_t image;       /* module instance the finding is about (its verdict's image); 0 = none */
};

struct verdict {
    char *image;          /* base name */
    char *path;
    uint32_t instance;
    char *driver;         /* \Driver\X or "" */
    char *state;          /* "not-unloaded", "reload-failed" */
    char *headline;       /* after "image X ": "NOT UNLOADED — ..." */
    char *reason;         /* the line under it, or NULL */
    struct finding *findings;
    size_t nfindings;
};

struct report {
    char *trace;
    struct verdict *verdicts;
    size_t nverdicts;
    struct finding *global;
    size_t nglobal;
    bool incomplete;
    unsigned images_seen, images_unloaded;
    uint64_t events;
    /* CI gating (gate.h): how many findings were suppressed / matched the baseline and were dropped */
    size_t nsuppressed, nbaselined;
    bool baseline_applied;
};

/* Initializes an empty report for trace path. */
void report_init(struct report *r, const char *trace);
/* Frees everything the report holds. */
void report_release(struct report *r);

/* Appends a new verdict / finding and returns it (zeroed, id set). */
struct verdict *report_add_verdict(struct report *r);
struct finding *verdict_add_finding(struct verdict *v, enum finding_id id);
struct finding *report_add_global(struct report *r, enum finding_id id);

/* printf-style setters for the strings of a finding. */
void finding_subject(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void finding_note(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces the fix line. */
void finding_set_fix(struct finding *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a site and returns it. */
struct site *finding_add_site(struct finding *f, const char *verb, uint32_t stack, uint64_t seq, uint32_t tid);
/* Appends a site that shows the routine at address code (as mapped at seq), not a stack. */
struct site *finding_add_code_site(struct finding *f, const char *verb, uint64_t code, uint64_t seq);
/* Names the object a finding is about. */
void finding_object(struct finding *f, uint32_t id, const char *name, const char *type);

/* Sorts each verdict's findings: root causes by rank, then consequences. */
void report_sort(struct report *r);
/* Number of findings in the whole report (suppressed ones included). */
size_t report_count(const struct report *r);
/* Number of findings that count for the exit code (not suppressed). */
size_t report_counted(const struct report *r);
/* True when a verdict stands for a failure: a counted finding, or no finding at all to explain it. */
bool verdict_counts(const struct verdict *v);
/*
 * The exit code the report stands for: 2 incomplete (whatever was suppressed),
 * 1 a counted finding or an unexplained verdict, 0 nothing to report.
 */
int report_exit_code(const struct report *r);
/*
 * Drops (frees) every finding for which drop(v, f, ctx) is true; v is NULL
 * for findings not tied to an image. A verdict left without findings by
 * this goes too. Returns the number of findings dropped.
 */
size_t report_drop(struct report *r, bool (*drop)(const struct verdict *v, const struct finding *f, void *ctx),
                   void *ctx);

/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* OBTRACE_REPORT_H */
