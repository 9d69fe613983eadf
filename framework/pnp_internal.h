/*
 * pnp_internal.h - contracts between the PnP-side files of libntsim: the PnP
 * manager (pnp_*.c), remove locks (io_remlock.c), run-down protection
 * (ex_rundown.c), notifications and device interfaces (io_notify.c), query
 * interfaces and the call-into-unloaded guard (io_interface.c) and the
 * stream class (strmclass.c). Everything here is hidden. The core's
 * contracts (objects, devices, drivers, IRPs, waits) are in ntsim_internal.h.
 */
#ifndef NTSIM_PNP_INTERNAL_H
#define NTSIM_PNP_INTERNAL_H

#include "ntsim_internal.h"
#include "wdmguid.h"

/* ====================================================================== */
/* Waits that report who holds what (io_remlock.c)                        */
/* ====================================================================== */

/* Writes a description of the holders of a guarded object into Buffer (called only when a wait is stuck). */
typedef VOID IOP_DESCRIBE_HOLDERS(PVOID Object, char *Buffer, size_t Size);

/*
 * Waits for Event forever, like an infinite KeWaitForSingleObject, except
 * that once the stuck-wait limit passes it describes the holders (Describe)
 * and reports through the exported KiReportStuckWait with Object; then the
 * policy applies: NtsimStuckReportAndExit ends the process, otherwise the
 * thread keeps waiting (the callers - remove-lock and run-down waits - have
 * no failure status, and returning would let a driver free what is still in
 * use). Returns only when Event is signalled.
 */
NTSIM_HIDDEN VOID IopWaitReportingHolders(PKEVENT Event, PVOID Object, IOP_DESCRIBE_HOLDERS *Describe);

/*
 * Describes where Address lives for a report ("in the extension of
 * \Device\X (driver Y)" plus, during IRP_MN_REMOVE_DEVICE, whether the IRP
 * was already passed below that device). Empty when unknown. pnp_report.c.
 */
NTSIM_HIDDEN VOID PipDescribeAddressContext(const void *Address, char *Buffer, size_t Size);

/* Describes a code address as "image.so!symbol+0x12" or "image.so+0x1234" (io_interface.c). */
NTSIM_HIDDEN VOID IopDescribeCodeAddress(const void *Address, char *Buffer, size_t Size);

/* Monotonic milliseconds, for hold times in reports. */
NTSIM_HIDDEN ULONG64 IopNowMs(void);

/* ====================================================================== */
/* Devnodes (pnp_devnode.c)                                               */
/* ====================================================================== */

/* A hardware description from NtsimDefineHardware. */
typedef struct _PIP_HARDWARE {
    struct _PIP_HARDWARE *Next;
    char *HardwareId;
    char *FunctionService;       /* NULL: raw (bus-enumerated raw PDOs only) */
    char **UpperFilters;         /* NULL-terminated, malloc'd */
    char **LowerFilters;
} PIP_HARDWARE;

/* One loaded driver of a devnode's stack (the PnP manager's record, no reference held). */
#define PIP_MAX_STACK_DRIVERS 16

/* A devnode (ReactOS DEVICE_NODE): one per PDO the PnP manager knows. Guarded by PiTreeLock. */
typedef struct _DEVICE_NODE {
    struct _DEVICE_NODE *Parent;
    struct _DEVICE_NODE *Child;   /* first child */
    struct _DEVICE_NODE *Sibling; /* next sibling */
    struct _DEVICE_NODE *NextAll; /* every devnode ever created and not yet freed */
    PDEVICE_OBJECT PhysicalDeviceObject; /* the devnode's pointer reference is held while InTree */
    char *InstanceId;
    char *HardwareId;
    ULONG State;                 /* DEVICE_NODE_STATE */
    ULONG PreviousState;
    ULONG Problem;               /* CM_PROB_* */
    PNP_DEVICE_STATE PnpState;   /* last IRP_MN_QUERY_PNP_DEVICE_STATE answer */
    BOOLEAN InTree;              /* linked under its parent, PDO referenced */
    BOOLEAN Disabled;            /* disabled by the host: not restarted by enumeration */
    BOOLEAN ReportedMissing;     /* absent from the parent's latest BusRelations */
    BOOLEAN Raw;                 /* RawDeviceOK and no function driver */
    BOOLEAN EjectSupported;
    BOOLEAN RootEnumerated;
    BOOLEAN PresentOnRoot;       /* root bus: the device is plugged */
    NTSIM_VETO LastVeto;         /* the last veto of a removal of this devnode */
    BOOLEAN HasVeto;
} DEVICE_NODE, *PDEVICE_NODE;

/* Guards the devnode tree and the hardware list. Never held while calling a driver. */
extern NTSIM_HIDDEN pthread_mutex_t PiTreeLock;
extern NTSIM_HIDDEN PDEVICE_NODE PipRootNode;

