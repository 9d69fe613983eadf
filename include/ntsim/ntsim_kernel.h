/*
 * ntsim_kernel.h - exported kernel-internal entry points of libntsim.
 *
 * Not part of the WDK. These are the points where the simulated kernel
 * does, on its own behalf, something that decides an object's or an
 * image's fate: creating an object, opening or closing a handle, changing
 * a device's ReferenceCount, mapping and unmapping an image, calling
 * DriverEntry and DriverUnload, recording a write of DriverUnload,
 * reporting a stuck wait. The framework calls each of them through its
 * exported (interposable) symbol, never directly, so a library preloaded
 * with LD_PRELOAD sees every one of them with the caller's stack; the
 * interposition test proves it. Drivers must not call them.
 *
 * Counts returned are the values after the operation, so a tracer never
 * has to re-read an object that may already be gone.
 */
#ifndef NTSIM_NTSIM_KERNEL_H
#define NTSIM_NTSIM_KERNEL_H

#include "wdm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- object manager --------------------------------------------- */

/*
 * Creates an object of ObjectType with a zeroed body of BodySize bytes and
 * pointer count 1 (the creator's reference). With a non-NULL ObjectName
 * the object is inserted in the namespace (one more pointer reference,
 * held by the directory); OBJ_PERMANENT keeps it there until
 * ObMakeTemporaryObject. STATUS_OBJECT_NAME_COLLISION if the name exists.
 */
NTKERNELAPI NTSTATUS ObCreateObject(POBJECT_TYPE ObjectType, PCUNICODE_STRING ObjectName, ULONG Attributes,
                                    ULONG BodySize, PVOID *Object);
/*
 * Creates a handle to Object in the current (simulated) process: handle
 * count +1 and pointer count +1 (the handle's reference).
 * Signature as NT's ObOpenObjectByPointer.
 */
NTKERNELAPI NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PVOID PassedAccessState,
                                           ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                           KPROCESSOR_MODE AccessMode, PHANDLE Handle);

/* ---- I/O manager ------------------------------------------------ */

/* An open was admitted on DeviceObject: ReferenceCount +1; returns the new ReferenceCount. */
NTKERNELAPI LONG IopReferenceDeviceObject(PDEVICE_OBJECT DeviceObject);
/*
 * A file object on DeviceObject is gone (or its create failed):
 * ReferenceCount -1, then the pending delete or unload of the device is
 * completed if nothing else holds it. Returns the new ReferenceCount.
 */
NTKERNELAPI LONG IopDereferenceDeviceObject(PDEVICE_OBJECT DeviceObject);

/* ---- image loader and driver lifecycle -------------------------- */

/*
 * Maps the driver image at ImagePath (dlopen). STATUS_IMAGE_ALREADY_LOADED
 * when an image with the same path is still mapped; STATUS_DLL_NOT_FOUND
 * or STATUS_INVALID_IMAGE_FORMAT when it cannot be mapped. *ImageHandle is
 * the loader's handle, *ImageBase the load address.
 */
NTKERNELAPI NTSTATUS MmLoadSystemImage(const char *ImagePath, PVOID *ImageHandle, PVOID *ImageBase);
/* Unmaps an image mapped by MmLoadSystemImage (dlclose). Called only when its driver object is freed. */
NTKERNELAPI NTSTATUS MmUnloadSystemImage(PVOID ImageHandle);

/* Loads a service's driver; DriverServiceName is the registry path ...\Services\<name>. */
NTSYSAPI NTSTATUS ZwLoadDriver(PUNICODE_STRING DriverServiceName);
/* Requests a legacy unload of a service's driver; statuses as NtsimStopService. */
NTSYSAPI NTSTATUS ZwUnloadDriver(PUNICODE_STRING DriverServiceName);

/*
 * Runs a dequeued work item on a worker thread: calls Routine(DeviceObject,
 * Context), or RoutineEx(DeviceObject, Context, IoWorkItem), then drops the
 * reference IoQueueWorkItem(Ex) took on DeviceObject. The routine may free
 * or requeue the item.
 */
NTKERNELAPI VOID IopCallWorkItemRoutine(PIO_WORKITEM IoWorkItem, PDEVICE_OBJECT DeviceObject,
                                        PIO_WORKITEM_ROUTINE Routine, PIO_WORKITEM_ROUTINE_EX RoutineEx,
                                        PVOID Context);
