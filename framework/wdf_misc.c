/*
 * wdf_misc.c - the small KMDF objects: memory, spin locks, wait locks and
 * work items.
 *
 * A WDFMEMORY's buffer is pool charged to the driver that created it and
 * freed when the object is destroyed. A WDFWORKITEM runs on an I/O work
 * item of its device (which holds the device while queued, as
 * IoQueueWorkItem does); it is queued at most once at a time, and holds a
 * reference on itself while queued so that its deletion waits for it.
 */
#include <stdlib.h>

#include "wdf_internal.h"

typedef struct _WDFP_MEMORY {
    PVOID Buffer;
    size_t Size;
} WDFP_MEMORY;

typedef struct _WDFP_SPINLOCK {
    KSPIN_LOCK Lock;
    KIRQL Irql;
} WDFP_SPINLOCK;

typedef struct _WDFP_WAITLOCK {
    KEVENT Event;                 /* synchronization event, signalled = free */
} WDFP_WAITLOCK;

typedef struct _WDFP_WORKITEM {
    WDF_WORKITEM_CONFIG Config;
    PIO_WORKITEM IoItem;
    BOOLEAN Queued;               /* (WdfpLock) */
    BOOLEAN Running;              /* (WdfpLock) */
    KEVENT Idle;                  /* signalled while neither queued nor running */
} WDFP_WORKITEM;

/* The parent an object gets without Attributes->ParentObject: the calling driver's WDFDRIVER. */
static PWDFP_OBJECT WdfpDefaultParent(PWDF_OBJECT_ATTRIBUTES Attributes, PVOID Caller)
{
    if (Attributes && Attributes->ParentObject)
        return NULL; /* WdfpCreateObject takes it from the attributes */
    return WdfpDriverOfImage(LdrpFindImageByAddress((ULONG_PTR)Caller));
}

/* ---- memory ---------------------------------------------------------------------- */

static VOID WdfpReleaseMemory(PWDFP_OBJECT Object)
{
    WDFP_MEMORY *m = WdfpBody(Object, WDFP_MEMORY);
    if (m->Buffer)
        ExFreePool(m->Buffer);
}

NTSTATUS WdfMemoryCreate(PWDF_OBJECT_ATTRIBUTES Attributes, POOL_TYPE PoolType, ULONG PoolTag, size_t BufferSize,
                         WDFMEMORY *Memory, PVOID *Buffer)
{
    if (Memory)
        *Memory = NULL;
    if (Buffer)
        *Buffer = NULL;
    if (!Memory || BufferSize == 0)
        return STATUS_INVALID_PARAMETER;
    PVOID buffer = ExAllocatePoolWithTag(PoolType, BufferSize, PoolTag ? PoolTag : 'FDW ');
    if (!buffer)
        return STATUS_INSUFFICIENT_RESOURCES;
    PWDFP_OBJECT o = WdfpCreateObject(WdfpKindMemory, sizeof(WDFP_MEMORY),
                                      WdfpDefaultParent(Attributes, __builtin_return_address(0)), Attributes, TRUE);
    if (!o) {
        ExFreePool(buffer);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    WDFP_MEMORY *m = WdfpBody(o, WDFP_MEMORY);
    m->Buffer = buffer;
    m->Size = BufferSize;
    o->Release = WdfpReleaseMemory;
    FxObjectCreated(o);
    *Memory = (WDFMEMORY)o;
    if (Buffer)
        *Buffer = m->Buffer;
    return STATUS_SUCCESS;
}

PVOID WdfMemoryGetBuffer(WDFMEMORY Memory, size_t *BufferSize)
{
    WDFP_MEMORY *m = WdfpBody(WdfpObjectFromHandle(Memory, WdfpKindMemory), WDFP_MEMORY);
    if (BufferSize)
        *BufferSize = m->Size;
    return m->Buffer;
}

/* ---- locks ----------------------------------------------------------------------- */

NTSTATUS WdfSpinLockCreate(PWDF_OBJECT_ATTRIBUTES SpinLockAttributes, WDFSPINLOCK *SpinLock)
{
    PWDFP_OBJECT o = WdfpCreateObject(WdfpKindSpinLock, sizeof(WDFP_SPINLOCK),
                                      WdfpDefaultParent(SpinLockAttributes, __builtin_return_address(0)),
                                      SpinLockAttributes, TRUE);
    if (!o)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeSpinLock(&WdfpBody(o, WDFP_SPINLOCK)->Lock);
    FxObjectCreated(o);
    *SpinLock = (WDFSPINLOCK)o;
    return STATUS_SUCCESS;
}

VOID WdfSpinLockAcquire(WDFSPINLOCK SpinLock)
{
    WDFP_SPINLOCK *l = WdfpBody(WdfpObjectFromHandle(SpinLock, WdfpKindSpinLock), WDFP_SPINLOCK);
    KIRQL irql;
    KeAcquireSpinLock(&l->Lock, &irql);
    l->Irql = irql;
}

VOID WdfSpinLockRelease(WDFSPINLOCK SpinLock)
{
    WDFP_SPINLOCK *l = WdfpBody(WdfpObjectFromHandle(SpinLock, WdfpKindSpinLock), WDFP_SPINLOCK);
    KeReleaseSpinLock(&l->Lock, l->Irql);
}

NTSTATUS WdfWaitLockCreate(PWDF_OBJECT_ATTRIBUTES LockAttributes, WDFWAITLOCK *Lock)
{
    PWDFP_OBJECT o = WdfpCreateObject(WdfpKindWaitLock, sizeof(WDFP_WAITLOCK),
                                      WdfpDefaultParent(LockAttributes, __builtin_return_address(0)), LockAttributes,
                                      TRUE);
    if (!o)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&WdfpBody(o, WDFP_WAITLOCK)->Event, SynchronizationEvent, TRUE);
    FxObjectCreated(o);
    *Lock = (WDFWAITLOCK)o;
    return STATUS_SUCCESS;
}

