/*
 * synth_trace.h - writes synthetic obtrace traces for tests and benchmarks,
 * record by record exactly as include/obtrace/trace.h lays them out: a
 * header page, then per-thread chunks of {type, size}-framed records.
 *
 * Records go to the current thread's chunk (synth_thread selects it);
 * events are stamped so that a reader merges them in the order written
 * (the n-th event written is the reader's seq n). Chunks are written to the
 * file as they fill, so a trace of any length needs one chunk of memory
 * per thread.
 */
#ifndef OBTRACE_SYNTH_TRACE_H
#define OBTRACE_SYNTH_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "obtrace/trace.h"

struct synth_trace;

struct synth_opts {
    uint32_t chunk_size;    /* 0 = OBT_CHUNK_SIZE_DEFAULT */
    uint32_t pid;           /* 0 = 4242 */
    const char *cmdline;    /* NULL = "synth"; spaces separate arguments */
};

/* One event; an optional field is written when its value is non-zero or its OBT_EV_* bit is in flags. */
struct synth_ev {
    uint8_t op, obj_type;
    uint16_t flags;
    uint32_t object;
    int32_t count;
    uint32_t stack;
    uint32_t tag;
    int32_t status;
    uint32_t obj2;
    uint64_t arg;
    uint32_t string;
    uint32_t module;
    uint64_t arg2;
};

/* Creates the trace file at path (truncating it); NULL with errno set on failure. opts may be NULL. */
struct synth_trace *synth_open(const char *path, const struct synth_opts *opts);
/*
 * Selects the thread whose chunk the following records go to (the first is
 * tid = pid): the latest thread with that tid, a new one if none.
 */
void synth_thread(struct synth_trace *t, uint32_t tid);
/* Starts a new thread that reuses tid (a new thread_serial), as the kernel reuses an exited thread's tid. */
void synth_thread_reused_tid(struct synth_trace *t, uint32_t tid);
/*
 * From now on the current thread's clock reads ns (|ns| < 1000) off the
 * synthetic one, as another core's clock might: its records are stamped
 * out of the order they are written in.
 */
void synth_thread_skew(struct synth_trace *t, int64_t ns);
/* Writes a STACK record; returns its id (1, 2, ...). */
uint32_t synth_stack(struct synth_trace *t, const uint64_t *frames, uint32_t depth);
/* Writes a MODULE_LOAD record for module instance `instance`. */
void synth_module_load(struct synth_trace *t, uint32_t instance, uint64_t base, uint64_t start, uint64_t end,
                       const uint8_t *build_id, uint8_t build_id_len, const char *path);
/* Writes a MODULE_UNLOAD record. */
void synth_module_unload(struct synth_trace *t, uint32_t instance);
/* Writes an OBJECT record. */
void synth_object(struct synth_trace *t, uint32_t id, uint8_t type, uint64_t address, uint32_t owner,
                  uint32_t image, const char *name);
/* Writes a STRING record; returns its id (1, 2, ...). */
uint32_t synth_string(struct synth_trace *t, const char *text);
/* Writes an EVENT record; returns the seq a reader gives it (1, 2, ...). */
uint64_t synth_event(struct synth_trace *t, const struct synth_ev *ev);
#define SYNTH_EV(t, ...) synth_event((t), &(struct synth_ev){ __VA_ARGS__ })
/* Writes a DROPPED record. */
void synth_dropped(struct synth_trace *t, uint32_t count, uint32_t reason);
/* Writes the END record (counters from what was written). */
void synth_end(struct synth_trace *t);
/* Writes a raw record of any type (payload after the {type,size} header); for unknown-type tests. */
void synth_raw(struct synth_trace *t, uint16_t type, const void *payload, uint16_t payload_len);
/* Flushes and closes; returns 0, or -1 on a write error. Frees t. */
int synth_close(struct synth_trace *t);

/* The sequence number the next event will get. */
uint64_t synth_next_seq(const struct synth_trace *t);

#endif /* OBTRACE_SYNTH_TRACE_H */
