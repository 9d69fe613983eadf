/*
 * ex_rundown.c - run-down protection (nt-semantics §8): the
 * Ex*RundownProtection* family on an EX_RUNDOWN_REF.
 *
 * The reference word has the documented layout: bit 0 (EX_RUNDOWN_ACTIVE)
 * says a run-down has started; before that the other bits count holders in
 * steps of EX_RUNDOWN_COUNT_INC; once a waiter exists the word is the
 * address of the waiter's on-stack wait block {holders left, event} with
 * the active bit set. Acquisitions fail after the run-down started; the
 * last release wakes the waiter. Run-down protection references no object
 * and pins no image.
 *
 * Beyond Windows, each successful acquisition is remembered with the code
 * address that took it, so that a run-down wait that never returns is
 * reported (KiReportStuckWait) with its outstanding holders instead of
 * hanging; an over-release is reported on stderr.
 */
#include <string.h>

#include "pnp_internal.h"

/* The waiter's block, on its stack, while holders remain. */
typedef struct _EXP_RUNDOWN_WAIT_BLOCK {
    ULONG_PTR Count; /* holders still to release */
    KEVENT WakeEvent;
} __attribute__((aligned(8))) EXP_RUNDOWN_WAIT_BLOCK;

/* One outstanding acquisition (simulation bookkeeping). */
typedef struct _EXP_RUNDOWN_HOLDER {
    struct _EXP_RUNDOWN_HOLDER *Next;
    const void *Caller;
    ULONG Count;
    long ThreadId;
    ULONG64 SinceMs;
} EXP_RUNDOWN_HOLDER;

static pthread_mutex_t ExpRundownHoldersLock = PTHREAD_MUTEX_INITIALIZER;
static RTL_PTR_MAP ExpRundownHolders = RTL_PTR_MAP_INIT; /* PEX_RUNDOWN_REF -> EXP_RUNDOWN_HOLDER list */

/* ---- holder bookkeeping --------------------------------------------- */

static VOID ExpNoteAcquire(PEX_RUNDOWN_REF RunRef, ULONG Count, const void *Caller)
{
    EXP_RUNDOWN_HOLDER *holder = RtlpAllocZero(sizeof(*holder));
    holder->Caller = Caller;
    holder->Count = Count;
    holder->ThreadId = KipCurrentThreadId();
    holder->SinceMs = IopNowMs();
    pthread_mutex_lock(&ExpRundownHoldersLock);
    holder->Next = RtlpPtrMapLookup(&ExpRundownHolders, RunRef, NULL);
    RtlpPtrMapInsert(&ExpRundownHolders, RunRef, holder);
    pthread_mutex_unlock(&ExpRundownHoldersLock);
}

/* Forgets Count references: the calling thread's holders first, then the oldest. */
static VOID ExpNoteRelease(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    long self = KipCurrentThreadId();
    pthread_mutex_lock(&ExpRundownHoldersLock);
    EXP_RUNDOWN_HOLDER *head = RtlpPtrMapLookup(&ExpRundownHolders, RunRef, NULL);
    for (int pass = 0; pass < 2 && Count; pass++) {
        EXP_RUNDOWN_HOLDER **link = &head, **victim = NULL;
        for (; *link; link = &(*link)->Next)
            if (pass == 1 || (*link)->ThreadId == self)
                victim = link; /* the list is newest first: the last match is the oldest */
        if (!victim)
            continue;
        EXP_RUNDOWN_HOLDER *h = *victim;
        ULONG take = h->Count < Count ? h->Count : Count;
        h->Count -= take;
        Count -= take;
        if (!h->Count) {
            *victim = h->Next;
            free(h);
        }
        pass = Count ? -1 : pass; /* start over while references remain */
    }
    if (head)
        RtlpPtrMapInsert(&ExpRundownHolders, RunRef, head);
    else
        RtlpPtrMapRemove(&ExpRundownHolders, RunRef);
    pthread_mutex_unlock(&ExpRundownHoldersLock);
}

static VOID ExpForgetHolders(PEX_RUNDOWN_REF RunRef)
{
    pthread_mutex_lock(&ExpRundownHoldersLock);
    EXP_RUNDOWN_HOLDER *h = RtlpPtrMapLookup(&ExpRundownHolders, RunRef, NULL);
    while (h) {
        EXP_RUNDOWN_HOLDER *next = h->Next;
        free(h);
        h = next;
    }
    RtlpPtrMapRemove(&ExpRundownHolders, RunRef);
    pthread_mutex_unlock(&ExpRundownHoldersLock);
}

/* IOP_DESCRIBE_HOLDERS for a run-down reference. */
static VOID ExpDescribeRundownHolders(PVOID Object, char *Buffer, size_t Size)
{
    char context[512];
    PipDescribeAddressContext(Object, context, sizeof(context));
    int n = snprintf(Buffer, Size, "ExWaitForRundownProtectionRelease on run-down reference %p%s%s: holders", Object,
                     *context ? " " : "", context);
    ULONG64 now = IopNowMs();
    pthread_mutex_lock(&ExpRundownHoldersLock);
    const char *sep = ":";
    for (EXP_RUNDOWN_HOLDER *h = RtlpPtrMapLookup(&ExpRundownHolders, Object, NULL); h && n > 0 && (size_t)n < Size;
         h = h->Next, sep = ";") {
        char where[256];
        IopDescribeCodeAddress(h->Caller, where, sizeof(where));
        n += snprintf(Buffer + n, Size - (size_t)n, "%s %u acquired from %s (thread %ld, %llu ms ago)", sep, h->Count,
                      where, h->ThreadId, (unsigned long long)(now - h->SinceMs));
    }
    pthread_mutex_unlock(&ExpRundownHoldersLock);
}

