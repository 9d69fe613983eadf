/*
 * wdf_io.c - KMDF I/O: queues, requests and I/O targets.
 *
 * A request wraps an IRP its device received; the default queue presents
 * it to the driver's callback on the thread that sent it (the IRP is
 * marked pending first, so the callback may complete it at once or keep
 * it). WdfRequestComplete completes the IRP and deletes the request. An
 * I/O target is either a device's local target (the next lower device) or
 * a remote one opened by name, which holds a file object on the target
 * device until it is closed or deleted - and so keeps that device from
 * being removed unless the framework closes it on the device's
 * query-remove (doc/kmdf.md, "Controlling a General I/O Target's State").
 */
#include <stdlib.h>
#include <string.h>

#include "wdf_internal.h"
#include "wdmguid.h"

typedef struct _WDFP_QUEUE {
    WDF_IO_QUEUE_CONFIG Config;
} WDFP_QUEUE;

typedef struct _WDFP_REQUEST {
    PIRP Irp;
    BOOLEAN Completed;
} WDFP_REQUEST;

typedef struct _WDFP_IOTARGET {
    PDEVICE_OBJECT TargetDevice;  /* the device IRPs go to */
    PFILE_OBJECT FileObject;      /* remote targets: referenced while open */
    BOOLEAN Local;
    PFN_WDF_OBJECT_CONTEXT_CLEANUP DriverCleanup; /* the driver's EvtCleanupCallback, run first */
    /* remote targets on a PnP device: the framework's target-device registration and the driver's callbacks */
    PVOID Notification;
    UNICODE_STRING Name;          /* the name opened (owned), to reopen after a cancelled removal */
    ACCESS_MASK Access;
    BOOLEAN ClosedForQueryRemove;
    PFN_WDF_IO_TARGET_QUERY_REMOVE QueryRemove;
    PFN_WDF_IO_TARGET_REMOVE_CANCELED RemoveCanceled;
    PFN_WDF_IO_TARGET_REMOVE_COMPLETE RemoveComplete;
} WDFP_IOTARGET;

/* ---- queues ---------------------------------------------------------------------- */

NTSTATUS WdfIoQueueCreate(WDFDEVICE Device, PWDF_IO_QUEUE_CONFIG Config, PWDF_OBJECT_ATTRIBUTES QueueAttributes,
                          WDFQUEUE *Queue)
{
    PWDFP_OBJECT device = WdfpObjectFromHandle(Device, WdfpKindDevice);
    if (Queue)
        *Queue = NULL;
    if (!Config || Config->DispatchType == WdfIoQueueDispatchInvalid || Config->DispatchType >= WdfIoQueueDispatchMax)
        return STATUS_INVALID_PARAMETER;
    if (Config->DefaultQueue && WdfDeviceGetDefaultQueue(Device))
        return STATUS_INVALID_DEVICE_STATE; /* one default queue per device */
    PWDFP_OBJECT queue = WdfpCreateObject(WdfpKindQueue, sizeof(WDFP_QUEUE), device, QueueAttributes, TRUE);
    if (!queue)
        return STATUS_INSUFFICIENT_RESOURCES;
    WdfpBody(queue, WDFP_QUEUE)->Config = *Config;
    if (Config->DefaultQueue) {
        queue->FrameworkOwned = TRUE;
        WdfpSetDefaultQueue(device, queue);
    }
    FxObjectCreated(queue);
    if (Queue)
        *Queue = (WDFQUEUE)queue;
    return STATUS_SUCCESS;
}

WDFDEVICE WdfIoQueueGetDevice(WDFQUEUE Queue)
{
    return (WDFDEVICE)WdfpDeviceOf(WdfpObjectFromHandle(Queue, WdfpKindQueue));
}

