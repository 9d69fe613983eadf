/*
 * ntsim_test.h - helpers the core's unit tests share (header-only: the
 * objects in tests/lib are linked into every unit test binary, including
 * those that do not link libntsim). Locates the test driver images next to
 * the test binary, starts the simulation for a test, reads object counts,
 * checks with dl_iterate_phdr whether an image is really mapped, and finds
 * a test driver's exported IRP log.
 */
#ifndef NTSIM_TEST_H
#define NTSIM_TEST_H

#include <check.h>
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ntsim.h>
#include <ntsim_kernel.h>

#include "../drivers/tdrv.h"
#include "obt_test.h"

/* Dst = A followed by B, truncated to Size (no format-truncation games). */
static inline void TtConcat(char *Dst, size_t Size, const char *A, const char *B)
{
    size_t a = strlen(A), b = strlen(B);
    if (a >= Size)
        a = Size - 1;
    if (a + b >= Size)
        b = Size - 1 - a;
    memmove(Dst, A, a);
    memcpy(Dst + a, B, b);
    Dst[a + b] = '\0';
}

/* Directory of the running test binary's sibling "drivers" folder ($O/tests/drivers). Usable outside a test. */
static inline const char *TtDriverDir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
            abort(); /* no ck_assert here: also used outside a running test */
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        *slash = '\0';
        TtConcat(dir, sizeof(dir), exe, "/../drivers");
        char real[PATH_MAX];
        if (realpath(dir, real))
            TtConcat(dir, sizeof(dir), real, "");
    }
    return dir;
}

/* Full path of test driver image Name ("tdrv_legacy"). */
static inline const char *TtImagePath(const char *Name, char *Buffer, size_t Size)
{
    char file[256];
    TtConcat(file, sizeof(file), "/", Name);
    TtConcat(file, sizeof(file), file, ".so");
    TtConcat(Buffer, Size, TtDriverDir(), file);
    return Buffer;
}

/* Starts the simulation for one test (Check forks each test). */
static inline void TtInit(ULONG StuckWaitMs)
{
    NTSIM_CONFIG config;
    NtsimDefaultConfig(&config);
    config.DriverSearchPath = TtDriverDir();
    config.StuckWaitMs = StuckWaitMs ? StuckWaitMs : 3000;
    ck_assert_int_eq(NtsimInitialize(&config), STATUS_SUCCESS);
}

/* Installs Service for image Name (found in the drivers folder) and starts it. */
static inline void TtStart(const char *Service, const char *Name)
{
    char image[256];
    TtConcat(image, sizeof(image), Name, ".so");
    ck_assert_int_eq(NtsimInstallService(Service, image), STATUS_SUCCESS);
    ck_assert_msg(NtsimStartService(Service) == STATUS_SUCCESS, "start %s", Service);
}

static inline NTSIM_OBJECT_INFO TtQuery(PVOID Object)
{
    NTSIM_OBJECT_INFO info;
    ck_assert_msg(NtsimQueryObject(Object, &info) == STATUS_SUCCESS, "object %p is not live", Object);
    return info;
}

static inline BOOLEAN TtIsLive(PVOID Object)
{
    NTSIM_OBJECT_INFO info;
    return NtsimQueryObject(Object, &info) == STATUS_SUCCESS;
}

/* Asserts the exact pointer count, handle count and (for devices, else pass -1) ReferenceCount. */
#define TtAssertCounts(Object, Pc, Hc, Rc)                                                              \
    do {                                                                                                \
        NTSIM_OBJECT_INFO i_ = TtQuery(Object);                                                         \
        ck_assert_msg(i_.PointerCount == (Pc), "%s: PointerCount %ld, expected %ld", i_.Name[0] ? i_.Name : i_.TypeName, \
                      (long)i_.PointerCount, (long)(Pc));                                               \
        ck_assert_msg(i_.HandleCount == (Hc), "%s: HandleCount %ld, expected %ld", i_.Name[0] ? i_.Name : i_.TypeName, \
                      (long)i_.HandleCount, (long)(Hc));                                                \
        if ((Rc) >= 0)                                                                                  \
            ck_assert_msg(i_.ReferenceCount == (Rc), "%s: ReferenceCount %ld, expected %ld",           \
                          i_.Name[0] ? i_.Name : i_.TypeName, (long)i_.ReferenceCount, (long)(Rc));     \
    } while (0)

typedef struct {
    const char *Path;
    int Found;
} TtPhdrQuery;

static inline int TtPhdrCallback(struct dl_phdr_info *Info, size_t Size, void *Data)
{
    (void)Size;
    TtPhdrQuery *q = Data;
    if (Info->dlpi_name && !strcmp(Info->dlpi_name, q->Path))
        q->Found = 1;
    return 0;
}

/* TRUE when test driver image Name is mapped in the process (dl_iterate_phdr, not the framework's word). */
static inline BOOLEAN TtImageMapped(const char *Name)
{
    char path[PATH_MAX];
    TtPhdrQuery q = { TtImagePath(Name, path, sizeof(path)), 0 };
    dl_iterate_phdr(TtPhdrCallback, &q);
    return q.Found != 0;
}

/* The TdLog of mapped test driver image Name (valid while it stays mapped). */
static inline TD_LOG *TtDriverLog(const char *Name)
{
    char path[PATH_MAX];
    void *handle = dlopen(TtImagePath(Name, path, sizeof(path)), RTLD_LAZY | RTLD_NOLOAD);
    ck_assert_msg(handle != NULL, "%s is not mapped", Name);
    TD_LOG *log = dlsym(handle, "TdLog");
    dlclose(handle); /* NOLOAD took a count: give it back */
    ck_assert_ptr_nonnull(log);
    return log;
}

/* The major functions the image logged so far, as a string of hex digits ("0 12 2" -> "0,12,2"). */
static inline const char *TtLogString(const TD_LOG *Log, char *Buffer, size_t Size)
{
    size_t used = 0;
    Buffer[0] = '\0';
    for (LONG i = 0; i < Log->Count && i < TD_LOG_MAX && used + 6 < Size; i++)
        used += (size_t)snprintf(Buffer + used, Size - used, "%s%x", i ? "," : "", Log->Entries[i].MajorFunction);
    return Buffer;
}

/* Waits (up to 5 s) until Object's pointer count is Expected (work done on worker threads). */
static inline void TtWaitPointerCount(PVOID Object, LONG_PTR Expected)
{
    for (int i = 0; i < 5000; i++) {
        NTSIM_OBJECT_INFO info;
        if (NtsimQueryObject(Object, &info) == STATUS_SUCCESS && info.PointerCount == Expected)
            return;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    TtAssertCounts(Object, Expected, TtQuery(Object).HandleCount, -1);
}

/* Runs Suite with Check and returns the process exit status (tests/run.sh reads the TAP log). */
static inline int TtRunSuite(Suite *S)
{
    return obt_test_run_suite(S);
}

#endif
