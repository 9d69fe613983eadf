/*
 * pnp_worker.c - the PnP manager's worker thread and the requests it runs.
 *
 * Every change to the device tree runs on one dedicated PnP thread, in
 * order, as on Windows: the host's requests (plug, unplug, disable, enable,
 * eject) and the drivers' (IoInvalidateDeviceRelations,
 * IoInvalidateDeviceState, IoRequestDeviceEject - asynchronous: they only
 * queue). A host request waits for its result; if the work gets stuck in a
 * driver (a remove-lock or run-down wait reports it through
 * PipNoteCurrentThreadStuck, or nothing comes back within twice the
 * stuck-wait limit) the host gets STATUS_TIMEOUT and the PnP thread is left
 * waiting in the background, so the simulation reports instead of hanging.
 * The thread is the simulation's own, not a system worker, so a stuck PnP
 * thread never blocks NtsimShutdown. While some devnode waits for its file
 * objects to close (surprise removal), the thread re-checks it every few
 * milliseconds; PipWaitIdle checks it synchronously.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "pnp_internal.h"

typedef struct _PIP_REQUEST {
    struct _PIP_REQUEST *Next;
    PIP_REQUEST_KIND Kind;
    char *Text1, *Text2;
    PDEVICE_OBJECT Device;  /* referenced while queued */
    NTSTATUS (*Routine)(const char *Text); /* PipRequestCall: runs Routine(Text1) */
    NTSTATUS Status;
    NTSIM_VETO Veto;
    BOOLEAN Waited;         /* a host waits for it */
    BOOLEAN Done;
    BOOLEAN Stuck;          /* the PnP thread reported a stuck wait while running it */
    BOOLEAN Abandoned;      /* the host gave up: the worker frees it */
} PIP_REQUEST;

static pthread_mutex_t PipQueueLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t PipQueueChanged = PTHREAD_COND_INITIALIZER; /* work queued, request done, idle */
static PIP_REQUEST *PipQueueHead, *PipQueueTail;
static PIP_REQUEST *PipCurrentRequest;
static BOOLEAN PipWorkerStarted;
static BOOLEAN PipWorkerStuck; /* the PnP thread reported a stuck wait in its current request */
static __thread BOOLEAN PipOnWorker;

#define PIP_POLL_NS 5000000ll /* re-check pending closes every 5 ms */

BOOLEAN PipIsPnpWorkerThread(void)
{
    return PipOnWorker;
}

static VOID PipFreeRequest(PIP_REQUEST *Request)
{
    free(Request->Text1);
    free(Request->Text2);
    free(Request);
}

/* ---- running one request ------------------------------------------------ */

static PDEVICE_NODE PipFindForRequest(const char *InstanceId)
{
    pthread_mutex_lock(&PiTreeLock);
    PDEVICE_NODE node = PipFindDevnodeLocked(InstanceId);
    pthread_mutex_unlock(&PiTreeLock);
    return node;
}

static NTSTATUS PipDoPlug(const char *HardwareId, const char *InstanceId)
{
    if (PipFindForRequest(InstanceId))
        return STATUS_OBJECT_NAME_COLLISION;
    PDEVICE_OBJECT pdo;
    NTSTATUS status = PipCreateRootPdo(&pdo);
    if (!NT_SUCCESS(status))
        return status;
    PipSetRootPdoIds(pdo, HardwareId, InstanceId);
    PDEVICE_NODE node = PipCreateDevnode(PipRootNode, pdo, HardwareId, InstanceId);
    ObfReferenceObject(pdo); /* held across the work: the devnode may go meanwhile */
    status = PipStartDevnode(node);
    ObfDereferenceObject(pdo);
    return status;
}

