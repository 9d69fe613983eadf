/*
 * analyzer_rules.c - the rules on synthetic traces: one scenario per
 * finding (and clean twins that must yield nothing), written with
 * tests/lib/synth_trace the way libobtrace records them: an operation is
 * recorded after it returns, so references the framework takes inside it
 * come first, on the same thread, with the outer stack as their tail.
 * A last test runs every scenario and checks that each finding id of
 * findings.h is produced by at least one.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cycles.h"
#include "model.h"
#include "ntnames.h"
#include "obt_test.h"
#include "render.h"
#include "rules.h"
#include "synth_trace.h"

#define NTSIM_LO 0x10000ull     /* libntsim.so, instance 1 */
#define DRV_LO 0x40000ull       /* the driver image, instance 2 (and 4 when reloaded) */
#define LIB_LO 0x70000ull       /* a class library, instance 3 */
#define BUS_LO 0x90000ull       /* another driver (bus / requester), instance 5 */
#define CLI_LO 0xB0000ull       /* a client driver, instance 6 */
#define DRV 1                   /* \Driver\drv */
#define BUS 2                   /* \Driver\bus */
#define STATUS_INVALID_DEVICE_REQUEST ((int32_t)0xC0000010)
#define STATUS_IMAGE_ALREADY_LOADED ((int32_t)0xC000010E)
#define STATUS_OBJECT_NAME_COLLISION ((int32_t)0xC0000035)

static char path[64];

/* ---- trace building helpers ------------------------------------------------------------------- */

struct scn {
    struct synth_trace *t;
    uint64_t frames[512][8];
    uint32_t depth[512];
};

/* A stack of depth (at most 8) frames, innermost first, remembered for inner(). */
static uint32_t stack_of(struct scn *s, const uint64_t *f, uint32_t depth)
{
    uint32_t id = synth_stack(s->t, f, depth);
    memcpy(s->frames[id], f, depth * 8);
    s->depth[id] = depth;
    return id;
}

/* A stack: [site, caller, main frames]. */
static uint32_t stk(struct scn *s, uint64_t site, uint64_t caller)
{
    uint64_t f[4] = { site, caller, NTSIM_LO + 0x900, NTSIM_LO + 0x990 };
    return stack_of(s, f, 4);
}

/* A stack of a call the framework made inside the call recorded with outer. */
static uint32_t inner(struct scn *s, uint32_t outer)
{
    uint64_t f[8] = { NTSIM_LO + 0x500 + outer * 8, NTSIM_LO + 0x20 };
    memcpy(f + 2, s->frames[outer], s->depth[outer] * 8);
    uint32_t id = synth_stack(s->t, f, s->depth[outer] + 2);
    memcpy(s->frames[id], f, sizeof(f));
    s->depth[id] = s->depth[outer] + 2;
    return id;
}

static void begin(struct scn *s)
{
    memset(s, 0, sizeof(*s));
    s->t = synth_open(path, NULL);
    synth_module_load(s->t, 1, NTSIM_LO, NTSIM_LO, NTSIM_LO + 0x10000, NULL, 0, "/sim/libntsim.so");
}

static void load_driver(struct scn *s, uint32_t inst, uint32_t drv, uint64_t lo, const char *file, const char *name,
                        uint64_t unload_routine)
{
    synth_module_load(s->t, inst, lo, lo, lo + 0x10000, NULL, 0, file);
    synth_object(s->t, drv, OBT_OBJ_DRIVER, 0x7000 + drv, 0, inst, name);
    uint32_t st = stk(s, NTSIM_LO + 0x100, NTSIM_LO + 0x110);
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 2, .stack = st);
    SYNTH_EV(s->t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = drv, .stack = st,
             .flags = OBT_EV_STATUS | OBT_EV_ARG, .arg = unload_routine, .module = inst);
}

/* IoCreateDevice by the driver at site: the framework's reference on the driver comes first. */
static void create_device(struct scn *s, uint32_t dev, uint32_t drv, const char *name, uint64_t site, int drv_count)
{
    uint32_t outer = stk(s, site, site + 0x40);
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = drv_count,
             .stack = inner(s, outer));
    synth_object(s->t, dev, OBT_OBJ_DEVICE, 0x8000 + dev * 0x100, drv, 0, name);
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 1,
             .stack = inner(s, outer));
    SYNTH_EV(s->t, .op = OBT_OP_DEV_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 1, .stack = outer,
             .obj2 = drv, .flags = OBT_EV_STATUS);
}

/* IoDeleteDevice: completes at once when nothing holds the device (keep-alive dropped inside). */
static void delete_device(struct scn *s, uint32_t dev, uint32_t drv, uint64_t site, int remaining, int drv_count)
{
    uint32_t outer = stk(s, site, site + 0x40);
    uint32_t in = inner(s, outer);
    if (remaining == 0)
        SYNTH_EV(s->t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = drv_count,
                 .stack = inner(s, in));
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = remaining, .stack = in);
    SYNTH_EV(s->t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = remaining,
             .stack = outer);
}

static void ref(struct scn *s, uint32_t obj, uint8_t type, int count, uint32_t stack, uint32_t tag)
{
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_REF, .obj_type = type, .object = obj, .count = count, .stack = stack, .tag = tag);
}

static void deref(struct scn *s, uint32_t obj, uint8_t type, int count, uint32_t stack, uint32_t tag)
{
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_DEREF, .obj_type = type, .object = obj, .count = count, .stack = stack, .tag = tag);
}

static void service(struct scn *s, uint8_t op, const char *name, int32_t status)
{
    uint32_t str = synth_string(s->t, name);
    SYNTH_EV(s->t, .op = op, .string = str, .status = status, .flags = OBT_EV_STATUS,
             .stack = stk(s, NTSIM_LO + 0x300, NTSIM_LO + 0x310));
}

static void driver_unload(struct scn *s, uint32_t drv, uint32_t inst)
{
    SYNTH_EV(s->t, .op = OBT_OP_DRIVER_UNLOAD, .obj_type = OBT_OBJ_DRIVER, .object = drv, .module = inst,
             .flags = OBT_EV_PRE, .stack = stk(s, NTSIM_LO + 0x320, NTSIM_LO + 0x330));
}

/* The driver object's last reference goes: the image is unmapped. */
static void driver_gone(struct scn *s, uint32_t drv, uint32_t inst)
{
    uint32_t st = stk(s, NTSIM_LO + 0x340, NTSIM_LO + 0x350);
    deref(s, drv, OBT_OBJ_DRIVER, 0, st, 0);
    SYNTH_EV(s->t, .op = OBT_OP_IMAGE_UNLOAD, .module = inst, .flags = OBT_EV_STATUS, .stack = st);
    synth_module_unload(s->t, inst);
}

static void attach(struct scn *s, uint32_t upper, uint32_t lower)
{
    SYNTH_EV(s->t, .op = OBT_OP_DEV_ATTACH, .obj_type = OBT_OBJ_DEVICE, .object = upper, .obj2 = lower,
             .flags = OBT_EV_STATUS, .stack = stk(s, DRV_LO + 0x600, DRV_LO + 0x640));
}

static void pnp_remove(struct scn *s, uint32_t dev)
{
    SYNTH_EV(s->t, .op = OBT_OP_IRP_CALL, .obj_type = OBT_OBJ_DEVICE, .object = dev, .arg = 0x1b02,
             .flags = OBT_EV_STATUS, .stack = stk(s, NTSIM_LO + 0x700, NTSIM_LO + 0x710));
}

/* A PDO of the bus driver with devnode reference. */
static void make_pdo(struct scn *s, uint32_t pdo)
{
    load_driver(s, 5, BUS, BUS_LO, "/x/bus.so", "\\Driver\\bus", BUS_LO + 0x10);
    create_device(s, pdo, BUS, "\\Device\\PDO", BUS_LO + 0x200, 3);
}

static void finish(struct scn *s, bool end)
{
    if (end)
        synth_end(s->t);
    ck_assert_int_eq(synth_close(s->t), 0);
}

/* ---- scenarios -------------------------------------------------------------------------------- */

