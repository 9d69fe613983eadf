/*
 * ntsim_internal.h - the simulated kernel's internal structures and the
 * contracts between its subsystems (object manager, I/O manager, loader,
 * PnP manager, executive). Not installed, not exported: every function here
 * has hidden visibility.
 *
 * Interposition rule: whenever the framework changes a count or an image's
 * fate on its own behalf it calls the EXPORTED entry point (ObfReferenceObject,
 * ObfDereferenceObject, ObCreateObject, ObOpenObjectByPointer, ObMakeTemporaryObject,
 * ZwClose, IopReferenceDeviceObject, IopDereferenceDeviceObject,
 * MmLoadSystemImage, MmUnloadSystemImage, IopCallDriverEntry,
 * IopCallDriverUnload, IopNoteDriverUnloadWrite, IofCallDriver,
 * IofCompleteRequest, KeBugCheckEx, ...), never a static shortcut, so that a
 * library preloaded with LD_PRELOAD sees it. The helpers below follow the
 * rule themselves; code built on them inherits it.
 *
 * Each exported lifetime function is a *leaf*: it changes its counter once
 * and reports the value after. Composite calls (ObReferenceObjectByHandle,
 * IoGetAttachedDeviceReference, IoGetDeviceObjectPointer ...) are built from
 * leaves through the exported symbols, so a tracer that interposes the
 * leaves sees every change exactly once.
 *
 * Locks, in the only order they may nest (outermost first):
 *   LdrpLock (recursive)  services and images
 *   IopDatabaseLock (recursive)  device lists, attachment edges, DOE_* flags,
 *                         ReferenceCount, driver unload state
 *   ObpLock (recursive)   live-object set updates, namespace, handle table,
 *                         handle counts, a pointer count's last step (1 -> 0);
 *                         exported Ob leaves may be called with it held
 *   leaf locks            pool, dispatcher (events), worker queue
 * Rules: no driver code is ever called with a framework lock held; nothing
 * that may drop a pointer count to zero runs with IopDatabaseLock held (a
 * delete procedure may take LdrpLock).
 * Lock-free paths: ObfReferenceObject / ObfDereferenceObject (down to 1),
 * NtsimQueryObject and the Obp queries take no lock: they find the object in
 * the live-object set inside a read section (rtl_ptrmap.c) and change or read
 * the header's one atomic count word. A read section takes no lock and waits
 * for nothing; RtlpWaitForReaders (a freed header, a retired set table) may
 * be called with any lock held, but never inside a read section.
 */
#ifndef NTSIM_INTERNAL_H
#define NTSIM_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ntsim.h"
#include "ntsim_kernel.h"
#include "wdmsec.h"

#define NTSIM_HIDDEN __attribute__((visibility("hidden")))

/* ====================================================================== */
/* Configuration and start-up (ntsim_init.c)                              */
/* ====================================================================== */

/* The active configuration (defaults until NtsimInitialize sets it). */
extern NTSIM_HIDDEN NTSIM_CONFIG NtsimpConfig;

/* ====================================================================== */
/* Small utilities (rtl_ptrmap.c, rtl_string.c)                           */
/* ====================================================================== */

/*
 * A map from pointer keys to pointer values (chained hash). Not locked:
 * the owner guards it with its own lock. Lookups never dereference the key,
 * so a map can answer "is this a live X?" for any pointer value.
 */
typedef struct _RTL_PTR_MAP_ENTRY {
    struct _RTL_PTR_MAP_ENTRY *Next;
    const void *Key;
    void *Value;
} RTL_PTR_MAP_ENTRY;

typedef struct _RTL_PTR_MAP {
    RTL_PTR_MAP_ENTRY **Buckets; /* allocated on first insert */
    size_t BucketCount;
    size_t Count;
} RTL_PTR_MAP;

#define RTL_PTR_MAP_INIT { NULL, 0, 0 }

/* Inserts or replaces Key -> Value; FALSE only when memory runs out. */
NTSIM_HIDDEN BOOLEAN RtlpPtrMapInsert(RTL_PTR_MAP *Map, const void *Key, void *Value);
/* The value for Key, or NULL; *Found (may be NULL) says whether Key is present. */
NTSIM_HIDDEN void *RtlpPtrMapLookup(const RTL_PTR_MAP *Map, const void *Key, BOOLEAN *Found);
/* Removes Key; returns TRUE when it was present. */
NTSIM_HIDDEN BOOLEAN RtlpPtrMapRemove(RTL_PTR_MAP *Map, const void *Key);

/*
 * Read sections: a cheap way to read shared memory without a lock and yet
 * never read memory after it is freed. A reader brackets its reads with
 * RtlpEnterReadSection / RtlpLeaveReadSection (one locked increment of a
 * thread-local record, one store; sections do not nest and never block).
 * A writer that unpublished something (removed it from every place a reader
 * could find it) calls RtlpWaitForReaders before freeing it: it returns once
 * every section that was open at the call has closed. The unpublishing store
 * and the loads a section makes to find things must be sequentially
 * consistent atomics (RTL_PTR_SET's are): then either the writer sees the
 * section open and waits, or the section does not find what was removed.
 * Each thread owns one record, claimed on its first section and released
 * when it exits; records are never freed.
 */
