/*
 * rtcodec.c - a clean legacy (non-PnP) driver for a software "codec":
 * DriverEntry creates the control device \Device\RtCodec and the link
 * \DosDevices\RtCodec; IOCTL_CODEC_SET_MODE accepts modes 0 to 3 and
 * fails any other with STATUS_INVALID_PARAMETER; IOCTL_CODEC_GET_MODE
 * returns the current mode; DriverUnload deletes the link and the device.
 * Nothing is planted here: the fault of this case is in the host program.
 */
#include <wdm.h>

#define IOCTL_CODEC_SET_MODE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_CODEC_GET_MODE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x811, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define CODEC_MAX_MODE 3

typedef struct _CODEC_EXTENSION {
    FAST_MUTEX Lock;
    ULONG Mode;
} CODEC_EXTENSION, *PCODEC_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD CodecUnload;
DRIVER_DISPATCH CodecDispatchCreateClose, CodecDispatchIoctl;

static UNICODE_STRING CodecDeviceName = RTL_CONSTANT_STRING(L"\\Device\\RtCodec");
static UNICODE_STRING CodecLinkName = RTL_CONSTANT_STRING(L"\\DosDevices\\RtCodec");

static NTSTATUS CodecComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS CodecDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return CodecComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS CodecDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCODEC_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PULONG buffer = Irp->AssociatedIrp.SystemBuffer;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_CODEC_SET_MODE:
        if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) || *buffer > CODEC_MAX_MODE)
            return CodecComplete(Irp, STATUS_INVALID_PARAMETER, 0);
        ExAcquireFastMutex(&ext->Lock);
        ext->Mode = *buffer;
        ExReleaseFastMutex(&ext->Lock);
        return CodecComplete(Irp, STATUS_SUCCESS, 0);
    case IOCTL_CODEC_GET_MODE:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return CodecComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        ExAcquireFastMutex(&ext->Lock);
        *buffer = ext->Mode;
        ExReleaseFastMutex(&ext->Lock);
        return CodecComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    default:
        return CodecComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

VOID CodecUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteSymbolicLink(&CodecLinkName);
    if (DriverObject->DeviceObject)
        IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(CODEC_EXTENSION), &CodecDeviceName, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PCODEC_EXTENSION ext = device->DeviceExtension;
    ExInitializeFastMutex(&ext->Lock);
    status = IoCreateSymbolicLink(&CodecLinkName, &CodecDeviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CodecDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CodecDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = CodecDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = CodecDispatchIoctl;
    DriverObject->DriverUnload = CodecUnload;
    return STATUS_SUCCESS;
}
