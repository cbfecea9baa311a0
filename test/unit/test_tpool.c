/*
 * test_tpool.c - lib/tpool: every accepted job runs exactly once, a full
 * queue says -ERR_BUSY at once, tpool_free runs what is still queued, and
 * workers carry their names. Also meant for SANITIZER=thread.
 */
#include "compat.h"
#include "errs.h"
#include "harness.h"
#include "tpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

static void bump(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* ---- many producers, many workers ---- */

#define PRODUCERS 4
#define JOBS_EACH 10000

struct producer {
    struct tpool *tp;
    atomic_int *counter;
    long busy; /* how often the queue was full */
};

static void *produce(void *arg)
{
    struct producer *pr = arg;
    for (int i = 0; i < JOBS_EACH; i++) {
        int rc;
        while ((rc = tpool_submit(pr->tp, bump, pr->counter)) == -ERR_BUSY) {
            pr->busy++;
            sched_yield();
        }
        if (rc != 0)
            return NULL; /* the counter check below reports it */
    }
    return NULL;
}

TEST(all_jobs_run_once)
{
    struct tpool *tp = NULL;
    atomic_int counter = 0;
    REQUIRE(tpool_new(4, 256, "t", &tp) == 0);
    pthread_t th[PRODUCERS];
    struct producer pr[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        pr[i] = (struct producer){tp, &counter, 0};
        REQUIRE(pthread_create(&th[i], NULL, produce, &pr[i]) == 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    tpool_drain(tp);
    CHECK_INT(atomic_load(&counter), PRODUCERS * JOBS_EACH);
    CHECK_INT(tpool_pending(tp), 0);
    tpool_free(tp);
    CHECK_INT(atomic_load(&counter), PRODUCERS * JOBS_EACH);
}

/* ---- a job that blocks until released ---- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started; /* guarded by mu */
    bool open;    /* guarded by mu */
    atomic_int ran;
};

static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->started = false;
    g->open = false;
    atomic_init(&g->ran, 0);
}

static void gate_destroy(struct gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

static void gate_job(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->started = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->ran, 1);
}

static void gate_wait_started(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->started)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

TEST(full_queue_is_busy)
{
    struct tpool *tp = NULL;
    struct gate g;
    atomic_int counter = 0;
    gate_init(&g);
    REQUIRE(tpool_new(1, 2, "busy", &tp) == 0);
    REQUIRE(tpool_submit(tp, gate_job, &g) == 0);
    gate_wait_started(&g); /* the only worker is now stuck in gate_job */
    CHECK_INT(tpool_pending(tp), 0);
    CHECK_INT(tpool_submit(tp, bump, &counter), 0);
    CHECK_INT(tpool_submit(tp, bump, &counter), 0);
    CHECK_INT(tpool_pending(tp), 2);
    CHECK_INT(tpool_submit(tp, bump, &counter), -ERR_BUSY);
    CHECK_INT(tpool_submit(tp, bump, &counter), -ERR_BUSY);
    CHECK_INT(atomic_load(&counter), 0);
    gate_open(&g);
    tpool_drain(tp);
    CHECK_INT(atomic_load(&counter), 2);
    CHECK_INT(atomic_load(&g.ran), 1);
    /* Room again once drained. */
    CHECK_INT(tpool_submit(tp, bump, &counter), 0);
    tpool_free(tp);
    CHECK_INT(atomic_load(&counter), 3);
    gate_destroy(&g);
}

static void slow_bump(void *arg)
{
    usleep(200);
    bump(arg);
}

struct opener {
    struct gate *g;
};

static void *open_later(void *arg)
{
    struct opener *o = arg;
    usleep(20 * 1000); /* let tpool_free set stop first */
    gate_open(o->g);
    return NULL;
}

TEST(free_runs_queued_jobs)
{
    struct tpool *tp = NULL;
    struct gate g;
    atomic_int counter = 0;
    gate_init(&g);
    REQUIRE(tpool_new(1, 64, "free", &tp) == 0);
    REQUIRE(tpool_submit(tp, gate_job, &g) == 0);
    gate_wait_started(&g);
    for (int i = 0; i < 50; i++)
        CHECK_INT(tpool_submit(tp, slow_bump, &counter), 0);
    CHECK_INT(tpool_pending(tp), 50);
    /* The gate opens while tpool_free is already waiting: every queued job
     * must still run before it returns. */
    struct opener o = {&g};
    pthread_t th;
    REQUIRE(pthread_create(&th, NULL, open_later, &o) == 0);
    tpool_free(tp);
    CHECK_INT(atomic_load(&counter), 50);
    CHECK_INT(atomic_load(&g.ran), 1);
    pthread_join(th, NULL);
    gate_destroy(&g);
}

/* ---- names and arguments ---- */

struct name_probe {
    char name[32];
};

static void get_name(void *arg)
{
    struct name_probe *np = arg;
    pthread_getname_np(pthread_self(), np->name, sizeof(np->name));
}

TEST(workers_are_named)
{
    struct tpool *tp = NULL;
    struct name_probe np = {""};
    REQUIRE(tpool_new(1, 4, "wrk", &tp) == 0);
    REQUIRE(tpool_submit(tp, get_name, &np) == 0);
    tpool_drain(tp); /* drain orders the job's write before our read */
    CHECK_STR(np.name, "wrk-0");
    tpool_free(tp);
    /* A long prefix is cut so "-<n>" still fits the kernel's 15 bytes. */
    memset(&np, 0, sizeof(np));
    REQUIRE(tpool_new(1, 4, "averyveryverylongprefix", &tp) == 0);
    REQUIRE(tpool_submit(tp, get_name, &np) == 0);
    tpool_drain(tp);
    CHECK_INT(strlen(np.name), 15);
    CHECK_STR(np.name + 13, "-0");
    tpool_free(tp);
}

TEST(bad_arguments)
{
    struct tpool *tp = (struct tpool *)&tp; /* must stay untouched on error */
    struct tpool *const sentinel = tp;
    CHECK_INT(tpool_new(0, 4, "x", &tp), -ERR_INVAL);
    CHECK_INT(tpool_new(2, 0, "x", &tp), -ERR_INVAL);
    CHECK(tp == sentinel);
    REQUIRE(tpool_new(2, 4, NULL, &tp) == 0);
    CHECK_INT(tpool_submit(tp, NULL, NULL), -ERR_INVAL);
    tpool_drain(tp); /* nothing queued: returns at once */
    tpool_free(tp);
    tpool_free(NULL);
}

/* ---- delayed jobs ---- */

struct stamp {
    atomic_llong at_ms;
    atomic_int order;
    atomic_int *seq;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stamp_it(void *arg)
{
    struct stamp *s = arg;
    atomic_store(&s->at_ms, now_ms());
    atomic_store(&s->order, atomic_fetch_add(s->seq, 1) + 1);
}

TEST(delayed_jobs_run_when_due_in_order)
{
    struct tpool *tp;
    REQUIRE(tpool_new(2, 8, "delay", &tp) == 0);
    atomic_int seq = 0;
    struct stamp late = {0, 0, &seq}, early = {0, 0, &seq};
    long long t0 = now_ms();
    CHECK_INT(tpool_submit_after(tp, 120, stamp_it, &late), 0);
    CHECK_INT(tpool_submit_after(tp, 40, stamp_it, &early), 0);
    for (int i = 0; i < 100 && atomic_load(&seq) < 2; i++)
        usleep(5000);
    CHECK_INT(atomic_load(&early.order), 1);
    CHECK_INT(atomic_load(&late.order), 2);
    CHECK(atomic_load(&early.at_ms) - t0 >= 40);
    CHECK(atomic_load(&late.at_ms) - t0 >= 120);
    CHECK(atomic_load(&late.at_ms) - t0 < 400); /* no worker slept past it */
    tpool_free(tp);
}

TEST(free_runs_delayed_jobs_at_once)
{
    struct tpool *tp;
    REQUIRE(tpool_new(1, 2, "delay", &tp) == 0);
    atomic_int n = 0;
    CHECK_INT(tpool_submit_after(tp, 60000, bump, &n), 0);
    CHECK_INT(tpool_submit_after(tp, 60000, bump, &n), 0);
    CHECK_INT(tpool_submit_after(tp, 60000, bump, &n), -ERR_BUSY); /* queue_max delayed */
    CHECK_INT(tpool_submit_after(tp, -1, bump, &n), -ERR_INVAL);
    long long t0 = now_ms();
    tpool_free(tp); /* their owners get them now, not in a minute */
    CHECK_INT(atomic_load(&n), 2);
    CHECK(now_ms() - t0 < 5000);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(all_jobs_run_once),
        T(full_queue_is_busy),
        T(free_runs_queued_jobs),
        T(workers_are_named),
        T(bad_arguments),
        T(delayed_jobs_run_when_due_in_order),
        T(free_runs_delayed_jobs_at_once),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
