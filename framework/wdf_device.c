/*
 * wdf_device.c - WDFDRIVER and WDFDEVICE: the framework's side of a
 * KMDF driver's WDM objects.
 *
 * WdfDriverCreate takes over the driver object's dispatch table, AddDevice
 * and DriverUnload. A device's IRPs go through WdfpDispatch: PnP IRPs run
 * the device's PnP/power callbacks around passing the IRP down (start:
 * down first, then EvtDevicePrepareHardware, EvtDeviceD0Entry,
 * EvtDeviceSelfManagedIoInit; removal: EvtDeviceSelfManagedIoCleanup,
 * EvtDeviceD0Exit, EvtDeviceReleaseHardware, down, then the WDFDEVICE is
 * deleted); read, write and device control go to the default queue; what
 * a filter does not handle goes down unchanged; power IRPs pass through.
 * The framework's DriverUnload calls EvtDriverUnload and deletes the
 * driver's object tree, control devices a non-PnP driver left included.
 * doc/kmdf.md gives the documented behaviour each step follows.
 */
#include <stdlib.h>
#include <string.h>

#include "wdf_internal.h"

/* A WDFDEVICE_INIT: what WdfDeviceCreate builds the device from. */
struct WDFDEVICE_INIT {
    PWDFP_OBJECT Driver;
    PDEVICE_OBJECT Pdo;           /* NULL for a control device */
    BOOLEAN Control, Filter, Exclusive;
    DEVICE_TYPE DeviceType;
    ULONG IoType;
    UNICODE_STRING Name;          /* RtlpUtf8ToUnicode copy, may be empty */
    WDF_PNPPOWER_EVENT_CALLBACKS PnpPower;
};

typedef struct _WDFP_DRIVER {
    PDRIVER_OBJECT Wdm;
    WDF_DRIVER_CONFIG Config;
    PLDRP_IMAGE Image;
    struct _WDFP_DRIVER *Next;    /* (WdfpLock) every WDFDRIVER */
} WDFP_DRIVER;

typedef struct _WDFP_DEVICE {
    PDEVICE_OBJECT Wdm;           /* referenced until the WDFDEVICE is destroyed */
    PDEVICE_OBJECT Lower;         /* NULL for a control device */
    PDEVICE_OBJECT Pdo;
    BOOLEAN Control, Filter, Removed;
    WDF_PNPPOWER_EVENT_CALLBACKS PnpPower;
    PWDFP_OBJECT DefaultQueue;    /* set by WdfIoQueueCreate */
    PWDFP_OBJECT LocalTarget;     /* WdfDeviceGetIoTarget's, created on first use */
    UNICODE_STRING *Interfaces;   /* WdfDeviceCreateDeviceInterface's link names */
    ULONG InterfaceCount;
    WDF_QUERY_INTERFACE_CONFIG *QueryInterfaces;
    ULONG QueryInterfaceCount;
    UNICODE_STRING SymbolicLink;  /* WdfDeviceCreateSymbolicLink's, deleted with the device */
    PFN_WDF_OBJECT_CONTEXT_CLEANUP DriverCleanup; /* the driver's EvtCleanupCallback, run by the framework's */
} WDFP_DEVICE;

/* A DEVICE_OBJECT's extension: the WDFDEVICE it belongs to. */
typedef struct _WDFP_DEVICE_EXTENSION {
    ULONG Magic;
    PWDFP_OBJECT Device;
} WDFP_DEVICE_EXTENSION;

#define WDFP_EXTENSION_MAGIC 0x78456657u /* "WfEx" */

static WDFP_DRIVER *WdfpDriverList;

static WDFP_DRIVER *WdfpDriverBody(PWDFP_OBJECT Driver)
{
    return WdfpBody(Driver, WDFP_DRIVER);
}

static WDFP_DEVICE *WdfpDeviceBody(PWDFP_OBJECT Device)
{
    return WdfpBody(Device, WDFP_DEVICE);
}

