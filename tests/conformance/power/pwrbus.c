/*
 * pwrbus.c - a bus driver in the manner of the WDK 7.1 toaster bus, for
 * the calls the toaster samples needed that the simulation lacked:
 * IoCreateDeviceSecure with a wdmsec.lib descriptor (&SDDL_DEVOBJ_...),
 * IoGetDeviceProperty, the bounded string and integer routines
 * (RtlStringCchPrintfW, RtlULongPtrSub), WMI registration with WMILIB
 * (IoWMIRegistrationControl, WmiSystemControl), power IRPs on both sides
 * of a bus (the FDO passes them down with PoStartNextPowerIrp and
 * PoCallDriver, a PDO records its state with PoSetPowerState), and
 * initguid.h with DEFINE_GUID.
 *
 * Its root-enumerated FDO exposes an interface; IOCTL 0x900 plugs the
 * child with the serial number given (reported in BusRelations as
 * CONF\PWRTOASTER\<nn>), 0x901 unplugs it, 0x902 returns a ULONG with one
 * bit per check below that held.
 */
#include <ntddk.h>
#include <initguid.h>
#include <ntintsafe.h>
#include <ntstrsafe.h>
#include <wdmsec.h>
#include <wmilib.h>

DEFINE_GUID(GUID_CONF_PWRBUS, 0x5a1e0c11, 0x7d3b, 0x4c2a, 0x9e, 0x41, 0x10, 0x2f, 0x63, 0x8a, 0xb7, 0x01);
DEFINE_GUID(GUID_CONF_PWRBUS_WMI, 0x5a1e0c12, 0x7d3b, 0x4c2a, 0x9e, 0x41, 0x10, 0x2f, 0x63, 0x8a, 0xb7, 0x01);

#define PWRBUS_IOCTL(i) CTL_CODE(FILE_DEVICE_BUS_EXTENDER, (i), METHOD_BUFFERED, FILE_ANY_ACCESS)
#define PWRBUS_PLUG PWRBUS_IOCTL(0x900)
#define PWRBUS_UNPLUG PWRBUS_IOCTL(0x901)
#define PWRBUS_CHECKS PWRBUS_IOCTL(0x902)
#define PWRBUS_MAX_CHILDREN 4
#define PWRBUS_TAG 'BrwP'

/* Checks, one bit each in the PWRBUS_CHECKS answer. */
#define CHECK_PDO_NAME 0x01      /* IoGetDeviceProperty(PhysicalDeviceObjectName): size query, then the name */
#define CHECK_SECURE_PDO 0x02    /* IoCreateDeviceSecure with &SDDL_DEVOBJ_SYS_ALL_ADM_ALL and a class GUID */
#define CHECK_INSTANCE_ID 0x04   /* RtlStringCchPrintfW(L"%02d") and a truncated RtlStringCchPrintfW */
#define CHECK_INTSAFE 0x08       /* RtlULongPtrSub: a difference, then an underflow */
#define CHECK_WMI 0x10           /* register, a WMI IRP for another provider is IrpForward, a non-WMI one IrpNotWmi */
#define CHECK_PDO_POWER 0x20     /* a child's PDO saw IRP_MN_SET_POWER D3 then D0 */

typedef struct _COMMON_DATA {
    BOOLEAN IsFdo;
    PDEVICE_OBJECT Self;
} COMMON_DATA;

typedef struct _FDO_DATA {
    COMMON_DATA Common;
    PDEVICE_OBJECT Lower;
    PDEVICE_OBJECT Pdo;
    UNICODE_STRING InterfaceName;
    WMILIB_CONTEXT Wmi;
    FAST_MUTEX Mutex;
    PDEVICE_OBJECT Children[PWRBUS_MAX_CHILDREN];
    ULONG Checks;
} FDO_DATA, *PFDO_DATA;

