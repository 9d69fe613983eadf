/*
 * ob_handle.c - the handle table of the one simulated process. A handle
 * owns one pointer reference and one handle count on its object
 * (ObOpenObjectByPointer adds both, ZwClose drops both); closing runs the
 * type's close procedure with the handle count before the close (the File
 * type sends IRP_MJ_CLEANUP on the last one) and removes the name of a
 * temporary named object whose last handle went (nt-semantics §1.1, §1.3).
 * Handle values are multiples of 4, starting at 4, reused after close.
 * Everything here runs under ObpLock: handle counts change only under it
 * (in the header's atomic count word, next to the pointer count that
 * references change without the lock), and an object seen with a pointer
 * count above zero under it cannot reach zero before it is released.
 */
#include <string.h>

#include "ntsim_internal.h"

typedef struct _OBP_HANDLE_ENTRY {
    PVOID Object; /* NULL = free */
    ACCESS_MASK GrantedAccess;
    ULONG Attributes;
} OBP_HANDLE_ENTRY;

static OBP_HANDLE_ENTRY *ObpHandles;
static size_t ObpHandleCapacity;

static HANDLE ObpIndexToHandle(size_t Index)
{
    return (HANDLE)(uintptr_t)((Index + 1) * 4);
}

/* The entry for Handle, or NULL (ObpLock held). */
static OBP_HANDLE_ENTRY *ObpLookupHandleLocked(HANDLE Handle)
{
    uintptr_t v = (uintptr_t)Handle;
    if (v == 0 || (v & 3))
        return NULL;
    size_t index = v / 4 - 1;
    if (index >= ObpHandleCapacity || !ObpHandles[index].Object)
        return NULL;
    return &ObpHandles[index];
}

/* A free slot index, growing the table (ObpLock held); SIZE_MAX when out of memory. */
static size_t ObpAllocateHandleSlotLocked(void)
{
    for (size_t i = 0; i < ObpHandleCapacity; i++)
        if (!ObpHandles[i].Object)
            return i;
    size_t capacity = ObpHandleCapacity ? ObpHandleCapacity * 2 : 64;
    OBP_HANDLE_ENTRY *table = realloc(ObpHandles, capacity * sizeof(*table));
    if (!table)
        return SIZE_MAX;
    memset(table + ObpHandleCapacity, 0, (capacity - ObpHandleCapacity) * sizeof(*table));
    size_t index = ObpHandleCapacity;
    ObpHandles = table;
    ObpHandleCapacity = capacity;
    return index;
}

/*
 * Adds one handle count and the handle's pointer reference in one step
 * (ObpLock held, pointer count above zero); FALSE when either count is full.
 */
