/*
 * ntsim_file.c - file objects and the user-mode side (nt-semantics §4,
 * §13.3): open -> IRP_MJ_CREATE with ReferenceCount +1, last handle close ->
 * IRP_MJ_CLEANUP, last reference -> IRP_MJ_CLOSE then ReferenceCount -1;
 * IoGetDeviceObjectPointer's handle-less file object; paths through links
 * and \\.\; failed creates; exclusive devices; DeviceIoControl (immediate and
 * pended to a work item that holds a device reference).
 */
#include <pthread.h>

#include "ntsim_test.h"

static PDEVICE_OBJECT LegacyDevice(void)
{
    return NtsimLookupObject("\\Device\\TdLegacy");
}

static void Start(void)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
}

START_TEST(open_ioctl_close_order_and_counts)
{
    Start();
    PDEVICE_OBJECT device = LegacyDevice();
    TD_LOG *log = TtDriverLog("tdrv_legacy");
    char order[128];
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", GENERIC_READ | GENERIC_WRITE, &h), STATUS_SUCCESS);
    PFILE_OBJECT file = log->Entries[0].FileObject;
    ck_assert_str_eq(TtLogString(log, order, sizeof(order)), "0");
    TtAssertCounts(device, 2, 0, 1);
    TtAssertCounts(file, 1, 1, -1);
    ck_assert_ptr_eq(file->DeviceObject, device);
    ck_assert(file->ReadAccess && file->WriteAccess);

    char in[] = "hello", out[16] = { 0 };
    ULONG bytes = 0;
    ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_ECHO, in, sizeof(in), out, sizeof(out), &bytes), STATUS_SUCCESS);
    ck_assert_int_eq(bytes, sizeof(in));
    ck_assert_str_eq(out, "hello");
    ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_FAIL, NULL, 0, NULL, 0, &bytes), STATUS_NOT_SUPPORTED);
    TtAssertCounts(file, 1, 1, -1); /* the IRPs' file references are gone */
    ck_assert_str_eq(TtLogString(log, order, sizeof(order)), "0,e,e");

    /* a kernel reference keeps the file object after its last handle: CLEANUP now, CLOSE later */
    PVOID referenced;
    ck_assert_int_eq(ObReferenceObjectByHandle(h, 0, *IoFileObjectType, KernelMode, &referenced, NULL),
                     STATUS_SUCCESS);
    ck_assert_ptr_eq(referenced, file);
    TtAssertCounts(file, 2, 1, -1);
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    ck_assert_str_eq(TtLogString(log, order, sizeof(order)), "0,e,e,12");
    TtAssertCounts(file, 1, 0, -1);
    TtAssertCounts(device, 2, 0, 1);
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_INVALID_HANDLE);
    ck_assert_int_eq(ObfDereferenceObject(file), 0);
    ck_assert_str_eq(TtLogString(log, order, sizeof(order)), "0,e,e,12,2");
    TtAssertCounts(device, 2, 0, 0);
    ck_assert(!TtIsLive(file));
}
END_TEST

START_TEST(device_object_pointer_leaves_handleless_file)
{
    Start();
    PDEVICE_OBJECT device = LegacyDevice();
    TD_LOG *log = TtDriverLog("tdrv_legacy");
    char order[64];
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\DosDevices\\TdLegacy");
    PFILE_OBJECT file;
    PDEVICE_OBJECT top;
    ck_assert_int_eq(IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &file, &top), STATUS_SUCCESS);
    ck_assert_ptr_eq(top, device);
    ck_assert_str_eq(TtLogString(log, order, sizeof(order)), "0,12"); /* CREATE then CLEANUP at once */
    TtAssertCounts(file, 1, 0, -1);
    TtAssertCounts(device, 2, 0, 1); /* only the file object is referenced */

    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS); /* deferred by the invisible pin */
    ck_assert_int_eq(log->UnloadCalls, 0);
    ObfDereferenceObject(file); /* CLOSE, ReferenceCount 0, the deferred unload completes */
    ck_assert(!TtImageMapped("tdrv_legacy"));
}
END_TEST

static const struct {
    const char *Path;
    NTSTATUS Status;
} OpenPaths[] = {
    { "\\\\.\\TdLegacy", STATUS_SUCCESS },      { "\\??\\TdLegacy", STATUS_SUCCESS },
    { "\\DosDevices\\tdlegacy", STATUS_SUCCESS }, { "\\GLOBAL??\\TdLegacy", STATUS_SUCCESS },
    { "\\Device\\TdLegacy", STATUS_SUCCESS },   { "\\Device\\TdLegacy\\sub\\file", STATUS_SUCCESS },
    { "\\\\.\\TdLegacy\\sub", STATUS_SUCCESS }, { "\\Device\\Nope", STATUS_OBJECT_NAME_NOT_FOUND },
    { "\\\\.\\Nope", STATUS_OBJECT_NAME_NOT_FOUND }, { "\\Driver\\tdlegacy", STATUS_OBJECT_TYPE_MISMATCH },
};

START_TEST(open_paths)
{
    Start();
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile(OpenPaths[_i].Path, 0, &h), OpenPaths[_i].Status);
    TtAssertCounts(LegacyDevice(), 2, 0, OpenPaths[_i].Status == STATUS_SUCCESS ? 1 : 0);
    if (OpenPaths[_i].Status == STATUS_SUCCESS)
        ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    TtAssertCounts(LegacyDevice(), 2, 0, 0);
}
END_TEST

