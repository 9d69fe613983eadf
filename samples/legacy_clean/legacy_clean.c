/*
 * legacy_clean.c - a clean legacy (NT4-style) driver.
 *
 * DriverEntry creates the control device \Device\LegacyClean and the
 * symbolic link \DosDevices\LegacyClean. Applications open it, ask for a
 * request counter with IOCTL_LEGACY_CLEAN_GET_COUNT and close it.
 * DriverUnload deletes the link and the device, so once the service is
 * stopped nothing references the driver object and the image unloads; a
 * later start loads it again.
 */
#include <ntddk.h>

#define LEGACY_CLEAN_DEVICE_NAME L"\\Device\\LegacyClean"
#define LEGACY_CLEAN_LINK_NAME L"\\DosDevices\\LegacyClean"

#define IOCTL_LEGACY_CLEAN_GET_COUNT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DEVICE_EXTENSION {
    ULONG RequestCount;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD LegacyCleanUnload;
_Dispatch_type_(IRP_MJ_CREATE) _Dispatch_type_(IRP_MJ_CLOSE) DRIVER_DISPATCH LegacyCleanCreateClose;
_Dispatch_type_(IRP_MJ_DEVICE_CONTROL) DRIVER_DISPATCH LegacyCleanDeviceControl;

static NTSTATUS LegacyCleanCompleteRequest(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS LegacyCleanCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return LegacyCleanCompleteRequest(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS LegacyCleanDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PDEVICE_EXTENSION extension = DeviceObject->DeviceExtension;

    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_LEGACY_CLEAN_GET_COUNT:
        if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return LegacyCleanCompleteRequest(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = ++extension->RequestCount;
        return LegacyCleanCompleteRequest(Irp, STATUS_SUCCESS, sizeof(ULONG));
    default:
        return LegacyCleanCompleteRequest(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

VOID LegacyCleanUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(LEGACY_CLEAN_LINK_NAME);

    PAGED_CODE();
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(LEGACY_CLEAN_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(LEGACY_CLEAN_LINK_NAME);
    PDEVICE_OBJECT deviceObject;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(DEVICE_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &deviceObject);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(deviceObject);
        return status;
    }
    deviceObject->Flags |= DO_BUFFERED_IO;

    DriverObject->MajorFunction[IRP_MJ_CREATE] = LegacyCleanCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = LegacyCleanCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = LegacyCleanDeviceControl;
    DriverObject->DriverUnload = LegacyCleanUnload;
    return STATUS_SUCCESS;
}
