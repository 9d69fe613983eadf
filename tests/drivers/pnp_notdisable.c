/*
 * pnp_notdisable.c - the PnP path tests' function driver for a device that
 * must not be disabled while it is in use: it answers
 * IRP_MN_QUERY_PNP_DEVICE_STATE with PNP_DEVICE_NOT_DISABLEABLE until an
 * application sends PNPND_IOCTL_ALLOW_DISABLE through its device interface;
 * then it clears the bit and calls IoInvalidateDeviceState so the PnP
 * manager asks again. AddDevice creates and attaches an unnamed FDO;
 * REMOVE is passed down, then the FDO is detached and deleted. It exports
 * how often each PnP minor code arrived and its DriverUnload calls.
 */
#include <wdm.h>

#include "tdrv.h"

#define PNPND_IOCTL_ALLOW_DISABLE TD_IOCTL(0x20)

static const GUID GUID_DEVINTERFACE_PNPND = { 0x9f1c2a11, 0x5b6d, 0x4e21, { 0x8a, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

typedef struct _ND_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    PDEVICE_OBJECT Pdo;
    UNICODE_STRING InterfaceName;
    volatile LONG NotDisableable;
} ND_EXTENSION, *PND_EXTENSION;

__attribute__((visibility("default"))) volatile LONG PnpNdMinorCount[0x20];
__attribute__((visibility("default"))) volatile LONG PnpNdUnloadCalls;

DRIVER_INITIALIZE DriverEntry;

static NTSTATUS NdPassDown(PND_EXTENSION Ext, PIRP Irp)
{
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Ext->NextLowerDriver, Irp);
}

static NTSTATUS NdDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PND_EXTENSION ext = DeviceObject->DeviceExtension;
    UCHAR minor = IoGetCurrentIrpStackLocation(Irp)->MinorFunction;
    NTSTATUS status;
    if (minor < 0x20)
        InterlockedIncrement(&PnpNdMinorCount[minor]);
    switch (minor) {
    case IRP_MN_START_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, TRUE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        if (ReadAcquire(&ext->NotDisableable))
            Irp->IoStatus.Information |= PNP_DEVICE_NOT_DISABLEABLE;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        status = NdPassDown(ext, Irp);
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDetachDevice(ext->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        return status;
    default:
        break;
    }
    return NdPassDown(ext, Irp);
}

static NTSTATUS NdDispatchOther(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PND_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        if (stack->Parameters.DeviceIoControl.IoControlCode == PNPND_IOCTL_ALLOW_DISABLE) {
            InterlockedExchange(&ext->NotDisableable, 0);
            IoInvalidateDeviceState(ext->Pdo); /* the PnP manager re-sends IRP_MN_QUERY_PNP_DEVICE_STATE */
        } else {
            status = STATUS_INVALID_DEVICE_REQUEST;
        }
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static NTSTATUS NdAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(ND_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PND_EXTENSION ext = device->DeviceExtension;
    ext->Pdo = PhysicalDeviceObject;
    ext->NotDisableable = 1;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_PNPND, NULL, &ext->InterfaceName);
    if (NT_SUCCESS(status))
        ext->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->NextLowerDriver) {
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDeleteDevice(device);
        return NT_SUCCESS(status) ? STATUS_NO_SUCH_DEVICE : status;
    }
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NdUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    InterlockedIncrement(&PnpNdUnloadCalls);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = NdDispatchOther;
    DriverObject->MajorFunction[IRP_MJ_PNP] = NdDispatchPnp;
    DriverObject->DriverExtension->AddDevice = NdAddDevice;
    DriverObject->DriverUnload = NdUnload;
    return STATUS_SUCCESS;
}
