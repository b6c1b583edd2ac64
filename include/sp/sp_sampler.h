/* synthpix: the sampler: configuration + flow records -> batches of image pairs.
 *
 * In the spirit of SynthPix's make(config) / next(sampler) / shutdown:
 *
 *     sp_config cfg;  sp_config_load_default(&cfg, NULL);
 *     sp_sampler *s;  sp_sampler_create(&s, &cfg, NULL, &err);
 *     const sp_batch *b;
 *     while (sp_sampler_next(s, &b, &err) == SP_OK) { use b->images1 ... }
 *     sp_sampler_free(s);
 *
 * Batching (docs/synthpix-compat.md, Batching): every batch has B = batch_size pairs; F =
 * flow_fields_per_batch records are loaded per refresh and reused for
 * batches_per_flow_batch consecutive batches (the repetition index counts them); pair k
 * of a batch uses flow k mod F. Records come from the source in loader order (sequential,
 * or a seeded true permutation per epoch with `randomize`); each record carries a 32-bit
 * seed derived from (seed, stream position), and pair k's key is
 *     fold_in(fold_in(PRNGKey(record_seed[k mod F]), k), repetition).
 * Every random draw of a pair derives from that key (see docs/determinism.md), so pair n
 * is byte-identical whatever the thread count or the number of pairs requested.
 *
 * Geometry: SynthPix's, with our fixes D1 and D2 (docs/synthpix-compat.md, Geometry and Flow
 * adapter; see sp_geometry).
 *
 * Thread safety: a sampler is used by one thread at a time; it runs its own work on the
 * thread pool it was given (or creates). Batches stay valid until the next call on the
 * sampler.
 */
#ifndef SP_SAMPLER_H
#define SP_SAMPLER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t, int32_t, uint8_t */

#include "sp/sp_api.h"
#include "sp/sp_config.h"
#include "sp/sp_errors.h"
#include "sp/sp_pool.h"
#include "sp/sp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif


/* The parameters chosen for one pair (docs/synthpix-compat.md, Pair kernel: "params"), and
 * with a light sheet its geometry and the particles that left and entered it
 * (docs/realism.md). Step f is the move from frame f to frame f + 1 (frames from 0); with
 * K = 2 frames only step 0 exists. */
typedef struct sp_pair_params {
    float seeding_density;   /* particles per canvas pixel (within the sheet's thickness) */
    float diameter_range[2]; /* the range picked from diameter_ranges */
    float intensity_range[2];
    float rho_range[2];
    uint32_t diameter_index, intensity_index, rho_index;
    uint32_t particles;      /* particle count N on the canvas (in the whole seeding slab) */
    /* ---- the light sheet; all zero without one (sheet_profile: none) ---- */
    uint32_t sheet_profile;  /* sp_sheet_profile */
    float sheet_thickness;   /* t, measure units */
    float sheet_edge;        /* tophat: the edges' width, measure units (sheet_edge * t); 0 otherwise */
    float depth[2];          /* the seeding slab [zlo, zhi], measure units; z = 0 is the sheet's centre */
    float w;                 /* out-of-plane velocity drawn for this sample (out_of_plane_range), units/s */
    uint32_t in_sheet[SP_MAX_FRAMES];  /* frame f: particles with |z| <= t/2 (0 past the last frame) */
    float lost[SP_MAX_FRAMES - 1];     /* step f: fraction of frame f's in_sheet out of the sheet in frame f + 1 */
    float gained[SP_MAX_FRAMES - 1];   /* step f: fraction of frame f + 1's in_sheet that were out in frame f */
} sp_pair_params;

typedef struct sp_batch {
    size_t batch_size;          /* B */
    size_t height, width;       /* images */
    size_t flow_height, flow_width; /* output flow grid */
    float *images1, *images2;   /* B*H*W floats each, in [0, 255]: frames 0 and 1 */
    float *flow_fields;         /* B*Ho*Wo*2 floats: u, v (pixels or units/s per output_units); the
                                   one flow of each sample, which moves every frame to the next */
    sp_pair_params *params;     /* B */
    sp_key *keys;               /* B pair keys */
    uint32_t *seeds;            /* B record seeds */
    int32_t *epoch;             /* B */
    uint8_t *mask;              /* B: 1 = real record, 0 = padding (end of a finite stream) */
    uint64_t *records;          /* B record indices into the source */
    const char **files;         /* B record names ("" for padding) */
    uint64_t first_pair;        /* global index of pair 0 of this batch */
    uint64_t batch_index;       /* batches produced since the start of the stream */
    uint32_t repetition;        /* 0 .. batches_per_flow_batch - 1 */
    uint8_t *done;              /* B: episodic mode, 1 on the last time step of the episode */
    int64_t timestep;           /* episodic mode: time step of this batch (0 .. L-1); else -1 */
    /* K frames per sample (key `frames`, docs/realism.md): images[f] holds frame f of every
     * sample, B*H*W floats like images1; images[0] == images1, images[1] == images2, and
     * images[f] is NULL for f >= frames. */
    size_t frames;
    float *images[SP_MAX_FRAMES];
} sp_batch;

