/*
 * tracee.c - the program the tracer tests run under libobtrace (linked
 * with the libntsim stand-in). Each mode exercises one property; the count
 * of completed traced calls goes to fd $TRACEE_REPORT_FD when set (8 bytes each
 * time a call returned), so a test that kills the tracee knows how many
 * events the trace must hold at least.
 *
 *   tracee refs N          N reference/dereference pairs, normal exit
 *   tracee kill            pairs until killed
 *   tracee abort N | segv N   N pairs, then abort() / a NULL store
 *   tracee fork N          N pairs, fork, N pairs in each process
 *   tracee exec N          N pairs, then exec "tracee refs N"
 *   tracee threads T N     T threads, N events each
 *   tracee images A B      load image A, call it, unload; the same with B
 *   tracee internal        a reference the stand-in framework takes itself
 *   tracee deep N          N pairs alternating between two ~25-frame call
 *                          paths that differ in one deep frame only
 *   tracee deep-runs N R   the same paths, now R pairs on one, then R on
 *                          the other, and a frame without a frame pointer
 *                          in the middle of both
 *   tracee foreign-rbp N   N pairs called through a frame whose %rbp is no
 *                          frame pointer (exit 77 where not x86-64)
 *   tracee device          IoCreateDevice on a driver object; prints on
 *                          stderr how often the tracer asked the stand-in
 *                          about objects after the real call returned
 *   tracee sites           prints the address ranges of the call sites
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ntsim.h"
#include "ntsim_kernel.h"

LONG_PTR FakeInternalReference(PVOID Object);
long FakeQueriesSinceCreateDevice(void);

static int report_fd = -1;
static unsigned long long completed;

static void report(void)
{
    completed++;
    if (report_fd >= 0 && write(report_fd, &completed, sizeof(completed)) != sizeof(completed))
        report_fd = -1;
}

__attribute__((noinline, visibility("default"))) LONG_PTR tracee_ref_site(PVOID obj);
LONG_PTR tracee_ref_site(PVOID obj)
{
    LONG_PTR n = ObfReferenceObject(obj);
    __asm__ volatile("" ::: "memory");
    return n;
}

__attribute__((noinline, visibility("default"))) LONG_PTR tracee_deref_site(PVOID obj);
LONG_PTR tracee_deref_site(PVOID obj)
{
    LONG_PTR n = ObfDereferenceObject(obj);
    __asm__ volatile("" ::: "memory");
    return n;
}

static PVOID make_object(const char *name)
{
    UNICODE_STRING us = { (USHORT)strlen(name), (USHORT)strlen(name), (PWSTR)name };
    PVOID obj = NULL;
    if (ObCreateObject((POBJECT_TYPE) "Device", &us, 0, 0, &obj) != STATUS_SUCCESS) {
        fprintf(stderr, "tracee: ObCreateObject failed\n");
        exit(1);
    }
    report();
    return obj;
}

static void pairs(PVOID obj, unsigned long long n)
{
    for (unsigned long long i = 0; i < n; i++) {
        tracee_ref_site(obj);
        report();
        tracee_deref_site(obj);
        report();
    }
}

/*
 * Two call paths that differ in one frame only, DEEP_LEVELS + 2 frames
 * below the call sites: deep_a and deep_b (kept distinct by their stores)
 * each run the same recursion down to a pair, at the same stack depth.
 */
#define DEEP_LEVELS 20
static volatile int deep_which;
static int deep_hop_level = -1; /* the level that goes on through deep_hop_nofp; -1: none */

static void deep_chain(int level, PVOID obj);

