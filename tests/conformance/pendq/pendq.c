/*
 * pendq.c - conformance driver: a classic legacy driver with a queue of
 * pended IRPs, written straight from the WDK documentation.
 *
 * DriverEntry creates \Device\ConfPendQ and \DosDevices\ConfPendQ.
 * IOCTL_PENDQ_QUEUE marks the request pending, puts it on a spin-lock
 * protected LIST_ENTRY queue with a cancel routine and queues a work item
 * (IoAllocateWorkItem/IoQueueWorkItem) that completes every queued request
 * later, at PASSIVE_LEVEL. IOCTL_PENDQ_CANCEL_SELFTEST sends the driver an
 * IRP of its own (IoBuildDeviceIoControlRequest), leaves it queued, cancels
 * it with IoCancelIrp and reports the status the cancel routine completed
 * it with. IRP_MJ_CLEANUP cancels the closing handle's queued requests.
 * Per-handle context lives in pool (FileObject->FsContext), statistics are
 * protected by a FAST_MUTEX. DriverUnload waits for the work item to go
 * idle (KEVENT), frees it, and deletes the link and the device.
 */
#include <ntddk.h>

#define PENDQ_DEVICE_NAME L"\\Device\\ConfPendQ"
#define PENDQ_LINK_NAME L"\\DosDevices\\ConfPendQ"
#define PENDQ_TAG 'qPfC'

#define IOCTL_PENDQ_QUEUE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_PENDQ_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_PENDQ_HOLD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_PENDQ_CANCEL_SELFTEST CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _PENDQ_STATS {
    ULONG OpenHandles;
    ULONG Completed;
    ULONG Cancelled;
    ULONG Cleanups;
} PENDQ_STATS, *PPENDQ_STATS;

typedef struct _PENDQ_EXTENSION {
    PDEVICE_OBJECT Self;
    KSPIN_LOCK QueueLock;
    LIST_ENTRY Queue;
    PIO_WORKITEM WorkItem;
    BOOLEAN WorkItemQueued; /* under QueueLock, with WorkItemIdle */
    KEVENT WorkItemIdle; /* notification event, signaled while no work item is queued */
    FAST_MUTEX StatsLock;
    PENDQ_STATS Stats;
} PENDQ_EXTENSION, *PPENDQ_EXTENSION;

typedef struct _PENDQ_HANDLE_CONTEXT {
    ULONG Requests;
} PENDQ_HANDLE_CONTEXT, *PPENDQ_HANDLE_CONTEXT;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD PendqUnload;
_Dispatch_type_(IRP_MJ_CREATE) DRIVER_DISPATCH PendqCreate;
_Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH PendqClose;
_Dispatch_type_(IRP_MJ_CLEANUP) DRIVER_DISPATCH PendqCleanup;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH PendqDeviceControl;
DRIVER_CANCEL PendqCancel;
IO_WORKITEM_ROUTINE PendqWorker;

static NTSTATUS PendqComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static VOID PendqCountCompleted(PPENDQ_EXTENSION Ext, BOOLEAN Cancelled)
{
    ExAcquireFastMutex(&Ext->StatsLock);
    if (Cancelled)
        Ext->Stats.Cancelled++;
    else
        Ext->Stats.Completed++;
    ExReleaseFastMutex(&Ext->StatsLock);
}

_Use_decl_annotations_
VOID PendqCancel(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPENDQ_EXTENSION ext = DeviceObject->DeviceExtension;
    KIRQL irql;

    /* The I/O manager calls us holding the cancel spin lock. */
    IoReleaseCancelSpinLock(Irp->CancelIrql);

    KeAcquireSpinLock(&ext->QueueLock, &irql);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&ext->QueueLock, irql);

    PendqComplete(Irp, STATUS_CANCELLED, 0);
}

