/* sampler_internal.h: pieces of the sampler module shared between its files:
 * the record loader (order, epochs, record seeds), the record sources (analytic,
 * kinematic, files) and the per-pair particle generator. */
#ifndef SP_SAMPLER_INTERNAL_H
#define SP_SAMPLER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_config.h"
#include "sp/sp_flow.h"
#include "sp/sp_render.h"
#include "sp/sp_rng.h"
#include "sp/sp_sampler.h"
#include "sp_sampler_state.h"

/* ---- loader: stream position -> (record, epoch, record seed) ---------------------- */

typedef struct sp_loader {
    uint64_t records;  /* n: records per epoch */
    int shuffle;       /* reshuffle every epoch with a seeded permutation */
    int loop;          /* infinite epochs; otherwise one */
    sp_key order_key;  /* PRNGKey(seed) folded with the shuffle tag */
    sp_key seed_key;   /* PRNGKey(seed) folded with the record-seed tag */
    uint64_t next;     /* next position of this shard's stream (the global one unsharded) */
    uint64_t seed;     /* the configuration seed (for the saved state) */
    uint64_t shard_index, shard_count; /* 0 <= index < count; (0, 1) = no sharding */
    uint64_t per_epoch; /* this shard's positions per epoch: ceil((records - index) / count) */
} sp_loader;


void sp__loader_init(sp_loader *l, uint64_t records, int shuffle, int loop, uint64_t seed);
/* Restricts the stream to shard `index` of `count`: in every epoch, shard s reads the
 * epoch positions t = s, s + count, s + 2 count, ... < records, so shards are disjoint and
 * together cover each epoch. Record seeds stay those of the global position. Errors name
 * the option (SP_ERR_CONFIG). */
sp_status sp__loader_shard(sp_loader *l, uint64_t index, uint64_t count, sp_error *err);
/* The global position, record and epoch of this shard's position i (loop or not). */
void sp__loader_ref(const sp_loader *l, uint64_t i, sp_record_ref *ref);
/* Returns 0 when a finite stream is exhausted. */
int sp__loader_next(sp_loader *l, sp_record_ref *ref);
/* The record at position t of an epoch's permutation of [0, n): a bijection for every n. */
uint64_t sp__permute(uint64_t t, uint64_t n, sp_key epoch_key);
sp_key sp__epoch_key(const sp_loader *l, uint32_t epoch);

/* ---- sources -------------------------------------------------------------------- */

typedef struct sp_source sp_source;

sp_status sp__source_create(sp_source **out, const sp_config *cfg, sp_error *err);
void sp__source_free(sp_source *s);
uint64_t sp__source_count(const sp_source *s);
/* Thread-safe: loads record i into out (allocated here). */
sp_status sp__source_load(const sp_source *s, uint64_t i, sp_flow *out, sp_error *err);
/* The record's name: a file path, "analytic://KIND/i" or "kinematic://i". Valid while s lives. */
const char *sp__source_name(const sp_source *s, uint64_t i);

/* ---- prefetch (prefetch.c): records loaded ahead on dedicated threads ------------ */

typedef struct sp_prefetch sp_prefetch;

/* threads >= 1; capacity = records kept loaded ahead. loader is copied (its counters are not
 * used); src is borrowed for the prefetcher's life. */
sp_status sp__prefetch_create(sp_prefetch **out, const sp_source *src, const sp_loader *loader, unsigned threads,
                              size_t capacity, sp_error *err);
void sp__prefetch_free(sp_prefetch *p); /* accepts NULL; joins the threads */
/* The record at this shard's stream position i, moved into *out (release with
 * sp_flow_release), with the load's status and error. Positions are normally taken in
 * increasing order; any other position restarts the window there (restore, reset). */
sp_status sp__prefetch_take(sp_prefetch *p, uint64_t i, sp_flow *out, sp_error *err);

/* ---- episodic mode (episodic.c) ------------------------------------------------------ */

/* Builds the episode list from the source's record names and makes the loader's records
 * the episodes. SP_ERR_CONFIG naming episode_length when no sequence is long enough. */
sp_status sp__episodes_init(sp_sampler *s, sp_error *err);
void sp__episodes_free(sp_sampler *s);
/* Loads the flows of the next time step (starting new episodes at step 0). */
/* The records of the current time step of the running episodes (into refs/valid), starting
 * new episodes at step 0; SP_ERR_EPISODE_END after the last step. Real-image batches use it
 * directly; synthetic batches go through sp__episodic_refresh, which also loads the flows. */
sp_status sp__episodic_step(sp_sampler *s, sp_error *err);
sp_status sp__episodic_refresh(sp_sampler *s, sp_error *err);
/* The record of episode start `start` at time step t. */
uint64_t sp__episode_record(const sp_sampler *s, uint64_t start, int64_t t);

/* sampler.c: loads the F cached refs' flows (refs, valid and local_pos set) and their
 * output flows; resets the repetition index. */
sp_status sp__sampler_load(sp_sampler *s, sp_error *err);


/* ---- flow sampling -------------------------------------------------------------- */

/* Bilinear sample of channels 0 and 1 at grid coordinates (gy, gx), edge-clamped
 * (reference section 4's sampler). */
void sp__flow_bilinear(const sp_flow *f, float gy, float gx, float *u, float *v);

#endif
