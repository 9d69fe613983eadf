/*
 * io_remlock.c - remove locks (nt-semantics §7): IoInitializeRemoveLockEx,
 * IoAcquireRemoveLockEx, IoReleaseRemoveLockEx, IoReleaseRemoveLockAndWaitEx.
 *
 * The counting is the documented one: IoCount starts at 1 (the bias), each
 * acquisition adds one, acquisitions fail with STATUS_DELETE_PENDING once
 * the lock is removed, and the release-and-wait drops the caller's
 * acquisition and the bias, then waits for IoCount to reach zero.
 *
 * The simulation always runs the checked-build tracking (§7.3): every
 * acquisition gets a tracking block {tag, file, line, thread, time}; a
 * release removes the first block with its tag; misuse - a release of a tag
 * nobody acquired, more releases than acquisitions, more acquisitions than
 * the high watermark, an acquisition held longer than MaxLockedMinutes, a
 * release-and-wait by a caller holding nothing - is reported through the
 * exported IopReportRemoveLockMisuse (and continues, as after an ignored
 * checked-build assertion). A release-and-wait that cannot finish is
 * reported through KiReportStuckWait with every acquisition still held,
 * instead of hanging silently. This file also holds the stuck-reporting
 * wait that run-down protection shares.
 */
#include <string.h>
#include <time.h>

#include "pnp_internal.h"

#define IOP_REMLOCK_SIGNATURE 0x6c6d5249 /* 'IRml' */
#define IOP_TICKS_PER_MINUTE (60ll * 10000000ll)

/* Reserved1[] slots of the debug block used for statistics. */
#define IOP_REMLOCK_PEAK_COUNT 0     /* the highest IoCount seen (bias included) */
#define IOP_REMLOCK_LONGEST_HOLD_MS 1 /* the longest completed hold */
#define IOP_REMLOCK_ACQUISITIONS 2   /* successful acquisitions so far */

/* One outstanding acquisition (the checked build's tracking block). */
typedef struct _IOP_REMLOCK_BLOCK {
    struct _IOP_REMLOCK_BLOCK *Next;
    PVOID Tag;
    PCSTR File; /* __FILE__ of the acquiring driver: valid while its image is mapped */
    ULONG Line;
    long ThreadId;
    ULONG64 LockedAtMs;
    BOOLEAN ReportedTooLong;
} IOP_REMLOCK_BLOCK;

/* One lock for every remove lock's tracking list: contention is irrelevant here. */
static pthread_mutex_t IopRemoveLockTrackingLock = PTHREAD_MUTEX_INITIALIZER;

ULONG64 IopNowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ULONG64)ts.tv_sec * 1000ull + (ULONG64)ts.tv_nsec / 1000000ull;
}

/* ---- stuck-reporting wait (shared with ex_rundown.c) ------------------ */

VOID IopWaitReportingHolders(PKEVENT Event, PVOID Object, IOP_DESCRIBE_HOLDERS *Describe)
{
    ULONG64 start = IopNowMs();
    LARGE_INTEGER limit = { .QuadPart = -(LONGLONG)KipStuckWaitMs() * 10000ll };
    if (KipWaitForEvent(Event, &limit, Object, "wait") == STATUS_SUCCESS)
        return;
    char what[2048];
    Describe(Object, what, sizeof(what));
    KiReportStuckWait(Object, what, (ULONG)(IopNowMs() - start));
    KipApplyStuckPolicy();
    PipNoteCurrentThreadStuck(); /* a host waiting on this PnP request gets STATUS_TIMEOUT now */
    LARGE_INTEGER slice = { .QuadPart = -10000000ll }; /* keep waiting, silently, one second at a time */
    while (KipWaitForEvent(Event, &slice, Object, "wait") != STATUS_SUCCESS)
        ;
}

/* ---- tracking blocks --------------------------------------------------- */

static IOP_REMLOCK_BLOCK **IopBlockListHead(PIO_REMOVE_LOCK Lock)
{
    return (IOP_REMLOCK_BLOCK **)&Lock->Dbg.Blocks;
}

static BOOLEAN IopIsTrackedLock(PIO_REMOVE_LOCK Lock, ULONG RemlockSize)
{
    return RemlockSize >= sizeof(IO_REMOVE_LOCK) && Lock->Dbg.Signature == IOP_REMLOCK_SIGNATURE;
}

static VOID IopPushBlockLocked(PIO_REMOVE_LOCK Lock, PVOID Tag, PCSTR File, ULONG Line)
{
    IOP_REMLOCK_BLOCK *block = RtlpAllocZero(sizeof(*block));
    block->Tag = Tag;
    block->File = File;
    block->Line = Line;
    block->ThreadId = KipCurrentThreadId();
    block->LockedAtMs = IopNowMs();
    block->Next = *IopBlockListHead(Lock);
    *IopBlockListHead(Lock) = block;
}

