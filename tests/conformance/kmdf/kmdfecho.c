/*
 * kmdfecho.c - a non-PnP KMDF driver written from the KMDF documentation:
 * DriverEntry creates the WDFDRIVER (WdfDriverInitNonPnpDriver) and a
 * control device (WdfControlDeviceInitAllocate, WdfDeviceInitAssignName,
 * a symbolic link, a default queue, WdfControlFinishInitializing); its
 * EvtDriverUnload deletes the control device, so the service stops and
 * the image unloads.
 *
 * IOCTL 0xA00 echoes its input into its output buffer. IOCTL 0xA02 is
 * forwarded (WdfRequestForwardToIoQueue) to a second, parallel queue,
 * which answers a ULONG: how many requests it got. IOCTL 0xA01 runs
 * the object-model checks and returns a ULONG with one bit per check that
 * held (see CHECK_*): the documented order of cleanup and destroy, children
 * deleted before their parent, a reference keeping a deleted object,
 * tagged references, typed contexts, WDFMEMORY and a work item.
 */
#include <wdf.h>
#include <wdmsec.h>

#define ECHO_IOCTL_ECHO CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA00, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define ECHO_IOCTL_CHECKS CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA01, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define ECHO_IOCTL_FORWARD CTL_CODE(FILE_DEVICE_UNKNOWN, 0xA02, METHOD_BUFFERED, FILE_ANY_ACCESS)

#define CHECK_ORDER 0x01         /* child cleanup, parent cleanup, child destroy, parent destroy */
#define CHECK_REFERENCE 0x02     /* a referenced object is cleaned up on delete, destroyed on the last dereference */
#define CHECK_TAGS 0x04          /* WithTag references taken and dropped in any order */
#define CHECK_CONTEXT 0x08       /* the typed context is there, zeroed, and only for its type */
#define CHECK_MEMORY 0x10        /* WdfMemoryCreate's buffer and size */
#define CHECK_WORKITEM 0x20      /* a work item ran once for two enqueues, flushed */

typedef struct _ECHO_CONTEXT {
    ULONG Value;
    ULONG Events[8];
    ULONG EventCount;
} ECHO_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE_WITH_NAME(ECHO_CONTEXT, EchoGetContext)

typedef struct _OTHER_CONTEXT {
    ULONG Unused;
} OTHER_CONTEXT;
WDF_DECLARE_CONTEXT_TYPE(OTHER_CONTEXT)

DRIVER_INITIALIZE DriverEntry;
EVT_WDF_DRIVER_UNLOAD EchoEvtDriverUnload;
EVT_WDF_IO_QUEUE_IO_DEVICE_CONTROL EchoEvtIoDeviceControl, EchoEvtSideIoDeviceControl;
EVT_WDF_OBJECT_CONTEXT_CLEANUP EchoEvtChildCleanup, EchoEvtParentCleanup;
EVT_WDF_OBJECT_CONTEXT_DESTROY EchoEvtChildDestroy, EchoEvtParentDestroy;
EVT_WDF_WORKITEM EchoEvtWorkItem;

static WDFDEVICE EchoControlDevice;
static WDFQUEUE EchoSideQueue; /* takes the requests the default queue forwards */
static ULONG EchoSideRequests;
static ECHO_CONTEXT *EchoLog; /* where the callbacks of the order check write */
static LONG EchoWorkItemRuns;

static VOID EchoNote(ULONG Event)
{
    if (EchoLog && EchoLog->EventCount < RTL_NUMBER_OF(EchoLog->Events))
        EchoLog->Events[EchoLog->EventCount++] = Event;
}

VOID EchoEvtChildCleanup(WDFOBJECT Object)
{
    (void)Object;
    EchoNote(1);
}

VOID EchoEvtParentCleanup(WDFOBJECT Object)
{
    (void)Object;
    EchoNote(2);
}

VOID EchoEvtChildDestroy(WDFOBJECT Object)
{
    (void)Object;
    EchoNote(3);
}

VOID EchoEvtParentDestroy(WDFOBJECT Object)
{
    (void)Object;
    EchoNote(4);
}

