/*
 * rtduo.c - a legacy (NT4-style) driver for a dual-channel converter: it
 * creates \Device\RtDuo0 and \Device\RtDuo1, each with a DOS link, and
 * answers create/close/IOCTL on both. DriverUnload walks the driver's device
 * list and deletes each device *before* deleting the symbolic links (the
 * reverse of the textbook order). A symbolic link holds a name, not a
 * reference on the device, so the late IoDeleteSymbolicLink calls pin
 * nothing: the image unloads. Nothing is planted.
 */
#include <wdm.h>

#define IOCTL_DUO_CHANNEL CTL_CODE(FILE_DEVICE_UNKNOWN, 0x840, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DUO_EXTENSION {
    ULONG Channel;
    ULONG Requests;
} DUO_EXTENSION, *PDUO_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD DuoUnload;
DRIVER_DISPATCH DuoCreateClose, DuoDeviceControl;

static const PCWSTR DuoDeviceNames[2] = { L"\\Device\\RtDuo0", L"\\Device\\RtDuo1" };
static const PCWSTR DuoLinkNames[2] = { L"\\DosDevices\\RtDuo0", L"\\DosDevices\\RtDuo1" };

NTSTATUS DuoCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

NTSTATUS DuoDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PDUO_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG_PTR info = 0;
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_DUO_CHANNEL) {
        ext->Requests++;
        if (stack->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(ULONG)) {
            *(PULONG)Irp->AssociatedIrp.SystemBuffer = ext->Channel;
            info = sizeof(ULONG);
        }
        status = STATUS_SUCCESS;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = info;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

VOID DuoUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING link;
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    PAGED_CODE();
    /* devices first ... */
    while (device) {
        PDEVICE_OBJECT next = device->NextDevice;
        IoDeleteDevice(device);
        device = next;
    }
    /* ... then the names (reverse of the usual order, still correct) */
    for (ULONG i = 0; i < 2; i++) {
        RtlInitUnicodeString(&link, DuoLinkNames[i]);
        IoDeleteSymbolicLink(&link);
    }
}

static NTSTATUS DuoCreateChannel(PDRIVER_OBJECT DriverObject, ULONG Channel)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    NTSTATUS status;
    RtlInitUnicodeString(&name, DuoDeviceNames[Channel]);
    RtlInitUnicodeString(&link, DuoLinkNames[Channel]);
    status = IoCreateDevice(DriverObject, sizeof(DUO_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ((PDUO_EXTENSION)device->DeviceExtension)->Channel = Channel;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    device->Flags |= DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = DuoCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = DuoCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DuoDeviceControl;
    DriverObject->DriverUnload = DuoUnload;
    for (ULONG i = 0; i < 2; i++) {
        status = DuoCreateChannel(DriverObject, i);
        if (!NT_SUCCESS(status)) {
            DuoUnload(DriverObject);
            return status;
        }
    }
    return STATUS_SUCCESS;
}
