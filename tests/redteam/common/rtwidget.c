/*
 * rtwidget.c - a clean WDM function driver for a root-enumerated "widget",
 * shared by the red-team filter cases. AddDevice creates an unnamed FDO,
 * attaches it to the PDO, registers the widget device interface and
 * initialises the remove lock; START forwards synchronously and enables
 * the interface; every request holds the remove lock; IOCTL_WIDGET_STATUS
 * returns a request counter; REMOVE disables the interface, forwards,
 * waits for the remove lock, detaches and deletes the FDO. Nothing is
 * planted here.
 */
#include <wdm.h>

#define IOCTL_WIDGET_STATUS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* {6C1C2E3A-0B57-4F4E-9D1B-5A3C7E2F9A10} */
static const GUID GUID_DEVINTERFACE_RTWIDGET = { 0x6c1c2e3a, 0x0b57, 0x4f4e,
                                                 { 0x9d, 0x1b, 0x5a, 0x3c, 0x7e, 0x2f, 0x9a, 0x10 } };

typedef struct _WIDGET_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    BOOLEAN Started;
    ULONG Requests;
} WIDGET_EXTENSION, *PWIDGET_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE WidgetAddDevice;
DRIVER_UNLOAD WidgetUnload;
DRIVER_DISPATCH WidgetDispatchPnp, WidgetDispatchPower, WidgetDispatchCreateClose, WidgetDispatchIoctl;
IO_COMPLETION_ROUTINE WidgetSignalCompletion;

static NTSTATUS WidgetComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS WidgetSignalCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WidgetForwardSynchronously(PWIDGET_EXTENSION Ext, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, WidgetSignalCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    return Irp->IoStatus.Status;
}

NTSTATUS WidgetDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWIDGET_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return WidgetComplete(Irp, status, 0);

    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        status = WidgetForwardSynchronously(ext, Irp);
        if (NT_SUCCESS(status)) {
            ext->Started = TRUE;
            IoSetDeviceInterfaceState(&ext->InterfaceName, TRUE);
        }
        WidgetComplete(Irp, status, 0);
        IoReleaseRemoveLock(&ext->RemoveLock, Irp);
        return status;
    case IRP_MN_SURPRISE_REMOVAL:
        ext->Started = FALSE;
        IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        if (ext->Started)
            IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        ext->Started = FALSE;
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
    case IRP_MN_QUERY_STOP_DEVICE:
    case IRP_MN_CANCEL_STOP_DEVICE:
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

NTSTATUS WidgetDispatchPower(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWIDGET_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS WidgetDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWIDGET_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return WidgetComplete(Irp, status, 0);
    WidgetComplete(Irp, STATUS_SUCCESS, 0);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return STATUS_SUCCESS;
}

NTSTATUS WidgetDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWIDGET_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return WidgetComplete(Irp, status, 0);
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_WIDGET_STATUS &&
        stack->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(ULONG)) {
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = ++ext->Requests;
        status = WidgetComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    } else {
        status = WidgetComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS WidgetAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(WIDGET_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PWIDGET_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_RTWIDGET, NULL, &ext->InterfaceName);
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
    IoInitializeRemoveLock(&ext->RemoveLock, 'gdWR', 1, 100);
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID WidgetUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = WidgetDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_POWER] = WidgetDispatchPower;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = WidgetDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = WidgetDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = WidgetDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = WidgetDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = WidgetAddDevice;
    DriverObject->DriverUnload = WidgetUnload;
    return STATUS_SUCCESS;
}
