/* sampler_struct.h: the sampler object's fields, shared by the files of the sampler
 * module (sampler.c runs batches; other files may save/restore its state or add modes).
 * Nothing outside src/sampler/ includes this. The loader's fields (order, source,
 * prefetch, episodes, current records) are in src/loader's struct sp_records. */
#ifndef SP_SAMPLER_STRUCT_H
#define SP_SAMPLER_STRUCT_H

#include "pair.h"
#include "sampler_internal.h"
#include "sp/sp_render.h"

#define SP_BAND_ROWS 32

struct sp_sampler {
    sp_config cfg;
    sp_geometry geom;
    sp_records *records;       /* src/loader: source, order, prefetch, episodes, current records */
    sp_pool *pool;
    int own_pool;
    size_t B, F;               /* pairs per batch; records per refresh (the loader's count) */
    sp_render_geometry rg;
    sp_noise_params noise;
    /* The refresh cache is split at the grid: the loader keeps the F records it handed out
     * (refs, validity, names and the record flows, each on its own grid, as read), because
     * they are its output and it alone knows how to read and name them; the output flows,
     * resampled on the velocities_per_pixel grid with img_offset and output_units, depend
     * on this sampler's geometry, so they are synthesis and live here. When to refresh
     * (have_flows, rep against batches_per_flow_batch) is a batching rule, so it is here
     * too. */
    float *out_flows;          /* F * flow_h * flow_w * 2 */
    int have_flows;            /* the loader's current flows and out_flows are valid */
    uint32_t *flow_check;      /* F: the output stage's finite check of mapped records
                                  (SP_CHECK_* bits, set atomically by its items) */
    uint32_t rep;              /* batches made from the current flows */
    uint64_t batch_index;
    /* the batch and its pairs */
    sp_batch batch;
    /* The batch's own frames and flows; batch.images and batch.flow_fields point at these,
     * or at the caller's buffers after sp_sampler_next_into. */
    float *own_images[SP_MAX_FRAMES];
    float *own_flows;
    sp_pair_slot *slots;       /* B; real image pairs use only their status and err */
    size_t *chunk_pair, *chunk_first, nchunks, chunk_capacity;
    uint32_t *chunk_counts;    /* with a light sheet: SP_SHEET_COUNTS per chunk (pair.h) */
    float *scratch; /* per worker: SP_SCRATCH floats */
    size_t scratch_floats;
    float *mask;
    double target_cdf[256];
    int have_histogram;
    /* stage timers (opt->stage_timers): per worker rows of SP_TIMER_STRIDE doubles (one
     * cache line apart, so workers never share a line), plus the calling thread's */
    int timers;
    double *worker_seconds;
    sp_stage_times times;
};

#define SP_TIMER_STRIDE 8 /* >= SP_STAGE_COUNT doubles: 64 bytes */

/* Real image pairs (real.c, include_images: true). probe reads the first record and sets
 * the geometry's image and flow shapes from it; next fills the batch from the next B
 * records (one record per pair). */
sp_status sp__real_probe(sp_sampler *s, sp_error *err);
sp_status sp__real_next(sp_sampler *s, const sp_batch **out, sp_error *err);

#endif
