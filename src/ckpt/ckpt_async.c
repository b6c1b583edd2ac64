/* ckpt_async.c: asynchronous saving (one background worker, FIFO, sticky errors).
 *
 * sp_ckpt_save in async mode copies the tree into staging memory (a deep copy; the caller
 * may change or free its tree as soon as save returns) and appends a job to a FIFO. One
 * worker thread takes jobs in insertion order and runs the same commit + retention as a
 * synchronous save, so at most one save is in flight and saves commit in the order they
 * were made (redis bio.c's guarantee).
 *
 * Staging is bounded: the bytes of every queued or in-flight tree are counted against
 * opt.async_staging_cap. A save that would exceed it waits (up to its timeout) for earlier
 * jobs to finish; a single tree larger than the cap waits for the queue to drain and is
 * then written synchronously by the caller, so memory never exceeds max(cap, tree).
 *
 * Errors are sticky: the first failure of a background save is kept in m->sticky and
 * returned by wait_until_finished, check_for_errors, every later save and close, until the
 * caller acknowledges it with sp_ckpt_clear_error. Later queued jobs still run.
 *
 * Locking: m->mu guards head/tail, busy, inflight, staged_bytes, last_queued, sticky, stop
 * and the step list. Condition cv_work wakes the worker; cv_idle wakes callers waiting for
 * staging space or for the queue to drain. The worker releases mu before any file-system
 * call. All timed waits use CLOCK_MONOTONIC deadlines.
 */
#include "ckpt_internal.h"

#include <errno.h>
#include <time.h>

