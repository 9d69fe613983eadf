/*
 * pnp_remove.c - taking devnodes down (nt-semantics §5.3, §5.5, §6).
 *
 * Orderly removal (disable, eject, IoRequestDeviceEject) of a devnode and
 * its descendants, children first:
 *   1. a device marked PNP_DEVICE_NOT_DISABLEABLE refuses (PNP_VetoNonDisableable);
 *   2. GUID_TARGET_DEVICE_QUERY_REMOVE goes to kernel registrants and to
 *      user-mode handle holders first (they may close and pass, or refuse:
 *      PNP_VetoDriver / PNP_VetoWindowsApp) - the documentation's order, not
 *      ReactOS's;
 *   3. IRP_MN_QUERY_REMOVE_DEVICE to each stack (a failure is PNP_VetoDevice,
 *      named by the stack's device instance and blamed on the device whose
 *      driver completed the IRP with the failure),
 *      then, as Windows does, any file object still open on a device of the
 *      stack refuses (PNP_VetoOutstandingOpen);
 *   4. on refusal IRP_MN_CANCEL_REMOVE_DEVICE to every stack queried,
 *      including the one that failed, and GUID_TARGET_DEVICE_REMOVE_CANCELLED
 *      to everyone notified; the veto is reported through PipNoteVeto;
 *   5. on success GUID_TARGET_DEVICE_REMOVE_COMPLETE, interfaces disabled,
 *      IRP_MN_REMOVE_DEVICE to each stack, children first (drivers pass it
 *      down: top-down within a stack). Drivers whose device lists become
 *      empty are unloaded by the I/O manager's delete completion.
 * Surprise removal (unplug, a child reported missing): IRP_MN_SURPRISE_REMOVAL
 * (no veto), interfaces disabled, GUID_TARGET_DEVICE_REMOVE_COMPLETE, then
 * IRP_MN_REMOVE_DEVICE only once every file object on the stacks is closed
 * (devnode states *PendingCloses meanwhile).
 * After REMOVE a devnode whose PDO is still reported stays (Removed: the
 * PDO is kept); one reported missing is deleted with its PDO reference, and
 * so are the children of a removed bus (its FDO deletes their PDOs).
 */
#include <string.h>

#include "pnp_internal.h"

/* TRUE when Node has a stack above its PDO, i.e. drivers to tell. */
BOOLEAN PipIsActive(PDEVICE_NODE Node)
{
    return Node->InTree && Node->State != DeviceNodeRemoved && Node->State != DeviceNodeDeleted &&
           Node->State != DeviceNodeRemovePendingCloses && Node->State != DeviceNodeDeletePendingCloses;
}

/* The first device of Node's stack with an open file object, or NULL (database lock held). */
static PDEVICE_OBJECT PipFindOpenDeviceLocked(PDEVICE_NODE Node)
{
    PDEVICE_OBJECT stack[PIP_MAX_STACK];
    ULONG n = PipSnapshotStack(Node, stack, PIP_MAX_STACK);
    for (ULONG i = 0; i < n; i++)
        if (stack[i]->ReferenceCount > 0)
            return stack[i];
    return NULL;
}

static PDEVICE_OBJECT PipFindOpenDevice(PDEVICE_NODE Node)
{
    IopLockDatabase();
    PDEVICE_OBJECT found = PipFindOpenDeviceLocked(Node);
    IopUnlockDatabase();
    return found;
}

/* Sets or clears DOE_REMOVE_PENDING on every device of Node's stack (database lock held). */
static VOID PipSetStackRemovePendingLocked(PDEVICE_NODE Node, BOOLEAN Set)
{
    PDEVICE_OBJECT stack[PIP_MAX_STACK];
    ULONG n = PipSnapshotStack(Node, stack, PIP_MAX_STACK);
    for (ULONG i = 0; i < n; i++) {
        if (Set)
            IopGetDeviceState(stack[i])->Public.ExtensionFlags |= DOE_REMOVE_PENDING;
        else
            IopGetDeviceState(stack[i])->Public.ExtensionFlags &= ~DOE_REMOVE_PENDING;
    }
}

