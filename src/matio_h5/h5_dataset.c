/* h5_dataset.c: one shard of a generated dataset as an HDF5 file (synthpix generate
 * --format h5; layout in docs/real-data.md).
 *
 *   /images1      (n, H, W)      uint8 | uint16 | float32   chunk (1, H, W)
 *   /images2      (n, H, W)      as images1                 chunk (1, H, W)
 *   /flow_fields  (n, Ho, Wo, 2) float32                    chunk (1, Ho, Wo, 2)
 *   /params       (n,)           compound (index, record_seed, key[2], seeding_density,
 *                                diameter_range[2], intensity_range[2], rho_range[2],
 *                                particles, epoch, record, source: UTF-8 string)
 *                                chunk (64,): a record is 70 bytes, one per chunk would
 *                                cost more in chunk index than in data
 *   attribute "configuration"    the resolved configuration YAML (variable-length UTF-8,
 *                                stored in the global heap, so its length is unbounded)
 *   attribute "format"           "synthpix-h5-shard 1"
 * Every dataset grows by one pair per append (unlimited first dimension), so a shard
 * needs no size up front. Integer images are quantised exactly as the PNG/TIFF writers do.
 *
 * Crash safety: the file is written as "<path>.sp-tmp-<tag>-<random>" (created first through
 * the caller's sp_fs with O_EXCL | O_NOFOLLOW, then opened by libhdf5), closed, fsync'd,
 * renamed to <path> and the directory fsync'd, every step but libhdf5's own writes through
 * the sp_fs table; on any failure or abort the temporary is removed, so a file under a
 * final shard name is always complete.
 *
 * Without libhdf5 (SP_HAVE_HDF5 0) sp_h5_dataset_create returns SP_ERR_UNSUPPORTED naming
 * the shard, so no dataset object ever exists and the other calls have nothing to do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sp_fsutil.h"
#include "sp_internal.h"
#include "matio_h5_internal.h"
#include "sp/sp_io.h"
#include "sp/sp_matio_h5.h"

#if SP_HAVE_HDF5
#define SP_H5_PARAMS_CHUNK 64
/* Why our own conversion buffers for params rows: a compound write needs a type-conversion
 * and a background buffer, which libhdf5 otherwise callocs at its default size (1 MiB each)
 * on every H5Dwrite. Measured with perf (page-faults): ~512 page faults a pair, the whole of
 * the shard writer's cost beyond the bytes themselves. One row needs under 100 bytes. */
#define SP_H5_ROW_BUF 4096


struct sp_h5_dataset {
    const sp_fs *fs;
    char *path, *tmp;
    hid_t file, img[2], flow, params, row_mem, row_file;
    hid_t row_xfer;     /* transfer list for params rows: our conversion buffers */
    void *row_buf[2];   /* its type-conversion and background buffers, SP_H5_ROW_BUF bytes each */
    size_t height, width, flow_h, flow_w, n;
    int bit_depth;
    void *qbuf; /* one quantised image */
};

static hid_t image_file_type(int bit_depth)
{
    return bit_depth == 8 ? H5T_STD_U8LE : bit_depth == 16 ? H5T_STD_U16LE : H5T_IEEE_F32LE;
}

static hid_t image_mem_type(int bit_depth)
{
    return bit_depth == 8 ? H5T_NATIVE_UINT8 : bit_depth == 16 ? H5T_NATIVE_UINT16 : H5T_NATIVE_FLOAT;
}

/* Array member of n elements of `base`. */
static herr_t insert_array(hid_t t, const char *name, size_t off, hid_t base, hsize_t n)
{
    hid_t const a = H5Tarray_create2(base, 1, &n);
    if (a < 0) return -1;
    herr_t const r = H5Tinsert(t, name, off, a);
    H5Tclose(a);
    return r;
}

/* The in-memory compound type of sp_h5_pair_meta (the public per-pair record); the file
 * type is its packed copy. */