PWDFP_OBJECT WdfpDriverOf(PDRIVER_OBJECT DriverObject)
{
    pthread_mutex_lock(&WdfpLock);
    WDFP_DRIVER *d = WdfpDriverList;
    while (d && d->Wdm != DriverObject)
        d = d->Next;
    pthread_mutex_unlock(&WdfpLock);
    return d ? (PWDFP_OBJECT)d - 1 : NULL;
}

PWDFP_OBJECT WdfpDeviceFromWdm(PDEVICE_OBJECT DeviceObject)
{
    WDFP_DEVICE_EXTENSION *ext = DeviceObject ? DeviceObject->DeviceExtension : NULL;
    return ext && ext->Magic == WDFP_EXTENSION_MAGIC ? ext->Device : NULL;
}

static NTSTATUS WdfpComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS WdfpPassDown(WDFP_DEVICE *Device, PIRP Irp)
{
    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(Device->Lower, Irp);
}

static NTSTATUS WdfpSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject, (void)Irp;
    KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Passes Irp down and waits until the lower drivers completed it; its status. */
static NTSTATUS WdfpPassDownAndWait(WDFP_DEVICE *Device, PIRP Irp)
{
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, WdfpSignal, &done, TRUE, TRUE, TRUE);
    if (IoCallDriver(Device->Lower, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    return Irp->IoStatus.Status;
}

/* ---- PnP ----------------------------------------------------------------------- */

static NTSTATUS WdfpStartDevice(PWDFP_OBJECT Object, WDFP_DEVICE *Device, PIRP Irp)
{
    NTSTATUS status = WdfpPassDownAndWait(Device, Irp);
    WDFDEVICE handle = (WDFDEVICE)Object;
    if (NT_SUCCESS(status) && Device->PnpPower.EvtDevicePrepareHardware)
        status = Device->PnpPower.EvtDevicePrepareHardware(handle, NULL, NULL);
    if (NT_SUCCESS(status) && Device->PnpPower.EvtDeviceD0Entry)
        status = Device->PnpPower.EvtDeviceD0Entry(handle, WdfPowerDeviceD3Final);
    if (NT_SUCCESS(status) && Device->PnpPower.EvtDeviceSelfManagedIoInit)
        status = Device->PnpPower.EvtDeviceSelfManagedIoInit(handle);
    for (ULONG i = 0; NT_SUCCESS(status) && i < Device->InterfaceCount; i++)
        IoSetDeviceInterfaceState(&Device->Interfaces[i], TRUE);
    return WdfpComplete(Irp, status, 0);
}

/* The device's side of leaving D0 for good: what removal and surprise removal both do. */
static VOID WdfpStopDevice(PWDFP_OBJECT Object, WDFP_DEVICE *Device)
{
    if (Device->Removed)
        return;
    Device->Removed = TRUE;
    WDFDEVICE handle = (WDFDEVICE)Object;
    for (ULONG i = 0; i < Device->InterfaceCount; i++)
        IoSetDeviceInterfaceState(&Device->Interfaces[i], FALSE);
    if (Device->PnpPower.EvtDeviceSelfManagedIoCleanup)
        Device->PnpPower.EvtDeviceSelfManagedIoCleanup(handle);
    if (Device->PnpPower.EvtDeviceD0Exit)
        Device->PnpPower.EvtDeviceD0Exit(handle, WdfPowerDeviceD3Final);
    if (Device->PnpPower.EvtDeviceReleaseHardware)
        Device->PnpPower.EvtDeviceReleaseHardware(handle, NULL);
}

static NTSTATUS WdfpRemoveDevice(PWDFP_OBJECT Object, WDFP_DEVICE *Device, PIRP Irp)
{
    WdfpStopDevice(Object, Device);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    NTSTATUS status = WdfpPassDown(Device, Irp);
    IoDetachDevice(Device->Lower);
    WdfpDeleteObject(Object, FX_DELETE_BY_FRAMEWORK); /* IoDeleteDevice in the device's cleanup; the DEVICE_OBJECT lives until destroy */
    return status;
}

/* IRP_MN_QUERY_INTERFACE for an interface added with WdfDeviceAddQueryInterface. */
static BOOLEAN WdfpAnswerQueryInterface(WDFP_DEVICE *Device, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    for (ULONG i = 0; i < Device->QueryInterfaceCount; i++) {
        WDF_QUERY_INTERFACE_CONFIG *config = &Device->QueryInterfaces[i];
        if (!IsEqualGUID(config->InterfaceType, stack->Parameters.QueryInterface.InterfaceType))
            continue;
        USHORT size = stack->Parameters.QueryInterface.Size < config->Interface->Size
                          ? stack->Parameters.QueryInterface.Size : config->Interface->Size;
        RtlCopyMemory(stack->Parameters.QueryInterface.Interface, config->Interface, size);
        if (config->Interface->InterfaceReference)
            config->Interface->InterfaceReference(config->Interface->Context);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        return TRUE;
    }
    return FALSE;
}

static NTSTATUS WdfpDispatchPnp(PWDFP_OBJECT Object, WDFP_DEVICE *Device, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (Device->Control)
        return WdfpComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    switch (stack->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return WdfpStartDevice(Object, Device, Irp);
    case IRP_MN_REMOVE_DEVICE:
        return WdfpRemoveDevice(Object, Device, Irp);
    case IRP_MN_SURPRISE_REMOVAL:
        if (Device->PnpPower.EvtDeviceSurpriseRemoval)
            Device->PnpPower.EvtDeviceSurpriseRemoval((WDFDEVICE)Object);
        WdfpStopDevice(Object, Device);
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_REMOVE_DEVICE:
        if (Device->PnpPower.EvtDeviceQueryRemove) {
            NTSTATUS status = Device->PnpPower.EvtDeviceQueryRemove((WDFDEVICE)Object);
            if (!NT_SUCCESS(status))
                return WdfpComplete(Irp, status, 0);
        }
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_CANCEL_REMOVE_DEVICE:
        Irp->IoStatus.Status = STATUS_SUCCESS;
        break;
    case IRP_MN_QUERY_INTERFACE:
        if (WdfpAnswerQueryInterface(Device, Irp)) /* the device that has the interface completes the query */
            return WdfpComplete(Irp, STATUS_SUCCESS, Irp->IoStatus.Information);
        break;
    default:
        break;
    }
    return WdfpPassDown(Device, Irp);
}

/* ---- the dispatch table every KMDF driver object gets ------------------------------ */

static NTSTATUS WdfpDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PWDFP_OBJECT object = WdfpDeviceFromWdm(DeviceObject);
    if (!object)
        return WdfpComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    WDFP_DEVICE *device = WdfpDeviceBody(object);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    switch (stack->MajorFunction) {
    case IRP_MJ_PNP:
        return WdfpDispatchPnp(object, device, Irp);
    case IRP_MJ_POWER:
        PoStartNextPowerIrp(Irp);
        if (device->Control)
            return WdfpComplete(Irp, STATUS_SUCCESS, 0);
        IoSkipCurrentIrpStackLocation(Irp);
        return PoCallDriver(device->Lower, Irp);
    case IRP_MJ_CREATE:
    case IRP_MJ_CLOSE:
    case IRP_MJ_CLEANUP:
        if (device->Filter)
            return WdfpPassDown(device, Irp);
        return WdfpComplete(Irp, STATUS_SUCCESS, 0);
    default:
        break;
    }
    if (WdfpPresentToQueue(object, Irp))
        return STATUS_PENDING; /* the request is the driver's (completed already, or later) */
    if (device->Filter)
        return WdfpPassDown(device, Irp);
    return WdfpComplete(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
}

static NTSTATUS WdfpAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    PWDFP_OBJECT driver = WdfpDriverOf(DriverObject);
    WDFP_DRIVER *body = driver ? WdfpDriverBody(driver) : NULL;
    if (!body || !body->Config.EvtDriverDeviceAdd)
        return STATUS_INVALID_DEVICE_REQUEST;
    struct WDFDEVICE_INIT *init = RtlpAllocZero(sizeof(*init));
    init->Driver = driver;
    init->Pdo = PhysicalDeviceObject;
    init->DeviceType = FILE_DEVICE_UNKNOWN;
    NTSTATUS status = body->Config.EvtDriverDeviceAdd((WDFDRIVER)driver, init);
    WdfDeviceInitFree(init); /* a PnP init belongs to the framework, used by WdfDeviceCreate or not */
    return status;
}