/*
 * After a successful QUERY_REMOVE: the device with an open file object that
 * vetoes, or NULL - and then, atomically with the check (the I/O manager
 * admits opens under the same lock), the stack is marked remove-pending so
 * no open can slip in between the check and the REMOVE.
 */
static PDEVICE_OBJECT PipCheckOpenAndBlockOpens(PDEVICE_NODE Node)
{
    IopLockDatabase();
    PDEVICE_OBJECT open = PipFindOpenDeviceLocked(Node);
    if (!open)
        PipSetStackRemovePendingLocked(Node, TRUE);
    IopUnlockDatabase();
    return open;
}

static VOID PipUnblockOpens(PDEVICE_NODE Node)
{
    IopLockDatabase();
    PipSetStackRemovePendingLocked(Node, FALSE);
    IopUnlockDatabase();
}

static VOID PipRecordVeto(PDEVICE_NODE Target, PDEVICE_OBJECT VetoingDevice, const NTSIM_VETO *Veto)
{
    pthread_mutex_lock(&PiTreeLock);
    Target->LastVeto = *Veto;
    Target->HasVeto = TRUE;
    pthread_mutex_unlock(&PiTreeLock);
    PipNoteVeto(Target->PhysicalDeviceObject, VetoingDevice ? VetoingDevice : Target->PhysicalDeviceObject,
                (ULONG)Veto->VetoType, Veto->VetoName);
}

static VOID PipSetVeto(PNTSIM_VETO Veto, PNP_VETO_TYPE Type, const char *Name)
{
    Veto->VetoType = Type;
    snprintf(Veto->VetoName, sizeof(Veto->VetoName), "%s", Name ? Name : "");
}

/* Step 4: cancel everything already asked (Queried stacks, Notified devnodes). */
static VOID PipCancelRemoval(PDEVICE_NODE *Nodes, ULONG Queried, ULONG Notified)
{
    for (ULONG i = 0; i < Queried; i++) {
        PipUnblockOpens(Nodes[i]);
        PipSendPnpIrp(Nodes[i], IRP_MN_CANCEL_REMOVE_DEVICE, NULL, NULL);
        PipSetDevnodeState(Nodes[i], DeviceNodeStarted);
    }
    for (ULONG i = 0; i < Notified; i++)
        IopNotifyTargetDevice(Nodes[i], &GUID_TARGET_DEVICE_REMOVE_CANCELLED, NULL);
}

VOID PipSendRemove(PDEVICE_NODE Node)
{
    PipSendPnpIrp(Node, IRP_MN_REMOVE_DEVICE, NULL, NULL);
    PipSetDevnodeState(Node, DeviceNodeRemoved);
    PipFinishRemovedDevnode(Node);
}

/* Keeps the devnodes that have a stack, in order; returns how many. */
static ULONG PipKeepActive(PDEVICE_NODE *Nodes, ULONG Count)
{
    ULONG n = 0;
    for (ULONG i = 0; i < Count; i++)
        if (PipIsActive(Nodes[i]))
            Nodes[n++] = Nodes[i];
    return n;
}

