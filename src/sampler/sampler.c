/* sampler.c: batches of image pairs from a configuration (reference section 7).
 *
 * One call of sp_sampler_next runs these stages, each a parallel-for on the pool whose
 * work items write disjoint memory:
 *   refresh   (every batches_per_flow_batch batches, or every episode step) the loader
 *             takes and loads the next F records (src/loader, sp_records.h), then their
 *             output flows are computed on the velocities_per_pixel grid  items: F
 *   setup     pair k: key, parameters, particle count, output flow copy   items: B
 *   particles chunks of SP_PAIR_CHUNK particles: draws and advection      items: sum N/chunk
 *   bins      the band lists of each frame                                items: 2B
 *   render    one band of one frame: splat, noise, clip, mask             items: 2B * bands
 *   histogram optional histogram matching of each frame                   items: 2B
 * sp_sampler_seek moves to any batch without rendering: the loader goes to the start of
 * its flow batch and the next refresh reloads that flow batch's records, continuing at the
 * batch's repetition (a restored checkpoint that holds the position only does the same).
 * Every value depends only on (pair key, index), never on the item-to-thread mapping,
 * so batches are byte-identical for any thread count. Errors of a stage are collected
 * per item and the lowest-numbered one is reported, so error messages are deterministic
 * too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "pair.h"
#include "sampler_struct.h"
#include "sampler_internal.h"
#include "sp_records.h"
#include "sp/sp_io.h"
#include "sp/sp_render.h"

void sp_sampler_options_init(sp_sampler_options *o)
{
    memset(o, 0, sizeof *o);
}

/* ---- flow sampling ---------------------------------------------------------------- */

void sp__flow_bilinear(const sp_flow *f, float gy, float gx, float *u, float *v)
{
    float const hmax = (float)(f->height - 1), wmax = (float)(f->width - 1);
    float const yc = gy < 0.0f ? 0.0f : (gy > hmax ? hmax : gy);
    float const xc = gx < 0.0f ? 0.0f : (gx > wmax ? wmax : gx);
    size_t const y0 = (size_t)yc, x0 = (size_t)xc;
    size_t const y1 = y0 + 1 < f->height ? y0 + 1 : y0, x1 = x0 + 1 < f->width ? x0 + 1 : x0;
    float const wy = yc - (float)y0, wx = xc - (float)x0;
    size_t const C = f->channels, W = f->width;
    const float *const p00 = f->data + (y0 * W + x0) * C, *const p01 = f->data + (y0 * W + x1) * C;
    const float *const p10 = f->data + (y1 * W + x0) * C, *const p11 = f->data + (y1 * W + x1) * C;
    float const a = (1.0f - wx) * (1.0f - wy), b = wx * (1.0f - wy), c = (1.0f - wx) * wy, d = wx * wy;
    *u = a * p00[0] + b * p01[0] + c * p10[0] + d * p11[0];
    *v = a * p00[1] + b * p01[1] + c * p10[1] + d * p11[1];
}

/* Grid coordinate per physical unit along each axis of a record's flow. */
static void grid_scale(const sp_sampler *s, const sp_flow *f, double *res_y, double *res_x)
{
    *res_y = (double)f->height / s->cfg.flow_field_size[0];
    *res_x = (double)f->width / s->cfg.flow_field_size[1];
}

/* Output flow sample (k, l) sits at image pixel (k, l) / vpp, i.e. physical
 * img_offset + (k, l) / (vpp r); values in units/s, times r dt for "pixels". */
static void compute_output_flow(const sp_sampler *s, const sp_flow *f, float *out)
{
    const sp_geometry *const g = &s->geom;
    double ry, rx;
    grid_scale(s, f, &ry, &rx);
    double const step = g->flow_step / g->resolution;
    float const scale = s->cfg.output_units == SP_UNITS_PIXELS ? (float)(g->resolution * s->cfg.dt) : 1.0f;
    for (size_t k = 0; k < g->flow_h; k++) {
        float const gy = (float)((s->cfg.img_offset[0] + (double)k * step) * ry);
        for (size_t l = 0; l < g->flow_w; l++) {
            float const gx = (float)((s->cfg.img_offset[1] + (double)l * step) * rx);
            float u, v;
            sp__flow_bilinear(f, gy, gx, &u, &v);
            out[2 * (k * g->flow_w + l)] = u * scale;
            out[2 * (k * g->flow_w + l) + 1] = v * scale;
        }
    }
}

