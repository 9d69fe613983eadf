/*
 * model.h - rebuilds, from the merged record stream, every object's life
 * and every driver image's fate: the state the rules (rules.h) read.
 *
 * What is kept is bounded by live objects and distinct stacks, not by the
 * number of events: per live object its outstanding pointer references
 * (each with the stack, tag and thread that took it), per-site totals,
 * handles, ReferenceCount, attachments, remove-lock holders; per driver and
 * per module instance (few) their whole story; a bounded ring of recently
 * freed objects, so a release after the last one can name both stacks.
 *
 * How the model reads each operation (which of obj/obj2/arg/tag/string it
 * uses) is listed in doc/findings.md, "What the analyzer reads".
 */
#ifndef OBTRACE_MODEL_H
#define OBTRACE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "idmap.h"
#include "trace_reader.h"

struct cycle;
struct wdf_info;
struct wdf_mistag;

#define TAG_DEFAULT 0x746c6644u /* 'Dflt' as written by untagged calls */
#define DERIVED_STACK_BASE 0xF0000000u /* ids of stacks the model derives; a trace's ids stay below */

/* What an outstanding pointer reference stands for. */
enum ref_label {
    LBL_REF,     /* an explicit ObReferenceObject* */
    LBL_CREATE,  /* the creator's / keep-alive / namespace reference */
    LBL_HANDLE,  /* the reference a handle owns */
    LBL_DEVICE,  /* a device's reference on its driver (holder = device id) */
    LBL_NOTIFY,  /* a PnP notification registration's reference (holder = registration id) */
};

/* A remembered event: where and when something happened. */
struct event_ref {
    uint64_t seq;   /* 0 = never */
    uint32_t stack;
    uint32_t tid;
    uint8_t op;
};

/* Which call took a reference, when the op alone does not say. */
enum ref_via {
    VIA_NONE,
    VIA_DEVICE_POINTER, /* IoGetDeviceObjectPointer: the file object's reference, handed to the caller */
    VIA_WORKITEM,       /* IoQueueWorkItem(Ex): one queue's reference on the work item's device (holder = the work
                           item), dropped by the I/O manager after that queue's routine returned */
};

/* Who made a traced call: the module of the stack's innermost frame (the direct caller). */
enum call_role {
    CALL_UNKNOWN,
    CALL_DRIVER, /* a driver image called it */
    CALL_OTHER,  /* the kernel on its own behalf, or the application */
};

struct ref_entry {
    uint64_t seq;
    uint32_t stack;
    uint32_t tag;    /* 0 = untagged */
    uint32_t tid;
    uint32_t holder; /* LBL_DEVICE: the device; LBL_NOTIFY: the registration; VIA_WORKITEM: the work item */
    uint8_t label;   /* enum ref_label */
    uint8_t op;
    uint8_t via;     /* enum ref_via */
    uint8_t caller;  /* enum call_role: who made the traced call */
};

/* Per (stack, tag): how many references and dereferences an object got there. */
struct site_total {
    uint32_t stack, tag;
    uint32_t refs, derefs;
    uint32_t local; /* references of this site an untagged release on a clearly closer call path dropped */
    uint32_t tied;  /* references of this site an untagged release dropped by the last tie-break (a reference
                       of another site was as likely the one it dropped) */
};

/* One outstanding remove-lock or run-down acquisition. */
struct lock_hold {
    uint64_t tag;
    struct event_ref at;
};