typedef struct _PDO_DATA {
    COMMON_DATA Common;
    PFDO_DATA Parent;
    ULONG SerialNo;
    BOOLEAN Present;
    BOOLEAN ReportedMissing;
    DEVICE_POWER_STATE Power;
    ULONG PowerSteps;            /* 1: went to D3, 2: back in D0 */
} PDO_DATA, *PPDO_DATA;

static WMIGUIDREGINFO PwrBusWmiGuids[] = { { &GUID_CONF_PWRBUS_WMI, 1, 0 } };

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE PwrBusAddDevice;
DRIVER_UNLOAD PwrBusUnload;
DRIVER_DISPATCH PwrBusDispatchPnp, PwrBusDispatchPower, PwrBusDispatchIoctl, PwrBusDispatchCreateClose,
    PwrBusDispatchSystemControl;

static NTSTATUS PwrBusComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* ---- the child PDOs ------------------------------------------------------------ */

/* A REG_MULTI_SZ id in paged pool (the PnP manager frees it). */
static PWCHAR PwrBusPoolId(PCWSTR Text)
{
    size_t length;
    if (!NT_SUCCESS(RtlStringCchLengthW(Text, NTSTRSAFE_MAX_CCH, &length)))
        return NULL;
    PWCHAR id = ExAllocatePoolWithTag(PagedPool, (length + 2) * sizeof(WCHAR), PWRBUS_TAG);
    if (id) {
        RtlStringCchCopyW(id, length + 1, Text);
        id[length + 1] = UNICODE_NULL;
    }
    return id;
}

static NTSTATUS PwrBusPdoQueryId(PPDO_DATA Pdo, PIRP Irp)
{
    WCHAR instance[8], cut[3];
    PWCHAR id;
    switch (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryId.IdType) {
    case BusQueryDeviceID:
    case BusQueryHardwareIDs:
        id = PwrBusPoolId(L"CONF\\PWRTOASTER");
        break;
    case BusQueryInstanceID:
        if (RtlStringCchPrintfW(instance, RTL_NUMBER_OF(instance), L"%02d", Pdo->SerialNo) == STATUS_SUCCESS &&
            RtlStringCchPrintfW(cut, RTL_NUMBER_OF(cut), L"%ws", L"toolong") == STATUS_BUFFER_OVERFLOW &&
            cut[2] == UNICODE_NULL && cut[1] == L'o')
            Pdo->Parent->Checks |= CHECK_INSTANCE_ID;
        id = PwrBusPoolId(instance);
        break;
    default:
        return Irp->IoStatus.Status;
    }
    if (!id)
        return STATUS_INSUFFICIENT_RESOURCES;
    Irp->IoStatus.Information = (ULONG_PTR)id;
    return STATUS_SUCCESS;
}

static NTSTATUS PwrBusPdoTargetRelation(PPDO_DATA Pdo, PIRP Irp)
{
    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.QueryDeviceRelations.Type != TargetDeviceRelation)
        return Irp->IoStatus.Status;
    PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(PagedPool, sizeof(DEVICE_RELATIONS), PWRBUS_TAG);
    if (!relations)
        return STATUS_INSUFFICIENT_RESOURCES;
    relations->Count = 1;
    relations->Objects[0] = Pdo->Common.Self;
    ObReferenceObject(Pdo->Common.Self);
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    return STATUS_SUCCESS;
}

static VOID PwrBusForgetChild(PPDO_DATA Pdo)
{
    PFDO_DATA fdo = Pdo->Parent;
    ExAcquireFastMutex(&fdo->Mutex);
    for (ULONG i = 0; i < PWRBUS_MAX_CHILDREN; i++)
        if (fdo->Children[i] == Pdo->Common.Self)
            fdo->Children[i] = NULL;
    ExReleaseFastMutex(&fdo->Mutex);
}

