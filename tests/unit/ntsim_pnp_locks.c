/*
 * ntsim_pnp_locks.c - remove locks (nt-semantics §7) and run-down
 * protection (§8) with exact counts: the bias, acquisitions, failure once
 * removed, release-and-wait releasing the caller's acquisition and the
 * bias and waiting for the others (released on another thread), misuse
 * that must be diagnosed without corrupting the count, and a wait that can
 * never finish reported as stuck (exit NTSIM_EXIT_STUCK under
 * NtsimStuckReportAndExit) instead of hanging.
 */
#include <pthread.h>

#include "ntsim_test.h"

static void InitWithPolicy(NTSIM_STUCK_POLICY Policy, ULONG StuckMs)
{
    NTSIM_CONFIG config;
    NtsimDefaultConfig(&config);
    config.StuckWaitMs = StuckMs;
    config.StuckPolicy = Policy;
    ck_assert_int_eq(NtsimInitialize(&config), STATUS_SUCCESS);
}

START_TEST(remlock_counts)
{
    IO_REMOVE_LOCK lock;
    TtInit(0);
    IoInitializeRemoveLock(&lock, 'tseT', 0, 0);
    ck_assert_int_eq(lock.Common.IoCount, 1); /* the bias */
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)1), STATUS_SUCCESS);
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)2), STATUS_SUCCESS);
    ck_assert_int_eq(lock.Common.IoCount, 3);
    IoReleaseRemoveLock(&lock, (PVOID)1);
    ck_assert_int_eq(lock.Common.IoCount, 2);
    IoReleaseRemoveLockAndWait(&lock, (PVOID)2); /* caller's acquisition + bias: returns at once */
    ck_assert_int_eq(lock.Common.IoCount, 0);
    ck_assert(lock.Common.Removed);
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)3), STATUS_DELETE_PENDING);
    ck_assert_int_eq(lock.Common.IoCount, 0);
}
END_TEST

START_TEST(remlock_misuse_keeps_count)
{
    IO_REMOVE_LOCK lock;
    TtInit(0);
    IoInitializeRemoveLock(&lock, 'tseT', 0, 1);
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)1), STATUS_SUCCESS);
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)2), STATUS_SUCCESS); /* above the watermark: diagnosed */
    IoReleaseRemoveLock(&lock, (PVOID)7); /* unknown tag: diagnosed, the count still drops */
    ck_assert_int_eq(lock.Common.IoCount, 2);
    IoReleaseRemoveLock(&lock, (PVOID)1);
    IoReleaseRemoveLock(&lock, (PVOID)2); /* over-release: diagnosed, the bias is kept */
    ck_assert_int_eq(lock.Common.IoCount, 1);
    ck_assert_int_eq(lock.Dbg.Reserved1[0], 3); /* peak IoCount */
}
END_TEST

typedef struct {
    PIO_REMOVE_LOCK Lock;
    volatile LONG WaitReturned;
} REMLOCK_HOLDER;

static void *ReleaseLater(void *Arg)
{
    REMLOCK_HOLDER *h = Arg;
    struct timespec ts = { 0, 50000000 };
    nanosleep(&ts, NULL);
    ck_assert_int_eq(h->WaitReturned, 0); /* the waiter is still blocked while we hold it */
    IoReleaseRemoveLock(h->Lock, (PVOID)9);
    return NULL;
}

START_TEST(remlock_wait_for_other_thread)
{
    IO_REMOVE_LOCK lock;
    REMLOCK_HOLDER h = { &lock, 0 };
    pthread_t thread;
    TtInit(0);
    IoInitializeRemoveLock(&lock, 'tseT', 0, 0);
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)9), STATUS_SUCCESS); /* held by the other thread */
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)1), STATUS_SUCCESS); /* the caller's */
    pthread_create(&thread, NULL, ReleaseLater, &h);
    IoReleaseRemoveLockAndWait(&lock, (PVOID)1);
    h.WaitReturned = 1;
    pthread_join(thread, NULL);
    ck_assert_int_eq(lock.Common.IoCount, 0);
}
END_TEST

START_TEST(remlock_stuck_wait_is_reported)
{
    static IO_REMOVE_LOCK lock;
    InitWithPolicy(NtsimStuckReportAndExit, 100);
    IoInitializeRemoveLock(&lock, 'tseT', 0, 0);
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)5), STATUS_SUCCESS); /* leaked */
    ck_assert_int_eq(IoAcquireRemoveLock(&lock, (PVOID)1), STATUS_SUCCESS);
    IoReleaseRemoveLockAndWait(&lock, (PVOID)1); /* reports, then exits NTSIM_EXIT_STUCK */
    ck_abort_msg("the stuck wait returned");
}
END_TEST

START_TEST(rundown_counts)
{
    EX_RUNDOWN_REF ref;
    TtInit(0);
    ExInitializeRundownProtection(&ref);
    ck_assert(ExAcquireRundownProtection(&ref));
    ck_assert(ExAcquireRundownProtectionEx(&ref, 2));
    ck_assert_uint_eq(ref.Count >> EX_RUNDOWN_COUNT_SHIFT, 3);
    ExReleaseRundownProtectionEx(&ref, 2);
    ExReleaseRundownProtection(&ref);
    ck_assert_uint_eq(ref.Count, 0);
    ExWaitForRundownProtectionRelease(&ref); /* nobody holds it: returns at once */
    ck_assert(!ExAcquireRundownProtection(&ref));
    ExWaitForRundownProtectionRelease(&ref); /* already run down: a no-op */
    ExRundownCompleted(&ref);
    ExReInitializeRundownProtection(&ref);
    ck_assert(ExAcquireRundownProtection(&ref));
    ExReleaseRundownProtection(&ref);
}
END_TEST

static void *ReleaseRundownLater(void *Arg)
{
    struct timespec ts = { 0, 50000000 };
    nanosleep(&ts, NULL);
    ExReleaseRundownProtection(Arg);
    return NULL;
}

START_TEST(rundown_wait_for_other_thread)
{
    EX_RUNDOWN_REF ref;
    pthread_t thread;
    TtInit(0);
    ExInitializeRundownProtection(&ref);
    ck_assert(ExAcquireRundownProtection(&ref));
    pthread_create(&thread, NULL, ReleaseRundownLater, &ref);
    ExWaitForRundownProtectionRelease(&ref);
    pthread_join(thread, NULL);
    ck_assert_uint_eq(ref.Count, EX_RUNDOWN_ACTIVE);
    ck_assert(!ExAcquireRundownProtection(&ref));
}
END_TEST

START_TEST(rundown_stuck_wait_is_reported)
{
    static EX_RUNDOWN_REF ref;
    InitWithPolicy(NtsimStuckReportAndExit, 100);
    ExInitializeRundownProtection(&ref);
    ck_assert(ExAcquireRundownProtection(&ref)); /* never released */
    ExWaitForRundownProtectionRelease(&ref);
    ck_abort_msg("the stuck wait returned");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_pnp_locks");
    TCase *tc = tcase_create("locks");
    tcase_add_test(tc, remlock_counts);
    tcase_add_test(tc, remlock_misuse_keeps_count);
    tcase_add_test(tc, remlock_wait_for_other_thread);
    tcase_add_exit_test(tc, remlock_stuck_wait_is_reported, NTSIM_EXIT_STUCK);
    tcase_add_test(tc, rundown_counts);
    tcase_add_test(tc, rundown_wait_for_other_thread);
    tcase_add_exit_test(tc, rundown_stuck_wait_is_reported, NTSIM_EXIT_STUCK);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
