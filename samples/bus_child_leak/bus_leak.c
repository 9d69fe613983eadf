/*
 * bus_leak.c - the toaster-style bus driver of bus_children with one bug: on
 * the last REMOVE of a child it reported missing it forgets the child but
 * never deletes its PDO, so the bus driver keeps a device forever.
 *
 * (Otherwise the bus driver of bus_children:) a WDM bus driver in the style of the WDK toaster bus enumerator.
 * Its FDO sits on a root-enumerated device and exposes a device interface
 * through which an application "plugs" and "unplugs" toaster children
 * (IOCTL_BUSENUM_PLUG_HARDWARE / _UNPLUG_HARDWARE with a serial number).
 * Each child is a PDO; a change calls IoInvalidateDeviceRelations and the
 * BusRelations answer lists the present children, each referenced. A
 * child PDO pends IOCTL_BUSENUM_CHILD_WAIT requests and completes them only
 * on IRP_MN_REMOVE_DEVICE. On REMOVE a child that is still reported is
 * kept; one reported missing is deleted; the FDO's removal deletes every
 * child it still owns.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/bus_children/bus.c), the PDO is
 * deleted on that last REMOVE: the clean bus driver.
 */
#include <wdm.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

#define IOCTL_BUSENUM_PLUG_HARDWARE CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BUSENUM_UNPLUG_HARDWARE CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_BUSENUM_CHILD_WAIT CTL_CODE(FILE_DEVICE_BUS_EXTENDER, 0x900, METHOD_NEITHER, FILE_ANY_ACCESS)
#define BUSENUM_MAX_CHILDREN 8

/* {D35F7840-6A0C-11d2-B841-00C04FAD5171}, the toaster bus enumerator's interface GUID */
static const GUID GUID_DEVINTERFACE_BUSENUM_TOASTER = { 0xd35f7840, 0x6a0c, 0x11d2,
                                                        { 0xb8, 0x41, 0x00, 0xc0, 0x4f, 0xad, 0x51, 0x71 } };

typedef struct _FDO_DEVICE_DATA FDO_DEVICE_DATA, *PFDO_DEVICE_DATA;

typedef struct _COMMON_DEVICE_DATA {
    BOOLEAN IsFdo;
} COMMON_DEVICE_DATA;

typedef struct _PDO_DEVICE_DATA {
    COMMON_DEVICE_DATA Common;
    PFDO_DEVICE_DATA Parent;
    PDEVICE_OBJECT Self;
    ULONG SerialNo;
    BOOLEAN Present;          /* plugged: reported in BusRelations */
    BOOLEAN ReportedMissing;  /* left out of the last BusRelations answer */
    KSPIN_LOCK PendingLock;
    LIST_ENTRY PendingIrps;   /* IOCTL_BUSENUM_CHILD_WAIT requests, completed on REMOVE */
} PDO_DEVICE_DATA, *PPDO_DEVICE_DATA;

struct _FDO_DEVICE_DATA {
    COMMON_DEVICE_DATA Common;
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT NextLowerDriver;
    UNICODE_STRING InterfaceName;
    FAST_MUTEX Mutex;
    PDEVICE_OBJECT Children[BUSENUM_MAX_CHILDREN];
};

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE BusAddDevice;
DRIVER_UNLOAD BusUnload;
DRIVER_DISPATCH BusDispatchPnp, BusDispatchCreateClose, BusDispatchIoctl, BusDispatchInternalIoctl;

static NTSTATUS BusComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static PWCHAR BusPoolString(PCWSTR Text)
{
    SIZE_T n = 0;
    while (Text[n])
        n++;
    PWCHAR copy = ExAllocatePoolWithTag(PagedPool, (n + 2) * sizeof(WCHAR), 'suBT');
    if (copy) {
        RtlCopyMemory(copy, Text, n * sizeof(WCHAR));
        copy[n] = copy[n + 1] = 0;
    }
    return copy;
}

