/*
 * rtl_ptrmap.c - pointer maps and sets that answer "is this pointer one of
 * mine?" without ever reading the memory it points to, which is what lets
 * the simulation diagnose a double free or a stale pointer instead of
 * crashing on it.
 *
 * RTL_PTR_MAP: a small chained hash map from pointer keys to pointer values
 * (the I/O manager's live IRPs, the pool's live blocks). Callers provide the
 * locking.
 *
 * RTL_PTR_SET and read sections: the object manager's live-object set, whose
 * lookups take no lock so that references on different objects do not
 * serialize. Lookups run inside a read section; a writer (under its own
 * lock) frees nothing a reader might still hold (an old table, an object's
 * header) before RtlpWaitForReaders has seen every section open at the time
 * close. Each thread's section record is its own cache line; entering is one
 * locked increment of it, leaving one store. The reader's increment and
 * lookups and the writer's unpublishing store and check of the sequences are
 * sequentially consistent atomics: either the writer sees the section open
 * and waits, or the section's lookup misses what the writer removed.
 */
#include <sched.h>
#include <string.h>

#include "ntsim_internal.h"

#define RTLP_INITIAL_BUCKETS 256

static size_t RtlpHashPointer(const void *Key, size_t BucketCount)
{
    uint64_t x = (uint64_t)(uintptr_t)Key;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)(x & (BucketCount - 1));
}

static BOOLEAN RtlpPtrMapGrow(RTL_PTR_MAP *Map)
{
    size_t newCount = Map->BucketCount ? Map->BucketCount * 2 : RTLP_INITIAL_BUCKETS;
    RTL_PTR_MAP_ENTRY **buckets = calloc(newCount, sizeof(*buckets));
    if (!buckets)
        return FALSE;
    for (size_t i = 0; i < Map->BucketCount; i++) {
        RTL_PTR_MAP_ENTRY *e = Map->Buckets[i];
        while (e) {
            RTL_PTR_MAP_ENTRY *next = e->Next;
            size_t b = RtlpHashPointer(e->Key, newCount);
            e->Next = buckets[b];
            buckets[b] = e;
            e = next;
        }
    }
    free(Map->Buckets);
    Map->Buckets = buckets;
    Map->BucketCount = newCount;
    return TRUE;
}

static RTL_PTR_MAP_ENTRY **RtlpPtrMapSlot(const RTL_PTR_MAP *Map, const void *Key)
{
    if (!Map->BucketCount)
        return NULL;
    RTL_PTR_MAP_ENTRY **slot = &Map->Buckets[RtlpHashPointer(Key, Map->BucketCount)];
    while (*slot && (*slot)->Key != Key)
        slot = &(*slot)->Next;
    return slot;
}

BOOLEAN RtlpPtrMapInsert(RTL_PTR_MAP *Map, const void *Key, void *Value)
{
    RTL_PTR_MAP_ENTRY **slot = RtlpPtrMapSlot(Map, Key);
    if (slot && *slot) {
        (*slot)->Value = Value;
        return TRUE;
    }
    if (Map->Count + 1 > Map->BucketCount && !RtlpPtrMapGrow(Map))
        return FALSE;
    RTL_PTR_MAP_ENTRY *e = malloc(sizeof(*e));
    if (!e)
        return FALSE;
    size_t b = RtlpHashPointer(Key, Map->BucketCount);
    e->Key = Key;
    e->Value = Value;
    e->Next = Map->Buckets[b];
    Map->Buckets[b] = e;
    Map->Count++;
    return TRUE;
}

void *RtlpPtrMapLookup(const RTL_PTR_MAP *Map, const void *Key, BOOLEAN *Found)
{
    RTL_PTR_MAP_ENTRY **slot = RtlpPtrMapSlot(Map, Key);
    BOOLEAN found = slot && *slot;
    if (Found)
        *Found = found;
    return found ? (*slot)->Value : NULL;
}

