/*
 * ke_sync.c - the dispatcher and the processor state drivers see: a
 * per-thread simulated IRQL, notification and synchronization events with
 * real blocking waits on one or several objects (WaitAll / WaitAny; one
 * global mutex and condition variable serve every dispatcher object), fast mutexes, spin locks, critical regions, sleeps
 * and clocks. An infinite wait that outlasts NTSIM_CONFIG.StuckWaitMs is
 * reported through KiReportStuckWait and then handled by the configured
 * policy, so the simulation never hangs silently.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "ntsim_internal.h"

static __thread KIRQL KipIrql;
static __thread LONG KipCriticalRegionDepth;
static __thread LONG KipGuardedRegionDepth;

static pthread_mutex_t KipDispatcherLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t KipDispatcherCond;
static pthread_once_t KipDispatcherOnce = PTHREAD_ONCE_INIT;

static VOID KipInitializeDispatcher(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&KipDispatcherCond, &attr);
    pthread_condattr_destroy(&attr);
}

static VOID KipLockDispatcher(void)
{
    pthread_once(&KipDispatcherOnce, KipInitializeDispatcher);
    pthread_mutex_lock(&KipDispatcherLock);
}

static VOID KipUnlockDispatcher(void)
{
    pthread_mutex_unlock(&KipDispatcherLock);
}

static ULONG64 KipMonotonicNs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ULONG64)ts.tv_sec * 1000000000ull + (ULONG64)ts.tv_nsec;
}

static struct timespec KipNsToTimespec(ULONG64 Ns)
{
    struct timespec ts = { (time_t)(Ns / 1000000000ull), (long)(Ns % 1000000000ull) };
    return ts;
}

ULONG KipStuckWaitMs(void)
{
    return NtsimpConfig.StuckWaitMs ? NtsimpConfig.StuckWaitMs : 2000;
}

static ULONG KipAsyncDelayMsValue;
static pthread_once_t KipAsyncDelayOnce = PTHREAD_ONCE_INIT;

static VOID KipReadAsyncDelay(void)
{
    const char *text = getenv("NTSIM_ASYNC_DELAY_MS");
    char *end;
    unsigned long ms = text ? strtoul(text, &end, 10) : 0;
    if (text && (*text == '\0' || *end != '\0' || ms > 10000)) {
        fprintf(stderr, "ntsim: NTSIM_ASYNC_DELAY_MS='%s' is not a number of milliseconds (0-10000); ignored\n", text);
        ms = 0;
    }
    KipAsyncDelayMsValue = (ULONG)ms;
}

VOID KipLoadAsyncDelay(void)
{
    pthread_once(&KipAsyncDelayOnce, KipReadAsyncDelay);
}

VOID KipAsyncDelay(void)
{
    KipLoadAsyncDelay();
    if (KipAsyncDelayMsValue) {
        struct timespec ts = KipNsToTimespec((ULONG64)KipAsyncDelayMsValue * 1000000ull);
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

/* ---- IRQL ------------------------------------------------------------ */

KIRQL KeGetCurrentIrql(void)
{
    return KipIrql;
}

VOID KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql)
{
    if (NewIrql < KipIrql)
        KeBugCheckEx(IRQL_NOT_GREATER_OR_EQUAL, KipIrql, NewIrql, 0, 0);
    *OldIrql = KipIrql;
    KipIrql = NewIrql;
}

VOID KeLowerIrql(KIRQL NewIrql)
{
    if (NewIrql > KipIrql)
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, KipIrql, NewIrql, 0, 0);
    KipIrql = NewIrql;
}

KIRQL KeRaiseIrqlToDpcLevel(void)
{
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return old;
}

VOID KeEnterCriticalRegion(void)
{
    KipCriticalRegionDepth++;
}

VOID KeLeaveCriticalRegion(void)
{
    KipCriticalRegionDepth--;
}