static VOID WdfpDriverUnload(PDRIVER_OBJECT DriverObject)
{
    PWDFP_OBJECT driver = WdfpDriverOf(DriverObject);
    if (!driver)
        return;
    WDFP_DRIVER *body = WdfpDriverBody(driver);
    if (body->Config.EvtDriverUnload)
        body->Config.EvtDriverUnload((WDFDRIVER)driver);
    WdfpDeleteObject(driver, FX_DELETE_BY_FRAMEWORK);
}

static VOID WdfpReleaseDriver(PWDFP_OBJECT Driver)
{
    WDFP_DRIVER *body = WdfpDriverBody(Driver);
    pthread_mutex_lock(&WdfpLock);
    for (WDFP_DRIVER **link = &WdfpDriverList; *link; link = &(*link)->Next)
        if (*link == body) {
            *link = body->Next;
            break;
        }
    pthread_mutex_unlock(&WdfpLock);
}

NTSTATUS WdfDriverCreate(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                         PWDF_OBJECT_ATTRIBUTES DriverAttributes, PWDF_DRIVER_CONFIG DriverConfig, WDFDRIVER *Driver)
{
    (void)RegistryPath;
    if (Driver)
        *Driver = NULL;
    if (!DriverObject || !DriverConfig || WdfpDriverOf(DriverObject))
        return STATUS_INVALID_PARAMETER;
    PWDFP_OBJECT object = WdfpCreateObject(WdfpKindDriver, sizeof(WDFP_DRIVER), NULL, DriverAttributes, FALSE);
    if (!object)
        return STATUS_INSUFFICIENT_RESOURCES;
    object->FrameworkOwned = TRUE;
    object->Release = WdfpReleaseDriver;
    WDFP_DRIVER *body = WdfpDriverBody(object);
    body->Wdm = DriverObject;
    object->Wdm = DriverObject;
    body->Config = *DriverConfig;
    body->Image = IopGetDriverState(DriverObject)->Image;
    pthread_mutex_lock(&WdfpLock);
    body->Next = WdfpDriverList;
    WdfpDriverList = body;
    pthread_mutex_unlock(&WdfpLock);
    if (!(DriverConfig->DriverInitFlags & WdfDriverInitNoDispatchOverride))
        for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
            DriverObject->MajorFunction[i] = WdfpDispatch;
    if (!(DriverConfig->DriverInitFlags & WdfDriverInitNonPnpDriver))
        DriverObject->DriverExtension->AddDevice = WdfpAddDevice;
    DriverObject->DriverUnload = WdfpDriverUnload;
    FxObjectCreated(object);
    if (Driver)
        *Driver = (WDFDRIVER)object;
    return STATUS_SUCCESS;
}

