/*
 * complete.c - conformance driver: IRP completion routines.
 *
 * DriverEntry builds a two-device stack inside one driver: a named bottom
 * device \Device\ConfComplete (link \DosDevices\ConfComplete) and an
 * unnamed filter device attached above it with IoAttachDeviceToDeviceStack,
 * so opens of the name and their IRPs reach the filter first. The filter:
 *  - IOCTL_COMPLETE_SYNC: forwards the IRP (IoCopyCurrentIrpStackLocationToNext)
 *    with a completion routine that signals a KEVENT and returns
 *    STATUS_MORE_PROCESSING_REQUIRED, waits, edits the result and completes
 *    the IRP again; the bottom device pends the request and completes it
 *    from a work item;
 *  - IOCTL_COMPLETE_ASYNC(_PEND): forwards with a completion routine that
 *    propagates the pending flag (if (Irp->PendingReturned) IoMarkIrpPending)
 *    and edits the output on the way up, returning STATUS_CONTINUE_COMPLETION;
 *    the bottom device completes ASYNC at once and ASYNC_PEND later;
 *  - IOCTL_COMPLETE_OWN_IRP: allocates its own IRP (IoAllocateIrp with the
 *    bottom device's StackSize), sets a completion routine that keeps the
 *    IRP (STATUS_MORE_PROCESSING_REQUIRED) and frees it with IoFreeIrp;
 *  - IOCTL_COMPLETE_REPORT: what the completion routines saw (the
 *    DeviceObject they were passed, PendingReturned);
 *  - everything else: IoSkipCurrentIrpStackLocation + IoCallDriver.
 * DriverUnload detaches the filter, deletes both devices and the link - but
 * as a legacy driver whose own device has something attached above it, a
 * stop never gets as far as calling it (nt-semantics §3.2 step 6).
 */
#include <ntddk.h>

#define COMPLETE_DEVICE_NAME L"\\Device\\ConfComplete"
#define COMPLETE_LINK_NAME L"\\DosDevices\\ConfComplete"
#define COMPLETE_TAG 'pmCC'

#define IOCTL_COMPLETE_SYNC CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_ASYNC CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_OWN_IRP CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB02, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_REPORT CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB03, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_ASYNC_PEND CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB04, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_BOTTOM_VALUE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB10, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_COMPLETE_BOTTOM_PEND CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB11, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* Bits of the report */
#define REPORT_SYNC_SAW_FILTER 0x01    /* SyncCompletion got the filter device */
#define REPORT_SYNC_PENDING 0x02       /* ... and PendingReturned was TRUE */
#define REPORT_ASYNC_SAW_FILTER 0x04   /* AsyncCompletion got the filter device */
#define REPORT_ASYNC_PENDING 0x08      /* ... and PendingReturned was TRUE */
#define REPORT_OWN_SAW_NULL 0x10       /* OwnIrpCompletion got NULL (no stack location of ours) */
#define REPORT_OWN_STATUS_OK 0x20      /* ... and the IRP's status was STATUS_SUCCESS */
#define REPORT_SKIP_NO_ROUTINE 0x40    /* passing CREATE down with IoSkip... left no routine of ours */
#define REPORT_STACK_SIZE 0x80         /* filter StackSize == bottom StackSize + 1 */
#define REPORT_ATTACHED_DEVICE 0x100   /* bottom->AttachedDevice == filter */
#define REPORT_ATTACHED_REF 0x200      /* IoGetAttachedDeviceReference(bottom) == filter */

typedef enum { RoleBottom, RoleFilter } COMPLETE_ROLE;

