/*
 * tracer_cfi.c - unit tests of what the dwarf stack memo rests on: the
 * call frame information classifier (plain functions, the last frame's
 * mark, expressions and signal frames refused, addresses outside any
 * object), the learning of a trace's slots from a stand-in interposer
 * (the slots are the return-address and saved-%rbp words, learning stops
 * at a frame whose rules are not plain), and dlclose moving the code
 * generation on.
 */
#include <check.h>
#include <dlfcn.h>
#include <libunwind.h>
#include <signal.h>
#include <stdlib.h>

#include "cfi.h"
#include "obt_test.h"
#include "tracer.h"
#include "unwind.h"

/* call_via_expression(fn) calls fn() from a frame whose CFA is a DWARF expression (rbp + 16, computed). */
void call_via_expression(void (*fn)(void));
__asm__(".text\n"
        ".p2align 4\n"
        ".globl call_via_expression\n"
        ".type call_via_expression, @function\n"
        "call_via_expression:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_adjust_cfa_offset 8\n"
        ".cfi_rel_offset %rbp, 0\n"
        "mov %rsp, %rbp\n"
        ".cfi_escape 0x0f, 0x02, 0x76, 0x10\n" /* DW_CFA_def_cfa_expression: DW_OP_breg6 (rbp) +16 */
        "call *%rdi\n"
        "pop %rbp\n"
        ".cfi_def_cfa %rsp, 8\n"
        "ret\n"
        ".cfi_endproc\n"
        ".size call_via_expression, .-call_via_expression\n");

__attribute__((noinline)) static int plain_function(int x)
{
    volatile int v = x;
    return v + 1;
}

START_TEST(cfi_plain_function_and_last_frame)
{
    ck_assert_uint_eq(obt_cfi_classify((uintptr_t)plain_function + 1), OBT_CFI_PLAIN);
    void *ips[64];
    int n = unw_backtrace(ips, 64);
    ck_assert_int_gt(n, 1);
    ck_assert_int_lt(n, 64);
    for (int i = 1; i < n - 1; i++)
        ck_assert_uint_eq(obt_cfi_classify((uintptr_t)ips[i] - 1) & OBT_CFI_PLAIN, OBT_CFI_PLAIN);
    /* the outermost frame (_start) marks the return address undefined */
    ck_assert_uint_eq(obt_cfi_classify((uintptr_t)ips[n - 1] - 1), OBT_CFI_PLAIN | OBT_CFI_ENDS);
}
END_TEST

START_TEST(cfi_refuses_expressions_and_foreign_addresses)
{
    ck_assert_uint_eq(obt_cfi_classify((uintptr_t)call_via_expression + 8), 0);
    void *heap = malloc(16);
    ck_assert_uint_eq(obt_cfi_classify((uintptr_t)heap), 0);
    free(heap);
    ck_assert_uint_eq(obt_cfi_classify(0), 0);
}
END_TEST

static int handler_unplain;
static void count_unplain_frames(int sig)
{
    void *ips[64];
    int n = unw_backtrace(ips, 64);
    (void)sig;
    for (int i = 1; i < n; i++)
        handler_unplain += !(obt_cfi_classify((uintptr_t)ips[i] - 1) & OBT_CFI_PLAIN);
}

START_TEST(cfi_refuses_the_signal_frame)
{
    signal(SIGUSR1, count_unplain_frames);
    raise(SIGUSR1);
    ck_assert_int_eq(handler_unplain, 1); /* the signal return trampoline, nothing else */
}
END_TEST

START_TEST(cfi_cache_answers_as_the_classifier)
{
    static struct obt_cfi_cache cc;
    uintptr_t pc = (uintptr_t)plain_function + 1;
    ck_assert_uint_eq(obt_cfi_classify_cached(&cc, pc), OBT_CFI_PLAIN);
    ck_assert_uint_eq(obt_cfi_classify_cached(&cc, pc), OBT_CFI_PLAIN);
    pc = (uintptr_t)call_via_expression + 8;
    ck_assert_uint_eq(obt_cfi_classify_cached(&cc, pc), 0);
}
END_TEST

