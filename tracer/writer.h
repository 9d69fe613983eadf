/*
 * writer.h - the crash-safe trace file writer of libobtrace.
 *
 * A struct obt_writer owns one trace file: the header page and a run of
 * fixed-size chunks, mapped MAP_SHARED in large segments. Each thread
 * fills one staging chunk of the file through its own struct obt_tbuf and
 * copies it into a freshly claimed chunk (one atomic add, one pwrite) when
 * it is full; every record is written in place with its type word last, so
 * whatever a thread completed is in the file if the process dies the next
 * instant. Nothing in the event path writes memory another thread uses,
 * takes a lock or allocates: a thread's order is its chunks' order, and
 * the trace clock orders the threads; the only lock guards growing the
 * file by a whole segment (once per OBT_SEGMENT_CHUNKS chunks).
 */
#ifndef OBTRACE_WRITER_H
#define OBTRACE_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "obtrace/trace.h"

#define OBT_SEGMENT_CHUNKS 1024u   /* chunks per mapped segment (64 MiB at 64 KiB chunks) */
#define OBT_MAX_SEGMENTS 4096u
#define OBT_EXPORT __attribute__((visibility("default")))

struct obt_writer {
    int fd;
    uint32_t chunk_size;
    uint32_t generation;            /* bumped when the writer is re-created (fork child) */
    char path[4096];
    char *header;                   /* the mapped header page */
    char *_Atomic segments[OBT_MAX_SEGMENTS];
    _Atomic uint64_t next_chunk;    /* chunks claimed so far */
    _Atomic uint32_t threads;       /* threads that started writing: the last thread_serial given */
    _Atomic uint64_t dropped;
    _Atomic uint64_t failures;
    _Atomic int finished;
    _Atomic int out_of_space;       /* the file system refused space: no more claims (OBT_FILE_OUT_OF_SPACE) */
    uint64_t file_size;             /* bytes covered by ftruncate, under grow_lock */
    uint64_t file_limit;            /* RLIMIT_FSIZE when the writer was made: the file never grows past it */
    pthread_mutex_t grow_lock;
};

/* One thread's position in its current chunk. Zero-initialize before use. */
struct obt_tbuf {
    char *chunk;        /* this thread's staging chunk, NULL before the first record */
    uint32_t pos;       /* next free byte in chunk */
    uint32_t chunk_no;  /* this thread's chunk counter */
    uint32_t tid;
    uint32_t serial;    /* this thread's thread_serial, given with its first chunk */
    uint32_t generation;
    uint64_t seq;       /* events this thread committed to the trace */
    uint64_t base_ns;
};

/* What the header of a new trace says about the traced process. */
struct obt_writer_info {
    uint32_t pid;
    uint32_t ppid;
    uint16_t flags;          /* OBT_FILE_* */
    const char *cmdline;     /* NUL-separated arguments */
    uint32_t cmdline_len;
};

/* The trace clock (CLOCK_MONOTONIC) in nanoseconds. */
uint64_t obt_now_ns(void);

/*
 * Creates the trace file at path (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600),
 * writes its header and maps its first segment. chunk_size 0 means
 * OBT_CHUNK_SIZE_DEFAULT; it is rounded up to the page size. Returns 0, or
 * -errno with nothing created.
 */
int obt_writer_init(struct obt_writer *w, const char *path, uint32_t chunk_size,
                    const struct obt_writer_info *info);
/*
 * Writes the END record through tb (counters as of now), stops further
 * claims and truncates the file to the chunks in use. Events written by
 * other threads after this are lost. Idempotent.
 */
void obt_writer_finish(struct obt_writer *w, struct obt_tbuf *tb);
/*
 * Writes an END record through tb without stopping the writer (before an
 * exec: if the exec fails, tracing goes on and a later END supersedes it).
 */
void obt_writer_write_end(struct obt_writer *w, struct obt_tbuf *tb);
/* Unmaps and closes without writing anything more. */
void obt_writer_release(struct obt_writer *w);


/*
 * Reserves size bytes (a multiple of 4, at most chunk_size - 32) for a record
 * in tb's chunk, claiming a new chunk when it does not fit. Returns where to
 * write, or NULL when the file cannot grow (the record is lost). The record
 * becomes visible with obt_tbuf_commit.
 */
void *obt_tbuf_reserve(struct obt_writer *w, struct obt_tbuf *tb, uint32_t size);
/*
 * Publishes a record reserved at rec: rec holds the body already; this
 * stores the size, then the type word, and advances the buffer (and
 * tb->seq for an event).
 */
static inline void obt_tbuf_commit(struct obt_tbuf *tb, void *rec, uint16_t type, uint32_t size)
{
    struct obt_record_header *h = rec;
    h->size = (uint16_t)size;
    __atomic_store_n(&h->type, type, __ATOMIC_RELEASE);
    tb->pos += size;
    tb->seq += type == OBT_REC_EVENT;
}
/* Reserve + copy + commit of a complete record whose header is filled in except the type. */
int obt_tbuf_write(struct obt_writer *w, struct obt_tbuf *tb, uint16_t type, const void *rec, uint32_t size);

/* obt_tbuf_timed_slot when the record does not simply fit: a new chunk, a REBASE, a new writer. */
void *obt_tbuf_timed_slot_slow(struct obt_writer *w, struct obt_tbuf *tb, uint32_t size, uint64_t now_ns);

/*
 * Prepares tb for a timed record (trace.h: EVENT, MODULE_*, END) of size
 * bytes stamped now_ns: makes room, claiming a chunk or writing an
 * OBT_REC_REBASE record when now_ns - tb->base_ns would not fit in 32
 * bits. Returns where to write the record, or NULL (it is lost). Inline:
 * in the common case, room in the same chunk of the same writer, it is
 * four compares.
 */
static inline void *obt_tbuf_timed_slot(struct obt_writer *w, struct obt_tbuf *tb, uint32_t size, uint64_t now_ns)
{
    if (__builtin_expect(tb->generation == w->generation && tb->chunk != NULL && tb->pos + size <= w->chunk_size &&
                             now_ns - tb->base_ns <= UINT32_MAX,
                         1))
        return tb->chunk + tb->pos;
    return obt_tbuf_timed_slot_slow(w, tb, size, now_ns);
}
/*
 * Writes a complete timed record (its header and ts_delta are filled in
 * here) stamped with the trace clock now. 0, or -1 when it is lost.
 */
int obt_tbuf_write_timed(struct obt_writer *w, struct obt_tbuf *tb, uint16_t type, const void *rec, uint32_t size);

#endif /* OBTRACE_WRITER_H */