/* Calls the queue's callback for the request's major function; FALSE when it has none. */
static BOOLEAN WdfpCallQueue(PWDFP_OBJECT Queue, WDFREQUEST Request, PIO_STACK_LOCATION Stack)
{
    WDF_IO_QUEUE_CONFIG *c = &WdfpBody(Queue, WDFP_QUEUE)->Config;
    WDFQUEUE q = (WDFQUEUE)Queue;
    switch (Stack->MajorFunction) {
    case IRP_MJ_READ:
        if (!c->EvtIoRead)
            break;
        c->EvtIoRead(q, Request, Stack->Parameters.Read.Length);
        return TRUE;
    case IRP_MJ_WRITE:
        if (!c->EvtIoWrite)
            break;
        c->EvtIoWrite(q, Request, Stack->Parameters.Write.Length);
        return TRUE;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL: {
        PFN_WDF_IO_QUEUE_IO_DEVICE_CONTROL f = Stack->MajorFunction == IRP_MJ_DEVICE_CONTROL
                                                   ? c->EvtIoDeviceControl : c->EvtIoInternalDeviceControl;
        if (!f)
            break;
        f(q, Request, Stack->Parameters.DeviceIoControl.OutputBufferLength,
          Stack->Parameters.DeviceIoControl.InputBufferLength, Stack->Parameters.DeviceIoControl.IoControlCode);
        return TRUE;
    }
    default:
        return FALSE;
    }
    if (!c->EvtIoDefault)
        return FALSE;
    c->EvtIoDefault(q, Request);
    return TRUE;
}

/* Does the queue have a callback for this major function at all? */
static BOOLEAN WdfpQueueTakes(PWDFP_OBJECT Queue, UCHAR Major)
{
    WDF_IO_QUEUE_CONFIG *c = &WdfpBody(Queue, WDFP_QUEUE)->Config;
    switch (Major) {
    case IRP_MJ_READ: return c->EvtIoRead || c->EvtIoDefault;
    case IRP_MJ_WRITE: return c->EvtIoWrite || c->EvtIoDefault;
    case IRP_MJ_DEVICE_CONTROL: return c->EvtIoDeviceControl || c->EvtIoDefault;
    case IRP_MJ_INTERNAL_DEVICE_CONTROL: return c->EvtIoInternalDeviceControl || c->EvtIoDefault;
    default: return FALSE;
    }
}

BOOLEAN WdfpPresentToQueue(PWDFP_OBJECT Device, PIRP Irp)
{
    PWDFP_OBJECT queue = (PWDFP_OBJECT)WdfDeviceGetDefaultQueue((WDFDEVICE)Device);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    if (!queue || !WdfpQueueTakes(queue, stack->MajorFunction))
        return FALSE;
    PWDFP_OBJECT request = WdfpCreateObject(WdfpKindRequest, sizeof(WDFP_REQUEST), queue, NULL, FALSE);
    if (!request) {
        Irp->IoStatus.Status = STATUS_INSUFFICIENT_RESOURCES;
        IoCompleteRequest(Irp, IO_NO_INCREMENT);
        return TRUE;
    }
    request->FrameworkOwned = TRUE;
    WdfpBody(request, WDFP_REQUEST)->Irp = Irp;
    request->Wdm = Irp;
    FxObjectCreated(request);
    IoMarkIrpPending(Irp);
    WdfpCallQueue(queue, (WDFREQUEST)request, stack);
    return TRUE;
}

/* ---- requests ------------------------------------------------------------------- */

static WDFP_REQUEST *WdfpRequest(WDFREQUEST Request)
{
    WDFP_REQUEST *r = WdfpBody(WdfpObjectFromHandle(Request, WdfpKindRequest), WDFP_REQUEST);
    if (r->Completed)
        KeBugCheckEx(WDF_VIOLATION, 0x4, (ULONG_PTR)Request, 0, 0); /* a request used after completion */
    return r;
}

/* The IRP leaves the driver (completed or sent on): the request object goes. */
static VOID WdfpRequestDone(WDFREQUEST Request)
{
    PWDFP_OBJECT o = (PWDFP_OBJECT)Request;
    WdfpBody(o, WDFP_REQUEST)->Completed = TRUE;
    WdfpDeleteObject(o, FX_DELETE_BY_FRAMEWORK);
}

