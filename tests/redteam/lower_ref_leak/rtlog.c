/*
 * rtlog.c - an upper filter that audits device-control requests of the
 * widget stack. It passes every IRP down; IOCTLs get a completion routine
 * that records the outcome together with the type of the device below
 * (IoGetLowerDeviceObject, which returns the lower device referenced).
 * Successful requests are recorded through RtLogDescribeLower, which drops
 * the reference; failed ones are recorded inline.
 * Planted fault: the failure branch of the completion routine never
 * dereferences the device IoGetLowerDeviceObject returned. The widget FDO
 * below is deleted on REMOVE but stays a zombie pinning rtwidget.so.
 */
#include <wdm.h>

typedef struct _RTLOG_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    ULONG Succeeded;
    ULONG Failed;
    DEVICE_TYPE LastFailedType;
} RTLOG_EXTENSION, *PRTLOG_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE RtLogAddDevice;
DRIVER_UNLOAD RtLogUnload;
DRIVER_DISPATCH RtLogDispatchPass, RtLogDispatchPnp, RtLogDispatchIoctl;
IO_COMPLETION_ROUTINE RtLogIoctlCompletion;

static DEVICE_TYPE RtLogDescribeLower(PDEVICE_OBJECT DeviceObject)
{
    PDEVICE_OBJECT lower = IoGetLowerDeviceObject(DeviceObject);
    DEVICE_TYPE type = FILE_DEVICE_UNKNOWN;
    if (lower) {
        type = lower->DeviceType;
        ObDereferenceObject(lower);
    }
    return type;
}

NTSTATUS RtLogIoctlCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PRTLOG_EXTENSION ext = DeviceObject->DeviceExtension;
    UNREFERENCED_PARAMETER(Context);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    if (NT_SUCCESS(Irp->IoStatus.Status)) {
        if (RtLogDescribeLower(DeviceObject) == FILE_DEVICE_UNKNOWN)
            ext->Succeeded++;
    } else {
        PDEVICE_OBJECT lower = IoGetLowerDeviceObject(DeviceObject);
        ext->Failed++;
        if (lower)
            ext->LastFailedType = lower->DeviceType; /* BUG: no ObDereferenceObject(lower) */
    }
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return STATUS_CONTINUE_COMPLETION;
}

NTSTATUS RtLogDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PRTLOG_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, RtLogIoctlCompletion, NULL, TRUE, TRUE, TRUE);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS RtLogDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PRTLOG_EXTENSION ext = DeviceObject->DeviceExtension;
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

NTSTATUS RtLogDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PRTLOG_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return RtLogDispatchPass(DeviceObject, Irp);
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
}

NTSTATUS RtLogAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(RTLOG_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PRTLOG_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'goLR', 1, 100);
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->DeviceType = ext->LowerDevice->DeviceType;
    device->Characteristics = ext->LowerDevice->Characteristics;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID RtLogUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = RtLogDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = RtLogDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = RtLogDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = RtLogAddDevice;
    DriverObject->DriverUnload = RtLogUnload;
    return STATUS_SUCCESS;
}