static NTSTATUS PipDoNodeRequest(PIP_REQUEST *Request, PDEVICE_NODE Node)
{
    NTSTATUS status = STATUS_SUCCESS;
    switch (Request->Kind) {
    case PipRequestUnplug:
        if (!Node->RootEnumerated)
            return STATUS_INVALID_DEVICE_REQUEST; /* a bus driver reports its own children gone */
        PipSetRootPdoPresent(Node->PhysicalDeviceObject, FALSE);
        PipEnumerateDevnode(PipRootNode);
        break;
    case PipRequestDisable:
        if (Node->Disabled)
            break;
        status = PipQueryRemoveAndRemove(Node, &Request->Veto, FALSE);
        if (NT_SUCCESS(status) && Node->InTree) {
            Node->Disabled = TRUE;
            Node->Problem = CM_PROB_DISABLED;
        }
        break;
    case PipRequestEnable:
        if (!Node->Disabled && Node->State != DeviceNodeRemoved)
            break;
        Node->Disabled = FALSE;
        status = PipStartDevnode(Node);
        break;
    case PipRequestEject:
        status = PipQueryRemoveAndRemove(Node, &Request->Veto, TRUE);
        break;
    case PipRequestEnumerate:
        PipEnumerateDevnode(Node);
        break;
    case PipRequestDeviceState:
        if (PipIsActive(Node))
            PipQueryPnpDeviceState(Node);
        break;
    default:
        break;
    }
    return status;
}

static NTSTATUS PipRunRequest(PIP_REQUEST *Request)
{
    if (Request->Kind == PipRequestPlug)
        return PipDoPlug(Request->Text1, Request->Text2);
    if (Request->Kind == PipRequestCall)
        return Request->Routine(Request->Text1);
    if (Request->Kind == PipRequestProcessCloses) {
        PipProcessPendingCloses();
        return STATUS_SUCCESS;
    }
    PDEVICE_NODE node = Request->Device ? PipGetDevnode(Request->Device) : PipFindForRequest(Request->Text1);
    if (!node || (!node->InTree && node != PipRootNode))
        return STATUS_NO_SUCH_DEVICE;
    PDEVICE_OBJECT pdo = node->PhysicalDeviceObject;
    if (pdo)
        ObfReferenceObject(pdo); /* keeps the devnode record while the work runs */
    NTSTATUS status = PipDoNodeRequest(Request, node);
    if (pdo)
        ObfDereferenceObject(pdo);
    return status;
}

/* ---- the thread ------------------------------------------------------------ */

static PIP_REQUEST *PipDequeueLocked(void)
{
    PIP_REQUEST *r = PipQueueHead;
    if (r) {
        PipQueueHead = r->Next;
        if (!PipQueueHead)
            PipQueueTail = NULL;
    }
    return r;
}

static VOID PipFinishRequest(PIP_REQUEST *Request, NTSTATUS Status)
{
    PDEVICE_OBJECT device = Request->Device;
    Request->Device = NULL;
    if (device)
        ObfDereferenceObject(device);
    pthread_mutex_lock(&PipQueueLock);
    Request->Status = Status;
    Request->Done = TRUE;
    PipCurrentRequest = NULL;
    PipWorkerStuck = FALSE;
    BOOLEAN free_it = !Request->Waited || Request->Abandoned;
    pthread_cond_broadcast(&PipQueueChanged);
    pthread_mutex_unlock(&PipQueueLock);
    if (free_it)
        PipFreeRequest(Request);
}

/* Waits for work; with devnodes pending closes, wakes up regularly to re-check them. */
static PIP_REQUEST *PipWaitForWork(void)
{
    pthread_mutex_lock(&PipQueueLock);
    for (;;) {
        PIP_REQUEST *r = PipDequeueLocked();
        if (r) {
            PipCurrentRequest = r;
            pthread_mutex_unlock(&PipQueueLock);
            return r;
        }
        pthread_mutex_unlock(&PipQueueLock);
        BOOLEAN poll = PipAnyPendingCloses();
        if (poll) {
            KipAsyncDelay();
            PipProcessPendingCloses();
        }
        pthread_mutex_lock(&PipQueueLock);
        if (PipQueueHead)
            continue;
        if (poll) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long ns = ts.tv_nsec + PIP_POLL_NS;
            ts.tv_sec += ns / 1000000000ll;
            ts.tv_nsec = ns % 1000000000ll;
            pthread_cond_timedwait(&PipQueueChanged, &PipQueueLock, &ts);
        } else {
            pthread_cond_wait(&PipQueueChanged, &PipQueueLock);
        }
    }
}

static void *PipWorkerThread(void *Unused)
{
    (void)Unused;
    PipOnWorker = TRUE;
    for (;;) {
        PIP_REQUEST *request = PipWaitForWork();
        if (!request->Waited)
            KipAsyncDelay();
        PipFinishRequest(request, PipRunRequest(request));
    }
    return NULL;
}

static VOID PipStartWorkerLocked(void)
{
    if (PipWorkerStarted)
        return;
    pthread_t thread;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, PipWorkerThread, NULL) != 0) {
        fputs("ntsim: cannot start the PnP thread\n", stderr);
        abort();
    }
    pthread_attr_destroy(&attr);
    PipWorkerStarted = TRUE;
}

