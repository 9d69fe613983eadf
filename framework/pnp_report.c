/*
 * pnp_report.c - what the PnP manager tells the outside: the exported
 * kernel-internal entry points a tracer interposes to see PnP-level events
 * (PnP IRPs sent and completed, vetoes, devnode state changes; see
 * ntsim_kernel.h for their contracts), which do nothing else in the
 * simulation except echo to the debug output, and the descriptions that
 * make stuck-wait reports say where a remove lock or run-down reference
 * lives and what its IRP_MN_REMOVE_DEVICE was doing.
 */
#include <string.h>

#include "pnp_internal.h"

static const char *PipMinorName(UCHAR Minor)
{
    switch (Minor) {
    case IRP_MN_START_DEVICE: return "IRP_MN_START_DEVICE";
    case IRP_MN_QUERY_REMOVE_DEVICE: return "IRP_MN_QUERY_REMOVE_DEVICE";
    case IRP_MN_REMOVE_DEVICE: return "IRP_MN_REMOVE_DEVICE";
    case IRP_MN_CANCEL_REMOVE_DEVICE: return "IRP_MN_CANCEL_REMOVE_DEVICE";
    case IRP_MN_QUERY_DEVICE_RELATIONS: return "IRP_MN_QUERY_DEVICE_RELATIONS";
    case IRP_MN_QUERY_CAPABILITIES: return "IRP_MN_QUERY_CAPABILITIES";
    case IRP_MN_QUERY_ID: return "IRP_MN_QUERY_ID";
    case IRP_MN_EJECT: return "IRP_MN_EJECT";
    case IRP_MN_QUERY_PNP_DEVICE_STATE: return "IRP_MN_QUERY_PNP_DEVICE_STATE";
    case IRP_MN_SURPRISE_REMOVAL: return "IRP_MN_SURPRISE_REMOVAL";
    default: return "IRP_MN_?";
    }
}

/* ---- exported notes ------------------------------------------------------ */

VOID PipNotePnpIrpSent(PDEVICE_OBJECT DeviceObject, PDEVICE_OBJECT PhysicalDeviceObject, UCHAR MinorFunction,
                       ULONG Parameter)
{
    (void)PhysicalDeviceObject;
    (void)Parameter;
    DbgPrint("ntsim pnp: %s -> device %p\n", PipMinorName(MinorFunction), (void *)DeviceObject);
}

VOID PipNotePnpIrpCompleted(PDEVICE_OBJECT PhysicalDeviceObject, UCHAR MinorFunction, NTSTATUS Status)
{
    DbgPrint("ntsim pnp: %s on PDO %p: %s\n", PipMinorName(MinorFunction), (void *)PhysicalDeviceObject,
             NtsimStatusName(Status));
}

VOID PipNoteVeto(PDEVICE_OBJECT PhysicalDeviceObject, PDEVICE_OBJECT VetoingDevice, ULONG VetoType,
                 const char *VetoName)
{
    (void)VetoingDevice;
    DbgPrint("ntsim pnp: removal of PDO %p vetoed: %s %s\n", (void *)PhysicalDeviceObject,
             NtsimVetoTypeName((PNP_VETO_TYPE)VetoType), VetoName ? VetoName : "");
}

VOID PipNoteDevnodeState(PDEVICE_OBJECT PhysicalDeviceObject, const char *InstanceId, ULONG OldState,
                         ULONG NewState)
{
    (void)PhysicalDeviceObject;
    (void)OldState;
    const char *name = PipDevnodeStateName(NewState);
    DbgPrint("ntsim pnp: %s -> %s\n", InstanceId ? InstanceId : "?", name ? name : "?");
}

/* ---- context for stuck-wait reports ------------------------------------ */

typedef struct _PIP_ADDRESS_SEARCH {
    const void *Address;
    PDEVICE_OBJECT Device;   /* whose extension holds Address */
    PDEVICE_NODE Node;
} PIP_ADDRESS_SEARCH;

/* TRUE when Address lies in Device's extension (the extension ends where the allocation does: unknown, so 64 KiB). */
static BOOLEAN PipInExtension(PDEVICE_OBJECT Device, const void *Address)
{
    const char *ext = Device->DeviceExtension, *a = Address;
    return ext && a >= ext && a < ext + 65536;
}

/* Keeps, over every stack of the tree, the device whose extension starts nearest below the address. */
static VOID PipSearchStacks(PDEVICE_NODE Node, PIP_ADDRESS_SEARCH *Search)
{
    for (PDEVICE_NODE n = Node; n; n = n->Sibling) {
        if (n->InTree && n->PhysicalDeviceObject) {
            for (PDEVICE_OBJECT d = n->PhysicalDeviceObject; d; d = d->AttachedDevice) {
                if (PipInExtension(d, Search->Address) &&
                    (!Search->Device || (char *)d->DeviceExtension > (char *)Search->Device->DeviceExtension)) {
                    Search->Device = d;
                    Search->Node = n;
                }
            }
        }
        if (n->Child)
            PipSearchStacks(n->Child, Search);
    }
}

VOID PipDescribeAddressContext(const void *Address, char *Buffer, size_t Size)
{
    *Buffer = 0;
    if (!PipRootNode)
        return;
    PIP_ADDRESS_SEARCH search = { Address, NULL, NULL };
    pthread_mutex_lock(&PiTreeLock);
    IopLockDatabase();
    PipSearchStacks(PipRootNode->Child, &search);
    if (search.Device) {
        char device[300];
        ObpDescribeObject(search.Device, device, sizeof(device));
        char driver[300] = "?";
        if (search.Device->DriverObject)
            RtlpUnicodeToUtf8Buffer(&search.Device->DriverObject->DriverName, driver, sizeof(driver));
        BOOLEAN removing = search.Node->State == DeviceNodeRemoved || search.Node->State == DeviceNodeQueryRemoved ||
                           search.Node->State == DeviceNodeRemovePendingCloses ||
                           search.Node->State == DeviceNodeDeletePendingCloses;
        snprintf(Buffer, Size, "in the extension of %s (driver %s, devnode %s%s)", device, driver,
                 search.Node->InstanceId,
                 removing && PipIsPnpWorkerThread()
                     ? ", waited for on the PnP thread during its removal"
                     : "");
    }
    IopUnlockDatabase();
    pthread_mutex_unlock(&PiTreeLock);
}
