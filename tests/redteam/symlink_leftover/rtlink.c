/*
 * rtlink.c - a legacy status-LED driver with one control device
 * (\Device\RtLink) and its Win32 name \DosDevices\RtLink. DriverEntry
 * creates both; IOCTL_LINK_BLINK counts blinks.
 * Planted fault: DriverUnload deletes the device but not the symbolic
 * link. Nothing pins the driver (a link references no object), so the
 * image unloads; but the permanent link survives, and the next start's
 * IoCreateSymbolicLink in DriverEntry fails with
 * STATUS_OBJECT_NAME_COLLISION (the driver then fails to load).
 */
#include <ntddk.h>

#define IOCTL_LINK_BLINK CTL_CODE(FILE_DEVICE_UNKNOWN, 0xE80, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _LINK_EXTENSION {
    ULONG Blinks;
} LINK_EXTENSION, *PLINK_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD LinkUnload;
DRIVER_DISPATCH LinkCreateClose, LinkDeviceControl;

static UNICODE_STRING LinkDeviceName = RTL_CONSTANT_STRING(L"\\Device\\RtLink");
static UNICODE_STRING LinkDosName = RTL_CONSTANT_STRING(L"\\DosDevices\\RtLink");

static NTSTATUS LinkComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS LinkDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PLINK_EXTENSION ext = DeviceObject->DeviceExtension;
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode != IOCTL_LINK_BLINK)
        return LinkComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    ext->Blinks++;
    return LinkComplete(Irp, STATUS_SUCCESS);
}

NTSTATUS LinkCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return LinkComplete(Irp, STATUS_SUCCESS);
}

VOID LinkUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteDevice(DriverObject->DeviceObject); /* BUG: \DosDevices\RtLink is left behind */
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(LINK_EXTENSION), &LinkDeviceName, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&LinkDosName, &LinkDeviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = LinkCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = LinkCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = LinkDeviceControl;
    DriverObject->DriverUnload = LinkUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
