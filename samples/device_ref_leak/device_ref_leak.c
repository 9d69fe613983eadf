/*
 * device_ref_leak.c - a legacy driver that leaks a reference on its own
 * device object.
 *
 * IOCTL_DEVICE_REF_LEAK_QUERY references the device (tag 'qRvD') while it
 * reads the device state, as code that may hand the device to another
 * thread does. The success path returns without dropping the reference.
 * At the service stop DriverUnload runs and deletes the device, but the
 * leaked reference keeps the deleted device object alive (a "zombie", no
 * longer on the driver's device list); the zombie keeps its reference on
 * the driver object, so the image stays mapped and the next start fails
 * with STATUS_IMAGE_ALREADY_LOADED.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/device_ref_leak_fixed), the
 * query drops the reference on every path (one exit), so after DriverUnload
 * deletes the device nothing keeps it or the driver object alive and the
 * image unloads: the clean twin.
 */
#include <ntddk.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define DEVICE_REF_LEAK_DEVICE_NAME L"\\Device\\DeviceRefLeak"
#define DEVICE_REF_LEAK_LINK_NAME L"\\DosDevices\\DeviceRefLeak"
#define DEVICE_REF_LEAK_TAG 'qRvD'

#define IOCTL_DEVICE_REF_LEAK_QUERY CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_EXTENSION {
    ULONG State;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD DeviceRefLeakUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH DeviceRefLeakCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH DeviceRefLeakDeviceControl;

static NTSTATUS DeviceRefLeakCompleteRequest(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS DeviceRefLeakCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return DeviceRefLeakCompleteRequest(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS DeviceRefLeakQuery(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PDEVICE_EXTENSION extension = DeviceObject->DeviceExtension;
#if SAMPLE_FIXED
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;
#endif

    /* Keep the device alive while its state is read. */
    ObReferenceObjectWithTag(DeviceObject, DEVICE_REF_LEAK_TAG);
#if SAMPLE_FIXED
    if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
        status = STATUS_BUFFER_TOO_SMALL;
    } else {
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = extension->State;
        information = sizeof(ULONG);
    }
    /* FIX: one exit, and the reference is dropped on it whatever the outcome. */
    ObDereferenceObjectWithTag(DeviceObject, DEVICE_REF_LEAK_TAG);
    return DeviceRefLeakCompleteRequest(Irp, status, information);
#else
    if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
        ObDereferenceObjectWithTag(DeviceObject, DEVICE_REF_LEAK_TAG);
        return DeviceRefLeakCompleteRequest(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    }
    *(PULONG)Irp->AssociatedIrp.SystemBuffer = extension->State;
    /* BUG: the success path never calls ObDereferenceObjectWithTag(DeviceObject, DEVICE_REF_LEAK_TAG). */
    return DeviceRefLeakCompleteRequest(Irp, STATUS_SUCCESS, sizeof(ULONG));
#endif
}

NTSTATUS DeviceRefLeakDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_DEVICE_REF_LEAK_QUERY)
        return DeviceRefLeakQuery(DeviceObject, Irp);
    return DeviceRefLeakCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

VOID DeviceRefLeakUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(DEVICE_REF_LEAK_LINK_NAME);

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(DEVICE_REF_LEAK_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(DEVICE_REF_LEAK_LINK_NAME);
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

    DriverObject->MajorFunction[IRP_MJ_CREATE] = DeviceRefLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = DeviceRefLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DeviceRefLeakDeviceControl;
    DriverObject->DriverUnload = DeviceRefLeakUnload;
    return STATUS_SUCCESS;
}
