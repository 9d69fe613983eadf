/*
 * strmclass.c - a minimal stream class driver (strmini.h), enough to
 * reproduce what the stream class does to a minidriver's driver object
 * (nt-semantics §10, seed 002): StreamClassRegisterAdapter keeps a copy of
 * the HW_INITIALIZATION_DATA in a driver-object extension, installs its own
 * AddDevice and dispatch routines and, as ReactOS's stream.sys does,
 * replaces DriverUnload with KsNullDriverUnload - announcing the write
 * through the exported IopNoteDriverUnloadWrite before it makes it, so a
 * tracer sees that the class, called from the minidriver's DriverEntry,
 * overwrote the routine. The class's FDO forwards PnP IRPs, sends
 * SRB_INITIALIZE_DEVICE after a successful start and SRB_UNINITIALIZE_DEVICE
 * on removal, then detaches and deletes itself. Its code lives in libntsim.
 */
#include <stdarg.h>
#include <string.h>

#include "ntsim_internal.h"
#include "strmini.h"

/* The class's part of each FDO extension; the minidriver's extension follows, 16-byte aligned. */
typedef struct _STREAMP_FDO {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT Lower;
    PDEVICE_OBJECT Pdo;
    const HW_INITIALIZATION_DATA *Init;
    BOOLEAN Started;
} __attribute__((aligned(16))) STREAMP_FDO;

#define STREAMP_HW_EXTENSION(Fdo) ((PVOID)((STREAMP_FDO *)(Fdo) + 1))

VOID KsNullDriverUnload(PDRIVER_OBJECT DriverObject)
{
    (void)DriverObject;
}

VOID StreamClassDeviceNotification(STREAM_MINIDRIVER_DEVICE_NOTIFICATION_TYPE NotificationType,
                                   PVOID HwDeviceExtension, ...)
{
    (void)NotificationType;
    (void)HwDeviceExtension;
}

/* ---- SRBs to the minidriver ------------------------------------------------ */

static NTSTATUS StreampSendDeviceSrb(STREAMP_FDO *Fdo, SRB_COMMAND Command, PIRP Irp)
{
    PORT_CONFIGURATION_INFORMATION config;
    HW_STREAM_REQUEST_BLOCK srb;
    memset(&config, 0, sizeof(config));
    memset(&srb, 0, sizeof(srb));
    config.SizeOfThisPacket = sizeof(config);
    config.HwDeviceExtension = STREAMP_HW_EXTENSION(Fdo);
    config.ClassDeviceObject = Fdo->Self;
    config.PhysicalDeviceObject = Fdo->Lower;
    config.RealPhysicalDeviceObject = Fdo->Pdo;
    config.Irp = Irp;
    srb.SizeOfThisPacket = sizeof(srb);
    srb.Command = Command;
    srb.Status = STATUS_SUCCESS;
    srb.HwDeviceExtension = STREAMP_HW_EXTENSION(Fdo);
    srb.CommandData.ConfigInfo = &config;
    srb.Irp = Irp;
    IopCheckCallTarget((PVOID)Fdo->Init->HwReceivePacket, "HwReceivePacket", Fdo->Self);
    Fdo->Init->HwReceivePacket(&srb);
    return srb.Status;
}

/* ---- dispatch ------------------------------------------------------------------ */

