/*
 * pnp_devnode.c - the PnP manager's device tree (nt-semantics §5, §13.4):
 * one devnode per PDO it knows, linked under its parent (the root devnode
 * for root-enumerated devices, the bus's devnode for children), with the
 * §5.2 state, problem code, flags and last veto; the hardware descriptions
 * the host gives (which services serve a hardware id, in load order); and
 * the host's read-only view (NtsimQueryDevnode).
 *
 * Lifetime: while a devnode is in the tree it owns one pointer reference on
 * its PDO (the reference the bus driver returned in BusRelations, §5.4).
 * PipDeleteDevnode unlinks it and drops that reference through the exported
 * ObfDereferenceObject; the devnode record itself is freed by the device
 * type's delete procedure (IopDeviceFreedHook) when the PDO's pointer count
 * reaches zero, so a devnode never outlives or predeceases its PDO. A PDO
 * freed while its devnode is still linked is bug check 0xCA/5.
 */
#include <strings.h>
#include <string.h>

#include "pnp_internal.h"

pthread_mutex_t PiTreeLock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
PDEVICE_NODE PipRootNode;

static PDEVICE_NODE PipAllNodes;
static PIP_HARDWARE *PipHardware;
static pthread_once_t PipInitOnce = PTHREAD_ONCE_INIT;

/* ---- names ------------------------------------------------------------ */

const char *PipDevnodeStateName(ULONG State)
{
#define PIP_STATE_CASE(name, value) \
    case value:                     \
        return #name;
    switch (State) {
        NTSIM_DEVNODE_STATES(PIP_STATE_CASE)
    }
#undef PIP_STATE_CASE
    return NULL;
}

const char *NtsimDevnodeStateName(ULONG State)
{
    return PipDevnodeStateName(State);
}

/* X(name) in PNP_VETO_TYPE order. */
#define PIP_VETO_TYPES(X)                                                                                    \
    X(PNP_VetoTypeUnknown) X(PNP_VetoLegacyDevice) X(PNP_VetoPendingClose) X(PNP_VetoWindowsApp)             \
    X(PNP_VetoWindowsService) X(PNP_VetoOutstandingOpen) X(PNP_VetoDevice) X(PNP_VetoDriver)                \
    X(PNP_VetoIllegalDeviceRequest) X(PNP_VetoInsufficientPower) X(PNP_VetoNonDisableable)                  \
    X(PNP_VetoLegacyDriver) X(PNP_VetoInsufficientRights) X(PNP_VetoAlreadyRemoved)

const char *NtsimVetoTypeName(PNP_VETO_TYPE VetoType)
{
#define PIP_VETO_NAME(name) #name,
    static const char *const names[] = { PIP_VETO_TYPES(PIP_VETO_NAME) };
#undef PIP_VETO_NAME
    return (ULONG)VetoType < RTL_NUMBER_OF(names) ? names[VetoType] : NULL;
}

/* ---- the hooks from the I/O manager ----------------------------------- */

/* IopDeviceFreedHook: a PDO's pointer count reached zero. */
static VOID PipDeviceFreed(PDEVICE_OBJECT DeviceObject)
{
    pthread_mutex_lock(&PiTreeLock);
    PDEVICE_NODE node = IopGetDeviceState(DeviceObject)->Public.DeviceNode;
    if (node && node->InTree) {
        pthread_mutex_unlock(&PiTreeLock);
        fprintf(stderr, "*** PDO %p of devnode %s freed while the devnode is in the tree\n", (void *)DeviceObject,
                node->InstanceId);
        KeBugCheckEx(PNP_DETECTED_FATAL_ERROR, 0x5, (ULONG_PTR)DeviceObject, 0, 0);
    }
    if (node) {
        IopGetDeviceState(DeviceObject)->Public.DeviceNode = NULL;
        for (PDEVICE_NODE *link = &PipAllNodes; *link; link = &(*link)->NextAll) {
            if (*link == node) {
                *link = node->NextAll;
                break;
            }
        }
        free(node->InstanceId);
        free(node->HardwareId);
        free(node);
    }
    pthread_mutex_unlock(&PiTreeLock);
}

static VOID PipInitializeOnce(void)
{
    IopDeviceFreedHook = PipDeviceFreed;
    PipCreateRootDriver();
    PDEVICE_NODE root = RtlpAllocZero(sizeof(*root));
    root->InstanceId = RtlpStrDup("HTREE\\ROOT\\0");
    root->HardwareId = RtlpStrDup("");
    root->State = root->PreviousState = DeviceNodeStarted;
    root->InTree = TRUE;
    PipRootNode = root;
}