typedef struct _COMPLETE_EXTENSION {
    COMPLETE_ROLE Role;
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT Lower;     /* filter: the device it is attached to */
    PIO_WORKITEM WorkItem;    /* bottom: completes pended requests */
    KSPIN_LOCK Lock;
    LIST_ENTRY Pending;       /* bottom: pended requests */
    BOOLEAN WorkQueued;       /* bottom: under Lock, with Idle */
    KEVENT Idle;              /* bottom: no work item queued */
    LONG Report;              /* filter: REPORT_* bits */
} COMPLETE_EXTENSION, *PCOMPLETE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD CompleteUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) _Dispatch_type_(IRP_MJ_CLEANUP)
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH CompleteDispatch;
IO_COMPLETION_ROUTINE SyncCompletion;
IO_COMPLETION_ROUTINE AsyncCompletion;
IO_COMPLETION_ROUTINE OwnIrpCompletion;
IO_WORKITEM_ROUTINE BottomWorker;

static PDEVICE_OBJECT g_Filter; /* for the completion routines' checks */

static NTSTATUS CompleteIrp(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* ---- bottom device ---------------------------------------------------- */

_Use_decl_annotations_
VOID BottomWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PCOMPLETE_EXTENSION ext = DeviceObject->DeviceExtension;
    LARGE_INTEGER delay;
    KIRQL irql;

    UNREFERENCED_PARAMETER(Context);
    delay.QuadPart = -10 * 1000 * 10; /* 10 ms: the dispatch routine has returned STATUS_PENDING by now */
    KeDelayExecutionThread(KernelMode, FALSE, &delay);

    KeAcquireSpinLock(&ext->Lock, &irql);
    while (!IsListEmpty(&ext->Pending)) {
        PLIST_ENTRY entry = RemoveHeadList(&ext->Pending);
        PIRP irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
        KeReleaseSpinLock(&ext->Lock, irql);
        *(PULONG)irp->AssociatedIrp.SystemBuffer = 0xB0;
        CompleteIrp(irp, STATUS_SUCCESS, sizeof(ULONG));
        KeAcquireSpinLock(&ext->Lock, &irql);
    }
    /* idle in the section that found the list empty: a request queued later queues the item again */
    ext->WorkQueued = FALSE;
    KeSetEvent(&ext->Idle, IO_NO_INCREMENT, FALSE);
    KeReleaseSpinLock(&ext->Lock, irql);
}

static NTSTATUS BottomDispatch(PCOMPLETE_EXTENSION Ext, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    KIRQL irql;
    BOOLEAN queue;

    if (stack->MajorFunction != IRP_MJ_DEVICE_CONTROL)
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
        return CompleteIrp(Irp, STATUS_BUFFER_TOO_SMALL, 0);

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_COMPLETE_BOTTOM_VALUE:
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = 0xA0;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(ULONG));
    case IOCTL_COMPLETE_SYNC:      /* forwarded by the filter: completed later */
    case IOCTL_COMPLETE_ASYNC_PEND:
    case IOCTL_COMPLETE_BOTTOM_PEND:
        IoMarkIrpPending(Irp);
        KeAcquireSpinLock(&Ext->Lock, &irql);
        InsertTailList(&Ext->Pending, &Irp->Tail.Overlay.ListEntry);
        queue = !Ext->WorkQueued;
        if (queue) {
            Ext->WorkQueued = TRUE;
            KeClearEvent(&Ext->Idle);
        }
        KeReleaseSpinLock(&Ext->Lock, irql);
        if (queue)
            IoQueueWorkItem(Ext->WorkItem, BottomWorker, DelayedWorkQueue, NULL);
        return STATUS_PENDING;
    case IOCTL_COMPLETE_ASYNC:     /* forwarded by the filter: completed at once */
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = 0xC0;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(ULONG));
    default:
        return CompleteIrp(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

/* ---- filter device ---------------------------------------------------- */

_Use_decl_annotations_
NTSTATUS SyncCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PCOMPLETE_EXTENSION ext = g_Filter->DeviceExtension;

    if (DeviceObject == g_Filter)
        InterlockedOr(&ext->Report, REPORT_SYNC_SAW_FILTER);
    if (Irp->PendingReturned)
        InterlockedOr(&ext->Report, REPORT_SYNC_PENDING);
    /* No IoMarkIrpPending here: the dispatch routine waits and completes the IRP itself. */
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

_Use_decl_annotations_
NTSTATUS AsyncCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PCOMPLETE_EXTENSION ext = Context;

    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    if (DeviceObject == ext->Self)
        InterlockedOr(&ext->Report, REPORT_ASYNC_SAW_FILTER);
    if (Irp->PendingReturned)
        InterlockedOr(&ext->Report, REPORT_ASYNC_PENDING);
    if (NT_SUCCESS(Irp->IoStatus.Status))
        *(PULONG)Irp->AssociatedIrp.SystemBuffer += 0x0C00;
    return STATUS_CONTINUE_COMPLETION;
}