/* Creates the root devnode, the PnP root driver and the hooks, once. */
NTSIM_HIDDEN VOID PipInitializePnp(void);
/* The devnode of a PDO (or of the PDO at the bottom of DeviceObject's stack), or NULL. */
NTSIM_HIDDEN PDEVICE_NODE PipGetDevnode(PDEVICE_OBJECT DeviceObject);
/* The bottom of DeviceObject's stack (database lock taken inside). */
NTSIM_HIDDEN PDEVICE_OBJECT PipGetStackBottom(PDEVICE_OBJECT DeviceObject);
/* The in-tree devnode with InstanceId (case-insensitive), or NULL. PiTreeLock held by the caller. */
NTSIM_HIDDEN PDEVICE_NODE PipFindDevnodeLocked(const char *InstanceId);
/* A new devnode for Pdo under Parent (Pdo's reference becomes the devnode's). */
NTSIM_HIDDEN PDEVICE_NODE PipCreateDevnode(PDEVICE_NODE Parent, PDEVICE_OBJECT Pdo, const char *HardwareId,
                                           const char *InstanceId);
/* Unlinks Node from the tree and drops its PDO reference (the devnode is freed with the PDO). */
NTSIM_HIDDEN VOID PipDeleteDevnode(PDEVICE_NODE Node);
/* Moves Node to NewState, reporting it through PipNoteDevnodeState. */
NTSIM_HIDDEN VOID PipSetDevnodeState(PDEVICE_NODE Node, ULONG NewState);
/* The hardware description for HardwareId, or NULL (PiTreeLock held). */
NTSIM_HIDDEN PIP_HARDWARE *PipFindHardwareLocked(const char *HardwareId);
/* Devnode state name ("DeviceNodeStarted"), or NULL. */
NTSIM_HIDDEN const char *PipDevnodeStateName(ULONG State);
/* Collects the subtree of Node, children before parents (post-order), into Nodes (max Capacity). */
NTSIM_HIDDEN ULONG PipCollectSubtree(PDEVICE_NODE Node, PDEVICE_NODE *Nodes, ULONG Capacity);
/* Devices of Node's stack, top first (database lock taken inside); returns the count. */
NTSIM_HIDDEN ULONG PipSnapshotStack(PDEVICE_NODE Node, PDEVICE_OBJECT *Devices, ULONG Capacity);

#define PIP_MAX_SUBTREE 64
#define PIP_MAX_STACK 16

/* ====================================================================== */
/* PnP IRPs (pnp_irp.c)                                                   */
/* ====================================================================== */

/* Sends IRP_MJ_PNP/MinorFunction to the top of Node's stack and waits; every device is noted first. */
NTSIM_HIDDEN NTSTATUS PipSendPnpIrp(PDEVICE_NODE Node, UCHAR MinorFunction, const IO_STACK_LOCATION *Parameters,
                                    PULONG_PTR Information);
/*
 * PipSendPnpIrp that also stores in *FailedDevice (may be NULL) the device
 * of Node's stack whose driver failed the IRP (completed it with a failure
 * status, or turned it into one in a completion routine), NULL when the IRP
 * succeeded, nobody completed it with a failure, or that device is no
 * longer in the stack. No reference is taken.
 */
NTSIM_HIDDEN NTSTATUS PipSendPnpIrpEx(PDEVICE_NODE Node, UCHAR MinorFunction, const IO_STACK_LOCATION *Parameters,
                                      PULONG_PTR Information, PDEVICE_OBJECT *FailedDevice);
/* IRP_MN_QUERY_DEVICE_RELATIONS of Type to the stack of Node; the caller frees *Relations with ExFreePool. */
NTSIM_HIDDEN NTSTATUS PipQueryDeviceRelations(PDEVICE_NODE Node, DEVICE_RELATION_TYPE Type,
                                              PDEVICE_RELATIONS *Relations);
/* IRP_MN_QUERY_ID: a malloc'd UTF-8 copy of the answer, or NULL. */
NTSIM_HIDDEN char *PipQueryId(PDEVICE_NODE Node, BUS_QUERY_ID_TYPE IdType);
/* IRP_MN_QUERY_CAPABILITIES into Node's flags; returns RawDeviceOK. */
NTSIM_HIDDEN BOOLEAN PipQueryCapabilities(PDEVICE_NODE Node);
/* IRP_MN_QUERY_PNP_DEVICE_STATE into Node->PnpState. */
NTSIM_HIDDEN VOID PipQueryPnpDeviceState(PDEVICE_NODE Node);

/* ====================================================================== */
/* Start, removal, enumeration (pnp_start.c, pnp_remove.c, pnp_enum.c)    */
/* ====================================================================== */

/* Loads the drivers of Node (lower filters, function driver, upper filters), AddDevice, START. */
NTSIM_HIDDEN NTSTATUS PipStartDevnode(PDEVICE_NODE Node);
/*
 * Orderly removal of Node's subtree (disable, eject): notifications,
 * QUERY_REMOVE, vetoes, CANCEL_REMOVE or REMOVE_COMPLETE + REMOVE.
 * STATUS_PLUGPLAY_QUERY_VETOED with *Veto filled when refused.
 */
