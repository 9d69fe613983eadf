/*
 * rthub.c - a hybrid WDM function driver: one FDO per hub device plus a
 * control device (\Device\RtHubCtl, \DosDevices\RtHubCtl) created on the
 * first start and deleted on the last remove (toaster-filter pattern).
 * The control device's IOCTL queues a work item that refreshes every hub;
 * the item holds a tagged device reference and the hub's remove lock, both
 * released when it has run, and DriverUnload-free teardown waits for it.
 * The developer forgot IoDeleteSymbolicLink for the control device's link
 * on the last remove: a stale link pins nothing (a symbolic link holds a
 * name, not a reference), so the driver still unloads: no finding.
 */
#include <wdm.h>

#define IOCTL_HUB_REFRESH CTL_CODE(FILE_DEVICE_UNKNOWN, 0x820, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define HUB_TAG 'buHR'

typedef struct _HUB_EXTENSION {
    BOOLEAN IsControl;
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    IO_REMOVE_LOCK RemoveLock;
    LONG Refreshes;
} HUB_EXTENSION, *PHUB_EXTENSION;

typedef struct _HUB_REFRESH_CONTEXT {
    PIO_WORKITEM WorkItem;
    PHUB_EXTENSION Hub;
    KEVENT Done;
} HUB_REFRESH_CONTEXT, *PHUB_REFRESH_CONTEXT;

static FAST_MUTEX HubMutex;
static ULONG HubInstances;
static PDEVICE_OBJECT HubControl;
static PDEVICE_OBJECT HubFirst; /* the hub the control device refreshes */

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE HubAddDevice;
DRIVER_UNLOAD HubUnload;
DRIVER_DISPATCH HubDispatch;
IO_WORKITEM_ROUTINE HubRefreshWorker;
IO_COMPLETION_ROUTINE HubSyncCompletion;

static NTSTATUS HubComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static VOID HubCreateControl(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\RtHubCtl");
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\RtHubCtl");
    ExAcquireFastMutex(&HubMutex);
    if (++HubInstances == 1 &&
        NT_SUCCESS(IoCreateDevice(DriverObject, sizeof(HUB_EXTENSION), &name, FILE_DEVICE_UNKNOWN,
                                  FILE_DEVICE_SECURE_OPEN, FALSE, &HubControl))) {
        PHUB_EXTENSION ext = HubControl->DeviceExtension;
        ext->IsControl = TRUE;
        ext->Self = HubControl;
        HubControl->Flags |= DO_BUFFERED_IO;
        if (!NT_SUCCESS(IoCreateSymbolicLink(&link, &name))) {
            IoDeleteDevice(HubControl);
            HubControl = NULL;
        } else {
            HubControl->Flags &= ~DO_DEVICE_INITIALIZING;
        }
    }
    ExReleaseFastMutex(&HubMutex);
}

static VOID HubDeleteControl(void)
{
    ExAcquireFastMutex(&HubMutex);
    if (--HubInstances == 0 && HubControl) {
        /* the link \DosDevices\RtHubCtl is left behind (IoDeleteSymbolicLink missing): harmless for unload */
        IoDeleteDevice(HubControl);
        HubControl = NULL;
    }
    ExReleaseFastMutex(&HubMutex);
}

