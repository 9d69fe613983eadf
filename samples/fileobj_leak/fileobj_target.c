/*
 * fileobj_target.c - a correct legacy driver that other drivers open.
 *
 * DriverEntry creates \Device\FileObjTarget and answers
 * IOCTL_FILEOBJ_TARGET_GET_VERSION; DriverUnload deletes the device. It
 * unloads as soon as nobody has a file object open on its device - which,
 * in the fileobj_leak scenario, never happens (see fileobj_client.c).
 */
#include <ntddk.h>

#define FILEOBJ_TARGET_DEVICE_NAME L"\\Device\\FileObjTarget"
#define FILEOBJ_TARGET_VERSION 0x00010002

#define IOCTL_FILEOBJ_TARGET_GET_VERSION CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD FileObjTargetUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLEANUP) _Dispatch_type_(IRP_MJ_CLOSE)
DRIVER_DISPATCH FileObjTargetCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH FileObjTargetDeviceControl;

static NTSTATUS FileObjTargetCompleteRequest(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS FileObjTargetCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return FileObjTargetCompleteRequest(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS FileObjTargetDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    UNREFERENCED_PARAMETER(DeviceObject);
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_FILEOBJ_TARGET_GET_VERSION)
        return FileObjTargetCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
        return FileObjTargetCompleteRequest(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    *(PULONG)Irp->AssociatedIrp.SystemBuffer = FILEOBJ_TARGET_VERSION;
    return FileObjTargetCompleteRequest(Irp, STATUS_SUCCESS, sizeof(ULONG));
}

VOID FileObjTargetUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(FILEOBJ_TARGET_DEVICE_NAME);
    PDEVICE_OBJECT deviceObject;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &deviceObject);
    if (!NT_SUCCESS(status))
        return status;
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = FileObjTargetCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = FileObjTargetCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = FileObjTargetCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = FileObjTargetDeviceControl;
    DriverObject->DriverUnload = FileObjTargetUnload;
    return STATUS_SUCCESS;
}
