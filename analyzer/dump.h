/*
 * dump.h - `obtrace dump`: every record of a trace as one stable text line,
 * in merged sequence order; the way people and tests look inside a trace.
 */
#ifndef OBTRACE_DUMP_H
#define OBTRACE_DUMP_H

#include <stdio.h>

/*
 * Prints the header and every record of the trace at path to out. Returns
 * the exit code: 0 when the whole trace was well formed, 2 when it could
 * not be opened or was damaged (the error line, "obtrace: PATH: what", goes
 * to err after the records that could be read).
 */
int dump_trace(const char *path, FILE *out, FILE *err);

/* Writes s to out in double quotes, escaping quotes and non-printable bytes as \xNN. */
void dump_quoted(FILE *out, const char *s);

#endif /* OBTRACE_DUMP_H */
