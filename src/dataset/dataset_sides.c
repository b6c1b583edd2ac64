/* dataset_sides.c: the side files of the layouts other than synthpix (dataset_layouts.c).
 *
 *   cai          side 0: FlowData_train.list, side 1: FlowData_test.list; one line per pair
 *                "<img1>\t<img2>\t<flow>\n", appended in pair order; renamed into place at
 *                the finish
 *   pykitpiv     side 0: the spool of pykitpiv.h5; per pair, in pair order, one record of
 *                4 H W float32: I[0] = clamp(img1, 0, 255) * 257, I[1] the same of img2,
 *                targets[0] = u, targets[1] = v (each H x W, row-major)
 *   liteflownet  side 0 and 1: the spools of liteflownet.h5's train and val groups; per
 *                pair one record: label (H, W, 2) float32, then data1 and data2 as H x W
 *                uint8 (sp_quantize_u8), expanded to three channels at the assembly
 * A spool record is in the machine's byte order: the spool lives only inside one job family
 * on one machine.
 *
 * Why spools: a dataset promised as one HDF5 file must never appear partial, and libhdf5
 * cannot append to a file crash-safely. So the pairs go to plain append-only files, through
 * sp_fs, that behave exactly like the partial params.jsonl: fsync'd at every checkpoint,
 * their durable lengths in the progress record, cut back to them on resume. At the finish
 * the HDF5 file is written in one pass from the spools under a temporary name, fsync'd and
 * renamed (sp_h5_file); the spools are removed after dataset.json, so a job killed at any
 * moment before can assemble again from them. Cost: every pair is written twice, once to
 * the spool and once to the file, and the finish reads the spools back (sequentially).
 *
 * Side files are temporaries "<base>.sp-tmp-<tag>-<random>" of the job family, so the rules
 * of docs/durability.md for the params file apply to them unchanged.
 */
#include "dataset_internal.h"

#include <errno.h>

#include "sp/sp_io.h"
#include "sp/sp_matio_h5.h"

static sp_status side_create(sp_dataset_writer *w, size_t i, sp_error *err)
{
    char final[SP_FS_PATH_MAX];
    sp__side *const s = &w->side[i];
    if ((size_t)snprintf(final, sizeof final, "%s/%s", w->dir, sp__side_base(w, i)) >= sizeof final)
        return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", w->dir);
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        if (!sp__fs_tmp_name(s->path, sizeof s->path, final, w->tag))
            return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", w->dir);
        fd = w->fs->open(w->fs->ctx, s->path, 'w');
    }
    if (fd < 0) {
        sp_status const st = sp__fs_fail(err, fd, "create", s->path);
        s->path[0] = '\0'; /* not ours: never removed */
        return st;
    }
    s->fd = fd;
    s->bytes = s->count = 0;
    return SP_OK;
}

/* One spool record's buffer (the HDF5 layouts). */
static sp_status alloc_record(sp_dataset_writer *w, sp_error *err)
{
    size_t const npx = w->height * w->width;
    if (w->layout == SP_DATASET_LAYOUT_CAI) return SP_OK;
    w->record_bytes = w->layout == SP_DATASET_LAYOUT_PYKITPIV ? 16 * npx : 10 * npx;
    w->record = (unsigned char *)malloc(w->record_bytes);
    return w->record ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", w->dir);
}

sp_status sp__sides_create(sp_dataset_writer *w, sp_error *err)
{
    if (w->nside == 0) return SP_OK;
    SP_TRY(alloc_record(w, err));
    for (size_t i = 0; i < w->nside; i++) SP_TRY(side_create(w, i, err));
    return SP_OK;
}

/* A killed finish renamed cai's list into place: take it back under the temporary's name
 * (dataset.json first: a folder holding it is always complete). */
static int take_back(const sp_dataset_writer *w, size_t i, sp_error *err, sp_status *st)
{
    char final[SP_FS_PATH_MAX], json[SP_FS_PATH_MAX];
    snprintf(final, sizeof final, "%s/%s", w->dir, sp__side_base(w, i));
    snprintf(json, sizeof json, "%s/dataset.json", w->dir);
    int const u = w->fs->unlink(w->fs->ctx, json);
    if (u < 0 && u != -ENOENT) {
        *st = sp__fs_fail(err, u, "remove", json);
        return -EIO;
    }
    int const r = w->fs->rename(w->fs->ctx, final, w->side[i].path);
    return r == 0 ? w->fs->stat(w->fs->ctx, w->side[i].path, NULL, NULL) : -ENOENT;
}

