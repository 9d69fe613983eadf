/*
 * tdrv_stuckunload.c - a legacy test driver whose DriverUnload can never
 * finish: DriverEntry takes run-down protection on a global and never
 * releases it, and DriverUnload waits for the run-down. The host's service
 * stop must come back (STATUS_TIMEOUT after the stuck report) instead of
 * hanging with it.
 */
#include <ntddk.h>

static EX_RUNDOWN_REF StuckRundown;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD StuckUnload;

static VOID StuckUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    ExWaitForRundownProtectionRelease(&StuckRundown); /* never returns: the acquisition below is never released */
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    ExInitializeRundownProtection(&StuckRundown);
    if (!ExAcquireRundownProtection(&StuckRundown))
        return STATUS_UNSUCCESSFUL;
    DriverObject->DriverUnload = StuckUnload;
    return STATUS_SUCCESS;
}
