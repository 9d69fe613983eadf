/*
 * stream_mini.c - a stream class minidriver (seed 002). DriverEntry
 * allocates a driver-wide context from pool, sets its unload routine to
 * free it, then registers with the stream class. StreamClassRegisterAdapter
 * overwrites DriverObject->DriverUnload with the class's own stub, so the
 * minidriver's unload routine never runs: the image unloads (the stub is
 * an unload routine) but the pool block is leaked.
 */
#include <wdm.h>
#include <strmini.h>

typedef struct _MINI_GLOBALS {
    ULONG DeviceCount;
} MINI_GLOBALS, *PMINI_GLOBALS;

typedef struct _MINI_DEVICE_EXTENSION {
    BOOLEAN Initialized;
} MINI_DEVICE_EXTENSION, *PMINI_DEVICE_EXTENSION;

static PMINI_GLOBALS Globals;

DRIVER_INITIALIZE DriverEntry;
DRIVER_UNLOAD StreamMiniUnload;

static VOID StreamMiniReceivePacket(PHW_STREAM_REQUEST_BLOCK Srb)
{
    PMINI_DEVICE_EXTENSION ext = Srb->HwDeviceExtension;
    switch (Srb->Command) {
    case SRB_INITIALIZE_DEVICE:
        ext->Initialized = TRUE;
        Globals->DeviceCount++;
        Srb->Status = STATUS_SUCCESS;
        break;
    case SRB_UNINITIALIZE_DEVICE:
        ext->Initialized = FALSE;
        Globals->DeviceCount--;
        Srb->Status = STATUS_SUCCESS;
        break;
    default:
        Srb->Status = STATUS_NOT_IMPLEMENTED;
        break;
    }
    StreamClassDeviceNotification(DeviceRequestComplete, Srb->HwDeviceExtension, Srb);
}

VOID StreamMiniUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    ExFreePoolWithTag(Globals, 'iniM');
    Globals = NULL;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HW_INITIALIZATION_DATA init;

    Globals = ExAllocatePoolZero(NonPagedPoolNx, sizeof(MINI_GLOBALS), 'iniM');
    if (!Globals)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* BUG: set before StreamClassRegisterAdapter, which overwrites it with the class's stub. */
    DriverObject->DriverUnload = StreamMiniUnload;

    RtlZeroMemory(&init, sizeof(init));
    init.HwInitializationDataSize = sizeof(init);
    init.HwReceivePacket = StreamMiniReceivePacket;
    init.DeviceExtensionSize = sizeof(MINI_DEVICE_EXTENSION);
    return StreamClassRegisterAdapter(DriverObject, RegistryPath, &init);
}