/* ---- refresh ---------------------------------------------------------------------- */

static size_t flow_floats(const sp_sampler *s)
{
    return s->geom.flow_h * s->geom.flow_w * 2;
}

static void output_flow_item(void *ctx, size_t f, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    (void)worker;
    float *const out = s->out_flows + f * flow_floats(s);
    if (!sp__records_valid(s->records, f)) memset(out, 0, flow_floats(s) * sizeof *out); /* padding */
    else compute_output_flow(s, sp__records_flow(s->records, f), out);
}

/* The loader has taken the refresh's records (or an episode step's): loads their flows,
 * computes their output flows and starts a new repetition. */
static sp_status load_refresh(sp_sampler *s, uint32_t rep, sp_error *err)
{
    s->have_flows = 0;
    SP_TRY(sp__records_load(s->records, err));
    sp_pool_run(s->pool, s->F, output_flow_item, s);
    s->have_flows = 1;
    s->rep = rep;
    return SP_OK;
}

/* A refresh starts repetition 0, except where the cache was never filled in the middle of
 * a flow batch (a sampler sought there, or restored from a checkpoint that holds the
 * position only): it reloads that flow batch's records and continues at its repetition. */
static sp_status refresh(sp_sampler *s, sp_error *err)
{
    int const episodic = s->cfg.episode_length > 0;
    uint32_t const rep = !episodic && !s->have_flows && s->rep < (uint32_t)s->cfg.batches_per_flow_batch ? s->rep : 0;
    if (episodic) SP_TRY(sp__records_step(s->records, err)); /* one time step per batch */
    else SP_TRY(sp__records_take(s->records, err));
    return load_refresh(s, rep, err);
}

/* ---- pairs ------------------------------------------------------------------------ */

static void pair_context(const sp_sampler *s, const sp_flow *f, sp_pair_context *ctx)
{
    double ry, rx;
    grid_scale(s, f, &ry, &rx);
    const sp_geometry *const g = &s->geom;
    ctx->cfg = &s->cfg;
    ctx->geom = g;
    ctx->gy0 = (float)(g->origin_y * ry);
    ctx->gx0 = (float)(g->origin_x * rx);
    ctx->gy_per_px = (float)(ry / g->resolution);
    ctx->gx_per_px = (float)(rx / g->resolution);
    ctx->px_per_velocity = (float)(s->cfg.dt * g->resolution);
}

static void setup_item(void *ctx, size_t k, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    (void)worker;
    sp_pair_slot *const p = &s->slots[k];
    size_t const f = k % s->F;
    sp_batch *const b = &s->batch;
    p->flow = sp__records_flow(s->records, f);
    pair_context(s, p->flow, &p->ctx);
    sp__pair_setup(p, &p->ctx, b->keys[k]);
    b->params[k] = p->params;
    p->status = sp__pair_reserve(p, &p->err);
    memcpy(b->flow_fields + k * flow_floats(s), s->out_flows + f * flow_floats(s), flow_floats(s) * sizeof(float));
}

static void chunk_item(void *ctx, size_t c, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    sp_pair_slot *const p = &s->slots[s->chunk_pair[c]];
    size_t const j0 = s->chunk_first[c];
    size_t const j1 = j0 + SP_PAIR_CHUNK < p->count ? j0 + SP_PAIR_CHUNK : p->count;
    sp__pair_chunk(p, &p->ctx, j0, j1, s->scratch + (size_t)worker * s->scratch_floats);
}

