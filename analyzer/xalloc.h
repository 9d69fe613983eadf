/*
 * xalloc.h - allocation helpers for the analyzer: they never return NULL
 * (running out of memory ends the program with one clear line and exit 2,
 * the "trace unusable" code, since the trace could not be analyzed).
 */
#ifndef OBTRACE_XALLOC_H
#define OBTRACE_XALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that print "obtrace: out of memory" and exit(2) on failure. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);

/* Grows *array (of *cap elements of elem bytes) so it holds at least need elements. */
void xgrow(void *array, size_t *cap, size_t need, size_t elem);

#endif /* OBTRACE_XALLOC_H */