static NTSTATUS PwrBusPdoPnp(PPDO_DATA Pdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status;
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE: {
        POWER_STATE d0 = { .DeviceState = PowerDeviceD0 };
        Pdo->Power = PowerDeviceD0;
        PoSetPowerState(Pdo->Common.Self, DevicePowerState, d0);
        status = STATUS_SUCCESS;
        break;
    }
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
    case IRP_MN_QUERY_PNP_DEVICE_STATE:
        status = STATUS_SUCCESS;
        break;
    case IRP_MN_REMOVE_DEVICE:
        status = STATUS_SUCCESS;
        if (Pdo->ReportedMissing) { /* its last REMOVE: the PDO goes */
            PwrBusForgetChild(Pdo);
            PwrBusComplete(Irp, status, 0);
            IoDeleteDevice(Pdo->Common.Self);
            return status;
        }
        break;
    case IRP_MN_QUERY_ID:
        status = PwrBusPdoQueryId(Pdo, Irp);
        break;
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        status = PwrBusPdoTargetRelation(Pdo, Irp);
        break;
    case IRP_MN_QUERY_CAPABILITIES: {
        PDEVICE_CAPABILITIES caps = stack->Parameters.DeviceCapabilities.Capabilities;
        caps->Removable = TRUE;
        caps->DeviceState[PowerSystemWorking] = PowerDeviceD0;
        caps->DeviceState[PowerSystemSleeping3] = PowerDeviceD3;
        caps->DeviceState[PowerSystemHibernate] = PowerDeviceD3;
        caps->Address = caps->UINumber = Pdo->SerialNo;
        status = STATUS_SUCCESS;
        break;
    }
    default:
        status = Irp->IoStatus.Status;
        break;
    }
    return PwrBusComplete(Irp, status, Irp->IoStatus.Information);
}

/* A PDO is the last stop of power IRPs: it records the state and completes them. */
static NTSTATUS PwrBusPdoPower(PPDO_DATA Pdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    NTSTATUS status = STATUS_SUCCESS;
    if (stack->MinorFunction == IRP_MN_SET_POWER && stack->Parameters.Power.Type == DevicePowerState) {
        DEVICE_POWER_STATE want = stack->Parameters.Power.State.DeviceState;
        POWER_STATE previous = PoSetPowerState(Pdo->Common.Self, DevicePowerState, stack->Parameters.Power.State);
        if (previous.DeviceState == Pdo->Power) {
            if (want == PowerDeviceD3 && Pdo->PowerSteps == 0)
                Pdo->PowerSteps = 1;
            else if (want == PowerDeviceD0 && Pdo->PowerSteps == 1)
                Pdo->Parent->Checks |= CHECK_PDO_POWER;
        }
        Pdo->Power = want;
    } else if (stack->MinorFunction == IRP_MN_WAIT_WAKE) {
        status = STATUS_NOT_SUPPORTED;
    }
    PoStartNextPowerIrp(Irp);
    return PwrBusComplete(Irp, status, 0);
}

/* ---- the FDO -------------------------------------------------------------------- */