/* ---- learning from a stand-in interposer ------------------------------ */

static struct obt_dwarf_slots learned;
static int learn_rc, learn_held, learn_tamper_seen;
static uint64_t learn_frame;
static unsigned learn_depth = OBT_MAX_DEPTH;

/* What an interposer does in dwarf mode: unw_backtrace from itself, then learn its caller's slots. */
__attribute__((noinline)) static void stand_in_interposer(void)
{
    static struct obt_cfi_cache cc;
    uint64_t buf[OBT_MAX_DEPTH + OBT_DWARF_SLACK];
    struct obt_stack_bounds b;
    unsigned first;

    ck_assert_int_eq(obt_stack_bounds_current(&b), 0);
    unsigned n = obt_unwind_dwarf_inline(__builtin_return_address(0), buf, learn_depth, &first);
    learn_frame = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    learn_rc = obt_unwind_dwarf_learn(__builtin_frame_address(0), &b, buf + first, n, n < learn_depth, &cc, &learned);
    learn_held = learn_rc == 0 && obt_dwarf_slots_hold(&learned);
    if (learn_rc == 0 && learned.n > 2) {
        learned.val[2] ^= 1; /* a return address further out changed: the slots no longer hold */
        learn_tamper_seen = !obt_dwarf_slots_hold(&learned);
        learned.val[2] ^= 1;
    }
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void caller_two(void)
{
    stand_in_interposer();
    __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void caller_one(void)
{
    caller_two();
    __asm__ volatile("" ::: "memory");
}

START_TEST(learn_takes_return_address_and_rbp_slots)
{
    caller_one();
    ck_assert_int_eq(learn_rc, 0);
    ck_assert_uint_eq(learned.frame, learn_frame);
    ck_assert_uint_ge(learned.n, 4);
    ck_assert_uint_eq(learned.addr[0], learn_frame + 8); /* the interposer's return address */
    ck_assert_uint_eq(learned.addr[1], learn_frame);     /* the caller's %rbp, saved by the interposer */
    for (unsigned i = 1; i < learned.n; i++)
        ck_assert_uint_ge(learned.addr[i], learn_frame);
    ck_assert(learn_held);
    ck_assert(learn_tamper_seen);
}
END_TEST

START_TEST(learn_of_a_cut_stack_stops_at_the_cut)
{
    learn_depth = 2;
    caller_one();
    ck_assert_int_eq(learn_rc, 0);
    ck_assert_uint_eq(learned.n, 4); /* two frames: each its return address and %rbp slot */
}
END_TEST

START_TEST(learn_refuses_a_frame_with_expression_rules)
{
    call_via_expression(caller_two);
    ck_assert_int_eq(learn_rc, -1);
}
END_TEST

START_TEST(dlclose_moves_the_code_generation)
{
    uint32_t before = atomic_load(&obt_g.code_generation);
    void *h = dlopen("libm.so.6", RTLD_NOW);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(dlclose(h), 0);
    ck_assert_uint_eq(atomic_load(&obt_g.code_generation), before + 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tracer_cfi");
    TCase *tc = tcase_create("cfi");
    tcase_add_test(tc, cfi_plain_function_and_last_frame);
    tcase_add_test(tc, cfi_refuses_expressions_and_foreign_addresses);
    tcase_add_test(tc, cfi_refuses_the_signal_frame);
    tcase_add_test(tc, cfi_cache_answers_as_the_classifier);
    tcase_add_test(tc, learn_takes_return_address_and_rbp_slots);
    tcase_add_test(tc, learn_of_a_cut_stack_stops_at_the_cut);
    tcase_add_test(tc, learn_refuses_a_frame_with_expression_rules);
    tcase_add_test(tc, dlclose_moves_the_code_generation);
    suite_add_tcase(s, tc);
    return obt_test_run_suite(s);
}
