/* pool.c: a fixed set of worker threads running blocking parallel-for jobs.
 *
 * Design: one job at a time. sp_pool_run publishes (fn, ctx, n), bumps `generation` and
 * wakes the workers; every participant (workers and the caller) takes the next item index
 * from `next` under the mutex until it reaches n. The caller then waits until `active`
 * drops to zero. Items are coarse (a tile, a pair), so one mutex acquisition per item is
 * negligible and keeps the code obviously race-free.
 *
 * Locking: `mu` guards every field below it in struct sp_pool. Workers sleep on `wake`;
 * the caller sleeps on `done`. `generation` and `active` are also read without the lock
 * (atomically) by the spin phase below, so every access to them is atomic.
 *
 * Why a spin phase: a batch of one 256x256 pair is five parallel-fors of ~0.1 ms each, and
 * on the VMs we measure a futex wake-up takes tens of microseconds, so with two threads
 * 0.37 ms of every 0.69 ms pair was a thread waiting to be woken (bench --breakdown: 1.47
 * threads busy). Before sleeping, a worker watches `generation` and the caller watches
 * `active` for up to SP_POOL_SPIN_NS, yielding the core between looks, so the next job
 * of the same batch usually finds them awake; an idle pool still sleeps after that.
 */
#include "sp/sp_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SP_POOL_SPIN_NS 200000L /* 0.2 ms */

struct sp_pool {
    unsigned nthreads; /* including the caller */
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    /* guarded by mu */
    sp_pool_fn fn;
    void *ctx;
    size_t n;
    size_t next;
    unsigned active;
    unsigned long generation;
    int stop;
};

typedef struct worker_arg {
    sp_pool *pool;
    unsigned index;
} worker_arg;

unsigned sp_cpu_count(void)
{
    long const n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

static unsigned long load_ul(const unsigned long *v)
{
    return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static unsigned load_u(const unsigned *v)
{
    return __atomic_load_n(v, __ATOMIC_ACQUIRE);
}

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Called with mu held; returns with mu held. Waits (without the lock) for up to
 * SP_POOL_SPIN_NS until *v differs from `from` (differ = 1) or equals it (differ = 0). */
static void spin(sp_pool *p, const unsigned long *ul, const unsigned *u, unsigned long from, int differ)
{
    pthread_mutex_unlock(&p->mu);
    long const end = now_ns() + SP_POOL_SPIN_NS;
    for (;;) {
        unsigned long const v = ul ? load_ul(ul) : load_u(u);
        if ((v != from) == differ || now_ns() > end) break;
        sched_yield(); /* a spinning thread leaves the core to a prefetch thread */
    }
    pthread_mutex_lock(&p->mu);
}

/* Takes items until the job is exhausted. Called with mu held; returns with mu held. */
static void drain(sp_pool *p, unsigned worker)
{
    while (p->next < p->n) {
        size_t const item = p->next++;
        sp_pool_fn const fn = p->fn;
        void *const ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, item, worker);
        pthread_mutex_lock(&p->mu);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *const wa = (worker_arg *)arg;
    sp_pool *const p = wa->pool;
    unsigned const index = wa->index;
    free(wa);
    pthread_mutex_lock(&p->mu);
    unsigned long seen = load_ul(&p->generation);
    for (;;) {
        if (!p->stop && load_ul(&p->generation) == seen) spin(p, &p->generation, NULL, seen, 1);
        while (!p->stop && load_ul(&p->generation) == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = load_ul(&p->generation);
        __atomic_add_fetch(&p->active, 1, __ATOMIC_ACQ_REL);
        drain(p, index);
        if (__atomic_sub_fetch(&p->active, 1, __ATOMIC_ACQ_REL) == 0) pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sp_status sp_pool_create(sp_pool **out, unsigned threads)
{
    *out = NULL;
    if (threads == 0) threads = sp_cpu_count();
    sp_pool *const p = (sp_pool *)calloc(1, sizeof *p);
    if (p == NULL) return SP_ERR_NOMEM;
    p->nthreads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1) {
        p->workers = (pthread_t *)calloc(threads - 1, sizeof *p->workers);
        if (p->workers == NULL) {
            sp_pool_free(p);
            return SP_ERR_NOMEM;
        }
    }
    for (unsigned i = 1; i < threads; i++) {
        worker_arg *const wa = (worker_arg *)malloc(sizeof *wa);
        if (wa == NULL) {
            p->nthreads = i;
            sp_pool_free(p);
            return SP_ERR_NOMEM;
        }
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->workers[i - 1], NULL, worker_main, wa) != 0) {
            free(wa);
            p->nthreads = i;
            sp_pool_free(p);
            return SP_ERR_NOMEM;
        }
    }
    *out = p;
    return SP_OK;
}

void sp_pool_free(sp_pool *p)
{
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 1; i < p->nthreads; i++) pthread_join(p->workers[i - 1], NULL);
    free(p->workers);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

unsigned sp_pool_size(const sp_pool *p)
{
    return p ? p->nthreads : 1u;
}

void sp_pool_run(sp_pool *p, size_t n, sp_pool_fn fn, void *ctx)
{
    if (p == NULL || p->nthreads == 1 || n <= 1) {
        for (size_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->next = 0;
    __atomic_add_fetch(&p->generation, 1, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&p->active, 1, __ATOMIC_ACQ_REL); /* the caller */
    pthread_cond_broadcast(&p->wake);
    drain(p, 0);
    if (__atomic_sub_fetch(&p->active, 1, __ATOMIC_ACQ_REL) > 0) spin(p, NULL, &p->active, 0, 0);
    while (load_u(&p->active) > 0) pthread_cond_wait(&p->done, &p->mu);
    p->fn = NULL;
    p->ctx = NULL;
    p->n = 0;
    pthread_mutex_unlock(&p->mu);
}
