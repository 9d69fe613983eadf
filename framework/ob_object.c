/*
 * ob_object.c - the object manager's object lifetime: creation with a
 * header (pointer count, handle count, type, name, stable id, permanent
 * flag), pointer references and dereferences, deletion through the type's
 * delete procedure when the pointer count reaches zero, permanent objects
 * made temporary, and the live-object table that lets queries and bug
 * checks describe any pointer safely (nt-semantics §1).
 *
 * ObfReferenceObject, ObfDereferenceObject (and the tagged and deferred
 * variants) and ObMakeTemporaryObject are leaves: each changes the pointer
 * count once, so a tracer interposing them sees each change exactly once.
 * ObReferenceObjectByPointer[WithTag] check the type and take their
 * reference through the leaf matching the tag (ObpReferenceObjectTagged).
 */
#include <string.h>

#include "ntsim_internal.h"

pthread_mutex_t ObpLock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static RTL_PTR_MAP ObpLiveObjects = RTL_PTR_MAP_INIT; /* body -> header */
static ULONG64 ObpNextId = 1;

static VOID ObpLockObjects(void)
{
    pthread_mutex_lock(&ObpLock);
}

static VOID ObpUnlockObjects(void)
{
    pthread_mutex_unlock(&ObpLock);
}

BOOLEAN ObpIsLiveObjectLocked(PVOID Object, POBJECT_TYPE Type)
{
    BOOLEAN found;
    POBJECT_HEADER header = RtlpPtrMapLookup(&ObpLiveObjects, Object, &found);
    return found && (!Type || header->Type == Type);
}

BOOLEAN ObpIsLiveObject(PVOID Object, POBJECT_TYPE Type)
{
    ObpLockObjects();
    BOOLEAN live = ObpIsLiveObjectLocked(Object, Type);
    ObpUnlockObjects();
    return live;
}

POBJECT_TYPE ObpGetObjectType(PVOID Object)
{
    ObpLockObjects();
    POBJECT_TYPE type = ObpIsLiveObjectLocked(Object, NULL) ? OBJECT_TO_OBJECT_HEADER(Object)->Type : NULL;
    ObpUnlockObjects();
    return type;
}

BOOLEAN ObpQueryCounts(PVOID Object, LONG_PTR *PointerCount, LONG_PTR *HandleCount)
{
    ObpLockObjects();
    BOOLEAN live = ObpIsLiveObjectLocked(Object, NULL);
    if (live) {
        POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
        if (PointerCount)
            *PointerCount = h->PointerCount;
        if (HandleCount)
            *HandleCount = h->HandleCount;
    }
    ObpUnlockObjects();
    return live;
}

ULONG64 ObpGetObjectId(PVOID Object)
{
    ObpLockObjects();
    ULONG64 id = ObpIsLiveObjectLocked(Object, NULL) ? OBJECT_TO_OBJECT_HEADER(Object)->Id : 0;
    ObpUnlockObjects();
    return id;
}

static VOID ObpDescribeLocked(PVOID Object, char *Buffer, size_t Size)
{
    if (!ObpIsLiveObjectLocked(Object, NULL)) {
        snprintf(Buffer, Size, "%p <not a live object>", Object);
        return;
    }
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    if (h->Name)
        snprintf(Buffer, Size, "%s", h->Name);
    else
        snprintf(Buffer, Size, "<%s #%llu>", h->Type->Name, (unsigned long long)h->Id);
}

VOID ObpDescribeObject(PVOID Object, char *Buffer, size_t Size)
{
    ObpLockObjects();
    ObpDescribeLocked(Object, Buffer, Size);
    ObpUnlockObjects();
}

/* ---- creation -------------------------------------------------------- */

