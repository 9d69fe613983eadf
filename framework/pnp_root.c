/*
 * pnp_root.c - the root bus: the PnP manager's own driver object
 * (\Driver\PnpManager, like ReactOS's PnpRoot) that owns the PDOs of
 * root-enumerated devices (NtsimPlugDevice) and answers the PnP IRPs that
 * reach the bottom of their stacks, as a well-behaved bus driver does
 * (nt-semantics §5.3 item 7, §5.4): it reports each PDO it creates with one
 * pointer reference (kept by the devnode), succeeds start/query/cancel/
 * surprise-removal, keeps a PDO that is still present on REMOVE and deletes
 * one that is gone (unplugged, or ejected), answers IDs, capabilities
 * (ejectable, surprise-removal OK), TargetDeviceRelation (the PDO,
 * referenced) and clears "present" on IRP_MN_EJECT. Its code lives in
 * libntsim, so it is never unloaded.
 */
#include <string.h>

#include "pnp_internal.h"

PDRIVER_OBJECT PipRootDriver;

/* The root bus's extension of each of its PDOs. */
typedef struct _PIP_ROOT_PDO_EXTENSION {
    BOOLEAN Present;
    BOOLEAN Deleted;
    char HardwareId[200];
    char InstanceId[200];
} PIP_ROOT_PDO_EXTENSION;

static PIP_ROOT_PDO_EXTENSION *PipRootExtension(PDEVICE_OBJECT Pdo)
{
    return Pdo->DeviceExtension;
}

/* ---- IRP handling ------------------------------------------------------- */

/* A NUL-terminated (doubly for a MULTI_SZ) UTF-16 copy of Text in pool, as bus drivers return IDs. */
static PWCHAR PipPoolWideString(const char *Text, BOOLEAN MultiSz)
{
    size_t n = strlen(Text);
    PWCHAR w = ExAllocatePoolWithTag(PagedPool, (n + 2) * sizeof(WCHAR), 'tRpP');
    if (!w)
        return NULL;
    for (size_t i = 0; i < n; i++)
        w[i] = (WCHAR)(unsigned char)Text[i];
    w[n] = 0;
    w[n + 1] = 0;
    (void)MultiSz;
    return w;
}

static NTSTATUS PipRootQueryId(PDEVICE_OBJECT Pdo, PIRP Irp)
{
    PIP_ROOT_PDO_EXTENSION *ext = PipRootExtension(Pdo);
    const char *text = NULL;
    switch (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryId.IdType) {
    case BusQueryDeviceID:
    case BusQueryHardwareIDs:
        text = ext->HardwareId;
        break;
    case BusQueryInstanceID:
        text = ext->InstanceId;
        break;
    default:
        return Irp->IoStatus.Status;
    }
    PWCHAR id = PipPoolWideString(text, TRUE);
    if (!id)
        return STATUS_INSUFFICIENT_RESOURCES;
    Irp->IoStatus.Information = (ULONG_PTR)id;
    return STATUS_SUCCESS;
}

static NTSTATUS PipRootQueryRelations(PDEVICE_OBJECT Pdo, PIRP Irp)
{
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryDeviceRelations.Type != TargetDeviceRelation)
        return Irp->IoStatus.Status;
    PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), 'tRpP');
    if (!relations)
        return STATUS_INSUFFICIENT_RESOURCES;
    relations->Count = 1;
    relations->Objects[0] = Pdo;
    ObfReferenceObject(Pdo); /* the caller (the PnP manager) owns this reference */
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    return STATUS_SUCCESS;
}

static NTSTATUS PipRootRemove(PDEVICE_OBJECT Pdo)
{
    PIP_ROOT_PDO_EXTENSION *ext = PipRootExtension(Pdo);
    if (!ext->Present && !ext->Deleted) {
        ext->Deleted = TRUE;
        IoDeleteDevice(Pdo); /* reported missing: the PDO goes (§5.3 item 7) */
    }
    return STATUS_SUCCESS;
}

static NTSTATUS PipRootDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    switch (sp->MinorFunction) {
    case IRP_MN_START_DEVICE:
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
    case IRP_MN_STOP_DEVICE:
    case IRP_MN_QUERY_STOP_DEVICE:
    case IRP_MN_CANCEL_STOP_DEVICE:
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        status = PipRootRemove(DeviceObject);
        break;
    case IRP_MN_EJECT:
        PipRootExtension(DeviceObject)->Present = FALSE;
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_ID:
        status = PipRootQueryId(DeviceObject, Irp);
        break;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        status = PipRootQueryRelations(DeviceObject, Irp);
        break;
    case IRP_MN_QUERY_CAPABILITIES: {
        PDEVICE_CAPABILITIES caps = sp->Parameters.DeviceCapabilities.Capabilities;
        caps->EjectSupported = 1;
        caps->Removable = 1;
        caps->SurpriseRemovalOK = 1;
        status = STATUS_SUCCESS;
        break;
    }
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        status = STATUS_SUCCESS;
        break;
    default:
        status = Irp->IoStatus.Status;
        break;
    }
    Irp->IoStatus.Status = status;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/*
 * The root bus as the power policy's last stop: it has no hardware to
 * power, so every power IRP that reaches a root PDO succeeds, and a set
 * power records the new state (as a bus driver does with PoSetPowerState).
 */
