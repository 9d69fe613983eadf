/*
 * pnp_irp.c - the PnP IRPs the PnP manager sends to a devnode's stack.
 * Every IRP goes to the top of the stack through the I/O manager's
 * synchronous call (IopSynchronousCall: IoStatus starts as
 * STATUS_NOT_SUPPORTED, as the PnP manager initializes it), after each
 * device of the stack was announced through the exported
 * PipNotePnpIrpSent, and its result is announced through
 * PipNotePnpIrpCompleted. The query helpers unpack the answers drivers
 * return in IoStatus.Information (pool the PnP manager frees).
 */
#include <string.h>

#include "pnp_internal.h"

NTSTATUS PipSendPnpIrp(PDEVICE_NODE Node, UCHAR MinorFunction, const IO_STACK_LOCATION *Parameters,
                       PULONG_PTR Information)
{
    return PipSendPnpIrpEx(Node, MinorFunction, Parameters, Information, NULL);
}

/* FailedDevice when it is still a device of Node's stack, else NULL (the device may have gone meanwhile). */
static PDEVICE_OBJECT PipStackMember(PDEVICE_NODE Node, PDEVICE_OBJECT FailedDevice)
{
    PDEVICE_OBJECT stack[PIP_MAX_STACK];
    PDEVICE_OBJECT found = NULL;
    if (!FailedDevice)
        return NULL;
    IopLockDatabase();
    ULONG n = PipSnapshotStack(Node, stack, PIP_MAX_STACK);
    for (ULONG i = 0; i < n && !found; i++)
        if (stack[i] == FailedDevice)
            found = FailedDevice;
    IopUnlockDatabase();
    return found;
}

NTSTATUS PipSendPnpIrpEx(PDEVICE_NODE Node, UCHAR MinorFunction, const IO_STACK_LOCATION *Parameters,
                         PULONG_PTR Information, PDEVICE_OBJECT *FailedDevice)
{
    IO_STACK_LOCATION request;
    memset(&request, 0, sizeof(request));
    if (Parameters)
        request = *Parameters;
    request.MajorFunction = IRP_MJ_PNP;
    request.MinorFunction = MinorFunction;
    ULONG parameter = MinorFunction == IRP_MN_QUERY_DEVICE_RELATIONS ? (ULONG)request.Parameters.QueryDeviceRelations.Type
                                                                    : 0;
    PDEVICE_OBJECT stack[PIP_MAX_STACK];
    PDRIVER_OBJECT drivers[PIP_MAX_STACK];
    IopLockDatabase(); /* the devices cannot go while they are announced */
    ULONG n = PipSnapshotStack(Node, stack, PIP_MAX_STACK);
    for (ULONG i = 0; i < n; i++) {
        PipNotePnpIrpSent(stack[i], Node->PhysicalDeviceObject, MinorFunction, parameter);
        drivers[i] = stack[i]->DriverObject;
        ObfReferenceObject(drivers[i]); /* the image stays mapped until the IRP is back (§3.3: unload AFTER the REMOVE) */
        IopBeginPnpIrpLocked(drivers[i]);
    }
    IopUnlockDatabase();
    ULONG_PTR information = 0;
    PDEVICE_OBJECT failed = NULL;
    NTSTATUS status =
        IopSynchronousCallEx(Node->PhysicalDeviceObject, &request, STATUS_NOT_SUPPORTED, &information, TRUE, &failed);
    if (FailedDevice)
        *FailedDevice = PipStackMember(Node, failed);
    if (status != STATUS_TIMEOUT)
        for (ULONG i = 0; i < n; i++) {
            IopEndPnpIrp(drivers[i]);
            ObfDereferenceObject(drivers[i]);
        }
    if (Information)
        *Information = information;
    if (status != STATUS_TIMEOUT)
        PipNotePnpIrpCompleted(Node->PhysicalDeviceObject, MinorFunction, status);
    return status;
}

NTSTATUS PipQueryDeviceRelations(PDEVICE_NODE Node, DEVICE_RELATION_TYPE Type, PDEVICE_RELATIONS *Relations)
{
    IO_STACK_LOCATION request;
    memset(&request, 0, sizeof(request));
    request.Parameters.QueryDeviceRelations.Type = Type;
    ULONG_PTR information = 0;
    NTSTATUS status = PipSendPnpIrp(Node, IRP_MN_QUERY_DEVICE_RELATIONS, &request, &information);
    *Relations = NT_SUCCESS(status) ? (PDEVICE_RELATIONS)information : NULL;
    return status;
}

char *PipQueryId(PDEVICE_NODE Node, BUS_QUERY_ID_TYPE IdType)
{
    IO_STACK_LOCATION request;
    memset(&request, 0, sizeof(request));
    request.Parameters.QueryId.IdType = IdType;
    ULONG_PTR information = 0;
    NTSTATUS status = PipSendPnpIrp(Node, IRP_MN_QUERY_ID, &request, &information);
    if (!NT_SUCCESS(status) || !information)
        return NULL;
    PWCHAR wide = (PWCHAR)information;
    size_t n = 0;
    while (wide[n])
        n++;
    char *text = RtlpAllocZero(n + 1);
    for (size_t i = 0; i < n; i++)
        text[i] = wide[i] < 0x80 ? (char)wide[i] : '?';
    ExFreePool(wide);
    return text;
}

BOOLEAN PipQueryCapabilities(PDEVICE_NODE Node)
{
    DEVICE_CAPABILITIES caps;
    memset(&caps, 0, sizeof(caps));
    caps.Size = sizeof(caps);
    caps.Version = 1;
    caps.Address = caps.UINumber = (ULONG)-1;
    IO_STACK_LOCATION request;
    memset(&request, 0, sizeof(request));
    request.Parameters.DeviceCapabilities.Capabilities = &caps;
    if (!NT_SUCCESS(PipSendPnpIrp(Node, IRP_MN_QUERY_CAPABILITIES, &request, NULL)))
        return FALSE;
    pthread_mutex_lock(&PiTreeLock);
    Node->EjectSupported = caps.EjectSupported;
    pthread_mutex_unlock(&PiTreeLock);
    return caps.RawDeviceOK;
}

VOID PipQueryPnpDeviceState(PDEVICE_NODE Node)
{
    ULONG_PTR information = 0;
    NTSTATUS status = PipSendPnpIrp(Node, IRP_MN_QUERY_PNP_DEVICE_STATE, NULL, &information);
    pthread_mutex_lock(&PiTreeLock);
    Node->PnpState = NT_SUCCESS(status) ? (PNP_DEVICE_STATE)information : 0;
    pthread_mutex_unlock(&PiTreeLock);
}