typedef struct _RTLP_READER {
    struct _RTLP_READER *Next;   /* every record ever made (RtlpReaders), never unlinked */
    ULONG64 Sequence;            /* odd while the owner is inside a section; only the owner writes it */
    int Claimed;                 /* owned by a live thread */
} __attribute__((aligned(64))) RTLP_READER;

extern NTSIM_HIDDEN __thread RTLP_READER *RtlpCurrentReader __attribute__((tls_model("initial-exec")));
/* Claims a record for the calling thread (first section only). */
NTSIM_HIDDEN RTLP_READER *RtlpRegisterReader(void);
/* Waits until every read section open at the call has closed. Never call it inside a section. */
NTSIM_HIDDEN VOID RtlpWaitForReaders(void);

static inline RTLP_READER *RtlpEnterReadSection(void)
{
    RTLP_READER *reader = RtlpCurrentReader;
    if (__builtin_expect(!reader, 0))
        reader = RtlpRegisterReader();
    /* sequentially consistent, like the lookups and the writer's unpublish and check: the odd sequence is
       visible to RtlpWaitForReaders before any read of the section (one locked instruction on x86) */
    __atomic_fetch_add(&reader->Sequence, 1, __ATOMIC_SEQ_CST);
    return reader;
}

static inline VOID RtlpLeaveReadSection(RTLP_READER *Reader)
{
    __atomic_store_n(&Reader->Sequence, Reader->Sequence + 1, __ATOMIC_RELEASE);
}

/*
 * A set of pointer keys whose lookups take no lock (open addressing, linear
 * probing). One writer at a time (the owner's lock) inserts and removes; a
 * lookup runs under that lock or inside a read section, never dereferences
 * the key, and sees each key either present or absent. An insert that
 * rebuilds the table frees the old one after RtlpWaitForReaders, so it must
 * not be called inside a read section. Keys NULL and 1 are never members.
 */
typedef struct _RTL_PTR_SET_TABLE {
    size_t Mask;                 /* slot count - 1 (a power of two) */
    size_t Used;                 /* slots holding a key or a tombstone (<= half) */
    size_t Count;                /* slots holding a key */
    const void *Slots[];         /* NULL = empty, 1 = tombstone, else a key */
} RTL_PTR_SET_TABLE;

typedef struct _RTL_PTR_SET {
    RTL_PTR_SET_TABLE *Table;    /* published with release; NULL until the first insert */
} RTL_PTR_SET;

#define RTL_PTR_SET_INIT { NULL }

/* Adds Key (present already is fine); FALSE only when memory runs out. Writer only. */
NTSIM_HIDDEN BOOLEAN RtlpPtrSetInsert(RTL_PTR_SET *Set, const void *Key);
/* Removes Key; TRUE when it was present. Writer only. */
NTSIM_HIDDEN BOOLEAN RtlpPtrSetRemove(RTL_PTR_SET *Set, const void *Key);
/* TRUE when Key is in the set. Writer's lock held or inside a read section. */
NTSIM_HIDDEN BOOLEAN RtlpPtrSetContains(const RTL_PTR_SET *Set, const void *Key);

/* UTF-8 copy of a counted UTF-16 string (malloc'd; NULL on failure). */
NTSIM_HIDDEN char *RtlpUnicodeToUtf8(PCUNICODE_STRING String);
/* Writes a UTF-8 copy of String into Buffer (always NUL-terminated, truncated to fit). */
NTSIM_HIDDEN VOID RtlpUnicodeToUtf8Buffer(PCUNICODE_STRING String, char *Buffer, size_t Size);
/*
 * Builds a counted UTF-16 string from UTF-8 Text in a malloc'd buffer
 * (NUL-terminated; release with RtlpFreeUnicode). FALSE when out of memory
 * or longer than a UNICODE_STRING can hold.
 */
NTSIM_HIDDEN BOOLEAN RtlpUtf8ToUnicode(const char *Text, PUNICODE_STRING String);
/* Frees a string built by RtlpUtf8ToUnicode. */
NTSIM_HIDDEN VOID RtlpFreeUnicode(PUNICODE_STRING String);
/* malloc'd copy of Text (NULL stays NULL); aborts the process when out of memory. */
NTSIM_HIDDEN char *RtlpStrDup(const char *Text);
/* calloc that aborts the process when out of memory: framework bookkeeping never fails. */
NTSIM_HIDDEN void *RtlpAllocZero(size_t Size);

/* ====================================================================== */
/* Object manager (ob_object.c, ob_name.c, ob_handle.c)                   */
/* ====================================================================== */

/* Called when an object's pointer count reaches zero, before its memory is freed. */
typedef VOID OB_DELETE_PROCEDURE(PVOID Object);
/* Called on every handle close with the handle count the object had before the close. */
typedef VOID OB_CLOSE_PROCEDURE(PVOID Object, LONG_PTR HandleCountBefore);

typedef struct _OBJECT_TYPE {
    const char *Name;                    /* "Device", "Driver", "File", "Event", "SymbolicLink", ... */
    ULONG PoolTag;                       /* first four characters of the name, as ReactOS derives it */
    OB_DELETE_PROCEDURE *DeleteProcedure; /* may be NULL */
    OB_CLOSE_PROCEDURE *CloseProcedure;   /* may be NULL */
} OBJECT_TYPE;

