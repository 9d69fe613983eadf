/*
 * attach_filter.c - conformance driver: a legacy filter that attaches to
 * another driver's device, the way IoAttachDevice does it by hand.
 *
 * DriverEntry opens \Device\ConfFwdLower (the forward/fwd_lower.so driver)
 * with IoGetDeviceObjectPointer, attaches an unnamed filter device on top
 * of it with IoAttachDeviceToDeviceStack, and then releases the file
 * object: from then on the attachment, not a file object, ties the two
 * drivers together. The dispatch table is set before attaching, because
 * that file object's IRP_MJ_CLOSE already reaches the filter. Every IRP reaching the filter is passed down; the
 * lower driver's echo IOCTL gets a completion routine that adds 0x10000 to
 * the result on the way up, so a scenario can see the filter in the path.
 * DriverUnload detaches (IoDetachDevice) and deletes the filter device.
 */
#include <ntddk.h>

#define ATTACH_TARGET_NAME L"\\Device\\ConfFwdLower"
#define IOCTL_FWD_LOWER_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _ATTACH_EXTENSION {
    PDEVICE_OBJECT Lower;
} ATTACH_EXTENSION, *PATTACH_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD AttachUnload;
DRIVER_DISPATCH AttachPassThrough;
IO_COMPLETION_ROUTINE AttachEchoCompletion;

_Use_decl_annotations_
NTSTATUS AttachEchoCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Context);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    if (NT_SUCCESS(Irp->IoStatus.Status) && Irp->IoStatus.Information >= sizeof(ULONG))
        *(PULONG)Irp->AssociatedIrp.SystemBuffer += 0x10000;
    return STATUS_CONTINUE_COMPLETION;
}

_Use_decl_annotations_
NTSTATUS AttachPassThrough(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PATTACH_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL &&
        stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_FWD_LOWER_ECHO) {
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, AttachEchoCompletion, NULL, TRUE, TRUE, TRUE);
        return IoCallDriver(ext->Lower, Irp);
    }
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->Lower, Irp);
}

_Use_decl_annotations_
VOID AttachUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT filter = DriverObject->DeviceObject;
    PATTACH_EXTENSION ext = filter->DeviceExtension;

    PAGED_CODE();
    IoDetachDevice(ext->Lower);
    IoDeleteDevice(filter);
}

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING targetName = RTL_CONSTANT_STRING(ATTACH_TARGET_NAME);
    PFILE_OBJECT targetFile;
    PDEVICE_OBJECT targetDevice, filter;
    PATTACH_EXTENSION ext;
    NTSTATUS status;
    ULONG i;

    UNREFERENCED_PARAMETER(RegistryPath);
    /*
     * Dispatch routines first: once attached, the IRP_MJ_CLOSE of the file
     * object released below already comes to the filter (the top of the stack).
     */
    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = AttachPassThrough;

    status = IoGetDeviceObjectPointer(&targetName, FILE_READ_DATA, &targetFile, &targetDevice);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateDevice(DriverObject, sizeof(ATTACH_EXTENSION), NULL, targetDevice->DeviceType,
                            targetDevice->Characteristics, FALSE, &filter);
    if (!NT_SUCCESS(status)) {
        ObDereferenceObject(targetFile);
        return status;
    }
    ext = filter->DeviceExtension;
    ext->Lower = IoAttachDeviceToDeviceStack(filter, targetDevice);
    /* Attached (or not): the file object is no longer needed, as in IoAttachDevice. */
    ObDereferenceObject(targetFile);
    if (ext->Lower == NULL) {
        IoDeleteDevice(filter);
        return STATUS_NO_SUCH_DEVICE;
    }
    filter->Flags |= ext->Lower->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO);
    filter->Flags &= ~DO_DEVICE_INITIALIZING;

    DriverObject->DriverUnload = AttachUnload;
    return STATUS_SUCCESS;
}
