/*
 * scn_expect.c - the `expect` forms of a scenario (the SCN_EXPECTS table):
 * each asks the query API of ntsim.h one question and says whether the
 * answer is the one the line wants, and what was seen. They change
 * nothing in the simulation.
 */
#include <stdio.h>
#include <string.h>

#include "scn.h"

/* X(word, identifier, predicate over `Info`) - the words of `expect image SERVICE STATE...`. */
#define SCN_IMAGE_STATES(X)                                                            \
    X("mapped", Mapped, Info->Mapped)                                                  \
    X("unmapped", Unmapped, !Info->Mapped)                                             \
    X("unload-called", UnloadCalled, Info->UnloadCalled)                               \
    X("unload-not-called", UnloadNotCalled, !Info->UnloadCalled)                       \
    X("loaded", Loaded, Info->State == NtsimImageLoaded)                               \
    X("unload-pending", UnloadPending, Info->State == NtsimImageUnloadPending)         \
    X("resident-after-unload", Resident, Info->State == NtsimImageResidentAfterUnload) \
    X("not-loaded", NotLoaded, Info->State == NtsimImageNotLoaded)                     \
    X("pnp", Pnp, Info->IsPnp)                                                         \
    X("legacy", Legacy, !Info->IsPnp)

typedef BOOLEAN SCN_IMAGE_PREDICATE(const NTSIM_IMAGE_INFO *Info);

#define SCN_STATE_FUNCTION_(word, id, predicate) \
    static BOOLEAN ScnImageIs##id(const NTSIM_IMAGE_INFO *Info) { return (BOOLEAN)(predicate); }
SCN_IMAGE_STATES(SCN_STATE_FUNCTION_)
#undef SCN_STATE_FUNCTION_

#define SCN_STATE_ROW_(word, id, predicate) { word, ScnImageIs##id },
static const struct {
    const char *Word;
    SCN_IMAGE_PREDICATE *Holds;
} ScnImageStates[] = { SCN_IMAGE_STATES(SCN_STATE_ROW_) };
#undef SCN_STATE_ROW_

int ScnImageStateIndex(const char *Word)
{
    for (size_t i = 0; i < RTL_NUMBER_OF(ScnImageStates); i++)
        if (strcmp(ScnImageStates[i].Word, Word) == 0)
            return (int)i;
    return -1;
}

const char *ScnImageStateWords(void)
{
    static char words[256];

    if (!words[0])
        for (size_t i = 0; i < RTL_NUMBER_OF(ScnImageStates); i++) {
            size_t used = strlen(words);
            snprintf(words + used, sizeof(words) - used, "%s%s", i ? " " : "", ScnImageStates[i].Word);
        }
    return words;
}

/* Queries the image of the action's SERVICE; FALSE (with a scenario error) if the service is unknown. */
static BOOLEAN ScnQueryServiceImage(const SCN_ACTION *Action, NTSIM_IMAGE_INFO *Info, SCN_OUTCOME *Outcome)
{
    const char *service = ScnArgument(Action, "SERVICE", 0)->Text;
    NTSTATUS status;

    memset(Info, 0, sizeof(*Info));
    status = NtsimQueryImage(service, Info);
    if (NT_SUCCESS(status))
        return TRUE;
    snprintf(Outcome->Error, sizeof(Outcome->Error), "cannot query service '%s': %s", service,
             NtsimStatusName(status));
    return FALSE;
}

static const char *ScnImageStateName(NTSIM_IMAGE_STATE State)
{
    switch (State) {
    case NtsimImageNotLoaded: return "not loaded";
    case NtsimImageLoaded: return "loaded";
    case NtsimImageUnloadPending: return "unload pending";
    case NtsimImageResidentAfterUnload: return "resident after unload";
    }
    return "?";
}

VOID ScnDescribeImage(const NTSIM_IMAGE_INFO *Info, char *Out, size_t OutSize)
{
    snprintf(Out, OutSize, "%s, %s, DriverUnload %s, driver object pointer count %ld, %lu device%s, %lu pool block%s",
             Info->Mapped ? "mapped" : "unmapped", ScnImageStateName(Info->State),
             Info->UnloadCalled ? "called" : "not called", (long)Info->DriverPointerCount,
             (unsigned long)Info->DeviceCount, Info->DeviceCount == 1 ? "" : "s",
             (unsigned long)Info->PoolAllocations, Info->PoolAllocations == 1 ? "" : "s");
}