/* Steps 1-4; TRUE when every stack agreed. */
static BOOLEAN PipQueryRemoveSubtree(PDEVICE_NODE Target, PDEVICE_NODE *Nodes, ULONG Count, PNTSIM_VETO Veto)
{
    for (ULONG i = 0; i < Count; i++) {
        if (Nodes[i]->PnpState & PNP_DEVICE_NOT_DISABLEABLE) {
            PipSetVeto(Veto, PNP_VetoNonDisableable, Nodes[i]->InstanceId);
            PipRecordVeto(Target, Nodes[i]->PhysicalDeviceObject, Veto);
            return FALSE;
        }
    }
    for (ULONG i = 0; i < Count; i++) {
        if (!IopNotifyTargetDevice(Nodes[i], &GUID_TARGET_DEVICE_QUERY_REMOVE, Veto)) {
            PipRecordVeto(Target, Nodes[i]->PhysicalDeviceObject, Veto);
            PipCancelRemoval(Nodes, 0, i + 1);
            return FALSE;
        }
    }
    for (ULONG i = 0; i < Count; i++) {
        PipSetDevnodeState(Nodes[i], DeviceNodeQueryRemoved);
        PDEVICE_OBJECT failed = NULL; /* the device whose driver failed the query-remove */
        NTSTATUS status = PipSendPnpIrpEx(Nodes[i], IRP_MN_QUERY_REMOVE_DEVICE, NULL, NULL, &failed);
        PDEVICE_OBJECT open = NT_SUCCESS(status) ? PipCheckOpenAndBlockOpens(Nodes[i]) : NULL;
        if (NT_SUCCESS(status) && !open)
            continue;
        PipSetVeto(Veto, NT_SUCCESS(status) ? PNP_VetoOutstandingOpen : PNP_VetoDevice, Nodes[i]->InstanceId);
        PipRecordVeto(Target, NT_SUCCESS(status) ? open : failed ? failed : Nodes[i]->PhysicalDeviceObject, Veto);
        PipCancelRemoval(Nodes, i + 1, Count);
        return FALSE;
    }
    return TRUE;
}

NTSTATUS PipQueryRemoveAndRemove(PDEVICE_NODE Node, PNTSIM_VETO Veto, BOOLEAN Eject)
{
    PDEVICE_NODE nodes[PIP_MAX_SUBTREE];
    NTSIM_VETO scratch;
    if (!Veto)
        Veto = &scratch;
    memset(Veto, 0, sizeof(*Veto));
    ULONG count = PipKeepActive(nodes, PipCollectSubtree(Node, nodes, PIP_MAX_SUBTREE));
    if (!PipQueryRemoveSubtree(Node, nodes, count, Veto))
        return STATUS_PLUGPLAY_QUERY_VETOED;
    for (ULONG i = 0; i < count; i++) {
        IopNotifyTargetDevice(nodes[i], &GUID_TARGET_DEVICE_REMOVE_COMPLETE, NULL);
        IopDisableDevnodeInterfaces(nodes[i]);
        IopReleaseHandleRegistrations(nodes[i]);
    }
    for (ULONG i = 0; i < count; i++)
        PipSendRemove(nodes[i]);
    if (Eject && Node->InTree && Node->EjectSupported) {
        PipSendPnpIrp(Node, IRP_MN_EJECT, NULL, NULL);
        if (Node->RootEnumerated && !PipIsRootPdoPresent(Node->PhysicalDeviceObject)) {
            Node->ReportedMissing = TRUE;
            PipSendRemove(Node); /* the second REMOVE: the bus now deletes the PDO */
        } else if (Node->Parent && Node->Parent != PipRootNode) {
            PipEnumerateDevnode(Node->Parent);
        }
    }
    return STATUS_SUCCESS;
}

/* ---- surprise removal ------------------------------------------------------ */

/* Sets DOE_REMOVE_PENDING on every device of Node's stack: no new opens or attachments. */
static VOID PipMarkStackRemovePending(PDEVICE_NODE Node)
{
    IopLockDatabase();
    PipSetStackRemovePendingLocked(Node, TRUE);
    IopUnlockDatabase();
}