static void bins_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    (void)worker;
    sp_pair_slot *const p = &s->slots[item / 2];
    sp_particles pts;
    sp__pair_particles(p, (int)(item % 2), &pts);
    sp_status const st = sp_frame_bins_build(&p->bins[item % 2], &s->rg, &pts, &p->err);
    if (st != SP_OK) p->status = st;
}

static float *frame_image(const sp_sampler *s, size_t k, int frame)
{
    size_t const npx = s->geom.height * s->geom.width;
    return (frame ? s->batch.images2 : s->batch.images1) + k * npx;
}

static void band_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    size_t const nb = s->slots[0].bins[0].nbands;
    size_t const band = item % nb, frame = (item / nb) % 2, k = item / (2 * nb);
    sp_pair_slot *const p = &s->slots[k];
    sp_particles pts;
    sp__pair_particles(p, (int)frame, &pts);
    float *const img = frame_image(s, k, (int)frame);
    sp_render_band(&s->rg, &pts, &p->bins[frame], band, img);
    size_t const r0 = band * SP_BAND_ROWS;
    size_t const r1 = r0 + SP_BAND_ROWS < s->geom.height ? r0 + SP_BAND_ROWS : s->geom.height;
    sp_key const nk = p->sub[5 + frame];
    sp_post_rows(img, s->geom.width, r0, r1, &s->noise, sp_key_split_at(nk, 0), sp_key_split_at(nk, 1), s->mask,
                 s->scratch + (size_t)worker * s->scratch_floats);
}

static void histogram_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    (void)worker;
    sp_histogram_match(frame_image(s, item / 2, (int)(item % 2)), s->geom.height * s->geom.width, s->target_cdf);
}

static sp_status first_slot_error(const sp_sampler *s, sp_error *err)
{
    for (size_t k = 0; k < s->B; k++) {
        if (s->slots[k].status != SP_OK) {
            if (err) *err = s->slots[k].err;
            return s->slots[k].status;
        }
    }
    return SP_OK;
}

static sp_status plan_chunks(sp_sampler *s, sp_error *err)
{
    size_t total = 0;
    for (size_t k = 0; k < s->B; k++) total += (s->slots[k].count + SP_PAIR_CHUNK - 1) / SP_PAIR_CHUNK;
    if (total > s->chunk_capacity) {
        size_t *const a = (size_t *)realloc(s->chunk_pair, total * sizeof *a);
        if (a) s->chunk_pair = a;
        size_t *const b = (size_t *)realloc(s->chunk_first, total * sizeof *b);
        if (b) s->chunk_first = b;
        SP_RETURN_IF(a == NULL || b == NULL, err, SP_ERR_NOMEM, "out of memory");
        s->chunk_capacity = total;
    }
    size_t c = 0;
    for (size_t k = 0; k < s->B; k++)
        for (size_t j = 0; j < s->slots[k].count; j += SP_PAIR_CHUNK) {
            s->chunk_pair[c] = k;
            s->chunk_first[c] = j;
            c++;
        }
    s->nchunks = c;
    return SP_OK;
}

/* Keys, seeds, epochs and names of the batch (pair k uses record k mod F). */
static void fill_metadata(sp_sampler *s)
{
    sp_batch *const b = &s->batch;
    for (size_t k = 0; k < s->B; k++) {
        size_t const f = k % s->F;
        const sp_record_ref *const ref = sp__records_ref(s->records, f);
        b->seeds[k] = ref->seed;
        b->epoch[k] = (int32_t)ref->epoch;
        b->mask[k] = (uint8_t)sp__records_valid(s->records, f);
        b->records[k] = ref->record;
        b->files[k] = sp__records_name(s->records, f);
        sp_key const base = sp_key_from_seed(b->seeds[k]);
        b->keys[k] = sp_key_fold_in(sp_key_fold_in(base, (uint32_t)k), s->rep);
    }
    int const episodic = s->cfg.episode_length > 0;
    int64_t const t = episodic ? sp__records_timestep(s->records) : -1;
    memset(b->done, episodic && t + 1 == s->cfg.episode_length, s->B);
    b->timestep = t;
    b->repetition = s->rep;
    b->batch_index = s->batch_index;
    b->first_pair = s->batch_index * s->B;
}