/* The object types the core defines (the exported POBJECT_TYPE * point at these). */
extern NTSIM_HIDDEN OBJECT_TYPE IopDeviceObjectTypeBody;
extern NTSIM_HIDDEN OBJECT_TYPE IopDriverObjectTypeBody;
extern NTSIM_HIDDEN OBJECT_TYPE IopFileObjectTypeBody;
extern NTSIM_HIDDEN OBJECT_TYPE ExpEventObjectTypeBody;
extern NTSIM_HIDDEN OBJECT_TYPE ObpSymbolicLinkTypeBody;

/*
 * The header in front of every object body. Both counts live in one atomic
 * word (Counts: pointer count in the low OBP_POINTER_BITS bits, handle count
 * above), so a single compare-and-swap checks "pointer count >= handle count"
 * and changes the pointer count, and a reader gets both at once. Pointer
 * references change it lock-free; the handle count changes, and the pointer
 * count drops from 1 to 0, only under ObpLock, so a lock holder that saw a
 * count above zero may reference the object. A pointer count of 0 means the
 * object is being deleted (delete procedure running); it never rises again.
 * Read the counts through ObpQueryCounts or NtsimQueryObject, never directly
 * from another subsystem. Name and NameKey are set before the object is
 * published and freed only with the header.
 */
typedef struct _OBJECT_HEADER {
    ULONG Magic;                 /* OBP_HEADER_MAGIC while allocated */
    POBJECT_TYPE Type;
    ULONG64 Counts;              /* atomic: OBP_POINTERS / OBP_HANDLES */
    ULONG64 Id;                  /* stable for the object's life, never reused */
    char *Name;                  /* NT path as given (UTF-8), NULL when unnamed */
    char *NameKey;               /* canonical, case-folded lookup key ("\??\x" for DosDevices) */
    BOOLEAN Permanent;           /* OBJ_PERMANENT: survives handle count 0 until made temporary (atomic) */
    BOOLEAN InNamespace;         /* the directory holds one pointer reference (ObpLock) */
    LIST_ENTRY NameLink;         /* in the namespace list while InNamespace */
    /* the body follows, 16-byte aligned */
} __attribute__((aligned(16))) OBJECT_HEADER, *POBJECT_HEADER;

#define OBP_POINTER_BITS 40
#define OBP_POINTER_MAX ((1ULL << OBP_POINTER_BITS) - 1)   /* a reference beyond it bug-checks */
#define OBP_HANDLE_ONE (1ULL << OBP_POINTER_BITS)
#define OBP_HANDLE_MAX ((1ULL << (64 - OBP_POINTER_BITS)) - 1) /* an open beyond it fails */
#define OBP_POINTERS(c) ((LONG_PTR)((c) & OBP_POINTER_MAX))
#define OBP_HANDLES(c) ((LONG_PTR)((c) >> OBP_POINTER_BITS))

#define OBP_HEADER_MAGIC 0x4f626a48u /* "ObjH" */
#define OBJECT_TO_OBJECT_HEADER(o) ((POBJECT_HEADER)(o) - 1)
#define OBJECT_HEADER_TO_BODY(h) ((PVOID)((POBJECT_HEADER)(h) + 1))

/*
 * Guards live-object set updates, the namespace, the handle table, handle
 * counts and the pointer count's last step to 0. Recursive.
 */
extern NTSIM_HIDDEN pthread_mutex_t ObpLock;

/*
 * The one pointer-count decrement every exported leaf (ObfDereferenceObject*,
 * ObDereferenceObjectDeferDelete*, ObMakeTemporaryObject, ZwClose) shares:
 * bug check 0x18 below zero or below the handle count; at zero the type's
 * delete procedure runs (on a worker with Defer) and the memory is freed.
 * Returns the new count. Only for use INSIDE those leaves: a reference the
 * framework drops on its own behalf goes through ObfDereferenceObject.
 */
NTSIM_HIDDEN LONG_PTR ObpDereferenceObjectLeaf(PVOID Object, BOOLEAN Defer);
/*
 * References Object through ObfReferenceObject unless it is dead or its
 * pointer count already reached zero; FALSE then. For pointers held without
 * a reference (a service's current driver object).
 */
NTSIM_HIDDEN BOOLEAN ObpReferenceIfAlive(PVOID Object);
/*
 * Adds one pointer reference through the exported leaf that records Tag:
 * ObfReferenceObject for NTSIM_DEFAULT_OBJECT_TAG (what untagged calls
 * record), else ObfReferenceObjectWithTag. The composite
 * ObReferenceObjectBy{Pointer,Handle}[WithTag] take their reference here.
 * Returns the new count; may be called with ObpLock held.
 */
NTSIM_HIDDEN LONG_PTR ObpReferenceObjectTagged(PVOID Object, ULONG Tag);
/*
 * TRUE when Object is a live object (optionally of Type); never dereferences a
 * dead pointer. Caller holds ObpLock (the answer then stays true until it
 * releases it). "Live" means not yet freed: the pointer count may be 0.
 */
