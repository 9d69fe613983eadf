/*
 * rtnopass.c - an upper "quota" filter over the widget. AddDevice
 * attaches an unnamed filter device above the widget's FDO; it counts the
 * IOCTLs that pass through and forwards everything else untouched.
 * Planted fault: on IRP_MN_REMOVE_DEVICE the filter cleans up after itself
 * (detach, delete) and then completes the IRP as if it were the bus
 * driver, instead of passing it down. The widget's function driver never
 * sees REMOVE: its FDO is never deleted and rtwidget.so never unloads,
 * while the filter itself unloads cleanly.
 */
#include <wdm.h>

typedef struct _QUOTA_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    LONG Ioctls;
} QUOTA_EXTENSION, *PQUOTA_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE QuotaAddDevice;
DRIVER_UNLOAD QuotaUnload;
DRIVER_DISPATCH QuotaDispatchPass, QuotaDispatchIoctl, QuotaDispatchPnp;

NTSTATUS QuotaDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PQUOTA_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS QuotaDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PQUOTA_EXTENSION ext = DeviceObject->DeviceExtension;
    InterlockedIncrement(&ext->Ioctls);
    return QuotaDispatchPass(DeviceObject, Irp);
}

static NTSTATUS QuotaRemove(PQUOTA_EXTENSION Ext, PIRP Irp)
{
    IoDetachDevice(Ext->LowerDevice);
    IoDeleteDevice(Ext->Self);
    /* BUG: REMOVE must be passed down (IoSkipCurrentIrpStackLocation + IoCallDriver) before detaching */
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

NTSTATUS QuotaDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PQUOTA_EXTENSION ext = DeviceObject->DeviceExtension;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction == IRP_MN_REMOVE_DEVICE)
        return QuotaRemove(ext, Irp);
    return QuotaDispatchPass(DeviceObject, Irp);
}

NTSTATUS QuotaAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(QUOTA_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PQUOTA_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
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

VOID QuotaUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = QuotaDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = QuotaDispatchIoctl;
    DriverObject->MajorFunction[IRP_MJ_PNP] = QuotaDispatchPnp;
    DriverObject->DriverExtension->AddDevice = QuotaAddDevice;
    DriverObject->DriverUnload = QuotaUnload;
    return STATUS_SUCCESS;
}