static NTSTATUS PwrBusPlug(PFDO_DATA Fdo, ULONG SerialNo)
{
    PDEVICE_OBJECT pdo;
    NTSTATUS status = IoCreateDeviceSecure(Fdo->Common.Self->DriverObject, sizeof(PDO_DATA), NULL,
                                           FILE_DEVICE_BUS_EXTENDER, FILE_AUTOGENERATED_DEVICE_NAME, FALSE,
                                           &SDDL_DEVOBJ_SYS_ALL_ADM_ALL, &GUID_CONF_PWRBUS, &pdo);
    if (!NT_SUCCESS(status))
        return status;
    Fdo->Checks |= CHECK_SECURE_PDO;
    PPDO_DATA data = pdo->DeviceExtension;
    RtlZeroMemory(data, sizeof(*data));
    data->Common.Self = pdo;
    data->Parent = Fdo;
    data->SerialNo = SerialNo;
    data->Present = TRUE;
    pdo->Flags |= DO_POWER_PAGABLE;
    pdo->Flags &= ~DO_DEVICE_INITIALIZING;
    ExAcquireFastMutex(&Fdo->Mutex);
    for (ULONG i = 0; i < PWRBUS_MAX_CHILDREN && pdo; i++)
        if (!Fdo->Children[i]) {
            Fdo->Children[i] = pdo;
            pdo = NULL;
        }
    ExReleaseFastMutex(&Fdo->Mutex);
    if (pdo) {
        IoDeleteDevice(pdo);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    IoInvalidateDeviceRelations(Fdo->Pdo, BusRelations);
    return STATUS_SUCCESS;
}

static NTSTATUS PwrBusUnplug(PFDO_DATA Fdo, ULONG SerialNo)
{
    NTSTATUS status = STATUS_NO_SUCH_DEVICE;
    ExAcquireFastMutex(&Fdo->Mutex);
    for (ULONG i = 0; i < PWRBUS_MAX_CHILDREN; i++) {
        PPDO_DATA child = Fdo->Children[i] ? Fdo->Children[i]->DeviceExtension : NULL;
        if (child && child->SerialNo == SerialNo && child->Present) {
            child->Present = FALSE;
            status = STATUS_SUCCESS;
        }
    }
    ExReleaseFastMutex(&Fdo->Mutex);
    if (NT_SUCCESS(status))
        IoInvalidateDeviceRelations(Fdo->Pdo, BusRelations);
    return status;
}

NTSTATUS PwrBusDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    COMMON_DATA *common = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (!common->IsFdo)
        return PwrBusComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    PFDO_DATA fdo = (PFDO_DATA)common;
    PULONG buffer = Irp->AssociatedIrp.SystemBuffer;
    ULONG in = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = stack->Parameters.DeviceIoControl.OutputBufferLength;
    switch (stack->Parameters.DeviceIoControl.IoControlCode) {
    case PWRBUS_PLUG:
        return PwrBusComplete(Irp, in < sizeof(ULONG) ? STATUS_INVALID_PARAMETER : PwrBusPlug(fdo, *buffer), 0);
    case PWRBUS_UNPLUG:
        return PwrBusComplete(Irp, in < sizeof(ULONG) ? STATUS_INVALID_PARAMETER : PwrBusUnplug(fdo, *buffer), 0);
    case PWRBUS_CHECKS:
        if (out < sizeof(ULONG))
            return PwrBusComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        *buffer = fdo->Checks;
        return PwrBusComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
    default:
        return PwrBusComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static NTSTATUS PwrBusQueryBusRelations(PFDO_DATA Fdo, PIRP Irp)
{
    ExAcquireFastMutex(&Fdo->Mutex);
    ULONG n = 0;
    PDEVICE_RELATIONS relations = ExAllocatePoolWithTag(
        PagedPool, sizeof(DEVICE_RELATIONS) + PWRBUS_MAX_CHILDREN * sizeof(PDEVICE_OBJECT), PWRBUS_TAG);
    for (ULONG i = 0; relations && i < PWRBUS_MAX_CHILDREN; i++) {
        PPDO_DATA child = Fdo->Children[i] ? Fdo->Children[i]->DeviceExtension : NULL;
        if (!child)
            continue;
        if (!child->Present) {
            child->ReportedMissing = TRUE;
            continue;
        }
        relations->Objects[n++] = child->Common.Self;
        ObReferenceObject(child->Common.Self);
    }
    ExReleaseFastMutex(&Fdo->Mutex);
    if (!relations)
        return PwrBusComplete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    relations->Count = n;
    Irp->IoStatus.Information = (ULONG_PTR)relations;
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Fdo->Lower, Irp);
}

/* The WMILIB sorting a bus FDO relies on, checked on IRPs it builds itself. */
static VOID PwrBusCheckWmi(PFDO_DATA Fdo)
{
    PIRP irp = IoAllocateIrp(1, FALSE);
    if (!irp)
        return;
    PIO_STACK_LOCATION stack = IoGetNextIrpStackLocation(irp);
    IoSetNextIrpStackLocation(irp);
    SYSCTL_IRP_DISPOSITION forward, notWmi;
    stack->MajorFunction = IRP_MJ_SYSTEM_CONTROL;
    stack->MinorFunction = IRP_MN_QUERY_ALL_DATA;
    stack->Parameters.WMI.ProviderId = (ULONG_PTR)IoWMIDeviceObjectToProviderId(Fdo->Lower);
    WmiSystemControl(&Fdo->Wmi, Fdo->Common.Self, irp, &forward);
    stack->MinorFunction = 0x42;
    WmiSystemControl(&Fdo->Wmi, Fdo->Common.Self, irp, &notWmi);
    if (forward == IrpForward && notWmi == IrpNotWmi)
        Fdo->Checks |= CHECK_WMI;
    IoFreeIrp(irp);
}

static NTSTATUS PwrBusSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject, (void)Irp;
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* START goes to the lower driver first; the FDO starts once it completed. */
static NTSTATUS PwrBusFdoStart(PFDO_DATA Fdo, PIRP Irp)
{
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, PwrBusSignal, &done, TRUE, TRUE, TRUE);
    if (IoCallDriver(Fdo->Lower, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    NTSTATUS status = Irp->IoStatus.Status;
    if (NT_SUCCESS(status)) {
        POWER_STATE d0 = { .DeviceState = PowerDeviceD0 };
        PoSetPowerState(Fdo->Common.Self, DevicePowerState, d0);
        status = IoSetDeviceInterfaceState(&Fdo->InterfaceName, TRUE);
    }
    return PwrBusComplete(Irp, status, 0);
}

static NTSTATUS PwrBusFdoRemove(PFDO_DATA Fdo, PIRP Irp)
{
    IoSetDeviceInterfaceState(&Fdo->InterfaceName, FALSE);
    RtlFreeUnicodeString(&Fdo->InterfaceName);
    IoWMIRegistrationControl(Fdo->Common.Self, WMIREG_ACTION_DEREGISTER);
    for (ULONG i = 0; i < PWRBUS_MAX_CHILDREN; i++)
        if (Fdo->Children[i]) {
            IoDeleteDevice(Fdo->Children[i]);
            Fdo->Children[i] = NULL;
        }
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(Fdo->Lower, Irp);
    IoDetachDevice(Fdo->Lower);
    IoDeleteDevice(Fdo->Common.Self);
    return status;
}

static NTSTATUS PwrBusFdoPnp(PFDO_DATA Fdo, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return PwrBusFdoStart(Fdo, Irp);
    case IRP_MN_QUERY_DEVICE_RELATIONS:
        if (stack->Parameters.QueryDeviceRelations.Type == BusRelations)
            return PwrBusQueryBusRelations(Fdo, Irp);
        break;
    case IRP_MN_REMOVE_DEVICE:
        return PwrBusFdoRemove(Fdo, Irp);
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Fdo->Lower, Irp);
}

NTSTATUS PwrBusDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    COMMON_DATA *common = DeviceObject->DeviceExtension;
    return common->IsFdo ? PwrBusFdoPnp((PFDO_DATA)common, Irp) : PwrBusPdoPnp((PPDO_DATA)common, Irp);
}

