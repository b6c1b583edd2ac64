/* synthpix: real flow data in MATLAB .mat and HDF5 files, and HDF5 dataset shards.
 *
 * Readers (the exact subset is in docs/real-data.md):
 *   .mat  v5 (compressed or not) through libmatio; HDF5-based v7.3 through libmatio when
 *         MATLAB wrote it and through libhdf5 when h5py/NumPy wrote it. Variable V of shape
 *         (H, W, 2) or (2, H, W), float32 or float64; optional images I0 and I1 of shape
 *         (H, W), any real numeric type, returned as float32 as stored.
 *         Orientation: a variable carrying HDF5's MATLAB_class attribute (MATLAB, matio,
 *         hdf5storage) and every v5 variable is column-major and its shape is MATLAB's; a
 *         variable without it (h5py) is row-major and its shape is NumPy's. Either way the
 *         flow comes out with flow(i, j, c) = V(i, j, c) as the writer indexed it.
 *   .h5   the first entry of the root group in name order (h5py's first key) must be a
 *         dataset of shape (H, W, 2) or (H, W, 3), float32 or float64, row-major; one record
 *         per file; 3-component flows keep w as channel 2.
 * Every reader treats its file as hostile: shapes are checked before anything is read,
 * sizes are bounded (2^28 elements per variable), HDF5's error printing is silenced, and a
 * failure is one line naming the file and what is wrong. A flow with a NaN or infinite
 * value is an error naming the file and the first bad (row, column, channel).
 *
 * Writer: sp_h5_dataset writes one shard of a generated dataset: images1, images2
 * (n, H, W) as uint8, uint16 or float32, flow_fields (n, Ho, Wo, 2) float32, params (n,)
 * compound, chunked one pair per chunk, with the configuration YAML as the root attribute
 * "configuration". The file is written under a temporary name and renamed on close, so a
 * shard under its final name is always complete. sp_h5_file writes a whole file of
 * fixed-size arrays (the pykitPIV and PIV-LiteFlowNet dataset layouts) the same way.
 *
 * Optional libraries: a build may leave out libmatio or libhdf5 (sp_have_feature("matio"),
 * sp_have_feature("hdf5")). The .mat reader then refuses the files that need the missing
 * library (all of them without either) and the .h5 reader and the shard writer need
 * libhdf5: such calls return SP_ERR_UNSUPPORTED with a message naming the file and the
 * library, e.g. "f.mat: synthpix was built without libmatio: .mat files cannot be read
 * (install libmatio-dev and rebuild)".
 *
 * Ownership: pointer arguments are borrowed for the call unless stated otherwise; flows
 * and images filled by a reader are owned by the caller (sp_flow_release, free()).
 *
 * Thread safety: every function may be called from any thread; calls into libmatio and
 * libhdf5 are serialised internally. An sp_h5_dataset is used by one thread at a time.
 */
#ifndef SP_MATIO_H5_H
#define SP_MATIO_H5_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t, int32_t */

#include "sp/sp_api.h"
#include "sp/sp_dtype.h"
#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_fs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a .mat flow. With include_images != 0, I0 and I1 are required, must share one
 * shape, and are returned in *img1, *img2 (fresh malloc'd (ih, iw) float32 row-major
 * buffers, free()); with include_images == 0 the image arguments may be NULL and are not
 * touched. flow: fresh allocation owned by the caller; zeroed on failure. */
SP_API sp_status sp_mat_read_flow(const char *path, int include_images, sp_flow *flow, float **img1,
                                  float **img2, size_t *ih, size_t *iw, sp_error *err);

/* Reads the first dataset of an .h5 file as a flow (see above). */
SP_API sp_status sp_h5_read_flow(const char *path, sp_flow *flow, sp_error *err);
/* The same from an in-memory file image buf[0, len) (borrowed; HDF5's core driver reads a
 * copy). `name` is used in messages (NULL = "(memory)"). */
SP_API sp_status sp_h5_parse_flow(const void *buf, size_t len, const char *name, sp_flow *flow,
                                  sp_error *err);

/* ---- HDF5 dataset shards ---------------------------------------------------------------- */

