/*
 * ntsim_apis.c - WDK calls a driver written from the documentation expects,
 * each with exact results: tagged ObReferenceObjectBy{Pointer,Handle}
 * (counts, and the tag reaching the exported ObfReferenceObjectWithTag
 * leaf), ExInterlocked list order and empty returns, IoInitializeIrp,
 * IoSetCompletionRoutineEx holding the driver object +1 while the IRP is
 * outstanding, IoQueueWorkItemEx passing the item, IoBuildSynchronousFsdRequest
 * (buffered read and write, flush), KeWaitForMultipleObjects (WaitAny index,
 * WaitAll, stuck report) and a cancel-safe queue through insert, cancel and
 * removal. Dispatch routines of this test are installed on the test
 * drivers' objects, as ntsim_irp.c does.
 *
 * This program defines ObfReferenceObjectWithTag and KiReportStuckWait
 * itself: an executable's definition interposes libntsim's export, so the
 * test sees exactly what a preloaded tracer would see.
 */
#include <pthread.h>
#include <signal.h>

#include "ntsim_test.h"

#define TEST_TAG 'tseT'

/* ---- interposed exports ------------------------------------------------ */

static int TaggedReferences;
static ULONG LastTag;

LONG_PTR ObfReferenceObjectWithTag(PVOID Object, ULONG Tag)
{
    static LONG_PTR (*real)(PVOID, ULONG);
    if (!real)
        real = (LONG_PTR(*)(PVOID, ULONG))dlsym(RTLD_NEXT, "ObfReferenceObjectWithTag");
    TaggedReferences++;
    LastTag = Tag;
    return real(Object, Tag);
}

static int StuckReports;
static PVOID StuckObject;
static char StuckWhat[64];

VOID KiReportStuckWait(PVOID Object, const char *What, ULONG WaitedMs)
{
    (void)WaitedMs;
    StuckReports++;
    StuckObject = Object;
    snprintf(StuckWhat, sizeof(StuckWhat), "%s", What ? What : "");
}

static PDEVICE_OBJECT StartLegacy(void)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDEVICE_OBJECT device = NtsimLookupObject("\\Device\\TdLegacy");
    ck_assert_ptr_nonnull(device);
    return device;
}

/* ---- object manager ----------------------------------------------------- */

START_TEST(reference_by_pointer_with_tag)
{
    PDEVICE_OBJECT device = StartLegacy();
    TtAssertCounts(device, 2, 0, 0); /* keep-alive + name */
    ck_assert_int_eq(ObReferenceObjectByPointerWithTag(device, 0, *IoDeviceObjectType, KernelMode, TEST_TAG),
                     STATUS_SUCCESS);
    TtAssertCounts(device, 3, 0, 0);
    ck_assert_int_eq(TaggedReferences, 1);
    ck_assert_uint_eq(LastTag, TEST_TAG);
    ck_assert_int_eq(ObReferenceObjectByPointerWithTag(device, 0, *IoDriverObjectType, KernelMode, TEST_TAG),
                     STATUS_OBJECT_TYPE_MISMATCH);
    ck_assert_int_eq(ObReferenceObjectByPointerWithTag(&TaggedReferences, 0, NULL, KernelMode, TEST_TAG),
                     STATUS_INVALID_PARAMETER);
    TtAssertCounts(device, 3, 0, 0);
    ck_assert_int_eq(TaggedReferences, 1);
    ck_assert_int_eq(ObDereferenceObjectWithTag(device, TEST_TAG), 2);
    /* the untagged call takes the untagged leaf */
    ck_assert_int_eq(ObReferenceObjectByPointer(device, 0, NULL, KernelMode), STATUS_SUCCESS);
    ck_assert_int_eq(TaggedReferences, 1);
    TtAssertCounts(device, 3, 0, 0);
    ObDereferenceObject(device);
    TtAssertCounts(device, 2, 0, 0);
}
END_TEST