struct object {
    uint32_t id;
    uint8_t type;       /* enum obt_obj_type */
    uint32_t owner;     /* driver object id */
    uint32_t image;     /* module instance of the owning image */
    uint64_t address;
    char *name;         /* "" when unnamed */
    struct event_ref created, deleted, unlinked, last_release, temporary;
    bool delete_called, is_unlinked, removed;
    bool guessed;       /* an untagged release was paired by likeness among different stacks */
    struct event_ref mistagged; /* the last release whose explicit tag no outstanding reference had */
    uint32_t mistag;            /* its tag */
    int32_t handles;
    int32_t refcount;   /* DEVICE_OBJECT.ReferenceCount */
    int32_t last_count; /* the last pointer count the trace reported (in the kernel's order: see release_recorded_late) */
    uint32_t last_count_tid; /* the thread whose event reported it; 0 before any */
    int32_t closes_since_count; /* handle closes since: each dropped the handle's pointer reference (no count shown) */
    struct ref_entry *refs;
    size_t nrefs, caprefs;
    struct site_total *sites;
    size_t nsites, capsites;
    uint32_t attached_to;    /* devices: the lower device */
    uint32_t attached_above; /* devices: the device attached on top (kept when it is freed still attached) */
    struct event_ref attached, detached; /* devices: when this device attached above another, and detached */
    uint32_t file_device;    /* files: the device opened */
    struct event_ref opened; /* files: the open (create) */
    struct lock_hold *holds; /* remove locks, run-down refs */
    size_t nholds, capholds;
    struct event_ref wait;   /* a wait on this object that began */
    bool waiting, wait_stuck;
    uint64_t pool_bytes;
    uint32_t pool_tag;
    uint32_t notify_driver, notify_target; /* registrations */
    uint32_t notify_category;               /* registrations: IO_NOTIFICATION_EVENT_CATEGORY */
    uint32_t notify_file;                   /* target-device registrations: the file object registered on */
    uint32_t veto_type;
    uint32_t veto_string;
    struct event_ref veto;
    uint32_t veto_device;    /* PDOs: the device blamed for the last veto of the devnode */
    bool is_pdo;             /* the PDO of a devnode (PnP notes name it) */
    bool remove_done;        /* PDOs: an IRP_MN_REMOVE_DEVICE to the stack completed */
    uint32_t devnode_state;  /* PDOs: the devnode's state (DeviceNodeStarted ...), 0 = unknown */
    uint32_t instance;       /* PDOs: string id of the devnode's instance id */
    struct event_ref query_remove; /* PDOs: the last IRP_MN_QUERY_REMOVE_DEVICE sent to the stack */
    struct event_ref pended;       /* an IRP passed to this device that it pended (STATUS_PENDING) */
    struct event_ref remove_passed; /* IRP_MN_REMOVE_DEVICE passed to this device with IoCallDriver */
    struct event_ref remove_completed; /* IRP_MN_REMOVE_DEVICE completed at this device (its driver's handler) */
    uint32_t was_above;      /* devices: the last device ever attached above this one (kept after it detaches) */
    struct event_ref upper_detached; /* devices: the upper device's IoDetachDevice from this one */
    struct event_ref surprise;       /* devices and PDOs: IRP_MN_SURPRISE_REMOVAL sent to the stack */
    uint32_t added_for;      /* devices: the PDO whose AddDevice created it (created while its devnode was being
                                initialized, on the PnP manager's thread), 0 = none */
    struct wdf_info *wdf;    /* KMDF objects (model_wdf.h), NULL for others; kept when the object is retired */
};

/* One write of DriverUnload (IopNoteDriverUnloadWrite). */
struct unload_write {
    uint64_t routine, old;
    struct event_ref at;
};

#define MAX_UNLOAD_WRITES 8

struct driver {
    uint32_t id;
    char *name;
    uint32_t image;
    struct event_ref entry;
    int32_t entry_status;
    uint64_t driver_init;          /* DriverObject->DriverInit: the image's DriverEntry (0 = unknown) */
    struct event_ref unload;       /* DriverUnload called */
    uint64_t own_unload;           /* the routine the driver itself set (0 = none) */
    uint64_t unload_routine;       /* the current routine */
    struct event_ref unload_set, unload_replaced;
    uint64_t unload_called;        /* the routine DriverUnload called */
    struct unload_write writes[MAX_UNLOAD_WRITES]; /* the first writes, judged once the image is known */
    unsigned nwrites;
    bool unload_written;
    bool pnp;                      /* has PnP devices (attached or PnP IRPs) */
    struct event_ref stop;         /* the last service stop */
    int32_t stop_status;
    unsigned nstops;
    struct event_ref freed;
    uint64_t last_device_removed;  /* seq of the last REMOVE of one of its devices */
    struct event_ref stack_device_deleted; /* the last IoDeleteDevice of one of its devices that sat on a stack
                                              (attached once) after its IRP_MN_REMOVE_DEVICE: an FDO's removal */
    unsigned devices_created;
};