NTSIM_HIDDEN NTSTATUS PipQueryRemoveAndRemove(PDEVICE_NODE Node, PNTSIM_VETO Veto, BOOLEAN Eject);
/* Surprise removal of Node's subtree; REMOVE now or once every file object on the stacks is closed. */
NTSIM_HIDDEN VOID PipSurpriseRemove(PDEVICE_NODE Node);
/* Sends the REMOVE owed to devnodes whose handles have all closed (pending closes); TRUE if any was sent. */
NTSIM_HIDDEN BOOLEAN PipProcessPendingCloses(void);
/* TRUE when some devnode waits for closes. */
NTSIM_HIDDEN BOOLEAN PipAnyPendingCloses(void);
/* IRP_MN_REMOVE_DEVICE to Node's stack, state Removed, then PipFinishRemovedDevnode. */
NTSIM_HIDDEN VOID PipSendRemove(PDEVICE_NODE Node);
/* TRUE when Node is in the tree with a live stack (not removed, not waiting for closes). */
NTSIM_HIDDEN BOOLEAN PipIsActive(PDEVICE_NODE Node);
/* After Node's stack handled its last REMOVE: forget a missing (deleted) child, keep a present one. */
NTSIM_HIDDEN VOID PipFinishRemovedDevnode(PDEVICE_NODE Node);
/* IRP_MN_QUERY_DEVICE_RELATIONS/BusRelations to Node and processing of the answer. */
NTSIM_HIDDEN VOID PipEnumerateDevnode(PDEVICE_NODE Node);

/* ====================================================================== */
/* The PnP worker (pnp_worker.c)                                          */
/* ====================================================================== */

typedef enum _PIP_REQUEST_KIND {
    PipRequestPlug,
    PipRequestUnplug,
    PipRequestDisable,
    PipRequestEnable,
    PipRequestEject,
    PipRequestEnumerate,
    PipRequestDeviceState,
    PipRequestProcessCloses,
    PipRequestCall, /* a routine of another subsystem run on this thread (PipCallOnPnpThread) */
} PIP_REQUEST_KIND;

/* Queues a request for the PnP worker; with Wait, waits for it (stuck-aware) and returns its status. */
NTSIM_HIDDEN NTSTATUS PipQueueRequest(PIP_REQUEST_KIND Kind, const char *Text1, const char *Text2,
                                      PDEVICE_OBJECT Device, PNTSIM_VETO Veto, BOOLEAN Wait);
/* Called by a stuck remove-lock or run-down wait: releases a host waiting on the current PnP request. */
NTSIM_HIDDEN VOID PipNoteCurrentThreadStuck(void);
/* TRUE on the PnP worker thread. */
NTSIM_HIDDEN BOOLEAN PipIsPnpWorkerThread(void);

/* ====================================================================== */
/* Notifications and device interfaces (io_notify.c)                      */
/* ====================================================================== */

/*
 * Delivers a target-device event (GUID_TARGET_DEVICE_*) for Node to kernel
 * registrants on its PDO and to user-mode handle registrations. For
 * QUERY_REMOVE, returns FALSE on the first refusal with *Veto filled
 * (PNP_VetoDriver / PNP_VetoWindowsApp); other events always return TRUE.
 */
NTSIM_HIDDEN BOOLEAN IopNotifyTargetDevice(PDEVICE_NODE Node, const GUID *Event, PNTSIM_VETO Veto);
/* Disables every enabled interface of Node's PDO (removal). */
NTSIM_HIDDEN VOID IopDisableDevnodeInterfaces(PDEVICE_NODE Node);
/* Drops the registrations' references that pin Node's PDO for user mode after REMOVE_COMPLETE. */
NTSIM_HIDDEN VOID IopReleaseHandleRegistrations(PDEVICE_NODE Node);

/* ====================================================================== */
/* The root bus (pnp_root.c)                                              */
/* ====================================================================== */

/* The PnP manager's own driver object (\Driver\PnpManager), owner of root-enumerated PDOs. */
extern NTSIM_HIDDEN PDRIVER_OBJECT PipRootDriver;
/* Creates the driver object; called once by PipInitializePnp. */
NTSIM_HIDDEN VOID PipCreateRootDriver(void);
/* Creates a root-enumerated PDO (one keep-alive reference, one "reported" reference for the devnode). */
NTSIM_HIDDEN NTSTATUS PipCreateRootPdo(PDEVICE_OBJECT *Pdo);
/* Marks a root PDO present or missing for the next root enumeration. */
NTSIM_HIDDEN VOID PipSetRootPdoPresent(PDEVICE_OBJECT Pdo, BOOLEAN Present);
/* TRUE while a root PDO is plugged (not unplugged, not ejected). */
NTSIM_HIDDEN BOOLEAN PipIsRootPdoPresent(PDEVICE_OBJECT Pdo);
/* IDs the root bus answers for one of its PDOs. */
NTSIM_HIDDEN VOID PipSetRootPdoIds(PDEVICE_OBJECT Pdo, const char *HardwareId, const char *InstanceId);

#endif /* NTSIM_PNP_INTERNAL_H */
