/*
 * idmap.h - an open-addressing hash map from non-zero 32-bit ids to
 * pointers (objects, stacks, strings). Linear probing, backward-shift
 * deletion, so memory follows the live entries.
 */
#ifndef OBTRACE_IDMAP_H
#define OBTRACE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
    uint32_t *keys; /* 0 = empty */
    void **values;
    size_t cap;     /* a power of two */
    size_t len;
};

/* Initializes an empty map (no allocation until the first insert). */
void idmap_init(struct idmap *m);
/* Frees the map's tables (not the values) and leaves it empty. */
void idmap_release(struct idmap *m);
/* The value stored under key (non-zero), or NULL. */
void *idmap_get(const struct idmap *m, uint32_t key);
/* Stores value under key (non-zero), replacing any previous value. */
void idmap_put(struct idmap *m, uint32_t key, void *value);
/* Removes key; returns its value, or NULL when it was absent. */
void *idmap_remove(struct idmap *m, uint32_t key);
/* Calls fn(value, ctx) for every entry, in unspecified order; fn must not change the map. */
void idmap_each(const struct idmap *m, void (*fn)(void *value, void *ctx), void *ctx);

#endif /* OBTRACE_IDMAP_H */
