/*
 * model_wdf.h - what the model keeps of a KMDF object (an object of type
 * WdfObject): its kind, parent and WDM object underneath, its deletion and
 * destruction, and the ledger of the references its driver took with
 * WdfObjectReference[WithTag] that no dereference dropped yet.
 *
 * References the framework takes on its own behalf (a child's on its
 * parent, a queued work item's on itself) come through the same exported
 * call with libntsim as the direct caller: they are never listed as the
 * driver's. A driver's dereference drops the newest outstanding
 * reference of the same tag: exact for a tag, since KMDF counts per tag;
 * for untagged references the pairing among several is a guess and is
 * labelled so.
 */
#ifndef OBTRACE_MODEL_WDF_H
#define OBTRACE_MODEL_WDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One reference a driver took and has not dropped. */
struct wdf_ref {
    uint64_t tag;          /* the whole Tag pointer, 0 = untagged */
    uint32_t where;        /* string id of the "file:line" the macro passed, 0 = none */
    struct event_ref at;
};

/* Per tag: what the driver took and dropped (the per-tag balance `obtrace history` prints). */
struct wdf_tag_total {
    uint64_t tag;
    uint32_t refs, derefs;
};

struct wdf_info {
    uint32_t kind;              /* enum obt_wdf_kind */
    uint32_t flags;             /* OBT_WDF_CONTROL_DEVICE ... */
    uint32_t parent;            /* object id of the parent, 0 = none */
    uint32_t wdm;               /* object id of the WDM object underneath, 0 = none */
    struct event_ref deleted;   /* the creation reference dropped (WDF_DELETE), seq 0 = not deleted */
    int32_t after_delete;       /* references left right after that */
    struct wdf_ref *refs;       /* outstanding driver references, oldest first */
    size_t nrefs, caprefs;
    struct wdf_tag_total *tags;
    size_t ntags, captags;
    bool guessed;               /* an untagged dereference chose among untagged references of several sites */
    /* remote I/O targets */
    uint32_t target_file;       /* the file object it holds, 0 = closed */
    struct event_ref target_open;
};

/* A dereference whose tag had no outstanding reference (what the KMDF verifier breaks on). */
struct wdf_mistag {
    uint32_t object;
    uint64_t tag;
    uint32_t where;
    struct event_ref at;
    struct wdf_ref meant;   /* the newest outstanding tagged reference of the object then (at.seq 0: none) */
};

/* The KMDF object holding WDM object wdm (a WDFDEVICE its DEVICE_OBJECT, a target its file), live; NULL if none. */
const struct object *model_wdf_holder(const struct model *m, uint32_t wdm);
/* The handle type name of a kind ("WDFDEVICE"). */
const char *model_wdf_kind_name(uint32_t kind);

#endif /* OBTRACE_MODEL_WDF_H */
