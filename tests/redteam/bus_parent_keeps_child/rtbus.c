/*
 * rtbus.c - a WDM bus driver for a root-enumerated two-port "hub" with a
 * fixed child: on IRP_MN_START_DEVICE the FDO creates the PDO of its
 * single port (hardware id RTBUS\PORT, instance 01) and reports it in
 * every BusRelations answer, referenced, for as long as the hub exists.
 * The child PDO answers the PnP IRPs a bus driver owns (IDs, capabilities,
 * TargetDeviceRelation) and, on IRP_MN_REMOVE_DEVICE, keeps itself: the
 * port is still reported present, so that REMOVE only disables it.
 * Planted fault: the FDO's REMOVE handler detaches and deletes the FDO but
 * forgets the port PDO it still owns (a bus FDO must delete its remaining
 * children when it is removed). Disabling the hub removes the child's
 * stack and the FDO, but the port PDO stays on rtbus's device list, so
 * rtbus.so never unloads.
 */
#include <wdm.h>

#define RTBUS_TAG 'suBR'

typedef struct _RTBUS_COMMON {
    BOOLEAN IsFdo;
} RTBUS_COMMON;

typedef struct _RTBUS_FDO {
    RTBUS_COMMON Common;
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT LowerDevice;
    PDEVICE_OBJECT Port;      /* the child PDO, NULL before start */
} RTBUS_FDO, *PRTBUS_FDO;

typedef struct _RTBUS_PDO {
    RTBUS_COMMON Common;
    PDEVICE_OBJECT Self;
    PRTBUS_FDO Parent;
    BOOLEAN Started;
} RTBUS_PDO, *PRTBUS_PDO;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE RtBusAddDevice;
DRIVER_UNLOAD RtBusUnload;
DRIVER_DISPATCH RtBusDispatchPnp, RtBusDispatchOther;
IO_COMPLETION_ROUTINE RtBusStartCompletion;

static NTSTATUS RtBusComplete(PIRP Irp, NTSTATUS Status)
{
    Irp->IoStatus.Status = Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* A pool copy of Text with two terminating NULs (a valid MULTI_SZ too). */
static PWCHAR RtBusString(PCWSTR Text)
{
    SIZE_T n = 0;
    while (Text[n])
        n++;
    PWCHAR copy = ExAllocatePoolWithTag(PagedPool, (n + 2) * sizeof(WCHAR), RTBUS_TAG);
    if (copy) {
        RtlCopyMemory(copy, Text, n * sizeof(WCHAR));
        copy[n] = 0;
        copy[n + 1] = 0;
    }
    return copy;
}

/* ---- the port PDO ---------------------------------------------------------- */

static NTSTATUS RtBusPdoQueryId(PIRP Irp)
{
    PWCHAR id;
    switch (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryId.IdType) {
    case BusQueryDeviceID:
        id = RtBusString(L"RTBUS\\PORT");
        break;
    case BusQueryHardwareIDs:
        id = RtBusString(L"RTBUS\\PORT");
        break;
    case BusQueryInstanceID:
        id = RtBusString(L"01");
        break;
    default:
        return Irp->IoStatus.Status;
    }
    if (!id)
        return STATUS_INSUFFICIENT_RESOURCES;
    Irp->IoStatus.Information = (ULONG_PTR)id;
    return STATUS_SUCCESS;
}

static NTSTATUS RtBusPdoRelations(PRTBUS_PDO Pdo, PIRP Irp)
{
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryDeviceRelations.Type != TargetDeviceRelation)
        return Irp->IoStatus.Status;
    PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), RTBUS_TAG);
    if (!relations)
        return STATUS_INSUFFICIENT_RESOURCES;
    relations->Count = 1;
    relations->Objects[0] = Pdo->Self;
    ObReferenceObject(Pdo->Self);
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    return STATUS_SUCCESS;
}

static NTSTATUS RtBusPdoPnp(PRTBUS_PDO Pdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        Pdo->Started = TRUE;
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        /* still reported present: only disabled, the PDO stays until the hub goes */
        Pdo->Started = FALSE;
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
    case IRP_MN_QUERY_STOP_DEVICE:
    case IRP_MN_CANCEL_STOP_DEVICE:
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_ID:
        status = RtBusPdoQueryId(Irp);
        break;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        status = RtBusPdoRelations(Pdo, Irp);
        break;
    case IRP_MN_QUERY_CAPABILITIES:
        stack->Parameters.DeviceCapabilities.Capabilities->Removable = FALSE;
        stack->Parameters.DeviceCapabilities.Capabilities->UniqueID = FALSE;
        status = STATUS_SUCCESS;
        break;
    default:
        status = Irp->IoStatus.Status;
        break;
    }
    return RtBusComplete(Irp, status);
}