PDRIVER_OBJECT WdfDriverWdmGetDriverObject(WDFDRIVER Driver)
{
    return WdfpDriverBody(WdfpObjectFromHandle(Driver, WdfpKindDriver))->Wdm;
}

PWDFP_OBJECT WdfpDriverOfImage(PLDRP_IMAGE Image)
{
    pthread_mutex_lock(&WdfpLock);
    WDFP_DRIVER *d = WdfpDriverList;
    while (d && Image && d->Image != Image)
        d = d->Next;
    pthread_mutex_unlock(&WdfpLock);
    return d ? (PWDFP_OBJECT)d - 1 : NULL;
}

WDFDRIVER WdfGetDriver(void)
{
    return (WDFDRIVER)WdfpDriverOfImage(LdrpFindImageByAddress((ULONG_PTR)__builtin_return_address(0)));
}

/* ---- device inits ---------------------------------------------------------------- */

PWDFDEVICE_INIT WdfControlDeviceInitAllocate(WDFDRIVER Driver, const UNICODE_STRING *SDDLString)
{
    (void)SDDLString;
    struct WDFDEVICE_INIT *init = RtlpAllocZero(sizeof(*init));
    init->Driver = WdfpObjectFromHandle(Driver, WdfpKindDriver);
    init->Control = TRUE;
    init->DeviceType = FILE_DEVICE_UNKNOWN;
    return init;
}

