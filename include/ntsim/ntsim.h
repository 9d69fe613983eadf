/*
 * ntsim.h - the host-facing API of libntsim: it plays the rest of the
 * system around the drivers.
 *
 * A host (the `ntsim` scenario runner, or a C test program) initializes the
 * simulation, installs services from driver images, starts and stops them
 * as the service control manager would, describes hardware and plugs,
 * disables, ejects and unplugs devices as the PnP manager and Device Manager
 * would, and acts as user-mode applications: opening devices, sending
 * IOCTLs, closing handles, registering for handle notifications. Every call
 * returns the NTSTATUS (and, for removals, the veto) that Windows would.
 * It also answers questions no API of Windows answers directly: the state of
 * each image, object and devnode, for tests and for `expect` lines.
 *
 * Names are UTF-8 on this side; the simulation converts to UNICODE_STRING.
 * Object paths are NT paths (\Device\X, \DosDevices\X, \??\X, \Driver\X);
 * user-mode opens also accept \\.\X.
 */
#ifndef NTSIM_NTSIM_H
#define NTSIM_NTSIM_H

#include "wdm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Lifecycle and configuration                                         */
/* ------------------------------------------------------------------ */

/* What happens when a wait exceeds NTSIM_CONFIG.StuckWaitMs. */
typedef enum _NTSIM_STUCK_POLICY {
    NtsimStuckReportAndContinue, /* report, then keep waiting in the background; the caller gets STATUS_TIMEOUT */
    NtsimStuckReportAndExit,     /* report, then exit(NTSIM_EXIT_STUCK) */
} NTSIM_STUCK_POLICY;

#define NTSIM_EXIT_STUCK 3 /* process exit status when a stuck wait ends the run */

typedef struct _NTSIM_CONFIG {
    /* Infinite waits longer than this are reported as stuck (0 = default 2000 ms). */
    ULONG StuckWaitMs;
    NTSIM_STUCK_POLICY StuckPolicy;
    /*
     * nt-semantics §3.3/§14.4: TRUE (default, the documentation's rule) =
     * an outstanding PnP notification registration defers DriverUnload;
     * FALSE (ReactOS) = it only delays the image unmap.
     */
    BOOLEAN RegistrationsDeferUnload;
    /* Directories searched for driver images named without a slash (colon-separated); NULL = ".". */
    const char *DriverSearchPath;
    /* Echo DbgPrint output to stderr. */
    BOOLEAN EchoDebugOutput;
} NTSIM_CONFIG, *PNTSIM_CONFIG;

/* Fills *Config with the defaults (the documentation's behaviour everywhere). */
NTSIM_API VOID NtsimDefaultConfig(PNTSIM_CONFIG Config);
/*
 * Starts the simulated kernel (object types, namespace, worker threads).
 * Config may be NULL for the defaults. STATUS_INVALID_DEVICE_STATE if
 * already initialized.
 */
NTSIM_API NTSTATUS NtsimInitialize(const NTSIM_CONFIG *Config);
/*
 * Stops worker threads and releases the host-side state. Drivers still
 * loaded stay mapped (as at a shutdown, where Unload is not called);
 * their state can still be queried until the process exits.
 */
NTSIM_API VOID NtsimShutdown(void);
/* The name of a status code ("STATUS_NO_SUCH_DEVICE"), or "0x%08x" text for unknown codes. */
NTSIM_API const char *NtsimStatusName(NTSTATUS Status);
/*
 * Labels what the host is about to do. Records nothing in the simulation
 * and has no effect: it exists so that a tracer interposing it can mark
 * the point in a trace where a host action began. Where says where the
 * action comes from (e.g. "samples/x/scenario.ntsim:14"), What what it is
 * (e.g. "stop handle_leak"); either may be NULL. The scenario runner calls
 * it before every action line of a scenario.
 */
NTSIM_API VOID NtsimNoteHostAction(const char *Where, const char *What);

/*
 * Host hook on bug checks. KeBugCheckEx, after reporting the bug check
 * (stderr and trace), calls Callback with the code and its four
 * parameters, on the thread that bug-checked, before the process stops.
 * A host that expected this bug check may end the process itself (the
 * scenario runner's `expect bugcheck` does: _exit); if Callback returns,
 * the simulation stops as usual. The simulation's locks may be held: the
 * callback must not call back into libntsim. NULL removes the hook.
 */