VOID KeEnterGuardedRegion(void)
{
    KipGuardedRegionDepth++;
}

VOID KeLeaveGuardedRegion(void)
{
    KipGuardedRegionDepth--;
}

/* ---- events ---------------------------------------------------------- */

VOID KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    Event->Header.Type = (UCHAR)Type;
    Event->Header.Signalling = 0;
    Event->Header.Size = sizeof(KEVENT);
    Event->Header.SignalState = State ? 1 : 0;
    InitializeListHead(&Event->Header.WaitListHead);
}

LONG KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    (void)Increment;
    (void)Wait;
    KipLockDispatcher();
    LONG previous = Event->Header.SignalState;
    Event->Header.SignalState = 1;
    pthread_cond_broadcast(&KipDispatcherCond);
    KipUnlockDispatcher();
    return previous;
}

VOID KeClearEvent(PRKEVENT Event)
{
    KipLockDispatcher();
    Event->Header.SignalState = 0;
    KipUnlockDispatcher();
}

LONG KeResetEvent(PRKEVENT Event)
{
    KipLockDispatcher();
    LONG previous = Event->Header.SignalState;
    Event->Header.SignalState = 0;
    KipUnlockDispatcher();
    return previous;
}

LONG KeReadStateEvent(PRKEVENT Event)
{
    KipLockDispatcher();
    LONG state = Event->Header.SignalState;
    KipUnlockDispatcher();
    return state;
}

/* Converts an NT timeout (100 ns units; negative relative, positive absolute) to a monotonic deadline. */
static ULONG64 KipDeadlineFromTimeout(const LARGE_INTEGER *Timeout)
{
    ULONG64 now = KipMonotonicNs();
    if (Timeout->QuadPart <= 0)
        return now + (ULONG64)(-Timeout->QuadPart) * 100ull;
    LARGE_INTEGER systemTime;
    KeQuerySystemTime(&systemTime);
    LONGLONG delta = Timeout->QuadPart - systemTime.QuadPart;
    return now + (delta > 0 ? (ULONG64)delta * 100ull : 0);
}

/* Blocks on the dispatcher condition until Deadline (ns, monotonic). Dispatcher lock held. */
static VOID KipWaitUntil(ULONG64 Deadline)
{
    struct timespec ts = KipNsToTimespec(Deadline);
    int rc = pthread_cond_timedwait(&KipDispatcherCond, &KipDispatcherLock, &ts);
    (void)rc; /* ETIMEDOUT and spurious wake-ups are both re-checked by the caller */
}

VOID KipApplyStuckPolicy(void)
{
    if (NtsimpConfig.StuckPolicy == NtsimStuckReportAndExit) {
        fflush(NULL);
        exit(NTSIM_EXIT_STUCK);
    }
}

/* Takes one signal from Event: a synchronization event resets as its wait is satisfied. Dispatcher lock held. */
static VOID KipConsumeEvent(PKEVENT Event)
{
    if (Event->Header.Type == SynchronizationEvent)
        Event->Header.SignalState = 0;
}

/*
 * Satisfies the wait now if it can (dispatcher lock held): WaitAny takes the
 * lowest signalled index, WaitAll needs every event signalled and consumes
 * them together. *Index receives the satisfying index (0 for WaitAll).
 */
static BOOLEAN KipTrySatisfyWait(ULONG Count, PVOID *Objects, WAIT_TYPE WaitType, ULONG *Index)
{
    for (ULONG i = 0; i < Count; i++) {
        BOOLEAN signalled = ((PKEVENT)Objects[i])->Header.SignalState > 0;
        if (WaitType == WaitAny && signalled) {
            KipConsumeEvent(Objects[i]);
            *Index = i;
            return TRUE;
        }
        if (WaitType == WaitAll && !signalled)
            return FALSE;
    }
    if (WaitType == WaitAny)
        return FALSE;
    for (ULONG i = 0; i < Count; i++)
        KipConsumeEvent(Objects[i]);
    *Index = 0;
    return TRUE;
}