VOID WdfDeviceInitFree(PWDFDEVICE_INIT DeviceInit)
{
    if (!DeviceInit)
        return;
    RtlpFreeUnicode(&DeviceInit->Name);
    DeviceInit->Driver = NULL;
    free(DeviceInit);
}

VOID WdfDeviceInitSetPnpPowerEventCallbacks(PWDFDEVICE_INIT DeviceInit, PWDF_PNPPOWER_EVENT_CALLBACKS Callbacks)
{
    DeviceInit->PnpPower = *Callbacks;
}

VOID WdfDeviceInitSetDeviceType(PWDFDEVICE_INIT DeviceInit, DEVICE_TYPE DeviceType)
{
    DeviceInit->DeviceType = DeviceType;
}

VOID WdfDeviceInitSetExclusive(PWDFDEVICE_INIT DeviceInit, BOOLEAN IsExclusive)
{
    DeviceInit->Exclusive = IsExclusive;
}

VOID WdfDeviceInitSetIoType(PWDFDEVICE_INIT DeviceInit, ULONG IoType)
{
    DeviceInit->IoType = IoType;
}

NTSTATUS WdfDeviceInitAssignName(PWDFDEVICE_INIT DeviceInit, PCUNICODE_STRING DeviceName)
{
    if (!DeviceName || !DeviceName->Length)
        return STATUS_INVALID_PARAMETER;
    char *text = RtlpUnicodeToUtf8(DeviceName);
    RtlpFreeUnicode(&DeviceInit->Name);
    BOOLEAN ok = text && RtlpUtf8ToUnicode(text, &DeviceInit->Name);
    free(text);
    return ok ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

VOID WdfFdoInitSetFilter(PWDFDEVICE_INIT DeviceInit)
{
    DeviceInit->Filter = TRUE;
}

PDEVICE_OBJECT WdfFdoInitWdmGetPhysicalDevice(PWDFDEVICE_INIT DeviceInit)
{
    return DeviceInit->Pdo;
}

/* ---- devices --------------------------------------------------------------------- */

/* Deletion of a WDFDEVICE: its DEVICE_OBJECT is deleted now, freed when the WDFDEVICE is destroyed. */
static VOID WdfpDeviceDeleted(WDFP_DEVICE *Device)
{
    for (ULONG i = 0; i < Device->InterfaceCount; i++)
        RtlFreeUnicodeString(&Device->Interfaces[i]);
    free(Device->Interfaces);
    free(Device->QueryInterfaces);
    Device->Interfaces = NULL;
    Device->QueryInterfaces = NULL;
    Device->InterfaceCount = Device->QueryInterfaceCount = 0;
    if (Device->SymbolicLink.Buffer) {
        IoDeleteSymbolicLink(&Device->SymbolicLink);
        RtlpFreeUnicode(&Device->SymbolicLink);
    }
    IoDeleteDevice(Device->Wdm);
}

static VOID WdfpReleaseDevice(PWDFP_OBJECT Object)
{
    WDFP_DEVICE *device = WdfpDeviceBody(Object);
    WDFP_DEVICE_EXTENSION *ext = device->Wdm->DeviceExtension;
    ext->Magic = 0;
    ObDereferenceObject(device->Wdm); /* the WDFDEVICE's reference: the DEVICE_OBJECT may go now */
}

/* The driver's EvtCleanupCallback of the device runs first, then the WDM device is deleted. */
static VOID WdfpDeviceCleanup(WDFOBJECT Object)
{
    PWDFP_OBJECT o = (PWDFP_OBJECT)Object;
    WDFP_DEVICE *device = WdfpDeviceBody(o);
    if (device->DriverCleanup)
        device->DriverCleanup(Object);
    WdfpDeviceDeleted(device);
}

NTSTATUS WdfDeviceCreate(PWDFDEVICE_INIT *DeviceInit, PWDF_OBJECT_ATTRIBUTES DeviceAttributes, WDFDEVICE *Device)
{
    if (Device)
        *Device = NULL;
    if (!DeviceInit || !*DeviceInit || !Device)
        return STATUS_INVALID_PARAMETER;
    struct WDFDEVICE_INIT *init = *DeviceInit;
    PDEVICE_OBJECT wdm;
    WDFP_DRIVER *driver = WdfpDriverBody(init->Driver);
    NTSTATUS status = IoCreateDevice(driver->Wdm, sizeof(WDFP_DEVICE_EXTENSION), init->Name.Length ? &init->Name : NULL,
                                     init->DeviceType, FILE_DEVICE_SECURE_OPEN, init->Exclusive, &wdm);
    if (!NT_SUCCESS(status))
        return status;
    PWDFP_OBJECT object = WdfpCreateObject(WdfpKindDevice, sizeof(WDFP_DEVICE), init->Driver,
                                           DeviceAttributes, FALSE);
    if (!object) {
        IoDeleteDevice(wdm);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    WDFP_DEVICE *device = WdfpDeviceBody(object);
    device->DriverCleanup = object->Cleanup;
    object->Cleanup = WdfpDeviceCleanup;
    object->Release = WdfpReleaseDevice;
    object->FrameworkOwned = !init->Control;
    ObReferenceObject(wdm);
    device->Wdm = wdm;
    object->Wdm = wdm;
    object->TraceFlags = (init->Control ? NTSIM_WDF_CONTROL_DEVICE : 0) | (init->Filter ? NTSIM_WDF_FILTER : 0);
    device->Control = init->Control;
    device->Filter = init->Filter;
    device->Pdo = init->Pdo;
    device->PnpPower = init->PnpPower;
    *(WDFP_DEVICE_EXTENSION *)wdm->DeviceExtension = (WDFP_DEVICE_EXTENSION){ WDFP_EXTENSION_MAGIC, object };
    if (init->IoType == WdfDeviceIoDirect)
        wdm->Flags |= DO_DIRECT_IO;
    else if (init->IoType != WdfDeviceIoNeither)
        wdm->Flags |= DO_BUFFERED_IO;
    if (!init->Control) {
        device->Lower = IoAttachDeviceToDeviceStack(wdm, init->Pdo);
        wdm->Flags |= device->Lower->Flags & (DO_POWER_PAGABLE | DO_BUFFERED_IO | DO_DIRECT_IO);
        wdm->Flags &= ~DO_DEVICE_INITIALIZING; /* the framework does it once EvtDriverDeviceAdd returns */
    }
    FxObjectCreated(object);
    if (init->Control)
        WdfDeviceInitFree(init); /* a PnP init is freed by the framework when EvtDriverDeviceAdd returns */
    *DeviceInit = NULL;
    *Device = (WDFDEVICE)object;
    return STATUS_SUCCESS;
}

static WDFP_DEVICE *WdfpDeviceFromHandle(WDFDEVICE Device)
{
    return WdfpDeviceBody(WdfpObjectFromHandle(Device, WdfpKindDevice));
}

VOID WdfControlFinishInitializing(WDFDEVICE Device)
{
    WdfpDeviceFromHandle(Device)->Wdm->Flags &= ~DO_DEVICE_INITIALIZING;
}

NTSTATUS WdfDeviceCreateSymbolicLink(WDFDEVICE Device, PCUNICODE_STRING SymbolicLinkName)
{
    WDFP_DEVICE *device = WdfpDeviceFromHandle(Device);
    char name[300];
    ObpDescribeObject(device->Wdm, name, sizeof(name));
    UNICODE_STRING target;
    if (!RtlpUtf8ToUnicode(name, &target))
        return STATUS_INSUFFICIENT_RESOURCES;
    /* the link goes with the device, as KMDF deletes it when the device is deleted */
    NTSTATUS status = IoCreateSymbolicLink((PUNICODE_STRING)SymbolicLinkName, &target);
    RtlpFreeUnicode(&target);
    char *link = NT_SUCCESS(status) && !device->SymbolicLink.Buffer ? RtlpUnicodeToUtf8(SymbolicLinkName) : NULL;
    if (link)
        RtlpUtf8ToUnicode(link, &device->SymbolicLink);
    free(link);
    return status;
}

NTSTATUS WdfDeviceCreateDeviceInterface(WDFDEVICE Device, const GUID *InterfaceClassGUID,
                                        PCUNICODE_STRING ReferenceString)
{
    WDFP_DEVICE *device = WdfpDeviceFromHandle(Device);
    if (device->Control)
        return STATUS_INVALID_DEVICE_REQUEST;
    UNICODE_STRING link;
    NTSTATUS status = IoRegisterDeviceInterface(device->Pdo, InterfaceClassGUID, (PUNICODE_STRING)ReferenceString, &link);
    if (!NT_SUCCESS(status))
        return status;
    UNICODE_STRING *grown = RtlpAllocZero((device->InterfaceCount + 1) * sizeof(*grown));
    if (device->InterfaceCount)
        memcpy(grown, device->Interfaces, device->InterfaceCount * sizeof(*grown));
    free(device->Interfaces);
    grown[device->InterfaceCount++] = link;
    device->Interfaces = grown;
    return STATUS_SUCCESS;
}

NTSTATUS WdfDeviceAddQueryInterface(WDFDEVICE Device, PWDF_QUERY_INTERFACE_CONFIG InterfaceConfig)
{
    WDFP_DEVICE *device = WdfpDeviceFromHandle(Device);
    if (!InterfaceConfig || !InterfaceConfig->Interface || !InterfaceConfig->InterfaceType)
        return STATUS_INVALID_PARAMETER;
    WDF_QUERY_INTERFACE_CONFIG *grown = RtlpAllocZero((device->QueryInterfaceCount + 1) * sizeof(*grown));
    if (device->QueryInterfaceCount)
        memcpy(grown, device->QueryInterfaces, device->QueryInterfaceCount * sizeof(*grown));
    free(device->QueryInterfaces);
    /* KMDF copies the interface: the driver's structure may be on its stack */
    INTERFACE *copy = RtlpAllocZero(InterfaceConfig->Interface->Size);
    RtlCopyMemory(copy, InterfaceConfig->Interface, InterfaceConfig->Interface->Size);
    grown[device->QueryInterfaceCount] = *InterfaceConfig;
    grown[device->QueryInterfaceCount++].Interface = copy;
    device->QueryInterfaces = grown;
    return STATUS_SUCCESS;
}

PDEVICE_OBJECT WdfDeviceWdmGetDeviceObject(WDFDEVICE Device)
{
    return WdfpDeviceFromHandle(Device)->Wdm;
}

PDEVICE_OBJECT WdfDeviceWdmGetAttachedDevice(WDFDEVICE Device)
{
    return WdfpDeviceFromHandle(Device)->Lower;
}

PDEVICE_OBJECT WdfDeviceWdmGetPhysicalDevice(WDFDEVICE Device)
{
    return WdfpDeviceFromHandle(Device)->Pdo;
}

WDFDRIVER WdfDeviceGetDriver(WDFDEVICE Device)
{
    return (WDFDRIVER)WdfObjectGetParentObject((WDFOBJECT)Device);
}

WDFQUEUE WdfDeviceGetDefaultQueue(WDFDEVICE Device)
{
    return (WDFQUEUE)WdfpDeviceFromHandle(Device)->DefaultQueue;
}

/* ---- what wdf_io.c needs of a device --------------------------------------------- */

VOID WdfpSetDefaultQueue(PWDFP_OBJECT Device, PWDFP_OBJECT Queue)
{
    WdfpDeviceBody(Device)->DefaultQueue = Queue;
}

PDEVICE_OBJECT WdfpLowerDevice(PWDFP_OBJECT Device)
{
    return WdfpDeviceBody(Device)->Lower;
}

PWDFP_OBJECT *WdfpLocalTargetSlot(PWDFP_OBJECT Device)
{
    return &WdfpDeviceBody(Device)->LocalTarget;
}