VOID PipInitializePnp(void)
{
    pthread_once(&PipInitOnce, PipInitializeOnce);
}

/* ---- lookups ------------------------------------------------------------ */

PDEVICE_OBJECT PipGetStackBottom(PDEVICE_OBJECT DeviceObject)
{
    IopLockDatabase();
    while (IopGetDeviceState(DeviceObject)->Public.AttachedTo)
        DeviceObject = IopGetDeviceState(DeviceObject)->Public.AttachedTo;
    IopUnlockDatabase();
    return DeviceObject;
}

PDEVICE_NODE PipGetDevnode(PDEVICE_OBJECT DeviceObject)
{
    if (!DeviceObject || !IopIsDeviceObject(DeviceObject))
        return NULL;
    PDEVICE_OBJECT pdo = PipGetStackBottom(DeviceObject);
    pthread_mutex_lock(&PiTreeLock);
    PDEVICE_NODE node = IopGetDeviceState(pdo)->Public.DeviceNode;
    pthread_mutex_unlock(&PiTreeLock);
    return node;
}

static PDEVICE_NODE PipFindInSubtreeLocked(PDEVICE_NODE Node, const char *InstanceId)
{
    if (!strcasecmp(Node->InstanceId, InstanceId))
        return Node;
    for (PDEVICE_NODE c = Node->Child; c; c = c->Sibling) {
        PDEVICE_NODE found = PipFindInSubtreeLocked(c, InstanceId);
        if (found)
            return found;
    }
    return NULL;
}

PDEVICE_NODE PipFindDevnodeLocked(const char *InstanceId)
{
    return PipRootNode && InstanceId ? PipFindInSubtreeLocked(PipRootNode, InstanceId) : NULL;
}

/* Any devnode record of InstanceId, in the tree first, else the newest deleted one whose PDO lives. */
static PDEVICE_NODE PipFindAnyDevnodeLocked(const char *InstanceId)
{
    PDEVICE_NODE node = PipFindDevnodeLocked(InstanceId);
    for (PDEVICE_NODE n = PipAllNodes; n && !node; n = n->NextAll)
        if (!strcasecmp(n->InstanceId, InstanceId))
            node = n;
    return node;
}

PIP_HARDWARE *PipFindHardwareLocked(const char *HardwareId)
{
    for (PIP_HARDWARE *h = PipHardware; h && HardwareId; h = h->Next)
        if (!strcasecmp(h->HardwareId, HardwareId))
            return h;
    return NULL;
}

ULONG PipCollectSubtree(PDEVICE_NODE Node, PDEVICE_NODE *Nodes, ULONG Capacity)
{
    ULONG n = 0;
    pthread_mutex_lock(&PiTreeLock);
    for (PDEVICE_NODE c = Node->Child; c; c = c->Sibling)
        n += PipCollectSubtree(c, Nodes + n, Capacity - n);
    if (n < Capacity)
        Nodes[n++] = Node;
    pthread_mutex_unlock(&PiTreeLock);
    return n;
}

ULONG PipSnapshotStack(PDEVICE_NODE Node, PDEVICE_OBJECT *Devices, ULONG Capacity)
{
    PDEVICE_OBJECT chain[PIP_MAX_STACK];
    ULONG n = 0;
    IopLockDatabase();
    for (PDEVICE_OBJECT d = Node->PhysicalDeviceObject; d && n < PIP_MAX_STACK; d = d->AttachedDevice)
        chain[n++] = d;
    IopUnlockDatabase();
    ULONG count = n < Capacity ? n : Capacity;
    for (ULONG i = 0; i < count; i++)
        Devices[i] = chain[n - 1 - i];
    return count;
}

/* ---- creation, state, deletion ---------------------------------------- */

PDEVICE_NODE PipCreateDevnode(PDEVICE_NODE Parent, PDEVICE_OBJECT Pdo, const char *HardwareId,
                              const char *InstanceId)
{
    PDEVICE_NODE node = RtlpAllocZero(sizeof(*node));
    node->PhysicalDeviceObject = Pdo;
    node->InstanceId = RtlpStrDup(InstanceId);
    node->HardwareId = RtlpStrDup(HardwareId ? HardwareId : "");
    node->State = node->PreviousState = DeviceNodeUninitialized;
    node->RootEnumerated = Parent == PipRootNode;
    pthread_mutex_lock(&PiTreeLock);
    node->Parent = Parent;
    node->InTree = TRUE;
    PDEVICE_NODE *tail = &Parent->Child;
    while (*tail)
        tail = &(*tail)->Sibling;
    *tail = node;
    node->NextAll = PipAllNodes;
    PipAllNodes = node;
    IopGetDeviceState(Pdo)->Public.DeviceNode = node;
    pthread_mutex_unlock(&PiTreeLock);
    PipNoteDevnodeState(Pdo, node->InstanceId, DeviceNodeUnspecified, DeviceNodeUninitialized);
    return node;
}

