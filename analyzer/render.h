/*
 * render.h - prints a report: the text verdict of DESIGN §2.3 (stable,
 * symbolized, paths relative to the source tree), versioned JSON (keys in
 * a stable order), SARIF 2.1.0 for code-scanning annotations, and JUnit
 * XML; doc/obtrace.md describes each. All renderers share one signature,
 * so the command picks one from a table.
 */
#ifndef OBTRACE_RENDER_H
#define OBTRACE_RENDER_H

#include <stdio.h>

#include "model.h"
#include "report.h"
#include "symbolize.h"

#define OBTRACE_VERSION "0.1.0"
#define OBTRACE_JSON_VERSION 2

/* The signature every renderer has. */
typedef void render_fn(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);

/* Writes the text verdict of r to out; stacks are symbolized with sym against m. */
void render_text(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);
/* Writes r as one JSON document to out. */
void render_json(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);
/*
 * Writes r as a SARIF 2.1.0 log (one run; rules = the finding ids; one
 * result per finding located at its decisive source line).
 */
void render_sarif(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);
/* Writes r as JUnit XML: one testsuite, one testcase per driver image of m plus one for the trace. */
void render_junit(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);

/* The text of one verdict (its "image" line, reason and findings), as render_text prints it. */
void render_text_verdict(FILE *out, const struct verdict *v, const struct model *m, struct symbolizer *sym);
/* The text of one finding, each line prefixed with indent (at most 8 characters). */
void render_text_finding(FILE *out, const struct finding *f, const struct model *m, struct symbolizer *sym,
                         const char *indent);

/*
 * Formats a stack the way the verdict shows it: "file:line  Func ← Caller",
 * starting at the decisive frame (the first outside the simulated kernel and
 * the system libraries: a driver's or the application's) and staying in its
 * module; "← …" when more of that module is cut. Into buf[len]; returns buf.
 */
char *render_stack_line(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq, char *buf,
                        size_t len);
/*
 * Who made the call recorded with a stack: "driver x.so" (NULL when x.so is
 * home, the image the finding is about), "the application" (the host
 * program), or for a stack of the simulated kernel alone "the PnP manager"
 * or "the kernel". Into buf[len] when it needs one; NULL when unknown.
 */
const char *render_stack_actor(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq,
                               const char *home, char *buf, size_t len);
/*
 * A site of finding f as the verdict shows it: its location into line[len]
 * (a stack line, or a routine's "file:line  Function"); returns who acted
 * there (render_stack_actor, or the kernel routine called for a callee
 * site), NULL when nobody needs naming.
 */
const char *render_site(struct symbolizer *sym, const struct model *m, const struct finding *f, const struct site *s,
                        char *line, size_t len, char *who, size_t wlen);
/*
 * Symbolizes a stack at seq into out[max] (with inlined frames) and returns
 * the count; *first is the frame the verdict starts at: the first outside
 * the framework, or 0 when every frame is the framework's. Frames from
 * *first on that are not the framework's are the "decisive" ones.
 */
int render_stack_frames(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq,
                        struct sym_frame *out, int max, int *first);

#endif /* OBTRACE_RENDER_H */
