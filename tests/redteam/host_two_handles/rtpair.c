/*
 * rtpair.c - a correct legacy driver with two devices: \Device\RtPairA
 * (the data channel) and \Device\RtPairB (the event channel), each with a
 * \DosDevices link. Opens, closes and IOCTL_PAIR_PING are completed at
 * once; DriverUnload deletes both devices and links. Nothing is planted
 * here: the fault is in the host program (host.c).
 */
#include <ntddk.h>

#define IOCTL_PAIR_PING CTL_CODE(FILE_DEVICE_UNKNOWN, 0xEC0, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define PAIR_DEVICES 2

static UNICODE_STRING PairNames[PAIR_DEVICES] = {
    RTL_CONSTANT_STRING(L"\\Device\\RtPairA"),
    RTL_CONSTANT_STRING(L"\\Device\\RtPairB"),
};
static UNICODE_STRING PairLinks[PAIR_DEVICES] = {
    RTL_CONSTANT_STRING(L"\\DosDevices\\RtPairA"),
    RTL_CONSTANT_STRING(L"\\DosDevices\\RtPairB"),
};
static PDEVICE_OBJECT PairDevices[PAIR_DEVICES];

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD PairUnload;
DRIVER_DISPATCH PairDispatch;

NTSTATUS PairDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    UNREFERENCED_PARAMETER(DeviceObject);
    if (stack->MajorFunction == IRP_MJ_DEVICE_CONTROL &&
        stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_PAIR_PING)
        status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

static VOID PairDeleteAll(void)
{
    for (ULONG i = 0; i < PAIR_DEVICES; i++) {
        if (PairDevices[i]) {
            IoDeleteSymbolicLink(&PairLinks[i]);
            IoDeleteDevice(PairDevices[i]);
            PairDevices[i] = NULL;
        }
    }
}

VOID PairUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
    PairDeleteAll();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i < PAIR_DEVICES; i++) {
        PDEVICE_OBJECT device;
        NTSTATUS status = IoCreateDevice(DriverObject, 0, &PairNames[i], FILE_DEVICE_UNKNOWN,
                                         FILE_DEVICE_SECURE_OPEN, FALSE, &device);
        if (NT_SUCCESS(status)) {
            status = IoCreateSymbolicLink(&PairLinks[i], &PairNames[i]);
            if (!NT_SUCCESS(status))
                IoDeleteDevice(device);
        }
        if (!NT_SUCCESS(status)) {
            PairDeleteAll();
            return status;
        }
        device->Flags |= DO_BUFFERED_IO;
        PairDevices[i] = device;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PairDispatch;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PairDispatch;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PairDispatch;
    DriverObject->DriverUnload = PairUnload;
    return STATUS_SUCCESS;
}