/* Unlinks the OLDEST block with Tag (blocks are pushed at the head); NULL when none has it. */
static IOP_REMLOCK_BLOCK *IopTakeBlockLocked(PIO_REMOVE_LOCK Lock, PVOID Tag)
{
    IOP_REMLOCK_BLOCK **found = NULL;
    for (IOP_REMLOCK_BLOCK **link = IopBlockListHead(Lock); *link; link = &(*link)->Next)
        if ((*link)->Tag == Tag)
            found = link;
    if (!found)
        return NULL;
    IOP_REMLOCK_BLOCK *block = *found;
    *found = block->Next;
    return block;
}

static ULONG64 IopMaxLockedMs(PIO_REMOVE_LOCK Lock)
{
    return Lock->Dbg.MaxLockedTicks > 0 ? (ULONG64)Lock->Dbg.MaxLockedTicks / 10000ull : 0;
}

/* A misuse found under the tracking lock, reported after it is dropped. */
typedef struct _IOP_REMLOCK_FINDING {
    ULONG Kind;
    PVOID Tag;
    PCSTR File;
    ULONG Line;
    ULONG64 Value;
} IOP_REMLOCK_FINDING;

#define IOP_MAX_FINDINGS 8

typedef struct _IOP_REMLOCK_FINDINGS {
    ULONG Count;
    IOP_REMLOCK_FINDING Items[IOP_MAX_FINDINGS];
} IOP_REMLOCK_FINDINGS;

static VOID IopAddFinding(IOP_REMLOCK_FINDINGS *Findings, ULONG Kind, PVOID Tag, PCSTR File, ULONG Line,
                          ULONG64 Value)
{
    if (Findings->Count < IOP_MAX_FINDINGS)
        Findings->Items[Findings->Count++] = (IOP_REMLOCK_FINDING){ Kind, Tag, File, Line, Value };
}

static VOID IopReportFindings(PIO_REMOVE_LOCK Lock, const IOP_REMLOCK_FINDINGS *Findings)
{
    for (ULONG i = 0; i < Findings->Count; i++) {
        const IOP_REMLOCK_FINDING *f = &Findings->Items[i];
        IopReportRemoveLockMisuse(Lock, f->Kind, f->Tag, f->File, f->Line, f->Value);
    }
}

/* Checks every outstanding block against MaxLockedMinutes (each block is reported once). */
static VOID IopCheckHoldTimesLocked(PIO_REMOVE_LOCK Lock, IOP_REMLOCK_FINDINGS *Findings)
{
    ULONG64 maxMs = IopMaxLockedMs(Lock), now = IopNowMs();
    if (!maxMs)
        return;
    for (IOP_REMLOCK_BLOCK *b = *IopBlockListHead(Lock); b; b = b->Next) {
        if (!b->ReportedTooLong && now - b->LockedAtMs > maxMs) {
            b->ReportedTooLong = TRUE;
            IopAddFinding(Findings, NTSIM_REMLOCK_HELD_TOO_LONG, b->Tag, b->File, b->Line, now - b->LockedAtMs);
        }
    }
}

static VOID IopNoteHoldTimeLocked(PIO_REMOVE_LOCK Lock, const IOP_REMLOCK_BLOCK *Block)
{
    ULONG64 held = IopNowMs() - Block->LockedAtMs;
    if (held > Lock->Dbg.Reserved1[IOP_REMLOCK_LONGEST_HOLD_MS])
        Lock->Dbg.Reserved1[IOP_REMLOCK_LONGEST_HOLD_MS] = (ULONG)(held > 0xffffffffull ? 0xffffffffull : held);
}

/* Releases Tag's tracking block (diagnosing an unknown tag). Tracking lock held. */
static VOID IopReleaseBlockLocked(PIO_REMOVE_LOCK Lock, PVOID Tag, IOP_REMLOCK_FINDINGS *Findings)
{
    IopCheckHoldTimesLocked(Lock, Findings);
    IOP_REMLOCK_BLOCK *block = IopTakeBlockLocked(Lock, Tag);
    if (!block) {
        IopAddFinding(Findings, NTSIM_REMLOCK_UNKNOWN_TAG, Tag, NULL, 0, (ULONG64)Lock->Common.IoCount);
        return;
    }
    IopNoteHoldTimeLocked(Lock, block);
    free(block);
}

