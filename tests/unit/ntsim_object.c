/*
 * ntsim_object.c - the object manager (nt-semantics §1): pointer and handle
 * counts kept apart, a handle owning one of each, permanent named objects
 * surviving until made temporary, deferred deletion, lookups through
 * symbolic links, stable ids, the bug checks for a dereference below zero
 * or below the handle count, and the one-line STOP message.
 */
#include <signal.h>
#include <sys/wait.h>

#include "ntsim_test.h"

static PVOID NewObject(PCWSTR Name, ULONG Attributes)
{
    UNICODE_STRING name;
    PVOID object = NULL;
    if (Name)
        RtlInitUnicodeString(&name, Name);
    ck_assert_int_eq(ObCreateObject(*ExEventObjectType, Name ? &name : NULL, Attributes, sizeof(KEVENT), &object),
                     STATUS_SUCCESS);
    return object;
}

START_TEST(pointer_and_handle_counts)
{
    TtInit(0);
    PVOID o = NewObject(NULL, 0);
    TtAssertCounts(o, 1, 0, -1);
    ck_assert_str_eq(TtQuery(o).TypeName, "Event");
    ck_assert_int_eq(ObfReferenceObject(o), 2);
    ck_assert_int_eq(ObGetObjectPointerCount(o), 2);
    HANDLE h;
    ck_assert_int_eq(ObOpenObjectByPointer(o, 0, NULL, 0, *ExEventObjectType, KernelMode, &h), STATUS_SUCCESS);
    TtAssertCounts(o, 3, 1, -1);
    PVOID again;
    ck_assert_int_eq(ObReferenceObjectByHandle(h, 0, *IoFileObjectType, KernelMode, &again, NULL),
                     STATUS_OBJECT_TYPE_MISMATCH);
    ck_assert_int_eq(ObReferenceObjectByHandle(h, 0, *ExEventObjectType, KernelMode, &again, NULL), STATUS_SUCCESS);
    ck_assert_ptr_eq(again, o);
    TtAssertCounts(o, 4, 1, -1);
    ck_assert_int_eq(ObReferenceObjectByPointer(o, 0, *IoDeviceObjectType, KernelMode), STATUS_OBJECT_TYPE_MISMATCH);
    ck_assert_int_eq(ObReferenceObjectByPointer(o, 0, *ExEventObjectType, KernelMode), STATUS_SUCCESS);
    TtAssertCounts(o, 5, 1, -1);
    ck_assert_int_eq(ObfDereferenceObject(o), 4);
    ck_assert_int_eq(ObfDereferenceObjectWithTag(o, 'gaTT'), 3);
    ck_assert_int_eq(ZwClose(h), STATUS_SUCCESS);
    TtAssertCounts(o, 2, 0, -1);
    ck_assert_int_eq(ZwClose(h), STATUS_INVALID_HANDLE);
    ck_assert_int_eq(ObfDereferenceObject(o), 1);
    ck_assert_int_eq(ObfDereferenceObject(o), 0);
    ck_assert(!TtIsLive(o));
    NTSIM_OBJECT_INFO info;
    ck_assert_int_eq(NtsimQueryObject(o, &info), STATUS_INVALID_PARAMETER);
    ck_assert_int_eq(NtsimQueryObject((PVOID)&info, &info), STATUS_INVALID_PARAMETER);
}
END_TEST

/* A tracer queries the object ObCreateObject returned before IoCreateDevice has filled it in. */
START_TEST(query_of_a_device_body_not_yet_initialized)
{
    TtInit(0);
    PVOID device;
    ck_assert_int_eq(ObCreateObject(*IoDeviceObjectType, NULL, 0, sizeof(DEVICE_OBJECT), &device), STATUS_SUCCESS);
    NTSIM_OBJECT_INFO info;
    ck_assert_int_eq(NtsimQueryObject(device, &info), STATUS_SUCCESS);
    ck_assert_str_eq(info.TypeName, "Device");
    ck_assert_int_eq(info.PointerCount, 1);
    ck_assert_int_eq(info.ExtensionFlags, 0);
}
END_TEST

START_TEST(ids_are_stable_and_unique)
{
    TtInit(0);
    PVOID a = NewObject(NULL, 0), b = NewObject(NULL, 0);
    ULONG64 idA = TtQuery(a).Id, idB = TtQuery(b).Id;
    ck_assert(idA != 0 && idB > idA);
    ObfReferenceObject(a);
    ck_assert(TtQuery(a).Id == idA);
    ObfDereferenceObject(a);
    ObfDereferenceObject(a);
    PVOID c = NewObject(NULL, 0);
    ck_assert(TtQuery(c).Id > idB); /* never reused, even at a reused address */
}
END_TEST

START_TEST(permanent_named_object)
{
    TtInit(0);
    PVOID o = NewObject(L"\\TtObject", OBJ_PERMANENT);
    TtAssertCounts(o, 2, 0, -1); /* creator + namespace */
    ck_assert(TtQuery(o).Permanent);
    ck_assert_str_eq(TtQuery(o).Name, "\\TtObject");
    ck_assert_ptr_eq(NtsimLookupObject("\\ttobject"), o);
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\TtObject");
    PVOID dup;
    ck_assert_int_eq(ObCreateObject(*ExEventObjectType, &name, 0, 8, &dup), STATUS_OBJECT_NAME_COLLISION);
    ck_assert_int_eq(ObfDereferenceObject(o), 1); /* the creator lets go: the name keeps it */
    ck_assert_ptr_eq(NtsimLookupObject("\\TtObject"), o);
    ObMakeTemporaryObject(o); /* the name and its reference go: deleted */
    ck_assert(!TtIsLive(o));
    ck_assert_ptr_null(NtsimLookupObject("\\TtObject"));
}
END_TEST

