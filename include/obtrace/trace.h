/*
 * trace.h - the on-disk trace format shared by libobtrace (writer) and the
 * obtrace analyzer (reader). doc/trace-format.md is the normative text; a
 * test checks that the record table there matches OBT_RECORD_TYPES below.
 *
 * Layout: a file header page, then fixed-size chunks. Each chunk belongs to
 * one thread and holds 4-byte-aligned records framed as {type, size}. The
 * writer maps the file MAP_SHARED and fills records in place, writing a
 * record's type word last, so a crash leaves every completed record intact
 * and the rest of the chunk zero (type 0 = end of data in this chunk).
 * Unknown record types are skipped by size. Nothing is shared between
 * threads per event: a thread's records are in order in its own chunks,
 * and events (and the other timed records) carry the trace clock, by which
 * a reader merges the per-thread streams.
 *
 * All integers are in the writer's byte order; the header's byte-order mark
 * tells a reader when that is not its own.
 */
#ifndef OBTRACE_TRACE_H
#define OBTRACE_TRACE_H

#include <stdint.h>

#define OBT_MAGIC "OBTRACE\0"      /* 8 bytes at offset 0 */
#define OBT_VERSION 2             /* 1: events carried a global sequence number (not read any more) */
#define OBT_BYTE_ORDER_MARK 0x01020304u
#define OBT_HEADER_SIZE 4096u       /* the header page; chunk 0 starts at obt_chunk_offset(.., 0) */
#define OBT_CHUNK_SIZE_DEFAULT (64u * 1024u)
#define OBT_CHUNK_MAGIC 0x4b4e4843u /* "CHNK" */
#define OBT_CHUNK_HEADER_SIZE 32u   /* sizeof(struct obt_chunk_header); records follow */
#define OBT_NO_STACK 0u             /* stack id of an event recorded without a stack */
#define OBT_NO_OBJECT 0u

/* ---- file header -------------------------------------------------- */

enum obt_clock { OBT_CLOCK_MONOTONIC = 1 };

struct obt_file_header {
    char magic[8];            /* OBT_MAGIC */
    uint16_t version;         /* OBT_VERSION */
    uint16_t header_size;     /* OBT_HEADER_SIZE */
    uint32_t byte_order;      /* OBT_BYTE_ORDER_MARK as written */
    uint8_t pointer_size;     /* sizeof(void *) of the traced process */
    uint8_t clock;            /* enum obt_clock */
    uint16_t flags;           /* OBT_FILE_* */
    uint32_t chunk_size;      /* bytes per chunk, a multiple of the page size */
    uint32_t pid;
    uint32_t ppid;
    uint64_t start_realtime_ns; /* CLOCK_REALTIME at start */
    uint64_t start_clock_ns;    /* the trace clock at start; event times are on this clock */
    uint32_t cmdline_len;     /* bytes of cmdline that follow, NUL-separated arguments */
    uint32_t space_errno;     /* with OBT_FILE_OUT_OF_SPACE: the errno the file system refused space with */
    /* char cmdline[cmdline_len]; within the header page */
};

#define OBT_FILE_FORKED 0x0001 /* written by a child after fork */
/*
 * Set in the mapped header while the process runs: the file system refused
 * the trace more space (disk full, quota, file-size limit). No record was
 * written past that point; the events from then on are lost, not damaged.
 */
#define OBT_FILE_OUT_OF_SPACE 0x0002

/* ---- chunks ------------------------------------------------------- */

/*
 * Where chunk k of a trace with chunks of chunk_size bytes starts in the
 * file: every chunk is aligned to its own size, the header page at 0 and a
 * hole (no blocks) up to chunk 0 at chunk_size. Aligned, a chunk written
 * whole fills whole large page-cache folios, which costs the writer a
 * third less than a chunk straddling them.
 */
static inline uint64_t obt_chunk_offset(uint32_t chunk_size, uint64_t k)
{
    return (k + 1) * (uint64_t)chunk_size;
}

