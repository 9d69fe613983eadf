/*
 * wdf_internal.h - what the KMDF files of libntsim share (wdf_object.c,
 * wdf_device.c, wdf_io.c, wdf_misc.c): the object header every WDF handle
 * points at, its kinds, and the tree and reference operations.
 *
 * A handle is the address of a WDFP_OBJECT. The object's typed context
 * follows it in the same allocation. Tree links and tag counts are guarded
 * by WdfpLock; the reference count is atomic.
 */
#ifndef NTSIM_WDF_INTERNAL_H
#define NTSIM_WDF_INTERNAL_H

#include "ntsim_internal.h"
#include "wdf.h"

#define WDFP_KINDS(X)                 \
    X(WdfpKindDriver, "WDFDRIVER")    \
    X(WdfpKindDevice, "WDFDEVICE")    \
    X(WdfpKindQueue, "WDFQUEUE")      \
    X(WdfpKindRequest, "WDFREQUEST")  \
    X(WdfpKindMemory, "WDFMEMORY")    \
    X(WdfpKindWorkItem, "WDFWORKITEM") \
    X(WdfpKindIoTarget, "WDFIOTARGET") \
    X(WdfpKindSpinLock, "WDFSPINLOCK") \
    X(WdfpKindWaitLock, "WDFWAITLOCK") \
    X(WdfpKindObject, "WDFOBJECT")

#define WDFP_KIND_ENUM_(name, text) name,
typedef enum _WDFP_KIND { WDFP_KINDS(WDFP_KIND_ENUM_) WdfpKindCount } WDFP_KIND;
#undef WDFP_KIND_ENUM_

/* References counted under one tag (NULL: untagged). */
typedef struct _WDFP_TAG_COUNT {
    PVOID Tag;
    LONG Count;
} WDFP_TAG_COUNT;

typedef struct _WDFP_OBJECT WDFP_OBJECT, *PWDFP_OBJECT;

/* Called once when the object's last reference goes, before EvtDestroyCallback: the kind's own release. */
typedef VOID WDFP_RELEASE(PWDFP_OBJECT Object);

struct _WDFP_OBJECT {
    ULONG Magic;                  /* WDFP_MAGIC while allocated */
    WDFP_KIND Kind;
    PWDFP_OBJECT Parent;          /* (WdfpLock) NULL for a WDFDRIVER */
    LIST_ENTRY Children;          /* (WdfpLock) newest first */
    LIST_ENTRY SiblingLink;       /* (WdfpLock) in the parent's Children */
    LONG References;              /* atomic; the creation's reference is one of them until deletion */
    WDFP_TAG_COUNT *Tags;         /* (WdfpLock) */
    ULONG TagCount, TagCapacity;
    BOOLEAN Deleted;              /* (WdfpLock) WdfObjectDelete or the framework's deletion began */
    BOOLEAN CreationReleased;     /* (WdfpLock) the creation's reference was dropped */
    BOOLEAN FrameworkOwned;       /* only the framework deletes it (a device of a stack, a request, the driver) */
    PFN_WDF_OBJECT_CONTEXT_CLEANUP Cleanup;
    PFN_WDF_OBJECT_CONTEXT_DESTROY Destroy;
    WDFP_RELEASE *Release;        /* the kind's release, may be NULL */
    PVOID Wdm;                    /* the WDM object underneath (NtsimQueryWdfObject), set by the kind */
    ULONG TraceFlags;             /* NTSIM_WDF_* */
    PCWDF_OBJECT_CONTEXT_TYPE_INFO ContextType;
    PVOID Context;                /* zeroed, after the kind's body */
    /* the kind's body, then the context, follow */
};

#define WDFP_MAGIC 0x57646650u /* "PfdW" */

extern NTSIM_HIDDEN pthread_mutex_t WdfpLock;

/*
 * Allocates an object of Kind with BodySize bytes of the kind's own state
 * (zeroed, at WdfpBody) and the context Attributes ask for, child of
 * Parent (Attributes->ParentObject overrides it when AllowParentOverride).
 * Its references: 1. NULL when out of memory.
 */
NTSIM_HIDDEN PWDFP_OBJECT WdfpCreateObject(WDFP_KIND Kind, size_t BodySize, PWDFP_OBJECT Parent,
                                           PWDF_OBJECT_ATTRIBUTES Attributes, BOOLEAN AllowParentOverride);
/* The kind's body of Object. */
#define WdfpBody(Object, Type) ((Type *)((PWDFP_OBJECT)(Object) + 1))
/* The object behind Handle, bug-checking WDF_VIOLATION when it is none or not of Kind (WdfpKindCount: any). */
NTSIM_HIDDEN PWDFP_OBJECT WdfpObjectFromHandle(PVOID Handle, WDFP_KIND Kind);
/*
 * Deletes Object and its subtree as WdfObjectDelete does (Why: FX_DELETE_*
 * of the object itself; its children go FX_DELETE_WITH_PARENT), for the
 * framework too (its own objects included).
 */
NTSIM_HIDDEN VOID WdfpDeleteObject(PWDFP_OBJECT Object, ULONG Why);
/* One untagged reference taken or dropped by the framework itself (through the exported calls). */
NTSIM_HIDDEN VOID WdfpReference(PWDFP_OBJECT Object);
NTSIM_HIDDEN VOID WdfpDereference(PWDFP_OBJECT Object);
/* The nearest WDFDEVICE at or above Object, or NULL. */
NTSIM_HIDDEN PWDFP_OBJECT WdfpDeviceOf(PWDFP_OBJECT Object);
/* Name of a kind ("WDFDEVICE"). */
NTSIM_HIDDEN const char *WdfpKindName(WDFP_KIND Kind);

/* The WDFDRIVER created by driver image Image (the caller's, for objects without a parent), or NULL. */
NTSIM_HIDDEN PWDFP_OBJECT WdfpDriverOfImage(PLDRP_IMAGE Image);
/* The WDFDRIVER of DriverObject (wdf_device.c), or NULL. */
NTSIM_HIDDEN PWDFP_OBJECT WdfpDriverOf(PDRIVER_OBJECT DriverObject);
/* The WDFDEVICE whose DEVICE_OBJECT is DeviceObject, or NULL (wdf_device.c). */
NTSIM_HIDDEN PWDFP_OBJECT WdfpDeviceFromWdm(PDEVICE_OBJECT DeviceObject);
/* The default queue of Device becomes Queue (WdfIoQueueCreate). */
NTSIM_HIDDEN VOID WdfpSetDefaultQueue(PWDFP_OBJECT Device, PWDFP_OBJECT Queue);
/* The next lower device of Device's stack (NULL for a control device). */
NTSIM_HIDDEN PDEVICE_OBJECT WdfpLowerDevice(PWDFP_OBJECT Device);
/* Where Device keeps its local I/O target (WdfDeviceGetIoTarget creates it on first use). */
NTSIM_HIDDEN PWDFP_OBJECT *WdfpLocalTargetSlot(PWDFP_OBJECT Device);
/*
 * Presents Irp to Device's default queue (wdf_io.c): TRUE when a queue
 * callback took it (the IRP is the request's now), FALSE when no queue
 * handles its major function.
 */
NTSIM_HIDDEN BOOLEAN WdfpPresentToQueue(PWDFP_OBJECT Device, PIRP Irp);

#endif /* NTSIM_WDF_INTERNAL_H */
