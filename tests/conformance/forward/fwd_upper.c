/*
 * fwd_upper.c - conformance driver: the upper half of a two-driver pair.
 *
 * DriverEntry opens the lower driver's device with IoGetDeviceObjectPointer
 * (failing its own load if the lower driver is not there) and creates
 * \Device\ConfFwdUpper (link \DosDevices\ConfFwdUpper). Its IOCTLs are
 * forwarded as new IRPs built with IoBuildDeviceIoControlRequest, with the
 * lower file object in the next stack location, sent with IoCallDriver and
 * waited for on a KEVENT. IOCTL_FWD_UPPER_CHECK reports whether the
 * returned device is the file object's device and IoGetRelatedDeviceObject.
 * DriverUnload releases the file object with ObDereferenceObject (the way
 * to release the lower device, per the IoGetDeviceObjectPointer docs), then
 * deletes its link and device.
 */
#include <ntddk.h>

#define FWD_UPPER_DEVICE_NAME L"\\Device\\ConfFwdUpper"
#define FWD_UPPER_LINK_NAME L"\\DosDevices\\ConfFwdUpper"
#define FWD_LOWER_DEVICE_NAME L"\\Device\\ConfFwdLower"

#define IOCTL_FWD_LOWER_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FWD_LOWER_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define IOCTL_FWD_UPPER_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FWD_UPPER_LOWER_STATS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_FWD_UPPER_CHECK CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA02, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _FWD_UPPER_EXTENSION {
    PFILE_OBJECT LowerFileObject;
    PDEVICE_OBJECT LowerDevice; /* not referenced: the file object keeps it */
} FWD_UPPER_EXTENSION, *PFWD_UPPER_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD FwdUpperUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH FwdUpperCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH FwdUpperDeviceControl;

/* Sends IoControlCode to the lower device synchronously; the output length goes to *Information. */
static NTSTATUS FwdUpperSendToLower(PFWD_UPPER_EXTENSION Ext, ULONG IoControlCode, PVOID Input, ULONG InputLength,
                                    PVOID Output, ULONG OutputLength, PULONG_PTR Information)
{
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    PIRP irp;
    NTSTATUS status;

    PAGED_CODE();
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(IoControlCode, Ext->LowerDevice, Input, InputLength, Output,
                                        OutputLength, FALSE, &event, &iosb);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    IoGetNextIrpStackLocation(irp)->FileObject = Ext->LowerFileObject;

    status = IoCallDriver(Ext->LowerDevice, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = iosb.Status;
    }
    *Information = NT_SUCCESS(status) ? iosb.Information : 0;
    return status;
}

_Use_decl_annotations_
NTSTATUS FwdUpperDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFWD_UPPER_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PVOID buffer = Irp->AssociatedIrp.SystemBuffer;
    ULONG inLength = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
    ULONG_PTR information = 0;
    NTSTATUS status;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_FWD_UPPER_ECHO:
        status = FwdUpperSendToLower(ext, IOCTL_FWD_LOWER_ECHO, buffer, inLength, buffer, outLength, &information);
        break;
    case IOCTL_FWD_UPPER_LOWER_STATS:
        status = FwdUpperSendToLower(ext, IOCTL_FWD_LOWER_STATS, NULL, 0, buffer, outLength, &information);
        break;
    case IOCTL_FWD_UPPER_CHECK:
        if (outLength < sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        *(PULONG)buffer = (ext->LowerFileObject->DeviceObject == ext->LowerDevice ? 1 : 0) |
                          (IoGetRelatedDeviceObject(ext->LowerFileObject) == ext->LowerDevice ? 2 : 0) |
                          (ext->LowerDevice->DriverObject != DeviceObject->DriverObject ? 4 : 0);
        information = sizeof(ULONG);
        status = STATUS_SUCCESS;
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
NTSTATUS FwdUpperCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

_Use_decl_annotations_
VOID FwdUpperUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(FWD_UPPER_LINK_NAME);
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PFWD_UPPER_EXTENSION ext = device->DeviceExtension;

    PAGED_CODE();
    /* Releasing the file object releases the lower device (IRP_MJ_CLOSE reaches the lower driver). */
    ObDereferenceObject(ext->LowerFileObject);
    ext->LowerFileObject = NULL;
    ext->LowerDevice = NULL;
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(device);
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(FWD_UPPER_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(FWD_UPPER_LINK_NAME);
    UNICODE_STRING lowerName = RTL_CONSTANT_STRING(FWD_LOWER_DEVICE_NAME);
    PFILE_OBJECT lowerFile;
    PDEVICE_OBJECT lowerDevice;
    PDEVICE_OBJECT device;
    PFWD_UPPER_EXTENSION ext;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoGetDeviceObjectPointer(&lowerName, FILE_READ_DATA | FILE_WRITE_DATA, &lowerFile, &lowerDevice);
    if (!NT_SUCCESS(status))
        return status;

    status = IoCreateDevice(DriverObject, sizeof(FWD_UPPER_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status)) {
        ObDereferenceObject(lowerFile);
        return status;
    }
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        ObDereferenceObject(lowerFile);
        return status;
    }
    ext = device->DeviceExtension;
    ext->LowerFileObject = lowerFile;
    ext->LowerDevice = lowerDevice;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = FwdUpperCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = FwdUpperCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = FwdUpperDeviceControl;
    DriverObject->DriverUnload = FwdUpperUnload;
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}
