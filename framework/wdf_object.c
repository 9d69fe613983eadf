/*
 * wdf_object.c - the KMDF object model: every WDF object has a parent, a
 * typed context, a reference count with a count per tag, and cleanup and
 * destroy callbacks (doc/kmdf.md, "Framework Object Life Cycle").
 *
 * Deleting an object runs in two phases over its subtree: every object's
 * EvtCleanupCallback, children before their parent (newest child first),
 * then the creation's references, children first. Only when an object's
 * last reference goes is it destroyed: the kind's release (a
 * device lets its DEVICE_OBJECT go, memory its pool), EvtDestroyCallback,
 * the memory. A child holds one reference on its parent, so a child kept
 * alive by a leaked reference keeps its parent, up to the device, alive.
 *
 * Each step of an object's life goes through an exported entry point
 * (ntsim_kernel.h: FxObjectCreated, FxCallCleanup, FxReleaseCreation,
 * FxDestroyObject; the framework's own references through
 * WdfObjectReferenceActual / DereferenceActual with no tag), so a tracer
 * sees them all with their stacks. Live objects are kept in a map: a stale
 * handle is a bug check, never a read of freed memory.
 */
#include <stdlib.h>
#include <string.h>

#include "wdf_internal.h"

pthread_mutex_t WdfpLock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static RTL_PTR_MAP WdfpLiveObjects = RTL_PTR_MAP_INIT; /* (WdfpLock) every object not yet destroyed */

/* WDF_VIOLATION parameter 1 values the simulation uses. */
#define WDFP_BAD_HANDLE 0x1
#define WDFP_DEREF_BELOW_ZERO 0x2
#define WDFP_DELETE_NOT_OWNED 0x3

#define WDFP_KIND_NAME_(name, text) text,
static const char *const WdfpKindNames[] = { WDFP_KINDS(WDFP_KIND_NAME_) };
#undef WDFP_KIND_NAME_

const char *WdfpKindName(WDFP_KIND Kind)
{
    return Kind < WdfpKindCount ? WdfpKindNames[Kind] : "WDF?";
}

static size_t WdfpAlign(size_t Size)
{
    return (Size + 15) & ~(size_t)15;
}

PWDFP_OBJECT WdfpCreateObject(WDFP_KIND Kind, size_t BodySize, PWDFP_OBJECT Parent, PWDF_OBJECT_ATTRIBUTES Attributes,
                              BOOLEAN AllowParentOverride)
{
    PCWDF_OBJECT_CONTEXT_TYPE_INFO type = Attributes ? Attributes->ContextTypeInfo : NULL;
    size_t contextSize = type ? type->ContextSize : 0;
    if (Attributes && Attributes->ContextSizeOverride > contextSize)
        contextSize = Attributes->ContextSizeOverride;
    size_t head = WdfpAlign(sizeof(WDFP_OBJECT) + BodySize);
    PWDFP_OBJECT o = calloc(1, head + contextSize);
    if (!o)
        return NULL;
    if (AllowParentOverride && Attributes && Attributes->ParentObject)
        Parent = WdfpObjectFromHandle(Attributes->ParentObject, WdfpKindCount);
    o->Magic = WDFP_MAGIC;
    o->Kind = Kind;
    o->References = 1;
    o->Cleanup = Attributes ? Attributes->EvtCleanupCallback : NULL;
    o->Destroy = Attributes ? Attributes->EvtDestroyCallback : NULL;
    o->ContextType = type;
    o->Context = type ? (char *)o + head : NULL;
    InitializeListHead(&o->Children);
    InitializeListHead(&o->SiblingLink);
    pthread_mutex_lock(&WdfpLock);
    BOOLEAN live = RtlpPtrMapInsert(&WdfpLiveObjects, o, o);
    pthread_mutex_unlock(&WdfpLock);
    if (!live) {
        free(o);
        return NULL;
    }
    if (Parent) {
        WdfpReference(Parent);
        pthread_mutex_lock(&WdfpLock);
        o->Parent = Parent;
        InsertHeadList(&Parent->Children, &o->SiblingLink);
        pthread_mutex_unlock(&WdfpLock);
    }
    return o;
}

