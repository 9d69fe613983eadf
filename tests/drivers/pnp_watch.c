/*
 * pnp_watch.c - the PnP path tests' notification client: a legacy driver
 * (no AddDevice) that another driver's device is watched by. The tests
 * call its exported routines: PnpWatchRegisterTarget opens the pnp_testfn
 * device through its interface (IoGetDeviceObjectPointer) and registers
 * for EventCategoryTargetDeviceChange on that file object;
 * PnpWatchRegisterInterface registers for pnp_testfn's interface class.
 * The target callback refuses GUID_TARGET_DEVICE_QUERY_REMOVE while
 * PnpWatchVeto is set, else releases its file object (toastmon's way).
 * The interface callback, while PnpWatchBlock is set, signals
 * PnpWatchEntered and waits for PnpWatchRelease before returning. Every
 * event is counted; PnpWatchCallbacksDone is bumped as a callback's last
 * step. Registrations are removed by the tests (they hold the entries).
 */
#include <wdm.h>
#include <wdmguid.h>

#include "tdrv.h"

static const GUID GUID_DEVINTERFACE_PNPTEST = { 0x9f1c2a10, 0x5b6d, 0x4e21, { 0x8a, 0x3c, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

#define WATCH_EVENT_QUERY_REMOVE 0
#define WATCH_EVENT_REMOVE_CANCELLED 1
#define WATCH_EVENT_REMOVE_COMPLETE 2
#define WATCH_EVENT_ARRIVAL 3
#define WATCH_EVENT_REMOVAL 4

__attribute__((visibility("default"))) PVOID PnpWatchTargetEntry;
__attribute__((visibility("default"))) PVOID PnpWatchInterfaceEntry;
__attribute__((visibility("default"))) PFILE_OBJECT PnpWatchFile;
__attribute__((visibility("default"))) volatile LONG PnpWatchVeto;
__attribute__((visibility("default"))) volatile LONG PnpWatchBlock;
__attribute__((visibility("default"))) volatile LONG PnpWatchEvents[5];
__attribute__((visibility("default"))) volatile LONG PnpWatchCallbacksDone;
__attribute__((visibility("default"))) volatile LONG PnpWatchUnloadCalls;
__attribute__((visibility("default"))) KEVENT PnpWatchEntered;
__attribute__((visibility("default"))) KEVENT PnpWatchRelease;

static PDRIVER_OBJECT WatchDriver;

DRIVER_INITIALIZE DriverEntry;
NTSTATUS PnpWatchRegisterTarget(void);
NTSTATUS PnpWatchRegisterInterface(void);

static NTSTATUS WatchTargetChange(PVOID NotificationStructure, PVOID Context)
{
    PTARGET_DEVICE_REMOVAL_NOTIFICATION note = NotificationStructure;
    NTSTATUS status = STATUS_SUCCESS;
    UNREFERENCED_PARAMETER(Context);
    if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_QUERY_REMOVE)) {
        InterlockedIncrement(&PnpWatchEvents[WATCH_EVENT_QUERY_REMOVE]);
        if (ReadAcquire(&PnpWatchVeto)) {
            status = STATUS_UNSUCCESSFUL; /* refuses the removal: the PnP manager's veto names this driver */
        } else if (PnpWatchFile) {
            ObDereferenceObject(PnpWatchFile); /* lets the target go; stays registered */
            PnpWatchFile = NULL;
        }
    } else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_CANCELLED)) {
        InterlockedIncrement(&PnpWatchEvents[WATCH_EVENT_REMOVE_CANCELLED]);
    } else if (IsEqualGUID(&note->Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE)) {
        InterlockedIncrement(&PnpWatchEvents[WATCH_EVENT_REMOVE_COMPLETE]);
        if (PnpWatchFile) {
            ObDereferenceObject(PnpWatchFile); /* surprise removal: no query came first */
            PnpWatchFile = NULL;
        }
    }
    InterlockedIncrement(&PnpWatchCallbacksDone);
    return status;
}

static NTSTATUS WatchInterfaceChange(PVOID NotificationStructure, PVOID Context)
{
    PDEVICE_INTERFACE_CHANGE_NOTIFICATION note = NotificationStructure;
    UNREFERENCED_PARAMETER(Context);
    if (IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_ARRIVAL)) {
        InterlockedIncrement(&PnpWatchEvents[WATCH_EVENT_ARRIVAL]);
        if (ReadAcquire(&PnpWatchBlock)) {
            KeSetEvent(&PnpWatchEntered, IO_NO_INCREMENT, FALSE);
            KeWaitForSingleObject(&PnpWatchRelease, Executive, KernelMode, FALSE, NULL);
        }
    } else if (IsEqualGUID(&note->Event, &GUID_DEVICE_INTERFACE_REMOVAL)) {
        InterlockedIncrement(&PnpWatchEvents[WATCH_EVENT_REMOVAL]);
    }
    InterlockedIncrement(&PnpWatchCallbacksDone);
    return STATUS_SUCCESS;
}

__attribute__((visibility("default"))) NTSTATUS PnpWatchRegisterTarget(void)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT top;
    RtlInitUnicodeString(&name, L"\\??\\ROOT#PNPTEST#0000#{9f1c2a10-5b6d-4e21-8a3c-112233445566}");
    NTSTATUS status = IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &PnpWatchFile, &top);
    if (!NT_SUCCESS(status))
        return status;
    status = IoRegisterPlugPlayNotification(EventCategoryTargetDeviceChange, 0, PnpWatchFile, WatchDriver,
                                            WatchTargetChange, NULL, &PnpWatchTargetEntry);
    if (!NT_SUCCESS(status)) {
        ObDereferenceObject(PnpWatchFile);
        PnpWatchFile = NULL;
    }
    return status;
}

__attribute__((visibility("default"))) NTSTATUS PnpWatchRegisterInterface(void)
{
    return IoRegisterPlugPlayNotification(EventCategoryDeviceInterfaceChange, 0, (PVOID)&GUID_DEVINTERFACE_PNPTEST,
                                          WatchDriver, WatchInterfaceChange, NULL, &PnpWatchInterfaceEntry);
}

static VOID WatchUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    InterlockedIncrement(&PnpWatchUnloadCalls);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    WatchDriver = DriverObject;
    KeInitializeEvent(&PnpWatchEntered, NotificationEvent, FALSE);
    KeInitializeEvent(&PnpWatchRelease, NotificationEvent, FALSE);
    DriverObject->DriverUnload = WatchUnload;
    return STATUS_SUCCESS;
}