/* Drops Decrement from IoCount (tracking lock held); TRUE when the count reached zero. */
static BOOLEAN IopDropCountLocked(PIO_REMOVE_LOCK Lock, LONG Decrement, PVOID Tag, IOP_REMLOCK_FINDINGS *Findings)
{
    LONG count = Lock->Common.IoCount - Decrement;
    if (count < 0 || (count == 0 && !Lock->Common.Removed)) {
        /* more releases than acquisitions: keep the bias so later use stays sane */
        IopAddFinding(Findings, NTSIM_REMLOCK_OVER_RELEASE, Tag, NULL, 0, (ULONG64)(LONG64)count);
        count = Lock->Common.Removed ? 0 : 1;
    }
    __atomic_store_n(&Lock->Common.IoCount, count, __ATOMIC_SEQ_CST);
    return count == 0;
}

/* ---- the exported calls ------------------------------------------------ */

VOID IoInitializeRemoveLockEx(PIO_REMOVE_LOCK Lock, ULONG AllocateTag, ULONG MaxLockedMinutes, ULONG HighWatermark,
                              ULONG RemlockSize)
{
    if (!Lock || RemlockSize < sizeof(IO_REMOVE_LOCK_COMMON_BLOCK))
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x1000, (ULONG_PTR)Lock, RemlockSize, 0);
    memset(Lock, 0, RemlockSize < sizeof(IO_REMOVE_LOCK) ? RemlockSize : sizeof(IO_REMOVE_LOCK));
    Lock->Common.Removed = FALSE;
    Lock->Common.IoCount = 1;
    KeInitializeEvent(&Lock->Common.RemoveEvent, NotificationEvent, FALSE);
    if (RemlockSize < sizeof(IO_REMOVE_LOCK))
        return; /* a free-build lock: no tracking block */
    Lock->Dbg.Signature = IOP_REMLOCK_SIGNATURE;
    Lock->Dbg.HighWatermark = HighWatermark > 0x7fffffffu ? 0x7fffffffu : HighWatermark;
    Lock->Dbg.MaxLockedTicks = (LONGLONG)MaxLockedMinutes * IOP_TICKS_PER_MINUTE;
    Lock->Dbg.AllocateTag = (LONG)AllocateTag;
    InitializeListHead(&Lock->Dbg.LockList);
    Lock->Dbg.Reserved1[IOP_REMLOCK_PEAK_COUNT] = 1;
}

NTSTATUS IoAcquireRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, PCSTR File, ULONG Line, ULONG RemlockSize)
{
    IOP_REMLOCK_FINDINGS findings = { 0 };
    BOOLEAN signal = FALSE;
    NTSTATUS status = STATUS_SUCCESS;
    pthread_mutex_lock(&IopRemoveLockTrackingLock);
    LONG count = __atomic_add_fetch(&RemoveLock->Common.IoCount, 1, __ATOMIC_SEQ_CST);
    if (RemoveLock->Common.Removed) {
        signal = __atomic_sub_fetch(&RemoveLock->Common.IoCount, 1, __ATOMIC_SEQ_CST) == 0;
        status = STATUS_DELETE_PENDING;
    } else if (IopIsTrackedLock(RemoveLock, RemlockSize)) {
        IopPushBlockLocked(RemoveLock, Tag, File, Line);
        RemoveLock->Dbg.Reserved1[IOP_REMLOCK_ACQUISITIONS]++;
        if ((ULONG)count > RemoveLock->Dbg.Reserved1[IOP_REMLOCK_PEAK_COUNT])
            RemoveLock->Dbg.Reserved1[IOP_REMLOCK_PEAK_COUNT] = (ULONG)count;
        /* the watermark counts acquisitions; IoCount carries the bias */
        if (RemoveLock->Dbg.HighWatermark && (ULONG)(count - 1) > RemoveLock->Dbg.HighWatermark)
            IopAddFinding(&findings, NTSIM_REMLOCK_HIGH_WATERMARK, Tag, File, Line, (ULONG64)(count - 1));
        IopCheckHoldTimesLocked(RemoveLock, &findings);
    }
    pthread_mutex_unlock(&IopRemoveLockTrackingLock);
    if (signal)
        KeSetEvent(&RemoveLock->Common.RemoveEvent, IO_NO_INCREMENT, FALSE);
    IopReportFindings(RemoveLock, &findings);
    return status;
}

