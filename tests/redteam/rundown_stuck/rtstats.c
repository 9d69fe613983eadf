/*
 * rtstats.c - a WDM function driver for a statistics counter device. Its
 * counter table (allocated at START) is protected by run-down protection:
 * every IOCTL that reads or resets the table acquires it, and the
 * IRP_MN_REMOVE_DEVICE handler runs it down
 * (ExWaitForRundownProtectionRelease) before freeing the table.
 * Planted fault: IOCTL_STATS_READ_RANGE rejects a range that ends past the
 * table after acquiring run-down protection and returns without
 * ExReleaseRundownProtection. The REMOVE handler then waits forever.
 */
#include <ntddk.h>

#define IOCTL_STATS_READ CTL_CODE(FILE_DEVICE_UNKNOWN, 0xF00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_STATS_READ_RANGE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xF01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_STATS_RESET CTL_CODE(FILE_DEVICE_UNKNOWN, 0xF02, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define STATS_TAG 'tsSR'
#define STATS_SLOTS 16

typedef struct _STATS_TABLE {
    ULONG Slots[STATS_SLOTS];
} STATS_TABLE, *PSTATS_TABLE;

/* {5B7D9E11-2A4C-4E6F-8A1B-C3D5E7F90A2B} */
static const GUID GUID_DEVINTERFACE_RTSTATS = { 0x5b7d9e11, 0x2a4c, 0x4e6f,
                                                { 0x8a, 0x1b, 0xc3, 0xd5, 0xe7, 0xf9, 0x0a, 0x2b } };

typedef struct _STATS_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    UNICODE_STRING InterfaceName;
} STATS_EXTENSION, *PSTATS_EXTENSION;

/* One device per driver in practice; the table is the driver's. */
static EX_RUNDOWN_REF StatsRundown;
static PSTATS_TABLE StatsTable;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE StatsAddDevice;
DRIVER_UNLOAD StatsUnload;
DRIVER_DISPATCH StatsCreateClose, StatsDeviceControl, StatsDispatchPnp, StatsDispatchPass;

static NTSTATUS StatsComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS StatsRead(PIRP Irp, ULONG OutLen, PULONG_PTR Info)
{
    if (OutLen < sizeof(ULONG))
        return STATUS_BUFFER_TOO_SMALL;
    if (!ExAcquireRundownProtection(&StatsRundown))
        return STATUS_DELETE_PENDING;
    *(PULONG)Irp->AssociatedIrp.SystemBuffer = StatsTable->Slots[0]++;
    *Info = sizeof(ULONG);
    ExReleaseRundownProtection(&StatsRundown);
    return STATUS_SUCCESS;
}

static NTSTATUS StatsReadRange(PIRP Irp, ULONG InLen, ULONG OutLen, PULONG_PTR Info)
{
    ULONG first, count;
    if (InLen < 2 * sizeof(ULONG))
        return STATUS_BUFFER_TOO_SMALL;
    first = ((PULONG)Irp->AssociatedIrp.SystemBuffer)[0];
    count = ((PULONG)Irp->AssociatedIrp.SystemBuffer)[1];
    if (!ExAcquireRundownProtection(&StatsRundown))
        return STATUS_DELETE_PENDING;
    if (first >= STATS_SLOTS || count > STATS_SLOTS - first)
        return STATUS_INVALID_PARAMETER; /* BUG: run-down protection is still held */
    if (OutLen < count * sizeof(ULONG)) {
        ExReleaseRundownProtection(&StatsRundown);
        return STATUS_BUFFER_TOO_SMALL;
    }
    RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, &StatsTable->Slots[first], count * sizeof(ULONG));
    *Info = count * sizeof(ULONG);
    ExReleaseRundownProtection(&StatsRundown);
    return STATUS_SUCCESS;
}

static NTSTATUS StatsReset(void)
{
    if (!ExAcquireRundownProtection(&StatsRundown))
        return STATUS_DELETE_PENDING;
    RtlZeroMemory(StatsTable, sizeof(*StatsTable));
    ExReleaseRundownProtection(&StatsRundown);
    return STATUS_SUCCESS;
}

NTSTATUS StatsDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG inLen = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG outLen = stack->Parameters.DeviceIoControl.OutputBufferLength;
    ULONG_PTR info = 0;
    NTSTATUS status;
    UNREFERENCED_PARAMETER(DeviceObject);
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_STATS_READ:
        status = StatsRead(Irp, outLen, &info);
        break;
    case IOCTL_STATS_READ_RANGE:
        status = StatsReadRange(Irp, inLen, outLen, &info);
        break;
    case IOCTL_STATS_RESET:
        status = StatsReset();
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    return StatsComplete(Irp, status, info);
}

NTSTATUS StatsCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return StatsComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS StatsDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSTATS_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS StatsDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PSTATS_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        StatsTable = ExAllocatePoolZero(NonPagedPoolNx, sizeof(STATS_TABLE), STATS_TAG);
        if (!StatsTable)
            return StatsComplete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
        ExInitializeRundownProtection(&StatsRundown);
        IoSetDeviceInterfaceState(&ext->InterfaceName, TRUE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        return StatsDispatchPass(DeviceObject, Irp);
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&ext->InterfaceName, FALSE);
        ExWaitForRundownProtectionRelease(&StatsRundown);
        ExRundownCompleted(&StatsRundown);
        ExFreePoolWithTag(StatsTable, STATS_TAG);
        StatsTable = NULL;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(ext->LowerDevice, Irp);
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDetachDevice(ext->LowerDevice);
        IoDeleteDevice(DeviceObject);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        return StatsDispatchPass(DeviceObject, Irp);
    default:
        return StatsDispatchPass(DeviceObject, Irp);
    }
}

NTSTATUS StatsAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(STATS_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PSTATS_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_RTSTATS, NULL, &ext->InterfaceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        RtlFreeUnicodeString(&ext->InterfaceName);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID StatsUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = StatsDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = StatsDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = StatsCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = StatsCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = StatsDeviceControl;
    DriverObject->DriverExtension->AddDevice = StatsAddDevice;
    DriverObject->DriverUnload = StatsUnload;
    return STATUS_SUCCESS;
}