NTSTATUS WdfRequestForwardToIoQueue(WDFREQUEST Request, WDFQUEUE DestinationQueue)
{
    WDFP_REQUEST *r = WdfpRequest(Request);
    PWDFP_OBJECT destination = WdfpObjectFromHandle(DestinationQueue, WdfpKindQueue);
    PWDFP_OBJECT source = (PWDFP_OBJECT)WdfObjectGetParentObject((WDFOBJECT)Request);
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(r->Irp);
    if (destination == source || WdfpDeviceOf(destination) != WdfpDeviceOf(source) ||
        !WdfpQueueTakes(destination, stack->MajorFunction))
        return STATUS_INVALID_DEVICE_REQUEST;
    WdfpCallQueue(destination, Request, stack);
    return STATUS_SUCCESS;
}

VOID WdfRequestCompleteWithInformation(WDFREQUEST Request, NTSTATUS Status, ULONG_PTR Information)
{
    PIRP irp = WdfpRequest(Request)->Irp;
    irp->IoStatus.Status = Status;
    irp->IoStatus.Information = Information;
    WdfpRequestDone(Request);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

VOID WdfRequestComplete(WDFREQUEST Request, NTSTATUS Status)
{
    WdfRequestCompleteWithInformation(Request, Status, WdfpRequest(Request)->Irp->IoStatus.Information);
}

VOID WdfRequestSetInformation(WDFREQUEST Request, ULONG_PTR Information)
{
    WdfpRequest(Request)->Irp->IoStatus.Information = Information;
}

NTSTATUS WdfRequestGetStatus(WDFREQUEST Request)
{
    return WdfpRequest(Request)->Irp->IoStatus.Status;
}

PIRP WdfRequestWdmGetIrp(WDFREQUEST Request)
{
    return WdfpRequest(Request)->Irp;
}

VOID WdfRequestGetParameters(WDFREQUEST Request, PWDF_REQUEST_PARAMETERS Parameters)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(WdfpRequest(Request)->Irp);
    WDF_REQUEST_PARAMETERS_INIT(Parameters);
    Parameters->MinorFunction = stack->MinorFunction;
    switch (stack->MajorFunction) {
    case IRP_MJ_READ:
        Parameters->Type = WdfRequestTypeRead;
        Parameters->Parameters.Read.Length = stack->Parameters.Read.Length;
        Parameters->Parameters.Read.DeviceOffset = stack->Parameters.Read.ByteOffset.QuadPart;
        break;
    case IRP_MJ_WRITE:
        Parameters->Type = WdfRequestTypeWrite;
        Parameters->Parameters.Write.Length = stack->Parameters.Write.Length;
        Parameters->Parameters.Write.DeviceOffset = stack->Parameters.Write.ByteOffset.QuadPart;
        break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        Parameters->Type = stack->MajorFunction == IRP_MJ_DEVICE_CONTROL ? WdfRequestTypeDeviceControl
                                                                         : WdfRequestTypeDeviceControlInternal;
        Parameters->Parameters.DeviceIoControl.OutputBufferLength = stack->Parameters.DeviceIoControl.OutputBufferLength;
        Parameters->Parameters.DeviceIoControl.InputBufferLength = stack->Parameters.DeviceIoControl.InputBufferLength;
        Parameters->Parameters.DeviceIoControl.IoControlCode = stack->Parameters.DeviceIoControl.IoControlCode;
        Parameters->Parameters.DeviceIoControl.Type3InputBuffer = stack->Parameters.DeviceIoControl.Type3InputBuffer;
        break;
    default:
        Parameters->Type = WdfRequestTypeOther;
        break;
    }
}