BOOLEAN RtlpPtrMapRemove(RTL_PTR_MAP *Map, const void *Key)
{
    RTL_PTR_MAP_ENTRY **slot = RtlpPtrMapSlot(Map, Key);
    if (!slot || !*slot)
        return FALSE;
    RTL_PTR_MAP_ENTRY *e = *slot;
    *slot = e->Next;
    free(e);
    Map->Count--;
    return TRUE;
}

/* ---- read sections --------------------------------------------------- */

__thread RTLP_READER *RtlpCurrentReader __attribute__((tls_model("initial-exec")));

static RTLP_READER *RtlpReaders; /* every record ever made, newest first; pushed with CAS, never freed */
static pthread_key_t RtlpReaderKey;
static pthread_once_t RtlpReaderOnce = PTHREAD_ONCE_INIT;

/* Thread exit: the record goes back to the pool (its sequence is even: no section is open). */
static void RtlpReleaseReader(void *Record)
{
    RTLP_READER *reader = Record;
    RtlpCurrentReader = NULL;
    __atomic_store_n(&reader->Claimed, 0, __ATOMIC_RELEASE);
}

/* In a forked child only the forking thread runs: the other records are free and outside any section. */
static void RtlpReadersAfterFork(void)
{
    for (RTLP_READER *r = RtlpReaders; r; r = r->Next) {
        if (r == RtlpCurrentReader)
            continue;
        r->Sequence = 0;
        r->Claimed = 0;
    }
}

static void RtlpInitializeReaders(void)
{
    if (pthread_key_create(&RtlpReaderKey, RtlpReleaseReader))
        abort();
    pthread_atfork(NULL, NULL, RtlpReadersAfterFork);
}

