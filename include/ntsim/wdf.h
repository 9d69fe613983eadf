/*
 * wdf.h - the KMDF subset of the simulated kernel: what a KMDF driver's
 * code calls, with the WDK's names, structures, INIT macros and parameter
 * order, so that it compiles unchanged with
 *     cc -I include/ntsim -fshort-wchar -fPIC -shared driver.c
 * In the WDK the Wdf* calls go through the framework's function table
 * (WdfFunctions); here they are libntsim exports of the same names.
 *
 * Every WDF object is built on the WDM objects underneath (a WDFDEVICE is a
 * DEVICE_OBJECT, a WDFREQUEST an IRP, an open WDFIOTARGET a FILE_OBJECT),
 * through the exported WDM calls, so everything the WDM rules see still
 * holds. doc/kmdf.md says which KMDF behaviour is followed and where it
 * is documented.
 */
#ifndef NTSIM_WDF_H
#define NTSIM_WDF_H

#include "wdm.h"
#include "wdfnoop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- handles ------------------------------------------------------- */

/* WDFOBJECT is a plain HANDLE, as in the WDK, so every handle type converts to it. */
typedef HANDLE WDFOBJECT, *PWDFOBJECT;
#define WDF_DECLARE_HANDLE_(name) typedef struct name##__ *name
WDF_DECLARE_HANDLE_(WDFDRIVER);
WDF_DECLARE_HANDLE_(WDFDEVICE);
WDF_DECLARE_HANDLE_(WDFQUEUE);
WDF_DECLARE_HANDLE_(WDFREQUEST);
WDF_DECLARE_HANDLE_(WDFMEMORY);
WDF_DECLARE_HANDLE_(WDFWORKITEM);
WDF_DECLARE_HANDLE_(WDFIOTARGET);
WDF_DECLARE_HANDLE_(WDFSPINLOCK);
WDF_DECLARE_HANDLE_(WDFWAITLOCK);
WDF_DECLARE_HANDLE_(WDFSTRING);
WDF_DECLARE_HANDLE_(WDFCOLLECTION);
WDF_DECLARE_HANDLE_(WDFFILEOBJECT);
#undef WDF_DECLARE_HANDLE_

typedef struct WDFDEVICE_INIT *PWDFDEVICE_INIT;
typedef const GUID *LPCGUID_WDF;

#define WDF_NO_OBJECT_ATTRIBUTES NULL
#define WDF_NO_HANDLE NULL
#define WDF_NO_EVENT_CALLBACK NULL
#define WDFAPI NTSIM_API
#define EVT_WDF_CALLBACK

typedef enum _WDF_TRI_STATE { WdfFalse = FALSE, WdfTrue = TRUE, WdfUseDefault = 2 } WDF_TRI_STATE;
typedef enum _WDF_EXECUTION_LEVEL {
    WdfExecutionLevelInvalid = 0, WdfExecutionLevelInheritFromParent, WdfExecutionLevelPassive, WdfExecutionLevelDispatch
} WDF_EXECUTION_LEVEL;
typedef enum _WDF_SYNCHRONIZATION_SCOPE {
    WdfSynchronizationScopeInvalid = 0, WdfSynchronizationScopeInheritFromParent, WdfSynchronizationScopeDevice,
    WdfSynchronizationScopeQueue, WdfSynchronizationScopeNone
} WDF_SYNCHRONIZATION_SCOPE;

/* ---- object attributes and contexts -------------------------------- */

typedef struct _WDF_OBJECT_CONTEXT_TYPE_INFO {
    ULONG Size;
    PCHAR ContextName;
    size_t ContextSize;
    const struct _WDF_OBJECT_CONTEXT_TYPE_INFO *UniqueType;
    PVOID EvtDriverGetUniqueContextType;
} WDF_OBJECT_CONTEXT_TYPE_INFO, *PWDF_OBJECT_CONTEXT_TYPE_INFO;
typedef const WDF_OBJECT_CONTEXT_TYPE_INFO *PCWDF_OBJECT_CONTEXT_TYPE_INFO;

typedef VOID EVT_WDF_OBJECT_CONTEXT_CLEANUP(WDFOBJECT Object);
typedef EVT_WDF_OBJECT_CONTEXT_CLEANUP *PFN_WDF_OBJECT_CONTEXT_CLEANUP;
typedef VOID EVT_WDF_OBJECT_CONTEXT_DESTROY(WDFOBJECT Object);
typedef EVT_WDF_OBJECT_CONTEXT_DESTROY *PFN_WDF_OBJECT_CONTEXT_DESTROY;

typedef struct _WDF_OBJECT_ATTRIBUTES {
    ULONG Size;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP EvtCleanupCallback;
    PFN_WDF_OBJECT_CONTEXT_DESTROY EvtDestroyCallback;
    WDF_EXECUTION_LEVEL ExecutionLevel;
    WDF_SYNCHRONIZATION_SCOPE SynchronizationScope;
    WDFOBJECT ParentObject;
    size_t ContextSizeOverride;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO ContextTypeInfo;
} WDF_OBJECT_ATTRIBUTES, *PWDF_OBJECT_ATTRIBUTES;

