/*
 * tagref.c - conformance driver: tagged object references used correctly.
 *
 * A legacy driver with \Device\ConfTagRef (link \DosDevices\ConfTagRef).
 *  - IOCTL_TAGREF_TAKE / IOCTL_TAGREF_DROP: ObReferenceObjectWithTag /
 *    ObDereferenceObjectWithTag on its own device, counted in the extension;
 *  - IOCTL_TAGREF_PIN_DRIVER: one tagged reference on the driver object,
 *    dropped in DriverUnload;
 *  - IOCTL_TAGREF_HOLD_FILE: a tagged reference on the caller's file object,
 *    dropped in IRP_MJ_CLEANUP (so IRP_MJ_CLOSE still follows the cleanup);
 *  - IOCTL_TAGREF_BY_POINTER: ObReferenceObjectByPointer with the right
 *    and a wrong object type, dropped with ObDereferenceObjectDeferDelete;
 *  - IOCTL_TAGREF_COUNTS: the counters.
 * DriverUnload drops every reference still held (the device references
 * before deleting the device), deletes the link and the device.
 */
#include <ntddk.h>

#define TAGREF_DEVICE_NAME L"\\Device\\ConfTagRef"
#define TAGREF_LINK_NAME L"\\DosDevices\\ConfTagRef"
#define TAGREF_DEVICE_TAG 'vDrT'
#define TAGREF_DRIVER_TAG 'rDrT'
#define TAGREF_FILE_TAG 'iFrT'

#define IOCTL_TAGREF_TAKE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_TAGREF_DROP CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_TAGREF_PIN_DRIVER CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC02, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_TAGREF_HOLD_FILE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC03, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_TAGREF_BY_POINTER CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC04, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_TAGREF_COUNTS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC05, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _TAGREF_EXTENSION {
    FAST_MUTEX Lock;
    ULONG DeviceRefs;     /* tagged references on our device */
    BOOLEAN DriverPinned; /* one tagged reference on the driver object */
    ULONG Cleanups;
    ULONG Closes;
} TAGREF_EXTENSION, *PTAGREF_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD TagrefUnload;
_Dispatch_type_(IRP_MJ_CREATE) DRIVER_DISPATCH TagrefCreate;
_Dispatch_type_(IRP_MJ_CLEANUP) DRIVER_DISPATCH TagrefCleanup;
_Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH TagrefClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH TagrefDeviceControl;

static NTSTATUS TagrefComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

_Use_decl_annotations_
NTSTATUS TagrefCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    /* FsContext2 != NULL marks a file object we hold a tagged reference on. */
    IoGetCurrentIrpStackLocation(Irp)->FileObject->FsContext2 = NULL;
    return TagrefComplete(Irp, STATUS_SUCCESS, FILE_OPENED);
}

_Use_decl_annotations_
NTSTATUS TagrefCleanup(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PTAGREF_EXTENSION ext = DeviceObject->DeviceExtension;
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(Irp)->FileObject;

    ExAcquireFastMutex(&ext->Lock);
    ext->Cleanups++;
    ExReleaseFastMutex(&ext->Lock);
    if (file->FsContext2 != NULL) {
        file->FsContext2 = NULL;
        ObDereferenceObjectWithTag(file, TAGREF_FILE_TAG);
    }
    return TagrefComplete(Irp, STATUS_SUCCESS, 0);
}

_Use_decl_annotations_
NTSTATUS TagrefClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PTAGREF_EXTENSION ext = DeviceObject->DeviceExtension;

    ExAcquireFastMutex(&ext->Lock);
    ext->Closes++;
    ExReleaseFastMutex(&ext->Lock);
    return TagrefComplete(Irp, STATUS_SUCCESS, 0);
}

_Use_decl_annotations_
NTSTATUS TagrefDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PTAGREF_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PULONG buffer = Irp->AssociatedIrp.SystemBuffer;
    ULONG outLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_TAGREF_TAKE:
        ObReferenceObjectWithTag(DeviceObject, TAGREF_DEVICE_TAG);
        ExAcquireFastMutex(&ext->Lock);
        ext->DeviceRefs++;
        ExReleaseFastMutex(&ext->Lock);
        break;
    case IOCTL_TAGREF_DROP:
        ExAcquireFastMutex(&ext->Lock);
        if (ext->DeviceRefs == 0) {
            status = STATUS_INVALID_DEVICE_STATE;
        } else {
            ext->DeviceRefs--;
        }
        ExReleaseFastMutex(&ext->Lock);
        if (NT_SUCCESS(status))
            ObDereferenceObjectWithTag(DeviceObject, TAGREF_DEVICE_TAG);
        break;
    case IOCTL_TAGREF_PIN_DRIVER:
        ExAcquireFastMutex(&ext->Lock);
        if (ext->DriverPinned) {
            status = STATUS_INVALID_DEVICE_STATE;
        } else {
            ext->DriverPinned = TRUE;
            ObReferenceObjectWithTag(DeviceObject->DriverObject, TAGREF_DRIVER_TAG);
        }
        ExReleaseFastMutex(&ext->Lock);
        break;
    case IOCTL_TAGREF_HOLD_FILE:
        if (stack->FileObject->FsContext2 != NULL) {
            status = STATUS_INVALID_DEVICE_STATE;
            break;
        }
        ObReferenceObjectWithTag(stack->FileObject, TAGREF_FILE_TAG);
        stack->FileObject->FsContext2 = stack->FileObject;
        break;
    case IOCTL_TAGREF_BY_POINTER: {
        NTSTATUS right, wrong;
        if (outLength < 2 * sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        right = ObReferenceObjectByPointer(DeviceObject, 0, *IoDeviceObjectType, KernelMode);
        wrong = ObReferenceObjectByPointer(DeviceObject, 0, *IoFileObjectType, KernelMode);
        if (NT_SUCCESS(right))
            ObDereferenceObjectDeferDelete(DeviceObject);
        if (NT_SUCCESS(wrong))
            ObDereferenceObject(DeviceObject);
        buffer[0] = (ULONG)right;
        buffer[1] = (ULONG)wrong;
        information = 2 * sizeof(ULONG);
        break;
    }
    case IOCTL_TAGREF_COUNTS:
        if (outLength < 4 * sizeof(ULONG)) {
            status = STATUS_BUFFER_TOO_SMALL;
            break;
        }
        ExAcquireFastMutex(&ext->Lock);
        buffer[0] = ext->DeviceRefs;
        buffer[1] = ext->DriverPinned;
        buffer[2] = ext->Cleanups;
        buffer[3] = ext->Closes;
        ExReleaseFastMutex(&ext->Lock);
        information = 4 * sizeof(ULONG);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    return TagrefComplete(Irp, status, information);
}

_Use_decl_annotations_
VOID TagrefUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(TAGREF_LINK_NAME);
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PTAGREF_EXTENSION ext = device->DeviceExtension;

    PAGED_CODE();
    while (ext->DeviceRefs > 0) {
        ext->DeviceRefs--;
        ObDereferenceObjectWithTag(device, TAGREF_DEVICE_TAG);
    }
    if (ext->DriverPinned) {
        ext->DriverPinned = FALSE;
        ObDereferenceObjectWithTag(DriverObject, TAGREF_DRIVER_TAG);
    }
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(device);
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(TAGREF_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(TAGREF_LINK_NAME);
    PDEVICE_OBJECT device;
    PTAGREF_EXTENSION ext;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(TAGREF_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ExInitializeFastMutex(&ext->Lock);
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = TagrefCreate;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = TagrefCleanup;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = TagrefClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = TagrefDeviceControl;
    DriverObject->DriverUnload = TagrefUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