VOID ScnExpectImage(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    NTSIM_IMAGE_INFO info;
    ULONG states = ScnArgumentCount(Action, "STATE");

    (void)Run;
    if (!ScnQueryServiceImage(Action, &info, Outcome))
        return;
    Outcome->Held = TRUE;
    for (ULONG i = 0; i < states; i++)
        if (!ScnImageStates[ScnArgument(Action, "STATE", i)->Number].Holds(&info))
            Outcome->Held = FALSE;
    ScnDescribeImage(&info, Outcome->Detail, sizeof(Outcome->Detail));
}

/* Checks one count of `expect ... [Keyword N]`, appending the seen value to the detail. */
static void ScnCheckCount(const SCN_ACTION *Action, const char *Keyword, LONG64 Seen, SCN_OUTCOME *Outcome)
{
    const SCN_VALUE *want = ScnClause(Action, Keyword);
    size_t used = strlen(Outcome->Detail);

    snprintf(Outcome->Detail + used, sizeof(Outcome->Detail) - used, "%s%s %lld", used ? ", " : "", Keyword,
             (long long)Seen);
    if (want && (LONG64)want->Number != Seen)
        Outcome->Held = FALSE;
}

VOID ScnExpectRefs(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    const char *path = ScnArgument(Action, "PATH", 0)->Text;
    PVOID object = NtsimLookupObject(path);
    NTSIM_OBJECT_INFO info;

    (void)Run;
    if (!object || !NT_SUCCESS(NtsimQueryObject(object, &info))) {
        snprintf(Outcome->Detail, sizeof(Outcome->Detail), "no object is named %s", path);
        return;
    }
    Outcome->Held = TRUE;
    ScnCheckCount(Action, "pointer", info.PointerCount, Outcome);
    ScnCheckCount(Action, "handle", info.HandleCount, Outcome);
    if (strcmp(info.TypeName, "Device") == 0 || ScnClause(Action, "refcount"))
        ScnCheckCount(Action, "refcount", info.ReferenceCount, Outcome);
}

VOID ScnExpectAbsent(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    const char *path = ScnArgument(Action, "PATH", 0)->Text;
    PVOID object = NtsimLookupObject(path);
    NTSIM_OBJECT_INFO info;

    (void)Run;
    Outcome->Held = object == NULL;
    if (object && NT_SUCCESS(NtsimQueryObject(object, &info)))
        snprintf(Outcome->Detail, sizeof(Outcome->Detail), "%s object %s exists, pointer %ld, handle %ld",
                 info.TypeName, path, (long)info.PointerCount, (long)info.HandleCount);
}

/* `expect WHAT SERVICE N` over one number of NTSIM_IMAGE_INFO. */
static void ScnExpectImageNumber(const SCN_ACTION *Action, const char *What, LONG64 (*Get)(const NTSIM_IMAGE_INFO *),
                                 SCN_OUTCOME *Outcome)
{
    NTSIM_IMAGE_INFO info;
    LONG64 seen;

    if (!ScnQueryServiceImage(Action, &info, Outcome))
        return;
    seen = Get(&info);
    Outcome->Held = seen == (LONG64)ScnArgument(Action, "N", 0)->Number;
    snprintf(Outcome->Detail, sizeof(Outcome->Detail), "%s %lld", What, (long long)seen);
}

static LONG64 ScnDeviceCountOf(const NTSIM_IMAGE_INFO *Info) { return Info->DeviceCount; }
static LONG64 ScnDriverRefsOf(const NTSIM_IMAGE_INFO *Info) { return Info->DriverPointerCount; }
static LONG64 ScnPoolBlocksOf(const NTSIM_IMAGE_INFO *Info) { return Info->PoolAllocations; }

VOID ScnExpectDevices(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnExpectImageNumber(Action, "devices", ScnDeviceCountOf, Outcome);
}

VOID ScnExpectDriverRefs(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnExpectImageNumber(Action, "driver object pointer count", ScnDriverRefsOf, Outcome);
}

VOID ScnExpectPool(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome)
{
    (void)Run;
    ScnExpectImageNumber(Action, "pool blocks", ScnPoolBlocksOf, Outcome);
}