FORCEINLINE VOID WDF_OBJECT_ATTRIBUTES_INIT(PWDF_OBJECT_ATTRIBUTES Attributes)
{
    RtlZeroMemory(Attributes, sizeof(WDF_OBJECT_ATTRIBUTES));
    Attributes->Size = sizeof(WDF_OBJECT_ATTRIBUTES);
    Attributes->ExecutionLevel = WdfExecutionLevelInheritFromParent;
    Attributes->SynchronizationScope = WdfSynchronizationScopeInheritFromParent;
}

#define WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype) _WDF_##_contexttype##_TYPE_INFO
#define WDF_GET_CONTEXT_TYPE_INFO(_contexttype) (&WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype))
#define WDF_OBJECT_ATTRIBUTES_SET_CONTEXT_TYPE(_attributes, _contexttype) \
    (_attributes)->ContextTypeInfo = WDF_GET_CONTEXT_TYPE_INFO(_contexttype)->UniqueType
#define WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(_attributes, _contexttype) \
    WDF_OBJECT_ATTRIBUTES_INIT(_attributes);                               \
    WDF_OBJECT_ATTRIBUTES_SET_CONTEXT_TYPE(_attributes, _contexttype)

/* The typed context of Handle for TypeInfo, or NULL when the object has no context of that type. */
WDFAPI PVOID WdfObjectGetTypedContextWorker(WDFOBJECT Handle, PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo);
#define WdfObjectGetTypedContext(handle, type) \
    ((type *)WdfObjectGetTypedContextWorker((WDFOBJECT)(handle), WDF_GET_CONTEXT_TYPE_INFO(type)))

#define WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(_contexttype, _castingfunction)                               \
    static const WDF_OBJECT_CONTEXT_TYPE_INFO __attribute__((unused)) WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype) = { \
        sizeof(WDF_OBJECT_CONTEXT_TYPE_INFO), (PCHAR) #_contexttype, sizeof(_contexttype),                \
        &WDF_TYPE_NAME_TO_TYPE_INFO(_contexttype), NULL };                                                \
    static inline __attribute__((unused)) _contexttype *_castingfunction(WDFOBJECT Handle)               \
    {                                                                                                   \
        return (_contexttype *)WdfObjectGetTypedContextWorker(Handle, WDF_GET_CONTEXT_TYPE_INFO(_contexttype)); \
    }
#define WDF_DECLARE_CONTEXT_TYPE(_contexttype) WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(_contexttype, WdfObjectGet_##_contexttype)

/* ---- objects ---------------------------------------------------------- */

/*
 * Creates a general object (parent: Attributes->ParentObject, else the
 * driver). Its reference count starts at 1, the creation's, which
 * WdfObjectDelete drops.
 */
WDFAPI NTSTATUS WdfObjectCreate(PWDF_OBJECT_ATTRIBUTES Attributes, WDFOBJECT *Object);
/*
 * Deletes Object: its children first (last created first), then its
 * EvtCleanupCallback, then the creation's reference; EvtDestroyCallback
 * runs and the memory goes when the last reference does. Objects the
 * framework deletes itself (a device on removal, a request on completion,
 * a WDFDRIVER on unload) are refused (WDF_VIOLATION, as with the verifier).
 */
WDFAPI VOID WdfObjectDelete(WDFOBJECT Object);
/*
 * Takes one reference on Handle, counted under Tag (NULL allowed); Line
 * and File say where (the macros pass __LINE__ and __FILE__).
 */
WDFAPI VOID WdfObjectReferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File);
/*
 * Drops one reference counted under Tag. Dropping below zero is bug check
 * WDF_VIOLATION (0x10D); a Tag with no reference outstanding is recorded
 * (the KMDF verifier breaks there) and the reference is taken from the
 * untagged count.
 */
WDFAPI VOID WdfObjectDereferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File);
#define WdfObjectReference(Handle) WdfObjectReferenceActual((WDFOBJECT)(Handle), NULL, __LINE__, (PCHAR)__FILE__)
#define WdfObjectReferenceWithTag(Handle, Tag) \
    WdfObjectReferenceActual((WDFOBJECT)(Handle), (Tag), __LINE__, (PCHAR)__FILE__)
#define WdfObjectDereference(Handle) WdfObjectDereferenceActual((WDFOBJECT)(Handle), NULL, __LINE__, (PCHAR)__FILE__)
#define WdfObjectDereferenceWithTag(Handle, Tag) \
    WdfObjectDereferenceActual((WDFOBJECT)(Handle), (Tag), __LINE__, (PCHAR)__FILE__)
/* The parent of Object (NULL for a WDFDRIVER). */
WDFAPI WDFOBJECT WdfObjectGetParentObject(WDFOBJECT Object);

/* ---- driver ------------------------------------------------------------ */

