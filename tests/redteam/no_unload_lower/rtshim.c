/*
 * rtshim.c - a lower filter under the widget function driver that fixes up
 * a hardware quirk: it rewrites the device capabilities the bus reports
 * (SurpriseRemovalOK) on their way back up and passes everything else down.
 * It handles REMOVE correctly (forward, detach, delete).
 * Planted fault: DriverEntry never sets DriverObject->DriverUnload (the
 * developer thought a filter needs none). Its device is deleted on
 * REMOVE, but the PnP manager can never unload a driver without an unload
 * routine: the image stays mapped.
 */
#include <wdm.h>

typedef struct _SHIM_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
} SHIM_EXTENSION, *PSHIM_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE ShimAddDevice;
DRIVER_DISPATCH ShimDispatchPass, ShimDispatchPnp;
IO_COMPLETION_ROUTINE ShimCapabilitiesCompletion;

NTSTATUS ShimCapabilitiesCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PSHIM_EXTENSION ext = DeviceObject->DeviceExtension;
    UNREFERENCED_PARAMETER(Context);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    if (NT_SUCCESS(Irp->IoStatus.Status))
        IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceCapabilities.Capabilities->SurpriseRemovalOK = TRUE;
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return STATUS_CONTINUE_COMPLETION;
}

NTSTATUS ShimDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSHIM_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS ShimDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSHIM_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_QUERY_CAPABILITIES:
        status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
        if (!NT_SUCCESS(status)) {
            Irp->IoStatus.Status = status;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            return status;
        }
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, ShimCapabilitiesCompletion, NULL, TRUE, TRUE, TRUE);
        return IoCallDriver(ext->LowerDevice, Irp);
    case IRP_MN_REMOVE_DEVICE:
        status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
        if (!NT_SUCCESS(status)) {
            Irp->IoStatus.Status = status;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            return status;
        }
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(DeviceObject);
        return status;
    default:
        return ShimDispatchPass(DeviceObject, Irp);
    }
}

NTSTATUS ShimAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(SHIM_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PSHIM_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'mhSR', 1, 100);
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = ShimDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = ShimDispatchPnp;
    DriverObject->DriverExtension->AddDevice = ShimAddDevice;
    /* BUG: DriverObject->DriverUnload is never set */
    return STATUS_SUCCESS;
}
