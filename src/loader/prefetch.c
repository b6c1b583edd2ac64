/* prefetch.c: records loaded ahead, in stream order, on dedicated threads.
 *
 * The consumer (sp__records_load, at each refresh) takes records by stream position
 * i = 0, 1, 2, ... A window of `capacity` slots holds positions [head, tail): slot
 * i % capacity belongs to position i. Worker threads pick the lowest queued position, load
 * it into the slot's own storage (sp__loader_ref gives the record, sp__source_load reads it)
 * and mark it ready; the consumer waits for its position, swaps the slot's storage with its
 * own (so buffers circulate and the steady state allocates nothing) and queues the next
 * position at the tail. A record's bytes depend only on its position, and positions are handed out by
 * position, never by which thread finished first, so the stream is identical for any
 * thread count (and to loading without a prefetcher). A take of a position other than head
 * (after a restore or reset) restarts the window there: the generation counter changes and
 * loads still running for the old window are discarded when they finish.
 *
 * Locking: one mutex guards every field below `mu`; workers never hold it while loading.
 * `work` wakes workers (new queued slots or stop); `ready` wakes the consumer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "loader_internal.h"

typedef enum slot_state { SLOT_EMPTY = 0, SLOT_QUEUED, SLOT_LOADING, SLOT_READY } slot_state;

typedef struct slot {
    slot_state state;
    uint64_t pos;
    uint64_t gen;
    sp_flow flow;        /* with its reusable storage: cap floats, the file's bytes, a mapping */
    size_t cap;
    sp_membuf file;
    sp_flow_mapping map;
    sp_status status;
    sp_error err;
} slot;

struct sp_prefetch {
    const sp_source *src;
    sp_loader loader; /* a copy: only the pure mapping position -> record is used */
    uint64_t end;     /* first position past a finite stream; UINT64_MAX when looping */
    pthread_t *threads;
    unsigned nthreads, started;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    /* guarded by mu */
    slot *slots;
    size_t capacity;
    uint64_t head, tail, gen;
    int stop;
};

/* Lowest queued position, or NULL. Called with mu held. */
static slot *next_queued(sp_prefetch *p)
{
    for (uint64_t i = p->head; i < p->tail; i++) {
        slot *const s = &p->slots[i % p->capacity];
        if (s->state == SLOT_QUEUED && s->pos == i) return s;
    }
    return NULL;
}

static void fill_window(sp_prefetch *p);

/* Loads into the slot's own storage, which no other thread touches while the slot is
 * LOADING (take and restart leave a LOADING slot's storage alone). */
static void load_one(sp_prefetch *p, slot *s)
{
    uint64_t const pos = s->pos, gen = s->gen;
    s->state = SLOT_LOADING;
    pthread_mutex_unlock(&p->mu);
    sp_record_ref ref;
    sp__loader_ref(&p->loader, pos, &ref);
    sp_error err;
    sp_error_clear(&err);
    sp_status const st = sp__source_load(p->src, ref.record, &s->flow, &s->cap, &s->file, &s->map, &err);
    pthread_mutex_lock(&p->mu);
    if (s->gen == gen && s->pos == pos && s->state == SLOT_LOADING) {
        s->status = st;
        s->err = err;
        s->state = SLOT_READY;
        pthread_cond_broadcast(&p->ready);
    } else if (s->state == SLOT_LOADING) {
        s->state = SLOT_EMPTY; /* the window moved on while loading */
        fill_window(p);
    }
}

