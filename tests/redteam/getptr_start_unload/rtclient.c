/*
 * rtclient.c - a PnP function driver for a root-enumerated "logger" that
 * feeds on the widget. On IRP_MN_START_DEVICE of its own device it opens
 * the widget by its interface link (IoGetDeviceObjectPointer) and keeps
 * the file object and the widget's top device in driver-wide globals for
 * its IOCTLs; DriverUnload dereferences the file object.
 * Planted fault: the widget is released only in DriverUnload. For a PnP
 * driver DriverUnload runs only after all its own devices are removed,
 * and the logger neither registers for the widget's target-device
 * notifications nor releases on its own REMOVE: while the logger's device
 * exists the widget's file object stays open, so every disable of the
 * widget is vetoed (PNP_VetoOutstandingOpen) and rtwidget.so stays loaded.
 */
#include <wdm.h>

typedef struct _LOGGER_EXTENSION {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
} LOGGER_EXTENSION, *PLOGGER_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE LoggerAddDevice;
DRIVER_UNLOAD LoggerUnload;
DRIVER_DISPATCH LoggerDispatchPass, LoggerDispatchPnp;
IO_COMPLETION_ROUTINE LoggerStartCompletion;

static UNICODE_STRING WidgetLink =
    RTL_CONSTANT_STRING(L"\\??\\ROOT#RTWIDGET#0000#{6c1c2e3a-0b57-4f4e-9d1b-5a3c7e2f9a10}");
static PFILE_OBJECT WidgetFile;     /* referenced: released in DriverUnload */
static PDEVICE_OBJECT WidgetDevice; /* not referenced: valid while WidgetFile is */

NTSTATUS LoggerStartCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS LoggerConnectWidget(void)
{
    if (WidgetFile)
        return STATUS_SUCCESS;
    return IoGetDeviceObjectPointer(&WidgetLink, FILE_READ_DATA, &WidgetFile, &WidgetDevice);
}

static NTSTATUS LoggerStart(PLOGGER_EXTENSION Ext, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, LoggerStartCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    NTSTATUS status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        status = LoggerConnectWidget();
    Irp->IoStatus.Status = status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

NTSTATUS LoggerDispatchPass(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PLOGGER_EXTENSION ext = DeviceObject->DeviceExtension;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(ext->LowerDevice, Irp);
}

NTSTATUS LoggerDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PLOGGER_EXTENSION ext = DeviceObject->DeviceExtension;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return LoggerStart(ext, Irp);
    case IRP_MN_REMOVE_DEVICE: {
        PDEVICE_OBJECT lower = ext->LowerDevice;
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        NTSTATUS status = IoCallDriver(lower, Irp);
        IoDetachDevice(lower);
        IoDeleteDevice(DeviceObject);
        return status;
    }
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    return LoggerDispatchPass(DeviceObject, Irp);
}

NTSTATUS LoggerAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(LOGGER_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PLOGGER_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID LoggerUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
    if (WidgetFile) {
        ObDereferenceObject(WidgetFile); /* BUG: too late for a PnP driver: belongs on REMOVE / QUERY_REMOVE */
        WidgetFile = NULL;
        WidgetDevice = NULL;
    }
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = LoggerDispatchPass;
    DriverObject->MajorFunction[IRP_MJ_PNP] = LoggerDispatchPnp;
    DriverObject->DriverExtension->AddDevice = LoggerAddDevice;
    DriverObject->DriverUnload = LoggerUnload;
    return STATUS_SUCCESS;
}
