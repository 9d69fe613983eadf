/*
 * scn_actions.c - the action verbs of a scenario (the SCN_VERBS table):
 * service control (install, start, stop), the user-mode side (open,
 * close, ioctl on named handles) and sleep. Each handler makes one call
 * of the host API and reports its NTSTATUS; checking an `expect STATUS`
 * clause is the runner's job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scn.h"

#define SCN_SHOWN_OUTPUT_BYTES 32 /* ioctl output bytes printed in the transcript */

static VOID ScnSetStatus(SCN_OUTCOME *Outcome, NTSTATUS Status)
{
    Outcome->HasStatus = TRUE;
    Outcome->Status = Status;
}

VOID ScnDoInstall(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetStatus(Outcome, NtsimInstallService(ScnArgument(Action, "SERVICE", 0)->Text,
                                              ScnArgument(Action, "IMAGE", 0)->Path));
}

VOID ScnDoStart(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetStatus(Outcome, NtsimStartService(ScnArgument(Action, "SERVICE", 0)->Text));
}

VOID ScnDoStop(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnSetStatus(Outcome, NtsimStopService(ScnArgument(Action, "SERVICE", 0)->Text));
}

/* ---- named user-mode handles ----------------------------------------------- */

static SCN_HANDLE *ScnFindHandle(SCN_RUN *Run, const char *Name)
{
    for (ULONG i = 0; i < Run->HandleCount; i++)
        if (strcmp(Run->Handles[i].Name, Name) == 0)
            return &Run->Handles[i];
    return NULL;
}

SCN_HANDLE *ScnFindOpenHandle(SCN_RUN *Run, const char *Name, SCN_OUTCOME *Outcome)
{
    SCN_HANDLE *slot = ScnFindHandle(Run, Name);

    if (slot && slot->Open)
        return slot;
    snprintf(Outcome->Error, sizeof(Outcome->Error), "handle '%s' is not open (%s)", Name,
             slot && slot->Closed ? "it was closed" : "its open failed");
    return NULL;
}

/* The slot for a new handle Name, or NULL (with an error) when one by that name is still open. */
static SCN_HANDLE *ScnNewHandle(SCN_RUN *Run, const char *Name, SCN_OUTCOME *Outcome)
{
    SCN_HANDLE *slot = ScnFindHandle(Run, Name), *grown;

    if (slot && slot->Open) {
        snprintf(Outcome->Error, sizeof(Outcome->Error), "handle '%s' is already open; close it or use another name",
                 Name);
        return NULL;
    }
    if (slot)
        return slot;
    grown = realloc(Run->Handles, (Run->HandleCount + 1) * sizeof(SCN_HANDLE));
    if (!grown || !(grown[Run->HandleCount].Name = strdup(Name))) {
        Run->Handles = grown ? grown : Run->Handles;
        snprintf(Outcome->Error, sizeof(Outcome->Error), "out of memory");
        return NULL;
    }
    Run->Handles = grown;
    slot = &Run->Handles[Run->HandleCount++];
    slot->Open = FALSE;
    slot->Closed = FALSE;
    return slot;
}

VOID ScnFreeHandles(SCN_RUN *Run)
{
    for (ULONG i = 0; i < Run->HandleCount; i++)
        free(Run->Handles[i].Name);
    free(Run->Handles);
    Run->Handles = NULL;
    Run->HandleCount = 0;
}

VOID ScnDoOpen(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    SCN_HANDLE *slot = ScnNewHandle(Run, ScnArgument(Action, "NAME", 0)->Text, Outcome);
    HANDLE handle = NULL;
    NTSTATUS status;

    if (!slot)
        return;
    status = NtsimOpenFile(ScnArgument(Action, "PATH", 0)->Text, GENERIC_READ | GENERIC_WRITE, &handle);
    ScnSetStatus(Outcome, status);
    slot->Open = NT_SUCCESS(status);
    slot->Closed = FALSE;
    slot->Handle = slot->Open ? handle : NULL;
}

VOID ScnDoClose(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    SCN_HANDLE *slot = ScnFindOpenHandle(Run, ScnArgument(Action, "NAME", 0)->Text, Outcome);

    if (!slot)
        return;
    ScnSetStatus(Outcome, NtsimCloseHandle(slot->Handle));
    slot->Open = FALSE;
    slot->Closed = TRUE;
    slot->Handle = NULL;
}

/* Describes an ioctl's output, "N bytes returned[: 0xHEX]", when it had an output buffer or returned bytes. */
static void ScnDescribeOutput(const UCHAR *Output, ULONG OutputSize, ULONG Returned, SCN_OUTCOME *Outcome)
{
    ULONG shown = Returned < OutputSize ? Returned : OutputSize;
    size_t used;

    if (OutputSize == 0 && Returned == 0)
        return;
    used = (size_t)snprintf(Outcome->Detail, sizeof(Outcome->Detail), "%lu byte%s returned", (unsigned long)Returned,
                            Returned == 1 ? "" : "s");
    if (shown == 0)
        return;
    used += (size_t)snprintf(Outcome->Detail + used, sizeof(Outcome->Detail) - used, ": 0x");
    for (ULONG i = 0; i < shown && i < SCN_SHOWN_OUTPUT_BYTES; i++)
        used += (size_t)snprintf(Outcome->Detail + used, sizeof(Outcome->Detail) - used, "%02x", Output[i]);
    if (shown > SCN_SHOWN_OUTPUT_BYTES)
        snprintf(Outcome->Detail + used, sizeof(Outcome->Detail) - used, "...");
}

VOID ScnDoIoctl(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    SCN_HANDLE *slot = ScnFindOpenHandle(Run, ScnArgument(Action, "NAME", 0)->Text, Outcome);
    const SCN_VALUE *in = ScnClause(Action, "in"), *out = ScnClause(Action, "out");
    ULONG outputSize = out ? (ULONG)out->Number : 0, returned = 0;
    UCHAR *output;

    if (!slot)
        return;
    output = calloc(1, outputSize ? outputSize : 1);
    if (!output) {
        snprintf(Outcome->Error, sizeof(Outcome->Error), "out of memory for a %lu-byte output buffer",
                 (unsigned long)outputSize);
        return;
    }
    ScnSetStatus(Outcome, NtsimDeviceIoControl(slot->Handle, (ULONG)ScnArgument(Action, "CODE", 0)->Number,
                                               in ? in->Bytes : NULL, in ? in->ByteCount : 0,
                                               outputSize ? output : NULL, outputSize, &returned));
    ScnDescribeOutput(output, outputSize, returned, Outcome);
    free(output);
}

VOID ScnDoSleep(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    ULONG64 ms = ScnArgument(Action, "MS", 0)->Number;
    struct timespec delay = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };

    (void)Run;
    while (nanosleep(&delay, &delay) != 0 && errno == EINTR)
        ;
    snprintf(Outcome->Detail, sizeof(Outcome->Detail), "done");
}

VOID ScnDoWaitIdle(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    (void)Action;
    NtsimWaitIdle();
    snprintf(Outcome->Detail, sizeof(Outcome->Detail), "idle");
}
