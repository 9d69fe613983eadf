/*
 * rtstore.c - a WDM function driver for a small storage device with a
 * write-back cache. IOCTL_STORE_FLUSH queues an IO_WORKITEM that writes the
 * cache back at PASSIVE_LEVEL; the work routine holds the remove lock (tag:
 * the work context) while it touches the device. REMOVE forwards the IRP
 * and waits for the remove lock before deleting the FDO.
 * Planted fault: the work routine returns early when the cache is already
 * clean, without IoReleaseRemoveLock. The REMOVE handler's
 * IoReleaseRemoveLockAndWait then waits forever for that acquisition.
 */
#include <wdm.h>

#define IOCTL_STORE_WRITE CTL_CODE(FILE_DEVICE_DISK, 0xE00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_STORE_FLUSH CTL_CODE(FILE_DEVICE_DISK, 0xE01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define STORE_TAG 'otSR'

/* {3F9E6A21-7C04-4D8B-B5E2-91A0C4D7E6F3} */
static const GUID GUID_DEVINTERFACE_RTSTORE = { 0x3f9e6a21, 0x7c04, 0x4d8b,
                                                { 0xb5, 0xe2, 0x91, 0xa0, 0xc4, 0xd7, 0xe6, 0xf3 } };

typedef struct _STORE_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    FAST_MUTEX CacheLock;
    ULONG DirtyBytes;
    ULONG Flushes;
} STORE_EXTENSION, *PSTORE_EXTENSION;

typedef struct _STORE_FLUSH_CONTEXT {
    PIO_WORKITEM WorkItem;
    PSTORE_EXTENSION Extension;
} STORE_FLUSH_CONTEXT, *PSTORE_FLUSH_CONTEXT;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE StoreAddDevice;
DRIVER_UNLOAD StoreUnload;
DRIVER_DISPATCH StoreDispatchPnp, StoreDispatchPass, StoreDispatchCreateClose, StoreDispatchIoctl;
IO_WORKITEM_ROUTINE StoreFlushWorker;
IO_COMPLETION_ROUTINE StoreSyncCompletion;

static NTSTATUS StoreComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

VOID StoreFlushWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PSTORE_FLUSH_CONTEXT ctx = Context;
    PSTORE_EXTENSION ext = ctx->Extension;
    PIO_WORKITEM item = ctx->WorkItem;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (!NT_SUCCESS(IoAcquireRemoveLock(&ext->RemoveLock, ctx))) {
        IoFreeWorkItem(item);
        ExFreePoolWithTag(ctx, STORE_TAG);
        return;
    }
    ExAcquireFastMutex(&ext->CacheLock);
    if (ext->DirtyBytes == 0) {
        ExReleaseFastMutex(&ext->CacheLock);
        IoFreeWorkItem(item);
        ExFreePoolWithTag(ctx, STORE_TAG);
        return; /* BUG: IoReleaseRemoveLock(&ext->RemoveLock, ctx) is missing */
    }
    ext->DirtyBytes = 0;
    ext->Flushes++;
    ExReleaseFastMutex(&ext->CacheLock);
    IoReleaseRemoveLock(&ext->RemoveLock, ctx);
    IoFreeWorkItem(item);
    ExFreePoolWithTag(ctx, STORE_TAG);
}

static NTSTATUS StoreQueueFlush(PSTORE_EXTENSION Ext)
{
    PSTORE_FLUSH_CONTEXT ctx = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*ctx), STORE_TAG);
    if (!ctx)
        return STATUS_INSUFFICIENT_RESOURCES;
    ctx->WorkItem = IoAllocateWorkItem(Ext->Self);
    if (!ctx->WorkItem) {
        ExFreePoolWithTag(ctx, STORE_TAG);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ctx->Extension = Ext;
    IoQueueWorkItem(ctx->WorkItem, StoreFlushWorker, DelayedWorkQueue, ctx);
    return STATUS_SUCCESS;
}

NTSTATUS StoreDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSTORE_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return StoreComplete(Irp, status);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_STORE_WRITE:
        ExAcquireFastMutex(&ext->CacheLock);
        ext->DirtyBytes += stack->Parameters.DeviceIoControl.InputBufferLength;
        ExReleaseFastMutex(&ext->CacheLock);
        status = STATUS_SUCCESS;
        break;
    case IOCTL_STORE_FLUSH:
        status = StoreQueueFlush(ext);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    StoreComplete(Irp, status);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS StoreSyncCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

NTSTATUS StoreDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSTORE_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    KEVENT event;
    if (!NT_SUCCESS(status))
        return StoreComplete(Irp, status);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, StoreSyncCompletion, &event, TRUE, TRUE, TRUE);
        if (IoCallDriver(ext->LowerDevice, Irp) == STATUS_PENDING)
            KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = Irp->IoStatus.Status;
        if (NT_SUCCESS(status))
            IoSetDeviceInterfaceState(&ext->InterfaceName, TRUE);
        StoreComplete(Irp, status);
        IoReleaseRemoveLock(&ext->RemoveLock, Irp);
        return status;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(DeviceObject);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS StoreDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSTORE_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS StoreDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return StoreComplete(Irp, STATUS_SUCCESS);
}

NTSTATUS StoreAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(STORE_EXTENSION), NULL, FILE_DEVICE_DISK,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PSTORE_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ExInitializeFastMutex(&ext->CacheLock);
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_RTSTORE, NULL, &ext->InterfaceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, STORE_TAG, 1, 100);
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID StoreUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = StoreDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = StoreDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = StoreDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = StoreDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = StoreDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = StoreAddDevice;
    DriverObject->DriverUnload = StoreUnload;
    return STATUS_SUCCESS;
}
