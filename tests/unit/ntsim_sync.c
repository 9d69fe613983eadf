/*
 * ntsim_sync.c - the dispatcher and processor state: events (notification
 * and synchronization) with real blocking waits and timeouts, a stuck
 * infinite wait reported and returned as STATUS_TIMEOUT or ending the
 * process per policy, fast mutexes between threads, spin locks and the
 * per-thread IRQL, PAGED_CODE above APC_LEVEL bug-checking.
 */
#include <pthread.h>
#include <signal.h>

#include "ntsim_test.h"

static KEVENT Event;

static void *SetLater(void *Arg)
{
    (void)Arg;
    usleep(20000);
    KeSetEvent(&Event, IO_NO_INCREMENT, FALSE);
    return NULL;
}

START_TEST(events_block_and_wake)
{
    TtInit(0);
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    LARGE_INTEGER zero = { .QuadPart = 0 }, shortWait = { .QuadPart = -10000ll * 20 };
    ck_assert_int_eq(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    ck_assert_int_eq(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, &shortWait), STATUS_TIMEOUT);
    pthread_t t;
    pthread_create(&t, NULL, SetLater, NULL);
    ck_assert_int_eq(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    pthread_join(t, NULL);
    ck_assert_int_eq(KeReadStateEvent(&Event), 1); /* notification: stays signalled */
    ck_assert_int_eq(KeResetEvent(&Event), 1);
    KeInitializeEvent(&Event, SynchronizationEvent, TRUE);
    ck_assert_int_eq(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ck_assert_int_eq(KeReadStateEvent(&Event), 0); /* synchronization: consumed by the waiter */
    ck_assert_int_eq(KeSetEvent(&Event, 0, FALSE), 0);
    KeClearEvent(&Event);
    ck_assert_int_eq(KeReadStateEvent(&Event), 0);
}
END_TEST

START_TEST(stuck_wait_reports_and_times_out)
{
    TtInit(100);
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    ck_assert_int_eq(KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL), STATUS_TIMEOUT);
}
END_TEST

START_TEST(stuck_wait_exit_policy)
{
    NTSIM_CONFIG config;
    NtsimDefaultConfig(&config);
    config.StuckWaitMs = 100;
    config.StuckPolicy = NtsimStuckReportAndExit;
    NtsimInitialize(&config);
    KeInitializeEvent(&Event, NotificationEvent, FALSE);
    KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL);
}
END_TEST

static FAST_MUTEX Mutex;
static long Shared;

static void *MutexWorker(void *Arg)
{
    (void)Arg;
    for (int i = 0; i < 2000; i++) {
        ExAcquireFastMutex(&Mutex);
        ck_assert_int_eq(KeGetCurrentIrql(), APC_LEVEL);
        long v = Shared;
        Shared = v + 1;
        ExReleaseFastMutex(&Mutex);
    }
    return NULL;
}

START_TEST(fast_mutex_excludes)
{
    TtInit(0);
    ExInitializeFastMutex(&Mutex);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, MutexWorker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(Shared, 8000);
    ck_assert(ExTryToAcquireFastMutex(&Mutex));
    ck_assert(!ExTryToAcquireFastMutex(&Mutex));
    ExReleaseFastMutex(&Mutex);
    ck_assert_int_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
}
END_TEST

START_TEST(spin_lock_and_irql)
{
    TtInit(0);
    KSPIN_LOCK lock;
    KIRQL old;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    ck_assert_int_eq(old, PASSIVE_LEVEL);
    ck_assert_int_eq(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old);
    ck_assert_int_eq(KeGetCurrentIrql(), PASSIVE_LEVEL);
    KeRaiseIrql(APC_LEVEL, &old);
    PAGED_CODE(); /* fine at APC_LEVEL */
    KeLowerIrql(old);
    LARGE_INTEGER t1, t2, delay = { .QuadPart = -10000ll };
    KeQuerySystemTime(&t1);
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
    KeQuerySystemTime(&t2);
    ck_assert(t2.QuadPart - t1.QuadPart >= 10000ll);
    ck_assert_int_eq(KeQueryTimeIncrement(), 156250);
}
END_TEST

START_TEST(paged_code_at_dispatch_bugchecks)
{
    TtInit(0);
    KeRaiseIrqlToDpcLevel();
    PAGED_CODE();
}
END_TEST

START_TEST(wait_at_dispatch_bugchecks)
{
    TtInit(0);
    KeInitializeEvent(&Event, NotificationEvent, TRUE);
    KeRaiseIrqlToDpcLevel();
    KeWaitForSingleObject(&Event, Executive, KernelMode, FALSE, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_sync");
    TCase *tc = tcase_create("sync");
    tcase_add_test(tc, events_block_and_wake);
    tcase_add_test(tc, stuck_wait_reports_and_times_out);
    tcase_add_exit_test(tc, stuck_wait_exit_policy, NTSIM_EXIT_STUCK);
    tcase_add_test(tc, fast_mutex_excludes);
    tcase_add_test(tc, spin_lock_and_irql);
    tcase_add_test_raise_signal(tc, paged_code_at_dispatch_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, wait_at_dispatch_bugchecks, SIGABRT);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
