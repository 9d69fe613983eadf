/*
 * toastmon_iface_leak.c - a PnP monitor driver in the style of the WDK toastmon sample: its
 * root-enumerated device registers in AddDevice for toaster interface
 * arrivals; on an arrival it opens the toaster (IoGetDeviceObjectPointer)
 * and registers for target-device notification on the file object,
 * releasing the file object on query-remove. On its own removal it forgets
 * to unregister the interface notification.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/pnp_notify_iface_fixed), it
 * unregisters everything on its own removal, so it unloads cleanly.
 */
#include "toastmon.h"

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

static PDRIVER_OBJECT MonDriver;

NTSTATUS MonTargetChange(PVOID NotificationStructure, PVOID Context)
{
    PTARGET_DEVICE_REMOVAL_NOTIFICATION note = NotificationStructure;
    PMON_EXTENSION ext = Context;
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_QUERY_REMOVE) && ext->TargetFile) {
        ObDereferenceObject(ext->TargetFile); /* let the target go: close our "handle" */
        ext->TargetFile = NULL;
    } else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE)) {
        if (ext->TargetNotification) {
            IoUnregisterPlugPlayNotificationEx(ext->TargetNotification);
            ext->TargetNotification = NULL;
        }
    }
    return STATUS_SUCCESS;
}

NTSTATUS MonInterfaceArrival(PVOID NotificationStructure, PVOID Context)
{
    PDEVICE_INTERFACE_CHANGE_NOTIFICATION note = NotificationStructure;
    PMON_EXTENSION ext = Context;
    PDEVICE_OBJECT target;
    if (!IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_ARRIVAL) || ext->TargetFile)
        return STATUS_SUCCESS;
    if (!NT_SUCCESS(IoGetDeviceObjectPointer(note->SymbolicLinkName, FILE_READ_DATA, &ext->TargetFile, &target)))
        return STATUS_SUCCESS;
    if (!NT_SUCCESS(IoRegisterPlugPlayNotification(EventCategoryTargetDeviceChange, 0, ext->TargetFile,
                                                   MonDriver,
                                                   MonTargetChange, ext, &ext->TargetNotification))) {
        ObDereferenceObject(ext->TargetFile);
        ext->TargetFile = NULL;
    }
    return STATUS_SUCCESS;
}

NTSTATUS MonDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PMON_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->NextLowerDriver, Irp);
}

NTSTATUS MonDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PMON_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return MonDispatchPass(DeviceObject, Irp);
    if (ext->TargetNotification)
        IoUnregisterPlugPlayNotificationEx(ext->TargetNotification);
    if (ext->TargetFile)
        ObDereferenceObject(ext->TargetFile);
#if SAMPLE_FIXED
    /* FIX: drop the device-interface registration made in AddDevice. */
    IoUnregisterPlugPlayNotificationEx(ext->InterfaceNotification);
#else
    /* BUG: the device-interface registration made in AddDevice is never removed
     * (IoUnregisterPlugPlayNotificationEx(ext->InterfaceNotification) is missing): it keeps a counted
     * reference on the driver object, so the driver cannot unload. */
#endif
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->NextLowerDriver, Irp);
    IoDetachDevice(ext->NextLowerDriver);
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
    ext->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->NextLowerDriver) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    status = IoRegisterPlugPlayNotification(EventCategoryDeviceInterfaceChange,
                                            PNPNOTIFY_DEVICE_INTERFACE_INCLUDE_EXISTING_INTERFACES,
                                            (PVOID)&GUID_DEVINTERFACE_TOASTER, DriverObject, MonInterfaceArrival, ext,
                                            &ext->InterfaceNotification);
    return STATUS_SUCCESS;
}

VOID MonUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
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
