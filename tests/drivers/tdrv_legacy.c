/*
 * tdrv_legacy.c - the core tests' legacy driver: DriverEntry creates the
 * named device \Device\<TD_NAME> and the link \DosDevices\<TD_NAME>;
 * DriverUnload deletes the link and every device on the driver's list.
 * Every IRP is logged in TdLog; IOCTLs exercise pool, pending IRPs
 * completed by work items, and a double completion.
 */
#include "tdrv.h"

#ifndef TD_NAME
#define TD_NAME L"TdLegacy"
#endif

__attribute__((visibility("default"))) TD_LOG TdLog;

static VOID TdRecord(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    LONG i = InterlockedIncrement(&TdLog.Count) - 1;
    if (i < TD_LOG_MAX) {
        TdLog.Entries[i].MajorFunction = sp->MajorFunction;
        TdLog.Entries[i].DeviceObject = DeviceObject;
        TdLog.Entries[i].FileObject = sp->FileObject;
    }
}

static NTSTATUS TdComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS TdDispatchSimple(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    TdRecord(DeviceObject, Irp);
    return TdComplete(Irp, STATUS_SUCCESS, 0);
}

static VOID TdCompletePended(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIRP irp = Context;
    PIO_WORKITEM item = irp->Tail.Overlay.DriverContext[0];
    InterlockedIncrement(&TdLog.WorkItemsRun);
    IoFreeWorkItem(item);
    TdComplete(irp, STATUS_SUCCESS, TD_WORK_INFORMATION);
}

static NTSTATUS TdPend(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_WORKITEM item = IoAllocateWorkItem(DeviceObject);
    if (!item)
        return TdComplete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    Irp->Tail.Overlay.DriverContext[0] = item;
    IoMarkIrpPending(Irp);
    IoQueueWorkItem(item, TdCompletePended, DelayedWorkQueue, Irp);
    return STATUS_PENDING;
}

static NTSTATUS TdPool(PIRP Irp, ULONG Code, ULONG InLength, ULONG OutLength)
{
    TD_POOL_REQUEST *request = Irp->AssociatedIrp.SystemBuffer;
    if (InLength < sizeof(*request))
        return TdComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    if (Code == TD_IOCTL_POOL_FREE) {
        ExFreePoolWithTag(request->Pointer, request->Tag);
        return TdComplete(Irp, STATUS_SUCCESS, 0);
    }
    if (OutLength < sizeof(PVOID))
        return TdComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, request->Size, request->Tag);
    if (!p)
        return TdComplete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    *(PVOID *)Irp->AssociatedIrp.SystemBuffer = p;
    return TdComplete(Irp, STATUS_SUCCESS, sizeof(PVOID));
}

static NTSTATUS TdDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    ULONG code = sp->Parameters.DeviceIoControl.IoControlCode;
    ULONG inLength = sp->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLength = sp->Parameters.DeviceIoControl.OutputBufferLength;
    TdRecord(DeviceObject, Irp);
    switch (code) {
    case TD_IOCTL_ECHO:
        return TdComplete(Irp, STATUS_SUCCESS, inLength < outLength ? inLength : outLength);
    case TD_IOCTL_POOL_ALLOC:
    case TD_IOCTL_POOL_FREE:
        return TdPool(Irp, code, inLength, outLength);
    case TD_IOCTL_PEND:
        return TdPend(DeviceObject, Irp);
    case TD_IOCTL_COMPLETE_TWICE:
        TdComplete(Irp, STATUS_SUCCESS, 0);
        return TdComplete(Irp, STATUS_SUCCESS, 0);
    default:
        return TdComplete(Irp, STATUS_NOT_SUPPORTED, 0);
    }
}

static VOID TdUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\" TD_NAME);
    InterlockedIncrement(&TdLog.UnloadCalls);
    IoDeleteSymbolicLink(&link);
    while (DriverObject->DeviceObject)
        IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\" TD_NAME);
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\" TD_NAME);
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = TdDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = TdDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = TdDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = TdDispatchIoctl;
    DriverObject->DriverUnload = TdUnload;
    return STATUS_SUCCESS;
}