sp_status sp_sampler_next(sp_sampler *s, const sp_batch **out, sp_error *err)
{
    *out = NULL;
    if (s->cfg.include_images) return sp__real_next(s, out, err);
    int const episodic = s->cfg.episode_length > 0; /* batches_per_flow_batch does not apply */
    if (episodic || !s->have_flows || s->rep >= (uint32_t)s->cfg.batches_per_flow_batch) SP_TRY(refresh(s, err));
    fill_metadata(s);
    sp_pool_run(s->pool, s->B, setup_item, s);
    SP_TRY(first_slot_error(s, err));
    SP_TRY(plan_chunks(s, err));
    sp_pool_run(s->pool, s->nchunks, chunk_item, s);
    sp_pool_run(s->pool, 2 * s->B, bins_item, s);
    SP_TRY(first_slot_error(s, err));
    sp_pool_run(s->pool, 2 * s->B * s->slots[0].bins[0].nbands, band_item, s);
    if (s->have_histogram) sp_pool_run(s->pool, 2 * s->B, histogram_item, s);
    s->rep++;
    s->batch_index++;
    if (episodic) sp__records_step_done(s->records);
    *out = &s->batch;
    return SP_OK;
}

void sp_sampler_reset(sp_sampler *s)
{
    sp__records_reset(s->records);
    s->have_flows = 0;
    s->rep = 0;
    s->batch_index = 0;
}

sp_status sp_sampler_seek(sp_sampler *s, uint64_t batch_index, sp_error *err)
{
    SP_RETURN_IF(s->cfg.episode_length > 0, err, SP_ERR_UNSUPPORTED,
                 "seek: an episodic stream (episode_length %d) moves by episodes, not batches", s->cfg.episode_length);
    /* Real image pairs take B records per batch and have no repetitions (real.c). */
    uint64_t const per_refresh = s->cfg.include_images ? 1 : (uint64_t)s->cfg.batches_per_flow_batch;
    uint64_t const flow_batch = batch_index / per_refresh;
    SP_RETURN_IF(flow_batch > UINT64_MAX / s->F || batch_index > UINT64_MAX / s->B, err, SP_ERR_RANGE,
                 "seek: batch %llu is beyond the stream's 64-bit positions", (unsigned long long)batch_index);
    sp__records_seek(s->records, flow_batch * s->F);
    s->have_flows = 0;
    s->rep = (uint32_t)(batch_index % per_refresh);
    s->batch_index = batch_index;
    return SP_OK;
}

sp_status sp_sampler_next_episode(sp_sampler *s, sp_error *err)
{
    SP_RETURN_IF(s->cfg.episode_length <= 0, err, SP_ERR_INVALID,
                 "next_episode: the sampler is not episodic (episode_length is 0)");
    sp__records_rewind_episode(s->records);
    return SP_OK;
}

const sp_geometry *sp_sampler_geometry(const sp_sampler *s) { return &s->geom; }
const sp_config *sp_sampler_config(const sp_sampler *s) { return &s->cfg; }
uint64_t sp_sampler_records(const sp_sampler *s) { return sp__records_source_count(s->records); }

/* ---- creation --------------------------------------------------------------------- */

static sp_status load_mask(sp_sampler *s, sp_error *err)
{
    sp_npy_array a;
    SP_TRY(sp_npy_read_file(s->cfg.mask, &a, NULL, err));
    size_t const H = s->geom.height, W = s->geom.width;
    sp_status st = SP_OK;
    if (a.ndim != 2 || a.shape[0] != H || a.shape[1] != W)
        st = sp_error_set(err, SP_ERR_CONFIG, "mask: %s has shape (%zu%s%zu%s), expected image_shape (%zu, %zu)",
                          s->cfg.mask, a.ndim > 0 ? a.shape[0] : 0, a.ndim > 1 ? ", " : "", a.ndim > 1 ? a.shape[1] : 0,
                          a.ndim > 2 ? ", ..." : "", H, W);
    if (st == SP_OK) {
        s->mask = (float *)malloc(H * W * sizeof(float));
        st = s->mask ? sp_npy_to_f32(&a, s->mask, H * W, err) : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; st == SP_OK && k < H * W; k++)
        if (s->mask[k] != 0.0f && s->mask[k] != 1.0f)
            st = sp_error_set(err, SP_ERR_CONFIG, "mask: %s has value %g at (%zu, %zu); values must be 0 or 1",
                              s->cfg.mask, (double)s->mask[k], k / W, k % W);
    sp_npy_array_release(&a);
    return st;
}