_Use_decl_annotations_
NTSTATUS OwnIrpCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PCOMPLETE_EXTENSION ext = g_Filter->DeviceExtension;

    if (DeviceObject == NULL)
        InterlockedOr(&ext->Report, REPORT_OWN_SAW_NULL);
    if (Irp->IoStatus.Status == STATUS_SUCCESS)
        InterlockedOr(&ext->Report, REPORT_OWN_STATUS_OK);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED; /* the IRP is ours: IoFreeIrp after the wait */
}

static NTSTATUS FilterSendOwnIrp(PCOMPLETE_EXTENSION Ext, PULONG Value)
{
    KEVENT event;
    PIRP irp;
    PIO_STACK_LOCATION next;
    PULONG buffer;
    NTSTATUS status;

    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(ULONG), COMPLETE_TAG);
    if (buffer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    irp = IoAllocateIrp(Ext->Lower->StackSize, FALSE);
    if (irp == NULL) {
        ExFreePoolWithTag(buffer, COMPLETE_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *buffer = 0;
    irp->AssociatedIrp.SystemBuffer = buffer;
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.IoControlCode = IOCTL_COMPLETE_BOTTOM_VALUE;
    next->Parameters.DeviceIoControl.InputBufferLength = 0;
    next->Parameters.DeviceIoControl.OutputBufferLength = sizeof(ULONG);

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoSetCompletionRoutine(irp, OwnIrpCompletion, &event, TRUE, TRUE, TRUE);
    status = IoCallDriver(Ext->Lower, irp);
    if (status == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        *Value = *buffer;
    IoFreeIrp(irp);
    ExFreePoolWithTag(buffer, COMPLETE_TAG);
    return status;
}

static NTSTATUS FilterDispatch(PCOMPLETE_EXTENSION Ext, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    KEVENT event;
    NTSTATUS status;
    ULONG value = 0;

    if (stack->MajorFunction != IRP_MJ_DEVICE_CONTROL) {
        IoSkipCurrentIrpStackLocation(Irp);
        if (IoGetCurrentIrpStackLocation(Irp) == stack + 1 && stack[0].CompletionRoutine == NULL)
            InterlockedOr(&Ext->Report, REPORT_SKIP_NO_ROUTINE);
        return IoCallDriver(Ext->Lower, Irp);
    }

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_COMPLETE_SYNC:
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, SyncCompletion, &event, TRUE, TRUE, TRUE);
        status = IoCallDriver(Ext->Lower, Irp);
        if (status == STATUS_PENDING) {
            KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
            status = Irp->IoStatus.Status;
        }
        if (NT_SUCCESS(status))
            *(PULONG)Irp->AssociatedIrp.SystemBuffer += 0x0500;
        /* Completed a second time, now for good. */
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    case IOCTL_COMPLETE_ASYNC:
    case IOCTL_COMPLETE_ASYNC_PEND:
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, AsyncCompletion, Ext, TRUE, TRUE, TRUE);
        return IoCallDriver(Ext->Lower, Irp);
    case IOCTL_COMPLETE_OWN_IRP:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return CompleteIrp(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        status = FilterSendOwnIrp(Ext, &value);
        if (!NT_SUCCESS(status))
            return CompleteIrp(Irp, status, 0);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = value;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(ULONG));
    case IOCTL_COMPLETE_REPORT: {
        PDEVICE_OBJECT top;
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return CompleteIrp(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        if (Ext->Self->StackSize == Ext->Lower->StackSize + 1)
            InterlockedOr(&Ext->Report, REPORT_STACK_SIZE);
        if (Ext->Lower->AttachedDevice == Ext->Self)
            InterlockedOr(&Ext->Report, REPORT_ATTACHED_DEVICE);
        top = IoGetAttachedDeviceReference(Ext->Lower);
        if (top == Ext->Self)
            InterlockedOr(&Ext->Report, REPORT_ATTACHED_REF);
        ObDereferenceObject(top);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = (ULONG)Ext->Report;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(ULONG));
    }
    default:
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(Ext->Lower, Irp);
    }
}