START_TEST(reference_by_handle_with_tag)
{
    PDEVICE_OBJECT device = StartLegacy();
    HANDLE handle;
    ck_assert_int_eq(ObOpenObjectByPointer(device, OBJ_KERNEL_HANDLE, NULL, 0, *IoDeviceObjectType, KernelMode, &handle),
                     STATUS_SUCCESS);
    TtAssertCounts(device, 3, 1, 0);
    PVOID object = NULL;
    OBJECT_HANDLE_INFORMATION info = { 0, 0 };
    ck_assert_int_eq(ObReferenceObjectByHandleWithTag(handle, 0, *IoDeviceObjectType, KernelMode, TEST_TAG, &object,
                                                      &info),
                     STATUS_SUCCESS);
    ck_assert_ptr_eq(object, device);
    ck_assert_uint_eq(info.HandleAttributes, OBJ_KERNEL_HANDLE);
    TtAssertCounts(device, 4, 1, 0);
    ck_assert_int_eq(TaggedReferences, 1);
    ck_assert_uint_eq(LastTag, TEST_TAG);
    ck_assert_int_eq(ObReferenceObjectByHandleWithTag(handle, 0, *IoFileObjectType, KernelMode, TEST_TAG, &object,
                                                      NULL),
                     STATUS_OBJECT_TYPE_MISMATCH);
    ck_assert_int_eq(ObReferenceObjectByHandleWithTag((HANDLE)(uintptr_t)0x7ffc, 0, NULL, KernelMode, TEST_TAG,
                                                      &object, NULL),
                     STATUS_INVALID_HANDLE);
    ck_assert_int_eq(TaggedReferences, 1);
    TtAssertCounts(device, 4, 1, 0);
    ObDereferenceObjectWithTag(device, TEST_TAG);
    ck_assert_int_eq(ZwClose(handle), STATUS_SUCCESS);
    TtAssertCounts(device, 2, 0, 0);
}
END_TEST

/* ---- interlocked lists -------------------------------------------------- */

START_TEST(interlocked_lists)
{
    TtInit(0);
    LIST_ENTRY head, a, b, c;
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    InitializeListHead(&head);
    ck_assert_ptr_null(ExInterlockedRemoveHeadList(&head, &lock));
    ck_assert_ptr_null(ExInterlockedInsertTailList(&head, &a, &lock));
    ck_assert_ptr_eq(ExInterlockedInsertTailList(&head, &b, &lock), &a); /* the previous last */
    ck_assert_ptr_eq(ExInterlockedInsertHeadList(&head, &c, &lock), &a); /* the previous first */
    ck_assert_ptr_eq(head.Flink, &c);
    ck_assert_ptr_eq(c.Flink, &a);
    ck_assert_ptr_eq(a.Flink, &b);
    ck_assert_ptr_eq(b.Flink, &head);
    ck_assert_ptr_eq(head.Blink, &b);
    ck_assert_ptr_eq(ExInterlockedRemoveHeadList(&head, &lock), &c);
    ck_assert_ptr_eq(ExInterlockedRemoveHeadList(&head, &lock), &a);
    ck_assert_ptr_eq(ExInterlockedRemoveHeadList(&head, &lock), &b);
    ck_assert_ptr_null(ExInterlockedRemoveHeadList(&head, &lock));
    ck_assert(IsListEmpty(&head));
    ck_assert_ptr_null(ExInterlockedInsertHeadList(&head, &a, &lock));

    SINGLE_LIST_ENTRY stack = { NULL }, x, y;
    ck_assert_ptr_null(ExInterlockedPopEntryList(&stack, &lock));
    ck_assert_ptr_null(ExInterlockedPushEntryList(&stack, &x, &lock));
    ck_assert_ptr_eq(ExInterlockedPushEntryList(&stack, &y, &lock), &x);
    ck_assert_ptr_eq(ExInterlockedPopEntryList(&stack, &lock), &y);
    ck_assert_ptr_eq(ExInterlockedPopEntryList(&stack, &lock), &x);
    ck_assert_ptr_null(ExInterlockedPopEntryList(&stack, &lock));
    ck_assert_uint_eq(lock, 0);                            /* released */
    ck_assert_int_eq(KeGetCurrentIrql(), PASSIVE_LEVEL); /* restored */
}
END_TEST

