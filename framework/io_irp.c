/*
 * io_irp.c - I/O request packets: allocation with real stack locations,
 * IofCallDriver into the dispatch routine of the next location (checking
 * that the device is alive and its code mapped), IofCompleteRequest running
 * completion routines bottom-up with SL_INVOKE_ON_* and
 * STATUS_MORE_PROCESSING_REQUIRED and propagating PendingReturned, the I/O
 * manager's final step for IRPs it built (copy-out, UserIosb, UserEvent,
 * file object released, IRP freed), cancellation, IoBuildDeviceIoControlRequest
 * and IoBuildSynchronousFsdRequest, IRPs in caller memory (IoInitializeIrp),
 * unload-safe completion routines (IoSetCompletionRoutineEx) and the
 * synchronous call helper the I/O and PnP managers use.
 * Every live IRP is in a table, so completing or freeing one twice is
 * diagnosed rather than a use after free.
 */
#include <string.h>

#include "ntsim_internal.h"

#define IOP_IRP_MAGIC 0x49727048u /* "IrpH" */

static pthread_mutex_t IopIrpLock = PTHREAD_MUTEX_INITIALIZER;
static RTL_PTR_MAP IopLiveIrps = RTL_PTR_MAP_INIT;
static KSPIN_LOCK IopCancelSpinLock;

/*
 * IRPs the I/O manager finished are kept (marked Retired) for a while before
 * their memory is released, as the completion APC would keep them on NT: a
 * driver that touches or completes an IRP again right after completing it
 * meets a bug check instead of freed memory.
 */
#define IOP_RETIRED_IRPS 64
static PIRP IopRetiredIrps[IOP_RETIRED_IRPS];
static ULONG IopRetiredNext;

/* The header in front of an IRP IoAllocateIrp allocated (not for IoInitializeIrp's: see IopLiveIrpHeader). */
static IOP_IRP_HEADER *IopIrpHeader(PIRP Irp)
{
    return (IOP_IRP_HEADER *)Irp - 1;
}

/* The header of any known IRP, retired or not, or NULL (IopIrpLock held). */
static IOP_IRP_HEADER *IopLookupIrpLocked(PIRP Irp)
{
    BOOLEAN found;
    IOP_IRP_HEADER *header = RtlpPtrMapLookup(&IopLiveIrps, Irp, &found);
    return found ? header : NULL;
}

/* The header of Irp when it is allocated (or initialized) and not retired, else NULL. */
static IOP_IRP_HEADER *IopLiveIrpHeader(PIRP Irp)
{
    pthread_mutex_lock(&IopIrpLock);
    IOP_IRP_HEADER *header = IopLookupIrpLocked(Irp);
    if (header && header->Retired)
        header = NULL;
    pthread_mutex_unlock(&IopIrpLock);
    return header;
}

static BOOLEAN IopIsLiveIrp(PIRP Irp)
{
    return IopLiveIrpHeader(Irp) != NULL;
}

static VOID IopReleaseIrpMemory(PIRP Irp)
{
    IOP_IRP_HEADER *header = IopIrpHeader(Irp);
    if (header->FreeSystemBuffer)
        free(Irp->AssociatedIrp.SystemBuffer);
    header->Magic = 0;
    free(header);
}

/* Retires a finished I/O-manager IRP; the oldest retired one is released. */
static VOID IopRetireIrp(PIRP Irp)
{
    pthread_mutex_lock(&IopIrpLock);
    IopIrpHeader(Irp)->Retired = TRUE;
    PIRP oldest = IopRetiredIrps[IopRetiredNext];
    IopRetiredIrps[IopRetiredNext] = Irp;
    IopRetiredNext = (IopRetiredNext + 1) % IOP_RETIRED_IRPS;
    if (oldest)
        RtlpPtrMapRemove(&IopLiveIrps, oldest);
    pthread_mutex_unlock(&IopIrpLock);
    if (oldest)
        IopReleaseIrpMemory(oldest);
}

static VOID IopInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize)
{
    memset(Irp, 0, PacketSize);
    Irp->Type = IO_TYPE_IRP;
    Irp->Size = PacketSize;
    Irp->StackCount = StackSize;
    Irp->CurrentLocation = (CHAR)(StackSize + 1);
    Irp->Tail.Overlay.CurrentStackLocation = (PIO_STACK_LOCATION)(Irp + 1) + StackSize;
    InitializeListHead(&Irp->ThreadListEntry);
}

