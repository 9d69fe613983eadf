/*
 * io_symlink.c - symbolic links (\DosDevices\X -> \Device\Y). A link is a
 * permanent named object of type SymbolicLink holding its target path; it
 * references nothing (resolution is by name at open time), so a link left
 * behind keeps no device or driver alive, only the name.
 */
#include "ntsim_internal.h"

static VOID ObpDeleteSymbolicLink(PVOID Object)
{
    OBP_SYMBOLIC_LINK *link = Object;
    free(link->Target);
}

OBJECT_TYPE ObpSymbolicLinkTypeBody = { "SymbolicLink", 'bmyS', ObpDeleteSymbolicLink, NULL };

NTSTATUS IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName)
{
    if (!SymbolicLinkName || !DeviceName || !DeviceName->Length)
        return STATUS_INVALID_PARAMETER;
    char *target = RtlpUnicodeToUtf8(DeviceName);
    if (!target)
        return STATUS_INSUFFICIENT_RESOURCES;
    PVOID object;
    NTSTATUS status = ObCreateObject(&ObpSymbolicLinkTypeBody, SymbolicLinkName, OBJ_PERMANENT,
                                     sizeof(OBP_SYMBOLIC_LINK), &object);
    if (!NT_SUCCESS(status)) {
        free(target);
        return status;
    }
    /* the name is visible already: a resolver treats a link without a target as absent */
    __atomic_store_n(&((OBP_SYMBOLIC_LINK *)object)->Target, target, __ATOMIC_RELEASE);
    ObfDereferenceObject(object); /* the creator's reference: the namespace keeps the link */
    return STATUS_SUCCESS;
}

NTSTATUS IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName)
{
    if (!SymbolicLinkName)
        return STATUS_INVALID_PARAMETER;
    char *path = RtlpUnicodeToUtf8(SymbolicLinkName);
    if (!path)
        return STATUS_INSUFFICIENT_RESOURCES;
    char *key = ObpCanonicalName(path);
    free(path);
    PVOID link = NULL;
    pthread_mutex_lock(&ObpLock);
    PVOID candidate = ObpFindObjectByKeyLocked(key);
    if (candidate && OBJECT_TO_OBJECT_HEADER(candidate)->Type == &ObpSymbolicLinkTypeBody &&
        ObpReferenceIfAlive(candidate))
        link = candidate;
    pthread_mutex_unlock(&ObpLock);
    free(key);
    if (!link)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    ObMakeTemporaryObject(link); /* the name and the namespace's reference go */
    ObfDereferenceObject(link);  /* our lookup reference: the link is freed */
    return STATUS_SUCCESS;
}
