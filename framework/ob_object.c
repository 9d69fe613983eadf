/*
 * ob_object.c - the object manager's object lifetime: creation with a
 * header (pointer count, handle count, type, name, stable id, permanent
 * flag), pointer references and dereferences, deletion through the type's
 * delete procedure when the pointer count reaches zero, permanent objects
 * made temporary, and the live-object set that lets queries and bug
 * checks describe any pointer safely (nt-semantics §1).
 *
 * ObfReferenceObject, ObfDereferenceObject (and the tagged and deferred
 * variants) and ObMakeTemporaryObject are leaves: each changes the pointer
 * count once, so a tracer interposing them sees each change exactly once.
 * ObReferenceObjectByPointer[WithTag] check the type and take their
 * reference through the leaf matching the tag (ObpReferenceObjectTagged).
 *
 * Scaling: a reference, a dereference that leaves the count above zero and
 * every query take no lock. They find the object in the live-object set
 * inside a read section (rtl_ptrmap.c) and compare-and-swap the header's
 * count word (both counts in one word, ntsim_internal.h), so references on
 * different objects never touch shared cache lines. ObpLock stays for the
 * slow paths: creation, the last dereference (1 -> 0) and deletion, names,
 * handles. A deleted object leaves the set under ObpLock, and its memory is
 * freed only after RtlpWaitForReaders: a reader that found it before may
 * still read its header (and sees a pointer count of 0: "being deleted"),
 * one that looks later does not find it, so a freed or random pointer is
 * bug-checked without its memory ever being read.
 */
#include <string.h>

#include "ntsim_internal.h"

pthread_mutex_t ObpLock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static RTL_PTR_SET ObpLiveObjects = RTL_PTR_SET_INIT; /* bodies; inserted and removed under ObpLock */
static ULONG64 ObpNextId = 1;

static VOID ObpLockObjects(void)
{
    pthread_mutex_lock(&ObpLock);
}

static VOID ObpUnlockObjects(void)
{
    pthread_mutex_unlock(&ObpLock);
}

/* Object's header when it is live, else NULL. Caller holds ObpLock or is inside a read section. */
static POBJECT_HEADER ObpLookupHeader(PVOID Object)
{
    return RtlpPtrSetContains(&ObpLiveObjects, Object) ? OBJECT_TO_OBJECT_HEADER(Object) : NULL;
}

static ULONG64 ObpLoadCounts(const OBJECT_HEADER *Header)
{
    return __atomic_load_n(&Header->Counts, __ATOMIC_ACQUIRE);
}

BOOLEAN ObpIsLiveObjectLocked(PVOID Object, POBJECT_TYPE Type)
{
    POBJECT_HEADER header = ObpLookupHeader(Object);
    return header && (!Type || header->Type == Type);
}

BOOLEAN ObpIsLiveObject(PVOID Object, POBJECT_TYPE Type)
{
    RTLP_READER *reader = RtlpEnterReadSection();
    BOOLEAN live = ObpIsLiveObjectLocked(Object, Type);
    RtlpLeaveReadSection(reader);
    return live;
}

POBJECT_TYPE ObpGetObjectType(PVOID Object)
{
    RTLP_READER *reader = RtlpEnterReadSection();
    POBJECT_HEADER h = ObpLookupHeader(Object);
    POBJECT_TYPE type = h ? h->Type : NULL;
    RtlpLeaveReadSection(reader);
    return type;
}

BOOLEAN ObpQueryCounts(PVOID Object, LONG_PTR *PointerCount, LONG_PTR *HandleCount)
{
    RTLP_READER *reader = RtlpEnterReadSection();
    POBJECT_HEADER h = ObpLookupHeader(Object);
    ULONG64 counts = h ? ObpLoadCounts(h) : 0;
    RtlpLeaveReadSection(reader);
    if (h && PointerCount)
        *PointerCount = OBP_POINTERS(counts);
    if (h && HandleCount)
        *HandleCount = OBP_HANDLES(counts);
    return h != NULL;
}

