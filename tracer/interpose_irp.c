/*
 * interpose_irp.c - IRP identities (see interpose_hooks_irp.h) and the
 * hooks that record IRP allocation, building and freeing (IRP_ALLOC,
 * IRP_BUILD, IRP_FREE) and remove-lock initialization (REMLOCK_INIT, with
 * the device whose extension holds the lock as the lock's owner).
 *
 * Kept apart from interpose.c: only IofCallDriver / IofCompleteRequest and
 * the remove-lock hooks there ask for IRP ids, one table lookup each.
 */
#include "interpose_hooks_irp.h"

#include "interpose_fields.h"
#include "ntsim.h"
#include "ntsim_kernel.h"
#include "tracer.h"

#define IRP_PTR(x) ((void *)(uintptr_t)(x))
#define IRP_U(x) ((uint64_t)(uintptr_t)(x))

/* ---- identities ------------------------------------------------------------ */

/* The packed value of the IRP at irp (identity created on first sight), 0 for NULL. */
static uint64_t irp_value(struct obt_tls *t, const void *irp)
{
    if (!irp)
        return 0;
    uint64_t v = obt_addrmap_get(&obt_g.objects, IRP_U(irp));
    if (!v)
        return obt_object_lookup(t, irp, OBT_OBJ_IRP);
    if (OBT_OV_TYPE(v) != OBT_OBJ_IRP) /* the address held something else before: a new IRP */
        return obt_object_new(t, irp, OBT_OBJ_IRP);
    return v;
}

uint32_t obt_irp_id(struct obt_tls *t, const void *irp)
{
    return obt_recorded_id(irp_value(t, irp));
}

uint32_t obt_irp_id_known(const void *addr)
{
    uint64_t v = addr ? obt_addrmap_get(&obt_g.objects, IRP_U(addr)) : 0;
    return v && OBT_OV_TYPE(v) == OBT_OBJ_IRP ? obt_recorded_id(v) : 0;
}

uint64_t obt_irp_function(const void *irp, int next)
{
    const IRP *p = irp;
    int loc = p->CurrentLocation - (next ? 1 : 0);
    if (loc < 1 || loc > p->StackCount)
        return 0xffff;
    const IO_STACK_LOCATION *sl = p->Tail.Overlay.CurrentStackLocation - (next ? 1 : 0);
    return (uint64_t)sl->MajorFunction << 8 | sl->MinorFunction;
}

/* ---- allocation and freeing -------------------------------------------------- */

void obt_irp_pre_none(struct obt_call *c, const uint64_t *a)
{
    (void)c;
    (void)a;
}

/* Gives the IRP at irp a new identity and makes it the event's object; arg = its stack size. */
static void irp_allocated(struct obt_call *c, const void *irp, uint64_t stack_size)
{
    obt_ev_set_object(&c->ev, obt_object_new(c->tls, irp, OBT_OBJ_IRP));
    obt_field_arg(c, (uint8_t)stack_size);
}

void obt_irp_post_alloc(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    if (r)
        irp_allocated(c, IRP_PTR(r), a[0]);
    else
        obt_field_status(c, (uint32_t)STATUS_INSUFFICIENT_RESOURCES);
    obt_emit(c);
}

void obt_irp_post_initialize(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    if (!a[0])
        return;
    irp_allocated(c, IRP_PTR(a[0]), a[2]);
    obt_field_arg2(c, OBT_IRP_CALLER_MEMORY);
    obt_emit(c);
}

/* IRP_BUILD: the IRP the builder returned (r, NULL when it failed) for device, with arg2 = detail. */
static void irp_built(struct obt_call *c, uint64_t r, const void *device, uint64_t detail)
{
    obt_field_obj2(c, device ? obt_recorded_id(obt_object_lookup(c->tls, device, 0)) : 0);
    obt_field_arg2(c, detail);
    if (r) {
        obt_ev_set_object(&c->ev, irp_value(c->tls, IRP_PTR(r)));
        obt_field_arg(c, obt_irp_function(IRP_PTR(r), 1));
    } else {
        obt_field_status(c, (uint32_t)STATUS_UNSUCCESSFUL);
    }
    obt_emit(c);
}

void obt_irp_post_build_ioctl(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    irp_built(c, r, IRP_PTR(a[1]), (uint32_t)a[0]);
}

void obt_irp_post_build_fsd(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    irp_built(c, r, IRP_PTR(a[1]), (uint32_t)a[3]);
}

void obt_irp_pre_free(struct obt_call *c, const uint64_t *a)
{
    c->pre[0] = irp_value(c->tls, IRP_PTR(a[0]));
    obt_ev_set_object(&c->ev, c->pre[0]);
}

void obt_irp_post_free(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    (void)r;
    obt_object_forget(IRP_PTR(a[0]), c->pre[0]);
    obt_emit(c);
}

/* ---- remove locks ------------------------------------------------------------- */

void obt_irp_post_remlock_init(struct obt_call *c, const uint64_t *a, uint64_t r)
{
    const IO_REMOVE_LOCK *lock = IRP_PTR(a[0]);
    (void)r;
    if (!lock)
        return;
    const void *device = obt_device_of_extension(lock);
    obt_ev_set_object(&c->ev, obt_object_new_owned(c->tls, lock, OBT_OBJ_REMLOCK, device));
    obt_field_obj2(c, device ? obt_recorded_id(obt_object_lookup(c->tls, device, 0)) : 0);
    obt_field_tag(c, (uint32_t)a[1]);
    obt_field_arg(c, (uint32_t)a[3] | (uint64_t)(uint32_t)a[2] << OBT_REMLOCK_MINUTES_SHIFT);
    c->ev.count = __atomic_load_n(&lock->Common.IoCount, __ATOMIC_RELAXED);
    obt_emit(c);
}
