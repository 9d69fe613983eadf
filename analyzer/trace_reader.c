/*
 * trace_reader.c - validates a trace file and delivers its records merged
 * across threads by time (see trace_reader.h).
 *
 * The file is read with pread, one chunk at a time per thread, so memory
 * is bounded by the number of threads. Opening scans only the chunk
 * headers (one small read per chunk) to build each thread's ordered chunk
 * list; records are validated when they are first looked at.
 *
 * Each thread's records keep their order; the threads are merged by the
 * trace clock. Where two threads' next events act on the same object's
 * counter within TR_SKEW_NS of each other, the counter decides: the event
 * whose count follows from the last one delivered goes first (the clock is
 * read after the operation it stamps, so a thread preempted in between
 * stamps it late, and two cores' clocks may differ a little).
 */
#include "trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

#define MAX_CHUNK_SIZE (256u << 20)
#define TR_SKEW_NS 100000u           /* events this close may be in either order on the clock */
#define TR_COUNTED_OBJECTS (1u << 24) /* objects whose counters order events; ids above are not tracked */

struct chunk_ref {
    uint64_t offset;   /* of the chunk header in the file */
    uint32_t avail;    /* bytes of the chunk present in the file */
    uint32_t tid;
    uint32_t serial;   /* with tid, names the thread */
    uint32_t chunk_no;
    uint64_t base_seq; /* the thread's events before this chunk */
    uint64_t base_ns;
};

/* One thread's record stream: its chunks in order and a cursor. */
struct stream {
    struct chunk_ref *chunks; /* points into reader->chunks */
    size_t nchunks;
    size_t cur;               /* index of the loaded chunk */
    uint8_t *buf;             /* the loaded chunk */
    uint32_t pos;             /* offset of the next record in buf */
    uint64_t events;          /* events of this thread read so far */
    uint64_t last_ns;         /* time of the last timed record of this stream */
    /* the next record, validated */
    uint16_t next_type, next_size;
    uint64_t key;             /* merge key: its time, or last_ns for untimed records */
    bool next_is_event;
    bool done;
};

struct trace_reader {
    int fd;
    unsigned flags;
    uint64_t file_size;
    struct tr_header header;
    char *cmdline;
    struct chunk_ref *chunks;
    size_t nchunks;
    struct stream *streams;
    size_t nstreams;
    struct stream **heap; /* min-heap of live streams by (key, !event) */
    size_t nheap;
    uint64_t delivered;   /* events delivered: the seq of the last one */
    uint64_t *counted;    /* by object id: its last counter (low 32 bits) and counter kind + 1 (bits 32-39) */
    size_t ncounted;
    char *damage;
    /* scratch for variable-length record data */
    uint64_t *frames;
    size_t frames_cap;
    char *text;
    size_t text_cap;
    uint8_t build_id[256];
};

/* ---- names ------------------------------------------------------------- */

const char *tr_record_type_name(unsigned type)
{
    switch (type) {
#define X(name, value, st, desc) case value: return #name + 8;
        OBT_RECORD_TYPES(X)
#undef X
    }
    return NULL;
}

const char *tr_op_name(unsigned op)
{
    switch (op) {
#define X(name, value, count, desc) case value: return #name + 7;
        OBT_OPS(X)
#undef X
    }
    return NULL;
}

const char *tr_op_count_meaning(unsigned op)
{
    switch (op) {
#define X(name, value, count, desc) case value: return #count;
        OBT_OPS(X)
#undef X
    }
    return "none";
}

const char *tr_obj_type_name(unsigned type)
{
    switch (type) {
#define X(name, value, text) case value: return text;
        OBT_OBJ_TYPES(X)
#undef X
    }
    return NULL;
}

const char *tr_drop_reason_name(unsigned reason)
{
    switch (reason) {
    case OBT_DROP_REENTRY: return "re-entry";
    case OBT_DROP_NO_SPACE: return "no-space";
    case OBT_DROP_FILTERED: return "filtered";
    }
    return NULL;
}