/* ---- IRPs: a two-device stack (tdupper's device above \Device\TdLegacy) -- */

static PDEVICE_OBJECT Lower, Upper;
static PDRIVER_OBJECT UpperDriver;
static PIRP PendedIrp;
static int RoutineCalls;
static LONG_PTR DriverCountInRoutine;
static BOOLEAN UpperInvokeOnSuccess;

static NTSTATUS LowerPend(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    IoMarkIrpPending(Irp);
    PendedIrp = Irp;
    return STATUS_PENDING;
}

static NTSTATUS UpperCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    ck_assert_ptr_eq(DeviceObject, Upper);
    ck_assert_ptr_eq(Context, &RoutineCalls);
    RoutineCalls++;
    DriverCountInRoutine = TtQuery(UpperDriver).PointerCount;
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    return STATUS_CONTINUE_COMPLETION;
}

static NTSTATUS UpperForward(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    IoCopyCurrentIrpStackLocationToNext(Irp);
    ck_assert_int_eq(IoSetCompletionRoutineEx(DeviceObject, Irp, UpperCompletion, &RoutineCalls, UpperInvokeOnSuccess,
                                              TRUE, TRUE),
                     STATUS_SUCCESS);
    return IoCallDriver(Lower, Irp);
}

static void StartStack(void)
{
    Lower = StartLegacy();
    TtStart("tdupper", "tdrv_upper");
    UpperDriver = NtsimLookupObject("\\Driver\\tdupper");
    ck_assert_int_eq(IoCreateDevice(UpperDriver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &Upper), STATUS_SUCCESS);
    ck_assert_ptr_eq(IoAttachDeviceToDeviceStack(Upper, Lower), Lower);
    Upper->Flags &= ~DO_DEVICE_INITIALIZING;
    UpperDriver->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = UpperForward;
    Lower->DriverObject->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = LowerPend;
}

/* Sends an internal IOCTL down the stack; the lower device pends it in PendedIrp. */
static void SendPended(KEVENT *Event, IO_STATUS_BLOCK *Iosb)
{
    KeInitializeEvent(Event, NotificationEvent, FALSE);
    PIRP irp = IoBuildDeviceIoControlRequest(1, Upper, NULL, 0, NULL, 0, TRUE, Event, Iosb);
    ck_assert_ptr_nonnull(irp);
    ck_assert_int_eq(IoCallDriver(Upper, irp), STATUS_PENDING);
}

static void CompletePended(NTSTATUS Status)
{
    PendedIrp->IoStatus.Status = Status;
    PendedIrp->IoStatus.Information = 0;
    IoCompleteRequest(PendedIrp, IO_NO_INCREMENT);
}

START_TEST(completion_routine_ex_pins_driver)
{
    StartStack();
    LONG_PTR base = TtQuery(UpperDriver).PointerCount;
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    UpperInvokeOnSuccess = TRUE;
    SendPended(&event, &iosb);
    TtAssertCounts(UpperDriver, base + 1, 0, -1); /* held while the IRP is outstanding */
    CompletePended(STATUS_SUCCESS);
    ck_assert_int_eq(RoutineCalls, 1);
    ck_assert_int_eq(DriverCountInRoutine, base + 1); /* still held while the routine runs */
    TtAssertCounts(UpperDriver, base, 0, -1);        /* released after it returned */
    ck_assert_int_eq(KeReadStateEvent(&event), 1);
    ck_assert_int_eq(iosb.Status, STATUS_SUCCESS);
}
END_TEST

START_TEST(completion_routine_ex_not_invoked_releases)
{
    StartStack();
    LONG_PTR base = TtQuery(UpperDriver).PointerCount;
    KEVENT event;
    IO_STATUS_BLOCK iosb;
    UpperInvokeOnSuccess = FALSE;
    SendPended(&event, &iosb);
    TtAssertCounts(UpperDriver, base + 1, 0, -1);
    CompletePended(STATUS_SUCCESS); /* success, routine only on error/cancel */
    ck_assert_int_eq(RoutineCalls, 0);
    TtAssertCounts(UpperDriver, base, 0, -1);
    ck_assert_int_eq(KeReadStateEvent(&event), 1);
    SendPended(&event, &iosb);
    CompletePended(STATUS_UNSUCCESSFUL); /* the error invokes it */
    ck_assert_int_eq(RoutineCalls, 1);
    TtAssertCounts(UpperDriver, base, 0, -1);
    ck_assert_int_eq(iosb.Status, STATUS_UNSUCCESSFUL);
}
END_TEST

