/*
 * ntsim_irp.c - IRPs through a two-device stack (an upper device of tdupper
 * attached above \Device\TdLegacy, with dispatch routines from this test):
 * completion routines run bottom-up honouring SL_INVOKE_ON_* and
 * STATUS_MORE_PROCESSING_REQUIRED, PendingReturned propagates,
 * IoBuildDeviceIoControlRequest signals its event and status block; and the
 * IRP bug checks: completing twice, running out of stack locations, calling
 * a device that no longer exists.
 */
#include <signal.h>

#include "ntsim_test.h"

static PDEVICE_OBJECT Lower, Upper;
static char Trace[64];
static int TraceLength;
static BOOLEAN LowerPends;
static PIRP PendedIrp;
static BOOLEAN UpperPendingReturnedSeen;

static void Note(char c)
{
    Trace[TraceLength++] = c;
    Trace[TraceLength] = '\0';
}

static NTSTATUS UpperCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    ck_assert_ptr_eq(DeviceObject, Upper);
    UpperPendingReturnedSeen = Irp->PendingReturned;
    Note((char)(uintptr_t)Context);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    return STATUS_CONTINUE_COMPLETION;
}

/* Upper dispatch: forwards with a completion routine on success only ('u'), or on error ('e') by IOCTL code. */
static NTSTATUS UpperDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Note('U');
    ULONG code = IoGetCurrentIrpStackLocation(Irp)->Parameters.DeviceIoControl.IoControlCode;
    IoCopyCurrentIrpStackLocationToNext(Irp);
    if (code == 1)
        IoSetCompletionRoutine(Irp, UpperCompletion, (PVOID)'u', TRUE, FALSE, FALSE);
    else
        IoSetCompletionRoutine(Irp, UpperCompletion, (PVOID)'e', FALSE, TRUE, FALSE);
    return IoCallDriver(Lower, Irp);
}

static NTSTATUS LowerDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Note('L');
    if (LowerPends) {
        IoMarkIrpPending(Irp);
        PendedIrp = Irp;
        return STATUS_PENDING;
    }
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 3;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static void StartStack(void)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    TtStart("tdupper", "tdrv_upper");
    Lower = NtsimLookupObject("\\Device\\TdLegacy");
    PDRIVER_OBJECT upperDriver = NtsimLookupObject("\\Driver\\tdupper");
    ck_assert_int_eq(IoCreateDevice(upperDriver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &Upper), STATUS_SUCCESS);
    ck_assert_ptr_eq(IoAttachDeviceToDeviceStack(Upper, Lower), Lower);
    Upper->Flags &= ~DO_DEVICE_INITIALIZING;
    upperDriver->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = UpperDispatch;
    Lower->DriverObject->MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = LowerDispatch;
    TraceLength = 0;
    Trace[0] = '\0';
}

static NTSTATUS SendInternal(ULONG Code, PIO_STATUS_BLOCK Iosb, PKEVENT Event)
{
    KeInitializeEvent(Event, NotificationEvent, FALSE);
    static UCHAR in[4] = { 1, 2, 3, 4 }, out[4]; /* outlive a pended request */
    PIRP irp = IoBuildDeviceIoControlRequest(Code, Upper, in, sizeof(in), out, sizeof(out), TRUE, Event, Iosb);
    ck_assert_ptr_nonnull(irp);
    ck_assert_int_eq(irp->StackCount, 2);
    ck_assert_int_eq(irp->CurrentLocation, 3);
    return IoCallDriver(Upper, irp);
}

START_TEST(completion_routines_bottom_up)
{
    StartStack();
    IO_STATUS_BLOCK iosb = { { 0 }, 0 };
    KEVENT event;
    ck_assert_int_eq(SendInternal(1, &iosb, &event), STATUS_SUCCESS);
    ck_assert_str_eq(Trace, "ULu"); /* dispatch top-down, completion bottom-up */
    ck_assert_int_eq(KeReadStateEvent(&event), 1);
    ck_assert_int_eq(iosb.Status, STATUS_SUCCESS);
    ck_assert_int_eq(iosb.Information, 3);
    ck_assert(!UpperPendingReturnedSeen);
    TraceLength = 0;
    ck_assert_int_eq(SendInternal(2, &iosb, &event), STATUS_SUCCESS);
    ck_assert_str_eq(Trace, "UL"); /* the on-error routine is skipped on success */
}
END_TEST

