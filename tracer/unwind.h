/*
 * unwind.h - stack capture for libobtrace: a bounds-checked frame-pointer
 * walk and libunwind's unw_backtrace, both returning raw return addresses,
 * innermost first, starting at the caller of an interposer. The walk can
 * hash the frames as it goes (obt_unwind_fp_key); the libunwind capture is
 * inline (obt_unwind_dwarf_inline) so that its caller is the innermost frame
 * libunwind has to step through, not two more of the tracer's.
 */
#ifndef OBTRACE_UNWIND_H
#define OBTRACE_UNWIND_H

#include <stdint.h>

#include "hash.h"

#define OBT_MAX_DEPTH 256u
#define OBT_DWARF_SLACK 32u /* frames unw_backtrace may find above the interposer's caller */

/* libunwind's (declared here so obt_unwind_dwarf_inline needs no libunwind.h). */
int unw_backtrace(void **buffer, int size);

struct obt_stack_bounds {
    uintptr_t lo, hi; /* the thread's stack: [lo, hi) */
};

/* Fills b with the calling thread's stack range. 0, or -1 (b is then empty). */
int obt_stack_bounds_current(struct obt_stack_bounds *b);

/*
 * Walks the frame-pointer chain from frame (the frame address of an
 * interposer): out[0] is that interposer's return address. Stops at max
 * frames, at a zero return address, or at the first frame pointer that is
 * outside b, misaligned or not above the previous one. Returns the count.
 */
unsigned obt_unwind_fp(const void *frame, const struct obt_stack_bounds *b, uint64_t *out, unsigned max);

/*
 * obt_unwind_fp that also hashes the frames it stores (an obt_hstream
 * seeded with seed) into *key. Same frames, same count.
 */
unsigned obt_unwind_fp_key(const void *frame, const struct obt_stack_bounds *b, uint64_t *out, unsigned max,
                           uint64_t seed, struct obt_key *key);

/*
 * unw_backtrace from here, dropping every frame up to and excluding the
 * first one equal to ret_addr (the interposer's return address), so the
 * result starts where obt_unwind_fp's does. Returns the count; 0 when
 * ret_addr is not on the stack.
 */
unsigned obt_unwind_dwarf(const void *ret_addr, uint64_t *out, unsigned max);

/*
 * What obt_unwind_dwarf does, unw_backtrace writing straight into buf
 * (room for max + OBT_DWARF_SLACK frames): the frames are buf[*first ..
 * *first + result). Inline so that no tracer frame but its caller's lies
 * between unw_backtrace and the interposer.
 */
static inline __attribute__((always_inline)) unsigned obt_unwind_dwarf_inline(const void *ret_addr, uint64_t *buf,
                                                                              unsigned max, unsigned *first)
{
    int got = unw_backtrace((void **)buf, (int)(max + OBT_DWARF_SLACK));
    int i = 0;
    while (i < got && buf[i] != (uint64_t)(uintptr_t)ret_addr)
        i++;
    *first = (unsigned)i;
    return (unsigned)(got - i) > max ? max : (unsigned)(got - i);
}

#endif /* OBTRACE_UNWIND_H */
