/*
 * pnp_regfn.c - the PnP path tests' function driver that forgets a
 * notification registration: AddDevice creates and attaches an unnamed FDO
 * and registers for device-interface arrivals of a class (a registration
 * holds a counted reference on this driver object); REMOVE passes the IRP
 * down, detaches and deletes the FDO but never unregisters. The entry is
 * exported (PnpRegEntry) so the test can remove the registration later;
 * so are the DriverUnload calls and the minor codes seen.
 */
#include <wdm.h>

#include "tdrv.h"

static const GUID GUID_DEVINTERFACE_PNPREG_WATCHED = { 0x9f1c2a12, 0x5b6d, 0x4e21, { 0x8a, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

__attribute__((visibility("default"))) PVOID PnpRegEntry;
__attribute__((visibility("default"))) volatile LONG PnpRegUnloadCalls;
__attribute__((visibility("default"))) volatile LONG PnpRegMinorCount[0x20];

DRIVER_INITIALIZE DriverEntry;

static NTSTATUS RegInterfaceChange(PVOID NotificationStructure, PVOID Context)
{
    UNREFERENCED_PARAMETER(NotificationStructure);
    UNREFERENCED_PARAMETER(Context);
    return STATUS_SUCCESS;
}

static NTSTATUS RegDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDEVICE_OBJECT lower = *(PDEVICE_OBJECT *)DeviceObject->DeviceExtension;
    UCHAR minor = IoGetCurrentIrpStackLocation(Irp)->MinorFunction;
    if (minor < 0x20)
        InterlockedIncrement(&PnpRegMinorCount[minor]);
    if (minor == IRP_MN_START_DEVICE || minor == IRP_MN_QUERY_REMOVE_DEVICE || minor == IRP_MN_REMOVE_DEVICE ||
        minor == IRP_MN_CANCEL_REMOVE_DEVICE || minor == IRP_MN_SURPRISE_REMOVAL)
        Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(lower, Irp);
    if (minor == IRP_MN_REMOVE_DEVICE) {
        /* deliberately no IoUnregisterPlugPlayNotificationEx(PnpRegEntry) here */
        IoDetachDevice(lower);
        IoDeleteDevice(DeviceObject);
    }
    return status;
}

static NTSTATUS RegAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(PDEVICE_OBJECT), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PDEVICE_OBJECT lower = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!lower) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    *(PDEVICE_OBJECT *)device->DeviceExtension = lower;
    status = IoRegisterPlugPlayNotification(EventCategoryDeviceInterfaceChange, 0,
                                            (PVOID)&GUID_DEVINTERFACE_PNPREG_WATCHED, DriverObject,
                                            RegInterfaceChange, NULL, &PnpRegEntry);
    if (!NT_SUCCESS(status)) {
        IoDetachDevice(lower);
        IoDeleteDevice(device);
        return status;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID RegUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    InterlockedIncrement(&PnpRegUnloadCalls);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = RegDispatchPnp;
    DriverObject->DriverExtension->AddDevice = RegAddDevice;
    DriverObject->DriverUnload = RegUnload;
    return STATUS_SUCCESS;
}
