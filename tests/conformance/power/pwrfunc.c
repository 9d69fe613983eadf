/*
 * pwrfunc.c - the function driver of pwrbus's children, in the manner of
 * the WDK 7.1 toaster function driver (featured1): its stack's power
 * policy owner. A system power IRP is passed down and, once the bus
 * completed it, answered with a device power IRP of its own
 * (PoRequestPowerIrp) whose completion completes the system IRP
 * (PoStartNextPowerIrp, IoMarkIrpPending, PoCallDriver). It also uses
 * what the toaster function driver asks the system for: WMI registration
 * and events (IoWMIRegistrationControl, IoWMIWriteEvent, WmiFireEvent:
 * WMI frees the event buffers), the device's description and hardware ids
 * (IoGetDeviceProperty), and the system's version and routines
 * (IoIsWdmVersionAvailable, RtlIsNtDdiVersionAvailable,
 * MmGetSystemRoutineAddress, where a routine the system lacks is NULL).
 *
 * IOCTL 0x910 on its interface returns a ULONG with one bit per check
 * that held.
 */
#include <ntddk.h>
#include <initguid.h>
#include <wmilib.h>
#include <wmistr.h>

DEFINE_GUID(GUID_CONF_PWRTOASTER, 0x5a1e0c21, 0x7d3b, 0x4c2a, 0x9e, 0x41, 0x10, 0x2f, 0x63, 0x8a, 0xb7, 0x01);
DEFINE_GUID(GUID_CONF_PWRTOASTER_EVENT, 0x5a1e0c22, 0x7d3b, 0x4c2a, 0x9e, 0x41, 0x10, 0x2f, 0x63, 0x8a, 0xb7, 0x01);

#define PWRFUNC_CHECKS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x910, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define PWRFUNC_TAG 'FrwP'

#define CHECK_SYSTEM 0x01        /* the version checks and MmGetSystemRoutineAddress (DriverEntry) */
#define CHECK_DESCRIPTION 0x02   /* IoGetDeviceProperty: description and REG_MULTI_SZ hardware ids */
#define CHECK_WMI_EVENTS 0x04    /* IoWMIWriteEvent and WmiFireEvent succeeded (WMI freed both buffers) */
#define CHECK_SLEEP 0x08         /* a system sleep brought a device IRP D3 of its own request */
#define CHECK_WAKE 0x10          /* the wake brought D0 back, and PoSetPowerState returned D3 as previous */

typedef struct _FUNC_DATA {
    PDEVICE_OBJECT Self;
    PDEVICE_OBJECT Lower;
    PDEVICE_OBJECT Pdo;
    UNICODE_STRING InterfaceName;
    DEVICE_POWER_STATE Power;
    ULONG Checks;
} FUNC_DATA, *PFUNC_DATA;

static ULONG PwrFuncSystemChecks;

DRIVER_INITIALIZE DriverEntry;
DRIVER_ADD_DEVICE PwrFuncAddDevice;
DRIVER_UNLOAD PwrFuncUnload;
DRIVER_DISPATCH PwrFuncDispatchPnp, PwrFuncDispatchPower, PwrFuncDispatchIoctl, PwrFuncDispatchCreateClose;
REQUEST_POWER_COMPLETE PwrFuncDeviceIrpDone;