/* A buffered request's buffer and the length that applies to it (input or output). */
static NTSTATUS WdfpRetrieveBuffer(WDFREQUEST Request, BOOLEAN Output, size_t Minimum, PVOID *Buffer, size_t *Length)
{
    PIRP irp = WdfpRequest(Request)->Irp;
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    size_t length;
    switch (stack->MajorFunction) {
    case IRP_MJ_READ: length = Output ? stack->Parameters.Read.Length : 0; break;
    case IRP_MJ_WRITE: length = Output ? 0 : stack->Parameters.Write.Length; break;
    case IRP_MJ_DEVICE_CONTROL:
    case IRP_MJ_INTERNAL_DEVICE_CONTROL:
        length = Output ? stack->Parameters.DeviceIoControl.OutputBufferLength
                        : stack->Parameters.DeviceIoControl.InputBufferLength;
        break;
    default: length = 0; break;
    }
    if (Buffer)
        *Buffer = NULL;
    if (Length)
        *Length = 0;
    if (length == 0 || !irp->AssociatedIrp.SystemBuffer)
        return STATUS_BUFFER_TOO_SMALL;
    if (length < Minimum)
        return STATUS_BUFFER_TOO_SMALL;
    if (Buffer)
        *Buffer = irp->AssociatedIrp.SystemBuffer;
    if (Length)
        *Length = length;
    return STATUS_SUCCESS;
}

NTSTATUS WdfRequestRetrieveInputBuffer(WDFREQUEST Request, size_t MinimumRequiredLength, PVOID *Buffer,
                                       size_t *Length)
{
    return WdfpRetrieveBuffer(Request, FALSE, MinimumRequiredLength, Buffer, Length);
}

NTSTATUS WdfRequestRetrieveOutputBuffer(WDFREQUEST Request, size_t MinimumRequiredLength, PVOID *Buffer,
                                        size_t *Length)
{
    return WdfpRetrieveBuffer(Request, TRUE, MinimumRequiredLength, Buffer, Length);
}

VOID WdfRequestFormatRequestUsingCurrentType(WDFREQUEST Request)
{
    IoCopyCurrentIrpStackLocationToNext(WdfpRequest(Request)->Irp);
}

BOOLEAN WdfRequestSend(WDFREQUEST Request, WDFIOTARGET Target, PWDF_REQUEST_SEND_OPTIONS Options)
{
    WDFP_REQUEST *r = WdfpRequest(Request);
    WDFP_IOTARGET *t = WdfpBody(WdfpObjectFromHandle(Target, WdfpKindIoTarget), WDFP_IOTARGET);
    if (!Options || !(Options->Flags & WDF_REQUEST_SEND_OPTION_SEND_AND_FORGET) || !t->TargetDevice)
        return FALSE;
    PIRP irp = r->Irp;
    WdfpRequestDone(Request);
    IoSkipCurrentIrpStackLocation(irp); /* send-and-forget: the current location goes down as it is */
    IoCallDriver(t->TargetDevice, irp);
    return TRUE;
}

/* ---- I/O targets ---------------------------------------------------------------- */

VOID FxCloseIoTarget(PVOID IoTarget, ULONG Why)
{
    (void)Why; /* for the tracer */
    PWDFP_OBJECT o = IoTarget;
    WDFP_IOTARGET *target = WdfpBody(o, WDFP_IOTARGET);
    if (target->Local || !target->FileObject)
        return;
    PFILE_OBJECT file = target->FileObject;
    target->FileObject = NULL;
    target->TargetDevice = NULL;
    o->Wdm = NULL;
    ObDereferenceObject(file);
}

/* Whether the target holds a file object (FxCloseIoTarget has something to close). */
static BOOLEAN WdfpTargetOpen(PWDFP_OBJECT Object)
{
    return WdfpBody(Object, WDFP_IOTARGET)->FileObject != NULL;
}

static VOID WdfpUnwatchTarget(PWDFP_OBJECT Object);

/* Reopens a target the framework closed for a query-remove that was then cancelled. */
static VOID WdfpReopenTarget(PWDFP_OBJECT Object)
{
    WDFP_IOTARGET *t = WdfpBody(Object, WDFP_IOTARGET);
    if (t->FileObject || !t->Name.Buffer)
        return;
    if (NT_SUCCESS(IoGetDeviceObjectPointer(&t->Name, t->Access, &t->FileObject, &t->TargetDevice)))
        Object->Wdm = t->FileObject;
}

