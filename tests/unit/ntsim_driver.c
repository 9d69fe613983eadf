/*
 * ntsim_driver.c - driver load and unload (nt-semantics §3, §13.2): counts
 * after DriverEntry, the legacy stop (refused for PnP drivers and drivers
 * without DriverUnload, deferred while a file is open and completed by the
 * last close, STATUS_DELETE_PENDING once DriverUnload ran), DriverUnload and the
 * image unmap as separate events, a reload refused while the previous
 * instance is mapped, and a failed DriverEntry. Image presence is checked
 * with dl_iterate_phdr.
 */
#include "ntsim_test.h"

static PDRIVER_OBJECT Driver(const char *Service)
{
    char path[300];
    snprintf(path, sizeof(path), "\\Driver\\%s", Service);
    return NtsimLookupObject(path);
}

static NTSIM_IMAGE_INFO Image(const char *Service)
{
    NTSIM_IMAGE_INFO info;
    ck_assert_int_eq(NtsimQueryImage(Service, &info), STATUS_SUCCESS);
    return info;
}

START_TEST(load_counts)
{
    TtInit(0);
    ck_assert(!TtImageMapped("tdrv_legacy"));
    TtStart("tdlegacy", "tdrv_legacy");
    ck_assert(TtImageMapped("tdrv_legacy"));
    PDRIVER_OBJECT driver = Driver("tdlegacy");
    PDEVICE_OBJECT device = NtsimLookupObject("\\Device\\TdLegacy");
    ck_assert_ptr_nonnull(driver);
    ck_assert_ptr_nonnull(device);
    ck_assert_ptr_eq(NtsimLookupObject("\\DosDevices\\TdLegacy"), device); /* the link resolves */
    ck_assert_ptr_eq(NtsimLookupObject("\\??\\tdlegacy"), device);
    TtAssertCounts(driver, 3, 0, -1); /* load reference + namespace + the device */
    TtAssertCounts(device, 2, 0, 0);  /* keep-alive + namespace */
    ck_assert(!(device->Flags & DO_DEVICE_INITIALIZING)); /* cleared after DriverEntry */
    ck_assert(driver->Flags & DRVO_INITIALIZED);
    ck_assert(driver->Flags & DRVO_LEGACY_DRIVER);
    ck_assert(TtQuery(driver).Permanent);
    ck_assert(TtQuery(device).Permanent);
    NTSIM_IMAGE_INFO info = Image("tdlegacy");
    ck_assert_int_eq(info.State, NtsimImageLoaded);
    ck_assert(info.Mapped);
    ck_assert(!info.UnloadCalled);
    ck_assert(!info.IsPnp);
    ck_assert_int_eq(info.LoadCount, 1);
    ck_assert_int_eq(info.DriverPointerCount, 3);
    ck_assert_int_eq(info.DeviceCount, 1);
    ck_assert_int_eq(info.LastLoadStatus, STATUS_SUCCESS);
    ck_assert_int_eq(NtsimStartService("tdlegacy"), STATUS_IMAGE_ALREADY_LOADED);
}
END_TEST

START_TEST(stop_unloads_and_unmaps)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    TD_LOG *log = TtDriverLog("tdrv_legacy");
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    (void)log; /* unmapped now: not to be read */
    ck_assert(!TtImageMapped("tdrv_legacy"));
    ck_assert_ptr_null(Driver("tdlegacy"));
    ck_assert_ptr_null(NtsimLookupObject("\\Device\\TdLegacy"));
    ck_assert_ptr_null(NtsimLookupObject("\\DosDevices\\TdLegacy"));
    NTSIM_IMAGE_INFO info = Image("tdlegacy");
    ck_assert_int_eq(info.State, NtsimImageNotLoaded);
    ck_assert(!info.Mapped);
    ck_assert(info.UnloadCalled);
    ck_assert_int_eq(info.DriverPointerCount, 0);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_OBJECT_NAME_NOT_FOUND);
    /* a fresh instance loads again */
    ck_assert_int_eq(NtsimStartService("tdlegacy"), STATUS_SUCCESS);
    ck_assert(TtImageMapped("tdrv_legacy"));
    ck_assert_int_eq(Image("tdlegacy").LoadCount, 2);
    ck_assert(!Image("tdlegacy").UnloadCalled);
}
END_TEST

