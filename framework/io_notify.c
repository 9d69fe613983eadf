/*
 * io_notify.c - PnP notifications and device interfaces (nt-semantics §6):
 * IoRegisterPlugPlayNotification / IoUnregisterPlugPlayNotification(Ex),
 * IoRegisterDeviceInterface / IoSetDeviceInterfaceState, and the user-mode
 * side's handle notifications (RegisterDeviceNotification with
 * DBT_DEVTYP_HANDLE).
 *
 * A kernel registration holds a counted reference on the registering
 * driver object (and is counted by the I/O manager so that, per
 * NTSIM_CONFIG.RegistrationsDeferUnload, it defers DriverUnload or only the
 * unmap); a target-device registration also holds the target's PDO, which
 * the PnP manager gets by sending IRP_MN_QUERY_DEVICE_RELATIONS/
 * TargetDeviceRelation to the file object's stack (the bus returns it
 * referenced) - the file object itself is not referenced. Each registration
 * has its own count: a callback in flight holds one, so a callback may
 * unregister itself and the references go only when the last use ends.
 * IoUnregisterPlugPlayNotificationEx waits for callbacks in flight (except
 * its own); the plain call does not. Every callback is checked against
 * unmapped images before it is called.
 *
 * A user-mode handle registration is tied to the PDO under the handle's
 * device; like the user-mode PnP service's own kernel registration it
 * holds the PDO until the device's removal completes.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "pnp_internal.h"

typedef struct _IOP_PNP_NOTIFY {
    struct _IOP_PNP_NOTIFY *Next;
    IO_NOTIFICATION_EVENT_CATEGORY Category;
    GUID InterfaceClass;
    PFILE_OBJECT FileObject;     /* target-device: as given, not referenced */
    PDEVICE_OBJECT TargetPdo;    /* target-device: referenced */
    PDRIVER_OBJECT DriverObject; /* referenced */
    PDRIVER_NOTIFICATION_CALLBACK_ROUTINE Callback;
    PVOID Context;
    LONG Uses;                   /* 1 for the list + 1 per callback in flight */
    BOOLEAN Listed;
} IOP_PNP_NOTIFY;

typedef struct _IOP_HANDLE_NOTIFY {
    struct _IOP_HANDLE_NOTIFY *Next;
    HANDLE Handle;
    NTSIM_HANDLE_NOTIFY *Callback;
    PVOID Context;
    PDEVICE_OBJECT Pdo;          /* referenced until the device's removal completes */
    BOOLEAN Holding;
} IOP_HANDLE_NOTIFY;

typedef struct _IOP_DEVICE_INTERFACE {
    struct _IOP_DEVICE_INTERFACE *Next;
    PDEVICE_OBJECT Pdo;          /* not referenced; meaningful while Enabled */
    GUID Class;
    char *LinkName;              /* "\??\ROOT#TOASTER#0000#{guid}[\ref]" */
    BOOLEAN Enabled;
} IOP_DEVICE_INTERFACE;

static pthread_mutex_t IopNotifyLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t IopNotifyIdle = PTHREAD_COND_INITIALIZER;
static IOP_PNP_NOTIFY *IopNotifications;
static IOP_HANDLE_NOTIFY *IopHandleNotifications;
static IOP_DEVICE_INTERFACE *IopInterfaces;
static __thread IOP_PNP_NOTIFY *IopCallbackInFlight;

#define IOP_MAX_CALLBACKS 64

/* ---- registration lifetime ----------------------------------------------- */

/* Drops one use; the last one releases the PDO and driver references. */
static VOID IopReleaseNotify(IOP_PNP_NOTIFY *Entry)
{
    pthread_mutex_lock(&IopNotifyLock);
    LONG uses = --Entry->Uses;
    pthread_cond_broadcast(&IopNotifyIdle);
    pthread_mutex_unlock(&IopNotifyLock);
    if (uses)
        return;
    IopRemoveDriverRegistration(Entry->DriverObject); /* before the reference goes: may run a deferred unload */
    if (Entry->TargetPdo)
        ObfDereferenceObject(Entry->TargetPdo);
    ObfDereferenceObject(Entry->DriverObject);
    free(Entry);
}