static KEVENT ReclaimEvent;

static NTSTATUS Reclaim(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject;
    (void)Irp;
    (void)Context;
    KeSetEvent(&ReclaimEvent, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

START_TEST(initialize_irp_in_caller_memory)
{
    StartStack();
    USHORT size = IoSizeOfIrp(2);
    PIRP irp = ExAllocatePoolWithTag(NonPagedPoolNx, size, 'prIT');
    ck_assert_ptr_nonnull(irp);
    memset(irp, 0xcc, size);
    IoInitializeIrp(irp, size, 2);
    ck_assert_int_eq(irp->Type, IO_TYPE_IRP);
    ck_assert_uint_eq(irp->Size, size);
    ck_assert_int_eq(irp->StackCount, 2);
    ck_assert_int_eq(irp->CurrentLocation, 3);
    ck_assert_ptr_eq(irp->Tail.Overlay.CurrentStackLocation, (PIO_STACK_LOCATION)(irp + 1) + 2);
    ck_assert_ptr_null(irp->CancelRoutine);
    ck_assert_ptr_eq(irp->ThreadListEntry.Flink, &irp->ThreadListEntry);
    IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    KeInitializeEvent(&ReclaimEvent, NotificationEvent, FALSE);
    IoSetCompletionRoutine(irp, Reclaim, NULL, TRUE, TRUE, TRUE);
    ck_assert_int_eq(IoCallDriver(Lower, irp), STATUS_PENDING); /* the I/O manager knows it */
    CompletePended(STATUS_SUCCESS);
    ck_assert_int_eq(KeReadStateEvent(&ReclaimEvent), 1);
    IoInitializeIrp(irp, size, 2); /* reusable */
    ck_assert_int_eq(irp->CurrentLocation, 3);
    ExFreePoolWithTag(irp, 'prIT');
}
END_TEST

START_TEST(free_of_initialized_irp_bugchecks)
{
    TtInit(0);
    IRP *irp = calloc(1, IoSizeOfIrp(1));
    IoInitializeIrp(irp, IoSizeOfIrp(1), 1);
    IoFreeIrp(irp);
}
END_TEST

/* ---- work items --------------------------------------------------------- */

static KEVENT WorkDone;
static PVOID WorkObject, WorkContext;
static PIO_WORKITEM WorkItemSeen;

static VOID WorkRoutineEx(PVOID IoObject, PVOID Context, PIO_WORKITEM IoWorkItem)
{
    WorkObject = IoObject;
    WorkContext = Context;
    WorkItemSeen = IoWorkItem;
    KeSetEvent(&WorkDone, IO_NO_INCREMENT, FALSE);
}

START_TEST(work_item_ex_receives_item)
{
    PDEVICE_OBJECT device = StartLegacy();
    KeInitializeEvent(&WorkDone, NotificationEvent, FALSE);
    PIO_WORKITEM item = IoAllocateWorkItem(device);
    ck_assert_ptr_nonnull(item);
    IoQueueWorkItemEx(item, WorkRoutineEx, DelayedWorkQueue, &WorkDone);
    ck_assert_int_eq(KeWaitForSingleObject(&WorkDone, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ck_assert_ptr_eq(WorkItemSeen, item);
    ck_assert_ptr_eq(WorkObject, device);
    ck_assert_ptr_eq(WorkContext, &WorkDone);
    TtWaitPointerCount(device, 2); /* the queued item's device reference is gone */
    IoFreeWorkItem(item);
}
END_TEST

/* ---- IoBuildSynchronousFsdRequest ---------------------------------------- */

static char Written[16];
static LONGLONG WriteOffset;
static UCHAR LastMajor;

static NTSTATUS FsdDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    LastMajor = sp->MajorFunction;
    ULONG_PTR information = 0;
    if (sp->MajorFunction == IRP_MJ_READ) {
        ck_assert_uint_eq(sp->Parameters.Read.Length, 8);
        ck_assert_int_eq(sp->Parameters.Read.ByteOffset.QuadPart, 512);
        memcpy(Irp->AssociatedIrp.SystemBuffer, "abc", 3);
        information = 3;
    } else if (sp->MajorFunction == IRP_MJ_WRITE) {
        memcpy(Written, Irp->AssociatedIrp.SystemBuffer, sp->Parameters.Write.Length);
        WriteOffset = sp->Parameters.Write.ByteOffset.QuadPart;
        information = sp->Parameters.Write.Length;
    }
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS SendFsd(PDEVICE_OBJECT Device, ULONG Major, PVOID Buffer, ULONG Length, LONGLONG Offset,
                        PIO_STATUS_BLOCK Iosb)
{
    KEVENT event;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    LARGE_INTEGER offset = { .QuadPart = Offset };
    PIRP irp = IoBuildSynchronousFsdRequest(Major, Device, Buffer, Length, &offset, &event, Iosb);
    ck_assert_ptr_nonnull(irp);
    ck_assert_int_eq(IoGetNextIrpStackLocation(irp)->MajorFunction, Major);
    ck_assert_ptr_eq(irp->UserBuffer, Buffer);
    NTSTATUS status = IoCallDriver(Device, irp);
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    return status;
}

START_TEST(synchronous_fsd_requests)
{
    PDEVICE_OBJECT device = StartLegacy(); /* DO_BUFFERED_IO */
    PDRIVER_OBJECT driver = device->DriverObject;
    driver->MajorFunction[IRP_MJ_READ] = FsdDispatch;
    driver->MajorFunction[IRP_MJ_WRITE] = FsdDispatch;
    driver->MajorFunction[IRP_MJ_FLUSH_BUFFERS] = FsdDispatch;
    driver->MajorFunction[IRP_MJ_SHUTDOWN] = FsdDispatch;
    IO_STATUS_BLOCK iosb = { { 0 }, 0 };
    char buffer[8] = "xxxxxxx";
    ck_assert_int_eq(SendFsd(device, IRP_MJ_READ, buffer, 8, 512, &iosb), STATUS_SUCCESS);
    ck_assert_int_eq(iosb.Status, STATUS_SUCCESS);
    ck_assert_uint_eq(iosb.Information, 3);
    ck_assert_str_eq(buffer, "abcxxxx"); /* copied out up to Information */
    ck_assert_int_eq(SendFsd(device, IRP_MJ_WRITE, "hello", 6, 4096, &iosb), STATUS_SUCCESS);
    ck_assert_str_eq(Written, "hello");
    ck_assert_int_eq(WriteOffset, 4096);
    ck_assert_uint_eq(iosb.Information, 6);
    ck_assert_int_eq(SendFsd(device, IRP_MJ_FLUSH_BUFFERS, NULL, 0, 0, &iosb), STATUS_SUCCESS);
    ck_assert_int_eq(LastMajor, IRP_MJ_FLUSH_BUFFERS);
    ck_assert_int_eq(SendFsd(device, IRP_MJ_SHUTDOWN, NULL, 0, 0, &iosb), STATUS_SUCCESS);
    ck_assert_int_eq(LastMajor, IRP_MJ_SHUTDOWN);
    KEVENT event;
    ck_assert_ptr_null(IoBuildSynchronousFsdRequest(IRP_MJ_DEVICE_CONTROL, device, NULL, 0, NULL, &event, &iosb));
}
END_TEST

/* ---- KeWaitForMultipleObjects ------------------------------------------- */

static KEVENT Events[4];

START_TEST(wait_any_returns_signalled_index)
{
    TtInit(0);
    for (int i = 0; i < 3; i++)
        KeInitializeEvent(&Events[i], NotificationEvent, FALSE);
    PVOID objects[3] = { &Events[0], &Events[1], &Events[2] };
    LARGE_INTEGER poll = { .QuadPart = 0 };
    ck_assert_int_eq(KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, &poll, NULL),
                     STATUS_TIMEOUT);
    KeSetEvent(&Events[2], IO_NO_INCREMENT, FALSE);
    ck_assert_int_eq(KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_WAIT_2);
    KeSetEvent(&Events[1], IO_NO_INCREMENT, FALSE);
    ck_assert_int_eq(KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_WAIT_1); /* the lowest signalled index */
    /* a synchronization event satisfying WaitAny is reset; the others are untouched */
    KeInitializeEvent(&Events[0], SynchronizationEvent, TRUE);
    ck_assert_int_eq(KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_WAIT_0);
    ck_assert_int_eq(KeReadStateEvent(&Events[0]), 0);
    ck_assert_int_eq(KeReadStateEvent(&Events[1]), 1);
    ck_assert_int_eq(KeReadStateEvent(&Events[2]), 1);
}
END_TEST

static void *SignalLater(void *Arg)
{
    struct timespec ts = { 0, 100 * 1000000 };
    nanosleep(&ts, NULL);
    KeSetEvent(Arg, IO_NO_INCREMENT, FALSE);
    return NULL;
}

static ULONG64 NowMs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ULONG64)ts.tv_sec * 1000 + (ULONG64)ts.tv_nsec / 1000000;
}

START_TEST(wait_all_waits_for_both)
{
    TtInit(0);
    KeInitializeEvent(&Events[0], SynchronizationEvent, TRUE);
    KeInitializeEvent(&Events[1], SynchronizationEvent, FALSE);
    PVOID objects[2] = { &Events[0], &Events[1] };
    LARGE_INTEGER shortWait = { .QuadPart = -20 * 10000ll };
    ck_assert_int_eq(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &shortWait, NULL),
                     STATUS_TIMEOUT);
    ck_assert_int_eq(KeReadStateEvent(&Events[0]), 1); /* not consumed by an unsatisfied WaitAll */
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, SignalLater, &Events[1]), 0);
    ULONG64 start = NowMs();
    ck_assert_int_eq(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_SUCCESS);
    ck_assert_uint_ge(NowMs() - start, 80); /* returned only once the second one was signalled */
    pthread_join(thread, NULL);
    ck_assert_int_eq(KeReadStateEvent(&Events[0]), 0); /* both synchronization events consumed together */
    ck_assert_int_eq(KeReadStateEvent(&Events[1]), 0);
}
END_TEST