typedef VOID NTSIM_BUGCHECK_CALLBACK(ULONG BugCheckCode, const ULONG_PTR Parameters[4], PVOID Context);
NTSIM_API VOID NtsimSetBugCheckCallback(NTSIM_BUGCHECK_CALLBACK *Callback, PVOID Context);
/* The name of a bug-check code ("REFERENCE_BY_POINTER"), or NULL for a code the simulation never raises. */
NTSIM_API const char *NtsimBugCheckName(ULONG BugCheckCode);

/* ------------------------------------------------------------------ */
/* Services (the service control manager)                              */
/* ------------------------------------------------------------------ */

/*
 * Installs service ServiceName for the driver image ImagePath (a shared
 * object with DriverEntry). STATUS_OBJECT_NAME_COLLISION when the service
 * exists.
 */
NTSIM_API NTSTATUS NtsimInstallService(const char *ServiceName, const char *ImagePath);
/*
 * Loads the service's driver (ZwLoadDriver): maps the image, creates
 * \Driver\<ServiceName>, calls DriverEntry. STATUS_IMAGE_ALREADY_LOADED when
 * the previous instance is still mapped; DriverEntry's failure status when
 * it fails (the image is unmapped, Unload not called). DriverEntry runs on
 * the system thread; if it gets stuck in a wait that never ends, the stuck
 * wait is reported and the call returns STATUS_TIMEOUT.
 */
NTSIM_API NTSTATUS NtsimStartService(const char *ServiceName);
/*
 * Stops the service (ZwUnloadDriver): STATUS_INVALID_DEVICE_REQUEST for a
 * PnP driver or one without DriverUnload, STATUS_DELETE_PENDING once
 * DriverUnload was called, else STATUS_SUCCESS with DriverUnload called now
 * or deferred until its devices have no open file objects and nothing
 * attached (a repeated stop of a deferred unload succeeds again).
 * DriverUnload runs on the system thread; if it gets stuck in a wait that
 * never ends, the stuck wait is reported and the call returns STATUS_TIMEOUT.
 */
NTSIM_API NTSTATUS NtsimStopService(const char *ServiceName);
/* Removes the service definition; the image stays as it is. */
NTSIM_API NTSTATUS NtsimDeleteService(const char *ServiceName);

/* ------------------------------------------------------------------ */
/* User-mode side                                                      */
/* ------------------------------------------------------------------ */

/*
 * Opens Path (a device name or symbolic link) like CreateFile: a file
 * object is created on the device, IRP_MJ_CREATE is sent, and on success a
 * user-mode handle is returned. Fails with the driver's status or with
 * STATUS_NO_SUCH_DEVICE / STATUS_DELETE_PENDING / STATUS_OBJECT_NAME_NOT_FOUND
 * as the I/O manager would.
 */
NTSIM_API NTSTATUS NtsimOpenFile(const char *Path, ACCESS_MASK DesiredAccess, PHANDLE Handle);
/* Closes a user-mode handle (IRP_MJ_CLEANUP on the last handle, IRP_MJ_CLOSE on the last reference). */
NTSIM_API NTSTATUS NtsimCloseHandle(HANDLE Handle);
/*
 * DeviceIoControl: sends IRP_MJ_DEVICE_CONTROL with IoControlCode and the
 * buffers (METHOD_BUFFERED semantics for every method), waits for
 * completion, and stores the byte count in *BytesReturned (may be NULL).
 */
NTSIM_API NTSTATUS NtsimDeviceIoControl(HANDLE Handle, ULONG IoControlCode, const void *InputBuffer,
                                        ULONG InputBufferLength, void *OutputBuffer,
                                        ULONG OutputBufferLength, ULONG *BytesReturned);

/* ------------------------------------------------------------------ */
/* Queries (for tests, expect lines and the demo)                      */
/* ------------------------------------------------------------------ */

typedef enum _NTSIM_IMAGE_STATE {
    NtsimImageNotLoaded,       /* never loaded, or unmapped */
    NtsimImageLoaded,          /* mapped, DriverUnload not called */
    NtsimImageUnloadPending,   /* legacy stop accepted, DriverUnload deferred */
    NtsimImageResidentAfterUnload, /* DriverUnload called, image still mapped */
} NTSIM_IMAGE_STATE;

