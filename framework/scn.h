/*
 * scn.h - internals of the scenario runner (framework/scn_*.c).
 *
 * A scenario is read whole and parsed into actions before anything runs
 * (scn_parse.c), then run one action at a time (scn_run.c). Every verb
 * and every `expect` form is one row of a table below: its name, the
 * handler that performs it, and its syntax. The syntax string is both the
 * grammar the generic parser applies and the usage text printed in errors
 * and by `ntsim --help`:
 *
 *   SERVICE        a positional argument; the word names its kind (SCN_KINDS)
 *   +SERVICE       the same, and this line defines the name (install, open)
 *   STATE...       one or more positional arguments of a kind
 *   [expect STATUS] an optional clause: keyword, then one argument
 *
 * A verb's optional `[expect STATUS]` clause is checked by the runner, not
 * by the handler. New verbs (the PnP set: hardware, plug, unplug, disable,
 * enable, eject, notify-handle ...) are added as rows of SCN_VERBS with a
 * handler in their own scn_*.c file; new argument kinds as rows of
 * SCN_KINDS; new expectations as rows of SCN_EXPECTS.
 */
#ifndef NTSIM_SCN_H
#define NTSIM_SCN_H

#include <stdio.h>

#include "ntsim.h"
#include "ntsim_scenario.h"

#define SCN_MAX_VALUES 24 /* arguments of one line, clauses included */

typedef struct _SCN_RUN SCN_RUN;
typedef struct _SCN_ACTION SCN_ACTION;
typedef struct _SCN_PARSER SCN_PARSER;

/* One parsed argument of a line. */
typedef struct _SCN_VALUE {
    char *Placeholder;       /* its word in the syntax, which names its kind: "SERVICE", "STATUS" ... */
    char *Keyword;           /* the clause keyword ("expect", "in"), NULL when positional */
    char *Text;              /* the token as written (quotes removed) */
    ULONG64 Number;          /* numbers, codes, statuses, states */
    UCHAR *Bytes;            /* DATA: the bytes to send */
    ULONG ByteCount;
    char *Path;              /* IMAGE: the resolved file */
} SCN_VALUE;

/* What an action or an expectation did, filled by its handler. */
typedef struct _SCN_OUTCOME {
    BOOLEAN HasStatus; /* actions: the NTSTATUS the host API returned */
    NTSTATUS Status;
    BOOLEAN Held;      /* expectations: TRUE when it held */
    char Detail[512];  /* actions: words after the status; expectations: what was seen */
    char Error[512];   /* set when the action could not be performed: a scenario error */
} SCN_OUTCOME;

typedef VOID SCN_HANDLER(SCN_RUN *Run, const SCN_ACTION *Action, SCN_OUTCOME *Outcome);

typedef enum _SCN_VERB_CLASS { ScnAction, ScnExpectation, ScnBugCheckArm } SCN_VERB_CLASS;

/* A row of SCN_VERBS or SCN_EXPECTS. */
typedef struct _SCN_VERB {
    const char *Name;
    SCN_VERB_CLASS Class;
    SCN_HANDLER *Handler;
    const char *Syntax;
    const char *Summary;
} SCN_VERB;

/* One line of the scenario that does something. */
struct _SCN_ACTION {
    const SCN_VERB *Verb;
    ULONG Line;
    char *Echo; /* the line as printed in the transcript (without its expect clause) */
    ULONG ValueCount;
    SCN_VALUE Values[SCN_MAX_VALUES];
    BOOLEAN BugCheckArmed; /* an `expect bugcheck` line precedes this action */
    ULONG BugCheckCode;
    ULONG BugCheckLine;
};

/* An installed service, in the order of first installation (for the final state). */
typedef struct _SCN_SERVICE {
    char *Name;
    char *Image; /* as written on the install line */
} SCN_SERVICE;

/* A parsed scenario. */
typedef struct _SCN_SCRIPT {
    char *FileName;
    SCN_ACTION *Actions;
    ULONG ActionCount;
    SCN_SERVICE *Services;
    ULONG ServiceCount;
} SCN_SCRIPT;