static sp_status side_reopen(sp_dataset_writer *w, size_t i, sp_error *err)
{
    sp__side *const s = &w->side[i];
    uint64_t size = 0;
    sp_status st = SP_OK;
    int e = w->fs->stat(w->fs->ctx, s->path, &size, NULL);
    if (e == -ENOENT && w->layout == SP_DATASET_LAYOUT_CAI) {
        e = take_back(w, i, err, &st);
        if (st != SP_OK) return st;
        if (e == 0) e = w->fs->stat(w->fs->ctx, s->path, &size, NULL);
    }
    if (e == -ENOENT) return sp_error_set(err, SP_ERR_NOTFOUND, "%s: missing; cannot resume", s->path);
    if (e < 0) return sp__fs_fail(err, e, "stat", s->path);
    if (size < s->bytes)
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: shorter than the %llu bytes the checkpoint covers", s->path,
                            (unsigned long long)s->bytes);
    int const fd = w->fs->open(w->fs->ctx, s->path, 'a');
    if (fd < 0) return sp__fs_fail(err, fd, "open", s->path);
    s->fd = fd;
    int const t = w->fs->truncate(w->fs->ctx, fd, s->bytes);
    return t < 0 ? sp__fs_fail(err, t, "truncate", s->path) : SP_OK;
}

sp_status sp__sides_reopen(sp_dataset_writer *w, sp_error *err)
{
    if (w->nside == 0) return SP_OK;
    SP_TRY(alloc_record(w, err));
    for (size_t i = 0; i < w->nside; i++) SP_TRY(side_reopen(w, i, err));
    return SP_OK;
}

int sp__sides_keep(const sp_dataset_writer *w, const char *name)
{
    for (size_t i = 0; i < w->nside; i++) {
        const char *const slash = strrchr(w->side[i].path, '/');
        if (slash && strcmp(slash + 1, name) == 0) return 1;
    }
    return 0;
}

/* ---- appending ------------------------------------------------------------------------- */

static sp_status append(sp_dataset_writer *w, size_t i, const void *data, size_t n, sp_error *err)
{
    sp__side *const s = &w->side[i];
    SP_TRY(sp__fs_write_all(w->fs, s->fd, data, n, s->path, err));
    s->bytes += n;
    s->count++;
    return SP_OK;
}

static sp_status cai_line(sp_dataset_writer *w, size_t part, uint64_t index, sp_error *err)
{
    char line[3 * (SP_DATASET_CASE_MAX + 48)];
    unsigned long long const n = (unsigned long long)index + 1;
    const char *const c = w->case_name;
    int const len = snprintf(line, sizeof line, "%s_%05llu_img1.tif\t%s_%05llu_img2.tif\t%s_%05llu_flow.flo\n", c, n, c,
                             n, c, n);
    SP_ASSERT(len > 0 && (size_t)len < sizeof line);
    return append(w, part, line, (size_t)len, err);
}

/* pykitPIV's intensity scale: the image clamped to [0, 255] as the quantisers do (NaN to
 * 0), times 257, so 255 becomes 65535 = 2^16 - 1, pykitPIV's default maximum_intensity. */
static void pykitpiv_image(const float *x, size_t n, float *out)
{
    for (size_t i = 0; i < n; i++) {
        float const c = x[i] > 0.0f ? (x[i] < 255.0f ? x[i] : 255.0f) : 0.0f;
        out[i] = c * 257.0f;
    }
}

static sp_status spool_record(sp_dataset_writer *w, size_t part, const sp_batch *b, size_t k, sp_error *err)
{
    size_t const npx = w->height * w->width;
    const float *const img1 = b->images1 + k * npx, *const img2 = b->images2 + k * npx;
    const float *const flow = b->flow_fields + k * npx * 2;
    if (w->layout == SP_DATASET_LAYOUT_PYKITPIV) {
        float *const r = (float *)(void *)w->record;
        pykitpiv_image(img1, npx, r);
        pykitpiv_image(img2, npx, r + npx);
        for (size_t i = 0; i < npx; i++) r[2 * npx + i] = flow[2 * i], r[3 * npx + i] = flow[2 * i + 1];
    } else {
        memcpy(w->record, flow, npx * 2 * sizeof(float));
        sp_quantize_u8(img1, npx, w->record + 8 * npx);
        sp_quantize_u8(img2, npx, w->record + 9 * npx);
    }
    return append(w, part, w->record, w->record_bytes, err);
}

