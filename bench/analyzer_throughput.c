/*
 * analyzer_throughput.c - analyzer benchmarks, printed side by side (no
 * thresholds are asserted; bench/run.sh collects the lines):
 *
 *   1. report throughput without symbolization: a synthetic trace of
 *      OBTRACE_BENCH_EVENTS events (default 50M: references and releases on
 *      devices and file objects from two threads, from a few dozen stacks)
 *      is loaded into the model and the rules run, in a child process;
 *   2. peak memory of that child against the trace size;
 *   3. symbolized addresses per second: every code address of this program,
 *      each looked up once by a fresh symbolizer (cold caches), with
 *      dwfl_module_addrinfo on the same addresses as the reference point.
 */
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"
#include "rules.h"
#include "symbolize.h"
#include "synth_trace.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void generate(const char *path, uint64_t events)
{
    struct synth_trace *t = synth_open(path, NULL);
    synth_module_load(t, 1, 0x40000, 0x40000, 0x50000, NULL, 0, "/bench/drv.so");
    synth_object(t, 1, OBT_OBJ_DRIVER, 0x1000, 0, 1, "\\Driver\\bench");
    uint32_t stacks[64];
    for (int i = 0; i < 64; i++) {
        uint64_t f[12];
        for (int k = 0; k < 12; k++)
            f[k] = 0x40000 + (uint64_t)(i * 64 + k * 4096 % 0x8000);
        stacks[i] = synth_stack(t, f, 12);
    }
    SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = 1, .count = 1, .stack = stacks[0]);
    for (uint32_t d = 0; d < 8; d++) {
        synth_object(t, 10 + d, OBT_OBJ_DEVICE, 0x2000 + d * 0x100, 1, 0, "\\Device\\Bench");
        SYNTH_EV(t, .op = OBT_OP_DEV_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = 10 + d, .count = 1, .obj2 = 1,
                 .stack = stacks[1]);
    }
    uint32_t next_file = 1000;
    int count[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
    for (uint64_t i = 0; synth_next_seq(t) < events; i++) {
        synth_thread(t, 100 + (uint32_t)(i & 1));
        uint32_t dev = 10 + (uint32_t)(i % 8);
        uint32_t s = (uint32_t)(i % 24);
        if (i % 64 == 63) { /* a file object opened and closed */
            uint32_t f = next_file++;
            synth_object(t, f, OBT_OBJ_FILE, 0x9000 + (f % 16) * 0x40, 0, 0, "");
            SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_FILE, .object = f, .count = 1, .stack = stacks[40]);
            SYNTH_EV(t, .op = OBT_OP_DEV_OPEN_REF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 1, .stack = stacks[41]);
            SYNTH_EV(t, .op = OBT_OP_HANDLE_OPEN, .obj_type = OBT_OBJ_FILE, .object = f, .count = 1, .stack = stacks[42]);
            SYNTH_EV(t, .op = OBT_OP_HANDLE_CLOSE, .obj_type = OBT_OBJ_FILE, .object = f, .count = 0, .stack = stacks[43]);
            SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_FILE, .object = f, .count = 0, .stack = stacks[44]);
            SYNTH_EV(t, .op = OBT_OP_DEV_OPEN_DEREF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 0, .stack = stacks[45]);
            continue;
        }
        SYNTH_EV(t, .op = OBT_OP_OBJ_REF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = ++count[dev - 10],
                 .stack = stacks[s]);
        SYNTH_EV(t, .op = OBT_OP_OBJ_DEREF, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = --count[dev - 10],
                 .stack = stacks[24 + s]);
    }
    synth_end(t);
    synth_close(t);
}

