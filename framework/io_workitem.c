/*
 * io_workitem.c - I/O work items: a queued item holds a pointer reference
 * on its device object (so the driver cannot unload under it) from
 * IoQueueWorkItem until its routine has returned on a system worker thread
 * (nt-semantics §2.6; D:IoQueueWorkItem). IoQueueWorkItemEx is the same
 * queueing with a routine that also receives the item.
 */
#include "ntsim_internal.h"

#define IOP_WORKITEM_MAGIC 0x576b4974u /* "WkIt" */

typedef struct _IO_WORKITEM {
    ULONG Magic;
    BOOLEAN Queued;
    PDEVICE_OBJECT DeviceObject;
    PIO_WORKITEM_ROUTINE Routine;       /* one of Routine and RoutineEx is set while queued */
    PIO_WORKITEM_ROUTINE_EX RoutineEx;
    PVOID Context;
} IO_WORKITEM;

PIO_WORKITEM IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject)
{
    if (!IopIsDeviceObject(DeviceObject))
        return NULL;
    PIO_WORKITEM item = calloc(1, sizeof(*item));
    if (!item)
        return NULL;
    item->Magic = IOP_WORKITEM_MAGIC;
    item->DeviceObject = DeviceObject;
    return item;
}

VOID IopCallWorkItemRoutine(PIO_WORKITEM IoWorkItem, PDEVICE_OBJECT DeviceObject, PIO_WORKITEM_ROUTINE Routine,
                            PIO_WORKITEM_ROUTINE_EX RoutineEx, PVOID Context)
{
    IopCheckCallTarget(RoutineEx ? (PVOID)RoutineEx : (PVOID)Routine, "work item routine", DeviceObject);
    if (RoutineEx)
        RoutineEx(DeviceObject, Context, IoWorkItem);
    else
        Routine(DeviceObject, Context);
    KipAsyncDelay(); /* the routine may have signalled a waiter: the release below is still owed */
    ObfDereferenceObject(DeviceObject); /* the queued item's reference */
}

/* Runs on a worker: the routine may free or requeue the item, so nothing is read from it afterwards. */
static VOID IopRunWorkItem(PVOID Context)
{
    PIO_WORKITEM item = Context;
    PDEVICE_OBJECT device = item->DeviceObject;
    PIO_WORKITEM_ROUTINE routine = item->Routine;
    PIO_WORKITEM_ROUTINE_EX routineEx = item->RoutineEx;
    PVOID routineContext = item->Context;
    item->Queued = FALSE;
    IopCallWorkItemRoutine(item, device, routine, routineEx, routineContext);
}

/* Both queue calls: references the item's device and hands the item to a worker. */
static VOID IopQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE Routine, PIO_WORKITEM_ROUTINE_EX RoutineEx,
                             PVOID Context)
{
    if (!IoWorkItem || IoWorkItem->Magic != IOP_WORKITEM_MAGIC || IoWorkItem->Queued)
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xE4 /* work item queued twice or invalid */,
                     (ULONG_PTR)IoWorkItem, RoutineEx ? (ULONG_PTR)RoutineEx : (ULONG_PTR)Routine, 0);
    ObfReferenceObject(IoWorkItem->DeviceObject);
    IoWorkItem->Routine = Routine;
    IoWorkItem->RoutineEx = RoutineEx;
    IoWorkItem->Context = Context;
    IoWorkItem->Queued = TRUE;
    ExpQueueWorkerRoutine(IopRunWorkItem, IoWorkItem);
}

VOID IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                     PVOID Context)
{
    (void)QueueType;
    IopQueueWorkItem(IoWorkItem, WorkerRoutine, NULL, Context);
}

VOID IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE_EX WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                       PVOID Context)
{
    (void)QueueType;
    IopQueueWorkItem(IoWorkItem, NULL, WorkerRoutine, Context);
}

VOID IoFreeWorkItem(PIO_WORKITEM IoWorkItem)
{
    if (!IoWorkItem || IoWorkItem->Magic != IOP_WORKITEM_MAGIC || IoWorkItem->Queued)
        KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0xE5 /* freeing a queued or invalid work item */,
                     (ULONG_PTR)IoWorkItem, 0, 0);
    IoWorkItem->Magic = 0;
    free(IoWorkItem);
}