VOID HubRefreshWorker(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PHUB_REFRESH_CONTEXT ctx = Context;
    InterlockedIncrement(&ctx->Hub->Refreshes);
    IoReleaseRemoveLock(&ctx->Hub->RemoveLock, ctx);
    ObDereferenceObjectWithTag(DeviceObject, HUB_TAG);
    KeSetEvent(&ctx->Done, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS HubRefresh(void)
{
    HUB_REFRESH_CONTEXT ctx;
    PHUB_EXTENSION hub;
    NTSTATUS status;
    ExAcquireFastMutex(&HubMutex);
    hub = HubFirst ? HubFirst->DeviceExtension : NULL;
    status = hub ? IoAcquireRemoveLock(&hub->RemoveLock, &ctx) : STATUS_NO_SUCH_DEVICE;
    ExReleaseFastMutex(&HubMutex);
    if (!NT_SUCCESS(status))
        return status;
    ctx.Hub = hub;
    KeInitializeEvent(&ctx.Done, NotificationEvent, FALSE);
    ctx.WorkItem = IoAllocateWorkItem(hub->Self);
    if (!ctx.WorkItem) {
        IoReleaseRemoveLock(&hub->RemoveLock, &ctx);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ObReferenceObjectWithTag(hub->Self, HUB_TAG);
    IoQueueWorkItem(ctx.WorkItem, HubRefreshWorker, DelayedWorkQueue, &ctx);
    KeWaitForSingleObject(&ctx.Done, Executive, KernelMode, FALSE, NULL);
    IoFreeWorkItem(ctx.WorkItem);
    return STATUS_SUCCESS;
}

NTSTATUS HubSyncCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS HubDispatchControl(PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP:
        return HubComplete(Irp, STATUS_SUCCESS);
    case IRP_MJ_DEVICE_CONTROL:
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_HUB_REFRESH)
            return HubComplete(Irp, HubRefresh());
        return HubComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    default:
        return HubComplete(Irp, STATUS_INVALID_DEVICE_REQUEST);
    }
}

static NTSTATUS HubDispatchPnp(PDEVICE_OBJECT DeviceObject, PHUB_EXTENSION Ext, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    KEVENT event;
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        IoCopyCurrentIrpStackLocationToNext(Irp);
        IoSetCompletionRoutine(Irp, HubSyncCompletion, &event, TRUE, TRUE, TRUE);
        if (IoCallDriver(Ext->LowerDevice, Irp) == STATUS_PENDING)
            KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
        status = Irp->IoStatus.Status;
        if (NT_SUCCESS(status)) {
            HubCreateControl(DeviceObject->DriverObject);
            ExAcquireFastMutex(&HubMutex);
            if (!HubFirst)
                HubFirst = DeviceObject;
            ExReleaseFastMutex(&HubMutex);
        }
        HubComplete(Irp, status);
        IoReleaseRemoveLock(&Ext->RemoveLock, Irp);
        return status;
    case IRP_MN_REMOVE_DEVICE:
        ExAcquireFastMutex(&HubMutex);
        if (HubFirst == DeviceObject)
            HubFirst = NULL;
        ExReleaseFastMutex(&HubMutex);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(Ext->LowerDevice, Irp);
        IoReleaseRemoveLockAndWait(&Ext->RemoveLock, Irp);
        HubDeleteControl();
        IoDetachDevice(Ext->LowerDevice);
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
    status = IoCallDriver(Ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&Ext->RemoveLock, Irp);
    return status;
}

NTSTATUS HubDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PHUB_EXTENSION ext = DeviceObject->DeviceExtension;
    NTSTATUS status;
    if (ext->IsControl)
        return HubDispatchControl(Irp);
    status = IoAcquireRemoveLock(&ext->RemoveLock, Irp);
    if (!NT_SUCCESS(status))
        return HubComplete(Irp, status);
    if (IoGetCurrentIrpStackLocation(Irp)->MajorFunction == IRP_MJ_PNP)
        return HubDispatchPnp(DeviceObject, ext, Irp);
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(ext->LowerDevice, Irp);
    IoReleaseRemoveLock(&ext->RemoveLock, Irp);
    return status;
}

NTSTATUS HubAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(HUB_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PHUB_EXTENSION ext = device->DeviceExtension;
    ext->Self = device;
    ext->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!ext->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    IoInitializeRemoveLock(&ext->RemoveLock, HUB_TAG, 1, 100);
    device->Flags |= DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID HubUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    ExInitializeFastMutex(&HubMutex);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = HubDispatch;
    DriverObject->DriverExtension->AddDevice = HubAddDevice;
    DriverObject->DriverUnload = HubUnload;
    return STATUS_SUCCESS;
}