/* The FDO is not its stack's power policy owner: it passes every power IRP down (the WDM way). */
NTSTATUS PwrBusDispatchPower(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    COMMON_DATA *common = DeviceObject->DeviceExtension;
    if (!common->IsFdo)
        return PwrBusPdoPower((PPDO_DATA)common, Irp);
    PoStartNextPowerIrp(Irp);
    IoSkipCurrentIrpStackLocation(Irp);
    return PoCallDriver(((PFDO_DATA)common)->Lower, Irp);
}

NTSTATUS PwrBusDispatchSystemControl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    COMMON_DATA *common = DeviceObject->DeviceExtension;
    if (!common->IsFdo)
        return PwrBusComplete(Irp, Irp->IoStatus.Status, Irp->IoStatus.Information);
    PFDO_DATA fdo = (PFDO_DATA)common;
    SYSCTL_IRP_DISPOSITION disposition;
    NTSTATUS status = WmiSystemControl(&fdo->Wmi, DeviceObject, Irp, &disposition);
    if (disposition == IrpProcessed)
        return status;
    if (disposition == IrpNotCompleted)
        return PwrBusComplete(Irp, Irp->IoStatus.Status, Irp->IoStatus.Information);
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(fdo->Lower, Irp);
}

NTSTATUS PwrBusDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    COMMON_DATA *common = DeviceObject->DeviceExtension;
    return PwrBusComplete(Irp, common->IsFdo ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_REQUEST, 0);
}

