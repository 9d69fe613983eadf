/*
 * rtshut.c - a legacy write-back cache driver (\Device\RtShut). DriverEntry
 * registers the device for shutdown notification (IRP_MJ_SHUTDOWN flushes
 * the cache); DriverUnload relies on IoDeleteDevice to unregister it, as
 * the documentation allows. IOCTL_SHUT_ARM_FLUSH arms a final flush to
 * the backing store at shutdown and takes an extra device reference for
 * that path (ObReferenceObject), IOCTL_SHUT_DISARM_FLUSH drops it, and so
 * does the shutdown handler after the final flush.
 * Planted fault: DriverUnload does not drop the armed-flush reference when
 * the flush is still armed at unload (no shutdown happened): the deleted
 * device lives on as a zombie and pins the driver.
 */
#include <ntddk.h>

#define IOCTL_SHUT_ARM_FLUSH CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SHUT_DISARM_FLUSH CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC01, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _SHUT_EXTENSION {
    PDEVICE_OBJECT Self;
    KSPIN_LOCK Lock;
    BOOLEAN FlushArmed; /* holds one device reference while TRUE */
    ULONG DirtyBlocks;
} SHUT_EXTENSION, *PSHUT_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD ShutUnload;
DRIVER_DISPATCH ShutCreateClose, ShutDeviceControl, ShutShutdown;

static UNICODE_STRING ShutLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtShut");

static NTSTATUS ShutComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* Clears FlushArmed; TRUE when it was set (the caller then owns its reference). */
static BOOLEAN ShutTakeArmed(PSHUT_EXTENSION Ext)
{
    KIRQL irql;
    BOOLEAN armed;
    KeAcquireSpinLock(&Ext->Lock, &irql);
    armed = Ext->FlushArmed;
    Ext->FlushArmed = FALSE;
    KeReleaseSpinLock(&Ext->Lock, irql);
    return armed;
}

static NTSTATUS ShutArm(PSHUT_EXTENSION Ext)
{
    KIRQL irql;
    BOOLEAN already;
    KeAcquireSpinLock(&Ext->Lock, &irql);
    already = Ext->FlushArmed;
    Ext->FlushArmed = TRUE;
    KeReleaseSpinLock(&Ext->Lock, irql);
    if (!already)
        ObReferenceObject(Ext->Self); /* the shutdown path's reference */
    return STATUS_SUCCESS;
}

NTSTATUS ShutDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSHUT_EXTENSION ext = DeviceObject->DeviceExtension;
    switch (IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SHUT_ARM_FLUSH:
        return ShutComplete(Irp, ShutArm(ext));
    case IOCTL_SHUT_DISARM_FLUSH:
        if (ShutTakeArmed(ext))
            ObDereferenceObject(DeviceObject);
        return ShutComplete(Irp, STATUS_SUCCESS);
    default:
        return ShutComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    }
}

NTSTATUS ShutShutdown(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSHUT_EXTENSION ext = DeviceObject->DeviceExtension;
    ext->DirtyBlocks = 0; /* flush */
    if (ShutTakeArmed(ext))
        ObDereferenceObject(DeviceObject);
    return ShutComplete(Irp, STATUS_SUCCESS);
}

NTSTATUS ShutCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return ShutComplete(Irp, STATUS_SUCCESS);
}

VOID ShutUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PSHUT_EXTENSION ext = device->DeviceExtension;
    PAGED_CODE();
    ext->DirtyBlocks = 0; /* flush; BUG: an armed flush keeps its device reference */
    IoDeleteSymbolicLink(&ShutLink);
    IoDeleteDevice(device); /* also unregisters the shutdown notification */
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtShut");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(SHUT_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PSHUT_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    KeInitializeSpinLock(&ext->Lock);
    status = IoRegisterShutdownNotification(device);
    if (NT_SUCCESS(status))
        status = IoCreateSymbolicLink(&ShutLink, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = ShutCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = ShutCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ShutDeviceControl;
    DriverObject->MajorFunction[IRP_MJ_SHUTDOWN] = ShutShutdown;
    DriverObject->DriverUnload = ShutUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
