/* episodic.c: episodic mode (episode_length L > 0), reference 8.7 with PRODUCT 4.5.
 *
 * Sequences: the source's records grouped by directory (the name up to its last '/'),
 * sorted by name inside each group; file i+1 of a group is the time step after file i.
 * Episodes: every start (group, s) with s = 0 .. n_group - L, in group order then s order;
 * groups shorter than L give none. The loader's records are the episodes, so the loader's
 * seeded per-epoch permutation shuffles whole episodes (time order inside each is kept,
 * unlike SynthPix's Grain path, which shuffles the interleaved records), and its epochs,
 * shards and finite-stream end apply to episodes.
 *
 * Stepping: at step 0 the F parallel episodes are the loader's next F records (ep_refs; a
 * finite stream pads with mask 0); step t loads record order[start + t] of each, with
 * record seed random_bits(fold_in(seed_key, t), episode position) so every (episode, step)
 * has its own particles while staying a pure function of (seed, position, t). After step
 * L-1 the sampler refuses with SP_ERR_EPISODE_END until sp_sampler_next_episode rewinds
 * the time step; the loader only moves at episode starts, so abandoning an episode
 * mid-way skips nothing else. State: ep_refs/ep_valid, timestep and the episode counter
 * (saved by sampler_state.c).
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sampler_internal.h"
#include "sampler_struct.h"

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

/* Sorted records; *starts gets the episode starts (allocated n entries at most). */
static sp_status build(const sp_sampler *s, struct sp_episodes *e, size_t *longest, sp_error *err)
{
    uint64_t const n = sp__source_count(s->src), L = (uint64_t)s->cfg.episode_length;
    named *const v = (named *)malloc((size_t)n * sizeof *v);
    e->order = (uint64_t *)malloc((size_t)n * sizeof *e->order);
    e->start = (uint64_t *)malloc((size_t)n * sizeof *e->start);
    if (v == NULL || e->order == NULL || e->start == NULL) {
        free(v);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    for (uint64_t i = 0; i < n; i++) {
        v[i].name = sp__source_name(s->src, i);
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
    return SP_OK;
}

sp_status sp__episodes_init(sp_sampler *s, sp_error *err)
{
    struct sp_episodes *const e = (struct sp_episodes *)calloc(1, sizeof *e);
    SP_RETURN_IF(e == NULL, err, SP_ERR_NOMEM, "out of memory");
    s->episodes = e;
    size_t longest = 0;
    SP_TRY(build(s, e, &longest, err));
    SP_RETURN_IF(e->count == 0, err, SP_ERR_CONFIG,
                 "episode_length: %d is longer than every sequence (the longest directory has %zu files)",
                 s->cfg.episode_length, longest);
    sp__loader_init(&s->loader, e->count, s->cfg.randomize, s->cfg.loop, s->cfg.seed);
    s->timestep = 0;
    return SP_OK;
}

void sp__episodes_free(sp_sampler *s)
{
    if (s->episodes == NULL) return;
    free(s->episodes->order);
    free(s->episodes->start);
    free(s->episodes);
    s->episodes = NULL;
}

uint64_t sp__episode_record(const sp_sampler *s, uint64_t start, int64_t t)
{
    return s->episodes->order[s->episodes->start[start] + (uint64_t)t];
}

/* Step 0: the next F episodes from the loader. */
static sp_status start_episodes(sp_sampler *s, sp_error *err)
{
    size_t nvalid = 0;
    for (size_t f = 0; f < s->F; f++) {
        s->ep_valid[f] = (uint8_t)sp__loader_next(&s->loader, &s->ep_refs[f]);
        if (s->ep_valid[f]) nvalid++;
        else if (f > 0) s->ep_refs[f] = s->ep_refs[f - 1]; /* padding: the last episode's epoch */
    }
    SP_RETURN_IF(nvalid == 0, err, SP_ERR_END, "end of data: %llu episodes read",
                 (unsigned long long)s->loader.next);
    s->episode++;
    return SP_OK;
}

sp_status sp__episodic_step(sp_sampler *s, sp_error *err)
{
    int64_t const L = s->cfg.episode_length;
    SP_RETURN_IF(s->timestep >= L, err, SP_ERR_EPISODE_END,
                 "episode ended after %d steps; call sp_sampler_next_episode to start the next one", (int)L);
    if (s->timestep == 0) SP_TRY(start_episodes(s, err));
    sp_key const step_key = sp_key_fold_in(s->loader.seed_key, (uint32_t)s->timestep);
    for (size_t f = 0; f < s->F; f++) {
        sp_record_ref *const r = &s->refs[f];
        *r = s->ep_refs[f];
        s->valid[f] = s->ep_valid[f];
        s->local_pos[f] = 0; /* not prefetched in episodic mode */
        r->record = sp__episode_record(s, s->ep_refs[f].record, s->timestep);
        r->seed = s->valid[f] ? sp_random_bits(step_key, r->position) : 0;
    }
    return SP_OK;
}

sp_status sp__episodic_refresh(sp_sampler *s, sp_error *err)
{
    SP_TRY(sp__episodic_step(s, err));
    return sp__sampler_load(s, err);
}

sp_status sp_sampler_next_episode(sp_sampler *s, sp_error *err)
{
    SP_RETURN_IF(s->cfg.episode_length <= 0, err, SP_ERR_INVALID,
                 "next_episode: the sampler is not episodic (episode_length is 0)");
    s->timestep = 0;
    return SP_OK;
}
