/*
 * pool_leak.c - a legacy driver that leaks pool.
 *
 * DriverEntry allocates a settings block (tag 'gfCP'); each
 * IOCTL_POOL_LEAK_LOG request allocates a log record (tag 'goLP') kept on
 * a list. DriverUnload frees the log records but not the settings block.
 * Pool does not pin an image: the driver unloads, and the block is left
 * behind, charged to the image that allocated it.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/pool_leak_fixed), DriverUnload
 * frees the settings block too: the clean twin.
 */
#include <ntddk.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define POOL_LEAK_DEVICE_NAME L"\\Device\\PoolLeak"
#define POOL_LEAK_LINK_NAME L"\\DosDevices\\PoolLeak"
#define POOL_LEAK_SETTINGS_TAG 'gfCP'
#define POOL_LEAK_LOG_TAG 'goLP'

#define IOCTL_POOL_LEAK_LOG CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _POOL_LEAK_SETTINGS {
    ULONG Verbosity;
    ULONG MaxRecords;
} POOL_LEAK_SETTINGS, *PPOOL_LEAK_SETTINGS;

typedef struct _POOL_LEAK_RECORD {
    LIST_ENTRY Link;
    ULONG Length;
    UCHAR Data[64];
} POOL_LEAK_RECORD, *PPOOL_LEAK_RECORD;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD PoolLeakUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH PoolLeakCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH PoolLeakDeviceControl;

static PPOOL_LEAK_SETTINGS Settings;
static LIST_ENTRY LogRecords;
static FAST_MUTEX LogLock;

static NTSTATUS PoolLeakCompleteRequest(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS PoolLeakCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return PoolLeakCompleteRequest(Irp, STATUS_SUCCESS);
}

static NTSTATUS PoolLeakLog(PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG length = stack->Parameters.DeviceIoControl.InputBufferLength;
    PPOOL_LEAK_RECORD record;

    if (length > sizeof(record->Data))
        return STATUS_INVALID_BUFFER_SIZE;
    record = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*record), POOL_LEAK_LOG_TAG);
    if (!record)
        return STATUS_INSUFFICIENT_RESOURCES;
    record->Length = length;
    RtlCopyMemory(record->Data, Irp->AssociatedIrp.SystemBuffer, length);
    ExAcquireFastMutex(&LogLock);
    InsertTailList(&LogRecords, &record->Link);
    ExReleaseFastMutex(&LogLock);
    return STATUS_SUCCESS;
}

NTSTATUS PoolLeakDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);

    UNREFERENCED_PARAMETER(DeviceObject);
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_POOL_LEAK_LOG)
        return PoolLeakCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST);
    return PoolLeakCompleteRequest(Irp, PoolLeakLog(Irp));
}

VOID PoolLeakUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(POOL_LEAK_LINK_NAME);

    PAGED_CODE();
    while (!IsListEmpty(&LogRecords))
        ExFreePoolWithTag(CONTAINING_RECORD(RemoveHeadList(&LogRecords), POOL_LEAK_RECORD, Link), POOL_LEAK_LOG_TAG);
#if SAMPLE_FIXED
    /* FIX: the settings block goes too. */
    ExFreePoolWithTag(Settings, POOL_LEAK_SETTINGS_TAG);
    Settings = NULL;
#else
    /* BUG: ExFreePoolWithTag(Settings, POOL_LEAK_SETTINGS_TAG) is missing. */
#endif
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(POOL_LEAK_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(POOL_LEAK_LINK_NAME);
    PDEVICE_OBJECT deviceObject;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    InitializeListHead(&LogRecords);
    ExInitializeFastMutex(&LogLock);
    Settings = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof(*Settings), POOL_LEAK_SETTINGS_TAG);
    if (!Settings)
        return STATUS_INSUFFICIENT_RESOURCES;
    Settings->Verbosity = 1;
    Settings->MaxRecords = 16;

    status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, FILE_DEVICE_SECURE_OPEN, FALSE,
                            &deviceObject);
    if (NT_SUCCESS(status)) {
        status = IoCreateSymbolicLink(&linkName, &deviceName);
        if (!NT_SUCCESS(status))
            IoDeleteDevice(deviceObject);
    }
    if (!NT_SUCCESS(status)) {
        ExFreePoolWithTag(Settings, POOL_LEAK_SETTINGS_TAG);
        return status;
    }
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = PoolLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PoolLeakCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PoolLeakDeviceControl;
    DriverObject->DriverUnload = PoolLeakUnload;
    return STATUS_SUCCESS;
}
