/*
 * rtarm.c - a legacy alarm driver (\Device\RtArm). IOCTL_ARM_SET arms the
 * alarm and holds a tagged device reference ('mrAR') while it is armed;
 * IOCTL_ARM_CLEAR disarms it and drops that reference; IOCTL_ARM_PING takes
 * and drops a short-lived 'gnPR' reference.
 * Planted faults (one unbalanced count, two lines to change):
 *   1. IOCTL_ARM_SET on an alarm that is already armed takes a second 'mrAR'
 *      reference and keeps it (it only meant to refresh the deadline);
 *   2. IOCTL_ARM_CLEAR drops the reference with the wrong tag 'srDR', a tag
 *      never used for any reference (the tag trace shows 'mrAR' held twice,
 *      'srDR' released once without a reference).
 * The stop deletes the device; the surplus reference keeps it alive as a
 * zombie that pins the driver.
 */
#include <ntddk.h>

#define IOCTL_ARM_SET CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_ARM_CLEAR CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_ARM_PING CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD02, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define TAG_ARMED 'mrAR'
#define TAG_DISARM 'srDR'
#define TAG_PING 'gnPR'

typedef struct _ARM_EXTENSION {
    PDEVICE_OBJECT Self;
    FAST_MUTEX Lock;
    BOOLEAN Armed;
    ULONG Deadline;
    ULONG Pings;
} ARM_EXTENSION, *PARM_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD ArmUnload;
DRIVER_DISPATCH ArmCreateClose, ArmDeviceControl;

static UNICODE_STRING ArmLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtArm");

static NTSTATUS ArmSet(PARM_EXTENSION Ext)
{
    ExAcquireFastMutex(&Ext->Lock);
    ObReferenceObjectWithTag(Ext->Self, TAG_ARMED); /* BUG: taken again when already armed */
    Ext->Armed = TRUE;
    Ext->Deadline += 100;
    ExReleaseFastMutex(&Ext->Lock);
    return STATUS_SUCCESS;
}

static NTSTATUS ArmClear(PARM_EXTENSION Ext)
{
    BOOLEAN wasArmed;
    ExAcquireFastMutex(&Ext->Lock);
    wasArmed = Ext->Armed;
    Ext->Armed = FALSE;
    ExReleaseFastMutex(&Ext->Lock);
    if (!wasArmed)
        return STATUS_INVALID_DEVICE_STATE;
    ObDereferenceObjectWithTag(Ext->Self, TAG_DISARM); /* BUG: should be TAG_ARMED */
    return STATUS_SUCCESS;
}

static NTSTATUS ArmPing(PARM_EXTENSION Ext)
{
    ObReferenceObjectWithTag(Ext->Self, TAG_PING);
    InterlockedIncrement((PLONG)&Ext->Pings);
    ObDereferenceObjectWithTag(Ext->Self, TAG_PING);
    return STATUS_SUCCESS;
}

NTSTATUS ArmDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PARM_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    switch (IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_ARM_SET:
        status = ArmSet(ext);
        break;
    case IOCTL_ARM_CLEAR:
        status = ArmClear(ext);
        break;
    case IOCTL_ARM_PING:
        status = ArmPing(ext);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

NTSTATUS ArmCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

VOID ArmUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteSymbolicLink(&ArmLink);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtArm");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(ARM_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PARM_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ExInitializeFastMutex(&ext->Lock);
    status = IoCreateSymbolicLink(&ArmLink, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = ArmCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = ArmCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ArmDeviceControl;
    DriverObject->DriverUnload = ArmUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
