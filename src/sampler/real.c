/* real.c: real image pairs (include_images: true; reference 7.3, RealImageSampler).
 *
 * Each batch takes the next B = batch_size records from the loader (same order, epochs,
 * shuffling and record seeds as synthetic batches) and returns what the .mat files hold:
 * images1 = I0, images2 = I1 (float32 as stored, not rescaled), flow_fields = V on its own
 * grid. There is no resampling (PRODUCT 4.6), so the batch shape is the shape of the first
 * record (read when the sampler is created) and every record of the stream must match it;
 * a record that does not is an error naming its file and both shapes. Pair metadata is
 * filled as for synthetic batches: record seed, epoch, mask, record index, file name and
 * key fold_in(fold_in(PRNGKey(seed), k), 0); params stay zero (nothing is drawn).
 * At the end of a finite stream the batch is padded with zero images and mask 0.
 *
 * Records of a batch load in parallel on the pool, one work item per pair, each writing
 * only its own slice of the batch; the lowest-numbered failure is reported.
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sampler_struct.h"
#include "sp/sp_matio_h5.h"

/* Reads record `rec` with its images; checks the images share one shape. */
static sp_status read_record(const sp_sampler *s, uint64_t rec, sp_flow *flow, float **i1, float **i2, size_t *ih,
                             size_t *iw, sp_error *err)
{
    return sp_mat_read_flow(sp__source_name(s->src, rec), 1, flow, i1, i2, ih, iw, err);
}

sp_status sp__real_probe(sp_sampler *s, sp_error *err)
{
    sp_flow f;
    float *i1 = NULL, *i2 = NULL;
    size_t ih = 0, iw = 0;
    SP_TRY(read_record(s, 0, &f, &i1, &i2, &ih, &iw, err));
    memset(&s->geom, 0, sizeof s->geom);
    s->geom.height = s->geom.canvas_h = ih;
    s->geom.width = s->geom.canvas_w = iw;
    s->geom.flow_h = f.height;
    s->geom.flow_w = f.width;
    s->geom.resolution = 1.0;
    s->geom.flow_step = (double)ih / (double)f.height;
    sp_flow_release(&f);
    free(i1);
    free(i2);
    return SP_OK;
}

static sp_status load_pair(sp_sampler *s, size_t k, sp_error *err)
{
    sp_batch *const b = &s->batch;
    size_t const npx = b->height * b->width, nf = b->flow_height * b->flow_width * 2;
    float *const img1 = b->images1 + k * npx, *const img2 = b->images2 + k * npx, *const fl = b->flow_fields + k * nf;
    if (!s->valid[k]) {
        memset(img1, 0, npx * sizeof *img1);
        memset(img2, 0, npx * sizeof *img2);
        memset(fl, 0, nf * sizeof *fl);
        return SP_OK;
    }
    const char *const path = sp__source_name(s->src, s->refs[k].record);
    sp_flow f;
    float *i1 = NULL, *i2 = NULL;
    size_t ih = 0, iw = 0;
    SP_TRY(read_record(s, s->refs[k].record, &f, &i1, &i2, &ih, &iw, err));
    sp_status st = SP_OK;
    if (ih != b->height || iw != b->width || f.height != b->flow_height || f.width != b->flow_width)
        st = sp_error_set(err, SP_ERR_MISMATCH,
                          "%s: images %zux%zu and flow %zux%zu differ from the first record's %zux%zu and %zux%zu; "
                          "real image pairs are not resized, so every file must have the same shapes",
                          path, ih, iw, f.height, f.width, b->height, b->width, b->flow_height, b->flow_width);
    if (st == SP_OK) {
        memcpy(img1, i1, npx * sizeof *img1);
        memcpy(img2, i2, npx * sizeof *img2);
        for (size_t p = 0; p < nf / 2; p++) {
            fl[2 * p] = f.data[p * f.channels];
            fl[2 * p + 1] = f.data[p * f.channels + 1];
        }
    }
    sp_flow_release(&f);
    free(i1);
    free(i2);
    return st;
}

static void pair_item(void *ctx, size_t k, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    (void)worker;
    s->load_status[k] = load_pair(s, k, &s->load_err[k]);
}

/* Takes the batch's B records from the loader; padding past the end of a finite stream. */
static size_t take_records(sp_sampler *s)
{
    size_t nvalid = 0;
    sp_record_ref last = {0, 0, 0, 0};
    for (size_t k = 0; k < s->B; k++) {
        s->local_pos[k] = s->loader.next;
        s->valid[k] = (uint8_t)sp__loader_next(&s->loader, &s->refs[k]);
        if (s->valid[k]) {
            last = s->refs[k];
            nvalid++;
        } else {
            s->refs[k] = last;
            s->refs[k].seed = 0;
        }
    }
    return nvalid;
}

static void fill_real_metadata(sp_sampler *s)
{
    sp_batch *const b = &s->batch;
    for (size_t k = 0; k < s->B; k++) {
        b->seeds[k] = s->refs[k].seed;
        b->epoch[k] = (int32_t)s->refs[k].epoch;
        b->mask[k] = s->valid[k];
        b->records[k] = s->refs[k].record;
        b->files[k] = s->valid[k] ? sp__source_name(s->src, s->refs[k].record) : "";
        b->keys[k] = sp_key_fold_in(sp_key_fold_in(sp_key_from_seed(b->seeds[k]), (uint32_t)k), 0);
        memset(&b->params[k], 0, sizeof b->params[k]);
    }
    b->repetition = 0;
    b->batch_index = s->batch_index;
    b->first_pair = s->batch_index * s->B;
}

sp_status sp__real_next(sp_sampler *s, const sp_batch **out, sp_error *err)
{
    *out = NULL;
    int const episodic = s->cfg.episode_length > 0;
    if (episodic) SP_TRY(sp__episodic_step(s, err)); /* pair k: step t of episode k */
    else SP_RETURN_IF(take_records(s) == 0, err, SP_ERR_END, "end of data: %llu records read",
                      (unsigned long long)s->loader.next);
    sp_pool_run(s->pool, s->B, pair_item, s);
    for (size_t k = 0; k < s->B; k++) {
        if (s->load_status[k] != SP_OK) {
            if (err) *err = s->load_err[k];
            return s->load_status[k];
        }
    }
    fill_real_metadata(s);
    if (episodic) {
        memset(s->batch.done, s->timestep + 1 == s->cfg.episode_length, s->B);
        s->batch.timestep = s->timestep++;
    }
    s->batch_index++;
    *out = &s->batch;
    return SP_OK;
}