/* Calls the image's DriverEntry; returns its status. */
NTKERNELAPI NTSTATUS IopCallDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);
/* Sets DRVO_UNLOAD_INVOKED and calls DriverObject->DriverUnload (the caller checked it is not NULL). */
NTKERNELAPI VOID IopCallDriverUnload(PDRIVER_OBJECT DriverObject);
/*
 * Records that DriverObject->DriverUnload changes from OldRoutine to
 * NewRoutine; the caller's stack says who wrote it. The framework calls it
 * when DriverEntry returns with a routine set, and class libraries call it
 * before they overwrite the field.
 */
NTKERNELAPI VOID IopNoteDriverUnloadWrite(PDRIVER_OBJECT DriverObject, PDRIVER_UNLOAD OldRoutine,
                                          PDRIVER_UNLOAD NewRoutine);

/* ---- waits ------------------------------------------------------ */

/*
 * Reports that the calling thread has waited WaitedMs on Object (a KEVENT,
 * a remove lock or a run-down reference, described by What) past the
 * stuck-wait limit. Returns after reporting; the policy decides what
 * follows.
 */
NTKERNELAPI VOID KiReportStuckWait(PVOID Object, const char *What, ULONG WaitedMs);

/* ---- remove locks (io_remlock.c) -------------------------------- */

/* What IopReportRemoveLockMisuse reports (the checked build's assertions). */
#define NTSIM_REMLOCK_UNKNOWN_TAG 1    /* release of a tag that holds no acquisition (Value = IoCount) */
#define NTSIM_REMLOCK_HIGH_WATERMARK 2 /* more acquisitions outstanding than HighWatermark (Value = count) */
#define NTSIM_REMLOCK_HELD_TOO_LONG 3  /* an acquisition held longer than MaxLockedMinutes (Value = ms held) */
#define NTSIM_REMLOCK_OVER_RELEASE 4   /* more releases than acquisitions (Value = IoCount it would have) */
#define NTSIM_REMLOCK_WAIT_NOT_HELD 5  /* IoReleaseRemoveLockAndWait by a caller holding no acquisition */

/*
 * Reports a misuse of remove lock Lock found by the checked-build tracking:
 * Kind is an NTSIM_REMLOCK_* value, Tag the tag concerned, File/Line the
 * acquisition site when one is known (else NULL/0). Prints one line on
 * stderr and returns; the lock stays usable (as after an ignored assertion).
 */
NTKERNELAPI VOID IopReportRemoveLockMisuse(PIO_REMOVE_LOCK Lock, ULONG Kind, PVOID Tag, PCSTR File, ULONG Line,
                                           ULONG64 Value);

/* ---- PnP manager (pnp_*.c, io_interface.c) ---------------------- */

/*
 * The PnP manager is about to send PnP IRP MinorFunction (Parameter: the
 * relation type for IRP_MN_QUERY_DEVICE_RELATIONS, else 0) to the stack of
 * PhysicalDeviceObject. Called once for EVERY device of the stack, top
 * first, right before the IRP is sent, while all of them are alive; so a
 * tracer sees which devices (and so which drivers) were asked.
 */
NTKERNELAPI VOID PipNotePnpIrpSent(PDEVICE_OBJECT DeviceObject, PDEVICE_OBJECT PhysicalDeviceObject,
                                   UCHAR MinorFunction, ULONG Parameter);
/*
 * The PnP IRP MinorFunction sent to PhysicalDeviceObject's stack completed
 * with Status. Not called when the IRP never completes (a stuck wait is
 * reported instead). The PDO is alive (the PnP manager holds it).
 */
NTKERNELAPI VOID PipNotePnpIrpCompleted(PDEVICE_OBJECT PhysicalDeviceObject, UCHAR MinorFunction, NTSTATUS Status);
/*
 * A query-remove (disable, eject, IoRequestDeviceEject) of the devnode of
 * PhysicalDeviceObject was vetoed: VetoType is a PNP_VETO_TYPE (ntsim.h),
 * VetoName the device instance, driver or application that vetoed, and
 * VetoingDevice the device blamed: for PNP_VetoDevice the device whose
 * driver failed IRP_MN_QUERY_REMOVE_DEVICE (the current stack location's
 * device when the IRP was completed with the failure status, or the device
 * whose completion routine turned it into one; the failing stack's PDO
 * when no driver did), for PNP_VetoOutstandingOpen the device with an open
 * file object, the PDO for application, callback and non-disableable
 * vetoes. VetoName follows Windows: the device instance path for
 * PNP_VetoDevice and PNP_VetoOutstandingOpen, the driver for PNP_VetoDriver.
 */