/* Queues Irp with a cancel routine; returns STATUS_PENDING, or STATUS_CANCELLED if already cancelled. */
static NTSTATUS PendqQueueIrp(PPENDQ_EXTENSION Ext, PIRP Irp)
{
    KIRQL irql;

    KeAcquireSpinLock(&Ext->QueueLock, &irql);
    IoSetCancelRoutine(Irp, PendqCancel);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        KeReleaseSpinLock(&Ext->QueueLock, irql);
        return PendqComplete(Irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(Irp);
    InsertTailList(&Ext->Queue, &Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&Ext->QueueLock, irql);
    return STATUS_PENDING;
}

/* PendqDequeue with QueueLock held. */
static PIRP PendqDequeueLocked(PPENDQ_EXTENSION Ext, PFILE_OBJECT FileObject)
{
    PLIST_ENTRY entry;

    for (entry = Ext->Queue.Flink; entry != &Ext->Queue; entry = entry->Flink) {
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
        if (FileObject != NULL && IoGetCurrentIrpStackLocation(irp)->FileObject != FileObject)
            continue;
        if (IoSetCancelRoutine(irp, NULL) == NULL)
            continue; /* being cancelled: the cancel routine removes and completes it */
        RemoveEntryList(entry);
        return irp;
    }
    return NULL;
}

/* Removes the first queued IRP whose cancel routine we still own and that matches FileObject (NULL = any). */
static PIRP PendqDequeue(PPENDQ_EXTENSION Ext, PFILE_OBJECT FileObject)
{
    KIRQL irql;
    PIRP found;

    KeAcquireSpinLock(&Ext->QueueLock, &irql);
    found = PendqDequeueLocked(Ext, FileObject);
    KeReleaseSpinLock(&Ext->QueueLock, irql);
    return found;
}

/*
 * The worker's next IRP; when none is left the work item goes idle in the
 * same critical section, so a request queued meanwhile either is returned
 * here or finds the item idle and queues it again (never both, never
 * neither: an idle event set while the item is queued again would let
 * DriverUnload free a queued item).
 */
static PIRP PendqNextOrIdle(PPENDQ_EXTENSION Ext)
{
    KIRQL irql;
    PIRP irp;

    KeAcquireSpinLock(&Ext->QueueLock, &irql);
    irp = PendqDequeueLocked(Ext, NULL);
    if (irp == NULL) {
        Ext->WorkItemQueued = FALSE;
        KeSetEvent(&Ext->WorkItemIdle, IO_NO_INCREMENT, FALSE);
    }
    KeReleaseSpinLock(&Ext->QueueLock, irql);
    return irp;
}

/* After a request was queued: TRUE when the work item was idle and is now the caller's to queue. */
static BOOLEAN PendqClaimWorkItem(PPENDQ_EXTENSION Ext)
{
    KIRQL irql;
    BOOLEAN claimed;

    KeAcquireSpinLock(&Ext->QueueLock, &irql);
    claimed = !Ext->WorkItemQueued;
    if (claimed) {
        Ext->WorkItemQueued = TRUE;
        KeClearEvent(&Ext->WorkItemIdle);
    }
    KeReleaseSpinLock(&Ext->QueueLock, irql);
    return claimed;
}

_Use_decl_annotations_
VOID PendqWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PPENDQ_EXTENSION ext = Context;
    PIRP irp;
    LARGE_INTEGER delay;

    PAGED_CODE();
    ASSERT(DeviceObject == ext->Self);

    /* Let the dispatch routine return STATUS_PENDING first: complete "later". */
    delay.QuadPart = -10 * 1000 * 20; /* 20 ms, relative */
    KeDelayExecutionThread(KernelMode, FALSE, &delay);

    while ((irp = PendqNextOrIdle(ext)) != NULL) {
        PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
        PULONG buffer = irp->AssociatedIrp.SystemBuffer;
        ULONG value = *buffer;
        *buffer = value * 2 + 1;
        UNREFERENCED_PARAMETER(stack);
        PendqCountCompleted(ext, FALSE);
        PendqComplete(irp, STATUS_SUCCESS, sizeof(ULONG));
    }
}