/* ---- the hub FDO --------------------------------------------------------------- */

NTSTATUS RtBusStartCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    UNREFERENCED_PARAMETER(Irp);
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS RtBusCreatePort(PRTBUS_FDO Fdo)
{
    PDEVICE_OBJECT port;
    if (Fdo->Port)
        return STATUS_SUCCESS;
    NTSTATUS status = IoCreateDevice(Fdo->Self->DriverObject, sizeof(RTBUS_PDO), NULL, FILE_DEVICE_BUS_EXTENDER,
                                     FILE_AUTOGENERATED_DEVICE_NAME | FILE_DEVICE_SECURE_OPEN, FALSE, &port);
    if (!NT_SUCCESS(status))
        return status;
    PRTBUS_PDO pdo = port->DeviceExtension;
    pdo->Self = port;
    pdo->Parent = Fdo;
    port->Flags |= DO_POWER_PAGABLE | DO_BUS_ENUMERATED_DEVICE;
    port->Flags &= ~DO_DEVICE_INITIALIZING;
    Fdo->Port = port;
    return STATUS_SUCCESS;
}

static NTSTATUS RtBusFdoStart(PRTBUS_FDO Fdo, PIRP Irp)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, RtBusStartCompletion, &event, TRUE, TRUE, TRUE);
    if (IoCallDriver(Fdo->LowerDevice, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
    NTSTATUS status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        status = RtBusCreatePort(Fdo);
    return RtBusComplete(Irp, status);
}

static NTSTATUS RtBusFdoRelations(PRTBUS_FDO Fdo, PIRP Irp)
{
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryDeviceRelations.Type != BusRelations || !Fdo->Port) {
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(Fdo->LowerDevice, Irp);
    }
    PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), RTBUS_TAG);
    if (!relations)
        return RtBusComplete(Irp, STATUS_INSUFFICIENT_RESOURCES);
    relations->Count = 1;
    relations->Objects[0] = Fdo->Port;
    ObReferenceObject(Fdo->Port);
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Fdo->LowerDevice, Irp);
}

static NTSTATUS RtBusFdoRemove(PRTBUS_FDO Fdo, PIRP Irp)
{
    PDEVICE_OBJECT lower = Fdo->LowerDevice;
    /* BUG: the port PDO the hub still owns must be deleted here (IoDeleteDevice(Fdo->Port)) */
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(lower, Irp);
    IoDetachDevice(lower);
    IoDeleteDevice(Fdo->Self);
    return status;
}

static NTSTATUS RtBusFdoPnp(PRTBUS_FDO Fdo, PIRP Irp)
{
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return RtBusFdoStart(Fdo, Irp);
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        return RtBusFdoRelations(Fdo, Irp);
    case IRP_MN_REMOVE_DEVICE:
        return RtBusFdoRemove(Fdo, Irp);
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Fdo->LowerDevice, Irp);
}

NTSTATUS RtBusDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    RTBUS_COMMON *common = DeviceObject->DeviceExtension;
    if (common->IsFdo)
        return RtBusFdoPnp(DeviceObject->DeviceExtension, Irp);
    return RtBusPdoPnp(DeviceObject->DeviceExtension, Irp);
}

NTSTATUS RtBusDispatchOther(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    RTBUS_COMMON *common = DeviceObject->DeviceExtension;
    if (common->IsFdo) {
        PRTBUS_FDO fdo = DeviceObject->DeviceExtension;
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(fdo->LowerDevice, Irp);
    }
    NTSTATUS status = Irp->IoStatus.Status;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

NTSTATUS RtBusAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(RTBUS_FDO), NULL, FILE_DEVICE_BUS_EXTENDER,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PRTBUS_FDO fdo = device->DeviceExtension;
    fdo->Common.IsFdo = TRUE;
    fdo->Self = device;
    fdo->LowerDevice = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    if (!fdo->LowerDevice) {
        IoDeleteDevice(device);
        return STATUS_NO_SUCH_DEVICE;
    }
    device->Flags |= DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID RtBusUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    for (ULONG i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = RtBusDispatchOther;
    DriverObject->MajorFunction[IRP_MJ_PNP] = RtBusDispatchPnp;
    DriverObject->DriverExtension->AddDevice = RtBusAddDevice;
    DriverObject->DriverUnload = RtBusUnload;
    return STATUS_SUCCESS;
}
