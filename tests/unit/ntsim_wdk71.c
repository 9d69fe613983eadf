/*
 * ntsim_wdk71.c - the calls added for the WDK 7.1 samples, each with exact
 * results: the ntstrsafe.h routines (every width, the kernel's string
 * conversions, truncation, bad destinations), ntintsafe.h, WMI's event
 * routines freeing their buffers and WMILIB sorting IRPs, PoSetPowerState's
 * previous state, MmGetSystemRoutineAddress and the version checks, and
 * the interface link name being pool that RtlFreeUnicodeString frees.
 */
#include <ntintsafe.h>
#include <ntstrsafe.h>
#include <wdmguid.h>
#include <wmilib.h>

#include "ntsim_test.h"

/* The UTF-16 text as ASCII, for comparisons (non-ASCII becomes '?'). */
static const char *Narrow(PCWSTR Text)
{
    static char buffer[256];
    size_t i = 0;
    for (; Text[i] && i + 1 < sizeof(buffer); i++)
        buffer[i] = Text[i] < 0x80 ? (char)Text[i] : '?';
    buffer[i] = 0;
    return buffer;
}

START_TEST(strsafe_printf_wide_and_narrow)
{
    WCHAR w[64];
    char a[64];
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"Toaster");
    ck_assert_int_eq(RtlStringCchPrintfW(w, 64, L"%02d|%ws|%hs|%S|%wZ|%x", 7, L"wide", "narrow", "narrow2", &name, 0xBEEFu),
                     STATUS_SUCCESS);
    ck_assert_str_eq(Narrow(w), "07|wide|narrow|narrow2|Toaster|beef");
    ck_assert_int_eq(RtlStringCchPrintfA(a, 64, "%s %S %ws %-4d| %I64u %lu", "a", L"b", L"c", 5, 1ULL << 40, 4000000000u),
                     STATUS_SUCCESS);
    ck_assert_str_eq(a, "a b c 5   | 1099511627776 4000000000");
    ck_assert_int_eq(RtlStringCbPrintfW(w, 6 * sizeof(WCHAR), L"%ws", L"toolong"), STATUS_BUFFER_OVERFLOW);
    ck_assert_str_eq(Narrow(w), "toolo");
    ck_assert_int_eq(RtlStringCchPrintfA(a, 0, "x"), STATUS_INVALID_PARAMETER);
}
END_TEST

START_TEST(strsafe_copy_cat_length)
{
    WCHAR w[8];
    size_t n = 99;
    ck_assert_int_eq(RtlStringCchCopyW(w, 8, L"abc"), STATUS_SUCCESS);
    ck_assert_int_eq(RtlStringCchCatW(w, 8, L"defgh"), STATUS_BUFFER_OVERFLOW);
    ck_assert_str_eq(Narrow(w), "abcdefg");
    ck_assert_int_eq(RtlStringCchLengthW(w, 8, &n), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(RtlStringCbLengthW(w, sizeof(w), &n), STATUS_SUCCESS);
    ck_assert_uint_eq(n, 14);
    ck_assert_int_eq(RtlStringCchLengthW(w, 7, &n), STATUS_INVALID_PARAMETER); /* no NUL within 7 */
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(RtlStringCchCopyNW(w, 8, L"xyz", 2), STATUS_SUCCESS);
    ck_assert_str_eq(Narrow(w), "xy");
    ck_assert_uint_eq(wcslen(L"16-bit"), 6);
}
END_TEST

START_TEST(intsafe_overflow)
{
    ULONG_PTR r;
    ULONG u;
    ck_assert_int_eq(RtlULongPtrSub(10, 4, &r), STATUS_SUCCESS);
    ck_assert_uint_eq(r, 6);
    ck_assert_int_eq(RtlULongPtrSub(4, 10, &r), STATUS_INTEGER_OVERFLOW);
    ck_assert_int_eq(RtlULongAdd(0xFFFFFFFFu, 1, &u), STATUS_INTEGER_OVERFLOW);
    ck_assert_uint_eq(u, 0xFFFFFFFFu);
    ck_assert_int_eq(RtlULongLongToULong(1ULL << 32, &u), STATUS_INTEGER_OVERFLOW);
    ck_assert_uint_eq(ULONG_MAX, 0xFFFFFFFFu);
}
END_TEST

/* WMI frees the event buffers it is given; WMILIB tells another provider's IRP and a non-WMI one. */
START_TEST(wmi_events_and_sorting)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDRIVER_OBJECT driver = (PDRIVER_OBJECT)NtsimLookupObject("\\Driver\\tdlegacy");
    PDEVICE_OBJECT device;
    ck_assert_int_eq(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device), STATUS_SUCCESS);
    NTSIM_IMAGE_INFO before, after;
    ck_assert_int_eq(NtsimQueryImage("tdlegacy", &before), STATUS_SUCCESS);
    ck_assert_int_eq(IoWMIWriteEvent(ExAllocatePoolWithTag(NonPagedPool, sizeof(WNODE_HEADER), 'imWT')), STATUS_SUCCESS);
    ck_assert_int_eq(WmiFireEvent(device, &GUID_POWER_DEVICE_ENABLE, 0, 4, ExAllocatePoolWithTag(NonPagedPool, 4, 'imWT')),
                     STATUS_SUCCESS);
    ck_assert_int_eq(NtsimQueryImage("tdlegacy", &after), STATUS_SUCCESS);
    ck_assert_int_eq(after.PoolAllocations, before.PoolAllocations);
    ck_assert_int_eq(IoWMIRegistrationControl(device, WMIREG_ACTION_DEREGISTER), STATUS_INVALID_PARAMETER);
    ck_assert_int_eq(IoWMIRegistrationControl(device, WMIREG_ACTION_REGISTER), STATUS_SUCCESS);
    ck_assert_int_eq(IoWMIRegistrationControl(device, WMIREG_ACTION_DEREGISTER), STATUS_SUCCESS);

    PDEVICE_OBJECT other;
    ck_assert_int_eq(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &other), STATUS_SUCCESS);
    ULONG id = IoWMIDeviceObjectToProviderId(device);
    ck_assert_uint_ne(id, 0);
    ck_assert_uint_eq(IoWMIDeviceObjectToProviderId(device), id);
    ck_assert_uint_ne(IoWMIDeviceObjectToProviderId(other), id);
    ck_assert_uint_eq(IoWMIDeviceObjectToProviderId(NULL), 0);
    IoDeleteDevice(other);

    WMILIB_CONTEXT wmi = { 0 };
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetNextIrpStackLocation(irp);
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
    sp->MajorFunction = IRP_MJ_SYSTEM_CONTROL;
    sp->MinorFunction = IRP_MN_QUERY_SINGLE_INSTANCE;
    sp->Parameters.WMI.ProviderId = IoWMIDeviceObjectToProviderId(device) + 4;
    SYSCTL_IRP_DISPOSITION disposition;
    WmiSystemControl(&wmi, device, irp, &disposition);
    ck_assert_int_eq(disposition, IrpForward);
    sp->MinorFunction = 0x40;
    WmiSystemControl(&wmi, device, irp, &disposition);
    ck_assert_int_eq(disposition, IrpNotWmi);
    IoFreeIrp(irp);
    IoDeleteDevice(device);
}
END_TEST

