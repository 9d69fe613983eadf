/*
 * ex_worker.c - system worker threads. Work (I/O work items, deferred
 * object deletion, the PnP manager's queued requests) runs at PASSIVE_LEVEL
 * on a pool of threads that grows on demand, so one blocked item never
 * keeps the others from running; threads stay for reuse until shutdown.
 * ExpWaitForWorkersIdle lets the host wait until everything queued has run;
 * work that never ends (a work item that re-queues itself forever, a
 * routine stuck in a driver) is reported as a stuck wait after twice the
 * stuck-wait limit instead of hanging the host or its shutdown.
 */
#include <errno.h>
#include <time.h>

#include "ntsim_internal.h"

#define EXP_MAX_WORKERS 64

typedef struct _EXP_WORK {
    struct _EXP_WORK *Next;
    EXP_WORKER_ROUTINE *Routine;
    PVOID Context;
} EXP_WORK;

static pthread_mutex_t ExpWorkLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ExpWorkAvailable = PTHREAD_COND_INITIALIZER;
static pthread_cond_t ExpWorkIdle = PTHREAD_COND_INITIALIZER;
static EXP_WORK *ExpQueueHead, *ExpQueueTail;
static ULONG ExpThreadCount, ExpIdleThreads, ExpRunning;
static BOOLEAN ExpStopping;
static __thread BOOLEAN ExpOnWorker;

static EXP_WORK *ExpDequeueLocked(void)
{
    EXP_WORK *work = ExpQueueHead;
    if (work) {
        ExpQueueHead = work->Next;
        if (!ExpQueueHead)
            ExpQueueTail = NULL;
    }
    return work;
}

static void *ExpWorkerThread(void *Unused)
{
    (void)Unused;
    ExpOnWorker = TRUE;
    pthread_mutex_lock(&ExpWorkLock);
    for (;;) {
        EXP_WORK *work = ExpDequeueLocked();
        if (!work) {
            if (ExpStopping)
                break;
            ExpIdleThreads++;
            pthread_cond_wait(&ExpWorkAvailable, &ExpWorkLock);
            ExpIdleThreads--;
            continue;
        }
        ExpRunning++;
        pthread_mutex_unlock(&ExpWorkLock);
        KipAsyncDelay();
        work->Routine(work->Context);
        if (KeGetCurrentIrql() != PASSIVE_LEVEL)
            KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, (ULONG_PTR)work->Routine, KeGetCurrentIrql(), 0, 0);
        free(work);
        pthread_mutex_lock(&ExpWorkLock);
        ExpRunning--;
        if (!ExpQueueHead && !ExpRunning)
            pthread_cond_broadcast(&ExpWorkIdle);
    }
    ExpThreadCount--;
    pthread_cond_broadcast(&ExpWorkIdle);
    pthread_mutex_unlock(&ExpWorkLock);
    return NULL;
}

/* Starts one more worker thread (ExpWorkLock held); FALSE if none could start. */
static BOOLEAN ExpStartWorkerLocked(void)
{
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&thread, &attr, ExpWorkerThread, NULL);
    pthread_attr_destroy(&attr);
    if (rc)
        return FALSE;
    ExpThreadCount++;
    return TRUE;
}

VOID ExpQueueWorkerRoutine(EXP_WORKER_ROUTINE *Routine, PVOID Context)
{
    EXP_WORK *work = RtlpAllocZero(sizeof(*work));
    work->Routine = Routine;
    work->Context = Context;
    pthread_mutex_lock(&ExpWorkLock);
    ExpStopping = FALSE;
    if (ExpQueueTail)
        ExpQueueTail->Next = work;
    else
        ExpQueueHead = work;
    ExpQueueTail = work;
    ULONG queued = 0;
    for (EXP_WORK *w = ExpQueueHead; w; w = w->Next)
        queued++;
    if (ExpIdleThreads < queued && ExpThreadCount < EXP_MAX_WORKERS)
        ExpStartWorkerLocked();
    if (!ExpThreadCount) {
        fputs("ntsim: cannot start a worker thread\n", stderr);
        abort();
    }
    pthread_cond_signal(&ExpWorkAvailable);
    pthread_mutex_unlock(&ExpWorkLock);
}

static BOOLEAN ExpBusyLocked(void)
{
    return ExpQueueHead || ExpRunning > (ExpOnWorker ? 1u : 0u);
}

BOOLEAN ExpWaitForWorkersIdle(void)
{
    ULONG limitMs = 2 * KipStuckWaitMs();
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += limitMs / 1000;
    deadline.tv_nsec += (long)(limitMs % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ExpWorkLock);
    BOOLEAN idle = TRUE;
    while (idle && ExpBusyLocked())
        idle = pthread_cond_timedwait(&ExpWorkIdle, &ExpWorkLock, &deadline) != ETIMEDOUT || !ExpBusyLocked();
    pthread_mutex_unlock(&ExpWorkLock);
    if (!idle) {
        KiReportStuckWait(&ExpQueueHead, "work items that never finish (one re-queues itself, or its routine never returns)",
                          limitMs);
        KipApplyStuckPolicy();
    }
    return idle;
}

BOOLEAN ExpAreWorkersIdle(void)
{
    pthread_mutex_lock(&ExpWorkLock);
    BOOLEAN idle = !ExpQueueHead && ExpRunning <= (ExpOnWorker ? 1u : 0u);
    pthread_mutex_unlock(&ExpWorkLock);
    return idle;
}

VOID ExpStopWorkers(void)
{
    if (!ExpWaitForWorkersIdle())
        return; /* reported: the busy workers are left running, the process may exit */
    pthread_mutex_lock(&ExpWorkLock);
    ExpStopping = TRUE;
    pthread_cond_broadcast(&ExpWorkAvailable);
    while (ExpThreadCount)
        pthread_cond_wait(&ExpWorkIdle, &ExpWorkLock);
    pthread_mutex_unlock(&ExpWorkLock);
}
