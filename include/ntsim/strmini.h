/*
 * strmini.h - a minimal stream class minidriver interface (the WDK's
 * strmini.h subset a stream minidriver's registration and device
 * initialization need). The stream class itself lives in libntsim
 * (framework/strmclass.c): StreamClassRegisterAdapter takes over the
 * minidriver's AddDevice, its IRP dispatch table and - as ReactOS's
 * stream.sys does - its DriverUnload, which it sets to KsNullDriverUnload
 * (nt-semantics §10). A minidriver that needs its own unload routine must
 * set it AFTER registering, and should chain to the one the class stored.
 */
#ifndef NTSIM_STRMINI_H
#define NTSIM_STRMINI_H

#include "wdm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device-level SRB commands (values as in the WDK's strmini.h). */
#define SRB_GET_STREAM_INFO 0x100
#define SRB_OPEN_STREAM 0x101
#define SRB_CLOSE_STREAM 0x102
#define SRB_OPEN_DEVICE_INSTANCE 0x103
#define SRB_CLOSE_DEVICE_INSTANCE 0x104
#define SRB_GET_DEVICE_PROPERTY 0x105
#define SRB_SET_DEVICE_PROPERTY 0x106
#define SRB_INITIALIZE_DEVICE 0x107
#define SRB_CHANGE_POWER_STATE 0x108
#define SRB_UNINITIALIZE_DEVICE 0x109
#define SRB_UNKNOWN_DEVICE_COMMAND 0x10a
#define SRB_PAGING_OUT_DRIVER 0x10b
#define SRB_GET_DATA_INTERSECTION 0x10c
#define SRB_INITIALIZATION_COMPLETE 0x10d
#define SRB_SURPRISE_REMOVAL 0x10e
typedef ULONG SRB_COMMAND;

typedef struct _PORT_CONFIGURATION_INFORMATION {
    ULONG SizeOfThisPacket;
    PVOID HwDeviceExtension;
    PDEVICE_OBJECT ClassDeviceObject;     /* the stream class's FDO */
    PDEVICE_OBJECT PhysicalDeviceObject;  /* the device below the FDO */
    ULONG SystemIoBusNumber;
    ULONG AdapterInterfaceType;
    ULONG BusInterruptLevel;
    ULONG BusInterruptVector;
    ULONG InterruptMode;
    ULONG DmaChannel;
    ULONG NumberOfAccessRanges;
    PVOID AccessRanges;
    ULONG StreamDescriptorSize;
    PIRP Irp;
    ULONG DmaBufferSize;
    PDEVICE_OBJECT RealPhysicalDeviceObject; /* the PDO */
} PORT_CONFIGURATION_INFORMATION, *PPORT_CONFIGURATION_INFORMATION;

typedef struct _HW_STREAM_REQUEST_BLOCK {
    ULONG SizeOfThisPacket;
    SRB_COMMAND Command;
    NTSTATUS Status;
    PVOID StreamObject;
    PVOID HwDeviceExtension;
    PVOID SRBExtension;
    union {
        PVOID Buffer;
        PPORT_CONFIGURATION_INFORMATION ConfigInfo;
        PVOID PropertyInfo;
    } CommandData;
    ULONG NumberOfBuffers;
    ULONG TimeoutCounter;
    ULONG TimeoutOriginal;
    struct _HW_STREAM_REQUEST_BLOCK *NextSRB;
    PIRP Irp;
    ULONG Flags;
    PVOID HwInstanceExtension;
} HW_STREAM_REQUEST_BLOCK, *PHW_STREAM_REQUEST_BLOCK;

typedef VOID HW_RECEIVE_DEVICE_SRB(PHW_STREAM_REQUEST_BLOCK SRB);
typedef HW_RECEIVE_DEVICE_SRB *PHW_RECEIVE_DEVICE_SRB;
typedef VOID HW_CANCEL_SRB(PHW_STREAM_REQUEST_BLOCK SRB);
typedef HW_CANCEL_SRB *PHW_CANCEL_SRB;
typedef VOID HW_REQUEST_TIMEOUT_HANDLER(PHW_STREAM_REQUEST_BLOCK SRB);
typedef HW_REQUEST_TIMEOUT_HANDLER *PHW_REQUEST_TIMEOUT_HANDLER;
typedef BOOLEAN HW_INTERRUPT(PVOID DeviceExtension);
typedef HW_INTERRUPT *PHW_INTERRUPT;

/* What a minidriver tells the class in DriverEntry. It has no unload routine field. */
typedef struct _HW_INITIALIZATION_DATA {
    ULONG HwInitializationDataSize;
    PHW_INTERRUPT HwInterrupt;
    PHW_RECEIVE_DEVICE_SRB HwReceivePacket;
    PHW_CANCEL_SRB HwCancelPacket;
    PHW_REQUEST_TIMEOUT_HANDLER HwRequestTimeoutHandler;
    ULONG DeviceExtensionSize;
    ULONG PerRequestExtensionSize;
    ULONG PerStreamExtensionSize;
    ULONG FilterInstanceExtensionSize;
    BOOLEAN BusMasterDMA;
    BOOLEAN Dma24BitAddresses;
    ULONG BufferAlignment;
    BOOLEAN TurnOffSynchronization;
    ULONG DmaBufferSize;
    ULONG NumNameExtensions;
    PWCHAR *NameExtensionArray;
    ULONG Reserved[2];
} HW_INITIALIZATION_DATA, *PHW_INITIALIZATION_DATA;

typedef enum _STREAM_MINIDRIVER_DEVICE_NOTIFICATION_TYPE {
    ReadyForNextDeviceRequest,
    DeviceRequestComplete,
    SignalMultipleDeviceEvents,
    SignalDeviceEvent,
    DeleteDeviceEvent,
    SignalMultipleDeviceInstanceEvents
} STREAM_MINIDRIVER_DEVICE_NOTIFICATION_TYPE;

/*
 * Registers the minidriver with the stream class; called from DriverEntry
 * with its two arguments. Takes over DriverExtension->AddDevice, the
 * IRP_MJ_PNP, POWER, SYSTEM_CONTROL, CREATE, CLOSE, CLEANUP, FLUSH_BUFFERS
 * and DEVICE_CONTROL dispatch entries and DriverUnload (set to
 * KsNullDriverUnload, the write recorded through IopNoteDriverUnloadWrite
 * first). STATUS_INVALID_PARAMETER for a bad HW_INITIALIZATION_DATA.
 */
NTKERNELAPI NTSTATUS StreamClassRegisterAdapter(PVOID Argument1, PVOID Argument2,
                                                PHW_INITIALIZATION_DATA HwInitializationData);
#define StreamClassRegisterMinidriver StreamClassRegisterAdapter
/* A minidriver reports an SRB done (the class handles device SRBs synchronously; recorded only). */
NTKERNELAPI VOID StreamClassDeviceNotification(STREAM_MINIDRIVER_DEVICE_NOTIFICATION_TYPE NotificationType,
                                               PVOID HwDeviceExtension, ...);
/* The do-nothing unload routine the class installs ("allows the driver to be unloaded by its presence"). */
NTKERNELAPI VOID KsNullDriverUnload(PDRIVER_OBJECT DriverObject);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_STRMINI_H */