static sp_status load_histogram(sp_sampler *s, sp_error *err)
{
    sp_npy_array a;
    SP_TRY(sp_npy_read_file(s->cfg.histogram, &a, NULL, err));
    double hist[256];
    sp_status st = SP_OK;
    if (a.ndim != 1 || a.shape[0] != 256)
        st = sp_error_set(err, SP_ERR_CONFIG, "histogram: %s must have shape (256,)", s->cfg.histogram);
    if (st == SP_OK) st = sp_npy_to_f64(&a, hist, 256, err);
    sp_npy_array_release(&a);
    SP_TRY(st);
    double sum = 0;
    for (int l = 0; l < 256; l++) sum += hist[l];
    double const want = (double)s->geom.height * (double)s->geom.width;
    /* numpy.isclose defaults: |sum - want| <= 1e-8 + 1e-5 |want|. */
    SP_RETURN_IF(!(fabs(sum - want) <= 1e-8 + 1e-5 * want), err, SP_ERR_CONFIG,
                 "histogram: %s sums to %g; it must sum to the number of pixels H*W = %g", s->cfg.histogram, sum, want);
    SP_RETURN_IF(sp_histogram_target_cdf(hist, s->target_cdf) != SP_OK, err, SP_ERR_CONFIG,
                 "histogram: %s has a negative or non-finite bin", s->cfg.histogram);
    s->have_histogram = 1;
    return SP_OK;
}

static sp_status check_supported(const sp_config *c, sp_error *err)
{
    SP_RETURN_IF(c->batch_size <= 0 || c->flow_fields_per_batch <= 0 || (!c->include_images && c->batches_per_flow_batch <= 0), err,
                 SP_ERR_CONFIG, "batch_size, flow_fields_per_batch and batches_per_flow_batch must be positive");
    return SP_OK;
}

static sp_status alloc_batch(sp_sampler *s, sp_error *err)
{
    size_t const B = s->B, F = s->F, npx = s->geom.height * s->geom.width, nf = flow_floats(s);
    sp_batch *const b = &s->batch;
    b->batch_size = B;
    b->height = s->geom.height;
    b->width = s->geom.width;
    b->flow_height = s->geom.flow_h;
    b->flow_width = s->geom.flow_w;
    size_t img_bytes = 0, flow_bytes = 0;
    SP_RETURN_IF(!sp__mul_size(B * npx, sizeof(float), &img_bytes) || !sp__mul_size(B * nf, sizeof(float), &flow_bytes),
                 err, SP_ERR_NOMEM, "batch too large");
    b->images1 = (float *)malloc(img_bytes);
    b->images2 = (float *)malloc(img_bytes);
    b->flow_fields = (float *)malloc(flow_bytes);
    b->params = (sp_pair_params *)calloc(B, sizeof *b->params);
    b->keys = (sp_key *)calloc(B, sizeof *b->keys);
    b->seeds = (uint32_t *)calloc(B, sizeof *b->seeds);
    b->epoch = (int32_t *)calloc(B, sizeof *b->epoch);
    b->mask = (uint8_t *)calloc(B, 1);
    b->records = (uint64_t *)calloc(B, sizeof *b->records);
    b->files = (const char **)calloc(B, sizeof *b->files);
    b->done = (uint8_t *)calloc(B, 1);
    b->timestep = -1;
    s->slots = (sp_pair_slot *)calloc(B, sizeof *s->slots);
    s->out_flows = (float *)malloc(F * nf * sizeof(float));
    s->scratch_floats = 2 * SP_PAIR_CHUNK + s->geom.width + 16;
    s->scratch = (float *)malloc(sp_pool_size(s->pool) * s->scratch_floats * sizeof(float));
    SP_RETURN_IF(!b->images1 || !b->images2 || !b->flow_fields || !b->params || !b->keys || !b->seeds || !b->epoch ||
                     !b->mask || !b->records || !b->files || !s->slots || !s->out_flows || !s->scratch || !b->done,
                 err, SP_ERR_NOMEM, "out of memory for a batch of %zu pairs of %zux%zu", B, b->height, b->width);
    return SP_OK;
}

