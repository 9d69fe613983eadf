/*
 * calc_exporter.c - a function driver that exports a driver-defined
 * "calculator" interface through IRP_MN_QUERY_INTERFACE, with the KMDF
 * no-op reference functions (seed 004's DrvA): nothing counts the
 * interface, so nothing stops the device from being removed - and the
 * image from being unmapped - while a driver in another stack still holds
 * the interface's function pointers.
 */
#include <wdm.h>
#include "calc.h"
#include <wdfnoop.h>

typedef struct _FDO_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    ULONG Calls;
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

static NTSTATUS CalcQueryInterface(PFDO_EXTENSION Fdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PCALC_INTERFACE calc = (PCALC_INTERFACE)stack->Parameters.QueryInterface.Interface;
    if (stack->Parameters.QueryInterface.Size < sizeof(CALC_INTERFACE))
        return STATUS_INVALID_PARAMETER;
    calc->InterfaceHeader.Size = sizeof(CALC_INTERFACE);
    calc->InterfaceHeader.Version = 1;
    calc->InterfaceHeader.Context = Fdo;
    /* BUG: no-op reference counting on an interface handed to drivers of other stacks. */
    calc->InterfaceHeader.InterfaceReference = WdfDeviceInterfaceReferenceNoOp;
    calc->InterfaceHeader.InterfaceDereference = WdfDeviceInterfaceDereferenceNoOp;
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