/* ---- the reference word --------------------------------------------- */

static ULONG_PTR ExpLoad(PEX_RUNDOWN_REF RunRef)
{
    return __atomic_load_n(&RunRef->Count, __ATOMIC_SEQ_CST);
}

static BOOLEAN ExpCompareExchange(PEX_RUNDOWN_REF RunRef, ULONG_PTR *Expected, ULONG_PTR Desired)
{
    return __atomic_compare_exchange_n(&RunRef->Count, Expected, Desired, FALSE, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

static BOOLEAN ExpAcquire(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ULONG_PTR value = ExpLoad(RunRef);
    for (;;) {
        if (value & EX_RUNDOWN_ACTIVE)
            return FALSE;
        if (ExpCompareExchange(RunRef, &value, value + (ULONG_PTR)Count * EX_RUNDOWN_COUNT_INC))
            return TRUE;
    }
}

static VOID ExpReportOverRelease(PEX_RUNDOWN_REF RunRef, ULONG Count, ULONG_PTR Held)
{
    fprintf(stderr, "*** RUN-DOWN %p: release of %u reference%s with %lu held\n", (void *)RunRef, Count,
            Count == 1 ? "" : "s", (unsigned long)Held);
    fflush(stderr);
}

static VOID ExpRelease(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ULONG_PTR value = ExpLoad(RunRef);
    for (;;) {
        if (value & EX_RUNDOWN_ACTIVE) {
            EXP_RUNDOWN_WAIT_BLOCK *wait = (EXP_RUNDOWN_WAIT_BLOCK *)(value & ~(ULONG_PTR)EX_RUNDOWN_ACTIVE);
            if (!wait) {
                ExpReportOverRelease(RunRef, Count, 0);
                return;
            }
            if (__atomic_sub_fetch(&wait->Count, Count, __ATOMIC_SEQ_CST) == 0)
                KeSetEvent(&wait->WakeEvent, IO_NO_INCREMENT, FALSE);
            return;
        }
        ULONG_PTR held = value >> EX_RUNDOWN_COUNT_SHIFT;
        if (held < Count) {
            ExpReportOverRelease(RunRef, Count, held);
            return;
        }
        if (ExpCompareExchange(RunRef, &value, value - (ULONG_PTR)Count * EX_RUNDOWN_COUNT_INC))
            return;
    }
}

/* ---- the exported calls --------------------------------------------- */

VOID ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ExpForgetHolders(RunRef);
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_SEQ_CST);
}

VOID ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    if (!(ExpLoad(RunRef) & EX_RUNDOWN_ACTIVE))
        RtlAssert((PVOID) "RunRef->Count & EX_RUNDOWN_ACTIVE", (PVOID)__FILE__, __LINE__,
                  (PCHAR) "ExReInitializeRundownProtection before a completed run-down");
    ExpForgetHolders(RunRef);
    __atomic_store_n(&RunRef->Count, 0, __ATOMIC_SEQ_CST);
}

BOOLEAN ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    if (!ExpAcquire(RunRef, 1))
        return FALSE;
    ExpNoteAcquire(RunRef, 1, __builtin_return_address(0));
    return TRUE;
}

BOOLEAN ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    if (!ExpAcquire(RunRef, Count))
        return FALSE;
    ExpNoteAcquire(RunRef, Count, __builtin_return_address(0));
    return TRUE;
}

VOID ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef)
{
    ExpNoteRelease(RunRef, 1);
    ExpRelease(RunRef, 1);
}

VOID ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count)
{
    ExpNoteRelease(RunRef, Count);
    ExpRelease(RunRef, Count);
}

VOID ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef)
{
    EXP_RUNDOWN_WAIT_BLOCK wait;
    ULONG_PTR value = ExpLoad(RunRef);
    for (;;) {
        if (value & EX_RUNDOWN_ACTIVE)
            return; /* already run down (or another waiter): not an error */
        if (value == 0) {
            if (ExpCompareExchange(RunRef, &value, EX_RUNDOWN_ACTIVE))
                return;
            continue;
        }
        wait.Count = value >> EX_RUNDOWN_COUNT_SHIFT;
        KeInitializeEvent(&wait.WakeEvent, NotificationEvent, FALSE);
        if (ExpCompareExchange(RunRef, &value, (ULONG_PTR)&wait | EX_RUNDOWN_ACTIVE))
            break;
    }
    IopWaitReportingHolders(&wait.WakeEvent, RunRef, ExpDescribeRundownHolders);
    /* the wait block dies with this frame: leave the word "run down, no waiter" */
    __atomic_store_n(&RunRef->Count, EX_RUNDOWN_ACTIVE, __ATOMIC_SEQ_CST);
}

VOID ExRundownCompleted(PEX_RUNDOWN_REF RunRef)
{
    __atomic_store_n(&RunRef->Count, EX_RUNDOWN_ACTIVE, __ATOMIC_SEQ_CST);
}