PIRP IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    (void)ChargeQuota;
    if (StackSize < 1)
        StackSize = 1;
    IOP_IRP_HEADER *header = calloc(1, sizeof(IOP_IRP_HEADER) + IoSizeOfIrp(StackSize));
    if (!header)
        return NULL;
    header->Magic = IOP_IRP_MAGIC;
    PIRP irp = (PIRP)(header + 1);
    IopInitializeIrp(irp, IoSizeOfIrp(StackSize), StackSize);
    pthread_mutex_lock(&IopIrpLock);
    BOOLEAN ok = RtlpPtrMapInsert(&IopLiveIrps, irp, header);
    pthread_mutex_unlock(&IopIrpLock);
    if (!ok) {
        free(header);
        return NULL;
    }
    return irp;
}

/*
 * Registers an IRP in caller memory with a header of its own; a repeated
 * IoInitializeIrp of the same memory reuses it. An IRP of IoAllocateIrp is
 * refused (bug check DRIVER_VERIFIER_IOMANAGER_VIOLATION 0x100, simulation
 * code): it is re-initialized with IoReuseIrp.
 */
static VOID IopRegisterCallerIrp(PIRP Irp)
{
    pthread_mutex_lock(&IopIrpLock);
    IOP_IRP_HEADER *header = IopLookupIrpLocked(Irp);
    if (header && !header->CallerAllocated) {
        pthread_mutex_unlock(&IopIrpLock);
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x100, (ULONG_PTR)Irp, 0, 0);
    }
    if (!header) {
        header = RtlpAllocZero(sizeof(*header));
        header->Magic = IOP_IRP_MAGIC;
        header->CallerAllocated = TRUE;
        if (!RtlpPtrMapInsert(&IopLiveIrps, Irp, header))
            abort(); /* framework bookkeeping never fails */
    }
    pthread_mutex_unlock(&IopIrpLock);
}

VOID IoInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize)
{
    if (StackSize < 1 || PacketSize < IoSizeOfIrp(StackSize))
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x101 /* simulation: packet too small */, (ULONG_PTR)Irp,
                     PacketSize, (ULONG_PTR)StackSize);
    IopRegisterCallerIrp(Irp);
    IopInitializeIrp(Irp, PacketSize, StackSize);
}

VOID IoFreeIrp(PIRP Irp)
{
    pthread_mutex_lock(&IopIrpLock);
    IOP_IRP_HEADER *header = IopLookupIrpLocked(Irp);
    BOOLEAN live = header && !header->Retired && !header->CallerAllocated;
    if (live)
        RtlpPtrMapRemove(&IopLiveIrps, Irp);
    pthread_mutex_unlock(&IopIrpLock);
    if (header && header->CallerAllocated) /* the caller's memory: it frees it itself */
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x102 /* simulation code */, (ULONG_PTR)Irp, 0, 0);
    if (!live)
        KeBugCheckEx(MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)Irp, 0, 0, 0x2); /* freed twice or never allocated */
    IopReleaseIrpMemory(Irp);
}

VOID IoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
    IopInitializeIrp(Irp, Irp->Size, Irp->StackCount);
    Irp->IoStatus.Status = Iostatus;
}

PIRP IopBuildOwnedIrp(CCHAR StackSize, PKEVENT Event, PIO_STATUS_BLOCK Iosb)
{
    PIRP irp = IoAllocateIrp(StackSize, FALSE);
    if (!irp)
        return NULL;
    IopIrpHeader(irp)->Owned = TRUE;
    irp->UserEvent = Event;
    irp->UserIosb = Iosb;
    irp->RequestorMode = KernelMode;
    return irp;
}

/* ---- call and complete ----------------------------------------------- */

