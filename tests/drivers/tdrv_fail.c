/*
 * tdrv_fail.c - a test driver whose DriverEntry fails after setting
 * DriverUnload: the image must be unmapped without DriverUnload being
 * called. With the service name "tdfailzombie" it first creates a device
 * it never deletes, so the failed image stays mapped.
 */
#include "tdrv.h"

static VOID TdUnload(PDRIVER_OBJECT DriverObject)
{
    DbgPrint("tdrv_fail: DriverUnload must not run\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    static const WCHAR zombie[] = L"tdfailzombie";
    UNICODE_STRING zombieName = RTL_CONSTANT_STRING(zombie);
    UNICODE_STRING service = DriverObject->DriverExtension->ServiceKeyName;
    DriverObject->DriverUnload = TdUnload;
    if (RtlEqualUnicodeString(&service, &zombieName, TRUE)) {
        PDEVICE_OBJECT device;
        IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    }
    return STATUS_INSUFFICIENT_RESOURCES;
}