struct obt_chunk_header {
    uint32_t magic;           /* OBT_CHUNK_MAGIC, written last */
    uint32_t tid;             /* owning thread */
    uint64_t base_seq;        /* the thread's number of events before this chunk's first */
    uint64_t base_ns;         /* ts_delta values are relative to this */
    uint32_t thread_chunk_no; /* 0, 1, 2 ... per thread, for ordering */
    uint32_t thread_serial;   /* the thread's number, 1, 2 ... as threads first write: tids are reused, this is not */
};

/* ---- records ------------------------------------------------------ */

struct obt_record_header {
    uint16_t type; /* enum obt_record_type; 0 = no more records in this chunk */
    uint16_t size; /* bytes including this header, a multiple of 4 */
};

/* X(name, value, struct, description) */
#define OBT_RECORD_TYPES(X)                                                                 \
    X(OBT_REC_EVENT, 1, obt_event, "one traced operation")                                  \
    X(OBT_REC_STACK, 2, obt_stack, "an interned stack: id and raw return addresses")        \
    X(OBT_REC_MODULE_LOAD, 3, obt_module_load, "a module instance mapped")                  \
    X(OBT_REC_MODULE_UNLOAD, 4, obt_module_unload, "a module instance unmapped")            \
    X(OBT_REC_OBJECT, 5, obt_object, "an object's identity: id, address, type, name")       \
    X(OBT_REC_STRING, 6, obt_string, "an interned string: id and text")                     \
    X(OBT_REC_DROPPED, 7, obt_dropped, "events lost (buffer full, re-entry, filters)")      \
    X(OBT_REC_END, 8, obt_end, "normal end of trace with counters")                        \
    X(OBT_REC_REBASE, 9, obt_rebase, "new event-count/time bases for the following records of the chunk")

#define OBT_REC_ENUM_(name, value, st, desc) name = value,
enum obt_record_type { OBT_RECORD_TYPES(OBT_REC_ENUM_) };
#undef OBT_REC_ENUM_

/* ---- operations (event kinds) ------------------------------------ */

/*
 * X(name, value, count_meaning, description)
 * count_meaning: which counter obt_event.count holds after the operation.
 */
