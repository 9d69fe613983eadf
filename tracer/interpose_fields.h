/*
 * interpose_fields.h - setters for the optional fields of the event a hook
 * is building (struct obt_call.ev): each stores the value and sets the
 * field's OBT_EV_* flag; an id of 0 ("none") leaves its field absent.
 * Shared by every hook file (interpose.c, interpose_pnp.c, interpose_irp.c).
 */
#ifndef OBTRACE_INTERPOSE_FIELDS_H
#define OBTRACE_INTERPOSE_FIELDS_H

#include <stdint.h>

#include "tracer.h"

static inline void obt_field_obj2(struct obt_call *c, uint32_t id)
{
    if (id) {
        c->ev.obj2 = id;
        c->ev.flags |= OBT_EV_OBJ2;
    }
}

static inline void obt_field_status(struct obt_call *c, uint64_t status)
{
    c->ev.status = (int32_t)status;
    c->ev.flags |= OBT_EV_STATUS;
}

static inline void obt_field_tag(struct obt_call *c, uint32_t tag)
{
    c->ev.tag = tag;
    c->ev.flags |= OBT_EV_TAG;
}

static inline void obt_field_arg(struct obt_call *c, uint64_t v)
{
    c->ev.arg = v;
    c->ev.flags |= OBT_EV_ARG;
}

static inline void obt_field_arg2(struct obt_call *c, uint64_t v)
{
    c->ev.arg2 = v;
    c->ev.flags |= OBT_EV_ARG2;
}

/* The id of a packed object value, 0 when the object is filtered (it has no OBJECT record). */
static inline uint32_t obt_recorded_id(uint64_t value)
{
    return (OBT_OV_FLAGS(value) & OBT_OV_FILTERED) ? 0 : OBT_OV_ID(value);
}

#endif /* OBTRACE_INTERPOSE_FIELDS_H */
