/*
 * rtwatch.c - a PnP "watchdog" driver that polls widgets. Its own
 * root-enumerated device registers for widget interface arrivals; on an
 * arrival it opens the widget (IoGetDeviceObjectPointer) and registers for
 * target-device notification on the file object, as toastmon does. On
 * REMOVE of its own device it drops everything.
 * Planted fault: the target callback releases the widget's file object only
 * on GUID_TARGET_DEVICE_REMOVE_COMPLETE, not on
 * GUID_TARGET_DEVICE_QUERY_REMOVE. The file object is still open when the
 * PnP manager checks for open handles after the query, so every disable of
 * the widget is vetoed (PNP_VetoOutstandingOpen) and rtwidget never
 * unloads.
 */
#include <wdm.h>
#include <wdmguid.h>

static const GUID GUID_DEVINTERFACE_RTWIDGET = { 0x6c1c2e3a, 0x0b57, 0x4f4e,
                                                 { 0x9d, 0x1b, 0x5a, 0x3c, 0x7e, 0x2f, 0x9a, 0x10 } };

typedef struct _WATCH_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    PVOID InterfaceNotification;
    PVOID TargetNotification;
    PFILE_OBJECT TargetFile;
    PDEVICE_OBJECT TargetDevice;
} WATCH_EXTENSION, *PWATCH_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE WatchAddDevice;
DRIVER_UNLOAD WatchUnload;
DRIVER_DISPATCH WatchDispatchPnp, WatchDispatchPass;
DRIVER_NOTIFICATION_CALLBACK_ROUTINE WatchInterfaceChange, WatchTargetChange;

static PDRIVER_OBJECT WatchDriver;

static VOID WatchCloseTarget(PWATCH_EXTENSION Ext)
{
    if (Ext->TargetFile) {
        ObDereferenceObject(Ext->TargetFile);
        Ext->TargetFile = NULL;
        Ext->TargetDevice = NULL;
    }
}

static VOID WatchForgetTarget(PWATCH_EXTENSION Ext)
{
    if (Ext->TargetNotification) {
        IoUnregisterPlugPlayNotificationEx(Ext->TargetNotification);
        Ext->TargetNotification = NULL;
    }
    WatchCloseTarget(Ext);
}

NTSTATUS WatchTargetChange(PVOID NotificationStructure, PVOID Context)
{
    PTARGET_DEVICE_REMOVAL_NOTIFICATION note = NotificationStructure;
    PWATCH_EXTENSION ext = Context;
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_QUERY_REMOVE)) {
        /* BUG: the widget's file object must be released here (WatchCloseTarget) */
        return STATUS_SUCCESS;
    }
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE))
        WatchForgetTarget(ext);
    return STATUS_SUCCESS;
}

NTSTATUS WatchInterfaceChange(PVOID NotificationStructure, PVOID Context)
{
    PDEVICE_INTERFACE_CHANGE_NOTIFICATION note = NotificationStructure;
    PWATCH_EXTENSION ext = Context;
    if (!IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_ARRIVAL) || ext->TargetFile)
        return STATUS_SUCCESS;
    if (!NT_SUCCESS(IoGetDeviceObjectPointer(note->SymbolicLinkName, FILE_READ_DATA, &ext->TargetFile,
                                             &ext->TargetDevice)))
        return STATUS_SUCCESS;
    if (!NT_SUCCESS(IoRegisterPlugPlayNotification(EventCategoryTargetDeviceChange, 0, ext->TargetFile, WatchDriver,
                                                   WatchTargetChange, ext, &ext->TargetNotification)))
        WatchCloseTarget(ext);
    return STATUS_SUCCESS;
}

NTSTATUS WatchDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWATCH_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS WatchDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWATCH_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return WatchDispatchPass(DeviceObject, Irp);
    IoUnregisterPlugPlayNotificationEx(ext->InterfaceNotification);
    WatchForgetTarget(ext);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoDetachDevice(ext->LowerDevice);
    IoDeleteDevice(DeviceObject);
    return status;
}

NTSTATUS WatchAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(WATCH_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PWATCH_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return IoRegisterPlugPlayNotification(EventCategoryDeviceInterfaceChange,
                                          PNPNOTIFY_DEVICE_INTERFACE_INCLUDE_EXISTING_INTERFACES,
                                          (PVOID)&GUID_DEVINTERFACE_RTWIDGET, DriverObject, WatchInterfaceChange, ext,
                                          &ext->InterfaceNotification);
}

VOID WatchUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    WatchDriver = DriverObject;
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = WatchDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = WatchDispatchPnp;
    DriverObject->DriverExtension->AddDevice = WatchAddDevice;
    DriverObject->DriverUnload = WatchUnload;
    return STATUS_SUCCESS;
}
