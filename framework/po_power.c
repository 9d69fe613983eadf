/*
 * po_power.c - the power manager's driver side: PoCallDriver,
 * PoStartNextPowerIrp, PoSetPowerState and PoRequestPowerIrp.
 *
 * Since Windows Vista power IRPs are passed like any IRP (PoCallDriver is
 * IoCallDriver and PoStartNextPowerIrp has no effect; D:PoCallDriver,
 * D:PoStartNextPowerIrp), which is what the simulation does. A power IRP a
 * driver requests is built and sent by the power manager on a system
 * worker thread, to the top of the PDO's stack, and freed after the
 * requester's completion function ran (D:PoRequestPowerIrp). Devices start
 * in D0; PoSetPowerState only records what the driver says.
 */
#include "ntsim_internal.h"
#include "pnp_internal.h"

NTSTATUS PoCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    return IoCallDriver(DeviceObject, Irp);
}

VOID PoStartNextPowerIrp(PIRP Irp)
{
    (void)Irp;
}

POWER_STATE PoSetPowerState(PDEVICE_OBJECT DeviceObject, POWER_STATE_TYPE Type, POWER_STATE State)
{
    POWER_STATE previous = { .DeviceState = PowerDeviceD0 };
    if (!IopIsDeviceObject(DeviceObject))
        return previous;
    PIOP_DEVICE_STATE state = IopGetDeviceState(DeviceObject);
    if (Type == DevicePowerState) {
        if (state->DevicePower != PowerDeviceUnspecified)
            previous.DeviceState = state->DevicePower;
        state->DevicePower = State.DeviceState;
    } else {
        previous.SystemState = state->SystemPower != PowerSystemUnspecified ? state->SystemPower : PowerSystemWorking;
        state->SystemPower = State.SystemState;
    }
    return previous;
}

/* A requested power IRP on its way: who asked, and what to call back. */
typedef struct _POP_REQUEST {
    PDEVICE_OBJECT Pdo;          /* referenced until the callback returned */
    UCHAR MinorFunction;
    POWER_STATE State;
    PREQUEST_POWER_COMPLETE Callback;
    PVOID Context;
    PIRP Irp;
} POP_REQUEST;

