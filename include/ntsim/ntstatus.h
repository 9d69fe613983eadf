/*
 * ntstatus.h - NTSTATUS values used by the simulated kernel and its drivers.
 *
 * Values are the documented Windows ones, so a status printed by the
 * simulation can be looked up as-is. Every code appears once, in the
 * NTSIM_STATUS_CODES X-macro table, from which both the constants and
 * NtsimStatusName() (host side, ntsim.h) are generated.
 */
#ifndef NTSIM_NTSTATUS_H
#define NTSIM_NTSTATUS_H

typedef int NTSTATUS;

#define NT_SUCCESS(Status)     (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((unsigned)(Status)) >> 30) == 1)
#define NT_WARNING(Status)     ((((unsigned)(Status)) >> 30) == 2)
#define NT_ERROR(Status)       ((((unsigned)(Status)) >> 30) == 3)

/* X(name, value) */
#define NTSIM_STATUS_CODES(X)                                   \
    X(STATUS_SUCCESS,                        0x00000000)        \
    X(STATUS_WAIT_1,                         0x00000001)        \
    X(STATUS_ALERTED,                        0x00000101)        \
    X(STATUS_TIMEOUT,                        0x00000102)        \
    X(STATUS_PENDING,                        0x00000103)        \
    X(STATUS_REPARSE,                        0x00000104)        \
    X(STATUS_MORE_ENTRIES,                   0x00000105)        \
    X(STATUS_OBJECT_NAME_EXISTS,             0x40000000)        \
    X(STATUS_BUFFER_OVERFLOW,                0x80000005)        \
    X(STATUS_DEVICE_BUSY,                    0x80000011)        \
    X(STATUS_NO_MORE_ENTRIES,                0x8000001A)        \
    X(STATUS_PLUGPLAY_QUERY_VETOED,          0x80000028)        \
    X(STATUS_UNSUCCESSFUL,                   0xC0000001)        \
    X(STATUS_NOT_IMPLEMENTED,                0xC0000002)        \
    X(STATUS_INVALID_INFO_CLASS,             0xC0000003)        \
    X(STATUS_ACCESS_VIOLATION,               0xC0000005)        \
    X(STATUS_INVALID_HANDLE,                 0xC0000008)        \
    X(STATUS_INVALID_PARAMETER,              0xC000000D)        \
    X(STATUS_NO_SUCH_DEVICE,                 0xC000000E)        \
    X(STATUS_NO_SUCH_FILE,                   0xC000000F)        \
    X(STATUS_INVALID_DEVICE_REQUEST,         0xC0000010)        \
    X(STATUS_END_OF_FILE,                    0xC0000011)        \
    X(STATUS_MORE_PROCESSING_REQUIRED,       0xC0000016)        \
    X(STATUS_NO_MEMORY,                      0xC0000017)        \
    X(STATUS_ACCESS_DENIED,                  0xC0000022)        \
    X(STATUS_BUFFER_TOO_SMALL,               0xC0000023)        \
    X(STATUS_OBJECT_TYPE_MISMATCH,           0xC0000024)        \
    X(STATUS_OBJECT_NAME_INVALID,            0xC0000033)        \
    X(STATUS_OBJECT_NAME_NOT_FOUND,          0xC0000034)        \
    X(STATUS_OBJECT_NAME_COLLISION,          0xC0000035)        \
    X(STATUS_DEVICE_ALREADY_ATTACHED,        0xC0000038)        \
    X(STATUS_OBJECT_PATH_NOT_FOUND,          0xC000003A)        \
    X(STATUS_DELETE_PENDING,                 0xC0000056)        \
    X(STATUS_PRIVILEGE_NOT_HELD,             0xC0000061)        \
    X(STATUS_INVALID_IMAGE_FORMAT,           0xC000007B)        \
    X(STATUS_INTEGER_OVERFLOW,               0xC0000095)        \
    X(STATUS_INSUFFICIENT_RESOURCES,         0xC000009A)        \
    X(STATUS_DEVICE_NOT_CONNECTED,           0xC000009D)        \
    X(STATUS_DEVICE_NOT_READY,               0xC00000A3)        \
    X(STATUS_IO_TIMEOUT,                     0xC00000B5)        \
    X(STATUS_NOT_SUPPORTED,                  0xC00000BB)        \
    X(STATUS_DEVICE_DOES_NOT_EXIST,          0xC00000C0)        \
    X(STATUS_INTERNAL_ERROR,                 0xC00000E5)        \
    X(STATUS_INVALID_PARAMETER_2,            0xC00000F0)        \
    X(STATUS_IMAGE_ALREADY_LOADED,           0xC000010E)        \
    X(STATUS_CANCELLED,                      0xC0000120)        \
    X(STATUS_FILE_CLOSED,                    0xC0000128)        \
    X(STATUS_DLL_NOT_FOUND,                  0xC0000135)        \
    X(STATUS_INVALID_DEVICE_STATE,           0xC0000184)        \
    X(STATUS_INVALID_BUFFER_SIZE,            0xC0000206)        \
    X(STATUS_NOT_FOUND,                      0xC0000225)        \
    X(STATUS_WMI_GUID_NOT_FOUND,             0xC0000295)        \
    X(STATUS_WMI_INSTANCE_NOT_FOUND,         0xC0000296)        \
    X(STATUS_WMI_ITEMID_NOT_FOUND,           0xC0000297)        \
    X(STATUS_DRIVER_ENTRYPOINT_NOT_FOUND,    0xC0000263)        \
    X(STATUS_DRIVER_UNABLE_TO_LOAD,          0xC000026C)        \
    X(STATUS_DEVICE_REMOVED,                 0xC00002B6)        \
    X(STATUS_WMI_READ_ONLY,                  0xC00002C6)        \
    X(STATUS_WMI_SET_FAILURE,                0xC00002C7)        \
    X(STATUS_POWER_STATE_INVALID,            0xC00002D3)        \
    X(STATUS_WMI_NOT_SUPPORTED,              0xC00002DD)        \
    X(STATUS_INVALID_DEVICE_OBJECT_PARAMETER, 0xC0000369)

/* The constants are enumerators, so a debugger and a switch both see them. */
#define NTSIM_STATUS_ENUM_(name, value) name = (int)(value),
enum ntsim_status_code { NTSIM_STATUS_CODES(NTSIM_STATUS_ENUM_) };
#undef NTSIM_STATUS_ENUM_
#define STATUS_WAIT_0 STATUS_SUCCESS
/* KeWaitForMultipleObjects(WaitAny) returns STATUS_WAIT_0 + the index of the satisfying object. */
#define STATUS_WAIT_1 ((NTSTATUS)0x00000001)
#define STATUS_WAIT_2 ((NTSTATUS)0x00000002)
#define STATUS_WAIT_3 ((NTSTATUS)0x00000003)
#define STATUS_WAIT_63 ((NTSTATUS)0x0000003F)
#define STATUS_CONTINUE_COMPLETION STATUS_SUCCESS /* a completion routine lets completion go on */

#endif /* NTSIM_NTSTATUS_H */