/* ---- queueing and waiting --------------------------------------------------- */

VOID PipNoteCurrentThreadStuck(void)
{
    if (!PipOnWorker)
        return;
    pthread_mutex_lock(&PipQueueLock);
    if (PipCurrentRequest)
        PipCurrentRequest->Stuck = TRUE;
    PipWorkerStuck = TRUE;
    pthread_cond_broadcast(&PipQueueChanged);
    pthread_mutex_unlock(&PipQueueLock);
}

static const char *PipRequestName(PIP_REQUEST_KIND Kind)
{
    static const char *const names[] = { "plug", "unplug", "disable", "enable", "eject", "enumerate",
                                         "device state", "pending closes", "system call" };
    return (ULONG)Kind < RTL_NUMBER_OF(names) ? names[Kind] : "request";
}

/* Waits for Request (PipQueueLock held); STATUS_TIMEOUT when it got stuck. */
static NTSTATUS PipWaitForRequestLocked(PIP_REQUEST *Request)
{
    struct timespec start, deadline;
    clock_gettime(CLOCK_REALTIME, &start);
    long long limitNs = 2ll * KipStuckWaitMs() * 1000000ll;
    deadline.tv_sec = start.tv_sec + (time_t)((start.tv_nsec + limitNs) / 1000000000ll);
    deadline.tv_nsec = (start.tv_nsec + limitNs) % 1000000000ll;
    while (!Request->Done && !Request->Stuck && !PipWorkerStuck) {
        if (pthread_cond_timedwait(&PipQueueChanged, &PipQueueLock, &deadline) == ETIMEDOUT)
            break;
    }
    if (Request->Done)
        return Request->Status;
    BOOLEAN reported = Request->Stuck || PipWorkerStuck;
    Request->Abandoned = TRUE;
    if (!reported) {
        char what[300];
        snprintf(what, sizeof(what), "PnP %s of %s (the PnP thread is busy in a driver)",
                 PipRequestName(Request->Kind), Request->Text1 ? Request->Text1 : "a device");
        pthread_mutex_unlock(&PipQueueLock);
        KiReportStuckWait(Request, what, 2 * KipStuckWaitMs());
        KipApplyStuckPolicy();
        pthread_mutex_lock(&PipQueueLock);
    }
    return STATUS_TIMEOUT;
}

/* Queues a request; with Wait (and off the PnP thread) waits for its status, stuck-aware. */
static NTSTATUS PipQueue(PIP_REQUEST_KIND Kind, NTSTATUS (*Routine)(const char *), const char *Text1,
                         const char *Text2, PDEVICE_OBJECT Device, PNTSIM_VETO Veto, BOOLEAN Wait)
{
    if (Kind != PipRequestCall) /* a call from another subsystem needs the thread, not the device tree */
        PipInitializePnp();
    PIP_REQUEST *r = RtlpAllocZero(sizeof(*r));
    r->Kind = Kind;
    r->Routine = Routine;
    r->Text1 = Text1 ? RtlpStrDup(Text1) : NULL;
    r->Text2 = Text2 ? RtlpStrDup(Text2) : NULL;
    r->Waited = Wait && !PipOnWorker;
    if (Device) {
        ObfReferenceObject(Device);
        r->Device = Device;
    }
    pthread_mutex_lock(&PipQueueLock);
    PipStartWorkerLocked();
    if (PipQueueTail)
        PipQueueTail->Next = r;
    else
        PipQueueHead = r;
    PipQueueTail = r;
    pthread_cond_broadcast(&PipQueueChanged);
    if (!r->Waited) {
        pthread_mutex_unlock(&PipQueueLock);
        return STATUS_PENDING;
    }
    NTSTATUS status = PipWaitForRequestLocked(r);
    BOOLEAN done = r->Done;
    if (done && Veto)
        *Veto = r->Veto;
    pthread_mutex_unlock(&PipQueueLock);
    if (done)
        PipFreeRequest(r);
    return status;
}

NTSTATUS PipQueueRequest(PIP_REQUEST_KIND Kind, const char *Text1, const char *Text2, PDEVICE_OBJECT Device,
                         PNTSIM_VETO Veto, BOOLEAN Wait)
{
    return PipQueue(Kind, NULL, Text1, Text2, Device, Veto, Wait);
}