VOID PipSetDevnodeState(PDEVICE_NODE Node, ULONG NewState)
{
    pthread_mutex_lock(&PiTreeLock);
    ULONG old = Node->State;
    Node->PreviousState = old;
    Node->State = NewState;
    pthread_mutex_unlock(&PiTreeLock);
    if (old != NewState)
        PipNoteDevnodeState(Node->PhysicalDeviceObject, Node->InstanceId, old, NewState);
}

VOID PipDeleteDevnode(PDEVICE_NODE Node)
{
    PipSetDevnodeState(Node, DeviceNodeDeleted);
    pthread_mutex_lock(&PiTreeLock);
    if (!Node->InTree) {
        pthread_mutex_unlock(&PiTreeLock);
        return;
    }
    for (PDEVICE_NODE *link = &Node->Parent->Child; *link; link = &(*link)->Sibling) {
        if (*link == Node) {
            *link = Node->Sibling;
            break;
        }
    }
    Node->InTree = FALSE;
    Node->Sibling = NULL;
    PDEVICE_OBJECT pdo = Node->PhysicalDeviceObject;
    pthread_mutex_unlock(&PiTreeLock);
    ObfDereferenceObject(pdo); /* the devnode's reference; the record goes with the PDO */
}

/* ---- host API ----------------------------------------------------------- */

/* malloc'd NULL-terminated copy of a NULL-terminated list (NULL stays an empty list). */
static char **PipCopyList(const char *const *List)
{
    ULONG n = 0;
    while (List && List[n])
        n++;
    char **copy = RtlpAllocZero((n + 1) * sizeof(char *));
    for (ULONG i = 0; i < n; i++)
        copy[i] = RtlpStrDup(List[i]);
    return copy;
}

NTSTATUS NtsimDefineHardware(const char *HardwareId, const char *FunctionService, const char *const *UpperFilters,
                             const char *const *LowerFilters)
{
    if (!HardwareId || !*HardwareId)
        return STATUS_INVALID_PARAMETER;
    PipInitializePnp();
    pthread_mutex_lock(&PiTreeLock);
    if (PipFindHardwareLocked(HardwareId)) {
        pthread_mutex_unlock(&PiTreeLock);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    PIP_HARDWARE *h = RtlpAllocZero(sizeof(*h));
    h->HardwareId = RtlpStrDup(HardwareId);
    h->FunctionService = FunctionService && *FunctionService ? RtlpStrDup(FunctionService) : NULL;
    h->UpperFilters = PipCopyList(UpperFilters);
    h->LowerFilters = PipCopyList(LowerFilters);
    h->Next = PipHardware;
    PipHardware = h;
    pthread_mutex_unlock(&PiTreeLock);
    return STATUS_SUCCESS;
}

static VOID PipCopyText(char *Buffer, size_t Size, const char *Text)
{
    snprintf(Buffer, Size, "%s", Text ? Text : "");
}

NTSTATUS NtsimQueryDevnode(const char *InstanceId, PNTSIM_DEVNODE_INFO Info)
{
    if (!InstanceId || !Info)
        return STATUS_INVALID_PARAMETER;
    PipInitializePnp();
    memset(Info, 0, sizeof(*Info));
    pthread_mutex_lock(&PiTreeLock);
    PDEVICE_NODE node = PipFindAnyDevnodeLocked(InstanceId);
    if (!node || node == PipRootNode) {
        pthread_mutex_unlock(&PiTreeLock);
        return STATUS_NO_SUCH_DEVICE;
    }
    Info->State = node->State;
    Info->PreviousState = node->PreviousState;
    Info->Problem = node->Problem;
    Info->InTree = node->InTree;
    Info->Disabled = node->Disabled;
    Info->ReportedMissing = node->ReportedMissing;
    Info->Raw = node->Raw;
    Info->PhysicalDeviceObject = node->PhysicalDeviceObject;
    for (PDEVICE_NODE c = node->Child; c; c = c->Sibling)
        Info->ChildCount++;
    PipCopyText(Info->HardwareId, sizeof(Info->HardwareId), node->HardwareId);
    PipCopyText(Info->ParentInstanceId, sizeof(Info->ParentInstanceId),
                node->Parent && node->Parent != PipRootNode ? node->Parent->InstanceId : "");
    Info->HasVeto = node->HasVeto;
    Info->LastVeto = node->LastVeto;
    pthread_mutex_unlock(&PiTreeLock);
    return STATUS_SUCCESS;
}