typedef NTSTATUS EVT_WDF_DRIVER_DEVICE_ADD(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit);
typedef EVT_WDF_DRIVER_DEVICE_ADD *PFN_WDF_DRIVER_DEVICE_ADD;
typedef VOID EVT_WDF_DRIVER_UNLOAD(WDFDRIVER Driver);
typedef EVT_WDF_DRIVER_UNLOAD *PFN_WDF_DRIVER_UNLOAD;

typedef enum _WDF_DRIVER_INIT_FLAGS {
    WdfDriverInitNonPnpDriver = 0x00000001,
    WdfDriverInitNoDispatchOverride = 0x00000002,
    WdfVerifyOn = 0x00000004,
    WdfVerifierOn = 0x00000008
} WDF_DRIVER_INIT_FLAGS;

typedef struct _WDF_DRIVER_CONFIG {
    ULONG Size;
    PFN_WDF_DRIVER_DEVICE_ADD EvtDriverDeviceAdd;
    PFN_WDF_DRIVER_UNLOAD EvtDriverUnload;
    ULONG DriverInitFlags;
    ULONG DriverPoolTag;
} WDF_DRIVER_CONFIG, *PWDF_DRIVER_CONFIG;

FORCEINLINE VOID WDF_DRIVER_CONFIG_INIT(PWDF_DRIVER_CONFIG Config, PFN_WDF_DRIVER_DEVICE_ADD EvtDriverDeviceAdd)
{
    RtlZeroMemory(Config, sizeof(WDF_DRIVER_CONFIG));
    Config->Size = sizeof(WDF_DRIVER_CONFIG);
    Config->EvtDriverDeviceAdd = EvtDriverDeviceAdd;
}

/*
 * Creates the WDFDRIVER of DriverObject (from DriverEntry, once) and takes
 * over its dispatch table, AddDevice (unless WdfDriverInitNonPnpDriver)
 * and DriverUnload: the framework's unload calls EvtDriverUnload, then
 * deletes the driver's object tree.
 */
WDFAPI NTSTATUS WdfDriverCreate(PDRIVER_OBJECT DriverObject, PCUNICODE_STRING RegistryPath,
                                PWDF_OBJECT_ATTRIBUTES DriverAttributes, PWDF_DRIVER_CONFIG DriverConfig,
                                WDFDRIVER *Driver);
WDFAPI PDRIVER_OBJECT WdfDriverWdmGetDriverObject(WDFDRIVER Driver);
/* The WDFDRIVER of the calling driver image (WdfGetDriver in the WDK). */
WDFAPI WDFDRIVER WdfGetDriver(void);

/* ---- devices ------------------------------------------------------------ */

