/*
 * handle_leak.c - a correct legacy driver whose application leaks a handle.
 *
 * DriverEntry creates \Device\HandleLeak and \DosDevices\HandleLeak; the
 * application opens it and reads a sequence number with
 * IOCTL_HANDLE_LEAK_GET_SEQUENCE. DriverUnload cleans up everything. The
 * planted bug is not in this file: the scenario's application never closes
 * its handle, so the open file object keeps the device's ReferenceCount at
 * 1 and the I/O manager defers DriverUnload after the service stop.
 */
#include <ntddk.h>

#define HANDLE_LEAK_DEVICE_NAME L"\\Device\\HandleLeak"
#define HANDLE_LEAK_LINK_NAME L"\\DosDevices\\HandleLeak"

#define IOCTL_HANDLE_LEAK_GET_SEQUENCE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_EXTENSION {
    LONG Sequence;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD HandleLeakUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLEANUP) _Dispatch_type_(IRP_MJ_CLOSE)
DRIVER_DISPATCH HandleLeakCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH HandleLeakDeviceControl;

static NTSTATUS HandleLeakCompleteRequest(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS HandleLeakCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return HandleLeakCompleteRequest(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS HandleLeakDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PDEVICE_EXTENSION extension = DeviceObject->DeviceExtension;

    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_HANDLE_LEAK_GET_SEQUENCE)
        return HandleLeakCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(LONG))
        return HandleLeakCompleteRequest(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    *(PLONG)Irp->AssociatedIrp.SystemBuffer = InterlockedIncrement(&extension->Sequence);
    return HandleLeakCompleteRequest(Irp, STATUS_SUCCESS, sizeof(LONG));
}

VOID HandleLeakUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(HANDLE_LEAK_LINK_NAME);

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(HANDLE_LEAK_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(HANDLE_LEAK_LINK_NAME);
    PDEVICE_OBJECT deviceObject;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(DEVICE_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &deviceObject);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(deviceObject);
        return status;
    }
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = HandleLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = HandleLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = HandleLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = HandleLeakDeviceControl;
    DriverObject->DriverUnload = HandleLeakUnload;
    return STATUS_SUCCESS;
}
