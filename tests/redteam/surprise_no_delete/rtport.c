/*
 * rtport.c - a WDM function driver for a hot-pluggable "port" device. It
 * keeps a small pool-allocated receive ring while started. SURPRISE_REMOVAL
 * releases the hardware state early (ring freed, interface disabled), as
 * the docs ask; REMOVE then finishes the teardown.
 * Planted fault: when the device was surprise-removed, the REMOVE handler
 * takes a short path ("hardware already released") that forwards the IRP
 * and detaches but never calls IoDeleteDevice. An orderly disable deletes
 * the FDO; an unplug leaves it on the driver's list forever, so the PnP
 * manager never calls DriverUnload.
 */
#include <wdm.h>

#define PORT_TAG 'troP'
#define PORT_RING_SIZE 512

/* {8A4C1F02-61E3-4B6A-A9C0-3D5E7F10B2C4} */
static const GUID GUID_DEVINTERFACE_RTPORT = { 0x8a4c1f02, 0x61e3, 0x4b6a,
                                               { 0xa9, 0xc0, 0x3d, 0x5e, 0x7f, 0x10, 0xb2, 0xc4 } };

typedef enum _PORT_PNP_STATE { PortNotStarted, PortStarted, PortSurpriseRemoved, PortRemoved } PORT_PNP_STATE;

typedef struct _PORT_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    PORT_PNP_STATE State;
    PUCHAR Ring;
} PORT_EXTENSION, *PPORT_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE PortAddDevice;
DRIVER_UNLOAD PortUnload;
DRIVER_DISPATCH PortDispatchPnp, PortDispatchPass, PortDispatchCreateClose;
IO_COMPLETION_ROUTINE PortSyncCompletion;

static NTSTATUS PortComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS PortSyncCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PortStartDevice(PPORT_EXTENSION Ext, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, PortSyncCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    if (!NT_SUCCESS(Irp->IoStatus.Status))
        return Irp->IoStatus.Status;
    Ext->Ring = ExAllocatePoolZero(NonPagedPoolNx, PORT_RING_SIZE, PORT_TAG);
    if (!Ext->Ring)
        return STATUS_INSUFFICIENT_RESOURCES;
    Ext->State = PortStarted;
    IoSetDeviceInterfaceState(&Ext->InterfaceName, TRUE);
    return STATUS_SUCCESS;
}

/* Releases what START acquired; safe to call twice. */
static VOID PortReleaseHardware(PPORT_EXTENSION Ext)
{
    if (Ext->State == PortStarted)
        IoSetDeviceInterfaceState(&Ext->InterfaceName, FALSE);
    if (Ext->Ring) {
        ExFreePoolWithTag(Ext->Ring, PORT_TAG);
        Ext->Ring = NULL;
    }
}

static NTSTATUS PortRemoveDevice(PDEVICE_OBJECT DeviceObject, PPORT_EXTENSION Ext, PIRP Irp)
{
    NTSTATUS status;
    BOOLEAN alreadyReleased = Ext->State == PortSurpriseRemoved;
    if (!alreadyReleased)
        PortReleaseHardware(Ext);
    Ext->State = PortRemoved;
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(Ext->LowerDevice, Irp);
    IoReleaseRemoveLockAndWait(&Ext->RemoveLock, Irp);
    RtlFreeUnicodeString(&Ext->InterfaceName);
    IoDetachDevice(Ext->LowerDevice);
    if (alreadyReleased)
        return status; /* BUG: the surprise-removed FDO is never deleted */
    IoDeleteDevice(DeviceObject);
    return status;
}

NTSTATUS PortDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPORT_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return PortComplete(Irp, status);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        status = PortStartDevice(ext, Irp);
        PortComplete(Irp, status);
        IoReleaseRemoveLock(&ext->RemoveLock, Irp);
        return status;
    case IRP_MN_SURPRISE_REMOVAL:
        PortReleaseHardware(ext);
        ext->State = PortSurpriseRemoved;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        return PortRemoveDevice(DeviceObject, ext, Irp);
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS PortDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPORT_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS PortDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPORT_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->MajorFunction == IRP_MJ_CREATE && ext->State != PortStarted)
        return PortComplete(Irp, STATUS_DELETE_PENDING);
    return PortComplete(Irp, STATUS_SUCCESS);
}

NTSTATUS PortAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(PORT_EXTENSION), NULL, FILE_DEVICE_SERIAL_PORT,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PPORT_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->State = PortNotStarted;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_RTPORT, NULL, &ext->InterfaceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, PORT_TAG, 1, 100);
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID PortUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = PortDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PortDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PortDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PortDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = PortDispatchCreateClose;
    DriverObject->DriverExtension->AddDevice = PortAddDevice;
    DriverObject->DriverUnload = PortUnload;
    return STATUS_SUCCESS;
}
