/*
 * rtdock.c - a WDM function driver for a docking station. While its device
 * exists it watches for widget interfaces arriving and leaving (device
 * interface change notification, registered in AddDevice) and counts the
 * docked widgets.
 * Planted fault: the registration is removed only in the
 * IRP_MN_SURPRISE_REMOVAL handler (the developer tested unplugging the
 * dock). An orderly disable never sees SURPRISE_REMOVAL, so the
 * registration outlives the FDO and its counted reference on the driver
 * object keeps rtdock from unloading.
 */
#include <wdm.h>
#include <wdmguid.h>

static const GUID GUID_DEVINTERFACE_RTWIDGET = { 0x6c1c2e3a, 0x0b57, 0x4f4e,
                                                 { 0x9d, 0x1b, 0x5a, 0x3c, 0x7e, 0x2f, 0x9a, 0x10 } };

typedef struct _DOCK_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    PVOID WidgetNotification;
    LONG Docked;
} DOCK_EXTENSION, *PDOCK_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE DockAddDevice;
DRIVER_UNLOAD DockUnload;
DRIVER_DISPATCH DockDispatchPnp, DockDispatchPass;
DRIVER_NOTIFICATION_CALLBACK_ROUTINE DockWidgetChange;

NTSTATUS DockWidgetChange(PVOID NotificationStructure, PVOID Context)
{
    PDEVICE_INTERFACE_CHANGE_NOTIFICATION note = NotificationStructure;
    PDOCK_EXTENSION ext = Context;
    if (IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_ARRIVAL))
        InterlockedIncrement(&ext->Docked);
    else if (IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_REMOVAL))
        InterlockedDecrement(&ext->Docked);
    return STATUS_SUCCESS;
}

static VOID DockStopWatching(PDOCK_EXTENSION Ext)
{
    if (Ext->WidgetNotification) {
        IoUnregisterPlugPlayNotificationEx(Ext->WidgetNotification);
        Ext->WidgetNotification = NULL;
    }
}

NTSTATUS DockDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDOCK_EXTENSION ext = DeviceObject->DeviceExtension;
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

NTSTATUS DockDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDOCK_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_SURPRISE_REMOVAL:
        DockStopWatching(ext);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        return DockDispatchPass(DeviceObject, Irp);
    case IRP_MN_REMOVE_DEVICE:
        status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
        if (!NT_SUCCESS(status)) {
            Irp->IoStatus.Status = status;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            return status;
        }
        /* BUG: DockStopWatching(ext) belongs here too (orderly removal) */
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(DeviceObject);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        return DockDispatchPass(DeviceObject, Irp);
    default:
        return DockDispatchPass(DeviceObject, Irp);
    }
}

NTSTATUS DockAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(DOCK_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PDOCK_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'kcDR', 1, 100);
    status = IoRegisterPlugPlayNotification(EventCategoryDeviceInterfaceChange,
                                            PNPNOTIFY_DEVICE_INTERFACE_INCLUDE_EXISTING_INTERFACES,
                                            (PVOID)&GUID_DEVINTERFACE_RTWIDGET, DriverObject, DockWidgetChange, ext,
                                            &ext->WidgetNotification);
    if (!NT_SUCCESS(status)) {
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(device);
        return status;
    }
    device->Flags |= DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID DockUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = DockDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = DockDispatchPnp;
    DriverObject->DriverExtension->AddDevice = DockAddDevice;
    DriverObject->DriverUnload = DockUnload;
    return STATUS_SUCCESS;
}