/* Calls Entry's callback with Structure (a use is held by the caller). */
static NTSTATUS IopCallNotify(IOP_PNP_NOTIFY *Entry, PVOID Structure)
{
    IopCheckCallTarget((PVOID)Entry->Callback, "PnP notification callback", Entry->DriverObject);
    IOP_PNP_NOTIFY *outer = IopCallbackInFlight;
    IopCallbackInFlight = Entry;
    NTSTATUS status = Entry->Callback(Structure, Entry->Context);
    IopCallbackInFlight = outer;
    return status;
}

typedef BOOLEAN IOP_NOTIFY_FILTER(const IOP_PNP_NOTIFY *Entry, const void *Key);

/* Snapshot of the listed registrations Filter accepts, each with a use taken. */
static ULONG IopCollectNotify(IOP_NOTIFY_FILTER *Filter, const void *Key, IOP_PNP_NOTIFY **Out)
{
    ULONG n = 0;
    pthread_mutex_lock(&IopNotifyLock);
    for (IOP_PNP_NOTIFY *e = IopNotifications; e && n < IOP_MAX_CALLBACKS; e = e->Next) {
        if (e->Listed && Filter(e, Key)) {
            e->Uses++;
            Out[n++] = e;
        }
    }
    pthread_mutex_unlock(&IopNotifyLock);
    return n;
}

/* ---- IoRegisterPlugPlayNotification -------------------------------------- */

/* The PDO under FileObject's stack, referenced by its bus (TargetDeviceRelation). */
static NTSTATUS IopQueryTargetPdo(PFILE_OBJECT FileObject, PDEVICE_OBJECT *Pdo)
{
    if (!FileObject || !FileObject->DeviceObject)
        return STATUS_INVALID_PARAMETER;
    IO_STACK_LOCATION request;
    memset(&request, 0, sizeof(request));
    request.MajorFunction = IRP_MJ_PNP;
    request.MinorFunction = IRP_MN_QUERY_DEVICE_RELATIONS;
    request.Parameters.QueryDeviceRelations.Type = TargetDeviceRelation;
    request.FileObject = FileObject;
    ULONG_PTR information = 0;
    NTSTATUS status =
        IopSynchronousCall(FileObject->DeviceObject, &request, STATUS_NOT_SUPPORTED, &information, TRUE);
    PDEVICE_RELATIONS relations = (PDEVICE_RELATIONS)information;
    if (!NT_SUCCESS(status) || !relations || relations->Count != 1) {
        if (relations)
            ExFreePool(relations);
        return NT_SUCCESS(status) ? STATUS_INVALID_DEVICE_REQUEST : status;
    }
    *Pdo = relations->Objects[0]; /* the bus's reference becomes the registration's */
    ExFreePool(relations);
    return STATUS_SUCCESS;
}

static BOOLEAN IopMatchInterfaceClass(const IOP_PNP_NOTIFY *Entry, const void *Key)
{
    return Entry->Category == EventCategoryDeviceInterfaceChange && IsEqualGUID(&Entry->InterfaceClass, Key);
}

static VOID IopCallInterfaceChange(IOP_PNP_NOTIFY *Entry, const GUID *Event, const IOP_DEVICE_INTERFACE *Interface)
{
    UNICODE_STRING link;
    RtlpUtf8ToUnicode(Interface->LinkName, &link);
    DEVICE_INTERFACE_CHANGE_NOTIFICATION n = { 1, sizeof(n), *Event, Interface->Class, &link };
    IopCallNotify(Entry, &n);
    RtlpFreeUnicode(&link);
}

/* PNPNOTIFY_DEVICE_INTERFACE_INCLUDE_EXISTING_INTERFACES: arrival for every enabled interface of the class. */
static VOID IopReplayExistingInterfaces(IOP_PNP_NOTIFY *Entry)
{
    IOP_DEVICE_INTERFACE snapshot[IOP_MAX_CALLBACKS];
    ULONG n = 0;
    pthread_mutex_lock(&IopNotifyLock);
    for (IOP_DEVICE_INTERFACE *i = IopInterfaces; i && n < IOP_MAX_CALLBACKS; i = i->Next) {
        if (i->Enabled && IsEqualGUID(&i->Class, &Entry->InterfaceClass)) {
            snapshot[n] = *i;
            snapshot[n++].LinkName = RtlpStrDup(i->LinkName);
        }
    }
    Entry->Uses++;
    pthread_mutex_unlock(&IopNotifyLock);
    for (ULONG k = 0; k < n; k++) {
        IopCallInterfaceChange(Entry, &GUID_DEVICE_INTERFACE_ARRIVAL, &snapshot[k]);
        free(snapshot[k].LinkName);
    }
    IopReleaseNotify(Entry);
}

