/* episodic.c: episodic mode (episode_length L > 0): docs/synthpix-compat.md, Episodic mode,
 * with D5.
 *
 * Sequences: the source's records grouped by directory (the name up to its last '/'),
 * sorted by name inside each group; file i+1 of a group is the time step after file i.
 * Episodes: every start (group, s) with s = 0 .. n_group - L, in group order then s order;
 * groups shorter than L give none. The order's records are the episodes, so its seeded
 * per-epoch permutation shuffles whole episodes (time order inside each is kept, unlike
 * SynthPix's Grain path, which shuffles the interleaved records), and its epochs, shards
 * and finite-stream end apply to episodes.
 *
 * Stepping: at step 0 the F parallel episodes are the order's next F records (ep_refs; a
 * finite stream pads with mask 0); step t makes record order[start + t] of each the
 * current record, with record seed random_bits(fold_in(seed_key, t), episode position) so
 * every (episode, step) has its own particles while staying a pure function of (seed,
 * position, t). After step L-1 stepping refuses with SP_ERR_EPISODE_END until the time step
 * is rewound (sp_sampler_next_episode); the order only moves at episode starts, so
 * abandoning an episode mid-way skips nothing else. The time step advances only when the
 * sampler has made the step's batch (sp__records_step_done). State: ep_refs/ep_valid,
 * timestep and the episode counter (saved by records_state.c).
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "loader_internal.h"

struct sp_episodes {
    uint64_t *order;  /* source records sorted by (directory, name) */
    uint64_t *start;  /* per episode: index into order of its step 0 */
    uint64_t count;   /* episodes */
};

typedef struct named {
    const char *name;
    size_t dir_len; /* length of the directory part (up to the last '/') */
    uint64_t record;
} named;

static int cmp_named(const void *pa, const void *pb)
{
    const named *const a = (const named *)pa, *const b = (const named *)pb;
    size_t const n = a->dir_len < b->dir_len ? a->dir_len : b->dir_len;
    int const c = memcmp(a->name, b->name, n);
    if (c != 0) return c;
    if (a->dir_len != b->dir_len) return a->dir_len < b->dir_len ? -1 : 1;
    return strcmp(a->name + a->dir_len, b->name + b->dir_len);
}

static int same_dir(const named *a, const named *b)
{
    return a->dir_len == b->dir_len && memcmp(a->name, b->name, a->dir_len) == 0;
}

/* Sorted records; e->start gets the episode starts (allocated n entries at most). */
static sp_status build(const sp_source *src, uint64_t L, sp_episodes *e, size_t *longest, sp_error *err)
{
    uint64_t const n = sp__source_count(src);
    named *const v = (named *)malloc((size_t)n * sizeof *v);
    /* Built-in records' names exist only while the episodes are built. */
    char(*const store)[SP_SOURCE_NAME_MAX] =
        sp__source_is_builtin(src) ? (char(*)[SP_SOURCE_NAME_MAX])malloc((size_t)n * sizeof *store) : NULL;
    e->order = (uint64_t *)malloc((size_t)n * sizeof *e->order);
    e->start = (uint64_t *)malloc((size_t)n * sizeof *e->start);
    if (v == NULL || e->order == NULL || e->start == NULL || (sp__source_is_builtin(src) && store == NULL)) {
        free(v);
        free(store);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < n; i++) {
        v[i].name = sp__source_name(src, i, store ? store[i] : NULL);
        const char *const slash = strrchr(v[i].name, '/');
        v[i].dir_len = slash ? (size_t)(slash - v[i].name) : 0;
        v[i].record = i;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_named);
    *longest = 0;
    for (uint64_t g = 0; g < n;) {
        uint64_t h = g + 1;
        while (h < n && same_dir(&v[g], &v[h])) h++;
        if (h - g > *longest) *longest = (size_t)(h - g);
        for (uint64_t st = g; h - g >= L && st + L <= h; st++) e->start[e->count++] = st;
        g = h;
    }
    for (uint64_t i = 0; i < n; i++) e->order[i] = v[i].record;
    free(v);
    free(store);
    return SP_OK;
}

sp_status sp__episodes_create(sp_episodes **out, const sp_source *src, int L, sp_error *err)
{
    *out = NULL;
    sp_episodes *const e = (sp_episodes *)calloc(1, sizeof *e);
    SP_RETURN_IF(e == NULL, err, SP_ERR_NOMEM, "out of memory");
    size_t longest = 0;
    sp_status st = build(src, (uint64_t)L, e, &longest, err);
    if (st == SP_OK && e->count == 0)
        st = sp_error_set(err, SP_ERR_CONFIG,
                          "episode_length: %d is longer than every sequence (the longest directory has %zu files)", L,
                          longest);
    if (st != SP_OK) {
        sp__episodes_free(e);
        return st;
    }
    *out = e;
    return SP_OK;
}

void sp__episodes_free(sp_episodes *e)
{
    if (e == NULL) return;
    free(e->order);
    free(e->start);
    free(e);
}

uint64_t sp__episodes_count(const sp_episodes *e)
{
    return e->count;
}

uint64_t sp__episode_record(const sp_episodes *e, uint64_t episode, int64_t t)
{
    return e->order[e->start[episode] + (uint64_t)t];
}

/* Step 0: the next F episodes from the order. */
static sp_status start_episodes(sp_records *r, sp_error *err)
{
    size_t nvalid = 0;
    for (size_t f = 0; f < r->count; f++) {
        r->ep_valid[f] = (uint8_t)sp__loader_next(&r->order, &r->ep_refs[f]);
        if (r->ep_valid[f]) nvalid++;
        else if (f > 0) r->ep_refs[f] = r->ep_refs[f - 1]; /* padding: the last episode's epoch */
    }
    SP_RETURN_IF(nvalid == 0, err, SP_ERR_END, "end of data: %llu episodes read",
                 (unsigned long long)r->order.next);
    r->episode++;
    return SP_OK;
}

sp_status sp__records_step(sp_records *r, sp_error *err)
{
    int64_t const L = r->episode_length;
    SP_RETURN_IF(r->timestep >= L, err, SP_ERR_EPISODE_END,
                 "episode ended after %d steps; call sp_sampler_next_episode to start the next one", (int)L);
    if (r->timestep == 0) SP_TRY(start_episodes(r, err));
    sp_key const step_key = sp_key_fold_in(r->order.seed_key, (uint32_t)r->timestep);
    for (size_t f = 0; f < r->count; f++) {
        sp_record_ref *const ref = &r->refs[f];
        *ref = r->ep_refs[f];
        r->valid[f] = r->ep_valid[f];
        r->local_pos[f] = 0; /* not prefetched in episodic mode */
        ref->record = sp__episode_record(r->episodes, r->ep_refs[f].record, r->timestep);
        ref->seed = r->valid[f] ? sp_random_bits(step_key, ref->position) : 0;
    }
    sp__records_sync_names(r);
    return SP_OK;
}

int64_t sp__records_timestep(const sp_records *r)
{
    return r->timestep;
}

void sp__records_step_done(sp_records *r)
{
    r->timestep++;
}

void sp__records_rewind_episode(sp_records *r)
{
    r->timestep = 0;
}