static NTSTATUS PwrFuncComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS PwrFuncSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject, (void)Irp;
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Passes Irp down and waits for it: the start and every PnP IRP that must reach the bus first. */
static NTSTATUS PwrFuncForwardAndWait(PFUNC_DATA Data, PIRP Irp)
{
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, PwrFuncSignal, &done, TRUE, TRUE, TRUE);
    if (IoCallDriver(Data->Lower, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    return Irp->IoStatus.Status;
}

/* ---- WMI events ------------------------------------------------------------------ */

/* An event the toaster way: a WNODE_SINGLE_INSTANCE from nonpaged pool that WMI frees. */
static BOOLEAN PwrFuncFireEvents(PFUNC_DATA Data)
{
    ULONG size = sizeof(WNODE_SINGLE_INSTANCE) + sizeof(ULONG);
    PWNODE_SINGLE_INSTANCE wnode = ExAllocatePoolWithTag(NonPagedPool, size, PWRFUNC_TAG);
    PULONG data = ExAllocatePoolWithTag(NonPagedPool, sizeof(ULONG), PWRFUNC_TAG);
    if (!wnode || !data) {
        if (wnode)
            ExFreePool(wnode);
        if (data)
            ExFreePool(data);
        return FALSE;
    }
    RtlZeroMemory(wnode, size);
    wnode->WnodeHeader.BufferSize = size;
    wnode->WnodeHeader.ProviderId = IoWMIDeviceObjectToProviderId(Data->Pdo);
    wnode->WnodeHeader.Flags = WNODE_FLAG_SINGLE_INSTANCE | WNODE_FLAG_EVENT_ITEM | WNODE_FLAG_PDO_INSTANCE_NAMES;
    wnode->WnodeHeader.Guid = GUID_CONF_PWRTOASTER_EVENT;
    wnode->DataBlockOffset = sizeof(WNODE_SINGLE_INSTANCE);
    wnode->SizeDataBlock = sizeof(ULONG);
    *data = 1;
    return NT_SUCCESS(IoWMIWriteEvent(wnode)) &&
           NT_SUCCESS(WmiFireEvent(Data->Self, &GUID_CONF_PWRTOASTER_EVENT, 0, sizeof(ULONG), data));
}

/* ---- device properties ----------------------------------------------------------- */

/* A property read the toaster way: the size, a pool buffer, the value. NULL when absent. */
static PWCHAR PwrFuncReadProperty(PDEVICE_OBJECT Pdo, DEVICE_REGISTRY_PROPERTY Property, PULONG Length)
{
    if (IoGetDeviceProperty(Pdo, Property, 0, NULL, Length) != STATUS_BUFFER_TOO_SMALL)
        return NULL;
    PWCHAR value = ExAllocatePoolWithTag(PagedPool, *Length, PWRFUNC_TAG);
    if (value && !NT_SUCCESS(IoGetDeviceProperty(Pdo, Property, *Length, value, Length))) {
        ExFreePool(value);
        value = NULL;
    }
    return value;
}

static BOOLEAN PwrFuncCheckProperties(PDEVICE_OBJECT Pdo)
{
    static const WCHAR expected[] = L"CONF\\PWRTOASTER";
    ULONG length, idsLength, ignored;
    PWCHAR description = PwrFuncReadProperty(Pdo, DevicePropertyDeviceDescription, &length);
    PWCHAR ids = PwrFuncReadProperty(Pdo, DevicePropertyHardwareID, &idsLength);
    BOOLEAN ok = description && ids && length == sizeof(expected) && !wcscmp(description, expected) &&
                 idsLength == sizeof(expected) + sizeof(WCHAR) && ids[RTL_NUMBER_OF(expected)] == UNICODE_NULL &&
                 IoGetDeviceProperty(Pdo, DevicePropertyFriendlyName, 0, NULL, &ignored) == STATUS_OBJECT_NAME_NOT_FOUND;
    if (description)
        ExFreePool(description);
    if (ids)
        ExFreePool(ids);
    return ok;
}

/* ---- power: the policy owner's system-to-device mapping -------------------------- */

/* The device power IRP this driver asked for is done: the system IRP it answers completes with its status. */
VOID PwrFuncDeviceIrpDone(PDEVICE_OBJECT DeviceObject, UCHAR MinorFunction, POWER_STATE PowerState, PVOID Context,
                          PIO_STATUS_BLOCK IoStatus)
{
    (void)DeviceObject, (void)MinorFunction, (void)PowerState;
    PIRP systemIrp = Context;
    PoStartNextPowerIrp(systemIrp);
    PwrFuncComplete(systemIrp, IoStatus->Status, 0);
}

/* The system IRP came back up from the bus: ask for the matching device state. */
static NTSTATUS PwrFuncSystemIrpDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PFUNC_DATA data = Context;
    (void)DeviceObject;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (!NT_SUCCESS(Irp->IoStatus.Status)) {
        PoStartNextPowerIrp(Irp);
        return STATUS_CONTINUE_COMPLETION;
    }
    POWER_STATE device = { .DeviceState = stack->Parameters.Power.State.SystemState == PowerSystemWorking
                                              ? PowerDeviceD0 : PowerDeviceD3 };
    NTSTATUS status = PoRequestPowerIrp(data->Pdo, stack->MinorFunction, device, PwrFuncDeviceIrpDone, Irp, NULL);
    if (!NT_SUCCESS(status)) {
        PoStartNextPowerIrp(Irp);
        Irp->IoStatus.Status = status;
        return STATUS_CONTINUE_COMPLETION;
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PwrFuncSystemPower(PFUNC_DATA Data, PIRP Irp)
{
    IoMarkIrpPending(Irp);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, PwrFuncSystemIrpDone, Data, TRUE, TRUE, TRUE);
    PoCallDriver(Data->Lower, Irp);
    return STATUS_PENDING;
}

/* A device power IRP (its own request): record the state and pass it down to the bus's PDO. */
static NTSTATUS PwrFuncDevicePower(PFUNC_DATA Data, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->MinorFunction == IRP_MN_SET_POWER) {
        DEVICE_POWER_STATE want = stack->Parameters.Power.State.DeviceState;
        POWER_STATE previous = PoSetPowerState(Data->Self, DevicePowerState, stack->Parameters.Power.State);
        if (want == PowerDeviceD3 && Data->Power == PowerDeviceD0)
            Data->Checks |= CHECK_SLEEP;
        if (want == PowerDeviceD0 && Data->Power == PowerDeviceD3 && previous.DeviceState == PowerDeviceD3)
            Data->Checks |= CHECK_WAKE;
        Data->Power = want;
    }
    PoStartNextPowerIrp(Irp);
    IoSkipCurrentIrpStackLocation(Irp);
    return PoCallDriver(Data->Lower, Irp);
}

