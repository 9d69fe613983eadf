/*
 * rtpwr.c - a lower filter that sits directly on the PDO of the widget
 * stack (below the rtwidget function driver) and tracks the power state
 * of the physical device. AddDevice keeps a referenced pointer to the PDO
 * (ObReferenceObject) so that the power bookkeeping can name it even
 * after it detaches; it passes everything down and deletes its filter
 * device on IRP_MN_REMOVE_DEVICE.
 * Planted fault: the REMOVE handler detaches and deletes the filter device
 * but never drops the PDO reference AddDevice took. The filter's image
 * unloads; the PDO (the PnP manager's, for a root-enumerated device) is
 * never freed after the device is ejected.
 */
#include <wdm.h>

typedef struct _PWR_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT Pdo; /* referenced in AddDevice */
    PDEVICE_OBJECT LowerDevice;
    ULONG PowerIrps;
} PWR_EXTENSION, *PPWR_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE PwrAddDevice;
DRIVER_UNLOAD PwrUnload;
DRIVER_DISPATCH PwrDispatchPass, PwrDispatchPnp, PwrDispatchPower;

NTSTATUS PwrDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPWR_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS PwrDispatchPower(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPWR_EXTENSION ext = DeviceObject->DeviceExtension;
    InterlockedIncrement((PLONG)&ext->PowerIrps);
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS PwrDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPWR_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return PwrDispatchPass(DeviceObject, Irp);
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoDetachDevice(ext->LowerDevice);
    IoDeleteDevice(DeviceObject); /* BUG: ext->Pdo is never dereferenced */
    return status;
}

NTSTATUS PwrAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(PWR_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PPWR_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ObReferenceObject(PhysicalDeviceObject);
    ext->Pdo = PhysicalDeviceObject;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        ObDereferenceObject(PhysicalDeviceObject);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->DeviceType = ext->LowerDevice->DeviceType;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID PwrUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = PwrDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PwrDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_POWER] = PwrDispatchPower;
    DriverObject->DriverExtension->AddDevice = PwrAddDevice;
    DriverObject->DriverUnload = PwrUnload;
    return STATUS_SUCCESS;
}
