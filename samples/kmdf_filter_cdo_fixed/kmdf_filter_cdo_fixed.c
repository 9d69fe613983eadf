/*
 * kmdf_filter_cdo_fixed.c - the fixed twin of kmdf_filter_cdo: the KMDF
 * upper filter creates its control device with the first filter device
 * and, in the filter devices' EvtCleanupCallback, deletes it when the last
 * of them goes ("Using Control Device Objects"), so the driver unloads
 * once the toaster is removed.
 */
#include <wdf.h>
#include <wdmsec.h>

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD CdoEvtDeviceAdd;
EVT_WDF_OBJECT_CONTEXT_CLEANUP CdoEvtDeviceCleanup;

static WDFDEVICE CdoControlDevice;
static LONG CdoDeviceCount; /* filter devices; PnP callbacks of one driver run one at a time here */

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

/* The last filter device going takes the control device with it. */
VOID CdoEvtDeviceCleanup(WDFOBJECT Device)
{
    (void)Device;
    if (InterlockedDecrement(&CdoDeviceCount) == 0 && CdoControlDevice) {
        WdfObjectDelete(CdoControlDevice);
        CdoControlDevice = NULL;
    }
}

NTSTATUS CdoEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFDEVICE device;
    WdfFdoInitSetFilter(DeviceInit);
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.EvtCleanupCallback = CdoEvtDeviceCleanup;
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    if (InterlockedIncrement(&CdoDeviceCount) == 1)
        CdoCreateControlDevice(Driver);
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, CdoEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}
