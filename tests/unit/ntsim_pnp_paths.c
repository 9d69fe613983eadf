/*
 * ntsim_pnp_paths.c - PnP manager paths (nt-semantics §5, §6) that no other
 * test proves, each with exact outcomes (devnode state, veto type and name,
 * pointer/handle/reference counts, DriverUnload called or not, image
 * mapped or not by dl_iterate_phdr): a kernel target-device callback that
 * refuses GUID_TARGET_DEVICE_QUERY_REMOVE (PNP_VetoDriver naming the
 * callback's driver, then REMOVE_CANCELLED to everyone notified, no
 * QUERY/CANCEL_REMOVE IRP since the notification comes first);
 * PNP_DEVICE_NOT_DISABLEABLE (PNP_VetoNonDisableable until the driver
 * clears it and calls IoInvalidateDeviceState); an outstanding
 * registration with NTSIM_CONFIG.RegistrationsDeferUnload TRUE (DriverUnload
 * deferred until it goes) and FALSE (DriverUnload at the last device, the
 * image kept mapped until it goes); a raw child PDO of a bus (started raw,
 * opened, removed with its parent); IoUnregisterPlugPlayNotificationEx
 * waiting for a callback in flight on the PnP thread while the plain call
 * does not; surprise removal with open handles (REMOVE only after the last
 * close, DeviceNodeDeletePendingCloses meanwhile); and enable after
 * disable loading a new image instance.
 */
#include <pthread.h>
#include <sys/syscall.h>

#include "ntsim_test.h"
#include <wdmguid.h>

#define TESTFN_INSTANCE "ROOT\\PNPTEST\\0000"
#define TESTFN_IFACE "\\??\\ROOT#PNPTEST#0000#{9f1c2a10-5b6d-4e21-8a3c-112233445566}"
#define ND_INSTANCE "ROOT\\PNPND\\0000"
#define ND_IFACE "\\??\\ROOT#PNPND#0000#{9f1c2a11-5b6d-4e21-8a3c-112233445566}"
#define ND_IOCTL_ALLOW_DISABLE TD_IOCTL(0x20)
#define REG_INSTANCE "ROOT\\PNPREG\\0000"
#define RAWBUS_INSTANCE "ROOT\\RAWBUS\\0000"
#define RAWCHILD_INSTANCE "PNPRAW\\CHILD\\0"

/* pnp_watch.c's event slots. */
#define WATCH_QUERY_REMOVE 0
#define WATCH_REMOVE_CANCELLED 1
#define WATCH_REMOVE_COMPLETE 2
#define WATCH_ARRIVAL 3
#define WATCH_REMOVAL 4

/* ---- helpers ------------------------------------------------------------------ */

static void InitWith(BOOLEAN RegistrationsDeferUnload, ULONG StuckWaitMs)
{
    NTSIM_CONFIG config;
    NtsimDefaultConfig(&config);
    config.DriverSearchPath = TtDriverDir();
    config.StuckWaitMs = StuckWaitMs;
    config.RegistrationsDeferUnload = RegistrationsDeferUnload;
    ck_assert_int_eq(NtsimInitialize(&config), STATUS_SUCCESS);
}

/* The address of exported symbol Name of mapped test driver Image (valid while it stays mapped). */
static void *Sym(const char *Image, const char *Name)
{
    char path[PATH_MAX];
    void *handle = dlopen(TtImagePath(Image, path, sizeof(path)), RTLD_LAZY | RTLD_NOLOAD);
    ck_assert_msg(handle != NULL, "%s is not mapped", Image);
    void *symbol = dlsym(handle, Name);
    dlclose(handle); /* NOLOAD took a count: give it back */
    ck_assert_msg(symbol != NULL, "%s!%s", Image, Name);
    return symbol;
}

/* Keeps Image mapped for the test (to read its counters after the simulation let it go): dlclose it. */
static void *Pin(const char *Image)
{
    char path[PATH_MAX];
    void *handle = dlopen(TtImagePath(Image, path, sizeof(path)), RTLD_LAZY | RTLD_NOLOAD);
    ck_assert_msg(handle != NULL, "%s is not mapped", Image);
    return handle;
}

static void *PinnedSym(void *PinHandle, const char *Name)
{
    void *symbol = dlsym(PinHandle, Name);
    ck_assert_ptr_nonnull(symbol);
    return symbol;
}

static NTSIM_DEVNODE_INFO Devnode(const char *Instance)
{
    NTSIM_DEVNODE_INFO info;
    ck_assert_msg(NtsimQueryDevnode(Instance, &info) == STATUS_SUCCESS, "no devnode %s", Instance);
    return info;
}

static NTSIM_IMAGE_INFO Image(const char *Service)
{
    NTSIM_IMAGE_INFO info;
    ck_assert_int_eq(NtsimQueryImage(Service, &info), STATUS_SUCCESS);
    return info;
}