/* A parent with one child, both with callbacks; a reference on the parent kept across the delete if asked. */
static BOOLEAN EchoDeleteTree(ECHO_CONTEXT *Log, BOOLEAN HoldParent, ULONG *Expected, ULONG ExpectedCount)
{
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFOBJECT parent, child;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.EvtCleanupCallback = EchoEvtParentCleanup;
    attributes.EvtDestroyCallback = EchoEvtParentDestroy;
    if (!NT_SUCCESS(WdfObjectCreate(&attributes, &parent)))
        return FALSE;
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = parent;
    attributes.EvtCleanupCallback = EchoEvtChildCleanup;
    attributes.EvtDestroyCallback = EchoEvtChildDestroy;
    if (!NT_SUCCESS(WdfObjectCreate(&attributes, &child)))
        return FALSE;
    Log->EventCount = 0;
    EchoLog = Log;
    if (HoldParent)
        WdfObjectReference(parent);
    WdfObjectDelete(parent);
    BOOLEAN heldAlive = !HoldParent || Log->EventCount == 3; /* child cleanup, parent cleanup, child destroy */
    if (HoldParent)
        WdfObjectDereference(parent);
    EchoLog = NULL;
    if (!heldAlive || Log->EventCount != ExpectedCount)
        return FALSE;
    for (ULONG i = 0; i < ExpectedCount; i++)
        if (Log->Events[i] != Expected[i])
            return FALSE;
    return TRUE;
}

static BOOLEAN EchoCheckTags(void)
{
    WDFOBJECT object;
    if (!NT_SUCCESS(WdfObjectCreate(WDF_NO_OBJECT_ATTRIBUTES, &object)))
        return FALSE;
    WdfObjectReferenceWithTag(object, (PVOID)EchoCheckTags);
    WdfObjectReferenceWithTag(object, (PVOID)'gaTE');
    WdfObjectDereferenceWithTag(object, (PVOID)EchoCheckTags);
    WdfObjectDereferenceWithTag(object, (PVOID)'gaTE');
    WdfObjectDelete(object);
    return TRUE;
}

static BOOLEAN EchoCheckContext(void)
{
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFOBJECT object;
    WDF_OBJECT_ATTRIBUTES_INIT_CONTEXT_TYPE(&attributes, ECHO_CONTEXT);
    if (!NT_SUCCESS(WdfObjectCreate(&attributes, &object)))
        return FALSE;
    ECHO_CONTEXT *context = EchoGetContext(object);
    BOOLEAN ok = context && context->Value == 0 && context->EventCount == 0 &&
                 WdfObjectGetTypedContext(object, ECHO_CONTEXT) == context &&
                 WdfObjectGetTypedContext(object, OTHER_CONTEXT) == NULL;
    WdfObjectDelete(object);
    return ok;
}

static BOOLEAN EchoCheckMemory(void)
{
    WDFMEMORY memory;
    PVOID buffer;
    size_t size = 0;
    if (!NT_SUCCESS(WdfMemoryCreate(WDF_NO_OBJECT_ATTRIBUTES, NonPagedPool, 'ohcE', 48, &memory, &buffer)))
        return FALSE;
    BOOLEAN ok = buffer && WdfMemoryGetBuffer(memory, &size) == buffer && size == 48;
    RtlFillMemory(buffer, 48, 0x5a);
    WdfObjectDelete(memory);
    return ok;
}

VOID EchoEvtWorkItem(WDFWORKITEM WorkItem)
{
    if (WdfWorkItemGetParentObject(WorkItem) == (WDFOBJECT)EchoControlDevice)
        InterlockedIncrement(&EchoWorkItemRuns);
}

static BOOLEAN EchoCheckWorkItem(void)
{
    WDF_WORKITEM_CONFIG config;
    WDF_OBJECT_ATTRIBUTES attributes;
    WDFWORKITEM item;
    WDF_WORKITEM_CONFIG_INIT(&config, EchoEvtWorkItem);
    WDF_OBJECT_ATTRIBUTES_INIT(&attributes);
    attributes.ParentObject = EchoControlDevice;
    if (!NT_SUCCESS(WdfWorkItemCreate(&config, &attributes, &item)))
        return FALSE;
    EchoWorkItemRuns = 0;
    WdfWorkItemEnqueue(item);
    WdfWorkItemFlush(item);
    WdfWorkItemEnqueue(item);
    WdfWorkItemFlush(item);
    WdfObjectDelete(item);
    return EchoWorkItemRuns == 2;
}

static ULONG EchoRunChecks(void)
{
    ECHO_CONTEXT log = { 0 };
    ULONG order[] = { 1, 2, 3, 4 };
    ULONG checks = 0;
    if (EchoDeleteTree(&log, FALSE, order, 4))
        checks |= CHECK_ORDER;
    if (EchoDeleteTree(&log, TRUE, order, 4))
        checks |= CHECK_REFERENCE;
    if (EchoCheckTags())
        checks |= CHECK_TAGS;
    if (EchoCheckContext())
        checks |= CHECK_CONTEXT;
    if (EchoCheckMemory())
        checks |= CHECK_MEMORY;
    if (EchoCheckWorkItem())
        checks |= CHECK_WORKITEM;
    return checks;
}

