/*
 * scn_run.c - NtsimRunScenario: parse a scenario, run it against the
 * simulation, print the transcript and the final state of every image.
 *
 * Transcript (Out): one line an action, `ECHO -> STATUS [detail]` for
 * actions and `expect ... -> ok|FAILED (seen)` for expectations; a summary
 * line; then `final state:` with one line per installed service.
 * Diagnostics (Err): `file:line: message`, one line each, for scenario
 * errors and failed expectations.
 * Before each action (not expectation) runs, NtsimNoteHostAction announces
 * it as "file:line" and its echo, for a tracer to label the events.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scn.h"

VOID NtsimDefaultScenarioOptions(PNTSIM_SCENARIO_OPTIONS Options)
{
    memset(Options, 0, sizeof(*Options));
}

static void ScnDiagnose(SCN_RUN *Run, const SCN_ACTION *Action, const char *Format, ...)
    __attribute__((format(printf, 3, 4)));

static void ScnDiagnose(SCN_RUN *Run, const SCN_ACTION *Action, const char *Format, ...)
{
    va_list args;

    fflush(Run->Out);
    fprintf(Run->Err, "%s:%lu: ", Run->Script->FileName, (unsigned long)Action->Line);
    va_start(args, Format);
    vfprintf(Run->Err, Format, args);
    va_end(args);
    fputc('\n', Run->Err);
    fflush(Run->Err);
}

/*
 * Prints an action's line and checks what it was expected to do: return
 * the status of its `expect STATUS` clause, and (when armed) not return at
 * all but bug-check - an armed action that returns has failed.
 */
static int ScnReportAction(SCN_RUN *Run, const SCN_ACTION *Action, const SCN_OUTCOME *Outcome)
{
    const SCN_VALUE *want = ScnClause(Action, "expect");
    BOOLEAN statusHeld = !want || !Outcome->HasStatus || (NTSTATUS)want->Number == Outcome->Status;
    char bugCheck[128];

    ScnFormatBugCheck(Action->BugCheckCode, bugCheck, sizeof(bugCheck));
    fprintf(Run->Out, "%s ->", Action->Echo);
    if (Outcome->HasStatus)
        fprintf(Run->Out, " %s%s", NtsimStatusName(Outcome->Status), Outcome->Detail[0] ? "," : "");
    if (Outcome->Detail[0])
        fprintf(Run->Out, " %s", Outcome->Detail);
    if (!statusHeld)
        fprintf(Run->Out, " (FAILED: expected %s)", NtsimStatusName((NTSTATUS)want->Number));
    if (Action->BugCheckArmed)
        fprintf(Run->Out, " (FAILED: expected %s)", bugCheck);
    fputc('\n', Run->Out);
    if (want && statusHeld)
        Run->Held++;
    if (!statusHeld) {
        Run->Failed++;
        ScnDiagnose(Run, Action, "expectation failed: %s returned %s, expected %s", Action->Echo,
                    NtsimStatusName(Outcome->Status), NtsimStatusName((NTSTATUS)want->Number));
    }
    if (Action->BugCheckArmed) {
        Run->Failed++;
        ScnDiagnose(Run, Action, "expectation failed: no bug check (line %lu expected %s)",
                    (unsigned long)Action->BugCheckLine, bugCheck);
    }
    return statusHeld && !Action->BugCheckArmed ? NTSIM_SCENARIO_PASSED : NTSIM_SCENARIO_EXPECT_FAILED;
}

/*
 * Prints an expectation's line. WasBusy: asynchronous work was pending when
 * the expectation was read; a failure then says that `wait-idle` is missing.
 */
static int ScnReportExpectation(SCN_RUN *Run, const SCN_ACTION *Action, const SCN_OUTCOME *Outcome, BOOLEAN WasBusy)
{
    if (Outcome->Held) {
        Run->Held++;
        fprintf(Run->Out, "%s -> ok\n", Action->Echo);
        return NTSIM_SCENARIO_PASSED;
    }
    Run->Failed++;
    fprintf(Run->Out, "%s -> FAILED (%s)\n", Action->Echo, Outcome->Detail);
    ScnDiagnose(Run, Action, "expectation failed: %s (seen: %s)%s", Action->Echo, Outcome->Detail,
                WasBusy || !NtsimIsIdle() ? "; work was still running (a work item, its release, or a PnP request):"
                                               " `wait-idle` before this line waits for it"
                                             : "");
    return NTSIM_SCENARIO_EXPECT_FAILED;
}

/* Tells a tracer which scenario line the following events belong to ("path:line", the action's echo). */
static void ScnAnnounceAction(SCN_RUN *Run, const SCN_ACTION *Action)
{
    char where[1024];

    snprintf(where, sizeof(where), "%s:%lu", Run->Script->FileName, (unsigned long)Action->Line);
    NtsimNoteHostAction(where, Action->Echo);
}

