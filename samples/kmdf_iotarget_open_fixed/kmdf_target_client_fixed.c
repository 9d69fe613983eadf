/*
 * kmdf_target_client_fixed.c - the fixed twin of kmdf_iotarget_open's
 * client: it opens the remote I/O target on \Device\FileObjTarget when it
 * needs it (here once, in DriverEntry, to learn the target device) and
 * closes it right after (WdfIoTargetClose), so the target driver's stop
 * is never held up by it.
 */
#include <wdf.h>
#include <wdmsec.h>

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_UNLOAD ClientEvtDriverUnload;

static WDFDEVICE ClientControlDevice;
static WDFIOTARGET ClientTarget;

VOID ClientEvtDriverUnload(WDFDRIVER Driver)
{
    (void)Driver;
    if (ClientControlDevice)
        WdfObjectDelete(ClientControlDevice); /* the target, its child, goes with it */
    ClientControlDevice = NULL;
}

static NTSTATUS ClientCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\Device\\KmdfTargetClient");
    PWDFDEVICE_INIT init = WdfControlDeviceInitAllocate(Driver, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL);
    if (!init)
        return STATUS_INSUFFICIENT_RESOURCES;
    NTSTATUS status = WdfDeviceInitAssignName(init, &name);
    if (NT_SUCCESS(status))
        status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &ClientControlDevice);
    if (!NT_SUCCESS(status)) {
        WdfDeviceInitFree(init);
        return status;
    }
    WdfControlFinishInitializing(ClientControlDevice);
    return STATUS_SUCCESS;
}

/* Opens the remote target on \Device\FileObjTarget. */
static NTSTATUS ClientOpenTarget(void)
{
    DECLARE_CONST_UNICODE_STRING(target, L"\\Device\\FileObjTarget");
    WDF_IO_TARGET_OPEN_PARAMS params;
    NTSTATUS status = WdfIoTargetCreate(ClientControlDevice, WDF_NO_OBJECT_ATTRIBUTES, &ClientTarget);
    if (!NT_SUCCESS(status))
        return status;
    WDF_IO_TARGET_OPEN_PARAMS_INIT_OPEN_BY_NAME(&params, &target, FILE_READ_DATA);
    status = WdfIoTargetOpen(ClientTarget, &params);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(ClientTarget);
        ClientTarget = NULL;
    }
    return status;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDFDRIVER driver;
    WDF_DRIVER_CONFIG_INIT(&config, WDF_NO_EVENT_CALLBACK);
    config.DriverInitFlags |= WdfDriverInitNonPnpDriver;
    config.EvtDriverUnload = ClientEvtDriverUnload;
    NTSTATUS status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, &driver);
    if (NT_SUCCESS(status))
        status = ClientCreateControlDevice(driver);
    if (NT_SUCCESS(status))
        status = ClientOpenTarget();
    if (NT_SUCCESS(status) && !WdfIoTargetWdmGetTargetDeviceObject(ClientTarget))
        status = STATUS_NO_SUCH_DEVICE;
    if (ClientTarget)
        WdfIoTargetClose(ClientTarget); /* done with it: the file object goes */
    return status;
}
