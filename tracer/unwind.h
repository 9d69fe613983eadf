/*
 * unwind.h - stack capture for libobtrace: a bounds-checked frame-pointer
 * walk and libunwind's unw_backtrace, both returning raw return addresses,
 * innermost first, starting at the caller of an interposer. The walk can
 * hash the frames as it goes and record what it read, so that a repeat of
 * it can be recognized cheaply (obt_unwind_fp_record, obt_unwind_fp_same).
 * The libunwind capture is inline (obt_unwind_dwarf_inline) so that its
 * caller is the innermost frame libunwind steps through, not two more of
 * the tracer's; the interposers call unw_backtrace themselves
 * (obt_call_capture in tracer.h), so only theirs lies above the caller.
 */
#ifndef OBTRACE_UNWIND_H
#define OBTRACE_UNWIND_H

#include <stdint.h>
#include <string.h>

#include "cfi.h"
#include "hash.h"

#define OBT_MAX_DEPTH 256u
#define OBT_DWARF_SLACK 32u /* frames unw_backtrace may find above the interposer's caller */
/*
 * Frames unw_backtrace reports above the interposer's return address when
 * the interposer calls it itself (obt_call_capture): unw_backtrace's own
 * and the interposer's.
 */
#define OBT_DWARF_LEAD 2u

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
 * obt_unwind_fp that also hashes the frames it finds (an obt_hstream seeded
 * with seed) into *key and records the two words it read at every frame it
 * visited: words[2i] the saved frame pointer, words[2i + 1] the return
 * address of visited frame i (both read even where the walk stops at the
 * first). Returns the frame count n, frames in out[0..n) as obt_unwind_fp
 * gives them; *nvisit (n or n + 1) is how many frames were read. A later
 * walk from the same frame with the same bounds and max that finds the
 * same words there gives the same result (see obt_unwind_fp_same).
 */
unsigned obt_unwind_fp_record(const void *frame, const struct obt_stack_bounds *b, uint64_t *out, uint64_t *words,
                              unsigned max, uint64_t seed, struct obt_key *key, unsigned *nvisit);

typedef uint64_t obt_v2u64 __attribute__((vector_size(16)));

/*
 * TRUE when the nvisit frames a walk recorded with obt_unwind_fp_record
 * from frame still hold the words it read, so walking again would give the
 * same frames. Each frame is one 16-byte compare, and the reads do not
 * depend on each other (the addresses come from the record), so this costs
 * far less than the walk's chain of dependent loads.
 */
static inline obt_v2u64 obt_fp_frame_diff(const char *f, const uint64_t *word_pair)
{
    obt_v2u64 now, then;
    memcpy(&now, f, sizeof(now));
    memcpy(&then, word_pair, sizeof(then));
    return now ^ then;
}

static inline int obt_unwind_fp_same(const void *frame, const uint64_t *words, unsigned nvisit)
{
    const char *f = frame;
    obt_v2u64 diff = { 0, 0 };
    unsigned i = 0;
    for (; i + 2 <= nvisit; i += 2) { /* two frames a turn: the loop costs less than the compares */
        diff |= obt_fp_frame_diff(f, words + 2 * i);
        diff |= obt_fp_frame_diff((const char *)(uintptr_t)words[2 * i], words + 2 * i + 2);
        f = (const char *)(uintptr_t)words[2 * i + 2];
    }
    if (i < nvisit)
        diff |= obt_fp_frame_diff(f, words + 2 * i);
    return (diff[0] | diff[1]) == 0;
}

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

/*
 * The stack words a libunwind trace from an interposer read: the slot of
 * every frame's return address and saved %rbp, each with the value it
 * held. When every slot still holds its value, the interposer frame is
 * the same and the code is the same, the trace would read the same words
 * and find the same frames again (obt_unwind_dwarf_learn says when that
 * holds), so they need not be unwound again.
 */
#define OBT_DWARF_SLOTS 80u
struct obt_dwarf_slots {
    uint64_t frame; /* the interposer frame they were read from */
    unsigned n;
    uint64_t addr[OBT_DWARF_SLOTS], val[OBT_DWARF_SLOTS];
};

/*
 * Learns the slots of frames[0 .. n), which unw_backtrace found from the
 * interposer whose frame address is frame (frames[0] its return address);
 * ended says the trace ended by itself after frames[n - 1], not cut at n.
 * Steps with libunwind from here to frame and on through the n frames,
 * taking every frame's return-address and %rbp locations, and accepts
 * only a stack the slots alone decide: every location a word of this
 * thread's stack (b) at or above frame, every function plain by its call
 * frame information (cfi.h, answers kept in cc), the same frames found,
 * and an end, if ended, that the last function's information marks.
 * Returns 0 with s filled, -1 otherwise (s is then not usable).
 */
int obt_unwind_dwarf_learn(const void *frame, const struct obt_stack_bounds *b, const uint64_t *frames, unsigned n,
                           int ended, struct obt_cfi_cache *cc, struct obt_dwarf_slots *s);

/* TRUE when every slot of s holds the value learned: one independent load and compare each. */
static inline int obt_dwarf_slots_hold(const struct obt_dwarf_slots *s)
{
    uint64_t diff = 0;
    for (unsigned i = 0; i < s->n; i++)
        diff |= *(const uint64_t *)(uintptr_t)s->addr[i] ^ s->val[i];
    return diff == 0;
}

#endif /* OBTRACE_UNWIND_H */
