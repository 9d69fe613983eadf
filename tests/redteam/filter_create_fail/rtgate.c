/*
 * rtgate.c - an upper device filter that enforces an "exclusive
 * maintenance" policy: while the policy is on (always, in this build) it
 * refuses every IRP_MJ_CREATE with STATUS_ACCESS_DENIED, completing it
 * itself; every other request is passed down under the remove lock.
 * REMOVE forwards, waits for the remove lock, detaches and deletes the
 * filter device. Nothing is planted: a failed open creates no lasting file
 * object and no reference, so the whole stack unloads after a disable.
 */
#include <wdm.h>

#define GATE_TAG 'etaG'

typedef struct _GATE_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    BOOLEAN DenyOpens;
    ULONG Denied;
} GATE_EXTENSION, *PGATE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE GateAddDevice;
DRIVER_UNLOAD GateUnload;
DRIVER_DISPATCH GateDispatch;

NTSTATUS GateDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PGATE_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    if (stack->MajorFunction == IRP_MJ_CREATE && ext->DenyOpens) {
        ext->Denied++;
        Irp->IoStatus.Status = STATUS_ACCESS_DENIED;
        Irp->IoStatus.Information = 0;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        IoReleaseRemoveLock(&ext->RemoveLock, Irp);
        return STATUS_ACCESS_DENIED;
    }
    if (stack->MajorFunction == IRP_MJ_PNP && stack->MinorFunction == IRP_MN_REMOVE_DEVICE) {
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(DeviceObject);
        return status;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS GateAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    PGATE_EXTENSION ext;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(GATE_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ext->Self = device;
    ext->DenyOpens = TRUE;
    IoInitializeRemoveLock(&ext->RemoveLock, GATE_TAG, 1, 100);
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->DeviceType = ext->LowerDevice->DeviceType;
    device->Characteristics = ext->LowerDevice->Characteristics;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID GateUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = GateDispatch;
    DriverObject->DriverExtension->AddDevice = GateAddDevice;
    DriverObject->DriverUnload = GateUnload;
    return STATUS_SUCCESS;
}
