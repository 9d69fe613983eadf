/*
 * hybrid_filter.c - a "hybrid" PnP upper filter (the pnpdtest pattern of
 * the unload blog): besides its filter devices it has a named control
 * device \Device\ToasterFilterCtl for side-band IOCTLs from an application.
 * The control device is created in DriverEntry and deleted in DriverUnload.
 * Since the PnP manager only unloads a PnP driver whose device list is
 * empty, and the control device is always on the list, DriverUnload is
 * never called: the driver can never unload.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/pnp_hybrid_cdo_fixed), it does
 * it the way the WDK toaster filter does: the named control device is
 * created when the first filtered device starts and deleted when the last
 * one is removed (an instance counter under a fast mutex). Once the last
 * device goes, the driver's device list is empty and the PnP manager
 * unloads it.
 */
#include <wdm.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define CONTROL_DEVICE_NAME L"\\Device\\ToasterFilterCtl"
#define CONTROL_LINK_NAME L"\\DosDevices\\ToasterFilterCtl"

typedef struct _FILTER_EXTENSION {
    BOOLEAN IsControlDevice;
#if SAMPLE_FIXED
    BOOLEAN Started;
#endif
    PDEVICE_OBJECT NextLowerDriver;
    IO_REMOVE_LOCK RemoveLock;
} FILTER_EXTENSION, *PFILTER_EXTENSION;

static PDEVICE_OBJECT ControlDeviceObject;
#if SAMPLE_FIXED
static ULONG InstanceCount;
static FAST_MUTEX ControlMutex;
#endif

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE FilterAddDevice;
DRIVER_UNLOAD FilterUnload;
DRIVER_DISPATCH FilterDispatch, FilterDispatchPnp;

static NTSTATUS FilterComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

#if SAMPLE_FIXED
/* FIX: the control device lives while at least one filtered device is started. */
static VOID FilterCreateControlObject(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(CONTROL_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(CONTROL_LINK_NAME);
    ExAcquireFastMutex(&ControlMutex);
    if (++InstanceCount == 1 &&
        NT_SUCCESS(IoCreateDevice(DriverObject, sizeof(FILTER_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                                  FILE_DEVICE_SECURE_OPEN, FALSE, &ControlDeviceObject))) {
        ((PFILTER_EXTENSION)ControlDeviceObject->DeviceExtension)->IsControlDevice = TRUE;
        if (!NT_SUCCESS(IoCreateSymbolicLink(&linkName, &deviceName))) {
            IoDeleteDevice(ControlDeviceObject);
            ControlDeviceObject = NULL;
        } else {
            ControlDeviceObject->Flags &= ~DO_DEVICE_INITIALIZING;
        }
    }
    ExReleaseFastMutex(&ControlMutex);
}

static VOID FilterDeleteControlObject(void)
{
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(CONTROL_LINK_NAME);
    ExAcquireFastMutex(&ControlMutex);
    if (--InstanceCount == 0 && ControlDeviceObject) {
        IoDeleteSymbolicLink(&linkName);
        IoDeleteDevice(ControlDeviceObject);
        ControlDeviceObject = NULL;
    }
    ExReleaseFastMutex(&ControlMutex);
}
#endif

NTSTATUS FilterDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILTER_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (ext->IsControlDevice) {
        switch (IoGetCurrentIrpStackLocation(Irp)->MajorFunction) {
        case IRP_MJ_CREATE:
        case IRP_MJ_CLOSE:
        case IRP_MJ_CLEANUP:
        case IRP_MJ_DEVICE_CONTROL:
            return FilterComplete(Irp, STATUS_SUCCESS);
        default:
            return FilterComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
        }
    }
    status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return FilterComplete(Irp, status);
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->NextLowerDriver, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS FilterDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFILTER_EXTENSION ext = DeviceObject->DeviceExtension;
#if SAMPLE_FIXED
    UCHAR minor = IoGetCurrentIrpStackLocation(Irp)->MinorFunction;
#endif
    NTSTATUS status;
#if SAMPLE_FIXED
    if (ext->IsControlDevice)
        return FilterDispatch(DeviceObject, Irp);
    if (minor == IRP_MN_START_DEVICE && !ext->Started) {
        ext->Started = TRUE;
        FilterCreateControlObject(DeviceObject->DriverObject);
    }
    if (minor != IRP_MN_REMOVE_DEVICE)
        return FilterDispatch(DeviceObject, Irp);
#else
    if (ext->IsControlDevice || IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE)
        return FilterDispatch(DeviceObject, Irp);
#endif
    status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return FilterComplete(Irp, status);
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->NextLowerDriver, Irp);
    IoReleaseRemoveLockAndWait(&ext->RemoveLock, Irp);
#if SAMPLE_FIXED
    if (ext->Started)
        FilterDeleteControlObject();
#endif
    IoDetachDevice(ext->NextLowerDriver);
    IoDeleteDevice(DeviceObject);
    return status;
}

NTSTATUS FilterAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    PFILTER_EXTENSION ext;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FILTER_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    ext = device->DeviceExtension;
    ext->NextLowerDriver = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->NextLowerDriver) {
        IoDeleteDevice(device);
        return STATUS_UNSUCCESSFUL;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, 'tliF', 1, 100);
    device->Flags |= ext->NextLowerDriver->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO | DO_POWER_PAGABLE);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID FilterUnload(PDRIVER_OBJECT DriverObject)
{
#if !SAMPLE_FIXED
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(CONTROL_LINK_NAME);
#endif
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
#if !SAMPLE_FIXED
    IoDeleteSymbolicLink(&linkName);
    IoDeleteDevice(ControlDeviceObject);
#endif
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
#if !SAMPLE_FIXED
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(CONTROL_DEVICE_NAME);
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(CONTROL_LINK_NAME);
    NTSTATUS status;
#endif
    UNREFERENCED_PARAMETER(RegistryPath);
#if SAMPLE_FIXED
    ExInitializeFastMutex(&ControlMutex);
#endif
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = FilterDispatch;
    DriverObject->MajorFunction[IRP_MJ_PNP] = FilterDispatchPnp;
    DriverObject->DriverExtension->AddDevice = FilterAddDevice;
    DriverObject->DriverUnload = FilterUnload;

#if !SAMPLE_FIXED
    /* BUG: the control device is created here and deleted only in DriverUnload. It sits on the
     * driver's device list for good, so the PnP manager never calls DriverUnload. */
    status = IoCreateDevice(DriverObject, sizeof(FILTER_EXTENSION), &deviceName, FILE_DEVICE_UNKNOWN,
                            FILE_DEVICE_SECURE_OPEN, FALSE, &ControlDeviceObject);
    if (!NT_SUCCESS(status))
        return status;
    ((PFILTER_EXTENSION)ControlDeviceObject->DeviceExtension)->IsControlDevice = TRUE;
    status = IoCreateSymbolicLink(&linkName, &deviceName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(ControlDeviceObject);
        return status;
    }
#endif
    return STATUS_SUCCESS;
}
