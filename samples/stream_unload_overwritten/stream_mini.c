/*
 * stream_mini.c - a stream class minidriver (seed 002). DriverEntry
 * allocates a driver-wide context from pool, sets its unload routine to
 * free it, then registers with the stream class. StreamClassRegisterAdapter
 * overwrites DriverObject->DriverUnload with the class's own stub, so the
 * minidriver's unload routine never runs: the image unloads (the stub is
 * an unload routine) but the pool block is leaked.
 *
 * Built with SAMPLE_FIXED set to 1 (samples/stream_unload_fixed), the
 * minidriver does it right (the advice of seed 002): it registers with the
 * stream class first, then stores the unload routine the class installed
 * and sets its own, which frees the driver-wide context and chains to the
 * class's routine.
 */
#include <wdm.h>
#include <strmini.h>

#ifndef SAMPLE_FIXED
#define SAMPLE_FIXED 0
#endif

typedef struct _MINI_GLOBALS {
    ULONG DeviceCount;
} MINI_GLOBALS, *PMINI_GLOBALS;

typedef struct _MINI_DEVICE_EXTENSION {
    BOOLEAN Initialized;
} MINI_DEVICE_EXTENSION, *PMINI_DEVICE_EXTENSION;

static PMINI_GLOBALS Globals;
#if SAMPLE_FIXED
static PDRIVER_UNLOAD ClassDriverUnload;
#endif

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
#if !SAMPLE_FIXED
    UNREFERENCED_PARAMETER(DriverObject);
#endif
    ExFreePoolWithTag(Globals, 'iniM');
    Globals = NULL;
#if SAMPLE_FIXED
    if (ClassDriverUnload)
        ClassDriverUnload(DriverObject);
#endif
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HW_INITIALIZATION_DATA init;
#if SAMPLE_FIXED
    NTSTATUS status;
#endif

    Globals = ExAllocatePoolZero(NonPagedPoolNx, sizeof(MINI_GLOBALS), 'iniM');
    if (!Globals)
        return STATUS_INSUFFICIENT_RESOURCES;
#if !SAMPLE_FIXED
    /* BUG: set before StreamClassRegisterAdapter, which overwrites it with the class's stub. */
    DriverObject->DriverUnload = StreamMiniUnload;
#endif

    RtlZeroMemory(&init, sizeof(init));
    init.HwInitializationDataSize = sizeof(init);
    init.HwReceivePacket = StreamMiniReceivePacket;
    init.DeviceExtensionSize = sizeof(MINI_DEVICE_EXTENSION);
#if SAMPLE_FIXED
    status = StreamClassRegisterAdapter(DriverObject, RegistryPath, &init);
    if (!NT_SUCCESS(status)) {
        ExFreePoolWithTag(Globals, 'iniM');
        return status;
    }
    /* FIX: set after registering, keeping the class's routine to chain to. */
    ClassDriverUnload = DriverObject->DriverUnload;
    DriverObject->DriverUnload = StreamMiniUnload;
    return STATUS_SUCCESS;
#else
    return StreamClassRegisterAdapter(DriverObject, RegistryPath, &init);
#endif
}