/* Per-pair metadata stored in the params dataset (one compound record per pair). */
typedef struct sp_h5_pair_meta {
    uint64_t index;          /* global pair index */
    uint32_t record_seed;
    uint32_t key[2];
    float seeding_density;
    float diameter_range[2], intensity_range[2], rho_range[2];
    uint32_t particles;
    int32_t epoch;
    uint64_t record;
    const char *source;      /* record name (file path); borrowed for the call */
} sp_h5_pair_meta;

typedef struct sp_h5_dataset sp_h5_dataset;

/* Starts a shard that will be renamed to `path` on close. height, width: image shape;
 * flow_h, flow_w: output flow grid; bit_depth 8 (uint8), 16 (uint16) or 32 (float32
 * intensities as rendered); config_yaml: NUL-terminated text stored as the attribute
 * "configuration" (copied). Images given to append are float32 in [0, 255] and are
 * quantised as the PNG/TIFF writers do (sp_quantize_u8/u16). fs (NULL = sp_fs_posix(),
 * borrowed for the shard's life) creates, syncs and renames the file; tmp_tag (NULL = "0")
 * marks the temporary "<path>.sp-tmp-<tag>-<random>". */
SP_API sp_status sp_h5_dataset_create(sp_h5_dataset **out, const sp_fs *fs, const char *path,
                               const char *tmp_tag, size_t height, size_t width, size_t flow_h,
                               size_t flow_w, int bit_depth, const char *config_yaml, sp_error *err);
/* Appends one pair: img1, img2 (height*width floats), flow (flow_h*flow_w*2 floats). */
SP_API sp_status sp_h5_dataset_append_pair(sp_h5_dataset *d, const float *img1, const float *img2,
                                           const float *flow, const sp_h5_pair_meta *meta, sp_error *err);
/* Pairs appended so far. */
SP_API size_t sp_h5_dataset_pairs(const sp_h5_dataset *d);
/* Flushes, closes, fsyncs and renames the shard into place, then frees d (always, even on
 * failure, in which case the temporary file is removed). */
SP_API sp_status sp_h5_dataset_close(sp_h5_dataset *d, sp_error *err);
/* Discards an unfinished shard (removes the temporary file) and frees d. NULL allowed. */
SP_API void sp_h5_dataset_abort(sp_h5_dataset *d);

/* ---- whole HDF5 files of fixed-size arrays --------------------------------------------- */

/* One array of a file: its shape is known when the file is created. */
typedef struct sp_h5_array {
    const char *name; /* "I", or "group/name" (one level of group, created when first
                       * named); [A-Za-z0-9_-] and at most one '/'; borrowed for the call */
    sp_dtype dtype;   /* SP_DTYPE_U8 or SP_DTYPE_F32, stored little-endian */
    int rank;         /* 1..4 */
    size_t dims[4];   /* dims[0] (rows) may be 0: an empty array; the others >= 1 */
} sp_h5_array;

typedef struct sp_h5_file sp_h5_file;

/* Starts a file that will be renamed to `path` on close: the n arrays (contiguous, no
 * filters, no object times, so the same rows give the same bytes), root attributes "format"
 * (format_tag) and "configuration" (config_yaml; NULL = none). fs and tmp_tag as for
 * sp_h5_dataset_create. Every row of every array must be written before the close. */
SP_API sp_status sp_h5_file_create(sp_h5_file **out, const sp_fs *fs, const char *path, const char *tmp_tag,
                                   const sp_h5_array *arrays, size_t n, const char *format_tag,
                                   const char *config_yaml, sp_error *err);
/* Writes row `row` of array `array`: the product of dims[1..] elements of its dtype, in
 * native byte order (borrowed for the call). */
SP_API sp_status sp_h5_file_write_row(sp_h5_file *f, size_t array, uint64_t row, const void *data, sp_error *err);
/* Closes, fsyncs and renames the file into place, then fsyncs the directory, then frees f
 * (always; on failure the temporary file is removed). */
SP_API sp_status sp_h5_file_close(sp_h5_file *f, sp_error *err);
/* Discards an unfinished file (removes the temporary) and frees f. NULL allowed. */
SP_API void sp_h5_file_abort(sp_h5_file *f);

#ifdef __cplusplus
}
#endif
#endif /* SP_MATIO_H5_H */