NTSTATUS PipCallOnPnpThread(NTSTATUS (*Routine)(const char *Text), const char *Text)
{
    if (PipOnWorker)
        return Routine(Text);
    return PipQueue(PipRequestCall, Routine, Text, NULL, NULL, NULL, TRUE);
}

/* ---- host API --------------------------------------------------------------- */

static BOOLEAN PipIsIdle(void)
{
    pthread_mutex_lock(&PipQueueLock);
    BOOLEAN idle = !PipQueueHead && !PipCurrentRequest;
    pthread_mutex_unlock(&PipQueueLock);
    return idle;
}

/* Waits until the PnP thread has nothing queued; FALSE if it is stuck in a driver (reported). */
static BOOLEAN PipWaitIdle(void)
{
    pthread_mutex_lock(&PipQueueLock);
    BOOLEAN started = PipWorkerStarted;
    pthread_mutex_unlock(&PipQueueLock);
    if (!started || PipOnWorker)
        return TRUE;
    do {
        if (PipQueueRequest(PipRequestProcessCloses, NULL, NULL, NULL, NULL, TRUE) == STATUS_TIMEOUT)
            return FALSE;
    } while (!PipIsIdle());
    return TRUE;
}

VOID NtsimWaitIdle(void)
{
    /* A work item may queue PnP work and a PnP request may queue a work item: repeat until both are idle. */
    do {
        if (!PipWaitIdle() || !ExpWaitForWorkersIdle())
            return;
    } while (!PipIsIdle() || !ExpAreWorkersIdle());
}

BOOLEAN NtsimIsIdle(void)
{
    return PipIsIdle() && ExpAreWorkersIdle();
}

NTSTATUS NtsimPlugDevice(const char *HardwareId, const char *InstanceId)
{
    if (!HardwareId || !InstanceId || !*InstanceId)
        return STATUS_INVALID_PARAMETER;
    return PipQueueRequest(PipRequestPlug, HardwareId, InstanceId, NULL, NULL, TRUE);
}

NTSTATUS NtsimUnplugDevice(const char *InstanceId)
{
    if (!InstanceId)
        return STATUS_INVALID_PARAMETER;
    return PipQueueRequest(PipRequestUnplug, InstanceId, NULL, NULL, NULL, TRUE);
}

static NTSTATUS PipRemovalRequest(PIP_REQUEST_KIND Kind, const char *InstanceId, PNTSIM_VETO Veto)
{
    if (Veto)
        memset(Veto, 0, sizeof(*Veto));
    if (!InstanceId)
        return STATUS_INVALID_PARAMETER;
    return PipQueueRequest(Kind, InstanceId, NULL, NULL, Veto, TRUE);
}

NTSTATUS NtsimDisableDevice(const char *InstanceId, PNTSIM_VETO Veto)
{
    return PipRemovalRequest(PipRequestDisable, InstanceId, Veto);
}

NTSTATUS NtsimEnableDevice(const char *InstanceId)
{
    if (!InstanceId)
        return STATUS_INVALID_PARAMETER;
    return PipQueueRequest(PipRequestEnable, InstanceId, NULL, NULL, NULL, TRUE);
}

NTSTATUS NtsimEjectDevice(const char *InstanceId, PNTSIM_VETO Veto)
{
    return PipRemovalRequest(PipRequestEject, InstanceId, Veto);
}

/* ---- driver-facing calls ---------------------------------------------------- */

VOID IoInvalidateDeviceRelations(PDEVICE_OBJECT DeviceObject, DEVICE_RELATION_TYPE Type)
{
    if (Type != BusRelations || !DeviceObject)
        return; /* removal/ejection relations are not modelled */
    PipQueueRequest(PipRequestEnumerate, NULL, NULL, PipGetStackBottom(DeviceObject), NULL, FALSE);
}

VOID IoInvalidateDeviceState(PDEVICE_OBJECT PhysicalDeviceObject)
{
    if (PhysicalDeviceObject)
        PipQueueRequest(PipRequestDeviceState, NULL, NULL, PhysicalDeviceObject, NULL, FALSE);
}

VOID IoRequestDeviceEject(PDEVICE_OBJECT PhysicalDeviceObject)
{
    if (PhysicalDeviceObject)
        PipQueueRequest(PipRequestEject, NULL, NULL, PhysicalDeviceObject, NULL, FALSE);
}