VOID PipSurpriseRemove(PDEVICE_NODE Node)
{
    PDEVICE_NODE nodes[PIP_MAX_SUBTREE];
    ULONG count = PipKeepActive(nodes, PipCollectSubtree(Node, nodes, PIP_MAX_SUBTREE));
    for (ULONG i = 0; i < count; i++) {
        PipSendPnpIrp(nodes[i], IRP_MN_SURPRISE_REMOVAL, NULL, NULL);
        PipMarkStackRemovePending(nodes[i]);
        IopDisableDevnodeInterfaces(nodes[i]);
        IopNotifyTargetDevice(nodes[i], &GUID_TARGET_DEVICE_REMOVE_COMPLETE, NULL);
        IopReleaseHandleRegistrations(nodes[i]);
        PipSetDevnodeState(nodes[i], nodes[i]->ReportedMissing || Node->ReportedMissing
                                         ? DeviceNodeDeletePendingCloses
                                         : DeviceNodeRemovePendingCloses);
    }
    PipProcessPendingCloses();
}

static BOOLEAN PipIsPendingCloses(const DEVICE_NODE *Node)
{
    return Node->InTree &&
           (Node->State == DeviceNodeRemovePendingCloses || Node->State == DeviceNodeDeletePendingCloses);
}

/* TRUE when Node waits for closes and neither it nor a descendant still has an open file object. */
static BOOLEAN PipReadyForRemove(PDEVICE_NODE Node)
{
    PDEVICE_NODE nodes[PIP_MAX_SUBTREE];
    ULONG count = PipCollectSubtree(Node, nodes, PIP_MAX_SUBTREE);
    for (ULONG i = 0; i < count; i++)
        if (PipIsPendingCloses(nodes[i]) && PipFindOpenDevice(nodes[i]))
            return FALSE;
    return TRUE;
}

/* The pending-closes devnodes of the tree, children first. */
static ULONG PipCollectPendingCloses(PDEVICE_NODE *Nodes, ULONG Capacity)
{
    PDEVICE_NODE all[PIP_MAX_SUBTREE];
    ULONG count = PipCollectSubtree(PipRootNode, all, PIP_MAX_SUBTREE), n = 0;
    pthread_mutex_lock(&PiTreeLock);
    for (ULONG i = 0; i < count && n < Capacity; i++)
        if (PipIsPendingCloses(all[i]))
            Nodes[n++] = all[i];
    pthread_mutex_unlock(&PiTreeLock);
    return n;
}

BOOLEAN PipAnyPendingCloses(void)
{
    PDEVICE_NODE nodes[PIP_MAX_SUBTREE];
    return PipRootNode && PipCollectPendingCloses(nodes, PIP_MAX_SUBTREE) > 0;
}

BOOLEAN PipProcessPendingCloses(void)
{
    PDEVICE_NODE nodes[PIP_MAX_SUBTREE];
    ULONG count = PipCollectPendingCloses(nodes, PIP_MAX_SUBTREE);
    BOOLEAN sent = FALSE;
    for (ULONG i = 0; i < count; i++) {
        if (!PipIsPendingCloses(nodes[i]) || !PipReadyForRemove(nodes[i]))
            continue;
        PipSendRemove(nodes[i]);
        sent = TRUE;
    }
    return sent;
}

/* ---- after REMOVE ------------------------------------------------------------ */

/* Deletes the devnodes of Node's children (their PDOs went with the bus FDO), deepest first. */
static VOID PipDeleteChildren(PDEVICE_NODE Node)
{
    for (;;) {
        pthread_mutex_lock(&PiTreeLock);
        PDEVICE_NODE child = Node->Child;
        pthread_mutex_unlock(&PiTreeLock);
        if (!child)
            return;
        PipDeleteChildren(child);
        PipDeleteDevnode(child);
    }
}

VOID PipFinishRemovedDevnode(PDEVICE_NODE Node)
{
    PipDeleteChildren(Node);
    BOOLEAN missing = Node->ReportedMissing ||
                      (Node->RootEnumerated && !PipIsRootPdoPresent(Node->PhysicalDeviceObject));
    if (missing)
        PipDeleteDevnode(Node);
    else
        PipUnblockOpens(Node); /* the PDO stays: it may be opened (raw) and attached to again */
}