char *tr_format_tag(uint32_t tag, char *buf)
{
    unsigned char c[4];
    memcpy(c, &tag, 4);
    bool printable = true;
    for (int i = 0; i < 4; i++)
        printable = printable && c[i] >= 0x20 && c[i] < 0x7f && c[i] != '"' && c[i] != '\\';
    if (printable)
        snprintf(buf, 16, "%c%c%c%c", c[0], c[1], c[2], c[3]);
    else
        snprintf(buf, 16, "0x%08x", tag);
    return buf;
}

/* ---- errors ------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void note_damage(struct trace_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_damage(struct trace_reader *r, const char *fmt, ...)
{
    va_list ap;
    if (r->damage)
        return; /* the first damage is the one worth reporting */
    va_start(ap, fmt);
    if (vasprintf(&r->damage, fmt, ap) < 0)
        r->damage = NULL;
    va_end(ap);
    if (!r->damage)
        r->damage = xstrdup("damaged trace");
}

static bool read_exact(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return true;
}

/* ---- header ------------------------------------------------------------ */

static int validate_header(struct trace_reader *r, const struct obt_file_header *h, char *err, size_t errlen)
{
    if (memcmp(h->magic, OBT_MAGIC, 8) != 0) {
        set_err(err, errlen, "not an obtrace trace (bad magic)");
        return -1;
    }
    if (h->byte_order != OBT_BYTE_ORDER_MARK) {
        if (h->byte_order == __builtin_bswap32(OBT_BYTE_ORDER_MARK))
            set_err(err, errlen, "written with the other byte order (foreign-endian trace); "
                                 "analyze it on a machine of the writer's byte order");
        else
            set_err(err, errlen, "corrupt header: bad byte-order mark 0x%08x", h->byte_order);
        return -1;
    }
    if (h->version == 1) {
        set_err(err, errlen, "trace format version 1, written by an older libobtrace: this obtrace reads "
                             "version %u; record the run again with this obtrace's libobtrace", OBT_VERSION);
        return -1;
    }
    if (h->version != OBT_VERSION) {
        set_err(err, errlen, "unsupported trace format version %u (this obtrace reads version %u)",
                h->version, OBT_VERSION);
        return -1;
    }
    if (h->pointer_size != sizeof(void *)) {
        set_err(err, errlen, "written by a %u-bit process; this obtrace reads %u-bit traces",
                h->pointer_size * 8u, (unsigned)sizeof(void *) * 8u);
        return -1;
    }
    if (h->header_size < sizeof(*h) || h->header_size % 4) {
        set_err(err, errlen, "corrupt header: header size %u", h->header_size);
        return -1;
    }
    if (h->chunk_size < 4096 || h->chunk_size > MAX_CHUNK_SIZE || h->chunk_size % 4096) {
        set_err(err, errlen, "corrupt header: chunk size %u", h->chunk_size);
        return -1;
    }
    if (h->cmdline_len > h->header_size - sizeof(*h)) {
        set_err(err, errlen, "corrupt header: command line length %u", h->cmdline_len);
        return -1;
    }
    r->header.version = h->version;
    r->header.pointer_size = h->pointer_size;
    r->header.clock = h->clock;
    r->header.flags = h->flags;
    r->header.chunk_size = h->chunk_size;
    r->header.pid = h->pid;
    r->header.ppid = h->ppid;
    r->header.start_realtime_ns = h->start_realtime_ns;
    r->header.start_clock_ns = h->start_clock_ns;
    r->header.cmdline_len = h->cmdline_len;
    r->header.space_errno = h->space_errno;
    return 0;
}

static int read_header(struct trace_reader *r, char *err, size_t errlen)
{
    struct obt_file_header h;
    if (r->file_size < sizeof(h) || !read_exact(r->fd, &h, sizeof(h), 0)) {
        set_err(err, errlen, "truncated: %llu bytes, shorter than a trace header",
                (unsigned long long)r->file_size);
        return -1;
    }
    if (validate_header(r, &h, err, errlen) < 0)
        return -1;
    if (r->file_size < h.header_size) {
        set_err(err, errlen, "truncated inside the header page");
        return -1;
    }
    r->cmdline = xcalloc(1, h.cmdline_len + 1u);
    if (h.cmdline_len && !read_exact(r->fd, r->cmdline, h.cmdline_len, sizeof(h))) {
        set_err(err, errlen, "cannot read the command line");
        return -1;
    }
    r->header.cmdline = r->cmdline;
    return 0;
}