/* Legacy stop refusals, table-driven. */
static const struct {
    const char *Service, *Image;
    NTSTATUS Stop;
    BOOLEAN IsPnp;
} StopRefusals[] = {
    { "tdpnp", "tdrv_pnp", STATUS_INVALID_DEVICE_REQUEST, TRUE },
    { "tdnounload", "tdrv_nounload", STATUS_INVALID_DEVICE_REQUEST, FALSE },
};

START_TEST(stop_refused)
{
    TtInit(0);
    TtStart(StopRefusals[_i].Service, StopRefusals[_i].Image);
    PDRIVER_OBJECT driver = Driver(StopRefusals[_i].Service);
    LONG_PTR before = TtQuery(driver).PointerCount;
    ck_assert_int_eq(NtsimStopService(StopRefusals[_i].Service), StopRefusals[_i].Stop);
    ck_assert_int_eq(NtsimStopService(StopRefusals[_i].Service), StopRefusals[_i].Stop);
    NTSIM_IMAGE_INFO info = Image(StopRefusals[_i].Service);
    ck_assert_int_eq(info.State, NtsimImageLoaded);
    ck_assert(info.Mapped);
    ck_assert(!info.UnloadCalled);
    ck_assert_int_eq(info.IsPnp, StopRefusals[_i].IsPnp);
    ck_assert(TtImageMapped(StopRefusals[_i].Image));
    TtAssertCounts(driver, before, 0, -1);
    ck_assert(!(driver->Flags & DRVO_UNLOAD_INVOKED));
}
END_TEST

START_TEST(stop_unknown_service)
{
    TtInit(0);
    ck_assert_int_eq(NtsimStopService("nosuch"), STATUS_OBJECT_NAME_NOT_FOUND);
    ck_assert_int_eq(NtsimStartService("nosuch"), STATUS_OBJECT_NAME_NOT_FOUND);
    ck_assert_int_eq(NtsimInstallService("tdlegacy", "tdrv_legacy.so"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimInstallService("tdlegacy", "tdrv_legacy.so"), STATUS_OBJECT_NAME_COLLISION);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_OBJECT_NAME_NOT_FOUND); /* never started */
    ck_assert_int_eq(NtsimInstallService("tdmissing", "no_such_image.so"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimStartService("tdmissing"), STATUS_DLL_NOT_FOUND);
    ck_assert_int_eq(Image("tdmissing").LastLoadStatus, STATUS_DLL_NOT_FOUND);
}
END_TEST

START_TEST(stop_deferred_until_last_close)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDRIVER_OBJECT driver = Driver("tdlegacy");
    PDEVICE_OBJECT device = NtsimLookupObject("\\Device\\TdLegacy");
    TD_LOG *log = TtDriverLog("tdrv_legacy");
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", GENERIC_READ, &h), STATUS_SUCCESS);
    TtAssertCounts(device, 2, 0, 1);

    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS); /* accepted, deferred */
    ck_assert_int_eq(log->UnloadCalls, 0);
    ck_assert(TtQuery(device).ExtensionFlags & DOE_UNLOAD_PENDING);
    TtAssertCounts(driver, 3, 0, -1);
    TtAssertCounts(device, 2, 0, 1);
    NTSIM_IMAGE_INFO info = Image("tdlegacy");
    ck_assert_int_eq(info.State, NtsimImageUnloadPending);
    ck_assert(!info.UnloadCalled);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS); /* repeated: still accepted, still deferred */
    ck_assert_int_eq(log->UnloadCalls, 0);

    HANDLE h2;
    ck_assert_int_eq(NtsimOpenFile("\\\\.\\TdLegacy", GENERIC_READ, &h2), STATUS_NO_SUCH_DEVICE);
    TtAssertCounts(device, 2, 0, 1);

    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS); /* the last close completes the unload */
    ck_assert(!TtImageMapped("tdrv_legacy"));
    info = Image("tdlegacy");
    ck_assert_int_eq(info.State, NtsimImageNotLoaded);
    ck_assert(info.UnloadCalled);
}
END_TEST