/* The PDO's name through IoGetDeviceProperty: the size first, as the WDK bus sample does. */
static BOOLEAN PwrBusReadPdoName(PDEVICE_OBJECT Pdo)
{
    ULONG length = 0;
    if (IoGetDeviceProperty(Pdo, DevicePropertyPhysicalDeviceObjectName, 0, NULL, &length) != STATUS_BUFFER_TOO_SMALL)
        return FALSE;
    PWCHAR name = ExAllocatePoolWithTag(PagedPool, length, PWRBUS_TAG);
    if (!name)
        return FALSE;
    ULONG_PTR units = 0;
    BOOLEAN ok = NT_SUCCESS(IoGetDeviceProperty(Pdo, DevicePropertyPhysicalDeviceObjectName, length, name, &length)) &&
                 name[0] == L'\\' && NT_SUCCESS(RtlULongPtrSub(length, sizeof(WCHAR), &units)) &&
                 RtlULongPtrSub(1, 2, &units) == STATUS_INTEGER_OVERFLOW;
    ExFreePool(name);
    return ok;
}

NTSTATUS PwrBusAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FDO_DATA), NULL, FILE_DEVICE_BUS_EXTENDER,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PFDO_DATA fdo = device->DeviceExtension;
    RtlZeroMemory(fdo, sizeof(*fdo));
    fdo->Common.IsFdo = TRUE;
    fdo->Common.Self = device;
    fdo->Pdo = PhysicalDeviceObject;
    ExInitializeFastMutex(&fdo->Mutex);
    fdo->Wmi.GuidCount = RTL_NUMBER_OF(PwrBusWmiGuids);
    fdo->Wmi.GuidList = PwrBusWmiGuids;
    if (PwrBusReadPdoName(PhysicalDeviceObject))
        fdo->Checks |= CHECK_PDO_NAME | CHECK_INTSAFE;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_CONF_PWRBUS, NULL, &fdo->InterfaceName);
    if (NT_SUCCESS(status))
        status = IoWMIRegistrationControl(device, WMIREG_ACTION_REGISTER);
    if (!NT_SUCCESS(status)) {
        RtlFreeUnicodeString(&fdo->InterfaceName);
        IoDeleteDevice(device);
        return status;
    }
    fdo->Lower = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    PwrBusCheckWmi(fdo);
    device->Flags |= DO_POWER_PAGABLE;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID PwrBusUnload(PDRIVER_OBJECT DriverObject)
{
    (void)DriverObject;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    (void)RegistryPath;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PwrBusDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PwrBusDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PwrBusDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_POWER] = PwrBusDispatchPower;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PwrBusDispatchIoctl;
    DriverObject->MajorFunction[IRP_MJ_SYSTEM_CONTROL] = PwrBusDispatchSystemControl;
    DriverObject->DriverExtension->AddDevice = PwrBusAddDevice;
    DriverObject->DriverUnload = PwrBusUnload;
    return STATUS_SUCCESS;
}