typedef struct _NTSIM_IMAGE_INFO {
    NTSIM_IMAGE_STATE State;
    BOOLEAN Mapped;               /* observable with dl_iterate_phdr */
    BOOLEAN UnloadCalled;         /* DriverUnload of the current/last instance ran */
    BOOLEAN IsPnp;                /* DriverEntry set AddDevice */
    ULONG LoadCount;              /* successful loads so far */
    NTSTATUS LastLoadStatus;      /* status of the last start attempt */
    LONG_PTR DriverPointerCount;  /* driver object's pointer count, 0 when gone */
    ULONG DeviceCount;            /* devices on the driver's list */
    ULONG PoolAllocations;        /* outstanding pool blocks charged to the image */
    char ImagePath[512];
} NTSIM_IMAGE_INFO, *PNTSIM_IMAGE_INFO;

/* State of service ServiceName's image; STATUS_OBJECT_NAME_NOT_FOUND for an unknown service. */
NTSIM_API NTSTATUS NtsimQueryImage(const char *ServiceName, PNTSIM_IMAGE_INFO Info);

typedef struct _NTSIM_OBJECT_INFO {
    ULONG64 Id;                /* stable for the object's life, never reused */
    const char *TypeName;      /* "Device", "Driver", "File", ... */
    char Name[256];            /* NT path, or "" when unnamed */
    LONG_PTR PointerCount;
    LONG_PTR HandleCount;
    LONG ReferenceCount;       /* DEVICE_OBJECT.ReferenceCount, devices only */
    ULONG ExtensionFlags;      /* DOE_* for devices, DRVO_* for drivers */
    BOOLEAN Permanent;
} NTSIM_OBJECT_INFO, *PNTSIM_OBJECT_INFO;

/*
 * Describes a live object by pointer; STATUS_INVALID_PARAMETER when Object
 * is not a live object of the simulation. Takes no reference and records
 * nothing: safe to call from a tracer.
 */
NTSIM_API NTSTATUS NtsimQueryObject(PVOID Object, PNTSIM_OBJECT_INFO Info);
/*
 * The device object whose DeviceExtension range [DeviceExtension,
 * DeviceExtension + the extension size given to IoCreateDevice) contains
 * Address, among the devices not yet freed (deleted devices still
 * referenced included); NULL when none does (or Address is NULL). Takes
 * no reference, records nothing and takes only a lock private to this
 * query: safe to call from a tracer, from inside any libntsim call. E.g.
 * the device whose extension holds an IO_REMOVE_LOCK.
 */
NTSIM_API PVOID NtsimFindDeviceByExtensionAddress(PVOID Address);
/* What the simulation knows of a live KMDF object (NtsimQueryWdfObject). */
typedef struct _NTSIM_WDF_OBJECT_INFO {
    const char *KindName;      /* the WDK handle type: "WDFDEVICE", "WDFIOTARGET", ... */
    ULONG Flags;               /* NTSIM_WDF_* */
    PVOID Parent;              /* the parent's handle, NULL for a WDFDRIVER */
    PVOID WdmObject;           /* underneath: WDFDRIVER its DRIVER_OBJECT, WDFDEVICE its DEVICE_OBJECT,
                                  an open WDFIOTARGET its FILE_OBJECT, a WDFREQUEST its IRP; else NULL */
    PVOID DriverObject;        /* the DRIVER_OBJECT of the WDFDRIVER the object descends from (NULL if none) */
    LONG References;           /* the reference count, the creation's included until deletion */
    BOOLEAN Deleted;           /* deletion began (WdfObjectDelete or the framework's) */
} NTSIM_WDF_OBJECT_INFO, *PNTSIM_WDF_OBJECT_INFO;

#define NTSIM_WDF_CONTROL_DEVICE 0x1 /* WDFDEVICE made from WdfControlDeviceInitAllocate */
#define NTSIM_WDF_FILTER 0x2         /* WDFDEVICE of WdfFdoInitSetFilter */
#define NTSIM_WDF_PDO 0x4            /* WDFDEVICE of a PDO */
#define NTSIM_WDF_REMOTE_TARGET 0x8  /* WDFIOTARGET of WdfIoTargetCreate */

/*
 * Describes the live KMDF object of handle Object; STATUS_INVALID_PARAMETER
 * when Object is no live KMDF object. Takes no reference, records nothing:
 * safe to call from a tracer.
 */
NTSIM_API NTSTATUS NtsimQueryWdfObject(PVOID Object, PNTSIM_WDF_OBJECT_INFO Info);
/* Looks up a live object by NT path (links followed); no reference taken. NULL if absent. */
NTSIM_API PVOID NtsimLookupObject(const char *Path);

/* Calls Visit for every loaded image's service name; stops early when Visit returns FALSE. */
typedef BOOLEAN NTSIM_SERVICE_VISITOR(const char *ServiceName, PVOID Context);
NTSIM_API VOID NtsimEnumerateServices(NTSIM_SERVICE_VISITOR *Visit, PVOID Context);

