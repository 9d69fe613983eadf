/*
 * ob_name.c - the object namespace: one flat table of NT paths
 * (\Device\X, \Driver\X, \??\X, ...) with case-insensitive lookup,
 * \DosDevices\ and \GLOBAL??\ as aliases of \??\, user-mode "\\.\X" paths,
 * symbolic-link resolution, and the longest-device-prefix rule that lets
 * "\Device\X\rest" open device X with "\rest" as the file name.
 * A named object's directory entry owns one pointer reference (accounted by
 * the caller: ObCreateObject adds it, ObMakeTemporaryObject / the last
 * handle close drop it).
 */
#include <ctype.h>
#include <string.h>

#include "ntsim_internal.h"

#define OBP_MAX_LINK_DEPTH 8

static LIST_ENTRY ObpNamespace = { &ObpNamespace, &ObpNamespace };

static const struct {
    const char *Prefix;
} ObpDosAliases[] = { { "\\dosdevices\\" }, { "\\global??\\" }, { "\\??\\" }, { "\\\\.\\" } };

char *ObpCanonicalName(const char *Path)
{
    size_t n = strlen(Path);
    char *key = RtlpAllocZero(n + 8);
    for (size_t i = 0; i < n; i++)
        key[i] = (char)tolower((unsigned char)Path[i]);
    for (size_t a = 0; a < RTL_NUMBER_OF(ObpDosAliases); a++) {
        size_t len = strlen(ObpDosAliases[a].Prefix);
        if (!strncmp(key, ObpDosAliases[a].Prefix, len)) {
            char *canonical = RtlpAllocZero(n + 8);
            snprintf(canonical, n + 8, "\\??\\%s", key + len);
            free(key);
            return canonical;
        }
    }
    return key;
}

static POBJECT_HEADER ObpFindNameLocked(const char *Key)
{
    for (PLIST_ENTRY e = ObpNamespace.Flink; e != &ObpNamespace; e = e->Flink) {
        POBJECT_HEADER h = CONTAINING_RECORD(e, OBJECT_HEADER, NameLink);
        if (!strcmp(h->NameKey, Key))
            return h;
    }
    return NULL;
}

PVOID ObpFindObjectByKeyLocked(const char *Key)
{
    POBJECT_HEADER h = ObpFindNameLocked(Key);
    return h ? OBJECT_HEADER_TO_BODY(h) : NULL;
}

NTSTATUS ObpInsertNameLocked(POBJECT_HEADER Header, const char *Name)
{
    char *key = ObpCanonicalName(Name);
    if (ObpFindNameLocked(key)) {
        free(key);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    Header->Name = RtlpStrDup(Name);
    Header->NameKey = key;
    Header->InNamespace = TRUE;
    InsertTailList(&ObpNamespace, &Header->NameLink);
    return STATUS_SUCCESS;
}

VOID ObpRemoveNameLocked(POBJECT_HEADER Header)
{
    if (!Header->InNamespace)
        return;
    RemoveEntryList(&Header->NameLink);
    InitializeListHead(&Header->NameLink);
    Header->InNamespace = FALSE;
}

/*
 * Resolves Key (canonical) through links to a named object; on a miss, the
 * longest prefix naming a Device is taken and the rest returned in
 * *Remainder (malloc'd, original case lost is fine for a file name).
 */
static POBJECT_HEADER ObpResolveLocked(const char *Key, char **Remainder)
{
    char *current = RtlpStrDup(Key);
    POBJECT_HEADER found = NULL;
    *Remainder = NULL;
    for (int depth = 0; depth < OBP_MAX_LINK_DEPTH && current; depth++) {
        POBJECT_HEADER h = ObpFindNameLocked(current);
        char *rest = NULL;
        if (!h) {
            /* longest prefix that names an object */
            for (char *cut = strrchr(current, '\\'); cut && cut != current; cut = strrchr(current, '\\')) {
                char *tail = RtlpStrDup(cut);
                *cut = '\0';
                char *joined = RtlpAllocZero(strlen(tail) + (rest ? strlen(rest) : 0) + 1);
                sprintf(joined, "%s%s", tail, rest ? rest : "");
                free(tail);
                free(rest);
                rest = joined;
                h = ObpFindNameLocked(current);
                if (h)
                    break;
            }
        }
        if (!h) {
            free(rest);
            break;
        }
        if (h->Type == &ObpSymbolicLinkTypeBody) {
            OBP_SYMBOLIC_LINK *link = OBJECT_HEADER_TO_BODY(h);
            const char *linkTarget = __atomic_load_n(&link->Target, __ATOMIC_ACQUIRE);
            if (!linkTarget) { /* IoCreateSymbolicLink has named it but not filled it in yet */
                free(rest);
                break;
            }
            char *target = ObpCanonicalName(linkTarget);
            char *next = RtlpAllocZero(strlen(target) + (rest ? strlen(rest) : 0) + 1);
            sprintf(next, "%s%s", target, rest ? rest : "");
            free(target);
            free(rest);
            free(current);
            current = next;
            continue;
        }
        if (rest && h->Type != &IopDeviceObjectTypeBody) {
            free(rest);
            break;
        }
        found = h;
        *Remainder = rest;
        break;
    }
    free(current);
    return found;
}

NTSTATUS ObpReferenceObjectByName(const char *Path, PVOID *Object, char **Remainder)
{
    char *key = ObpCanonicalName(Path);
    char *rest = NULL;
    pthread_mutex_lock(&ObpLock);
    POBJECT_HEADER h = ObpResolveLocked(key, &rest);
    PVOID body = h ? OBJECT_HEADER_TO_BODY(h) : NULL;
    if (body)
        ObfReferenceObject(body); /* under the (recursive) lock: the name cannot go meanwhile */
    pthread_mutex_unlock(&ObpLock);
    free(key);
    if (!body) {
        free(rest);
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    if (Remainder)
        *Remainder = rest;
    else
        free(rest);
    *Object = body;
    return STATUS_SUCCESS;
}

PVOID ObpLookupObjectNoReference(const char *Path)
{
    char *key = ObpCanonicalName(Path);
    char *rest = NULL;
    pthread_mutex_lock(&ObpLock);
    POBJECT_HEADER h = ObpResolveLocked(key, &rest);
    pthread_mutex_unlock(&ObpLock);
    free(key);
    free(rest);
    return (h && !rest) ? OBJECT_HEADER_TO_BODY(h) : NULL;
}

PVOID NtsimLookupObject(const char *Path)
{
    return Path ? ObpLookupObjectNoReference(Path) : NULL;
}