static hid_t make_row_type(void)
{
    hid_t const t = H5Tcreate(H5T_COMPOUND, sizeof(sp_h5_pair_meta));
    hid_t const str = H5Tcopy(H5T_C_S1);
    if (t < 0 || str < 0) return -1;
    herr_t r = H5Tset_size(str, H5T_VARIABLE);
    r |= H5Tset_cset(str, H5T_CSET_UTF8);
    r |= H5Tinsert(t, "index", HOFFSET(sp_h5_pair_meta, index), H5T_NATIVE_UINT64);
    r |= H5Tinsert(t, "record_seed", HOFFSET(sp_h5_pair_meta, record_seed), H5T_NATIVE_UINT32);
    r |= insert_array(t, "key", HOFFSET(sp_h5_pair_meta, key), H5T_NATIVE_UINT32, 2);
    r |= H5Tinsert(t, "seeding_density", HOFFSET(sp_h5_pair_meta, seeding_density), H5T_NATIVE_FLOAT);
    r |= insert_array(t, "diameter_range", HOFFSET(sp_h5_pair_meta, diameter_range), H5T_NATIVE_FLOAT, 2);
    r |= insert_array(t, "intensity_range", HOFFSET(sp_h5_pair_meta, intensity_range), H5T_NATIVE_FLOAT, 2);
    r |= insert_array(t, "rho_range", HOFFSET(sp_h5_pair_meta, rho_range), H5T_NATIVE_FLOAT, 2);
    r |= H5Tinsert(t, "particles", HOFFSET(sp_h5_pair_meta, particles), H5T_NATIVE_UINT32);
    r |= H5Tinsert(t, "epoch", HOFFSET(sp_h5_pair_meta, epoch), H5T_NATIVE_INT32);
    r |= H5Tinsert(t, "record", HOFFSET(sp_h5_pair_meta, record), H5T_NATIVE_UINT64);
    r |= H5Tinsert(t, "source", HOFFSET(sp_h5_pair_meta, source), str);
    H5Tclose(str);
    if (r < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* An extendible dataset of rank `rank` whose first dimension starts at 0. Object times are
 * not recorded, so the same pairs give the same file bytes (determinism, and a resumed run
 * rewrites identical shards). */
static hid_t make_growing(hid_t file, const char *name, hid_t type, int rank, const hsize_t *tail,
                          hsize_t first_chunk)
{
    hsize_t dims[4] = {0}, maxd[4] = {H5S_UNLIMITED}, chunk[4] = {first_chunk};
    for (int k = 1; k < rank; k++) dims[k] = maxd[k] = chunk[k] = tail[k - 1];
    hid_t const space = H5Screate_simple(rank, dims, maxd);
    hid_t const dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = -1;
    /* No fill for numeric data (every element is written before the file is closed);
     * libhdf5 requires fill values for variable-length members, as in params. */
    int const numeric = H5Tdetect_class(type, H5T_VLEN) <= 0 && H5Tdetect_class(type, H5T_STRING) <= 0;
    if (space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 && H5Pset_obj_track_times(dcpl, 0) >= 0 &&
        (!numeric || H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0))
        d = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    return d;
}

/* Lock held: creates the file and its datasets. */
static sp_status create_locked(sp_h5_dataset *d, const char *config_yaml, sp_error *err)
{
    d->file = H5Fcreate(d->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    SP_RETURN_IF(d->file < 0, err, SP_ERR_IO, "%s: cannot create the HDF5 file", d->tmp);
    hsize_t const img_tail[2] = {d->height, d->width}, flow_tail[3] = {d->flow_h, d->flow_w, 2};
    hid_t const ft = image_file_type(d->bit_depth);
    d->img[0] = make_growing(d->file, "images1", ft, 3, img_tail, 1);
    d->img[1] = make_growing(d->file, "images2", ft, 3, img_tail, 1);
    d->flow = make_growing(d->file, "flow_fields", H5T_IEEE_F32LE, 4, flow_tail, 1);
    d->row_mem = make_row_type();
    d->row_file = d->row_mem >= 0 ? H5Tcopy(d->row_mem) : -1;
    if (d->row_file >= 0 && H5Tpack(d->row_file) < 0) H5Tclose(d->row_file), d->row_file = -1;
    d->params = d->row_file >= 0 ? make_growing(d->file, "params", d->row_file, 1, NULL, SP_H5_PARAMS_CHUNK) : -1;
    d->row_xfer = H5Pcreate(H5P_DATASET_XFER);
    if (d->row_xfer >= 0 && H5Pset_buffer(d->row_xfer, SP_H5_ROW_BUF, d->row_buf[0], d->row_buf[1]) < 0)
        H5Pclose(d->row_xfer), d->row_xfer = -1;
    SP_RETURN_IF(d->img[0] < 0 || d->img[1] < 0 || d->flow < 0 || d->params < 0 || d->row_xfer < 0, err, SP_ERR_IO,
                 "%s: cannot create the datasets", d->tmp);
    SP_RETURN_IF(sp__mh_h5_string_attr(d->file, "configuration", config_yaml ? config_yaml : "") < 0 ||
                     sp__mh_h5_string_attr(d->file, "format", "synthpix-h5-shard 1") < 0,
                 err, SP_ERR_IO, "%s: cannot write the configuration attribute", d->tmp);
    return SP_OK;
}

static void close_handles(sp_h5_dataset *d)
{
    hid_t *const ds[] = {&d->img[0], &d->img[1], &d->flow, &d->params};
    for (size_t k = 0; k < SP_ARRAY_LEN(ds); k++)
        if (*ds[k] >= 0) H5Dclose(*ds[k]), *ds[k] = -1;
    if (d->row_mem >= 0) H5Tclose(d->row_mem), d->row_mem = -1;
    if (d->row_file >= 0) H5Tclose(d->row_file), d->row_file = -1;
    if (d->row_xfer >= 0) H5Pclose(d->row_xfer), d->row_xfer = -1;
}

static void free_dataset(sp_h5_dataset *d)
{
    free(d->path);
    free(d->tmp);
    free(d->qbuf);
    free(d->row_buf[0]);
    free(d->row_buf[1]);
    free(d);
}

sp_status sp_h5_dataset_create(sp_h5_dataset **out, const sp_fs *fs, const char *path, const char *tmp_tag,
                               size_t height, size_t width, size_t flow_h, size_t flow_w, int bit_depth,
                               const char *config_yaml, sp_error *err)
{
    *out = NULL;
    SP_RETURN_IF(bit_depth != 8 && bit_depth != 16 && bit_depth != 32, err, SP_ERR_INVALID,
                 "%s: bit depth %d; expected 8, 16 or 32", path, bit_depth);
    SP_RETURN_IF(height == 0 || width == 0 || flow_h == 0 || flow_w == 0, err, SP_ERR_INVALID,
                 "%s: empty image or flow shape", path);
    size_t npx = 0;
    SP_RETURN_IF(!sp__mul_size(height, width, &npx) || npx > SP_MH_MAX_ELEMENTS, err, SP_ERR_RANGE,
                 "%s: image %zux%zu too large", path, height, width);
    sp_h5_dataset *const d = (sp_h5_dataset *)calloc(1, sizeof *d);
    SP_RETURN_IF(d == NULL, err, SP_ERR_NOMEM, "%s: out of memory", path);
    d->file = d->img[0] = d->img[1] = d->flow = d->params = d->row_mem = d->row_file = d->row_xfer = -1;
    d->height = height, d->width = width, d->flow_h = flow_h, d->flow_w = flow_w, d->bit_depth = bit_depth;
    d->fs = fs ? fs : sp_fs_posix();
    d->path = strdup(path);
    d->tmp = (char *)malloc(SP_FS_PATH_MAX);
    d->qbuf = malloc(npx * 4);
    d->row_buf[0] = malloc(SP_H5_ROW_BUF);
    d->row_buf[1] = malloc(SP_H5_ROW_BUF);
    if (d->path == NULL || d->tmp == NULL || d->qbuf == NULL || d->row_buf[0] == NULL || d->row_buf[1] == NULL) {
        free_dataset(d);
        return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", path);
    }
    sp_status const ts = sp__mh_h5_tmp_create(d->fs, d->path, tmp_tag ? tmp_tag : "0", d->tmp, err);
    if (ts != SP_OK) {
        free_dataset(d);
        return ts;
    }
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    sp_status const st = create_locked(d, config_yaml, err);
    sp__mh_unlock(&ls);
    if (st != SP_OK) {
        sp_h5_dataset_abort(d);
        return st;
    }
    *out = d;
    return SP_OK;
}

/* Lock held: grows dataset `ds` to n + 1 along dim 0 and writes one slab at index n. A slab
 * that is exactly one chunk (images, flows) in the file's byte order goes straight to the file
 * with H5Dwrite_chunk: no chunk cache, no conversion, no fill. */
static herr_t append_slab(hid_t ds, int rank, const hsize_t *tail, size_t n, hid_t mem_type, hid_t xfer,
                          const void *data, size_t whole_chunk_bytes)
{
    hsize_t size[4] = {(hsize_t)n + 1}, start[4] = {(hsize_t)n}, count[4] = {1};
    for (int k = 1; k < rank; k++) size[k] = count[k] = tail[k - 1], start[k] = 0;
    if (H5Dset_extent(ds, size) < 0) return -1;
    if (whole_chunk_bytes) return H5Dwrite_chunk(ds, H5P_DEFAULT, 0, start, whole_chunk_bytes, data);
    hid_t const fs = H5Dget_space(ds);
    hid_t const ms = H5Screate_simple(rank, count, NULL);
    herr_t r = fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    if (r >= 0) r = H5Dwrite(ds, mem_type, ms, fs, xfer, data);
    if (fs >= 0) H5Sclose(fs);
    if (ms >= 0) H5Sclose(ms);
    return r;
}

static const void *quantised(sp_h5_dataset *d, const float *img)
{
    size_t const npx = d->height * d->width;
    if (d->bit_depth == 8) sp_quantize_u8(img, npx, (uint8_t *)d->qbuf);
    else if (d->bit_depth == 16) sp_quantize_u16(img, npx, (uint16_t *)d->qbuf);
    else return img;
    return d->qbuf;
}

sp_status sp_h5_dataset_append_pair(sp_h5_dataset *d, const float *img1, const float *img2, const float *flow,
                                    const sp_h5_pair_meta *meta, sp_error *err)
{
    hsize_t const img_tail[2] = {d->height, d->width}, flow_tail[3] = {d->flow_h, d->flow_w, 2};
    sp_h5_pair_meta row = *meta;
    if (row.source == NULL) row.source = "";
    hid_t const mt = image_mem_type(d->bit_depth);
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    size_t const img_bytes = SP_LITTLE_ENDIAN ? d->height * d->width * (size_t)(d->bit_depth / 8) : 0;
    size_t const flow_bytes = SP_LITTLE_ENDIAN ? d->flow_h * d->flow_w * 2 * sizeof(float) : 0;
    herr_t r = append_slab(d->img[0], 3, img_tail, d->n, mt, H5P_DEFAULT, quantised(d, img1), img_bytes);
    if (r >= 0) r = append_slab(d->img[1], 3, img_tail, d->n, mt, H5P_DEFAULT, quantised(d, img2), img_bytes);
    if (r >= 0) r = append_slab(d->flow, 4, flow_tail, d->n, H5T_NATIVE_FLOAT, H5P_DEFAULT, flow, flow_bytes);
    if (r >= 0) r = append_slab(d->params, 1, NULL, d->n, d->row_mem, d->row_xfer, &row, 0);
    sp__mh_unlock(&ls);
    SP_RETURN_IF(r < 0, err, SP_ERR_IO, "%s: cannot write pair %zu (disk full or I/O error)", d->tmp, d->n);
    d->n++;
    return SP_OK;
}

size_t sp_h5_dataset_pairs(const sp_h5_dataset *d)
{
    return d->n;
}

sp_status sp_h5_dataset_close(sp_h5_dataset *d, sp_error *err)
{
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    close_handles(d);
    herr_t const r = H5Fclose(d->file);
    d->file = -1;
    sp__mh_unlock(&ls);
    sp_status const st = r < 0 ? sp_error_set(err, SP_ERR_IO, "%s: closing the HDF5 file failed", d->tmp)
                               : sp__mh_h5_commit(d->fs, d->tmp, d->path, err);
    if (r < 0) d->fs->unlink(d->fs->ctx, d->tmp);
    free_dataset(d);
    return st;
}

void sp_h5_dataset_abort(sp_h5_dataset *d)
{
    if (d == NULL) return;
    sp__mh_lock_state ls;
    sp__mh_lock(&ls);
    close_handles(d);
    if (d->file >= 0) H5Fclose(d->file);
    sp__mh_unlock(&ls);
    d->fs->unlink(d->fs->ctx, d->tmp); /* ours: created by sp__mh_h5_tmp_create */
    free_dataset(d);
}
#else /* !SP_HAVE_HDF5 */
sp_status sp_h5_dataset_create(sp_h5_dataset **out, const sp_fs *fs, const char *path, const char *tmp_tag,
                               size_t height, size_t width, size_t flow_h, size_t flow_w, int bit_depth,
                               const char *config_yaml, sp_error *err)
{
    (void)fs, (void)tmp_tag, (void)height, (void)width, (void)flow_h, (void)flow_w, (void)bit_depth, (void)config_yaml;
    *out = NULL;
    return sp__mh_unsupported(path, "libhdf5", "HDF5 dataset shards cannot be written", err);
}

sp_status sp_h5_dataset_append_pair(sp_h5_dataset *d, const float *img1, const float *img2, const float *flow,
                                    const sp_h5_pair_meta *meta, sp_error *err)
{
    (void)d, (void)img1, (void)img2, (void)flow, (void)meta;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "synthpix was built without libhdf5");
}

size_t sp_h5_dataset_pairs(const sp_h5_dataset *d)
{
    (void)d;
    return 0;
}

sp_status sp_h5_dataset_close(sp_h5_dataset *d, sp_error *err)
{
    (void)d;
    return sp_error_set(err, SP_ERR_UNSUPPORTED, "synthpix was built without libhdf5");
}

void sp_h5_dataset_abort(sp_h5_dataset *d)
{
    (void)d;
}
#endif /* SP_HAVE_HDF5 */
