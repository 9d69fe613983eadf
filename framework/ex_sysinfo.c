/*
 * ex_sysinfo.c - what the simulated system says about itself: its version
 * (Windows 7: NT 6.1, WDM 1.30) and the kernel routines it exports by name
 * (MmGetSystemRoutineAddress), so a driver that adapts to the system it
 * runs on takes the same path here as on that Windows.
 */
#include <dlfcn.h>

#include "ntsim_internal.h"

#define EXP_WDM_MAJOR 1
#define EXP_WDM_MINOR 0x30

BOOLEAN IoIsWdmVersionAvailable(UCHAR MajorVersion, UCHAR MinorVersion)
{
    return MajorVersion < EXP_WDM_MAJOR || (MajorVersion == EXP_WDM_MAJOR && MinorVersion <= EXP_WDM_MINOR);
}

BOOLEAN RtlIsNtDdiVersionAvailable(ULONG Version)
{
    return Version <= NTDDI_WIN7;
}

/*
 * The name must be one libntsim exports (not just any symbol of the
 * process); the address returned is what the driver would bind to, so a
 * preloaded tracer's wrapper when there is one.
 */
PVOID MmGetSystemRoutineAddress(PUNICODE_STRING SystemRoutineName)
{
    if (!SystemRoutineName || !SystemRoutineName->Buffer)
        return NULL;
    char name[256];
    RtlpUnicodeToUtf8Buffer(SystemRoutineName, name, sizeof(name));
    Dl_info self;
    if (!dladdr((void *)MmGetSystemRoutineAddress, &self) || !self.dli_fname)
        return NULL;
    void *kernel = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (!kernel)
        return NULL;
    void *exported = dlsym(kernel, name); /* searches libntsim's dependencies too: keep libntsim's own */
    Dl_info where;
    BOOLEAN own = exported && dladdr(exported, &where) && where.dli_fbase == self.dli_fbase;
    dlclose(kernel);
    return own ? dlsym(RTLD_DEFAULT, name) : NULL;
}
