/*
 * ldr_image.c - the image loader (MmLoadSystemImage / MmUnloadSystemImage):
 * a driver image is a shared object mapped with dlopen and unmapped with
 * dlclose. Each load is an instance record kept after unmapping, with the
 * address range of its segments, so the framework can tell which image a
 * code address belongs to (pool charging, calls into unmapped code) and
 * whether the image is really still in the process (dl_iterate_phdr).
 * A second load of a path that is still mapped fails with
 * STATUS_IMAGE_ALREADY_LOADED (nt-semantics §3.1).
 */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ntsim_internal.h"

pthread_mutex_t LdrpLock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static PLDRP_IMAGE LdrpImages; /* every instance ever loaded, newest first */
static ULONG64 LdrpNextInstanceId = 1;

static BOOLEAN LdrpIsFile(const char *Path)
{
    struct stat st;
    return stat(Path, &st) == 0 && S_ISREG(st.st_mode);
}

char *LdrpResolveImagePath(const char *ImagePath)
{
    char resolved[PATH_MAX];
    if (!ImagePath || !*ImagePath)
        return NULL;
    if (strchr(ImagePath, '/'))
        return realpath(ImagePath, resolved) ? RtlpStrDup(resolved) : NULL;
    const char *search = NtsimpConfig.DriverSearchPath ? NtsimpConfig.DriverSearchPath : ".";
    char *paths = RtlpStrDup(search);
    char *result = NULL;
    char *save = NULL;
    for (char *dir = strtok_r(paths, ":", &save); dir && !result; dir = strtok_r(NULL, ":", &save)) {
        char candidate[PATH_MAX];
        snprintf(candidate, sizeof(candidate), "%s/%s", *dir ? dir : ".", ImagePath);
        if (LdrpIsFile(candidate) && realpath(candidate, resolved))
            result = RtlpStrDup(resolved);
    }
    free(paths);
    return result;
}

/* ---- address ranges via dl_iterate_phdr ------------------------------ */

typedef struct _LDRP_RANGE_QUERY {
    ULONG_PTR Base;     /* l_addr of the object looked for */
    ULONG_PTR Start, End;
    BOOLEAN Found;
} LDRP_RANGE_QUERY;

static int LdrpRangeCallback(struct dl_phdr_info *Info, size_t Size, void *Data)
{
    (void)Size;
    LDRP_RANGE_QUERY *q = Data;
    if (Info->dlpi_addr != q->Base)
        return 0;
    ULONG_PTR start = ~(ULONG_PTR)0, end = 0;
    for (int i = 0; i < Info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &Info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        ULONG_PTR s = Info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (s < start)
            start = s;
        if (e > end)
            end = e;
    }
    q->Start = start;
    q->End = end;
    q->Found = end > start;
    return 1;
}

/* Fills Image's Start/End from the link map of its dlopen handle. */
static BOOLEAN LdrpComputeRange(PLDRP_IMAGE Image)
{
    struct link_map *map = NULL;
    if (dlinfo(Image->DlHandle, RTLD_DI_LINKMAP, &map) != 0 || !map)
        return FALSE;
    LDRP_RANGE_QUERY q = { .Base = map->l_addr };
    dl_iterate_phdr(LdrpRangeCallback, &q);
    Image->Start = q.Start;
    Image->End = q.End;
    return q.Found;
}

typedef struct _LDRP_PRESENCE_QUERY {
    ULONG_PTR Start;
    const char *Path;
    BOOLEAN Found;
} LDRP_PRESENCE_QUERY;

static int LdrpPresenceCallback(struct dl_phdr_info *Info, size_t Size, void *Data)
{
    (void)Size;
    LDRP_PRESENCE_QUERY *q = Data;
    if (!Info->dlpi_name || strcmp(Info->dlpi_name, q->Path))
        return 0;
    for (int i = 0; i < Info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &Info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && Info->dlpi_addr + ph->p_vaddr <= q->Start &&
            q->Start < Info->dlpi_addr + ph->p_vaddr + ph->p_memsz) {
            q->Found = TRUE;
            return 1;
        }
    }
    return 0;
}

