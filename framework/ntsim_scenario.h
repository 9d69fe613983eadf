/*
 * ntsim_scenario.h - the scenario runner of the `ntsim` program.
 *
 * A scenario file (doc/scenario.md) plays the rest of the system around a
 * set of driver images, one action a line: install and start services,
 * open handles and send IOCTLs as an application would, stop services,
 * and check the outcome with `expect` lines over the query API of ntsim.h.
 * The runner is host code: it is linked into the `ntsim` program, not into
 * libntsim, so frames of the host and of the simulated kernel fall in
 * different modules of a trace. A C test program drives the simulation
 * through ntsim.h directly.
 */
#ifndef NTSIM_NTSIM_SCENARIO_H
#define NTSIM_NTSIM_SCENARIO_H

#include <stdio.h>

#include "ntsim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Results of NtsimRunScenario; also the exit codes of the `ntsim` program. */
#define NTSIM_SCENARIO_PASSED 0       /* the scenario ran and every expectation held */
#define NTSIM_SCENARIO_EXPECT_FAILED 1 /* the scenario ran and an expectation failed */
#define NTSIM_SCENARIO_ERROR 2        /* the scenario could not run: file, syntax, image, state */

typedef struct _NTSIM_SCENARIO_OPTIONS {
    /*
     * Directories searched, in order, for a relative IMAGE of an `install`
     * line (colon-separated); the scenario file's own directory is searched
     * last. NULL = only the scenario's directory.
     */
    const char *DriverSearchPath;
    /* Stuck-wait limit for the simulation (NTSIM_CONFIG.StuckWaitMs); 0 = the default. */
    ULONG StuckWaitMs;
    /* Echo the drivers' DbgPrint output to stderr. */
    BOOLEAN EchoDebugOutput;
    /* Where the transcript (one line an action, then the final state) goes; NULL = stdout. */
    FILE *Out;
    /* Where `file:line: message` diagnostics go; NULL = stderr. */
    FILE *Err;
} NTSIM_SCENARIO_OPTIONS, *PNTSIM_SCENARIO_OPTIONS;

/* Fills *Options with the defaults (stdout, stderr, scenario directory only). */
VOID NtsimDefaultScenarioOptions(PNTSIM_SCENARIO_OPTIONS Options);

/*
 * Runs the scenario file Path: parses every line first (any syntax error,
 * unknown status, unknown service or missing image is reported as
 * `file:line: message` and nothing runs), then initializes the simulation
 * with Options, performs each action in order, printing one line per
 * action, prints each installed image's final state and shuts the
 * simulation down. Options may be NULL for the defaults.
 *
 * Returns NTSIM_SCENARIO_PASSED, NTSIM_SCENARIO_EXPECT_FAILED or
 * NTSIM_SCENARIO_ERROR. A scenario that arms `expect bugcheck` and hits
 * that bug check ends the process with NTSIM_SCENARIO_PASSED (a bug check
 * never returns); an unexpected bug check stops the process as
 * KeBugCheckEx does. The simulation must not be initialized by the caller.
 */
int NtsimRunScenario(const char *Path, const NTSIM_SCENARIO_OPTIONS *Options);

/* Prints every verb and expect form with its syntax and a one-line summary (for --help). */
VOID NtsimPrintScenarioLanguage(FILE *Out);

#ifdef __cplusplus
}
#endif

#endif /* NTSIM_NTSIM_SCENARIO_H */
