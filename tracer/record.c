/*
 * record.c - `obtrace record` (see record.h): finds libobtrace.so next to
 * the obtrace binary, puts it first in LD_PRELOAD (after a sanitizer
 * runtime named by OBTRACE_TEST_PRELOAD_PREFIX, which must come first),
 * passes the options as OBTRACE_* variables, runs the program and reports
 * where its traces are. The paths are the tracer's own word: it appends
 * each trace's path to an unlinked file whose descriptor the program
 * inherits (OBTRACE_REPORT_FD), so a name the tracer had to change (taken:
 * ".1"), an exec'd image's and a forked child's are reported as written.
 */
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "obtrace/trace.h"

#define RECORD_EXIT_USAGE 64
#define RECORD_EXIT_UNUSABLE 2
#define RECORD_DEFAULT_OUTPUT "obtrace-%p.obt"
#define RECORD_CHANNEL_FD_MIN 256 /* the channel's number in the program: out of the way of low descriptors */

void obtrace_record_options_init(struct obtrace_record_options *o)
{
    memset(o, 0, sizeof(*o));
    o->depth = -1;
    o->follow_exec = -1;
}

static int default_library(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    if ((size_t)snprintf(buf, len, "%s/../lib/libobtrace.so", exe) >= len)
        return -1;
    return access(buf, R_OK) == 0 ? 0 : -1;
}