NTSTATUS IoRegisterPlugPlayNotification(IO_NOTIFICATION_EVENT_CATEGORY EventCategory, ULONG EventCategoryFlags,
                                        PVOID EventCategoryData, PDRIVER_OBJECT DriverObject,
                                        PDRIVER_NOTIFICATION_CALLBACK_ROUTINE CallbackRoutine, PVOID Context,
                                        PVOID *NotificationEntry)
{
    if (!NotificationEntry || !CallbackRoutine || !IopIsDriverObject(DriverObject))
        return STATUS_INVALID_PARAMETER;
    *NotificationEntry = NULL;
    PipInitializePnp();
    IOP_PNP_NOTIFY *entry = RtlpAllocZero(sizeof(*entry));
    entry->Category = EventCategory;
    entry->Callback = CallbackRoutine;
    entry->Context = Context;
    if (EventCategory == EventCategoryDeviceInterfaceChange) {
        if (!EventCategoryData) {
            free(entry);
            return STATUS_INVALID_PARAMETER;
        }
        entry->InterfaceClass = *(const GUID *)EventCategoryData;
    } else if (EventCategory == EventCategoryTargetDeviceChange) {
        entry->FileObject = EventCategoryData;
        NTSTATUS status = IopQueryTargetPdo(entry->FileObject, &entry->TargetPdo);
        if (!NT_SUCCESS(status)) {
            free(entry);
            return status;
        }
    }
    ObfReferenceObject(DriverObject); /* keeps the image while registered (§6) */
    entry->DriverObject = DriverObject;
    IopAddDriverRegistration(DriverObject);
    pthread_mutex_lock(&IopNotifyLock);
    entry->Uses = 1;
    entry->Listed = TRUE;
    entry->Next = IopNotifications;
    IopNotifications = entry;
    pthread_mutex_unlock(&IopNotifyLock);
    *NotificationEntry = entry;
    if (EventCategory == EventCategoryDeviceInterfaceChange &&
        (EventCategoryFlags & PNPNOTIFY_DEVICE_INTERFACE_INCLUDE_EXISTING_INTERFACES))
        IopReplayExistingInterfaces(entry);
    return STATUS_SUCCESS;
}

/* Unlinks Entry (FALSE when it is not a listed registration). */
static BOOLEAN IopUnlistNotify(IOP_PNP_NOTIFY *Entry)
{
    BOOLEAN found = FALSE;
    pthread_mutex_lock(&IopNotifyLock);
    for (IOP_PNP_NOTIFY **link = &IopNotifications; *link; link = &(*link)->Next) {
        if (*link == Entry && Entry->Listed) {
            *link = Entry->Next;
            Entry->Listed = FALSE;
            found = TRUE;
            break;
        }
    }
    pthread_mutex_unlock(&IopNotifyLock);
    return found;
}

NTSTATUS IoUnregisterPlugPlayNotification(PVOID NotificationEntry)
{
    IOP_PNP_NOTIFY *entry = NotificationEntry;
    if (!entry || !IopUnlistNotify(entry))
        return STATUS_INVALID_PARAMETER;
    IopReleaseNotify(entry); /* the list's use: callbacks in flight keep theirs */
    return STATUS_SUCCESS;
}

NTSTATUS IoUnregisterPlugPlayNotificationEx(PVOID NotificationEntry)
{
    IOP_PNP_NOTIFY *entry = NotificationEntry;
    if (!entry || !IopUnlistNotify(entry))
        return STATUS_INVALID_PARAMETER;
    LONG own = 0;
    for (IOP_PNP_NOTIFY *e = IopCallbackInFlight; e == entry && own == 0; e = NULL)
        own = 1; /* called from its own callback: do not wait for ourselves */
    pthread_mutex_lock(&IopNotifyLock);
    while (entry->Uses > 1 + own)
        pthread_cond_wait(&IopNotifyIdle, &IopNotifyLock);
    pthread_mutex_unlock(&IopNotifyLock);
    IopReleaseNotify(entry);
    return STATUS_SUCCESS;
}