/* The live object of Handle, or NULL. */
static PWDFP_OBJECT WdfpLiveObject(PVOID Handle)
{
    pthread_mutex_lock(&WdfpLock);
    PWDFP_OBJECT o = Handle ? RtlpPtrMapLookup(&WdfpLiveObjects, Handle, NULL) : NULL;
    pthread_mutex_unlock(&WdfpLock);
    return o;
}

PWDFP_OBJECT WdfpObjectFromHandle(PVOID Handle, WDFP_KIND Kind)
{
    PWDFP_OBJECT o = WdfpLiveObject(Handle);
    if (!o || (Kind != WdfpKindCount && o->Kind != Kind))
        KeBugCheckEx(WDF_VIOLATION, WDFP_BAD_HANDLE, (ULONG_PTR)Handle, Kind, 0);
    return o;
}

PWDFP_OBJECT WdfpDeviceOf(PWDFP_OBJECT Object)
{
    pthread_mutex_lock(&WdfpLock);
    while (Object && Object->Kind != WdfpKindDevice)
        Object = Object->Parent;
    pthread_mutex_unlock(&WdfpLock);
    return Object;
}

VOID FxDestroyObject(PVOID Object, PVOID Destroy)
{
    PWDFP_OBJECT o = Object;
    if (o->Release)
        o->Release(o);
    if (Destroy)
        ((PFN_WDF_OBJECT_CONTEXT_DESTROY)Destroy)((WDFOBJECT)o);
    pthread_mutex_lock(&WdfpLock);
    RtlpPtrMapRemove(&WdfpLiveObjects, o);
    pthread_mutex_unlock(&WdfpLock);
    o->Magic = 0;
    free(o->Tags);
    free(o);
}

/* The last reference went: off its parent, FxDestroyObject, then the parent's reference. */
static VOID WdfpDestroy(PWDFP_OBJECT Object)
{
    pthread_mutex_lock(&WdfpLock);
    PWDFP_OBJECT parent = Object->Parent;
    RemoveEntryList(&Object->SiblingLink);
    Object->Parent = NULL;
    pthread_mutex_unlock(&WdfpLock);
    FxDestroyObject(Object, (PVOID)Object->Destroy);
    if (parent)
        WdfpDereference(parent);
}

/* Drops one reference, destroying the object at the last; returns the references left. */
static LONG WdfpDropReference(PWDFP_OBJECT Object)
{
    LONG after = __atomic_sub_fetch(&Object->References, 1, __ATOMIC_ACQ_REL);
    if (after < 0)
        KeBugCheckEx(WDF_VIOLATION, WDFP_DEREF_BELOW_ZERO, (ULONG_PTR)Object, 0, 0);
    if (after == 0)
        WdfpDestroy(Object);
    return after;
}

VOID WdfpReference(PWDFP_OBJECT Object)
{
    WdfObjectReferenceActual((WDFOBJECT)Object, NULL, 0, NULL);
}

VOID WdfpDereference(PWDFP_OBJECT Object)
{
    WdfObjectDereferenceActual((WDFOBJECT)Object, NULL, 0, NULL);
}

/* The first child of Object for which Pick is true, or NULL (WdfpLock held). */
static PWDFP_OBJECT WdfpFindChildLocked(PWDFP_OBJECT Object, BOOLEAN (*Pick)(const WDFP_OBJECT *))
{
    for (PLIST_ENTRY e = Object->Children.Flink; e != &Object->Children; e = e->Flink) {
        PWDFP_OBJECT child = CONTAINING_RECORD(e, WDFP_OBJECT, SiblingLink);
        if (Pick(child))
            return child;
    }
    return NULL;
}

static BOOLEAN WdfpNotDeleted(const WDFP_OBJECT *Object)
{
    return !Object->Deleted;
}

static BOOLEAN WdfpCreationHeld(const WDFP_OBJECT *Object)
{
    return Object->Deleted && !Object->CreationReleased;
}

