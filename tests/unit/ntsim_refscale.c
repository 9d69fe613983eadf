/*
 * ntsim_refscale.c - the object manager's lock-free reference path under
 * contention (nt-semantics §1): threads reference and dereference a shared
 * object, their own objects and objects another thread keeps creating,
 * open and close handles, and query freed and random pointers, while the
 * last references drop (some deferred) and objects are freed. Every count
 * ends exact, every object is deleted exactly once, and a reference
 * through a freed or random pointer is bug-checked instead of reading
 * freed memory.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "ntsim_internal.h"
#include "ntsim_test.h"

#define WORKERS 4
#define OBJECTS 4000 /* created by the creator thread; the live-object set grows (and is rebuilt) meanwhile */
#define PAIRS 8      /* reference/dereference pairs per object, per round on the shared and private objects */

typedef struct {
    int Index; /* in Deleted[] */
} RS_BODY;

static int Deleted[OBJECTS + WORKERS + 1];

static VOID RsDelete(PVOID Object)
{
    __atomic_add_fetch(&Deleted[((RS_BODY *)Object)->Index], 1, __ATOMIC_SEQ_CST);
}

static OBJECT_TYPE RsType = { "RefScale", 'SfeR', RsDelete, NULL };

static PVOID Shared;
static PVOID Published[OBJECTS];  /* set by the creator, each holding one reference per worker */
static ULONG64 Ids[OBJECTS];
static int ZeroSeen[OBJECTS];     /* non-deferred dereferences that returned 0 */

static PVOID RsNew(int Index)
{
    PVOID o = NULL;
    ck_assert_int_eq(ObCreateObject(&RsType, NULL, 0, sizeof(RS_BODY), &o), STATUS_SUCCESS);
    ((RS_BODY *)o)->Index = Index;
    return o;
}