static VOID ObpDescribeLocked(PVOID Object, char *Buffer, size_t Size)
{
    POBJECT_HEADER h = ObpLookupHeader(Object);
    if (!h)
        snprintf(Buffer, Size, "%p <not a live object>", Object);
    else if (h->Name)
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

/* Names (when Name) and publishes a new header (ObpLock held). */
static NTSTATUS ObpPublishLocked(POBJECT_HEADER Header, const char *Name)
{
    if (Name) {
        NTSTATUS status = ObpInsertNameLocked(Header, Name);
        if (!NT_SUCCESS(status))
            return status;
        Header->Counts++; /* the directory's reference (not yet published: a plain write) */
    }
    Header->Id = ObpNextId++;
    if (!RtlpPtrSetInsert(&ObpLiveObjects, OBJECT_HEADER_TO_BODY(Header))) {
        ObpRemoveNameLocked(Header);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

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
    h->Counts = 1;
    h->Permanent = (Attributes & OBJ_PERMANENT) != 0;
    InitializeListHead(&h->NameLink);

    ObpLockObjects();
    NTSTATUS status = ObpPublishLocked(h, name);
    ObpUnlockObjects();
    free(name);
    if (!NT_SUCCESS(status)) {
        free(h->Name);
        free(h->NameKey);
        free(h);
        return status;
    }
    *Object = OBJECT_HEADER_TO_BODY(h);
    return STATUS_SUCCESS;
}

/* ---- references ------------------------------------------------------ */

/* Bug check for an object pointer that is not a live object (no lock held, no read section open). */
static DECLSPEC_NORETURN VOID ObpBugCheckNotAnObject(PVOID Object)
{
    KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, 0, 0, 0x10);
}

/* Bug check for a count change the counts Before forbid (no lock held, no read section open). */
static DECLSPEC_NORETURN VOID ObpBugCheckCounts(PVOID Object, ULONG64 Before, ULONG_PTR Why)
{
    KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, (ULONG_PTR)OBP_POINTERS(Before),
                 (ULONG_PTR)OBP_HANDLES(Before), Why);
}

