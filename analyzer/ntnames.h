/*
 * ntnames.h - the names a verdict prints for NT values carried in a trace:
 * NTSTATUS codes (STATUS_IMAGE_ALREADY_LOADED), bug-check codes
 * (REFERENCE_BY_POINTER), PnP veto types (PNP_VetoOutstandingOpen) and
 * devnode states (DeviceNodeStarted). The tables are the simulation's own
 * X-macro tables (include/ntsim/ntstatus.h, bugcodes.h, ntsim.h), so a
 * code is named the same way by the kernel, the scenario runner and the
 * analyzer.
 */
#ifndef OBTRACE_NTNAMES_H
#define OBTRACE_NTNAMES_H

#include <stdint.h>

/* "STATUS_SUCCESS" for 0 ...; an unknown status as "0x%08x" in buf[16]. Returns the name or buf. */
const char *nt_status_name(int32_t status, char *buf);
/* "REFERENCE_BY_POINTER" for 0x18 ...; an unknown code as "0x%x" in buf[24]. Returns the name or buf. */
const char *nt_bugcheck_name(uint64_t code, char *buf);
/* "PNP_VetoOutstandingOpen" ...; an unknown type as "veto type %u" in buf[24]. Returns the name or buf. */
const char *nt_veto_name(uint32_t type, char *buf);
/* "DeviceNodeStarted" for 0x308 ...; an unknown state as "0x%x" in buf[16]. Returns the name or buf. */
const char *nt_devnode_state_name(uint32_t state, char *buf);

/* "device-interface-change" for EventCategoryDeviceInterfaceChange ...; else "PnP" (no buffer needed beyond buf[48]). */
const char *nt_notify_category_name(uint32_t category, char *buf);

#endif /* OBTRACE_NTNAMES_H */
