/*
 * xalloc.c - allocation helpers that never return NULL (see xalloc.h).
 */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *must(void *p)
{
    if (!p) {
        fputs("obtrace: out of memory\n", stderr);
        exit(2);
    }
    return p;
}

void *xmalloc(size_t size)
{
    return must(malloc(size ? size : 1));
}

void *xcalloc(size_t n, size_t size)
{
    return must(calloc(n ? n : 1, size ? size : 1));
}

void *xrealloc(void *p, size_t size)
{
    return must(realloc(p, size ? size : 1));
}

char *xstrdup(const char *s)
{
    return must(strdup(s ? s : ""));
}

void xgrow(void *array, size_t *cap, size_t need, size_t elem)
{
    void **a = array;
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    *a = xrealloc(*a, n * elem);
    *cap = n;
}