/* Runs one action or expectation; returns its NTSIM_SCENARIO_* result. */
static int ScnRunAction(SCN_RUN *Run, const SCN_ACTION *Action)
{
    SCN_OUTCOME outcome;

    memset(&outcome, 0, sizeof(outcome));
    fflush(Run->Out); /* a bug check during the action must not lose the transcript so far */
    if (Action->Verb->Class != ScnExpectation)
        ScnAnnounceAction(Run, Action);
    BOOLEAN wasBusy = Action->Verb->Class == ScnExpectation && !NtsimIsIdle();
    ScnBugCheckSetCurrent(Action);
    Action->Verb->Handler(Run, Action, &outcome);
    ScnBugCheckSetCurrent(NULL);
    if (outcome.Error[0]) {
        fprintf(Run->Out, "%s -> error\n", Action->Echo);
        ScnDiagnose(Run, Action, "%s", outcome.Error);
        return NTSIM_SCENARIO_ERROR;
    }
    if (Action->Verb->Class == ScnExpectation)
        return ScnReportExpectation(Run, Action, &outcome, wasBusy);
    return ScnReportAction(Run, Action, &outcome);
}

static void ScnPrintFinalState(SCN_RUN *Run)
{
    char description[512];

    fprintf(Run->Out, "final state:\n");
    for (ULONG i = 0; i < Run->Script->ServiceCount; i++) {
        const SCN_SERVICE *service = &Run->Script->Services[i];
        NTSIM_IMAGE_INFO info;
        NTSTATUS status;

        memset(&info, 0, sizeof(info));
        status = NtsimQueryImage(service->Name, &info);
        if (NT_SUCCESS(status))
            ScnDescribeImage(&info, description, sizeof(description));
        else
            snprintf(description, sizeof(description), "not installed (%s)", NtsimStatusName(status));
        fprintf(Run->Out, "  %s (%s): %s\n", service->Name, service->Image, description);
    }
}

/* Runs every action in order; stops at the first scenario error. */
static int ScnRunScript(SCN_RUN *Run)
{
    int result = NTSIM_SCENARIO_PASSED;

    for (ULONG i = 0; i < Run->Script->ActionCount; i++) {
        int step = ScnRunAction(Run, &Run->Script->Actions[i]);
        if (step == NTSIM_SCENARIO_ERROR)
            return step;
        if (step != NTSIM_SCENARIO_PASSED)
            result = step;
    }
    return result;
}

static int ScnStartSimulation(const NTSIM_SCENARIO_OPTIONS *Options, FILE *Err)
{
    NTSIM_CONFIG config;
    NTSTATUS status;

    NtsimDefaultConfig(&config);
    if (Options->StuckWaitMs)
        config.StuckWaitMs = Options->StuckWaitMs;
    config.DriverSearchPath = Options->DriverSearchPath;
    config.EchoDebugOutput = Options->EchoDebugOutput;
    status = NtsimInitialize(&config);
    if (NT_SUCCESS(status))
        return NTSIM_SCENARIO_PASSED;
    fprintf(Err, "ntsim: cannot start the simulation: %s\n", NtsimStatusName(status));
    return NTSIM_SCENARIO_ERROR;
}

int NtsimRunScenario(const char *Path, const NTSIM_SCENARIO_OPTIONS *Options)
{
    NTSIM_SCENARIO_OPTIONS defaults;
    SCN_SCRIPT script;
    SCN_RUN run;
    int result;

    if (!Options) {
        NtsimDefaultScenarioOptions(&defaults);
        Options = &defaults;
    }
    memset(&run, 0, sizeof(run));
    run.Out = Options->Out ? Options->Out : stdout;
    run.Err = Options->Err ? Options->Err : stderr;
    if (!ScnParseScript(Path, Options->DriverSearchPath, run.Err, &script))
        return NTSIM_SCENARIO_ERROR;
    run.Script = &script;
    result = ScnStartSimulation(Options, run.Err);
    if (result == NTSIM_SCENARIO_PASSED) {
        ScnBugCheckInstall(&run);
        result = ScnRunScript(&run);
        fprintf(run.Out, "-- %lu expectation%s held, %lu failed%s\n", (unsigned long)run.Held,
                run.Held == 1 ? "" : "s", (unsigned long)run.Failed,
                result == NTSIM_SCENARIO_ERROR ? "; stopped at a scenario error" : "");
        ScnPrintFinalState(&run);
        fflush(run.Out);
        ScnBugCheckRemove();
        NtsimShutdown();
    }
    ScnFreeHandles(&run);
    ScnFreeScript(&script);
    return result;
}

static void ScnPrintVerb(FILE *Out, const SCN_VERB *Verb)
{
    char usage[256];

    ScnUsage(Verb, usage, sizeof(usage));
    fprintf(Out, "  %s\n      %s\n", usage, Verb->Summary);
}

VOID NtsimPrintScenarioLanguage(FILE *Out)
{
    fprintf(Out, "Scenario lines (one a line; # starts a comment):\n");
    for (ULONG i = 0; i < ScnVerbCount; i++)
        ScnPrintVerb(Out, &ScnVerbTable[i]);
    for (ULONG i = 0; i < ScnExpectCount; i++)
        ScnPrintVerb(Out, &ScnExpectTable[i]);
    fprintf(Out, "STATUS: a STATUS_ name or 0x hex.  CODE: a number or CTL_CODE(type,function,method,access).\n");
    fprintf(Out, "STATE: %s\n", ScnImageStateWords());
}
