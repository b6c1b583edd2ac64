/* real.c: real image pairs (include_images: true; docs/synthpix-compat.md, Real image pairs).
 *
 * Each batch takes the next B = batch_size records from the loader (src/loader: same order,
 * epochs, shuffling and record seeds as synthetic batches; the loader reads each record with
 * its images) and returns what the .mat files hold:
 * images1 = I0, images2 = I1 (float32 as stored, not rescaled), flow_fields = V on its own
 * grid. There is no resampling (docs/synthpix-compat.md, D6), so the batch shape is the
 * shape of the first record (read when the sampler is created) and every record of the
 * stream must match it;
 * a record that does not is an error naming its file and both shapes. Pair metadata is
 * filled as for synthetic batches: record seed, epoch, mask, record index, file name and
 * key fold_in(fold_in(PRNGKey(seed), k), 0); params stay zero (nothing is drawn).
 * At the end of a finite stream the batch is padded with zero images and mask 0.
 *
 * Records of a batch load in parallel on the pool, one work item per pair, each writing
 * only its own slice of the batch and its slot's status; the lowest-numbered failure is
 * reported.
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sampler_struct.h"
#include "sp_records.h"

sp_status sp__real_probe(sp_sampler *s, sp_error *err)
{
    sp_flow f;
    float *i1 = NULL, *i2 = NULL;
    size_t ih = 0, iw = 0;
    SP_TRY(sp__records_read_pair(s->records, 0, &f, &i1, &i2, &ih, &iw, err));
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
    if (!sp__records_valid(s->records, k)) {
        memset(img1, 0, npx * sizeof *img1);
        memset(img2, 0, npx * sizeof *img2);
        memset(fl, 0, nf * sizeof *fl);
        return SP_OK;
    }
    const char *const path = sp__records_name(s->records, k);
    sp_flow f;
    float *i1 = NULL, *i2 = NULL;
    size_t ih = 0, iw = 0;
    SP_TRY(sp__records_read_pair(s->records, sp__records_ref(s->records, k)->record, &f, &i1, &i2, &ih, &iw, err));
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
    sp_pair_slot *const p = &s->slots[k];
    p->status = load_pair(s, k, &p->err);
}

static void fill_real_metadata(sp_sampler *s)
{
    sp_batch *const b = &s->batch;
    for (size_t k = 0; k < s->B; k++) {
        const sp_record_ref *const ref = sp__records_ref(s->records, k);
        b->seeds[k] = ref->seed;
        b->epoch[k] = (int32_t)ref->epoch;
        b->mask[k] = (uint8_t)sp__records_valid(s->records, k);
        b->records[k] = ref->record;
        b->files[k] = sp__records_name(s->records, k);
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
    if (episodic) SP_TRY(sp__records_step(s->records, err)); /* pair k: step t of episode k */
    else SP_TRY(sp__records_take(s->records, err));
    sp_pool_run(s->pool, s->B, pair_item, s);
    for (size_t k = 0; k < s->B; k++) {
        if (s->slots[k].status != SP_OK) {
            if (err) *err = s->slots[k].err;
            return s->slots[k].status;
        }
    }
    fill_real_metadata(s);
    if (episodic) {
        int64_t const t = sp__records_timestep(s->records);
        memset(s->batch.done, t + 1 == s->cfg.episode_length, s->B);
        s->batch.timestep = t;
        sp__records_step_done(s->records);
    }
    s->batch_index++;
    *out = &s->batch;
    return SP_OK;
}