/* ---- target-device events -------------------------------------------------- */

static BOOLEAN IopMatchTarget(const IOP_PNP_NOTIFY *Entry, const void *Key)
{
    return Entry->Category == EventCategoryTargetDeviceChange && Entry->TargetPdo == Key;
}

static VOID IopDriverVetoName(PDRIVER_OBJECT Driver, PNTSIM_VETO Veto)
{
    Veto->VetoType = PNP_VetoDriver;
    RtlpUnicodeToUtf8Buffer(&Driver->DriverName, Veto->VetoName, sizeof(Veto->VetoName));
}

/* Kernel registrants on Node's PDO; FALSE when one refuses a QUERY_REMOVE. */
static BOOLEAN IopNotifyKernelTargets(PDEVICE_NODE Node, const GUID *Event, PNTSIM_VETO Veto)
{
    IOP_PNP_NOTIFY *entries[IOP_MAX_CALLBACKS];
    ULONG n = IopCollectNotify(IopMatchTarget, Node->PhysicalDeviceObject, entries);
    BOOLEAN query = IsEqualGUID(Event, &GUID_TARGET_DEVICE_QUERY_REMOVE), agreed = TRUE;
    for (ULONG i = 0; i < n; i++) {
        if (agreed) {
            TARGET_DEVICE_REMOVAL_NOTIFICATION note = { 1, sizeof(note), *Event, entries[i]->FileObject };
            NTSTATUS status = IopCallNotify(entries[i], &note);
            if (query && !NT_SUCCESS(status)) {
                agreed = FALSE;
                if (Veto)
                    IopDriverVetoName(entries[i]->DriverObject, Veto);
            }
        }
        IopReleaseNotify(entries[i]);
    }
    return agreed;
}

/* User-mode handle holders on Node's PDO; FALSE when one refuses a QUERY_REMOVE. */
static BOOLEAN IopNotifyHandleHolders(PDEVICE_NODE Node, const GUID *Event, PNTSIM_VETO Veto)
{
    IOP_HANDLE_NOTIFY snapshot[IOP_MAX_CALLBACKS];
    ULONG n = 0;
    pthread_mutex_lock(&IopNotifyLock);
    for (IOP_HANDLE_NOTIFY *h = IopHandleNotifications; h && n < IOP_MAX_CALLBACKS; h = h->Next)
        if (h->Holding && h->Pdo == Node->PhysicalDeviceObject)
            snapshot[n++] = *h;
    pthread_mutex_unlock(&IopNotifyLock);
    BOOLEAN query = IsEqualGUID(Event, &GUID_TARGET_DEVICE_QUERY_REMOVE);
    for (ULONG i = 0; i < n; i++) {
        if (!snapshot[i].Callback(snapshot[i].Handle, Event, snapshot[i].Context) && query) {
            if (Veto) {
                Veto->VetoType = PNP_VetoWindowsApp;
                snprintf(Veto->VetoName, sizeof(Veto->VetoName), "%s", program_invocation_short_name);
            }
            return FALSE;
        }
    }
    return TRUE;
}

BOOLEAN IopNotifyTargetDevice(PDEVICE_NODE Node, const GUID *Event, PNTSIM_VETO Veto)
{
    if (!IopNotifyHandleHolders(Node, Event, Veto))
        return FALSE;
    return IopNotifyKernelTargets(Node, Event, Veto);
}

/* ---- user-mode handle notifications ------------------------------------------ */

NTSTATUS NtsimRegisterHandleNotification(HANDLE Handle, NTSIM_HANDLE_NOTIFY *Callback, PVOID Context,
                                         PVOID *Registration)
{
    if (!Callback || !Registration)
        return STATUS_INVALID_PARAMETER;
    PipInitializePnp();
    PVOID object;
    NTSTATUS status = ObReferenceObjectByHandle(Handle, 0, *IoFileObjectType, UserMode, &object, NULL);
    if (!NT_SUCCESS(status))
        return status;
    PFILE_OBJECT file = object;
    PDEVICE_NODE node = PipGetDevnode(file->DeviceObject);
    PDEVICE_OBJECT pdo = node ? node->PhysicalDeviceObject : NULL;
    if (pdo)
        ObfReferenceObject(pdo);
    ObfDereferenceObject(file);
    if (!pdo)
        return STATUS_INVALID_DEVICE_REQUEST; /* not a PnP device */
    IOP_HANDLE_NOTIFY *h = RtlpAllocZero(sizeof(*h));
    h->Handle = Handle;
    h->Callback = Callback;
    h->Context = Context;
    h->Pdo = pdo;
    h->Holding = TRUE;
    pthread_mutex_lock(&IopNotifyLock);
    h->Next = IopHandleNotifications;
    IopHandleNotifications = h;
    pthread_mutex_unlock(&IopNotifyLock);
    *Registration = h;
    return STATUS_SUCCESS;
}