/* ---- child PDOs -------------------------------------------------------------- */

static VOID BusCompletePendingIrps(PPDO_DEVICE_DATA Pdo)
{
    KIRQL irql;
    for (;;) {
        KeAcquireSpinLock(&Pdo->PendingLock, &irql);
        PLIST_ENTRY entry = IsListEmpty(&Pdo->PendingIrps) ? NULL : RemoveHeadList(&Pdo->PendingIrps);
        KeReleaseSpinLock(&Pdo->PendingLock, irql);
        if (!entry)
            return;
        BusComplete(CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry), STATUS_DELETE_PENDING, 0);
    }
}

static NTSTATUS BusPdoQueryId(PPDO_DEVICE_DATA Pdo, PIRP Irp)
{
    WCHAR instance[4] = { (WCHAR)(L'0' + Pdo->SerialNo / 10 % 10), (WCHAR)(L'0' + Pdo->SerialNo % 10), 0, 0 };
    PWCHAR id;
    switch (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryId.IdType) {
    case BusQueryDeviceID:
    case BusQueryHardwareIDs:
        id = BusPoolString(L"BUS\\TOASTERCHILD");
        break;
    case BusQueryInstanceID:
        id = BusPoolString(instance);
        break;
    default:
        return Irp->IoStatus.Status;
    }
    if (!id)
        return STATUS_INSUFFICIENT_RESOURCES;
    Irp->IoStatus.Information = (ULONG_PTR)id;
    return STATUS_SUCCESS;
}

static NTSTATUS BusPdoTargetRelation(PPDO_DEVICE_DATA Pdo, PIRP Irp)
{
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryDeviceRelations.Type != TargetDeviceRelation)
        return Irp->IoStatus.Status;
    PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), 'suBT');
    if (!relations)
        return STATUS_INSUFFICIENT_RESOURCES;
    relations->Count = 1;
    relations->Objects[0] = Pdo->Self;
    ObReferenceObject(Pdo->Self);
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    return STATUS_SUCCESS;
}

/* Forgets the child in its parent's table (the PDO goes with IoDeleteDevice). */
static VOID BusForgetChild(PPDO_DEVICE_DATA Pdo)
{
    PFDO_DEVICE_DATA fdo = Pdo->Parent;
    ExAcquireFastMutex(&fdo->Mutex);
    for (ULONG i = 0; i < BUSENUM_MAX_CHILDREN; i++)
        if (fdo->Children[i] == Pdo->Self)
            fdo->Children[i] = NULL;
    ExReleaseFastMutex(&fdo->Mutex);
}

static NTSTATUS BusPdoRemove(PPDO_DEVICE_DATA Pdo)
{
    BusCompletePendingIrps(Pdo);
    if (!Pdo->ReportedMissing)
        return STATUS_SUCCESS; /* still present: keep the PDO (the device is only disabled) */
    BusForgetChild(Pdo);
#if SAMPLE_FIXED
    /* FIX: reported missing, so this was its last REMOVE: the PDO goes. */
    IoDeleteDevice(Pdo->Self);
#else
    /* BUG: the child was reported missing, so this was its last REMOVE: the PDO must be deleted here
     * (IoDeleteDevice(Pdo->Self)). Forgotten by the bus and never deleted, it stays on the driver's list. */
#endif
    return STATUS_SUCCESS;
}

static NTSTATUS BusPdoDispatchPnp(PPDO_DEVICE_DATA Pdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        status = BusPdoRemove(Pdo);
        break;
    case IRP_MN_EJECT:
        Pdo->Present = FALSE;
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_ID:
        status = BusPdoQueryId(Pdo, Irp);
        break;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        status = BusPdoTargetRelation(Pdo, Irp);
        break;
    case IRP_MN_QUERY_CAPABILITIES:
        stack->Parameters.DeviceCapabilities.Capabilities->EjectSupported = TRUE;
        stack->Parameters.DeviceCapabilities.Capabilities->Removable = TRUE;
        status = STATUS_SUCCESS;
        break;
    default:
        status = Irp->IoStatus.Status;
        break;
    }
    return BusComplete(Irp, status, Irp->IoStatus.Information);
}