START_TEST(symbolic_links)
{
    TtInit(0);
    PVOID o = NewObject(L"\\Device\\TtTarget", OBJ_PERMANENT);
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\TtLink");
    UNICODE_STRING target = RTL_CONSTANT_STRING(L"\\Device\\TtTarget");
    ck_assert_int_eq(IoCreateSymbolicLink(&link, &target), STATUS_SUCCESS);
    ck_assert_int_eq(IoCreateSymbolicLink(&link, &target), STATUS_OBJECT_NAME_COLLISION);
    TtAssertCounts(o, 2, 0, -1); /* a link references nothing */
    ck_assert_ptr_eq(NtsimLookupObject("\\??\\TtLink"), o);
    ck_assert_ptr_eq(NtsimLookupObject("\\\\.\\ttlink"), o);
    ck_assert_ptr_eq(NtsimLookupObject("\\GLOBAL??\\TtLink"), o);
    ck_assert_int_eq(IoDeleteSymbolicLink(&link), STATUS_SUCCESS);
    ck_assert_int_eq(IoDeleteSymbolicLink(&link), STATUS_OBJECT_NAME_NOT_FOUND);
    ck_assert_ptr_null(NtsimLookupObject("\\??\\TtLink"));
    TtAssertCounts(o, 2, 0, -1);
}
END_TEST

START_TEST(deferred_delete_runs_on_a_worker)
{
    TtInit(0);
    PVOID o = NewObject(NULL, 0);
    ObfReferenceObject(o);
    ObDereferenceObjectDeferDelete(o);
    TtAssertCounts(o, 1, 0, -1);
    ObDereferenceObjectDeferDeleteWithTag(o, 'fedT');
    for (int i = 0; i < 5000 && TtIsLive(o); i++)
        usleep(1000);
    ck_assert(!TtIsLive(o));
}
END_TEST

START_TEST(dereference_below_zero_bugchecks)
{
    TtInit(0);
    PVOID o = NewObject(NULL, 0);
    ObfReferenceObject(o);
    ObfDereferenceObject(o);
    ObfDereferenceObject(o);
    ObfDereferenceObject(o); /* a dead object: REFERENCE_BY_POINTER */
}
END_TEST

START_TEST(dereference_below_handle_count_bugchecks)
{
    TtInit(0);
    PVOID o = NewObject(NULL, 0);
    HANDLE h;
    ck_assert_int_eq(ObOpenObjectByPointer(o, 0, NULL, 0, NULL, KernelMode, &h), STATUS_SUCCESS);
    ObfDereferenceObject(o); /* 1 */
    ObfDereferenceObject(o); /* would be 0 with a handle open */
}
END_TEST

/* Runs Action in a child with stderr captured; returns the child's stderr and wait status. */
static int CaptureChild(void (*Action)(void), char *Output, size_t Size)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        Action();
        _exit(0);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < Size && (n = read(fds[0], Output + used, Size - 1 - used)) > 0)
        used += (size_t)n;
    Output[used] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return status;
}

static void OverDereferenceNamedDevice(void)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PVOID device = NtsimLookupObject("\\Device\\TdLegacy");
    ObfDereferenceObject(device);
    ObfDereferenceObject(device); /* would free a device still on its driver's list: this one hits 0 */
    ObfDereferenceObject(device);
}

START_TEST(bugcheck_message_names_the_object)
{
    char output[2048];
    int status = CaptureChild(OverDereferenceNamedDevice, output, sizeof(output));
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    ck_assert_msg(strstr(output, "*** STOP 0x00000018 REFERENCE_BY_POINTER (") != NULL, "got: %s", output);
}
END_TEST

static void DereferenceWithHandle(void)
{
    TtInit(0);
    PVOID o = NewObject(L"\\TtNamedEvent", OBJ_PERMANENT);
    HANDLE h;
    ObOpenObjectByPointer(o, 0, NULL, 0, NULL, KernelMode, &h);
    ObMakeTemporaryObject(o); /* a handle is open: the name stays (PC 3, HC 1) */
    ObfDereferenceObject(o);  /* the creator's: 2 */
    ObfDereferenceObject(o);  /* a leak's release too many: 1 */
    ObfDereferenceObject(o);  /* below the handle count */
}

START_TEST(bugcheck_message_for_named_object)
{
    char output[2048];
    int status = CaptureChild(DereferenceWithHandle, output, sizeof(output));
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    ck_assert_msg(strstr(output, "*** STOP 0x00000018 REFERENCE_BY_POINTER (object \\TtNamedEvent, ") != NULL,
                  "got: %s", output);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_object");
    TCase *tc = tcase_create("object");
    tcase_add_test(tc, pointer_and_handle_counts);
    tcase_add_test(tc, query_of_a_device_body_not_yet_initialized);
    tcase_add_test(tc, ids_are_stable_and_unique);
    tcase_add_test(tc, permanent_named_object);
    tcase_add_test(tc, symbolic_links);
    tcase_add_test(tc, deferred_delete_runs_on_a_worker);
    tcase_add_test_raise_signal(tc, dereference_below_zero_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, dereference_below_handle_count_bugchecks, SIGABRT);
    tcase_add_test(tc, bugcheck_message_names_the_object);
    tcase_add_test(tc, bugcheck_message_for_named_object);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