VOID IoReleaseRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize)
{
    IOP_REMLOCK_FINDINGS findings = { 0 };
    pthread_mutex_lock(&IopRemoveLockTrackingLock);
    if (IopIsTrackedLock(RemoveLock, RemlockSize))
        IopReleaseBlockLocked(RemoveLock, Tag, &findings);
    BOOLEAN signal = IopDropCountLocked(RemoveLock, 1, Tag, &findings);
    pthread_mutex_unlock(&IopRemoveLockTrackingLock);
    if (signal)
        KeSetEvent(&RemoveLock->Common.RemoveEvent, IO_NO_INCREMENT, FALSE);
    IopReportFindings(RemoveLock, &findings);
}

/* IOP_DESCRIBE_HOLDERS for a remove lock: every acquisition still held, oldest first. */
static VOID IopDescribeRemoveLockHolders(PVOID Object, char *Buffer, size_t Size)
{
    PIO_REMOVE_LOCK lock = Object;
    char context[512];
    PipDescribeAddressContext(lock, context, sizeof(context));
    pthread_mutex_lock(&IopRemoveLockTrackingLock);
    LONG held = lock->Common.IoCount;
    int n = snprintf(Buffer, Size, "IoReleaseRemoveLockAndWait on remove lock %p%s%s: %d acquisition%s still held",
                     (void *)lock, *context ? " " : "", context, held, held == 1 ? "" : "s");
    ULONG64 now = IopNowMs();
    /* the list is newest first: print it reversed by walking to each position */
    ULONG total = 0;
    for (IOP_REMLOCK_BLOCK *b = *IopBlockListHead(lock); b; b = b->Next)
        total++;
    for (ULONG i = total; i > 0 && n > 0 && (size_t)n < Size; i--) {
        IOP_REMLOCK_BLOCK *b = *IopBlockListHead(lock);
        for (ULONG k = 1; k < i; k++)
            b = b->Next;
        n += snprintf(Buffer + n, Size - (size_t)n, "%s tag %p acquired at %s:%u (thread %ld, %llu ms ago)",
                      i == total ? ":" : ";", b->Tag, b->File ? b->File : "?", b->Line, b->ThreadId,
                      (unsigned long long)(now - b->LockedAtMs));
    }
    pthread_mutex_unlock(&IopRemoveLockTrackingLock);
}

VOID IoReleaseRemoveLockAndWaitEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize)
{
    IOP_REMLOCK_FINDINGS findings = { 0 };
    pthread_mutex_lock(&IopRemoveLockTrackingLock);
    RemoveLock->Common.Removed = TRUE;
    if (IopIsTrackedLock(RemoveLock, RemlockSize)) {
        IopCheckHoldTimesLocked(RemoveLock, &findings);
        IOP_REMLOCK_BLOCK *mine = IopTakeBlockLocked(RemoveLock, Tag);
        if (mine)
            IopNoteHoldTimeLocked(RemoveLock, mine);
        else
            IopAddFinding(&findings, NTSIM_REMLOCK_WAIT_NOT_HELD, Tag, NULL, 0, (ULONG64)RemoveLock->Common.IoCount);
        free(mine);
    }
    /* the caller's acquisition and the initial bias */
    BOOLEAN done = IopDropCountLocked(RemoveLock, 2, Tag, &findings);
    pthread_mutex_unlock(&IopRemoveLockTrackingLock);
    IopReportFindings(RemoveLock, &findings);
    if (!done)
        IopWaitReportingHolders(&RemoveLock->Common.RemoveEvent, RemoveLock, IopDescribeRemoveLockHolders);
}

/* ---- the misuse report -------------------------------------------------- */

static const char *IopRemoveLockMisuseText(ULONG Kind)
{
    switch (Kind) {
    case NTSIM_REMLOCK_UNKNOWN_TAG:
        return "release of a tag that holds no acquisition";
    case NTSIM_REMLOCK_HIGH_WATERMARK:
        return "acquisitions above the high watermark";
    case NTSIM_REMLOCK_HELD_TOO_LONG:
        return "acquisition held longer than MaxLockedMinutes";
    case NTSIM_REMLOCK_OVER_RELEASE:
        return "more releases than acquisitions";
    case NTSIM_REMLOCK_WAIT_NOT_HELD:
        return "IoReleaseRemoveLockAndWait by a caller that holds no acquisition";
    default:
        return "misuse";
    }
}

VOID IopReportRemoveLockMisuse(PIO_REMOVE_LOCK Lock, ULONG Kind, PVOID Tag, PCSTR File, ULONG Line, ULONG64 Value)
{
    char site[300] = "";
    if (File)
        snprintf(site, sizeof(site), " acquired at %s:%u", File, Line);
    fprintf(stderr, "*** REMOVE LOCK %p: %s (tag %p%s, value %llu)\n", (void *)Lock, IopRemoveLockMisuseText(Kind),
            Tag, site, (unsigned long long)Value);
    fflush(stderr);
}