#define OBT_OPS(X)                                                                          \
    X(OBT_OP_OBJ_CREATE, 1, pointer, "object created (creator's reference)")                \
    X(OBT_OP_OBJ_REF, 2, pointer, "pointer reference taken")                                \
    X(OBT_OP_OBJ_DEREF, 3, pointer, "pointer reference dropped")                            \
    X(OBT_OP_OBJ_MAKE_TEMPORARY, 4, pointer, "permanent object made temporary")             \
    X(OBT_OP_HANDLE_OPEN, 5, handle, "handle created")                                      \
    X(OBT_OP_HANDLE_CLOSE, 6, handle, "handle closed")                                      \
    X(OBT_OP_DEV_CREATE, 7, pointer, "IoCreateDevice")                                      \
    X(OBT_OP_DEV_DELETE, 8, pointer, "IoDeleteDevice")                                      \
    X(OBT_OP_DEV_ATTACH, 9, none, "IoAttachDeviceToDeviceStack (obj2 = attached-to)")       \
    X(OBT_OP_DEV_DETACH, 10, none, "IoDetachDevice (obj = lower device)")                   \
    X(OBT_OP_DEV_OPEN_REF, 11, refcount, "device ReferenceCount +1 (open admitted)")        \
    X(OBT_OP_DEV_OPEN_DEREF, 12, refcount, "device ReferenceCount -1 (file object gone)")   \
    X(OBT_OP_SYMLINK_CREATE, 13, none, "IoCreateSymbolicLink (string = link)")              \
    X(OBT_OP_SYMLINK_DELETE, 14, none, "IoDeleteSymbolicLink (string = link)")              \
    X(OBT_OP_IRP_CALL, 15, none, "IofCallDriver (arg = major<<8|minor, obj2 = the IRP)")    \
    X(OBT_OP_IRP_COMPLETE, 16, none, "IofCompleteRequest (obj2 = the IRP)")                 \
    X(OBT_OP_IMAGE_LOAD, 17, none, "MmLoadSystemImage")                                     \
    X(OBT_OP_IMAGE_UNLOAD, 18, none, "MmUnloadSystemImage")                                 \
    X(OBT_OP_DRIVER_ENTRY, 19, none, "DriverEntry returned (status)")                       \
    X(OBT_OP_DRIVER_UNLOAD, 20, none, "DriverUnload called")                                \
    X(OBT_OP_UNLOAD_WRITE, 21, none, "DriverUnload written (arg = new routine)")            \
    X(OBT_OP_SERVICE_START, 22, none, "ZwLoadDriver")                                       \
    X(OBT_OP_SERVICE_STOP, 23, none, "ZwUnloadDriver")                                      \
    X(OBT_OP_POOL_ALLOC, 24, none, "pool allocated (arg = bytes, tag)")                     \
    X(OBT_OP_POOL_FREE, 25, none, "pool freed")                                             \
    X(OBT_OP_WORKITEM_QUEUE, 26, none, "IoQueueWorkItem")                                   \
    X(OBT_OP_WORKITEM_RUN, 27, none, "work item routine ran")                               \
    X(OBT_OP_WAIT_BEGIN, 28, none, "blocking wait begins")                                  \
    X(OBT_OP_WAIT_END, 29, none, "blocking wait ends (status)")                             \
    X(OBT_OP_WAIT_STUCK, 30, none, "wait reported stuck")                                   \
    X(OBT_OP_BUGCHECK, 31, none, "KeBugCheckEx (arg = code)")                               \
    X(OBT_OP_NOTIFY_REGISTER, 32, pointer, "IoRegisterPlugPlayNotification")                \
    X(OBT_OP_NOTIFY_UNREGISTER, 33, pointer, "IoUnregisterPlugPlayNotification(Ex)")        \
    X(OBT_OP_REMLOCK_ACQUIRE, 34, iocount, "IoAcquireRemoveLock (tag)")                     \
    X(OBT_OP_REMLOCK_RELEASE, 35, iocount, "IoReleaseRemoveLock (tag)")                     \
    X(OBT_OP_REMLOCK_WAIT, 36, iocount, "IoReleaseRemoveLockAndWait")                       \
    X(OBT_OP_RUNDOWN_ACQUIRE, 37, iocount, "ExAcquireRundownProtection")                    \
    X(OBT_OP_RUNDOWN_RELEASE, 38, iocount, "ExReleaseRundownProtection")                    \
    X(OBT_OP_RUNDOWN_WAIT, 39, iocount, "ExWaitForRundownProtectionRelease")                \
    X(OBT_OP_INTERFACE_QUERY, 40, none, "IRP_MN_QUERY_INTERFACE answered")                  \
    X(OBT_OP_PNP_EVENT, 41, none, "PnP IRP sent to a device of a devnode (arg = minor | param << 32)") \
    X(OBT_OP_VETO, 42, none, "removal vetoed (arg = PNP_VETO_TYPE)")                       \
    X(OBT_OP_WORKITEM_ALLOC, 43, none, "IoAllocateWorkItem (obj2 = device)")                \
    X(OBT_OP_WORKITEM_FREE, 44, none, "IoFreeWorkItem")                                     \
    X(OBT_OP_SHUTDOWN_REGISTER, 45, pointer, "IoRegisterShutdownNotification")              \
    X(OBT_OP_SHUTDOWN_UNREGISTER, 46, pointer, "IoUnregisterShutdownNotification")          \
    X(OBT_OP_PNP_IRP_DONE, 47, none, "PnP IRP to a devnode completed (obj = PDO, arg = minor)") \
    X(OBT_OP_DEVNODE_STATE, 48, none, "devnode state change (arg = new, arg2 = old state)")    \
    X(OBT_OP_REMLOCK_MISUSE, 49, iocount, "remove lock misuse reported (tag = NTSIM_REMLOCK_*)") \
    X(OBT_OP_INTERFACE_FUNCS, 50, none, "the reference functions of the interface just handed out") \
    X(OBT_OP_HOST_ACTION, 51, none, "the host announces or requests an action (string = where, arg = what)") \
    X(OBT_OP_IRP_ALLOC, 52, none, "IoAllocateIrp / IoInitializeIrp: an IRP gets a new id")   \
    X(OBT_OP_IRP_BUILD, 53, none, "IoBuildDeviceIoControlRequest / IoBuildSynchronousFsdRequest") \
    X(OBT_OP_IRP_FREE, 54, none, "IoFreeIrp")                                               \
    X(OBT_OP_REMLOCK_INIT, 55, iocount, "IoInitializeRemoveLockEx (tag = allocate tag)")   \
    X(OBT_OP_WDF_CREATE, 70, wdfref, "a KMDF object created (obj2 = parent, arg = kind | OBT_WDF_*)") \
    X(OBT_OP_WDF_REF, 71, wdfref, "WdfObjectReferenceActual (tag, string = file:line)")   \
    X(OBT_OP_WDF_DEREF, 72, wdfref, "WdfObjectDereferenceActual (tag, string = file:line)") \
    X(OBT_OP_WDF_DELETE, 73, wdfref, "WdfObjectDelete, or the framework deleting the object (arg)") \
    X(OBT_OP_WDF_CLEANUP, 74, wdfref, "EvtCleanupCallback about to run (arg = the callback)") \
    X(OBT_OP_WDF_DESTROY, 75, wdfref, "the object's memory released (after EvtDestroyCallback)") \
    X(OBT_OP_WDF_IOTARGET_OPEN, 76, none, "WdfIoTargetOpen (obj2 = the file object held)")  \
    X(OBT_OP_WDF_IOTARGET_CLOSE, 77, none, "the I/O target let its file object go (arg = why)")

