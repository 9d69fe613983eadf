/*
 * calc_importer.c - a legacy (non-PnP) driver that uses the calculator
 * interface of a device in another stack (seed 004's DrvB). On
 * IOCTL_IMPORTER_CONNECT it opens the exporter through its device
 * interface, queries the interface with IRP_MN_QUERY_INTERFACE and
 * registers for target-device notification on the file object. On
 * GUID_TARGET_DEVICE_QUERY_REMOVE it releases the file object - as the
 * rules say - but keeps the interface and keeps calling it from
 * IOCTL_IMPORTER_ADD: it never calls InterfaceDereference.
 */
#include <wdm.h>
#include <wdmguid.h>
#include "calc.h"

#define IMPORTER_DEVICE_NAME L"\\Device\\CalcImporter"
#define IMPORTER_LINK_NAME L"\\DosDevices\\CalcImporter"
#define EXPORTER_LINK_NAME L"\\??\\ROOT#CALC#0000#{5d2a6be5-1c3e-4e5a-9b1f-3c2d7a9e0f11}"
#define IOCTL_IMPORTER_CONNECT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_IMPORTER_ADD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)

static PDEVICE_OBJECT ImporterDevice;
static PFILE_OBJECT TargetFile;
static PVOID TargetNotification;
static CALC_INTERFACE Calc;
static BOOLEAN Connected;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD ImporterUnload;
DRIVER_DISPATCH ImporterCreateClose, ImporterIoctl;
DRIVER_NOTIFICATION_CALLBACK_ROUTINE ImporterTargetNotify;

static NTSTATUS ImporterQueryDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS ImporterQueryInterface(PDEVICE_OBJECT Target)
{
    KEVENT event;
    PIRP irp = IoAllocateIrp(Target->StackSize, FALSE);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_PNP;
    next->MinorFunction = IRP_MN_QUERY_INTERFACE;
    next->Parameters.QueryInterface.InterfaceType = &GUID_CALC_INTERFACE;
    next->Parameters.QueryInterface.Size = sizeof(Calc);
    next->Parameters.QueryInterface.Version = 1;
    next->Parameters.QueryInterface.Interface = (PINTERFACE)&Calc;
    IoSetCompletionRoutine(irp, ImporterQueryDone, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Target, irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    NTSTATUS status = irp->IoStatus.Status;
    IoFreeIrp(irp);
    return status;
}

NTSTATUS ImporterTargetNotify(PVOID NotificationStructure, PVOID Context)
{
    PTARGET_DEVICE_REMOVAL_NOTIFICATION note = NotificationStructure;
    UNREFERENCED_PARAMETER(Context);
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_QUERY_REMOVE) && TargetFile) {
        /* BUG: the file object goes, but the interface is kept (and never dereferenced). */
        ObDereferenceObject(TargetFile);
        TargetFile = NULL;
    } else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE) && TargetNotification) {
        IoUnregisterPlugPlayNotificationEx(TargetNotification);
        TargetNotification = NULL;
    }
    return STATUS_SUCCESS;
}

static NTSTATUS ImporterConnect(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(EXPORTER_LINK_NAME);
    PDEVICE_OBJECT target;
    NTSTATUS status = IoGetDeviceObjectPointer(&link, FILE_READ_DATA, &TargetFile, &target);
    if (!NT_SUCCESS(status))
        return status;
    status = ImporterQueryInterface(target);
    if (NT_SUCCESS(status))
        status = IoRegisterPlugPlayNotification(EventCategoryTargetDeviceChange, 0, TargetFile, DriverObject,
                                                ImporterTargetNotify, NULL, &TargetNotification);
    if (!NT_SUCCESS(status)) {
        ObDereferenceObject(TargetFile);
        TargetFile = NULL;
        return status;
    }
    Connected = TRUE;
    return STATUS_SUCCESS;
}

NTSTATUS ImporterIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG_PTR information = 0;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_IMPORTER_CONNECT:
        status = Connected ? STATUS_SUCCESS : ImporterConnect(DeviceObject->DriverObject);
        break;
    case IOCTL_IMPORTER_ADD:
        if (Connected && stack->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(ULONG)) {
            *(PULONG)Irp->AssociatedIrp.SystemBuffer = Calc.Add(Calc.InterfaceHeader.Context, 2, 3);
            information = sizeof(ULONG);
            status = STATUS_SUCCESS;
        }
        break;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

NTSTATUS ImporterCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

VOID ImporterUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(IMPORTER_LINK_NAME);
    UNREFERENCED_PARAMETER(DriverObject);
    if (TargetNotification)
        IoUnregisterPlugPlayNotificationEx(TargetNotification);
    if (TargetFile)
        ObDereferenceObject(TargetFile);
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(ImporterDevice);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(IMPORTER_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(IMPORTER_LINK_NAME);
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN,
                                     FALSE, &ImporterDevice);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(ImporterDevice);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = ImporterCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = ImporterCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ImporterIoctl;
    DriverObject->DriverUnload = ImporterUnload;
    return STATUS_SUCCESS;
}
