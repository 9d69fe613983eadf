/*
 * childfn_deadlock.c - the child function driver of bus_children with the
 * remove-lock wait placed before passing IRP_MN_REMOVE_DEVICE down (the
 * order older documentation and some samples showed; seed 003). The wait
 * deadlocks on the request the bus driver holds until REMOVE reaches it.
 *
 * (Otherwise the child driver of bus_children:) the function driver of a toaster child on the bus. After its
 * start it keeps one request pended in the bus driver (an interrupt-like
 * IOCTL_BUSENUM_CHILD_WAIT, as a USB driver keeps a continuous reader),
 * holding its remove lock for it; the completion routine releases the lock.
 * On IRP_MN_REMOVE_DEVICE it passes the IRP down FIRST - the bus driver
 * completes the pended request when it sees REMOVE - and only then waits
 * for its remove lock, detaches and deletes its device.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/bus_children/childfn.c), the
 * wait comes after REMOVE has been passed down: the clean child driver.
 */
#include <wdm.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define IOCTL_BUSENUM_CHILD_WAIT CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x900, METHOD_NEITHER, FILE_ANY_ACCESS)

typedef struct _CHILD_EXTENSION {
    PDEVICE_OBJECT NextLowerDriver;
    IO_REMOVE_LOCK RemoveLock;
} CHILD_EXTENSION, *PCHILD_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE ChildAddDevice;
DRIVER_UNLOAD ChildUnload;
DRIVER_DISPATCH ChildDispatchPnp, ChildDispatchPass;

static NTSTATUS ChildWaitCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PCHILD_EXTENSION ext = Context;
    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    IoFreeIrp(Irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Sends the request the bus keeps pending until the device is removed. */
static VOID ChildSendWaitRequest(PCHILD_EXTENSION Ext)
{
    PIRP irp = IoAllocateIrp(Ext->NextLowerDriver->StackSize, FALSE);
    if (!irp)
        return;
    if (!NT_SUCCESS(IoAcquireRemoveLock(&Ext->RemoveLock, irp))) {
        IoFreeIrp(irp);
        return;
    }
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.IoControlCode = IOCTL_BUSENUM_CHILD_WAIT;
    IoSetCompletionRoutine(irp, ChildWaitCompletion, Ext, TRUE, TRUE, TRUE);
    IoCallDriver(Ext->NextLowerDriver, irp);
}

NTSTATUS ChildDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCHILD_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->NextLowerDriver, Irp);
}

NTSTATUS ChildDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCHILD_EXTENSION ext = DeviceObject->DeviceExtension;
    UCHAR minor = IoGetCurrentIrpStackLocation(Irp)->MinorFunction;
    NTSTATUS status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status)) {
        Irp->IoStatus.Status = status;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return status;
    }
    if (minor == IRP_MN_REMOVE_DEVICE) {
#if !SAMPLE_FIXED
        /* BUG: waits for the remove lock BEFORE passing REMOVE down. The request pended in the bus
         * holds an acquisition the bus releases only when it sees REMOVE: this wait never returns. */
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
#endif
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->NextLowerDriver, Irp);
#if SAMPLE_FIXED
        /* FIX: wait only once REMOVE has gone down and the bus has completed the pended request. */
        IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
#endif
        IoDetachDevice(ext->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        return status;
    }
    if (minor == IRP_MN_QUERY_REMOVE_DEVICE || minor == IRP_MN_CANCEL_REMOVE_DEVICE ||
        minor == IRP_MN_SURPRISE_REMOVAL)
        Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->NextLowerDriver, Irp);
    if (minor == IRP_MN_START_DEVICE && NT_SUCCESS(status))
        ChildSendWaitRequest(ext);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS ChildAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(CHILD_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PCHILD_EXTENSION ext = device->DeviceExtension;
    ext->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->NextLowerDriver) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'dlhC', 1, 100);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID ChildUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = ChildDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = ChildDispatchPnp;
    DriverObject->DriverExtension->AddDevice = ChildAddDevice;
    DriverObject->DriverUnload = ChildUnload;
    return STATUS_SUCCESS;
}