START_TEST(wait_with_wait_blocks)
{
    TtInit(0);
    PVOID objects[4];
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&Events[i], NotificationEvent, TRUE);
        objects[i] = &Events[i];
    }
    KWAIT_BLOCK blocks[4];
    ck_assert_int_eq(KeWaitForMultipleObjects(4, objects, WaitAll, Executive, KernelMode, FALSE, NULL, blocks),
                     STATUS_SUCCESS);
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_eq(blocks[i].Object, &Events[i]);
        ck_assert_uint_eq(blocks[i].WaitKey, (unsigned)i);
        ck_assert_uint_eq(blocks[i].WaitType, WaitAll);
    }
}
END_TEST

START_TEST(wait_multiple_stuck_is_reported)
{
    TtInit(100);
    KeInitializeEvent(&Events[0], NotificationEvent, TRUE);
    KeInitializeEvent(&Events[1], NotificationEvent, FALSE);
    PVOID objects[2] = { &Events[0], &Events[1] };
    ck_assert_int_eq(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_TIMEOUT);
    ck_assert_int_eq(StuckReports, 1);
    ck_assert_ptr_eq(StuckObject, &Events[0]);
    ck_assert_str_eq(StuckWhat, "all of several events");
}
END_TEST

START_TEST(too_many_objects_without_wait_blocks_bugchecks)
{
    TtInit(0);
    PVOID objects[4];
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&Events[i], NotificationEvent, TRUE);
        objects[i] = &Events[i];
    }
    KeWaitForMultipleObjects(4, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
}
END_TEST

