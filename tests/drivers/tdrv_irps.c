/*
 * tdrv_irps.c - the tracer tests' IRP driver: DriverEntry creates
 * \Device\TdIrps (link \DosDevices\TdIrps) and sends its own device two
 * IRP_MJ_FLUSH_BUFFERS requests, one built by the I/O manager
 * (IoBuildSynchronousFsdRequest) and one in pool it owns (IoInitializeIrp,
 * taken back by its completion routine). TD_IOCTL_PEND is pended and
 * completed by a work item (IoCallDriver returns STATUS_PENDING), every
 * other IOCTL is echoed. Used by tests/e2e/tracer_fields.sh.
 */
#include "tdrv.h"

static NTSTATUS TdIrpsComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS TdIrpsDispatchSimple(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return TdIrpsComplete(Irp, STATUS_SUCCESS);
}

static VOID TdIrpsCompletePended(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PIRP irp = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    IoFreeWorkItem(irp->Tail.Overlay.DriverContext[0]);
    TdIrpsComplete(irp, STATUS_SUCCESS);
}

static NTSTATUS TdIrpsDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode != TD_IOCTL_PEND)
        return TdIrpsComplete(Irp, STATUS_SUCCESS);
    PIO_WORKITEM item = IoAllocateWorkItem(DeviceObject);
    if (!item)
        return TdIrpsComplete(Irp, STATUS_INSUFFICIENT_RESOURCES);
    Irp->Tail.Overlay.DriverContext[0] = item;
    IoMarkIrpPending(Irp);
    IoQueueWorkItem(item, TdIrpsCompletePended, DelayedWorkQueue, Irp);
    return STATUS_PENDING;
}

/* A flush built by the I/O manager, waited for. */
static NTSTATUS TdIrpsFlushBuilt(PDEVICE_OBJECT Device)
{
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    PIRP irp = IoBuildSynchronousFsdRequest(IRP_MJ_FLUSH_BUFFERS, Device, NULL, 0, NULL, &event, &iosb);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (IoCallDriver(Device, irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    return iosb.Status;
}

static NTSTATUS TdIrpsTakeBack(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    UNREFERENCED_PARAMETER(Context);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* A flush in the driver's own pool (IoInitializeIrp), completed synchronously by its own dispatch routine. */
static NTSTATUS TdIrpsFlushOwned(PDEVICE_OBJECT Device)
{
    USHORT size = IoSizeOfIrp(Device->StackSize);
    PIRP irp = ExAllocatePoolWithTag(NonPagedPoolNx, size, 'prIT');
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    IoInitializeIrp(irp, size, Device->StackSize);
    IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_FLUSH_BUFFERS;
    IoSetCompletionRoutine(irp, TdIrpsTakeBack, NULL, TRUE, TRUE, TRUE);
    IoCallDriver(Device, irp);
    NTSTATUS status = irp->IoStatus.Status;
    ExFreePoolWithTag(irp, 'prIT');
    return status;
}

static VOID TdIrpsUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\TdIrps");
    IoDeleteSymbolicLink(&link);
    while (DriverObject->DeviceObject)
        IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\TdIrps");
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\TdIrps");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = TdIrpsDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = TdIrpsDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = TdIrpsDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_FLUSH_BUFFERS] = TdIrpsDispatchSimple;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = TdIrpsDispatchIoctl;
    DriverObject->DriverUnload = TdIrpsUnload;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    status = TdIrpsFlushBuilt(device);
    if (NT_SUCCESS(status))
        status = TdIrpsFlushOwned(device);
    if (!NT_SUCCESS(status))
        TdIrpsUnload(DriverObject);
    return status;
}