static void set_preload(const char *lib)
{
    const char *prefix = getenv("OBTRACE_TEST_PRELOAD_PREFIX");
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(lib) + (prefix ? strlen(prefix) : 0) + (old ? strlen(old) : 0) + 3;
    char *v = malloc(len);
    if (!v)
        return;
    snprintf(v, len, "%s%s%s%s%s", prefix && *prefix ? prefix : "", prefix && *prefix ? ":" : "", lib,
             old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", v, 1);
    free(v);
}

static void set_env(const char *name, const char *value)
{
    if (value)
        setenv(name, value, 1);
}

/* Names the channel to the tracer, on a descriptor the program inherits. */
static void set_channel(int channel)
{
    char num[32];
    int fd = fcntl(channel, F_DUPFD, RECORD_CHANNEL_FD_MIN);
    if (fd < 0)
        fd = fcntl(channel, F_DUPFD, 3);
    if (fd < 0) {
        unsetenv("OBTRACE_REPORT_FD");
        return;
    }
    snprintf(num, sizeof(num), "%d", fd);
    setenv("OBTRACE_REPORT_FD", num, 1);
}

static void child_environment(const struct obtrace_record_options *o, const char *lib, int channel)
{
    char num[32];
    set_preload(lib);
    set_channel(channel);
    set_env("OBTRACE_OUTPUT", o->output);
    if (o->depth >= 0) {
        snprintf(num, sizeof(num), "%d", o->depth);
        setenv("OBTRACE_DEPTH", num, 1);
    }
    set_env("OBTRACE_UNWIND", o->unwind);
    set_env("OBTRACE_TYPES", o->types);
    set_env("OBTRACE_NAMES", o->names);
    set_env("OBTRACE_IMAGES", o->images);
    if (o->follow_exec >= 0)
        setenv("OBTRACE_FOLLOW_EXEC", o->follow_exec ? "1" : "0", 1);
}

/* The trace path for pid: the pattern with %p expanded. */
static void expand_output(const char *pattern, int pid, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = pattern; *p && n + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(out + n, len - n, "%d", pid);
            p++;
            if (n >= len)
                n = len - 1;
        } else if (p[0] == '%' && p[1] == '%') {
            out[n++] = '%';
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = 0;
}

/* Removes a stale trace at a fixed output path so the tracer can create it anew. */
static void remove_stale(const char *pattern)
{
    struct stat st;
    if (strstr(pattern, "%p"))
        return;
    char path[PATH_MAX];
    expand_output(pattern, 0, path, sizeof(path));
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        unlink(path);
}

/* An unlinked file open for appending: the channel the tracer announces its traces on. -1 on failure. */
static int channel_open(void)
{
    const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[PATH_MAX];
    int fd = open(dir, O_TMPFILE | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    if ((size_t)snprintf(path, sizeof(path), "%s/obtrace-record-XXXXXX", dir) >= sizeof(path))
        return -1;
    fd = mkostemp(path, O_APPEND | O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

void obtrace_record_traces_release(struct obtrace_record_traces *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->paths[i]);
    free(t->paths);
    t->paths = NULL;
    t->n = 0;
}

static void traces_add(struct obtrace_record_traces *t, const char *path)
{
    char **grown = realloc(t->paths, (t->n + 1) * sizeof(*grown));
    if (!grown)
        return;
    t->paths = grown;
    if ((t->paths[t->n] = strdup(path)))
        t->n++;
}

/* path (absolute) relative to the current directory when it lies inside it, else path. */
static const char *in_cwd(const char *path)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return path;
    size_t n = strlen(cwd);
    if (n == 1)
        return path + (path[0] == '/');
    return !strncmp(path, cwd, n) && path[n] == '/' ? path + n + 1 : path;
}

/*
 * Reads the paths announced on the channel (absolute, each ending in a
 * NUL) into *t; relative: the output pattern was relative, so are they.
 */
static void channel_read(int channel, int relative, struct obtrace_record_traces *t)
{
    struct stat st;
    size_t got = 0;
    if (fstat(channel, &st) || st.st_size <= 0)
        return;
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return;
    for (ssize_t r; got < (size_t)st.st_size; got += (size_t)r)
        if ((r = pread(channel, buf + got, (size_t)st.st_size - got, (off_t)got)) <= 0)
            break;
    buf[got] = 0; /* a path cut short (the program killed mid-write) still ends */
    for (size_t i = 0; i < got; i += strlen(buf + i) + 1)
        traces_add(t, relative ? in_cwd(buf + i) : buf + i);
    free(buf);
}

/* The library to preload into lib; -1 (a message printed) when there is none. */
static int find_library(const struct obtrace_record_options *o, char *lib, size_t len)
{
    if (o->library) {
        snprintf(lib, len, "%s", o->library);
    } else if (getenv("OBTRACE_LIBRARY")) {
        snprintf(lib, len, "%s", getenv("OBTRACE_LIBRARY"));
    } else if (default_library(lib, len)) {
        fprintf(stderr, "obtrace: record: cannot find libobtrace.so next to the obtrace binary\n");
        return -1;
    }
    return 0;
}

/*
 * Forks and execs argv in the traced environment; waits for it into
 * *status. Returns 0, or -1 (a message printed) when it could not be
 * started.
 */
static int run_traced(const struct obtrace_record_options *o, const char *lib, int channel, char *const argv[],
                      int *status)
{
    /* The child reports a failed exec through a close-on-exec pipe: a program that cannot run is not a trace. */
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        fprintf(stderr, "obtrace: record: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "obtrace: record: fork: %s\n", strerror(errno));
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        child_environment(o, lib, channel);
        execvp(argv[0], argv);
        int err = errno;
        ssize_t unused = write(report[1], &err, sizeof(err));
        (void)unused;
        _exit(127);
    }
    close(report[1]);
    int exec_errno = 0;
    ssize_t got;
    while ((got = read(report[0], &exec_errno, sizeof(exec_errno))) < 0 && errno == EINTR)
        ;
    close(report[0]);
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (got == (ssize_t)sizeof(exec_errno)) {
        fprintf(stderr, "obtrace: record: cannot run %s: %s\n", argv[0], strerror(exec_errno));
        return -1;
    }
    return 0;
}

int obtrace_record_run(const struct obtrace_record_options *o, char *const argv[],
                       struct obtrace_record_traces *traces)
{
    char lib[PATH_MAX];
    const char *env_output = getenv("OBTRACE_OUTPUT");
    const char *output = o->output ? o->output : env_output && *env_output ? env_output : RECORD_DEFAULT_OUTPUT;
    int status;

    traces->paths = NULL;
    traces->n = 0;
    if (find_library(o, lib, sizeof(lib)))
        return -1;
    int channel = channel_open();
    if (channel < 0) {
        fprintf(stderr, "obtrace: record: cannot create the trace report file: %s\n", strerror(errno));
        return -1;
    }
    if (o->output)
        remove_stale(o->output);
    int rc = run_traced(o, lib, channel, argv, &status);
    if (rc == 0)
        channel_read(channel, output[0] != '/', traces);
    close(channel);
    if (rc)
        return -1;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* One chunk as counted: which thread chunk it is, how much of it holds records, its events. */
struct counted_chunk {
    uint32_t tid, serial, chunk_no;
    uint64_t base_seq;
    uint32_t used;
    uint32_t events;
};

static int cmp_counted(const void *a, const void *b)
{
    const struct counted_chunk *x = a, *y = b;
    if (x->tid != y->tid)
        return x->tid < y->tid ? -1 : 1;
    if (x->serial != y->serial)
        return x->serial < y->serial ? -1 : 1;
    if (x->chunk_no != y->chunk_no)
        return x->chunk_no < y->chunk_no ? -1 : 1;
    return x->base_seq < y->base_seq ? -1 : x->base_seq > y->base_seq;
}

/* Walks the records of the chunk at c into *cc; sets *complete when it holds an END. */
static void count_chunk(const char *c, uint32_t chunk_size, struct counted_chunk *cc, int *complete)
{
    struct obt_chunk_header ch;
    uint32_t pos = OBT_CHUNK_HEADER_SIZE;
    memcpy(&ch, c, sizeof(ch));
    *cc = (struct counted_chunk){ ch.tid, ch.thread_serial, ch.thread_chunk_no, ch.base_seq, 0, 0 };
    while (pos + 4 <= chunk_size) {
        struct obt_record_header rh;
        memcpy(&rh, c + pos, sizeof(rh));
        if (rh.type == 0 || rh.size < 4 || pos + rh.size > chunk_size)
            break;
        cc->events += rh.type == OBT_REC_EVENT;
        if (rh.type == OBT_REC_END && rh.size >= sizeof(struct obt_end))
            *complete = 1;
        pos += rh.size;
    }
    cc->used = pos;
}

int64_t obtrace_record_count_events(const char *path, int *complete)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    int64_t events = 0;
    struct obt_file_header h;
    struct counted_chunk *cc = NULL;
    size_t n = 0, cap = 0;

    *complete = 0;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) || (size_t)st.st_size < OBT_HEADER_SIZE) {
        close(fd);
        return -1;
    }
    const char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    memcpy(&h, m, sizeof(h));
    if (memcmp(h.magic, OBT_MAGIC, 8) || h.chunk_size < 4096 || h.byte_order != OBT_BYTE_ORDER_MARK) {
        munmap((void *)m, (size_t)st.st_size);
        return -1;
    }
    for (uint64_t off = obt_chunk_offset(h.chunk_size, 0); off + h.chunk_size <= (uint64_t)st.st_size;
         off += h.chunk_size) {
        uint32_t magic;
        memcpy(&magic, m + off, 4);
        if (magic != OBT_CHUNK_MAGIC)
            continue;
        if (n == cap) {
            struct counted_chunk *grown = realloc(cc, (cap = cap ? cap * 2 : 64) * sizeof(*cc));
            if (!grown)
                break;
            cc = grown;
        }
        count_chunk(m + off, h.chunk_size, &cc[n++], complete);
    }
    munmap((void *)m, (size_t)st.st_size);
    /* A chunk in the file twice (the process died between copying a staging chunk out and clearing it): the fuller copy counts. */
    qsort(cc, n, sizeof(*cc), cmp_counted);
    for (size_t i = 0; i < n; i++) {
        size_t best = i;
        while (i + 1 < n && !cmp_counted(&cc[i], &cc[i + 1]))
            if (cc[++i].used > cc[best].used)
                best = i;
        events += cc[best].events;
    }
    free(cc);
    return events;
}