_Use_decl_annotations_
NTSTATUS CompleteDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCOMPLETE_EXTENSION ext = DeviceObject->DeviceExtension;

    if (ext->Role == RoleFilter)
        return FilterDispatch(ext, Irp);
    return BottomDispatch(ext, Irp);
}

/* ---- load and unload -------------------------------------------------- */

_Use_decl_annotations_
VOID CompleteUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(COMPLETE_LINK_NAME);
    PCOMPLETE_EXTENSION filterExt = g_Filter->DeviceExtension;
    PDEVICE_OBJECT bottom = filterExt->Lower;
    PCOMPLETE_EXTENSION bottomExt = bottom->DeviceExtension;

    PAGED_CODE();
    UNREFERENCED_PARAMETER(DriverObject);
    KeWaitForSingleObject(&bottomExt->Idle, Executive, KernelMode, FALSE, NULL);
    IoFreeWorkItem(bottomExt->WorkItem);
    IoDetachDevice(bottom);
    IoDeleteDevice(g_Filter);
    g_Filter = NULL;
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(bottom);
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(COMPLETE_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(COMPLETE_LINK_NAME);
    PDEVICE_OBJECT bottom, filter;
    PCOMPLETE_EXTENSION bottomExt, filterExt;
    NTSTATUS status;
    ULONG i;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(COMPLETE_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &bottom);
    if (!NT_SUCCESS(status))
        return status;
    bottomExt = bottom->DeviceExtension;
    bottomExt->Role = RoleBottom;
    bottomExt->Self = bottom;
    KeInitializeSpinLock(&bottomExt->Lock);
    InitializeListHead(&bottomExt->Pending);
    KeInitializeEvent(&bottomExt->Idle, NotificationEvent, TRUE);
    bottomExt->WorkItem = IoAllocateWorkItem(bottom);
    if (bottomExt->WorkItem == NULL) {
        IoDeleteDevice(bottom);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    bottom->Flags |= DO_BUFFERED_IO;
    /* Something is attached on top right away: finish initializing first. */
    bottom->Flags &= ~DO_DEVICE_INITIALIZING;

    status = IoCreateDevice(DriverObject, sizeof(COMPLETE_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &filter);
    if (!NT_SUCCESS(status))
        goto fail_bottom;
    filterExt = filter->DeviceExtension;
    filterExt->Role = RoleFilter;
    filterExt->Self = filter;
    filterExt->Lower = IoAttachDeviceToDeviceStack(filter, bottom);
    if (filterExt->Lower == NULL) {
        IoDeleteDevice(filter);
        status = STATUS_NO_SUCH_DEVICE;
        goto fail_bottom;
    }
    filter->Flags |= DO_BUFFERED_IO;
    filter->Flags &= ~DO_DEVICE_INITIALIZING;
    g_Filter = filter;

    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDetachDevice(bottom);
        IoDeleteDevice(filter);
        g_Filter = NULL;
        goto fail_bottom;
    }

    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = CompleteDispatch;
    DriverObject->DriverUnload = CompleteUnload;
    return STATUS_SUCCESS;

fail_bottom:
    IoFreeWorkItem(bottomExt->WorkItem);
    IoDeleteDevice(bottom);
    return status;
}