/* A released record, claimed; NULL when every record is in use. */
static RTLP_READER *RtlpClaimFreeReader(void)
{
    for (RTLP_READER *r = __atomic_load_n(&RtlpReaders, __ATOMIC_ACQUIRE); r; r = r->Next) {
        int expected = 0;
        if (!__atomic_load_n(&r->Claimed, __ATOMIC_RELAXED) &&
            __atomic_compare_exchange_n(&r->Claimed, &expected, 1, FALSE, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return r;
    }
    return NULL;
}

static RTLP_READER *RtlpNewReader(void)
{
    RTLP_READER *r = aligned_alloc(_Alignof(RTLP_READER), sizeof(RTLP_READER));
    if (!r)
        abort();
    memset(r, 0, sizeof(*r));
    r->Claimed = 1;
    r->Next = __atomic_load_n(&RtlpReaders, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&RtlpReaders, &r->Next, r, TRUE, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    return r;
}

RTLP_READER *RtlpRegisterReader(void)
{
    pthread_once(&RtlpReaderOnce, RtlpInitializeReaders);
    RTLP_READER *r = RtlpClaimFreeReader();
    if (!r)
        r = RtlpNewReader();
    pthread_setspecific(RtlpReaderKey, r);
    RtlpCurrentReader = r;
    return r;
}

VOID RtlpWaitForReaders(void)
{
    for (RTLP_READER *r = __atomic_load_n(&RtlpReaders, __ATOMIC_ACQUIRE); r; r = r->Next) {
        if (r == RtlpCurrentReader)
            continue;
        ULONG64 seen = __atomic_load_n(&r->Sequence, __ATOMIC_SEQ_CST); /* after the unpublishing store */
        if (!(seen & 1))
            continue;
        while (__atomic_load_n(&r->Sequence, __ATOMIC_ACQUIRE) == seen)
            sched_yield();
    }
}

/* ---- pointer sets with lock-free lookups ----------------------------- */

#define RTLP_SET_TOMBSTONE ((const void *)1)
#define RTLP_SET_MIN_SLOTS 256

static RTL_PTR_SET_TABLE *RtlpPtrSetAllocate(size_t Slots)
{
    RTL_PTR_SET_TABLE *t = calloc(1, sizeof(*t) + Slots * sizeof(t->Slots[0]));
    if (t)
        t->Mask = Slots - 1;
    return t;
}

/* The slot holding Key, or SIZE_MAX. */
static size_t RtlpPtrSetFind(const RTL_PTR_SET_TABLE *Table, const void *Key)
{
    for (size_t i = RtlpHashPointer(Key, Table->Mask + 1);; i = (i + 1) & Table->Mask) {
        const void *k = __atomic_load_n(&Table->Slots[i], __ATOMIC_SEQ_CST); /* a plain load on x86 */
        if (k == Key)
            return i;
        if (!k)
            return SIZE_MAX;
    }
}

/* Places Key in a table not yet published (no tombstones, no duplicates). */
static VOID RtlpPtrSetPlace(RTL_PTR_SET_TABLE *Table, const void *Key)
{
    size_t i = RtlpHashPointer(Key, Table->Mask + 1);
    while (Table->Slots[i])
        i = (i + 1) & Table->Mask;
    Table->Slots[i] = Key;
    Table->Used++;
    Table->Count++;
}

/* Replaces the table by one a quarter full without tombstones; the old one is freed once no reader holds it. */
static RTL_PTR_SET_TABLE *RtlpPtrSetRebuild(RTL_PTR_SET *Set)
{
    RTL_PTR_SET_TABLE *old = Set->Table;
    size_t slots = RTLP_SET_MIN_SLOTS;
    while (slots < ((old ? old->Count : 0) + 1) * 4)
        slots *= 2;
    RTL_PTR_SET_TABLE *table = RtlpPtrSetAllocate(slots);
    if (!table)
        return NULL;
    for (size_t i = 0; old && i <= old->Mask; i++)
        if ((uintptr_t)old->Slots[i] > (uintptr_t)RTLP_SET_TOMBSTONE)
            RtlpPtrSetPlace(table, old->Slots[i]);
    __atomic_store_n(&Set->Table, table, __ATOMIC_SEQ_CST); /* unpublishes the old table */
    if (old) {
        RtlpWaitForReaders();
        free(old);
    }
    return table;
}

BOOLEAN RtlpPtrSetInsert(RTL_PTR_SET *Set, const void *Key)
{
    if ((uintptr_t)Key <= (uintptr_t)RTLP_SET_TOMBSTONE)
        return FALSE;
    RTL_PTR_SET_TABLE *t = Set->Table;
    if (t && RtlpPtrSetFind(t, Key) != SIZE_MAX)
        return TRUE;
    if (!t || t->Used + 1 > (t->Mask + 1) / 2)
        t = RtlpPtrSetRebuild(Set);
    if (!t)
        return FALSE;
    size_t i = RtlpHashPointer(Key, t->Mask + 1);
    while ((uintptr_t)t->Slots[i] > (uintptr_t)RTLP_SET_TOMBSTONE)
        i = (i + 1) & t->Mask;
    if (!t->Slots[i])
        t->Used++;
    t->Count++;
    __atomic_store_n(&t->Slots[i], Key, __ATOMIC_RELEASE);
    return TRUE;
}

BOOLEAN RtlpPtrSetRemove(RTL_PTR_SET *Set, const void *Key)
{
    RTL_PTR_SET_TABLE *t = Set->Table;
    if (!t || (uintptr_t)Key <= (uintptr_t)RTLP_SET_TOMBSTONE)
        return FALSE;
    size_t i = RtlpPtrSetFind(t, Key);
    if (i == SIZE_MAX)
        return FALSE;
    __atomic_store_n(&t->Slots[i], RTLP_SET_TOMBSTONE, __ATOMIC_SEQ_CST); /* unpublishes Key */
    t->Count--;
    return TRUE;
}

BOOLEAN RtlpPtrSetContains(const RTL_PTR_SET *Set, const void *Key)
{
    if ((uintptr_t)Key <= (uintptr_t)RTLP_SET_TOMBSTONE)
        return FALSE;
    const RTL_PTR_SET_TABLE *t = __atomic_load_n(&Set->Table, __ATOMIC_SEQ_CST);
    return t && RtlpPtrSetFind(t, Key) != SIZE_MAX;
}