/* ------------------------------------------------------------------ */
/* PnP (hardware, devnodes, removal) — libntsim PnP                    */
/* ------------------------------------------------------------------ */

/*
 * Describes hardware HardwareId: the function driver's service and the
 * upper and lower filter services (NULL-terminated arrays, may be NULL), in
 * load order. STATUS_OBJECT_NAME_COLLISION if already described.
 */
NTSIM_API NTSTATUS NtsimDefineHardware(const char *HardwareId, const char *FunctionService,
                                       const char *const *UpperFilters, const char *const *LowerFilters);

/* Why a removal was refused (PNP_VETO_TYPE values). */
typedef enum _PNP_VETO_TYPE {
    PNP_VetoTypeUnknown,
    PNP_VetoLegacyDevice,
    PNP_VetoPendingClose,
    PNP_VetoWindowsApp,
    PNP_VetoWindowsService,
    PNP_VetoOutstandingOpen,
    PNP_VetoDevice,
    PNP_VetoDriver,
    PNP_VetoIllegalDeviceRequest,
    PNP_VetoInsufficientPower,
    PNP_VetoNonDisableable,
    PNP_VetoLegacyDriver,
    PNP_VetoInsufficientRights,
    PNP_VetoAlreadyRemoved,
} PNP_VETO_TYPE, *PPNP_VETO_TYPE;

typedef struct _NTSIM_VETO {
    PNP_VETO_TYPE VetoType;
    char VetoName[256]; /* device instance, driver or application that vetoed */
} NTSIM_VETO, *PNTSIM_VETO;

/*
 * Plugs a device of HardwareId into the root bus under InstanceId (e.g.
 * "ROOT\\TOASTER\\0000"): creates the PDO and devnode, loads the filters and
 * function driver in order, calls AddDevice, starts the stack.
 */
NTSIM_API NTSTATUS NtsimPlugDevice(const char *HardwareId, const char *InstanceId);
/* Surprise-removes a device (unplug): IRP_MN_SURPRISE_REMOVAL now, REMOVE once its handles close. */
NTSIM_API NTSTATUS NtsimUnplugDevice(const char *InstanceId);
/* Disables a devnode (query-remove, then remove); on refusal fills *Veto and returns STATUS_PLUGPLAY_QUERY_VETOED. */
NTSIM_API NTSTATUS NtsimDisableDevice(const char *InstanceId, PNTSIM_VETO Veto);
/* Enables a disabled devnode again (drivers loaded, AddDevice, start). */
NTSIM_API NTSTATUS NtsimEnableDevice(const char *InstanceId);
/* CM_Request_Device_Eject: query-remove, remove, IRP_MN_EJECT; veto as for disable. */
NTSIM_API NTSTATUS NtsimEjectDevice(const char *InstanceId, PNTSIM_VETO Veto);
/*
 * Moves the machine to system power state State, as the power manager
 * does: for a sleep state (PowerSystemSleeping1..Hibernate) every started
 * devnode's stack gets IRP_MN_QUERY_POWER, children before parents, then
 * IRP_MN_SET_POWER; for PowerSystemWorking only IRP_MN_SET_POWER, parents
 * first. Each IRP is sent to the top of the stack and waited for (the
 * drivers request their device power IRPs meanwhile). A failed query
 * vetoes the transition: the devices already queried get SET_POWER for
 * PowerSystemWorking and the query's status is returned.
 * STATUS_INVALID_PARAMETER for another state.
 */
NTSIM_API NTSTATUS NtsimSetSystemPowerState(SYSTEM_POWER_STATE State);
/*
 * Waits until nothing queued is left to run: system worker threads (work
 * items, deferred deletes) and the PnP manager (IoInvalidateDeviceRelations,
 * REMOVE owed after the last close) are both idle. Returns early, after the
 * stuck-wait report, if the PnP manager is stuck in a driver.
 */
NTSIM_API VOID NtsimWaitIdle(void);
/*
 * TRUE when nothing queued is left to run at this instant (what
 * NtsimWaitIdle waits for). FALSE means state read now may still change
 * without the host doing anything: a work item's routine, the I/O
 * manager's release after it, or a PnP request is pending or running.
 */
NTSIM_API BOOLEAN NtsimIsIdle(void);

