/*
 * pnp_enum.c - bus relations (nt-semantics §5.4). On the PnP worker, after
 * a start or an IoInvalidateDeviceRelations(BusRelations), the PnP manager
 * sends IRP_MN_QUERY_DEVICE_RELATIONS/BusRelations to the top of the bus
 * stack. The bus returns every present child, each PDO referenced: the
 * reference of a newly seen child becomes its devnode's (one PnP-held
 * reference per present child), the duplicate reference of a known child is
 * dropped at once (ReactOS's way). A new child gets its IDs
 * (IRP_MN_QUERY_ID DeviceID + InstanceID) and is started; a known child
 * missing from the answer is reported missing: surprise-removed then
 * removed if it was running, removed again (so its bus deletes the PDO) if
 * it was already removed. Enumerating a PDO the bus already deleted is bug
 * check 0xCA/4. The root bus is enumerated from its own "present" flags.
 */
#include <string.h>

#include "pnp_internal.h"

/* A child the bus no longer reports (§5.4). */
static VOID PipHandleMissingChild(PDEVICE_NODE Child)
{
    pthread_mutex_lock(&PiTreeLock);
    BOOLEAN already = Child->ReportedMissing;
    Child->ReportedMissing = TRUE;
    pthread_mutex_unlock(&PiTreeLock);
    if (already)
        return;
    if (PipIsActive(Child)) {
        PipSurpriseRemove(Child);
    } else if (Child->State == DeviceNodeRemovePendingCloses) {
        PipSetDevnodeState(Child, DeviceNodeDeletePendingCloses);
    } else if (Child->State != DeviceNodeDeletePendingCloses) {
        PipSendRemove(Child); /* the stack was already gone: this REMOVE lets the bus delete the PDO */
    }
}

static VOID PipEnumerateRoot(void)
{
    PDEVICE_NODE children[PIP_MAX_SUBTREE];
    ULONG n = 0;
    pthread_mutex_lock(&PiTreeLock);
    for (PDEVICE_NODE c = PipRootNode->Child; c && n < PIP_MAX_SUBTREE; c = c->Sibling)
        if (!c->ReportedMissing && !PipIsRootPdoPresent(c->PhysicalDeviceObject))
            children[n++] = c;
    pthread_mutex_unlock(&PiTreeLock);
    for (ULONG i = 0; i < n; i++)
        PipHandleMissingChild(children[i]);
}

/* The in-tree child devnode of Parent for Pdo, or NULL. */
static PDEVICE_NODE PipFindChild(PDEVICE_NODE Parent, PDEVICE_OBJECT Pdo)
{
    pthread_mutex_lock(&PiTreeLock);
    PDEVICE_NODE found = NULL;
    for (PDEVICE_NODE c = Parent->Child; c && !found; c = c->Sibling)
        if (c->PhysicalDeviceObject == Pdo)
            found = c;
    pthread_mutex_unlock(&PiTreeLock);
    return found;
}

/* Creates and starts the devnode of a newly reported child (its reference becomes the devnode's). */
static VOID PipAddNewChild(PDEVICE_NODE Parent, PDEVICE_OBJECT Pdo)
{
    char placeholder[64];
    snprintf(placeholder, sizeof(placeholder), "%s\\<new %p>", Parent->InstanceId, (void *)Pdo);
    PDEVICE_NODE child = PipCreateDevnode(Parent, Pdo, NULL, placeholder);
    char *deviceId = PipQueryId(child, BusQueryDeviceID);
    char *instance = PipQueryId(child, BusQueryInstanceID);
    char full[512];
    snprintf(full, sizeof(full), "%s\\%s", deviceId ? deviceId : "UNKNOWN", instance ? instance : "0");
    pthread_mutex_lock(&PiTreeLock);
    free(child->HardwareId);
    free(child->InstanceId);
    child->HardwareId = RtlpStrDup(deviceId ? deviceId : "");
    child->InstanceId = RtlpStrDup(full);
    pthread_mutex_unlock(&PiTreeLock);
    free(deviceId);
    free(instance);
    PipStartDevnode(child);
}

/* Processes a BusRelations answer: known, new and missing children. */
static VOID PipApplyBusRelations(PDEVICE_NODE Node, PDEVICE_RELATIONS Relations)
{
    PDEVICE_NODE known[PIP_MAX_SUBTREE];
    BOOLEAN seen[PIP_MAX_SUBTREE] = { 0 };
    ULONG nKnown = 0;
    pthread_mutex_lock(&PiTreeLock);
    for (PDEVICE_NODE c = Node->Child; c && nKnown < PIP_MAX_SUBTREE; c = c->Sibling)
        if (!c->ReportedMissing)
            known[nKnown++] = c;
    pthread_mutex_unlock(&PiTreeLock);
    ULONG count = Relations ? Relations->Count : 0;
    for (ULONG i = 0; i < count; i++) {
        PDEVICE_OBJECT pdo = Relations->Objects[i];
        if (!IopIsDeviceObject(pdo) || IopGetDeviceState(pdo)->DeleteCalled)
            KeBugCheckEx(PNP_DETECTED_FATAL_ERROR, 0x4, (ULONG_PTR)pdo, 0, 0); /* enumeration of a deleted PDO */
        PDEVICE_NODE child = PipFindChild(Node, pdo);
        for (ULONG k = 0; k < nKnown; k++)
            seen[k] |= known[k] == child;
        if (child)
            ObfDereferenceObject(pdo); /* the duplicate reference of a known child */
        else
            PipAddNewChild(Node, pdo);
    }
    for (ULONG k = 0; k < nKnown; k++)
        if (!seen[k])
            PipHandleMissingChild(known[k]);
}

VOID PipEnumerateDevnode(PDEVICE_NODE Node)
{
    if (Node == PipRootNode) {
        PipEnumerateRoot();
        return;
    }
    if (!Node->InTree || Node->State != DeviceNodeStarted)
        return;
    PipSetDevnodeState(Node, DeviceNodeEnumeratePending);
    PDEVICE_RELATIONS relations = NULL;
    NTSTATUS status = PipQueryDeviceRelations(Node, BusRelations, &relations);
    PipSetDevnodeState(Node, DeviceNodeEnumerateCompletion);
    PipSetDevnodeState(Node, DeviceNodeStarted);
    if (!NT_SUCCESS(status))
        return; /* not a bus (STATUS_NOT_SUPPORTED): the children stay as they are */
    PipApplyBusRelations(Node, relations);
    if (relations)
        ExFreePool(relations);
}