BOOLEAN LdrpIsImageMappedInProcess(const LDRP_IMAGE *Image)
{
    LDRP_PRESENCE_QUERY q = { .Start = Image->Start, .Path = Image->Path };
    dl_iterate_phdr(LdrpPresenceCallback, &q);
    return q.Found;
}

PLDRP_IMAGE LdrpFindImageByAddress(ULONG_PTR Address)
{
    PLDRP_IMAGE found = NULL;
    pthread_mutex_lock(&LdrpLock);
    for (PLDRP_IMAGE image = LdrpImages; image && !found; image = image->Next)
        if (image->Mapped && image->Start <= Address && Address < image->End)
            found = image;
    pthread_mutex_unlock(&LdrpLock);
    return found;
}

BOOLEAN LdrpIsAddressUnmapped(ULONG_PTR Address)
{
    BOOLEAN inOldImage = FALSE;
    pthread_mutex_lock(&LdrpLock);
    for (PLDRP_IMAGE image = LdrpImages; image; image = image->Next) {
        if (image->Start <= Address && Address < image->End) {
            if (image->Mapped) {
                pthread_mutex_unlock(&LdrpLock);
                return FALSE;
            }
            inOldImage = TRUE;
        }
    }
    pthread_mutex_unlock(&LdrpLock);
    (void)inOldImage; /* an old image's range now reused by another object is mapped code again */
    Dl_info info;
    return !dladdr((void *)Address, &info);
}

/* ---- MmLoadSystemImage / MmUnloadSystemImage ------------------------- */

static PLDRP_IMAGE LdrpFindMappedByPathLocked(const char *Path)
{
    for (PLDRP_IMAGE image = LdrpImages; image; image = image->Next)
        if (image->Mapped && !strcmp(image->Path, Path))
            return image;
    return NULL;
}

NTSTATUS MmLoadSystemImage(const char *ImagePath, PVOID *ImageHandle, PVOID *ImageBase)
{
    char *path = LdrpResolveImagePath(ImagePath);
    if (!path)
        return STATUS_DLL_NOT_FOUND;
    pthread_mutex_lock(&LdrpLock);
    if (LdrpFindMappedByPathLocked(path)) {
        pthread_mutex_unlock(&LdrpLock);
        free(path);
        return STATUS_IMAGE_ALREADY_LOADED;
    }
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        pthread_mutex_unlock(&LdrpLock);
        fprintf(stderr, "ntsim: cannot map %s: %s\n", path, dlerror());
        free(path);
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    PLDRP_IMAGE image = RtlpAllocZero(sizeof(*image));
    image->Path = path;
    image->DlHandle = handle;
    image->InstanceId = LdrpNextInstanceId++;
    image->Mapped = TRUE;
    LdrpComputeRange(image);
    image->Next = LdrpImages;
    LdrpImages = image;
    pthread_mutex_unlock(&LdrpLock);
    if (ImageHandle)
        *ImageHandle = image;
    if (ImageBase)
        *ImageBase = (PVOID)image->Start;
    return STATUS_SUCCESS;
}

NTSTATUS MmUnloadSystemImage(PVOID ImageHandle)
{
    PLDRP_IMAGE image = ImageHandle;
    pthread_mutex_lock(&LdrpLock);
    BOOLEAN known = FALSE;
    for (PLDRP_IMAGE i = LdrpImages; i; i = i->Next)
        known |= (i == image);
    if (!known || !image->Mapped) {
        pthread_mutex_unlock(&LdrpLock);
        return STATUS_INVALID_PARAMETER;
    }
    void *handle = image->DlHandle;
    image->Mapped = FALSE;
    image->DlHandle = NULL;
    int rc = dlclose(handle);
    pthread_mutex_unlock(&LdrpLock);
    return rc == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
