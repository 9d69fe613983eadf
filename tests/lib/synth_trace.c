/*
 * synth_trace.c - a small synthetic trace writer (see synth_trace.h). It
 * follows include/obtrace/trace.h to the byte: native byte order, records
 * 4-byte aligned, the chunk magic written, timed records relative to the
 * chunk's base time. The clock is synthetic: the event of merged position
 * seq happens at SYNTH_NS(seq), and a module or END record written before
 * it half-way between it and the event before.
 */
#include "synth_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_THREADS 64
#define SYNTH_NS(seq) (1000000 + (uint64_t)(seq) * 10)
#define SYNTH_BASE_LEAD 1000 /* a chunk's time base lies this far before its first record (room for skews) */

struct synth_chunk {
    uint64_t events;            /* this thread's events so far */
    uint64_t base_ns;           /* of the chunk now being written */
    int64_t skew;               /* what this thread's clock reads off the synthetic one */
    uint32_t tid;
    uint32_t serial;            /* thread_serial: its index + 1 */
    uint32_t chunk_no;
    uint64_t offset;
    uint32_t used;
    uint8_t *buf;
};

struct synth_trace {
    int fd;
    int error;
    uint32_t chunk_size;
    uint64_t next_offset;
    uint64_t seq;               /* merged position of the next event */
    uint32_t next_stack, next_string;
    struct synth_chunk chunks[MAX_THREADS];
    unsigned nthreads;
    struct synth_chunk *cur;
};

static void put(struct synth_trace *t, const void *p, size_t n, uint64_t off)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(t->fd, b, n, (off_t)off);
        if (w <= 0) {
            t->error = 1;
            return;
        }
        b += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
}

static void chunk_flush(struct synth_trace *t, struct synth_chunk *c)
{
    if (c->buf)
        put(t, c->buf, t->chunk_size, c->offset);
}

static void chunk_start(struct synth_trace *t, struct synth_chunk *c)
{
    if (!c->buf)
        c->buf = malloc(t->chunk_size);
    memset(c->buf, 0, t->chunk_size);
    c->offset = t->next_offset;
    t->next_offset += t->chunk_size;
    c->used = sizeof(struct obt_chunk_header);
    struct obt_chunk_header h = {
        .magic = OBT_CHUNK_MAGIC, .tid = c->tid, .thread_serial = c->serial, .base_seq = c->events,
        .base_ns = SYNTH_NS(t->seq) - SYNTH_BASE_LEAD + (uint64_t)c->skew, .thread_chunk_no = c->chunk_no++,
    };
    memcpy(c->buf, &h, sizeof(h));
    c->base_ns = h.base_ns;
}

struct synth_trace *synth_open(const char *path, const struct synth_opts *opts)
{
    struct synth_trace *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (t->fd < 0) {
        free(t);
        return NULL;
    }
    t->chunk_size = opts && opts->chunk_size ? opts->chunk_size : OBT_CHUNK_SIZE_DEFAULT;
    t->seq = 1;
    t->next_stack = 1;
    t->next_string = 1;
    uint8_t page[OBT_HEADER_SIZE] = { 0 };
    const char *cmd = opts && opts->cmdline ? opts->cmdline : "synth";
    struct obt_file_header h = {
        .version = OBT_VERSION, .header_size = OBT_HEADER_SIZE, .byte_order = OBT_BYTE_ORDER_MARK,
        .pointer_size = sizeof(void *), .clock = OBT_CLOCK_MONOTONIC, .chunk_size = t->chunk_size,
        .pid = opts && opts->pid ? opts->pid : 4242, .ppid = 1, .start_realtime_ns = 1700000000000000000ull,
        .start_clock_ns = 1000000, .cmdline_len = (uint32_t)strlen(cmd) + 1,
    };
    memcpy(h.magic, OBT_MAGIC, 8);
    memcpy(page, &h, sizeof(h));
    char *cl = (char *)page + sizeof(h);
    memcpy(cl, cmd, h.cmdline_len);
    for (uint32_t i = 0; i < h.cmdline_len; i++)
        if (cl[i] == ' ')
            cl[i] = 0;
    put(t, page, sizeof(page), 0);
    t->next_offset = obt_chunk_offset(t->chunk_size, 0);
    synth_thread(t, h.pid);
    return t;
}

