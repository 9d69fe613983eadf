/*
 * kmdf_filter_cdo.c - a KMDF upper filter of the toaster with a control
 * device for its tool (the KMDF form of the hybrid driver): the control
 * device is created with the first filter device. The bug: nothing deletes
 * it. The framework deletes a control device at unload only for a non-PnP
 * driver; for this PnP filter the control device stays on the driver's
 * device list after the toaster is removed, so the PnP manager never calls
 * DriverUnload and the image stays mapped.
 */
#include <wdf.h>
#include <wdmsec.h>

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD CdoEvtDeviceAdd;

static WDFDEVICE CdoControlDevice;

/* The control device the filter's tool opens (\\.\KmdfCdoCtl). */
static NTSTATUS CdoCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\Device\\KmdfCdoCtl");
    DECLARE_CONST_UNICODE_STRING(link, L"\\DosDevices\\KmdfCdoCtl");
    PWDFDEVICE_INIT init = WdfControlDeviceInitAllocate(Driver, &SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R);
    if (!init)
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = WdfDeviceInitAssignName(init, &name);
    WDFDEVICE control;
    if (NT_SUCCESS(status))
        status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &control);
    if (!NT_SUCCESS(status)) {
        WdfDeviceInitFree(init);
        return status;
    }
    status = WdfDeviceCreateSymbolicLink(control, &link);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(control);
        return status;
    }
    WdfControlFinishInitializing(control);
    CdoControlDevice = control;
    return STATUS_SUCCESS;
}

NTSTATUS CdoEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDFDEVICE device;
    WdfFdoInitSetFilter(DeviceInit);
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (!NT_SUCCESS(status))
        return status;
    if (!CdoControlDevice)
        CdoCreateControlDevice(Driver); /* BUG: and no cleanup callback deletes it when the last device goes */
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, CdoEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}
