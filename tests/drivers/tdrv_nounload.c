/*
 * tdrv_nounload.c - a legacy test driver with no DriverUnload: it creates
 * one unnamed device and can never be stopped.
 */
#include "tdrv.h"

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;
    return IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
}
