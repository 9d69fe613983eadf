/*
 * trace_parse.h - a minimal, independent reader of obtrace traces for the
 * tracer's tests (the analyzer has its own reader; this one exists so the
 * writer is checked against doc/trace-format.md, not against itself).
 * Header-only: include it from one test file.
 */
#ifndef OBTRACE_TEST_TRACE_PARSE_H
#define OBTRACE_TEST_TRACE_PARSE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "obtrace/trace.h"

struct tp_event {
    uint64_t seq, ns; /* seq: the thread's own event number, from 0 */
    uint32_t tid;
    uint8_t op, obj_type;
    uint16_t flags;
    uint32_t object, stack, tag, obj2, string, module;
    int32_t count, status;
    uint64_t arg, arg2;
};

struct tp_stack {
    uint32_t id, depth;
    uint64_t *frames;
};

struct tp_module {
    uint32_t instance;
    uint64_t base, start, end;
    int unloaded;
    size_t load_index, unload_index; /* record order within the file walk */
    char path[512];
};

struct tp_object {
    uint32_t id;
    uint8_t type;
    uint64_t address;
    uint32_t owner, image;
    char name[256];
};

struct tp_trace {
    struct obt_file_header h;
    struct tp_event *ev;
    size_t nev;
    struct tp_stack *st;
    size_t nst;
    struct tp_module *mod;
    size_t nmod;
    struct tp_object *obj;
    size_t nobj;
    int nend;
    struct obt_end end;
    size_t records;
    size_t chunks;
};

/* Appends item, growing arr geometrically when n reaches a power of two. */
#define TP_PUSH(arr, n, item)                                              \
    do {                                                                   \
        if (((n) & ((n) - 1)) == 0)                                        \
            arr = realloc(arr, ((n) ? (n) * 2 : 16) * sizeof(*(arr)));     \
        (arr)[(n)++] = (item);                                             \
    } while (0)

static inline void tp_free(struct tp_trace *t)
{
    for (size_t i = 0; i < t->nst; i++)
        free(t->st[i].frames);
    free(t->ev);
    free(t->st);
    free(t->mod);
    free(t->obj);
    memset(t, 0, sizeof(*t));
}

/* Bytes of well-framed records at the start of the chunk at c. */
static inline uint32_t tp_chunk_used(const char *c, uint32_t chunk_size)
{
    uint32_t pos = OBT_CHUNK_HEADER_SIZE;
    while (pos + 4 <= chunk_size) {
        struct obt_record_header rh;
        memcpy(&rh, c + pos, 4);
        if (!rh.type || rh.size < 4 || (rh.size & 3) || pos + rh.size > chunk_size)
            break;
        pos += rh.size;
    }
    return pos;
}

/*
 * 1 when the chunk at off is to be read: a started chunk with no fuller
 * copy of the same thread chunk elsewhere in the file (a process that died
 * between copying its staging chunk out and clearing it leaves two; the
 * earlier one in the file wins a tie).
 */
static inline int tp_chunk_kept(const char *m, uint64_t file_size, uint32_t chunk_size, uint64_t off)
{
    struct obt_chunk_header ch, other;
    memcpy(&ch, m + off, sizeof(ch));
    if (ch.magic != OBT_CHUNK_MAGIC)
        return 0;
    uint32_t used = tp_chunk_used(m + off, chunk_size);
    for (uint64_t o = obt_chunk_offset(chunk_size, 0); o + chunk_size <= file_size; o += chunk_size) {
        memcpy(&other, m + o, sizeof(other));
        if (o == off || other.magic != OBT_CHUNK_MAGIC || other.tid != ch.tid ||
            other.thread_serial != ch.thread_serial || other.thread_chunk_no != ch.thread_chunk_no ||
            other.base_seq != ch.base_seq)
            continue;
        uint32_t u = tp_chunk_used(m + o, chunk_size);
        if (u > used || (u == used && o < off))
            return 0;
    }
    return 1;
}

static inline void tp_event_decode(const char *r, uint64_t seq, uint64_t base_ns, uint32_t tid,
                                   struct tp_event *e)
{
    struct obt_event fx;
    memcpy(&fx, r, sizeof(fx));
    memset(e, 0, sizeof(*e));
    e->seq = seq;
    e->ns = base_ns + fx.ts_delta;
    e->tid = tid;
    e->op = fx.op;
    e->obj_type = fx.obj_type;
    e->flags = fx.flags;
    e->object = fx.object;
    e->count = fx.count;
    e->stack = fx.stack;
    const char *q = r + sizeof(fx);
#define TP_GET(flag, field, n)              \
    if (fx.flags & flag) {                  \
        memcpy(&e->field, q, n);            \
        q += n;                             \
    }
    TP_GET(OBT_EV_TAG, tag, 4)
    TP_GET(OBT_EV_STATUS, status, 4)
    TP_GET(OBT_EV_OBJ2, obj2, 4)
    TP_GET(OBT_EV_ARG, arg, 8)
    TP_GET(OBT_EV_STRING, string, 4)
    TP_GET(OBT_EV_MODULE, module, 4)
    TP_GET(OBT_EV_ARG2, arg2, 8)
#undef TP_GET
}

