/*
 * intern.c - the lock-free intern table and address map (see intern.h).
 *
 * Linear probing from the key's low bits; slots are claimed with one
 * compare-and-swap and never removed, so a probe sequence never breaks.
 */
#include "intern.h"

#include <sched.h>
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

int obt_intern_init(struct obt_intern *t, unsigned log2_slots)
{
    uint64_t n = (uint64_t)1 << log2_slots;
    t->slots = table_alloc(n * sizeof(*t->slots));
    if (!t->slots)
        return -1;
    t->mask = n - 1;
    t->limit = n / 4 * 3;
    atomic_store(&t->used, 0);
    return 0;
}

void obt_intern_release(struct obt_intern *t)
{
    if (t->slots)
        munmap(t->slots, (t->mask + 1) * sizeof(*t->slots));
    t->slots = NULL;
}

static int slot_matches(struct obt_intern_slot *s, struct obt_key key)
{
    unsigned n = 0;
    while (atomic_load_explicit(&s->state, memory_order_acquire) == 1)
        spin_pause(&n);
    return s->lo == key.lo && s->hi == key.hi;
}

struct obt_intern_slot *obt_intern_get(struct obt_intern *t, struct obt_key key, int *inserted)
{
    uint64_t i = key.lo & t->mask;

    *inserted = 0;
    for (uint64_t probes = 0; probes <= t->mask; probes++, i = (i + 1) & t->mask) {
        struct obt_intern_slot *s = &t->slots[i];
        uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == 0) {
            if (atomic_load_explicit(&t->used, memory_order_relaxed) >= t->limit)
                return NULL;
            uint32_t expect = 0;
            if (atomic_compare_exchange_strong(&s->state, &expect, 1)) {
                atomic_fetch_add_explicit(&t->used, 1, memory_order_relaxed);
                s->lo = key.lo;
                s->hi = key.hi;
                atomic_store_explicit(&s->state, 2, memory_order_release);
                *inserted = 1;
                return s;
            }
        }
        if (slot_matches(s, key))
            return s;
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
