/*
 * stream_mini_fixed.c - the stream minidriver done right (the advice of
 * seed 002): it registers with the stream class first, then stores the
 * unload routine the class installed and sets its own, which frees the
 * driver-wide context and chains to the class's routine.
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
static PDRIVER_UNLOAD ClassDriverUnload;

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
    ExFreePoolWithTag(Globals, 'iniM');
    Globals = NULL;
    if (ClassDriverUnload)
        ClassDriverUnload(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HW_INITIALIZATION_DATA init;
    NTSTATUS status;

    Globals = ExAllocatePoolZero(NonPagedPoolNx, sizeof(MINI_GLOBALS), 'iniM');
    if (!Globals)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlZeroMemory(&init, sizeof(init));
    init.HwInitializationDataSize = sizeof(init);
    init.HwReceivePacket = StreamMiniReceivePacket;
    init.DeviceExtensionSize = sizeof(MINI_DEVICE_EXTENSION);
    status = StreamClassRegisterAdapter(DriverObject, RegistryPath, &init);
    if (!NT_SUCCESS(status)) {
        ExFreePoolWithTag(Globals, 'iniM');
        return status;
    }
    ClassDriverUnload = DriverObject->DriverUnload; /* the class's routine: chained from ours */
    DriverObject->DriverUnload = StreamMiniUnload;
    return STATUS_SUCCESS;
}