static BOOLEAN ObpAddHandleLocked(POBJECT_HEADER Header)
{
    ULONG64 c = __atomic_load_n(&Header->Counts, __ATOMIC_RELAXED);
    do {
        if ((ULONG64)OBP_HANDLES(c) == OBP_HANDLE_MAX || (ULONG64)OBP_POINTERS(c) == OBP_POINTER_MAX)
            return FALSE;
    } while (!__atomic_compare_exchange_n(&Header->Counts, &c, c + OBP_HANDLE_ONE + 1, TRUE, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return TRUE;
}

NTSTATUS ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PVOID PassedAccessState,
                               ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
                               PHANDLE Handle)
{
    (void)PassedAccessState;
    (void)AccessMode;
    if (!Handle)
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&ObpLock);
    if (!ObpIsLiveObjectLocked(Object, NULL)) {
        pthread_mutex_unlock(&ObpLock);
        return STATUS_INVALID_PARAMETER;
    }
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(Object);
    if (ObjectType && h->Type != ObjectType) {
        pthread_mutex_unlock(&ObpLock);
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    ULONG64 counts = __atomic_load_n(&h->Counts, __ATOMIC_RELAXED);
    if (OBP_POINTERS(counts) == 0) {
        pthread_mutex_unlock(&ObpLock);
        KeBugCheckEx(REFERENCE_BY_POINTER, (ULONG_PTR)Object, 0, 0, 0x12);
    }
    size_t index = ObpAllocateHandleSlotLocked();
    if (index == SIZE_MAX || !ObpAddHandleLocked(h)) {
        pthread_mutex_unlock(&ObpLock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ObpHandles[index].Object = Object;
    ObpHandles[index].GrantedAccess = DesiredAccess;
    ObpHandles[index].Attributes = HandleAttributes;
    pthread_mutex_unlock(&ObpLock);
    *Handle = ObpIndexToHandle(index);
    return STATUS_SUCCESS;
}

NTSTATUS ZwClose(HANDLE Handle)
{
    pthread_mutex_lock(&ObpLock);
    OBP_HANDLE_ENTRY *entry = ObpLookupHandleLocked(Handle);
    if (!entry) {
        pthread_mutex_unlock(&ObpLock);
        return STATUS_INVALID_HANDLE;
    }
    PVOID object = entry->Object;
    entry->Object = NULL;
    POBJECT_HEADER h = OBJECT_TO_OBJECT_HEADER(object);
    ULONG64 after = __atomic_sub_fetch(&h->Counts, OBP_HANDLE_ONE, __ATOMIC_RELAXED);
    LONG_PTR before = OBP_HANDLES(after) + 1;
    BOOLEAN dropName = OBP_HANDLES(after) == 0 && h->InNamespace && !h->Permanent;
    if (dropName)
        ObpRemoveNameLocked(h);
    pthread_mutex_unlock(&ObpLock);

    /* the handle's pointer reference keeps the object alive through the close procedure */
    if (h->Type->CloseProcedure)
        h->Type->CloseProcedure(object, before);
    if (dropName)
        ObfDereferenceObject(object); /* the directory's reference */

    /* the handle's own pointer reference: part of this leaf, not a separate event */
    ObpDereferenceObjectLeaf(object, FALSE);
    return STATUS_SUCCESS;
}

/* ObReferenceObjectByHandle[WithTag]: the reference goes through the leaf matching Tag. */
static NTSTATUS ObpReferenceObjectByHandle(HANDLE Handle, POBJECT_TYPE ObjectType, ULONG Tag, PVOID *Object,
                                           POBJECT_HANDLE_INFORMATION HandleInformation)
{
    if (!Object)
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&ObpLock);
    OBP_HANDLE_ENTRY *entry = ObpLookupHandleLocked(Handle);
    if (!entry) {
        pthread_mutex_unlock(&ObpLock);
        return STATUS_INVALID_HANDLE;
    }
    PVOID object = entry->Object;
    if (ObjectType && OBJECT_TO_OBJECT_HEADER(object)->Type != ObjectType) {
        pthread_mutex_unlock(&ObpLock);
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    if (HandleInformation) {
        HandleInformation->HandleAttributes = entry->Attributes;
        HandleInformation->GrantedAccess = entry->GrantedAccess;
    }
    ObpReferenceObjectTagged(object, Tag); /* under the (recursive) lock: the handle cannot close meanwhile */
    pthread_mutex_unlock(&ObpLock);
    *Object = object;
    return STATUS_SUCCESS;
}

NTSTATUS ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                   KPROCESSOR_MODE AccessMode, PVOID *Object,
                                   POBJECT_HANDLE_INFORMATION HandleInformation)
{
    (void)DesiredAccess;
    (void)AccessMode;
    return ObpReferenceObjectByHandle(Handle, ObjectType, NTSIM_DEFAULT_OBJECT_TAG, Object, HandleInformation);
}

NTSTATUS ObReferenceObjectByHandleWithTag(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                          KPROCESSOR_MODE AccessMode, ULONG Tag, PVOID *Object,
                                          POBJECT_HANDLE_INFORMATION HandleInformation)
{
    (void)DesiredAccess;
    (void)AccessMode;
    return ObpReferenceObjectByHandle(Handle, ObjectType, Tag, Object, HandleInformation);
}