/*
 * The one wait loop: STATUS_WAIT_0 + index once satisfied, STATUS_TIMEOUT
 * when Timeout expires; an infinite wait past the stuck limit is reported
 * with ReportObject and What, then handled by the stuck policy.
 */
static NTSTATUS KipWaitForObjects(ULONG Count, PVOID *Objects, WAIT_TYPE WaitType, PLARGE_INTEGER Timeout,
                                  PVOID ReportObject, const char *What)
{
    if (KipIrql >= DISPATCH_LEVEL && !(Timeout && Timeout->QuadPart == 0))
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)Objects[0], KipIrql, 0, 0);
    ULONG64 start = KipMonotonicNs();
    ULONG64 deadline = Timeout ? KipDeadlineFromTimeout(Timeout) : start + (ULONG64)KipStuckWaitMs() * 1000000ull;
    ULONG index;
    KipLockDispatcher();
    for (;;) {
        if (KipTrySatisfyWait(Count, Objects, WaitType, &index)) {
            KipUnlockDispatcher();
            return STATUS_WAIT_0 + (NTSTATUS)index;
        }
        if (KipMonotonicNs() >= deadline)
            break;
        KipWaitUntil(deadline);
    }
    KipUnlockDispatcher();
    if (Timeout)
        return STATUS_TIMEOUT;
    KiReportStuckWait(ReportObject, What, (ULONG)((KipMonotonicNs() - start) / 1000000ull));
    KipApplyStuckPolicy();
    return STATUS_TIMEOUT;
}

NTSTATUS KipWaitForEvent(PKEVENT Event, PLARGE_INTEGER Timeout, PVOID ReportObject, const char *What)
{
    PVOID object = Event;
    return KipWaitForObjects(1, &object, WaitAny, Timeout, ReportObject, What);
}

NTSTATUS KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                               PLARGE_INTEGER Timeout)
{
    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable;
    return KipWaitForEvent((PKEVENT)Object, Timeout, Object, "event");
}

/* Records the wait in the caller's wait blocks, as the dispatcher links them. */
static VOID KipFillWaitBlocks(ULONG Count, PVOID *Objects, WAIT_TYPE WaitType, PKWAIT_BLOCK WaitBlocks)
{
    for (ULONG i = 0; i < Count; i++) {
        memset(&WaitBlocks[i], 0, sizeof(WaitBlocks[i]));
        InitializeListHead(&WaitBlocks[i].WaitListEntry);
        WaitBlocks[i].WaitType = (UCHAR)WaitType;
        WaitBlocks[i].WaitKey = (USHORT)i;
        WaitBlocks[i].Object = Objects[i];
    }
}

NTSTATUS KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType, KWAIT_REASON WaitReason,
                                  KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                  PKWAIT_BLOCK WaitBlockArray)
{
    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable;
    if (Count == 0 || Count > MAXIMUM_WAIT_OBJECTS || (Count > THREAD_WAIT_OBJECTS && !WaitBlockArray))
        KeBugCheckEx(MAXIMUM_WAIT_OBJECTS_EXCEEDED, Count, (ULONG_PTR)WaitBlockArray, 0, 0);
    if (WaitType != WaitAll && WaitType != WaitAny)
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1001 /* invalid wait type */, WaitType, 0, 0);
    if (WaitBlockArray)
        KipFillWaitBlocks(Count, Object, WaitType, WaitBlockArray);
    return KipWaitForObjects(Count, Object, WaitType, Timeout, Object[0],
                             WaitType == WaitAll ? "all of several events" : "any of several events");
}

