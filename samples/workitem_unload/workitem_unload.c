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
 */
#include <ntddk.h>

#define WORKITEM_DEVICE_NAME L"\\Device\\WorkItemUnload"
#define WORKITEM_LINK_NAME L"\\DosDevices\\WorkItemUnload"
#define WORKITEM_FLUSH_TIME_MS 1000

#define IOCTL_WORKITEM_FLUSH CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_EXTENSION {
    LONG FlushesDone;
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
}

NTSTATUS WorkItemDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PIO_WORKITEM workItem;

    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_WORKITEM_FLUSH)
        return WorkItemCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST);
    workItem = IoAllocateWorkItem(DeviceObject);
    if (!workItem)
        return WorkItemCompleteRequest(Irp, STATUS_INSUFFICIENT_RESOURCES);
    IoQueueWorkItem(workItem, WorkItemFlushRoutine, DelayedWorkQueue, workItem);
    return WorkItemCompleteRequest(Irp, STATUS_SUCCESS);
}

VOID WorkItemUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(WORKITEM_LINK_NAME);

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    /* BUG: a queued flush may still be pending; DriverUnload should wait for it before deleting the device. */
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
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = WorkItemCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = WorkItemCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = WorkItemDeviceControl;
    DriverObject->DriverUnload = WorkItemUnload;
    return STATUS_SUCCESS;
}