NTSIM_HIDDEN BOOLEAN ObpIsLiveObjectLocked(PVOID Object, POBJECT_TYPE Type);
/* ObpIsLiveObjectLocked without the lock (a read section): a snapshot. */
NTSIM_HIDDEN BOOLEAN ObpIsLiveObject(PVOID Object, POBJECT_TYPE Type);
/* The object's type, or NULL when Object is not live. No lock. */
NTSIM_HIDDEN POBJECT_TYPE ObpGetObjectType(PVOID Object);
/* Snapshot of both counts, taken at one instant; FALSE when Object is not live. No lock. */
NTSIM_HIDDEN BOOLEAN ObpQueryCounts(PVOID Object, LONG_PTR *PointerCount, LONG_PTR *HandleCount);
/*
 * Writes "\Device\Foo" or "<Type #id>" (or "<not an object>") for Object into
 * Buffer. Safe with any pointer value, takes ObpLock.
 */
NTSIM_HIDDEN VOID ObpDescribeObject(PVOID Object, char *Buffer, size_t Size);

/* Namespace (ob_name.c). Names are UTF-8 NT paths. */

/*
 * Canonical lookup key of an NT path: case-folded, "\DosDevices\", "\GLOBAL??\"
 * and "\??\" unified to "\??\", a user-mode "\\.\X" mapped to "\??\X".
 * malloc'd.
 */
NTSIM_HIDDEN char *ObpCanonicalName(const char *Path);
/* The object named exactly Key (canonical; links not followed), or NULL (ObpLock held). */
NTSIM_HIDDEN PVOID ObpFindObjectByKeyLocked(const char *Key);
/* Inserts a named object (ObpLock held); STATUS_OBJECT_NAME_COLLISION if taken. The caller accounts the reference. */
NTSIM_HIDDEN NTSTATUS ObpInsertNameLocked(POBJECT_HEADER Header, const char *Name);
/* Removes Header's name (ObpLock held). The caller drops the directory's reference. */
NTSIM_HIDDEN VOID ObpRemoveNameLocked(POBJECT_HEADER Header);
/*
 * Resolves Path, following symbolic links (at most a few levels), to a
 * live object, referenced through ObfReferenceObject (the caller
 * dereferences). When the full path names no object, the longest prefix
 * naming a Device is used and the rest stored in *Remainder (malloc'd, may be
 * NULL when nothing remains). STATUS_OBJECT_NAME_NOT_FOUND when nothing matches.
 */
NTSIM_HIDDEN NTSTATUS ObpReferenceObjectByName(const char *Path, PVOID *Object, char **Remainder);
/* Like ObpReferenceObjectByName without a reference and without a remainder (for queries). */
NTSIM_HIDDEN PVOID ObpLookupObjectNoReference(const char *Path);
/* Target path of a live symbolic link object (the link body). */
typedef struct _OBP_SYMBOLIC_LINK {
    char *Target;
} OBP_SYMBOLIC_LINK;

/* ====================================================================== */
/* Executive: worker threads (ex_worker.c), pool (ex_pool.c)              */
/* ====================================================================== */

typedef VOID EXP_WORKER_ROUTINE(PVOID Context);

/*
 * Runs Routine(Context) on a system worker thread (threads are added on
 * demand, so a blocked item never starves the others). Never fails.
 */
NTSIM_HIDDEN VOID ExpQueueWorkerRoutine(EXP_WORKER_ROUTINE *Routine, PVOID Context);
/* Blocks until no worker routine is queued or running; after twice the stuck-wait limit reports the stuck work, applies the policy and returns FALSE. */
NTSIM_HIDDEN BOOLEAN ExpWaitForWorkersIdle(void);
/* TRUE when no work item is queued or running (the calling worker's own item aside). */
NTSIM_HIDDEN BOOLEAN ExpAreWorkersIdle(void);
/* Waits for the workers to go idle, then stops them (NtsimShutdown). */
NTSIM_HIDDEN VOID ExpStopWorkers(void);

/* ====================================================================== */
/* Kernel: IRQL, dispatcher, waits, bug checks (ke_sync.c, ke_bugcheck.c) */
/* ====================================================================== */

/*
 * Waits for Event like KeWaitForSingleObject, but a stuck infinite wait is
 * reported with ReportObject and What (e.g. the remove lock that owns the
 * event, "remove lock"). Remove locks and run-down references use it.
 */
NTSIM_HIDDEN NTSTATUS KipWaitForEvent(PKEVENT Event, PLARGE_INTEGER Timeout, PVOID ReportObject, const char *What);
/* The calling thread's simulated thread id (for reports). */
NTSIM_HIDDEN long KipCurrentThreadId(void);
/* Name of a bug check code ("REFERENCE_BY_POINTER"), or NULL. */
/* Milliseconds of the stuck-wait limit in force. */
NTSIM_HIDDEN ULONG KipStuckWaitMs(void);
/*
 * Sleeps NTSIM_ASYNC_DELAY_MS (0 = not at all, the default) where
 * asynchronous work starts or finishes: a system worker's item, the I/O
 * manager's release after a work item routine, a PnP request nobody waits
 * for. With a delay set, a scenario or host that relies on timing instead
 * of waiting for the system to settle fails every time, not now and then.
 */
NTSIM_HIDDEN VOID KipAsyncDelay(void);
/* Reads NTSIM_ASYNC_DELAY_MS once (a bad value is reported on stderr and ignored); KipAsyncDelay does it on first use. */
NTSIM_HIDDEN VOID KipLoadAsyncDelay(void);
/* The stuck-wait policy after a report: exit(NTSIM_EXIT_STUCK), or return so the caller gives up. */
NTSIM_HIDDEN VOID KipApplyStuckPolicy(void);