/* A user-mode handle named by an `open` line. */
typedef struct _SCN_HANDLE {
    char *Name;
    HANDLE Handle;
    BOOLEAN Open;
    BOOLEAN Closed; /* not open because a close line closed it (else: its open failed) */
} SCN_HANDLE;

struct _SCN_RUN {
    const SCN_SCRIPT *Script;
    FILE *Out;
    FILE *Err;
    SCN_HANDLE *Handles;
    ULONG HandleCount;
    ULONG Held;   /* expectations (expect lines and expect clauses) that held */
    ULONG Failed; /* and that failed */
};

/* The PnP rows (handlers in scn_pnp.c; doc/scenario.md, PnP section). */
#define SCN_PNP_VERBS(X)                                                                               \
    X("hardware", ScnAction, ScnDoHardware, "HWID SERVICE [upper FILTERS] [lower FILTERS] [expect STATUS]", \
      "hardware HWID is served by function driver SERVICE and the comma-separated filter services")    \
    X("plug", ScnAction, ScnDoPlug, "HWID INSTANCE [expect STATUS]",                                   \
      "plugs a device of HWID into the root bus as INSTANCE: drivers loaded, AddDevice, start")        \
    X("unplug", ScnAction, ScnDoUnplug, "INSTANCE [expect STATUS]",                                    \
      "surprise-removes root device INSTANCE (REMOVE once its handles are closed)")                     \
    X("disable", ScnAction, ScnDoDisable, "INSTANCE [expect STATUS]",                                  \
      "disables INSTANCE: query-remove then remove; a veto prints its type and name")                  \
    X("enable", ScnAction, ScnDoEnable, "INSTANCE [expect STATUS]", "enables a disabled INSTANCE again") \
    X("eject", ScnAction, ScnDoEject, "INSTANCE [expect STATUS]",                                      \
      "ejects INSTANCE (CM_Request_Device_Eject): query-remove, remove, IRP_MN_EJECT")                  \
    X("power", ScnAction, ScnDoPower, "POWERSTATE [expect STATUS]",                                   \
      "moves the machine to sleep (S3), hibernate (S4) or wake (S0): system power IRPs to every stack") \
    X("notify-handle", ScnAction, ScnDoNotifyHandle, "NAME BEHAVIOUR [expect STATUS]",                               \
      "registers handle NAME for device notifications; on query-remove it will close|keep|veto")

#define SCN_PNP_EXPECTS(X)                                                                             \
    X("devnode", ScnExpectation, ScnExpectDevnode, "INSTANCE DNSTATE",                                 \
      "devnode INSTANCE is in state DNSTATE (DeviceNodeStarted ...; DeviceNodeDeleted also when gone)") \
    X("veto", ScnExpectation, ScnExpectVeto, "INSTANCE VETOTYPE [name TEXT]",                          \
      "the last refused removal of INSTANCE was vetoed with VETOTYPE (and veto name TEXT)")

#define SCN_PNP_KINDS(X)                                                                               \
    X("HWID", ScnParseWord, NULL, NULL)                                                               \
    X("INSTANCE", ScnParseWord, NULL, NULL)                                                           \
    X("FILTERS", ScnParseWord, NULL, NULL)                                                            \
    X("TEXT", ScnParseWord, NULL, NULL)                                                               \
    X("BEHAVIOUR", ScnParseNotifyBehaviour, NULL, NULL)                                               \
    X("DNSTATE", ScnParseDevnodeState, NULL, NULL)                                                    \
    X("POWERSTATE", ScnParsePowerState, NULL, NULL)                                                   \
    X("VETOTYPE", ScnParseVetoType, NULL, NULL)

/* ---- the tables ------------------------------------------------------ */