/* One line on stderr per trace: where it is and how many events it holds. */
static void print_traces(const struct obtrace_record_traces *t, const char *program)
{
    if (!t->n)
        fprintf(stderr, "obtrace: no trace written (%s did not load libntsim)\n", program);
    for (size_t i = 0; i < t->n; i++) {
        int complete;
        int64_t n = obtrace_record_count_events(t->paths[i], &complete);
        fprintf(stderr, "obtrace: trace written to %s (%lld events%s)\n", t->paths[i], (long long)n,
                complete ? "" : ", incomplete");
    }
}

static int usage(FILE *f)
{
    fputs("usage: obtrace record [-o PATH] [--depth N] [--unwind auto|fp|dwarf] [--types LIST]\n"
          "                      [--names GLOBS] [--images GLOBS] [--[no-]follow-exec] [--] PROGRAM [ARGS...]\n",
          f);
    return RECORD_EXIT_USAGE;
}

int obtrace_record_main(int argc, char **argv)
{
    enum { OPT_DEPTH = 256, OPT_UNWIND, OPT_TYPES, OPT_NAMES, OPT_IMAGES, OPT_FOLLOW, OPT_NO_FOLLOW };
    static const struct option longopts[] = {
        { "output", required_argument, NULL, 'o' },      { "depth", required_argument, NULL, OPT_DEPTH },
        { "unwind", required_argument, NULL, OPT_UNWIND }, { "types", required_argument, NULL, OPT_TYPES },
        { "names", required_argument, NULL, OPT_NAMES },   { "images", required_argument, NULL, OPT_IMAGES },
        { "follow-exec", no_argument, NULL, OPT_FOLLOW },  { "no-follow-exec", no_argument, NULL, OPT_NO_FOLLOW },
        { "quiet", no_argument, NULL, 'q' },               { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct obtrace_record_options o;
    char *end;
    int c;

    obtrace_record_options_init(&o);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o.output = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case OPT_DEPTH: {
            errno = 0;
            long depth = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || depth < 0 || depth > 256) {
                fprintf(stderr, "obtrace: record: --depth must be 0..256\n");
                return RECORD_EXIT_USAGE;
            }
            o.depth = (int)depth;
            break;
        }
        case OPT_UNWIND:
            if (strcmp(optarg, "auto") && strcmp(optarg, "fp") && strcmp(optarg, "dwarf")) {
                fprintf(stderr, "obtrace: record: --unwind must be auto, fp or dwarf\n");
                return RECORD_EXIT_USAGE;
            }
            o.unwind = optarg;
            break;
        case OPT_TYPES: o.types = optarg; break;
        case OPT_NAMES: o.names = optarg; break;
        case OPT_IMAGES: o.images = optarg; break;
        case OPT_FOLLOW: o.follow_exec = 1; break;
        case OPT_NO_FOLLOW: o.follow_exec = 0; break;
        default:
            fprintf(stderr, "obtrace: record: unknown option '%s'\n", argv[optind - 1]);
            return usage(stderr);
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "obtrace: record: no program to run\n");
        return usage(stderr);
    }
    struct obtrace_record_traces traces;
    int rc = obtrace_record_run(&o, argv + optind, &traces);
    if (rc >= 0 && !o.quiet)
        print_traces(&traces, argv[optind]);
    obtrace_record_traces_release(&traces);
    return rc < 0 ? RECORD_EXIT_UNUSABLE : rc;
}