#define OBT_OP_ENUM_(name, value, count, desc) name = value,
enum obt_op { OBT_OPS(OBT_OP_ENUM_) };
#undef OBT_OP_ENUM_

/* OBT_OP_INTERFACE_QUERY: bits of arg (see doc/trace-format.md). */
#define OBT_IFACE_NOOP_REFS 0x1u /* InterfaceReference/Dereference are the KMDF no-op functions */
#define OBT_IFACE_IRP_SHIFT 32   /* arg >> 32: id of the requester's IRP (type Irp), 0 if unknown */

/* OBT_OP_IRP_ALLOC: arg2 of an IRP in the caller's memory (IoInitializeIrp). */
#define OBT_IRP_CALLER_MEMORY 0x1u

/* OBT_OP_REMLOCK_INIT: arg = HighWatermark | MaxLockedMinutes << OBT_REMLOCK_MINUTES_SHIFT. */
#define OBT_REMLOCK_MINUTES_SHIFT 32

/*
 * OBT_OP_WDF_CREATE: arg = the object's kind (low 8 bits, enum obt_wdf_kind)
 * | OBT_WDF_* flags; arg2 = id of the WDM object underneath, if any.
 * X(name, value, WDK handle type name)
 */
#define OBT_WDF_KINDS(X)                            \
    X(OBT_WDF_OBJECT, 1, "WDFOBJECT")               \
    X(OBT_WDF_DRIVER, 2, "WDFDRIVER")               \
    X(OBT_WDF_DEVICE, 3, "WDFDEVICE")               \
    X(OBT_WDF_QUEUE, 4, "WDFQUEUE")                 \
    X(OBT_WDF_REQUEST, 5, "WDFREQUEST")             \
    X(OBT_WDF_MEMORY, 6, "WDFMEMORY")               \
    X(OBT_WDF_WORKITEM, 7, "WDFWORKITEM")           \
    X(OBT_WDF_IOTARGET, 8, "WDFIOTARGET")           \
    X(OBT_WDF_FILEOBJECT, 9, "WDFFILEOBJECT")       \
    X(OBT_WDF_SPINLOCK, 10, "WDFSPINLOCK")          \
    X(OBT_WDF_WAITLOCK, 11, "WDFWAITLOCK")          \
    X(OBT_WDF_STRING, 12, "WDFSTRING")              \
    X(OBT_WDF_COLLECTION, 13, "WDFCOLLECTION")      \
    X(OBT_WDF_TIMER, 14, "WDFTIMER")                \
    X(OBT_WDF_KEY, 15, "WDFKEY")