static void thread_new(struct synth_trace *t, uint32_t tid)
{
    if (t->nthreads == MAX_THREADS)
        abort();
    t->cur = &t->chunks[t->nthreads++];
    t->cur->tid = tid;
    t->cur->serial = t->nthreads;
}

void synth_thread(struct synth_trace *t, uint32_t tid)
{
    for (unsigned i = t->nthreads; i-- > 0;) {
        if (t->chunks[i].tid == tid) {
            t->cur = &t->chunks[i];
            return;
        }
    }
    thread_new(t, tid);
}

void synth_thread_reused_tid(struct synth_trace *t, uint32_t tid)
{
    thread_new(t, tid);
}

/* Reserves size bytes for a record in the current thread's chunk. */
static uint8_t *reserve(struct synth_trace *t, uint32_t size)
{
    struct synth_chunk *c = t->cur;
    if (!c->buf || c->used + size > t->chunk_size) {
        chunk_flush(t, c);
        chunk_start(t, c);
    }
    uint8_t *p = c->buf + c->used;
    c->used += size;
    return p;
}

static uint32_t round4(uint32_t n)
{
    return (n + 3u) & ~3u;
}

/* Writes a record of type from its fixed part and up to two variable parts; a timed one stamped ns. */
static void write_record_at(struct synth_trace *t, uint16_t type, uint64_t ns, const void *fixed, uint32_t fixed_len,
                            const void *var1, uint32_t len1, const void *var2, uint32_t len2)
{
    uint32_t size = round4(fixed_len + len1 + len2);
    uint8_t *p = reserve(t, size);
    memcpy(p, fixed, fixed_len);
    if (len1)
        memcpy(p + fixed_len, var1, len1);
    if (len2)
        memcpy(p + fixed_len + len1, var2, len2);
    struct obt_record_header h = { .type = type, .size = (uint16_t)size };
    memcpy(p, &h, sizeof(h));
    if (type == OBT_REC_EVENT || type == OBT_REC_MODULE_LOAD || type == OBT_REC_MODULE_UNLOAD || type == OBT_REC_END) {
        uint32_t delta = (uint32_t)(ns + (uint64_t)t->cur->skew - t->cur->base_ns);
        memcpy(p + OBT_TS_DELTA_OFFSET, &delta, 4);
    }
}

static void write_record(struct synth_trace *t, uint16_t type, const void *fixed, uint32_t fixed_len,
                         const void *var1, uint32_t len1, const void *var2, uint32_t len2)
{
    write_record_at(t, type, SYNTH_NS(t->seq) - 5, fixed, fixed_len, var1, len1, var2, len2);
}

uint32_t synth_stack(struct synth_trace *t, const uint64_t *frames, uint32_t depth)
{
    struct obt_stack s = { .id = t->next_stack++, .depth = depth };
    write_record(t, OBT_REC_STACK, &s, sizeof(s), frames, depth * 8u, NULL, 0);
    return s.id;
}

void synth_module_load(struct synth_trace *t, uint32_t instance, uint64_t base, uint64_t start, uint64_t end,
                       const uint8_t *build_id, uint8_t build_id_len, const char *path)
{
    struct obt_module_load m = {
        .instance = instance, .base = base, .start = start, .end = end,
        .build_id_len = build_id_len, .path_len = (uint32_t)strlen(path),
    };
    write_record(t, OBT_REC_MODULE_LOAD, &m, sizeof(m), build_id, build_id_len, path, m.path_len);
}

void synth_module_unload(struct synth_trace *t, uint32_t instance)
{
    struct obt_module_unload m = { .instance = instance };
    write_record(t, OBT_REC_MODULE_UNLOAD, &m, sizeof(m), NULL, 0, NULL, 0);
}

