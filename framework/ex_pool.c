/*
 * ex_pool.c - executive pool. Every block is tracked individually with its
 * size, tag and the driver image instance it is charged to (found from the
 * caller's return address, or further up the stack when a tracer sits
 * between the driver and the pool), so NtsimQueryImage can report the
 * blocks an image leaked. Freeing an unknown block, a block twice, or with
 * the wrong tag bug-checks BAD_POOL_CALLER (0xC2) before touching memory.
 */
#include <execinfo.h>
#include <string.h>

#include "ntsim_internal.h"

typedef struct _EXP_POOL_BLOCK {
    SIZE_T Size;
    ULONG Tag;
    POOL_TYPE PoolType;
    PLDRP_IMAGE Owner; /* NULL = the system */
} EXP_POOL_BLOCK;

/* BAD_POOL_CALLER parameter 1 values (as Windows uses them) */
#define EXP_BAD_POOL_FREE_UNKNOWN 0x46
#define EXP_BAD_POOL_DOUBLE_FREE 0x07
#define EXP_BAD_POOL_TAG_MISMATCH 0x0A
#define EXP_OWNER_SEARCH_DEPTH 12
#define EXP_FREED_MEMORY 65536 /* freed addresses remembered to tell a double free */

static pthread_mutex_t ExpPoolLock = PTHREAD_MUTEX_INITIALIZER;
static RTL_PTR_MAP ExpLiveBlocks = RTL_PTR_MAP_INIT;   /* pointer -> EXP_POOL_BLOCK */
static RTL_PTR_MAP ExpFreedBlocks = RTL_PTR_MAP_INIT;  /* recently freed pointers -> tag, to tell a double free */

/*
 * The driver image instance to charge: the caller's image if it is a
 * driver, else the first driver frame of the stack (a preloaded tracer may
 * sit in between), else the system.
 */
static PLDRP_IMAGE ExpFindOwner(PVOID ReturnAddress)
{
    PLDRP_IMAGE image = LdrpFindImageByAddress((ULONG_PTR)ReturnAddress);
    if (image)
        return image;
    void *frames[EXP_OWNER_SEARCH_DEPTH];
    int n = backtrace(frames, EXP_OWNER_SEARCH_DEPTH);
    for (int i = 1; i < n; i++) {
        image = LdrpFindImageByAddress((ULONG_PTR)frames[i] - 1);
        if (image)
            return image;
    }
    return NULL;
}

static PVOID ExpAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, BOOLEAN Zero, PVOID Caller)
{
    if (NumberOfBytes == 0)
        NumberOfBytes = 1;
    PVOID p = Zero ? calloc(1, NumberOfBytes) : malloc(NumberOfBytes);
    if (!p)
        return NULL;
    EXP_POOL_BLOCK *block = malloc(sizeof(*block));
    if (!block) {
        free(p);
        return NULL;
    }
    block->Size = NumberOfBytes;
    block->Tag = Tag;
    block->PoolType = PoolType;
    block->Owner = ExpFindOwner(Caller);
    pthread_mutex_lock(&ExpPoolLock);
    BOOLEAN ok = RtlpPtrMapInsert(&ExpLiveBlocks, p, block);
    if (ok) {
        RtlpPtrMapRemove(&ExpFreedBlocks, p);
        if (block->Owner)
            __atomic_add_fetch(&block->Owner->PoolAllocations, 1, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_unlock(&ExpPoolLock);
    if (!ok) {
        free(block);
        free(p);
        return NULL;
    }
    return p;
}

/* Frees P; CheckTag compares Tag with the allocation's tag. */
static VOID ExpFreePool(PVOID P, ULONG Tag, BOOLEAN CheckTag)
{
    pthread_mutex_lock(&ExpPoolLock);
    BOOLEAN found, wasFreed;
    EXP_POOL_BLOCK *block = RtlpPtrMapLookup(&ExpLiveBlocks, P, &found);
    if (!found) {
        RtlpPtrMapLookup(&ExpFreedBlocks, P, &wasFreed);
        pthread_mutex_unlock(&ExpPoolLock);
        KeBugCheckEx(BAD_POOL_CALLER, wasFreed ? EXP_BAD_POOL_DOUBLE_FREE : EXP_BAD_POOL_FREE_UNKNOWN, (ULONG_PTR)P,
                     Tag, 0);
    }
    if (CheckTag && (block->Tag & ~0x80000000u) != Tag) {
        pthread_mutex_unlock(&ExpPoolLock);
        KeBugCheckEx(BAD_POOL_CALLER, EXP_BAD_POOL_TAG_MISMATCH, (ULONG_PTR)P, block->Tag, Tag);
    }
    RtlpPtrMapRemove(&ExpLiveBlocks, P);
    if (ExpFreedBlocks.Count < EXP_FREED_MEMORY) /* bounded: older frees are forgotten */
        RtlpPtrMapInsert(&ExpFreedBlocks, P, NULL);
    if (block->Owner)
        __atomic_sub_fetch(&block->Owner->PoolAllocations, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&ExpPoolLock);
    free(block);
    free(P);
}

PVOID ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePool(PoolType, NumberOfBytes, Tag, FALSE, __builtin_return_address(0));
}

PVOID ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    return ExpAllocatePool(PoolType, NumberOfBytes, Tag, TRUE, __builtin_return_address(0));
}

PVOID ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag)
{
    POOL_TYPE type = (Flags & POOL_FLAG_PAGED) ? PagedPool : NonPagedPool;
    PVOID p = ExpAllocatePool(type, NumberOfBytes, Tag, !(Flags & POOL_FLAG_UNINITIALIZED),
                              __builtin_return_address(0));
    if (!p && (Flags & POOL_FLAG_RAISE_ON_FAILURE))
        KeBugCheckEx(BAD_POOL_CALLER, 0x9B, NumberOfBytes, Tag, 0);
    return p;
}

VOID ExFreePoolWithTag(PVOID P, ULONG Tag)
{
    ExpFreePool(P, Tag & ~0x80000000u /* PROTECTED_POOL */, Tag != 0);
}

VOID ExFreePool(PVOID P)
{
    ExpFreePool(P, 0, FALSE);
}