static NTSTATUS RefuseCreate(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = STATUS_ACCESS_DENIED;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_ACCESS_DENIED;
}

START_TEST(failed_create_restores_reference_count)
{
    Start();
    PDEVICE_OBJECT device = LegacyDevice();
    TD_LOG *log = TtDriverLog("tdrv_legacy");
    PDRIVER_DISPATCH saved = device->DriverObject->MajorFunction[IRP_MJ_CREATE];
    device->DriverObject->MajorFunction[IRP_MJ_CREATE] = RefuseCreate;
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &h), STATUS_ACCESS_DENIED);
    TtAssertCounts(device, 2, 0, 0);
    ck_assert_int_eq(log->Count, 0); /* no CLEANUP or CLOSE for a failed create */
    device->DriverObject->MajorFunction[IRP_MJ_CREATE] = saved;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &h), STATUS_SUCCESS);
}
END_TEST

START_TEST(exclusive_device)
{
    Start();
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\TtExclusive");
    PDEVICE_OBJECT device;
    ck_assert_int_eq(IoCreateDevice(LegacyDevice()->DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, TRUE, &device),
                     STATUS_SUCCESS);
    device->Flags &= ~DO_DEVICE_INITIALIZING;
    HANDLE h1, h2;
    ck_assert_int_eq(NtsimOpenFile("\\Device\\TtExclusive", 0, &h1), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimOpenFile("\\Device\\TtExclusive", 0, &h2), STATUS_ACCESS_DENIED);
    TtAssertCounts(device, 2, 0, 1);
    ck_assert_int_eq(NtsimCloseHandle(h1), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimOpenFile("\\Device\\TtExclusive", 0, &h2), STATUS_SUCCESS);
}
END_TEST

START_TEST(two_opens_two_references)
{
    Start();
    PDEVICE_OBJECT device = LegacyDevice();
    HANDLE a, b;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &a), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &b), STATUS_SUCCESS);
    ck_assert_ptr_ne(a, b);
    TtAssertCounts(device, 2, 0, 2);
    ck_assert_int_eq(NtsimCloseHandle(a), STATUS_SUCCESS);
    TtAssertCounts(device, 2, 0, 1);
    ck_assert_int_eq(NtsimCloseHandle(b), STATUS_SUCCESS);
    TtAssertCounts(device, 2, 0, 0);
}
END_TEST

START_TEST(pended_ioctl_completed_by_work_item)
{
    Start();
    PDEVICE_OBJECT device = LegacyDevice();
    TD_LOG *log = TtDriverLog("tdrv_legacy");
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &h), STATUS_SUCCESS);
    UCHAR out[16];
    ULONG bytes = 0;
    ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_PEND, NULL, 0, out, sizeof(out), &bytes), STATUS_SUCCESS);
    ck_assert_int_eq(bytes, TD_WORK_INFORMATION);
    ck_assert_int_eq(log->WorkItemsRun, 1);
    TtWaitPointerCount(device, 2); /* the work item's device reference goes after its routine */
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    TtAssertCounts(device, 2, 0, 0);
}
END_TEST

static KEVENT WorkGate, WorkDone;

static VOID BlockingWorkRoutine(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    (void)DeviceObject;
    (void)Context;
    KeWaitForSingleObject(&WorkGate, Executive, KernelMode, FALSE, NULL);
    KeSetEvent(&WorkDone, IO_NO_INCREMENT, FALSE);
}

START_TEST(work_item_holds_device_reference)
{
    Start();
    PDEVICE_OBJECT device = LegacyDevice();
    KeInitializeEvent(&WorkGate, NotificationEvent, FALSE);
    KeInitializeEvent(&WorkDone, NotificationEvent, FALSE);
    PIO_WORKITEM item = IoAllocateWorkItem(device);
    ck_assert_ptr_nonnull(item);
    TtAssertCounts(device, 2, 0, 0); /* allocation takes nothing */
    IoQueueWorkItem(item, BlockingWorkRoutine, DelayedWorkQueue, NULL);
    TtAssertCounts(device, 3, 0, 0); /* queued: +1 until the routine returns */
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    ck_assert(TtImageMapped("tdrv_legacy")); /* the device is a zombie held by the work item */
    TtAssertCounts(device, 1, 0, 0);
    KeSetEvent(&WorkGate, IO_NO_INCREMENT, FALSE);
    LARGE_INTEGER timeout = { .QuadPart = -50000000ll };
    ck_assert_int_eq(KeWaitForSingleObject(&WorkDone, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    for (int i = 0; i < 5000 && TtImageMapped("tdrv_legacy"); i++)
        usleep(1000);
    ck_assert(!TtImageMapped("tdrv_legacy"));
    IoFreeWorkItem(item);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_file");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, open_ioctl_close_order_and_counts);
    tcase_add_test(tc, device_object_pointer_leaves_handleless_file);
    tcase_add_loop_test(tc, open_paths, 0, (int)RTL_NUMBER_OF(OpenPaths));
    tcase_add_test(tc, failed_create_restores_reference_count);
    tcase_add_test(tc, exclusive_device);
    tcase_add_test(tc, two_opens_two_references);
    tcase_add_test(tc, pended_ioctl_completed_by_work_item);
    tcase_add_test(tc, work_item_holds_device_reference);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