/* ---- cancel-safe queue --------------------------------------------------- */

typedef struct {
    IO_CSQ Csq; /* first: the callbacks get &Queue.Csq */
    KSPIN_LOCK Lock;
    LIST_ENTRY Irps;
    int Completed;
} TEST_QUEUE;

static TEST_QUEUE Queue;

static VOID QInsert(PIO_CSQ Csq, PIRP Irp)
{
    ck_assert_ptr_eq(Csq, &Queue.Csq);
    InsertTailList(&Queue.Irps, &Irp->Tail.Overlay.ListEntry);
}

static VOID QRemove(PIO_CSQ Csq, PIRP Irp)
{
    (void)Csq;
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
}

static PIRP QPeek(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext)
{
    (void)Csq;
    (void)PeekContext;
    PLIST_ENTRY next = Irp ? Irp->Tail.Overlay.ListEntry.Flink : Queue.Irps.Flink;
    return next == &Queue.Irps ? NULL : CONTAINING_RECORD(next, IRP, Tail.Overlay.ListEntry);
}

static VOID QAcquire(PIO_CSQ Csq, PKIRQL Irql)
{
    (void)Csq;
    KeAcquireSpinLock(&Queue.Lock, Irql);
}

static VOID QRelease(PIO_CSQ Csq, KIRQL Irql)
{
    (void)Csq;
    KeReleaseSpinLock(&Queue.Lock, Irql);
}