NTKERNELAPI VOID PipNoteVeto(PDEVICE_OBJECT PhysicalDeviceObject, PDEVICE_OBJECT VetoingDevice, ULONG VetoType,
                             const char *VetoName);
/*
 * The devnode InstanceId of PhysicalDeviceObject goes from OldState to
 * NewState (DEVICE_NODE_STATE values, ntsim.h: DeviceNodeStarted 0x308 ...).
 */
NTKERNELAPI VOID PipNoteDevnodeState(PDEVICE_OBJECT PhysicalDeviceObject, const char *InstanceId, ULONG OldState,
                                     ULONG NewState);
/*
 * IRP_MN_QUERY_INTERFACE sent to DeviceObject's stack for InterfaceType
 * completed with Status; on success Interface was filled in by the driver
 * that answered (AnsweringDevice, NULL when unknown) and references it on
 * the requester's behalf. NoOpReferences is TRUE when the interface's
 * reference functions are WdfDeviceInterfaceReferenceNoOp/DereferenceNoOp
 * (nothing keeps the exporter). Irp is the requester's IRP being completed
 * (alive for the call; the one the requester passed to IoCallDriver).
 * Called by the PnP side (io_interface.c) from the I/O manager's completion
 * path, so the caller's stack is the completing driver's, above the
 * requester's frames only when the completion is synchronous.
 */
NTKERNELAPI VOID IopNoteInterfaceHandedOut(PDEVICE_OBJECT DeviceObject, PDEVICE_OBJECT AnsweringDevice,
                                           const GUID *InterfaceType, PINTERFACE Interface, NTSTATUS Status,
                                           BOOLEAN NoOpReferences, PIRP Irp);

/* ---- KMDF objects (wdf_object.c) ------------------------------------ */

/* Why a KMDF object's creation reference goes (FxReleaseCreation). */
#define FX_DELETE_BY_DRIVER 0    /* WdfObjectDelete */
#define FX_DELETE_WITH_PARENT 1  /* its parent's deletion */
#define FX_DELETE_BY_FRAMEWORK 2 /* the framework's own: device removal, request done, driver unload */

/* Why an I/O target lets its file object go (FxCloseIoTarget). */
#define FX_CLOSE_BY_DRIVER 1    /* WdfIoTargetClose */
#define FX_CLOSE_QUERY_REMOVE 2 /* the target device's query-remove */
#define FX_CLOSE_REMOVE 3       /* the target device's removal */
#define FX_CLOSE_DELETED 4      /* the target object's deletion */

/*
 * A KMDF object (Object, a WDF handle) is complete: its kind, parent and
 * the WDM object underneath can be asked (NtsimQueryWdfObject). Called
 * once per object by the function that created it, before the handle is
 * returned to the driver.
 */
NTKERNELAPI VOID FxObjectCreated(PVOID Object);
/*
 * Drops the creation reference of Object, one object of a deletion (its
 * EvtCleanupCallback ran); Why is FX_DELETE_*. Returns the references left
 * (0: the object was destroyed inside the call).
 */
NTKERNELAPI LONG FxReleaseCreation(PVOID Object, ULONG Why);
/* Runs Object's cleanup (Cleanup may be NULL: nothing runs) in the first phase of a deletion. */
NTKERNELAPI VOID FxCallCleanup(PVOID Object, PVOID Cleanup);
/* Object's last reference went: its kind's release, EvtDestroyCallback (may be NULL), its memory freed. */
NTKERNELAPI VOID FxDestroyObject(PVOID Object, PVOID Destroy);
/*
 * An open I/O target lets its file object go (Why is FX_CLOSE_*); nothing
 * happens for a target not open.
 */
NTKERNELAPI VOID FxCloseIoTarget(PVOID IoTarget, ULONG Why);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_NTSIM_KERNEL_H */