static NTSTATUS PipRootDispatchPower(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    if (sp->MinorFunction == IRP_MN_SET_POWER)
        PoSetPowerState(DeviceObject, sp->Parameters.Power.Type, sp->Parameters.Power.State);
    else if (sp->MinorFunction == IRP_MN_WAIT_WAKE)
        status = STATUS_NOT_SUPPORTED; /* no root device can wake the machine */
    PoStartNextPowerIrp(Irp);
    Irp->IoStatus.Status = status;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/*
 * An open that reaches the bare PDO (no function driver above it: a raw
 * device, or a stack already removed while the opener was resolving an
 * interface link) succeeds only for a started raw devnode; otherwise there
 * is no device to talk to. Cleanup and close always succeed.
 */
static NTSTATUS PipRootDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    NTSTATUS status = STATUS_SUCCESS;
    if (IoGetCurrentIrpStackLocation(Irp)->MajorFunction == IRP_MJ_CREATE) {
        PDEVICE_NODE node = PipGetDevnode(DeviceObject);
        if (!node || !node->Raw || node->State != DeviceNodeStarted)
            status = STATUS_NO_SUCH_DEVICE;
    }
    Irp->IoStatus.Status = status;
    Irp->IoStatus.Information = 0;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return status;
}

/* ---- the driver and its PDOs ------------------------------------------- */

VOID PipCreateRootDriver(void)
{
    UNICODE_STRING name;
    RtlpUtf8ToUnicode("\\Driver\\PnpManager", &name);
    PVOID object = NULL;
    NTSTATUS status = ObCreateObject(*IoDriverObjectType, &name, OBJ_PERMANENT, sizeof(IOP_DRIVER_BODY), &object);
    RtlpFreeUnicode(&name);
    if (!NT_SUCCESS(status))
        KeBugCheckEx(PNP_DETECTED_FATAL_ERROR, 0x100, (ULONG_PTR)status, 0, 0);
    IOP_DRIVER_BODY *body = object;
    PDRIVER_OBJECT driver = &body->Driver;
    driver->Type = IO_TYPE_DRIVER;
    driver->Size = sizeof(DRIVER_OBJECT);
    driver->DriverExtension = &body->Extension;
    body->Extension.DriverObject = driver;
    RtlpUtf8ToUnicode("\\Driver\\PnpManager", &driver->DriverName);
    RtlpUtf8ToUnicode("PnpManager", &body->Extension.ServiceKeyName);
    body->State.ServiceName = RtlpStrDup("PnpManager");
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver->MajorFunction[i] = IopInvalidDeviceRequest;
    driver->MajorFunction[IRP_MJ_PNP] = PipRootDispatchPnp;
    driver->MajorFunction[IRP_MJ_POWER] = PipRootDispatchPower;
    driver->MajorFunction[IRP_MJ_CREATE] = PipRootDispatchCreateClose;
    driver->MajorFunction[IRP_MJ_CLOSE] = PipRootDispatchCreateClose;
    driver->MajorFunction[IRP_MJ_CLEANUP] = PipRootDispatchCreateClose;
    driver->Flags = DRVO_INITIALIZED | DRVO_BUILTIN_DRIVER;
    PipRootDriver = driver; /* the creation reference and the namespace keep it for good */
}

NTSTATUS PipCreateRootPdo(PDEVICE_OBJECT *Pdo)
{
    PDEVICE_OBJECT pdo = NULL;
    NTSTATUS status = IoCreateDevice(PipRootDriver, sizeof(PIP_ROOT_PDO_EXTENSION), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_AUTOGENERATED_DEVICE_NAME, FALSE, &pdo);
    if (!NT_SUCCESS(status))
        return status;
    pdo->Flags |= DO_BUS_ENUMERATED_DEVICE;
    pdo->Flags &= ~DO_DEVICE_INITIALIZING;
    PipRootExtension(pdo)->Present = TRUE;
    ObfReferenceObject(pdo); /* as returned in BusRelations: becomes the devnode's reference */
    *Pdo = pdo;
    return STATUS_SUCCESS;
}

VOID PipSetRootPdoPresent(PDEVICE_OBJECT Pdo, BOOLEAN Present)
{
    PipRootExtension(Pdo)->Present = Present;
}

BOOLEAN PipIsRootPdoPresent(PDEVICE_OBJECT Pdo)
{
    return PipRootExtension(Pdo)->Present;
}

VOID PipSetRootPdoIds(PDEVICE_OBJECT Pdo, const char *HardwareId, const char *InstanceId)
{
    PIP_ROOT_PDO_EXTENSION *ext = PipRootExtension(Pdo);
    snprintf(ext->HardwareId, sizeof(ext->HardwareId), "%s", HardwareId);
    snprintf(ext->InstanceId, sizeof(ext->InstanceId), "%s", InstanceId);
}