static void *Creator(void *Arg)
{
    (void)Arg;
    for (int i = 0; i < OBJECTS; i++) {
        PVOID o = RsNew(i);
        for (int w = 1; w < WORKERS; w++)
            ck_assert_int_eq(ObfReferenceObject(o), w + 1); /* nobody else has it yet: exact */
        Ids[i] = TtQuery(o).Id;
        __atomic_store_n(&Published[i], o, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* PAIRS reference/dereference pairs on an object the caller holds a reference on. */
static void Pairs(PVOID Object, LONG_PTR AtLeast)
{
    for (int k = 0; k < PAIRS; k++) {
        ck_assert_int_ge(ObfReferenceObject(Object), AtLeast + 1);
        ck_assert_int_ge(ObfDereferenceObjectWithTag(Object, 'csRT'), AtLeast);
    }
}

/* Drops this worker's reference on object I; worker 0 defers the odd ones. */
static void DropPublished(int Worker, int I, PVOID Object)
{
    if (Worker == 0 && (I & 1)) {
        ObDereferenceObjectDeferDelete(Object);
        return;
    }
    if (ObfDereferenceObject(Object) == 0)
        __atomic_add_fetch(&ZeroSeen[I], 1, __ATOMIC_SEQ_CST);
}

static void *Worker(void *Arg)
{
    int w = (int)(intptr_t)Arg;
    PVOID mine = RsNew(OBJECTS + w);
    for (int i = 0; i < OBJECTS; i++) {
        Pairs(Shared, 1);
        ck_assert_int_eq(ObfReferenceObject(mine), 2); /* private: exact */
        ck_assert_int_eq(ObfDereferenceObject(mine), 1);
        PVOID o;
        while (!(o = __atomic_load_n(&Published[i], __ATOMIC_ACQUIRE)))
            sched_yield();
        Pairs(o, 1);
        NTSIM_OBJECT_INFO info;
        ck_assert_int_eq(NtsimQueryObject(o, &info), STATUS_SUCCESS); /* we hold a reference */
        ck_assert(info.PointerCount >= 1 && info.Id == Ids[i]);
        if (i % 50 == w) {
            HANDLE h;
            ck_assert_int_eq(ObOpenObjectByPointer(Shared, 0, NULL, 0, NULL, KernelMode, &h), STATUS_SUCCESS);
            Pairs(Shared, 2);
            ck_assert_int_eq(ZwClose(h), STATUS_SUCCESS);
        }
        DropPublished(w, i, o);
    }
    ck_assert_int_eq(ObfDereferenceObject(mine), 0);
    return NULL;
}

static int DeletedTotal(void)
{
    int n = 0;
    for (int i = 0; i < OBJECTS + WORKERS + 1; i++)
        n += __atomic_load_n(&Deleted[i], __ATOMIC_SEQ_CST);
    return n;
}

START_TEST(concurrent_references_keep_exact_counts)
{
    TtInit(0);
    Shared = RsNew(OBJECTS + WORKERS);
    pthread_t creator, workers[WORKERS];
    pthread_create(&creator, NULL, Creator, NULL);
    for (int w = 0; w < WORKERS; w++)
        pthread_create(&workers[w], NULL, Worker, (void *)(intptr_t)w);
    pthread_join(creator, NULL);
    for (int w = 0; w < WORKERS; w++)
        pthread_join(workers[w], NULL);
    TtAssertCounts(Shared, 1, 0, -1);
    for (int i = 0; i < 5000 && DeletedTotal() < OBJECTS + WORKERS; i++) /* deferred deletes on workers */
        usleep(1000);
    for (int i = 0; i < OBJECTS + WORKERS; i++)
        ck_assert_msg(Deleted[i] == 1, "object %d deleted %d times", i, Deleted[i]);
    for (int i = 0; i < OBJECTS; i++) {
        ck_assert(!TtIsLive(Published[i]) || TtQuery(Published[i]).Id != Ids[i]);
        /* exactly one dereference saw 0, unless the last one was deferred (worker 0, odd objects) */
        int expected = (i & 1) ? ZeroSeen[i] : 1;
        ck_assert_msg(ZeroSeen[i] == expected && ZeroSeen[i] <= 1, "object %d: %d zero returns", i, ZeroSeen[i]);
        if (i)
            ck_assert(Ids[i] > Ids[i - 1]); /* ids never reused */
    }
    ck_assert_int_eq(Deleted[OBJECTS + WORKERS], 0);
    ck_assert_int_eq(ObfDereferenceObject(Shared), 0);
    ck_assert_int_eq(Deleted[OBJECTS + WORKERS], 1);
}
END_TEST

/* ---- queries racing deletion: never a read of freed memory (ASan) ---- */

#define RECENT 64
static PVOID Recent[RECENT]; /* pointers the churner just freed, or is about to */
static volatile int ChurnDone;

static void *Churner(void *Arg)
{
    (void)Arg;
    for (int i = 0; i < 20000; i++) {
        PVOID o = RsNew(0);
        __atomic_store_n(&Recent[i % RECENT], o, __ATOMIC_RELEASE);
        ObfReferenceObject(o);
        ObfDereferenceObject(o);
        ObfDereferenceObject(o); /* freed: the query thread may be looking at it right now */
    }
    __atomic_store_n(&ChurnDone, 1, __ATOMIC_RELEASE);
    return NULL;
}

START_TEST(queries_race_deletion_safely)
{
    TtInit(0);
    pthread_t churner;
    pthread_create(&churner, NULL, Churner, NULL);
    long live = 0, dead = 0;
    int local = 0;
    while (!__atomic_load_n(&ChurnDone, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < RECENT; i++) {
            NTSIM_OBJECT_INFO info;
            PVOID p = __atomic_load_n(&Recent[i], __ATOMIC_ACQUIRE);
            if (NtsimQueryObject(p, &info) == STATUS_SUCCESS) {
                ck_assert_str_eq(info.TypeName, "RefScale");
                live++;
            } else {
                dead++;
            }
        }
        ck_assert_int_eq(NtsimQueryObject(&local, &(NTSIM_OBJECT_INFO){ 0 }), STATUS_INVALID_PARAMETER);
        ck_assert_int_eq(NtsimQueryObject((PVOID)(uintptr_t)0x10, &(NTSIM_OBJECT_INFO){ 0 }),
                         STATUS_INVALID_PARAMETER);
    }
    pthread_join(churner, NULL);
    ck_assert_int_gt(live + dead, 0);
    ck_assert_int_eq(Deleted[0], 20000);
}
END_TEST

/* ---- stale and random pointers are bug-checked, not read ---- */

START_TEST(reference_after_free_bugchecks)
{
    TtInit(0);
    PVOID o = RsNew(0);
    ck_assert_int_eq(ObfDereferenceObject(o), 0); /* freed */
    ObfReferenceObject(o);                         /* use after free: REFERENCE_BY_POINTER, not a read */
}
END_TEST

START_TEST(dereference_after_free_bugchecks)
{
    TtInit(0);
    PVOID o = RsNew(0);
    ck_assert_int_eq(ObfDereferenceObject(o), 0);
    ObfDereferenceObject(o);
}
END_TEST

START_TEST(reference_of_a_random_pointer_bugchecks)
{
    TtInit(0);
    int local;
    ObfReferenceObject(&local);
}
END_TEST

static void ReferenceFreed(void)
{
    TtInit(0);
    PVOID o = RsNew(0);
    ObfDereferenceObject(o);
    fprintf(stderr, "freed %p\n", o);
    ObfReferenceObject(o);
}

START_TEST(freed_pointer_bugcheck_names_the_pointer)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        ReferenceFreed();
        _exit(0);
    }
    close(fds[1]);
    char out[2048];
    size_t used = 0;
    ssize_t n;
    while (used + 1 < sizeof(out) && (n = read(fds[0], out + used, sizeof(out) - 1 - used)) > 0)
        used += (size_t)n;
    out[used] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    void *freed = NULL;
    ck_assert_msg(sscanf(out, "freed %p", &freed) == 1, "got: %s", out);
    char expected[128];
    snprintf(expected, sizeof(expected), "*** STOP 0x00000018 REFERENCE_BY_POINTER (0x%lx, 0x0, 0x0, 0x10)",
             (unsigned long)(uintptr_t)freed);
    ck_assert_msg(strstr(out, expected) != NULL, "expected %s, got: %s", expected, out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ntsim_refscale");
    TCase *tc = tcase_create("refscale");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_references_keep_exact_counts);
    tcase_add_test(tc, queries_race_deletion_safely);
    tcase_add_test_raise_signal(tc, reference_after_free_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, dereference_after_free_bugchecks, SIGABRT);
    tcase_add_test_raise_signal(tc, reference_of_a_random_pointer_bugchecks, SIGABRT);
    tcase_add_test(tc, freed_pointer_bugcheck_names_the_pointer);
    suite_add_tcase(s, tc);
    return TtRunSuite(s);
}