/* ---- chunk index --------------------------------------------------------- */

static int cmp_chunk(const void *a, const void *b)
{
    const struct chunk_ref *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    if (x->chunk_no != y->chunk_no)
        return x->chunk_no < y->chunk_no ? -1 : 1;
    if (x->base_seq != y->base_seq)
        return x->base_seq < y->base_seq ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Bytes of well-framed records at the start of chunk c (read from the file). */
static uint32_t chunk_used(struct trace_reader *r, const struct chunk_ref *c)
{
    uint8_t *buf = xmalloc(c->avail);
    uint32_t pos = sizeof(struct obt_chunk_header);
    if (read_exact(r->fd, buf, c->avail, c->offset)) {
        while (pos + sizeof(struct obt_record_header) <= c->avail) {
            struct obt_record_header h;
            memcpy(&h, buf + pos, sizeof(h));
            if (!h.type || h.size < sizeof(h) || h.size % 4 || pos + h.size > c->avail)
                break;
            pos += h.size;
        }
    }
    free(buf);
    return pos;
}

static bool same_thread(const struct chunk_ref *a, const struct chunk_ref *b)
{
    return a->tid == b->tid && a->serial == b->serial;
}

static bool same_chunk(const struct chunk_ref *a, const struct chunk_ref *b)
{
    return same_thread(a, b) && a->chunk_no == b->chunk_no && a->base_seq == b->base_seq;
}

/*
 * A thread's chunk is in the file twice when the process died between
 * copying its staging chunk out and clearing it: keeps the fuller copy of
 * each (r->chunks sorted, so copies are adjacent).
 */
static void drop_copies(struct trace_reader *r)
{
    size_t out = 0;
    for (size_t i = 0; i < r->nchunks; i++) {
        if (out && same_chunk(&r->chunks[out - 1], &r->chunks[i])) {
            if (chunk_used(r, &r->chunks[i]) > chunk_used(r, &r->chunks[out - 1]))
                r->chunks[out - 1] = r->chunks[i];
            continue;
        }
        r->chunks[out++] = r->chunks[i];
    }
    r->nchunks = out;
}

static void index_chunks(struct trace_reader *r)
{
    uint32_t csize = r->header.chunk_size;
    uint64_t first = obt_chunk_offset(csize, 0);
    size_t cap = 0;
    for (uint64_t off = first; off < r->file_size; off += csize) {
        struct obt_chunk_header ch;
        uint64_t avail = r->file_size - off < csize ? r->file_size - off : csize;
        uint64_t no = (off - first) / csize;
        if (avail < csize)
            note_damage(r, "truncated: the file ends inside chunk %llu (%llu of %u bytes)",
                        (unsigned long long)no, (unsigned long long)avail, csize);
        if (avail < sizeof(ch) || !read_exact(r->fd, &ch, sizeof(ch), off))
            break;
        if (ch.magic == 0)
            continue; /* reserved but never started */
        if (ch.magic != OBT_CHUNK_MAGIC) {
            note_damage(r, "corrupt chunk %llu at offset %llu: bad chunk magic 0x%08x",
                        (unsigned long long)no, (unsigned long long)off, ch.magic);
            continue;
        }
        if (r->nchunks == cap) {
            cap = cap ? cap * 2 : 64;
            r->chunks = xrealloc(r->chunks, cap * sizeof(*r->chunks));
        }
        r->chunks[r->nchunks++] = (struct chunk_ref){
            .offset = off, .avail = (uint32_t)avail, .tid = ch.tid, .serial = ch.thread_serial,
            .chunk_no = ch.thread_chunk_no,
            .base_seq = ch.base_seq, .base_ns = ch.base_ns,
        };
    }
    if (r->nchunks > 1)
        qsort(r->chunks, r->nchunks, sizeof(*r->chunks), cmp_chunk);
    drop_copies(r);
}

static void make_streams(struct trace_reader *r)
{
    r->streams = xcalloc(r->nchunks ? r->nchunks : 1, sizeof(*r->streams));
    for (size_t i = 0; i < r->nchunks;) {
        size_t j = i;
        while (j < r->nchunks && same_thread(&r->chunks[j], &r->chunks[i]))
            j++;
        struct stream *s = &r->streams[r->nstreams++];
        s->chunks = &r->chunks[i];
        s->nchunks = j - i;
        s->cur = (size_t)-1;
        i = j;
    }
}

/* ---- per-stream cursor ----------------------------------------------------- */

static size_t event_size(uint16_t flags)
{
    size_t n = sizeof(struct obt_event);
    if (flags & OBT_EV_TAG) n += 4;
    if (flags & OBT_EV_STATUS) n += 4;
    if (flags & OBT_EV_OBJ2) n += 4;
    if (flags & OBT_EV_ARG) n += 8;
    if (flags & OBT_EV_STRING) n += 4;
    if (flags & OBT_EV_MODULE) n += 4;
    if (flags & OBT_EV_ARG2) n += 8;
    return n;
}

/* The smallest size a record of a known type can have, given its fixed part. */
static bool record_size_ok(const uint8_t *p, uint16_t type, uint16_t size)
{
    switch (type) {
    case OBT_REC_EVENT: {
        struct obt_event e;
        if (size < sizeof(e)) return false;
        memcpy(&e, p, sizeof(e));
        return size >= event_size(e.flags);
    }
    case OBT_REC_STACK: {
        struct obt_stack s;
        if (size < sizeof(s)) return false;
        memcpy(&s, p, sizeof(s));
        return s.id != 0 && (uint64_t)size >= sizeof(s) + 8ull * s.depth;
    }
    case OBT_REC_MODULE_LOAD: {
        struct obt_module_load m;
        if (size < sizeof(m)) return false;
        memcpy(&m, p, sizeof(m));
        return (uint64_t)size >= sizeof(m) + (uint64_t)m.build_id_len + m.path_len;
    }
    case OBT_REC_MODULE_UNLOAD: return size >= sizeof(struct obt_module_unload);
    case OBT_REC_OBJECT: {
        struct obt_object o;
        if (size < sizeof(o)) return false;
        memcpy(&o, p, sizeof(o));
        return (uint64_t)size >= sizeof(o) + o.name_len;
    }
    case OBT_REC_STRING: {
        struct obt_string s;
        if (size < sizeof(s)) return false;
        memcpy(&s, p, sizeof(s));
        return (uint64_t)size >= sizeof(s) + (uint64_t)s.len;
    }
    case OBT_REC_DROPPED: return size >= sizeof(struct obt_dropped);
    case OBT_REC_END: return size >= sizeof(struct obt_end);
    case OBT_REC_REBASE: return size >= sizeof(struct obt_rebase);
    }
    return true; /* unknown types: only the framing is checked */
}

static bool load_chunk(struct trace_reader *r, struct stream *s, size_t idx)
{
    struct chunk_ref *c = &s->chunks[idx];
    if (!s->buf)
        s->buf = xmalloc(r->header.chunk_size);
    if (!read_exact(r->fd, s->buf, c->avail, c->offset)) {
        note_damage(r, "cannot read chunk at offset %llu", (unsigned long long)c->offset);
        return false;
    }
    s->cur = idx;
    s->pos = sizeof(struct obt_chunk_header);
    if (c->base_seq != s->events)
        note_damage(r, "thread %u: its chunk at offset %llu starts at its event %llu, but %llu came before%s",
                    c->tid, (unsigned long long)c->offset, (unsigned long long)c->base_seq,
                    (unsigned long long)s->events, c->base_seq > s->events ? " (events lost)" : "");
    return true;
}

/* Records whose time is at OBT_TS_DELTA_OFFSET. */
static bool record_is_timed(uint16_t type)
{
    return type == OBT_REC_EVENT || type == OBT_REC_MODULE_LOAD || type == OBT_REC_MODULE_UNLOAD ||
           type == OBT_REC_END;
}

/*
 * Moves the cursor to the next valid record (loading chunks as needed) and
 * computes its merge key; marks the stream done at its end or on damage.
 */
static void stream_peek(struct trace_reader *r, struct stream *s)
{
    for (;;) {
        if (s->cur == (size_t)-1 || s->pos + sizeof(struct obt_record_header) > s->chunks[s->cur].avail) {
            size_t next = s->cur == (size_t)-1 ? 0 : s->cur + 1;
            if (next >= s->nchunks || !load_chunk(r, s, next)) {
                s->done = true;
                return;
            }
            continue;
        }
        struct chunk_ref *c = &s->chunks[s->cur];
        struct obt_record_header h;
        memcpy(&h, s->buf + s->pos, sizeof(h));
        if (h.type == 0) { /* end of data in this chunk */
            s->pos = c->avail;
            continue;
        }
        if (h.size < sizeof(h) || h.size % 4 || s->pos + h.size > c->avail ||
            !record_size_ok(s->buf + s->pos, h.type, h.size)) {
            note_damage(r, "corrupt record at offset %llu (thread %u): type %u, size %u",
                        (unsigned long long)(c->offset + s->pos), c->tid, h.type, h.size);
            s->done = true;
            return;
        }
        if (!(r->flags & TR_DELIVER_UNKNOWN) && !tr_record_type_name(h.type)) {
            s->pos += h.size; /* skipped by size */
            continue;
        }
        if (h.type == OBT_REC_REBASE) { /* applies to the events that follow it in this chunk */
            struct obt_rebase rb;
            memcpy(&rb, s->buf + s->pos, sizeof(rb));
            c->base_seq = rb.base_seq;
            c->base_ns = rb.base_ns;
        }
        s->next_type = h.type;
        s->next_size = h.size;
        s->next_is_event = h.type == OBT_REC_EVENT;
        s->key = s->last_ns > c->base_ns ? s->last_ns : c->base_ns; /* no earlier than its chunk began */
        if (record_is_timed(h.type)) {
            uint32_t delta;
            memcpy(&delta, s->buf + s->pos + OBT_TS_DELTA_OFFSET, 4);
            s->key = c->base_ns + delta;
        }
        return;
    }
}

/* ---- merge heap -------------------------------------------------------------- */

static bool stream_before(const struct stream *a, const struct stream *b)
{
    if (a->key != b->key)
        return a->key < b->key;
    if (a->next_is_event != b->next_is_event)
        return !a->next_is_event; /* definitions before events of the same key */
    if (a->chunks[0].tid != b->chunks[0].tid)
        return a->chunks[0].tid < b->chunks[0].tid;
    return a->chunks[0].serial < b->chunks[0].serial;
}

static void heap_sift_down(struct trace_reader *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->nheap && stream_before(r->heap[l], r->heap[m])) m = l;
        if (l + 1 < r->nheap && stream_before(r->heap[l + 1], r->heap[m])) m = l + 1;
        if (m == i)
            return;
        struct stream *t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

static void heap_sift_up(struct trace_reader *r, size_t i)
{
    while (i > 0 && stream_before(r->heap[i], r->heap[(i - 1) / 2])) {
        struct stream *t = r->heap[i];
        r->heap[i] = r->heap[(i - 1) / 2];
        r->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/*
 * Restores the heap after the stream at i moved on or ended. Its key may
 * have shrunk: a thread's times can step back a little (a stack captured,
 * and its time read, before a record stamped later), and the counts can
 * deliver a stream that was not on top.
 */
static void heap_fix(struct trace_reader *r, size_t i)
{
    if (r->heap[i]->done) {
        r->heap[i] = r->heap[--r->nheap];
        if (i == r->nheap)
            return;
    }
    heap_sift_up(r, i);
    heap_sift_down(r, i);
}

static void heap_build(struct trace_reader *r)
{
    r->heap = xcalloc(r->nstreams ? r->nstreams : 1, sizeof(*r->heap));
    for (size_t i = 0; i < r->nstreams; i++) {
        stream_peek(r, &r->streams[i]);
        if (!r->streams[i].done)
            r->heap[r->nheap++] = &r->streams[i];
    }
    for (size_t i = r->nheap; i-- > 0;)
        heap_sift_down(r, i);
}

/* ---- ordering by counters ------------------------------------------------------ */

enum counter_kind { CK_none, CK_pointer, CK_handle, CK_refcount, CK_iocount, CK_wdfref };

/* Which counter an event of op carries in its count (OBT_OPS' count meaning). */
static uint8_t op_counter_kind(unsigned op)
{
    switch (op) {
#define X(name, value, count, desc) case value: return CK_##count;
        OBT_OPS(X)
#undef X
    }
    return CK_none;
}

/* How op changes its counter: +1, -1, or 0 when not by one fixed step. */
static int op_counter_step(unsigned op)
{
    switch (op) {
    case OBT_OP_OBJ_REF: case OBT_OP_HANDLE_OPEN: case OBT_OP_DEV_OPEN_REF: case OBT_OP_REMLOCK_ACQUIRE:
    case OBT_OP_RUNDOWN_ACQUIRE: case OBT_OP_WDF_REF:
        return 1;
    case OBT_OP_OBJ_DEREF: case OBT_OP_HANDLE_CLOSE: case OBT_OP_DEV_OPEN_DEREF: case OBT_OP_REMLOCK_RELEASE:
    case OBT_OP_RUNDOWN_RELEASE: case OBT_OP_WDF_DEREF:
        return -1;
    }
    return 0;
}

/* An event's counter change, read ahead of delivery. */
struct counted_op {
    uint32_t object;
    int32_t count;
    uint8_t kind;
    int step;
};

/* The counter change of s's next event (which must be an event); false if it has none to check. */
static bool peek_counted(const struct stream *s, struct counted_op *op)
{
    struct obt_event e;
    memcpy(&e, s->buf + s->pos, sizeof(e));
    op->object = e.object;
    op->count = e.count;
    op->kind = op_counter_kind(e.op);
    op->step = op_counter_step(e.op);
    return op->kind != CK_none && op->step && e.object && e.object < TR_COUNTED_OBJECTS && !(e.flags & OBT_EV_PRE);
}

/* False when op's count cannot follow the last count delivered for its object's counter. */
static bool count_follows(const struct trace_reader *r, const struct counted_op *op)
{
    uint64_t last = op->object < r->ncounted ? r->counted[op->object] : 0;
    if ((uint8_t)(last >> 32) != op->kind + 1)
        return true; /* nothing known to contradict it */
    return (int32_t)((uint32_t)last + (uint32_t)op->step) == op->count;
}

/* Remembers ev's counter as its object's last. */
static void note_count(struct trace_reader *r, const struct tr_event *ev)
{
    uint8_t kind = op_counter_kind(ev->op);
    if (kind == CK_none || !ev->object || ev->object >= TR_COUNTED_OBJECTS || (ev->flags & OBT_EV_PRE))
        return;
    if (ev->object >= r->ncounted) {
        size_t n = r->ncounted ? r->ncounted : 1024;
        while (n <= ev->object)
            n *= 2;
        r->counted = xrealloc(r->counted, n * sizeof(*r->counted));
        memset(r->counted + r->ncounted, 0, (n - r->ncounted) * sizeof(*r->counted));
        r->ncounted = n;
    }
    r->counted[ev->object] = (uint64_t)(kind + 1) << 32 | (uint32_t)ev->count;
}

/*
 * The heap index of the stream to deliver from: the top, unless its next
 * event's count cannot follow its object's last one while another
 * thread's next event, within TR_SKEW_NS, on the same counter can.
 */
static size_t count_order_pick(const struct trace_reader *r)
{
    const struct stream *top = r->heap[0];
    struct counted_op a, b;
    if (!top->next_is_event || !peek_counted(top, &a) || count_follows(r, &a))
        return 0;
    for (size_t i = 1; i < r->nheap; i++) {
        const struct stream *t = r->heap[i];
        if (t->next_is_event && t->key - top->key <= TR_SKEW_NS && peek_counted(t, &b) &&
            b.object == a.object && b.kind == a.kind && count_follows(r, &b))
            return i;
    }
    return 0;
}

/* ---- decoding ------------------------------------------------------------------ */

static const char *copy_text(struct trace_reader *r, const uint8_t *p, size_t len)
{
    if (len + 1 > r->text_cap) {
        r->text_cap = len + 1 > 256 ? len + 1 : 256;
        r->text = xrealloc(r->text, r->text_cap);
    }
    memcpy(r->text, p, len);
    r->text[len] = 0;
    return r->text;
}

static void decode_event(const struct chunk_ref *c, const uint8_t *p, struct tr_event *ev)
{
    struct obt_event e;
    memcpy(&e, p, sizeof(e));
    memset(ev, 0, sizeof(*ev));
    ev->ns = c->base_ns + e.ts_delta;
    ev->tid = c->tid;
    ev->op = e.op;
    ev->obj_type = e.obj_type;
    ev->flags = e.flags;
    ev->object = e.object;
    ev->count = e.count;
    ev->stack = e.stack;
    p += sizeof(e);
    if (e.flags & OBT_EV_TAG) { memcpy(&ev->tag, p, 4); p += 4; }
    if (e.flags & OBT_EV_STATUS) { memcpy(&ev->status, p, 4); p += 4; }
    if (e.flags & OBT_EV_OBJ2) { memcpy(&ev->obj2, p, 4); p += 4; }
    if (e.flags & OBT_EV_ARG) { memcpy(&ev->arg, p, 8); p += 8; }
    if (e.flags & OBT_EV_STRING) { memcpy(&ev->string, p, 4); p += 4; }
    if (e.flags & OBT_EV_MODULE) { memcpy(&ev->module, p, 4); p += 4; }
    if (e.flags & OBT_EV_ARG2) { memcpy(&ev->arg2, p, 8); }
}

static void decode_stack(struct trace_reader *r, const uint8_t *p, struct tr_stack *st)
{
    struct obt_stack s;
    memcpy(&s, p, sizeof(s));
    if (s.depth > r->frames_cap) {
        r->frames_cap = s.depth;
        r->frames = xrealloc(r->frames, r->frames_cap * sizeof(uint64_t));
    }
    if (s.depth)
        memcpy(r->frames, p + sizeof(s), 8ull * s.depth);
    st->id = s.id;
    st->depth = s.depth;
    st->frames = r->frames;
}

static void decode_module_load(struct trace_reader *r, const uint8_t *p, struct tr_module_load *ml)
{
    struct obt_module_load m;
    memcpy(&m, p, sizeof(m));
    ml->instance = m.instance;
    ml->seq_hint = (uint32_t)(r->delivered + 1); /* merged by time: the next event is the next seq */
    ml->base = m.base;
    ml->start = m.start;
    ml->end = m.end;
    ml->build_id_len = m.build_id_len;
    memcpy(r->build_id, p + sizeof(m), m.build_id_len);
    ml->build_id = r->build_id;
    ml->path_len = m.path_len;
    ml->path = copy_text(r, p + sizeof(m) + m.build_id_len, m.path_len);
}

static void decode_record(struct trace_reader *r, struct stream *s, struct tr_record *rec)
{
    const struct chunk_ref *c = &s->chunks[s->cur];
    const uint8_t *p = s->buf + s->pos;
    memset(rec, 0, sizeof(*rec));
    rec->type = s->next_type;
    rec->size = s->next_size;
    rec->tid = c->tid;
    switch (rec->type) {
    case OBT_REC_EVENT:
        decode_event(c, p, &rec->u.ev);
        break;
    case OBT_REC_STACK:
        decode_stack(r, p, &rec->u.stack);
        break;
    case OBT_REC_MODULE_LOAD:
        decode_module_load(r, p, &rec->u.mload);
        break;
    case OBT_REC_MODULE_UNLOAD: {
        struct obt_module_unload m;
        memcpy(&m, p, sizeof(m));
        rec->u.munload.instance = m.instance;
        rec->u.munload.seq_hint = (uint32_t)(r->delivered + 1);
        break;
    }
    case OBT_REC_OBJECT: {
        struct obt_object o;
        memcpy(&o, p, sizeof(o));
        rec->u.object = (struct tr_object){
            .id = o.id, .type = o.type, .name_len = o.name_len, .address = o.address,
            .owner = o.owner, .image = o.image, .name = copy_text(r, p + sizeof(o), o.name_len),
        };
        break;
    }
    case OBT_REC_STRING: {
        struct obt_string st;
        memcpy(&st, p, sizeof(st));
        rec->u.string = (struct tr_string){ .id = st.id, .len = st.len,
                                            .text = copy_text(r, p + sizeof(st), st.len) };
        break;
    }
    case OBT_REC_DROPPED: {
        struct obt_dropped d;
        memcpy(&d, p, sizeof(d));
        rec->u.dropped = (struct tr_dropped){ .count = d.count, .reason = d.reason };
        break;
    }
    case OBT_REC_REBASE: {
        struct obt_rebase rb;
        memcpy(&rb, p, sizeof(rb));
        rec->u.rebase = (struct tr_rebase){ .base_seq = rb.base_seq, .base_ns = rb.base_ns };
        break;
    }
    case OBT_REC_END: {
        struct obt_end e;
        memcpy(&e, p, sizeof(e));
        rec->u.end = (struct tr_end){ .events = r->delivered, .dropped = e.dropped,
                                      .failures = e.failures, .last_seq = r->delivered };
        break;
    }
    }
}

/* ---- public API ---------------------------------------------------------------- */

int trace_reader_open(struct trace_reader **out, const char *path, unsigned flags, char *err, size_t errlen)
{
    struct stat st;
    struct trace_reader *r = xcalloc(1, sizeof(*r));
    *out = NULL;
    r->flags = flags;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        set_err(err, errlen, "cannot open: %s", strerror(errno));
        free(r);
        return -1;
    }
    if (fstat(r->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "not a regular file");
        trace_reader_free(r);
        return -1;
    }
    r->file_size = (uint64_t)st.st_size;
    struct obt_file_header h;
    if (read_header(r, err, errlen) < 0 || !read_exact(r->fd, &h, sizeof(h), 0)) {
        trace_reader_free(r);
        return -1;
    }
    index_chunks(r);
    make_streams(r);
    heap_build(r);
    *out = r;
    return 0;
}

const struct tr_header *trace_reader_header(const struct trace_reader *r)
{
    return &r->header;
}

int trace_reader_next(struct trace_reader *r, struct tr_record *rec)
{
    if (!r->nheap)
        return 0;
    size_t at = count_order_pick(r);
    struct stream *s = r->heap[at];
    decode_record(r, s, rec);
    if (rec->type == OBT_REC_EVENT) {
        rec->u.ev.seq = ++r->delivered;
        s->events++;
        note_count(r, &rec->u.ev);
    }
    if (record_is_timed(rec->type))
        s->last_ns = s->key;
    rec->seq = r->delivered;
    s->pos += s->next_size;
    stream_peek(r, s);
    heap_fix(r, at);
    return 1;
}

const char *trace_reader_damage(const struct trace_reader *r)
{
    return r->damage;
}

unsigned trace_reader_threads(const struct trace_reader *r)
{
    return (unsigned)r->nstreams;
}

void trace_reader_free(struct trace_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; i < r->nstreams; i++)
        free(r->streams[i].buf);
    free(r->streams);
    free(r->heap);
    free(r->counted);
    free(r->chunks);
    free(r->cmdline);
    free(r->damage);
    free(r->frames);
    free(r->text);
    free(r);
}
