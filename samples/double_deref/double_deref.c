/*
 * double_deref.c - a legacy driver that dereferences a file object twice.
 *
 * IOCTL_DOUBLE_DEREF_STAMP references the caller's file object while it
 * stamps it, then releases it through a helper - and releases it again
 * itself. The second ObDereferenceObject takes away a reference the driver
 * never owned: the pointer count falls below what the handle (and the I/O
 * manager's reference for the IRP) still need, and the kernel stops with
 * bug check 0x18 REFERENCE_BY_POINTER - at the driver's dereference or,
 * at the latest, when the I/O manager drops its own reference.
 */
#include <ntddk.h>

#define DOUBLE_DEREF_DEVICE_NAME L"\\Device\\DoubleDeref"
#define DOUBLE_DEREF_LINK_NAME L"\\DosDevices\\DoubleDeref"

#define IOCTL_DOUBLE_DEREF_STAMP CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD DoubleDerefUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH DoubleDerefCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH DoubleDerefDeviceControl;

static NTSTATUS DoubleDerefCompleteRequest(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS DoubleDerefCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return DoubleDerefCompleteRequest(Irp, STATUS_SUCCESS);
}

/* Marks the file object as stamped and releases the caller's reference on it. */
static VOID DoubleDerefStampAndRelease(PFILE_OBJECT FileObject)
{
    FileObject->FsContext2 = (PVOID)(ULONG_PTR)1;
    ObDereferenceObject(FileObject);
}

static NTSTATUS DoubleDerefStamp(PFILE_OBJECT FileObject)
{
    NTSTATUS status;

    status = ObReferenceObjectByPointer(FileObject, FILE_READ_DATA, *IoFileObjectType, KernelMode);
    if (!NT_SUCCESS(status))
        return status;
    DoubleDerefStampAndRelease(FileObject);
    /* BUG: the helper already released the reference; this second dereference drops one the driver never took. */
    ObDereferenceObject(FileObject);
    return STATUS_SUCCESS;
}

NTSTATUS DoubleDerefDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    UNREFERENCED_PARAMETER(DeviceObject);
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_DOUBLE_DEREF_STAMP)
        return DoubleDerefCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST);
    return DoubleDerefCompleteRequest(Irp, DoubleDerefStamp(stack->FileObject));
}

VOID DoubleDerefUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(DOUBLE_DEREF_LINK_NAME);

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(DOUBLE_DEREF_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(DOUBLE_DEREF_LINK_NAME);
    PDEVICE_OBJECT deviceObject;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &deviceObject);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(deviceObject);
        return status;
    }
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = DoubleDerefCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = DoubleDerefCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DoubleDerefDeviceControl;
    DriverObject->DriverUnload = DoubleDerefUnload;
    return STATUS_SUCCESS;
}