static NTSTATUS PopRequestCompleted(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject;
    POP_REQUEST *request = Context;
    if (request->Callback)
        request->Callback(request->Pdo, request->MinorFunction, request->State, request->Context, &Irp->IoStatus);
    IoFreeIrp(Irp);
    ObDereferenceObject(request->Pdo);
    free(request);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID PopSendRequest(PVOID Context)
{
    POP_REQUEST *request = Context;
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(request->Pdo);
    IoCallDriver(top, request->Irp);
    ObDereferenceObject(top);
}

NTSTATUS PoRequestPowerIrp(PDEVICE_OBJECT DeviceObject, UCHAR MinorFunction, POWER_STATE PowerState,
                           PREQUEST_POWER_COMPLETE CompletionFunction, PVOID Context, PIRP *Irp)
{
    if (Irp)
        *Irp = NULL;
    if (MinorFunction != IRP_MN_SET_POWER && MinorFunction != IRP_MN_QUERY_POWER && MinorFunction != IRP_MN_WAIT_WAKE)
        return STATUS_INVALID_PARAMETER_2;
    if (!IopIsDeviceObject(DeviceObject))
        return STATUS_INVALID_PARAMETER;
    PDEVICE_OBJECT top = IoGetAttachedDeviceReference(DeviceObject);
    PIRP irp = IoAllocateIrp((CCHAR)top->StackSize, FALSE);
    ObDereferenceObject(top);
    POP_REQUEST *request = calloc(1, sizeof(*request));
    if (!irp || !request) {
        if (irp)
            IoFreeIrp(irp);
        free(request);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->MajorFunction = IRP_MJ_POWER;
    sp->MinorFunction = MinorFunction;
    if (MinorFunction == IRP_MN_WAIT_WAKE) {
        sp->Parameters.WaitWake.PowerState = PowerState.SystemState;
    } else {
        sp->Parameters.Power.Type = DevicePowerState;
        sp->Parameters.Power.State = PowerState;
    }
    ObReferenceObject(DeviceObject);
    *request = (POP_REQUEST){ DeviceObject, MinorFunction, PowerState, CompletionFunction, Context, irp };
    IoSetCompletionRoutine(irp, PopRequestCompleted, request, TRUE, TRUE, TRUE);
    if (Irp)
        *Irp = irp;
    ExpQueueWorkerRoutine(PopSendRequest, request);
    return STATUS_PENDING;
}

/* ---- system power transitions (the host's NtsimSetSystemPowerState) -- */

/* The PDOs of every started devnode, parents before children, each referenced. */
static PDEVICE_OBJECT *PopCollectStartedPdos(ULONG *Count)
{
    ULONG capacity = 16, n = 0;
    PDEVICE_OBJECT *pdos = RtlpAllocZero(capacity * sizeof(*pdos));
    pthread_mutex_lock(&PiTreeLock);
    for (PDEVICE_NODE node = PipRootNode->Child; node;) {
        if (node->InTree && node->State == DeviceNodeStarted && node->PhysicalDeviceObject) {
            if (n == capacity) {
                capacity *= 2;
                PDEVICE_OBJECT *grown = RtlpAllocZero(capacity * sizeof(*pdos));
                memcpy(grown, pdos, n * sizeof(*pdos));
                free(pdos);
                pdos = grown;
            }
            ObReferenceObject(node->PhysicalDeviceObject);
            pdos[n++] = node->PhysicalDeviceObject;
        }
        /* preorder walk: child, else sibling, else the nearest ancestor's sibling */
        if (node->Child) {
            node = node->Child;
            continue;
        }
        while (node && !node->Sibling)
            node = node->Parent == PipRootNode ? NULL : node->Parent;
        node = node ? node->Sibling : NULL;
    }
    pthread_mutex_unlock(&PiTreeLock);
    *Count = n;
    return pdos;
}

/* One system power IRP to the top of Pdo's stack, waited for. */
static NTSTATUS PopSendSystemIrp(PDEVICE_OBJECT Pdo, UCHAR Minor, SYSTEM_POWER_STATE State)
{
    IO_STACK_LOCATION template = { .MajorFunction = IRP_MJ_POWER, .MinorFunction = Minor };
    template.Parameters.Power.Type = SystemPowerState;
    template.Parameters.Power.State.SystemState = State;
    template.Parameters.Power.ShutdownType = State == PowerSystemWorking ? PowerActionNone
                                           : State == PowerSystemHibernate ? PowerActionHibernate
                                                                           : PowerActionSleep;
    return IopSynchronousCall(Pdo, &template, STATUS_NOT_SUPPORTED, NULL, TRUE);
}

NTSTATUS NtsimSetSystemPowerState(SYSTEM_POWER_STATE State)
{
    if (State < PowerSystemWorking || State > PowerSystemHibernate)
        return STATUS_INVALID_PARAMETER;
    ULONG count;
    PDEVICE_OBJECT *pdos = PopCollectStartedPdos(&count);
    NTSTATUS status = STATUS_SUCCESS;
    if (State == PowerSystemWorking) {
        for (ULONG i = 0; i < count; i++)
            PopSendSystemIrp(pdos[i], IRP_MN_SET_POWER, State);
    } else {
        ULONG queried = 0;
        for (; queried < count && NT_SUCCESS(status); queried++)
            status = PopSendSystemIrp(pdos[count - 1 - queried], IRP_MN_QUERY_POWER, State);
        for (ULONG i = 0; i < (NT_SUCCESS(status) ? count : queried); i++)
            PopSendSystemIrp(pdos[count - 1 - i], IRP_MN_SET_POWER, NT_SUCCESS(status) ? State : PowerSystemWorking);
    }
    for (ULONG i = 0; i < count; i++)
        ObDereferenceObject(pdos[i]);
    free(pdos);
    ExpWaitForWorkersIdle();
    return status;
}
