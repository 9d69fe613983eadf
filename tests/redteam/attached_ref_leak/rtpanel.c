/*
 * rtpanel.c - a WDM function driver for a front-panel controller. It builds
 * its own IRPs for panel refreshes, so after IRP_MN_START_DEVICE it looks at
 * the top of its device stack (IoGetAttachedDeviceReference) to size them:
 * requests must start at the top so upper filters see them. The refresh
 * IOCTL does the same and drops the reference properly.
 * Planted fault: the start path keeps the top-of-stack device reference
 * IoGetAttachedDeviceReference returned and never dereferences it. The top
 * of the stack is the upper filter's device, so the leak pins the
 * *filter's* deleted device and image, not this driver's.
 */
#include <wdm.h>

#define IOCTL_PANEL_REFRESH CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* {0E2B0C55-4D3B-4F0A-8F3E-7B1D2A6C9E01} */
static const GUID GUID_DEVINTERFACE_RTPANEL = { 0x0e2b0c55, 0x4d3b, 0x4f0a,
                                                { 0x8f, 0x3e, 0x7b, 0x1d, 0x2a, 0x6c, 0x9e, 0x01 } };

typedef struct _PANEL_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    CCHAR RefreshStackSize;
    ULONG Refreshes;
} PANEL_EXTENSION, *PPANEL_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE PanelAddDevice;
DRIVER_UNLOAD PanelUnload;
DRIVER_DISPATCH PanelDispatchPnp, PanelDispatchPass, PanelDispatchCreateClose, PanelDispatchIoctl;
IO_COMPLETION_ROUTINE PanelStartCompletion;

static NTSTATUS PanelComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS PanelStartCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Sizes refresh IRPs for the whole stack above and below us. */
static VOID PanelSizeRefreshIrps(PPANEL_EXTENSION Ext)
{
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(Ext->Self);
    Ext->RefreshStackSize = top->StackSize;
    /* BUG: 'top' is referenced; ObDereferenceObject(top) is missing */
}

static NTSTATUS PanelRefresh(PPANEL_EXTENSION Ext)
{
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(Ext->Self);
    NTSTATUS status = top->StackSize >= Ext->RefreshStackSize ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
    ObDereferenceObject(top);
    if (NT_SUCCESS(status))
        Ext->Refreshes++;
    return status;
}

static NTSTATUS PanelStart(PPANEL_EXTENSION Ext, PIRP Irp)
{
    KEVENT event;
    NTSTATUS status;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, PanelStartCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status)) {
        PanelSizeRefreshIrps(Ext);
        IoSetDeviceInterfaceState(&Ext->InterfaceName, TRUE);
    }
    return status;
}

NTSTATUS PanelDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPANEL_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return PanelComplete(Irp, status, 0);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        status = PanelStart(ext, Irp);
        PanelComplete(Irp, status, 0);
        IoReleaseRemoveLock(&ext->RemoveLock, Irp);
        return status;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(DeviceObject);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
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

NTSTATUS PanelDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPANEL_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS PanelDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return PanelComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS PanelDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPANEL_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return PanelComplete(Irp, status, 0);
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_PANEL_REFRESH)
        status = PanelRefresh(ext);
    else
        status = STATUS_INVALID_DEVICE_REQUEST;
    PanelComplete(Irp, status, 0);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS PanelAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(PANEL_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PPANEL_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_RTPANEL, NULL, &ext->InterfaceName);
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
    IoInitializeRemoveLock(&ext->RemoveLock, 'naPR', 1, 100);
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID PanelUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = PanelDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PanelDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PanelDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PanelDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = PanelDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PanelDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = PanelAddDevice;
    DriverObject->DriverUnload = PanelUnload;
    return STATUS_SUCCESS;
}
