/*
 * rtdual.c - a legacy "dual channel" counter driver with one control
 * device (\Device\RtDual). DriverEntry allocates a channel table ('lauD');
 * IOCTL_DUAL_BIND takes a device reference for the channel it binds and
 * IOCTL_DUAL_UNBIND drops it. Two independent planted faults:
 *   1. DriverUnload never frees the channel table (pool leak);
 *   2. IOCTL_DUAL_BIND on an already bound channel returns
 *      STATUS_DEVICE_BUSY after taking the reference, without dropping it,
 *      so the deleted device lives on as a zombie and pins the driver.
 */
#include <ntddk.h>

#define IOCTL_DUAL_BIND CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_DUAL_UNBIND CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define DUAL_TAG 'lauD'
#define DUAL_CHANNELS 2

typedef struct _DUAL_CHANNEL {
    BOOLEAN Bound;
    ULONG Count;
} DUAL_CHANNEL, *PDUAL_CHANNEL;

typedef struct _DUAL_EXTENSION {
    PDEVICE_OBJECT Self;
    PDUAL_CHANNEL Channels;
    FAST_MUTEX Lock;
} DUAL_EXTENSION, *PDUAL_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD DualUnload;
DRIVER_DISPATCH DualCreateClose, DualDeviceControl;

static UNICODE_STRING DualLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtDual");

static NTSTATUS DualBind(PDUAL_EXTENSION Ext, ULONG Channel)
{
    NTSTATUS status = STATUS_SUCCESS;
    ObReferenceObject(Ext->Self); /* held while the channel is bound */
    ExAcquireFastMutex(&Ext->Lock);
    if (Ext->Channels[Channel].Bound)
        status = STATUS_DEVICE_BUSY; /* BUG: the reference taken above is not dropped */
    else
        Ext->Channels[Channel].Bound = TRUE;
    ExReleaseFastMutex(&Ext->Lock);
    return status;
}

static NTSTATUS DualUnbind(PDUAL_EXTENSION Ext, ULONG Channel)
{
    BOOLEAN wasBound;
    ExAcquireFastMutex(&Ext->Lock);
    wasBound = Ext->Channels[Channel].Bound;
    Ext->Channels[Channel].Bound = FALSE;
    ExReleaseFastMutex(&Ext->Lock);
    if (!wasBound)
        return STATUS_INVALID_DEVICE_STATE;
    ObDereferenceObject(Ext->Self);
    return STATUS_SUCCESS;
}

NTSTATUS DualDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDUAL_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    ULONG channel;
    if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG)) {
        status = STATUS_BUFFER_TOO_SMALL;
        goto done;
    }
    channel = *(PULONG)Irp->AssociatedIrp.SystemBuffer;
    if (channel >= DUAL_CHANNELS) {
        status = STATUS_INVALID_PARAMETER;
        goto done;
    }
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_DUAL_BIND:
        status = DualBind(ext, channel);
        break;
    case IOCTL_DUAL_UNBIND:
        status = DualUnbind(ext, channel);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
done:
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

NTSTATUS DualCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

VOID DualUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PAGED_CODE();
    IoDeleteSymbolicLink(&DualLink);
    IoDeleteDevice(device); /* BUG: ext->Channels is never freed */
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtDual");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(DUAL_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PDUAL_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ExInitializeFastMutex(&ext->Lock);
    ext->Channels = ExAllocatePoolZero(NonPagedPoolNx, sizeof(DUAL_CHANNEL) * DUAL_CHANNELS, DUAL_TAG);
    if (!ext->Channels) {
        IoDeleteDevice(device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    status = IoCreateSymbolicLink(&DualLink, &name);
    if (!NT_SUCCESS(status)) {
        ExFreePoolWithTag(ext->Channels, DUAL_TAG);
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = DualCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = DualCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DualDeviceControl;
    DriverObject->DriverUnload = DualUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