START_TEST(power_state_previous)
{
    TtInit(0);
    TtStart("tdlegacy", "tdrv_legacy");
    PDEVICE_OBJECT device;
    PDRIVER_OBJECT driver = (PDRIVER_OBJECT)NtsimLookupObject("\\Driver\\tdlegacy");
    ck_assert_int_eq(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device), STATUS_SUCCESS);
    POWER_STATE d3 = { .DeviceState = PowerDeviceD3 }, d0 = { .DeviceState = PowerDeviceD0 };
    ck_assert_int_eq(PoSetPowerState(device, DevicePowerState, d3).DeviceState, PowerDeviceD0); /* devices start in D0 */
    ck_assert_int_eq(PoSetPowerState(device, DevicePowerState, d0).DeviceState, PowerDeviceD3);
    POWER_STATE bad = { 0 };
    ck_assert_int_eq(PoRequestPowerIrp(device, IRP_MN_POWER_SEQUENCE, bad, NULL, NULL, NULL), STATUS_INVALID_PARAMETER_2);
    ck_assert_int_eq(NtsimSetSystemPowerState(PowerSystemShutdown), STATUS_INVALID_PARAMETER);
    IoDeleteDevice(device);
}
END_TEST

START_TEST(system_routines_and_versions)
{
    UNICODE_STRING own = RTL_CONSTANT_STRING(L"IoCreateDevice");
    UNICODE_STRING libc = RTL_CONSTANT_STRING(L"malloc");
    UNICODE_STRING absent = RTL_CONSTANT_STRING(L"IoWMIOpenBlock");
    ck_assert_ptr_eq(MmGetSystemRoutineAddress(&own), (PVOID)IoCreateDevice);
    ck_assert_ptr_null(MmGetSystemRoutineAddress(&libc));
    ck_assert_ptr_null(MmGetSystemRoutineAddress(&absent));
    ck_assert(IoIsWdmVersionAvailable(1, 0x30));
    ck_assert(!IoIsWdmVersionAvailable(1, 0x31));
    ck_assert(RtlIsNtDdiVersionAvailable(NTDDI_WIN7));
    ck_assert(!RtlIsNtDdiVersionAvailable(NTDDI_WIN7 + 1));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_wdk71");
    TCase *tc = tcase_create("wdk71");
    tcase_add_test(tc, strsafe_printf_wide_and_narrow);
    tcase_add_test(tc, strsafe_copy_cat_length);
    tcase_add_test(tc, intsafe_overflow);
    tcase_add_test(tc, wmi_events_and_sorting);
    tcase_add_test(tc, power_state_previous);
    tcase_add_test(tc, system_routines_and_versions);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
