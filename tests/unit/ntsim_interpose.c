/*
 * ntsim_interpose.c - proves the interposition rule: every reference,
 * dereference, object creation, handle, ReferenceCount change, image map
 * and unmap, DriverEntry/DriverUnload call, IRP call and completion and
 * pool operation the framework makes on its own behalf goes through the
 * exported symbol, so an LD_PRELOAD library sees it. The test re-executes
 * itself with tests/preload/count_calls.so preloaded, runs one legacy
 * driver's whole life (start, open, three IOCTLs with a pool block, close,
 * stop), and compares every call count with the exact number the design
 * implies (derived step by step in Expected below).
 */
#include <stdlib.h>
#include <sys/wait.h>

#include "ntsim_test.h"

static const struct {
    const char *Name;
    long Count;
} Expected[] = {
    { "ZwLoadDriver", 1 },
    { "MmLoadSystemImage", 1 },
    { "IopCallDriverEntry", 1 },
    { "IopNoteDriverUnloadWrite", 1 }, /* DriverEntry returned with DriverUnload set */
    /* driver, device, symbolic link, file object */
    { "ObCreateObject", 4 },
    /* IoCreateDevice -> driver; open: name lookup -> device; 3 IOCTLs -> file; stop: lookup -> driver;
       IoDeleteSymbolicLink: lookup -> link */
    { "ObfReferenceObject", 7 },
    /* link creator; open: lookup of device, file creator; 3 IOCTL completions; link after delete;
       device keep-alive; device delete procedure -> driver; driver load reference; stop lookup */
    { "ObfDereferenceObject", 11 },
    { "ObMakeTemporaryObject", 3 }, /* link, device (IoDeleteDevice), driver (after DriverUnload) */
    { "ObOpenObjectByPointer", 1 },
    { "ZwClose", 1 },
    { "IopReferenceDeviceObject", 1 },
    { "IopDereferenceDeviceObject", 1 },
    { "IofCallDriver", 6 }, /* CREATE, 3 x DEVICE_CONTROL, CLEANUP, CLOSE */
    { "IofCompleteRequest", 6 },
    { "ExAllocatePoolWithTag", 1 },
    { "ExFreePoolWithTag", 1 },
    { "ZwUnloadDriver", 1 },
    { "IopCallDriverUnload", 1 },
    { "MmUnloadSystemImage", 1 },
};

/* The scenario, run in the preloaded child; prints "name count" lines. */
static int RunChild(void)
{
    long (*count)(const char *) = (long (*)(const char *))dlsym(RTLD_DEFAULT, "PreloadCallCount");
    if (!count) {
        puts("preload library not loaded");
        return 2;
    }
    NTSIM_CONFIG config;
    NtsimDefaultConfig(&config);
    config.DriverSearchPath = TtDriverDir();
    NtsimInitialize(&config);
    NtsimInstallService("tdlegacy", "tdrv_legacy.so");
    if (NtsimStartService("tdlegacy") != STATUS_SUCCESS)
        return 3;
    HANDLE h;
    if (NtsimOpenFile("\\\\.\\TdLegacy", 0, &h) != STATUS_SUCCESS)
        return 4;
    char echo[8] = "echo";
    NtsimDeviceIoControl(h, TD_IOCTL_ECHO, echo, sizeof(echo), echo, sizeof(echo), NULL);
    TD_POOL_REQUEST request = { NULL, 16, 'tsoP' };
    PVOID block = NULL;
    NtsimDeviceIoControl(h, TD_IOCTL_POOL_ALLOC, &request, sizeof(request), &block, sizeof(block), NULL);
    request.Pointer = block;
    NtsimDeviceIoControl(h, TD_IOCTL_POOL_FREE, &request, sizeof(request), NULL, 0, NULL);
    NtsimCloseHandle(h);
    if (NtsimStopService("tdlegacy") != STATUS_SUCCESS)
        return 5;
    NTSIM_IMAGE_INFO info;
    NtsimQueryImage("tdlegacy", &info);
    printf("Mapped %d\n", info.Mapped);
    for (size_t i = 0; i < RTL_NUMBER_OF(Expected); i++)
        printf("%s %ld\n", Expected[i].Name, count(Expected[i].Name));
    return 0;
}

/* Runs this binary with the preload library; returns its output. */
static void RunPreloaded(char *Output, size_t Size)
{
    char exe[PATH_MAX], preload[PATH_MAX * 2];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    const char *prefix = getenv("OBTRACE_TEST_PRELOAD_PREFIX");
    TtConcat(preload, sizeof(preload), prefix ? prefix : "", prefix ? " " : "");
    TtConcat(preload, sizeof(preload), preload, TtDriverDir());
    TtConcat(preload, sizeof(preload), preload, "/../preload/count_calls.so");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        setenv("LD_PRELOAD", preload, 1);
        execl(exe, exe, "--child", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    while (used + 1 < Size && (n = read(fds[0], Output + used, Size - 1 - used)) > 0)
        used += (size_t)n;
    Output[used] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (%d): %s", status, Output);
}

START_TEST(every_lifetime_call_is_interposable)
{
    char output[8192];
    RunPreloaded(output, sizeof(output));
    ck_assert_msg(strstr(output, "Mapped 0\n") != NULL, "image still mapped: %s", output);
    for (size_t i = 0; i < RTL_NUMBER_OF(Expected); i++) {
        char line[128];
        snprintf(line, sizeof(line), "\n%s %ld\n", Expected[i].Name, Expected[i].Count);
        ck_assert_msg(strstr(output, line) != NULL, "expected%s got:\n%s", line, output);
    }
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--child"))
        return RunChild();
    Suite *s = suite_create("ntsim_interpose");
    TCase *tc = tcase_create("interpose");
    tcase_add_test(tc, every_lifetime_call_is_interposable);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