NTSTATUS KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval)
{
    (void)WaitMode;
    (void)Alertable;
    if (!Interval)
        return STATUS_INVALID_PARAMETER;
    ULONG64 deadline = KipDeadlineFromTimeout(Interval);
    ULONG64 now;
    while ((now = KipMonotonicNs()) < deadline) {
        struct timespec ts = KipNsToTimespec(deadline - now);
        nanosleep(&ts, NULL);
    }
    return STATUS_SUCCESS;
}

/* ---- fast mutexes ---------------------------------------------------- */

VOID ExInitializeFastMutex(PFAST_MUTEX FastMutex)
{
    FastMutex->Count = 1;
    FastMutex->Owner = NULL;
    FastMutex->Contention = 0;
    FastMutex->OldIrql = PASSIVE_LEVEL;
    KeInitializeEvent(&FastMutex->Event, SynchronizationEvent, FALSE);
}

static PVOID KipCurrentThreadTag(void)
{
    return (PVOID)(uintptr_t)pthread_self();
}

VOID ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    ULONG64 start = KipMonotonicNs();
    BOOLEAN reported = FALSE;
    KipLockDispatcher();
    while (FastMutex->Count != 1) {
        FastMutex->Contention++;
        ULONG64 stuckAt = start + (ULONG64)KipStuckWaitMs() * 1000000ull;
        if (!reported && KipMonotonicNs() >= stuckAt) {
            KipUnlockDispatcher();
            KiReportStuckWait(FastMutex, "fast mutex", (ULONG)((KipMonotonicNs() - start) / 1000000ull));
            KipApplyStuckPolicy(); /* a fast mutex cannot fail: with "continue", keep waiting */
            reported = TRUE;
            KipLockDispatcher();
            continue;
        }
        KipWaitUntil(reported ? KipMonotonicNs() + 1000000000ull : stuckAt);
    }
    FastMutex->Count = 0;
    FastMutex->Owner = KipCurrentThreadTag();
    KipUnlockDispatcher();
    FastMutex->OldIrql = old;
}

BOOLEAN ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    KipLockDispatcher();
    BOOLEAN acquired = FastMutex->Count == 1;
    if (acquired) {
        FastMutex->Count = 0;
        FastMutex->Owner = KipCurrentThreadTag();
    }
    KipUnlockDispatcher();
    if (acquired)
        FastMutex->OldIrql = old;
    else
        KeLowerIrql(old);
    return acquired;
}

VOID ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    KIRQL old = (KIRQL)FastMutex->OldIrql;
    KipLockDispatcher();
    FastMutex->Count = 1;
    FastMutex->Owner = NULL;
    pthread_cond_broadcast(&KipDispatcherCond);
    KipUnlockDispatcher();
    KeLowerIrql(old);
}

/* ---- spin locks ------------------------------------------------------ */

VOID KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

VOID KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    while (__atomic_exchange_n(SpinLock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(SpinLock, __ATOMIC_RELAXED))
            sched_yield();
}

VOID KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
}

KIRQL KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    KIRQL old = KeRaiseIrqlToDpcLevel();
    KeAcquireSpinLockAtDpcLevel(SpinLock);
    return old;
}

VOID KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    KeReleaseSpinLockFromDpcLevel(SpinLock);
    KeLowerIrql(NewIrql);
}

/* ---- time ------------------------------------------------------------ */

#define KIP_EPOCH_1601_TO_1970 116444736000000000ll
#define KIP_TIME_INCREMENT 156250u /* 15.625 ms in 100 ns units */

VOID KeQuerySystemTime(PLARGE_INTEGER CurrentTime)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    CurrentTime->QuadPart = KIP_EPOCH_1601_TO_1970 + (LONGLONG)ts.tv_sec * 10000000ll + ts.tv_nsec / 100;
}

VOID KeQueryTickCount(PLARGE_INTEGER TickCount)
{
    TickCount->QuadPart = (LONGLONG)(KipMonotonicNs() / 100ull / KIP_TIME_INCREMENT);
}

ULONG KeQueryTimeIncrement(void)
{
    return KIP_TIME_INCREMENT;
}