NTSTATUS BusDispatchInternalIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PPDO_DEVICE_DATA pdo = DeviceObject->DeviceExtension;
    KIRQL irql;
    if (pdo->Common.IsFdo ||
        IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode != IOCTL_BUSENUM_CHILD_WAIT)
        return BusComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    IoMarkIrpPending(Irp);
    KeAcquireSpinLock(&pdo->PendingLock, &irql);
    InsertTailList(&pdo->PendingIrps, &Irp->Tail.Overlay.ListEntry);
    KeReleaseSpinLock(&pdo->PendingLock, irql);
    return STATUS_PENDING;
}

/* ---- the bus FDO ---------------------------------------------------------------- */

static NTSTATUS BusPlug(PFDO_DEVICE_DATA Fdo, ULONG SerialNo)
{
    PDEVICE_OBJECT device;
    ULONG slot = BUSENUM_MAX_CHILDREN;
    ExAcquireFastMutex(&Fdo->Mutex);
    for (ULONG i = 0; i < BUSENUM_MAX_CHILDREN; i++)
        if (!Fdo->Children[i] && slot == BUSENUM_MAX_CHILDREN)
            slot = i;
    ExReleaseFastMutex(&Fdo->Mutex);
    if (slot == BUSENUM_MAX_CHILDREN)
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = IoCreateDevice(Fdo->Self->DriverObject, sizeof(PDO_DEVICE_DATA), NULL, FILE_DEVICE_BUS_EXTENDER,
                                     FILE_AUTOGENERATED_DEVICE_NAME | FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PPDO_DEVICE_DATA pdo = device->DeviceExtension;
    pdo->Parent = Fdo;
    pdo->Self = device;
    pdo->SerialNo = SerialNo;
    pdo->Present = TRUE;
    KeInitializeSpinLock(&pdo->PendingLock);
    InitializeListHead(&pdo->PendingIrps);
    device->Flags |= DO_POWER_PAGABLE | DO_BUS_ENUMERATED_DEVICE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    ExAcquireFastMutex(&Fdo->Mutex);
    Fdo->Children[slot] = device;
    ExReleaseFastMutex(&Fdo->Mutex);
    IoInvalidateDeviceRelations(Fdo->NextLowerDriver, BusRelations);
    return STATUS_SUCCESS;
}

static NTSTATUS BusUnplug(PFDO_DEVICE_DATA Fdo, ULONG SerialNo)
{
    BOOLEAN found = FALSE;
    ExAcquireFastMutex(&Fdo->Mutex);
    for (ULONG i = 0; i < BUSENUM_MAX_CHILDREN; i++) {
        PPDO_DEVICE_DATA pdo = Fdo->Children[i] ? Fdo->Children[i]->DeviceExtension : NULL;
        if (pdo && pdo->SerialNo == SerialNo && pdo->Present) {
            pdo->Present = FALSE;
            found = TRUE;
        }
    }
    ExReleaseFastMutex(&Fdo->Mutex);
    if (!found)
        return STATUS_NO_SUCH_DEVICE;
    IoInvalidateDeviceRelations(Fdo->NextLowerDriver, BusRelations);
    return STATUS_SUCCESS;
}

NTSTATUS BusDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFDO_DEVICE_DATA fdo = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (!fdo->Common.IsFdo || stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG))
        return BusComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    ULONG serial = *(PULONG)Irp->AssociatedIrp.SystemBuffer;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_BUSENUM_PLUG_HARDWARE:
        return BusComplete(Irp, BusPlug(fdo, serial), 0);
    case IOCTL_BUSENUM_UNPLUG_HARDWARE:
        return BusComplete(Irp, BusUnplug(fdo, serial), 0);
    default:
        return BusComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

