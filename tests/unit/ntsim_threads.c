/*
 * ntsim_threads.c - several threads open, send IOCTLs (immediate and
 * pended to work items) and close handles on a legacy driver while another
 * stops the service: every open either succeeds or is refused cleanly, the
 * stop is deferred until the last close, and in the end the driver's image
 * is unmapped with every count back to zero.
 */
#include <pthread.h>

#include "ntsim_test.h"

#define THREADS 6
#define ROUNDS 150

static volatile int StopRequested;
static long Opened, Refused;

static void *Client(void *Arg)
{
    (void)Arg;
    for (int i = 0; i < ROUNDS; i++) {
        HANDLE h;
        NTSTATUS status = NtsimOpenFile("\\\\.\\TdLegacy", 0, &h);
        if (status != STATUS_SUCCESS) {
            ck_assert_msg(status == STATUS_NO_SUCH_DEVICE || status == STATUS_OBJECT_NAME_NOT_FOUND, "open: %s",
                          NtsimStatusName(status));
            __atomic_add_fetch(&Refused, 1, __ATOMIC_SEQ_CST);
            continue;
        }
        __atomic_add_fetch(&Opened, 1, __ATOMIC_SEQ_CST);
        char buffer[8] = "x";
        ULONG bytes;
        ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_ECHO, buffer, 2, buffer, sizeof(buffer), &bytes),
                         STATUS_SUCCESS);
        if (i % 10 == 0)
            ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_PEND, NULL, 0, buffer, sizeof(buffer), &bytes),
                             STATUS_SUCCESS);
        ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    }
    return NULL;
}

START_TEST(concurrent_open_ioctl_close_and_stop)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDRIVER_OBJECT driver = NtsimLookupObject("\\Driver\\tdlegacy");
    ObfReferenceObject(driver); /* watch the driver object until the end */
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, Client, NULL);
    usleep(20000);
    NTSTATUS stop = NtsimStopService("tdlegacy");
    ck_assert_msg(stop == STATUS_SUCCESS, "stop: %s", NtsimStatusName(stop));
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(Opened + Refused, THREADS * ROUNDS);
    ck_assert_int_gt(Opened, 0);
    for (int i = 0; i < 5000; i++) { /* work items drop their device references after the IRPs complete */
        NTSIM_IMAGE_INFO info;
        NtsimQueryImage("tdlegacy", &info);
        if (info.UnloadCalled && info.DriverPointerCount == 1)
            break;
        usleep(1000);
    }
    NTSIM_IMAGE_INFO info;
    NtsimQueryImage("tdlegacy", &info);
    ck_assert(info.UnloadCalled);
    TtAssertCounts(driver, 1, 0, -1); /* only the test's reference */
    ck_assert_ptr_null(driver->DeviceObject);
    ObfDereferenceObject(driver);
    ck_assert(!TtImageMapped("tdrv_legacy"));
}
END_TEST

static void *Starter(void *Arg)
{
    return (void *)(intptr_t)NtsimStartService((const char *)Arg);
}

START_TEST(concurrent_starts_load_once)
{
    TtInit(0);
    ck_assert_int_eq(NtsimInstallService("tdlegacy", "tdrv_legacy.so"), STATUS_SUCCESS);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, Starter, "tdlegacy");
    int ok = 0, already = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        NTSTATUS status = (NTSTATUS)(intptr_t)r;
        ok += status == STATUS_SUCCESS;
        already += status == STATUS_IMAGE_ALREADY_LOADED;
    }
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(already, 3);
    NTSIM_IMAGE_INFO info;
    NtsimQueryImage("tdlegacy", &info);
    ck_assert_int_eq(info.LoadCount, 1);
    ck_assert_int_eq(info.DriverPointerCount, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, concurrent_open_ioctl_close_and_stop);
    tcase_add_test(tc, concurrent_starts_load_once);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