NTSTATUS PwrFuncDispatchPower(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFUNC_DATA data = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    BOOLEAN setOrQuery = stack->MinorFunction == IRP_MN_SET_POWER || stack->MinorFunction == IRP_MN_QUERY_POWER;
    if (setOrQuery && stack->Parameters.Power.Type == SystemPowerState)
        return PwrFuncSystemPower(data, Irp);
    if (setOrQuery)
        return PwrFuncDevicePower(data, Irp);
    PoStartNextPowerIrp(Irp);
    IoSkipCurrentIrpStackLocation(Irp);
    return PoCallDriver(data->Lower, Irp);
}

/* ---- PnP and I/O ------------------------------------------------------------------ */

static NTSTATUS PwrFuncStart(PFUNC_DATA Data, PIRP Irp)
{
    NTSTATUS status = PwrFuncForwardAndWait(Data, Irp);
    if (NT_SUCCESS(status)) {
        POWER_STATE d0 = { .DeviceState = PowerDeviceD0 };
        Data->Power = PowerDeviceD0;
        PoSetPowerState(Data->Self, DevicePowerState, d0);
        status = IoSetDeviceInterfaceState(&Data->InterfaceName, TRUE);
        if (PwrFuncFireEvents(Data))
            Data->Checks |= CHECK_WMI_EVENTS;
    }
    return PwrFuncComplete(Irp, status, 0);
}

static NTSTATUS PwrFuncRemove(PFUNC_DATA Data, PIRP Irp)
{
    IoSetDeviceInterfaceState(&Data->InterfaceName, FALSE);
    RtlFreeUnicodeString(&Data->InterfaceName);
    IoWMIRegistrationControl(Data->Self, WMIREG_ACTION_DEREGISTER);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    NTSTATUS status = IoCallDriver(Data->Lower, Irp);
    IoDetachDevice(Data->Lower);
    IoDeleteDevice(Data->Self);
    return status;
}

