/*
 * rtaddf.c - an upper class filter that only filters disks. Installed as
 * a class filter it is loaded for every device of the class; AddDevice
 * creates its filter device, then looks at the top of the stack it would
 * attach to (IoGetAttachedDeviceReference on the PDO) and declines stacks
 * that are not disks with STATUS_NOT_SUPPORTED - the PnP manager ignores a
 * filter's AddDevice failure and builds the stack without it.
 * Planted fault: the decline path returns without deleting the filter
 * device it already created. The device was never attached, so no PnP IRP
 * ever reaches it: it stays on rtaddf's device list after the widget is
 * removed, and rtaddf.so never unloads.
 */
#include <wdm.h>

typedef struct _DISKF_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
} DISKF_EXTENSION, *PDISKF_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE DiskfAddDevice;
DRIVER_UNLOAD DiskfUnload;
DRIVER_DISPATCH DiskfDispatchPass, DiskfDispatchPnp;

NTSTATUS DiskfDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDISKF_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS DiskfDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDISKF_EXTENSION ext = DeviceObject->DeviceExtension;
    PDEVICE_OBJECT lower = ext->LowerDevice;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return DiskfDispatchPass(DeviceObject, Irp);
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(lower, Irp);
    IoDetachDevice(lower);
    IoDeleteDevice(DeviceObject);
    return status;
}

/* TRUE when the stack below PhysicalDeviceObject is a disk stack. */
static BOOLEAN DiskfIsDiskStack(PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(PhysicalDeviceObject);
    BOOLEAN disk = top->DeviceType == FILE_DEVICE_DISK;
    ObDereferenceObject(top);
    return disk;
}

NTSTATUS DiskfAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(DISKF_EXTENSION), NULL, FILE_DEVICE_DISK,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    if (!DiskfIsDiskStack(PhysicalDeviceObject))
        return STATUS_NOT_SUPPORTED; /* BUG: IoDeleteDevice(device) first */
    PDISKF_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID DiskfUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = DiskfDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = DiskfDispatchPnp;
    DriverObject->DriverExtension->AddDevice = DiskfAddDevice;
    DriverObject->DriverUnload = DiskfUnload;
    return STATUS_SUCCESS;
}
