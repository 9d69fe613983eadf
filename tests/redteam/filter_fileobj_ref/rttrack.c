/*
 * rttrack.c - an upper device filter that audits opens: IRP_MJ_CREATE is
 * forwarded with a completion routine which, when the open succeeded,
 * takes a reference on the IRP's file object and records it as the
 * device's most recent opener (the audit worker would read its name
 * later). Every other request is passed down under the remove lock;
 * REMOVE forwards, waits, detaches and deletes the filter device.
 * Planted fault: the reference taken in the completion routine is never
 * dropped (neither at IRP_MJ_CLEANUP nor at REMOVE): the file object is
 * never freed, and IRP_MJ_CLOSE never reaches the stack.
 */
#include <wdm.h>

#define TRACK_TAG 'kcrT'

typedef struct _TRACK_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    PFILE_OBJECT LastOpener;
    ULONG Opens;
} TRACK_EXTENSION, *PTRACK_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE TrackAddDevice;
DRIVER_UNLOAD TrackUnload;
DRIVER_DISPATCH TrackDispatch;
IO_COMPLETION_ROUTINE TrackCreateCompletion;

NTSTATUS TrackCreateCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PTRACK_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    UNREFERENCED_PARAMETER(Context);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    if (NT_SUCCESS(Irp->IoStatus.Status) && stack->FileObject) {
        ObReferenceObject(stack->FileObject); /* BUG: never dereferenced */
        ext->LastOpener = stack->FileObject;
        ext->Opens++;
    }
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return STATUS_CONTINUE_COMPLETION;
}

NTSTATUS TrackDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PTRACK_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, TrackCreateCompletion, NULL, TRUE, TRUE, TRUE);
        return IoCallDriver(ext->LowerDevice, Irp); /* the completion routine releases the lock */
    case IRP_MJ_CLEANUP:
        if (ext->LastOpener == stack->FileObject)
            ext->LastOpener = NULL; /* forgets it, keeps the reference */
        break;
    case IRP_MJ_PNP:
        if (stack->MinorFunction == IRP_MN_REMOVE_DEVICE) {
            IoSkipCurrentIrpStackLocation(Irp);
            status = IoCallDriver(ext->LowerDevice, Irp);
            IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
            IoDetachDevice(ext->LowerDevice);
            IoDeleteDevice(DeviceObject);
            return status;
        }
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS TrackAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    PTRACK_EXTENSION ext;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(TRACK_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ext->Self = device;
    IoInitializeRemoveLock(&ext->RemoveLock, TRACK_TAG, 1, 100);
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= ext->LowerDevice->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->DeviceType = ext->LowerDevice->DeviceType;
    device->Characteristics = ext->LowerDevice->Characteristics;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID TrackUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = TrackDispatch;
    DriverObject->DriverExtension->AddDevice = TrackAddDevice;
    DriverObject->DriverUnload = TrackUnload;
    return STATUS_SUCCESS;
}