static NTSTATUS PendqCancelSelfTest(PPENDQ_EXTENSION Ext, PULONG Result)
{
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    ULONG value = 7;
    PIRP irp;
    NTSTATUS status;
    LARGE_INTEGER timeout;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(IOCTL_PENDQ_HOLD, Ext->Self, &value, sizeof(value), &value,
                                        sizeof(value), FALSE, &event, &iosb);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = IoCallDriver(Ext->Self, irp);
    if (status != STATUS_PENDING) {
        *Result = (ULONG)status;
        return STATUS_UNSUCCESSFUL;
    }
    if (!IoCancelIrp(irp))
        return STATUS_UNSUCCESSFUL;
    timeout.QuadPart = -10 * 1000 * 1000; /* 1 s */
    status = KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout);
    if (status == STATUS_TIMEOUT)
        return STATUS_IO_TIMEOUT;
    *Result = (ULONG)iosb.Status;
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS PendqDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPENDQ_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG inLength = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
    NTSTATUS status;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_PENDQ_QUEUE:
        if (inLength < sizeof(ULONG) || outLength < sizeof(ULONG))
            return PendqComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        if (stack->FileObject != NULL && stack->FileObject->FsContext != NULL)
            ((PPENDQ_HANDLE_CONTEXT)stack->FileObject->FsContext)->Requests++;
        status = PendqQueueIrp(ext, Irp);
        if (status == STATUS_PENDING && PendqClaimWorkItem(ext))
            IoQueueWorkItem(ext->WorkItem, PendqWorker, DelayedWorkQueue, ext);
        return status;
    case IOCTL_PENDQ_HOLD:
        /* Held until cancelled (or until the handle's cleanup). */
        return PendqQueueIrp(ext, Irp);
    case IOCTL_PENDQ_CANCEL_SELFTEST: {
        ULONG result = 0;
        if (outLength < sizeof(ULONG))
            return PendqComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        status = PendqCancelSelfTest(ext, &result);
        if (!NT_SUCCESS(status))
            return PendqComplete(Irp, status, 0);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = result;
        return PendqComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    }
    case IOCTL_PENDQ_STATS:
        if (outLength < sizeof(PENDQ_STATS))
            return PendqComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        ExAcquireFastMutex(&ext->StatsLock);
        RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, &ext->Stats, sizeof(PENDQ_STATS));
        ExReleaseFastMutex(&ext->StatsLock);
        return PendqComplete(Irp, STATUS_SUCCESS, sizeof(PENDQ_STATS));
    default:
        return PendqComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

_Use_decl_annotations_
NTSTATUS PendqCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPENDQ_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PPENDQ_HANDLE_CONTEXT context;

    PAGED_CODE();
    context = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*context), PENDQ_TAG);
    if (context == NULL)
        return PendqComplete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    RtlZeroMemory(context, sizeof(*context));
    stack->FileObject->FsContext = context;

    ExAcquireFastMutex(&ext->StatsLock);
    ext->Stats.OpenHandles++;
    ExReleaseFastMutex(&ext->StatsLock);
    return PendqComplete(Irp, STATUS_SUCCESS, FILE_OPENED);
}

_Use_decl_annotations_
NTSTATUS PendqCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPENDQ_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PIRP pending;

    while ((pending = PendqDequeue(ext, stack->FileObject)) != NULL) {
        PendqCountCompleted(ext, TRUE);
        PendqComplete(pending, STATUS_CANCELLED, 0);
    }
    ExAcquireFastMutex(&ext->StatsLock);
    ext->Stats.Cleanups++;
    ExReleaseFastMutex(&ext->StatsLock);
    return PendqComplete(Irp, STATUS_SUCCESS, 0);
}

_Use_decl_annotations_
NTSTATUS PendqClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPENDQ_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    PAGED_CODE();
    if (stack->FileObject->FsContext != NULL) {
        ExFreePoolWithTag(stack->FileObject->FsContext, PENDQ_TAG);
        stack->FileObject->FsContext = NULL;
    }
    ExAcquireFastMutex(&ext->StatsLock);
    ext->Stats.OpenHandles--;
    ExReleaseFastMutex(&ext->StatsLock);
    return PendqComplete(Irp, STATUS_SUCCESS, 0);
}

_Use_decl_annotations_
VOID PendqUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(PENDQ_LINK_NAME);
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PPENDQ_EXTENSION ext = device->DeviceExtension;

    PAGED_CODE();
    /* No handle is open (else we would not be called), but a work item may still run. */
    KeWaitForSingleObject(&ext->WorkItemIdle, Executive, KernelMode, FALSE, NULL);
    IoFreeWorkItem(ext->WorkItem);
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(device);
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(PENDQ_DEVICE_NAME);
    UNICODE_STRING linkName;
    PDEVICE_OBJECT device = NULL;
    PPENDQ_EXTENSION ext;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&linkName, PENDQ_LINK_NAME);

    status = IoCreateDevice(DriverObject, sizeof(PENDQ_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ext->Self = device;
    KeInitializeSpinLock(&ext->QueueLock);
    InitializeListHead(&ext->Queue);
    KeInitializeEvent(&ext->WorkItemIdle, NotificationEvent, TRUE);
    ExInitializeFastMutex(&ext->StatsLock);
    ext->WorkItem = IoAllocateWorkItem(device);
    if (ext->WorkItem == NULL) {
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }

    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoFreeWorkItem(ext->WorkItem);
        IoDeleteDevice(device);
        return status;
    }

    DriverObject->MajorFunction[IRP_MJ_CREATE] = PendqCreate;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PendqClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = PendqCleanup;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PendqDeviceControl;
    DriverObject->DriverUnload = PendqUnload;

    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