/* Loads and analyzes the trace in a child; prints events/s and peak memory. */
static void bench_report(const char *path)
{
    struct stat st;
    stat(path, &st);
    int pipefd[2];
    if (pipe(pipefd))
        return;
    pid_t pid = fork();
    if (pid == 0) {
        struct model m;
        struct report r;
        char err[256];
        double t0 = now();
        model_init(&m);
        if (model_load(&m, path, err, sizeof(err)) < 0)
            _exit(1);
        report_init(&r, path);
        rules_run(&m, &r);
        double dt = now() - t0;
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double buf[3] = { dt, (double)m.events, (double)ru.ru_maxrss * 1024.0 };
        if (write(pipefd[1], buf, sizeof(buf)) != sizeof(buf))
            _exit(1);
        _exit(0);
    }
    double buf[3] = { 0 };
    if (read(pipefd[0], buf, sizeof(buf)) != sizeof(buf))
        buf[0] = 0;
    waitpid(pid, NULL, 0);
    if (buf[0] <= 0) {
        printf("analyzer report: failed\n");
        return;
    }
    printf("analyzer report: %.0f events in %.2f s = %.2f M events/s (target >= 5 M/s, one core, no symbolization)\n",
           buf[1], buf[0], buf[1] / buf[0] / 1e6);
    printf("analyzer memory: peak %.1f MiB for a %.1f MiB trace = %.2f%% of the trace (target < 10%%)\n",
           buf[2] / 1048576.0, st.st_size / 1048576.0, 100.0 * buf[2] / (double)st.st_size);
}

struct self_module {
    struct module mod;
    uint64_t text_lo, text_hi;
};

static int find_self(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct self_module *s = ctx;
    if (info->dlpi_name[0]) /* the main program comes first, with an empty name */
        return 0;
    s->mod.base = info->dlpi_addr;
    s->mod.start = UINT64_MAX;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (lo < s->mod.start) s->mod.start = lo;
        if (hi > s->mod.end) s->mod.end = hi;
        if (ph->p_flags & PF_X) {
            s->text_lo = lo;
            s->text_hi = hi;
        }
    }
    return 1;
}

static void bench_symbolize(void)
{
    static char exe[4096];
    struct self_module s = { 0 };
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = 0;
    s.mod.path = exe;
    s.mod.instance = 1;
    dl_iterate_phdr(find_self, &s);
    uint64_t span = s.text_hi - s.text_lo, total = 0;
    double t0 = now();
    unsigned rounds = 0;
    while (total < 2000000) {
        struct symbolizer *sym = symbolizer_new(NULL);
        struct sym_frame f;
        for (uint64_t a = s.text_lo + 1; a < s.text_hi; a++)
            symbolizer_lookup(sym, &s.mod, a, &f, 1);
        symbolizer_free(sym);
        total += span - 1;
        rounds++;
    }
    double dt = now() - t0;
    /* the reference: dwfl_module_addrinfo + dwfl_module_getsrc on a sample of the same addresses */
    static char *debuginfo_path = NULL;
    static const Dwfl_Callbacks cb = { .find_elf = dwfl_build_id_find_elf, .find_debuginfo = dwfl_standard_find_debuginfo,
                                       .section_address = dwfl_offline_section_address, .debuginfo_path = &debuginfo_path };
    Dwfl *dwfl = dwfl_begin(&cb);
    dwfl_report_begin(dwfl);
    Dwfl_Module *dm = dwfl_report_elf(dwfl, "self", exe, -1, s.mod.base, false);
    dwfl_report_end(dwfl, NULL, NULL);
    uint64_t sample = span < 200000 ? span : 200000;
    double t1 = now();
    for (uint64_t a = s.text_lo + 1; dm && a < s.text_lo + sample; a++) {
        GElf_Off off;
        GElf_Sym sy;
        dwfl_module_addrinfo(dm, a - 1, &off, &sy, NULL, NULL, NULL);
        dwfl_module_getsrc(dm, a - 1);
    }
    double dt1 = now() - t1;
    dwfl_end(dwfl);
    printf("analyzer symbolize: %lu distinct addresses (%u cold rounds over %lu bytes of code) in %.2f s = %.2f M "
           "addresses/s (target >= 1 M/s); dwfl_module_addrinfo + getsrc: %.2f M/s (%.1fx)\n",
           (unsigned long)total, rounds, (unsigned long)span, dt, total / dt / 1e6, sample / dt1 / 1e6,
           (total / dt) / (sample / dt1));
}

int main(int argc, char **argv)
{
    const char *env = getenv("OBTRACE_BENCH_EVENTS");
    uint64_t events = env ? strtoull(env, NULL, 10) : 50000000ull;
    char path[256];
    snprintf(path, sizeof(path), "%s/obtrace-bench-%d.obt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    if (argc > 1 && !strcmp(argv[1], "--symbolize-only")) {
        bench_symbolize();
        return 0;
    }
    double t0 = now();
    generate(path, events);
    printf("analyzer bench: generated %lu events in %.1f s\n", (unsigned long)events, now() - t0);
    bench_report(path);
    unlink(path);
    bench_symbolize();
    return 0;
}