START_TEST(zombie_device_pins_image_and_refuses_reload)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDRIVER_OBJECT driver = Driver("tdlegacy");
    PDEVICE_OBJECT device = NtsimLookupObject("\\Device\\TdLegacy");
    ck_assert_int_eq(ObfReferenceObject(device), 3); /* a leaked reference */
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    /* DriverUnload ran and deleted the device: unlinked zombie, still pinning the driver */
    TtAssertCounts(device, 1, 0, 0);
    ck_assert(TtQuery(device).ExtensionFlags & DOE_DELETE_PENDING);
    ck_assert_ptr_null(driver->DeviceObject);
    TtAssertCounts(driver, 1, 0, -1);
    ck_assert(driver->Flags & DRVO_UNLOAD_INVOKED);
    ck_assert(!TtQuery(driver).Permanent);
    ck_assert_ptr_null(Driver("tdlegacy")); /* the name went with the unload */
    ck_assert(TtImageMapped("tdrv_legacy"));
    NTSIM_IMAGE_INFO info = Image("tdlegacy");
    ck_assert_int_eq(info.State, NtsimImageResidentAfterUnload);
    ck_assert(info.UnloadCalled);
    ck_assert_int_eq(info.DriverPointerCount, 1);
    ck_assert_int_eq(info.DeviceCount, 0);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_DELETE_PENDING);

    ck_assert_int_eq(NtsimStartService("tdlegacy"), STATUS_IMAGE_ALREADY_LOADED);
    ck_assert_int_eq(Image("tdlegacy").LastLoadStatus, STATUS_IMAGE_ALREADY_LOADED);
    ck_assert_int_eq(Image("tdlegacy").LoadCount, 1);

    ck_assert_int_eq(ObfDereferenceObject(device), 0); /* the leak is fixed: device, driver, image go */
    ck_assert(!TtIsLive(device));
    ck_assert(!TtIsLive(driver));
    ck_assert(!TtImageMapped("tdrv_legacy"));
    ck_assert_int_eq(NtsimStartService("tdlegacy"), STATUS_SUCCESS);
    ck_assert_int_eq(Image("tdlegacy").LoadCount, 2);
}
END_TEST

START_TEST(leaked_driver_reference_pins_image)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDRIVER_OBJECT driver = Driver("tdlegacy");
    ck_assert_int_eq(ObfReferenceObjectWithTag(driver, 'kaeL'), 4);
    ck_assert_int_eq(NtsimStopService("tdlegacy"), STATUS_SUCCESS);
    TtAssertCounts(driver, 1, 0, -1);
    ck_assert(TtImageMapped("tdrv_legacy"));
    ck_assert_int_eq(Image("tdlegacy").State, NtsimImageResidentAfterUnload);
    ck_assert_int_eq(ObfDereferenceObjectWithTag(driver, 'kaeL'), 0);
    ck_assert(!TtImageMapped("tdrv_legacy"));
}
END_TEST