/* ====================================================================== */
/* Loader (ldr_image.c, ldr_service.c)                                    */
/* ====================================================================== */

/* One load instance of an image; kept (never freed) after unmapping for history. */
typedef struct _LDRP_IMAGE {
    struct _LDRP_IMAGE *Next;    /* all instances ever loaded */
    char *Path;                  /* resolved absolute path, the "already loaded" key */
    void *DlHandle;              /* NULL once unmapped */
    ULONG_PTR Start, End;        /* [Start, End) of the PT_LOAD segments */
    ULONG64 InstanceId;
    BOOLEAN Mapped;
    LONG PoolAllocations;        /* outstanding pool blocks charged to this instance (ex_pool.c) */
} LDRP_IMAGE, *PLDRP_IMAGE;

/* Guards services and images. Recursive. */
extern NTSIM_HIDDEN pthread_mutex_t LdrpLock;

/*
 * The mapped driver image containing Address, or NULL (libntsim, the host
 * program and other libraries are not driver images). LdrpLock taken inside.
 */
NTSIM_HIDDEN PLDRP_IMAGE LdrpFindImageByAddress(ULONG_PTR Address);
/* TRUE when Address lies in an image that was unmapped and is not inside any mapped object now. */
NTSIM_HIDDEN BOOLEAN LdrpIsAddressUnmapped(ULONG_PTR Address);
/* TRUE when dl_iterate_phdr lists an object loaded at Image's start address (the ground truth). */
NTSIM_HIDDEN BOOLEAN LdrpIsImageMappedInProcess(const LDRP_IMAGE *Image);
/* Resolves a driver image name: names without '/' are searched in NTSIM_CONFIG.DriverSearchPath. malloc'd, NULL if absent. */
NTSIM_HIDDEN char *LdrpResolveImagePath(const char *ImagePath);

/* ====================================================================== */
/* I/O manager: drivers and devices (io_device.c, io_driver.c)            */
/* ====================================================================== */

/* Recursive; see the lock order at the top of this file. */
extern NTSIM_HIDDEN pthread_mutex_t IopDatabaseLock;
#define IopLockDatabase() pthread_mutex_lock(&IopDatabaseLock)
#define IopUnlockDatabase() pthread_mutex_unlock(&IopDatabaseLock)

struct _LDRP_SERVICE;

/* One IoAllocateDriverObjectExtension block. */
typedef struct _IOP_CLIENT_EXTENSION {
    struct _IOP_CLIENT_EXTENSION *Next;
    PVOID ClientId;
    /* the extension follows, 16-byte aligned */
} __attribute__((aligned(16))) IOP_CLIENT_EXTENSION;

/*
 * Simulation state of a driver object, in the same object body right after
 * DRIVER_OBJECT and DRIVER_EXTENSION. Fields marked (db) are guarded by
 * IopDatabaseLock.
 */
typedef struct _IOP_DRIVER_STATE {
    PLDRP_IMAGE Image;            /* the mapped instance (MmUnloadSystemImage at free) */
    struct _LDRP_SERVICE *Service; /* NULL for drivers without a service */
    char *ServiceName;            /* UTF-8 */
    char *ImagePath;              /* resolved path */
    BOOLEAN IsPnp;                /* DriverEntry set DriverExtension->AddDevice */
    BOOLEAN LoadReferenceHeld;    /* (db) the legacy loader's reference, dropped after DriverUnload */
    BOOLEAN UnloadPending;        /* (db) legacy stop accepted, DriverUnload deferred */
    BOOLEAN UnloadClaimed;        /* (db) one thread is invoking DriverUnload (or it ran) */
    BOOLEAN UnloadInvoked;        /* DriverUnload was called (DRVO_UNLOAD_INVOKED mirrors it) */
    BOOLEAN PnpUnloadDeferred;    /* (db) §3.3 check failed only because of registrations or PnP IRPs in flight */
    LONG PnpIrpsInFlight;         /* (db) PnP IRPs being dispatched to a stack with a device of this driver */
    LONG RegistrationCount;       /* (db) PnP notification registrations (io_notify.c keeps it) */
    ULONG UnloadWrites;           /* IopNoteDriverUnloadWrite calls */
    PDRIVER_UNLOAD UnloadSetByEntry; /* DriverUnload as DriverEntry left it */
    IOP_CLIENT_EXTENSION *ClientExtensions; /* (db) IoAllocateDriverObjectExtension blocks */
    UNICODE_STRING RegistryPath;  /* ...\Services\<name>, owned */
} IOP_DRIVER_STATE, *PIOP_DRIVER_STATE;

/* The body of a Driver object. */
typedef struct _IOP_DRIVER_BODY {
    DRIVER_OBJECT Driver;
    DRIVER_EXTENSION Extension;
    IOP_DRIVER_STATE State;
} IOP_DRIVER_BODY;

#define IopGetDriverState(DriverObject) (&((IOP_DRIVER_BODY *)(DriverObject))->State)