NTSTATUS WdfWaitLockAcquire(WDFWAITLOCK Lock, PLONGLONG Timeout)
{
    WDFP_WAITLOCK *l = WdfpBody(WdfpObjectFromHandle(Lock, WdfpKindWaitLock), WDFP_WAITLOCK);
    LARGE_INTEGER limit = { .QuadPart = Timeout ? *Timeout : 0 };
    return KeWaitForSingleObject(&l->Event, Executive, KernelMode, FALSE, Timeout ? &limit : NULL);
}

VOID WdfWaitLockRelease(WDFWAITLOCK Lock)
{
    KeSetEvent(&WdfpBody(WdfpObjectFromHandle(Lock, WdfpKindWaitLock), WDFP_WAITLOCK)->Event, IO_NO_INCREMENT, FALSE);
}

/* ---- work items ------------------------------------------------------------------ */

static VOID WdfpWorkItemRun(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    (void)DeviceObject;
    PWDFP_OBJECT o = Context;
    WDFP_WORKITEM *w = WdfpBody(o, WDFP_WORKITEM);
    pthread_mutex_lock(&WdfpLock);
    w->Queued = FALSE;
    w->Running = TRUE;
    pthread_mutex_unlock(&WdfpLock);
    w->Config.EvtWorkItemFunc((WDFWORKITEM)o);
    pthread_mutex_lock(&WdfpLock);
    w->Running = FALSE;
    BOOLEAN idle = !w->Queued;
    pthread_mutex_unlock(&WdfpLock);
    if (idle)
        KeSetEvent(&w->Idle, IO_NO_INCREMENT, FALSE);
    WdfpDereference(o); /* the queued item's reference on itself */
}

static VOID WdfpReleaseWorkItem(PWDFP_OBJECT Object)
{
    IoFreeWorkItem(WdfpBody(Object, WDFP_WORKITEM)->IoItem);
}

NTSTATUS WdfWorkItemCreate(PWDF_WORKITEM_CONFIG Config, PWDF_OBJECT_ATTRIBUTES Attributes, WDFWORKITEM *WorkItem)
{
    if (WorkItem)
        *WorkItem = NULL;
    if (!Config || !Config->EvtWorkItemFunc || !Attributes || !Attributes->ParentObject || !WorkItem)
        return STATUS_INVALID_PARAMETER;
    PWDFP_OBJECT device = WdfpDeviceOf(WdfpObjectFromHandle(Attributes->ParentObject, WdfpKindCount));
    if (!device)
        return STATUS_INVALID_DEVICE_REQUEST;
    PIO_WORKITEM io = IoAllocateWorkItem(WdfDeviceWdmGetDeviceObject((WDFDEVICE)device));
    if (!io)
        return STATUS_INSUFFICIENT_RESOURCES;
    PWDFP_OBJECT o = WdfpCreateObject(WdfpKindWorkItem, sizeof(WDFP_WORKITEM), NULL, Attributes, TRUE);
    if (!o) {
        IoFreeWorkItem(io);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    WDFP_WORKITEM *w = WdfpBody(o, WDFP_WORKITEM);
    w->Config = *Config;
    w->IoItem = io;
    KeInitializeEvent(&w->Idle, NotificationEvent, TRUE);
    o->Release = WdfpReleaseWorkItem;
    FxObjectCreated(o);
    *WorkItem = (WDFWORKITEM)o;
    return STATUS_SUCCESS;
}

VOID WdfWorkItemEnqueue(WDFWORKITEM WorkItem)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(WorkItem, WdfpKindWorkItem);
    WDFP_WORKITEM *w = WdfpBody(o, WDFP_WORKITEM);
    pthread_mutex_lock(&WdfpLock);
    BOOLEAN queue = !w->Queued;
    w->Queued = TRUE;
    if (queue)
        KeClearEvent(&w->Idle);
    pthread_mutex_unlock(&WdfpLock);
    if (!queue)
        return;
    WdfpReference(o);
    IoQueueWorkItem(w->IoItem, WdfpWorkItemRun, DelayedWorkQueue, o);
}

WDFOBJECT WdfWorkItemGetParentObject(WDFWORKITEM WorkItem)
{
    return WdfObjectGetParentObject((WDFOBJECT)WorkItem);
}

VOID WdfWorkItemFlush(WDFWORKITEM WorkItem)
{
    WDFP_WORKITEM *w = WdfpBody(WdfpObjectFromHandle(WorkItem, WdfpKindWorkItem), WDFP_WORKITEM);
    KeWaitForSingleObject(&w->Idle, Executive, KernelMode, FALSE, NULL);
}