NTSTATUS PwrFuncDispatchPnp(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFUNC_DATA data = DeviceObject->DeviceExtension;
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return PwrFuncStart(data, Irp);
    case IRP_MN_REMOVE_DEVICE:
        return PwrFuncRemove(data, Irp);
    case IRP_MN_QUERY_REMOVE_DEVICE:
    case IRP_MN_SURPRISE_REMOVAL:
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    default:
        break;
    }
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(data->Lower, Irp);
}

NTSTATUS PwrFuncDispatchIoctl(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PFUNC_DATA data = DeviceObject->DeviceExtension;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (stack->Parameters.DeviceIoControl.IoControlCode != PWRFUNC_CHECKS)
        return PwrFuncComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    if (stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
        return PwrFuncComplete(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    *(PULONG)Irp->AssociatedIrp.SystemBuffer = data->Checks | PwrFuncSystemChecks;
    return PwrFuncComplete(Irp, STATUS_SUCCESS, sizeof(ULONG));
}

NTSTATUS PwrFuncDispatchCreateClose(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    return PwrFuncComplete(Irp, STATUS_SUCCESS, 0);
}

NTSTATUS PwrFuncAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(DriverObject, sizeof(FUNC_DATA), NULL, FILE_DEVICE_UNKNOWN,
                                     FILE_DEVICE_SECURE_OPEN, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    PFUNC_DATA data = device->DeviceExtension;
    RtlZeroMemory(data, sizeof(*data));
    data->Self = device;
    data->Pdo = PhysicalDeviceObject;
    data->Power = PowerDeviceUnspecified;
    if (PwrFuncCheckProperties(PhysicalDeviceObject))
        data->Checks |= CHECK_DESCRIPTION;
    status = IoRegisterDeviceInterface(PhysicalDeviceObject, &GUID_CONF_PWRTOASTER, NULL, &data->InterfaceName);
    if (NT_SUCCESS(status))
        status = IoWMIRegistrationControl(device, WMIREG_ACTION_REGISTER);
    if (!NT_SUCCESS(status)) {
        RtlFreeUnicodeString(&data->InterfaceName);
        IoDeleteDevice(device);
        return status;
    }
    data->Lower = IoAttachDeviceToDeviceStack(device, PhysicalDeviceObject);
    device->Flags |= DO_POWER_PAGABLE | DO_BUFFERED_IO;
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

VOID PwrFuncUnload(PDRIVER_OBJECT DriverObject)
{
    (void)DriverObject;
}

/* What the system says about itself: Windows 7, its own routines and not others. */
static BOOLEAN PwrFuncCheckSystem(void)
{
    UNICODE_STRING present = RTL_CONSTANT_STRING(L"PoCallDriver");
    UNICODE_STRING absent = RTL_CONSTANT_STRING(L"IoWMIOpenBlock");
    UNICODE_STRING libc = RTL_CONSTANT_STRING(L"fopen");
    return IoIsWdmVersionAvailable(1, 0x20) && !IoIsWdmVersionAvailable(6, 0) &&
           RtlIsNtDdiVersionAvailable(NTDDI_WINXP) && !RtlIsNtDdiVersionAvailable(NTDDI_WIN7 + 0x10000) &&
           MmGetSystemRoutineAddress(&present) == (PVOID)PoCallDriver && !MmGetSystemRoutineAddress(&absent) &&
           !MmGetSystemRoutineAddress(&libc);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    (void)RegistryPath;
    PwrFuncSystemChecks = PwrFuncCheckSystem() ? CHECK_SYSTEM : 0;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = PwrFuncDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = PwrFuncDispatchCreateClose;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PwrFuncDispatchPnp;
    DriverObject->MajorFunction[IRP_MJ_POWER] = PwrFuncDispatchPower;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = PwrFuncDispatchIoctl;
    DriverObject->DriverExtension->AddDevice = PwrFuncAddDevice;
    DriverObject->DriverUnload = PwrFuncUnload;
    return STATUS_SUCCESS;
}
