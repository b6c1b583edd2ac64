/* dataset_pairs.c: the pairs of a batch as files.
 *
 * Per-pair formats: each pool worker owns one sp__pair_job (an encoding buffer, a
 * quantised image and, for PNG, an encoder), encodes a pair's K images (K = 2 unless
 * `frames` says otherwise: pair_NNNNNN_img1 .. imgK; PNG/TIFF at 8/16 bits, or float32 .npy)
 * and its flow (.flo, or .npy with npy), and commits each file with sp__fs_write_atomic
 * under pair_NNNNNN_* (or, in the cai layout, <case>_NNNNN_*: sp__pair_path)
 * without fsync: the writer makes a whole batch of files durable at once (syncfs) before a
 * checkpoint or dataset.json relies on them. Pairs are independent, so the order in which
 * workers finish never changes a byte; the first failure by pair index is reported.
 *
 * HDF5 shards: shard s holds pairs [s N, (s + 1) N) (N = shard_size), so shard names depend
 * only on pair indices; pairs are appended in index order on the calling thread (libhdf5
 * serialises its calls anyway). A full shard is closed (fsync, rename) when the next pair
 * belongs to the next shard, or by a sync or the finish.
 */
#include "dataset_internal.h"

#include "sp/sp_io.h"

sp_status sp__pairs_jobs_create(sp_dataset_writer *w, sp_error *err)
{
    w->njobs = w->opt.pool ? sp_pool_size(w->opt.pool) : 1;
    w->jobs = (sp__pair_job *)calloc(w->njobs, sizeof *w->jobs);
    if (w->jobs == NULL) return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", w->dir);
    for (unsigned j = 0; j < w->njobs; j++) {
        w->jobs[j].pixels = malloc(w->height * w->width * 2);
        if (w->jobs[j].pixels == NULL) return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", w->dir);
        if (w->opt.format == SP_DATASET_PNG) SP_TRY(sp_png_encoder_create(&w->jobs[j].png, -1, err));
    }
    return SP_OK;
}

void sp__pairs_jobs_free(sp_dataset_writer *w)
{
    for (unsigned j = 0; w->jobs && j < w->njobs; j++) {
        free(w->jobs[j].pixels);
        sp_png_encoder_free(w->jobs[j].png);
        sp_membuf_free(&w->jobs[j].buf);
    }
    free(w->jobs);
    w->jobs = NULL;
}

static sp_status encode_image(const sp_dataset_writer *w, sp__pair_job *j, const float *img, sp_error *err)
{
    size_t const H = w->height, W = w->width, npx = H * W;
    sp_sink const sink = sp_sink_membuf(&j->buf);
    j->buf.size = 0;
    if (w->opt.format == SP_DATASET_NPY) {
        size_t const shape[2] = {H, W};
        return sp_npy_write(&sink, SP_DTYPE_F32, 2, shape, img, err);
    }
    size_t const bpp = w->bit_depth == 16 ? 2 : 1;
    if (bpp == 2) sp_quantize_u16(img, npx, (uint16_t *)j->pixels);
    else sp_quantize_u8(img, npx, (uint8_t *)j->pixels);
    if (w->opt.format == SP_DATASET_TIFF) return sp_tiff_write_gray(&sink, W, H, w->bit_depth, j->pixels, W * bpp, err);
    return sp_png_encode_gray(j->png, &sink, W, H, w->bit_depth, j->pixels, W * bpp, err);
}

static sp_status encode_flow(const sp_dataset_writer *w, sp__pair_job *j, float *data, sp_error *err)
{
    sp_sink const sink = sp_sink_membuf(&j->buf);
    j->buf.size = 0;
    if (w->opt.format == SP_DATASET_NPY) {
        size_t const shape[3] = {w->flow_h, w->flow_w, 2};
        return sp_npy_write(&sink, SP_DTYPE_F32, 3, shape, data, err);
    }
    sp_flow const f = {w->flow_h, w->flow_w, 2, data};
    return sp_flo_write(&sink, &f, err);
}

static sp_status commit_file(const sp_dataset_writer *w, uint64_t index, const char *suffix, const sp_membuf *b,
                             sp_error *err)
{
    char path[SP_FS_PATH_MAX];
    if (!sp__pair_path(w, index, suffix, path, sizeof path))
        return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", w->dir);
    return sp__fs_write_atomic(w->fs, path, w->tag, b->data, b->size, 0, err);
}