/* X(name, class, handler, syntax, summary) - the verbs of a scenario line. */
#define SCN_VERBS(X)                                                                                   \
    X("install", ScnAction, ScnDoInstall, "+SERVICE IMAGE [expect STATUS]",                          \
      "installs service SERVICE for driver image IMAGE")                                             \
    X("start", ScnAction, ScnDoStart, "SERVICE [expect STATUS]",                                     \
      "loads the service's driver (ZwLoadDriver: map the image, DriverEntry)")                        \
    X("stop", ScnAction, ScnDoStop, "SERVICE [expect STATUS]",                                       \
      "stops the service (ZwUnloadDriver: DriverUnload now or deferred)")                             \
    X("open", ScnAction, ScnDoOpen, "+NAME PATH [expect STATUS]",                                    \
      "opens PATH like CreateFile and names the user-mode handle NAME")                               \
    X("close", ScnAction, ScnDoClose, "NAME [expect STATUS]", "closes the user-mode handle NAME")    \
    X("ioctl", ScnAction, ScnDoIoctl, "NAME CODE [in DATA] [out N] [expect STATUS]",                 \
      "DeviceIoControl on handle NAME; DATA is 0xHEXBYTES or \"text\", N the output size")            \
    X("sleep", ScnAction, ScnDoSleep, "MS", "waits MS milliseconds (lets worker threads run)")          \
    X("wait-idle", ScnAction, ScnDoWaitIdle, "",                                                      \
      "waits until worker threads and the PnP manager have nothing queued or running") \
    SCN_PNP_VERBS(X)

/* X(name, class, handler, syntax, summary) - the forms of an `expect` line. */
#define SCN_EXPECTS(X)                                                                                 \
    X("image", ScnExpectation, ScnExpectImage, "SERVICE STATE...",                                    \
      "the service's image is in every STATE (see the state words)")                                  \
    X("refs", ScnExpectation, ScnExpectRefs, "PATH [pointer N] [handle N] [refcount N]",              \
      "the object named PATH exists, with these pointer/handle counts and device ReferenceCount")     \
    X("absent", ScnExpectation, ScnExpectAbsent, "PATH", "no object is named PATH")                  \
    X("devices", ScnExpectation, ScnExpectDevices, "SERVICE N",                                       \
      "the service's driver object has N devices on its list")                                        \
    X("driver-refs", ScnExpectation, ScnExpectDriverRefs, "SERVICE N",                                \
      "the service's driver object pointer count is N (0 once freed)")                                \
    X("pool", ScnExpectation, ScnExpectPool, "SERVICE N",                                             \
      "N pool blocks allocated by the service's image are not freed")                                 \
    X("bugcheck", ScnBugCheckArm, ScnExpectBugCheck, "BUGCHECK",                                      \
      "the next action (the scenario's last) bug-checks with code BUGCHECK") \
    SCN_PNP_EXPECTS(X)

#define SCN_DECLARE_HANDLER_(name, class, handler, syntax, summary) SCN_HANDLER handler;
SCN_VERBS(SCN_DECLARE_HANDLER_)
SCN_EXPECTS(SCN_DECLARE_HANDLER_)
#undef SCN_DECLARE_HANDLER_

extern const SCN_VERB ScnVerbTable[];
extern const ULONG ScnVerbCount;
extern const SCN_VERB ScnExpectTable[];
extern const ULONG ScnExpectCount;

/* ---- parser (scn_parse.c) -------------------------------------------- */

/*
 * A kind parser turns Token into Value for a placeholder of its kind;
 * Defines is TRUE for a `+WORD` placeholder. On error it returns FALSE
 * after ScnParseError.
 */
typedef BOOLEAN SCN_KIND_PARSER(SCN_PARSER *Parser, const char *Token, BOOLEAN Defines, SCN_VALUE *Value);

/*
 * X(word, parser, noun, definer) - argument kinds, named by their
 * placeholder word. A kind with a noun is a name space: a `+WORD`
 * placeholder defines a name in it, a plain WORD must name one an earlier
 * line defined (the definer verb, for the message).
 */
