/*
 * analyzer_symbolize.c - the libdwfl symbolizer on this very program:
 * function, file:line relative to the source tree, inlined frames, the
 * build-id check (a mismatching file is refused with a note), a missing
 * file, and frames classified as framework or not.
 */
#include <check.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obt_test.h"
#include "symbolize.h"

/*
 * This program as the analyzer's model sees a loaded driver image: module
 * instance 1, its path, its load range and its GNU build id (the
 * symbolizer refuses a file whose build id differs).
 *
 * Keep the code below where it is: function_file_line expects the frame in
 * inlined_helper to sit past line 50 of this file.
 */
static struct module self;
static char exe[4096];

static void setup(void)
{
    struct obt_test_image img;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = 0;
    memset(&self, 0, sizeof(self));
    self.instance = 1;
    self.path = exe;
    obt_test_self_image(&img);
    self.base = img.base;
    self.start = img.start;
    self.end = img.end;
    memcpy(self.build_id, img.build_id, img.build_id_len);
    self.build_id_len = img.build_id_len;
}

__attribute__((noinline)) static uint64_t return_address(void)
{
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

static inline __attribute__((always_inline)) uint64_t inlined_helper(void)
{
    return return_address() + 0; /* the call sits in the inlined body */
}

__attribute__((noinline)) uint64_t outer_caller(void);
__attribute__((noinline)) uint64_t outer_caller(void)
{
    uint64_t a = inlined_helper();
    __asm__ volatile("" ::: "memory");
    return a;
}

START_TEST(function_file_line)
{
    struct symbolizer *s = symbolizer_new(NULL);
    uint64_t addr = outer_caller();
    struct sym_frame f[4];
    int n = symbolizer_lookup(s, &self, addr, f, 1);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_nonnull(f[0].function);
    ck_assert_str_eq(f[0].function, "outer_caller");
    ck_assert_ptr_nonnull(f[0].file);
    ck_assert_msg(!strcmp(f[0].file, "tests/unit/analyzer_symbolize.c") || strstr(f[0].file, "analyzer_symbolize.c"),
                  "%s", f[0].file);
    ck_assert_uint_gt(f[0].line, 50);
    ck_assert(!f[0].framework);
    ck_assert_ptr_null(symbolizer_module_note(s, &self));
    /* cached: the same answer again */
    struct sym_frame g;
    symbolizer_lookup(s, &self, addr, &g, 1);
    ck_assert_ptr_eq(g.function, f[0].function);
    symbolizer_free(s);
}
END_TEST

START_TEST(inlined_frames)
{
    struct symbolizer *s = symbolizer_new(NULL);
    uint64_t addr = outer_caller();
    struct sym_frame f[4];
    int n = symbolizer_lookup(s, &self, addr, f, 4);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(f[0].function, "inlined_helper");
    ck_assert(f[0].inlined);
    ck_assert_str_eq(f[1].function, "outer_caller");
    ck_assert(!f[1].inlined);
    ck_assert_uint_ne(f[0].line, f[1].line);
    symbolizer_free(s);
}
END_TEST

/*
 * Two levels of forced inlining (inlined_helper inside nested_inline inside
 * nested_caller): every level is a frame of its own, at the line of its
 * call. dwarf_getscopes alone loses the middle one. The *_line variables
 * are set on the line of each call.
 */
static unsigned nested_inline_line, nested_caller_line;

static inline __attribute__((always_inline)) uint64_t nested_inline(void)
{
    uint64_t a = inlined_helper(); nested_inline_line = __LINE__;
    return a;
}

__attribute__((noinline)) uint64_t nested_caller(void);
__attribute__((noinline)) uint64_t nested_caller(void)
{
    uint64_t a = nested_inline(); nested_caller_line = __LINE__;
    __asm__ volatile("" ::: "memory");
    return a;
}

START_TEST(nested_inlined_frames)
{
    struct symbolizer *s = symbolizer_new(NULL);
    uint64_t addr = nested_caller();
    struct sym_frame f[8];
    for (int round = 0; round < 2; round++) { /* the second answer comes from the cache */
        int n = symbolizer_lookup(s, &self, addr, f, 8);
        ck_assert_int_eq(n, 3);
        ck_assert_str_eq(f[0].function, "inlined_helper");
        ck_assert_uint_gt(f[0].line, 50);
        ck_assert(f[0].inlined);
        ck_assert_str_eq(f[1].function, "nested_inline");
        ck_assert_uint_eq(f[1].line, nested_inline_line);
        ck_assert(f[1].inlined);
        ck_assert_str_eq(f[2].function, "nested_caller");
        ck_assert_uint_eq(f[2].line, nested_caller_line);
        ck_assert(!f[2].inlined);
        for (int i = 0; i < 3; i++) {
            ck_assert_ptr_nonnull(strstr(f[i].file, "analyzer_symbolize.c"));
            ck_assert_uint_eq(f[i].addr, addr);
        }
    }
    /* room for two frames: the two innermost */
    ck_assert_int_eq(symbolizer_lookup(s, &self, addr, f, 2), 2);
    ck_assert_str_eq(f[0].function, "inlined_helper");
    ck_assert_str_eq(f[1].function, "nested_inline");
    symbolizer_free(s);
}
END_TEST

START_TEST(build_id_mismatch_is_refused)
{
    struct symbolizer *s = symbolizer_new(NULL);
    struct module wrong = self;
    wrong.instance = 2;
    wrong.build_id_len = 4;
    memcpy(wrong.build_id, "\xde\xad\xbe\xef", 4);
    struct sym_frame f;
    symbolizer_lookup(s, &wrong, outer_caller(), &f, 1);
    ck_assert_ptr_null(f.function);
    ck_assert_ptr_nonnull(strstr(symbolizer_module_note(s, &wrong), "build-id mismatch"));
    struct module missing = self;
    missing.instance = 3;
    missing.path = (char *)"/nonexistent/driver.so";
    symbolizer_lookup(s, &missing, outer_caller(), &f, 1);
    ck_assert_ptr_nonnull(strstr(symbolizer_module_note(s, &missing), "not found"));
    ck_assert_str_eq(f.module, "driver.so");
    symbolizer_free(s);
}
END_TEST

START_TEST(debug_path_finds_a_moved_file)
{
    const char *dirs[] = { "/nonexistent-dir", NULL };
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/obt-sym-%d", (int)getpid());
    dirs[0] = dir;
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp '%s' %s/moved_binary", dir, exe, dir);
    ck_assert_int_eq(system(cmd), 0);
    struct sym_options o = { .debug_paths = dirs };
    struct symbolizer *s = symbolizer_new(&o);
    struct module moved = self;
    moved.instance = 4;
    moved.path = (char *)"/gone/moved_binary";
    struct sym_frame f;
    symbolizer_lookup(s, &moved, outer_caller(), &f, 1);
    ck_assert_ptr_nonnull(f.function);
    ck_assert_str_eq(f.function, "outer_caller");
    symbolizer_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(framework_modules)
{
    ck_assert(sym_module_is_framework("libntsim.so"));
    ck_assert(sym_module_is_framework("libobtrace.so"));
    ck_assert(sym_module_is_framework("libc.so.6"));
    ck_assert(!sym_module_is_framework("ntsim")); /* the scenario runner is the host: its frames decide */
    ck_assert(!sym_module_is_framework("toaster_filter.so"));
    ck_assert(!sym_module_is_framework(NULL));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_symbolize");
    TCase *tc = tcase_create("symbolize");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, function_file_line);
    tcase_add_test(tc, inlined_frames);
    tcase_add_test(tc, nested_inlined_frames);
    tcase_add_test(tc, build_id_mismatch_is_refused);
    tcase_add_test(tc, debug_path_finds_a_moved_file);
    tcase_add_test(tc, framework_modules);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
