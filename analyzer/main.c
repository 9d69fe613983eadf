/*
 * main.c - the `obtrace` command: dispatches to report, graph, history,
 * check, dump and record, and owns the exit-code contract (doc/obtrace.md):
 * 0 nothing to report, 1 findings, 2 trace unusable or incomplete,
 * 64 usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dump.h"
#include "record.h"
#include "render.h"

static int usage(void)
{
    fputs(cli_usage_text, stderr);
    return EXIT_USAGE;
}

static int cmd_dump(int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-')
        return usage();
    return dump_trace(argv[1], stdout, stderr);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(cli_usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("obtrace %s (trace format %u)\n", OBTRACE_VERSION, OBT_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "dump"))
        return cmd_dump(argc - 1, argv + 1);
    if (!strcmp(cmd, "record"))
        return obtrace_record_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "report"))
        return cli_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "history"))
        return cli_history(argc - 1, argv + 1);
    if (!strcmp(cmd, "check"))
        return cli_check(argc - 1, argv + 1);
    if (!strcmp(cmd, "graph"))
        return cli_graph(argc - 1, argv + 1);
    fprintf(stderr, "obtrace: unknown command '%s'\n", cmd);
    return usage();
}
