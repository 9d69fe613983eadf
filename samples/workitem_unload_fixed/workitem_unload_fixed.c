/*
 * workitem_unload_fixed.c - the clean twin of workitem_unload.c.
 *
 * IOCTL_WORKITEM_FLUSH queues an IO_WORKITEM that flushes the device's
 * state to slow hardware (about one second). The driver counts its queued
 * flushes, and DriverUnload waits until none is pending before it deletes
 * the device, so the stop leaves nothing running in the image.
 */
#include <ntddk.h>

#define WORKITEM_DEVICE_NAME L"\\Device\\WorkItemUnload"
#define WORKITEM_LINK_NAME L"\\DosDevices\\WorkItemUnload"
#define WORKITEM_FLUSH_TIME_MS 1000

#define IOCTL_WORKITEM_FLUSH CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_EXTENSION {
    LONG FlushesDone;
    LONG FlushesPending;
    KEVENT NoFlushPending; /* signalled while FlushesPending is 0 */
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
    if (InterlockedDecrement(&extension->FlushesPending) == 0)
        KeSetEvent(&extension->NoFlushPending, IO_NO_INCREMENT, FALSE);
}

NTSTATUS WorkItemDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PDEVICE_EXTENSION extension = DeviceObject->DeviceExtension;
    PIO_WORKITEM workItem;

    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_WORKITEM_FLUSH)
        return WorkItemCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST);
    workItem = IoAllocateWorkItem(DeviceObject);
    if (!workItem)
        return WorkItemCompleteRequest(Irp, STATUS_INSUFFICIENT_RESOURCES);
    if (InterlockedIncrement(&extension->FlushesPending) == 1)
        KeClearEvent(&extension->NoFlushPending);
    IoQueueWorkItem(workItem, WorkItemFlushRoutine, DelayedWorkQueue, workItem);
    return WorkItemCompleteRequest(Irp, STATUS_SUCCESS);
}

VOID WorkItemUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(WORKITEM_LINK_NAME);
    PDEVICE_EXTENSION extension = DriverObject->DeviceObject->DeviceExtension;

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    /* FIX: wait for queued flushes before the device goes. */
    KeWaitForSingleObject(&extension->NoFlushPending, Executive, KernelMode, FALSE, NULL);
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
    KeInitializeEvent(&((PDEVICE_EXTENSION)deviceObject->DeviceExtension)->NoFlushPending, NotificationEvent, TRUE);
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = WorkItemCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = WorkItemCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = WorkItemDeviceControl;
    DriverObject->DriverUnload = WorkItemUnload;
    return STATUS_SUCCESS;
}