/* Loads path into *t. 0, or -1 when it is no trace. */
static inline int tp_load(const char *path, struct tp_trace *t)
{
    struct stat sb;
    int fd = open(path, O_RDONLY);
    memset(t, 0, sizeof(*t));
    if (fd < 0 || fstat(fd, &sb) || sb.st_size < (off_t)OBT_HEADER_SIZE) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    memcpy(&t->h, m, sizeof(t->h));
    if (memcmp(t->h.magic, OBT_MAGIC, 8) || t->h.version != OBT_VERSION || t->h.chunk_size < 4096) {
        munmap(m, (size_t)sb.st_size);
        return -1;
    }
    for (uint64_t off = obt_chunk_offset(t->h.chunk_size, 0); off + t->h.chunk_size <= (uint64_t)sb.st_size;
         off += t->h.chunk_size) {
        const char *c = m + off;
        struct obt_chunk_header ch;
        memcpy(&ch, c, sizeof(ch));
        if (!tp_chunk_kept(m, (uint64_t)sb.st_size, t->h.chunk_size, off))
            continue;
        t->chunks++;
        uint64_t bs = ch.base_seq, bn = ch.base_ns;
        for (uint32_t pos = OBT_CHUNK_HEADER_SIZE; pos + 4 <= t->h.chunk_size;) {
            struct obt_record_header rh;
            memcpy(&rh, c + pos, 4);
            if (!rh.type || rh.size < 4 || (rh.size & 3) || pos + rh.size > t->h.chunk_size)
                break;
            const char *r = c + pos;
            t->records++;
            if (rh.type == OBT_REC_EVENT) {
                struct tp_event e;
                tp_event_decode(r, bs++, bn, ch.tid, &e);
                TP_PUSH(t->ev, t->nev, e);
            } else if (rh.type == OBT_REC_STACK) {
                struct obt_stack s;
                struct tp_stack ts;
                memcpy(&s, r, sizeof(s));
                ts.id = s.id;
                ts.depth = s.depth;
                ts.frames = malloc(s.depth * 8 + 8);
                memcpy(ts.frames, r + sizeof(s), s.depth * 8);
                TP_PUSH(t->st, t->nst, ts);
            } else if (rh.type == OBT_REC_MODULE_LOAD) {
                struct obt_module_load ml;
                struct tp_module tm;
                memcpy(&ml, r, sizeof(ml));
                memset(&tm, 0, sizeof(tm));
                tm.instance = ml.instance;
                tm.base = ml.base;
                tm.start = ml.start;
                tm.end = ml.end;
                tm.load_index = t->records;
                size_t n = ml.path_len < sizeof(tm.path) - 1 ? ml.path_len : sizeof(tm.path) - 1;
                memcpy(tm.path, r + sizeof(ml) + ml.build_id_len, n);
                TP_PUSH(t->mod, t->nmod, tm);
            } else if (rh.type == OBT_REC_MODULE_UNLOAD) {
                struct obt_module_unload mu;
                memcpy(&mu, r, sizeof(mu));
                for (size_t i = 0; i < t->nmod; i++)
                    if (t->mod[i].instance == mu.instance) {
                        t->mod[i].unloaded = 1;
                        t->mod[i].unload_index = t->records;
                    }
            } else if (rh.type == OBT_REC_OBJECT) {
                struct obt_object ob;
                struct tp_object to;
                memcpy(&ob, r, sizeof(ob));
                memset(&to, 0, sizeof(to));
                to.id = ob.id;
                to.type = ob.type;
                to.address = ob.address;
                to.owner = ob.owner;
                to.image = ob.image;
                memcpy(to.name, r + sizeof(ob), ob.name_len < 255 ? ob.name_len : 255);
                TP_PUSH(t->obj, t->nobj, to);
            } else if (rh.type == OBT_REC_END) {
                memcpy(&t->end, r, sizeof(t->end));
                t->nend++;
            } else if (rh.type == OBT_REC_REBASE) {
                struct obt_rebase rb;
                memcpy(&rb, r, sizeof(rb));
                bs = rb.base_seq;
                bn = rb.base_ns;
            }
            pos += rh.size;
        }
    }
    munmap(m, (size_t)sb.st_size);
    return 0;
}

