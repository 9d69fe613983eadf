/*
 * writer.c - the crash-safe trace file writer (see writer.h).
 *
 * File layout: [header page][hole][chunk 0][chunk 1]... Chunk k lives at
 * obt_chunk_offset(chunk_size, k) = (k + 1) * chunk_size, aligned to its
 * size. The file is grown with ftruncate one segment (OBT_SEGMENT_CHUNKS
 * chunks) at a time, which on every common file system only reserves a
 * sparse range, and each segment is mapped once, MAP_SHARED.
 *
 * Each thread writes its records into one chunk of the file, its staging
 * chunk, mapped and populated once when the thread starts writing. Stores
 * into a MAP_SHARED file mapping are in the page cache the moment they are
 * made: a SIGKILL, abort or crash cannot lose them. When the staging chunk
 * is full the thread copies it with one pwrite into a freshly claimed
 * chunk, then clears it (magic first) and goes on in the same memory as
 * its next chunk. So the event path stores into memory that is already
 * mapped, dirty and in the cache, and new file pages are made by pwrite,
 * which fills them without zeroing them first and without a page fault: a
 * buffered write's cost, where storing into fresh mapped pages cost a fault
 * and a page of zeros each. A crash between the copy and the clearing
 * leaves the chunk twice in the file; readers keep the fuller copy.
 *
 * A store into a file page the file system cannot back (disk full, quota)
 * raises SIGBUS, which would kill the traced program. So no staging chunk
 * is written before its pages are backed: the populate call reports the
 * refusal instead of faulting. pwrite reports a refusal as an error, and a
 * file-size limit (RLIMIT_FSIZE, whose excess raises SIGXFSZ) is checked
 * before the file grows. The first refusal marks the header
 * OBT_FILE_OUT_OF_SPACE and every later claim fails at once: the program
 * runs on, its later events are counted dropped, and what the staging
 * chunks hold stays in the file.
 */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OBT_WRITER_FD_MIN 512

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * The trace clock is CLOCK_MONOTONIC. Where the CPU has an invariant TSC
 * (constant_tsc and nonstop_tsc) it is read as the TSC scaled by a factor
 * calibrated once against CLOCK_MONOTONIC: a quarter of the cost of the
 * vDSO call, which dominated the event path. Elsewhere clock_gettime.
 */
static struct {
    int use_tsc;
    uint64_t tsc0, ns0, mult; /* ns = ns0 + ((tsc - tsc0) * mult) >> 32 */
} clk;
static pthread_once_t clk_once = PTHREAD_ONCE_INIT;

static int cpu_has_invariant_tsc(void)
{
#if defined(__x86_64__)
    char buf[8192];
    int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    return strstr(buf, " constant_tsc") && strstr(buf, " nonstop_tsc");
#else
    return 0;
#endif
}

static void clock_calibrate(void)
{
#if defined(__x86_64__)
    if (!cpu_has_invariant_tsc())
        return;
    uint64_t n0 = monotonic_ns(), t0 = __builtin_ia32_rdtsc(), n1, t1;
    do {
        n1 = monotonic_ns();
        t1 = __builtin_ia32_rdtsc();
    } while (n1 - n0 < 200000);
    if (t1 <= t0)
        return;
    clk.mult = (uint64_t)((((__uint128_t)(n1 - n0)) << 32) / (t1 - t0));
    clk.tsc0 = t1;
    clk.ns0 = n1;
    clk.use_tsc = clk.mult != 0;
#endif
}

