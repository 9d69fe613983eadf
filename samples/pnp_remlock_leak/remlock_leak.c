/*
 * remlock_leak.c - the toaster function driver with one bug: its IOCTL
 * path returns early on an unknown control code without releasing the
 * remove lock it acquired. Every such request leaks one acquisition, so on
 * IRP_MN_REMOVE_DEVICE IoReleaseRemoveLockAndWait can never return: the
 * simulation reports the stuck wait with the acquisition still held (tag,
 * file and line) instead of hanging.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/pnp_filter_stop/toaster.c), the
 * IOCTL path has one exit and releases the remove lock on it: the clean
 * toaster function driver (in the style of the WDK toaster sample) that the
 * PnP samples stack their filters and monitors on. AddDevice creates an
 * unnamed FDO, attaches it to the PDO and registers the toaster device
 * interface; START enables the interface; every request holds the remove
 * lock; REMOVE passes the IRP down, waits for the remove lock, detaches and
 * deletes the FDO. Applications open the device through its interface
 * (\??\ROOT#TOASTER#0000#{...}) and ask for a request counter.
 */
#include <wdm.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define IOCTL_TOASTER_GET_COUNT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

/* {781EF630-72B2-11d2-B852-00C04FAD5171}, as the WDK toaster sample's GUID_DEVINTERFACE_TOASTER */
static const GUID GUID_DEVINTERFACE_TOASTER = { 0x781ef630, 0x72b2, 0x11d2,
                                                { 0xb8, 0x52, 0x00, 0xc0, 0x4f, 0xad, 0x51, 0x71 } };

typedef struct _FDO_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT NextLowerDriver;
    IO_REMOVE_LOCK RemoveLock;
    UNICODE_STRING InterfaceName;
    ULONG RequestCount;
} FDO_EXTENSION, *PFDO_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE ToasterAddDevice;
DRIVER_UNLOAD ToasterUnload;
DRIVER_DISPATCH ToasterDispatchPnp, ToasterDispatchCreateClose, ToasterDispatchIoctl, ToasterDispatchPower;

static NTSTATUS ToasterComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS ToasterStartCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS ToasterForwardAndWait(PFDO_EXTENSION Fdo, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, ToasterStartCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Fdo->NextLowerDriver, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    return Irp->IoStatus.Status;
}

NTSTATUS ToasterDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_EXTENSION fdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&fdo->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return ToasterComplete(Irp, status, 0);

    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        status = ToasterForwardAndWait(fdo, Irp);
        if (NT_SUCCESS(status))
            IoSetDeviceInterfaceState(&fdo->InterfaceName, TRUE);
        ToasterComplete(Irp, status, 0);
        IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
        return status;
    case IRP_MN_REMOVE_DEVICE:
        IoSetDeviceInterfaceState(&fdo->InterfaceName, FALSE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(fdo->NextLowerDriver, Irp);
        IoReleaseRemoveLockAndWait(&fdo->RemoveLock, Irp);
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDetachDevice(fdo->NextLowerDriver);
        IoDeleteDevice(DeviceObject);
        return status;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(fdo->NextLowerDriver, Irp);
    IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
    return status;
}

NTSTATUS ToasterDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return ToasterComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS ToasterDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_EXTENSION fdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoAcquireRemoveLock(&fdo->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return ToasterComplete(Irp, status, 0);
#if SAMPLE_FIXED
    /* FIX: no early return: every outcome reaches the IoReleaseRemoveLock below. */
    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_TOASTER_GET_COUNT &&
        stack->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(ULONG)) {
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = ++fdo->RequestCount;
        status = ToasterComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    } else {
        status = ToasterComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
#else
    if (stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_TOASTER_GET_COUNT)
        return ToasterComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0); /* BUG: the remove lock is not released */
    if (stack->Parameters.DeviceIoControl.OutputBufferLength >= sizeof(ULONG)) {
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = ++fdo->RequestCount;
        status = ToasterComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    } else {
        status = ToasterComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    }
#endif
    IoReleaseRemoveLock(&fdo->RemoveLock, Irp);
    return status;
}

NTSTATUS ToasterDispatchPower(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_EXTENSION fdo = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(fdo->NextLowerDriver, Irp);
}

NTSTATUS ToasterAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    PFDO_EXTENSION fdo;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FDO_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    fdo = device->DeviceExtension;
    fdo->Self = device;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_TOASTER, NULL, &fdo->InterfaceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(device);
        return status;
    }
    fdo->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!fdo->NextLowerDriver) {
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&fdo->RemoveLock, 'ltoT', 1, 100);
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID ToasterUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_PNP] = ToasterDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_POWER] = ToasterDispatchPower;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = ToasterDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = ToasterDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = ToasterDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = ToasterDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = ToasterAddDevice;
    DriverObject->DriverUnload = ToasterUnload;
    return STATUS_SUCCESS;
}