#define OBT_WDF_KIND_ENUM_(name, value, text) name = value,
enum obt_wdf_kind { OBT_WDF_KINDS(OBT_WDF_KIND_ENUM_) };
#undef OBT_WDF_KIND_ENUM_

#define OBT_WDF_KIND_MASK 0xffu
#define OBT_WDF_CONTROL_DEVICE 0x100u /* WDFDEVICE: a control device (WdfControlDeviceInitAllocate) */
#define OBT_WDF_FILTER 0x200u         /* WDFDEVICE: a filter (WdfFdoInitSetFilter) */
#define OBT_WDF_PDO 0x400u            /* WDFDEVICE: a PDO the driver enumerated */
#define OBT_WDF_REMOTE_TARGET 0x800u  /* WDFIOTARGET: created by WdfIoTargetCreate, not a device's default target */

/* OBT_OP_WDF_DELETE arg: who deleted the object. */
#define OBT_WDF_DELETE_BY_DRIVER 0    /* WdfObjectDelete */
#define OBT_WDF_DELETE_WITH_PARENT 1  /* the framework, because its parent was deleted */
#define OBT_WDF_DELETE_BY_FRAMEWORK 2 /* the framework, on its own (device removal, request completion) */

/* OBT_OP_WDF_IOTARGET_CLOSE arg: why the target let its file object go. */
#define OBT_WDF_CLOSE_BY_DRIVER 1     /* WdfIoTargetClose */
#define OBT_WDF_CLOSE_QUERY_REMOVE 2  /* WdfIoTargetCloseForQueryRemove, or the framework on query-remove */
#define OBT_WDF_CLOSE_REMOVE 3        /* the target device was removed (remove-complete) */
#define OBT_WDF_CLOSE_DELETED 4       /* the target object was deleted while open */

/* Object types, as recorded in obt_event.obj_type and obt_object.type. */
#define OBT_OBJ_TYPES(X)          \
    X(OBT_OBJ_NONE, 0, "-")        \
    X(OBT_OBJ_DEVICE, 1, "Device") \
    X(OBT_OBJ_DRIVER, 2, "Driver") \
    X(OBT_OBJ_FILE, 3, "File")     \
    X(OBT_OBJ_EVENT, 4, "Event")   \
    X(OBT_OBJ_IRP, 5, "Irp")       \
    X(OBT_OBJ_POOL, 6, "Pool")     \
    X(OBT_OBJ_REMLOCK, 7, "RemoveLock") \
    X(OBT_OBJ_RUNDOWN, 8, "Rundown")    \
    X(OBT_OBJ_NOTIFY, 9, "Notification") \
    X(OBT_OBJ_WORKITEM, 10, "WorkItem")  \
    X(OBT_OBJ_IMAGE, 11, "Image")        \
    X(OBT_OBJ_WDF, 12, "WdfObject")      \
    X(OBT_OBJ_OTHER, 15, "Other")

#define OBT_OBJ_ENUM_(name, value, text) name = value,
enum obt_obj_type { OBT_OBJ_TYPES(OBT_OBJ_ENUM_) };
#undef OBT_OBJ_ENUM_