typedef struct sp_sampler_options {
    unsigned threads;  /* 0 = cfg->threads (0 there = all cores) */
    sp_pool *pool;     /* borrowed shared pool, or NULL to create one */
    /* Sharding (docs/scale-out.md; Grain's elastic rule): this sampler reads shard shard_index of
     * shard_count. Shard s takes the refreshes (flow batches: F records each) s, s + count,
     * s + 2 count, ... of the one stream, so its pairs are pairs of the unsharded stream
     * (same records, seeds, keys and bytes; numbered by the shard from 0), shards are
     * disjoint and together produce the whole stream. A checkpoint records the global
     * position the shards have reached in lockstep; restored with another shard (index or
     * count), the sampler continues the global stream from there as its own shard: shard i
     * of N takes refreshes n + i, n + i + N, ... (one shard: exactly the unsharded stream
     * from n). A checkpoint taken inside a refresh, or in episodic mode, continues only on
     * its own shard. 0 or 1 = no sharding. docs/resume.md. */
    unsigned shard_index, shard_count;
    /* Records loaded ahead on dedicated threads while batches render: SP_PREFETCH_AUTO (0,
     * the default) is one thread for flow files and none for built-in flows; SP_PREFETCH_OFF
     * loads the records at each refresh on the pool; 1..64 threads otherwise. Order and bytes
     * never depend on this value. */
    unsigned prefetch_threads;
    /* How .npy and .flo flow files reach memory: SP_FLOW_FILES_AUTO (0, the default) maps a
     * file of at least 4 MiB whose data is float32 in the host's layout, read-only, and uses
     * the values in place (checked for NaN and infinity in the pass that copies them into
     * the output flow) and reads the others; SP_FLOW_FILES_READ always reads;
     * SP_FLOW_FILES_MAP maps every such file whatever its size. Mapping saves the copy from
     * the page cache, which costs more than mapping above a few MiB (docs/performance.md).
     * A mapped file that another process shrinks makes sp_sampler_next fail naming it: a
     * SIGBUS handler, installed the first time a file is mapped, turns the lost pages into
     * zeros that are never returned (docs/durability.md). Never changes a byte. */
    int flow_files;
    /* Nonzero: time every stage of every batch (sp_sampler_stage_times); two clock reads a
     * work item, so off by default. Never changes a byte. */
    int stage_timers;
} sp_sampler_options;

#define SP_FLOW_FILES_AUTO 0
#define SP_FLOW_FILES_READ 1
#define SP_FLOW_FILES_MAP 2

/* The stages of a batch, as sp_sampler_next runs them (include/sp/sp_sampler.h's
 * sp_sampler_stage_times; docs/performance.md shows a breakdown). */
typedef enum sp_stage {
    SP_STAGE_LOAD = 0,  /* taking records and getting their flows: decoding on the pool, or
                           waiting for the prefetch threads (their own decoding overlaps) */
    SP_STAGE_FLOW,      /* output flows on the velocities_per_pixel grid */
    SP_STAGE_PARTICLES, /* pair setup, particle draws and advection */
    SP_STAGE_BINS,      /* the band lists of each frame */
    SP_STAGE_RENDER,    /* splatting the particles */
    SP_STAGE_NOISE,     /* camera noise, clip and mask (one fused pass) */
    SP_STAGE_POST,      /* histogram matching */
    SP_STAGE_COUNT
} sp_stage;

/* Seconds of work per stage, summed over the threads that ran it (a stage that kept two
 * threads busy for 1 s counts 2 s), since the sampler was created or the last reset; wall
 * is the time spent inside sp_sampler_next. All zero unless stage_timers was set. Real
 * image pairs (include_images) time their whole batch as SP_STAGE_LOAD. */
typedef struct sp_stage_times {
    double seconds[SP_STAGE_COUNT];
    double wall;
    uint64_t batches, pairs;
} sp_stage_times;

/* "load", "flow", "particles", "bins", "render", "noise", "post"; NULL out of range. */
SP_API const char *sp_stage_name(sp_stage stage);

#define SP_PREFETCH_AUTO 0u
#define SP_PREFETCH_OFF 0xffffffffu

SP_API void sp_sampler_options_init(sp_sampler_options *o);
/* Sets o->shard_index and o->shard_count from the launcher's environment: torchrun (RANK,
 * WORLD_SIZE), Open MPI (OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE), SLURM (SLURM_PROCID,
 * SLURM_NTASKS) or PMI (PMI_RANK, PMI_SIZE), the first whose rank is set. SP_ERR_CONFIG
 * naming the variable (and its value) when one is bad, or every variable looked for when
 * none is set; o is then unchanged. Reads the environment: not safe against a concurrent
 * setenv. */
SP_API sp_status sp_sampler_options_shard_from_env(sp_sampler_options *o, sp_error *err);

typedef struct sp_sampler sp_sampler;

/* cfg is copied. Validates the geometry and the flow source (every listed file must exist;
 * the first record is loaded to check its shape). */
