/*
 * rtl_ptrmap.c - a small chained hash map from pointer keys to pointer
 * values. The object manager uses it for the live-object table, the I/O
 * manager for live IRPs, the pool for live blocks: each answers "is this
 * pointer one of mine?" without ever reading the memory it points to, which
 * is what lets the simulation diagnose a double free or a stale pointer
 * instead of crashing on it. Callers provide the locking.
 */
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

VOID RtlpPtrMapForEach(const RTL_PTR_MAP *Map, BOOLEAN (*Visit)(const void *Key, void *Value, void *Ctx), void *Ctx)
{
    for (size_t i = 0; i < Map->BucketCount; i++)
        for (RTL_PTR_MAP_ENTRY *e = Map->Buckets[i]; e; e = e->Next)
            if (!Visit(e->Key, e->Value, Ctx))
                return;
}
