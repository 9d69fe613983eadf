/*
 * intern.c - the lock-free intern table and address map (see intern.h).
 *
 * Linear probing from the key's low bits; slots are claimed with one
 * compare-and-swap and never removed, so a probe sequence never breaks.
 * The intern table probes its levels oldest first, and inserts only into
 * the newest: a probe that ends at a free slot of an older level has
 * learned that the key is not there.
 */
#include "intern.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>

static void *table_alloc(uint64_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void spin_pause(unsigned *n)
{
    if (++*n < 64)
        __builtin_ia32_pause();
    else
        sched_yield();
}

static uint64_t level_mask(const struct obt_intern *t, unsigned l)
{
    return ((uint64_t)1 << (t->log2_first + 2 * l)) - 1;
}

/* Maps level l (once: a thread that loses the race unmaps its own). 0, or -1. */
static int level_open(struct obt_intern *t, unsigned l)
{
    struct obt_intern_level *lv = &t->level[l];
    if (atomic_load_explicit(&lv->slots, memory_order_acquire))
        return 0;
    uint64_t bytes = (level_mask(t, l) + 1) * sizeof(struct obt_intern_slot);
    struct obt_intern_slot *mine = table_alloc(bytes), *none = NULL;
    if (!mine)
        return -1;
    if (!atomic_compare_exchange_strong(&lv->slots, &none, mine))
        munmap(mine, bytes);
    return 0;
}

int obt_intern_init(struct obt_intern *t, unsigned log2_first)
{
    memset(t, 0, sizeof(*t));
    t->log2_first = log2_first;
    return level_open(t, 0);
}

void obt_intern_release(struct obt_intern *t)
{
    for (unsigned l = 0; l < OBT_INTERN_LEVELS; l++) {
        struct obt_intern_slot *slots = atomic_load(&t->level[l].slots);
        if (slots)
            munmap(slots, (level_mask(t, l) + 1) * sizeof(*slots));
        atomic_store(&t->level[l].slots, NULL);
    }
}

static int slot_matches(struct obt_intern_slot *s, struct obt_key key)
{
    unsigned n = 0;
    while (atomic_load_explicit(&s->state, memory_order_acquire) == 1)
        spin_pause(&n);
    return s->lo == key.lo && s->hi == key.hi;
}

/* key's slot in one level, or NULL with *empty the free slot that ended the probe (NULL if none). */
static struct obt_intern_slot *level_find(struct obt_intern_slot *slots, uint64_t mask, struct obt_key key,
                                          struct obt_intern_slot **empty)
{
    uint64_t i = key.lo & mask;
    *empty = NULL;
    for (uint64_t probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
        struct obt_intern_slot *s = &slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) == 0) {
            *empty = s;
            return NULL;
        }
        if (slot_matches(s, key))
            return s;
    }
    return NULL;
}

/* Claims the free slot s for key: 1, or 0 when another thread claimed it first. */
static int slot_claim(struct obt_intern_level *lv, struct obt_intern_slot *s, struct obt_key key)
{
    uint32_t expect = 0;
    if (!atomic_compare_exchange_strong(&s->state, &expect, 1))
        return 0;
    atomic_fetch_add_explicit(&lv->used, 1, memory_order_relaxed);
    s->lo = key.lo;
    s->hi = key.hi;
    atomic_store_explicit(&s->state, 2, memory_order_release);
    return 1;
}

struct obt_intern_slot *obt_intern_get(struct obt_intern *t, struct obt_key key, int *inserted)
{
    *inserted = 0;
    for (unsigned l = 0; l < OBT_INTERN_LEVELS; l++) {
        struct obt_intern_level *lv = &t->level[l];
        struct obt_intern_slot *slots = atomic_load_explicit(&lv->slots, memory_order_acquire), *empty;
        uint64_t mask = level_mask(t, l);
        if (!slots)
            return NULL;
        for (;;) {
            struct obt_intern_slot *s = level_find(slots, mask, key, &empty);
            if (s)
                return s;
            int newest = l + 1 == OBT_INTERN_LEVELS || !atomic_load_explicit(&t->level[l + 1].slots, memory_order_acquire);
            if (!newest || !empty)
                break; /* absent here: on to the next level */
            if (atomic_load_explicit(&lv->used, memory_order_relaxed) >= (mask + 1) / 4 * 3) {
                if (l + 1 == OBT_INTERN_LEVELS || level_open(t, l + 1))
                    return NULL;
                break;
            }
            if (slot_claim(lv, empty, key)) {
                *inserted = 1;
                return empty;
            }
            /* another thread took that slot, perhaps for key: probe again */
        }
    }
    return NULL;
}

void obt_intern_publish(struct obt_intern_slot *s, uint32_t id)
{
    atomic_store_explicit(&s->id, id, memory_order_release);
}

uint32_t obt_intern_id(struct obt_intern_slot *s)
{
    unsigned n = 0;
    uint32_t id;
    while ((id = atomic_load_explicit(&s->id, memory_order_acquire)) == 0)
        spin_pause(&n);
    return id;
}

int obt_addrmap_init(struct obt_addrmap *m, unsigned log2_slots)
{
    uint64_t n = (uint64_t)1 << log2_slots;
    m->slots = table_alloc(n * sizeof(*m->slots));
    if (!m->slots)
        return -1;
    m->mask = n - 1;
    m->shift = 64 - log2_slots;
    m->limit = n / 4 * 3;
    atomic_store(&m->used, 0);
    return 0;
}

void obt_addrmap_release(struct obt_addrmap *m)
{
    if (m->slots)
        munmap(m->slots, (m->mask + 1) * sizeof(*m->slots));
    m->slots = NULL;
}

static struct obt_addrmap_slot *addr_slot(struct obt_addrmap *m, uint64_t addr)
{
    uint64_t i = obt_addrmap_index(m, addr);
    for (uint64_t probes = 0; probes <= m->mask; probes++, i = (i + 1) & m->mask) {
        uint64_t a = atomic_load_explicit(&m->slots[i].addr, memory_order_acquire);
        if (a == addr)
            return &m->slots[i];
        if (a == 0) {
            if (atomic_load_explicit(&m->used, memory_order_relaxed) >= m->limit)
                return NULL;
            if (atomic_compare_exchange_strong(&m->slots[i].addr, &a, addr)) {
                atomic_fetch_add_explicit(&m->used, 1, memory_order_relaxed);
                return &m->slots[i];
            }
            if (a == addr)
                return &m->slots[i];
        }
    }
    return NULL;
}

int obt_addrmap_set(struct obt_addrmap *m, uint64_t addr, uint64_t value)
{
    struct obt_addrmap_slot *s = addr_slot(m, addr);
    if (!s)
        return -1;
    atomic_store_explicit(&s->value, value, memory_order_release);
    return 0;
}

uint64_t obt_addrmap_cas(struct obt_addrmap *m, uint64_t addr, uint64_t expected, uint64_t value)
{
    struct obt_addrmap_slot *s = addr_slot(m, addr);
    if (!s)
        return 0;
    if (atomic_compare_exchange_strong(&s->value, &expected, value))
        return value;
    return expected;
}