/*
 * Simulation state of a device object. DeviceObject->DeviceObjectExtension
 * points at Public, the first member; the public DEVOBJ_EXTENSION carries
 * ExtensionFlags (DOE_*), AttachedTo and the PnP manager's DeviceNode slot.
 * Everything is guarded by IopDatabaseLock.
 */
typedef struct _IOP_DEVICE_STATE {
    DEVOBJ_EXTENSION Public;      /* ExtensionFlags, DeviceNode (PnP), AttachedTo */
    BOOLEAN DeleteCalled;         /* IoDeleteDevice ran once */
    BOOLEAN Unlinked;             /* off DriverObject->DeviceObject, keep-alive dropped (or being dropped) */
    BOOLEAN ShutdownRegistered;   /* holds a pointer reference */
    char *Sddl;                   /* IoCreateDeviceSecure's descriptor (recorded only) */
    GUID ClassGuid;
    PVOID PnpContext;             /* free slot for the PnP manager (devnode bookkeeping) */
    LIST_ENTRY AllDevicesLink;    /* on the list of every device not yet freed (NtsimFindDeviceByExtensionAddress) */
    ULONG ExtensionSize;          /* bytes of DeviceExtension */
    DEVICE_POWER_STATE DevicePower; /* PoSetPowerState's last device state (Unspecified: never set, D0) */
    SYSTEM_POWER_STATE SystemPower; /* PoSetPowerState's last system state */
    BOOLEAN WmiRegistered;        /* IoWMIRegistrationControl(REGISTER) not yet undone */
    ULONG WmiProviderId;          /* IoWMIDeviceObjectToProviderId's answer, given at its first call (atomic) */
} IOP_DEVICE_STATE, *PIOP_DEVICE_STATE;

#define IopGetDeviceState(DeviceObject) ((PIOP_DEVICE_STATE)(DeviceObject)->DeviceObjectExtension)

/* Flags that stop opens and attachments (§2.3, §4.1). */
#define IOP_DOE_GOING_AWAY (DOE_UNLOAD_PENDING | DOE_DELETE_PENDING | DOE_REMOVE_PENDING | DOE_REMOVE_PROCESSED)

/*
 * Hooks for the PnP manager (set once at start-up, e.g. from a constructor;
 * NULL = none). Both run without locks held.
 * IopDeviceUnlinkedHook: a device was just unlinked from its driver's list by
 *   delete completion, before the driver unload check; the device is alive.
 * IopDeviceFreedHook: a device's pointer count reached zero; runs in its
 *   delete procedure before the driver object is dereferenced (the place to
 *   free a PDO's devnode, or to bug-check 0xCA/5 if the devnode is linked).
 */
typedef VOID IOP_DEVICE_HOOK(PDEVICE_OBJECT DeviceObject);
extern NTSIM_HIDDEN IOP_DEVICE_HOOK *IopDeviceUnlinkedHook;
extern NTSIM_HIDDEN IOP_DEVICE_HOOK *IopDeviceFreedHook;

/*
 * What a delete/unload completion decided under IopDatabaseLock and must
 * carry out after releasing it (io_device.c, io_driver.c).
 */
typedef struct _IOP_COMPLETION {
    PDEVICE_OBJECT UnlinkedDevice; /* unlinked: its keep-alive reference is to be dropped */
    PDRIVER_OBJECT UnloadDriver;   /* claimed: DriverUnload to call, then temporary + load ref */
} IOP_COMPLETION;

/*
 * Decides whether DriverObject's unload is due (IopDatabaseLock held) and
 * claims it in Completion: a legacy pending unload when every device has
 * ReferenceCount 0 and nothing attached; a PnP driver (§3.3) when
 * DeviceUnlinked (or a deferred check) and its list is empty and it has
 * DriverUnload. Registrations defer either per NTSIM_CONFIG.
 */
NTSIM_HIDDEN VOID IopEvaluateDriverUnloadLocked(PDRIVER_OBJECT DriverObject, BOOLEAN DeviceUnlinked,
                                                IOP_COMPLETION *Completion);
/* Carries out Completion (no lock held): hook, DriverUnload, the keep-alive drop. */
NTSIM_HIDDEN VOID IopRunCompletion(const IOP_COMPLETION *Completion);

/*
 * Completes a pending delete or unload of DeviceObject if nothing holds it
 * (nt-semantics §2.4 step 6, ReactOS IopUnloadDevice): when the device is
 * delete-pending, has ReferenceCount 0 and nothing attached above, it is
 * unlinked from its driver's list and its keep-alive reference is dropped
 * (ObfDereferenceObject); then the driver unload check runs: a legacy
 * unload-pending driver whose devices are all free, or a PnP driver whose
 * list became empty (§3.3), gets DriverUnload (IopCallDriverUnload), is made
 * temporary and loses its load reference. Idempotent; callers: IoDeleteDevice,
 * IopDereferenceDeviceObject, IoDetachDevice. The caller guarantees
 * DeviceObject is alive at the call; it may be freed when this returns.
 * Lock: none held on entry.
 */
NTSIM_HIDDEN VOID IopCompleteUnloadOrDelete(PDEVICE_OBJECT DeviceObject);
/*
 * Runs the driver unload check for DriverObject alone (no device changed):
 * the legacy deferred unload if one is pending, and the PnP rule (§3.3) as if
 * a device had just been unlinked. The PnP manager calls it when a driver
 * loaded for a devnode ended with no device. Caller holds a reference on
 * DriverObject. Lock: none held on entry.
 */
