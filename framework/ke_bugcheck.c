/*
 * ke_bugcheck.c - how the simulated kernel stops and speaks: KeBugCheckEx
 * (one "*** STOP" line naming the code and the object concerned, then
 * abort), assertion failures, DbgPrint, the IRQL check behind PAGED_CODE,
 * and the stuck-wait report every infinite wait falls back on.
 */
#include <stdarg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ntsim_internal.h"

const char *NtsimBugCheckName(ULONG Code)
{
#define KIP_BUGCHECK_CASE(name, code) \
    case code:                        \
        return #name;
    switch (Code) {
        NTSIM_BUGCHECK_CODES(KIP_BUGCHECK_CASE)
    }
#undef KIP_BUGCHECK_CASE
    return NULL;
}

long KipCurrentThreadId(void)
{
    return (long)syscall(SYS_gettid);
}

/* The first parameter that is a live object of the simulation, described; FALSE if none. */
static BOOLEAN KipDescribeObjectParameter(const ULONG_PTR *Parameters, char *Buffer, size_t Size)
{
    for (int i = 0; i < 4; i++) {
        if (Parameters[i] && ObpGetObjectType((PVOID)Parameters[i])) {
            ObpDescribeObject((PVOID)Parameters[i], Buffer, Size);
            return TRUE;
        }
    }
    return FALSE;
}

static NTSIM_BUGCHECK_CALLBACK *KipBugCheckCallback;
static PVOID KipBugCheckContext;

VOID NtsimSetBugCheckCallback(NTSIM_BUGCHECK_CALLBACK *Callback, PVOID Context)
{
    __atomic_store_n(&KipBugCheckContext, Context, __ATOMIC_RELAXED);
    __atomic_store_n(&KipBugCheckCallback, Callback, __ATOMIC_RELEASE);
}

static void KipCallBugCheckCallback(ULONG Code, const ULONG_PTR Parameters[4])
{
    NTSIM_BUGCHECK_CALLBACK *callback = __atomic_load_n(&KipBugCheckCallback, __ATOMIC_ACQUIRE);
    if (callback)
        callback(Code, Parameters, __atomic_load_n(&KipBugCheckContext, __ATOMIC_RELAXED));
}

VOID KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1, ULONG_PTR BugCheckParameter2,
                  ULONG_PTR BugCheckParameter3, ULONG_PTR BugCheckParameter4)
{
    ULONG_PTR p[4] = { BugCheckParameter1, BugCheckParameter2, BugCheckParameter3, BugCheckParameter4 };
    const char *name = NtsimBugCheckName(BugCheckCode);
    char object[300];
    char line[600];
    if (KipDescribeObjectParameter(p, object, sizeof(object)))
        snprintf(line, sizeof(line), "*** STOP 0x%08X %s (object %s, 0x%lx, 0x%lx, 0x%lx, 0x%lx)\n", BugCheckCode,
                 name ? name : "UNKNOWN_BUGCHECK", object, (unsigned long)p[0], (unsigned long)p[1],
                 (unsigned long)p[2], (unsigned long)p[3]);
    else
        snprintf(line, sizeof(line), "*** STOP 0x%08X %s (0x%lx, 0x%lx, 0x%lx, 0x%lx)\n", BugCheckCode,
                 name ? name : "UNKNOWN_BUGCHECK", (unsigned long)p[0], (unsigned long)p[1], (unsigned long)p[2],
                 (unsigned long)p[3]);
    fputs(line, stderr);
    fflush(stderr);
    KipCallBugCheckCallback(BugCheckCode, p);
    abort();
}

VOID KeBugCheck(ULONG BugCheckCode)
{
    KeBugCheckEx(BugCheckCode, 0, 0, 0, 0);
}

void RtlAssert(PVOID FailedAssertion, PVOID FileName, ULONG LineNumber, PCHAR Message)
{
    fprintf(stderr, "*** Assertion failed: %s%s%s (%s:%u)\n", Message ? Message : "", Message ? ": " : "",
            (const char *)FailedAssertion, (const char *)FileName, LineNumber);
    KeBugCheckEx(ASSERTION_FAILURE, (ULONG_PTR)FailedAssertion, (ULONG_PTR)FileName, LineNumber, 0);
}

void DbgBreakPoint(void)
{
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
}

static BOOLEAN KipEchoDebugOutput(void)
{
    return NtsimpConfig.EchoDebugOutput || getenv("NTSIM_DEBUG") != NULL;
}

static ULONG KipVDbgPrint(PCSTR Format, va_list Args)
{
    if (KipEchoDebugOutput()) {
        vfprintf(stderr, Format, Args);
        fflush(stderr);
    }
    return STATUS_SUCCESS;
}

ULONG DbgPrint(PCSTR Format, ...)
{
    va_list args;
    va_start(args, Format);
    ULONG r = KipVDbgPrint(Format, args);
    va_end(args);
    return r;
}

ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    (void)ComponentId;
    (void)Level;
    va_list args;
    va_start(args, Format);
    ULONG r = KipVDbgPrint(Format, args);
    va_end(args);
    return r;
}

VOID NtsimPagedCodeCheck(const char *Function)
{
    KIRQL irql = KeGetCurrentIrql();
    if (irql > APC_LEVEL) {
        fprintf(stderr, "*** pageable code %s called at IRQL %u\n", Function ? Function : "?", irql);
        KeBugCheckEx(IRQL_NOT_LESS_OR_EQUAL, 0, irql, 0, (ULONG_PTR)Function);
    }
}

VOID KiReportStuckWait(PVOID Object, const char *What, ULONG WaitedMs)
{
    char description[300];
    ObpDescribeObject(Object, description, sizeof(description));
    if (!ObpGetObjectType(Object))
        snprintf(description, sizeof(description), "%p", Object);
    fprintf(stderr, "*** STUCK WAIT: thread %ld has waited %u ms on %s %s\n", KipCurrentThreadId(), WaitedMs,
            What ? What : "object", description);
    fflush(stderr);
}
