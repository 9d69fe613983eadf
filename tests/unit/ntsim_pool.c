/*
 * ntsim_pool.c - pool tracked per block with its tag and the driver image
 * it is charged to: allocations made by a driver image show in
 * NtsimQueryImage, a leak survives the image's unload, the host's own
 * allocations are charged to nobody; a double free, an unknown block and a
 * tag mismatch bug-check BAD_POOL_CALLER.
 */
#include <signal.h>

#include "ntsim_test.h"

static ULONG PoolOf(const char *Service)
{
    NTSIM_IMAGE_INFO info;
    ck_assert_int_eq(NtsimQueryImage(Service, &info), STATUS_SUCCESS);
    return info.PoolAllocations;
}

static PVOID DriverAlloc(HANDLE h, ULONG Size, ULONG Tag)
{
    TD_POOL_REQUEST request = { NULL, Size, Tag };
    PVOID p = NULL;
    ULONG bytes;
    ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_POOL_ALLOC, &request, sizeof(request), &p, sizeof(p), &bytes),
                     STATUS_SUCCESS);
    ck_assert_ptr_nonnull(p);
    return p;
}

static NTSTATUS DriverFree(HANDLE h, PVOID P, ULONG Tag)
{
    TD_POOL_REQUEST request = { P, 0, Tag };
    return NtsimDeviceIoControl(h, TD_IOCTL_POOL_FREE, &request, sizeof(request), NULL, 0, NULL);
}

static HANDLE Start(void)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", 0, &h), STATUS_SUCCESS);
    return h;
}

START_TEST(driver_pool_is_charged_to_its_image)
{
    HANDLE h = Start();
    ck_assert_int_eq(PoolOf("tdlegacy"), 0);
    PVOID a = DriverAlloc(h, 64, 'AtsT');
    PVOID b = DriverAlloc(h, 1, 'BtsT');
    ck_assert_int_eq(PoolOf("tdlegacy"), 2);
    ck_assert_int_eq(DriverFree(h, a, 'AtsT'), STATUS_SUCCESS);
    ck_assert_int_eq(PoolOf("tdlegacy"), 1);
    PVOID host = ExAllocatePoolWithTag(PagedPool, 10, 'tsoH'); /* the host is not a driver image */
    ck_assert_int_eq(PoolOf("tdlegacy"), 1);
    ExFreePoolWithTag(host, 'tsoH');
    PVOID zeroed = ExAllocatePool2(POOL_FLAG_NON_PAGED, 32, 'oreZ');
    for (int i = 0; i < 32; i++)
        ck_assert_int_eq(((UCHAR *)zeroed)[i], 0);
    ExFreePool(zeroed);
    (void)b; /* leaked */
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    ck_assert(!TtImageMapped("tdrv_legacy"));
    ck_assert_int_eq(PoolOf("tdlegacy"), 1); /* the leak outlives the image */
}
END_TEST

START_TEST(double_free_bugchecks)
{
    HANDLE h = Start();
    PVOID a = DriverAlloc(h, 8, 'AtsT');
    ck_assert_int_eq(DriverFree(h, a, 'AtsT'), STATUS_SUCCESS);
    DriverFree(h, a, 'AtsT');
}
END_TEST

START_TEST(unknown_block_bugchecks)
{
    TtInit(0);
    static char notPool[8];
    ExFreePool(notPool);
}
END_TEST

START_TEST(tag_mismatch_bugchecks)
{
    HANDLE h = Start();
    PVOID a = DriverAlloc(h, 8, 'AtsT');
    DriverFree(h, a, 'XtsT');
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, driver_pool_is_charged_to_its_image);
    tcase_add_test_raise_signal(tc, double_free_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, unknown_block_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, tag_mismatch_bugchecks, SIGABRT);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