void synth_object(struct synth_trace *t, uint32_t id, uint8_t type, uint64_t address, uint32_t owner,
                  uint32_t image, const char *name)
{
    struct obt_object o = {
        .id = id, .type = type, .name_len = (uint16_t)strlen(name ? name : ""), .address = address,
        .owner = owner, .image = image,
    };
    write_record(t, OBT_REC_OBJECT, &o, sizeof(o), name, o.name_len, NULL, 0);
}

uint32_t synth_string(struct synth_trace *t, const char *text)
{
    struct obt_string s = { .id = t->next_string++, .len = (uint32_t)strlen(text) };
    write_record(t, OBT_REC_STRING, &s, sizeof(s), text, s.len, NULL, 0);
    return s.id;
}

uint64_t synth_event(struct synth_trace *t, const struct synth_ev *ev)
{
    uint16_t flags = ev->flags;
    if (ev->tag) flags |= OBT_EV_TAG;
    if (ev->status) flags |= OBT_EV_STATUS;
    if (ev->obj2) flags |= OBT_EV_OBJ2;
    if (ev->arg) flags |= OBT_EV_ARG;
    if (ev->string) flags |= OBT_EV_STRING;
    if (ev->module) flags |= OBT_EV_MODULE;
    if (ev->arg2) flags |= OBT_EV_ARG2;
    uint8_t opt[40];
    uint32_t n = 0;
    if (flags & OBT_EV_TAG) { memcpy(opt + n, &ev->tag, 4); n += 4; }
    if (flags & OBT_EV_STATUS) { memcpy(opt + n, &ev->status, 4); n += 4; }
    if (flags & OBT_EV_OBJ2) { memcpy(opt + n, &ev->obj2, 4); n += 4; }
    if (flags & OBT_EV_ARG) { memcpy(opt + n, &ev->arg, 8); n += 8; }
    if (flags & OBT_EV_STRING) { memcpy(opt + n, &ev->string, 4); n += 4; }
    if (flags & OBT_EV_MODULE) { memcpy(opt + n, &ev->module, 4); n += 4; }
    if (flags & OBT_EV_ARG2) { memcpy(opt + n, &ev->arg2, 8); n += 8; }
    struct obt_event e = {
        .op = ev->op, .obj_type = ev->obj_type, .flags = flags,
        .object = ev->object, .count = ev->count, .stack = ev->stack,
    };
    uint64_t seq = t->seq;
    write_record_at(t, OBT_REC_EVENT, SYNTH_NS(seq), &e, sizeof(e), opt, n, NULL, 0);
    t->seq++;
    t->cur->events++;
    return seq;
}

void synth_dropped(struct synth_trace *t, uint32_t count, uint32_t reason)
{
    struct obt_dropped d = { .count = count, .reason = reason };
    write_record(t, OBT_REC_DROPPED, &d, sizeof(d), NULL, 0, NULL, 0);
}

void synth_end(struct synth_trace *t)
{
    struct obt_end e = { .dropped = 0 };
    write_record(t, OBT_REC_END, &e, sizeof(e), NULL, 0, NULL, 0);
}

void synth_raw(struct synth_trace *t, uint16_t type, const void *payload, uint16_t payload_len)
{
    struct obt_record_header h = { 0 };
    write_record(t, type, &h, sizeof(h), payload, payload_len, NULL, 0);
}

void synth_thread_skew(struct synth_trace *t, int64_t ns)
{
    t->cur->skew = ns;
}

uint64_t synth_next_seq(const struct synth_trace *t)
{
    return t->seq;
}

int synth_close(struct synth_trace *t)
{
    for (unsigned i = 0; i < t->nthreads; i++) {
        chunk_flush(t, &t->chunks[i]);
        free(t->chunks[i].buf);
    }
    int rc = t->error ? -1 : 0;
    if (close(t->fd) < 0)
        rc = -1;
    free(t);
    errno = rc ? EIO : 0;
    return rc;
}
