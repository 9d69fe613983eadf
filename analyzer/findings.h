/*
 * findings.h - the finding ids of DESIGN §2.3: one X-macro table with each
 * id's stable name, its rank (root causes sort before what they cause),
 * what it means and what usually fixes it. doc/findings.md documents the
 * same table; a test checks the two agree.
 */
#ifndef OBTRACE_FINDINGS_H
#define OBTRACE_FINDINGS_H

/* X(enum, "id", rank, "meaning", "usual fix") */
#define FINDINGS(X)                                                                                         \
    X(F_TRACE_INCOMPLETE, "trace-incomplete", 0,                                                            \
      "the trace ends without its end record (crash, kill) or lost events; the verdict covers what was seen", \
      "rerun to completion; give the tracer more buffer space if events were dropped")                      \
    X(F_STOP_REFUSED_PNP, "stop-refused-pnp", 1,                                                            \
      "a service stop was sent to a PnP driver, which the OS refuses",                                      \
      "unload a PnP driver by removing its devices: disable, eject or unplug each of them")                 \
    X(F_REMOVE_LOCK_WAIT, "remove-lock-wait", 2,                                                            \
      "IoReleaseRemoveLockAndWait / ExWaitForRundownProtectionRelease never returned; acquisitions still held", \
      "release the remove lock on every path that acquired it (completion routines, error paths)")          \
    X(F_OPEN_HANDLE, "open-handle", 3,                                                                      \
      "a handle or file object on a device of the image is still open",                                     \
      "close the handle (or dereference the file object from IoGetDeviceObjectPointer)")                    \
    X(F_WDF_IOTARGET_OPEN, "wdf-iotarget-open", 4,                                                          \
      "a KMDF remote I/O target is still open: its file object holds another driver's device",              \
      "WdfIoTargetClose the target when done, and in its EvtIoTargetQueryRemove (WdfIoTargetCloseForQueryRemove)") \
    X(F_UNDELETED_DEVICE, "undeleted-device", 5,                                                            \
      "a device object was never passed to IoDeleteDevice",                                                 \
      "delete the device when it is removed (or, for a control device, when the last PnP device goes)")     \
    X(F_WDF_CONTROL_DEVICE, "wdf-control-device", 6,                                                        \
      "a KMDF control device was never deleted (WdfObjectDelete): the framework does not delete it for a PnP driver", \
      "WdfObjectDelete the control device in the EvtCleanupCallback of the driver's last WDFDEVICE")         \
    X(F_LEAKED_REFERENCE, "leaked-reference", 7,                                                            \
      "pointer references are still held on a device, file or driver object (also by an unloaded image)",   \
      "add the missing ObDereferenceObject on the path that took the reference")                            \
    X(F_WDF_LEAKED_REFERENCE, "wdf-leaked-reference", 8,                                                    \
      "a KMDF object reference the driver took (WdfObjectReference[WithTag]) was never dereferenced",       \
      "add the missing WdfObjectDereference[WithTag] (same tag) on the path that took the reference")       \
    X(F_NOTIFICATION_REGISTERED, "notification-registered", 9,                                              \
      "an IoRegisterPlugAndPlayNotification registration was never undone",                                 \
      "call IoUnregisterPlugPlayNotificationEx before unload (and on GUID_TARGET_DEVICE_REMOVE_COMPLETE)")    \
    X(F_UNLOAD_NOT_REQUESTED, "unload-not-requested", 10,                                                    \
      "nothing asked for the image to go (service never stopped, device never removed)",                    \
      "stop the service (legacy driver) or remove the device (PnP driver)")                                 \
    X(F_UNLOAD_DEFERRED, "unload-deferred", 11,                                                              \
      "a stop was accepted but the unload waits for open handles or a device attached above",               \
      "close the handles on the driver's devices and detach other drivers' devices")                        \
    X(F_REMOVE_LOCK_UNBALANCED, "remove-lock-unbalanced", 12,                                                \
      "a remove lock was acquired without release, or released with a tag never acquired",                 \
      "pass the same tag to IoAcquireRemoveLock and IoReleaseRemoveLock on every path")                     \
    X(F_UNLOAD_ROUTINE_REPLACED, "unload-routine-replaced", 13,                                             \
      "DriverUnload was overwritten after the driver set it; the driver's own cleanup never runs",          \
      "set DriverUnload after the class library's registration call, or chain to it")                       \
    X(F_NO_UNLOAD_ROUTINE, "no-unload-routine", 14,                                                         \
      "the driver has no DriverUnload, so it can never unload",                                             \
      "set DriverObject->DriverUnload in DriverEntry")                                                      \
    X(F_INTERFACE_OUTLIVED, "interface-outlived", 15,                                                       \
      "an interface from IRP_MN_QUERY_INTERFACE was still held by another stack when its exporter went away", \
      "count interface references for requesters in other stacks, and dereference on target query-remove") \
    X(F_POOL_LEAK, "pool-leak", 16,                                                                         \
      "pool allocations of the image were not freed by the time it unloaded",                               \
      "free the allocation on the path that ends its use, at the latest in DriverUnload")                   \
    X(F_DOUBLE_RELEASE, "double-release", 17,                                                               \
      "a dereference, close or delete with no matching reference",                                          \
      "remove the extra release, or take the reference it releases")                                        \
    X(F_WDF_UNKNOWN_TAG, "wdf-unknown-tag", 18,                                                             \
      "WdfObjectDereferenceWithTag with a tag no outstanding reference had (the KMDF verifier breaks here)",  \
      "dereference with the tag the reference was taken with")                                              \
    X(F_CALL_INTO_UNLOADED, "call-into-unloaded", 19,                                                       \
      "a callback or interface function of an unmapped image was invoked",                                  \
      "cancel timers, work items and callbacks, and revoke interfaces before the image can unload")         \
    X(F_RELOAD_FAILED, "reload-failed", 20,                                                                 \
      "loading the image failed: the previous instance is still mapped, or DriverEntry failed (linked to why)", \
      "fix the causes that keep the previous instance mapped (listed with it)")                              \
    X(F_CYCLE_LEAK, "cycle-leak", 21,                                                                       \
      "two or more load/unload cycles of the image each left references, handles, pool or links behind",   \
      "release in DriverUnload what each load takes, so every cycle ends with nothing outstanding")

#define F_ENUM_(e, id, rank, meaning, fix) e,
enum finding_id { FINDINGS(F_ENUM_) F_COUNT };
#undef F_ENUM_

/* The stable id string ("open-handle"). */
const char *finding_name(enum finding_id id);
/* Sort rank: smaller sorts first (root causes before consequences). */
int finding_rank(enum finding_id id);
/* One-line meaning and usual fix. */
const char *finding_meaning(enum finding_id id);
const char *finding_fix(enum finding_id id);

#endif /* OBTRACE_FINDINGS_H */
