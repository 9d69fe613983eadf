/*
 * pnp_start.c - bringing a devnode up (nt-semantics §5.1): the drivers the
 * hardware description names are loaded (or their loaded instance reused)
 * in order - lower filters, the function driver, upper filters - and each
 * AddDevice is called with the PDO while the PnP manager holds a reference
 * on the driver object; a filter's failure is ignored, the function
 * driver's puts the devnode into removal (CM_PROB_FAILED_ADD, or
 * CM_PROB_DRIVER_FAILED_PRIOR_UNLOAD when the previous image is still
 * mapped). Then IRP_MN_START_DEVICE goes down the stack (drivers finish
 * their start bottom-up in completion); a failed start is followed by
 * IRP_MN_REMOVE_DEVICE (CM_PROB_FAILED_START). After the start: the PnP
 * device state is queried and bus relations are enumerated. A devnode whose
 * hardware has no function driver starts raw when the bus says RawDeviceOK.
 */
#include <string.h>

#include "pnp_internal.h"

#define PIP_MAX_SERVICES (2 * 8 + 1)

/* The services to load for Node, in load order (malloc'd copies); returns the count, 0 without hardware. */
static ULONG PipServicesFor(PDEVICE_NODE Node, char **Services, ULONG *FunctionIndex)
{
    ULONG n = 0;
    *FunctionIndex = (ULONG)-1;
    pthread_mutex_lock(&PiTreeLock);
    PIP_HARDWARE *h = PipFindHardwareLocked(Node->HardwareId);
    if (h) {
        for (char **f = h->LowerFilters; *f && n < 8; f++)
            Services[n++] = RtlpStrDup(*f);
        if (h->FunctionService) {
            *FunctionIndex = n;
            Services[n++] = RtlpStrDup(h->FunctionService);
        }
        for (char **f = h->UpperFilters; *f && n < PIP_MAX_SERVICES; f++)
            Services[n++] = RtlpStrDup(*f);
    }
    pthread_mutex_unlock(&PiTreeLock);
    return n;
}

static VOID PipSetProblem(PDEVICE_NODE Node, ULONG Problem)
{
    pthread_mutex_lock(&PiTreeLock);
    Node->Problem = Problem;
    pthread_mutex_unlock(&PiTreeLock);
}

/* Calls the driver's AddDevice for Node's PDO; STATUS_SUCCESS for a driver without one (not PnP). */
static NTSTATUS PipCallAddDevice(PDRIVER_OBJECT Driver, PDEVICE_NODE Node)
{
    PDRIVER_ADD_DEVICE addDevice = Driver->DriverExtension->AddDevice;
    if (!addDevice)
        return STATUS_SUCCESS;
    IopCheckCallTarget((PVOID)addDevice, "AddDevice", Driver);
    return addDevice(Driver, Node->PhysicalDeviceObject);
}

/*
 * Loads each service and calls its AddDevice (§5.1). Returns the function
 * driver's failure (load or AddDevice), else STATUS_SUCCESS. The PnP
 * manager's references on the drivers are dropped at the end, after the
 * unload check for a driver that ended with no device (a filter whose
 * AddDevice created nothing).
 */
static NTSTATUS PipLoadAndAddDrivers(PDEVICE_NODE Node, char **Services, ULONG Count, ULONG FunctionIndex)
{
    PDRIVER_OBJECT drivers[PIP_MAX_SERVICES] = { 0 };
    NTSTATUS result = STATUS_SUCCESS;
    for (ULONG i = 0; i < Count && NT_SUCCESS(result); i++) {
        NTSTATUS status = IopReferenceOrLoadServiceDriver(Services[i], &drivers[i]);
        if (NT_SUCCESS(status))
            status = PipCallAddDevice(drivers[i], Node);
        if (!NT_SUCCESS(status) && i == FunctionIndex)
            result = status;
    }
    for (ULONG i = 0; i < Count; i++) {
        if (!drivers[i])
            continue;
        if (!IopCountDevices(drivers[i]))
            IopCheckDriverUnload(drivers[i]);
        ObfDereferenceObject(drivers[i]);
    }
    return result;
}

/* The function driver failed: whatever attached is removed, the devnode keeps a problem. */
static VOID PipFailDevnode(PDEVICE_NODE Node, ULONG Problem)
{
    PipSetProblem(Node, Problem);
    if (Node->PhysicalDeviceObject->AttachedDevice)
        PipSendPnpIrp(Node, IRP_MN_REMOVE_DEVICE, NULL, NULL);
    PipSetDevnodeState(Node, DeviceNodeRemoved);
}

/* START and what follows it; the devnode's drivers are added. */
static NTSTATUS PipSendStart(PDEVICE_NODE Node)
{
    PipSetDevnodeState(Node, DeviceNodeResourcesAssigned);
    PipSetDevnodeState(Node, DeviceNodeStartPending);
    NTSTATUS status = PipSendPnpIrp(Node, IRP_MN_START_DEVICE, NULL, NULL);
    if (!NT_SUCCESS(status)) {
        PipFailDevnode(Node, CM_PROB_FAILED_START); /* REMOVE follows a failed start (§5.1) */
        return status;
    }
    PipSetDevnodeState(Node, DeviceNodeStartCompletion);
    PipSetDevnodeState(Node, DeviceNodeStartPostWork);
    PipQueryPnpDeviceState(Node);
    PipSetDevnodeState(Node, DeviceNodeStarted);
    PipEnumerateDevnode(Node);
    return STATUS_SUCCESS;
}

NTSTATUS PipStartDevnode(PDEVICE_NODE Node)
{
    char *services[PIP_MAX_SERVICES];
    ULONG functionIndex;
    PipSetProblem(Node, 0);
    PipSetDevnodeState(Node, DeviceNodeInitialized);
    BOOLEAN rawOk = PipQueryCapabilities(Node);
    ULONG count = PipServicesFor(Node, services, &functionIndex);
    if (functionIndex == (ULONG)-1 && !rawOk) {
        for (ULONG i = 0; i < count; i++)
            free(services[i]);
        PipSetProblem(Node, CM_PROB_FAILED_INSTALL); /* no driver: the devnode waits, not started */
        return STATUS_SUCCESS;
    }
    pthread_mutex_lock(&PiTreeLock);
    Node->Raw = functionIndex == (ULONG)-1;
    pthread_mutex_unlock(&PiTreeLock);
    NTSTATUS status = PipLoadAndAddDrivers(Node, services, count, functionIndex);
    for (ULONG i = 0; i < count; i++)
        free(services[i]);
    if (!NT_SUCCESS(status)) {
        PipFailDevnode(Node, status == STATUS_IMAGE_ALREADY_LOADED ? CM_PROB_DRIVER_FAILED_PRIOR_UNLOAD
                                                                    : CM_PROB_FAILED_ADD);
        return status;
    }
    PipSetDevnodeState(Node, DeviceNodeDriversAdded);
    return PipSendStart(Node);
}
