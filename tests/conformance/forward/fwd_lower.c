/*
 * fwd_lower.c - conformance driver: the lower half of a two-driver pair.
 *
 * A legacy driver with the control device \Device\ConfFwdLower (link
 * \DosDevices\ConfFwdLower). IOCTL_FWD_LOWER_ECHO returns its ULONG input
 * plus 0x1000; IOCTL_FWD_LOWER_STATS returns how many IRP_MJ_CREATE,
 * IRP_MJ_CLEANUP and IRP_MJ_CLOSE requests it has seen, so a scenario can
 * watch the upper driver's IoGetDeviceObjectPointer open (create, then
 * cleanup as its temporary handle closes) and its final ObDereferenceObject
 * (close). DriverUnload deletes the link and the device.
 */
#include <ntddk.h>

#define FWD_LOWER_DEVICE_NAME L"\\Device\\ConfFwdLower"
#define FWD_LOWER_LINK_NAME L"\\DosDevices\\ConfFwdLower"

#define IOCTL_FWD_LOWER_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FWD_LOWER_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _FWD_LOWER_EXTENSION {
    LONG Creates;
    LONG Cleanups;
    LONG Closes;
} FWD_LOWER_EXTENSION, *PFWD_LOWER_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD FwdLowerUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLEANUP) _Dispatch_type_(IRP_MJ_CLOSE)
DRIVER_DISPATCH FwdLowerCreateCleanupClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH FwdLowerDeviceControl;

_Use_decl_annotations_
NTSTATUS FwdLowerCreateCleanupClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFWD_LOWER_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
        InterlockedIncrement(&ext->Creates);
        break;
    case IRP_MJ_CLEANUP:
        InterlockedIncrement(&ext->Cleanups);
        break;
    case IRP_MJ_CLOSE:
        InterlockedIncrement(&ext->Closes);
        break;
    default:
        break;
    }
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
NTSTATUS FwdLowerDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFWD_LOWER_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;
    PULONG buffer = Irp->AssociatedIrp.SystemBuffer;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_FWD_LOWER_ECHO:
        if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
            stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        buffer[0] += 0x1000;
        information = sizeof(ULONG);
        break;
    case IOCTL_FWD_LOWER_STATS:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < 3 * sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        buffer[0] = (ULONG)ext->Creates;
        buffer[1] = (ULONG)ext->Cleanups;
        buffer[2] = (ULONG)ext->Closes;
        information = 3 * sizeof(ULONG);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

_Use_decl_annotations_
VOID FwdLowerUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(FWD_LOWER_LINK_NAME);

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(DriverObject->DeviceObject);
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(FWD_LOWER_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(FWD_LOWER_LINK_NAME);
    PDEVICE_OBJECT device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(FWD_LOWER_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = FwdLowerCreateCleanupClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = FwdLowerCreateCleanupClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = FwdLowerCreateCleanupClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = FwdLowerDeviceControl;
    DriverObject->DriverUnload = FwdLowerUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