#define SCN_KINDS(X)                                              \
    X("SERVICE", ScnParseSymbol, "service", "install")           \
    X("NAME", ScnParseSymbol, "handle", "open")                  \
    X("IMAGE", ScnParseImage, NULL, NULL)                         \
    X("PATH", ScnParseWord, NULL, NULL)                           \
    X("STATUS", ScnParseStatus, NULL, NULL)                       \
    X("N", ScnParseNumber, NULL, NULL)                            \
    X("MS", ScnParseNumber, NULL, NULL)                           \
    X("CODE", ScnParseIoctlCode, NULL, NULL)                      \
    X("DATA", ScnParseData, NULL, NULL)                           \
    X("STATE", ScnParseImageState, NULL, NULL)                    \
    X("BUGCHECK", ScnParseBugCheck, NULL, NULL) \
    SCN_PNP_KINDS(X)

#define SCN_DECLARE_KIND_(word, parser, noun, definer) SCN_KIND_PARSER parser;
SCN_KINDS(SCN_DECLARE_KIND_)
#undef SCN_DECLARE_KIND_

/* Records a parse error for the current line (printf-style); returns FALSE. */
BOOLEAN ScnParseError(SCN_PARSER *Parser, const char *Format, ...) __attribute__((format(printf, 2, 3)));

/*
 * Reads and parses FileName into *Script. Errors are printed to Err as
 * `file:line: message`, one a line; returns FALSE if there was any
 * (Script is then released). SearchPath is the -L path (may be NULL).
 */
BOOLEAN ScnParseScript(const char *FileName, const char *SearchPath, FILE *Err, SCN_SCRIPT *Script);
/* Frees everything ScnParseScript allocated. */
VOID ScnFreeScript(SCN_SCRIPT *Script);

/* The usage text of Verb: `[expect ]name syntax`, without the `+` marks. */
VOID ScnUsage(const SCN_VERB *Verb, char *Out, size_t OutSize);

/* The value of positional placeholder Placeholder (Index-th of a repeated one), or NULL. */
const SCN_VALUE *ScnArgument(const SCN_ACTION *Action, const char *Placeholder, ULONG Index);
/* The number of positional values of Placeholder. */
ULONG ScnArgumentCount(const SCN_ACTION *Action, const char *Placeholder);
/* The value of optional clause Keyword, or NULL when the line has none. */
const SCN_VALUE *ScnClause(const SCN_ACTION *Action, const char *Keyword);

/* ---- image states (scn_expect.c) -------------------------------------- */

/* The index of state word Word in the image-state table, or -1. */
int ScnImageStateIndex(const char *Word);
/* The state words, space-separated (for error messages). */
const char *ScnImageStateWords(void);
/* One line describing an image: mapped or not, state, DriverUnload, driver refs, devices, pool. */
VOID ScnDescribeImage(const NTSIM_IMAGE_INFO *Info, char *Out, size_t OutSize);

/* ---- names of numbers -------------------------------------------------- */

/* Parses a status name (STATUS_SUCCESS) or 0xHEX; FALSE if it is neither. */
BOOLEAN ScnParseStatusText(const char *Text, NTSTATUS *Status);
/* "bug check 0x00000018 REFERENCE_BY_POINTER" (the name when known). */
VOID ScnFormatBugCheck(ULONG Code, char *Out, size_t OutSize);
/* Parses a bug-check name or number; FALSE if it is neither. */
BOOLEAN ScnParseBugCheckText(const char *Text, ULONG *Code);

/* ---- run-time helpers (scn_actions.c) ---------------------------------- */

/* The open handle named Name, or NULL (with Outcome->Error set). */
SCN_HANDLE *ScnFindOpenHandle(SCN_RUN *Run, const char *Name, SCN_OUTCOME *Outcome);
/* Frees the handle table; handles still open stay open (a leaked handle is what a scenario shows). */
VOID ScnFreeHandles(SCN_RUN *Run);

/* ---- bug checks (scn_bugcheck.c) --------------------------------------- */

/* Installs the hook for this run. */
VOID ScnBugCheckInstall(SCN_RUN *Run);
/* Tells the hook which action runs now (NULL between actions). */
VOID ScnBugCheckSetCurrent(const SCN_ACTION *Action);
/* Removes the hook. */
VOID ScnBugCheckRemove(void);

#endif /* NTSIM_SCN_H */