START_TEST(failed_driver_entry_unmaps_without_unload)
{
    TtInit(0);
    ck_assert_int_eq(NtsimInstallService("tdfail", "tdrv_fail.so"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimStartService("tdfail"), STATUS_INSUFFICIENT_RESOURCES);
    ck_assert(!TtImageMapped("tdrv_fail"));
    ck_assert_ptr_null(Driver("tdfail"));
    NTSIM_IMAGE_INFO info = Image("tdfail");
    ck_assert_int_eq(info.State, NtsimImageNotLoaded);
    ck_assert(!info.UnloadCalled);
    ck_assert_int_eq(info.LoadCount, 0);
    ck_assert_int_eq(info.LastLoadStatus, STATUS_INSUFFICIENT_RESOURCES);
    /* the image can be tried again: nothing of it stayed */
    ck_assert_int_eq(NtsimStartService("tdfail"), STATUS_INSUFFICIENT_RESOURCES);
}
END_TEST

START_TEST(failed_driver_entry_with_device_stays_mapped)
{
    TtInit(0);
    ck_assert_int_eq(NtsimInstallService("tdfailzombie", "tdrv_fail.so"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimStartService("tdfailzombie"), STATUS_INSUFFICIENT_RESOURCES);
    ck_assert(TtImageMapped("tdrv_fail")); /* its undeleted device holds the driver object */
    NTSIM_IMAGE_INFO info = Image("tdfailzombie");
    ck_assert(info.Mapped);
    ck_assert(!info.UnloadCalled);
    ck_assert_int_eq(info.DriverPointerCount, 1);
    ck_assert_int_eq(info.DeviceCount, 1);
    ck_assert_ptr_null(Driver("tdfailzombie")); /* made temporary */
}
END_TEST

static BOOLEAN CountService(const char *Name, PVOID Context)
{
    (void)Name;
    (*(int *)Context)++;
    return TRUE;
}

START_TEST(enumerate_loaded_services)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    TtStart("tdpnp", "tdrv_pnp");
    ck_assert_int_eq(NtsimInstallService("tdidle", "tdrv_upper.so"), STATUS_SUCCESS);
    int n = 0;
    NtsimEnumerateServices(CountService, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(NtsimDeleteService("tdidle"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimQueryImage("tdidle", &(NTSIM_IMAGE_INFO){ 0 }), STATUS_OBJECT_NAME_NOT_FOUND);
    ck_assert_str_eq(NtsimStatusName(STATUS_IMAGE_ALREADY_LOADED), "STATUS_IMAGE_ALREADY_LOADED");
    ck_assert_str_eq(NtsimStatusName(0x12345678), "0x12345678");
}
END_TEST

/* A DriverUnload stuck in a wait that never ends costs the host STATUS_TIMEOUT, not a hang. */
START_TEST(stop_of_a_stuck_driver_unload_returns)
{
    TtInit(200);
    TtStart("tdstuck", "tdrv_stuckunload");
    struct timespec begin, end;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    ck_assert_int_eq(NtsimStopService("tdstuck"), STATUS_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &end);
    ck_assert_int_lt(end.tv_sec - begin.tv_sec, 10); /* bounded by the stuck-wait limit, not forever */
    NTSIM_IMAGE_INFO info = Image("tdstuck");
    ck_assert(info.Mapped);
    ck_assert_int_eq(NtsimStopService("tdstuck"), STATUS_TIMEOUT); /* the system thread is still stuck */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_driver");
    TCase *tc = tcase_create("driver");
    tcase_add_test(tc, load_counts);
    tcase_add_test(tc, stop_unloads_and_unmaps);
    tcase_add_loop_test(tc, stop_refused, 0, (int)RTL_NUMBER_OF(StopRefusals));
    tcase_add_test(tc, stop_unknown_service);
    tcase_add_test(tc, stop_deferred_until_last_close);
    tcase_add_test(tc, zombie_device_pins_image_and_refuses_reload);
    tcase_add_test(tc, leaked_driver_reference_pins_image);
    tcase_add_test(tc, failed_driver_entry_unmaps_without_unload);
    tcase_add_test(tc, failed_driver_entry_with_device_stays_mapped);
    tcase_add_test(tc, enumerate_loaded_services);
    tcase_add_test(tc, stop_of_a_stuck_driver_unload_returns);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