static VOID QCompleteCanceled(PIO_CSQ Csq, PIRP Irp)
{
    (void)Csq;
    Queue.Completed++;
    Irp->IoStatus.Status = STATUS_CANCELLED;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

static PIO_CSQ_IRP_CONTEXT NextContext; /* the context the next read is queued with (may be NULL) */

static NTSTATUS QueueRead(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    IoCsqInsertIrp(&Queue.Csq, Irp, NextContext);
    return STATUS_PENDING;
}

/* The queued IRPs, in order, as a string of their indexes in Irps ("02"). */
static const char *QueueContents(PIRP *Irps, int Count)
{
    static char text[16];
    int n = 0;
    for (PLIST_ENTRY e = Queue.Irps.Flink; e != &Queue.Irps && n < 15; e = e->Flink) {
        PIRP irp = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);
        for (int i = 0; i < Count; i++)
            if (Irps[i] == irp)
                text[n++] = (char)('0' + i);
    }
    text[n] = '\0';
    return text;
}

typedef struct {
    KEVENT Event;
    IO_STATUS_BLOCK Iosb;
    char Buffer[4];
} READ_REQUEST;

static PIRP QueueReadRequest(PDEVICE_OBJECT Device, READ_REQUEST *Request, PIO_CSQ_IRP_CONTEXT Context,
                             BOOLEAN CancelFirst)
{
    KeInitializeEvent(&Request->Event, NotificationEvent, FALSE);
    Request->Iosb.Status = STATUS_PENDING;
    PIRP irp = IoBuildSynchronousFsdRequest(IRP_MJ_READ, Device, Request->Buffer, sizeof(Request->Buffer), NULL,
                                            &Request->Event, &Request->Iosb);
    ck_assert_ptr_nonnull(irp);
    irp->Cancel = CancelFirst;
    NextContext = Context;
    ck_assert_int_eq(IoCallDriver(Device, irp), STATUS_PENDING);
    return irp;
}

static void CompleteRead(PIRP Irp)
{
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
}