/* A legacy driver: start, device, stop, unload deletes the device, image unmapped. */
static void scn_clean_legacy(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    uint32_t a = stk(s, DRV_LO + 0x200, DRV_LO + 0x240);
    ref(s, 10, OBT_OBJ_DEVICE, 2, a, 0);
    deref(s, 10, OBT_OBJ_DEVICE, 1, stk(s, DRV_LO + 0x220, DRV_LO + 0x240), 0);
    service(s, OBT_OP_SERVICE_STOP, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\drv", 0);
    driver_unload(s, DRV, 2);
    delete_device(s, 10, DRV, DRV_LO + 0x300, 0, 2);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    finish(s, true);
}

static void scn_unload_not_requested(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    finish(s, true);
}

/* The device_ref_leak sample: a tagged reference in an IOCTL, stop, zombie device, reload refused. */
static void scn_zombie_tagged(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    uint32_t ok = stk(s, DRV_LO + 0x200, DRV_LO + 0x240);
    ref(s, 10, OBT_OBJ_DEVICE, 2, ok, 'Ok01');
    deref(s, 10, OBT_OBJ_DEVICE, 1, stk(s, DRV_LO + 0x210, DRV_LO + 0x240), 'Ok01');
    ref(s, 10, OBT_OBJ_DEVICE, 2, stk(s, DRV_LO + 0x280, DRV_LO + 0x2c0), 'Leak');
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    delete_device(s, 10, DRV, DRV_LO + 0x300, 1, 3);
    deref(s, DRV, OBT_OBJ_DRIVER, 2, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    service(s, OBT_OP_SERVICE_START, "drv", STATUS_IMAGE_ALREADY_LOADED);
    finish(s, true);
}

/* Untagged references from three sites; A leaks 3 of 5, C 1 of 1, B is balanced. */
static void scn_untagged_sites(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    uint32_t a = stk(s, DRV_LO + 0x400, DRV_LO + 0x4c0), a_rel = stk(s, DRV_LO + 0x410, DRV_LO + 0x4c0);
    uint32_t b = stk(s, DRV_LO + 0x500, DRV_LO + 0x5c0), b_rel = stk(s, DRV_LO + 0x510, DRV_LO + 0x5c0);
    uint32_t c = stk(s, DRV_LO + 0x600, DRV_LO + 0x6c0);
    int n = 1;
    for (int i = 0; i < 5; i++)
        ref(s, 10, OBT_OBJ_DEVICE, ++n, a, 0);
    for (int i = 0; i < 2; i++)
        ref(s, 10, OBT_OBJ_DEVICE, ++n, b, 0);
    for (int i = 0; i < 2; i++)
        deref(s, 10, OBT_OBJ_DEVICE, --n, b_rel, 0);
    for (int i = 0; i < 2; i++)
        deref(s, 10, OBT_OBJ_DEVICE, --n, a_rel, 0);
    ref(s, 10, OBT_OBJ_DEVICE, ++n, c, 0);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    delete_device(s, 10, DRV, DRV_LO + 0x300, n - 1, 3);
    deref(s, DRV, OBT_OBJ_DRIVER, 2, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    finish(s, true);
}

/* A legacy stop accepted while an application keeps a handle open on the device. */
static void scn_open_handle(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    uint32_t open = stk(s, NTSIM_LO + 0x800, NTSIM_LO + 0x810);
    synth_object(s->t, 20, OBT_OBJ_FILE, 0x9000, 0, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = inner(s, open));
    SYNTH_EV(s->t, .op = OBT_OP_DEV_OPEN_REF, .obj_type = OBT_OBJ_DEVICE, .object = 10, .count = 1, .stack = inner(s, open));
    SYNTH_EV(s->t, .op = OBT_OP_HANDLE_OPEN, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = open,
             .arg = 0x44);
    deref(s, 20, OBT_OBJ_FILE, 1, stk(s, NTSIM_LO + 0x820, NTSIM_LO + 0x810), 0);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    finish(s, true);
}

/* A PnP filter with a control device: the filter device is removed and deleted, the CDO stays. */
static void scn_hybrid_cdo(struct scn *s)
{
    begin(s);
    make_pdo(s, 30);
    load_driver(s, 2, DRV, DRV_LO, "/x/filter.so", "\\Driver\\filter", DRV_LO + 0x10);
    create_device(s, 10, DRV, "", DRV_LO + 0x100, 3);
    attach(s, 10, 30);
    create_device(s, 11, DRV, "\\Device\\FilterCtl", DRV_LO + 0x180, 4);
    pnp_remove(s, 10);
    SYNTH_EV(s->t, .op = OBT_OP_DEV_DETACH, .obj_type = OBT_OBJ_DEVICE, .object = 30, .obj2 = 10,
             .stack = stk(s, DRV_LO + 0x700, DRV_LO + 0x740));
    delete_device(s, 10, DRV, DRV_LO + 0x720, 0, 3);
    finish(s, true);
}

/* A service stop sent to a PnP driver whose device stack is never removed. */
static void scn_stop_refused(struct scn *s)
{
    begin(s);
    make_pdo(s, 30);
    load_driver(s, 2, DRV, DRV_LO, "/x/fdo.so", "\\Driver\\fdo", DRV_LO + 0x10);
    create_device(s, 10, DRV, "", DRV_LO + 0x100, 3);
    attach(s, 10, 30);
    service(s, OBT_OP_SERVICE_STOP, "fdo", STATUS_INVALID_DEVICE_REQUEST);
    finish(s, true);
}

/* DriverUnload ran but a PnP notification registration still pins the driver object. */
static void scn_notification(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    uint32_t reg = stk(s, DRV_LO + 0x900, DRV_LO + 0x940);
    ref(s, DRV, OBT_OBJ_DRIVER, 3, inner(s, reg), 0);
    synth_object(s->t, 40, OBT_OBJ_NOTIFY, 0xa000, DRV, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_NOTIFY_REGISTER, .obj_type = OBT_OBJ_DRIVER, .object = DRV, .obj2 = 40, .count = 3,
             .arg = 2, .flags = OBT_EV_STATUS, .stack = reg);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    deref(s, DRV, OBT_OBJ_DRIVER, 2, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x380, NTSIM_LO + 0x370), 0);
    finish(s, true);
}

static void scn_no_unload_routine(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", 0);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    service(s, OBT_OP_SERVICE_STOP, "drv", STATUS_INVALID_DEVICE_REQUEST);
    finish(s, true);
}

/* A class library overwrites the DriverUnload the driver set, then the image stays (no stop). */
static void scn_unload_replaced(struct scn *s)
{
    begin(s);
    synth_module_load(s->t, 3, LIB_LO, LIB_LO, LIB_LO + 0x10000, NULL, 0, "/x/stream.so");
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", LIB_LO + 0x10);
    SYNTH_EV(s->t, .op = OBT_OP_UNLOAD_WRITE, .obj_type = OBT_OBJ_DRIVER, .object = DRV, .arg = LIB_LO + 0x10,
             .arg2 = DRV_LO + 0x10, .stack = stk(s, LIB_LO + 0x100, DRV_LO + 0x20));
    finish(s, true);
}

/* IoReleaseRemoveLockAndWait never returns: another acquisition was never released. */
static void scn_remove_lock_wait(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    synth_object(s->t, 50, OBT_OBJ_REMLOCK, 0x8a00, DRV, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_REMLOCK_ACQUIRE, .obj_type = OBT_OBJ_REMLOCK, .object = 50, .arg = 0x1111, .count = 2,
             .flags = OBT_EV_STATUS, .stack = stk(s, DRV_LO + 0xa00, DRV_LO + 0xa40));
    SYNTH_EV(s->t, .op = OBT_OP_REMLOCK_ACQUIRE, .obj_type = OBT_OBJ_REMLOCK, .object = 50, .arg = 0x2222, .count = 3,
             .flags = OBT_EV_STATUS, .stack = stk(s, DRV_LO + 0xb00, DRV_LO + 0xb40));
    SYNTH_EV(s->t, .op = OBT_OP_REMLOCK_WAIT, .obj_type = OBT_OBJ_REMLOCK, .object = 50, .arg = 0x2222, .count = 3,
             .flags = OBT_EV_PRE, .stack = stk(s, DRV_LO + 0xb10, DRV_LO + 0xb40));
    SYNTH_EV(s->t, .op = OBT_OP_WAIT_STUCK, .obj_type = OBT_OBJ_REMLOCK, .object = 50, .arg = 2000,
             .flags = OBT_EV_PRE, .stack = stk(s, NTSIM_LO + 0xb10, NTSIM_LO + 0xb40));
    finish(s, true);
}

/* A remove lock released with a tag never acquired, and one acquisition never released. */
static void scn_remove_lock_unbalanced(struct scn *s)
{
    scn_clean_legacy(s);
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    synth_object(s->t, 50, OBT_OBJ_REMLOCK, 0x8a00, DRV, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_REMLOCK_ACQUIRE, .obj_type = OBT_OBJ_REMLOCK, .object = 50, .arg = 0x1111, .count = 2,
             .flags = OBT_EV_STATUS, .stack = stk(s, DRV_LO + 0xa00, DRV_LO + 0xa40));
    SYNTH_EV(s->t, .op = OBT_OP_REMLOCK_RELEASE, .obj_type = OBT_OBJ_REMLOCK, .object = 50, .arg = 0x3333, .count = 1,
             .stack = stk(s, DRV_LO + 0xc00, DRV_LO + 0xc40));
    finish(s, true);
}

/* The image unloads with a pool allocation it never freed. */
static void scn_pool_leak(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    synth_object(s->t, 60, OBT_OBJ_POOL, 0xc000, 0, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_POOL_ALLOC, .obj_type = OBT_OBJ_POOL, .object = 60, .tag = 'Leak', .arg = 128,
             .module = 2, .stack = stk(s, DRV_LO + 0xd00, DRV_LO + 0xd40));
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    finish(s, true);
}

/* A dereference after the last one (bug check 0x18, found by address) and IoDeleteDevice twice. */
static void scn_double_release(struct scn *s)
{
    begin(s);
    synth_object(s->t, 70, OBT_OBJ_OTHER, 0xd000, 0, 0, "\\Callback\\X");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_OTHER, .object = 70, .count = 1,
             .stack = stk(s, DRV_LO + 0xe00, DRV_LO + 0xe40));
    deref(s, 70, OBT_OBJ_OTHER, 0, stk(s, DRV_LO + 0xe10, DRV_LO + 0xe40), 0);
    SYNTH_EV(s->t, .op = OBT_OP_BUGCHECK, .arg = 0x18, .arg2 = 0xd000, .flags = OBT_EV_PRE,
             .stack = stk(s, DRV_LO + 0xe20, DRV_LO + 0xe40));
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    ref(s, 10, OBT_OBJ_DEVICE, 2, stk(s, DRV_LO + 0x200, DRV_LO + 0x240), 0);
    SYNTH_EV(s->t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = 10, .count = 2,
             .stack = stk(s, DRV_LO + 0x300, DRV_LO + 0x340));
    SYNTH_EV(s->t, .op = OBT_OP_DEV_DELETE, .obj_type = OBT_OBJ_DEVICE, .object = 10, .count = 2,
             .stack = stk(s, DRV_LO + 0x380, DRV_LO + 0x340));
    finish(s, true);
}

/* A work item of an image runs after the image was unmapped. */
static void scn_call_into_unloaded(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    synth_object(s->t, 80, OBT_OBJ_WORKITEM, 0xe000, DRV, 2, "");
    SYNTH_EV(s->t, .op = OBT_OP_WORKITEM_ALLOC, .obj_type = OBT_OBJ_WORKITEM, .object = 80,
             .stack = stk(s, DRV_LO + 0xf00, DRV_LO + 0xf40));
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    SYNTH_EV(s->t, .op = OBT_OP_WORKITEM_RUN, .obj_type = OBT_OBJ_WORKITEM, .object = 80,
             .stack = stk(s, NTSIM_LO + 0xf00, NTSIM_LO + 0xf40));
    finish(s, true);
}

/* The bus PDO exports an interface to another driver's device and is removed while it is held. */
static void scn_interface(struct scn *s)
{
    begin(s);
    make_pdo(s, 30);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Requester", DRV_LO + 0x100, 3);
    /* asked by drv.so (its frames on the stack), answered by the PDO, with no-op reference functions */
    SYNTH_EV(s->t, .op = OBT_OP_INTERFACE_QUERY, .obj_type = OBT_OBJ_DEVICE, .object = 30, .obj2 = 30,
             .flags = OBT_EV_STATUS | OBT_EV_ARG, .arg = OBT_IFACE_NOOP_REFS, .stack = stk(s, DRV_LO + 0x300, DRV_LO + 0x340));
    pnp_remove(s, 30);
    finish(s, true);
}

/*
 * A client driver's IoGetDeviceObjectPointer on drv's device: the framework's
 * inner ObReferenceObjectByHandle and the outer call report the same count
 * (one reference, taken over by the outer call); the handle is closed.
 */
static void scn_device_pointer(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    load_driver(s, 6, 60, CLI_LO, "/x/client.so", "\\Driver\\client", CLI_LO + 0x10);
    uint32_t gdop = stk(s, CLI_LO + 0x200, CLI_LO + 0x240);
    synth_object(s->t, 20, OBT_OBJ_FILE, 0x9000, 0, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = inner(s, gdop));
    SYNTH_EV(s->t, .op = OBT_OP_DEV_OPEN_REF, .obj_type = OBT_OBJ_DEVICE, .object = 10, .count = 1,
             .stack = inner(s, gdop));
    SYNTH_EV(s->t, .op = OBT_OP_HANDLE_OPEN, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = inner(s, gdop),
             .arg = 0x44);
    deref(s, 20, OBT_OBJ_FILE, 1, inner(s, gdop), 0);
    uint32_t by_handle = inner(s, gdop);
    ref(s, 20, OBT_OBJ_FILE, 2, inner(s, by_handle), 0);
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 2, .stack = by_handle,
             .arg = 0x44, .flags = OBT_EV_STATUS | OBT_EV_ARG);
    SYNTH_EV(s->t, .op = OBT_OP_HANDLE_CLOSE, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 0,
             .stack = inner(s, gdop), .arg = 0x44, .flags = OBT_EV_STATUS | OBT_EV_ARG);
    uint32_t name = synth_string(s->t, "\\Device\\Drv");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = gdop, .obj2 = 10,
             .string = name, .flags = OBT_EV_STATUS | OBT_EV_OBJ2 | OBT_EV_STRING);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    finish(s, true);
}