/* A frame of the chain built without a frame pointer: its CFA is %rsp-based. */
__attribute__((noinline, optimize("omit-frame-pointer"))) static void deep_hop_nofp(int level, PVOID obj)
{
    volatile int pad[6];
    pad[0] = level;
    deep_chain(pad[0], obj);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void deep_chain(int level, PVOID obj)
{
    if (level == 0) {
        tracee_ref_site(obj);
        report();
        tracee_deref_site(obj);
        report();
    } else if (level == deep_hop_level) {
        deep_hop_nofp(level - 1, obj);
    } else {
        deep_chain(level - 1, obj);
    }
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void deep_a(PVOID obj)
{
    deep_which = 1;
    deep_chain(DEEP_LEVELS, obj);
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void deep_b(PVOID obj)
{
    deep_which = 2;
    deep_chain(DEEP_LEVELS, obj);
    __asm__ volatile("" ::: "memory");
}

/* n pairs, run pairs on one path, then run on the other, and so on. */
static void deep_pairs(PVOID obj, unsigned long long n, unsigned long long run)
{
    void (*volatile path[2])(PVOID) = { deep_a, deep_b };
    for (unsigned long long i = 0; i < n; i++)
        path[(i / run) & 1](obj);
}

/*
 * call_with_foreign_rbp(fn, arg) calls fn(arg) with %rbp holding 1, not a
 * frame pointer, as code built without frame pointers may leave it; its
 * CFI tells the truth, so libunwind steps through it while a frame-pointer
 * walk stops right above it. Written in assembly so no compiler setting
 * can give it a frame pointer.
 */
#if defined(__x86_64__)
LONG_PTR call_with_foreign_rbp(LONG_PTR (*fn)(PVOID), PVOID arg);
__asm__(".text\n"
        ".p2align 4\n"
        ".globl call_with_foreign_rbp\n"
        ".type call_with_foreign_rbp, @function\n"
        "call_with_foreign_rbp:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_rel_offset %rbp, 0\n"
        "mov %rdi, %rax\n"
        "mov %rsi, %rdi\n"
        "mov $1, %ebp\n"
        "call *%rax\n"
        "pop %rbp\n"
        ".cfi_adjust_cfa_offset -8\n"
        ".cfi_restore %rbp\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size call_with_foreign_rbp, .-call_with_foreign_rbp\n");

/* Pairs whose call sites are reached through call_with_foreign_rbp. */
static int foreign_rbp_pairs(PVOID obj, unsigned long long n)
{
    for (unsigned long long i = 0; i < n; i++) {
        call_with_foreign_rbp(tracee_ref_site, obj);
        report();
        call_with_foreign_rbp(tracee_deref_site, obj);
        report();
    }
    return 0;
}
#else
static int foreign_rbp_pairs(PVOID obj, unsigned long long n)
{
    (void)obj;
    (void)n;
    return 77;
}
#endif

/* \Device\TraceeDevice of \Driver\Tracee; reports the tracer's queries about it. */
static int create_device(void)
{
    UNICODE_STRING drv_name = { 14, 14, (PWSTR) "\\Driver\\Tracee" };
    UNICODE_STRING dev_name = { 20, 20, (PWSTR) "\\Device\\TraceeDevice" };
    PVOID drv = NULL;
    PDEVICE_OBJECT dev = NULL;
    if (ObCreateObject((POBJECT_TYPE) "Driver", &drv_name, 0, sizeof(DRIVER_OBJECT), &drv) != STATUS_SUCCESS ||
        IoCreateDevice(drv, 0, &dev_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev) != STATUS_SUCCESS)
        return 1;
    fprintf(stderr, "tracee: queries after IoCreateDevice: %ld\n", FakeQueriesSinceCreateDevice());
    return 0;
}

struct thread_arg {
    PVOID obj;
    unsigned long long n;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    for (unsigned long long i = 0; i < a->n / 2; i++) {
        tracee_ref_site(a->obj);
        tracee_deref_site(a->obj);
    }
    return NULL;
}

/* "name offset size": the function's offset from its object's load address and its size. */
static void print_site(const char *name, void *addr)
{
    Dl_info di;
    const ElfW(Sym) *sym = NULL;
    if (dladdr1(addr, &di, (void **)&sym, RTLD_DL_SYMENT) && sym)
        printf("%s %lu %lu\n", name, (unsigned long)((char *)addr - (char *)di.dli_fbase),
               (unsigned long)sym->st_size);
}

static int run_images(const char *a, const char *b, PVOID obj)
{
    const char *paths[2] = { a, b };
    for (int i = 0; i < 2; i++) {
        PVOID handle, base;
        if (MmLoadSystemImage(paths[i], &handle, &base) != STATUS_SUCCESS)
            return 1;
        LONG_PTR (*entry)(PVOID) = (LONG_PTR(*)(PVOID))dlsym(handle, "image_entry");
        if (!entry)
            return 1;
        printf("image %s base %p entry %p\n", paths[i], base, (void *)entry);
        entry(obj);
        tracee_deref_site(obj);
        if (MmUnloadSystemImage(handle) != STATUS_SUCCESS)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "refs";
    unsigned long long n = argc > 2 ? strtoull(argv[2], NULL, 10) : 10;
    PVOID obj;

    if (getenv("TRACEE_REPORT_FD"))
        report_fd = atoi(getenv("TRACEE_REPORT_FD"));
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "sites")) {
        print_site("tracee_ref_site", (void *)tracee_ref_site);
        print_site("tracee_deref_site", (void *)tracee_deref_site);
        print_site("FakeInternalReference", (void *)FakeInternalReference);
        print_site("main", (void *)main);
#if defined(__x86_64__)
        print_site("call_with_foreign_rbp", (void *)call_with_foreign_rbp);
#endif
        return 0;
    }
    obj = make_object("\\Device\\Tracee");
    if (!strcmp(mode, "refs")) {
        pairs(obj, n);
    } else if (!strcmp(mode, "kill")) {
        pairs(obj, ~0ull);
    } else if (!strcmp(mode, "abort")) {
        pairs(obj, n);
        abort();
    } else if (!strcmp(mode, "segv")) {
        pairs(obj, n);
        /* a real fault, with the default action even under a sanitizer's handler */
        volatile int *guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        signal(SIGSEGV, SIG_DFL);
        *guard = 0;
    } else if (!strcmp(mode, "fork")) {
        pairs(obj, n);
        pid_t pid = fork();
        if (pid == 0) {
            pairs(obj, n);
            printf("child %d\n", (int)getpid());
            exit(0);
        }
        int st;
        waitpid(pid, &st, 0);
        pairs(obj, n);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    } else if (!strcmp(mode, "exec")) {
        pairs(obj, n);
        execv("/proc/self/exe", (char *const[]){ argv[0], "refs", argv[2], NULL });
        return 1;
    } else if (!strcmp(mode, "threads")) {
        unsigned t = (unsigned)n;
        unsigned long long each = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000;
        pthread_t th[64];
        struct thread_arg ta = { obj, each };
        for (unsigned i = 0; i < t && i < 64; i++)
            pthread_create(&th[i], NULL, thread_main, &ta);
        for (unsigned i = 0; i < t && i < 64; i++)
            pthread_join(th[i], NULL);
    } else if (!strcmp(mode, "images")) {
        return argc > 3 ? run_images(argv[2], argv[3], obj) : 64;
    } else if (!strcmp(mode, "deep")) {
        deep_pairs(obj, n, 1);
    } else if (!strcmp(mode, "deep-runs")) {
        unsigned long long run = argc > 3 ? strtoull(argv[3], NULL, 10) : 0;
        if (!run)
            return 64;
        deep_hop_level = DEEP_LEVELS / 2;
        deep_pairs(obj, n, run);
    } else if (!strcmp(mode, "foreign-rbp")) {
        if (foreign_rbp_pairs(obj, n))
            return 77;
    } else if (!strcmp(mode, "device")) {
        if (create_device())
            return 1;
    } else if (!strcmp(mode, "internal")) {
        FakeInternalReference(obj);
        tracee_deref_site(obj);
    } else {
        return 64;
    }
    tracee_deref_site(obj);
    return 0;
}
