/*
 * kmdf_wrong_tag.c - a non-PnP KMDF driver whose IOCTL keeps its session
 * object (a WDFOBJECT child of the control device) referenced while it
 * works on it, with WdfObjectReferenceWithTag. The bug: the dereference
 * passes a different tag. KMDF counts it against the untagged references,
 * so the counts still balance and the driver unloads - but with the KMDF
 * verifier on, the system breaks at that dereference.
 */
#include <wdf.h>
#include <wdmsec.h>

#define TAG_IOCTL_WORK CTL_CODE(FILE_DEVICE_UNKNOWN, 0xD00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define SESSION_TAG ((PVOID)(ULONG_PTR)'sseS')
#define SESSION_TAG_TYPO ((PVOID)(ULONG_PTR)'nseS')

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_UNLOAD TagEvtDriverUnload;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL TagEvtIoDeviceControl;

static WDFDEVICE TagControlDevice;
static WDFOBJECT TagSession;

VOID TagEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength, size_t InputBufferLength,
                           ULONG IoControlCode)
{
    (void)Queue, (void)OutputBufferLength, (void)InputBufferLength;
    if (IoControlCode != TAG_IOCTL_WORK) {
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
        return;
    }
    WdfObjectReferenceWithTag(TagSession, SESSION_TAG); /* the session must outlive the work */
    WdfObjectDereferenceWithTag(TagSession, SESSION_TAG_TYPO); /* BUG: not the tag it was referenced with */
    WdfRequestComplete(Request, STATUS_SUCCESS);
}

VOID TagEvtDriverUnload(WDFDRIVER Driver)
{
    (void)Driver;
    if (TagControlDevice)
        WdfObjectDelete(TagControlDevice); /* the session, its child, goes with it */
    TagControlDevice = NULL;
}

static NTSTATUS TagCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\Device\\KmdfWrongTag");
    DECLARE_CONST_UNICODE_STRING(link, L"\\DosDevices\\KmdfWrongTag");
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
    queue.EvtIoDeviceControl = TagEvtIoDeviceControl;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = device;
    status = WdfDeviceCreateSymbolicLink(device, &link);
    if (NT_SUCCESS(status))
        status = WdfIoQueueCreate(device, &queue, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    if (NT_SUCCESS(status))
        status = WdfObjectCreate(&attributes, &TagSession);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(device);
        return status;
    }
    WdfControlFinishInitializing(device);
    TagControlDevice = device;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDFDRIVER driver;
    WDF_DRIVER_CONFIG_INIT(&config, WDF_NO_EVENT_CALLBACK);
    config.DriverInitFlags |= WdfDriverInitNonPnpDriver;
    config.EvtDriverUnload = TagEvtDriverUnload;
    NTSTATUS status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, &driver);
    if (!NT_SUCCESS(status))
        return status;
    return TagCreateControlDevice(driver);
}
