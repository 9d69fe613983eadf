/*
 * nounload.c - conformance driver: a legacy driver with no DriverUnload and
 * no dispatch routines at all.
 *
 * DriverEntry creates \Device\ConfNoUnload and \DosDevices\ConfNoUnload and
 * sets nothing else, so every IRP gets the I/O manager's default handler
 * (an open fails with STATUS_INVALID_DEVICE_REQUEST) and the service cannot
 * be stopped (ZwUnloadDriver: STATUS_INVALID_DEVICE_REQUEST).
 */
#include <ntddk.h>

DRIVER_INITIALIZE DriverEntry;

_Use_decl_annotations_
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(L"\\Device\\ConfNoUnload");
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(L"\\DosDevices\\ConfNoUnload");
    PDEVICE_OBJECT device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    status = IoCreateDevice(DriverObject, 0, &deviceName, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status))
        IoDeleteDevice(device);
    return status;
}