/* Phase 1 of a deletion: every object of the subtree is marked and cleaned up, children first. */
static BOOLEAN WdfpCleanupTree(PWDFP_OBJECT Object)
{
    pthread_mutex_lock(&WdfpLock);
    BOOLEAN already = Object->Deleted;
    Object->Deleted = TRUE;
    pthread_mutex_unlock(&WdfpLock);
    if (already)
        return FALSE;
    for (;;) {
        pthread_mutex_lock(&WdfpLock);
        PWDFP_OBJECT child = WdfpFindChildLocked(Object, WdfpNotDeleted);
        pthread_mutex_unlock(&WdfpLock);
        if (!child)
            break;
        WdfpCleanupTree(child);
    }
    FxCallCleanup(Object, (PVOID)Object->Cleanup);
    return TRUE;
}

VOID FxCallCleanup(PVOID Object, PVOID Cleanup)
{
    if (Cleanup)
        ((PFN_WDF_OBJECT_CONTEXT_CLEANUP)Cleanup)((WDFOBJECT)Object);
}

LONG FxReleaseCreation(PVOID Object, ULONG Why)
{
    (void)Why; /* for the tracer */
    return WdfpDropReference(Object);
}

/* Phase 2: the creation's references go, children first; objects nobody else holds are destroyed. */
static VOID WdfpReleaseTree(PWDFP_OBJECT Object, ULONG Why)
{
    for (;;) {
        pthread_mutex_lock(&WdfpLock);
        PWDFP_OBJECT child = WdfpFindChildLocked(Object, WdfpCreationHeld);
        pthread_mutex_unlock(&WdfpLock);
        if (!child)
            break;
        WdfpReleaseTree(child, FX_DELETE_WITH_PARENT);
    }
    pthread_mutex_lock(&WdfpLock);
    BOOLEAN release = !Object->CreationReleased;
    Object->CreationReleased = TRUE;
    pthread_mutex_unlock(&WdfpLock);
    if (release)
        FxReleaseCreation(Object, Why);
}

VOID WdfpDeleteObject(PWDFP_OBJECT Object, ULONG Why)
{
    if (WdfpCleanupTree(Object))
        WdfpReleaseTree(Object, Why);
}

VOID FxObjectCreated(PVOID Object)
{
    (void)Object; /* for the tracer: the object can be asked about now */
}

/* The DRIVER_OBJECT of the WDFDRIVER above Object, or NULL (WdfpLock held). */
static PVOID WdfpDriverObjectLocked(PWDFP_OBJECT Object)
{
    while (Object && Object->Kind != WdfpKindDriver)
        Object = Object->Parent;
    return Object ? Object->Wdm : NULL;
}

NTSTATUS NtsimQueryWdfObject(PVOID Object, PNTSIM_WDF_OBJECT_INFO Info)
{
    if (!Info)
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&WdfpLock);
    PWDFP_OBJECT o = Object ? RtlpPtrMapLookup(&WdfpLiveObjects, Object, NULL) : NULL;
    if (o)
        *Info = (NTSIM_WDF_OBJECT_INFO){
            .KindName = WdfpKindName(o->Kind), .Flags = o->TraceFlags, .Parent = o->Parent, .WdmObject = o->Wdm,
            .DriverObject = WdfpDriverObjectLocked(o), .References = __atomic_load_n(&o->References, __ATOMIC_RELAXED),
            .Deleted = o->Deleted,
        };
    pthread_mutex_unlock(&WdfpLock);
    return o ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

