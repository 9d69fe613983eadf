/*
 * rttrio.c - a legacy three-port serial multiplexer. DriverEntry creates
 * one named device per port (\Device\RtTrio0, 1, 2), each with its
 * \DosDevices link; the ports are kept in a global table.
 * Planted fault: DriverUnload walks the table with a stride of two (the
 * middle port used to be an alias of port 0 in an earlier revision), so
 * \Device\RtTrio1 is never deleted: it stays on the driver's device list,
 * the driver object stays referenced, and the image stays mapped after
 * DriverUnload.
 */
#include <ntddk.h>

#define TRIO_PORTS 3

typedef struct _TRIO_PORT_EXTENSION {
    ULONG Index;
    ULONG BytesOut;
    PUNICODE_STRING Link;
} TRIO_PORT_EXTENSION, *PTRIO_PORT_EXTENSION;

static UNICODE_STRING TrioNames[TRIO_PORTS] = {
    RTL_CONSTANT_STRING(L"\\Device\\RtTrio0"),
    RTL_CONSTANT_STRING(L"\\Device\\RtTrio1"),
    RTL_CONSTANT_STRING(L"\\Device\\RtTrio2"),
};
static UNICODE_STRING TrioLinks[TRIO_PORTS] = {
    RTL_CONSTANT_STRING(L"\\DosDevices\\RtTrio0"),
    RTL_CONSTANT_STRING(L"\\DosDevices\\RtTrio1"),
    RTL_CONSTANT_STRING(L"\\DosDevices\\RtTrio2"),
};

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD TrioUnload;
DRIVER_DISPATCH TrioCreateClose, TrioWrite;

static PDEVICE_OBJECT TrioPorts[TRIO_PORTS];

NTSTATUS TrioCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

NTSTATUS TrioWrite(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PTRIO_PORT_EXTENSION ext = DeviceObject->DeviceExtension;
    ULONG length = IoGetCurrentIrpStackLocation(Irp)->Parameters.Write.Length;
    ext->BytesOut += length;
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = length;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static VOID TrioDeletePort(PDEVICE_OBJECT Port)
{
    PTRIO_PORT_EXTENSION ext = Port->DeviceExtension;
    IoDeleteSymbolicLink(ext->Link);
    IoDeleteDevice(Port);
}

static NTSTATUS TrioCreatePort(PDRIVER_OBJECT DriverObject, ULONG Index)
{
    PDEVICE_OBJECT port;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(TRIO_PORT_EXTENSION), &TrioNames[Index], FILE_DEVICE_SERIAL_PORT,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &port);
    if (!NT_SUCCESS(status))
        return status;
    PTRIO_PORT_EXTENSION ext = port->DeviceExtension;
    ext->Index = Index;
    ext->Link = &TrioLinks[Index];
    status = IoCreateSymbolicLink(ext->Link, &TrioNames[Index]);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(port);
        return status;
    }
    port->Flags |= DO_BUFFERED_IO;
    TrioPorts[Index] = port;
    return STATUS_SUCCESS;
}

VOID TrioUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
    for (ULONG i = 0; i < TRIO_PORTS; i += 2) { /* BUG: skips port 1 */
        if (TrioPorts[i]) {
            TrioDeletePort(TrioPorts[i]);
            TrioPorts[i] = NULL;
        }
    }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status = STATUS_SUCCESS;
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i < TRIO_PORTS && NT_SUCCESS(status); i++)
        status = TrioCreatePort(DriverObject, i);
    if (!NT_SUCCESS(status)) {
        for (ULONG i = 0; i < TRIO_PORTS; i++) {
            if (TrioPorts[i]) {
                TrioDeletePort(TrioPorts[i]);
                TrioPorts[i] = NULL;
            }
        }
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = TrioCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = TrioCreateClose;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = TrioWrite;
    DriverObject->DriverUnload = TrioUnload;
    return STATUS_SUCCESS;
}
