/*
 * rtmux.c - a legacy multiplexer driver with a control device
 * (\Device\RtMuxCtl, \DosDevices\RtMuxCtl) and one data channel device per
 * configured channel (\Device\RtMux0, ...). The control device's IOCTL
 * reports how many channels exist. DriverUnload deletes the channel
 * devices by walking DriverObject->DeviceObject, then the control device.
 * Planted fault: the device-list walk already deletes every device,
 * including the control device, so the explicit IoDeleteDevice of the
 * control device afterwards deletes it a second time (bug check 0x18).
 */
#include <ntddk.h>

#define IOCTL_MUX_CHANNELS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x810, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define MUX_CHANNELS 2

typedef enum _MUX_DEVICE_KIND { MuxControl, MuxChannel } MUX_DEVICE_KIND;

typedef struct _MUX_EXTENSION {
    MUX_DEVICE_KIND Kind;
    ULONG Channel;
    ULONG Opens;
} MUX_EXTENSION, *PMUX_EXTENSION;

static PDEVICE_OBJECT MuxControlDevice;
static UNICODE_STRING MuxControlLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtMuxCtl");

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD MuxUnload;
DRIVER_DISPATCH MuxCreateClose, MuxDeviceControl;

static NTSTATUS MuxComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS MuxCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PMUX_EXTENSION ext = DeviceObject->DeviceExtension;
    if (IoGetCurrentIrpStackLocation(Irp)->MajorFunction == IRP_MJ_CREATE)
        InterlockedIncrement((LONG volatile *)&ext->Opens);
    return MuxComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS MuxDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PMUX_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (ext->Kind != MuxControl ||
        stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_MUX_CHANNELS ||
        stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
        return MuxComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    *(PULONG)Irp->AssociatedIrp.SystemBuffer = MUX_CHANNELS;
    return MuxComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
}

static VOID MuxDeleteChannels(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT device = DriverObject->DeviceObject;
    while (device) {
        PDEVICE_OBJECT next = device->NextDevice;
        IoDeleteDevice(device); /* deletes the control device too */
        device = next;
    }
}

VOID MuxUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteSymbolicLink(&MuxControlLink);
    MuxDeleteChannels(DriverObject);
    if (MuxControlDevice) {
        IoDeleteDevice(MuxControlDevice); /* BUG: already deleted by MuxDeleteChannels */
        MuxControlDevice = NULL;
    }
}

static NTSTATUS MuxCreateChannel(PDRIVER_OBJECT DriverObject, ULONG Channel)
{
    WCHAR buffer[32] = L"\\Device\\RtMux";
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    ULONG n = 0;
    while (buffer[n])
        n++;
    buffer[n] = (WCHAR)(L'0' + Channel);
    buffer[n + 1] = 0;
    RtlInitUnicodeString(&name, buffer);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(MUX_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PMUX_EXTENSION ext = device->DeviceExtension;
    ext->Kind = MuxChannel;
    ext->Channel = Channel;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtMuxCtl");
    NTSTATUS status;
    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, sizeof(MUX_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &MuxControlDevice);
    if (!NT_SUCCESS(status))
        return status;
    ((PMUX_EXTENSION)MuxControlDevice->DeviceExtension)->Kind = MuxControl;
    MuxControlDevice->Flags |= DO_BUFFERED_IO;
    status = IoCreateSymbolicLink(&MuxControlLink, &name);
    for (ULONG i = 0; NT_SUCCESS(status) && i < MUX_CHANNELS; i++)
        status = MuxCreateChannel(DriverObject, i);
    if (!NT_SUCCESS(status)) {
        MuxUnload(DriverObject);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = MuxCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = MuxCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = MuxDeviceControl;
    DriverObject->DriverUnload = MuxUnload;
    return STATUS_SUCCESS;
}
