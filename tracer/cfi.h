/*
 * cfi.h - what a loaded function's call frame information (.eh_frame,
 * found through the object's .eh_frame_hdr) lets libunwind's fast trace
 * read to step out of it. A function is plain when every rule it states
 * keeps to what the trace handles as a standard x86-64 frame: the CFA is
 * %rsp or %rbp plus an offset, the return address sits at CFA - 8, %rbp is
 * kept or saved at a CFA offset; no expression, no register copy, no
 * signal frame. Stepping out of a plain frame then reads only the return
 * address and saved-%rbp slots, nothing else: the property the dwarf
 * stack memo (tracer.c) rests on.
 */
#ifndef OBTRACE_CFI_H
#define OBTRACE_CFI_H

#include <stdint.h>

#define OBT_CFI_PLAIN 0x1u /* every rule of the function is a standard frame's */
#define OBT_CFI_ENDS 0x2u  /* it marks the return address undefined: a stack's last frame */

#define OBT_CFI_CACHE_SLOTS 64u

/* A thread's answers for recent addresses: pc 0 is an empty slot. */
struct obt_cfi_cache {
    uint64_t pc[OBT_CFI_CACHE_SLOTS];
    uint8_t flags[OBT_CFI_CACHE_SLOTS];
};

/*
 * The OBT_CFI_* flags of the function around pc in a loaded object; 0 when
 * nothing covers pc or its information uses anything but plain rules
 * (also for encodings this reader does not know: it never guesses).
 */
unsigned obt_cfi_classify(uintptr_t pc);

/* obt_cfi_classify, remembered in c (direct-mapped by pc). */
unsigned obt_cfi_classify_cached(struct obt_cfi_cache *c, uintptr_t pc);

#endif /* OBTRACE_CFI_H */
