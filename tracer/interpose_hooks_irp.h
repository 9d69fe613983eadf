/*
 * interpose_hooks_irp.h - IRP identities and the hooks (interpose_irp.c) of
 * the interpose_table.h rows that allocate, build and free IRPs
 * (IoAllocateIrp, IoInitializeIrp, IoBuildDeviceIoControlRequest,
 * IoBuildSynchronousFsdRequest, IoFreeIrp) and initialize remove locks
 * (IoInitializeRemoveLockEx). interpose.c includes it before expanding the
 * table; doc/trace-format.md §5.4 says which event fields each hook fills.
 *
 * An IRP's id is an object id of type Irp, given when the IRP is allocated
 * or initialized (IRP_ALLOC), or on first sight for an IRP the trace never
 * saw allocated, and never reused: an IRP allocated again at the same
 * address gets a new id. Hook shapes as in interpose_hooks_pnp.h.
 */
#ifndef OBTRACE_INTERPOSE_HOOKS_IRP_H
#define OBTRACE_INTERPOSE_HOOKS_IRP_H

#include <stdint.h>

struct obt_call;
struct obt_tls;

/*
 * The id of the IRP at irp, creating its identity (OBJECT record) on first
 * sight; 0 for NULL or a filtered type. Reads nothing at irp.
 */
uint32_t obt_irp_id(struct obt_tls *t, const void *irp);
/*
 * The id of the IRP last allocated (or first seen) at addr and not freed
 * with IoFreeIrp, 0 when addr holds no known IRP. Creates nothing, reads
 * nothing at addr: for pointers that may or may not be IRPs (remove-lock tags).
 */
uint32_t obt_irp_id_known(const void *addr);
/*
 * MajorFunction << 8 | MinorFunction of irp's current stack location, or
 * of the next one (the location IoCallDriver makes current) when next;
 * 0xffff when there is no such location.
 */
uint64_t obt_irp_function(const void *irp, int next);

/* Pre hook that records nothing. */
void obt_irp_pre_none(struct obt_call *c, const uint64_t *a);
/* IoAllocateIrp(StackSize, ChargeQuota): IRP_ALLOC. */
void obt_irp_post_alloc(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IoInitializeIrp(Irp, PacketSize, StackSize): IRP_ALLOC of an IRP in caller memory. */
void obt_irp_post_initialize(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IoBuildDeviceIoControlRequest(Code, Device, ...): IRP_BUILD. */
void obt_irp_post_build_ioctl(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IoBuildSynchronousFsdRequest(Major, Device, Buffer, Length, ...): IRP_BUILD. */
void obt_irp_post_build_fsd(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IoFreeIrp(Irp): IRP_FREE; pre identifies the IRP before it is freed. */
void obt_irp_pre_free(struct obt_call *c, const uint64_t *a);
void obt_irp_post_free(struct obt_call *c, const uint64_t *a, uint64_t r);
/* IoInitializeRemoveLockEx(Lock, AllocateTag, MaxLockedMinutes, HighWatermark, Size): REMLOCK_INIT. */
void obt_irp_post_remlock_init(struct obt_call *c, const uint64_t *a, uint64_t r);

#endif /* OBTRACE_INTERPOSE_HOOKS_IRP_H */