NTSTATUS NtsimUnregisterHandleNotification(PVOID Registration)
{
    IOP_HANDLE_NOTIFY *found = NULL;
    pthread_mutex_lock(&IopNotifyLock);
    for (IOP_HANDLE_NOTIFY **link = &IopHandleNotifications; *link; link = &(*link)->Next) {
        if (*link == Registration) {
            found = *link;
            *link = found->Next;
            break;
        }
    }
    pthread_mutex_unlock(&IopNotifyLock);
    if (!found)
        return STATUS_INVALID_PARAMETER;
    if (found->Holding)
        ObfDereferenceObject(found->Pdo);
    free(found);
    return STATUS_SUCCESS;
}

VOID IopReleaseHandleRegistrations(PDEVICE_NODE Node)
{
    for (;;) {
        PDEVICE_OBJECT pdo = NULL;
        pthread_mutex_lock(&IopNotifyLock);
        for (IOP_HANDLE_NOTIFY *h = IopHandleNotifications; h && !pdo; h = h->Next) {
            if (h->Holding && h->Pdo == Node->PhysicalDeviceObject) {
                h->Holding = FALSE;
                pdo = h->Pdo;
            }
        }
        pthread_mutex_unlock(&IopNotifyLock);
        if (!pdo)
            return;
        ObfDereferenceObject(pdo);
    }
}

/* ---- device interfaces --------------------------------------------------------- */

/* "\??\ROOT#TOASTER#0000#{guid}[\ref]" for Node's instance. */
static char *IopMakeInterfaceLink(const char *InstanceId, const GUID *Class, PUNICODE_STRING Reference)
{
    char link[600], ref[200] = "";
    int n = snprintf(link, sizeof(link), "\\??\\");
    for (const char *p = InstanceId; *p && n < 400; p++)
        link[n++] = *p == '\\' ? '#' : *p;
    if (Reference && Reference->Length) {
        ref[0] = '\\';
        RtlpUnicodeToUtf8Buffer(Reference, ref + 1, sizeof(ref) - 1);
    }
    snprintf(link + n, sizeof(link) - (size_t)n,
             "#{%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x}%s", Class->Data1, Class->Data2, Class->Data3,
             Class->Data4[0], Class->Data4[1], Class->Data4[2], Class->Data4[3], Class->Data4[4], Class->Data4[5],
             Class->Data4[6], Class->Data4[7], ref);
    return RtlpStrDup(link);
}

static IOP_DEVICE_INTERFACE *IopFindInterfaceLocked(const char *LinkName)
{
    for (IOP_DEVICE_INTERFACE *i = IopInterfaces; i; i = i->Next)
        if (!strcasecmp(i->LinkName, LinkName))
            return i;
    return NULL;
}

/* The pool tag of strings the I/O manager hands to drivers. */
#define IOP_STRING_POOL_TAG 'gtSI' /* "IStg" */

/*
 * Hands Text to a driver as a UNICODE_STRING in paged pool, as Windows
 * does: the driver frees it with RtlFreeUnicodeString (or ExFreePool), and
 * a string it never frees is a pool block charged to it.
 */
