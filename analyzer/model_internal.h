/*
 * model_internal.h - what the files of the model share and nothing else
 * sees: the per-thread ring of recent events, the limits, the NT values the
 * replay tests, and the functions one model file offers the others. The
 * model is model.c (the replay of records), model_ledger.c (outstanding
 * references and how releases are paired with them), model_objects.c
 * (object lifetime events), model_modules.c (drivers, images, links) and
 * model_incidents.c (what the stream showed directly), model_wdf.c (KMDF
 * objects).
 */
#ifndef OBTRACE_MODEL_INTERNAL_H
#define OBTRACE_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define RING 8             /* recent events remembered per thread */
#define PAIR_WINDOW 16     /* references considered when pairing an untagged release */
#define FREED_RING 4096
#define MAX_INCIDENTS 10000
#define SIM_CACHE 65536
#define MAX_IMPLIED_REFS 64  /* references one operation may take implicitly */

#define STATUS_TIMEOUT_ 0x00000102
#define STATUS_IMAGE_ALREADY_LOADED_ ((int32_t)0xC000010E)
#define IRP_MJ_PNP_ 0x1b
#define IRP_MN_REMOVE_DEVICE_ 0x02
#define IRP_MN_QUERY_REMOVE_DEVICE_ 0x01
#define IRP_MN_SURPRISE_REMOVAL_ 0x17
#define DEVNODE_INITIALIZED_ 0x302 /* DeviceNodeInitialized: the devnode's drivers are being added */
#define STATUS_PENDING_ 0x00000103
#define STATUS_INVALID_DEVICE_REQUEST_ ((int32_t)0xC0000010)
#define BUGCHECK_REFERENCE_BY_POINTER 0x18
#define BUGCHECK_DRIVER_UNLOADED_PENDING 0xCE

struct ring_ev {
    uint64_t seq;
    uint32_t object;
    uint32_t stack;
    uint8_t op;
    bool claimed;
    bool has_popped;
    struct ref_entry popped;
};

struct thread_state {
    uint32_t tid;
    unsigned pos;
    uint32_t adding_for; /* the PDO whose devnode this thread is initializing (AddDevice calls), 0 = none */
    uint32_t running_item, running_device; /* the work item whose routine this thread runs (WORKITEM_RUN), 0 = none */
    struct ring_ev ring[RING];
};

/* ---- model.c: small helpers and the object store */
struct event_ref evref(const struct tr_event *ev);
struct thread_state *thread_of(struct model *m, uint32_t tid);
struct ring_ev *ring_at(struct thread_state *t, unsigned back);
bool stack_nested(const struct model *m, uint32_t inner_id, uint32_t outer_id);
unsigned stack_similarity(struct model *m, uint32_t a, uint32_t b);
struct object *object_get(struct model *m, uint32_t id, uint8_t type);
void object_retire(struct model *m, struct object *o);

/* ---- model_ledger.c: the reference ledger (pairing releases to references) */
void site_add(struct object *o, uint32_t stack, uint32_t tag, int refs, int derefs);
uint8_t stack_caller(const struct model *m, uint32_t stack, uint64_t seq);
void ref_push_as(struct object *o, const struct tr_event *ev, uint8_t label, uint32_t holder, uint8_t caller);
void ref_push(struct object *o, const struct tr_event *ev, uint8_t label, uint32_t holder);
struct ref_entry ref_take(struct object *o, size_t i);
long ref_find_label(const struct object *o, uint8_t label, uint32_t holder);
long ref_pick_work_item_drop(struct model *m, struct object *o, const struct tr_event *ev);
void ref_release(struct model *m, struct object *o, const struct tr_event *ev, struct ring_ev *slot);
void ref_reconcile(struct model *m, struct object *o, const struct tr_event *ev, int32_t count, uint8_t label,
                   uint32_t holder);
