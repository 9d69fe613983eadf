/*
 * workitem_unload.c - a legacy driver whose DriverUnload does not wait for
 * the work item it queued.
 *
 * IOCTL_WORKITEM_FLUSH queues an IO_WORKITEM that flushes the device's
 * state to slow hardware (about one second). DriverUnload deletes the
 * device at once. IoQueueWorkItem references the item's device until the
 * routine returns, so the I/O manager keeps the deleted device object -
 * and, through it, the driver object and the image - alive until the work
 * item has run: DriverUnload was called but the image stays mapped, and a
 * start in that window fails with STATUS_IMAGE_ALREADY_LOADED. When the
 * routine returns, the last reference goes and the image is unmapped.
 * (With ExQueueWorkItem there would be no such reference, and the routine
 * would run in an unmapped image: bug check 0xCE.)
 *
 * Built with SAMPLE_FIXED set to 1 (samples/workitem_unload_fixed), the
 * driver counts its queued flushes and DriverUnload waits until none is
 * pending before it deletes the device, so the stop leaves nothing running
 * in the image: the clean twin.
 */
#include <ntddk.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define WORKITEM_DEVICE_NAME L"\\Device\\WorkItemUnload"
#define WORKITEM_LINK_NAME L"\\DosDevices\\WorkItemUnload"
#define WORKITEM_FLUSH_TIME_MS 1000

#define IOCTL_WORKITEM_FLUSH CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_EXTENSION {
    LONG FlushesDone;
#if SAMPLE_FIXED
    /* FIX: count the queued flushes so that DriverUnload can wait for them. */
    KSPIN_LOCK FlushLock;   /* FlushesPending and NoFlushPending change together */
    LONG FlushesPending;
    KEVENT NoFlushPending; /* signalled while FlushesPending is 0 */
#endif
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD WorkItemUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH WorkItemCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH WorkItemDeviceControl;
IO_WORKITEM_ROUTINE WorkItemFlushRoutine;

static NTSTATUS WorkItemCompleteRequest(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

#if SAMPLE_FIXED
/*
 * FIX: one more flush pending (Delta 1) or one fewer (-1). The count and
 * the event change in one critical section: with two interlocked steps, a
 * flush queued between a routine's decrement to 0 and its KeSetEvent would
 * leave the event signalled while that flush is pending.
 */
static VOID WorkItemCountFlush(PDEVICE_EXTENSION Extension, LONG Delta)
{
    KIRQL irql;

    KeAcquireSpinLock(&Extension->FlushLock, &irql);
    Extension->FlushesPending += Delta;
    if (Extension->FlushesPending == 0)
        KeSetEvent(&Extension->NoFlushPending, IO_NO_INCREMENT, FALSE);
    else
        KeClearEvent(&Extension->NoFlushPending);
    KeReleaseSpinLock(&Extension->FlushLock, irql);
}
#endif

NTSTATUS WorkItemCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return WorkItemCompleteRequest(Irp, STATUS_SUCCESS);
}

VOID WorkItemFlushRoutine(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIO_WORKITEM workItem = Context;
    PDEVICE_EXTENSION extension = DeviceObject->DeviceExtension;
    LARGE_INTEGER flushTime;

    flushTime.QuadPart = -10000LL * WORKITEM_FLUSH_TIME_MS; /* relative, 100 ns units */
    KeDelayExecutionThread(KernelMode, FALSE, &flushTime);
    InterlockedIncrement(&extension->FlushesDone);
    IoFreeWorkItem(workItem);
#if SAMPLE_FIXED
    WorkItemCountFlush(extension, -1);
#endif
}

NTSTATUS WorkItemDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
#if SAMPLE_FIXED
    PDEVICE_EXTENSION extension = DeviceObject->DeviceExtension;
#endif
    PIO_WORKITEM workItem;

    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_WORKITEM_FLUSH)
        return WorkItemCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST);
    workItem = IoAllocateWorkItem(DeviceObject);
    if (!workItem)
        return WorkItemCompleteRequest(Irp, STATUS_INSUFFICIENT_RESOURCES);
#if SAMPLE_FIXED
    WorkItemCountFlush(extension, 1);
#endif
    IoQueueWorkItem(workItem, WorkItemFlushRoutine, DelayedWorkQueue, workItem);
    return WorkItemCompleteRequest(Irp, STATUS_SUCCESS);
}

VOID WorkItemUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(WORKITEM_LINK_NAME);
#if SAMPLE_FIXED
    PDEVICE_EXTENSION extension = DriverObject->DeviceObject->DeviceExtension;
#endif

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
#if SAMPLE_FIXED
    /* FIX: wait for queued flushes before the device goes. */
    KeWaitForSingleObject(&extension->NoFlushPending, Executive, KernelMode, FALSE, NULL);
#else
    /* BUG: a queued flush may still be pending; DriverUnload should wait for it before deleting the device. */
#endif
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(WORKITEM_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(WORKITEM_LINK_NAME);
    PDEVICE_OBJECT deviceObject;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(DEVICE_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &deviceObject);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(deviceObject);
        return status;
    }
#if SAMPLE_FIXED
    KeInitializeSpinLock(&((PDEVICE_EXTENSION)deviceObject->DeviceExtension)->FlushLock);
    KeInitializeEvent(&((PDEVICE_EXTENSION)deviceObject->DeviceExtension)->NoFlushPending, NotificationEvent, TRUE);
#endif
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = WorkItemCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = WorkItemCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = WorkItemDeviceControl;
    DriverObject->DriverUnload = WorkItemUnload;
    return STATUS_SUCCESS;
}