/* Adds Delta to Tag's count; returns the count before (WdfpLock held). */
static LONG WdfpAdjustTagLocked(PWDFP_OBJECT Object, PVOID Tag, LONG Delta)
{
    for (ULONG i = 0; i < Object->TagCount; i++) {
        if (Object->Tags[i].Tag == Tag) {
            LONG before = Object->Tags[i].Count;
            Object->Tags[i].Count += Delta;
            return before;
        }
    }
    if (Object->TagCount == Object->TagCapacity) {
        ULONG capacity = Object->TagCapacity ? 2 * Object->TagCapacity : 4;
        WDFP_TAG_COUNT *grown = RtlpAllocZero(capacity * sizeof(*grown));
        if (Object->TagCount)
            memcpy(grown, Object->Tags, Object->TagCount * sizeof(*grown));
        free(Object->Tags);
        Object->Tags = grown;
        Object->TagCapacity = capacity;
    }
    Object->Tags[Object->TagCount++] = (WDFP_TAG_COUNT){ Tag, Delta };
    return 0;
}

/* ---- the exported object calls ------------------------------------------- */

NTSTATUS WdfObjectCreate(PWDF_OBJECT_ATTRIBUTES Attributes, WDFOBJECT *Object)
{
    if (!Object)
        return STATUS_INVALID_PARAMETER;
    *Object = NULL;
    PWDFP_OBJECT parent = Attributes && Attributes->ParentObject
                              ? NULL : WdfpDriverOfImage(LdrpFindImageByAddress((ULONG_PTR)__builtin_return_address(0)));
    PWDFP_OBJECT o = WdfpCreateObject(WdfpKindObject, 0, parent, Attributes, TRUE);
    if (!o)
        return STATUS_INSUFFICIENT_RESOURCES;
    FxObjectCreated(o);
    *Object = (WDFOBJECT)o;
    return STATUS_SUCCESS;
}

VOID WdfObjectDelete(WDFOBJECT Object)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(Object, WdfpKindCount);
    if (o->FrameworkOwned)
        KeBugCheckEx(WDF_VIOLATION, WDFP_DELETE_NOT_OWNED, (ULONG_PTR)Object, o->Kind, 0);
    WdfpDeleteObject(o, FX_DELETE_BY_DRIVER);
}

VOID WdfObjectReferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File)
{
    (void)Line, (void)File;
    PWDFP_OBJECT o = WdfpObjectFromHandle(Handle, WdfpKindCount);
    pthread_mutex_lock(&WdfpLock);
    WdfpAdjustTagLocked(o, Tag, 1);
    pthread_mutex_unlock(&WdfpLock);
    __atomic_add_fetch(&o->References, 1, __ATOMIC_RELAXED);
}

VOID WdfObjectDereferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File)
{
    (void)Line, (void)File;
    PWDFP_OBJECT o = WdfpObjectFromHandle(Handle, WdfpKindCount);
    pthread_mutex_lock(&WdfpLock);
    if (WdfpAdjustTagLocked(o, Tag, -1) <= 0) {
        /* a tag never referenced (what the KMDF verifier breaks on): count it against the untagged ones */
        WdfpAdjustTagLocked(o, Tag, 1);
        WdfpAdjustTagLocked(o, NULL, -1);
    }
    pthread_mutex_unlock(&WdfpLock);
    WdfpDropReference(o);
}

WDFOBJECT WdfObjectGetParentObject(WDFOBJECT Object)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(Object, WdfpKindCount);
    pthread_mutex_lock(&WdfpLock);
    PWDFP_OBJECT parent = o->Parent;
    pthread_mutex_unlock(&WdfpLock);
    return (WDFOBJECT)parent;
}

PVOID WdfObjectGetTypedContextWorker(WDFOBJECT Handle, PCWDF_OBJECT_CONTEXT_TYPE_INFO TypeInfo)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(Handle, WdfpKindCount);
    if (!TypeInfo || !o->ContextType)
        return NULL;
    /* the type is identified by its unique record (each file's copy points at the same UniqueType) */
    PCWDF_OBJECT_CONTEXT_TYPE_INFO want = TypeInfo->UniqueType ? TypeInfo->UniqueType : TypeInfo;
    PCWDF_OBJECT_CONTEXT_TYPE_INFO have = o->ContextType->UniqueType ? o->ContextType->UniqueType : o->ContextType;
    if (want == have || (want->ContextName && have->ContextName && !strcmp(want->ContextName, have->ContextName)))
        return o->Context;
    return NULL;
}
