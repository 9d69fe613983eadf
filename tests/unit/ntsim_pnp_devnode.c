/*
 * ntsim_pnp_devnode.c - the PnP manager (nt-semantics §5, §6, §13.4) with
 * exact counts after each step: a root-enumerated device plugged (PDO:
 * keep-alive + name + the devnode's reference; FDO: keep-alive; driver:
 * namespace + one per device), disabled (stack removed, PDO kept, driver
 * unloaded and unmapped), enabled again, vetoed by an open handle
 * (PNP_VetoOutstandingOpen, counts unchanged), a handle holder that closes
 * on query-remove, surprise removal deferred until the last handle closes,
 * eject; and I/O on one thread while removal runs on another, repeated.
 */
#include <pthread.h>

#include "ntsim_test.h"
#include <wdmguid.h>

#define INSTANCE "ROOT\\PNPTEST\\0000"
#define IFACE_PATH "\\??\\ROOT#PNPTEST#0000#{9f1c2a10-5b6d-4e21-8a3c-112233445566}"

static void PlugTestDevice(void)
{
    TtInit(0);
    ck_assert_int_eq(NtsimInstallService("pnptest", "pnp_testfn.so"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimDefineHardware("PNPTEST", "pnptest", NULL, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimPlugDevice("PNPTEST", INSTANCE), STATUS_SUCCESS);
}

static NTSIM_DEVNODE_INFO Devnode(void)
{
    NTSIM_DEVNODE_INFO info;
    ck_assert_int_eq(NtsimQueryDevnode(INSTANCE, &info), STATUS_SUCCESS);
    return info;
}

static PDEVICE_OBJECT TestFdo(void)
{
    char path[PATH_MAX];
    void *handle = dlopen(TtImagePath("pnp_testfn", path, sizeof(path)), RTLD_LAZY | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(handle);
    PDEVICE_OBJECT *fdo = dlsym(handle, "PnpTestLastFdo");
    dlclose(handle);
    return *fdo;
}

/*
 * DriverUnload of a PnP driver runs after its REMOVE handler returned, not
 * inside it (its last IoDeleteDevice is in that handler). The test pins
 * the image's mapping with its own dlopen to read the driver's counters
 * after the simulation has released the image.
 */
START_TEST(unload_runs_after_remove_returns)
{
    PlugTestDevice();
    char path[PATH_MAX];
    void *pin = dlopen(TtImagePath("pnp_testfn", path, sizeof(path)), RTLD_LAZY | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(pin);
    volatile LONG *unloads = dlsym(pin, "PnpTestUnloadCalls");
    volatile LONG *unloadsInsideRemove = dlsym(pin, "PnpTestUnloadsInsideRemove");
    ck_assert_int_eq(NtsimDisableDevice(INSTANCE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(*unloads, 1);
    ck_assert_int_eq(*unloadsInsideRemove, 0);
    NTSIM_IMAGE_INFO image;
    ck_assert_int_eq(NtsimQueryImage("pnptest", &image), STATUS_SUCCESS);
    ck_assert_int_eq(image.DriverPointerCount, 0);
    dlclose(pin);
}
END_TEST

START_TEST(plug_counts)
{
    PlugTestDevice();
    NTSIM_DEVNODE_INFO dn = Devnode();
    ck_assert_int_eq(dn.State, DeviceNodeStarted);
    PDEVICE_OBJECT pdo = dn.PhysicalDeviceObject;
    PDEVICE_OBJECT fdo = TestFdo();
    PDRIVER_OBJECT driver = NtsimLookupObject("\\Driver\\pnptest");
    TtAssertCounts(pdo, 3, 0, 0);  /* keep-alive, \Device\%08lx name, devnode */
    TtAssertCounts(fdo, 1, 0, 0);  /* keep-alive */
    TtAssertCounts(driver, 2, 0, -1); /* namespace + the FDO; the load reference was PnP's, dropped */
    ck_assert_ptr_eq(pdo->AttachedDevice, fdo);
    ck_assert(TtImageMapped("pnp_testfn"));
}
END_TEST

START_TEST(disable_enable_counts)
{
    PlugTestDevice();
    PDEVICE_OBJECT pdo = Devnode().PhysicalDeviceObject;
    NTSIM_VETO veto;
    ck_assert_int_eq(NtsimDisableDevice(INSTANCE, &veto), STATUS_SUCCESS);
    NTSIM_DEVNODE_INFO dn = Devnode();
    ck_assert_int_eq(dn.State, DeviceNodeRemoved);
    ck_assert(dn.Disabled);
    ck_assert_ptr_eq(dn.PhysicalDeviceObject, pdo);
    TtAssertCounts(pdo, 3, 0, 0); /* still present: the PDO is kept */
    ck_assert_ptr_null(pdo->AttachedDevice);
    ck_assert_ptr_null(NtsimLookupObject("\\Driver\\pnptest"));
    ck_assert(!TtImageMapped("pnp_testfn"));
    NTSIM_IMAGE_INFO image;
    ck_assert_int_eq(NtsimQueryImage("pnptest", &image), STATUS_SUCCESS);
    ck_assert(image.UnloadCalled);
    ck_assert_int_eq(image.DriverPointerCount, 0);

    ck_assert_int_eq(NtsimEnableDevice(INSTANCE), STATUS_SUCCESS);
    ck_assert_int_eq(Devnode().State, DeviceNodeStarted);
    TtAssertCounts(pdo, 3, 0, 0);
    TtAssertCounts(TestFdo(), 1, 0, 0);
    TtAssertCounts(NtsimLookupObject("\\Driver\\pnptest"), 2, 0, -1);
}
END_TEST

START_TEST(open_handle_vetoes)
{
    PlugTestDevice();
    PDEVICE_OBJECT pdo = Devnode().PhysicalDeviceObject;
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile(IFACE_PATH, GENERIC_READ, &h), STATUS_SUCCESS);
    TtAssertCounts(pdo, 3, 0, 1); /* the interface link opens the PDO: ReferenceCount there */
    NTSIM_VETO veto;
    ck_assert_int_eq(NtsimDisableDevice(INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    ck_assert_int_eq(veto.VetoType, PNP_VetoOutstandingOpen);
    ck_assert_str_eq(veto.VetoName, INSTANCE);
    NTSIM_DEVNODE_INFO dn = Devnode();
    ck_assert_int_eq(dn.State, DeviceNodeStarted);
    ck_assert(dn.HasVeto);
    TtAssertCounts(pdo, 3, 0, 1);
    TtAssertCounts(TestFdo(), 1, 0, 0);
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimDisableDevice(INSTANCE, &veto), STATUS_SUCCESS);
}
END_TEST

static BOOLEAN CloseOnQueryRemove(HANDLE Handle, const GUID *Event, PVOID Context)
{
    (void)Context;
    if (!memcmp(Event, &GUID_TARGET_DEVICE_QUERY_REMOVE, sizeof(GUID)))
        NtsimCloseHandle(Handle);
    return TRUE;
}

START_TEST(handle_holder_closes)
{
    PlugTestDevice();
    PDEVICE_OBJECT pdo = Devnode().PhysicalDeviceObject;
    HANDLE h;
    PVOID registration;
    ck_assert_int_eq(NtsimOpenFile(IFACE_PATH, GENERIC_READ, &h), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimRegisterHandleNotification(h, CloseOnQueryRemove, NULL, &registration), STATUS_SUCCESS);
    TtAssertCounts(pdo, 4, 0, 1); /* + the handle registration's reference */
    ck_assert_int_eq(NtsimDisableDevice(INSTANCE, NULL), STATUS_SUCCESS);
    TtAssertCounts(pdo, 3, 0, 0); /* released when the removal completed */
    ck_assert_int_eq(NtsimUnregisterHandleNotification(registration), STATUS_SUCCESS);
    TtAssertCounts(pdo, 3, 0, 0);
}
END_TEST

START_TEST(surprise_removal_waits_for_close)
{
    PlugTestDevice();
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile(IFACE_PATH, GENERIC_READ, &h), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimUnplugDevice(INSTANCE), STATUS_SUCCESS);
    NtsimWaitIdle();
    NTSIM_DEVNODE_INFO dn = Devnode();
    ck_assert_int_eq(dn.State, DeviceNodeDeletePendingCloses);
    ck_assert(TtImageMapped("pnp_testfn"));
    HANDLE late;
    ck_assert_int_eq(NtsimOpenFile(IFACE_PATH, GENERIC_READ, &late), STATUS_OBJECT_NAME_NOT_FOUND); /* link gone */
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    NtsimWaitIdle();
    ck_assert_int_eq(NtsimQueryDevnode(INSTANCE, &dn), STATUS_NO_SUCH_DEVICE); /* PDO freed with its devnode */
    ck_assert(!TtImageMapped("pnp_testfn"));
}
END_TEST

START_TEST(eject_deletes_devnode)
{
    PlugTestDevice();
    ck_assert_int_eq(NtsimEjectDevice(INSTANCE, NULL), STATUS_SUCCESS);
    NTSIM_DEVNODE_INFO dn;
    ck_assert_int_eq(NtsimQueryDevnode(INSTANCE, &dn), STATUS_NO_SUCH_DEVICE);
    ck_assert(!TtImageMapped("pnp_testfn"));
    ck_assert_int_eq(NtsimPlugDevice("PNPTEST", INSTANCE), STATUS_SUCCESS); /* a new PDO, the image loads again */
    ck_assert(TtImageMapped("pnp_testfn"));
}
END_TEST

static int IoStop; /* read and written with __atomic builtins */
/*
 * An application doing I/O while the device is being removed and re-added:
 * opens race with removal and with enabling, which re-creates the interface
 * link (its name is visible before its target is set).
 */
static void *IoLoop(void *Unused)
{
    (void)Unused;
    while (!__atomic_load_n(&IoStop, __ATOMIC_ACQUIRE)) {
        HANDLE h;
        NTSTATUS opened = NtsimOpenFile(IFACE_PATH, GENERIC_READ, &h);
        if (opened != STATUS_SUCCESS)
            continue;
        ULONG in = 42, out = 0, n = 0;
        NTSTATUS status = NtsimDeviceIoControl(h, TD_IOCTL_ECHO, &in, sizeof(in), &out, sizeof(out), &n);
        ck_assert_msg(status == STATUS_SUCCESS || status == STATUS_DELETE_PENDING, "ioctl: %s", NtsimStatusName(status));
        ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    }
    return NULL;
}

START_TEST(io_races_removal)
{
    PlugTestDevice();
    pthread_t thread;
    pthread_create(&thread, NULL, IoLoop, NULL);
    for (int i = 0; i < 50; i++) {
        NTSTATUS status = NtsimDisableDevice(INSTANCE, NULL);
        ck_assert(status == STATUS_SUCCESS || status == STATUS_PLUGPLAY_QUERY_VETOED);
        if (status == STATUS_SUCCESS)
            ck_assert_int_eq(NtsimEnableDevice(INSTANCE), STATUS_SUCCESS);
    }
    __atomic_store_n(&IoStop, 1, __ATOMIC_RELEASE);
    pthread_join(thread, NULL);
    while (NtsimDisableDevice(INSTANCE, NULL) != STATUS_SUCCESS)
        ;
    PDEVICE_OBJECT pdo = Devnode().PhysicalDeviceObject;
    TtAssertCounts(pdo, 3, 0, 0);
    ck_assert(!TtImageMapped("pnp_testfn"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_pnp_devnode");
    TCase *tc = tcase_create("devnode");
    tcase_add_test(tc, plug_counts);
    tcase_add_test(tc, disable_enable_counts);
    tcase_add_test(tc, unload_runs_after_remove_returns);
    tcase_add_test(tc, open_handle_vetoes);
    tcase_add_test(tc, handle_holder_closes);
    tcase_add_test(tc, surprise_removal_waits_for_close);
    tcase_add_test(tc, eject_deletes_devnode);
    tcase_add_test(tc, io_races_removal);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
