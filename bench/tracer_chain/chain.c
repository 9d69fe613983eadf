/*
 * chain.c - one half of the tracer benchmark's deep call chain, built twice
 * (CHAIN_SIDE=a and b) into two shared objects that call each other, so
 * every stack crosses shared objects ~25 times. Each level has two call
 * sites; bit k of `path` picks one at level k, so 2^k paths give 2^k
 * distinct stacks.
 */
#include <stdint.h>

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define STEP CAT(chain_step_, CHAIN_SIDE)
#define SET_NEXT CAT(chain_set_next_, CHAIN_SIDE)

typedef void chain_leaf_fn(void *ctx);
typedef void chain_step_fn(int depth, uint32_t path, chain_leaf_fn *leaf, void *ctx);

__attribute__((visibility("default"))) void STEP(int depth, uint32_t path, chain_leaf_fn *leaf, void *ctx);
__attribute__((visibility("default"))) void SET_NEXT(chain_step_fn *next);

static chain_step_fn *next_step;

void SET_NEXT(chain_step_fn *next)
{
    next_step = next;
}

__attribute__((noinline)) void STEP(int depth, uint32_t path, chain_leaf_fn *leaf, void *ctx)
{
    volatile int site; /* a store each side of the call, unlike the other site's, in this frame */
    if (depth <= 0) {
        leaf(ctx);
    } else if (path & 1) {
        site = 1; /* so the compiler can merge neither the two calls nor their tails */
        next_step(depth - 1, path >> 1, leaf, ctx);
        site = 1;
    } else {
        site = 2;
        next_step(depth - 1, path >> 1, leaf, ctx);
        site = 2;
    }
    (void)site;
    __asm__ volatile("" ::: "memory"); /* keep the frame: no tail calls */
}
