/*
 * rtpoll.c - a legacy driver that polls a sensor from a system worker
 * thread. IOCTL_POLL_START allocates an IO_WORKITEM on the control device
 * \Device\RtPoll and queues it; the work item routine samples the sensor,
 * sleeps 50 ms and re-queues the same item, so polling runs as long as the
 * driver is loaded. IOCTL_POLL_COUNT returns the number of samples.
 * Planted fault: DriverUnload deletes the link and the device but never
 * stops the poller (no stop flag, no wait for the routine to finish). A
 * queued work item holds a reference on its device object until its
 * routine returns, and the routine always queues it again first: the
 * deleted device is never freed, and the image never unloads.
 */
#include <wdm.h>

#define IOCTL_POLL_START CTL_CODE(FILE_DEVICE_UNKNOWN, 0x880, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_POLL_COUNT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x881, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _POLL_EXTENSION {
    PIO_WORKITEM WorkItem;
    LONG Running;
    volatile LONG Samples;
} POLL_EXTENSION, *PPOLL_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD PollUnload;
DRIVER_DISPATCH PollCreateClose, PollDeviceControl;
IO_WORKITEM_ROUTINE PollWorker;

VOID PollWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PPOLL_EXTENSION ext = Context;
    LARGE_INTEGER interval;
    UNREFERENCED_PARAMETER(DeviceObject);
    InterlockedIncrement(&ext->Samples);
    interval.QuadPart = -50 * 10000LL; /* 50 ms */
    KeDelayExecutionThread(KernelMode, FALSE, &interval);
    /* BUG: nothing ever tells the poller to stop */
    IoQueueWorkItem(ext->WorkItem, PollWorker, DelayedWorkQueue, ext);
}

NTSTATUS PollCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

NTSTATUS PollDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPOLL_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR info = 0;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_POLL_START:
        if (InterlockedCompareExchange(&ext->Running, 1, 0) == 0)
            IoQueueWorkItem(ext->WorkItem, PollWorker, DelayedWorkQueue, ext);
        break;
    case IOCTL_POLL_COUNT:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = (ULONG)ext->Samples;
        info = sizeof(ULONG);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = info;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

VOID PollUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\RtPoll");
    PAGED_CODE();
    IoDeleteSymbolicLink(&link);
    /* BUG: the poller is still queued; IoFreeWorkItem would be premature too */
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtPoll");
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\RtPoll");
    PDEVICE_OBJECT device;
    PPOLL_EXTENSION ext;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(POLL_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ext->WorkItem = IoAllocateWorkItem(device);
    if (!ext->WorkItem) {
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoFreeWorkItem(ext->WorkItem);
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PollCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PollCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PollDeviceControl;
    DriverObject->DriverUnload = PollUnload;
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
