/*
 * rtfail.c - a WDM function driver for a root-enumerated "sensor hub"
 * whose hardware does not answer. AddDevice creates the FDO, attaches it
 * and allocates the hub's register shadow from pool; IRP_MN_START_DEVICE
 * forwards the IRP synchronously, then probes the hub, which reports no
 * firmware, so the start fails with STATUS_DEVICE_NOT_READY. The PnP
 * manager then sends IRP_MN_REMOVE_DEVICE (a REMOVE follows a failed
 * start).
 * Planted fault: the REMOVE handler treats "never started" as "nothing to
 * undo" and completes the IRP at once: the FDO is neither detached nor
 * deleted (and the shadow never freed), so the driver keeps a device and
 * DriverUnload is never called.
 */
#include <wdm.h>

#define HUB_TAG 'buHS'

typedef struct _HUB_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    PULONG Shadow;            /* register shadow, HUB_REGISTERS entries */
    BOOLEAN Started;
} HUB_EXTENSION, *PHUB_EXTENSION;

#define HUB_REGISTERS 16
#define HUB_REG_FIRMWARE 0

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE HubAddDevice;
DRIVER_UNLOAD HubUnload;
DRIVER_DISPATCH HubDispatchPnp, HubDispatchPass;
IO_COMPLETION_ROUTINE HubStartCompletion;

static NTSTATUS HubComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS HubStartCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Reads the firmware revision register: the simulated hub has none (0). */
static NTSTATUS HubProbe(PHUB_EXTENSION Ext)
{
    return Ext->Shadow[HUB_REG_FIRMWARE] == 0 ? STATUS_DEVICE_NOT_READY : STATUS_SUCCESS;
}

static NTSTATUS HubStart(PHUB_EXTENSION Ext, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, HubStartCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    NTSTATUS status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        status = HubProbe(Ext);
    Ext->Started = NT_SUCCESS(status);
    return HubComplete(Irp, status);
}

static NTSTATUS HubRemove(PHUB_EXTENSION Ext, PIRP Irp)
{
    if (!Ext->Started)
        return HubComplete(Irp, STATUS_SUCCESS); /* BUG: a REMOVE after a failed start must still clean up */
    Ext->Started = FALSE;
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(Ext->LowerDevice, Irp);
    ExFreePoolWithTag(Ext->Shadow, HUB_TAG);
    IoDetachDevice(Ext->LowerDevice);
    IoDeleteDevice(Ext->Self);
    return status;
}

NTSTATUS HubDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PHUB_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS HubDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PHUB_EXTENSION ext = DeviceObject->DeviceExtension;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return HubStart(ext, Irp);
    case IRP_MN_REMOVE_DEVICE:
        return HubRemove(ext, Irp);
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    return HubDispatchPass(DeviceObject, Irp);
}

NTSTATUS HubAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(HUB_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PHUB_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->Shadow = ExAllocatePoolZero(NonPagedPool, HUB_REGISTERS * sizeof(ULONG), HUB_TAG);
    if (!ext->Shadow) {
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        ExFreePoolWithTag(ext->Shadow, HUB_TAG);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID HubUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = HubDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = HubDispatchPnp;
    DriverObject->DriverExtension->AddDevice = HubAddDevice;
    DriverObject->DriverUnload = HubUnload;
    return STATUS_SUCCESS;
}
