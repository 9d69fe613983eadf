/*
 * tdrv_pnp.c - a PnP test driver: DriverEntry sets AddDevice (which the
 * core tests never call) and DriverUnload, so a service stop is refused.
 */
#include "tdrv.h"

static NTSTATUS TdAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT PhysicalDeviceObject)
{
    return STATUS_SUCCESS;
}

static VOID TdUnload(PDRIVER_OBJECT DriverObject)
{
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DriverObject->DriverExtension->AddDevice = TdAddDevice;
    DriverObject->DriverUnload = TdUnload;
    return STATUS_SUCCESS;
}