sp_status sp__sides_write(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err)
{
    int const split = w->layout == SP_DATASET_LAYOUT_CAI || w->layout == SP_DATASET_LAYOUT_LITEFLOWNET;
    for (size_t k = 0; w->nside && k < count; k++) {
        if (!b->mask[k]) continue;
        uint64_t const index = b->first_pair + k;
        size_t const part = split && sp_dataset_split_is_test(w->seed, index, w->split) ? 1 : 0;
        if (w->layout == SP_DATASET_LAYOUT_CAI) SP_TRY(cai_line(w, part, index, err));
        else SP_TRY(spool_record(w, part, b, k, err));
    }
    return SP_OK;
}

sp_status sp__sides_durable(sp_dataset_writer *w, sp_error *err)
{
    for (size_t i = 0; i < w->nside; i++) {
        int const e = w->side[i].fd >= 0 ? w->fs->fsync(w->fs->ctx, w->side[i].fd) : 0;
        if (e < 0) return sp__fs_fail(err, e, "fsync", w->side[i].path);
    }
    return SP_OK;
}

/* ---- the finish ------------------------------------------------------------------------- */

static sp_status read_exact(const sp_dataset_writer *w, int fd, void *buf, size_t n, const char *path, sp_error *err)
{
    unsigned char *p = (unsigned char *)buf;
    while (n > 0) {
        int64_t const r = w->fs->read(w->fs->ctx, fd, p, n);
        if (r < 0) return sp__fs_fail(err, (int)r, "read", path);
        if (r == 0) return sp_error_set(err, SP_ERR_CORRUPT, "%s: ends before the pairs it holds", path);
        p += r;
        n -= (size_t)r;
    }
    return SP_OK;
}

/* The rows of one spool's record r: pykitpiv I and targets, or one liteflownet group's
 * data1, data2 and label (arrays first, first + 1, first + 2). */