NTSTATUS IofCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    if (!IopIsDeviceObject(DeviceObject))
        KeBugCheckEx(DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS, (ULONG_PTR)DeviceObject, (ULONG_PTR)Irp,
                     0, 0x1); /* the device (and likely its driver) is gone */
    if (!IopIsLiveIrp(Irp))
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x1, (ULONG_PTR)Irp, (ULONG_PTR)DeviceObject, 0);
    Irp->CurrentLocation--;
    if (Irp->CurrentLocation <= 0)
        KeBugCheckEx(NO_MORE_IRP_STACK_LOCATIONS, (ULONG_PTR)Irp, (ULONG_PTR)DeviceObject, 0, 0);
    Irp->Tail.Overlay.CurrentStackLocation--;
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    sp->DeviceObject = DeviceObject;
    PDRIVER_OBJECT driver = DeviceObject->DriverObject;
    PDRIVER_DISPATCH dispatch =
        sp->MajorFunction <= IRP_MJ_MAXIMUM_FUNCTION ? driver->MajorFunction[sp->MajorFunction] : NULL;
    if (!dispatch)
        dispatch = IopInvalidDeviceRequest;
    IopCheckCallTarget((PVOID)dispatch, "dispatch routine", DeviceObject);
    return dispatch(DeviceObject, Irp);
}

/* TRUE when Control's SL_INVOKE_ON_* flags ask for a completion routine on Irp's outcome. */
static BOOLEAN IopInvokeOnOutcome(PIRP Irp, UCHAR Control)
{
    NTSTATUS status = Irp->IoStatus.Status;
    return (NT_SUCCESS(status) && (Control & SL_INVOKE_ON_SUCCESS)) ||
           (!NT_SUCCESS(status) && (Control & SL_INVOKE_ON_ERROR)) || (Irp->Cancel && (Control & SL_INVOKE_ON_CANCEL));
}

/* What completion does at a location whose routine is not invoked: carry the pending mark upwards. */
static VOID IopPropagatePending(PIRP Irp)
{
    if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount)
        IoMarkIrpPending(Irp);
}

static VOID IopClearStackLocation(PIO_STACK_LOCATION Location)
{
    Location->MinorFunction = 0;
    Location->Flags = 0;
    Location->Control = 0;
    Location->CompletionRoutine = NULL;
    Location->Context = NULL;
}

/* The I/O manager's last step for an IRP it built (IopCompleteRequest's work). */
static VOID IopFinishOwnedIrp(PIRP Irp)
{
    IOP_IRP_HEADER *header = IopIrpHeader(Irp);
    NTSTATUS status = Irp->IoStatus.Status;
    if (header->CopyOut && !NT_ERROR(status) && Irp->UserBuffer && Irp->AssociatedIrp.SystemBuffer) {
        ULONG_PTR n = Irp->IoStatus.Information;
        if (n > header->OutputLength)
            n = header->OutputLength;
        memcpy(Irp->UserBuffer, Irp->AssociatedIrp.SystemBuffer, n);
    }
    if (Irp->UserIosb)
        *Irp->UserIosb = Irp->IoStatus;
    if (header->FailedDeviceOut)
        *header->FailedDeviceOut = NT_SUCCESS(status) ? NULL : header->FailedDevice;
    PKEVENT event = Irp->UserEvent;
    PFILE_OBJECT file = header->ReferencedFile;
    IopRetireIrp(Irp);
    if (file)
        ObfDereferenceObject(file); /* before the waiter wakes: its view of the counts is final */
    if (event)
        KeSetEvent(event, IO_NO_INCREMENT, FALSE);
}

/*
 * Notes who decides a failure: the device of the location being completed
 * when the status is a failure (NULL on success). Called at each
 * IofCompleteRequest, so the last completion decides.
 */
static VOID IopNoteCompletingDevice(IOP_IRP_HEADER *Header, PIRP Irp)
{
    BOOLEAN located = Irp->CurrentLocation >= 1 && Irp->CurrentLocation <= Irp->StackCount;
    if (NT_SUCCESS(Irp->IoStatus.Status))
        Header->FailedDevice = NULL;
    else if (located)
        Header->FailedDevice = IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
}

/* A completion routine of Device's driver changed the outcome from Before to the IRP's status now. */
static VOID IopNoteRoutineOutcome(IOP_IRP_HEADER *Header, PIRP Irp, NTSTATUS Before, PDEVICE_OBJECT Device)
{
    NTSTATUS after = Irp->IoStatus.Status;
    if (NT_SUCCESS(Before) && !NT_SUCCESS(after) && Device)
        Header->FailedDevice = Device;
    else if (NT_SUCCESS(after))
        Header->FailedDevice = NULL;
}

