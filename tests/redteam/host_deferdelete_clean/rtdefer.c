/*
 * rtdefer.c - a clean legacy "event source" driver that keeps references
 * and drops them with ObDereferenceObjectDeferDelete, as code that may run
 * with APCs disabled or at raised IRQL must.
 * IOCTL_DEFER_SUBSCRIBE references the caller's file object (the
 * subscription outlives the IRP) and remembers it; IRP_MJ_CLEANUP of that
 * file object drops the subscription with ObDereferenceObjectDeferDelete.
 * IOCTL_DEFER_KICK references the device for a work item, which does its
 * work and releases it with ObDereferenceObjectDeferDeleteWithTag, then
 * frees the work item; DriverUnload waits until no kick is in flight.
 * Every reference is released: nothing is planted.
 */
#include <wdm.h>

#define IOCTL_DEFER_SUBSCRIBE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_DEFER_KICK CTL_CODE(FILE_DEVICE_UNKNOWN, 0x821, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define DEFER_TAG 'kcKD'

typedef struct _DEFER_EXTENSION {
    KSPIN_LOCK Lock;
    PFILE_OBJECT Subscriber;  /* referenced while subscribed */
    LONG KicksInFlight;
    KEVENT KicksDone;         /* signaled while no kick is in flight */
    ULONG Kicks;
} DEFER_EXTENSION, *PDEFER_EXTENSION;

typedef struct _DEFER_KICK {
    PIO_WORKITEM Item;
    PDEFER_EXTENSION Ext;
} DEFER_KICK, *PDEFER_KICK;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD DeferUnload;
DRIVER_DISPATCH DeferDispatchCreateClose, DeferDispatchCleanup, DeferDispatchIoctl;
IO_WORKITEM_ROUTINE DeferKickWorker;

static UNICODE_STRING DeferDeviceName = RTL_CONSTANT_STRING(L"\\Device\\RtDefer");
static UNICODE_STRING DeferLinkName = RTL_CONSTANT_STRING(L"\\DosDevices\\RtDefer");

static NTSTATUS DeferComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS DeferDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return DeferComplete(Irp, STATUS_SUCCESS);
}

NTSTATUS DeferDispatchCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDEFER_EXTENSION ext = DeviceObject->DeviceExtension;
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;
    KIRQL irql;
    KeAcquireSpinLock(&ext->Lock, &irql);
    BOOLEAN subscribed = ext->Subscriber == file;
    if (subscribed)
        ext->Subscriber = NULL;
    KeReleaseSpinLock(&ext->Lock, irql);
    if (subscribed)
        ObDereferenceObjectDeferDelete(file);
    return DeferComplete(Irp, STATUS_SUCCESS);
}

VOID DeferKickWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PDEFER_KICK kick = Context;
    PDEFER_EXTENSION ext = kick->Ext;
    InterlockedIncrement((PLONG)&ext->Kicks);
    IoFreeWorkItem(kick->Item);
    ExFreePoolWithTag(kick, DEFER_TAG);
    ObDereferenceObjectDeferDeleteWithTag(DeviceObject, DEFER_TAG);
    if (InterlockedDecrement(&ext->KicksInFlight) == 0)
        KeSetEvent(&ext->KicksDone, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS DeferKick(PDEVICE_OBJECT DeviceObject)
{
    PDEFER_EXTENSION ext = DeviceObject->DeviceExtension;
    PDEFER_KICK kick = ExAllocatePoolWithTag(NonPagedPool, sizeof(DEFER_KICK), DEFER_TAG);
    if (!kick)
        return STATUS_INSUFFICIENT_RESOURCES;
    kick->Item = IoAllocateWorkItem(DeviceObject);
    if (!kick->Item) {
        ExFreePoolWithTag(kick, DEFER_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    kick->Ext = ext;
    if (InterlockedIncrement(&ext->KicksInFlight) == 1)
        KeClearEvent(&ext->KicksDone);
    ObReferenceObjectWithTag(DeviceObject, DEFER_TAG);
    IoQueueWorkItem(kick->Item, DeferKickWorker, DelayedWorkQueue, kick);
    return STATUS_SUCCESS;
}

static NTSTATUS DeferSubscribe(PDEFER_EXTENSION Ext, PFILE_OBJECT File)
{
    KIRQL irql;
    NTSTATUS status = STATUS_SUCCESS;
    ObReferenceObject(File);
    KeAcquireSpinLock(&Ext->Lock, &irql);
    if (Ext->Subscriber)
        status = STATUS_DEVICE_BUSY;
    else
        Ext->Subscriber = File;
    KeReleaseSpinLock(&Ext->Lock, irql);
    if (!NT_SUCCESS(status))
        ObDereferenceObject(File);
    return status;
}

NTSTATUS DeferDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_DEFER_SUBSCRIBE:
        return DeferComplete(Irp, DeferSubscribe(DeviceObject->DeviceExtension, stack->FileObject));
    case IOCTL_DEFER_KICK:
        return DeferComplete(Irp, DeferKick(DeviceObject));
    default:
        return DeferComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    }
}

VOID DeferUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PAGED_CODE();
    if (!device)
        return;
    PDEFER_EXTENSION ext = device->DeviceExtension;
    KeWaitForSingleObject(&ext->KicksDone, Executive, KernelMode, FALSE, NULL);
    IoDeleteSymbolicLink(&DeferLinkName);
    IoDeleteDevice(device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(DEFER_EXTENSION), &DeferDeviceName, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PDEFER_EXTENSION ext = device->DeviceExtension;
    KeInitializeSpinLock(&ext->Lock);
    KeInitializeEvent(&ext->KicksDone, NotificationEvent, TRUE);
    status = IoCreateSymbolicLink(&DeferLinkName, &DeferDeviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = DeferDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = DeferDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = DeferDispatchCleanup;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeferDispatchIoctl;
    DriverObject->DriverUnload = DeferUnload;
    return STATUS_SUCCESS;
}
