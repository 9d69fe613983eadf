/*
 * cli.h - the analyzer subcommands behind `obtrace report|graph|history|check`,
 * and the exit codes they return (a contract, doc/obtrace.md).
 */
#ifndef OBTRACE_CLI_H
#define OBTRACE_CLI_H

#include "obtrace/trace.h"

#define EXIT_CLEAN 0     /* nothing to report */
#define EXIT_FINDINGS 1  /* at least one finding */
#define EXIT_UNUSABLE 2  /* trace unusable or incomplete (never 0 for a verdict on missing data) */
#define EXIT_USAGE 64    /* bad command line */

/* Each takes the arguments after the command name (argv[0] = the command) and returns an exit code. */
int cli_report(int argc, char **argv);
int cli_history(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_graph(int argc, char **argv);

/* The usage lines of every command (main.c prints them too). */
extern const char cli_usage_text[];

#endif /* OBTRACE_CLI_H */