VOID IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    (void)PriorityBoost;
    IOP_IRP_HEADER *header = IopLiveIrpHeader(Irp);
    if (!header)
        KeBugCheckEx(MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)Irp, 0, 0, 0x1); /* completed (and retired) already */
    if (Irp->CurrentLocation > Irp->StackCount + 1 || Irp->Type != IO_TYPE_IRP)
        KeBugCheckEx(MULTIPLE_IRP_COMPLETE_REQUESTS, (ULONG_PTR)Irp, 0, 0, 0);
    if (Irp->IoStatus.Status == STATUS_PENDING)
        KeBugCheckEx(DRIVER_VERIFIER_IOMANAGER_VIOLATION, 0x8, (ULONG_PTR)Irp, 0, 0); /* completed with STATUS_PENDING */
    IopNoteInterfaceCompletion(Irp); /* while the answering device's location is intact */
    IopNoteCompletingDevice(header, Irp);

    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    for (Irp->CurrentLocation++, Irp->Tail.Overlay.CurrentStackLocation++; Irp->CurrentLocation <= Irp->StackCount + 1;
         sp++, Irp->CurrentLocation++, Irp->Tail.Overlay.CurrentStackLocation++) {
        Irp->PendingReturned = (sp->Control & SL_PENDING_RETURNED) != 0;
        if (sp->CompletionRoutine && IopInvokeOnOutcome(Irp, sp->Control)) {
            PIO_COMPLETION_ROUTINE routine = sp->CompletionRoutine;
            PVOID context = sp->Context;
            IopClearStackLocation(sp);
            PDEVICE_OBJECT device =
                Irp->CurrentLocation == Irp->StackCount + 1 ? NULL : IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
            IopCheckCallTarget((PVOID)routine, "completion routine", device);
            NTSTATUS before = Irp->IoStatus.Status;
            if (routine(device, Irp, context) == STATUS_MORE_PROCESSING_REQUIRED)
                return; /* the routine's owner takes the IRP back */
            IopNoteRoutineOutcome(header, Irp, before, device);
        } else {
            IopPropagatePending(Irp);
            IopClearStackLocation(sp);
        }
    }
    if (header->Owned)
        IopFinishOwnedIrp(Irp);
}

/* ---- unload-safe completion routines ---------------------------------- */

/* IoSetCompletionRoutineEx's context: the driver's routine and the driver reference that pins it. */
typedef struct _IOP_UNLOAD_SAFE_COMPLETION {
    PIO_COMPLETION_ROUTINE Routine;
    PVOID Context;
    UCHAR Control;                /* the caller's SL_INVOKE_ON_* choice */
    PDRIVER_OBJECT DriverObject;  /* referenced until the routine ran (or was passed over) */
} IOP_UNLOAD_SAFE_COMPLETION;

/* Always invoked: applies the caller's choice itself, then releases the driver. */
static NTSTATUS IopUnloadSafeCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    IOP_UNLOAD_SAFE_COMPLETION *safe = Context;
    NTSTATUS status = STATUS_CONTINUE_COMPLETION;
    if (IopInvokeOnOutcome(Irp, safe->Control)) {
        IopCheckCallTarget((PVOID)safe->Routine, "completion routine", DeviceObject);
        status = safe->Routine(DeviceObject, Irp, safe->Context);
    } else {
        IopPropagatePending(Irp);
    }
    PDRIVER_OBJECT driver = safe->DriverObject;
    free(safe);
    ObfDereferenceObject(driver); /* may unload the image: its routine has returned */
    return status;
}