/* obt_event.flags: which optional fields follow the fixed part, in this order. */
#define OBT_EV_TAG 0x0001    /* uint32_t tag */
#define OBT_EV_STATUS 0x0002 /* int32_t status */
#define OBT_EV_OBJ2 0x0004   /* uint32_t related object id */
#define OBT_EV_ARG 0x0008    /* uint64_t operation-specific argument */
#define OBT_EV_STRING 0x0010 /* uint32_t string id (obt_string) */
#define OBT_EV_MODULE 0x0020 /* uint32_t module instance (obt_module_load.instance) */
#define OBT_EV_ARG2 0x0040   /* uint64_t second operation-specific argument */
#define OBT_EV_PRE 0x0100    /* recorded before the call was forwarded (it may never return) */
#define OBT_EV_OPTIONAL_MASK 0x007f /* flags that add a field; other bits add none */

/*
 * Timed records (EVENT, MODULE_LOAD, MODULE_UNLOAD, END) hold at offset 4
 * their time on the trace clock: chunk base_ns + ts_delta.
 */
#define OBT_TS_DELTA_OFFSET 4u

/*
 * The fixed part of an event: 24 bytes. Optional fields follow per flags.
 * The thread's own order is the order in its chunks; time = chunk base_ns
 * + ts_delta.
 */
struct obt_event {
    struct obt_record_header h;
    uint32_t ts_delta;
    uint8_t op;        /* enum obt_op */
    uint8_t obj_type;  /* enum obt_obj_type */
    uint16_t flags;    /* OBT_EV_* */
    uint32_t object;   /* object id (obt_object.id), OBT_NO_OBJECT if none */
    int32_t count;     /* counter after the operation, see OBT_OPS count_meaning */
    uint32_t stack;    /* stack id, OBT_NO_STACK if none */
};

struct obt_stack {
    struct obt_record_header h;
    uint32_t id;       /* > 0 */
    uint32_t depth;
    /* uint64_t frames[depth]; return addresses, innermost first */
};

struct obt_module_load {
    struct obt_record_header h;
    uint32_t ts_delta; /* when the mapping was observed */
    uint32_t instance; /* > 0, unique per mapping of a module in this trace */
    uint64_t base;     /* load bias (dlpi_addr) */
    uint64_t start;    /* lowest mapped address */
    uint64_t end;      /* one past the highest mapped address */
    uint8_t build_id_len;
    uint8_t reserved[3];
    uint32_t path_len;
    /* uint8_t build_id[build_id_len]; char path[path_len]; padding to 4 */
};

struct obt_module_unload {
    struct obt_record_header h;
    uint32_t ts_delta; /* when the unmapping was observed */
    uint32_t instance;
};

struct obt_object {
    struct obt_record_header h;
    uint32_t id;       /* > 0, never reused within a trace */
    uint8_t type;      /* enum obt_obj_type */
    uint8_t reserved;
    uint16_t name_len;
    uint64_t address;  /* address at creation (addresses are reused; ids are not) */
    uint32_t owner;    /* id of the owning driver object (a remove lock: its device), or 0 */
    uint32_t image;    /* module instance of the owning image, or 0 */
    /* char name[name_len]; padding to 4 */
};

struct obt_string {
    struct obt_record_header h;
    uint32_t id;
    uint32_t len;
    /* char text[len]; padding to 4 */
};

struct obt_dropped {
    struct obt_record_header h;
    uint32_t count;
    uint32_t reason;   /* OBT_DROP_* */
};

/*
 * Sets new bases for the events that follow it in the same chunk (a delta
 * would not fit in 32 bits otherwise).
 */
struct obt_rebase {
    struct obt_record_header h;
    uint32_t reserved;
    uint64_t base_seq; /* the thread's number of events before the next one */
    uint64_t base_ns;
};

#define OBT_DROP_REENTRY 1
#define OBT_DROP_NO_SPACE 2
#define OBT_DROP_FILTERED 3

struct obt_end {
    struct obt_record_header h;
    uint32_t ts_delta;
    uint64_t dropped;  /* events lost */
    uint64_t failures; /* internal failures (unwinder errors, mapping failures) */
    uint64_t reserved[2]; /* 0 (a reader counts the events merged before END) */
};

#endif /* OBTRACE_TRACE_H */
