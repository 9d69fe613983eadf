/*
 * intern.h - lock-free tables of libobtrace: interning by 128-bit key, and
 * an address map.
 *
 * struct obt_intern maps a 128-bit key (a stack's or a string's hash) to a
 * small id that is handed out once. The first thread to insert a key owns
 * its slot until it publishes the id; it writes the defining record into
 * its chunk first, so no event can name an id whose record is not yet in
 * the file. Others that meet the key spin briefly for the id. Each slot also
 * carries flags (the auto unwinder's verdict on the stack).
 *
 * struct obt_addrmap maps a nonzero address to a 64-bit value that can be
 * overwritten atomically (value 0 = absent): object identities, handles.
 *
 * Both are fixed-capacity open-addressing tables in anonymous memory,
 * touched only where used; neither allocates after init or takes a lock.
 */
#ifndef OBTRACE_INTERN_H
#define OBTRACE_INTERN_H

#include <stdatomic.h>
#include <stdint.h>

#include "hash.h"

struct obt_intern_slot {
    _Atomic uint32_t state; /* 0 empty, 1 key being written, 2 key readable */
    _Atomic uint32_t id;    /* 0 until published */
    uint64_t lo, hi;
    _Atomic uint32_t flags;
    uint32_t reserved;
};

/*
 * The table grows in levels, each four times the size of the one before,
 * opened when the one before is three quarters full; a key lives in the
 * level it was inserted in. Small programs stay in the first level, whose
 * slots stay in the caches; later levels cost a probe of each one before.
 */
#define OBT_INTERN_LEVELS 4u
struct obt_intern_level {
    struct obt_intern_slot *_Atomic slots; /* NULL until opened */
    _Atomic uint64_t used;
};
struct obt_intern {
    unsigned log2_first;
    struct obt_intern_level level[OBT_INTERN_LEVELS];
};

/*
 * Opens the first level, 2^log2_first slots; level i will have
 * 2^(log2_first + 2i). 0 or -1.
 */
int obt_intern_init(struct obt_intern *t, unsigned log2_first);
/* Frees the table's memory. */
void obt_intern_release(struct obt_intern *t);
/*
 * Finds key's slot, inserting it when absent: *inserted is 1 when the caller
 * now owns the slot and must call obt_intern_publish. NULL when every level
 * is full (or a new one cannot be mapped). A key inserted by two threads at
 * the moment a level fills may get a slot in each of two levels, so two ids:
 * the only way one key gets two.
 */
struct obt_intern_slot *obt_intern_get(struct obt_intern *t, struct obt_key key, int *inserted);
/* Makes id visible for slot s (after the defining record is written). */
void obt_intern_publish(struct obt_intern_slot *s, uint32_t id);
/* The published id of s, waiting for its owner if needed. */
uint32_t obt_intern_id(struct obt_intern_slot *s);

struct obt_addrmap_slot {
    _Atomic uint64_t addr;
    _Atomic uint64_t value;
};

struct obt_addrmap {
    struct obt_addrmap_slot *slots;
    uint64_t mask;
    unsigned shift;
    uint64_t limit;
    _Atomic uint64_t used;
};

int obt_addrmap_init(struct obt_addrmap *m, unsigned log2_slots);
void obt_addrmap_release(struct obt_addrmap *m);
/* The slot addr hashes to: where its probe starts. */
static inline uint64_t obt_addrmap_index(const struct obt_addrmap *m, uint64_t addr)
{
    return (addr * 0x9e3779b97f4a7c15ull) >> m->shift;
}

/* The value stored for addr, 0 if none (inline: every event asks it). */
static inline uint64_t obt_addrmap_get(const struct obt_addrmap *m, uint64_t addr)
{
    uint64_t i = obt_addrmap_index(m, addr);
    for (uint64_t probes = 0; probes <= m->mask; probes++, i = (i + 1) & m->mask) {
        uint64_t a = atomic_load_explicit(&m->slots[i].addr, memory_order_acquire);
        if (a == addr)
            return atomic_load_explicit(&m->slots[i].value, memory_order_acquire);
        if (a == 0)
            return 0;
    }
    return 0;
}
/* Stores value for addr (inserting addr). -1 when the map is full. */
int obt_addrmap_set(struct obt_addrmap *m, uint64_t addr, uint64_t value);
/* Stores value for addr only if the current value is expected; returns the value now stored. */
uint64_t obt_addrmap_cas(struct obt_addrmap *m, uint64_t addr, uint64_t expected, uint64_t value);

#endif /* OBTRACE_INTERN_H */
