/*
 * ntsim_init.c - start-up, configuration and shutdown of the simulated
 * kernel, the object types that have no subsystem of their own, and status
 * names, and the host-action note (a no-op a tracer interposes). The
 * kernel works from its static defaults even before NtsimInitialize;
 * initializing sets the configuration.
 */
#include <string.h>

#include "ntsim_internal.h"

#define INITGUID
#include "wdmguid.h"

NTSIM_CONFIG NtsimpConfig = {
    .StuckWaitMs = 2000,
    .StuckPolicy = NtsimStuckReportAndContinue,
    .RegistrationsDeferUnload = TRUE,
    .DriverSearchPath = NULL,
    .EchoDebugOutput = FALSE,
};

static BOOLEAN NtsimpInitialized;
static char *NtsimpSearchPath;

OBJECT_TYPE ExpEventObjectTypeBody = { "Event", 'nevE', NULL, NULL };
static POBJECT_TYPE ExpEventObjectTypePointer = &ExpEventObjectTypeBody;
POBJECT_TYPE *ExEventObjectType = &ExpEventObjectTypePointer;

VOID NtsimDefaultConfig(PNTSIM_CONFIG Config)
{
    memset(Config, 0, sizeof(*Config));
    Config->StuckWaitMs = 2000;
    Config->StuckPolicy = NtsimStuckReportAndContinue;
    Config->RegistrationsDeferUnload = TRUE;
}

NTSTATUS NtsimInitialize(const NTSIM_CONFIG *Config)
{
    if (NtsimpInitialized)
        return STATUS_INVALID_DEVICE_STATE;
    NTSIM_CONFIG config;
    if (Config)
        config = *Config;
    else
        NtsimDefaultConfig(&config);
    if (!config.StuckWaitMs)
        config.StuckWaitMs = 2000;
    free(NtsimpSearchPath);
    NtsimpSearchPath = RtlpStrDup(config.DriverSearchPath);
    config.DriverSearchPath = NtsimpSearchPath;
    NtsimpConfig = config;
    KipLoadAsyncDelay();
    NtsimpInitialized = TRUE;
    return STATUS_SUCCESS;
}

VOID NtsimShutdown(void)
{
    ExpStopWorkers();
    NtsimpInitialized = FALSE;
}

VOID NtsimNoteHostAction(const char *Where, const char *What)
{
    (void)Where;
    (void)What;
}

const char *NtsimStatusName(NTSTATUS Status)
{
    static __thread char unknown[16];
#define NTSIMP_STATUS_CASE(name, value) \
    case (NTSTATUS)(value):             \
        return #name;
    switch (Status) {
        NTSIM_STATUS_CODES(NTSIMP_STATUS_CASE)
    }
#undef NTSIMP_STATUS_CASE
    snprintf(unknown, sizeof(unknown), "0x%08x", (unsigned)Status);
    return unknown;
}