NTSTATUS ObCreateObject(POBJECT_TYPE ObjectType, PCUNICODE_STRING ObjectName, ULONG Attributes, ULONG BodySize,
                        PVOID *Object)
{
    char *name = NULL;
    if (!ObjectType || !Object)
        return STATUS_INVALID_PARAMETER;
    if (ObjectName && ObjectName->Length) {
        name = RtlpUnicodeToUtf8(ObjectName);
        if (!name)
            return STATUS_INSUFFICIENT_RESOURCES;
        if (name[0] != '\\') {
            free(name);
            return STATUS_OBJECT_NAME_INVALID;
        }
    }
    POBJECT_HEADER h = calloc(1, sizeof(OBJECT_HEADER) + BodySize);
    if (!h) {
        free(name);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    h->Magic = OBP_HEADER_MAGIC;
    h->Type = ObjectType;
    h->PointerCount = 1;
    h->Permanent = (Attributes & OBJ_PERMANENT) != 0;
    InitializeListHead(&h->NameLink);

    ObpLockObjects();
    if (name) {
        NTSTATUS status = ObpInsertNameLocked(h, name);
        if (!NT_SUCCESS(status)) {
            ObpUnlockObjects();
            free(name);
            free(h);
            return status;
        }
        h->PointerCount++; /* the directory's reference */
    }
    h->Id = ObpNextId++;
    if (!RtlpPtrMapInsert(&ObpLiveObjects, OBJECT_HEADER_TO_BODY(h), h)) {
        if (h->InNamespace)
            ObpRemoveNameLocked(h);
        ObpUnlockObjects();
        free(name);
        free(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ObpUnlockObjects();
    free(name);
    *Object = OBJECT_HEADER_TO_BODY(h);
    return STATUS_SUCCESS;
}

/* ---- references ------------------------------------------------------ */

/* Bug check for an object pointer that is not a live object (ObpLock released first). */
static DECLSPEC_NORETURN VOID ObpBugCheckNotAnObject(PVOID Object)
{
    ObpUnlockObjects();
    KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, 0, 0, 0x10);
}

static LONG_PTR ObpReferenceObject(PVOID Object)
{
    ObpLockObjects();
    if (!ObpIsLiveObjectLocked(Object, NULL))
        ObpBugCheckNotAnObject(Object);
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    if (h->Deleting) {
        ObpUnlockObjects();
        KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, 0, 0, 0x11);
    }
    LONG_PTR count = ++h->PointerCount;
    ObpUnlockObjects();
    return count;
}

/* Frees an object whose pointer count reached zero: delete procedure, then memory. */
static VOID ObpDeleteObject(PVOID Object)
{
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    if (h->Type->DeleteProcedure)
        h->Type->DeleteProcedure(Object);
    ObpLockObjects();
    RtlpPtrMapRemove(&ObpLiveObjects, Object);
    if (h->InNamespace)
        ObpRemoveNameLocked(h);
    ObpUnlockObjects();
    h->Magic = 0;
    free(h->Name);
    free(h->NameKey);
    free(h);
}

static VOID ObpDeferredDelete(PVOID Object)
{
    ObpDeleteObject(Object);
}

LONG_PTR ObpDereferenceObjectLeaf(PVOID Object, BOOLEAN Defer)
{
    const LONG_PTR Count = 1;
    ObpLockObjects();
    if (!ObpIsLiveObjectLocked(Object, NULL))
        ObpBugCheckNotAnObject(Object);
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    LONG_PTR count = h->PointerCount - Count;
    if (count < 0 || h->Deleting) {
        ObpUnlockObjects();
        KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, (ULONG_PTR)h->PointerCount, (ULONG_PTR)h->HandleCount,
                     0x1);
    }
    if (count < h->HandleCount) {
        ObpUnlockObjects();
        KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, (ULONG_PTR)h->PointerCount, (ULONG_PTR)h->HandleCount,
                     0x2);
    }
    h->PointerCount = count;
    if (count == 0)
        h->Deleting = TRUE;
    ObpUnlockObjects();
    if (count == 0) {
        if (Defer)
            ExpQueueWorkerRoutine(ObpDeferredDelete, Object);
        else
            ObpDeleteObject(Object);
    }
    return count;
}

LONG_PTR ObfReferenceObject(PVOID Object)
{
    return ObpReferenceObject(Object);
}

LONG_PTR ObfDereferenceObject(PVOID Object)
{
    return ObpDereferenceObjectLeaf(Object, FALSE);
}

LONG_PTR ObfReferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag; /* recorded by the tracer from the call's arguments */
    return ObpReferenceObject(Object);
}

LONG_PTR ObfDereferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag;
    return ObpDereferenceObjectLeaf(Object, FALSE);
}

VOID ObDereferenceObjectDeferDelete(PVOID Object)
{
    ObpDereferenceObjectLeaf(Object, TRUE);
}

VOID ObDereferenceObjectDeferDeleteWithTag(PVOID Object, ULONG Tag)
{
    (void)Tag;
    ObpDereferenceObjectLeaf(Object, TRUE);
}

