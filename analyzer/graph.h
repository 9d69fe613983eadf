/*
 * graph.h - `obtrace graph`: the object graph as of one point of the trace
 * (by default its end) in Graphviz DOT, and as SVG through Graphviz's `dot`
 * when it is installed (it is not a build dependency).
 *
 * Nodes: each driver image still mapped (or whose reload failed), each live
 * driver object, device, file object on a device, and notification
 * registration, and the holders of their references: the handles and the
 * reference sites still outstanding, grouped by stack as the verdict groups
 * them. Edges read "holds" downwards: image -> driver -> device -> file ->
 * holder; a lower device -> the device attached above it; a driver or
 * target device -> the registration referencing it. What a finding names,
 * and everything between it and its image, is red.
 */
#ifndef OBTRACE_GRAPH_H
#define OBTRACE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "model.h"
#include "report.h"
#include "symbolize.h"

/* Writes the graph of m as one DOT digraph; the findings of r are highlighted. */
void graph_write_dot(FILE *out, const struct model *m, const struct report *r, struct symbolizer *sym);

/*
 * Renders DOT text (len bytes) to SVG on out by running `dot -Tsvg` from
 * PATH. Returns 0, or -1 with a one-line reason in err (dot is not
 * installed, or it failed).
 */
int graph_dot_to_svg(const char *dot, size_t len, FILE *out, char *err, size_t errlen);

#endif /* OBTRACE_GRAPH_H */