/* A library overwrites DriverUnload inside DriverEntry (before the image is known); the image still unloads. */
static void scn_unload_replaced_unloaded(struct scn *s)
{
    begin(s);
    synth_module_load(s->t, 2, DRV_LO, DRV_LO, DRV_LO + 0x10000, NULL, 0, "/x/mini.so");
    synth_object(s->t, DRV, OBT_OBJ_DRIVER, 0x7000 + DRV, 0, 0, "\\Driver\\mini");
    uint32_t st = stk(s, NTSIM_LO + 0x100, NTSIM_LO + 0x110);
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = DRV, .count = 2, .stack = st);
    SYNTH_EV(s->t, .op = OBT_OP_UNLOAD_WRITE, .obj_type = OBT_OBJ_DRIVER, .object = DRV, .arg = NTSIM_LO + 0x40,
             .arg2 = DRV_LO + 0x10, .flags = OBT_EV_ARG | OBT_EV_ARG2, .stack = stk(s, NTSIM_LO + 0x150, DRV_LO + 0x50));
    SYNTH_EV(s->t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = DRV, .stack = st,
             .flags = OBT_EV_STATUS | OBT_EV_ARG | OBT_EV_MODULE, .arg = NTSIM_LO + 0x40, .module = 2);
    service(s, OBT_OP_SERVICE_STOP, "mini", 0);
    SYNTH_EV(s->t, .op = OBT_OP_DRIVER_UNLOAD, .obj_type = OBT_OBJ_DRIVER, .object = DRV, .module = 2,
             .arg = NTSIM_LO + 0x40, .flags = OBT_EV_PRE | OBT_EV_ARG, .stack = stk(s, NTSIM_LO + 0x320, NTSIM_LO + 0x330));
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    finish(s, true);
}

/* A trace cut short: no end record (and a drop). */
static void scn_incomplete(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    synth_dropped(s->t, 3, OBT_DROP_NO_SPACE);
    finish(s, false);
}

/* The same address for two objects: the first is freed cleanly, the second leaks (a zombie). */
static void scn_address_reuse(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\A", DRV_LO + 0x100, 3);
    delete_device(s, 10, DRV, DRV_LO + 0x300, 0, 2);
    create_device(s, 11, DRV, "\\Device\\A", DRV_LO + 0x100, 3); /* same name, new id */
    synth_object(s->t, 11, OBT_OBJ_DEVICE, 0x8000 + 10 * 0x100, DRV, 0, "\\Device\\A"); /* same address */
    ref(s, 11, OBT_OBJ_DEVICE, 2, stk(s, DRV_LO + 0x280, DRV_LO + 0x2c0), 0);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    delete_device(s, 11, DRV, DRV_LO + 0x300, 1, 3);
    deref(s, DRV, OBT_OBJ_DRIVER, 2, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    finish(s, true);
}

/* The image is unloaded and loaded again at the same addresses: a second, clean instance. */
static void scn_reloaded_clean(struct scn *s)
{
    scn_clean_legacy(s);
    begin(s);
    for (uint32_t inst = 2; inst <= 4; inst += 2) {
        load_driver(s, inst, DRV + inst, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
        service(s, OBT_OP_SERVICE_STOP, "drv", 0);
        driver_unload(s, DRV + inst, inst);
        deref(s, DRV + inst, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
        driver_gone(s, DRV + inst, inst);
    }
    finish(s, true);
}

/* The PnP manager's root PDO (no driver image of the trace owns it), alive to the end. */
static void root_pdo(struct scn *s, uint32_t pdo)
{
    synth_object(s->t, pdo, OBT_OBJ_DEVICE, 0x8000 + pdo * 0x100, 0, 0, "\\Device\\00000001");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = pdo, .count = 1,
             .stack = stk(s, NTSIM_LO + 0x800, NTSIM_LO + 0x810));
}

/*
 * A filter of drv references the root PDO in AddDevice (drv.so's own call); its
 * REMOVE deletes its device; the driver unloads. released: whether it drops the
 * PDO reference before (the clean twin).
 */
static void unloaded_ref(struct scn *s, bool released)
{
    begin(s);
    root_pdo(s, 30);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "", DRV_LO + 0x100, 3);
    ref(s, 30, OBT_OBJ_DEVICE, 2, stk(s, DRV_LO + 0x420, DRV_LO + 0x440), 0);
    pnp_remove(s, 10);
    if (released)
        deref(s, 30, OBT_OBJ_DEVICE, 1, stk(s, DRV_LO + 0x460, DRV_LO + 0x480), 0);
    delete_device(s, 10, DRV, DRV_LO + 0x300, 0, 2);
    driver_unload(s, DRV, 2);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    finish(s, true);
}

static void scn_unloaded_ref_leak(struct scn *s)
{
    unloaded_ref(s, false);
}

static void scn_unloaded_ref_released(struct scn *s)
{
    unloaded_ref(s, true);
}

/* IoCreateSymbolicLink / IoDeleteSymbolicLink of \DosDevices\Drv by drv.so at site, with status. */
static void link_call(struct scn *s, uint8_t op, uint64_t site, int32_t status)
{
    SYNTH_EV(s->t, .op = op, .string = synth_string(s->t, "\\DosDevices\\Drv"), .status = status,
             .flags = OBT_EV_STATUS | OBT_EV_STRING, .stack = stk(s, site, site + 0x40));
}

/* Instance inst of drv.so (driver object drv) starts: DriverEntry creates the link, returns its status. */
static void start_with_link(struct scn *s, uint32_t inst, uint32_t drv, int32_t status)
{
    synth_module_load(s->t, inst, DRV_LO, DRV_LO, DRV_LO + 0x10000, NULL, 0, "/x/drv.so");
    synth_object(s->t, drv, OBT_OBJ_DRIVER, 0x7000 + drv, 0, inst, "\\Driver\\drv");
    uint32_t st = stk(s, NTSIM_LO + 0x100, NTSIM_LO + 0x110);
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = drv, .count = 2, .stack = st);
    link_call(s, OBT_OP_SYMLINK_CREATE, DRV_LO + 0x150, status);
    SYNTH_EV(s->t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = drv, .stack = st,
             .status = status, .flags = OBT_EV_STATUS | OBT_EV_ARG, .arg = status < 0 ? 0 : DRV_LO + 0x10,
             .module = inst);
}

/*
 * drv.so starts, stops (deleting its link when clean) and unloads, then
 * starts again: without the delete, the second IoCreateSymbolicLink collides.
 */