START_TEST(pending_returned_propagates)
{
    StartStack();
    LowerPends = TRUE;
    IO_STATUS_BLOCK iosb = { { 0 }, 0 };
    KEVENT event;
    ck_assert_int_eq(SendInternal(1, &iosb, &event), STATUS_PENDING);
    ck_assert_int_eq(KeReadStateEvent(&event), 0);
    PendedIrp->IoStatus.Status = STATUS_SUCCESS;
    PendedIrp->IoStatus.Information = 1;
    IoCompleteRequest(PendedIrp, IO_NO_INCREMENT);
    ck_assert(UpperPendingReturnedSeen);
    ck_assert_str_eq(Trace, "ULu");
    ck_assert_int_eq(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(iosb.Information, 1);
}
END_TEST

static KEVENT ReclaimEvent;

static NTSTATUS ReclaimCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    (void)DeviceObject;
    (void)Irp;
    (void)Context;
    Note('r');
    KeSetEvent(&ReclaimEvent, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

START_TEST(more_processing_required_stops_completion)
{
    StartStack();
    /* a driver-allocated IRP sent to the lower device; the sender's routine takes it back */
    PIRP irp = IoAllocateIrp(Lower->StackSize, FALSE);
    PIO_STACK_LOCATION sp = IoGetNextIrpStackLocation(irp);
    sp->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    KeInitializeEvent(&ReclaimEvent, NotificationEvent, FALSE);
    IoSetCompletionRoutine(irp, ReclaimCompletion, NULL, TRUE, TRUE, TRUE);
    ck_assert_int_eq(IoCallDriver(Lower, irp), STATUS_SUCCESS);
    ck_assert_str_eq(Trace, "Lr");
    ck_assert_int_eq(KeReadStateEvent(&ReclaimEvent), 1);
    ck_assert_int_eq(irp->IoStatus.Information, 3);
    IoReuseIrp(irp, STATUS_SUCCESS);
    ck_assert_int_eq(irp->CurrentLocation, irp->StackCount + 1);
    IoFreeIrp(irp);
}
END_TEST

START_TEST(double_completion_bugchecks)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &h), STATUS_SUCCESS);
    NtsimDeviceIoControl(h, TD_IOCTL_COMPLETE_TWICE, NULL, 0, NULL, 0, NULL);
}
END_TEST

START_TEST(no_more_stack_locations_bugchecks)
{
    StartStack();
    PIRP irp = IoAllocateIrp(1, FALSE); /* one location for a two-device stack */
    IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    IoCallDriver(Upper, irp);
}
END_TEST

START_TEST(call_into_freed_device_bugchecks)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDEVICE_OBJECT stale = NtsimLookupObject("\\Device\\TdLegacy"); /* kept without a reference */
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoCallDriver(stale, irp);
}
END_TEST

START_TEST(work_item_into_unmapped_image_bugchecks)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    TtStart("tdupper", "tdrv_upper");
    PDEVICE_OBJECT device = NtsimLookupObject("\\Device\\TdUpper");
    char path[4096];
    void *image = dlopen(TtImagePath("tdrv_legacy", path, sizeof(path)), RTLD_LAZY | RTLD_NOLOAD);
    PIO_WORKITEM_ROUTINE routine = (PIO_WORKITEM_ROUTINE)dlsym(image, "DriverEntry");
    dlclose(image);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    ck_assert(!TtImageMapped("tdrv_legacy"));
    IoQueueWorkItem(IoAllocateWorkItem(device), routine, DelayedWorkQueue, NULL); /* 0xCE on the worker */
    LARGE_INTEGER wait = { .QuadPart = -20000000ll };
    KeDelayExecutionThread(KernelMode, FALSE, &wait);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_irp");
    TCase *tc = tcase_create("irp");
    tcase_add_test(tc, completion_routines_bottom_up);
    tcase_add_test(tc, pending_returned_propagates);
    tcase_add_test(tc, more_processing_required_stops_completion);
    tcase_add_test_raise_signal(tc, double_completion_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, no_more_stack_locations_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, call_into_freed_device_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, work_item_into_unmapped_image_bugchecks, SIGABRT);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
