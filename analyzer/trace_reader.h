/*
 * trace_reader.h - reads an obtrace trace file (include/obtrace/trace.h) as
 * one stream of records in time order.
 *
 * The reader validates the header (magic, version, byte order, pointer
 * size, chunk size), indexes the chunks of each thread (a chunk the file
 * holds twice is read from its fuller copy), and merges the per-thread
 * record streams by the trace clock, each in its own order, with counts
 * deciding between near-simultaneous events on one object (a k-way merge
 * over threads: memory is one chunk buffer per thread and 8 bytes per
 * counted object id up to the highest seen (at most 2^24), never the
 * whole file). An event's seq is its position in that merge (1, 2, ...).
 * Untimed records (stacks, objects, strings, drops) are delivered in
 * their thread's order, before its next timed record. Records are decoded
 * into host structures; unknown record types are skipped by size.
 *
 * Damage that still leaves something to read (a truncated file, a corrupt
 * chunk or record) does not stop the other threads: the damaged thread's
 * stream ends there and trace_reader_damage() describes what was wrong.
 * Damage that leaves nothing to read (a bad header) fails trace_reader_open.
 */
#ifndef OBTRACE_TRACE_READER_H
#define OBTRACE_TRACE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "obtrace/trace.h"

/* The decoded file header. cmdline is NUL-separated, cmdline_len bytes. */
struct tr_header {
    uint16_t version;
    uint8_t pointer_size;
    uint8_t clock;
    uint16_t flags;
    uint32_t chunk_size;
    uint32_t pid;
    uint32_t ppid;
    uint64_t start_realtime_ns;
    uint64_t start_clock_ns;
    uint32_t cmdline_len;
    uint32_t space_errno; /* with OBT_FILE_OUT_OF_SPACE: why the file system refused more space */
    const char *cmdline;
};

/* An event with its optional fields expanded; absent ones are 0. */
struct tr_event {
    uint64_t seq;      /* position in the merge, from 1 */
    uint64_t ns;       /* on the trace clock */
    uint32_t tid;
    uint8_t op;        /* enum obt_op */
    uint8_t obj_type;  /* enum obt_obj_type */
    uint16_t flags;    /* OBT_EV_*: which optional fields were present */
    uint32_t object;
    int32_t count;
    uint32_t stack;
    uint32_t tag;
    int32_t status;
    uint32_t obj2;
    uint64_t arg;
    uint32_t string;
    uint32_t module;   /* module instance */
    uint64_t arg2;
};

struct tr_stack {
    uint32_t id;
    uint32_t depth;
    const uint64_t *frames; /* innermost first; valid until the next record */
};

struct tr_module_load {
    uint32_t instance;
    uint32_t seq_hint; /* low 32 bits of the seq of the event merged next */
    uint64_t base, start, end;
    uint8_t build_id_len;
    const uint8_t *build_id;
    uint32_t path_len;
    const char *path; /* NUL-terminated copy */
};

struct tr_module_unload {
    uint32_t instance;
    uint32_t seq_hint; /* low 32 bits of the seq of the event merged next */
};

struct tr_object {
    uint32_t id;
    uint8_t type;
    uint16_t name_len;
    uint64_t address;
    uint32_t owner;
    uint32_t image;
    const char *name; /* NUL-terminated copy */
};

struct tr_string {
    uint32_t id;
    uint32_t len;
    const char *text; /* NUL-terminated copy */
};

struct tr_dropped {
    uint32_t count;
    uint32_t reason;
};

struct tr_end {
    uint64_t events, dropped, failures, last_seq; /* events and last_seq: the events merged before END */
};

struct tr_rebase {
    uint64_t base_seq, base_ns;
};

/* One record. The pointers inside stay valid until the next trace_reader_next(). */
struct tr_record {
    uint16_t type;   /* enum obt_record_type, or an unknown type (only with TR_DELIVER_UNKNOWN) */
    uint16_t size;
    uint32_t tid;    /* thread whose chunk held the record */
    uint64_t seq;    /* events: their seq; others: the seq of the last event delivered before */
    union {
        struct tr_event ev;
        struct tr_stack stack;
        struct tr_module_load mload;
        struct tr_module_unload munload;
        struct tr_object object;
        struct tr_string string;
        struct tr_dropped dropped;
        struct tr_end end;
        struct tr_rebase rebase;
    } u;
};

struct trace_reader;

/* Flags for trace_reader_open. */
#define TR_DELIVER_UNKNOWN 0x1 /* deliver unknown record types (type and size only) instead of skipping them */

/*
 * Opens and validates the trace at path. On success returns 0 and stores a
 * reader in *out. On failure returns -1, stores NULL, and writes a one-line
 * description (no trailing newline, no path prefix) into err[errlen].
 */
int trace_reader_open(struct trace_reader **out, const char *path, unsigned flags, char *err, size_t errlen);

/* The decoded header of an open reader. */
const struct tr_header *trace_reader_header(const struct trace_reader *r);

/*
 * Stores the next record in *rec. Returns 1 when a record was stored, 0 at
 * the end of every stream. Never fails: damage ends a stream and is
 * reported by trace_reader_damage().
 */
int trace_reader_next(struct trace_reader *r, struct tr_record *rec);

/*
 * NULL while everything read so far was well formed; else a one-line
 * description of the first damage found (truncated file, corrupt chunk,
 * corrupt record). Complete only once trace_reader_next() returned 0.
 */
const char *trace_reader_damage(const struct trace_reader *r);

/* Number of threads (chunk streams) in the trace. */
unsigned trace_reader_threads(const struct trace_reader *r);

/* Closes the reader and frees everything it owns; NULL is fine. */
void trace_reader_free(struct trace_reader *r);

/* Names: "EVENT", "OBJ_REF", "Device", "no-space"; NULL (or "?") for unknown values. */
const char *tr_record_type_name(unsigned type);
const char *tr_op_name(unsigned op);
const char *tr_obj_type_name(unsigned type);
const char *tr_drop_reason_name(unsigned reason);

/*
 * Formats a 4-byte tag as its characters in memory order ("Dflt") when all
 * are printable, else as 0x%08x. buf must hold 16 bytes; returns buf.
 */
char *tr_format_tag(uint32_t tag, char *buf);

/* Which counter obt_event.count holds for op: "pointer", "handle", "refcount", "iocount", "none". */
const char *tr_op_count_meaning(unsigned op);

#endif /* OBTRACE_TRACE_READER_H */
