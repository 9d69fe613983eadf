/*
 * ex_list.c - the executive's interlocked list operations: the plain
 * inline list operations of wdm.h done while holding the caller's
 * KSPIN_LOCK at HIGH_LEVEL (Windows disables interrupts around them, so
 * they may be called at any IRQL). The lock is the same word
 * KeAcquireSpinLock takes, so a driver may mix both on one list.
 */
#include "ntsim_internal.h"

/* Raises to HIGH_LEVEL and acquires Lock; returns the IRQL to restore. */
static KIRQL ExpAcquireListLock(PKSPIN_LOCK Lock)
{
    KIRQL old;
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAcquireSpinLockAtDpcLevel(Lock);
    return old;
}

static VOID ExpReleaseListLock(PKSPIN_LOCK Lock, KIRQL OldIrql)
{
    KeReleaseSpinLockFromDpcLevel(Lock);
    KeLowerIrql(OldIrql);
}

PLIST_ENTRY ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    KIRQL old = ExpAcquireListLock(Lock);
    PLIST_ENTRY first = IsListEmpty(ListHead) ? NULL : ListHead->Flink;
    InsertHeadList(ListHead, ListEntry);
    ExpReleaseListLock(Lock, old);
    return first;
}

PLIST_ENTRY ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    KIRQL old = ExpAcquireListLock(Lock);
    PLIST_ENTRY last = IsListEmpty(ListHead) ? NULL : ListHead->Blink;
    InsertTailList(ListHead, ListEntry);
    ExpReleaseListLock(Lock, old);
    return last;
}

PLIST_ENTRY ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    KIRQL old = ExpAcquireListLock(Lock);
    PLIST_ENTRY first = IsListEmpty(ListHead) ? NULL : RemoveHeadList(ListHead);
    ExpReleaseListLock(Lock, old);
    return first;
}

PSINGLE_LIST_ENTRY ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead, PSINGLE_LIST_ENTRY ListEntry,
                                              PKSPIN_LOCK Lock)
{
    KIRQL old = ExpAcquireListLock(Lock);
    PSINGLE_LIST_ENTRY first = ListHead->Next;
    PushEntryList(ListHead, ListEntry);
    ExpReleaseListLock(Lock, old);
    return first;
}

PSINGLE_LIST_ENTRY ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    KIRQL old = ExpAcquireListLock(Lock);
    PSINGLE_LIST_ENTRY first = PopEntryList(ListHead);
    ExpReleaseListLock(Lock, old);
    return first;
}
