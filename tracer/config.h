/*
 * config.h - libobtrace's configuration, read once from OBTRACE_*
 * environment variables (doc/obtrace-record.md lists them), and what
 * follows from it for the trace file: its name, and the announcement of
 * the name actually used on the descriptor OBTRACE_REPORT_FD names.
 */
#ifndef OBTRACE_CONFIG_H
#define OBTRACE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum obt_unwind_mode { OBT_UNWIND_AUTO, OBT_UNWIND_FP, OBT_UNWIND_DWARF };

#define OBT_DEFAULT_OUTPUT "obtrace-%p.obt"
#define OBT_DEFAULT_DEPTH 32u
#define OBT_MAX_DEPTH_CONFIG 256u

struct obt_config {
    char output[1024];          /* path pattern, %p = pid */
    unsigned depth;             /* frames per stack, 0 = no stacks */
    enum obt_unwind_mode unwind;
    uint32_t type_mask;         /* bit (1 << enum obt_obj_type) per traced type; ~0 = all */
    char names[1024];           /* comma-separated globs on object names; "" = all */
    char images[1024];          /* comma-separated globs on driver image paths/basenames; "" = all */
    int follow_exec;            /* 1: exec'd programs are traced too */
    uint32_t chunk_size;        /* bytes; 0 = default */
    int report_fd;              /* OBTRACE_REPORT_FD: where trace paths are announced; -1 = nowhere */
};

/*
 * Fills c from the environment. Returns 0, or -1 with a one-line reason in
 * err when a variable is malformed (c then holds the defaults for it).
 */
int obt_config_from_env(struct obt_config *c, char *err, size_t errlen);
/* Parses an OBTRACE_UNWIND value; -1 if unknown. */
int obt_config_parse_unwind(const char *s);
/* Parses an OBTRACE_TYPES list ("Device,File"); 0 on success with *mask set. */
int obt_config_parse_types(const char *s, uint32_t *mask);
/* TRUE when text matches one of the comma-separated globs (backslash is literal). */
int obt_glob_list_match(const char *globs, const char *text);
/*
 * Expands %p (pid) and %% in pattern into out; attempt > 0 inserts ".N"
 * before a trailing ".obt" (or appends it) to find a free name.
 * Returns 0 or -1 when out is too small.
 */
int obt_config_expand_path(const char *pattern, int pid, unsigned attempt, char *out, size_t outlen);
/*
 * Announces that this process writes its trace to path (the name the
 * writer created, relative to the current directory or absolute): appends
 * the absolute path and a NUL byte, in one write, to c->report_fd when
 * that is a regular file opened for appending (as `obtrace record` passes
 * it); the tracer calls it once per trace it creates. Async-signal-safe
 * (a fork child calls it). Returns 0, or -1 when the path could not be
 * announced (no such descriptor, or the write failed).
 */
int obt_config_report_trace(const struct obt_config *c, const char *path);

#endif /* OBTRACE_CONFIG_H */