typedef NTSTATUS EVT_WDF_DEVICE_PREPARE_HARDWARE(WDFDEVICE Device, PVOID ResourcesRaw, PVOID ResourcesTranslated);
typedef EVT_WDF_DEVICE_PREPARE_HARDWARE *PFN_WDF_DEVICE_PREPARE_HARDWARE;
typedef NTSTATUS EVT_WDF_DEVICE_RELEASE_HARDWARE(WDFDEVICE Device, PVOID ResourcesTranslated);
typedef EVT_WDF_DEVICE_RELEASE_HARDWARE *PFN_WDF_DEVICE_RELEASE_HARDWARE;
typedef enum _WDF_POWER_DEVICE_STATE {
    WdfPowerDeviceInvalid = 0, WdfPowerDeviceD0, WdfPowerDeviceD1, WdfPowerDeviceD2, WdfPowerDeviceD3,
    WdfPowerDeviceD3Final, WdfPowerDevicePrepareForHibernation, WdfPowerDeviceMaximum
} WDF_POWER_DEVICE_STATE;
typedef NTSTATUS EVT_WDF_DEVICE_D0_ENTRY(WDFDEVICE Device, WDF_POWER_DEVICE_STATE PreviousState);
typedef EVT_WDF_DEVICE_D0_ENTRY *PFN_WDF_DEVICE_D0_ENTRY;
typedef NTSTATUS EVT_WDF_DEVICE_D0_EXIT(WDFDEVICE Device, WDF_POWER_DEVICE_STATE TargetState);
typedef EVT_WDF_DEVICE_D0_EXIT *PFN_WDF_DEVICE_D0_EXIT;
typedef NTSTATUS EVT_WDF_DEVICE_SELF_MANAGED_IO_INIT(WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_INIT *PFN_WDF_DEVICE_SELF_MANAGED_IO_INIT;
typedef VOID EVT_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP(WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP *PFN_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP;
typedef VOID EVT_WDF_DEVICE_SURPRISE_REMOVAL(WDFDEVICE Device);
typedef EVT_WDF_DEVICE_SURPRISE_REMOVAL *PFN_WDF_DEVICE_SURPRISE_REMOVAL;
typedef NTSTATUS EVT_WDF_DEVICE_QUERY_REMOVE(WDFDEVICE Device);
typedef EVT_WDF_DEVICE_QUERY_REMOVE *PFN_WDF_DEVICE_QUERY_REMOVE;

typedef struct _WDF_PNPPOWER_EVENT_CALLBACKS {
    ULONG Size;
    PFN_WDF_DEVICE_D0_ENTRY EvtDeviceD0Entry;
    PVOID EvtDeviceD0EntryPostInterruptsEnabled;
    PFN_WDF_DEVICE_D0_EXIT EvtDeviceD0Exit;
    PVOID EvtDeviceD0ExitPreInterruptsDisabled;
    PFN_WDF_DEVICE_PREPARE_HARDWARE EvtDevicePrepareHardware;
    PFN_WDF_DEVICE_RELEASE_HARDWARE EvtDeviceReleaseHardware;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_CLEANUP EvtDeviceSelfManagedIoCleanup;
    PVOID EvtDeviceSelfManagedIoFlush;
    PFN_WDF_DEVICE_SELF_MANAGED_IO_INIT EvtDeviceSelfManagedIoInit;
    PVOID EvtDeviceSelfManagedIoSuspend;
    PVOID EvtDeviceSelfManagedIoRestart;
    PFN_WDF_DEVICE_SURPRISE_REMOVAL EvtDeviceSurpriseRemoval;
    PFN_WDF_DEVICE_QUERY_REMOVE EvtDeviceQueryRemove;
    PVOID EvtDeviceQueryStop;
    PVOID EvtDeviceUsageNotification;
    PVOID EvtDeviceRelationsQuery;
    PVOID EvtDeviceUsageNotificationEx;
} WDF_PNPPOWER_EVENT_CALLBACKS, *PWDF_PNPPOWER_EVENT_CALLBACKS;

FORCEINLINE VOID WDF_PNPPOWER_EVENT_CALLBACKS_INIT(PWDF_PNPPOWER_EVENT_CALLBACKS Callbacks)
{
    RtlZeroMemory(Callbacks, sizeof(WDF_PNPPOWER_EVENT_CALLBACKS));
    Callbacks->Size = sizeof(WDF_PNPPOWER_EVENT_CALLBACKS);
}

WDFAPI VOID WdfDeviceInitSetPnpPowerEventCallbacks(PWDFDEVICE_INIT DeviceInit,
                                                   PWDF_PNPPOWER_EVENT_CALLBACKS PnpPowerEventCallbacks);
WDFAPI VOID WdfDeviceInitSetDeviceType(PWDFDEVICE_INIT DeviceInit, DEVICE_TYPE DeviceType);
WDFAPI VOID WdfDeviceInitSetExclusive(PWDFDEVICE_INIT DeviceInit, BOOLEAN IsExclusive);
WDFAPI VOID WdfDeviceInitSetIoType(PWDFDEVICE_INIT DeviceInit, ULONG IoType);
/* Names the device (\Device\...); STATUS_INVALID_PARAMETER for an empty name. */
WDFAPI NTSTATUS WdfDeviceInitAssignName(PWDFDEVICE_INIT DeviceInit, PCUNICODE_STRING DeviceName);
/* Makes the FDO a filter: IRPs it has no callback or queue for go down the stack unchanged. */
WDFAPI VOID WdfFdoInitSetFilter(PWDFDEVICE_INIT DeviceInit);
/* The PDO of the stack being built (PnP device inits only). */
WDFAPI PDEVICE_OBJECT WdfFdoInitWdmGetPhysicalDevice(PWDFDEVICE_INIT DeviceInit);
/*
 * A device init for a control device of Driver (not in any PnP stack).
 * SDDLString is recorded, as IoCreateDeviceSecure does. Freed by
 * WdfDeviceCreate, or by WdfDeviceInitFree when the driver gives up.
 */
WDFAPI PWDFDEVICE_INIT WdfControlDeviceInitAllocate(WDFDRIVER Driver, const UNICODE_STRING *SDDLString);
WDFAPI VOID WdfDeviceInitFree(PWDFDEVICE_INIT DeviceInit);

#define WdfDeviceIoBuffered 1
#define WdfDeviceIoDirect 2
#define WdfDeviceIoNeither 3

/*
 * Creates the WDFDEVICE and its DEVICE_OBJECT from *DeviceInit (set to
 * NULL: the init is consumed). A PnP FDO or filter is attached to its PDO
 * and starts, stops and goes with its devnode; a control device stays
 * DO_DEVICE_INITIALIZING until WdfControlFinishInitializing and goes only
 * with WdfObjectDelete - one the driver never deletes keeps it loaded, as
 * on Windows. The WDFDEVICE holds a pointer reference on its DEVICE_OBJECT
 * until it is destroyed: a WDF reference kept on a deleted WDFDEVICE keeps
 * the deleted device object, and with it the driver image, alive.
 */
WDFAPI NTSTATUS WdfDeviceCreate(PWDFDEVICE_INIT *DeviceInit, PWDF_OBJECT_ATTRIBUTES DeviceAttributes,
                                WDFDEVICE *Device);
WDFAPI VOID WdfControlFinishInitializing(WDFDEVICE Device);
WDFAPI NTSTATUS WdfDeviceCreateSymbolicLink(WDFDEVICE Device, PCUNICODE_STRING SymbolicLinkName);
/* Registers and (when the device starts) enables a device interface of a PnP device. */
WDFAPI NTSTATUS WdfDeviceCreateDeviceInterface(WDFDEVICE Device, const GUID *InterfaceClassGUID,
                                               PCUNICODE_STRING ReferenceString);
WDFAPI PDEVICE_OBJECT WdfDeviceWdmGetDeviceObject(WDFDEVICE Device);
WDFAPI PDEVICE_OBJECT WdfDeviceWdmGetAttachedDevice(WDFDEVICE Device);
WDFAPI PDEVICE_OBJECT WdfDeviceWdmGetPhysicalDevice(WDFDEVICE Device);
WDFAPI WDFDRIVER WdfDeviceGetDriver(WDFDEVICE Device);
/* The device's default I/O target: the next lower device of its stack (NULL for a control device). */
WDFAPI WDFIOTARGET WdfDeviceGetIoTarget(WDFDEVICE Device);
WDFAPI WDFQUEUE WdfDeviceGetDefaultQueue(WDFDEVICE Device);

typedef struct _WDF_QUERY_INTERFACE_CONFIG {
    ULONG Size;
    PINTERFACE Interface;
    const GUID *InterfaceType;
    BOOLEAN SendQueryToParentStack;
    PVOID EvtDeviceProcessQueryInterfaceRequest;
    BOOLEAN ImportInterface;
} WDF_QUERY_INTERFACE_CONFIG, *PWDF_QUERY_INTERFACE_CONFIG;

FORCEINLINE VOID WDF_QUERY_INTERFACE_CONFIG_INIT(PWDF_QUERY_INTERFACE_CONFIG Config, PINTERFACE Interface,
                                                 const GUID *InterfaceType, PVOID EvtDeviceProcessQueryInterfaceRequest)
{
    RtlZeroMemory(Config, sizeof(WDF_QUERY_INTERFACE_CONFIG));
    Config->Size = sizeof(WDF_QUERY_INTERFACE_CONFIG);
    Config->Interface = Interface;
    Config->InterfaceType = InterfaceType;
    Config->EvtDeviceProcessQueryInterfaceRequest = EvtDeviceProcessQueryInterfaceRequest;
}

/*
 * Answers IRP_MN_QUERY_INTERFACE for InterfaceType on Device with a copy
 * of Interface (at most the size the querier asks for), calling its
 * InterfaceReference before handing it out (the no-op functions of
 * wdfnoop.h count nothing).
 */
WDFAPI NTSTATUS WdfDeviceAddQueryInterface(WDFDEVICE Device, PWDF_QUERY_INTERFACE_CONFIG InterfaceConfig);

/* ---- queues and requests --------------------------------------------------- */

typedef enum _WDF_IO_QUEUE_DISPATCH_TYPE {
    WdfIoQueueDispatchInvalid = 0, WdfIoQueueDispatchSequential, WdfIoQueueDispatchParallel,
    WdfIoQueueDispatchManual, WdfIoQueueDispatchMax
} WDF_IO_QUEUE_DISPATCH_TYPE;

typedef VOID EVT_WDF_IO_QUEUE_IO_DEFAULT(WDFQUEUE Queue, WDFREQUEST Request);
typedef EVT_WDF_IO_QUEUE_IO_DEFAULT *PFN_WDF_IO_QUEUE_IO_DEFAULT;
typedef VOID EVT_WDF_IO_QUEUE_IO_READ(WDFQUEUE Queue, WDFREQUEST Request, size_t Length);
typedef EVT_WDF_IO_QUEUE_IO_READ *PFN_WDF_IO_QUEUE_IO_READ;
typedef VOID EVT_WDF_IO_QUEUE_IO_WRITE(WDFQUEUE Queue, WDFREQUEST Request, size_t Length);
typedef EVT_WDF_IO_QUEUE_IO_WRITE *PFN_WDF_IO_QUEUE_IO_WRITE;
typedef VOID EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength,
                                                size_t InputBufferLength, ULONG IoControlCode);
typedef EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL *PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL;
typedef EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL EVT_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL;
typedef EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL *PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL;

typedef struct _WDF_IO_QUEUE_CONFIG {
    ULONG Size;
    WDF_IO_QUEUE_DISPATCH_TYPE DispatchType;
    WDF_TRI_STATE PowerManaged;
    BOOLEAN AllowZeroLengthRequests;
    BOOLEAN DefaultQueue;
    PFN_WDF_IO_QUEUE_IO_DEFAULT EvtIoDefault;
    PFN_WDF_IO_QUEUE_IO_READ EvtIoRead;
    PFN_WDF_IO_QUEUE_IO_WRITE EvtIoWrite;
    PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL EvtIoDeviceControl;
    PFN_WDF_IO_QUEUE_IO_INTERNAL_DEVICE_CONTROL EvtIoInternalDeviceControl;
    PVOID EvtIoStop;
    PVOID EvtIoResume;
    PVOID EvtIoCanceledOnQueue;
    union {
        struct {
            ULONG NumberOfPresentedRequests;
        } Parallel;
    } Settings;
} WDF_IO_QUEUE_CONFIG, *PWDF_IO_QUEUE_CONFIG;

FORCEINLINE VOID WDF_IO_QUEUE_CONFIG_INIT(PWDF_IO_QUEUE_CONFIG Config, WDF_IO_QUEUE_DISPATCH_TYPE DispatchType)
{
    RtlZeroMemory(Config, sizeof(WDF_IO_QUEUE_CONFIG));
    Config->Size = sizeof(WDF_IO_QUEUE_CONFIG);
    Config->PowerManaged = WdfUseDefault;
    Config->DispatchType = DispatchType;
    if (DispatchType == WdfIoQueueDispatchParallel)
        Config->Settings.Parallel.NumberOfPresentedRequests = (ULONG)-1;
}

FORCEINLINE VOID WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(PWDF_IO_QUEUE_CONFIG Config,
                                                        WDF_IO_QUEUE_DISPATCH_TYPE DispatchType)
{
    WDF_IO_QUEUE_CONFIG_INIT(Config, DispatchType);
    Config->DefaultQueue = TRUE;
}

/*
 * Creates a queue of Device (its parent, unless Attributes names one).
 * The default queue receives the device's read, write and device control
 * requests; each is presented to the matching callback (else EvtIoDefault)
 * on the thread that sent it.
 */
WDFAPI NTSTATUS WdfIoQueueCreate(WDFDEVICE Device, PWDF_IO_QUEUE_CONFIG Config, PWDF_OBJECT_ATTRIBUTES QueueAttributes,
                                 WDFQUEUE *Queue);
WDFAPI WDFDEVICE WdfIoQueueGetDevice(WDFQUEUE Queue);

typedef enum _WDF_REQUEST_TYPE {
    WdfRequestTypeCreate = IRP_MJ_CREATE, WdfRequestTypeClose = IRP_MJ_CLOSE, WdfRequestTypeRead = IRP_MJ_READ,
    WdfRequestTypeWrite = IRP_MJ_WRITE, WdfRequestTypeDeviceControl = IRP_MJ_DEVICE_CONTROL,
    WdfRequestTypeDeviceControlInternal = IRP_MJ_INTERNAL_DEVICE_CONTROL, WdfRequestTypeOther = 0xFF
} WDF_REQUEST_TYPE;

typedef struct _WDF_REQUEST_PARAMETERS {
    USHORT Size;
    UCHAR MinorFunction;
    WDF_REQUEST_TYPE Type;
    union {
        struct {
            size_t Length;
            ULONG Key;
            LONGLONG DeviceOffset;
        } Read;
        struct {
            size_t Length;
            ULONG Key;
            LONGLONG DeviceOffset;
        } Write;
        struct {
            size_t OutputBufferLength;
            size_t InputBufferLength;
            ULONG IoControlCode;
            PVOID Type3InputBuffer;
        } DeviceIoControl;
    } Parameters;
} WDF_REQUEST_PARAMETERS, *PWDF_REQUEST_PARAMETERS;

FORCEINLINE VOID WDF_REQUEST_PARAMETERS_INIT(PWDF_REQUEST_PARAMETERS Parameters)
{
    RtlZeroMemory(Parameters, sizeof(WDF_REQUEST_PARAMETERS));
    Parameters->Size = sizeof(WDF_REQUEST_PARAMETERS);
}

/* Completes Request's IRP with Status (and Information) and deletes the request object. */
WDFAPI VOID WdfRequestComplete(WDFREQUEST Request, NTSTATUS Status);
WDFAPI VOID WdfRequestCompleteWithInformation(WDFREQUEST Request, NTSTATUS Status, ULONG_PTR Information);
WDFAPI VOID WdfRequestSetInformation(WDFREQUEST Request, ULONG_PTR Information);
WDFAPI VOID WdfRequestGetParameters(WDFREQUEST Request, PWDF_REQUEST_PARAMETERS Parameters);
/* The request's buffers (buffered I/O): STATUS_BUFFER_TOO_SMALL below MinimumRequiredLength. */
WDFAPI NTSTATUS WdfRequestRetrieveInputBuffer(WDFREQUEST Request, size_t MinimumRequiredLength, PVOID *Buffer,
                                              size_t *Length);
WDFAPI NTSTATUS WdfRequestRetrieveOutputBuffer(WDFREQUEST Request, size_t MinimumRequiredLength, PVOID *Buffer,
                                               size_t *Length);
WDFAPI PIRP WdfRequestWdmGetIrp(WDFREQUEST Request);
/*
 * Requeues Request to DestinationQueue, another queue of the same device,
 * which presents it to its callback for the request's type (on the
 * caller's thread here); the caller no longer owns it on success.
 * STATUS_INVALID_DEVICE_REQUEST (the request still the caller's) for the
 * same queue, a queue of another device or one with no callback for it.
 */
WDFAPI NTSTATUS WdfRequestForwardToIoQueue(WDFREQUEST Request, WDFQUEUE DestinationQueue);
/* Prepares Request to be sent down unchanged (the next stack location is the current one). */
WDFAPI VOID WdfRequestFormatRequestUsingCurrentType(WDFREQUEST Request);

#define WDF_REQUEST_SEND_OPTION_IGNORE_TARGET_STATE 0x00000002
#define WDF_REQUEST_SEND_OPTION_SYNCHRONOUS 0x00000004
#define WDF_REQUEST_SEND_OPTION_SEND_AND_FORGET 0x00000008

typedef struct _WDF_REQUEST_SEND_OPTIONS {
    ULONG Size;
    ULONG Flags;
    LONGLONG Timeout;
} WDF_REQUEST_SEND_OPTIONS, *PWDF_REQUEST_SEND_OPTIONS;

FORCEINLINE VOID WDF_REQUEST_SEND_OPTIONS_INIT(PWDF_REQUEST_SEND_OPTIONS Options, ULONG Flags)
{
    RtlZeroMemory(Options, sizeof(WDF_REQUEST_SEND_OPTIONS));
    Options->Size = sizeof(WDF_REQUEST_SEND_OPTIONS);
    Options->Flags = Flags;
}

/*
 * Sends Request to Target. Only send-and-forget is simulated: the IRP
 * goes to the target's device with the current stack location, the
 * request object is gone and the driver never sees the IRP again. FALSE
 * (and the request untouched) for other options or a closed target.
 */
WDFAPI BOOLEAN WdfRequestSend(WDFREQUEST Request, WDFIOTARGET Target, PWDF_REQUEST_SEND_OPTIONS Options);
WDFAPI NTSTATUS WdfRequestGetStatus(WDFREQUEST Request);

/* ---- I/O targets --------------------------------------------------------------- */

typedef enum _WDF_IO_TARGET_OPEN_TYPE {
    WdfIoTargetOpenUndefined = 0, WdfIoTargetOpenUseExistingDevice, WdfIoTargetOpenByName,
    WdfIoTargetOpenReopen, WdfIoTargetOpenLocalTargetByFile
} WDF_IO_TARGET_OPEN_TYPE;

typedef NTSTATUS EVT_WDF_IO_TARGET_QUERY_REMOVE(WDFIOTARGET IoTarget);
typedef EVT_WDF_IO_TARGET_QUERY_REMOVE *PFN_WDF_IO_TARGET_QUERY_REMOVE;
typedef VOID EVT_WDF_IO_TARGET_REMOVE_CANCELED(WDFIOTARGET IoTarget);
typedef EVT_WDF_IO_TARGET_REMOVE_CANCELED *PFN_WDF_IO_TARGET_REMOVE_CANCELED;
typedef VOID EVT_WDF_IO_TARGET_REMOVE_COMPLETE(WDFIOTARGET IoTarget);
typedef EVT_WDF_IO_TARGET_REMOVE_COMPLETE *PFN_WDF_IO_TARGET_REMOVE_COMPLETE;

typedef struct _WDF_IO_TARGET_OPEN_PARAMS {
    ULONG Size;
    WDF_IO_TARGET_OPEN_TYPE Type;
    PFN_WDF_IO_TARGET_QUERY_REMOVE EvtIoTargetQueryRemove;
    PFN_WDF_IO_TARGET_REMOVE_CANCELED EvtIoTargetRemoveCanceled;
    PFN_WDF_IO_TARGET_REMOVE_COMPLETE EvtIoTargetRemoveComplete;
    PDEVICE_OBJECT TargetDeviceObject;
    PFILE_OBJECT TargetFileObject;
    UNICODE_STRING TargetDeviceName;
    ACCESS_MASK DesiredAccess;
    ULONG ShareAccess;
    ULONG FileAttributes;
    ULONG CreateDisposition;
    ULONG CreateOptions;
    PVOID EaBuffer;
    ULONG EaBufferLength;
    PLONGLONG AllocationSize;
    ULONG FileInformation;
} WDF_IO_TARGET_OPEN_PARAMS, *PWDF_IO_TARGET_OPEN_PARAMS;

FORCEINLINE VOID WDF_IO_TARGET_OPEN_PARAMS_INIT_OPEN_BY_NAME(PWDF_IO_TARGET_OPEN_PARAMS Params,
                                                             PCUNICODE_STRING TargetDeviceName,
                                                             ACCESS_MASK DesiredAccess)
{
    RtlZeroMemory(Params, sizeof(WDF_IO_TARGET_OPEN_PARAMS));
    Params->Size = sizeof(WDF_IO_TARGET_OPEN_PARAMS);
    Params->Type = WdfIoTargetOpenByName;
    Params->TargetDeviceName = *TargetDeviceName;
    Params->DesiredAccess = DesiredAccess;
}

/* A remote I/O target of Device (its parent unless Attributes names one), not open yet. */
WDFAPI NTSTATUS WdfIoTargetCreate(WDFDEVICE Device, PWDF_OBJECT_ATTRIBUTES IoTargetAttributes,
                                  WDFIOTARGET *IoTarget);
/*
 * Opens the target by name: a file object on the named device
 * (IoGetDeviceObjectPointer), held until WdfIoTargetClose or the target's
 * deletion. For a PnP device the framework registers for its target-device
 * notifications: on query-remove it calls EvtIoTargetQueryRemove (which
 * must WdfIoTargetCloseForQueryRemove to let the device go) or, without
 * one, closes the target itself; on a cancelled removal
 * EvtIoTargetRemoveCanceled, or it reopens the target; on remove-complete
 * EvtIoTargetRemoveComplete (which must WdfIoTargetClose), or it closes
 * the target for good. Only WdfIoTargetOpenByName is simulated (else
 * STATUS_NOT_SUPPORTED).
 */
WDFAPI NTSTATUS WdfIoTargetOpen(WDFIOTARGET IoTarget, PWDF_IO_TARGET_OPEN_PARAMS OpenParams);
/* Closes the target for good: its file object and its notification registration go. */
WDFAPI VOID WdfIoTargetClose(WDFIOTARGET IoTarget);
/* Closes the target while its device's removal is pending (from EvtIoTargetQueryRemove): the file object goes. */
WDFAPI VOID WdfIoTargetCloseForQueryRemove(WDFIOTARGET IoTarget);
WDFAPI PDEVICE_OBJECT WdfIoTargetWdmGetTargetDeviceObject(WDFIOTARGET IoTarget);
WDFAPI PFILE_OBJECT WdfIoTargetWdmGetTargetFileObject(WDFIOTARGET IoTarget);

/* ---- memory, locks, work items --------------------------------------------------- */

/* Nonpaged or paged pool of BufferSize bytes (tag PoolTag) owned by the object: freed when it is destroyed. */
WDFAPI NTSTATUS WdfMemoryCreate(PWDF_OBJECT_ATTRIBUTES Attributes, POOL_TYPE PoolType, ULONG PoolTag,
                                size_t BufferSize, WDFMEMORY *Memory, PVOID *Buffer);
WDFAPI PVOID WdfMemoryGetBuffer(WDFMEMORY Memory, size_t *BufferSize);

WDFAPI NTSTATUS WdfSpinLockCreate(PWDF_OBJECT_ATTRIBUTES SpinLockAttributes, WDFSPINLOCK *SpinLock);
WDFAPI VOID WdfSpinLockAcquire(WDFSPINLOCK SpinLock);
WDFAPI VOID WdfSpinLockRelease(WDFSPINLOCK SpinLock);
WDFAPI NTSTATUS WdfWaitLockCreate(PWDF_OBJECT_ATTRIBUTES LockAttributes, WDFWAITLOCK *Lock);
/* Waits for the lock (Timeout NULL: forever); STATUS_SUCCESS, or STATUS_TIMEOUT. */
WDFAPI NTSTATUS WdfWaitLockAcquire(WDFWAITLOCK Lock, PLONGLONG Timeout);
WDFAPI VOID WdfWaitLockRelease(WDFWAITLOCK Lock);

typedef VOID EVT_WDF_WORKITEM(WDFWORKITEM WorkItem);
typedef EVT_WDF_WORKITEM *PFN_WDF_WORKITEM;
typedef struct _WDF_WORKITEM_CONFIG {
    ULONG Size;
    PFN_WDF_WORKITEM EvtWorkItemFunc;
    BOOLEAN AutomaticSerialization;
} WDF_WORKITEM_CONFIG, *PWDF_WORKITEM_CONFIG;

FORCEINLINE VOID WDF_WORKITEM_CONFIG_INIT(PWDF_WORKITEM_CONFIG Config, PFN_WDF_WORKITEM EvtWorkItemFunc)
{
    RtlZeroMemory(Config, sizeof(WDF_WORKITEM_CONFIG));
    Config->Size = sizeof(WDF_WORKITEM_CONFIG);
    Config->EvtWorkItemFunc = EvtWorkItemFunc;
    Config->AutomaticSerialization = TRUE;
}

/* A work item whose parent (Attributes->ParentObject, required) is a device or a descendant of one. */
WDFAPI NTSTATUS WdfWorkItemCreate(PWDF_WORKITEM_CONFIG Config, PWDF_OBJECT_ATTRIBUTES Attributes,
                                  WDFWORKITEM *WorkItem);
/* Queues the item once (an item already queued stays queued once), on its device's I/O work item. */
WDFAPI VOID WdfWorkItemEnqueue(WDFWORKITEM WorkItem);
WDFAPI WDFOBJECT WdfWorkItemGetParentObject(WDFWORKITEM WorkItem);
/* Waits until the item is neither queued nor running. */
WDFAPI VOID WdfWorkItemFlush(WDFWORKITEM WorkItem);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_WDF_H */
