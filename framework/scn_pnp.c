/*
 * scn_pnp.c - the PnP verbs and expectations of a scenario (SCN_PNP_VERBS,
 * SCN_PNP_EXPECTS, SCN_PNP_KINDS in scn.h): describing hardware, plugging,
 * unplugging, disabling, enabling and ejecting devices, the pnp-aware
 * application (a handle registered for device notifications that closes,
 * keeps or vetoes on query-remove), waiting for the PnP manager, and the
 * devnode-state and veto expectations. Each action is one call of the PnP
 * part of the host API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scn.h"
#include "wdmguid.h"

/* What a notify-handle registration does on GUID_TARGET_DEVICE_QUERY_REMOVE. */
typedef enum _SCN_NOTIFY_BEHAVIOUR { ScnNotifyClose, ScnNotifyKeep, ScnNotifyVeto } SCN_NOTIFY_BEHAVIOUR;

static const char *const ScnBehaviourWords[] = { "close", "keep", "veto" };

/* A notify-handle registration's context (lives until the process ends, as the application's would). */
typedef struct _SCN_NOTIFY_CONTEXT {
    SCN_RUN *Run;
    char *Name;
    SCN_NOTIFY_BEHAVIOUR Behaviour;
} SCN_NOTIFY_CONTEXT;

static VOID ScnSetPnpStatus(SCN_OUTCOME *Outcome, NTSTATUS Status)
{
    Outcome->HasStatus = TRUE;
    Outcome->Status = Status;
}

/* ---- argument kinds --------------------------------------------------------- */

BOOLEAN ScnParseNotifyBehaviour(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    (void)Defines;
    for (ULONG i = 0; i < RTL_NUMBER_OF(ScnBehaviourWords); i++) {
        if (!strcmp(Token, ScnBehaviourWords[i])) {
            Value->Number = i;
            return TRUE;
        }
    }
    return ScnParseError(Parser, "unknown behaviour '%s' (one of: close keep veto)", Token);
}

/* The power verb's words and the system states they name. */
static const struct {
    const char *Word;
    SYSTEM_POWER_STATE State;
} ScnPowerWords[] = { { "sleep", PowerSystemSleeping3 }, { "hibernate", PowerSystemHibernate },
                      { "wake", PowerSystemWorking } };

BOOLEAN ScnParsePowerState(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    (void)Defines;
    for (ULONG i = 0; i < RTL_NUMBER_OF(ScnPowerWords); i++) {
        if (!strcmp(Token, ScnPowerWords[i].Word)) {
            Value->Number = ScnPowerWords[i].State;
            return TRUE;
        }
    }
    return ScnParseError(Parser, "unknown power state '%s' (one of: sleep hibernate wake)", Token);
}

BOOLEAN ScnParseDevnodeState(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    (void)Defines;
    for (ULONG state = DeviceNodeUnspecified; state <= DeviceNodeDeleted; state++) {
        const char *name = NtsimDevnodeStateName(state);
        if (name && !strcmp(name, Token)) {
            Value->Number = state;
            return TRUE;
        }
    }
    return ScnParseError(Parser, "unknown devnode state '%s' (DeviceNodeStarted, DeviceNodeRemoved, ...)", Token);
}

BOOLEAN ScnParseVetoType(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value)
{
    (void)Defines;
    for (ULONG type = PNP_VetoTypeUnknown; type <= PNP_VetoAlreadyRemoved; type++) {
        const char *name = NtsimVetoTypeName((PNP_VETO_TYPE)type);
        if (name && !strcmp(name, Token)) {
            Value->Number = type;
            return TRUE;
        }
    }
    return ScnParseError(Parser, "unknown veto type '%s' (PNP_VetoOutstandingOpen, PNP_VetoDevice, ...)", Token);
}

/* ---- actions ------------------------------------------------------------------ */

