/*
 * fileobj_client.c - a legacy driver that uses another driver's device and
 * leaks the file object it got for it.
 *
 * DriverEntry opens \Device\FileObjTarget with IoGetDeviceObjectPointer,
 * which returns a referenced file object (and the target's device, not
 * referenced), and asks the target for its version with a synchronous
 * IOCTL. DriverUnload forgets to dereference the file object: its image
 * unloads, but the file object stays open on the target's device for
 * ever, so the target's DriverUnload is deferred and its image never goes.
 * No handle exists for that file object: it is invisible to !devhandles.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/fileobj_leak_fixed),
 * DriverUnload dereferences the file object, which sends IRP_MJ_CLOSE to
 * the target and releases its device, so the target can unload after it.
 */
#include <ntddk.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define FILEOBJ_TARGET_DEVICE_NAME L"\\Device\\FileObjTarget"
#define IOCTL_FILEOBJ_TARGET_GET_VERSION CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD FileObjClientUnload;

static PFILE_OBJECT TargetFileObject;
static PDEVICE_OBJECT TargetDeviceObject;
static ULONG TargetVersion;

static NTSTATUS FileObjClientQueryVersion(PDEVICE_OBJECT Target, PULONG Version)
{
    IO_STATUS_BLOCK ioStatus;
    KEVENT event;
    PIRP irp;
    NTSTATUS status;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(IOCTL_FILEOBJ_TARGET_GET_VERSION, Target, NULL, 0, Version, sizeof(*Version),
                                        FALSE, &event, &ioStatus);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    IoGetNextIrpStackLocation(irp)->FileObject = TargetFileObject;
    status = IoCallDriver(Target, irp);
    if (status == STATUS_PENDING) {
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = ioStatus.Status;
    }
    return status;
}

VOID FileObjClientUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
#if SAMPLE_FIXED
    /* FIX: release the file object; that releases the target's device too. */
    ObDereferenceObject(TargetFileObject);
    TargetFileObject = NULL;
#else
    /* BUG: ObDereferenceObject(TargetFileObject) is missing: the target's device keeps an open file object. */
#endif
    TargetDeviceObject = NULL;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING targetName = RTL_CONSTANT_STRING(FILEOBJ_TARGET_DEVICE_NAME);
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoGetDeviceObjectPointer(&targetName, FILE_READ_DATA, &TargetFileObject, &TargetDeviceObject);
    if (!NT_SUCCESS(status))
        return status;
    status = FileObjClientQueryVersion(TargetDeviceObject, &TargetVersion);
    if (!NT_SUCCESS(status)) {
        ObDereferenceObject(TargetFileObject);
        return status;
    }
    DriverObject->DriverUnload = FileObjClientUnload;
    return STATUS_SUCCESS;
}