/* BusRelations: every present child, referenced; the others are now reported missing. */
static NTSTATUS BusQueryBusRelations(PFDO_DEVICE_DATA Fdo, PIRP Irp)
{
    PDEVICE_RELATIONS relations =
        ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS) + BUSENUM_MAX_CHILDREN * sizeof(PDEVICE_OBJECT), 'suBT');
    if (!relations)
        return STATUS_INSUFFICIENT_RESOURCES;
    relations->Count = 0;
    ExAcquireFastMutex(&Fdo->Mutex);
    for (ULONG i = 0; i < BUSENUM_MAX_CHILDREN; i++) {
        PPDO_DEVICE_DATA pdo = Fdo->Children[i] ? Fdo->Children[i]->DeviceExtension : NULL;
        if (!pdo)
            continue;
        if (pdo->Present) {
            relations->Objects[relations->Count++] = pdo->Self;
            ObReferenceObject(pdo->Self);
        } else {
            pdo->ReportedMissing = TRUE;
        }
    }
    ExReleaseFastMutex(&Fdo->Mutex);
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    return STATUS_SUCCESS;
}

/* The bus goes: every child it still owns goes with it. */
static VOID BusDeleteChildren(PFDO_DEVICE_DATA Fdo)
{
    for (ULONG i = 0; i < BUSENUM_MAX_CHILDREN; i++) {
        PDEVICE_OBJECT child = Fdo->Children[i];
        if (!child)
            continue;
        Fdo->Children[i] = NULL;
        BusCompletePendingIrps(child->DeviceExtension);
        IoDeleteDevice(child);
    }
}

static NTSTATUS BusFdoDispatchPnp(PFDO_DEVICE_DATA Fdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        IoSetDeviceInterfaceState(&Fdo->InterfaceName, TRUE);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        if (stack->Parameters.QueryDeviceRelations.Type == BusRelations) {
            status = BusQueryBusRelations(Fdo, Irp);
            if (!NT_SUCCESS(status))
                return BusComplete(Irp, status, 0);
            Irp->IoStatus.Status = status;
        }
        break;
    case IRP_MN_REMOVE_DEVICE: {
        PDEVICE_OBJECT lower = Fdo->NextLowerDriver;
        IoSetDeviceInterfaceState(&Fdo->InterfaceName, FALSE);
        BusDeleteChildren(Fdo);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(lower, Irp);
        RtlFreeUnicodeString(&Fdo->InterfaceName);
        IoDetachDevice(lower);
        IoDeleteDevice(Fdo->Self);
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
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Fdo->NextLowerDriver, Irp);
}

NTSTATUS BusDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    COMMON_DEVICE_DATA *common = DeviceObject->DeviceExtension;
    if (common->IsFdo)
        return BusFdoDispatchPnp(DeviceObject->DeviceExtension, Irp);
    return BusPdoDispatchPnp(DeviceObject->DeviceExtension, Irp);
}

NTSTATUS BusDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    return BusComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS BusAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FDO_DEVICE_DATA), NULL, FILE_DEVICE_BUS_EXTENDER,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PFDO_DEVICE_DATA fdo = device->DeviceExtension;
    fdo->Common.IsFdo = TRUE;
    fdo->Self = device;
    ExInitializeFastMutex(&fdo->Mutex);
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_DEVINTERFACE_BUSENUM_TOASTER, NULL,
                                       &fdo->InterfaceName);
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
    device->Flags |= DO_BUFFERED_IO | DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID BusUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    PAGED_CODE();
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = BusDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = BusDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = BusDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_PNP] = BusDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = BusDispatchIoctl;
    DriverObject->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = BusDispatchInternalIoctl;
    DriverObject->DriverExtension->AddDevice = BusAddDevice;
    DriverObject->DriverUnload = BusUnload;
    return STATUS_SUCCESS;
}
