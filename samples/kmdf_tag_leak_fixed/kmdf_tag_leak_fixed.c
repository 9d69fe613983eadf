/*
 * kmdf_tag_leak_fixed.c - the fixed twin of kmdf_tag_leak: a KMDF function driver for a root-enumerated device
 * that keeps its WDFDEVICE referenced while a request is being "processed"
 * (WdfObjectReferenceWithTag, tag 'Proc') and drops it, with the same
 * tag, when processing is cancelled. Removing the device deletes the
 * WDFDEVICE; nothing else holds it, so it is destroyed with its
 * DEVICE_OBJECT, and the image unloads.
 */
#include <initguid.h>
#include <wdf.h>

#define LEAK_IOCTL_START CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define LEAK_IOCTL_CANCEL CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define LEAK_TAG ((PVOID)(ULONG_PTR)'corP')

DEFINE_GUID(GUID_KMDF_TAG_LEAK, 0x5c2b9a14, 0x3e61, 0x4f0a, 0x9b, 0x21, 0x7d, 0x4e, 0x11, 0x80, 0x2c, 0x51);

typedef struct _LEAK_CONTEXT {
    BOOLEAN Processing;
} LEAK_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(LEAK_CONTEXT, LeakGetContext)

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_DEVICE_ADD LeakEvtDeviceAdd;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL LeakEvtIoDeviceControl;

static VOID LeakStartProcessing(WDFDEVICE Device)
{
    LEAK_CONTEXT *context = LeakGetContext(Device);
    if (context->Processing)
        return;
    WdfObjectReferenceWithTag(Device, LEAK_TAG); /* the device must outlive the processing */
    context->Processing = TRUE;
}

static VOID LeakCancelProcessing(WDFDEVICE Device)
{
    LEAK_CONTEXT *context = LeakGetContext(Device);
    if (!context->Processing)
        return;
    context->Processing = FALSE;
    WdfObjectDereferenceWithTag(Device, LEAK_TAG); /* the reference LeakStartProcessing took */
}

VOID LeakEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength, size_t InputBufferLength,
                            ULONG IoControlCode)
{
    (void)OutputBufferLength, (void)InputBufferLength;
    WDFDEVICE device = WdfIoQueueGetDevice(Queue);
    if (IoControlCode == LEAK_IOCTL_START)
        LeakStartProcessing(device);
    else if (IoControlCode == LEAK_IOCTL_CANCEL)
        LeakCancelProcessing(device);
    WdfRequestComplete(Request, STATUS_SUCCESS);
}

NTSTATUS LeakEvtDeviceAdd(WDFDRIVER Driver, PWDFDEVICE_INIT DeviceInit)
{
    (void)Driver;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFDEVICE device;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, LEAK_CONTEXT);
    NTSTATUS status = WdfDeviceCreate(&DeviceInit, &attributes, &device);
    if (!NT_SUCCESS(status))
        return status;
    WDF_IO_QUEUE_CONFIG queue;
    WDF_IO_QUEUE_CONFIG_INIT_DEFAULT_QUEUE(&queue, WdfIoQueueDispatchSequential);
    queue.EvtIoDeviceControl = LeakEvtIoDeviceControl;
    status = WdfIoQueueCreate(device, &queue, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (NT_SUCCESS(status))
        status = WdfDeviceCreateDeviceInterface(device, &GUID_KMDF_TAG_LEAK, NULL);
    return status;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDF_DRIVER_CONFIG_INIT(&config, LeakEvtDeviceAdd);
    return WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, WDF_NO_HANDLE);
}
