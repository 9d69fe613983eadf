/*
 * kmdfmon.c - a non-PnP KMDF driver that opens a remote I/O target on the
 * toaster's device interface (the devnode ROOT\TOASTER2\0000), written from the KMDF documentation
 * ("Controlling a General I/O Target's State", EvtIoTargetQueryRemove,
 * WdfIoTargetCloseForQueryRemove). Its control device \\.\KmdfMon answers:
 *
 *   0xC00  open the target; input ULONG: 0 = no callbacks (the framework
 *          closes the target on the device's query-remove), 1 = an
 *          EvtIoTargetQueryRemove that refuses (the removal is vetoed),
 *          2 = one that closes the target for the query-remove and lets
 *          the device go (EvtIoTargetRemoveComplete closes it for good)
 *   0xC01  output ULONG: 1 while the target holds the device, else 0
 *   0xC02  close and delete the target
 */
#include <wdf.h>
#include <wdmsec.h>

#define MON_IOCTL_OPEN CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define MON_IOCTL_STATE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define MON_IOCTL_CLOSE CTL_CODE(FILE_DEVICE_UNKNOWN, 0xC02, METHOD_BUFFERED, FILE_ANY_ACCESS)

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_UNLOAD MonEvtDriverUnload;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL MonEvtIoDeviceControl;
EVT_WDF_IO_TARGET_QUERY_REMOVE MonEvtQueryRemoveRefuse, MonEvtQueryRemoveClose;
EVT_WDF_IO_TARGET_REMOVE_COMPLETE MonEvtRemoveComplete;

static WDFDEVICE MonControlDevice;
static WDFIOTARGET MonTarget;

NTSTATUS MonEvtQueryRemoveRefuse(WDFIOTARGET IoTarget)
{
    (void)IoTarget;
    return STATUS_UNSUCCESSFUL;
}

NTSTATUS MonEvtQueryRemoveClose(WDFIOTARGET IoTarget)
{
    WdfIoTargetCloseForQueryRemove(IoTarget);
    return STATUS_SUCCESS;
}

VOID MonEvtRemoveComplete(WDFIOTARGET IoTarget)
{
    WdfIoTargetClose(IoTarget);
}

static NTSTATUS MonOpenTarget(ULONG Mode)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\??\\ROOT#TOASTER2#0000#{781ef630-72b2-11d2-b852-00c04fad5171}");
    if (MonTarget)
        return STATUS_INVALID_DEVICE_STATE;
    NTSTATUS status = WdfIoTargetCreate(MonControlDevice, WDF_NO_OBJECT_ATTRIBUTES, &MonTarget);
    if (!NT_SUCCESS(status))
        return status;
    WDF_IO_TARGET_OPEN_PARAMS params;
    WDF_IO_TARGET_OPEN_PARAMS_INIT_OPEN_BY_NAME(&params, &name, FILE_READ_DATA);
    if (Mode == 1)
        params.EvtIoTargetQueryRemove = MonEvtQueryRemoveRefuse;
    if (Mode == 2) {
        params.EvtIoTargetQueryRemove = MonEvtQueryRemoveClose;
        params.EvtIoTargetRemoveComplete = MonEvtRemoveComplete;
    }
    status = WdfIoTargetOpen(MonTarget, &params);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(MonTarget);
        MonTarget = NULL;
    }
    return status;
}

VOID MonEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength, size_t InputBufferLength,
                           ULONG IoControlCode)
{
    (void)Queue, (void)OutputBufferLength, (void)InputBufferLength;
    PVOID buffer;
    NTSTATUS status = STATUS_INVALID_DEVICE_REQUEST;
    ULONG_PTR information = 0;
    if (IoControlCode == MON_IOCTL_OPEN) {
        status = WdfRequestRetrieveInputBuffer(Request, sizeof(ULONG), &buffer, NULL);
        if (NT_SUCCESS(status))
            status = MonOpenTarget(*(PULONG)buffer);
    } else if (IoControlCode == MON_IOCTL_STATE) {
        status = WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &buffer, NULL);
        if (NT_SUCCESS(status)) {
            *(PULONG)buffer = MonTarget && WdfIoTargetWdmGetTargetFileObject(MonTarget) ? 1 : 0;
            information = sizeof(ULONG);
        }
    } else if (IoControlCode == MON_IOCTL_CLOSE && MonTarget) {
        WdfObjectDelete(MonTarget); /* deleting an open target closes it */
        MonTarget = NULL;
        status = STATUS_SUCCESS;
    }
    WdfRequestCompleteWithInformation(Request, status, information);
}

VOID MonEvtDriverUnload(WDFDRIVER Driver)
{
    (void)Driver;
    if (MonControlDevice)
        WdfObjectDelete(MonControlDevice);
    MonControlDevice = NULL;
}

static NTSTATUS MonCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\Device\\KmdfMon");
    DECLARE_CONST_UNICODE_STRING(link, L"\\DosDevices\\KmdfMon");
    PWDFDEVICE_INIT init = WdfControlDeviceInitAllocate(Driver, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL);
    if (!init)
        return STATUS_INSUFFICIENT_RESOURCES;
    WdfDeviceInitSetIoType(init, WdfDeviceIoBuffered);
    NTSTATUS status = WdfDeviceInitAssignName(init, &name);
    WDFDEVICE device;
    if (NT_SUCCESS(status))
        status = WdfDeviceCreate(&init, WDF_NO_OBJECT_ATTRIBUTES, &device);
    if (!NT_SUCCESS(status)) {
        WdfDeviceInitFree(init);
        return status;
    }
    WDF_IO_QUEUE_CONFIG queue;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queue, WdfIoQueueDispatchSequential);
    queue.EvtIoDeviceControl = MonEvtIoDeviceControl;
    status = WdfDeviceCreateSymbolicLink(device, &link);
    if (NT_SUCCESS(status))
        status = WdfIoQueueCreate(device, &queue, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(device);
        return status;
    }
    WdfControlFinishInitializing(device);
    MonControlDevice = device;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDFDRIVER driver;
    WDF_DRIVER_CONFIG_INIT(&config, WDF_NO_EVENT_CALLBACK);
    config.DriverInitFlags |= WdfDriverInitNonPnpDriver;
    config.EvtDriverUnload = MonEvtDriverUnload;
    NTSTATUS status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, &driver);
    if (!NT_SUCCESS(status))
        return status;
    return MonCreateControlDevice(driver);
}
