/*
 * rtselfref.c - a PnP function driver for root-enumerated "probes" that
 * keeps its driver object referenced while it has devices: AddDevice takes
 * ObReferenceObject(DriverObject) ("the driver must stay while a probe
 * exists") and DriverUnload drops it. Each probe's FDO is attached,
 * started by forwarding, and on REMOVE detached and deleted.
 * Planted fault: one reference per AddDevice, one dereference per unload.
 * With two probes the driver object keeps one reference after both are
 * removed: DriverUnload runs, but the image stays mapped and the devnodes
 * cannot be started again (the image is already loaded).
 */
#include <wdm.h>

typedef struct _PROBE_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
} PROBE_EXTENSION, *PPROBE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE ProbeAddDevice;
DRIVER_UNLOAD ProbeUnload;
DRIVER_DISPATCH ProbeDispatchPass, ProbeDispatchPnp;

NTSTATUS ProbeDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPROBE_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS ProbeDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPROBE_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    switch (stack->MinorFunction) {
    case IRP_MN_REMOVE_DEVICE: {
        PDEVICE_OBJECT lower = ext->LowerDevice;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        NTSTATUS status = IoCallDriver(lower, Irp);
        IoDetachDevice(lower);
        IoDeleteDevice(DeviceObject);
        return status;
    }
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    return ProbeDispatchPass(DeviceObject, Irp);
}

NTSTATUS ProbeAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(PROBE_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PPROBE_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    ObReferenceObject(DriverObject); /* BUG: one per device, but DriverUnload drops only one */
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID ProbeUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    ObDereferenceObject(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = ProbeDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = ProbeDispatchPnp;
    DriverObject->DriverExtension->AddDevice = ProbeAddDevice;
    DriverObject->DriverUnload = ProbeUnload;
    return STATUS_SUCCESS;
}