START_TEST(csq_insert_cancel_remove)
{
    PDEVICE_OBJECT device = StartLegacy();
    device->DriverObject->MajorFunction[IRP_MJ_READ] = QueueRead;
    KeInitializeSpinLock(&Queue.Lock);
    InitializeListHead(&Queue.Irps);
    ck_assert_int_eq(IoCsqInitialize(&Queue.Csq, QInsert, QRemove, QPeek, QAcquire, QRelease, QCompleteCanceled),
                     STATUS_SUCCESS);
    ck_assert_uint_eq(Queue.Csq.Type, IO_TYPE_CSQ);

    static READ_REQUEST req[4];
    IO_CSQ_IRP_CONTEXT ctx0, ctx1;
    PIRP irps[4];
    irps[0] = QueueReadRequest(device, &req[0], &ctx0, FALSE);
    irps[1] = QueueReadRequest(device, &req[1], &ctx1, FALSE);
    irps[2] = QueueReadRequest(device, &req[2], NULL, FALSE);
    ck_assert_str_eq(QueueContents(irps, 3), "012");
    ck_assert_uint_eq(ctx0.Type, IO_TYPE_CSQ_IRP_CONTEXT);
    ck_assert_ptr_eq(ctx1.Irp, irps[1]);
    ck_assert_ptr_eq(ctx1.Csq, &Queue.Csq);
    ck_assert_int_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);

    /* IoCancelIrp on a queued IRP goes through the queue's cancel path */
    ck_assert(IoCancelIrp(irps[1]));
    ck_assert_int_eq(Queue.Completed, 1);
    ck_assert_int_eq(KeReadStateEvent(&req[1].Event), 1);
    ck_assert_int_eq(req[1].Iosb.Status, STATUS_CANCELLED);
    ck_assert_uint_eq(req[1].Iosb.Information, 0);
    ck_assert_str_eq(QueueContents(irps, 3), "02");
    ck_assert_ptr_null(ctx1.Irp);
    ck_assert_ptr_null(IoCsqRemoveIrp(&Queue.Csq, &ctx1)); /* the cancelled context */

    /* removal by context */
    ck_assert_ptr_eq(IoCsqRemoveIrp(&Queue.Csq, &ctx0), irps[0]);
    ck_assert_ptr_null(ctx0.Irp);
    ck_assert_str_eq(QueueContents(irps, 3), "2");
    ck_assert_ptr_null(IoCsqRemoveIrp(&Queue.Csq, &ctx0));
    ck_assert_ptr_null(irps[0]->CancelRoutine);
    ck_assert(!IoCancelIrp(irps[0])); /* no longer cancellable: the remover owns it */
    ck_assert_int_eq(Queue.Completed, 1);
    CompleteRead(irps[0]);
    ck_assert_int_eq(req[0].Iosb.Status, STATUS_SUCCESS);

    /* an IRP cancelled before it was queued is completed at once */
    irps[3] = QueueReadRequest(device, &req[3], NULL, TRUE);
    ck_assert_int_eq(Queue.Completed, 2);
    ck_assert_int_eq(req[3].Iosb.Status, STATUS_CANCELLED);
    ck_assert_str_eq(QueueContents(irps, 3), "2");

    /* removal of the next IRP */
    ck_assert_ptr_eq(IoCsqRemoveNextIrp(&Queue.Csq, NULL), irps[2]);
    ck_assert(IsListEmpty(&Queue.Irps));
    ck_assert_ptr_null(IoCsqRemoveNextIrp(&Queue.Csq, NULL));
    CompleteRead(irps[2]);
    ck_assert_int_eq(req[2].Iosb.Status, STATUS_SUCCESS);
    ck_assert_int_eq(Queue.Completed, 2);
    ck_assert_uint_eq(Queue.Lock, 0);
    ck_assert_int_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_apis");
    TCase *tc = tcase_create("apis");
    tcase_add_test(tc, reference_by_pointer_with_tag);
    tcase_add_test(tc, reference_by_handle_with_tag);
    tcase_add_test(tc, interlocked_lists);
    tcase_add_test(tc, completion_routine_ex_pins_driver);
    tcase_add_test(tc, completion_routine_ex_not_invoked_releases);
    tcase_add_test(tc, initialize_irp_in_caller_memory);
    tcase_add_test_raise_signal(tc, free_of_initialized_irp_bugchecks, SIGABRT);
    tcase_add_test(tc, work_item_ex_receives_item);
    tcase_add_test(tc, synchronous_fsd_requests);
    tcase_add_test(tc, wait_any_returns_signalled_index);
    tcase_add_test(tc, wait_all_waits_for_both);
    tcase_add_test(tc, wait_with_wait_blocks);
    tcase_add_test(tc, wait_multiple_stuck_is_reported);
    tcase_add_test_raise_signal(tc, too_many_objects_without_wait_blocks_bugchecks, SIGABRT);
    tcase_add_test(tc, csq_insert_cancel_remove);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