/* Splits a comma-separated FILTERS clause into a NULL-terminated array (malloc'd, one block). */
static char **ScnSplitFilters(const SCN_VALUE *Clause)
{
    if (!Clause)
        return NULL;
    size_t n = 1;
    for (const char *p = Clause->Text; *p; p++)
        n += *p == ',';
    char **list = calloc(1, (n + 1) * sizeof(char *) + strlen(Clause->Text) + 1);
    if (!list)
        return NULL;
    char *text = strcpy((char *)(list + n + 1), Clause->Text), *save = NULL;
    n = 0;
    for (char *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        list[n++] = tok;
    return list;
}

VOID ScnDoHardware(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    char **upper = ScnSplitFilters(ScnClause(Action, "upper"));
    char **lower = ScnSplitFilters(ScnClause(Action, "lower"));
    ScnSetPnpStatus(Outcome, NtsimDefineHardware(ScnArgument(Action, "HWID", 0)->Text,
                                                 ScnArgument(Action, "SERVICE", 0)->Text,
                                                 (const char *const *)upper, (const char *const *)lower));
    free(upper);
    free(lower);
}

VOID ScnDoPlug(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetPnpStatus(Outcome,
                    NtsimPlugDevice(ScnArgument(Action, "HWID", 0)->Text, ScnArgument(Action, "INSTANCE", 0)->Text));
}

VOID ScnDoUnplug(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetPnpStatus(Outcome, NtsimUnplugDevice(ScnArgument(Action, "INSTANCE", 0)->Text));
}

static VOID ScnDescribeVeto(NTSTATUS Status, const NTSIM_VETO *Veto, SCN_OUTCOME *Outcome)
{
    if (Status == STATUS_PLUGPLAY_QUERY_VETOED)
        snprintf(Outcome->Detail, sizeof(Outcome->Detail), "vetoed %s %s", NtsimVetoTypeName(Veto->VetoType),
                 Veto->VetoName);
}

VOID ScnDoDisable(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    NTSIM_VETO veto;
    (void)Run;
    NTSTATUS status = NtsimDisableDevice(ScnArgument(Action, "INSTANCE", 0)->Text, &veto);
    ScnSetPnpStatus(Outcome, status);
    ScnDescribeVeto(status, &veto, Outcome);
}

VOID ScnDoEnable(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetPnpStatus(Outcome, NtsimEnableDevice(ScnArgument(Action, "INSTANCE", 0)->Text));
}

VOID ScnDoEject(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    NTSIM_VETO veto;
    (void)Run;
    NTSTATUS status = NtsimEjectDevice(ScnArgument(Action, "INSTANCE", 0)->Text, &veto);
    ScnSetPnpStatus(Outcome, status);
    ScnDescribeVeto(status, &veto, Outcome);
}

VOID ScnDoPower(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetPnpStatus(Outcome, NtsimSetSystemPowerState((SYSTEM_POWER_STATE)ScnArgument(Action, "POWERSTATE", 0)->Number));
}

/* The application closes its handle (on the PnP thread, while the host waits for the removal). */
static VOID ScnNotifyCloseHandle(SCN_NOTIFY_CONTEXT *Context)
{
    SCN_OUTCOME scratch;
    memset(&scratch, 0, sizeof(scratch));
    SCN_HANDLE *slot = ScnFindOpenHandle(Context->Run, Context->Name, &scratch);
    if (!slot)
        return;
    NtsimCloseHandle(slot->Handle);
    slot->Open = FALSE;
    slot->Closed = TRUE;
}

/* NTSIM_HANDLE_NOTIFY of a notify-handle line (the WM_DEVICECHANGE handler of a pnp-aware application). */
static BOOLEAN ScnHandleNotification(HANDLE Handle, const GUID *Event, PVOID Context)
{
    SCN_NOTIFY_CONTEXT *context = Context;
    (void)Handle;
    if (IsEqualGUID(Event, &GUID_TARGET_DEVICE_QUERY_REMOVE)) {
        if (context->Behaviour == ScnNotifyVeto)
            return FALSE;
        if (context->Behaviour == ScnNotifyClose)
            ScnNotifyCloseHandle(context);
    } else if (IsEqualGUID(Event, &GUID_TARGET_DEVICE_REMOVE_COMPLETE) && context->Behaviour == ScnNotifyClose) {
        ScnNotifyCloseHandle(context); /* a surprise removal comes without a query */
    }
    return TRUE;
}

VOID ScnDoNotifyHandle(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    const char *name = ScnArgument(Action, "NAME", 0)->Text;
    SCN_HANDLE *slot = ScnFindOpenHandle(Run, name, Outcome);
    if (!slot)
        return;
    SCN_NOTIFY_CONTEXT *context = calloc(1, sizeof(*context));
    if (!context || !(context->Name = strdup(name))) {
        free(context);
        snprintf(Outcome->Error, sizeof(Outcome->Error), "out of memory");
        return;
    }
    context->Run = Run;
    context->Behaviour = (SCN_NOTIFY_BEHAVIOUR)ScnArgument(Action, "BEHAVIOUR", 0)->Number;
    PVOID registration;
    ScnSetPnpStatus(Outcome, NtsimRegisterHandleNotification(slot->Handle, ScnHandleNotification, context,
                                                             &registration));
}

/* ---- expectations -------------------------------------------------------------- */

VOID ScnExpectDevnode(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    NTSIM_DEVNODE_INFO info;
    ULONG want = (ULONG)ScnArgument(Action, "DNSTATE", 0)->Number;
    (void)Run;
    if (!NT_SUCCESS(NtsimQueryDevnode(ScnArgument(Action, "INSTANCE", 0)->Text, &info))) {
        Outcome->Held = want == DeviceNodeDeleted;
        snprintf(Outcome->Detail, sizeof(Outcome->Detail), "no devnode (deleted)");
        return;
    }
    Outcome->Held = info.State == want;
    snprintf(Outcome->Detail, sizeof(Outcome->Detail), "%s%s, problem 0x%x, %u children",
             NtsimDevnodeStateName(info.State), info.Disabled ? " (disabled)" : "", info.Problem, info.ChildCount);
}

VOID ScnExpectVeto(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    NTSIM_DEVNODE_INFO info;
    const SCN_VALUE *name = ScnClause(Action, "name");
    (void)Run;
    if (!NT_SUCCESS(NtsimQueryDevnode(ScnArgument(Action, "INSTANCE", 0)->Text, &info)) || !info.HasVeto) {
        snprintf(Outcome->Detail, sizeof(Outcome->Detail), "no veto recorded");
        return;
    }
    Outcome->Held = info.LastVeto.VetoType == (PNP_VETO_TYPE)ScnArgument(Action, "VETOTYPE", 0)->Number &&
                    (!name || !strcmp(name->Text, info.LastVeto.VetoName));
    snprintf(Outcome->Detail, sizeof(Outcome->Detail), "%s %s", NtsimVetoTypeName(info.LastVeto.VetoType),
             info.LastVeto.VetoName);
}
