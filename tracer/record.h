/*
 * record.h - `obtrace record`: run a program under libobtrace.
 *
 * Linked into the obtrace command (not into libobtrace.so). The analyzer's
 * command dispatcher calls obtrace_record_main for `obtrace record`;
 * `obtrace check` and tests can call obtrace_record_run directly.
 */
#ifndef OBTRACE_RECORD_H
#define OBTRACE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define HAVE_RECORD 1

struct obtrace_record_options {
    const char *output;  /* trace path pattern, %p = pid; NULL = obtrace-%p.obt */
    int depth;           /* frames per stack; -1 = default (32) */
    const char *unwind;  /* "auto", "fp", "dwarf"; NULL = auto */
    const char *types;   /* object types to trace ("Device,File"); NULL = all */
    const char *names;   /* object name globs; NULL = all */
    const char *images;  /* driver image globs; NULL = all */
    int follow_exec;     /* 1 trace exec'd programs too, 0 not, -1 default (1) */
    const char *library; /* libobtrace.so; NULL = <bindir>/../lib/libobtrace.so */
    int quiet;           /* no "trace written" line */
};

/* Fills *o with the defaults. */
void obtrace_record_options_init(struct obtrace_record_options *o);

/* The traces a run wrote, in the order the tracer announced them (the program's first). */
struct obtrace_record_traces {
    char **paths; /* exact paths; relative to the current directory when the output pattern was */
    size_t n;
};

/* Frees the paths and empties t. */
void obtrace_record_traces_release(struct obtrace_record_traces *t);

/*
 * Runs argv[0] (searched in PATH) with argv under libobtrace configured by
 * *o and waits for it. Fills *traces (which it initializes) with the path
 * of every trace the tracer announced on the OBTRACE_REPORT_FD channel
 * this sets up: the program's, the images it exec'd (followed), its forked
 * children's; none when it never loaded libntsim. Traces created after the
 * program exited (a child still starting then) are not listed. Returns the
 * program's exit status (128 + signal number when killed), or -1 when it
 * could not be started (a message is printed). Release *traces after
 * either.
 */
int obtrace_record_run(const struct obtrace_record_options *o, char *const argv[],
                       struct obtrace_record_traces *traces);

/*
 * Counts the events in a trace by scanning its chunks. *complete is set
 * to 1 when an END record was found. -1 when the file is no trace.
 */
int64_t obtrace_record_count_events(const char *path, int *complete);

/*
 * `obtrace record [-o PATH] [--depth N] [--unwind MODE] [--types LIST]
 * [--names GLOBS] [--images GLOBS] [--[no-]follow-exec] [--] PROGRAM ARGS...`
 * (argv[0] is "record"). Prints where each trace is on stderr and returns
 * the program's exit status; 64 on a usage error, 2 when the program could
 * not be run.
 */
int obtrace_record_main(int argc, char **argv);

#endif /* OBTRACE_RECORD_H */
