/*
 * rtmon.c - a toastmon-style PnP monitor for widgets. Its own
 * root-enumerated device registers for widget interface arrivals; on an
 * arrival it opens the widget (IoGetDeviceObjectPointer) and registers for
 * target-device notification on that file object. Because the PnP manager
 * does not reference the file object of a target registration, the
 * monitor takes its own reference for the registration. On
 * GUID_TARGET_DEVICE_QUERY_REMOVE it closes its open of the widget; on
 * GUID_TARGET_DEVICE_REMOVE_COMPLETE it unregisters; on REMOVE of its own
 * device it unregisters everything.
 * Planted fault: the registration's own file-object reference
 * (MonArrival) is never dropped - not on QUERY_REMOVE, not after
 * unregistering - so the widget's file object stays open through every
 * query-remove: disabling the widget is vetoed (PNP_VetoOutstandingOpen)
 * and rtwidget.so never unloads, even after the monitor itself is gone.
 */
#include <wdm.h>
#include <wdmguid.h>

static const GUID GUID_DEVINTERFACE_RTWIDGET = { 0x6c1c2e3a, 0x0b57, 0x4f4e,
                                                 { 0x9d, 0x1b, 0x5a, 0x3c, 0x7e, 0x2f, 0x9a, 0x10 } };

typedef struct _MON_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    FAST_MUTEX Lock;
    PVOID InterfaceNotification;
    PVOID TargetNotification;
    PFILE_OBJECT TargetFile;      /* IoGetDeviceObjectPointer's reference */
    PFILE_OBJECT RegisteredFile;  /* the registration's own reference */
} MON_EXTENSION, *PMON_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE MonAddDevice;
DRIVER_UNLOAD MonUnload;
DRIVER_DISPATCH MonDispatchPass, MonDispatchPnp;
DRIVER_NOTIFICATION_CALLBACK_ROUTINE MonInterfaceChange, MonTargetChange;

static PDRIVER_OBJECT MonDriver;

/* Closes the monitor's open of the widget (caller holds Lock). */
static VOID MonCloseTarget(PMON_EXTENSION Ext)
{
    if (Ext->TargetFile) {
        ObDereferenceObject(Ext->TargetFile);
        Ext->TargetFile = NULL;
    }
}

/* Drops the target registration (caller holds Lock). */
static VOID MonUnregisterTarget(PMON_EXTENSION Ext)
{
    if (Ext->TargetNotification) {
        IoUnregisterPlugPlayNotificationEx(Ext->TargetNotification);
        Ext->TargetNotification = NULL;
    }
    /* BUG: Ext->RegisteredFile must be dereferenced once unregistered (and must not be held through a
     * query-remove at all) */
    Ext->RegisteredFile = NULL;
}

NTSTATUS MonTargetChange(PVOID NotificationStructure, PVOID Context)
{
    PTARGET_DEVICE_REMOVAL_NOTIFICATION note = NotificationStructure;
    PMON_EXTENSION ext = Context;
    ExAcquireFastMutex(&ext->Lock);
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_QUERY_REMOVE))
        MonCloseTarget(ext);
    else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE))
        MonUnregisterTarget(ext);
    ExReleaseFastMutex(&ext->Lock);
    return STATUS_SUCCESS;
}

static VOID MonArrival(PMON_EXTENSION Ext, PUNICODE_STRING Link)
{
    PFILE_OBJECT file;
    PDEVICE_OBJECT device;
    if (Ext->TargetFile || Ext->TargetNotification)
        return;
    if (!NT_SUCCESS(IoGetDeviceObjectPointer(Link, FILE_READ_DATA, &file, &device)))
        return;
    ObReferenceObject(file); /* the registration's own reference */
    Ext->TargetFile = file;
    Ext->RegisteredFile = file;
    if (!NT_SUCCESS(IoRegisterPlugPlayNotification(EventCategoryTargetDeviceChange, 0, file, MonDriver,
                                                   MonTargetChange, Ext, &Ext->TargetNotification))) {
        ObDereferenceObject(file);
        Ext->RegisteredFile = NULL;
        MonCloseTarget(Ext);
    }
}

NTSTATUS MonInterfaceChange(PVOID NotificationStructure, PVOID Context)
{
    PDEVICE_INTERFACE_CHANGE_NOTIFICATION note = NotificationStructure;
    PMON_EXTENSION ext = Context;
    if (!IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_ARRIVAL))
        return STATUS_SUCCESS;
    ExAcquireFastMutex(&ext->Lock);
    MonArrival(ext, note->SymbolicLinkName);
    ExReleaseFastMutex(&ext->Lock);
    return STATUS_SUCCESS;
}

NTSTATUS MonDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PMON_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS MonDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PMON_EXTENSION ext = DeviceObject->DeviceExtension;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return MonDispatchPass(DeviceObject, Irp);
    IoUnregisterPlugPlayNotificationEx(ext->InterfaceNotification);
    ExAcquireFastMutex(&ext->Lock);
    MonUnregisterTarget(ext);
    MonCloseTarget(ext);
    ExReleaseFastMutex(&ext->Lock);
    PDEVICE_OBJECT lower = ext->LowerDevice;
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(lower, Irp);
    IoDetachDevice(lower);
    IoDeleteDevice(DeviceObject);
    return status;
}

NTSTATUS MonAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(MON_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PMON_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ExInitializeFastMutex(&ext->Lock);
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    status = IoRegisterPlugPlayNotification(EventCategoryDeviceInterfaceChange,
                                            PNPNOTIFY_DEVICE_INTERFACE_INCLUDE_EXISTING_INTERFACES,
                                            (PVOID)&GUID_DEVINTERFACE_RTWIDGET, DriverObject, MonInterfaceChange, ext,
                                            &ext->InterfaceNotification);
    if (!NT_SUCCESS(status)) {
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(device);
    }
    return status;
}

VOID MonUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    MonDriver = DriverObject;
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = MonDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = MonDispatchPnp;
    DriverObject->DriverExtension->AddDevice = MonAddDevice;
    DriverObject->DriverUnload = MonUnload;
    return STATUS_SUCCESS;
}