static void DefineAndPlug(const char *Service, const char *ImageFile, const char *HardwareId, const char *Instance)
{
    ck_assert_int_eq(NtsimInstallService(Service, ImageFile), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimDefineHardware(HardwareId, Service, NULL, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimPlugDevice(HardwareId, Instance), STATUS_SUCCESS);
}

static void PlugTestfn(void)
{
    DefineAndPlug("pnptest", "pnp_testfn.so", "PNPTEST", TESTFN_INSTANCE);
}

static PDEVICE_OBJECT TestfnFdo(void)
{
    return *(PDEVICE_OBJECT *)Sym("pnp_testfn", "PnpTestLastFdo");
}

static volatile LONG *TestfnMinors(void)
{
    return Sym("pnp_testfn", "PnpTestMinorCount");
}

/* A user-mode application registered on its handle: records the events, never refuses. */
static int AppEvents[3]; /* QUERY_REMOVE, REMOVE_CANCELLED, REMOVE_COMPLETE */

static BOOLEAN AppRecord(HANDLE Handle, const GUID *Event, PVOID Context)
{
    (void)Handle;
    (void)Context;
    if (IsEqualGUID(Event, &GUID_TARGET_DEVICE_QUERY_REMOVE))
        AppEvents[0]++;
    else if (IsEqualGUID(Event, &GUID_TARGET_DEVICE_REMOVE_CANCELLED))
        AppEvents[1]++;
    else if (IsEqualGUID(Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE))
        AppEvents[2]++;
    return TRUE;
}

/* ---- 1. a kernel notification callback vetoes ------------------------------------------ */

START_TEST(notify_callback_veto)
{
    TtInit(0);
    PlugTestfn();
    TtStart("pnpwatch", "pnp_watch");
    PDEVICE_OBJECT pdo = Devnode(TESTFN_INSTANCE).PhysicalDeviceObject;
    PDEVICE_OBJECT fdo = TestfnFdo();
    PDRIVER_OBJECT watch = NtsimLookupObject("\\Driver\\pnpwatch");
    PDRIVER_OBJECT testfn = NtsimLookupObject("\\Driver\\pnptest");
    TtAssertCounts(watch, 2, 0, -1); /* namespace + the legacy load reference */

    NTSTATUS (*registerTarget)(void) = (NTSTATUS(*)(void))Sym("pnp_watch", "PnpWatchRegisterTarget");
    ck_assert_int_eq(registerTarget(), STATUS_SUCCESS);
    PVOID entry = *(PVOID *)Sym("pnp_watch", "PnpWatchTargetEntry");
    PFILE_OBJECT *watchFile = Sym("pnp_watch", "PnpWatchFile");
    volatile LONG *events = Sym("pnp_watch", "PnpWatchEvents");
    ck_assert_ptr_nonnull(*watchFile);
    TtAssertCounts(watch, 3, 0, -1);  /* + the registration */
    TtAssertCounts(pdo, 4, 0, 1);     /* + the registration's TargetDeviceRelation reference; the watcher's file */
    TtAssertCounts(fdo, 1, 0, 0);
    TtAssertCounts(testfn, 2, 0, -1);

    /* An application registered on its own handle is told too (before the drivers). */
    HANDLE app;
    PVOID appRegistration;
    ck_assert_int_eq(NtsimOpenFile(TESTFN_IFACE, GENERIC_READ, &app), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimRegisterHandleNotification(app, AppRecord, NULL, &appRegistration), STATUS_SUCCESS);
    TtAssertCounts(pdo, 5, 0, 2);

    *(volatile LONG *)Sym("pnp_watch", "PnpWatchVeto") = 1;
    NTSIM_VETO veto;
    ck_assert_int_eq(NtsimDisableDevice(TESTFN_INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    ck_assert_int_eq(veto.VetoType, PNP_VetoDriver);
    ck_assert_str_eq(veto.VetoName, "\\Driver\\pnpwatch");
    NTSIM_DEVNODE_INFO dn = Devnode(TESTFN_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeStarted);
    ck_assert(!dn.Disabled);
    ck_assert(dn.HasVeto);
    ck_assert_int_eq(dn.LastVeto.VetoType, PNP_VetoDriver);
    ck_assert_str_eq(dn.LastVeto.VetoName, "\\Driver\\pnpwatch");
    /* Notified: the application and the watcher got QUERY_REMOVE, then REMOVE_CANCELLED. */
    ck_assert_int_eq(AppEvents[0], 1);
    ck_assert_int_eq(AppEvents[1], 1);
    ck_assert_int_eq(AppEvents[2], 0);
    ck_assert_int_eq(events[WATCH_QUERY_REMOVE], 1);
    ck_assert_int_eq(events[WATCH_REMOVE_CANCELLED], 1);
    ck_assert_int_eq(events[WATCH_REMOVE_COMPLETE], 0);
    /* The notification precedes the IRP (§5.3 step 1): no stack was queried, so none is cancelled. */
    volatile LONG *minors = TestfnMinors();
    ck_assert_int_eq(minors[IRP_MN_QUERY_REMOVE_DEVICE], 0);
    ck_assert_int_eq(minors[IRP_MN_CANCEL_REMOVE_DEVICE], 0);
    ck_assert_int_eq(minors[IRP_MN_REMOVE_DEVICE], 0);
    ck_assert_ptr_nonnull(*watchFile); /* the veto kept its file object */
    TtAssertCounts(pdo, 5, 0, 2);
    TtAssertCounts(fdo, 1, 0, 0);
    TtAssertCounts(testfn, 2, 0, -1);
    TtAssertCounts(watch, 3, 0, -1);
    ck_assert_ptr_eq(pdo->AttachedDevice, fdo);

    /* The application leaves; the watcher now lets go on QUERY_REMOVE: the disable goes through. */
    ck_assert_int_eq(NtsimUnregisterHandleNotification(appRegistration), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimCloseHandle(app), STATUS_SUCCESS);
    TtAssertCounts(pdo, 4, 0, 1);
    *(volatile LONG *)Sym("pnp_watch", "PnpWatchVeto") = 0;
    ck_assert_int_eq(NtsimDisableDevice(TESTFN_INSTANCE, &veto), STATUS_SUCCESS);
    ck_assert_int_eq(events[WATCH_QUERY_REMOVE], 2);
    ck_assert_int_eq(events[WATCH_REMOVE_CANCELLED], 1);
    ck_assert_int_eq(events[WATCH_REMOVE_COMPLETE], 1);
    ck_assert_ptr_null(*watchFile);
    dn = Devnode(TESTFN_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeRemoved);
    ck_assert(dn.Disabled);
    TtAssertCounts(pdo, 4, 0, 0); /* the registration still holds the PDO (§6) */
    ck_assert(!TtImageMapped("pnp_testfn"));
    ck_assert(Image("pnptest").UnloadCalled);
    TtAssertCounts(watch, 3, 0, -1);

    ck_assert_int_eq(IoUnregisterPlugPlayNotificationEx(entry), STATUS_SUCCESS);
    TtAssertCounts(pdo, 3, 0, 0);
    TtAssertCounts(watch, 2, 0, -1);
    ck_assert(TtImageMapped("pnp_watch"));
}
END_TEST

/* ---- 2. PNP_DEVICE_NOT_DISABLEABLE ------------------------------------------------- */

START_TEST(not_disableable_vetoes_until_state_invalidated)
{
    TtInit(0);
    DefineAndPlug("pnpnd", "pnp_notdisable.so", "PNPND", ND_INSTANCE);
    volatile LONG *minors = Sym("pnp_notdisable", "PnpNdMinorCount");
    PDEVICE_OBJECT pdo = Devnode(ND_INSTANCE).PhysicalDeviceObject;
    PDRIVER_OBJECT driver = NtsimLookupObject("\\Driver\\pnpnd");
    PDEVICE_OBJECT fdo = pdo->AttachedDevice;
    ck_assert_ptr_nonnull(fdo);
    ck_assert_int_eq(minors[IRP_MN_QUERY_PNP_DEVICE_STATE], 1); /* asked once, after the start */

    NTSIM_VETO veto;
    ck_assert_int_eq(NtsimDisableDevice(ND_INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    ck_assert_int_eq(veto.VetoType, PNP_VetoNonDisableable);
    ck_assert_str_eq(veto.VetoName, ND_INSTANCE);
    NTSIM_DEVNODE_INFO dn = Devnode(ND_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeStarted);
    ck_assert(!dn.Disabled);
    ck_assert(dn.HasVeto);
    ck_assert_int_eq(dn.LastVeto.VetoType, PNP_VetoNonDisableable);
    ck_assert_str_eq(dn.LastVeto.VetoName, ND_INSTANCE);
    ck_assert_int_eq(minors[IRP_MN_QUERY_REMOVE_DEVICE], 0); /* refused before anyone is asked */
    ck_assert_int_eq(minors[IRP_MN_CANCEL_REMOVE_DEVICE], 0);
    ck_assert_int_eq(minors[IRP_MN_REMOVE_DEVICE], 0);
    TtAssertCounts(pdo, 3, 0, 0);
    TtAssertCounts(fdo, 1, 0, 0);
    TtAssertCounts(driver, 2, 0, -1);
    ck_assert_int_eq(Image("pnpnd").UnloadCalled, FALSE);

    /* Eject is a removal too: refused the same way. */
    ck_assert_int_eq(NtsimEjectDevice(ND_INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    ck_assert_int_eq(veto.VetoType, PNP_VetoNonDisableable);
    ck_assert_str_eq(veto.VetoName, ND_INSTANCE);
    ck_assert_int_eq(Devnode(ND_INSTANCE).State, DeviceNodeStarted);

    /* The application says it is done: the driver clears the bit and invalidates its state. */
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile(ND_IFACE, GENERIC_READ, &h), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimDeviceIoControl(h, ND_IOCTL_ALLOW_DISABLE, NULL, 0, NULL, 0, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    NtsimWaitIdle();
    ck_assert_int_eq(minors[IRP_MN_QUERY_PNP_DEVICE_STATE], 2); /* IoInvalidateDeviceState: asked again */
    ck_assert_int_eq(minors[IRP_MN_QUERY_REMOVE_DEVICE], 0);
    TtAssertCounts(pdo, 3, 0, 0);

    void *pin = Pin("pnp_notdisable");
    volatile LONG *pinnedMinors = PinnedSym(pin, "PnpNdMinorCount");
    volatile LONG *unloads = PinnedSym(pin, "PnpNdUnloadCalls");
    ck_assert_int_eq(NtsimDisableDevice(ND_INSTANCE, &veto), STATUS_SUCCESS);
    ck_assert_int_eq(veto.VetoType, PNP_VetoTypeUnknown);
    dn = Devnode(ND_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeRemoved);
    ck_assert(dn.Disabled);
    ck_assert_int_eq(dn.Problem, CM_PROB_DISABLED);
    ck_assert_int_eq(pinnedMinors[IRP_MN_QUERY_REMOVE_DEVICE], 1);
    ck_assert_int_eq(pinnedMinors[IRP_MN_CANCEL_REMOVE_DEVICE], 0);
    ck_assert_int_eq(pinnedMinors[IRP_MN_REMOVE_DEVICE], 1);
    ck_assert_int_eq(*unloads, 1);
    TtAssertCounts(pdo, 3, 0, 0); /* the root PDO is kept (still present) */
    ck_assert_ptr_null(pdo->AttachedDevice);
    ck_assert_ptr_null(NtsimLookupObject("\\Driver\\pnpnd"));
    NTSIM_IMAGE_INFO image = Image("pnpnd");
    ck_assert(image.UnloadCalled);
    ck_assert_int_eq(image.DriverPointerCount, 0);
    dlclose(pin);
    ck_assert(!TtImageMapped("pnp_notdisable"));
}
END_TEST

/* ---- 3. registrations and DriverUnload ------------------------------------------------ */

START_TEST(registration_defers_unload)
{
    InitWith(TRUE, 3000);
    DefineAndPlug("pnpreg", "pnp_regfn.so", "PNPREG", REG_INSTANCE);
    PDRIVER_OBJECT driver = NtsimLookupObject("\\Driver\\pnpreg");
    PDEVICE_OBJECT pdo = Devnode(REG_INSTANCE).PhysicalDeviceObject;
    volatile LONG *unloads = Sym("pnp_regfn", "PnpRegUnloadCalls");
    PVOID entry = *(PVOID *)Sym("pnp_regfn", "PnpRegEntry");
    ck_assert_ptr_nonnull(entry);
    TtAssertCounts(driver, 3, 0, -1); /* namespace + the FDO + the registration */

    ck_assert_int_eq(NtsimDisableDevice(REG_INSTANCE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(Devnode(REG_INSTANCE).State, DeviceNodeRemoved);
    ck_assert_ptr_null(pdo->AttachedDevice);
    ck_assert_int_eq(*unloads, 0); /* deferred: the registration keeps the driver loaded (§6) */
    NTSIM_IMAGE_INFO image = Image("pnpreg");
    ck_assert_int_eq(image.State, NtsimImageLoaded);
    ck_assert(!image.UnloadCalled);
    ck_assert_int_eq(image.DeviceCount, 0);
    ck_assert_int_eq(image.DriverPointerCount, 2);
    ck_assert_ptr_eq(NtsimLookupObject("\\Driver\\pnpreg"), driver); /* still named */
    TtAssertCounts(driver, 2, 0, -1); /* namespace + the registration */
    ck_assert(TtImageMapped("pnp_regfn"));

    /* The registration goes: the deferred DriverUnload runs, then the image is released. */
    void *pin = Pin("pnp_regfn");
    volatile LONG *pinnedUnloads = PinnedSym(pin, "PnpRegUnloadCalls");
    ck_assert_int_eq(IoUnregisterPlugPlayNotificationEx(entry), STATUS_SUCCESS);
    ck_assert_int_eq(*pinnedUnloads, 1);
    ck_assert_ptr_null(NtsimLookupObject("\\Driver\\pnpreg"));
    image = Image("pnpreg");
    ck_assert(image.UnloadCalled);
    ck_assert_int_eq(image.DriverPointerCount, 0);
    ck_assert_int_eq(image.State, NtsimImageNotLoaded);
    dlclose(pin);
    ck_assert(!TtImageMapped("pnp_regfn"));
    TtAssertCounts(pdo, 3, 0, 0);
}
END_TEST

START_TEST(registration_without_defer_keeps_image_only)
{
    InitWith(FALSE, 3000); /* ReactOS: a registration only delays the unmap */
    DefineAndPlug("pnpreg", "pnp_regfn.so", "PNPREG", REG_INSTANCE);
    PDRIVER_OBJECT driver = NtsimLookupObject("\\Driver\\pnpreg");
    volatile LONG *unloads = Sym("pnp_regfn", "PnpRegUnloadCalls");
    volatile LONG *minors = Sym("pnp_regfn", "PnpRegMinorCount");
    PVOID entry = *(PVOID *)Sym("pnp_regfn", "PnpRegEntry");
    TtAssertCounts(driver, 3, 0, -1);

    ck_assert_int_eq(NtsimDisableDevice(REG_INSTANCE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(Devnode(REG_INSTANCE).State, DeviceNodeRemoved);
    ck_assert_int_eq(minors[IRP_MN_REMOVE_DEVICE], 1);
    ck_assert_int_eq(*unloads, 1); /* DriverUnload ran when the last device went */
    NTSIM_IMAGE_INFO image = Image("pnpreg");
    ck_assert_int_eq(image.State, NtsimImageResidentAfterUnload);
    ck_assert(image.UnloadCalled);
    ck_assert(image.Mapped);
    ck_assert_int_eq(image.DeviceCount, 0);
    ck_assert_int_eq(image.DriverPointerCount, 1); /* the registration's reference only */
    ck_assert_ptr_null(NtsimLookupObject("\\Driver\\pnpreg")); /* made temporary: the name went */
    TtAssertCounts(driver, 1, 0, -1);
    ck_assert(TtImageMapped("pnp_regfn"));

    ck_assert_int_eq(IoUnregisterPlugPlayNotificationEx(entry), STATUS_SUCCESS);
    image = Image("pnpreg");
    ck_assert_int_eq(image.State, NtsimImageNotLoaded);
    ck_assert_int_eq(image.DriverPointerCount, 0);
    ck_assert(!TtIsLive(driver));
    ck_assert(!TtImageMapped("pnp_regfn"));
}
END_TEST

/* ---- 4. a raw child PDO ------------------------------------------------------------------- */

START_TEST(raw_child_starts_opens_and_goes_with_parent)
{
    TtInit(0);
    DefineAndPlug("rawbus", "pnp_rawbus.so", "RAWBUS", RAWBUS_INSTANCE);
    NtsimWaitIdle();
    PDEVICE_OBJECT child = *(PDEVICE_OBJECT *)Sym("pnp_rawbus", "PnpRawChildPdo");
    volatile LONG *childMinors = Sym("pnp_rawbus", "PnpRawChildMinorCount");
    PDRIVER_OBJECT bus = NtsimLookupObject("\\Driver\\rawbus");
    ck_assert_ptr_nonnull(child);
    ck_assert_ptr_eq(NtsimLookupObject("\\Device\\PnpRawChild"), child);

    NTSIM_DEVNODE_INFO dn = Devnode(RAWCHILD_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeStarted);
    ck_assert(dn.Raw);
    ck_assert_int_eq(dn.Problem, 0);
    ck_assert_str_eq(dn.HardwareId, "PNPRAW\\CHILD");
    ck_assert_str_eq(dn.ParentInstanceId, RAWBUS_INSTANCE);
    ck_assert_ptr_eq(dn.PhysicalDeviceObject, child);
    ck_assert_ptr_null(child->AttachedDevice); /* no function driver: the PDO is the whole stack */
    ck_assert_int_eq(childMinors[IRP_MN_START_DEVICE], 1);
    ck_assert_int_eq(Devnode(RAWBUS_INSTANCE).ChildCount, 1);
    TtAssertCounts(child, 3, 0, 0);  /* keep-alive + \Device\PnpRawChild + the devnode */
    TtAssertCounts(bus, 3, 0, -1);   /* namespace + the FDO + the child PDO */

    /* An application opens the raw PDO itself. */
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile("\\Device\\PnpRawChild", GENERIC_READ, &h), STATUS_SUCCESS);
    ck_assert_int_eq(*(volatile LONG *)Sym("pnp_rawbus", "PnpRawChildOpens"), 1);
    TtAssertCounts(child, 3, 0, 1);
    ULONG in = 42, out = 0, n = 0;
    ck_assert_int_eq(NtsimDeviceIoControl(h, TD_IOCTL_ECHO, &in, sizeof(in), &out, sizeof(out), &n), STATUS_SUCCESS);
    ck_assert_int_eq(out, 42);
    ck_assert_int_eq(n, sizeof(out));

    /* The open child refuses its parent's removal: the child is asked first (children first). */
    volatile LONG *fdoMinors = Sym("pnp_rawbus", "PnpRawFdoMinorCount");
    NTSIM_VETO veto;
    ck_assert_int_eq(NtsimDisableDevice(RAWBUS_INSTANCE, &veto), STATUS_PLUGPLAY_QUERY_VETOED);
    ck_assert_int_eq(veto.VetoType, PNP_VetoOutstandingOpen);
    ck_assert_str_eq(veto.VetoName, RAWCHILD_INSTANCE);
    ck_assert_int_eq(childMinors[IRP_MN_QUERY_REMOVE_DEVICE], 1);
    ck_assert_int_eq(childMinors[IRP_MN_CANCEL_REMOVE_DEVICE], 1);
    ck_assert_int_eq(fdoMinors[IRP_MN_QUERY_REMOVE_DEVICE], 0);
    ck_assert_int_eq(fdoMinors[IRP_MN_CANCEL_REMOVE_DEVICE], 0);
    ck_assert_int_eq(Devnode(RAWCHILD_INSTANCE).State, DeviceNodeStarted);
    ck_assert_int_eq(Devnode(RAWBUS_INSTANCE).State, DeviceNodeStarted);
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
    TtAssertCounts(child, 3, 0, 0);

    /* Disabling the bus removes the raw child first, then the bus, whose FDO deletes the child PDO. */
    void *pin = Pin("pnp_rawbus");
    volatile LONG *pinnedChild = PinnedSym(pin, "PnpRawChildMinorCount");
    volatile LONG *pinnedFdo = PinnedSym(pin, "PnpRawFdoMinorCount");
    volatile LONG *unloads = PinnedSym(pin, "PnpRawUnloadCalls");
    ck_assert_int_eq(NtsimDisableDevice(RAWBUS_INSTANCE, &veto), STATUS_SUCCESS);
    ck_assert_int_eq(pinnedChild[IRP_MN_QUERY_REMOVE_DEVICE], 2);
    ck_assert_int_eq(pinnedChild[IRP_MN_REMOVE_DEVICE], 1);
    ck_assert_int_eq(pinnedFdo[IRP_MN_QUERY_REMOVE_DEVICE], 1);
    ck_assert_int_eq(pinnedFdo[IRP_MN_REMOVE_DEVICE], 1);
    ck_assert_int_eq(*unloads, 1);
    ck_assert_int_eq(NtsimQueryDevnode(RAWCHILD_INSTANCE, &dn), STATUS_NO_SUCH_DEVICE);
    ck_assert(!TtIsLive(child));
    ck_assert_ptr_null(NtsimLookupObject("\\Device\\PnpRawChild"));
    dn = Devnode(RAWBUS_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeRemoved);
    ck_assert(dn.Disabled);
    ck_assert_int_eq(dn.ChildCount, 0);
    TtAssertCounts(dn.PhysicalDeviceObject, 3, 0, 0);
    NTSIM_IMAGE_INFO image = Image("rawbus");
    ck_assert(image.UnloadCalled);
    ck_assert_int_eq(image.DriverPointerCount, 0);
    dlclose(pin);
    ck_assert(!TtImageMapped("pnp_rawbus"));
}
END_TEST

/* ---- 5. unregistering while a callback runs on the PnP thread --------------------------- */

typedef struct {
    BOOLEAN Ex;
    PVOID Entry;
    volatile LONG *CallbacksDone;
    pid_t Tid;                  /* __atomic */
    int Returned;               /* __atomic */
    LONG DoneAtReturn;          /* callbacks finished when the unregister call returned */
    NTSTATUS Status;
} UNREGISTER_CALL;

static void *Unregister(void *Arg)
{
    UNREGISTER_CALL *call = Arg;
    __atomic_store_n(&call->Tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    call->Status = call->Ex ? IoUnregisterPlugPlayNotificationEx(call->Entry)
                            : IoUnregisterPlugPlayNotification(call->Entry);
    call->DoneAtReturn = __atomic_load_n(call->CallbacksDone, __ATOMIC_ACQUIRE);
    __atomic_store_n(&call->Returned, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The state letter of thread Tid ('S' while it sleeps in a wait), from /proc. */
static char ThreadState(pid_t Tid)
{
    char path[64], text[512];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)Tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *paren = strrchr(text, ')');
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

/* Waits until the unregistering thread has returned or is asleep (blocked inside the call). */
static void WaitReturnedOrBlocked(UNREGISTER_CALL *Call)
{
    for (int i = 0; i < 10000; i++) {
        pid_t tid = __atomic_load_n(&Call->Tid, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&Call->Returned, __ATOMIC_ACQUIRE) || (tid && ThreadState(tid) == 'S'))
            return;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    ck_abort_msg("the unregistering thread neither returned nor blocked");
}

static NTSTATUS PlugStatus;

static void *PlugTestfnThread(void *Unused)
{
    (void)Unused;
    PlugStatus = NtsimPlugDevice("PNPTEST", TESTFN_INSTANCE);
    return NULL;
}

/*
 * pnp_watch registers for pnp_testfn's interface; the device is plugged on
 * another thread and the arrival callback blocks on the PnP thread (inside
 * the FDO's start) until the test releases it. Meanwhile a third thread
 * unregisters. Returns with the callback blocked; *Plug is the plugging thread.
 */
static void StartBlockedCallback(UNREGISTER_CALL *Call, pthread_t *Plug, PDRIVER_OBJECT *Watch)
{
    InitWith(TRUE, 60000); /* the blocked callback must not be reported stuck */
    ck_assert_int_eq(NtsimInstallService("pnptest", "pnp_testfn.so"), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimDefineHardware("PNPTEST", "pnptest", NULL, NULL), STATUS_SUCCESS);
    TtStart("pnpwatch", "pnp_watch");
    *Watch = NtsimLookupObject("\\Driver\\pnpwatch");
    NTSTATUS (*registerInterface)(void) = (NTSTATUS(*)(void))Sym("pnp_watch", "PnpWatchRegisterInterface");
    ck_assert_int_eq(registerInterface(), STATUS_SUCCESS);
    TtAssertCounts(*Watch, 3, 0, -1); /* namespace + load reference + the registration */
    Call->Entry = *(PVOID *)Sym("pnp_watch", "PnpWatchInterfaceEntry");
    Call->CallbacksDone = Sym("pnp_watch", "PnpWatchCallbacksDone");
    *(volatile LONG *)Sym("pnp_watch", "PnpWatchBlock") = 1;
    pthread_create(Plug, NULL, PlugTestfnThread, NULL);
    ck_assert_int_eq(KeWaitForSingleObject(Sym("pnp_watch", "PnpWatchEntered"), Executive, KernelMode, FALSE, NULL),
                     STATUS_SUCCESS);
    ck_assert_int_eq(*Call->CallbacksDone, 0);
}

static void ReleaseCallback(void)
{
    KeSetEvent(Sym("pnp_watch", "PnpWatchRelease"), IO_NO_INCREMENT, FALSE);
}

START_TEST(unregister_ex_waits_for_callback)
{
    static UNREGISTER_CALL call = { .Ex = TRUE };
    pthread_t plug, unregister;
    PDRIVER_OBJECT watch;
    StartBlockedCallback(&call, &plug, &watch);
    pthread_create(&unregister, NULL, Unregister, &call);
    WaitReturnedOrBlocked(&call);
    ck_assert_int_eq(__atomic_load_n(&call.Returned, __ATOMIC_ACQUIRE), 0); /* blocked: the callback runs */
    TtAssertCounts(watch, 3, 0, -1);
    ReleaseCallback();
    pthread_join(unregister, NULL);
    ck_assert_int_eq(call.Status, STATUS_SUCCESS);
    ck_assert_int_eq(call.DoneAtReturn, 1); /* it returned only after the callback finished */
    TtAssertCounts(watch, 2, 0, -1);        /* and the registration's reference is gone */
    pthread_join(plug, NULL);
    ck_assert_int_eq(PlugStatus, STATUS_SUCCESS);
    ck_assert_int_eq(Devnode(TESTFN_INSTANCE).State, DeviceNodeStarted);
    volatile LONG *events = Sym("pnp_watch", "PnpWatchEvents");
    ck_assert_int_eq(events[WATCH_ARRIVAL], 1);
    ck_assert_int_eq(NtsimDisableDevice(TESTFN_INSTANCE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(events[WATCH_REMOVAL], 0); /* no callback after the Ex call returned */
    ck_assert_int_eq(*call.CallbacksDone, 1);
}
END_TEST

START_TEST(unregister_plain_does_not_wait)
{
    static UNREGISTER_CALL call = { .Ex = FALSE };
    pthread_t plug, unregister;
    PDRIVER_OBJECT watch;
    StartBlockedCallback(&call, &plug, &watch);
    pthread_create(&unregister, NULL, Unregister, &call);
    pthread_join(unregister, NULL); /* returns while the callback is still blocked */
    ck_assert_int_eq(call.Status, STATUS_SUCCESS);
    ck_assert_int_eq(call.DoneAtReturn, 0);
    ck_assert_int_eq(*call.CallbacksDone, 0);
    TtAssertCounts(watch, 3, 0, -1); /* the callback in flight keeps the registration's references */
    ck_assert_int_eq(IoUnregisterPlugPlayNotification(call.Entry), STATUS_INVALID_PARAMETER); /* already unlisted */
    ReleaseCallback();
    pthread_join(plug, NULL);
    ck_assert_int_eq(PlugStatus, STATUS_SUCCESS);
    ck_assert_int_eq(*call.CallbacksDone, 1);
    TtAssertCounts(watch, 2, 0, -1); /* released when the callback returned */
    volatile LONG *events = Sym("pnp_watch", "PnpWatchEvents");
    ck_assert_int_eq(NtsimDisableDevice(TESTFN_INSTANCE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(events[WATCH_ARRIVAL], 1);
    ck_assert_int_eq(events[WATCH_REMOVAL], 0);
}
END_TEST

/* ---- 6. surprise removal with open handles --------------------------------------------- */

START_TEST(surprise_removal_remove_after_last_close)
{
    TtInit(0);
    PlugTestfn();
    TtStart("pnpwatch", "pnp_watch");
    NTSTATUS (*registerTarget)(void) = (NTSTATUS(*)(void))Sym("pnp_watch", "PnpWatchRegisterTarget");
    ck_assert_int_eq(registerTarget(), STATUS_SUCCESS);
    PVOID entry = *(PVOID *)Sym("pnp_watch", "PnpWatchTargetEntry");
    volatile LONG *events = Sym("pnp_watch", "PnpWatchEvents");
    PFILE_OBJECT *watchFile = Sym("pnp_watch", "PnpWatchFile");
    PDEVICE_OBJECT pdo = Devnode(TESTFN_INSTANCE).PhysicalDeviceObject;
    PDEVICE_OBJECT fdo = TestfnFdo();
    PDRIVER_OBJECT testfn = NtsimLookupObject("\\Driver\\pnptest");
    volatile LONG *minors = TestfnMinors();
    HANDLE h1, h2;
    ck_assert_int_eq(NtsimOpenFile(TESTFN_IFACE, GENERIC_READ, &h1), STATUS_SUCCESS);
    ck_assert_int_eq(NtsimOpenFile(TESTFN_IFACE, GENERIC_READ, &h2), STATUS_SUCCESS);
    TtAssertCounts(pdo, 4, 0, 3); /* + the registration; the watcher's file and two handles */

    ck_assert_int_eq(NtsimUnplugDevice(TESTFN_INSTANCE), STATUS_SUCCESS);
    NtsimWaitIdle();
    NTSIM_DEVNODE_INFO dn = Devnode(TESTFN_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeDeletePendingCloses); /* unplugged: reported missing */
    ck_assert(dn.ReportedMissing);
    ck_assert_int_eq(minors[IRP_MN_SURPRISE_REMOVAL], 1);
    ck_assert_int_eq(minors[IRP_MN_QUERY_REMOVE_DEVICE], 0); /* no query: surprise removal cannot be vetoed */
    ck_assert_int_eq(minors[IRP_MN_REMOVE_DEVICE], 0);
    /* The kernel registrant got REMOVE_COMPLETE without a QUERY_REMOVE and closed its file object. */
    ck_assert_int_eq(events[WATCH_QUERY_REMOVE], 0);
    ck_assert_int_eq(events[WATCH_REMOVE_COMPLETE], 1);
    ck_assert_ptr_null(*watchFile);
    TtAssertCounts(pdo, 4, 0, 2);
    TtAssertCounts(fdo, 1, 0, 0);
    TtAssertCounts(testfn, 2, 0, -1);
    ck_assert_ptr_eq(pdo->AttachedDevice, fdo); /* drivers stay attached until REMOVE (§5.5) */
    HANDLE late;
    ck_assert_int_eq(NtsimOpenFile(TESTFN_IFACE, GENERIC_READ, &late), STATUS_OBJECT_NAME_NOT_FOUND);

    ck_assert_int_eq(NtsimCloseHandle(h1), STATUS_SUCCESS);
    NtsimWaitIdle();
    ck_assert_int_eq(Devnode(TESTFN_INSTANCE).State, DeviceNodeDeletePendingCloses);
    ck_assert_int_eq(minors[IRP_MN_REMOVE_DEVICE], 0);
    TtAssertCounts(pdo, 4, 0, 1);
    ck_assert(!Image("pnptest").UnloadCalled);

    void *pin = Pin("pnp_testfn");
    volatile LONG *pinnedMinors = PinnedSym(pin, "PnpTestMinorCount");
    volatile LONG *unloads = PinnedSym(pin, "PnpTestUnloadCalls");
    ck_assert_int_eq(NtsimCloseHandle(h2), STATUS_SUCCESS);
    NtsimWaitIdle();
    ck_assert_int_eq(pinnedMinors[IRP_MN_REMOVE_DEVICE], 1);
    ck_assert_int_eq(pinnedMinors[IRP_MN_SURPRISE_REMOVAL], 1);
    ck_assert_int_eq(*unloads, 1);
    /* The devnode left the tree; its record lives while the registration still holds the PDO. */
    dn = Devnode(TESTFN_INSTANCE);
    ck_assert(!dn.InTree);
    ck_assert_int_eq(dn.State, DeviceNodeDeleted);
    ck_assert_ptr_eq(dn.PhysicalDeviceObject, pdo);
    TtAssertCounts(pdo, 1, 0, 0); /* only the registration's reference is left */
    ck_assert(!TtIsLive(fdo));
    NTSIM_IMAGE_INFO image = Image("pnptest");
    ck_assert(image.UnloadCalled);
    ck_assert_int_eq(image.DriverPointerCount, 0);
    dlclose(pin);
    ck_assert(!TtImageMapped("pnp_testfn"));

    ck_assert_int_eq(IoUnregisterPlugPlayNotificationEx(entry), STATUS_SUCCESS);
    ck_assert(!TtIsLive(pdo));
    ck_assert_int_eq(NtsimQueryDevnode(TESTFN_INSTANCE, &dn), STATUS_NO_SUCH_DEVICE); /* freed with its PDO */
}
END_TEST

/* ---- 7. enable after disable ------------------------------------------------------------- */

START_TEST(enable_reloads_new_image)
{
    TtInit(0);
    PlugTestfn();
    PDEVICE_OBJECT pdo = Devnode(TESTFN_INSTANCE).PhysicalDeviceObject;
    PDRIVER_OBJECT first = NtsimLookupObject("\\Driver\\pnptest");
    ULONG64 firstId = TtQuery(first).Id;
    NTSIM_IMAGE_INFO image = Image("pnptest");
    ck_assert_int_eq(image.LoadCount, 1);
    ck_assert_int_eq(TestfnMinors()[IRP_MN_START_DEVICE], 1);

    ck_assert_int_eq(NtsimDisableDevice(TESTFN_INSTANCE, NULL), STATUS_SUCCESS);
    ck_assert(!TtImageMapped("pnp_testfn"));
    image = Image("pnptest");
    ck_assert_int_eq(image.State, NtsimImageNotLoaded);
    ck_assert(image.UnloadCalled);

    ck_assert_int_eq(NtsimEnableDevice(TESTFN_INSTANCE), STATUS_SUCCESS);
    NTSIM_DEVNODE_INFO dn = Devnode(TESTFN_INSTANCE);
    ck_assert_int_eq(dn.State, DeviceNodeStarted);
    ck_assert(!dn.Disabled);
    ck_assert_int_eq(dn.Problem, 0);
    ck_assert_ptr_eq(dn.PhysicalDeviceObject, pdo); /* the same PDO */
    ck_assert(TtImageMapped("pnp_testfn"));
    image = Image("pnptest");
    ck_assert_int_eq(image.LoadCount, 2);
    ck_assert_int_eq(image.State, NtsimImageLoaded);
    ck_assert(!image.UnloadCalled); /* of the new instance */
    ck_assert_int_eq(image.DeviceCount, 1);
    PDRIVER_OBJECT second = NtsimLookupObject("\\Driver\\pnptest");
    ck_assert_ptr_nonnull(second);
    ck_assert_uint_ne(TtQuery(second).Id, firstId); /* a new driver object */
    /* A fresh mapping: the image's data starts over (the old instance had counted one start and one unload). */
    ck_assert_int_eq(TestfnMinors()[IRP_MN_START_DEVICE], 1);
    ck_assert_int_eq(TestfnMinors()[IRP_MN_REMOVE_DEVICE], 0);
    ck_assert_int_eq(*(volatile LONG *)Sym("pnp_testfn", "PnpTestUnloadCalls"), 0);
    TtAssertCounts(pdo, 3, 0, 0);
    TtAssertCounts(TestfnFdo(), 1, 0, 0);
    TtAssertCounts(second, 2, 0, -1);
    ck_assert_ptr_eq(pdo->AttachedDevice, TestfnFdo());
    HANDLE h;
    ck_assert_int_eq(NtsimOpenFile(TESTFN_IFACE, GENERIC_READ, &h), STATUS_SUCCESS); /* the interface is back */
    ck_assert_int_eq(NtsimCloseHandle(h), STATUS_SUCCESS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_pnp_paths");
    TCase *tc = tcase_create("paths");
    tcase_add_test(tc, notify_callback_veto);
    tcase_add_test(tc, not_disableable_vetoes_until_state_invalidated);
    tcase_add_test(tc, registration_defers_unload);
    tcase_add_test(tc, registration_without_defer_keeps_image_only);
    tcase_add_test(tc, raw_child_starts_opens_and_goes_with_parent);
    tcase_add_test(tc, unregister_ex_waits_for_callback);
    tcase_add_test(tc, unregister_plain_does_not_wait);
    tcase_add_test(tc, surprise_removal_remove_after_last_close);
    tcase_add_test(tc, enable_reloads_new_image);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