static NTSTATUS IopReturnPoolString(const char *Text, PUNICODE_STRING String)
{
    UNICODE_STRING wide;
    if (!RtlpUtf8ToUnicode(Text, &wide))
        return STATUS_INSUFFICIENT_RESOURCES;
    String->Buffer = ExAllocatePoolWithTag(PagedPool, wide.MaximumLength, IOP_STRING_POOL_TAG);
    if (String->Buffer)
        memcpy(String->Buffer, wide.Buffer, wide.MaximumLength);
    String->Length = String->Buffer ? wide.Length : 0;
    String->MaximumLength = String->Buffer ? wide.MaximumLength : 0;
    RtlpFreeUnicode(&wide);
    return String->Buffer ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

NTSTATUS IoRegisterDeviceInterface(PDEVICE_OBJECT PhysicalDeviceObject, const GUID *InterfaceClassGuid,
                                   PUNICODE_STRING ReferenceString, PUNICODE_STRING SymbolicLinkName)
{
    if (!InterfaceClassGuid || !SymbolicLinkName)
        return STATUS_INVALID_PARAMETER;
    PDEVICE_NODE node = PipGetDevnode(PhysicalDeviceObject);
    if (!node || node->PhysicalDeviceObject != PhysicalDeviceObject)
        return STATUS_INVALID_DEVICE_REQUEST; /* only a PDO known to the PnP manager */
    char *link = IopMakeInterfaceLink(node->InstanceId, InterfaceClassGuid, ReferenceString);
    pthread_mutex_lock(&IopNotifyLock);
    IOP_DEVICE_INTERFACE *i = IopFindInterfaceLocked(link);
    if (!i) {
        i = RtlpAllocZero(sizeof(*i));
        i->LinkName = RtlpStrDup(link);
        i->Class = *InterfaceClassGuid;
        i->Next = IopInterfaces;
        IopInterfaces = i;
    }
    i->Pdo = PhysicalDeviceObject;
    pthread_mutex_unlock(&IopNotifyLock);
    NTSTATUS status = IopReturnPoolString(link, SymbolicLinkName);
    free(link);
    return status;
}

/* Creates or deletes the link object and tells the class's registrants. */
static NTSTATUS IopApplyInterfaceState(IOP_DEVICE_INTERFACE *Interface, BOOLEAN Enable)
{
    UNICODE_STRING link, target;
    char pdoName[300];
    RtlpUtf8ToUnicode(Interface->LinkName, &link);
    NTSTATUS status = STATUS_SUCCESS;
    if (Enable) {
        ObpDescribeObject(Interface->Pdo, pdoName, sizeof(pdoName));
        RtlpUtf8ToUnicode(pdoName, &target);
        status = IoCreateSymbolicLink(&link, &target);
        RtlpFreeUnicode(&target);
    } else {
        IoDeleteSymbolicLink(&link);
    }
    RtlpFreeUnicode(&link);
    if (!NT_SUCCESS(status))
        return status;
    IOP_PNP_NOTIFY *entries[IOP_MAX_CALLBACKS];
    ULONG n = IopCollectNotify(IopMatchInterfaceClass, &Interface->Class, entries);
    for (ULONG k = 0; k < n; k++) {
        IopCallInterfaceChange(entries[k], Enable ? &GUID_DEVICE_INTERFACE_ARRIVAL : &GUID_DEVICE_INTERFACE_REMOVAL,
                               Interface);
        IopReleaseNotify(entries[k]);
    }
    return STATUS_SUCCESS;
}

NTSTATUS IoSetDeviceInterfaceState(PUNICODE_STRING SymbolicLinkName, BOOLEAN Enable)
{
    char *name = SymbolicLinkName ? RtlpUnicodeToUtf8(SymbolicLinkName) : NULL;
    if (!name)
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&IopNotifyLock);
    IOP_DEVICE_INTERFACE *i = IopFindInterfaceLocked(name);
    BOOLEAN change = i && i->Enabled != (Enable != 0);
    if (change)
        i->Enabled = Enable != 0;
    pthread_mutex_unlock(&IopNotifyLock);
    free(name);
    if (!i)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    if (!change)
        return Enable ? STATUS_OBJECT_NAME_EXISTS : STATUS_SUCCESS;
    return IopApplyInterfaceState(i, Enable);
}

VOID IopDisableDevnodeInterfaces(PDEVICE_NODE Node)
{
    for (;;) {
        IOP_DEVICE_INTERFACE *found = NULL;
        pthread_mutex_lock(&IopNotifyLock);
        for (IOP_DEVICE_INTERFACE *i = IopInterfaces; i && !found; i = i->Next) {
            if (i->Enabled && i->Pdo == Node->PhysicalDeviceObject) {
                i->Enabled = FALSE;
                found = i;
            }
        }
        pthread_mutex_unlock(&IopNotifyLock);
        if (!found)
            return;
        IopApplyInterfaceState(found, FALSE);
    }
}
