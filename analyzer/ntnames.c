/*
 * ntnames.c - names of NT codes for verdicts (ntnames.h), generated from
 * the simulation's X-macro tables; the veto types, a plain enum in
 * ntsim.h, are named by stringizing its enumerators.
 */
#include "ntnames.h"

#include <stddef.h>
#include <stdio.h>

#include <ntsim/bugcodes.h>
#include <ntsim/ntsim.h>
#include <ntsim/ntstatus.h>

struct code_name {
    uint64_t code;
    const char *name;
};

#define CN_(name, value) { (uint32_t)(value), #name },
static const struct code_name statuses[] = { NTSIM_STATUS_CODES(CN_) };
static const struct code_name bugchecks[] = { NTSIM_BUGCHECK_CODES(CN_) };
static const struct code_name states[] = { NTSIM_DEVNODE_STATES(CN_) };
#undef CN_

#define VETO_(name) { name, #name }
static const struct code_name vetoes[] = {
    VETO_(PNP_VetoTypeUnknown),       VETO_(PNP_VetoLegacyDevice),     VETO_(PNP_VetoPendingClose),
    VETO_(PNP_VetoWindowsApp),        VETO_(PNP_VetoWindowsService),   VETO_(PNP_VetoOutstandingOpen),
    VETO_(PNP_VetoDevice),            VETO_(PNP_VetoDriver),           VETO_(PNP_VetoIllegalDeviceRequest),
    VETO_(PNP_VetoInsufficientPower), VETO_(PNP_VetoNonDisableable),   VETO_(PNP_VetoLegacyDriver),
    VETO_(PNP_VetoInsufficientRights), VETO_(PNP_VetoAlreadyRemoved),
};
#undef VETO_

static const char *lookup(const struct code_name *t, size_t n, uint64_t code)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].code == code)
            return t[i].name;
    return NULL;
}

#define LOOKUP(t, code) lookup((t), sizeof(t) / sizeof((t)[0]), (code))

const char *nt_status_name(int32_t status, char *buf)
{
    const char *n = LOOKUP(statuses, (uint32_t)status);
    if (n)
        return n;
    snprintf(buf, 16, "0x%08x", (uint32_t)status);
    return buf;
}

const char *nt_bugcheck_name(uint64_t code, char *buf)
{
    const char *n = LOOKUP(bugchecks, code);
    if (n)
        return n;
    snprintf(buf, 24, "0x%llx", (unsigned long long)code);
    return buf;
}

const char *nt_veto_name(uint32_t type, char *buf)
{
    const char *n = LOOKUP(vetoes, type);
    if (n)
        return n;
    snprintf(buf, 24, "veto type %u", type);
    return buf;
}

const char *nt_devnode_state_name(uint32_t state, char *buf)
{
    const char *n = LOOKUP(states, state);
    if (n)
        return n;
    snprintf(buf, 16, "0x%x", state);
    return buf;
}

const char *nt_notify_category_name(uint32_t category, char *buf)
{
    switch (category) {
    case EventCategoryHardwareProfileChange: return "hardware-profile-change";
    case EventCategoryDeviceInterfaceChange: return "device-interface-change";
    case EventCategoryTargetDeviceChange: return "target-device-change";
    default: snprintf(buf, 48, "PnP (category %u)", category); return buf;
    }
}