/* A symbolic link IoCreateSymbolicLink created that no IoDeleteSymbolicLink deleted yet. */
struct symlink {
    uint32_t name;          /* string id of the link name */
    uint32_t image;         /* module instance of the direct caller (0 = not known) */
    struct event_ref at;    /* the create */
};

struct module {
    uint32_t instance;
    char *path;
    uint64_t base, start, end;
    uint8_t build_id[64];
    uint8_t build_id_len;
    uint64_t load_seq, unload_seq; /* unload_seq 0 = still mapped */
    bool is_driver;
    uint32_t driver;               /* driver object id of the last driver seen for it */
    struct event_ref reload_refused;
    int32_t reload_status;
    /* when the reload was refused: references that still held its driver's deleted devices */
    struct ref_entry reload_holders[4];
    uint32_t reload_holder_objects[4];
    unsigned nreload_holders;
    uint64_t entry_seq;            /* its DriverEntry returned (0 = not yet) */
    /* the last traced call the image itself made that failed before its DriverEntry returned */
    struct event_ref init_failure;
    int32_t init_failure_status;
    uint32_t init_failure_string;  /* the call's string (a link name), 0 = none */
    struct symlink collided;       /* a failed IoCreateSymbolicLink: the live link of that name (at.seq 0 = none) */
};

struct stack {
    uint32_t id;
    uint32_t depth;
    uint64_t frames[];
};

/* Something the stream showed directly (not derived at the end). */
enum incident_kind {
    INC_DOUBLE_RELEASE,
    INC_CALL_INTO_UNLOADED,
    INC_POOL_LEAK,
    INC_LOCK_UNKNOWN_RELEASE,
    INC_INTERFACE,
    INC_BUGCHECK,
};

struct incident {
    uint8_t kind;
    uint32_t object;
    char *object_name;
    uint8_t object_type;
    struct event_ref at, other; /* other: the earlier release / the unmapping */
    uint64_t arg;
    uint64_t addr;      /* call-into-unloaded: the address called */
    uint32_t image;
    uint32_t object2;
    char *text;
};

/* An interface handed out by IRP_MN_QUERY_INTERFACE. */
struct iface {
    uint32_t exporter, requester;   /* device ids: the device that answered, the device the IRP was sent to */
    uint32_t exporter_image;        /* module instance */
    uint32_t importer_image;        /* module instance of the driver that asked (its stack's driver frame) */
    uint32_t guid;                  /* string id of the interface type */
    bool noop;                      /* InterfaceReference/Dereference are no-ops: nothing keeps the exporter */
    struct event_ref at;
    uint64_t arg;
};

/*
 * A host action: a mark (NtsimNoteHostAction: the scenario line the
 * following events belong to) or a request the tracer recorded itself
 * (NtsimStopService, ...: no where, the caller's stack). A request made
 * on a thread whose latest action is a mark belongs to that mark and is
 * not listed (the scenario runner marks every line it runs).
 */
struct host_action {
    uint64_t seq;
    uint32_t where, what;           /* string ids: "path:line" (0 for a request), the action's text */
    uint32_t stack;                 /* a request's stack id, 0 for a mark */
    uint32_t tid;
};

/* A successful handle close, remembered so a second close of the same value can name what it closed. */
struct handle_close {
    uint64_t handle;
    uint32_t object;
    struct event_ref at;
};

#define HANDLE_CLOSES 64