/* Adds one pointer reference unless the count is 0 (being deleted) or full; FALSE then, *Before says which. */
static BOOLEAN ObpTryIncrement(POBJECT_HEADER Header, ULONG64 *Before)
{
    ULONG64 c = __atomic_load_n(&Header->Counts, __ATOMIC_RELAXED);
    do {
        *Before = c;
        if (OBP_POINTERS(c) == 0 || (ULONG64)OBP_POINTERS(c) == OBP_POINTER_MAX)
            return FALSE;
    } while (!__atomic_compare_exchange_n(&Header->Counts, &c, c + 1, TRUE, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return TRUE;
}

static LONG_PTR ObpReferenceObject(PVOID Object)
{
    ULONG64 before = 0;
    RTLP_READER *reader = RtlpEnterReadSection();
    POBJECT_HEADER h = ObpLookupHeader(Object);
    BOOLEAN done = h && ObpTryIncrement(h, &before);
    RtlpLeaveReadSection(reader);
    if (!h)
        ObpBugCheckNotAnObject(Object);
    if (!done)
        ObpBugCheckCounts(Object, before, OBP_POINTERS(before) ? 0x13 : 0x11);
    return OBP_POINTERS(before) + 1;
}

/* Frees an object whose pointer count reached zero: delete procedure, unpublish, wait for readers, memory. */
static VOID ObpDeleteObject(PVOID Object)
{
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    if (h->Type->DeleteProcedure)
        h->Type->DeleteProcedure(Object);
    ObpLockObjects();
    RtlpPtrSetRemove(&ObpLiveObjects, Object);
    ObpRemoveNameLocked(h);
    ObpUnlockObjects();
    RtlpWaitForReaders(); /* a reader that found Object before the removal is done with its header */
    h->Magic = 0;
    free(h->Name);
    free(h->NameKey);
    free(h);
}

static VOID ObpDeferredDelete(PVOID Object)
{
    ObpDeleteObject(Object);
}

typedef enum _OBP_DECREMENT {
    ObpDecremented,     /* done */
    ObpDecrementIsLast, /* the count is 1: the last step needs ObpLock */
    ObpDecrementInvalid /* below zero (0: being deleted) or below the handle count */
} OBP_DECREMENT;

/* Drops one pointer reference if the counts allow it; to 0 only with AllowZero (ObpLock held). */
static OBP_DECREMENT ObpTryDecrement(POBJECT_HEADER Header, BOOLEAN AllowZero, ULONG64 *Before)
{
    ULONG64 c = __atomic_load_n(&Header->Counts, __ATOMIC_RELAXED);
    do {
        *Before = c;
        if (OBP_POINTERS(c) == 0 || OBP_POINTERS(c) - 1 < OBP_HANDLES(c))
            return ObpDecrementInvalid;
        if (OBP_POINTERS(c) == 1 && !AllowZero)
            return ObpDecrementIsLast;
    } while (!__atomic_compare_exchange_n(&Header->Counts, &c, c - 1, TRUE, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
    return ObpDecremented;
}

/* Bug check 0x18 for a dereference the counts Before forbid (0x1: below zero, 0x2: below the handle count). */
static DECLSPEC_NORETURN VOID ObpBugCheckDereference(PVOID Object, ULONG64 Before)
{
    ObpBugCheckCounts(Object, Before, OBP_POINTERS(Before) == 0 ? 0x1 : 0x2);
}

/* The dereference that may reach zero, under ObpLock (so a lock holder that saw a count > 0 may reference). */
static LONG_PTR ObpDereferenceLast(PVOID Object, BOOLEAN Defer)
{
    ULONG64 before = 0;
    ObpLockObjects();
    POBJECT_HEADER h = ObpLookupHeader(Object);
    OBP_DECREMENT result = h ? ObpTryDecrement(h, TRUE, &before) : ObpDecrementInvalid;
    ObpUnlockObjects();
    if (!h)
        ObpBugCheckNotAnObject(Object);
    if (result != ObpDecremented)
        ObpBugCheckDereference(Object, before);
    LONG_PTR count = OBP_POINTERS(before) - 1;
    if (count == 0 && Defer)
        ExpQueueWorkerRoutine(ObpDeferredDelete, Object);
    else if (count == 0)
        ObpDeleteObject(Object);
    return count;
}

LONG_PTR ObpDereferenceObjectLeaf(PVOID Object, BOOLEAN Defer)
{
    ULONG64 before = 0;
    RTLP_READER *reader = RtlpEnterReadSection();
    POBJECT_HEADER h = ObpLookupHeader(Object);
    OBP_DECREMENT result = h ? ObpTryDecrement(h, FALSE, &before) : ObpDecrementInvalid;
    RtlpLeaveReadSection(reader);
    if (!h)
        ObpBugCheckNotAnObject(Object);
    if (result == ObpDecrementInvalid)
        ObpBugCheckDereference(Object, before);
    if (result == ObpDecrementIsLast)
        return ObpDereferenceLast(Object, Defer);
    return OBP_POINTERS(before) - 1;
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
    POBJECT_HEADER h = ObpLookupHeader(Object);
    if (!h)
        status = STATUS_INVALID_PARAMETER;
    else if (ObjectType && h->Type != ObjectType)
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
    POBJECT_HEADER h = ObpLookupHeader(Object);
    BOOLEAN alive = h && OBP_POINTERS(ObpLoadCounts(h)) > 0; /* cannot drop to 0 while ObpLock is held */
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
    POBJECT_HEADER h = ObpLookupHeader(Object);
    if (!h) {
        ObpUnlockObjects();
        ObpBugCheckNotAnObject(Object);
    }
    __atomic_store_n(&h->Permanent, FALSE, __ATOMIC_RELAXED);
    BOOLEAN dropName = h->InNamespace && OBP_HANDLES(ObpLoadCounts(h)) == 0;
    if (dropName)
        ObpRemoveNameLocked(h);
    ObpUnlockObjects();
    if (dropName)
        ObpDereferenceObjectLeaf(Object, FALSE); /* the directory's reference, part of this leaf */
}

/* ---- host queries ---------------------------------------------------- */

/* Body fields a query reports (read as they are: the I/O manager changes them under its own lock). */
static ULONG ObpExtensionFlags(PVOID Object, POBJECT_TYPE Type)
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

/* Fills Info from a live header (inside a read section: the memory stays until the section ends). */
static VOID ObpFillObjectInfo(PVOID Object, const OBJECT_HEADER *Header, PNTSIM_OBJECT_INFO Info)
{
    ULONG64 counts = ObpLoadCounts(Header);
    memset(Info, 0, sizeof(*Info));
    Info->Id = Header->Id;
    Info->TypeName = Header->Type->Name;
    if (Header->Name)
        snprintf(Info->Name, sizeof(Info->Name), "%s", Header->Name);
    Info->PointerCount = OBP_POINTERS(counts);
    Info->HandleCount = OBP_HANDLES(counts);
    if (Header->Type == &IopDeviceObjectTypeBody)
        Info->ReferenceCount = __atomic_load_n(&((PDEVICE_OBJECT)Object)->ReferenceCount, __ATOMIC_SEQ_CST);
    Info->ExtensionFlags = ObpExtensionFlags(Object, Header->Type);
    Info->Permanent = __atomic_load_n(&Header->Permanent, __ATOMIC_RELAXED);
}

/* Lock-free (the tracer calls it around every reference): safe with any pointer value. */
NTSTATUS NtsimQueryObject(PVOID Object, PNTSIM_OBJECT_INFO Info)
{
    if (!Info)
        return STATUS_INVALID_PARAMETER;
    RTLP_READER *reader = RtlpEnterReadSection();
    POBJECT_HEADER h = ObpLookupHeader(Object);
    if (h)
        ObpFillObjectInfo(Object, h, Info);
    RtlpLeaveReadSection(reader);
    return h ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}