LONG_PTR ObpReferenceObjectTagged(PVOID Object, ULONG Tag)
{
    if (Tag == NTSIM_DEFAULT_OBJECT_TAG)
        return ObfReferenceObject(Object);
    return ObfReferenceObjectWithTag(Object, Tag);
}

/* ObReferenceObjectByPointer[WithTag]: type check and reference under ObpLock, so the object cannot die between. */
static NTSTATUS ObpReferenceObjectByPointer(PVOID Object, POBJECT_TYPE ObjectType, ULONG Tag)
{
    NTSTATUS status = STATUS_SUCCESS;
    ObpLockObjects();
    if (!ObpIsLiveObjectLocked(Object, NULL))
        status = STATUS_INVALID_PARAMETER;
    else if (ObjectType && OBJECT_TO_OBJECT_HEADER(Object)->Type != ObjectType)
        status = STATUS_OBJECT_TYPE_MISMATCH;
    else
        ObpReferenceObjectTagged(Object, Tag); /* an exported leaf, under the (recursive) lock */
    ObpUnlockObjects();
    return status;
}

NTSTATUS ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                    KPROCESSOR_MODE AccessMode)
{
    (void)DesiredAccess;
    (void)AccessMode;
    return ObpReferenceObjectByPointer(Object, ObjectType, NTSIM_DEFAULT_OBJECT_TAG);
}

NTSTATUS ObReferenceObjectByPointerWithTag(PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                           KPROCESSOR_MODE AccessMode, ULONG Tag)
{
    (void)DesiredAccess;
    (void)AccessMode;
    return ObpReferenceObjectByPointer(Object, ObjectType, Tag);
}

BOOLEAN ObpReferenceIfAlive(PVOID Object)
{
    ObpLockObjects();
    BOOLEAN alive = ObpIsLiveObjectLocked(Object, NULL) && !OBJECT_TO_OBJECT_HEADER(Object)->Deleting;
    if (alive)
        ObfReferenceObject(Object); /* under the (recursive) lock */
    ObpUnlockObjects();
    return alive;
}

ULONG ObGetObjectPointerCount(PVOID Object)
{
    LONG_PTR count = 0;
    ObpQueryCounts(Object, &count, NULL);
    return (ULONG)count;
}

VOID ObMakeTemporaryObject(PVOID Object)
{
    ObpLockObjects();
    if (!ObpIsLiveObjectLocked(Object, NULL))
        ObpBugCheckNotAnObject(Object);
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    h->Permanent = FALSE;
    BOOLEAN dropName = h->InNamespace && h->HandleCount == 0;
    if (dropName)
        ObpRemoveNameLocked(h);
    ObpUnlockObjects();
    if (dropName)
        ObpDereferenceObjectLeaf(Object, FALSE); /* the directory's reference, part of this leaf */
}

/* ---- host queries ---------------------------------------------------- */

static ULONG ObpExtensionFlagsLocked(PVOID Object, POBJECT_TYPE Type)
{
    if (Type == &IopDeviceObjectTypeBody) {
        /* NULL between ObCreateObject and the rest of IoCreateDevice */
        PDEVOBJ_EXTENSION extension = ((PDEVICE_OBJECT)Object)->DeviceObjectExtension;
        return extension ? extension->ExtensionFlags : 0;
    }
    if (Type == &IopDriverObjectTypeBody)
        return ((PDRIVER_OBJECT)Object)->Flags;
    return 0;
}

NTSTATUS NtsimQueryObject(PVOID Object, PNTSIM_OBJECT_INFO Info)
{
    if (!Info)
        return STATUS_INVALID_PARAMETER;
    ObpLockObjects();
    if (!ObpIsLiveObjectLocked(Object, NULL)) {
        ObpUnlockObjects();
        return STATUS_INVALID_PARAMETER;
    }
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    memset(Info, 0, sizeof(*Info));
    Info->Id = h->Id;
    Info->TypeName = h->Type->Name;
    if (h->Name)
        snprintf(Info->Name, sizeof(Info->Name), "%s", h->Name);
    Info->PointerCount = h->PointerCount;
    Info->HandleCount = h->HandleCount;
    if (h->Type == &IopDeviceObjectTypeBody)
        Info->ReferenceCount = __atomic_load_n(&((PDEVICE_OBJECT)Object)->ReferenceCount, __ATOMIC_SEQ_CST);
    Info->ExtensionFlags = ObpExtensionFlagsLocked(Object, h->Type);
    Info->Permanent = h->Permanent;
    ObpUnlockObjects();
    return STATUS_SUCCESS;
}