SP_API sp_status sp_sampler_create(sp_sampler **out, const sp_config *cfg, const sp_sampler_options *opt,
                                   sp_error *err);
SP_API void sp_sampler_free(sp_sampler *s); /* accepts NULL */

/* The next batch. *batch points into the sampler and stays valid until the next call.
 * Returns SP_ERR_END when a finite stream (loop: false) is exhausted. */
SP_API sp_status sp_sampler_next(sp_sampler *s, const sp_batch **batch, sp_error *err);
/* Caller-owned storage for a batch's frames and flows (sp_sampler_next_into). */
typedef struct sp_batch_buffers {
    float *images[SP_MAX_FRAMES]; /* frame f of every sample, B*H*W floats, for f < frames */
    float *flow_fields;           /* B*Ho*Wo*2 floats */
} sp_batch_buffers;
/* sp_sampler_next, rendering the frames and the flows straight into the caller's buffers
 * (no copy afterwards): the returned batch's images and flow_fields point at them, so they
 * must stay valid while the batch is used; its other arrays are the sampler's, as with
 * sp_sampler_next. The same bytes as sp_sampler_next, and the two can be mixed freely.
 * SP_ERR_INVALID for a missing buffer, SP_ERR_UNSUPPORTED for a sampler of real image
 * pairs (include_images: use sp_sampler_next). */
SP_API sp_status sp_sampler_next_into(sp_sampler *s, const sp_batch_buffers *buf, const sp_batch **batch,
                                      sp_error *err);
/* The stage times so far (see sp_stage_times); reset clears them. Not while another
 * thread is inside sp_sampler_next on this sampler. */
SP_API void sp_sampler_stage_times(const sp_sampler *s, sp_stage_times *out);
SP_API void sp_sampler_stage_times_reset(sp_sampler *s);
/* Back to the start of the stream (epoch 0, no cached flows). */
SP_API void sp_sampler_reset(sp_sampler *s);
/* Advances the stream by n batches without rendering them: afterwards the sampler is in the
 * state n calls of sp_sampler_next would have left (the next batch, and a checkpoint taken
 * now, are the same bytes). Only the flows of the last refresh skipped are loaded (those the
 * next batches reuse), so skipping is far cheaper than rendering; a reader that splits one
 * stream between workers by batch (worker w of N renders batches w, w + N, ...) skips N - 1
 * batches between two renders. Stops early with SP_ERR_END (a finite stream ran out) or
 * SP_ERR_EPISODE_END (episodic mode: the episode ended; call sp_sampler_next_episode), as
 * sp_sampler_next would at that batch. *skipped (NULL allowed) receives the batches skipped.
 * The batch returned by the last sp_sampler_next is no longer valid. */
SP_API sp_status sp_sampler_skip(sp_sampler *s, uint64_t n, uint64_t *skipped, sp_error *err);
/* Random access: the next sp_sampler_next returns batch `batch_index` of the stream, the
 * same bytes as if batches 0 .. batch_index - 1 had been taken first (with a shard, of
 * that shard's stream). Nothing is loaded until then: the next call reads the records of
 * the flow batch holding that batch (files must still be there) and continues at its
 * repetition. Cheap: use it to split a stream between processes (sp_generate does, see
 * docs/scale-out.md). Past the end of a finite stream, the next call returns SP_ERR_END.
 * Errors: SP_ERR_UNSUPPORTED in episodic mode; SP_ERR_RANGE past 2^64 positions. */
SP_API sp_status sp_sampler_seek(sp_sampler *s, uint64_t batch_index, sp_error *err);

/* Episodic mode (episode_length L > 0; docs/synthpix-compat.md, Episodic mode, with D5).
 * Every leaf directory of the file list is a sequence, its files sorted by name are time
 * steps, and an episode is L consecutive files of one directory (every start s = 0 ..
 * n_dir - L). The
 * episodes are the loader's records: with `randomize` whole episodes are shuffled per epoch
 * while time order inside each is kept; epochs, shards and finite streams apply to episodes.
 * F = min(batch_size, flow_fields_per_batch) episodes run in parallel (pair k follows
 * episode k mod F); each sp_sampler_next is one time step (batches_per_flow_batch does not
 * apply: SynthPix's legacy episodic path forces it to 1); batch->done is all 1 on step L-1.
 * After step L-1, sp_sampler_next returns SP_ERR_EPISODE_END until sp_sampler_next_episode
 * is called; calling it mid-episode abandons the rest. A finite stream pads the last F
 * episodes (mask 0) and ends with SP_ERR_END. SP_ERR_INVALID when not episodic. */
SP_API sp_status sp_sampler_next_episode(sp_sampler *s, sp_error *err);

SP_API const sp_geometry *sp_sampler_geometry(const sp_sampler *s);
SP_API const sp_config *sp_sampler_config(const sp_sampler *s);
/* Number of records in one epoch of the source. */
SP_API uint64_t sp_sampler_records(const sp_sampler *s);

#ifdef __cplusplus
}
#endif
#endif /* SP_SAMPLER_H */
