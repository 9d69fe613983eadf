/*
 * kmdffilter.c - a KMDF upper filter with a control device (the hybrid
 * driver of the KMDF documentation's "Using Control Device Objects"),
 * written from that documentation: EvtDriverDeviceAdd makes each filter
 * device (WdfFdoInitSetFilter) and, with the first, the control device;
 * the filter devices' EvtCleanupCallback deletes the control device when
 * the last of them goes, so the driver can unload once its devices are
 * removed (the ControlDeviceDeleted rule). Device control requests that
 * reach its default queue are counted and sent down unchanged
 * (WdfRequestSend, send-and-forget, to WdfDeviceGetIoTarget). The control
 * device answers IOCTL 0xB00 with that count.
 */
#include <wdf.h>
#include <wdmsec.h>

#define FILTER_IOCTL_COUNT CTL_CODE(FILE_DEVICE_UNKNOWN, 0xB00, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _FILTER_CONTEXT {
    WDFDEVICE Device;
} FILTER_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(FILTER_CONTEXT, FilterGetContext)

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD FilterEvtDeviceAdd;
EVT_WDF_OBJECT_CONTEXT_CLEANUP FilterEvtDeviceCleanup;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL FilterEvtIoDeviceControl, FilterEvtControlIoDeviceControl;

static WDFWAITLOCK FilterLock;
static ULONG FilterDeviceCount;
static WDFDEVICE FilterControlDevice;
static LONG FilterForwarded;

VOID FilterEvtControlIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength,
                                     size_t InputBufferLength, ULONG IoControlCode)
{
    (void)Queue, (void)OutputBufferLength, (void)InputBufferLength;
    PVOID out;
    if (IoControlCode != FILTER_IOCTL_COUNT || !NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &out, NULL))) {
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    *(PULONG)out = (ULONG)FilterForwarded;
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
}

/* The control device, created with the first filter device (the lock is held). */
static NTSTATUS FilterCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\Device\\KmdfFilterCtl");
    DECLARE_CONST_UNICODE_STRING(link, L"\\DosDevices\\KmdfFilterCtl");
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
    WDF_IO_QUEUE_CONFIG queue;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queue, WdfIoQueueDispatchSequential);
    queue.EvtIoDeviceControl = FilterEvtControlIoDeviceControl;
    status = WdfDeviceCreateSymbolicLink(control, &link);
    if (NT_SUCCESS(status))
        status = WdfIoQueueCreate(control, &queue, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(control);
        return status;
    }
    WdfControlFinishInitializing(control);
    FilterControlDevice = control;
    return STATUS_SUCCESS;
}

/* The last filter device going takes the control device with it. */
VOID FilterEvtDeviceCleanup(WDFOBJECT Device)
{
    (void)Device;
    WdfWaitLockAcquire(FilterLock, NULL);
    if (--FilterDeviceCount == 0 && FilterControlDevice) {
        WdfObjectDelete(FilterControlDevice);
        FilterControlDevice = NULL;
    }
    WdfWaitLockRelease(FilterLock);
}

VOID FilterEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength, size_t InputBufferLength,
                              ULONG IoControlCode)
{
    (void)OutputBufferLength, (void)InputBufferLength, (void)IoControlCode;
    WDF_REQUEST_SEND_OPTIONS options;
    InterlockedIncrement(&FilterForwarded);
    WDF_REQUEST_SEND_OPTIONS_INIT(&options, WDF_REQUEST_SEND_OPTION_SEND_AND_FORGET);
    if (!WdfRequestSend(Request, WdfDeviceGetIoTarget(WdfIoQueueGetDevice(Queue)), &options))
        WdfRequestComplete(Request, STATUS_UNSUCCESSFUL);
}

NTSTATUS FilterEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFDEVICE device;
    WdfFdoInitSetFilter(DeviceInit);
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, FILTER_CONTEXT);
    attributes.EvtCleanupCallback = FilterEvtDeviceCleanup;
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    FilterGetContext(device)->Device = device;
    WDF_IO_QUEUE_CONFIG queue;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queue, WdfIoQueueDispatchParallel);
    queue.EvtIoDeviceControl = FilterEvtIoDeviceControl;
    status = WdfIoQueueCreate(device, &queue, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status))
        return status;
    WdfWaitLockAcquire(FilterLock, NULL);
    FilterDeviceCount++; /* the device's cleanup counts it down from now on */
    if (FilterDeviceCount == 1)
        status = FilterCreateControlDevice(Driver);
    WdfWaitLockRelease(FilterLock);
    /* no control device is no reason to fail the filter device (as the documentation's sample does) */
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, FilterEvtDeviceAdd);
    NTSTATUS status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
    if (!NT_SUCCESS(status))
        return status;
    return WdfWaitLockCreate(WDF_NO_OBJECT_ATTRIBUTES, &FilterLock);
}
