/*
 * rtqueue.c - a legacy job-queue driver (\Device\RtQueue). IOCTL_QUEUE_SUBMIT
 * hands a job to a work item; the job holds a device reference
 * (ObReferenceObject) until the worker is done with it, and the worker
 * drops it with ObDereferenceObjectDeferDelete (the release may be the last
 * one and the worker may be called at raised IRQL on other paths).
 * DriverUnload waits until no job is outstanding, then deletes the device.
 * Planted fault: a job with an empty payload ends early in the worker,
 * which frees the job but returns before ObDereferenceObjectDeferDelete.
 * The deleted device lives on and pins the driver.
 */
#include <ntddk.h>

#define IOCTL_QUEUE_SUBMIT CTL_CODE(FILE_DEVICE_UNKNOWN, 0xE00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define QUEUE_TAG 'uQtR'

typedef struct _QUEUE_EXTENSION {
    PDEVICE_OBJECT Self;
    LONG Outstanding;
    KEVENT Idle; /* signalled while no job is outstanding */
    ULONG Processed;
} QUEUE_EXTENSION, *PQUEUE_EXTENSION;

typedef struct _QUEUE_JOB {
    PIO_WORKITEM WorkItem;
    PQUEUE_EXTENSION Extension;
    ULONG Payload;
} QUEUE_JOB, *PQUEUE_JOB;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD QueueUnload;
DRIVER_DISPATCH QueueCreateClose, QueueDeviceControl;
IO_WORKITEM_ROUTINE QueueWorker;

static UNICODE_STRING QueueLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtQueue");

static VOID QueueJobDone(PQUEUE_EXTENSION Ext)
{
    if (InterlockedDecrement(&Ext->Outstanding) == 0)
        KeSetEvent(&Ext->Idle, IO_NO_INCREMENT, FALSE);
}

VOID QueueWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PQUEUE_JOB job = Context;
    PQUEUE_EXTENSION ext = job->Extension;
    ULONG payload = job->Payload;
    IoFreeWorkItem(job->WorkItem);
    ExFreePoolWithTag(job, QUEUE_TAG);
    if (payload == 0) {
        QueueJobDone(ext);
        return; /* BUG: the job's device reference is never dropped */
    }
    ext->Processed += payload;
    QueueJobDone(ext);
    ObDereferenceObjectDeferDelete(DeviceObject);
}

static NTSTATUS QueueSubmit(PQUEUE_EXTENSION Ext, ULONG Payload)
{
    PQUEUE_JOB job = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*job), QUEUE_TAG);
    if (!job)
        return STATUS_INSUFFICIENT_RESOURCES;
    job->WorkItem = IoAllocateWorkItem(Ext->Self);
    if (!job->WorkItem) {
        ExFreePoolWithTag(job, QUEUE_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    job->Extension = Ext;
    job->Payload = Payload;
    ObReferenceObject(Ext->Self); /* the job's reference, dropped by QueueWorker */
    if (InterlockedIncrement(&Ext->Outstanding) == 1)
        KeClearEvent(&Ext->Idle);
    IoQueueWorkItem(job->WorkItem, QueueWorker, DelayedWorkQueue, job);
    return STATUS_SUCCESS;
}

NTSTATUS QueueDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PQUEUE_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_QUEUE_SUBMIT)
        status = STATUS_INVALID_DEVICE_REQUEST;
    else if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG))
        status = STATUS_BUFFER_TOO_SMALL;
    else
        status = QueueSubmit(ext, *(PULONG)Irp->AssociatedIrp.SystemBuffer);
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

NTSTATUS QueueCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

VOID QueueUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PQUEUE_EXTENSION ext = device->DeviceExtension;
    PAGED_CODE();
    KeWaitForSingleObject(&ext->Idle, Executive, KernelMode, FALSE, NULL);
    IoDeleteSymbolicLink(&QueueLink);
    IoDeleteDevice(device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtQueue");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(QUEUE_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PQUEUE_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    KeInitializeEvent(&ext->Idle, NotificationEvent, TRUE);
    status = IoCreateSymbolicLink(&QueueLink, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = QueueCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = QueueCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = QueueDeviceControl;
    DriverObject->DriverUnload = QueueUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