void ref_repair(struct object *o, struct ring_ev *slot, uint8_t label, uint32_t holder);
struct ref_entry *ref_at_seq(struct object *o, uint64_t seq);
void ref_relabel(struct object *o, const struct ring_ev *slot, uint8_t label, uint32_t holder);
struct ring_ev *ring_find_nested(struct model *m, struct thread_state *t, uint8_t op, uint32_t object,
                                 uint32_t outer_stack);

/* ---- model_objects.c: object lifetime events */
void on_create(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t);
void on_ref(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t);
void on_workitem_queue(struct model *m, const struct object *item, const struct tr_event *ev, struct thread_state *t);
void on_deref(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
              struct ring_ev *slot);
void on_handle_open(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t);
void note_handle_close(struct model *m, const struct object *o, const struct tr_event *ev);
void report_unknown_close(struct model *m, const struct tr_event *ev);
void on_handle_close(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t,
                     struct ring_ev *slot);
void on_dev_create(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t);
void note_stack_device_deleted(struct model *m, const struct object *o, const struct tr_event *ev);
void on_dev_delete(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t);
void mark_pnp(struct model *m, const struct object *dev);
void on_attach(struct model *m, struct object *upper, const struct tr_event *ev);
void on_detach(struct model *m, struct object *lower, const struct tr_event *ev, struct thread_state *t);
void on_open_ref(struct model *m, struct object *dev, const struct tr_event *ev, struct thread_state *t);
void on_open_deref(struct model *m, struct object *dev, const struct tr_event *ev, struct thread_state *t);
void on_removed(struct model *m, struct object *dev, const struct tr_event *ev);
void on_irp_call(struct model *m, struct object *o, const struct tr_event *ev);

/* ---- model_modules.c: drivers, module instances, images, symbolic links */
struct driver *driver_get(struct model *m, uint32_t id);
struct driver *driver_of(struct model *m, const struct object *o);
struct module *module_mut(struct model *m, uint32_t instance);
void driver_set_image(struct model *m, struct driver *d, uint32_t instance);
void on_load_refused(struct model *m, const struct object *o, const struct tr_event *ev);
void on_image_unload(struct model *m, const struct object *o, const struct tr_event *ev);
void driver_judge_unload_writes(struct model *m, struct driver *d);
void on_unload_write(struct model *m, struct driver *d, const struct tr_event *ev);
void on_notify(struct model *m, struct object *o, const struct tr_event *ev, struct thread_state *t, bool reg);
void on_symlink(struct model *m, const struct tr_event *ev);
void note_init_failure(struct model *m, const struct tr_event *ev);
bool failed_call(const struct tr_event *ev);

/* ---- model_incidents.c: incidents (double releases, calls into unloaded images, pool, bug checks, interfaces) */
struct incident *incident_add(struct model *m, uint8_t kind, const struct object *o, uint32_t id,
                              const struct tr_event *ev);
void report_double_release(struct model *m, const struct object *o, uint32_t id, const struct tr_event *ev,
                           struct event_ref earlier);
void check_call_into_unloaded(struct model *m, const struct object *o, const struct tr_event *ev);
void check_pool_at_unload(struct model *m, const struct module *mod);
void on_pool_alloc(struct model *m, struct object *p, const struct tr_event *ev);
void on_bugcheck(struct model *m, struct object *o, const struct tr_event *ev);
void on_interface(struct model *m, struct object *target, const struct tr_event *ev);

/* ---- model_wdf.c: KMDF objects */
/* Applies a WDF_* event to the live object o (retired at its WDF_DESTROY). */
void on_wdf_event(struct model *m, struct object *o, const struct tr_event *ev);
/* A WDF dereference or deletion recorded after the destruction it caused: applied to the retired f; FALSE for others. */
bool on_wdf_late(struct model *m, struct object *f, const struct tr_event *ev);
/* Frees a KMDF object's state (NULL is fine). */
void wdf_info_free(struct wdf_info *w);

#endif /* OBTRACE_MODEL_INTERNAL_H */