static sp_status sampler_init(sp_sampler *s, const sp_config *cfg, const sp_sampler_options *opt, sp_error *err)
{
    SP_TRY(sp_config_copy(&s->cfg, cfg, err));
    SP_TRY(check_supported(&s->cfg, err));
    if (!s->cfg.include_images) SP_TRY(sp_geometry_compute(&s->cfg, &s->geom, err));
    s->B = (size_t)s->cfg.batch_size;
    s->F = (size_t)s->cfg.flow_fields_per_batch;
    if (s->F > s->B || s->cfg.include_images) s->F = s->B; /* real images: one record per pair (real.c) */
    s->rg.height = s->geom.height;
    s->rg.width = s->geom.width;
    s->rg.radius = s->geom.radius;
    s->rg.band_rows = SP_BAND_ROWS;
    s->rg.psf = s->cfg.psf;
    s->noise.uniform = (float)s->cfg.noise_uniform;
    s->noise.gaussian_mean = (float)s->cfg.noise_gaussian_mean;
    s->noise.gaussian_std = (float)s->cfg.noise_gaussian_std;
    if (opt && opt->pool) {
        s->pool = opt->pool;
    } else {
        unsigned const threads = opt && opt->threads ? opt->threads : (unsigned)(s->cfg.threads > 0 ? s->cfg.threads : 0);
        SP_RETURN_IF(sp_pool_create(&s->pool, threads) != SP_OK, err, SP_ERR_NOMEM, "cannot create thread pool");
        s->own_pool = 1;
    }
    /* Source, order, shard, episodes and prefetch threads: a bad source fails here. */
    SP_TRY(sp__records_create(&s->records, &s->cfg, opt, s->F, s->pool, err));
    if (s->cfg.include_images) SP_TRY(sp__real_probe(s, err));
    if (s->cfg.mask) SP_TRY(load_mask(s, err));
    if (s->cfg.histogram) SP_TRY(load_histogram(s, err));
    SP_TRY(alloc_batch(s, err));
    return SP_OK;
}

sp_status sp_sampler_create(sp_sampler **out, const sp_config *cfg, const sp_sampler_options *opt, sp_error *err)
{
    *out = NULL;
    sp_sampler *const s = (sp_sampler *)calloc(1, sizeof *s);
    SP_RETURN_IF(s == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status const st = sampler_init(s, cfg, opt, err);
    if (st != SP_OK) {
        sp_sampler_free(s);
        return st;
    }
    *out = s;
    return SP_OK;
}

void sp_sampler_free(sp_sampler *s)
{
    if (s == NULL) return;
    sp__records_free(s->records); /* first: its prefetch threads may be running */
    sp_batch *const b = &s->batch;
    free(b->images1);
    free(b->images2);
    free(b->flow_fields);
    free(b->params);
    free(b->keys);
    free(b->seeds);
    free(b->epoch);
    free(b->mask);
    free(b->records);
    free(b->files);
    free(b->done);
    for (size_t k = 0; s->slots && k < s->B; k++) sp__pair_slot_release(&s->slots[k]);
    free(s->slots);
    free(s->out_flows);
    free(s->chunk_pair);
    free(s->chunk_first);
    free(s->scratch);
    free(s->mask);
    if (s->own_pool) sp_pool_free(s->pool);
    sp_config_free(&s->cfg);
    free(s);
}