static void deadline_after(struct timespec *ts, int64_t timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(timeout_ms / 1000);
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Waits on cv with m->mu held; returns ETIMEDOUT once the deadline passed. */
static int timed_wait(sp_ckpt_manager *m, pthread_cond_t *cv, const struct timespec *deadline)
{
    if (deadline == NULL) return pthread_cond_wait(cv, &m->mu);
    return pthread_cond_timedwait(cv, &m->mu, deadline);
}

static void job_free(sp__job *j)
{
    if (j == NULL) return;
    sp_tree_free(j->tree);
    sp__save_meta_free(&j->meta);
    free(j);
}

static void *worker_main(void *arg)
{
    sp_ckpt_manager *const m = (sp_ckpt_manager *)arg;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (m->head == NULL && !m->stop) pthread_cond_wait(&m->cv_work, &m->mu);
        if (m->head == NULL) break; /* stop requested and nothing left */
        sp__job *const j = m->head;
        m->head = j->next;
        if (m->head == NULL) m->tail = NULL;
        m->busy = 1;
        m->inflight = j->step;
        pthread_mutex_unlock(&m->mu);

        sp_error e;
        sp_error_clear(&e);
        sp_status s = SP_ERR_CANCELED;
        if (!atomic_load(&m->cancel)) s = sp__mgr_commit(m, j->step, j->tree, &j->meta, &e);
        else sp_error_set(&e, s, "save of step %lld canceled by close", (long long)j->step);

        pthread_mutex_lock(&m->mu);
        if (s != SP_OK && m->sticky.status == SP_OK) m->sticky = e;
        m->busy = 0;
        m->inflight = -1;
        m->staged_bytes -= j->bytes;
        pthread_cond_broadcast(&m->cv_idle);
        pthread_mutex_unlock(&m->mu);
        job_free(j);
        pthread_mutex_lock(&m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

sp_status sp__async_start(sp_ckpt_manager *m, sp_error *err)
{
    int const e = pthread_create(&m->worker, NULL, worker_main, m);
    SP_RETURN_IF(e != 0, err, SP_ERR_INTERNAL, "cannot start the checkpoint worker: %s", strerror(e));
    m->have_worker = 1;
    return SP_OK;
}

void sp__async_stop(sp_ckpt_manager *m)
{
    if (!m->have_worker) return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    if (atomic_load(&m->cancel)) { /* close timed out: drop jobs that have not started */
        while (m->head) {
            sp__job *const j = m->head;
            m->head = j->next;
            m->staged_bytes -= j->bytes;
            job_free(j);
        }
        m->tail = NULL;
    }
    pthread_cond_signal(&m->cv_work);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->worker, NULL);
    m->have_worker = 0;
}

sp_status sp__async_wait_idle(sp_ckpt_manager *m, int64_t timeout_ms, sp_error *err)
{
    struct timespec dl;
    if (timeout_ms >= 0) deadline_after(&dl, timeout_ms);
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    while ((m->head || m->busy) && rc != ETIMEDOUT) rc = timed_wait(m, &m->cv_idle, timeout_ms >= 0 ? &dl : NULL);
    int const pending = m->head != NULL || m->busy;
    sp_error const sticky = m->sticky;
    pthread_mutex_unlock(&m->mu);
    if (pending)
        return sp_error_set(err, SP_ERR_TIMEOUT, "checkpoint saves still running after %lld ms",
                            (long long)timeout_ms);
    if (sticky.status != SP_OK) {
        if (err) *err = sticky;
        return sticky.status;
    }
    return SP_OK;
}

/* Reserves staging space for bytes; returns 1 to stage, 0 to save synchronously. */
static sp_status reserve(sp_ckpt_manager *m, size_t bytes, int64_t timeout_ms, int *stage, sp_error *err)
{
    struct timespec dl;
    if (timeout_ms >= 0) deadline_after(&dl, timeout_ms);
    size_t const cap = m->opt.async_staging_cap;
    int const oversize = bytes > cap;
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    /* An oversize tree waits for the queue to drain; others for enough free space. */
    while (rc != ETIMEDOUT && (oversize ? (m->head || m->busy) : m->staged_bytes + bytes > cap))
        rc = timed_wait(m, &m->cv_idle, timeout_ms >= 0 ? &dl : NULL);
    int const ok = oversize ? !(m->head || m->busy) : m->staged_bytes + bytes <= cap;
    if (ok && !oversize) m->staged_bytes += bytes;
    pthread_mutex_unlock(&m->mu);
    SP_RETURN_IF(!ok, err, SP_ERR_TIMEOUT, "no staging space for %zu bytes within %lld ms (cap %zu)", bytes,
                 (long long)timeout_ms, cap);
    *stage = !oversize;
    return SP_OK;
}

sp_status sp__async_enqueue(sp_ckpt_manager *m, int64_t step, const sp_tree *t, sp__save_meta *meta,
                            int64_t timeout_ms, sp_error *err)
{
    size_t const need = sp__tree_bytes(t);
    int stage = 0;
    SP_TRY(reserve(m, need, timeout_ms, &stage, err));
    if (!stage) return sp__mgr_commit(m, step, t, meta, err); /* worker idle: no overlap */
    sp__job *const j = (sp__job *)calloc(1, sizeof *j);
    size_t got = 0;
    sp_status s = j ? sp__tree_clone(t, &j->tree, &got, err) : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    if (s != SP_OK) {
        free(j);
        pthread_mutex_lock(&m->mu);
        m->staged_bytes -= need;
        pthread_cond_broadcast(&m->cv_idle);
        pthread_mutex_unlock(&m->mu);
        return s;
    }
    SP_ASSERT(got == need);
    j->step = step;
    j->bytes = need;
    j->meta = *meta; /* taken over */
    memset(meta, 0, sizeof *meta);
    pthread_mutex_lock(&m->mu);
    if (m->tail) m->tail->next = j;
    else m->head = j;
    m->tail = j;
    if (step > m->last_queued) m->last_queued = step;
    pthread_cond_signal(&m->cv_work);
    pthread_mutex_unlock(&m->mu);
    return SP_OK;
}

sp_status sp_ckpt_wait_until_finished(sp_ckpt_manager *m, int64_t timeout_ms, sp_error *err)
{
    if (!m->have_worker) return sp_ckpt_check_for_errors(m, err);
    return sp__async_wait_idle(m, timeout_ms, err);
}

sp_status sp_ckpt_check_for_errors(sp_ckpt_manager *m, sp_error *err)
{
    pthread_mutex_lock(&m->mu);
    sp_error const sticky = m->sticky;
    pthread_mutex_unlock(&m->mu);
    if (sticky.status == SP_OK) return SP_OK;
    if (err) *err = sticky;
    return sticky.status;
}

void sp_ckpt_clear_error(sp_ckpt_manager *m)
{
    pthread_mutex_lock(&m->mu);
    sp_error_clear(&m->sticky);
    pthread_mutex_unlock(&m->mu);
}
