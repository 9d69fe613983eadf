/*
 * rtcx.c - a legacy loop-back diagnostics driver (\Device\RtCx).
 * IOCTL_CX_SELFTEST builds an IRP_MJ_INTERNAL_DEVICE_CONTROL request with
 * IoAllocateIrp, sets a completion routine with IoSetCompletionRoutineEx
 * (which keeps the driver loaded until the routine has run), sends it to
 * its own device and waits for the routine, which frees the IRP.
 * Planted fault: a self-test with a pattern of zero is rejected after the
 * completion routine was set, and the IRP is freed with IoFreeIrp without
 * ever being sent or completed. The completion context's reference on the
 * driver is never released: DriverUnload runs, the image stays mapped.
 */
#include <ntddk.h>

#define IOCTL_CX_SELFTEST CTL_CODE(FILE_DEVICE_UNKNOWN, 0xE40, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_CX_INTERNAL_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0xE41, METHOD_NEITHER, FILE_ANY_ACCESS)

typedef struct _CX_EXTENSION {
    PDEVICE_OBJECT Self;
    ULONG Echoes;
} CX_EXTENSION, *PCX_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD CxUnload;
DRIVER_DISPATCH CxCreateClose, CxDeviceControl, CxInternalControl;
IO_COMPLETION_ROUTINE CxSelfTestDone;

static UNICODE_STRING CxLink = RTL_CONSTANT_STRING(L"\\DosDevices\\RtCx");

static NTSTATUS CxComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

NTSTATUS CxSelfTestDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    UNREFERENCED_PARAMETER(Irp);
    return STATUS_MORE_PROCESSING_REQUIRED; /* the sender frees the IRP */
}

static NTSTATUS CxSelfTest(PCX_EXTENSION Ext, ULONG Pattern)
{
    KEVENT done;
    NTSTATUS status;
    PIRP irp = IoAllocateIrp(Ext->Self->StackSize + 1, FALSE);
    if (!irp)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.IoControlCode = IOCTL_CX_INTERNAL_ECHO;
    next->Parameters.DeviceIoControl.Type3InputBuffer = (PVOID)(ULONG_PTR)Pattern;
    status = IoSetCompletionRoutineEx(Ext->Self, irp, CxSelfTestDone, &done, TRUE, TRUE, TRUE);
    if (!NT_SUCCESS(status)) {
        IoFreeIrp(irp);
        return status;
    }
    if (Pattern == 0) {
        IoFreeIrp(irp); /* BUG: the IRP was never sent: its completion routine never runs */
        return STATUS_INVALID_PARAMETER;
    }
    status = IoCallDriver(Ext->Self, irp);
    KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    status = irp->IoStatus.Status;
    IoFreeIrp(irp);
    return status;
}

NTSTATUS CxInternalControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCX_EXTENSION ext = DeviceObject->DeviceExtension;
    ext->Echoes++;
    return CxComplete(Irp, STATUS_SUCCESS);
}

NTSTATUS CxDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCX_EXTENSION ext = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_CX_SELFTEST)
        return CxComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    if (stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG))
        return CxComplete(Irp, STATUS_BUFFER_TOO_SMALL);
    return CxComplete(Irp, CxSelfTest(ext, *(PULONG)Irp->AssociatedIrp.SystemBuffer));
}

NTSTATUS CxCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return CxComplete(Irp, STATUS_SUCCESS);
}

VOID CxUnload(PDRIVER_OBJECT DriverObject)
{
    PAGED_CODE();
    IoDeleteSymbolicLink(&CxLink);
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtCx");
    PDEVICE_OBJECT device;
    UNREFERENCED_PARAMETER(RegistryPath);
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(CX_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PCX_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    status = IoCreateSymbolicLink(&CxLink, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    DriverObject->MajorFunction[IRP_MJ_CREATE] = CxCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = CxCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = CxDeviceControl;
    DriverObject->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = CxInternalControl;
    DriverObject->DriverUnload = CxUnload;
    device->Flags |= DO_BUFFERED_IO;
    return STATUS_SUCCESS;
}
