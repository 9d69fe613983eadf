/*
 * unwind.c - frame-pointer walk and libunwind capture (see unwind.h).
 *
 * The frame-pointer walk trusts nothing: every frame pointer is checked
 * against the thread's stack bounds, alignment and strict growth before it
 * is read, so a frame built without a frame pointer ends the walk instead
 * of faulting. The libunwind path uses unw_backtrace (local-only, with
 * libunwind's per-thread frame cache), never an unw_step loop.
 */
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <libunwind.h>
#include <pthread.h>
#include <string.h>

int obt_stack_bounds_current(struct obt_stack_bounds *b)
{
    pthread_attr_t attr;
    void *addr;
    size_t size;

    b->lo = b->hi = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return -1;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        b->lo = (uintptr_t)addr;
        b->hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&attr);
    return b->hi ? 0 : -1;
}

unsigned obt_unwind_fp(const void *frame, const struct obt_stack_bounds *b, uint64_t *out, unsigned max)
{
    uintptr_t fp = (uintptr_t)frame;
    uintptr_t lo = b->lo, hi = b->hi;
    unsigned n = 0;

    while (n < max) {
        if (fp < lo || fp > hi - 2 * sizeof(uintptr_t) || (fp & (sizeof(uintptr_t) - 1)))
            break;
        const uintptr_t *f = (const uintptr_t *)fp;
        uintptr_t ret = f[1];
        if (!ret)
            break;
        out[n++] = ret;
        uintptr_t next = f[0];
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

unsigned obt_unwind_fp_record(const void *frame, const struct obt_stack_bounds *b, uint64_t *out, uint64_t *words,
                              unsigned max, uint64_t seed, struct obt_key *key, unsigned *nvisit)
{
    uintptr_t fp = (uintptr_t)frame;
    uintptr_t lo = b->lo, span = b->hi - 2 * sizeof(uintptr_t) - b->lo;
    struct obt_hstream h;
    unsigned n = 0, visit = 0;

    obt_hstream_init(&h, seed);
    while (n < max) {
        if (fp - lo > span || (fp & (sizeof(uintptr_t) - 1)))
            break;
        const uintptr_t *f = (const uintptr_t *)fp;
        uintptr_t ret = f[1], next = f[0];
        words[2 * visit] = next;
        words[2 * visit + 1] = ret;
        visit++;
        if (!ret)
            break;
        out[n++] = ret;
        obt_hstream_add(&h, ret);
        if (next <= fp)
            break;
        fp = next;
    }
    *key = obt_hstream_key(&h, n);
    *nvisit = visit;
    return n;
}

unsigned obt_unwind_dwarf(const void *ret_addr, uint64_t *out, unsigned max)
{
    uint64_t buf[OBT_MAX_DEPTH + OBT_DWARF_SLACK];
    unsigned first;
    if (max > OBT_MAX_DEPTH)
        max = OBT_MAX_DEPTH;
    unsigned n = obt_unwind_dwarf_inline(ret_addr, buf, max, &first);
    memcpy(out, buf + first, n * sizeof(uint64_t));
    return n;
}
