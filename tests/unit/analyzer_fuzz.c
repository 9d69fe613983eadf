/*
 * analyzer_fuzz.c - a deterministic mutation test of the reader, model,
 * rules and renderers, run in `make check`: thousands of traces derived
 * from a valid one (bytes flipped, words overwritten with edge values,
 * the file cut anywhere) must each give a clean verdict or a clear error,
 * never a crash, and exit code 2 whenever the reader saw damage.
 * (tests/fuzz/ holds the libFuzzer harness for longer, coverage-guided runs.)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump.h"
#include "model.h"
#include "obt_test.h"
#include "render.h"
#include "rules.h"
#include "synth_trace.h"

#define ITERATIONS 3000

static char seed_path[64], path[64];
static uint8_t *seed;
static size_t seed_len;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void write_seed(void)
{
    struct synth_trace *t = synth_open(seed_path, &(struct synth_opts){ .chunk_size = 4096 });
    synth_module_load(t, 1, 0x40000, 0x40000, 0x50000, (const uint8_t *)"\1\2\3\4", 4, "/x/drv.so");
    synth_object(t, 1, OBT_OBJ_DRIVER, 0x1000, 0, 1, "\\Driver\\drv");
    uint64_t f[3] = { 0x40010, 0x40020, 0x40030 };
    uint32_t st = synth_stack(t, f, 3);
    SYNTH_EV(t, .op = OBT_OP_OBJ_CREATE, .obj_type = OBT_OBJ_DRIVER, .object = 1, .count = 1, .stack = st);
    SYNTH_EV(t, .op = OBT_OP_DRIVER_ENTRY, .obj_type = OBT_OBJ_DRIVER, .object = 1, .arg = 0x40010, .module = 1,
             .flags = OBT_EV_STATUS);
    for (uint32_t i = 0; i < 120; i++) {
        synth_thread(t, 100 + i % 3);
        uint32_t dev = 10 + i % 5;
        if (i < 5) {
            synth_object(t, dev, OBT_OBJ_DEVICE, 0x2000 + dev, 1, 0, "\\Device\\D");
            SYNTH_EV(t, .op = OBT_OP_DEV_CREATE, .obj_type = OBT_OBJ_DEVICE, .object = dev, .count = 1, .obj2 = 1,
                     .stack = st);
        }
        SYNTH_EV(t, .op = (uint8_t)(1 + i % 42), .obj_type = (uint8_t)(i % 12), .object = dev, .count = (int32_t)(i % 4),
                 .stack = st, .tag = i % 7 ? 0 : 'gaT1', .status = (int32_t)(i % 9 ? 0 : 0xC000010E), .obj2 = i % 11,
                 .arg = i * 0x1b, .arg2 = i % 5 ? 0 : 0x2000 + dev);
    }
    synth_dropped(t, 1, OBT_DROP_REENTRY);
    synth_end(t);
    synth_close(t);
    FILE *fp = fopen(seed_path, "rb");
    fseek(fp, 0, SEEK_END);
    seed_len = (size_t)ftell(fp);
    rewind(fp);
    seed = malloc(seed_len);
    if (fread(seed, 1, seed_len, fp) != seed_len)
        seed_len = 0;
    fclose(fp);
}

static void setup(void)
{
    snprintf(seed_path, sizeof(seed_path), "/tmp/obt-fuzz-seed-%d.obt", (int)getpid());
    snprintf(path, sizeof(path), "/tmp/obt-fuzz-%d.obt", (int)getpid());
    write_seed();
}

static void teardown(void)
{
    unlink(seed_path);
    unlink(path);
    free(seed);
}

static void mutate(uint8_t *buf, size_t *len)
{
    int kind = (int)(rng() % 4);
    size_t n = 1 + rng() % 8;
    for (size_t i = 0; i < n && *len; i++) {
        size_t at = rng() % 5 ? OBT_HEADER_SIZE + rng() % (*len > OBT_HEADER_SIZE ? *len - OBT_HEADER_SIZE : 1)
                              : rng() % 64;
        if (at >= *len)
            continue;
        if (kind == 0)
            buf[at] ^= (uint8_t)(1u << (rng() % 8));
        else if (kind == 1)
            buf[at] = (uint8_t)rng();
        else if (kind == 2 && at + 4 <= *len) {
            static const uint32_t edges[] = { 0, 1, 3, 4, 0xffff, 0x7fffffff, 0x80000000u, 0xffffffffu, 28, 65535 };
            uint32_t v = edges[rng() % 10];
            memcpy(buf + at, &v, 4);
        }
    }
    if (kind == 3 || rng() % 8 == 0)
        *len = rng() % (*len + 1);
}

START_TEST(mutated_traces_never_crash)
{
    ck_assert_uint_gt(seed_len, OBT_HEADER_SIZE);
    uint8_t *buf = malloc(seed_len);
    FILE *devnull = fopen("/dev/null", "w");
    unsigned damaged = 0, refused = 0;
    for (int it = 0; it < ITERATIONS; it++) {
        memcpy(buf, seed, seed_len);
        size_t len = seed_len;
        mutate(buf, &len);
        FILE *fp = fopen(path, "wb");
        fwrite(buf, 1, len, fp);
        fclose(fp);

        struct model m;
        char err[512];
        model_init(&m);
        if (model_load(&m, path, err, sizeof(err)) < 0) {
            ck_assert_msg(err[0] && !strchr(err, '\n'), "iteration %d: no one-line error", it);
            refused++;
            model_release(&m);
            ck_assert_int_eq(dump_trace(path, devnull, devnull), 2);
            continue;
        }
        struct report r;
        report_init(&r, path);
        rules_run(&m, &r);
        struct symbolizer *sym = symbolizer_new(NULL);
        render_text(devnull, &r, &m, sym);
        render_json(devnull, &r, &m, sym);
        symbolizer_free(sym);
        if (m.damage) {
            damaged++;
            ck_assert_msg(report_exit_code(&r) == 2, "iteration %d: damaged trace, exit %d", it, report_exit_code(&r));
            ck_assert_int_eq(dump_trace(path, devnull, devnull), 2);
        }
        report_release(&r);
        model_release(&m);
    }
    fclose(devnull);
    free(buf);
    ck_assert_uint_gt(damaged + refused, ITERATIONS / 10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_fuzz");
    TCase *tc = tcase_create("mutations");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, mutated_traces_never_crash);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
