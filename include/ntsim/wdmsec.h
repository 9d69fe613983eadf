/*
 * wdmsec.h - IoCreateDeviceSecure and the SDDL strings drivers pass to it.
 * The simulation has no security model: the SDDL string and class GUID are
 * recorded on the device and otherwise IoCreateDeviceSecure is IoCreateDevice.
 */
#ifndef NTSIM_WDMSEC_H
#define NTSIM_WDMSEC_H
#include "wdm.h"

/*
 * The standard device-object security descriptors, as the WDK's wdmsec.lib
 * provides them: UNICODE_STRING constants, passed by address.
 */
extern NTSIM_API const UNICODE_STRING SDDL_DEVOBJ_KERNEL_ONLY; /* "D:P" */
extern NTSIM_API const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL; /* "D:P(A;;GA;;;SY)" */
extern NTSIM_API const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_ALL; /* "D:P(A;;GA;;;SY)(A;;GA;;;BA)" */
extern NTSIM_API const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RX; /* "D:P(A;;GA;;;SY)(A;;GRGX;;;BA)" */
extern NTSIM_API const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R; /* "D:P(A;;GA;;;SY)(A;;GRGWGX;;;BA)(A;;GRGW;;;WD)(A;;GR;;;RC)" */

/* IoCreateDevice with a security descriptor (recorded, not enforced) and an optional class GUID. */
NTKERNELAPI NTSTATUS IoCreateDeviceSecure(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize,
                                          PUNICODE_STRING DeviceName, ULONG DeviceType,
                                          ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                                          PCUNICODE_STRING DefaultSDDLString, LPCGUID DeviceClassGuid,
                                          PDEVICE_OBJECT *DeviceObject);
#endif
