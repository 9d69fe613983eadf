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
#include <stdint.h>
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

/*
 * Adds the location libunwind holds for reg in cur's frame to s, unless it
 * is the one added last for that register kind. -1 when it is no word of
 * the stack range [lo, hi) or s is full.
 */
static int slot_add(struct obt_dwarf_slots *s, unw_cursor_t *cur, int reg, uintptr_t lo, uintptr_t hi,
                    uint64_t *last)
{
    unw_save_loc_t loc;
    if (unw_get_save_loc(cur, reg, &loc) < 0 || loc.type != UNW_SLT_MEMORY)
        return -1;
    uintptr_t a = (uintptr_t)loc.u.addr;
    if (a < lo || a > hi - sizeof(uint64_t) || (a & (sizeof(uint64_t) - 1)))
        return -1;
    if (a == *last)
        return 0;
    if (s->n == OBT_DWARF_SLOTS)
        return -1;
    *last = a;
    s->addr[s->n] = a;
    s->val[s->n] = *(const uint64_t *)a;
    s->n++;
    return 0;
}

/* Steps cur out to the frame returning to ret with its stack pointer at sp: the interposer's caller. 0, or -1. */
static int step_to_caller(unw_cursor_t *cur, uint64_t ret, uintptr_t sp)
{
    for (unsigned i = 0; i < OBT_DWARF_SLACK; i++) {
        unw_word_t ip, at;
        if (unw_step(cur) <= 0 || unw_get_reg(cur, UNW_REG_IP, &ip) < 0 || unw_get_reg(cur, UNW_REG_SP, &at) < 0)
            return -1;
        if (ip == ret && at == sp)
            return 0;
    }
    return -1;
}

__attribute__((noinline)) int obt_unwind_dwarf_learn(const void *frame, const struct obt_stack_bounds *b,
                                                      const uint64_t *frames, unsigned n, int ended,
                                                      struct obt_cfi_cache *cc, struct obt_dwarf_slots *s)
{
    uintptr_t lo = (uintptr_t)frame, hi = b->hi;
    unw_context_t uc;
    unw_cursor_t cur;
    uint64_t last_ra = 0, last_rbp = 0;

    s->frame = lo;
    s->n = 0;
    if (!n || lo < b->lo || lo >= hi || unw_getcontext(&uc) < 0 || unw_init_local(&cur, &uc) < 0 ||
        step_to_caller(&cur, frames[0], lo + 2 * sizeof(uintptr_t)))
        return -1;
    for (unsigned k = 0;; k++) {
        if (unw_is_signal_frame(&cur) > 0 || slot_add(s, &cur, UNW_X86_64_RIP, lo, hi, &last_ra) ||
            slot_add(s, &cur, UNW_X86_64_RBP, lo, hi, &last_rbp))
            return -1;
        if (k + 1 == n && !ended)
            return 0;
        unsigned cfi = obt_cfi_classify_cached(cc, (uintptr_t)frames[k] - 1);
        if (!(cfi & OBT_CFI_PLAIN))
            return -1;
        int stepped = unw_step(&cur);
        if (k + 1 == n)
            return stepped == 0 && (cfi & OBT_CFI_ENDS) ? 0 : -1;
        unw_word_t ip;
        if (stepped <= 0 || unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || ip != frames[k + 1])
            return -1;
    }
}
