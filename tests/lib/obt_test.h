/*
 * obt_test.h - helpers the analyzer and tracer unit tests share: running
 * the `obtrace` command of the build and capturing its output and exit
 * code, reading a small output file back, locating the test executable's
 * own image (load range and GNU build id) for symbolization, and running a
 * check suite to an exit code.
 */
#ifndef OBT_TEST_H
#define OBT_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* $O/bin/obtrace (O defaults to build) into buf. */
void obt_test_obtrace_path(char *buf, size_t len);

/*
 * Runs `env obtrace ARGS >out 2>&1` through the shell, ARGS formatted from
 * fmt; env (NULL for none) is a prefix such as variable assignments.
 * Returns the exit code, -1 when the command did not exit normally.
 */
int obt_test_run(const char *obtrace, const char *env, const char *out, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The file's first 64 KiB, NUL-terminated, in a static buffer ("" when it cannot be read). */
char *obt_test_slurp(const char *path);

/* The test executable's own image: where it is loaded and its build id. */
struct obt_test_image {
    uint64_t base, start, end;
    uint8_t build_id[64];
    uint8_t build_id_len;
};
void obt_test_self_image(struct obt_test_image *img);

/* Runs every test of s; the process exit code: 0 when all passed, 1 otherwise. */
int obt_test_run_suite(Suite *s);

#endif /* OBT_TEST_H */