NTSIM_HIDDEN VOID IopCheckDriverUnload(PDRIVER_OBJECT DriverObject);
/*
 * PnP notification registrations (io_notify.c) account themselves here so
 * the unload check can honour NTSIM_CONFIG.RegistrationsDeferUnload.
 * IopAddDriverRegistration: call after taking the registration's driver
 * reference. IopRemoveDriverRegistration: call BEFORE dropping that
 * reference; it re-runs a deferred unload check.
 */
NTSIM_HIDDEN VOID IopAddDriverRegistration(PDRIVER_OBJECT DriverObject);
/*
 * The PnP manager brackets each PnP IRP with these for every driver of the
 * stack, so that a PnP driver whose last device goes inside its REMOVE
 * handler gets DriverUnload only after the IRP has returned ("after it
 * handles an IRP_MN_REMOVE_DEVICE request", nt-semantics §3.3), never
 * under its own dispatch routine. Begin: database lock held. End: no lock
 * held; it runs the deferred unload check. The caller holds a reference on
 * DriverObject across the bracket.
 */
NTSIM_HIDDEN VOID IopBeginPnpIrpLocked(PDRIVER_OBJECT DriverObject);
NTSIM_HIDDEN VOID IopEndPnpIrp(PDRIVER_OBJECT DriverObject);
/*
 * Runs Routine(Text) on the PnP manager's system thread and returns its
 * status, as Windows runs DriverEntry and DriverUnload of a service in a
 * system thread while the service control manager waits. If the routine
 * gets stuck in a driver (a wait that never ends), the stuck wait is
 * reported and the caller gets STATUS_TIMEOUT instead of hanging. Called on
 * that thread itself, it runs Routine directly. Lock: none held.
 */
NTSIM_HIDDEN NTSTATUS PipCallOnPnpThread(NTSTATUS (*Routine)(const char *Text), const char *Text);
NTSIM_HIDDEN VOID IopRemoveDriverRegistration(PDRIVER_OBJECT DriverObject);
/* TRUE when DriverObject is a live driver object. */
NTSIM_HIDDEN BOOLEAN IopIsDriverObject(PVOID Object);
/* TRUE when Object is a live device object. */
NTSIM_HIDDEN BOOLEAN IopIsDeviceObject(PVOID Object);
/* Number of devices on DriverObject's list (under the database lock). */
NTSIM_HIDDEN ULONG IopCountDevices(PDRIVER_OBJECT DriverObject);
/* Default MajorFunction entry: completes with STATUS_INVALID_DEVICE_REQUEST. */
NTSIM_HIDDEN NTSTATUS IopInvalidDeviceRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp);
/*
 * Checks that Routine (about to be called as What for Object) lies in mapped
 * code; bug check 0xCE DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS
 * when it lies in an unmapped image. Every call into driver code the
 * framework makes goes through it.
 */
NTSIM_HIDDEN VOID IopCheckCallTarget(PVOID Routine, const char *What, PVOID Object);
/*
 * Called by IofCompleteRequest before completion routines run: when Irp's
 * current location is an IRP_MN_QUERY_INTERFACE completed with a success
 * status and an INTERFACE, reports the hand-out through the exported
 * IopNoteInterfaceHandedOut (io_interface.c). Changes nothing.
 */
NTSIM_HIDDEN VOID IopNoteInterfaceCompletion(PIRP Irp);

/* ====================================================================== */
/* Services and driver lifecycle (ldr_service.c)                          */
/* ====================================================================== */

typedef struct _LDRP_SERVICE {
    struct _LDRP_SERVICE *Next;
    char *Name;
    char *ImagePath;              /* as installed */
    PDRIVER_OBJECT DriverObject;  /* current instance (no reference); NULL once freed */
    PLDRP_IMAGE Image;            /* last instance's image, kept after unmap */
    BOOLEAN UnloadCalled;         /* DriverUnload of the last instance ran */
    BOOLEAN IsPnp;
    ULONG LoadCount;
    NTSTATUS LastLoadStatus;
    BOOLEAN Deleted;
} LDRP_SERVICE, *PLDRP_SERVICE;

/*
 * Returns a referenced driver object for service ServiceName: the live one
 * if the driver is loaded and its unload was not invoked, else a fresh load
 * (MmLoadSystemImage, \Driver\<name>, DriverEntry) whose creation reference
 * becomes the caller's reference (no legacy load reference is kept). The
 * PnP manager calls this per devnode and drops the reference after
 * AddDevice (ObfDereferenceObject). Statuses as NtsimStartService.
 */
NTSIM_HIDDEN NTSTATUS IopReferenceOrLoadServiceDriver(const char *ServiceName, PDRIVER_OBJECT *DriverObject);
/* The service record of that name (LdrpLock held by the caller), or NULL. */
NTSIM_HIDDEN PLDRP_SERVICE LdrpFindServiceLocked(const char *ServiceName);

/* ====================================================================== */
/* IRPs (io_irp.c)                                                        */
/* ====================================================================== */

