/*
 * calc_exporter_counted.c - the calculator exporter of iface_noop with real
 * reference counting (what seed 004's answers recommend for an interface
 * used from another stack): the interface's reference functions count its
 * users in the device extension, and IRP_MN_QUERY_REMOVE_DEVICE fails while
 * the count is not zero, so the device cannot be removed - nor the image
 * unmapped - under a user that still holds the interface.
 */
#include <wdm.h>
#include "../iface_noop/calc.h"

typedef struct _FDO_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    ULONG Calls;
    LONG InterfaceReferences;
} FDO_EXTENSION, *PFDO_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE CalcAddDevice;
DRIVER_UNLOAD CalcUnload;
DRIVER_DISPATCH CalcDispatchPnp, CalcDispatchCreateClose;

static ULONG CalcAdd(PVOID Context, ULONG A, ULONG B)
{
    PFDO_EXTENSION fdo = Context;
    fdo->Calls++;
    return A + B;
}

static VOID CalcInterfaceReference(PVOID Context)
{
    InterlockedIncrement(&((PFDO_EXTENSION)Context)->InterfaceReferences);
}

static VOID CalcInterfaceDereference(PVOID Context)
{
    InterlockedDecrement(&((PFDO_EXTENSION)Context)->InterfaceReferences);
}

static NTSTATUS CalcQueryInterface(PFDO_EXTENSION Fdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PCALC_INTERFACE calc = (PCALC_INTERFACE)stack->Parameters.QueryInterface.Interface;
    if (stack->Parameters.QueryInterface.Size < sizeof(CALC_INTERFACE))
        return STATUS_INVALID_PARAMETER;
    calc->InterfaceHeader.Size = sizeof(CALC_INTERFACE);
    calc->InterfaceHeader.Version = 1;
    calc->InterfaceHeader.Context = Fdo;
    calc->InterfaceHeader.InterfaceReference = CalcInterfaceReference;
    calc->InterfaceHeader.InterfaceDereference = CalcInterfaceDereference;
    calc->Add = CalcAdd;
    calc->InterfaceHeader.InterfaceReference(calc->InterfaceHeader.Context);
    return STATUS_SUCCESS;
}

NTSTATUS CalcDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_EXTENSION fdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&fdo->RemoveLock, Irp);
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    switch (stack->MinorFunction) {
    case IRP_MN_QUERY_INTERFACE:
        if (IsEqualGUID(stack->Parameters.QueryInterface.InterfaceType, &GUID_CALC_INTERFACE)) {
            status = CalcQueryInterface(fdo, Irp);
            Irp->IoStatus.Status = status;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
            return status;
        }
        break;
    case IRP_MN_START_DEVICE:
        IoSetDeviceInterfaceState(&fdo->InterfaceName, TRUE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&fdo->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(fdo->NextLowerDriver, Irp);
        IoReleaseRemoveLockAndWait(&fdo->RemoveLock, Irp);
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDetachDevice(fdo->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
        if (fdo->InterfaceReferences > 0) {
            /* an interface user would be left with pointers into this driver: refuse */
            Irp->IoStatus.Status = STATUS_UNSUCCESSFUL;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
            return STATUS_UNSUCCESSFUL;
        }
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_CANCEL_REMOVE_DEVICE:
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

NTSTATUS CalcDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

NTSTATUS CalcAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FDO_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PFDO_EXTENSION fdo = device->DeviceExtension;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_CALC, NULL, &fdo->InterfaceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    fdo->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!fdo->NextLowerDriver) {
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&fdo->RemoveLock, 'claC', 1, 100);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID CalcUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = CalcDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CalcDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CalcDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = CalcDispatchCreateClose;
    DriverObject->DriverExtension->AddDevice = CalcAddDevice;
    DriverObject->DriverUnload = CalcUnload;
    return STATUS_SUCCESS;
}
