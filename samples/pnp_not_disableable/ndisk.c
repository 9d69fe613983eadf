/*
 * ndisk.c - a WDM function driver for a device that must not be disabled
 * while it is in use (a disk holding a paging file, say): it answers
 * IRP_MN_QUERY_PNP_DEVICE_STATE with PNP_DEVICE_NOT_DISABLEABLE, so the PnP
 * manager refuses to disable or eject it (PNP_VetoNonDisableable) without
 * asking any driver. An application tells it the device is no longer
 * needed (IOCTL_NDISK_RELEASE through its device interface); the driver
 * then clears the bit and calls IoInvalidateDeviceState, the PnP manager
 * queries the state again and the device can be disabled: REMOVE deletes
 * the FDO and the driver unloads.
 */
#include <wdm.h>

#define IOCTL_NDISK_RELEASE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

static const GUID GUID_DEVINTERFACE_NDISK = { 0x5d1e0a40, 0x3c2b, 0x4f6a, { 0x9e, 0x11, 0x7a, 0x0b, 0x2c, 0x3d, 0x4e, 0x5f } };

typedef struct _NDISK_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    PDEVICE_OBJECT Pdo;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    volatile LONG InUse; /* reported as PNP_DEVICE_NOT_DISABLEABLE */
} NDISK_EXTENSION, *PNDISK_EXTENSION;

DRIVER_INITIALIZE DriverEntry;

static NTSTATUS NdiskComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS NdiskDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PNDISK_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return NdiskComplete(Irp, status);
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, TRUE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        if (ReadAcquire(&ext->InUse))
            Irp->IoStatus.Information |= PNP_DEVICE_NOT_DISABLEABLE;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->NextLowerDriver, Irp);
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDetachDevice(ext->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        return status;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->NextLowerDriver, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

static NTSTATUS NdiskDispatchOther(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PNDISK_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return NdiskComplete(Irp, status);
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_NDISK_RELEASE) {
            InterlockedExchange(&ext->InUse, 0);
            IoInvalidateDeviceState(ext->Pdo); /* the PnP manager asks IRP_MN_QUERY_PNP_DEVICE_STATE again */
        } else {
            status = STATUS_INVALID_DEVICE_REQUEST;
        }
    }
    Irp->IoStatus.Information = 0;
    NdiskComplete(Irp, status);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

static NTSTATUS NdiskAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(NDISK_EXTENSION), NULL, FILE_DEVICE_DISK, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PNDISK_EXTENSION ext = device->DeviceExtension;
    ext->Pdo = PhysicalDeviceObject;
    ext->InUse = 1;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_NDISK, NULL, &ext->InterfaceName);
    if (NT_SUCCESS(status))
        ext->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->NextLowerDriver) {
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDeleteDevice(device);
        return NT_SUCCESS(status) ? STATUS_NO_SUCH_DEVICE : status;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'ksdN', 0, 0);
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NdiskUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = NdiskDispatchOther;
    DriverObject->MajorFunction[IRP_MJ_PNP] = NdiskDispatchPnp;
    DriverObject->DriverExtension->AddDevice = NdiskAddDevice;
    DriverObject->DriverUnload = NdiskUnload;
    return STATUS_SUCCESS;
}
