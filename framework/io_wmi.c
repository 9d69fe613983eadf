/*
 * io_wmi.c - WMI as far as a driver sees it: registration as a data
 * provider (IoWMIRegistrationControl), events (IoWMIWriteEvent,
 * WmiFireEvent) and the WMILIB dispatch helpers (WmiSystemControl,
 * WmiCompleteRequest).
 *
 * The simulation has no WMI consumers. A registration is kept on the
 * device (so an unbalanced deregistration is refused and a registration
 * still standing at IoDeleteDevice can be told), but no IRP_MN_REGINFO is
 * sent; an event reaches nobody, and its buffer is freed as WMI frees it
 * (D:IoWMIWriteEvent, D:WmiFireEvent), so a pool leak report never blames
 * the driver for memory WMI owned.
 */
#include "ntsim_internal.h"
#include "wmilib.h"

NTSTATUS IoWMIRegistrationControl(PDEVICE_OBJECT DeviceObject, ULONG Action)
{
    if (!IopIsDeviceObject(DeviceObject))
        return STATUS_INVALID_PARAMETER;
    PIOP_DEVICE_STATE state = IopGetDeviceState(DeviceObject);
    switch (Action) {
    case WMIREG_ACTION_REGISTER:
        state->WmiRegistered = TRUE;
        return STATUS_SUCCESS;
    case WMIREG_ACTION_DEREGISTER:
        if (!state->WmiRegistered)
            return STATUS_INVALID_PARAMETER;
        state->WmiRegistered = FALSE;
        return STATUS_SUCCESS;
    case WMIREG_ACTION_REREGISTER:
    case WMIREG_ACTION_UPDATE_GUIDS:
        return state->WmiRegistered ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    case WMIREG_ACTION_BLOCK_IRPS:
        return STATUS_SUCCESS;
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

/*
 * 32-bit Windows answers the device object's address. A 64-bit address cut
 * to 32 bits can repeat between two live devices, so each device gets the
 * next number of a counter instead, once: unique and stable, as the
 * callers comparing ids (WmiSystemControl) need.
 */
ULONG IoWMIDeviceObjectToProviderId(PDEVICE_OBJECT DeviceObject)
{
    static ULONG next_id = 0x1000;
    if (!IopIsDeviceObject(DeviceObject))
        return 0;
    PIOP_DEVICE_STATE state = IopGetDeviceState(DeviceObject);
    ULONG id = __atomic_load_n(&state->WmiProviderId, __ATOMIC_ACQUIRE);
    if (id)
        return id;
    ULONG fresh = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED), none = 0;
    if (__atomic_compare_exchange_n(&state->WmiProviderId, &none, fresh, FALSE, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return fresh;
    return none;
}

NTSTATUS IoWMIWriteEvent(PVOID WnodeEventItem)
{
    if (!WnodeEventItem)
        return STATUS_INVALID_PARAMETER;
    ExFreePool(WnodeEventItem);
    return STATUS_SUCCESS;
}

NTSTATUS WmiFireEvent(PDEVICE_OBJECT DeviceObject, LPCGUID Guid, ULONG InstanceIndex, ULONG EventDataSize,
                      PVOID EventData)
{
    (void)DeviceObject, (void)InstanceIndex, (void)EventDataSize;
    if (EventData)
        ExFreePool(EventData);
    return Guid ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

/* TRUE for the minor functions WMI sends (IRP_MN_QUERY_ALL_DATA .. IRP_MN_REGINFO_EX). */
static BOOLEAN IopIsWmiMinor(UCHAR Minor)
{
    return Minor <= IRP_MN_EXECUTE_METHOD || Minor == IRP_MN_REGINFO_EX;
}

NTSTATUS WmiSystemControl(PWMILIB_CONTEXT WmiLibInfo, PDEVICE_OBJECT DeviceObject, PIRP Irp,
                          PSYSCTL_IRP_DISPOSITION IrpDisposition)
{
    (void)WmiLibInfo;
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    if (sp->MajorFunction != IRP_MJ_SYSTEM_CONTROL || !IopIsWmiMinor(sp->MinorFunction)) {
        *IrpDisposition = IrpNotWmi;
        return Irp->IoStatus.Status;
    }
    if (sp->Parameters.WMI.ProviderId != (ULONG_PTR)IoWMIDeviceObjectToProviderId(DeviceObject)) {
        *IrpDisposition = IrpForward;
        return Irp->IoStatus.Status;
    }
    *IrpDisposition = IrpProcessed;
    return WmiCompleteRequest(DeviceObject, Irp, STATUS_WMI_GUID_NOT_FOUND, 0, IO_NO_INCREMENT);
}

NTSTATUS WmiCompleteRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp, NTSTATUS Status, ULONG BufferUsed,
                            CCHAR PriorityBoost)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = BufferUsed;
    IoCompleteRequest(Irp, PriorityBoost);
    return Status;
}
