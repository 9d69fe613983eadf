/*
 * rtsnap.c - a WDM function driver for a root-enumerated camera "snap"
 * device. At IRP_MN_START_DEVICE it looks up the top of its own device
 * stack (IoGetAttachedDeviceReference) to remember the stack size its
 * self-built capture IRPs need. It registers and enables a device
 * interface, holds the remove lock on every request, and on REMOVE
 * forwards, waits, detaches and deletes its FDO.
 * Planted fault: the start path never drops the reference
 * IoGetAttachedDeviceReference returned. With no filter above, the top of
 * the stack is this driver's own FDO: after REMOVE the deleted FDO lives
 * on, referencing the driver object, so the image never unloads.
 */
#include <wdm.h>

#define IOCTL_SNAP_CAPTURE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x860, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define SNAP_TAG 'panS'

/* {3F8A1D24-7C55-4E61-A0B2-9D4E6C1F7A32} */
static const GUID GUID_DEVINTERFACE_RTSNAP = { 0x3f8a1d24, 0x7c55, 0x4e61,
                                               { 0xa0, 0xb2, 0x9d, 0x4e, 0x6c, 0x1f, 0x7a, 0x32 } };

typedef struct _SNAP_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    CCHAR CaptureStackSize;
    ULONG Captures;
} SNAP_EXTENSION, *PSNAP_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE SnapAddDevice;
DRIVER_UNLOAD SnapUnload;
DRIVER_DISPATCH SnapDispatch;
IO_COMPLETION_ROUTINE SnapSyncCompletion;

static NTSTATUS SnapComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS SnapSyncCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS SnapStart(PSNAP_EXTENSION Ext, PIRP Irp)
{
    KEVENT event;
    NTSTATUS status;
    PDEVICE_OBJECT top;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, SnapSyncCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = Irp->IoStatus.Status;
    if (!NT_SUCCESS(status))
        return status;
    top = IoGetAttachedDeviceReference(Ext->Self);
    Ext->CaptureStackSize = top->StackSize;
    /* BUG: ObDereferenceObject(top) is missing */
    return IoSetDeviceInterfaceState(&Ext->InterfaceName, TRUE);
}

static NTSTATUS SnapPnp(PDEVICE_OBJECT DeviceObject, PSNAP_EXTENSION Ext, PIRP Irp)
{
    NTSTATUS status;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        status = SnapStart(Ext, Irp);
        SnapComplete(Irp, status, 0);
        IoReleaseRemoveLock(&Ext->RemoveLock, Irp);
        return status;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&Ext->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(Ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&Ext->RemoveLock, Irp);
        RtlFreeUnicodeString(&Ext->InterfaceName);
        IoDetachDevice(Ext->LowerDevice);
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
    status = IoCallDriver(Ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&Ext->RemoveLock, Irp);
    return status;
}

NTSTATUS SnapDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSNAP_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return SnapComplete(Irp, status, 0);
    switch (stack->MajorFunction) {
    case IRP_MJ_PNP:
        return SnapPnp(DeviceObject, ext, Irp);
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP:
        status = SnapComplete(Irp, STATUS_SUCCESS, 0);
        break;
    case IRP_MJ_DEVICE_CONTROL:
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_SNAP_CAPTURE) {
            ext->Captures++;
            status = SnapComplete(Irp, STATUS_SUCCESS, 0);
        } else {
            status = SnapComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
        }
        break;
    default:
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        break;
    }
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS SnapAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    PSNAP_EXTENSION ext;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(SNAP_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ext->Self = device;
    IoInitializeRemoveLock(&ext->RemoveLock, SNAP_TAG, 1, 100);
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_RTSNAP, NULL, &ext->InterfaceName);
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
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID SnapUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = SnapDispatch;
    DriverObject->DriverExtension->AddDevice = SnapAddDevice;
    DriverObject->DriverUnload = SnapUnload;
    return STATUS_SUCCESS;
}