/* The framework's target-device callback of an open remote target (Context: the target). */
static NTSTATUS WdfpTargetNotify(PVOID NotificationStructure, PVOID Context)
{
    PTARGET_DEVICE_REMOVAL_NOTIFICATION note = NotificationStructure;
    PWDFP_OBJECT o = Context;
    WDFP_IOTARGET *t = WdfpBody(o, WDFP_IOTARGET);
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_QUERY_REMOVE)) {
        if (t->QueryRemove)
            return t->QueryRemove((WDFIOTARGET)o);
        WdfIoTargetCloseForQueryRemove((WDFIOTARGET)o);
    } else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_CANCELLED)) {
        if (t->RemoveCanceled)
            t->RemoveCanceled((WDFIOTARGET)o);
        else if (t->ClosedForQueryRemove)
            WdfpReopenTarget(o);
        t->ClosedForQueryRemove = FALSE;
    } else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE)) {
        if (t->RemoveComplete) {
            t->RemoveComplete((WDFIOTARGET)o);
        } else {
            if (WdfpTargetOpen(o))
                FxCloseIoTarget(o, FX_CLOSE_REMOVE);
            WdfpUnwatchTarget(o);
        }
    }
    return STATUS_SUCCESS;
}

/*
 * Registers the framework for the target device's notifications, on behalf
 * of the target's driver. A device outside PnP (a legacy driver's) has
 * none: the registration fails and nothing is watched.
 */
static VOID WdfpWatchTarget(PWDFP_OBJECT Object)
{
    WDFP_IOTARGET *t = WdfpBody(Object, WDFP_IOTARGET);
    PWDFP_OBJECT device = WdfpDeviceOf(Object);
    PDEVICE_OBJECT wdm = device ? WdfDeviceWdmGetDeviceObject((WDFDEVICE)device) : NULL;
    if (t->Notification || !wdm)
        return;
    if (!NT_SUCCESS(IoRegisterPlugPlayNotification(EventCategoryTargetDeviceChange, 0, t->FileObject,
                                                   wdm->DriverObject, WdfpTargetNotify, Object, &t->Notification)))
        t->Notification = NULL;
}

/* Undoes WdfpWatchTarget (safe from inside the target's own callback). */
static VOID WdfpUnwatchTarget(PWDFP_OBJECT Object)
{
    WDFP_IOTARGET *t = WdfpBody(Object, WDFP_IOTARGET);
    PVOID entry = t->Notification;
    t->Notification = NULL;
    if (entry)
        IoUnregisterPlugPlayNotificationEx(entry);
}

static VOID WdfpReleaseTarget(PWDFP_OBJECT Object)
{
    if (WdfpTargetOpen(Object))
        FxCloseIoTarget(Object, FX_CLOSE_DELETED);
    WdfpUnwatchTarget(Object);
    RtlpFreeUnicode(&WdfpBody(Object, WDFP_IOTARGET)->Name);
}

/* Deleting a target closes it (its cleanup, before anything else can still send to it). */
static VOID WdfpTargetCleanup(WDFOBJECT Object)
{
    WDFP_IOTARGET *target = WdfpBody((PWDFP_OBJECT)Object, WDFP_IOTARGET);
    if (target->DriverCleanup)
        target->DriverCleanup(Object);
    if (WdfpTargetOpen((PWDFP_OBJECT)Object))
        FxCloseIoTarget(Object, FX_CLOSE_DELETED);
    WdfpUnwatchTarget((PWDFP_OBJECT)Object);
}

NTSTATUS WdfIoTargetCreate(WDFDEVICE Device, PWDF_OBJECT_ATTRIBUTES IoTargetAttributes, WDFIOTARGET *IoTarget)
{
    PWDFP_OBJECT device = WdfpObjectFromHandle(Device, WdfpKindDevice);
    if (IoTarget)
        *IoTarget = NULL;
    PWDFP_OBJECT target = WdfpCreateObject(WdfpKindIoTarget, sizeof(WDFP_IOTARGET), device, IoTargetAttributes, TRUE);
    if (!target)
        return STATUS_INSUFFICIENT_RESOURCES;
    WdfpBody(target, WDFP_IOTARGET)->DriverCleanup = target->Cleanup;
    target->Cleanup = WdfpTargetCleanup;
    target->Release = WdfpReleaseTarget;
    target->TraceFlags = NTSIM_WDF_REMOTE_TARGET;
    FxObjectCreated(target);
    if (IoTarget)
        *IoTarget = (WDFIOTARGET)target;
    return STATUS_SUCCESS;
}

