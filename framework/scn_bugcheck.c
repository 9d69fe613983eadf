/*
 * scn_bugcheck.c - `expect bugcheck` and bug checks during a scenario.
 *
 * A bug check never returns: KeBugCheckEx reports it and stops the
 * process. The runner hooks it (NtsimSetBugCheckCallback) to name the
 * scenario line that was running. When that action was armed by
 * `expect bugcheck CODE`, the hook prints the outcome and ends the process
 * itself: exit 0 when the code is the expected one, 1 otherwise. Any other
 * bug check is reported as `file:line: unexpected bug check ...` and the
 * simulation then stops as usual.
 */
#include <stdio.h>
#include <unistd.h>

#include "scn.h"

static SCN_RUN *ScnBugCheckRun;
static const SCN_ACTION *ScnBugCheckAction;

/* The armed action bug-checked: print its outcome and end the process. */
static DECLSPEC_NORETURN void ScnEndInBugCheck(SCN_RUN *Run, const SCN_ACTION *Action, ULONG Code)
{
    BOOLEAN held = Code == Action->BugCheckCode;
    char seen[128], wanted[128];

    ScnFormatBugCheck(Code, seen, sizeof(seen));
    ScnFormatBugCheck(Action->BugCheckCode, wanted, sizeof(wanted));
    if (held) {
        Run->Held++;
        fprintf(Run->Out, "%s -> %s (expected)\n", Action->Echo, seen);
        fprintf(Run->Out, "-- %lu expectation%s held, %lu failed; the scenario ended in the expected bug check\n",
                (unsigned long)Run->Held, Run->Held == 1 ? "" : "s", (unsigned long)Run->Failed);
    } else {
        fprintf(Run->Out, "%s -> %s (FAILED: expected %s)\n", Action->Echo, seen, wanted);
        fflush(Run->Out);
        fprintf(Run->Err, "%s:%lu: expectation failed: %s instead of %s\n", Run->Script->FileName,
                (unsigned long)Action->BugCheckLine, seen, wanted);
    }
    fflush(Run->Out);
    fflush(Run->Err);
    _exit(held && Run->Failed == 0 ? NTSIM_SCENARIO_PASSED : NTSIM_SCENARIO_EXPECT_FAILED);
}

static VOID ScnOnBugCheck(ULONG Code, const ULONG_PTR Parameters[4], PVOID Context)
{
    SCN_RUN *run = Context;
    const SCN_ACTION *action = __atomic_load_n(&ScnBugCheckAction, __ATOMIC_ACQUIRE);
    char seen[128];

    (void)Parameters;
    if (action && action->BugCheckArmed)
        ScnEndInBugCheck(run, action, Code);
    ScnFormatBugCheck(Code, seen, sizeof(seen));
    fflush(run->Out);
    if (action)
        fprintf(run->Err, "%s:%lu: unexpected %s during '%s'\n", run->Script->FileName, (unsigned long)action->Line,
                seen, action->Echo);
    else
        fprintf(run->Err, "%s: unexpected %s\n", run->Script->FileName, seen);
    fflush(run->Err);
}

VOID ScnBugCheckInstall(SCN_RUN *Run)
{
    ScnBugCheckRun = Run;
    NtsimSetBugCheckCallback(ScnOnBugCheck, Run);
}

VOID ScnBugCheckSetCurrent(const SCN_ACTION *Action)
{
    __atomic_store_n(&ScnBugCheckAction, Action, __ATOMIC_RELEASE);
}

VOID ScnBugCheckRemove(void)
{
    if (ScnBugCheckRun)
        NtsimSetBugCheckCallback(NULL, NULL);
    ScnBugCheckRun = NULL;
    ScnBugCheckSetCurrent(NULL);
}

/* `expect bugcheck` arms the next action at parse time; it never runs as a line of its own. */
VOID ScnExpectBugCheck(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run, (void)Action;
    snprintf(Outcome->Error, sizeof(Outcome->Error), "internal error: expect bugcheck run as an action");
}