uint64_t obt_now_ns(void)
{
#if defined(__x86_64__)
    if (__builtin_expect(clk.use_tsc, 1)) {
        uint64_t d = __builtin_ia32_rdtsc() - clk.tsc0;
        return clk.ns0 + (uint64_t)(((__uint128_t)d * clk.mult) >> 32);
    }
#endif
    return monotonic_ns();
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t segment_bytes(const struct obt_writer *w)
{
    return (uint64_t)w->chunk_size * OBT_SEGMENT_CHUNKS;
}

static uint64_t segment_offset(const struct obt_writer *w, uint64_t seg)
{
    return obt_chunk_offset(w->chunk_size, seg * OBT_SEGMENT_CHUNKS);
}

/*
 * Marks the trace cut short by the file system (OBT_FILE_OUT_OF_SPACE and
 * the errno in the mapped header); the first refusal is the one kept.
 */
static void writer_out_of_space(struct obt_writer *w, int err)
{
    struct obt_file_header *h = (struct obt_file_header *)w->header;

    if (atomic_exchange(&w->out_of_space, 1))
        return;
    __atomic_store_n(&h->space_errno, (uint32_t)err, __ATOMIC_RELAXED);
    __atomic_fetch_or(&h->flags, (uint16_t)OBT_FILE_OUT_OF_SPACE, __ATOMIC_RELEASE);
}

/* The file size RLIMIT_FSIZE allows (growing past it raises SIGXFSZ); UINT64_MAX without a limit. */
static uint64_t file_size_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return (uint64_t)rl.rlim_cur;
    return UINT64_MAX;
}

/* 0 when chunk k lies within the file-size limit, else EFBIG. */
static int chunk_allowed(const struct obt_writer *w, uint64_t k)
{
    return obt_chunk_offset(w->chunk_size, k + 1) <= w->file_limit ? 0 : EFBIG;
}

/*
 * Grows the file to end bytes, or to the last whole chunk within the
 * file-size limit when that is less (the chunks past it are refused at
 * their claim), under grow_lock. 0, or
 * the errno of the refusal.
 */
static int file_grow(struct obt_writer *w, uint64_t end)
{
    if (end > w->file_limit) /* whole chunks only: a reader takes a part of one for a cut file */
        end = w->file_limit < w->chunk_size ? OBT_HEADER_SIZE : w->file_limit / w->chunk_size * w->chunk_size;
    if (end <= w->file_size)
        return 0;
    if (ftruncate(w->fd, (off_t)end) != 0)
        return errno;
    w->file_size = end;
    return 0;
}

/*
 * Gives the len file bytes at off, mapped at addr, their pages before
 * anything is stored there, so no store can fault for want of space. 0, or
 * the errno of the refusal. MADV_POPULATE_WRITE fails with EFAULT where a
 * store would raise SIGBUS; fallocate then names the reason (and reserves
 * the blocks on kernels without that madvise). Without either, the pages
 * are used as they are.
 */
static int pages_back(int fd, void *addr, uint64_t off, uint32_t len)
{
    int populate = madvise(addr, len, MADV_POPULATE_WRITE) == 0 ? 0 : errno;

    if (!populate || populate == ENOMEM || populate == EINTR)
        return 0; /* populated, or a store faults as the program's own would */
    if (fallocate(fd, 0, (off_t)off, (off_t)len) != 0)
        return errno == EOPNOTSUPP && populate == EINVAL ? 0 : errno;
    if (populate == EINVAL)
        return 0; /* no MADV_POPULATE_WRITE: the blocks are reserved */
    return madvise(addr, len, MADV_POPULATE_WRITE) == 0 ? 0 : ENOSPC;
}

/* pages_back for chunk k, mapped at c. */
static int chunk_back(struct obt_writer *w, char *c, uint64_t k)
{
    return pages_back(w->fd, c, obt_chunk_offset(w->chunk_size, k), w->chunk_size);
}

