/*
 * render.h - prints a report: the text verdict of DESIGN §2.3 (stable,
 * symbolized, paths relative to the source tree) or versioned JSON
 * (keys in a stable order; doc/obtrace.md describes the schema).
 */
#ifndef OBTRACE_RENDER_H
#define OBTRACE_RENDER_H

#include <stdio.h>

#include "model.h"
#include "report.h"
#include "symbolize.h"

#define OBTRACE_JSON_VERSION 1

/* Writes the text verdict of r to out; stacks are symbolized with sym against m. */
void render_text(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);
/* Writes r as one JSON document to out. */
void render_json(FILE *out, const struct report *r, const struct model *m, struct symbolizer *sym);

/*
 * Formats a stack the way the verdict shows it: "file:line  Func ← Caller ← …",
 * starting at the first frame outside the framework. Into buf[len]; returns buf.
 */
char *render_stack_line(struct symbolizer *sym, const struct model *m, uint32_t stack, uint64_t seq, char *buf,
                        size_t len);

#endif /* OBTRACE_RENDER_H */