struct model {
    struct idmap objects;   /* live objects */
    struct idmap stacks;
    struct idmap strings;   /* id -> char * */
    struct driver *drivers;
    size_t ndrivers, capdrivers;
    struct module *modules;
    size_t nmodules, capmodules;
    struct incident *incidents;
    size_t nincidents, capincidents, incidents_lost;
    struct iface *ifaces;
    size_t nifaces, capifaces;
    struct cycle *cycles;      /* load/unload cycles of driver images, in unload order (cycles.h) */
    size_t ncycles, capcycles;
    struct host_action *actions;    /* in seq order */
    size_t nactions, capactions;
    struct object *freed_ring; /* recently freed objects (names, last release) */
    size_t freed_pos;
    struct idmap freed_index;  /* id -> slot + 1 in freed_ring */
    struct thread_state *threads;
    size_t nthreads, capthreads;
    struct handle_close closes[HANDLE_CLOSES]; /* the last successful handle closes (a ring) */
    size_t closes_pos;
    struct symlink *links;     /* symbolic links created and not deleted */
    size_t nlinks, caplinks;
    struct wdf_mistag *wdf_mistags; /* KMDF dereferences of a tag never referenced (model_wdf.h) */
    size_t nwdf_mistags, capwdf_mistags;
    /* completeness */
    bool saw_end;
    uint64_t end_events, end_dropped, end_failures;
    uint64_t dropped, dropped_records;
    uint64_t events, last_seq;
    char *damage;
    char *cut_short;           /* the file system refused the trace space: why, and what it means */
    struct event_ref bugcheck;
    uint64_t bugcheck_code;
    uint32_t bugcheck_object;
    bool bugcheck_explained;   /* the bug check is a finding (a double release, a call into an unloaded image) */
    uint32_t derived_stacks;   /* stacks the model made (ids from DERIVED_STACK_BASE) */
    /* caches */
    uint64_t *sim_cache;       /* stack-pair similarity cache */
    /* hook: called after each event is applied */
    void (*event_hook)(struct model *m, const struct tr_event *ev, void *ctx);
    void *hook_ctx;
};

/* Initializes an empty model. */
void model_init(struct model *m);
/* Frees everything the model holds. */
void model_release(struct model *m);
/* Applies one record of the stream. */
void model_apply(struct model *m, const struct tr_record *rec);
/* Records the reader's damage description (copied) so the rules can report it. */
void model_set_damage(struct model *m, const char *damage);
/*
 * Records what the header says of how the recording ended: when the file
 * system refused the trace more space (OBT_FILE_OUT_OF_SPACE), cut_short
 * says so with the errno's text.
 */
void model_note_header(struct model *m, const struct tr_header *h);
/* Why the trace is incomplete, for a one-line error: its damage, its cut, or fallback. */
const char *model_incomplete_reason(const struct model *m, const char *fallback);
/*
 * Reads the whole trace at path into m (initialized by the caller).
 * Returns 0, or -1 with err filled when the trace cannot be opened.
 */
int model_load(struct model *m, const char *path, char *err, size_t errlen);
/*
 * Like model_load, but the model stops at the event with sequence number
 * until (and the records before the next event): the state "as of" until.
 * The rest of the trace is still read for its completeness (end record,
 * drops, damage), so an incomplete trace stays incomplete.
 */
int model_load_until(struct model *m, const char *path, uint64_t until, char *err, size_t errlen);

/* Lookups; NULL when unknown. model_freed_object finds recently freed objects. */
struct object *model_object(const struct model *m, uint32_t id);
const struct object *model_freed_object(const struct model *m, uint32_t id);
const struct stack *model_stack(const struct model *m, uint32_t id);
const char *model_string(const struct model *m, uint32_t id);
struct driver *model_driver(const struct model *m, uint32_t id);
/* The module instance with this id, or NULL. */
const struct module *model_module(const struct model *m, uint32_t instance);
/* The module instance containing addr at seq: the one mapped then, else the one unmapped last before seq (code of an unloaded image), else one mapped later; NULL if none. */
const struct module *model_module_at(const struct model *m, uint64_t addr, uint64_t seq);
/* The name to show for an object: its name, else "<Type> #id". Into buf[size]; returns buf. */
char *model_object_label(const struct model *m, uint32_t id, char *buf, size_t size);
/* A module's base name ("toaster_filter.so"). */
const char *model_module_basename(const struct module *mod);

/*
 * The first driver image on a stack at seq (innermost first): the driver
 * that made the call. NULL when no driver frame is on it.
 */
const struct module *model_stack_driver(const struct model *m, uint32_t stack, uint64_t seq);

/* The host action under way at seq (the last one announced before it), or NULL. */
const struct host_action *model_action_at(const struct model *m, uint64_t seq);

/*
 * A mark's label as reports show it: "scenario.ntsim:14  stop drv" (the
 * file's base name, the line, the action). Into buf[len]; returns buf.
 */
char *model_mark_label(const struct model *m, const struct host_action *a, char *buf, size_t len);

/* True when tag is an explicit tag (not 0 and not 'Dflt'). */
bool model_tag_is_explicit(uint32_t tag);

#endif /* OBTRACE_MODEL_H */
