/*
 * rtsensor.c - a legacy sensor hub driver with one control device
 * (\Device\RtSensor). Every path that hands the device to deferred work
 * takes a tagged reference on it (ObReferenceObjectWithTag) and the work
 * drops it with the same tag:
 *   IOCTL_SENSOR_SAMPLE     tag 'pmaS', taken and dropped in the request;
 *   IOCTL_SENSOR_ASYNC_READ tag 'qwkS', dropped by the work item routine;
 *   IOCTL_SENSOR_CALIBRATE  tag 'laCS', dropped after the calibration.
 * Planted fault: IOCTL_SENSOR_CALIBRATE rejects an out-of-range gain after
 * taking its 'laCS' reference and returns without dropping it. The stop
 * runs DriverUnload, which deletes the device, but the leaked reference
 * keeps the deleted device (and so the driver object) alive.
 */
#include <ntddk.h>

#define IOCTL_SENSOR_SAMPLE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SENSOR_ASYNC_READ CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_SENSOR_CALIBRATE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define TAG_SAMPLE 'pmaS'
#define TAG_ASYNC 'qwkS'
#define TAG_CALIBRATE 'laCS'
#define SENSOR_MAX_GAIN 64

typedef struct _SENSOR_EXTENSION {
    PDEVICE_OBJECT Self;
    UNICODE_STRING LinkName;
    KSPIN_LOCK Lock;
    ULONG Gain;
    ULONG LastSample;
    LONG AsyncOutstanding;
    KEVENT AsyncIdle; /* signalled while no async read is outstanding */
} SENSOR_EXTENSION, *PSENSOR_EXTENSION;

typedef struct _SENSOR_ASYNC_CONTEXT {
    PIO_WORKITEM WorkItem;
    PSENSOR_EXTENSION Extension;
} SENSOR_ASYNC_CONTEXT, *PSENSOR_ASYNC_CONTEXT;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD SensorUnload;
DRIVER_DISPATCH SensorCreateClose, SensorDeviceControl;
IO_WORKITEM_ROUTINE SensorAsyncWorker;

static NTSTATUS SensorComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static ULONG SensorReadHardware(PSENSOR_EXTENSION Ext)
{
    KIRQL irql;
    KeAcquireSpinLock(&Ext->Lock, &irql);
    Ext->LastSample = Ext->LastSample * 1103515245u + 12345u;
    ULONG value = (Ext->LastSample >> 8) * (Ext->Gain ? Ext->Gain : 1);
    KeReleaseSpinLock(&Ext->Lock, irql);
    return value;
}

static NTSTATUS SensorSample(PSENSOR_EXTENSION Ext, PIRP Irp, ULONG OutputLength, PULONG_PTR Info)
{
    if (OutputLength < sizeof(ULONG))
        return STATUS_BUFFER_TOO_SMALL;
    ObReferenceObjectWithTag(Ext->Self, TAG_SAMPLE);
    *(PULONG)Irp->AssociatedIrp.SystemBuffer = SensorReadHardware(Ext);
    *Info = sizeof(ULONG);
    ObDereferenceObjectWithTag(Ext->Self, TAG_SAMPLE);
    return STATUS_SUCCESS;
}

VOID SensorAsyncWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PSENSOR_ASYNC_CONTEXT ctx = Context;
    PSENSOR_EXTENSION ext = ctx->Extension;
    (void)SensorReadHardware(ext);
    IoFreeWorkItem(ctx->WorkItem);
    ExFreePoolWithTag(ctx, TAG_ASYNC);
    if (InterlockedDecrement(&ext->AsyncOutstanding) == 0)
        KeSetEvent(&ext->AsyncIdle, IO_NO_INCREMENT, FALSE);
    ObDereferenceObjectWithTag(DeviceObject, TAG_ASYNC);
}

static NTSTATUS SensorAsyncRead(PSENSOR_EXTENSION Ext)
{
    PSENSOR_ASYNC_CONTEXT ctx = ExAllocatePoolZero(NonPagedPoolNx, sizeof(*ctx), TAG_ASYNC);
    if (!ctx)
        return STATUS_INSUFFICIENT_RESOURCES;
    ctx->WorkItem = IoAllocateWorkItem(Ext->Self);
    if (!ctx->WorkItem) {
        ExFreePoolWithTag(ctx, TAG_ASYNC);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ctx->Extension = Ext;
    ObReferenceObjectWithTag(Ext->Self, TAG_ASYNC);
    if (InterlockedIncrement(&Ext->AsyncOutstanding) == 1)
        KeClearEvent(&Ext->AsyncIdle);
    IoQueueWorkItem(ctx->WorkItem, SensorAsyncWorker, DelayedWorkQueue, ctx);
    return STATUS_SUCCESS;
}

static NTSTATUS SensorCalibrate(PSENSOR_EXTENSION Ext, PIRP Irp, ULONG InputLength)
{
    ULONG gain;
    ObReferenceObjectWithTag(Ext->Self, TAG_CALIBRATE);
    if (InputLength < sizeof(ULONG)) {
        ObDereferenceObjectWithTag(Ext->Self, TAG_CALIBRATE);
        return STATUS_BUFFER_TOO_SMALL;
    }
    gain = *(PULONG)Irp->AssociatedIrp.SystemBuffer;
    if (gain == 0 || gain > SENSOR_MAX_GAIN)
        return STATUS_INVALID_PARAMETER; /* BUG: the 'laCS' reference is never dropped */
    Ext->Gain = gain;
    (void)SensorReadHardware(Ext);
    ObDereferenceObjectWithTag(Ext->Self, TAG_CALIBRATE);
    return STATUS_SUCCESS;
}

NTSTATUS SensorDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSENSOR_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG_PTR info = 0;
    NTSTATUS status;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_SENSOR_SAMPLE:
        status = SensorSample(ext, Irp, stack->Parameters.DeviceIoControl.OutputBufferLength, &info);
        break;
    case IOCTL_SENSOR_ASYNC_READ:
        status = SensorAsyncRead(ext);
        break;
    case IOCTL_SENSOR_CALIBRATE:
        status = SensorCalibrate(ext, Irp, stack->Parameters.DeviceIoControl.InputBufferLength);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    return SensorComplete(Irp, status, info);
}

NTSTATUS SensorCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return SensorComplete(Irp, STATUS_SUCCESS, 0);
}

VOID SensorUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PSENSOR_EXTENSION ext = device->DeviceExtension;
    PAGED_CODE();
    KeWaitForSingleObject(&ext->AsyncIdle, Executive, KernelMode, FALSE, NULL);
    IoDeleteSymbolicLink(&ext->LinkName);
    IoDeleteDevice(device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtSensor");
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\RtSensor");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(SENSOR_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PSENSOR_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LinkName = link;
    ext->Gain = 1;
    ext->LastSample = 0x1234;
    KeInitializeSpinLock(&ext->Lock);
    KeInitializeEvent(&ext->AsyncIdle, NotificationEvent, TRUE);
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = SensorCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = SensorCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = SensorDeviceControl;
    DriverObject->DriverUnload = SensorUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