static sp_status record_rows(sp_dataset_writer *w, sp_h5_file *f, size_t first, uint64_t r, unsigned char *rgb,
                             sp_error *err)
{
    size_t const npx = w->height * w->width;
    const float *const rec = (const float *)(const void *)w->record;
    if (w->layout == SP_DATASET_LAYOUT_PYKITPIV) {
        SP_TRY(sp_h5_file_write_row(f, 0, r, rec, err));
        return sp_h5_file_write_row(f, 1, r, rec + 2 * npx, err);
    }
    for (size_t img = 0; img < 2; img++) {
        const unsigned char *const gray = w->record + (8 + img) * npx;
        for (size_t i = 0; i < npx; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
        SP_TRY(sp_h5_file_write_row(f, first + img, r, rgb, err));
    }
    return sp_h5_file_write_row(f, first + 2, r, rec, err);
}

static sp_status copy_spool(sp_dataset_writer *w, sp_h5_file *f, size_t part, unsigned char *rgb, sp_error *err)
{
    const sp__side *const s = &w->side[part];
    SP_RETURN_IF(s->bytes != s->count * w->record_bytes, err, SP_ERR_CORRUPT,
                 "%s: %llu bytes do not make %llu records of %zu bytes", s->path, (unsigned long long)s->bytes,
                 (unsigned long long)s->count, w->record_bytes);
    int const fd = w->fs->open(w->fs->ctx, s->path, 'r');
    if (fd < 0) return sp__fs_fail(err, fd, "open", s->path);
    sp_status st = SP_OK;
    for (uint64_t r = 0; st == SP_OK && r < s->count; r++) {
        st = read_exact(w, fd, w->record, w->record_bytes, s->path, err);
        if (st == SP_OK) st = record_rows(w, f, 3 * part, r, rgb, err);
    }
    int const c = w->fs->close(w->fs->ctx, fd);
    return st == SP_OK && c < 0 ? sp__fs_fail(err, c, "close", s->path) : st;
}

/* The arrays of the layout's HDF5 file. */
static size_t layout_arrays(const sp_dataset_writer *w, sp_h5_array *a)
{
    size_t const H = w->height, W = w->width;
    if (w->layout == SP_DATASET_LAYOUT_PYKITPIV) {
        sp_h5_array const I = {"I", SP_DTYPE_F32, 4, {(size_t)w->side[0].count, 2, H, W}};
        sp_h5_array const t = {"targets", SP_DTYPE_F32, 4, {(size_t)w->side[0].count, 2, H, W}};
        a[0] = I, a[1] = t;
        return 2;
    }
    static const char *const names[6] = {"train/data1", "train/data2", "train/label",
                                         "val/data1",   "val/data2",   "val/label"};
    for (size_t g = 0; g < 2; g++) {
        size_t const n = (size_t)w->side[g].count;
        sp_h5_array const d1 = {names[3 * g], SP_DTYPE_U8, 4, {n, H, W, 3}};
        sp_h5_array const d2 = {names[3 * g + 1], SP_DTYPE_U8, 4, {n, H, W, 3}};
        sp_h5_array const lb = {names[3 * g + 2], SP_DTYPE_F32, 4, {n, H, W, 2}};
        a[3 * g] = d1, a[3 * g + 1] = d2, a[3 * g + 2] = lb;
    }
    return 6;
}

static sp_status assemble(sp_dataset_writer *w, sp_error *err)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", w->dir, sp__side_base(w, 0));
    sp_h5_array arrays[6];
    size_t const n = layout_arrays(w, arrays);
    const char *const tag = w->layout == SP_DATASET_LAYOUT_PYKITPIV ? "synthpix-pykitpiv 1" : "synthpix-liteflownet 1";
    unsigned char *const rgb = w->layout == SP_DATASET_LAYOUT_LITEFLOWNET ? malloc(3 * w->height * w->width) : NULL;
    SP_RETURN_IF(w->layout == SP_DATASET_LAYOUT_LITEFLOWNET && rgb == NULL, err, SP_ERR_NOMEM, "%s: out of memory",
                 path);
    sp_h5_file *f = NULL;
    sp_status st = sp_h5_file_create(&f, w->fs, path, w->tag, arrays, n, tag, w->config_yaml, err);
    for (size_t part = 0; st == SP_OK && part < w->nside; part++) st = copy_spool(w, f, part, rgb, err);
    free(rgb);
    if (st == SP_OK) return sp_h5_file_close(f, err);
    sp_h5_file_abort(f);
    return st;
}

sp_status sp__sides_finish(sp_dataset_writer *w, sp_error *err)
{
    for (size_t i = 0; i < w->nside; i++) {
        int const c = w->side[i].fd >= 0 ? w->fs->close(w->fs->ctx, w->side[i].fd) : 0;
        w->side[i].fd = -1;
        if (c < 0) return sp__fs_fail(err, c, "close", w->side[i].path);
    }
    if (w->nside == 0) return SP_OK;
    if (w->layout != SP_DATASET_LAYOUT_CAI) return assemble(w, err);
    for (size_t i = 0; i < w->nside; i++) {
        char final[SP_FS_PATH_MAX];
        snprintf(final, sizeof final, "%s/%s", w->dir, sp__side_base(w, i));
        int const r = w->fs->rename(w->fs->ctx, w->side[i].path, final);
        if (r < 0) return sp__fs_fail(err, r, "rename to", final);
    }
    w->sides_done = 1;
    return SP_OK;
}

sp_status sp__sides_remove(sp_dataset_writer *w, sp_error *err)
{
    if (w->nside == 0 || w->layout == SP_DATASET_LAYOUT_CAI) return SP_OK;
    for (size_t i = 0; i < w->nside; i++) {
        int const e = w->fs->unlink(w->fs->ctx, w->side[i].path);
        if (e < 0 && e != -ENOENT) return sp__fs_fail(err, e, "remove", w->side[i].path);
    }
    w->sides_done = 1;
    return SP_OK;
}

void sp__sides_free(sp_dataset_writer *w, int keep)
{
    for (size_t i = 0; i < w->nside; i++) {
        if (w->side[i].fd >= 0) w->fs->close(w->fs->ctx, w->side[i].fd);
        w->side[i].fd = -1;
        if (!keep && !w->sides_done && w->side[i].path[0]) w->fs->unlink(w->fs->ctx, w->side[i].path);
    }
    free(w->record);
    w->record = NULL;
}