NTSTATUS WdfIoTargetOpen(WDFIOTARGET IoTarget, PWDF_IO_TARGET_OPEN_PARAMS OpenParams)
{
    WDFP_IOTARGET *t = WdfpBody(WdfpObjectFromHandle(IoTarget, WdfpKindIoTarget), WDFP_IOTARGET);
    if (!OpenParams)
        return STATUS_INVALID_PARAMETER;
    if (OpenParams->Type != WdfIoTargetOpenByName)
        return STATUS_NOT_SUPPORTED;
    if (t->Local || t->FileObject)
        return STATUS_INVALID_DEVICE_STATE;
    NTSTATUS status = IoGetDeviceObjectPointer(&OpenParams->TargetDeviceName, OpenParams->DesiredAccess,
                                               &t->FileObject, &t->TargetDevice);
    if (!NT_SUCCESS(status))
        return status;
    ((PWDFP_OBJECT)IoTarget)->Wdm = t->FileObject;
    t->QueryRemove = OpenParams->EvtIoTargetQueryRemove;
    t->RemoveCanceled = OpenParams->EvtIoTargetRemoveCanceled;
    t->RemoveComplete = OpenParams->EvtIoTargetRemoveComplete;
    t->Access = OpenParams->DesiredAccess;
    t->ClosedForQueryRemove = FALSE;
    if (!t->Name.Buffer) {
        char *name = RtlpUnicodeToUtf8(&OpenParams->TargetDeviceName);
        if (name)
            RtlpUtf8ToUnicode(name, &t->Name);
        free(name);
    }
    WdfpWatchTarget((PWDFP_OBJECT)IoTarget);
    return STATUS_SUCCESS;
}

VOID WdfIoTargetCloseForQueryRemove(WDFIOTARGET IoTarget)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(IoTarget, WdfpKindIoTarget);
    WdfpBody(o, WDFP_IOTARGET)->ClosedForQueryRemove = TRUE;
    if (WdfpTargetOpen(o))
        FxCloseIoTarget(o, FX_CLOSE_QUERY_REMOVE);
}

VOID WdfIoTargetClose(WDFIOTARGET IoTarget)
{
    PWDFP_OBJECT o = WdfpObjectFromHandle(IoTarget, WdfpKindIoTarget);
    if (WdfpTargetOpen(o))
        FxCloseIoTarget(o, FX_CLOSE_BY_DRIVER);
    WdfpUnwatchTarget(o);
}

PDEVICE_OBJECT WdfIoTargetWdmGetTargetDeviceObject(WDFIOTARGET IoTarget)
{
    return WdfpBody(WdfpObjectFromHandle(IoTarget, WdfpKindIoTarget), WDFP_IOTARGET)->TargetDevice;
}

PFILE_OBJECT WdfIoTargetWdmGetTargetFileObject(WDFIOTARGET IoTarget)
{
    return WdfpBody(WdfpObjectFromHandle(IoTarget, WdfpKindIoTarget), WDFP_IOTARGET)->FileObject;
}

WDFIOTARGET WdfDeviceGetIoTarget(WDFDEVICE Device)
{
    PWDFP_OBJECT device = WdfpObjectFromHandle(Device, WdfpKindDevice);
    PDEVICE_OBJECT lower = WdfpLowerDevice(device);
    PWDFP_OBJECT *slot = WdfpLocalTargetSlot(device);
    if (!lower)
        return NULL;
    if (!*slot) {
        PWDFP_OBJECT target = WdfpCreateObject(WdfpKindIoTarget, sizeof(WDFP_IOTARGET), device, NULL, FALSE);
        if (!target)
            return NULL;
        target->FrameworkOwned = TRUE;
        WdfpBody(target, WDFP_IOTARGET)->Local = TRUE;
        WdfpBody(target, WDFP_IOTARGET)->TargetDevice = lower;
        FxObjectCreated(target);
        *slot = target;
    }
    return (WDFIOTARGET)*slot;
}
