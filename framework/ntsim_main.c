/*
 * ntsim_main.c - the `ntsim` program: runs one scenario file against the
 * simulated kernel (NtsimRunScenario) and exits with its result.
 *
 *   ntsim [-L DIR]... [--stuck-ms N] [-v] SCENARIO.ntsim
 *
 * Exit status: 0 the scenario ran and every expectation held; 1 an
 * expectation failed; 2 the scenario could not run (file, syntax, image,
 * state); 3 a stuck wait ended the run; 64 bad command line. An
 * unexpected bug check stops the process like a crashed kernel (SIGABRT).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ntsim_scenario.h"

#define NTSIM_EXIT_USAGE 64

static void PrintUsage(FILE *Out)
{
    fprintf(Out,
            "usage: ntsim [options] SCENARIO.ntsim\n"
            "Runs a scenario against the simulated NT kernel, one action a line, and prints\n"
            "what each action did and the final state of every driver image.\n"
            "\n"
            "options:\n"
            "  -L DIR          search DIR for driver images (repeatable; the scenario's own\n"
            "                  directory is searched last)\n"
            "  --stuck-ms N    report a wait longer than N ms as stuck (default 2000)\n"
            "  -v, --verbose   echo the drivers' DbgPrint output to stderr\n"
            "  -h, --help      print this help\n"
            "\n"
            "exit status: 0 every expectation held, 1 an expectation failed, 2 scenario\n"
            "error (syntax, unknown status or service, missing image or file), 3 a stuck\n"
            "wait ended the run, 64 usage; an unexpected bug check aborts (SIGABRT).\n"
            "\n");
    NtsimPrintScenarioLanguage(Out);
}

static int UsageError(const char *Format, ...) __attribute__((format(printf, 1, 2)));

static int UsageError(const char *Format, ...)
{
    va_list args;

    fprintf(stderr, "ntsim: ");
    va_start(args, Format);
    vfprintf(stderr, Format, args);
    va_end(args);
    fprintf(stderr, " (try ntsim --help)\n");
    return NTSIM_EXIT_USAGE;
}

/* Appends Dir to the colon-separated *Path. */
static int AppendSearchDir(char **Path, const char *Dir)
{
    size_t used = *Path ? strlen(*Path) : 0;
    char *grown = realloc(*Path, used + strlen(Dir) + 2);

    if (!grown)
        return -1;
    snprintf(grown + used, strlen(Dir) + 2, "%s%s", used ? ":" : "", Dir);
    *Path = grown;
    return 0;
}

static int ParseMilliseconds(const char *Text, ULONG *Value)
{
    char *end;
    unsigned long ms;

    errno = 0;
    ms = strtoul(Text, &end, 10);
    if (errno || end == Text || *end || Text[0] == '-' || ms == 0 || ms > 3600000UL)
        return -1;
    *Value = (ULONG)ms;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longOptions[] = {
        { "stuck-ms", required_argument, NULL, 's' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    NTSIM_SCENARIO_OPTIONS options;
    char *searchPath = NULL;
    int option, result;

    NtsimDefaultScenarioOptions(&options);
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":L:vh", longOptions, NULL)) != -1) {
        switch (option) {
        case 'L':
            if (AppendSearchDir(&searchPath, optarg) != 0)
                return UsageError("out of memory");
            break;
        case 's':
            if (ParseMilliseconds(optarg, &options.StuckWaitMs) != 0)
                return UsageError("--stuck-ms wants milliseconds (1 to 3600000), not '%s'", optarg);
            break;
        case 'v':
            options.EchoDebugOutput = TRUE;
            break;
        case 'h':
            PrintUsage(stdout);
            return 0;
        case ':':
            return UsageError("%s needs an argument", argv[optind - 1]);
        default:
            return UsageError("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind == argc)
        return UsageError("no scenario file given");
    if (optind + 1 < argc)
        return UsageError("one scenario file at a time; '%s' is one too many", argv[optind + 1]);
    options.DriverSearchPath = searchPath;
    result = NtsimRunScenario(argv[optind], &options);
    free(searchPath);
    return result;
}