static sp_status write_pair(const sp_dataset_writer *w, sp__pair_job *j, const sp_batch *b, size_t k, sp_error *err)
{
    size_t const npx = w->height * w->width, nf = w->flow_h * w->flow_w * 2;
    uint64_t const index = b->first_pair + k;
    const char *const ext = sp__dataset_ext(w->opt.format);
    char suffix[32];
    for (size_t f = 0; f < b->frames; f++) {
        snprintf(suffix, sizeof suffix, "img%zu.%s", f + 1, ext);
        SP_TRY(encode_image(w, j, b->images[f] + k * npx, err));
        SP_TRY(commit_file(w, index, suffix, &j->buf, err));
    }
    SP_TRY(encode_flow(w, j, b->flow_fields + k * nf, err));
    return commit_file(w, index, w->opt.format == SP_DATASET_NPY ? "flow.npy" : "flow.flo", &j->buf, err);
}

typedef struct files_ctx {
    sp_dataset_writer *w;
    const sp_batch *b;
    sp_status *status; /* per pair */
    sp_error *errs;
} files_ctx;

static void write_item(void *ctx, size_t k, unsigned worker)
{
    files_ctx *const c = (files_ctx *)ctx;
    c->status[k] = c->b->mask[k] ? write_pair(c->w, &c->w->jobs[worker], c->b, k, &c->errs[k]) : SP_OK;
}

static void run_one(void *ctx, size_t n, sp_pool_fn fn)
{
    for (size_t k = 0; k < n; k++) fn(ctx, k, 0);
}

sp_status sp__pairs_write_files(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err)
{
    sp_status *const status = (sp_status *)calloc(count ? count : 1, sizeof *status);
    sp_error *const errs = (sp_error *)calloc(count ? count : 1, sizeof *errs);
    sp_status st = status && errs ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", w->dir);
    if (st == SP_OK) {
        files_ctx c = {w, b, status, errs};
        if (w->opt.pool) sp_pool_run(w->opt.pool, count, write_item, &c);
        else run_one(&c, count, write_item);
    }
    for (size_t k = 0; st == SP_OK && k < count; k++) {
        if (status[k] == SP_OK) continue;
        st = status[k];
        if (err) *err = errs[k];
    }
    free(status);
    free(errs);
    return st;
}

/* ---- HDF5 shards ----------------------------------------------------------------------- */

sp_status sp__shard_close(sp_dataset_writer *w, sp_error *err)
{
    sp_h5_dataset *const d = w->shard;
    w->shard = NULL;
    return d ? sp_h5_dataset_close(d, err) : SP_OK;
}

static sp_status shard_open(sp_dataset_writer *w, uint64_t index, sp_error *err)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/shard_%05llu.h5", w->dir, (unsigned long long)index);
    w->shard_index = index;
    return sp_h5_dataset_create(&w->shard, w->fs, path, w->tag, w->height, w->width, w->flow_h, w->flow_w,
                                w->bit_depth, w->config_yaml, err);
}

static sp_status append_h5(sp_dataset_writer *w, const sp_batch *b, size_t k, sp_error *err)
{
    uint64_t const index = b->first_pair + k, shard = index / w->opt.shard_size;
    if (w->shard && shard != w->shard_index) SP_TRY(sp__shard_close(w, err));
    if (w->shard == NULL) SP_TRY(shard_open(w, shard, err));
    size_t const npx = w->height * w->width, nf = w->flow_h * w->flow_w * 2;
    const sp_pair_params *const p = &b->params[k];
    sp_h5_pair_meta m;
    memset(&m, 0, sizeof m);
    m.index = index, m.record_seed = b->seeds[k], m.key[0] = b->keys[k].k[0], m.key[1] = b->keys[k].k[1];
    m.seeding_density = p->seeding_density, m.particles = p->particles, m.epoch = b->epoch[k];
    memcpy(m.diameter_range, p->diameter_range, sizeof m.diameter_range);
    memcpy(m.intensity_range, p->intensity_range, sizeof m.intensity_range);
    memcpy(m.rho_range, p->rho_range, sizeof m.rho_range);
    m.record = b->records[k], m.source = b->files[k];
    return sp_h5_dataset_append_pair(w->shard, b->images1 + k * npx, b->images2 + k * npx, b->flow_fields + k * nf,
                                     &m, err);
}

sp_status sp__pairs_write_h5(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err)
{
    for (size_t k = 0; k < count; k++)
        if (b->mask[k]) SP_TRY(append_h5(w, b, k, err));
    return SP_OK;
}