/*
 * I/O manager bookkeeping in front of every IRP (same allocation; apart,
 * found through the live-IRP table, for an IRP in caller memory set up by
 * IoInitializeIrp). An IRP
 * built by the I/O manager (Owned) is finished by IofCompleteRequest: the
 * system buffer is copied to UserBuffer, *UserIosb set, UserEvent signalled,
 * the referenced file object released and the IRP freed.
 */
typedef struct _IOP_IRP_HEADER {
    ULONG Magic;
    BOOLEAN Owned;                /* built by the I/O manager: retired (then freed) at completion */
    BOOLEAN CopyOut;              /* copy SystemBuffer to UserBuffer on success */
    BOOLEAN FreeSystemBuffer;
    BOOLEAN Retired;              /* finished by the I/O manager; memory kept a while to catch reuse */
    BOOLEAN CallerAllocated;      /* IoInitializeIrp: this header lives apart, the caller owns the IRP's memory */
    PFILE_OBJECT ReferencedFile;  /* dereferenced at completion (ObfDereferenceObject) */
    ULONG OutputLength;
    /*
     * The device whose driver made the IRP fail: the current location's
     * device of the last IofCompleteRequest with a failure status, or the
     * device of a completion routine that turned success into failure;
     * NULL while the outcome is a success. No reference held.
     */
    PDEVICE_OBJECT FailedDevice;
    PDEVICE_OBJECT *FailedDeviceOut; /* an owned IRP's waiter: receives FailedDevice at the final step */
} __attribute__((aligned(16))) IOP_IRP_HEADER;

/*
 * Sends an IRP built from Template (MajorFunction, MinorFunction, Flags,
 * Parameters, FileObject) to the top of DeviceObject's stack and waits for
 * it: IoStatus.Status starts as InitialStatus (STATUS_NOT_SUPPORTED for PnP
 * IRPs), *Information (may be NULL) receives IoStatus.Information. Returns
 * the final status. Must be called at PASSIVE_LEVEL with no lock held.
 * ToTop FALSE sends to DeviceObject itself (not the top of its stack).
 */
NTSIM_HIDDEN NTSTATUS IopSynchronousCall(PDEVICE_OBJECT DeviceObject, const IO_STACK_LOCATION *Template,
                                         NTSTATUS InitialStatus, PULONG_PTR Information, BOOLEAN ToTop);
/*
 * IopSynchronousCall that also stores in *FailedDevice (may be NULL) the
 * device whose driver failed the IRP (IOP_IRP_HEADER.FailedDevice), NULL
 * when it succeeded, when no driver completed it with a failure, or on
 * STATUS_TIMEOUT. No reference is taken.
 */
NTSIM_HIDDEN NTSTATUS IopSynchronousCallEx(PDEVICE_OBJECT DeviceObject, const IO_STACK_LOCATION *Template,
                                           NTSTATUS InitialStatus, PULONG_PTR Information, BOOLEAN ToTop,
                                           PDEVICE_OBJECT *FailedDevice);
/*
 * Builds an I/O-manager-owned IRP for DeviceObject (stack size of the top
 * device) with one referenced file object, buffered I/O; used by the
 * user-mode side and IopSynchronousCall. Returns NULL when out of memory.
 */
NTSIM_HIDDEN PIRP IopBuildOwnedIrp(CCHAR StackSize, PKEVENT Event, PIO_STATUS_BLOCK Iosb);

/* ====================================================================== */
/* File objects (io_file.c)                                               */
/* ====================================================================== */

typedef struct _IOP_FILE_STATE {
    PDEVICE_OBJECT OpenedDevice;  /* ReferenceCount charged here (NULL before admission) */
    BOOLEAN CreateSucceeded;      /* IRP_MJ_CREATE succeeded: CLEANUP/CLOSE owed */
    BOOLEAN CleanupSent;
    char *FileNameUtf8;
} IOP_FILE_STATE, *PIOP_FILE_STATE;

typedef struct _IOP_FILE_BODY {
    FILE_OBJECT File;
    IOP_FILE_STATE State;
} IOP_FILE_BODY;

#define IopGetFileState(FileObject) (&((IOP_FILE_BODY *)(FileObject))->State)

/*
 * Opens DeviceObject (the object a name resolved to): admission check
 * (STATUS_NO_SUCH_DEVICE when initializing or unload/delete/remove pending,
 * STATUS_ACCESS_DENIED for a second open of an exclusive device, also
 * STATUS_NO_SUCH_DEVICE once the driver's unload was invoked),
 * IopReferenceDeviceObject, a file object (ObCreateObject), IRP_MJ_CREATE to
 * the top of the stack. On success *FileObject holds the creator's pointer
 * reference and no handle; on failure the file object is gone and the
 * ReferenceCount restored. Caller holds a pointer reference on DeviceObject.
 */
NTSIM_HIDDEN NTSTATUS IopOpenDevice(PDEVICE_OBJECT DeviceObject, const char *Remainder, ACCESS_MASK DesiredAccess,
                                    PFILE_OBJECT *FileObject);
/*
 * Resolves Path (links followed; "\\.\X" accepted) and opens it with a
 * handle: CreateFile / ZwCreateFile. *Handle owns the file object's only
 * pointer reference.
 */
NTSIM_HIDDEN NTSTATUS IopOpenPathWithHandle(const char *Path, ACCESS_MASK DesiredAccess, PHANDLE Handle);

#endif /* NTSIM_INTERNAL_H */