static NTSTATUS StreampSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject;
    (void)Irp;
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Passes Irp down and waits for the lower drivers to finish it. */
static NTSTATUS StreampForwardAndWait(STREAMP_FDO *Fdo, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, StreampSignal, &event, TRUE, TRUE, TRUE);
    if (IofCallDriver(Fdo->Lower, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    return Irp->IoStatus.Status;
}

static NTSTATUS StreampComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS StreampPassDown(STREAMP_FDO *Fdo, PIRP Irp)
{
    IoSkipCurrentIrpStackLocation(Irp);
    return IofCallDriver(Fdo->Lower, Irp);
}

static NTSTATUS StreampDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    STREAMP_FDO *fdo = DeviceObject->DeviceExtension;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE: {
        NTSTATUS status = StreampForwardAndWait(fdo, Irp);
        if (NT_SUCCESS(status))
            status = StreampSendDeviceSrb(fdo, SRB_INITIALIZE_DEVICE, Irp);
        fdo->Started = NT_SUCCESS(status);
        return StreampComplete(Irp, status);
    }
    case IRP_MN_REMOVE_DEVICE: {
        if (fdo->Started)
            StreampSendDeviceSrb(fdo, SRB_UNINITIALIZE_DEVICE, Irp);
        fdo->Started = FALSE;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        PDEVICE_OBJECT lower = fdo->Lower;
        NTSTATUS status = StreampPassDown(fdo, Irp);
        IoDetachDevice(lower);
        IoDeleteDevice(DeviceObject);
        return status;
    }
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        return StreampPassDown(fdo, Irp);
    default:
        return StreampPassDown(fdo, Irp);
    }
}

static NTSTATUS StreampDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Information = 0;
    return StreampComplete(Irp, STATUS_SUCCESS);
}

static NTSTATUS StreampDispatchPassDown(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    return StreampPassDown(DeviceObject->DeviceExtension, Irp);
}

static NTSTATUS StreampDispatchDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    return StreampComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
}

/* ---- AddDevice and registration ------------------------------------------------ */

static NTSTATUS StreampAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    const HW_INITIALIZATION_DATA *init = IoGetDriverObjectExtension(DriverObject, (PVOID)StreamClassRegisterAdapter);
    if (!init)
        return STATUS_INVALID_DEVICE_REQUEST;
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, (ULONG)sizeof(STREAMP_FDO) + init->DeviceExtensionSize, NULL,
                                     FILE_DEVICE_KS, FILE_AUTOGENERATED_DEVICE_NAME, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    STREAMP_FDO *fdo = device->DeviceExtension;
    fdo->Self = device;
    fdo->Pdo = PhysicalDeviceObject;
    fdo->Init = init;
    fdo->Lower = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!fdo->Lower) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

NTSTATUS StreamClassRegisterAdapter(PVOID Argument1, PVOID Argument2, PHW_INITIALIZATION_DATA HwInitializationData)
{
    PDRIVER_OBJECT driver = Argument1;
    (void)Argument2;
    if (!IopIsDriverObject(driver) || !HwInitializationData ||
        HwInitializationData->HwInitializationDataSize < sizeof(HW_INITIALIZATION_DATA) ||
        !HwInitializationData->HwReceivePacket)
        return STATUS_INVALID_PARAMETER;
    PHW_INITIALIZATION_DATA copy;
    NTSTATUS status = IoAllocateDriverObjectExtension(driver, (PVOID)StreamClassRegisterAdapter,
                                                      sizeof(HW_INITIALIZATION_DATA), (PVOID *)&copy);
    if (!NT_SUCCESS(status))
        return status;
    *copy = *HwInitializationData;
    driver->DriverExtension->AddDevice = StreampAddDevice;
    driver->MajorFunction[IRP_MJ_PNP] = StreampDispatchPnp;
    driver->MajorFunction[IRP_MJ_POWER] = StreampDispatchPassDown;
    driver->MajorFunction[IRP_MJ_SYSTEM_CONTROL] = StreampDispatchPassDown;
    driver->MajorFunction[IRP_MJ_CREATE] = StreampDispatchCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = StreampDispatchCreateClose;
    driver->MajorFunction[IRP_MJ_CLEANUP] = StreampDispatchCreateClose;
    driver->MajorFunction[IRP_MJ_FLUSH_BUFFERS] = StreampDispatchPassDown;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = StreampDispatchDeviceControl;
    IopNoteDriverUnloadWrite(driver, driver->DriverUnload, KsNullDriverUnload);
    driver->DriverUnload = KsNullDriverUnload;
    return STATUS_SUCCESS;
}