static void symlink_reload(struct scn *s, bool clean)
{
    begin(s);
    start_with_link(s, 2, DRV, 0);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    if (clean)
        link_call(s, OBT_OP_SYMLINK_DELETE, DRV_LO + 0x1a0, 0);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    start_with_link(s, 4, DRV + 2, clean ? 0 : STATUS_OBJECT_NAME_COLLISION);
    if (clean) {
        service(s, OBT_OP_SERVICE_STOP, "drv", 0);
        driver_unload(s, DRV + 2, 4);
        link_call(s, OBT_OP_SYMLINK_DELETE, DRV_LO + 0x1a0, 0);
        deref(s, DRV + 2, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    }
    driver_gone(s, DRV + 2, 4);
    finish(s, true);
}

static void scn_symlink_leftover(struct scn *s)
{
    symlink_reload(s, false);
}

static void scn_symlink_deleted(struct scn *s)
{
    symlink_reload(s, true);
}

/* ---- work items: queued on the host thread or by their routine on a system worker thread ---------------- */

#define HOST_TID 4242   /* the first thread of a synthetic trace (its pid) */
#define WORKER_TID 4243

/* A stack on the worker thread: [site, caller, the worker loop, the thread's start]. */
static uint32_t wstk(struct scn *s, uint64_t site, uint64_t caller)
{
    uint64_t f[4] = { site, caller, NTSIM_LO + 0xa80, NTSIM_LO + 0xac0 };
    return stack_of(s, f, 4);
}

/* IoAllocateWorkItem(device dev) by the driver: item id at address. */
static void alloc_work_item(struct scn *s, uint32_t item, uint32_t dev, uint64_t address)
{
    synth_object(s->t, item, OBT_OBJ_WORKITEM, address, 0, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_WORKITEM_ALLOC, .obj_type = OBT_OBJ_WORKITEM, .object = item, .obj2 = dev,
             .stack = stk(s, DRV_LO + 0x130, DRV_LO + 0x140));
}

/* IoQueueWorkItem(item) at outer: the reference on the device (count after) the I/O manager takes inside comes first. */
static void queue_work_item(struct scn *s, uint32_t item, uint32_t dev, int count, uint32_t outer)
{
    ref(s, dev, OBT_OBJ_DEVICE, count, inner(s, outer), 0);
    SYNTH_EV(s->t, .op = OBT_OP_WORKITEM_QUEUE, .obj_type = OBT_OBJ_WORKITEM, .object = item, .arg = DRV_LO + 0x500,
             .stack = outer);
}

/* The worker is about to run item's routine: its WORKITEM_RUN, as the tracer records it (the worker thread stays current). */
static void mark_work_item_run(struct scn *s, uint32_t item, uint32_t dev)
{
    synth_thread(s->t, WORKER_TID);
    SYNTH_EV(s->t, .op = OBT_OP_WORKITEM_RUN, .obj_type = OBT_OBJ_WORKITEM, .object = item, .obj2 = dev,
             .arg = DRV_LO + 0x600, .flags = OBT_EV_OBJ2 | OBT_EV_ARG | OBT_EV_PRE,
             .stack = stk(s, NTSIM_LO + 0xa10, NTSIM_LO + 0xa80));
}

/* A routine ran on the worker (re-queueing item at DRV_LO + 0x520 when requeue) and returned: the I/O manager drops one. */
static void run_work_item(struct scn *s, uint32_t item, uint32_t dev, int count, bool requeue)
{
    static const uint64_t drop[3] = { NTSIM_LO + 0xa10, NTSIM_LO + 0xa80, NTSIM_LO + 0xac0 };
    synth_thread(s->t, WORKER_TID);
    if (requeue)
        queue_work_item(s, item, dev, ++count, wstk(s, DRV_LO + 0x520, NTSIM_LO + 0xa40));
    deref(s, dev, OBT_OBJ_DEVICE, count - 1, stack_of(s, drop, 3), 0);
    synth_thread(s->t, HOST_TID);
}

/* drv.so with \Device\Poll (id 10) and work item 80 on it, at 0xe000. */
static void work_item_device(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Poll", DRV_LO + 0x100, 3);
    alloc_work_item(s, 80, 10, 0xe000);
}

/* The service stops; DriverUnload deletes the device while held queue references keep it (a zombie). */
static void unload_leaving_zombie(struct scn *s, int held)
{
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    delete_device(s, 10, DRV, DRV_LO + 0x300, held, 3);
    deref(s, DRV, OBT_OBJ_DRIVER, 2, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    finish(s, true);
}

/*
 * Queued by an IOCTL (DRV_LO + 0x540); its routine re-queues it, returns,
 * and runs again forever. open: meanwhile the application opens the device
 * by name, whose lookup reference the kernel drops on its own path (no
 * driver on either stack, like the work item's drop).
 */
static void workitem_requeued(struct scn *s, bool open)
{
    static const uint64_t lookup[4] = { NTSIM_LO + 0x800, NTSIM_LO + 0x810, NTSIM_LO + 0x900, NTSIM_LO + 0x990 };
    static const uint64_t lookup_done[3] = { NTSIM_LO + 0x820, NTSIM_LO + 0x900, NTSIM_LO + 0x990 };
    work_item_device(s);
    queue_work_item(s, 80, 10, 2, stk(s, DRV_LO + 0x540, DRV_LO + 0x580));
    if (open) {
        ref(s, 10, OBT_OBJ_DEVICE, 3, stack_of(s, lookup, 4), 0);
        deref(s, 10, OBT_OBJ_DEVICE, 2, stack_of(s, lookup_done, 3), 0);
    }
    run_work_item(s, 80, 10, 2, true);
    unload_leaving_zombie(s, 1);
}

static void scn_workitem_requeued(struct scn *s)
{
    workitem_requeued(s, false);
}

static void scn_workitem_open(struct scn *s)
{
    workitem_requeued(s, true);
}

/*
 * Items 80 and 81 of one device, each queued once (at 0x540 and 0x5c0);
 * one routine returns: 80's, or 81's when marked (a WORKITEM_RUN of 81 on
 * the worker, as the tracer records it). overlap: 81 is queued before
 * that, so without the mark the trace does not say which routine returned.
 */
static void two_work_items(struct scn *s, bool overlap, bool marked)
{
    work_item_device(s);
    alloc_work_item(s, 81, 10, 0xe100);
    queue_work_item(s, 80, 10, 2, stk(s, DRV_LO + 0x540, DRV_LO + 0x580));
    if (overlap)
        queue_work_item(s, 81, 10, 3, stk(s, DRV_LO + 0x5c0, DRV_LO + 0x580));
    if (marked)
        mark_work_item_run(s, 81, 10);
    run_work_item(s, marked ? 81 : 80, 10, overlap ? 3 : 2, false);
    if (!overlap)
        queue_work_item(s, 81, 10, 2, stk(s, DRV_LO + 0x5c0, DRV_LO + 0x580));
    unload_leaving_zombie(s, 1);
}

/* Both queued; the worker's WORKITEM_RUN says 81's routine returned: 80's queue still holds the device. */
static void scn_workitems_overlap_run(struct scn *s)
{
    two_work_items(s, true, true);
}

static void scn_workitems_two(struct scn *s)
{
    two_work_items(s, false, false);
}

static void scn_workitems_overlap(struct scn *s)
{
    two_work_items(s, true, false);
}

/*
 * Item 80's routine frees it; item 81, allocated at the same address, is
 * queued at the same line and re-queued by its routine, which returns once.
 */
static void scn_workitem_reused(struct scn *s)
{
    work_item_device(s);
    queue_work_item(s, 80, 10, 2, stk(s, DRV_LO + 0x540, DRV_LO + 0x580));
    synth_thread(s->t, WORKER_TID);
    SYNTH_EV(s->t, .op = OBT_OP_WORKITEM_FREE, .obj_type = OBT_OBJ_WORKITEM, .object = 80,
             .stack = wstk(s, DRV_LO + 0x560, NTSIM_LO + 0xa40));
    run_work_item(s, 80, 10, 2, false);
    alloc_work_item(s, 81, 10, 0xe000);
    queue_work_item(s, 81, 10, 2, stk(s, DRV_LO + 0x540, DRV_LO + 0x580));
    run_work_item(s, 81, 10, 2, true);
    unload_leaving_zombie(s, 1);
}

/*
 * Item 80's routine signals DriverUnload and returns; the I/O manager drops
 * the queue's reference (2 -> 1), but its thread is preempted before that
 * release is recorded. DriverUnload deletes the device (1 -> 0, freed) and
 * the image goes; the worker's release is recorded last, with its count 1.
 * The counts say it came first: no double release, nothing leaked.
 */
static void scn_workitem_drop_recorded_late(struct scn *s)
{
    static const uint64_t drop[3] = { NTSIM_LO + 0xa10, NTSIM_LO + 0xa80, NTSIM_LO + 0xac0 };
    work_item_device(s);
    queue_work_item(s, 80, 10, 2, stk(s, DRV_LO + 0x540, DRV_LO + 0x580));
    mark_work_item_run(s, 80, 10);
    synth_thread(s->t, HOST_TID);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, DRV, 2);
    delete_device(s, 10, DRV, DRV_LO + 0x300, 0, 2);
    deref(s, DRV, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
    driver_gone(s, DRV, 2);
    synth_thread(s->t, WORKER_TID);
    deref(s, 10, OBT_OBJ_DEVICE, 1, stack_of(s, drop, 3), 0);
    synth_thread(s->t, HOST_TID);
    finish(s, true);
}

/*
 * The same on a device that lives on: the worker's drop (3 -> 2) is
 * recorded after the driver's own release (2 -> 1). The device's count is
 * 1, its keep-alive all that is held; the driver stays loaded (the service
 * is never stopped).
 */
static void scn_late_release_live(struct scn *s)
{
    static const uint64_t drop[3] = { NTSIM_LO + 0xa10, NTSIM_LO + 0xa80, NTSIM_LO + 0xac0 };
    work_item_device(s);
    ref(s, 10, OBT_OBJ_DEVICE, 2, stk(s, DRV_LO + 0x200, DRV_LO + 0x240), 0);
    queue_work_item(s, 80, 10, 3, stk(s, DRV_LO + 0x540, DRV_LO + 0x580));
    mark_work_item_run(s, 80, 10);
    synth_thread(s->t, HOST_TID);
    deref(s, 10, OBT_OBJ_DEVICE, 1, stk(s, DRV_LO + 0x220, DRV_LO + 0x240), 0);
    synth_thread(s->t, WORKER_TID);
    deref(s, 10, OBT_OBJ_DEVICE, 2, stack_of(s, drop, 3), 0);
    synth_thread(s->t, HOST_TID);
    finish(s, true);
}

/*
 * Three start/stop cycles of drv.so (instances 2, 4, 7). Cycles 1 and 3
 * reference the kernel's \Callback\X and never release it; cycle 3 also
 * leaves a pool block. Cycle 2 is clean. (A reference on an object other
 * than a device, file or driver is no leaked-reference: only the cycles
 * show it.)
 */
static void scn_cycle_leak(struct scn *s)
{
    static const uint32_t inst[3] = { 2, 4, 7 };
    begin(s);
    synth_object(s->t, 70, OBT_OBJ_OTHER, 0xd000, 0, 0, "\\Callback\\X");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_OTHER, .object = 70, .count = 1,
             .stack = stk(s, NTSIM_LO + 0xe00, NTSIM_LO + 0xe40));
    for (int k = 0; k < 3; k++) {
        uint32_t drv = 20 + (uint32_t)k;
        load_driver(s, inst[k], drv, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
        if (k != 1)
            ref(s, 70, OBT_OBJ_OTHER, k == 0 ? 2 : 3, stk(s, DRV_LO + 0x280, DRV_LO + 0x2c0), 0);
        if (k == 2) {
            synth_object(s->t, 60, OBT_OBJ_POOL, 0xc000, 0, 0, "");
            SYNTH_EV(s->t, .op = OBT_OP_POOL_ALLOC, .obj_type = OBT_OBJ_POOL, .object = 60, .tag = 'Leak', .arg = 64,
                     .module = inst[k], .stack = stk(s, DRV_LO + 0xd00, DRV_LO + 0xd40));
        }
        service(s, OBT_OP_SERVICE_STOP, "drv", 0);
        driver_unload(s, drv, inst[k]);
        deref(s, drv, OBT_OBJ_DRIVER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 0);
        driver_gone(s, drv, inst[k]);
    }
    finish(s, true);
}

/*
 * The unload happens inside the dereference that frees the last object of
 * the driver, and that dereference is recorded when its call returns:
 * after the unload. The thread's releases that follow the unload are
 * still the unloading call's; its first other event closes the cycle.
 */
static void scn_unload_inside_release(struct scn *s)
{
    begin(s);
    synth_object(s->t, 70, OBT_OBJ_OTHER, 0xd000, 0, 0, "\\Callback\\X");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_OTHER, .object = 70, .count = 1,
             .stack = stk(s, NTSIM_LO + 0xe00, NTSIM_LO + 0xe40));
    for (int k = 0; k < 2; k++) {
        uint32_t inst = 2 + 2 * (uint32_t)k, drv = 20 + (uint32_t)k;
        load_driver(s, inst, drv, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
        ref(s, 70, OBT_OBJ_OTHER, 2, stk(s, DRV_LO + 0x280, DRV_LO + 0x2c0), 'Cyc1');
        service(s, OBT_OP_SERVICE_STOP, "drv", 0);
        driver_unload(s, drv, inst);
        uint32_t st = stk(s, NTSIM_LO + 0x340, NTSIM_LO + 0x350);
        SYNTH_EV(s->t, .op = OBT_OP_IMAGE_UNLOAD, .module = inst, .flags = OBT_EV_STATUS, .stack = st);
        deref(s, drv, OBT_OBJ_DRIVER, 0, st, 0);
        if (k == 1) /* the thread does something else first: the reference was left */
            service(s, OBT_OP_SERVICE_START, "drv", 0);
        deref(s, 70, OBT_OBJ_OTHER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 'Cyc1');
        synth_module_unload(s->t, inst);
    }
    finish(s, true);
}

/*
 * The last release that unloads the image happens on the worker, which
 * notices the unmapping and writes the MODULE_UNLOAD record into its own
 * stream: the reader delivers it where that stream was (after the worker's
 * earlier event), before host events issued meanwhile. The host's events
 * that follow, and the worker's releases before its IMAGE_UNLOAD's call
 * returns, are not the end of the unloading call: the reference the worker
 * releases there was not left behind.
 */
static void scn_unload_recorded_early(struct scn *s)
{
    begin(s);
    synth_object(s->t, 70, OBT_OBJ_OTHER, 0xd000, 0, 0, "\\Callback\\X");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_OTHER, .object = 70, .count = 1,
             .stack = stk(s, NTSIM_LO + 0xe00, NTSIM_LO + 0xe40));
    load_driver(s, 2, 20, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    ref(s, 70, OBT_OBJ_OTHER, 2, stk(s, DRV_LO + 0x280, DRV_LO + 0x2c0), 'Cyc1');
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    driver_unload(s, 20, 2);
    synth_thread(s->t, WORKER_TID);
    ref(s, 20, OBT_OBJ_DRIVER, 2, stk(s, NTSIM_LO + 0xa10, NTSIM_LO + 0xa20), 0);
    synth_thread(s->t, HOST_TID);
    SYNTH_EV(s->t, .op = OBT_OP_HOST_ACTION, .string = synth_string(s->t, "scenario.ntsim:9"));
    synth_thread(s->t, WORKER_TID);
    synth_module_unload(s->t, 2);
    synth_thread(s->t, HOST_TID);
    SYNTH_EV(s->t, .op = OBT_OP_HOST_ACTION, .string = synth_string(s->t, "scenario.ntsim:10"));
    synth_thread(s->t, WORKER_TID);
    uint32_t st = stk(s, NTSIM_LO + 0x340, NTSIM_LO + 0x350);
    SYNTH_EV(s->t, .op = OBT_OP_IMAGE_UNLOAD, .module = 2, .flags = OBT_EV_STATUS, .stack = st);
    deref(s, 70, OBT_OBJ_OTHER, 1, stk(s, NTSIM_LO + 0x360, NTSIM_LO + 0x370), 'Cyc1');
    deref(s, 20, OBT_OBJ_DRIVER, 0, st, 0);
    synth_thread(s->t, HOST_TID);
    service(s, OBT_OP_SERVICE_START, "other", 0);
    finish(s, true);
}

/* A KMDF object created at site by the driver (inst): WDF_CREATE with kind | flags, over WDM object wdm (0 = none). */
static void wdf_create(struct scn *s, uint32_t id, uint32_t parent, uint64_t kind, uint32_t wdm, uint32_t drv,
                       uint32_t inst, uint64_t site)
{
    synth_object(s->t, id, OBT_OBJ_WDF, 0xa000 + id * 0x100, drv, inst, "");
    SYNTH_EV(s->t, .op = OBT_OP_WDF_CREATE, .obj_type = OBT_OBJ_WDF, .object = id, .count = 1, .obj2 = parent,
             .arg = kind, .arg2 = wdm, .flags = OBT_EV_STATUS | OBT_EV_ARG | (wdm ? OBT_EV_ARG2 : 0),
             .stack = inner(s, stk(s, site, site + 0x40)));
}

/* WDF_REF / WDF_DEREF by the driver at site (its frame first), tag a four-character constant or 0. */
static void wdf_ref(struct scn *s, uint8_t op, uint32_t id, int count, uint64_t site, uint32_t tag)
{
    SYNTH_EV(s->t, .op = op, .obj_type = OBT_OBJ_WDF, .object = id, .count = count, .tag = tag,
             .stack = stk(s, site, site + 0x40));
}

/* The framework deletes a KMDF object (cleanup, then its creation reference: count left after). */
static void wdf_delete(struct scn *s, uint32_t id, uint64_t why, int count)
{
    uint32_t st = stk(s, NTSIM_LO + 0xb00, NTSIM_LO + 0xb40);
    SYNTH_EV(s->t, .op = OBT_OP_WDF_CLEANUP, .obj_type = OBT_OBJ_WDF, .object = id, .count = count + 1,
             .flags = OBT_EV_ARG | OBT_EV_PRE, .stack = st);
    SYNTH_EV(s->t, .op = OBT_OP_WDF_DELETE, .obj_type = OBT_OBJ_WDF, .object = id, .count = count, .arg = why,
             .flags = OBT_EV_ARG, .stack = st);
    if (!count)
        SYNTH_EV(s->t, .op = OBT_OP_WDF_DESTROY, .obj_type = OBT_OBJ_WDF, .object = id, .flags = OBT_EV_ARG, .stack = st);
}

/*
 * A KMDF function driver: WDFDEVICE 90 over FDO 10 (the WDFDEVICE holds a
 * reference on it), a tagged WdfObjectReferenceWithTag ('Proc') never
 * dropped. The removal deletes the WDFDEVICE, which stays referenced and
 * keeps its DEVICE_OBJECT: a zombie, explained in KMDF words.
 */
static void scn_wdf_tag_leak(struct scn *s)
{
    begin(s);
    make_pdo(s, 30);
    load_driver(s, 2, DRV, DRV_LO, "/x/kmdf.so", "\\Driver\\kmdf", NTSIM_LO + 0x40);
    create_device(s, 10, DRV, "", DRV_LO + 0x100, 3);
    ref(s, 10, OBT_OBJ_DEVICE, 2, inner(s, stk(s, DRV_LO + 0x100, DRV_LO + 0x140)), 0);
    wdf_create(s, 90, 0, OBT_WDF_DEVICE, 10, DRV, 2, DRV_LO + 0x100);
    attach(s, 10, 30);
    wdf_ref(s, OBT_OP_WDF_REF, 90, 2, DRV_LO + 0x300, 'corP');
    pnp_remove(s, 10);
    SYNTH_EV(s->t, .op = OBT_OP_DEV_DETACH, .obj_type = OBT_OBJ_DEVICE, .object = 30, .obj2 = 10,
             .stack = stk(s, NTSIM_LO + 0xb10, NTSIM_LO + 0xb40));
    delete_device(s, 10, DRV, NTSIM_LO + 0xb20, 1, 3);
    wdf_delete(s, 90, OBT_WDF_DELETE_BY_FRAMEWORK, 1);
    driver_unload(s, DRV, 2);
    finish(s, true);
}

/* A KMDF filter's control device (WDFDEVICE 91 over device 11) nothing deletes: the driver never unloads. */
static void scn_wdf_control_device(struct scn *s)
{
    begin(s);
    make_pdo(s, 30);
    load_driver(s, 2, DRV, DRV_LO, "/x/kfilter.so", "\\Driver\\kfilter", NTSIM_LO + 0x40);
    create_device(s, 10, DRV, "", DRV_LO + 0x100, 3);
    wdf_create(s, 90, 0, OBT_WDF_DEVICE | OBT_WDF_FILTER, 10, DRV, 2, DRV_LO + 0x100);
    attach(s, 10, 30);
    create_device(s, 11, DRV, "\\Device\\KFilterCtl", DRV_LO + 0x180, 4);
    wdf_create(s, 91, 0, OBT_WDF_DEVICE | OBT_WDF_CONTROL_DEVICE, 11, DRV, 2, DRV_LO + 0x180);
    pnp_remove(s, 10);
    SYNTH_EV(s->t, .op = OBT_OP_DEV_DETACH, .obj_type = OBT_OBJ_DEVICE, .object = 30, .obj2 = 10,
             .stack = stk(s, NTSIM_LO + 0xb10, NTSIM_LO + 0xb40));
    delete_device(s, 10, DRV, NTSIM_LO + 0xb20, 0, 3);
    wdf_delete(s, 90, OBT_WDF_DELETE_BY_FRAMEWORK, 0);
    finish(s, true);
}

/*
 * A KMDF client (instance 6) opens a remote I/O target (91) on \Device\Drv:
 * IoGetDeviceObjectPointer inside WdfIoTargetOpen takes the file object,
 * and the target is never closed. The stop of drv is deferred on it.
 */
static void scn_wdf_iotarget_open(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/drv.so", "\\Driver\\drv", DRV_LO + 0x10);
    create_device(s, 10, DRV, "\\Device\\Drv", DRV_LO + 0x100, 3);
    load_driver(s, 6, 60, CLI_LO, "/x/kclient.so", "\\Driver\\kclient", NTSIM_LO + 0x40);
    wdf_create(s, 91, 0, OBT_WDF_IOTARGET | OBT_WDF_REMOTE_TARGET, 0, 60, 6, CLI_LO + 0x180);
    uint32_t open = stk(s, CLI_LO + 0x200, CLI_LO + 0x240), gdop = inner(s, open);
    synth_object(s->t, 20, OBT_OBJ_FILE, 0x9000, 0, 0, "");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = inner(s, gdop));
    SYNTH_EV(s->t, .op = OBT_OP_DEV_OPEN_REF, .obj_type = OBT_OBJ_DEVICE, .object = 10, .count = 1,
             .stack = inner(s, gdop));
    uint32_t name = synth_string(s->t, "\\Device\\Drv");
    SYNTH_EV(s->t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_FILE, .object = 20, .count = 1, .stack = gdop, .obj2 = 10,
             .string = name, .flags = OBT_EV_STATUS | OBT_EV_OBJ2 | OBT_EV_STRING);
    SYNTH_EV(s->t, .op = OBT_OP_WDF_IOTARGET_OPEN, .obj_type = OBT_OBJ_WDF, .object = 91, .obj2 = 20, .string = name,
             .flags = OBT_EV_STATUS | OBT_EV_OBJ2 | OBT_EV_STRING, .stack = open);
    service(s, OBT_OP_SERVICE_STOP, "drv", 0);
    finish(s, true);
}

/* A KMDF driver dereferences a general object with a tag it never referenced it with; all else is clean. */
static void scn_wdf_unknown_tag(struct scn *s)
{
    begin(s);
    load_driver(s, 2, DRV, DRV_LO, "/x/kdrv.so", "\\Driver\\kdrv", NTSIM_LO + 0x40);
    wdf_create(s, 92, 0, OBT_WDF_OBJECT, 0, DRV, 2, DRV_LO + 0x100);
    wdf_ref(s, OBT_OP_WDF_REF, 92, 2, DRV_LO + 0x200, 'kroW');
    wdf_ref(s, OBT_OP_WDF_DEREF, 92, 1, DRV_LO + 0x280, '2krW');
    wdf_delete(s, 92, OBT_WDF_DELETE_BY_DRIVER, 0);
    service(s, OBT_OP_SERVICE_STOP, "kdrv", 0);
    driver_unload(s, DRV, 2);
    driver_gone(s, DRV, 2);
    finish(s, true);
}

struct scenario {
    const char *name;
    void (*build)(struct scn *);
    enum finding_id expect[4];
    int nexpect;
    int exit;
};

static const struct scenario scenarios[] = {
    { "clean_legacy", scn_clean_legacy, { 0 }, 0, 0 },
    { "reloaded_clean", scn_reloaded_clean, { 0 }, 0, 0 },
    { "unload_not_requested", scn_unload_not_requested, { F_UNLOAD_NOT_REQUESTED }, 1, 1 },
    { "zombie_tagged", scn_zombie_tagged, { F_LEAKED_REFERENCE, F_RELOAD_FAILED }, 2, 1 },
    { "untagged_sites", scn_untagged_sites, { F_LEAKED_REFERENCE }, 1, 1 },
    { "open_handle", scn_open_handle, { F_OPEN_HANDLE, F_UNLOAD_DEFERRED }, 2, 1 },
    { "hybrid_cdo", scn_hybrid_cdo, { F_UNDELETED_DEVICE }, 1, 1 },
    { "stop_refused", scn_stop_refused, { F_STOP_REFUSED_PNP, F_UNLOAD_NOT_REQUESTED }, 2, 1 },
    { "notification", scn_notification, { F_NOTIFICATION_REGISTERED }, 1, 1 },
    { "no_unload_routine", scn_no_unload_routine, { F_NO_UNLOAD_ROUTINE }, 1, 1 },
    { "unload_replaced", scn_unload_replaced, { F_UNLOAD_ROUTINE_REPLACED }, 1, 1 },
    { "remove_lock_wait", scn_remove_lock_wait, { F_REMOVE_LOCK_WAIT }, 1, 1 },
    { "remove_lock_unbalanced", scn_remove_lock_unbalanced, { F_REMOVE_LOCK_UNBALANCED }, 1, 1 },
    { "pool_leak", scn_pool_leak, { F_POOL_LEAK }, 1, 1 },
    { "double_release", scn_double_release, { F_DOUBLE_RELEASE }, 1, 1 },
    { "call_into_unloaded", scn_call_into_unloaded, { F_CALL_INTO_UNLOADED }, 1, 1 },
    { "interface", scn_interface, { F_INTERFACE_OUTLIVED }, 1, 1 },
    { "incomplete", scn_incomplete, { F_TRACE_INCOMPLETE }, 1, 2 },
    { "address_reuse", scn_address_reuse, { F_LEAKED_REFERENCE }, 1, 1 },
    { "device_pointer", scn_device_pointer, { F_LEAKED_REFERENCE, F_UNLOAD_DEFERRED }, 2, 1 },
    { "unload_replaced_unloaded", scn_unload_replaced_unloaded, { F_UNLOAD_ROUTINE_REPLACED }, 1, 1 },
    { "unloaded_ref_leak", scn_unloaded_ref_leak, { F_LEAKED_REFERENCE }, 1, 1 },
    { "unloaded_ref_released", scn_unloaded_ref_released, { 0 }, 0, 0 },
    { "symlink_leftover", scn_symlink_leftover, { F_RELOAD_FAILED }, 1, 1 },
    { "symlink_deleted", scn_symlink_deleted, { 0 }, 0, 0 },
    { "workitem_requeued", scn_workitem_requeued, { F_LEAKED_REFERENCE }, 1, 1 },
    { "workitem_open", scn_workitem_open, { F_LEAKED_REFERENCE }, 1, 1 },
    { "workitems_two", scn_workitems_two, { F_LEAKED_REFERENCE }, 1, 1 },
    { "workitems_overlap", scn_workitems_overlap, { F_LEAKED_REFERENCE }, 1, 1 },
    { "workitems_overlap_run", scn_workitems_overlap_run, { F_LEAKED_REFERENCE }, 1, 1 },
    { "workitem_reused", scn_workitem_reused, { F_LEAKED_REFERENCE }, 1, 1 },
    { "workitem_drop_recorded_late", scn_workitem_drop_recorded_late, { 0 }, 0, 0 },
    { "late_release_live", scn_late_release_live, { F_UNLOAD_NOT_REQUESTED }, 1, 1 },
    { "unload_recorded_early", scn_unload_recorded_early, { 0 }, 0, 0 },
    { "wdf_tag_leak", scn_wdf_tag_leak, { F_WDF_LEAKED_REFERENCE }, 1, 1 },
    { "wdf_control_device", scn_wdf_control_device, { F_WDF_CONTROL_DEVICE }, 1, 1 },
    { "wdf_iotarget_open", scn_wdf_iotarget_open, { F_WDF_IOTARGET_OPEN, F_UNLOAD_DEFERRED }, 2, 1 },
    { "wdf_unknown_tag", scn_wdf_unknown_tag, { F_WDF_UNKNOWN_TAG }, 1, 1 },
    { "cycle_leak", scn_cycle_leak, { F_POOL_LEAK, F_CYCLE_LEAK }, 2, 1 },
    { "unload_inside_release", scn_unload_inside_release, { 0 }, 0, 0 },
};
#define NSCENARIOS ((int)(sizeof(scenarios) / sizeof(scenarios[0])))

/* ---- running -------------------------------------------------------------------------------------- */

static void setup(void)
{
    snprintf(path, sizeof(path), "/tmp/obt-rules-%d.obt", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
}

static void analyze(const struct scenario *sc, struct model *m, struct report *r)
{
    struct scn *s = calloc(1, sizeof(*s));
    sc->build(s);
    free(s);
    char err[256];
    model_init(m);
    ck_assert_msg(model_load(m, path, err, sizeof(err)) == 0, "%s: %s", sc->name, err);
    report_init(r, path);
    rules_run(m, r);
}

static const struct finding *find(const struct report *r, enum finding_id id)
{
    for (size_t i = 0; i < r->nglobal; i++)
        if (r->global[i].id == id)
            return &r->global[i];
    for (size_t v = 0; v < r->nverdicts; v++)
        for (size_t i = 0; i < r->verdicts[v].nfindings; i++)
            if (r->verdicts[v].findings[i].id == id)
                return &r->verdicts[v].findings[i];
    return NULL;
}

START_TEST(scenario_yields_its_findings)
{
    const struct scenario *sc = &scenarios[_i];
    struct model m;
    struct report r;
    analyze(sc, &m, &r);
    struct symbolizer *sym = symbolizer_new(NULL);
    fprintf(stderr, "---- %s\n", sc->name);
    render_text(stderr, &r, &m, sym);
    symbolizer_free(sym);
    for (int k = 0; k < sc->nexpect; k++)
        ck_assert_msg(find(&r, sc->expect[k]), "%s: no %s finding", sc->name, finding_name(sc->expect[k]));
    if (!sc->nexpect)
        ck_assert_msg(report_count(&r) == 0 && r.nverdicts == 0, "%s: clean twin has %zu findings", sc->name,
                      report_count(&r));
    ck_assert_msg(report_exit_code(&r) == sc->exit, "%s: exit %d, want %d", sc->name, report_exit_code(&r), sc->exit);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(exact_pairing_by_tag)
{
    struct model m;
    struct report r;
    analyze(&scenarios[3], &m, &r);
    const struct finding *f = find(&r, F_LEAKED_REFERENCE);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->attribution, "exact");
    ck_assert_uint_eq(f->sites[0].tag, 'Leak');
    ck_assert_uint_eq(f->sites[0].count, 1);
    ck_assert_ptr_nonnull(strstr(r.verdicts[0].headline, "DriverUnload ran"));
    ck_assert_int_eq(r.verdicts[0].findings[r.verdicts[0].nfindings - 1].id, F_RELOAD_FAILED);
    ck_assert(r.verdicts[0].findings[r.verdicts[0].nfindings - 1].consequence);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(untagged_sites_rank_by_balance)
{
    struct model m;
    struct report r;
    analyze(&scenarios[4], &m, &r);
    const struct finding *f = find(&r, F_LEAKED_REFERENCE);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->attribution, "heuristic");
    ck_assert_uint_ge(f->nsites, 2);
    const struct stack *top = model_stack(&m, f->sites[0].stack);
    ck_assert_uint_eq(top->frames[0], DRV_LO + 0x400);
    ck_assert_uint_eq(f->sites[0].count, 3);
    ck_assert_uint_eq(f->sites[0].of, 5);
    const struct stack *second = model_stack(&m, f->sites[1].stack);
    ck_assert_uint_eq(second->frames[0], DRV_LO + 0x600);
    ck_assert_uint_eq(f->sites[1].count, 1);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(double_release_names_both_stacks)
{
    struct model m;
    struct report r;
    analyze(&scenarios[14], &m, &r);
    const struct finding *f = NULL;
    for (size_t i = 0; i < r.nglobal; i++)
        if (r.global[i].id == F_DOUBLE_RELEASE && r.global[i].object == 70)
            f = &r.global[i];
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->object_name, "\\Callback\\X");
    ck_assert_uint_eq(f->nsites, 2);
    ck_assert_uint_eq(model_stack(&m, f->sites[0].stack)->frames[0], DRV_LO + 0xe20);
    ck_assert_uint_eq(model_stack(&m, f->sites[1].stack)->frames[0], DRV_LO + 0xe10);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(framework_references_are_not_leaks)
{
    /* the driver's references held by its devices and registrations are labelled, not leaked */
    struct model m;
    struct report r;
    analyze(&scenarios[8], &m, &r);
    ck_assert_ptr_null(find(&r, F_LEAKED_REFERENCE));
    const struct object *d = model_object(&m, DRV);
    ck_assert_ptr_nonnull(d);
    bool notify = false;
    for (size_t i = 0; i < d->nrefs; i++)
        notify = notify || d->refs[i].label == LBL_NOTIFY;
    ck_assert(notify);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(address_reuse_keeps_objects_apart)
{
    struct model m;
    struct report r;
    analyze(&scenarios[18], &m, &r);
    const struct finding *f = find(&r, F_LEAKED_REFERENCE);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->object, 11);
    ck_assert_ptr_null(model_object(&m, 10));
    ck_assert_ptr_nonnull(model_freed_object(&m, 10));
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(module_instances_by_seq)
{
    struct model m;
    struct report r;
    analyze(&scenarios[1], &m, &r);
    const struct module *a = model_module(&m, 2), *b = model_module(&m, 4);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_gt(b->load_seq, a->unload_seq - 1);
    ck_assert_ptr_eq(model_module_at(&m, DRV_LO + 0x20, a->load_seq + 1), a);
    ck_assert_ptr_eq(model_module_at(&m, DRV_LO + 0x20, b->load_seq + 1), b);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(every_finding_id_is_produced)
{
    bool seen[F_COUNT] = { false };
    for (int i = 0; i < NSCENARIOS; i++) {
        struct model m;
        struct report r;
        analyze(&scenarios[i], &m, &r);
        for (size_t k = 0; k < r.nglobal; k++)
            seen[r.global[k].id] = true;
        for (size_t v = 0; v < r.nverdicts; v++)
            for (size_t k = 0; k < r.verdicts[v].nfindings; k++)
                seen[r.verdicts[v].findings[k].id] = true;
        report_release(&r);
        model_release(&m);
    }
    for (int id = 0; id < F_COUNT; id++)
        ck_assert_msg(seen[id], "no scenario produces %s", finding_name((enum finding_id)id));
}
END_TEST

START_TEST(findings_doc_matches_table)
{
    FILE *f = fopen("doc/findings.md", "r");
    ck_assert_msg(f != NULL, "doc/findings.md missing (run from the source root)");
    char line[512];
    bool documented[F_COUNT] = { false };
    int headings = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "### `", 5))
            continue;
        headings++;
        char *end = strchr(line + 5, '`');
        ck_assert_ptr_nonnull(end);
        *end = 0;
        bool known = false;
        for (int id = 0; id < F_COUNT; id++)
            if (!strcmp(finding_name((enum finding_id)id), line + 5))
                documented[id] = known = true;
        ck_assert_msg(known, "doc/findings.md documents unknown id %s", line + 5);
    }
    fclose(f);
    ck_assert_int_eq(headings, F_COUNT);
    for (int id = 0; id < F_COUNT; id++)
        ck_assert_msg(documented[id], "%s is not in doc/findings.md", finding_name((enum finding_id)id));
}
END_TEST

START_TEST(handles_pair_exactly)
{
    struct model m;
    struct report r;
    analyze(&scenarios[5], &m, &r);
    const struct finding *f = find(&r, F_OPEN_HANDLE);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->attribution, "exact");
    ck_assert_uint_eq(f->nsites, 1);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(device_pointer_reference_is_the_outer_calls)
{
    /* one reference, labelled IoGetDeviceObjectPointer, at the client's stack, exact */
    struct model m;
    struct report r;
    analyze(&scenarios[19], &m, &r);
    const struct object *file = model_object(&m, 20);
    ck_assert_ptr_nonnull(file);
    ck_assert_uint_eq(file->nrefs, 1);
    ck_assert_uint_eq(file->refs[0].via, VIA_DEVICE_POINTER);
    const struct finding *f = find(&r, F_LEAKED_REFERENCE);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->attribution, "exact");
    ck_assert_ptr_nonnull(strstr(f->subject, "driver client.so holds the file object on \\Device\\Drv"));
    ck_assert_uint_eq(f->nsites, 1);
    ck_assert_uint_eq(model_stack(&m, f->sites[0].stack)->frames[0], CLI_LO + 0x200);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(unload_replaced_before_the_image_is_known)
{
    struct model m;
    struct report r;
    analyze(&scenarios[20], &m, &r);
    const struct driver *d = model_driver(&m, DRV);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->own_unload, DRV_LO + 0x10);
    ck_assert_uint_ne(d->unload_replaced.seq, 0);
    const struct finding *f = find(&r, F_UNLOAD_ROUTINE_REPLACED);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(strstr(f->subject, "mini.so unloaded, but its own DriverUnload never ran"));
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(unloaded_image_reference_on_live_object)
{
    /* drv.so unloaded holding its reference on the root PDO: a global finding about drv.so, at its site */
    struct model m;
    struct report r;
    analyze(&scenarios[21], &m, &r);
    ck_assert_uint_eq(r.nverdicts, 0);
    const struct finding *f = find(&r, F_LEAKED_REFERENCE);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->image, 2);
    ck_assert_uint_eq(f->object, 30);
    ck_assert_ptr_nonnull(strstr(f->subject, "drv.so unloaded still holding 1 pointer reference"));
    ck_assert_ptr_nonnull(f->attribution);
    ck_assert_uint_eq(f->sites[0].count, 1);
    ck_assert_uint_eq(model_stack(&m, f->sites[0].stack)->frames[0], DRV_LO + 0x420);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(reload_entry_failed_names_leftover_link)
{
    /* the second DriverEntry failed in IoCreateSymbolicLink: the link the first instance created and kept */
    struct model m;
    struct report r;
    analyze(&scenarios[23], &m, &r);
    ck_assert_uint_eq(r.nverdicts, 1);
    ck_assert_str_eq(r.verdicts[0].state, "reload-failed");
    ck_assert_uint_eq(r.verdicts[0].instance, 4);
    const struct finding *f = find(&r, F_RELOAD_FAILED);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(strstr(f->subject, "STATUS_OBJECT_NAME_COLLISION"));
    ck_assert_uint_eq(f->nsites, 2);
    ck_assert_uint_gt(f->sites[1].seq, 0);
    ck_assert_uint_lt(f->sites[1].seq, f->sites[0].seq); /* created by the first instance, before the failure */
    ck_assert_uint_eq(model_stack(&m, f->sites[1].stack)->frames[0], DRV_LO + 0x150);
    ck_assert_ptr_nonnull(strstr(f->notes[0], "IoCreateSymbolicLink (\\DosDevices\\Drv) returned "
                                              "STATUS_OBJECT_NAME_COLLISION"));
    ck_assert_ptr_nonnull(strstr(f->fix, "delete the symbolic link in DriverUnload"));
    report_release(&r);
    model_release(&m);
}
END_TEST

/* The scenario called name. */
static const struct scenario *scenario_named(const char *name)
{
    for (int i = 0; i < NSCENARIOS; i++)
        if (!strcmp(scenarios[i].name, name))
            return &scenarios[i];
    ck_abort_msg("no scenario %s", name);
    return NULL;
}

/*
 * In scenario name, \Device\Poll (a zombie) is held by exactly one
 * reference: the queue of work item `item` at code address site, shown as
 * the one site of the leaked-reference finding with that attribution.
 */
static void check_work_item_held(const char *name, uint64_t site, uint32_t item, const char *attribution)
{
    struct model m;
    struct report r;
    analyze(scenario_named(name), &m, &r);
    const struct object *dev = model_object(&m, 10);
    ck_assert_ptr_nonnull(dev);
    ck_assert_uint_eq(dev->nrefs, 1);
    ck_assert_uint_eq(dev->refs[0].via, VIA_WORKITEM);
    ck_assert_uint_eq(dev->refs[0].holder, item);
    const struct finding *f = find(&r, F_LEAKED_REFERENCE);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(f->object, 10);
    ck_assert_str_eq(f->attribution, attribution);
    ck_assert_uint_eq(f->sites[0].count, 1);
    ck_assert_uint_eq(model_stack(&m, f->sites[0].stack)->frames[2], site); /* inner(): two framework frames first */
    ck_assert_uint_eq(f->nsites, 2);
    ck_assert_str_eq(f->sites[1].verb, "deleted");
    report_release(&r);
    model_release(&m);
}

START_TEST(work_item_queues_pair_per_item)
{
    /* queue 1 (the IOCTL's) went with routine 1; the re-queue inside routine 1 still holds the device */
    check_work_item_held("workitem_requeued", DRV_LO + 0x520, 80, "exact");
    /* an open's lookup reference released on its own path meanwhile is no drop (that pairing is heuristic) */
    check_work_item_held("workitem_open", DRV_LO + 0x520, 80, "heuristic");
    /* item 80's routine returned before 81 was queued: 81's queue holds it */
    check_work_item_held("workitems_two", DRV_LO + 0x5c0, 81, "exact");
    /* both queued before the one drop: the older queue is taken to be the one released, a guess */
    check_work_item_held("workitems_overlap", DRV_LO + 0x5c0, 81, "heuristic");
    /* the same, and the worker's WORKITEM_RUN names 81: 80's queue holds the device, exactly */
    check_work_item_held("workitems_overlap_run", DRV_LO + 0x540, 80, "exact");
}
END_TEST

START_TEST(work_item_reused_address_is_another_item)
{
    /* 81 lives at 80's address: 81's first queue went with its routine, its re-queue holds the device */
    check_work_item_held("workitem_reused", DRV_LO + 0x520, 81, "exact");
    struct model m;
    struct report r;
    analyze(scenario_named("workitem_reused"), &m, &r);
    ck_assert_ptr_null(model_object(&m, 80));
    ck_assert_ptr_nonnull(model_freed_object(&m, 80));
    ck_assert_uint_eq(model_object(&m, 81)->address, 0xe000);
    report_release(&r);
    model_release(&m);
}
END_TEST

/* A release recorded late keeps the count the kernel reached last, and releases what its own path holds. */
START_TEST(late_release_keeps_the_last_count)
{
    struct model m;
    struct report r;
    analyze(scenario_named("late_release_live"), &m, &r);
    const struct object *dev = model_object(&m, 10);
    ck_assert_ptr_nonnull(dev);
    ck_assert_int_eq(dev->last_count, 1);
    ck_assert_uint_eq(dev->nrefs, 1);
    ck_assert_uint_eq(dev->refs[0].label, LBL_CREATE);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(cycle_counts_after_the_unloading_call_returns)
{
    struct model m;
    struct report r;
    analyze(scenario_named("unload_inside_release"), &m, &r);
    ck_assert_uint_eq(m.ncycles, 2);
    ck_assert_uint_eq(m.cycles[0].left.refs, 0);
    ck_assert_uint_eq(m.cycles[1].left.refs, 1);
    report_release(&r);
    model_release(&m);
}
END_TEST

/* A module record read before the unloading thread's IMAGE_UNLOAD waits for that thread's call to return. */
START_TEST(cycle_waits_for_the_thread_a_module_record_names)
{
    struct model m;
    struct report r;
    analyze(scenario_named("unload_recorded_early"), &m, &r);
    ck_assert_uint_eq(m.ncycles, 1);
    ck_assert_uint_eq(m.cycles[0].left.refs, 0);
    ck_assert_uint_eq(m.cycles[0].total.refs, 0);
    report_release(&r);
    model_release(&m);
}
END_TEST

/* Each unload ends a cycle: what it left, what was outstanding of the image, and the finding's exact words. */
START_TEST(cycles_count_what_each_left)
{
    struct model m;
    struct report r;
    analyze(scenario_named("cycle_leak"), &m, &r);
    ck_assert_uint_eq(m.ncycles, 3);
    const struct leftovers left[3] = { { .refs = 1 }, { 0 }, { .refs = 1, .pool = 1 } };
    const struct leftovers total[3] = { { .refs = 1 }, { .refs = 1 }, { .refs = 2, .pool = 1 } };
    for (int k = 0; k < 3; k++) {
        ck_assert_uint_eq(m.cycles[k].number, (uint32_t)k + 1);
        ck_assert_mem_eq(&m.cycles[k].left, &left[k], sizeof(left[k]));
        ck_assert_mem_eq(&m.cycles[k].total, &total[k], sizeof(total[k]));
    }
    ck_assert_uint_eq(m.cycles[0].first_object, 70);
    ck_assert(cycles_repeated(&m));
    const struct finding *f = find(&r, F_CYCLE_LEAK);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->subject, "2 of the 3 load/unload cycles of drv.so left something behind: 2 references, "
                                 "1 pool block outstanding after the last, first in cycle 1");
    ck_assert_uint_eq(f->nnotes, 4);
    ck_assert_str_eq(f->notes[1], "cycle 2: left nothing (1 reference outstanding)");
    ck_assert_uint_eq(f->nsites, 1);
    ck_assert_uint_eq(f->object, 70);
    report_release(&r);
    model_release(&m);
}
END_TEST

START_TEST(nt_codes_by_name)
{
    char buf[32];
    ck_assert_str_eq(nt_status_name((int32_t)0xC000010E, buf), "STATUS_IMAGE_ALREADY_LOADED");
    ck_assert_str_eq(nt_status_name(0x12345, buf), "0x00012345");
    ck_assert_str_eq(nt_bugcheck_name(0x18, buf), "REFERENCE_BY_POINTER");
    ck_assert_str_eq(nt_veto_name(5, buf), "PNP_VetoOutstandingOpen");
    ck_assert_str_eq(nt_devnode_state_name(0x308, buf), "DeviceNodeStarted");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_rules");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, scenario_yields_its_findings, 0, NSCENARIOS);
    tcase_add_test(tc, exact_pairing_by_tag);
    tcase_add_test(tc, late_release_keeps_the_last_count);
    tcase_add_test(tc, cycles_count_what_each_left);
    tcase_add_test(tc, cycle_counts_after_the_unloading_call_returns);
    tcase_add_test(tc, cycle_waits_for_the_thread_a_module_record_names);
    tcase_add_test(tc, untagged_sites_rank_by_balance);
    tcase_add_test(tc, double_release_names_both_stacks);
    tcase_add_test(tc, framework_references_are_not_leaks);
    tcase_add_test(tc, address_reuse_keeps_objects_apart);
    tcase_add_test(tc, module_instances_by_seq);
    tcase_add_test(tc, handles_pair_exactly);
    tcase_add_test(tc, unloaded_image_reference_on_live_object);
    tcase_add_test(tc, reload_entry_failed_names_leftover_link);
    tcase_add_test(tc, device_pointer_reference_is_the_outer_calls);
    tcase_add_test(tc, unload_replaced_before_the_image_is_known);
    tcase_add_test(tc, work_item_queues_pair_per_item);
    tcase_add_test(tc, work_item_reused_address_is_another_item);
    tcase_add_test(tc, nt_codes_by_name);
    tcase_add_test(tc, every_finding_id_is_produced);
    tcase_add_test(tc, findings_doc_matches_table);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
