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
 */
#include <stdlib.h>
#include <string.h>

#include "wdf_internal.h"

pthread_mutex_t WdfpLock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

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
    if (Parent) {
        WdfpReference(Parent);
        pthread_mutex_lock(&WdfpLock);
        o->Parent = Parent;
        InsertHeadList(&Parent->Children, &o->SiblingLink);
        pthread_mutex_unlock(&WdfpLock);
    }
    return o;
}

PWDFP_OBJECT WdfpObjectFromHandle(PVOID Handle, WDFP_KIND Kind)
{
    PWDFP_OBJECT o = Handle;
    if (!o || o->Magic != WDFP_MAGIC || (Kind != WdfpKindCount && o->Kind != Kind))
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

/* The last reference went: the kind's release, EvtDestroyCallback, the memory, and the parent's reference. */
static VOID WdfpDestroy(PWDFP_OBJECT Object)
{
    pthread_mutex_lock(&WdfpLock);
    PWDFP_OBJECT parent = Object->Parent;
    RemoveEntryList(&Object->SiblingLink);
    Object->Parent = NULL;
    pthread_mutex_unlock(&WdfpLock);
    if (Object->Release)
        Object->Release(Object);
    if (Object->Destroy)
        Object->Destroy((WDFOBJECT)Object);
    Object->Magic = 0;
    free(Object->Tags);
    free(Object);
    if (parent)
        WdfpDereference(parent);
}

VOID WdfpReference(PWDFP_OBJECT Object)
{
    __atomic_add_fetch(&Object->References, 1, __ATOMIC_RELAXED);
}

VOID WdfpDereference(PWDFP_OBJECT Object)
{
    LONG after = __atomic_sub_fetch(&Object->References, 1, __ATOMIC_ACQ_REL);
    if (after < 0)
        KeBugCheckEx(WDF_VIOLATION, WDFP_DEREF_BELOW_ZERO, (ULONG_PTR)Object, 0, 0);
    if (after == 0)
        WdfpDestroy(Object);
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
    if (Object->Cleanup)
        Object->Cleanup((WDFOBJECT)Object);
    return TRUE;
}

/* Phase 2: the creation's references go, children first; objects nobody else holds are destroyed. */
static VOID WdfpReleaseTree(PWDFP_OBJECT Object)
{
    for (;;) {
        pthread_mutex_lock(&WdfpLock);
        PWDFP_OBJECT child = WdfpFindChildLocked(Object, WdfpCreationHeld);
        pthread_mutex_unlock(&WdfpLock);
        if (!child)
            break;
        WdfpReleaseTree(child);
    }
    pthread_mutex_lock(&WdfpLock);
    BOOLEAN release = !Object->CreationReleased;
    Object->CreationReleased = TRUE;
    pthread_mutex_unlock(&WdfpLock);
    if (release)
        WdfpDereference(Object);
}

VOID WdfpDeleteObject(PWDFP_OBJECT Object)
{
    if (WdfpCleanupTree(Object))
        WdfpReleaseTree(Object);
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
    *Object = (WDFOBJECT)o;
    return STATUS_SUCCESS;
}

VOID WdfObjectDelete(WDFOBJECT Object)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(Object, WdfpKindCount);
    if (o->FrameworkOwned)
        KeBugCheckEx(WDF_VIOLATION, WDFP_DELETE_NOT_OWNED, (ULONG_PTR)Object, o->Kind, 0);
    WdfpDeleteObject(o);
}

VOID WdfObjectReferenceActual(WDFOBJECT Handle, PVOID Tag, LONG Line, PCHAR File)
{
    (void)Line, (void)File;
    PWDFP_OBJECT o = WdfpObjectFromHandle(Handle, WdfpKindCount);
    pthread_mutex_lock(&WdfpLock);
    WdfpAdjustTagLocked(o, Tag, 1);
    pthread_mutex_unlock(&WdfpLock);
    WdfpReference(o);
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
    WdfpDereference(o);
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