static void *worker_main(void *arg)
{
    sp_prefetch *const p = (sp_prefetch *)arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        slot *const s = next_queued(p);
        if (s == NULL) {
            pthread_cond_wait(&p->work, &p->mu);
            continue;
        }
        load_one(p, s);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Queues positions up to head + capacity, as far as slots are free (a slot still LOADING
 * for a discarded window is queued once its loader is done). Called with mu held. */
static void fill_window(sp_prefetch *p)
{
    while (p->tail < p->head + p->capacity && p->tail < p->end) {
        slot *const s = &p->slots[p->tail % p->capacity];
        if (s->state == SLOT_LOADING) break;
        s->state = SLOT_QUEUED;
        s->pos = p->tail;
        s->gen = p->gen;
        p->tail++;
    }
    pthread_cond_broadcast(&p->work);
}

static void restart_window(sp_prefetch *p, uint64_t i)
{
    p->gen++;
    for (size_t k = 0; k < p->capacity; k++)
        if (p->slots[k].state != SLOT_LOADING) p->slots[k].state = SLOT_EMPTY;
    p->head = p->tail = i;
}

static void swap_storage(slot *s, sp_flow *out, size_t *cap, sp_membuf *file, sp_flow_mapping *mp)
{
    sp_flow const f = s->flow;
    size_t const c = s->cap;
    sp_membuf const m = s->file;
    sp_flow_mapping const q = s->map;
    s->flow = *out, s->cap = *cap, s->file = *file, s->map = *mp;
    *out = f, *cap = c, *file = m, *mp = q;
}

sp_status sp__prefetch_take(sp_prefetch *p, uint64_t i, sp_flow *out, size_t *cap, sp_membuf *file,
                            sp_flow_mapping *mp, sp_error *err)
{
    SP_RETURN_IF(i >= p->end, err, SP_ERR_INTERNAL, "prefetch: position %llu is past the end of the stream",
                 (unsigned long long)i);
    pthread_mutex_lock(&p->mu);
    if (i != p->head || p->tail == p->head) restart_window(p, i);
    fill_window(p);
    slot *const s = &p->slots[i % p->capacity];
    while (!(s->state == SLOT_READY && s->pos == i)) {
        pthread_cond_wait(&p->ready, &p->mu);
        fill_window(p); /* a discarded load may have freed the slot we wait for */
    }
    swap_storage(s, out, cap, file, mp);
    sp_status const st = s->status;
    if (err && st != SP_OK) *err = s->err;
    s->state = SLOT_EMPTY;
    p->head = i + 1;
    fill_window(p);
    pthread_mutex_unlock(&p->mu);
    return st;
}

sp_status sp__prefetch_create(sp_prefetch **out, const sp_source *src, const sp_loader *loader, unsigned threads,
                              size_t capacity, sp_error *err)
{
    *out = NULL;
    sp_prefetch *const p = (sp_prefetch *)calloc(1, sizeof *p);
    SP_RETURN_IF(p == NULL, err, SP_ERR_NOMEM, "out of memory");
    p->src = src;
    p->loader = *loader;
    p->end = sp__loader_end(loader);
    p->capacity = capacity ? capacity : 1;
    p->slots = (slot *)calloc(p->capacity, sizeof *p->slots);
    for (size_t k = 0; p->slots && k < p->capacity; k++) p->slots[k].map.map.slot = -1;
    p->threads = (pthread_t *)calloc(threads, sizeof *p->threads);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, NULL);
    if (p->slots == NULL || p->threads == NULL) {
        sp__prefetch_free(p);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    for (unsigned t = 0; t < threads; t++) {
        if (pthread_create(&p->threads[t], NULL, worker_main, p) != 0) {
            sp__prefetch_free(p);
            return sp_error_set(err, SP_ERR_NOMEM, "cannot start prefetch thread %u", t);
        }
        p->started++;
    }
    p->nthreads = threads;
    *out = p;
    return SP_OK;
}

void sp__prefetch_free(sp_prefetch *p)
{
    if (p == NULL) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned t = 0; t < p->started; t++) pthread_join(p->threads[t], NULL);
    for (size_t k = 0; p->slots && k < p->capacity; k++) {
        sp__mapping_drop(&p->slots[k].flow, &p->slots[k].map);
        sp_flow_release(&p->slots[k].flow);
        sp_membuf_free(&p->slots[k].file);
    }
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->ready);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->threads);
    free(p);
}