static inline const struct tp_stack *tp_stack(const struct tp_trace *t, uint32_t id)
{
    for (size_t i = 0; i < t->nst; i++)
        if (t->st[i].id == id)
            return &t->st[i];
    return NULL;
}

static inline const struct tp_module *tp_module_at(const struct tp_trace *t, uint64_t addr, int live_only)
{
    for (size_t i = t->nmod; i-- > 0;)
        if (addr >= t->mod[i].start && addr < t->mod[i].end && (!live_only || !t->mod[i].unloaded))
            return &t->mod[i];
    return NULL;
}

static inline size_t tp_count_op(const struct tp_trace *t, uint8_t op)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nev; i++)
        n += t->ev[i].op == op;
    return n;
}

static int tp_cmp_u64_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] != y[0] ? (x[0] < y[0] ? -1 : 1) : x[1] < y[1] ? -1 : x[1] > y[1];
}

/* 1 when each thread's events are numbered exactly 0, 1, 2 ... in its chunks, each once. */
static inline int tp_threads_dense(const struct tp_trace *t)
{
    uint64_t *s = malloc((t->nev + 1) * 2 * sizeof(*s));
    int ok = 1;
    for (size_t i = 0; i < t->nev; i++) {
        s[2 * i] = t->ev[i].tid;
        s[2 * i + 1] = t->ev[i].seq;
    }
    qsort(s, t->nev, 2 * sizeof(*s), tp_cmp_u64_pair);
    for (size_t i = 0, first = 0; i < t->nev && ok; i++) {
        if (i && s[2 * i] != s[2 * i - 2])
            first = i;
        ok = s[2 * i + 1] == i - first;
    }
    free(s);
    return ok;
}

#endif /* OBTRACE_TEST_TRACE_PARSE_H */

/*
 * Streams the chunks of path (without keeping their events): *nev events
 * in *threads threads, *breaks places where a thread's chunk does not
 * start at its events so far (a lost or repeated event) or its chunk
 * numbers skip. Returns 0, or -1 when path is no trace.
 */
static inline int tp_scan_threads(const char *path, uint64_t *nev, uint64_t *threads, uint64_t *breaks)
{
    struct stat sb;
    struct obt_file_header h;
    int fd = open(path, O_RDONLY);
    uint64_t *ck = NULL; /* per chunk: thread (tid, serial), chunk_no, base_seq, events */
    size_t nck = 0;
    *nev = *threads = *breaks = 0;
    if (fd < 0 || fstat(fd, &sb)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    memcpy(&h, m, sizeof(h));
    for (uint64_t off = obt_chunk_offset(h.chunk_size, 0); off + h.chunk_size <= (uint64_t)sb.st_size;
         off += h.chunk_size) {
        const char *c = m + off;
        struct obt_chunk_header ch;
        uint64_t n = 0;
        memcpy(&ch, c, sizeof(ch));
        if (!tp_chunk_kept(m, (uint64_t)sb.st_size, h.chunk_size, off))
            continue;
        for (uint32_t pos = OBT_CHUNK_HEADER_SIZE; pos + 4 <= h.chunk_size;) {
            struct obt_record_header rh;
            memcpy(&rh, c + pos, 4);
            if (!rh.type || rh.size < 4 || pos + rh.size > h.chunk_size)
                break;
            n += rh.type == OBT_REC_EVENT;
            pos += rh.size;
        }
        ck = realloc(ck, (nck + 1) * 4 * sizeof(*ck));
        ck[4 * nck] = (uint64_t)ch.tid << 32 | ch.thread_serial;
        ck[4 * nck + 1] = ch.thread_chunk_no;
        ck[4 * nck + 2] = ch.base_seq;
        ck[4 * nck + 3] = n;
        nck++;
        *nev += n;
    }
    munmap(m, (size_t)sb.st_size);
    qsort(ck, nck, 4 * sizeof(*ck), tp_cmp_u64_pair); /* by thread, then chunk number */
    for (size_t i = 0; i < nck; i++) {
        int first = !i || ck[4 * i] != ck[4 * i - 4];
        *threads += first;
        if (first ? ck[4 * i + 1] != 0 || ck[4 * i + 2] != 0
                  : ck[4 * i + 1] != ck[4 * i - 3] + 1 || ck[4 * i + 2] != ck[4 * i - 2] + ck[4 * i - 1])
            (*breaks)++;
    }
    free(ck);
    return 0;
}