VOID EchoEvtSideIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength,
                                size_t InputBufferLength, ULONG IoControlCode)
{
    (void)Queue, (void)OutputBufferLength, (void)InputBufferLength, (void)IoControlCode;
    PVOID out;
    if (!NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &out, NULL))) {
        WdfRequestComplete(Request, STATUS_BUFFER_TOO_SMALL);
        return;
    }
    *(PULONG)out = ++EchoSideRequests;
    WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
}

VOID EchoEvtIoDeviceControl(WDFQUEUE Queue, WDFREQUEST Request, size_t OutputBufferLength, size_t InputBufferLength,
                            ULONG IoControlCode)
{
    (void)Queue;
    PVOID in, out;
    size_t inLength, outLength;
    switch (IoControlCode) {
    case ECHO_IOCTL_ECHO:
        if (!NT_SUCCESS(WdfRequestRetrieveInputBuffer(Request, 1, &in, &inLength)) ||
            !NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, inLength, &out, &outLength))) {
            WdfRequestComplete(Request, STATUS_BUFFER_TOO_SMALL);
            return;
        }
        RtlMoveMemory(out, in, inLength);
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, inLength);
        return;
    case ECHO_IOCTL_CHECKS:
        if (OutputBufferLength < sizeof(ULONG) || InputBufferLength != 0 ||
            !NT_SUCCESS(WdfRequestRetrieveOutputBuffer(Request, sizeof(ULONG), &out, NULL))) {
            WdfRequestComplete(Request, STATUS_INVALID_PARAMETER);
            return;
        }
        *(PULONG)out = EchoRunChecks();
        WdfRequestCompleteWithInformation(Request, STATUS_SUCCESS, sizeof(ULONG));
        return;
    case ECHO_IOCTL_FORWARD: {
        NTSTATUS status = WdfRequestForwardToIoQueue(Request, EchoSideQueue);
        if (!NT_SUCCESS(status))
            WdfRequestComplete(Request, status);
        return;
    }
    default:
        WdfRequestComplete(Request, STATUS_INVALID_DEVICE_REQUEST);
    }
}

VOID EchoEvtDriverUnload(WDFDRIVER Driver)
{
    (void)Driver;
    if (EchoControlDevice)
        WdfObjectDelete(EchoControlDevice);
    EchoControlDevice = NULL;
}

static NTSTATUS EchoCreateControlDevice(WDFDRIVER Driver)
{
    DECLARE_CONST_UNICODE_STRING(name, L"\\Device\\KmdfEcho");
    DECLARE_CONST_UNICODE_STRING(link, L"\\DosDevices\\KmdfEcho");
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
    queue.EvtIoDeviceControl = EchoEvtIoDeviceControl;
    status = WdfDeviceCreateSymbolicLink(device, &link);
    if (NT_SUCCESS(status))
        status = WdfIoQueueCreate(device, &queue, WDF_NO_OBJECT_ATTRIBUTES, WDF_NO_HANDLE);
    WDF_IO_QUEUE_CONFIG side;
    WDF_IO_QUEUE_CONFIG_INIT(&side, WdfIoQueueDispatchParallel);
    side.EvtIoDeviceControl = EchoEvtSideIoDeviceControl;
    if (NT_SUCCESS(status))
        status = WdfIoQueueCreate(device, &side, WDF_NO_OBJECT_ATTRIBUTES, &EchoSideQueue);
    if (!NT_SUCCESS(status)) {
        WdfObjectDelete(device);
        return status;
    }
    WdfControlFinishInitializing(device);
    EchoControlDevice = device;
    return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    WDF_DRIVER_CONFIG config;
    WDFDRIVER driver;
    WDF_DRIVER_CONFIG_INIT(&config, WDF_NO_EVENT_CALLBACK);
    config.DriverInitFlags |= WdfDriverInitNonPnpDriver;
    config.EvtDriverUnload = EchoEvtDriverUnload;
    NTSTATUS status = WdfDriverCreate(DriverObject, RegistryPath, WDF_NO_OBJECT_ATTRIBUTES, &config, &driver);
    if (!NT_SUCCESS(status))
        return status;
    return EchoCreateControlDevice(driver);
}
