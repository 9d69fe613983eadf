/*
 * io_csq.c - cancel-safe IRP queues (IoCsqXxx, D:Cancel-Safe IRP Queues).
 * The driver owns the queue and its lock (the IO_CSQ callbacks); the I/O
 * manager owns the race with cancellation. A queued IRP carries the queue's
 * cancel routine and, in DriverContext[3], either the IO_CSQ_IRP_CONTEXT it
 * was inserted with or the IO_CSQ itself (both begin with their IO_TYPE_CSQ*
 * Type). Whoever clears the cancel routine first owns the IRP: a remover
 * that finds it already cleared leaves the IRP to the cancel routine, which
 * takes it out of the queue under the driver's lock and hands it to
 * CsqCompleteCanceledIrp. Every callback is driver code and is checked with
 * IopCheckCallTarget; no framework lock is held across any of them.
 */
#include "ntsim_internal.h"

#define IOP_CSQ_SLOT 3 /* Irp->Tail.Overlay.DriverContext index the queue uses, as on Windows */

static VOID IopCsqAcquireLock(PIO_CSQ Csq, PKIRQL Irql)
{
    IopCheckCallTarget((PVOID)Csq->CsqAcquireLock, "CSQ acquire-lock routine", NULL);
    Csq->CsqAcquireLock(Csq, Irql);
}

static VOID IopCsqReleaseLock(PIO_CSQ Csq, KIRQL Irql)
{
    IopCheckCallTarget((PVOID)Csq->CsqReleaseLock, "CSQ release-lock routine", NULL);
    Csq->CsqReleaseLock(Csq, Irql);
}

/* The IRP context Irp was queued with, or NULL when it was queued without one. */
static PIO_CSQ_IRP_CONTEXT IopCsqIrpContext(PIRP Irp)
{
    PIO_CSQ_IRP_CONTEXT context = Irp->Tail.Overlay.DriverContext[IOP_CSQ_SLOT];
    return context && context->Type == IO_TYPE_CSQ_IRP_CONTEXT ? context : NULL;
}

/* The queue Irp sits in (from its context or directly). */
static PIO_CSQ IopCsqOfIrp(PIRP Irp)
{
    PIO_CSQ_IRP_CONTEXT context = IopCsqIrpContext(Irp);
    return context ? context->Csq : (PIO_CSQ)Irp->Tail.Overlay.DriverContext[IOP_CSQ_SLOT];
}

/* Takes Irp (whose cancel routine its caller owns) out of the queue and unties it. Driver lock held. */
static VOID IopCsqUnlinkLocked(PIO_CSQ Csq, PIRP Irp)
{
    PIO_CSQ_IRP_CONTEXT context = IopCsqIrpContext(Irp);
    IopCheckCallTarget((PVOID)Csq->CsqRemoveIrp, "CSQ remove routine", NULL);
    Csq->CsqRemoveIrp(Csq, Irp);
    if (context)
        context->Irp = NULL;
    Irp->Tail.Overlay.DriverContext[IOP_CSQ_SLOT] = NULL;
}

static VOID IopCsqCompleteCanceled(PIO_CSQ Csq, PIRP Irp)
{
    IopCheckCallTarget((PVOID)Csq->CsqCompleteCanceledIrp, "CSQ complete-canceled routine", NULL);
    Csq->CsqCompleteCanceledIrp(Csq, Irp);
}

/* The cancel routine of every queued IRP: called by IoCancelIrp with the cancel spin lock held. */
static VOID IopCsqCancelRoutine(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    PIO_CSQ csq = IopCsqOfIrp(Irp);
    KIRQL irql;
    IopCsqAcquireLock(csq, &irql);
    IopCsqUnlinkLocked(csq, Irp);
    IopCsqReleaseLock(csq, irql);
    IopCsqCompleteCanceled(csq, Irp);
}

/* Shared by both initializers. */
static VOID IopCsqFill(PIO_CSQ Csq, ULONG Type, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                       PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                       PIO_CSQ_RELEASE_LOCK CsqReleaseLock, PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    Csq->Type = Type;
    Csq->CsqInsertIrp = CsqInsertIrp;
    Csq->CsqRemoveIrp = CsqRemoveIrp;
    Csq->CsqPeekNextIrp = CsqPeekNextIrp;
    Csq->CsqAcquireLock = CsqAcquireLock;
    Csq->CsqReleaseLock = CsqReleaseLock;
    Csq->CsqCompleteCanceledIrp = CsqCompleteCanceledIrp;
    Csq->ReservePointer = NULL;
}