NTSTATUS IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp, PIO_COMPLETION_ROUTINE CompletionRoutine,
                                  PVOID Context, BOOLEAN InvokeOnSuccess, BOOLEAN InvokeOnError,
                                  BOOLEAN InvokeOnCancel)
{
    if (!IopIsDeviceObject(DeviceObject))
        return STATUS_INVALID_DEVICE_OBJECT_PARAMETER;
    IOP_UNLOAD_SAFE_COMPLETION *safe = calloc(1, sizeof(*safe));
    if (!safe)
        return STATUS_INSUFFICIENT_RESOURCES;
    safe->Routine = CompletionRoutine;
    safe->Context = Context;
    safe->Control = (UCHAR)((InvokeOnSuccess ? SL_INVOKE_ON_SUCCESS : 0) | (InvokeOnError ? SL_INVOKE_ON_ERROR : 0) |
                            (InvokeOnCancel ? SL_INVOKE_ON_CANCEL : 0));
    safe->DriverObject = DeviceObject->DriverObject;
    ObfReferenceObject(safe->DriverObject);
    IoSetCompletionRoutine(Irp, IopUnloadSafeCompletion, safe, TRUE, TRUE, TRUE);
    return STATUS_SUCCESS;
}

/* ---- cancellation ----------------------------------------------------- */

VOID IoAcquireCancelSpinLock(PKIRQL Irql)
{
    *Irql = KeAcquireSpinLockRaiseToDpc(&IopCancelSpinLock);
}

VOID IoReleaseCancelSpinLock(KIRQL Irql)
{
    KeReleaseSpinLock(&IopCancelSpinLock, Irql);
}

BOOLEAN IoCancelIrp(PIRP Irp)
{
    KIRQL irql;
    IoAcquireCancelSpinLock(&irql);
    Irp->Cancel = TRUE;
    PDRIVER_CANCEL routine = IoSetCancelRoutine(Irp, NULL);
    if (!routine) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    Irp->CancelIrql = irql;
    PDEVICE_OBJECT device =
        Irp->CurrentLocation <= Irp->StackCount ? IoGetCurrentIrpStackLocation(Irp)->DeviceObject : NULL;
    IopCheckCallTarget((PVOID)routine, "cancel routine", device);
    routine(device, Irp); /* releases the cancel spin lock */
    return TRUE;
}

/* ---- building IRPs ---------------------------------------------------- */

/*
 * Gives an I/O-manager IRP a zeroed system buffer of Size bytes starting
 * with InputLength bytes of Input; up to OutputLength bytes are copied back
 * to UserBuffer at completion (0: nothing). FALSE when out of memory.
 */
static BOOLEAN IopAllocateSystemBuffer(PIRP Irp, ULONG Size, const void *Input, ULONG InputLength, ULONG OutputLength)
{
    PVOID buffer = calloc(1, Size);
    if (!buffer)
        return FALSE;
    if (Input && InputLength)
        memcpy(buffer, Input, InputLength);
    IOP_IRP_HEADER *header = IopIrpHeader(Irp);
    Irp->AssociatedIrp.SystemBuffer = buffer;
    header->FreeSystemBuffer = TRUE;
    header->CopyOut = OutputLength != 0;
    header->OutputLength = OutputLength;
    return TRUE;
}

PIRP IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject, PVOID InputBuffer,
                                   ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                   BOOLEAN InternalDeviceIoControl, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock)
{
    PIRP irp = IopBuildOwnedIrp(DeviceObject->StackSize, Event, IoStatusBlock);
    if (!irp)
        return NULL;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->MajorFunction = InternalDeviceIoControl ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL;
    sp->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
    sp->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
    sp->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;
    irp->UserBuffer = OutputBuffer;
    if (METHOD_FROM_CTL_CODE(IoControlCode) == METHOD_NEITHER) {
        sp->Parameters.DeviceIoControl.Type3InputBuffer = InputBuffer;
        return irp;
    }
    ULONG size = InputBufferLength > OutputBufferLength ? InputBufferLength : OutputBufferLength;
    if (size && !IopAllocateSystemBuffer(irp, size, InputBuffer, InputBufferLength,
                                         OutputBuffer ? OutputBufferLength : 0)) {
        IoFreeIrp(irp);
        return NULL;
    }
    return irp;
}

