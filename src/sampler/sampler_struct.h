/* sampler_struct.h: the sampler object's fields, shared by the files of the sampler
 * module (sampler.c runs batches; other files may save/restore its state or add modes).
 * Nothing outside src/sampler/ includes this. */
#ifndef SP_SAMPLER_STRUCT_H
#define SP_SAMPLER_STRUCT_H

#include "pair.h"
#include "sampler_internal.h"
#include "sp/sp_render.h"

#define SP_BAND_ROWS 32

struct sp_sampler {
    sp_config cfg;
    sp_geometry geom;
    sp_source *src;
    sp_loader loader;
    sp_pool *pool;
    int own_pool;
    size_t B, F;
    sp_render_geometry rg;
    sp_noise_params noise;
    /* refresh cache, F entries */
    sp_flow *flows;
    float *out_flows;
    sp_record_ref *refs;
    uint8_t *valid;
    sp_status *load_status;
    sp_error *load_err;
    int have_flows;
    uint32_t rep;
    uint64_t batch_index;
    uint64_t *local_pos;       /* F: shard stream position of each cached record */
    const char **state_files;  /* F: names handed out by sp__sampler_state_get */
    sp_prefetch *prefetch;     /* NULL without prefetch threads */
    /* episodic mode (episodic.c) */
    uint64_t episode;          /* episodes started */
    int64_t timestep;          /* time step of the next batch; episode_length = ended */
    struct sp_episodes *episodes; /* NULL unless episode_length > 0 */
    sp_record_ref *ep_refs;    /* F: the running episodes (loader refs: record = start index) */
    uint8_t *ep_valid;         /* F: 0 = padding episode at the end of a finite stream */
    /* the batch and its pairs */
    sp_batch batch;
    sp_pair_slot *slots;
    size_t *chunk_pair, *chunk_first, nchunks, chunk_capacity;
    float *scratch; /* per worker: SP_SCRATCH floats */
    size_t scratch_floats;
    float *mask;
    double target_cdf[256];
    int have_histogram;
};

/* Real image pairs (real.c, include_images: true). probe reads the first record and sets
 * the geometry's image and flow shapes from it; next fills the batch from the next B
 * records (one record per pair). */
sp_status sp__real_probe(sp_sampler *s, sp_error *err);
sp_status sp__real_next(sp_sampler *s, const sp_batch **out, sp_error *err);

#endif
