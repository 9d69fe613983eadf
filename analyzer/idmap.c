/*
 * idmap.c - id -> pointer hash map (see idmap.h).
 */
#include "idmap.h"

#include <stdlib.h>

#include "xalloc.h"

static size_t slot_of(uint32_t key, size_t cap)
{
    return (size_t)((key * 2654435761u) ^ (key >> 16)) & (cap - 1);
}

void idmap_init(struct idmap *m)
{
    *m = (struct idmap){ 0 };
}

void idmap_release(struct idmap *m)
{
    free(m->keys);
    free(m->values);
    idmap_init(m);
}

void *idmap_get(const struct idmap *m, uint32_t key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key)
            return m->values[i];
        if (!m->keys[i])
            return NULL;
    }
}

static void grow(struct idmap *m)
{
    struct idmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->keys = xcalloc(m->cap, sizeof(*m->keys));
    m->values = xcalloc(m->cap, sizeof(*m->values));
    m->len = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            idmap_put(m, old.keys[i], old.values[i]);
    free(old.keys);
    free(old.values);
}

void idmap_put(struct idmap *m, uint32_t key, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3)
        grow(m);
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->len++;
    m->keys[i] = key;
    m->values[i] = value;
}

void *idmap_remove(struct idmap *m, uint32_t key)
{
    if (!m->cap)
        return NULL;
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] != key) {
        if (!m->keys[i])
            return NULL;
        i = (i + 1) & (m->cap - 1);
    }
    void *value = m->values[i];
    m->len--;
    /* backward-shift the cluster that follows */
    for (size_t j = (i + 1) & (m->cap - 1); m->keys[j]; j = (j + 1) & (m->cap - 1)) {
        size_t home = slot_of(m->keys[j], m->cap);
        int movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->values[i] = m->values[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->values[i] = NULL;
    return value;
}

void idmap_each(const struct idmap *m, void (*fn)(void *value, void *ctx), void *ctx)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i])
            fn(m->values[i], ctx);
}
