/*
 * pnp_testfn.c - the PnP unit tests' function driver: AddDevice creates an
 * unnamed FDO, attaches it, registers a device interface (enabled on
 * start); requests hold the remove lock; REMOVE is passed down, then the
 * lock is waited for, the FDO detached and deleted. It exports what the
 * tests read: the last FDO it created, how often each PnP minor code
 * arrived, and DriverUnload calls. TD_IOCTL_ECHO echoes its input.
 */
#include <wdm.h>

#include "tdrv.h"

static const GUID GUID_DEVINTERFACE_PNPTEST = { 0x9f1c2a10, 0x5b6d, 0x4e21, { 0x8a, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

typedef struct _FDO_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    volatile LONG QueryRemoved; /* new opens fail after a successful query-remove (as documented) */
} FDO_EXTENSION, *PFDO_EXTENSION;

__attribute__((visibility("default"))) PDEVICE_OBJECT PnpTestLastFdo;
__attribute__((visibility("default"))) volatile LONG PnpTestMinorCount[0x20];
__attribute__((visibility("default"))) volatile LONG PnpTestUnloadCalls;
/* DriverUnload calls seen while a REMOVE handler of this driver was still running (must stay 0). */
__attribute__((visibility("default"))) volatile LONG PnpTestUnloadsInsideRemove;
static volatile LONG PnpTestInRemove;

DRIVER_INITIALIZE DriverEntry;

static NTSTATUS PnpTestComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS PnpTestDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_EXTENSION fdo = DeviceObject->DeviceExtension;
    UCHAR minor = IoGetCurrentIrpStackLocation(Irp)->MinorFunction;
    NTSTATUS status = IoAcquireRemoveLock(&fdo->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return PnpTestComplete(Irp, status, 0);
    if (minor < 0x20)
        InterlockedIncrement((volatile LONG *)&PnpTestMinorCount[minor]);
    switch (minor) {
    case IRP_MN_START_DEVICE:
        IoSetDeviceInterfaceState(&fdo->InterfaceName, TRUE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        InterlockedIncrement(&PnpTestInRemove);
        IoSetDeviceInterfaceState(&fdo->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(fdo->NextLowerDriver, Irp);
        IoReleaseRemoveLockAndWait(&fdo->RemoveLock, Irp);
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDetachDevice(fdo->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        InterlockedDecrement(&PnpTestInRemove);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
        InterlockedExchange(&fdo->QueryRemoved, 1);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        InterlockedExchange(&fdo->QueryRemoved, 0);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(fdo->NextLowerDriver, Irp);
    IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
    return status;
}

static NTSTATUS PnpTestDispatchOther(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_EXTENSION fdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&fdo->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return PnpTestComplete(Irp, status, 0);
    ULONG_PTR information = 0;
    status = STATUS_SUCCESS;
    if (stack->MajorFunction == IRP_MJ_CREATE && ReadAcquire(&fdo->QueryRemoved))
        status = STATUS_DELETE_PENDING;
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL) {
        ULONG n = stack->Parameters.DeviceIoControl.InputBufferLength;
        if (n > stack->Parameters.DeviceIoControl.OutputBufferLength)
            n = stack->Parameters.DeviceIoControl.OutputBufferLength;
        information = n; /* the system buffer already holds the input */
    }
    PnpTestComplete(Irp, status, information);
    IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
    return status;
}

static NTSTATUS PnpTestAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FDO_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PFDO_EXTENSION fdo = device->DeviceExtension;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_PNPTEST, NULL, &fdo->InterfaceName);
    if (NT_SUCCESS(status))
        fdo->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!fdo->NextLowerDriver) {
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDeleteDevice(device);
        return NT_SUCCESS(status) ? STATUS_NO_SUCH_DEVICE : status;
    }
    IoInitializeRemoveLock(&fdo->RemoveLock, 'tseT', 0, 0);
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    PnpTestLastFdo = device;
    return STATUS_SUCCESS;
}

static VOID PnpTestUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    InterlockedIncrement(&PnpTestUnloadCalls);
    if (ReadAcquire(&PnpTestInRemove))
        InterlockedIncrement(&PnpTestUnloadsInsideRemove);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = PnpTestDispatchOther;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PnpTestDispatchPnp;
    DriverObject->DriverExtension->AddDevice = PnpTestAddDevice;
    DriverObject->DriverUnload = PnpTestUnload;
    return STATUS_SUCCESS;
}
