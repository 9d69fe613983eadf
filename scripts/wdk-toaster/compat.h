/*
 * compat.h - the one compatibility header the WDK 7.1 toaster WDM samples
 * need to build with gcc against include/ntsim: what MSVC accepts in C and
 * gcc does not. Forced in with -include, after <ntddk.h>. Nothing here is
 * an API: every call the samples make is libntsim's.
 */
#include <ntddk.h>

/* filter.h names its own enum DEVICE_TYPE; MSVC takes the redefinition as benign (C4142). */
#undef DEVICE_TYPE

/*
 * toastmon.h declares its notification callbacks with the role type
 * (PVOID parameters) and toastmon.c defines them with typed pointers;
 * MSVC warns (C4028), gcc refuses: the role is unprototyped here.
 */
typedef NTSTATUS WDK_COMPAT_NOTIFICATION_ROUTINE();
#define DRIVER_NOTIFICATION_CALLBACK_ROUTINE WDK_COMPAT_NOTIFICATION_ROUTINE