/* Devnode states (nt-semantics §5.2), with the values !devnode prints. X(name, value) */
#define NTSIM_DEVNODE_STATES(X)                \
    X(DeviceNodeUnspecified, 0x300)            \
    X(DeviceNodeUninitialized, 0x301)          \
    X(DeviceNodeInitialized, 0x302)            \
    X(DeviceNodeDriversAdded, 0x303)           \
    X(DeviceNodeResourcesAssigned, 0x304)      \
    X(DeviceNodeStartPending, 0x305)           \
    X(DeviceNodeStartCompletion, 0x306)        \
    X(DeviceNodeStartPostWork, 0x307)          \
    X(DeviceNodeStarted, 0x308)                \
    X(DeviceNodeQueryStopped, 0x309)           \
    X(DeviceNodeStopped, 0x30a)                \
    X(DeviceNodeRestartCompletion, 0x30b)      \
    X(DeviceNodeEnumeratePending, 0x30c)       \
    X(DeviceNodeEnumerateCompletion, 0x30d)    \
    X(DeviceNodeAwaitingQueuedDeletion, 0x30e) \
    X(DeviceNodeAwaitingQueuedRemoval, 0x30f)  \
    X(DeviceNodeQueryRemoved, 0x310)           \
    X(DeviceNodeRemovePendingCloses, 0x311)    \
    X(DeviceNodeRemoved, 0x312)                \
    X(DeviceNodeDeletePendingCloses, 0x313)    \
    X(DeviceNodeDeleted, 0x314)

#define NTSIM_DEVNODE_STATE_ENUM_(name, value) name = value,
typedef enum _PNP_DEVNODE_STATE { NTSIM_DEVNODE_STATES(NTSIM_DEVNODE_STATE_ENUM_) } PNP_DEVNODE_STATE;
#undef NTSIM_DEVNODE_STATE_ENUM_

/* Devnode problem codes the simulation sets (CM_PROB_* values). */
#define CM_PROB_FAILED_START 0x0000000A
#define CM_PROB_FAILED_ADD 0x0000001F
#define CM_PROB_DISABLED 0x00000016
#define CM_PROB_DRIVER_FAILED_PRIOR_UNLOAD 0x00000026
#define CM_PROB_FAILED_INSTALL 0x0000001C

typedef struct _NTSIM_DEVNODE_INFO {
    ULONG State;                  /* PNP_DEVNODE_STATE */
    ULONG PreviousState;
    ULONG Problem;                /* CM_PROB_*, 0 when none */
    BOOLEAN InTree;               /* FALSE once deleted (the record lives until its PDO is freed) */
    BOOLEAN Disabled;
    BOOLEAN ReportedMissing;
    BOOLEAN Raw;
    PVOID PhysicalDeviceObject;   /* no reference taken */
    ULONG ChildCount;
    char HardwareId[200];
    char ParentInstanceId[200];   /* "" for children of the root */
    BOOLEAN HasVeto;
    NTSIM_VETO LastVeto;          /* the last refusal of a removal of this devnode */
} NTSIM_DEVNODE_INFO, *PNTSIM_DEVNODE_INFO;

/*
 * Describes the devnode InstanceId (case-insensitive); STATUS_NO_SUCH_DEVICE
 * when no devnode of that instance exists. Takes no reference, records nothing.
 */
NTSIM_API NTSTATUS NtsimQueryDevnode(const char *InstanceId, PNTSIM_DEVNODE_INFO Info);
/* "DeviceNodeStarted" for 0x308 ..., or NULL for an unknown value. */
NTSIM_API const char *NtsimDevnodeStateName(ULONG State);
/* "PNP_VetoOutstandingOpen" for PNP_VetoOutstandingOpen ..., or NULL. */
NTSIM_API const char *NtsimVetoTypeName(PNP_VETO_TYPE VetoType);

/*
 * User-mode handle notification (RegisterDeviceNotification with
 * DBT_DEVTYP_HANDLE): Callback is called with GUID_TARGET_DEVICE_QUERY_REMOVE,
 * _REMOVE_CANCELLED or _REMOVE_COMPLETE for the device the handle is open
 * on. Returning FALSE from a QUERY_REMOVE vetoes (PNP_VetoWindowsApp).
 */
typedef BOOLEAN NTSIM_HANDLE_NOTIFY(HANDLE Handle, const GUID *Event, PVOID Context);
NTSIM_API NTSTATUS NtsimRegisterHandleNotification(HANDLE Handle, NTSIM_HANDLE_NOTIFY *Callback, PVOID Context,
                                                   PVOID *Registration);
NTSIM_API NTSTATUS NtsimUnregisterHandleNotification(PVOID Registration);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_NTSIM_H */
