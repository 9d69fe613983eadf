/*
 * rtguard.c - an upper filter that blocks write-class IOCTLs of the widget
 * stack while a "guard" flag is set (IOCTL_GUARD_SET, handled locally);
 * everything else passes down under the remove lock. On REMOVE it forwards
 * the IRP, waits for its remove lock and deletes its device.
 * Planted fault: the REMOVE handler never calls IoDetachDevice. The filter
 * device is deleted while still attached above the widget's FDO, so the
 * FDO's own IoDeleteDevice can never complete: the function driver keeps a
 * device on its list and its DriverUnload is never called.
 */
#include <wdm.h>

#define IOCTL_GUARD_SET CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_WIDGET_WRITE_FIRST 0xA80

typedef struct _GUARD_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    BOOLEAN Guarded;
} GUARD_EXTENSION, *PGUARD_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE GuardAddDevice;
DRIVER_UNLOAD GuardUnload;
DRIVER_DISPATCH GuardDispatchPass, GuardDispatchPnp, GuardDispatchIoctl;

static NTSTATUS GuardComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS GuardDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PGUARD_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return GuardComplete(Irp, status);
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS GuardDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PGUARD_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG code = stack->Parameters.DeviceIoControl.IoControlCode;
    if (code == IOCTL_GUARD_SET) {
        if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(UCHAR))
            return GuardComplete(Irp, STATUS_BUFFER_TOO_SMALL);
        ext->Guarded = *(PUCHAR)Irp->AssociatedIrp.SystemBuffer != 0;
        return GuardComplete(Irp, STATUS_SUCCESS);
    }
    if (ext->Guarded && ((code >> 2) & 0xFFF) >= IOCTL_WIDGET_WRITE_FIRST)
        return GuardComplete(Irp, STATUS_ACCESS_DENIED);
    return GuardDispatchPass(DeviceObject, Irp);
}

NTSTATUS GuardDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PGUARD_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return GuardDispatchPass(DeviceObject, Irp);
    status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return GuardComplete(Irp, status);
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
    /* BUG: IoDetachDevice(ext->LowerDevice) is missing */
    IoDeleteDevice(DeviceObject);
    return status;
}

NTSTATUS GuardAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(GUARD_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PGUARD_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'drGR', 1, 100);
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->DeviceType = ext->LowerDevice->DeviceType;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID GuardUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = GuardDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = GuardDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = GuardDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = GuardAddDevice;
    DriverObject->DriverUnload = GuardUnload;
    return STATUS_SUCCESS;
}