/* Maps segment seg, growing the file to cover it. Returns the mapping or NULL. */
static char *segment_map(struct obt_writer *w, uint64_t seg)
{
    char *m;

    if (seg >= OBT_MAX_SEGMENTS)
        return NULL;
    m = atomic_load_explicit(&w->segments[seg], memory_order_acquire);
    if (m)
        return m;
    pthread_mutex_lock(&w->grow_lock);
    m = atomic_load_explicit(&w->segments[seg], memory_order_relaxed);
    if (!m) {
        uint64_t end = segment_offset(w, seg + 1);
        int err = file_grow(w, end);
        if (err)
            writer_out_of_space(w, err);
        else {
            void *p = mmap(NULL, segment_bytes(w), PROT_READ | PROT_WRITE, MAP_SHARED, w->fd,
                           (off_t)segment_offset(w, seg));
            if (p != MAP_FAILED) {
                m = p;
                atomic_store_explicit(&w->segments[seg], m, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&w->grow_lock);
    return m;
}

static void header_fill(struct obt_writer *w, const struct obt_writer_info *info)
{
    struct obt_file_header h;
    uint32_t room = OBT_HEADER_SIZE - sizeof(h);
    uint32_t len = info->cmdline_len < room ? info->cmdline_len : room;

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, OBT_MAGIC, 8);
    h.version = OBT_VERSION;
    h.header_size = OBT_HEADER_SIZE;
    h.byte_order = OBT_BYTE_ORDER_MARK;
    h.pointer_size = sizeof(void *);
    h.clock = OBT_CLOCK_MONOTONIC;
    h.flags = info->flags;
    h.chunk_size = w->chunk_size;
    h.pid = info->pid;
    h.ppid = info->ppid;
    h.start_realtime_ns = realtime_ns();
    h.start_clock_ns = monotonic_ns();
    h.cmdline_len = len;
    if (len)
        memcpy(w->header + sizeof(h), info->cmdline, len);
    /* The magic goes last: a header without it is no trace yet. */
    memcpy(w->header + 8, (char *)&h + 8, sizeof(h) - 8);
    atomic_thread_fence(memory_order_release);
    memcpy(w->header, h.magic, 8);
}

int obt_writer_init(struct obt_writer *w, const char *path, uint32_t chunk_size,
                    const struct obt_writer_info *info)
{
    long page = sysconf(_SC_PAGESIZE);
    int err;

    pthread_once(&clk_once, clock_calibrate);
    memset(w, 0, sizeof(*w));
    if (!chunk_size)
        chunk_size = OBT_CHUNK_SIZE_DEFAULT;
    w->chunk_size = (uint32_t)(((uint64_t)chunk_size + (uint64_t)page - 1) / (uint64_t)page * (uint64_t)page);
    if (strlen(path) >= sizeof(w->path))
        return -ENAMETOOLONG;
    strcpy(w->path, path);
    pthread_mutex_init(&w->grow_lock, NULL);
    w->file_limit = file_size_limit();
    w->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (w->fd < 0)
        return -errno;
    /* Out of the way of programs that expect the low descriptors to be theirs. */
    int high = fcntl(w->fd, F_DUPFD_CLOEXEC, OBT_WRITER_FD_MIN);
    if (high >= 0) {
        close(w->fd);
        w->fd = high;
    }
    if (ftruncate(w->fd, OBT_HEADER_SIZE) != 0)
        goto fail;
    w->file_size = OBT_HEADER_SIZE;
    w->header = mmap(NULL, OBT_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
    if (w->header == MAP_FAILED) {
        w->header = NULL;
        goto fail;
    }
    if ((err = pages_back(w->fd, w->header, 0, OBT_HEADER_SIZE))) {
        errno = err;
        goto fail;
    }
    header_fill(w, info);
    if (!segment_map(w, 0)) {
        errno = ENOSPC;
        goto fail;
    }
    return 0;
fail:
    err = errno ? errno : EIO;
    obt_writer_release(w);
    unlink(path);
    return -err;
}

static char *chunk_address(struct obt_writer *w, uint64_t k)
{
    char *m = segment_map(w, k / OBT_SEGMENT_CHUNKS);
    return m ? m + (k % OBT_SEGMENT_CHUNKS) * w->chunk_size : NULL;
}

void obt_writer_release(struct obt_writer *w)
{
    for (unsigned i = 0; i < OBT_MAX_SEGMENTS; i++) {
        char *m = atomic_load(&w->segments[i]);
        if (!m)
            break;
        munmap(m, segment_bytes(w));
        atomic_store(&w->segments[i], NULL);
    }
    if (w->header)
        munmap(w->header, OBT_HEADER_SIZE);
    w->header = NULL;
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    atomic_store(&w->finished, 1);
}

/* Starts chunk c as tb's next chunk (its header, the magic last), its time base base_ns. */
static void chunk_begin(struct obt_tbuf *tb, char *c, uint64_t base_ns)
{
    struct obt_chunk_header ch;
    memset(&ch, 0, sizeof(ch));
    ch.tid = tb->tid;
    ch.base_seq = tb->seq;
    ch.base_ns = base_ns;
    ch.thread_chunk_no = tb->chunk_no++;
    ch.thread_serial = tb->serial;
    memcpy(c + 4, (char *)&ch + 4, sizeof(ch) - 4);
    __atomic_store_n((uint32_t *)c, OBT_CHUNK_MAGIC, __ATOMIC_RELEASE);
    tb->chunk = c;
    tb->pos = OBT_CHUNK_HEADER_SIZE;
    tb->base_ns = base_ns;
}

/* Claims chunk k of the file, mapping (and growing the file to) its segment: its address, or NULL. */
static char *chunk_claim(struct obt_writer *w, uint64_t *k)
{
    int err;
    if (atomic_load_explicit(&w->out_of_space, memory_order_relaxed))
        return NULL;
    *k = atomic_fetch_add_explicit(&w->next_chunk, 1, memory_order_relaxed);
    char *c = chunk_address(w, *k);
    if (c && (err = chunk_allowed(w, *k))) {
        writer_out_of_space(w, err);
        return NULL;
    }
    return c;
}

/*
 * Copies tb's full staging chunk into a freshly claimed chunk with one
 * pwrite, then clears the staging chunk, magic first: a crash before the
 * clearing leaves two copies, one after it the copy alone. 0, or -1 when
 * the file refused the copy (the staging chunk then keeps its records).
 * The copy is the whole chunk, its unused tail zeros as the clearing left
 * them: a write of a whole aligned chunk fills whole large folios, one a
 * few bytes short costs half as much again (ext4, 64 KiB: 5.4 against 8.0
 * ns per 24-byte event).
 */
static int stage_flush(struct obt_writer *w, struct obt_tbuf *tb)
{
    uint64_t k;
    ssize_t n;
    if (!chunk_claim(w, &k))
        return -1;
    do
        n = pwrite(w->fd, tb->chunk, w->chunk_size, (off_t)obt_chunk_offset(w->chunk_size, k));
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)w->chunk_size) {
        writer_out_of_space(w, n < 0 ? errno : ENOSPC);
        return -1;
    }
    __atomic_store_n((uint32_t *)tb->chunk, 0u, __ATOMIC_RELEASE);
    /* the compiler may not clear a byte before the magic: a half-cleared chunk must not read as a copy */
    atomic_signal_fence(memory_order_seq_cst);
    memset(tb->chunk + 4, 0, tb->pos - 4);
    return 0;
}

/*
 * Gives tb room in a fresh chunk, its time base base_ns: the first time a
 * staging chunk of its own (claimed, its pages backed), later the same
 * staging chunk once its records were copied out. 0 on success.
 */
static int tbuf_claim(struct obt_writer *w, struct obt_tbuf *tb, uint64_t base_ns)
{
    char *c = tb->chunk;
    uint64_t k;
    int err;

    if (c) {
        if (stage_flush(w, tb))
            return -1;
    } else {
        if (!(c = chunk_claim(w, &k)))
            return -1;
        tb->serial = atomic_fetch_add_explicit(&w->threads, 1, memory_order_relaxed) + 1;
        if ((err = chunk_back(w, c, k))) {
            writer_out_of_space(w, err);
            return -1;
        }
    }
    chunk_begin(tb, c, base_ns);
    return 0;
}

static void tbuf_sync_generation(struct obt_writer *w, struct obt_tbuf *tb)
{
    if (tb->generation != w->generation) {
        tb->chunk = NULL;
        tb->chunk_no = 0;
        tb->seq = 0;
        tb->generation = w->generation;
    }
}

void *obt_tbuf_reserve(struct obt_writer *w, struct obt_tbuf *tb, uint32_t size)
{
    tbuf_sync_generation(w, tb);
    if (size > w->chunk_size - OBT_CHUNK_HEADER_SIZE)
        return NULL;
    if (!tb->chunk || tb->pos + size > w->chunk_size) {
        if (tbuf_claim(w, tb, obt_now_ns()))
            return NULL;
    }
    return tb->chunk + tb->pos;
}

int obt_tbuf_write(struct obt_writer *w, struct obt_tbuf *tb, uint16_t type, const void *rec, uint32_t size)
{
    char *p = obt_tbuf_reserve(w, tb, size);
    if (!p)
        return -1;
    memcpy(p + sizeof(struct obt_record_header), (const char *)rec + sizeof(struct obt_record_header),
           size - sizeof(struct obt_record_header));
    obt_tbuf_commit(tb, p, type, size);
    return 0;
}

void *obt_tbuf_timed_slot_slow(struct obt_writer *w, struct obt_tbuf *tb, uint32_t size, uint64_t now_ns)
{
    tbuf_sync_generation(w, tb);
    if (__builtin_expect(tb->chunk != NULL && tb->pos + size <= w->chunk_size, 1)) {
        if (__builtin_expect(now_ns - tb->base_ns <= UINT32_MAX, 1))
            return tb->chunk + tb->pos;
        if (tb->pos + size + sizeof(struct obt_rebase) <= w->chunk_size) {
            struct obt_rebase rb;
            memset(&rb, 0, sizeof(rb));
            rb.base_seq = tb->seq;
            rb.base_ns = now_ns;
            char *p = tb->chunk + tb->pos;
            memcpy(p + 4, (char *)&rb + 4, sizeof(rb) - 4);
            obt_tbuf_commit(tb, p, OBT_REC_REBASE, sizeof(rb));
            tb->base_ns = now_ns;
            return tb->chunk + tb->pos;
        }
    }
    if (size > w->chunk_size - OBT_CHUNK_HEADER_SIZE || tbuf_claim(w, tb, now_ns))
        return NULL;
    return tb->chunk + tb->pos;
}

int obt_tbuf_write_timed(struct obt_writer *w, struct obt_tbuf *tb, uint16_t type, const void *rec, uint32_t size)
{
    uint64_t now = obt_now_ns();
    char *p = obt_tbuf_timed_slot(w, tb, size, now);
    uint32_t delta;
    if (!p)
        return -1;
    delta = (uint32_t)(now - tb->base_ns);
    memcpy(p + OBT_TS_DELTA_OFFSET, &delta, 4);
    memcpy(p + OBT_TS_DELTA_OFFSET + 4, (const char *)rec + OBT_TS_DELTA_OFFSET + 4,
           size - OBT_TS_DELTA_OFFSET - 4);
    obt_tbuf_commit(tb, p, type, size);
    return 0;
}

void obt_writer_write_end(struct obt_writer *w, struct obt_tbuf *tb)
{
    struct obt_end end;
    memset(&end, 0, sizeof(end));
    end.dropped = atomic_load(&w->dropped);
    end.failures = atomic_load(&w->failures);
    obt_tbuf_write_timed(w, tb, OBT_REC_END, &end, sizeof(end));
}

void obt_writer_finish(struct obt_writer *w, struct obt_tbuf *tb)
{
    uint64_t claimed;

    if (atomic_exchange(&w->finished, 1))
        return;
    obt_writer_write_end(w, tb);
    /* Poison the chunk counter: a claim racing with us lands past every segment and fails. */
    claimed = atomic_fetch_add(&w->next_chunk, (uint64_t)1 << 40);
    pthread_mutex_lock(&w->grow_lock);
    uint64_t used = claimed ? obt_chunk_offset(w->chunk_size, claimed) : OBT_HEADER_SIZE;
    if (used > w->file_size)
        used = w->file_size; /* claims refused past the end hold nothing */
    if (ftruncate(w->fd, (off_t)used) == 0)
        w->file_size = used;
    pthread_mutex_unlock(&w->grow_lock);
}