/* Read/write parameters and buffer of a synchronous FSD request (system buffer for DO_BUFFERED_IO). */
static BOOLEAN IopSetTransfer(PIRP Irp, PIO_STACK_LOCATION Location, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                              ULONG Length, const LARGE_INTEGER *StartingOffset)
{
    LARGE_INTEGER offset = { .QuadPart = StartingOffset ? StartingOffset->QuadPart : 0 };
    BOOLEAN write = Location->MajorFunction == IRP_MJ_WRITE;
    if (write) {
        Location->Parameters.Write.Length = Length;
        Location->Parameters.Write.ByteOffset = offset;
    } else {
        Location->Parameters.Read.Length = Length;
        Location->Parameters.Read.ByteOffset = offset;
    }
    Irp->UserBuffer = Buffer;
    if (!(DeviceObject->Flags & DO_BUFFERED_IO) || !Length)
        return TRUE;
    return write ? IopAllocateSystemBuffer(Irp, Length, Buffer, Length, 0)
                 : IopAllocateSystemBuffer(Irp, Length, NULL, 0, Length);
}

PIRP IoBuildSynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer, ULONG Length,
                                  PLARGE_INTEGER StartingOffset, PKEVENT Event, PIO_STATUS_BLOCK IoStatusBlock)
{
    BOOLEAN transfer = MajorFunction == IRP_MJ_READ || MajorFunction == IRP_MJ_WRITE;
    if (!transfer && MajorFunction != IRP_MJ_FLUSH_BUFFERS && MajorFunction != IRP_MJ_SHUTDOWN)
        return NULL;
    PIRP irp = IopBuildOwnedIrp(DeviceObject->StackSize, Event, IoStatusBlock);
    if (!irp)
        return NULL;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->MajorFunction = (UCHAR)MajorFunction;
    if (transfer && !IopSetTransfer(irp, sp, DeviceObject, Buffer, Length, StartingOffset)) {
        IoFreeIrp(irp);
        return NULL;
    }
    return irp;
}

/* A waiter's event and status block, on the heap: left behind if a stuck wait gives up. */
typedef struct _IOP_SYNC_WAIT {
    KEVENT Event;
    IO_STATUS_BLOCK Iosb;
    PDEVICE_OBJECT FailedDevice; /* the device whose driver failed the IRP (IOP_IRP_HEADER.FailedDevice) */
} IOP_SYNC_WAIT;

NTSTATUS IopSynchronousCall(PDEVICE_OBJECT DeviceObject, const IO_STACK_LOCATION *Template, NTSTATUS InitialStatus,
                            PULONG_PTR Information, BOOLEAN ToTop)
{
    return IopSynchronousCallEx(DeviceObject, Template, InitialStatus, Information, ToTop, NULL);
}

NTSTATUS IopSynchronousCallEx(PDEVICE_OBJECT DeviceObject, const IO_STACK_LOCATION *Template, NTSTATUS InitialStatus,
                              PULONG_PTR Information, BOOLEAN ToTop, PDEVICE_OBJECT *FailedDevice)
{
    if (FailedDevice)
        *FailedDevice = NULL;
    PDEVICE_OBJECT target = ToTop ? IoGetAttachedDevice(DeviceObject) : DeviceObject;
    IOP_SYNC_WAIT *wait = RtlpAllocZero(sizeof(*wait));
    KeInitializeEvent(&wait->Event, NotificationEvent, FALSE);
    PIRP irp = IopBuildOwnedIrp(target->StackSize, &wait->Event, &wait->Iosb);
    if (!irp) {
        free(wait);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    irp->IoStatus.Status = InitialStatus;
    IopIrpHeader(irp)->FailedDeviceOut = &wait->FailedDevice;
    irp->Tail.Overlay.OriginalFileObject = Template->FileObject;
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->MajorFunction = Template->MajorFunction;
    sp->MinorFunction = Template->MinorFunction;
    sp->Flags = Template->Flags;
    sp->Parameters = Template->Parameters;
    sp->FileObject = Template->FileObject;
    IofCallDriver(target, irp);
    if (KipWaitForEvent(&wait->Event, NULL, target, "completion of an IRP sent to") != STATUS_SUCCESS)
        return STATUS_TIMEOUT; /* the IRP may still complete into *wait: leave it */
    if (Information)
        *Information = wait->Iosb.Information;
    NTSTATUS status = wait->Iosb.Status;
    if (FailedDevice)
        *FailedDevice = wait->FailedDevice;
    free(wait);
    return status;
}
