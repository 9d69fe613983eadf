/*
 * wmilib.h - the WMI library (WMILIB) a WDM driver uses to answer
 * IRP_MJ_SYSTEM_CONTROL: the driver describes its data blocks in a
 * WMILIB_CONTEXT and hands every such IRP to WmiSystemControl.
 *
 * The simulation has no WMI consumers, so no WMI IRP is ever sent by the
 * system; WmiSystemControl still sorts an IRP the way the WDK documents
 * (another provider's IRP is to be forwarded, a non-WMI one is the
 * driver's), so a dispatch routine built around it runs unchanged, and
 * WmiFireEvent frees the event buffer as WMI does.
 */
#ifndef NTSIM_WMILIB_H
#define NTSIM_WMILIB_H

#include "wdm.h"
#include "wmistr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    LPCGUID Guid;
    ULONG InstanceCount;
    ULONG Flags;
} WMIGUIDREGINFO, *PWMIGUIDREGINFO;

typedef enum {
    WmiEventControl,
    WmiDataBlockControl
} WMIENABLEDISABLECONTROL, *PWMIENABLEDISABLECONTROL;

typedef NTSTATUS WMI_QUERY_REGINFO_CALLBACK(PDEVICE_OBJECT DeviceObject, PULONG RegFlags,
                                            PUNICODE_STRING InstanceName, PUNICODE_STRING *RegistryPath,
                                            PUNICODE_STRING MofResourceName, PDEVICE_OBJECT *Pdo);
typedef WMI_QUERY_REGINFO_CALLBACK *PWMI_QUERY_REGINFO;
typedef NTSTATUS WMI_QUERY_DATABLOCK_CALLBACK(PDEVICE_OBJECT DeviceObject, PIRP Irp, ULONG GuidIndex,
                                              ULONG InstanceIndex, ULONG InstanceCount,
                                              PULONG InstanceLengthArray, ULONG BufferAvail, PUCHAR Buffer);
typedef WMI_QUERY_DATABLOCK_CALLBACK *PWMI_QUERY_DATABLOCK;
typedef NTSTATUS WMI_SET_DATABLOCK_CALLBACK(PDEVICE_OBJECT DeviceObject, PIRP Irp, ULONG GuidIndex,
                                            ULONG InstanceIndex, ULONG BufferSize, PUCHAR Buffer);
typedef WMI_SET_DATABLOCK_CALLBACK *PWMI_SET_DATABLOCK;
typedef NTSTATUS WMI_SET_DATAITEM_CALLBACK(PDEVICE_OBJECT DeviceObject, PIRP Irp, ULONG GuidIndex,
                                           ULONG InstanceIndex, ULONG DataItemId, ULONG BufferSize,
                                           PUCHAR Buffer);
typedef WMI_SET_DATAITEM_CALLBACK *PWMI_SET_DATAITEM;
typedef NTSTATUS WMI_EXECUTE_METHOD_CALLBACK(PDEVICE_OBJECT DeviceObject, PIRP Irp, ULONG GuidIndex,
                                             ULONG InstanceIndex, ULONG MethodId, ULONG InBufferSize,
                                             ULONG OutBufferSize, PUCHAR Buffer);
typedef WMI_EXECUTE_METHOD_CALLBACK *PWMI_EXECUTE_METHOD;
typedef NTSTATUS WMI_FUNCTION_CONTROL_CALLBACK(PDEVICE_OBJECT DeviceObject, PIRP Irp, ULONG GuidIndex,
                                               WMIENABLEDISABLECONTROL Function, BOOLEAN Enable);
typedef WMI_FUNCTION_CONTROL_CALLBACK *PWMI_FUNCTION_CONTROL;

typedef struct _WMILIB_CONTEXT {
    ULONG GuidCount;
    PWMIGUIDREGINFO GuidList;
    PWMI_QUERY_REGINFO QueryWmiRegInfo;
    PWMI_QUERY_DATABLOCK QueryWmiDataBlock;
    PWMI_SET_DATABLOCK SetWmiDataBlock;
    PWMI_SET_DATAITEM SetWmiDataItem;
    PWMI_EXECUTE_METHOD ExecuteWmiMethod;
    PWMI_FUNCTION_CONTROL WmiFunctionControl;
} WMILIB_CONTEXT, *PWMILIB_CONTEXT;

typedef enum {
    IrpProcessed,    /* WMILIB handled the IRP (completed it or the callback will) */
    IrpNotCompleted, /* handled but not completed: the driver completes it */
    IrpNotWmi,       /* not a WMI IRP: the driver handles it as it would any IRP */
    IrpForward       /* a WMI IRP for another provider: the driver passes it down */
} SYSCTL_IRP_DISPOSITION, *PSYSCTL_IRP_DISPOSITION;

/*
 * Sorts an IRP_MJ_SYSTEM_CONTROL IRP for DeviceObject. A minor function
 * outside the WMI set gives IrpNotWmi; a WMI IRP whose ProviderId is not
 * DeviceObject's gives IrpForward (the IRP untouched in both cases). The
 * simulation never sends WMI IRPs to a provider, so one addressed to
 * DeviceObject can only come from another driver: it is completed with
 * STATUS_WMI_GUID_NOT_FOUND (IrpProcessed). Returns the status the
 * dispatch routine should return.
 */
NTSTATUS WmiSystemControl(PWMILIB_CONTEXT WmiLibInfo, PDEVICE_OBJECT DeviceObject, PIRP Irp,
                          PSYSCTL_IRP_DISPOSITION IrpDisposition) NTSIM_API;
/*
 * Completes a WMI IRP a callback was given: Status, and BufferUsed bytes
 * in IoStatus.Information (the size needed with STATUS_BUFFER_TOO_SMALL).
 * Returns Status.
 */
NTSTATUS WmiCompleteRequest(PDEVICE_OBJECT DeviceObject, PIRP Irp, NTSTATUS Status, ULONG BufferUsed,
                            CCHAR PriorityBoost) NTSIM_API;
/*
 * Sends a WMI event for data block Guid of DeviceObject. EventData (may be
 * NULL) must come from nonpaged pool; WMI frees it whether or not the
 * event was delivered, as documented.
 */
NTSTATUS WmiFireEvent(PDEVICE_OBJECT DeviceObject, LPCGUID Guid, ULONG InstanceIndex, ULONG EventDataSize,
                      PVOID EventData) NTSIM_API;

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_WMILIB_H */