NTSTATUS IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                         PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                         PIO_CSQ_RELEASE_LOCK CsqReleaseLock, PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    IopCsqFill(Csq, IO_TYPE_CSQ, CsqInsertIrp, CsqRemoveIrp, CsqPeekNextIrp, CsqAcquireLock, CsqReleaseLock,
               CsqCompleteCanceledIrp);
    return STATUS_SUCCESS;
}

NTSTATUS IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp, PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                           PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp, PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                           PIO_CSQ_RELEASE_LOCK CsqReleaseLock, PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp)
{
    IopCsqFill(Csq, IO_TYPE_CSQ_EX, (PIO_CSQ_INSERT_IRP)(PVOID)CsqInsertIrp, CsqRemoveIrp, CsqPeekNextIrp,
               CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
    return STATUS_SUCCESS;
}

/* The driver's insert callback (plain or Ex); driver lock held. */
static NTSTATUS IopCsqCallInsert(PIO_CSQ Csq, PIRP Irp, PVOID InsertContext)
{
    IopCheckCallTarget((PVOID)Csq->CsqInsertIrp, "CSQ insert routine", NULL);
    if (Csq->Type == IO_TYPE_CSQ_EX)
        return ((PIO_CSQ_INSERT_IRP_EX)(PVOID)Csq->CsqInsertIrp)(Csq, Irp, InsertContext);
    Csq->CsqInsertIrp(Csq, Irp);
    return STATUS_SUCCESS;
}

NTSTATUS IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context, PVOID InsertContext)
{
    KIRQL irql;
    IopCsqAcquireLock(Csq, &irql);
    NTSTATUS status = IopCsqCallInsert(Csq, Irp, InsertContext);
    if (!NT_SUCCESS(status)) {
        IopCsqReleaseLock(Csq, irql);
        return status;
    }
    if (Context) {
        Context->Type = IO_TYPE_CSQ_IRP_CONTEXT;
        Context->Irp = Irp;
        Context->Csq = Csq;
    }
    Irp->Tail.Overlay.DriverContext[IOP_CSQ_SLOT] = Context ? (PVOID)Context : (PVOID)Csq;
    IoMarkIrpPending(Irp);
    IoSetCancelRoutine(Irp, IopCsqCancelRoutine);
    BOOLEAN cancelledNow = Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL;
    if (cancelledNow) /* cancelled before the routine was set: ours to finish */
        IopCsqUnlinkLocked(Csq, Irp);
    IopCsqReleaseLock(Csq, irql);
    if (cancelledNow)
        IopCsqCompleteCanceled(Csq, Irp);
    return STATUS_SUCCESS;
}

VOID IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context)
{
    IoCsqInsertIrpEx(Csq, Irp, Context, NULL);
}

PIRP IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext)
{
    KIRQL irql;
    IopCsqAcquireLock(Csq, &irql);
    IopCheckCallTarget((PVOID)Csq->CsqPeekNextIrp, "CSQ peek routine", NULL);
    PIRP irp = Csq->CsqPeekNextIrp(Csq, NULL, PeekContext);
    while (irp && !IoSetCancelRoutine(irp, NULL)) /* being cancelled: its cancel routine will take it */
        irp = Csq->CsqPeekNextIrp(Csq, irp, PeekContext);
    if (irp)
        IopCsqUnlinkLocked(Csq, irp);
    IopCsqReleaseLock(Csq, irql);
    return irp;
}

PIRP IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context)
{
    KIRQL irql;
    IopCsqAcquireLock(Csq, &irql);
    PIRP irp = Context->Irp;
    if (irp && !IoSetCancelRoutine(irp, NULL)) /* being cancelled: not ours */
        irp = NULL;
    if (irp)
        IopCsqUnlinkLocked(Csq, irp);
    IopCsqReleaseLock(Csq, irql);
    return irp;
}
