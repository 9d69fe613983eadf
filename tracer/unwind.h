/*
 * unwind.h - stack capture for libobtrace: a bounds-checked frame-pointer
 * walk and libunwind's unw_backtrace, both returning raw return addresses,
 * innermost first, starting at the caller of an interposer.
 */
#ifndef OBTRACE_UNWIND_H
#define OBTRACE_UNWIND_H

#include <stdint.h>

#define OBT_MAX_DEPTH 256u

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
 * unw_backtrace from here, dropping every frame up to and excluding the
 * first one equal to ret_addr (the interposer's return address), so the
 * result starts where obt_unwind_fp's does. Returns the count; 0 when
 * ret_addr is not on the stack.
 */
unsigned obt_unwind_dwarf(const void *ret_addr, uint64_t *out, unsigned max);

#endif /* OBTRACE_UNWIND_H */
