/*
 * rules_chain.h - what the files of the image-chain rules share: the chain
 * one image's verdict is built on and the functions one family of findings
 * offers the others. rules_image.c walks the chain and decides the headline;
 * rules_files.c (open file objects), rules_devices.c (devices not freed),
 * rules_refs.c (references and registrations that pin the driver object) and
 * rules_locks.c (remove locks and run-down waits) add the findings;
 * rules_wdf.c words in KMDF terms what a KMDF object caused.
 */
#ifndef OBTRACE_RULES_CHAIN_H
#define OBTRACE_RULES_CHAIN_H

#include <stdbool.h>

#include "rules.h"

#define STATUS_INVALID_DEVICE_REQUEST_ ((int32_t)0xC0000010)

/* Everything one image's verdict looks at. */
struct chain {
    const struct model *m;
    const struct object_list *live;
    const struct module *mod;
    const struct driver *d;
    const struct object *dobj;  /* the live driver object, NULL once freed */
    struct verdict *v;
    unsigned linked, zombies;   /* devices of the driver still on its list / unlinked but referenced */
};

/* ---- rules_image.c: shared helpers */
bool is_device_of(const struct object *o, const struct driver *d);
const struct object *bottom_device(const struct model *m, const struct object *dev);
const char *device_name(const struct model *m, const struct object *o, char *buf, size_t len);
void add_event_site(struct finding *f, const char *verb, struct event_ref at);
struct finding *chain_add(struct chain *c, enum finding_id id, const struct object *o);

/* ---- rules_files.c: open file objects on a device */
unsigned report_open_files(struct chain *c, const struct object *dev, const char *blocked);

/* ---- rules_devices.c: devices still on the driver's list */
void report_attached_above(struct chain *c, const struct object *dev);
void report_linked_devices(struct chain *c, bool *stack_pending);

/* ---- rules_refs.c: references that pin the driver object */
void report_zombies(struct chain *c, bool consequence_of_unload);
void report_registrations(struct chain *c);
void report_driver_leaks(struct chain *c);

/* ---- rules_locks.c: remove locks and run-down protection */
const char *lock_wait_call(const struct object *l);
const char *lock_what(const struct object *l);
const struct object *lock_wait_stuck(const struct chain *c);
void report_locks(struct chain *c);

/* ---- rules_wdf.c: KMDF objects behind WDM findings (each TRUE when it reported, in place of the WDM finding) */
/* The zombie dev is the DEVICE_OBJECT of a deleted WDFDEVICE kept by WDF references: wdf-leaked-reference. */
bool report_wdf_zombie(struct chain *c, const struct object *dev);
/* The undeleted dev is a KMDF control device never deleted: wdf-control-device. */
bool report_wdf_control_device(struct chain *c, const struct object *dev);
/* The file object on dev is held by an open remote I/O target: wdf-iotarget-open. */
bool report_wdf_open_target(struct chain *c, const struct object *file, const struct object *dev);

#endif /* OBTRACE_RULES_CHAIN_H */
