/* synthpix: file formats. Readers for .npy and Middlebury .flo, writers for .npy, .flo,
 * 8/16-bit grayscale PNG and TIFF, and the float -> integer quantisation used by every image
 * writer. The exact subset of each format is listed in docs/formats.md.
 *
 * Readers treat their input as hostile: every size taken from a header is overflow-checked
 * and bounded by a limit, a reader never reads outside the buffer it is given and never
 * writes outside the memory it allocated, even for malicious input, and every error message
 * starts with the file name (the `name` or `path` argument) and says what is wrong.
 *
 * Writers emit through an sp_sink (sp_sink.h) and never open a path themselves. On failure a
 * writer may have emitted a prefix of the file; the sink's owner discards it.
 *
 * Ownership: pointer arguments are borrowed for the call unless stated otherwise. Arrays and
 * flows filled by a reader own their data; release them with sp_npy_array_release or
 * sp_flow_release.
 *
 * Thread safety: every function is re-entrant and uses no global mutable state (libdeflate and
 * libtiff are used through per-call handles with per-call error handlers), so any function
 * may run concurrently on distinct arguments. An sp_npy_array, sp_flow or sp_sink is used by
 * one thread at a time.
 */
#ifndef SP_IO_H
#define SP_IO_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint8_t, uint16_t */

#include "sp/sp_api.h"
#include "sp/sp_dtype.h"
#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- .npy ---------------------------------------------------------------------------- */

#define SP_NPY_MAX_NDIM 8

/* A decoded .npy array: C order, native byte order. */
typedef struct sp_npy_array {
    sp_dtype dtype;
    size_t ndim;                   /* 0..SP_NPY_MAX_NDIM; 0 is a scalar (count 1) */
    size_t shape[SP_NPY_MAX_NDIM]; /* shape[k] for k < ndim; 0 beyond */
    size_t count;                  /* product of shape (1 for ndim 0; may be 0) */
    size_t nbytes;                 /* count * sp_dtype_size(dtype) */
    void *data;                    /* nbytes bytes (never NULL after a successful read), owned */
} sp_npy_array;

/* Hard limits a reader enforces before allocating anything. */
typedef struct sp_npy_limits {
    size_t max_data_bytes;   /* total data bytes; default 4 GiB (SP_NPY_DEFAULT_MAX_BYTES) */
    size_t max_header_bytes; /* header dict length; default 65536 */
} sp_npy_limits;

#define SP_NPY_DEFAULT_MAX_BYTES ((size_t)1 << 32)
#define SP_NPY_DEFAULT_MAX_HEADER ((size_t)65536)

/* Fills the defaults above. */
SP_API void sp_npy_limits_init(sp_npy_limits *lim);

/* Parses a whole .npy file held in buf[0, len). Versions 1.0, 2.0, 3.0; the dtypes above in
 * '<', '>' or '|' byte order (big-endian data is converted to native); fortran_order True
 * or False (the result is always C order); rank 0..8. The data must fill the rest of the
 * buffer exactly: short data and trailing bytes are errors.
 * buf: borrowed for the call. name: borrowed; used only in error messages (may be NULL).
 * out: on success owns a fresh allocation (sp_npy_array_release); on failure zeroed.
 * lim: NULL = defaults. Errors: SP_ERR_CORRUPT (malformed), SP_ERR_UNSUPPORTED (version,
 * dtype), SP_ERR_RANGE (over a limit), SP_ERR_NOMEM. */
SP_API sp_status sp_npy_parse(const void *buf, size_t len, const char *name, sp_npy_array *out,
                              const sp_npy_limits *lim, sp_error *err);

/* Reads and parses the file at path (borrowed). As sp_npy_parse; SP_ERR_IO when the file
 * cannot be read. */
SP_API sp_status sp_npy_read_file(const char *path, sp_npy_array *out, const sp_npy_limits *lim,
                                  sp_error *err);

/* Frees a->data and zeroes *a (NULL allowed). */
SP_API void sp_npy_array_release(sp_npy_array *a);

/* Copies a's elements into dst (caller-owned, dst_count elements, must be >= a->count),
 * converting each value with a C cast (bool: nonzero -> 1). 64-bit integers beyond 2^24
 * (f32) or 2^53 (f64) round to nearest. Errors: SP_ERR_INVALID when dst_count is short. */
SP_API sp_status sp_npy_to_f32(const sp_npy_array *a, float *dst, size_t dst_count, sp_error *err);
SP_API sp_status sp_npy_to_f64(const sp_npy_array *a, double *dst, size_t dst_count, sp_error *err);

/* Converts an array of shape (H, W, 2) or (H, W, 3), dtype float32 or float64, to a flow
 * (out: fresh allocation owned by the caller, sp_flow_release; zeroed on failure). Other
 * shapes or dtypes give SP_ERR_MISMATCH naming `name`, what was found and what was
 * expected. a is borrowed. */
SP_API sp_status sp_npy_to_flow(const sp_npy_array *a, const char *name, sp_flow *out, sp_error *err);

/* sp_npy_read_file followed by sp_npy_to_flow (default limits). */
SP_API sp_status sp_npy_read_flow(const char *path, sp_flow *out, sp_error *err);
/* sp_flo_decode's contract for a .npy flow held in memory: shape (H, W, 2) or (H, W, 3),
 * float32 or float64, either byte order; C order is decoded in one pass into out's reused
 * storage (Fortran order takes the general path). */
SP_API sp_status sp_npy_decode_flow(const void *buf, size_t len, const char *name, sp_flow *out,
                                    size_t *capacity, int *nonfinite, sp_error *err);
/* Reads the .npy flow at path (borrowed) into out as sp_npy_decode_flow decodes it (same
 * result, same errors), with file as a reused buffer for the header. float32 in the host's
 * byte order, C order, (H, W, 2|3): the data is read straight into out's storage, then
 * checked for non-finite values, with no decoding pass; other files are read whole into
 * file and decoded. Files over max_len bytes: SP_ERR_RANGE; OS errors name the file. */
SP_API sp_status sp_npy_read_flow_into(const char *path, size_t max_len, sp_flow *out, size_t *capacity,
                                       sp_membuf *file, int *nonfinite, sp_error *err);

/* Writes a .npy file: version 1.0 (2.0 if the header would not fit 1.0), C order,
 * little-endian ('|' for one-byte types), header padded with spaces so that the data starts
 * at a multiple of 64 bytes, as NumPy does. data holds prod(shape) native-order elements in
 * C order (borrowed; may be NULL when the product is 0). shape: ndim entries, borrowed.
 * Errors: SP_ERR_INVALID (bad dtype, ndim > 8, size overflow), sink errors. */
SP_API sp_status sp_npy_write(const sp_sink *sink, sp_dtype dtype, size_t ndim, const size_t *shape,
                              const void *data, sp_error *err);

/* ---- .flo (Middlebury) --------------------------------------------------------------- */

#define SP_FLO_TAG 202021.25f
#define SP_FLO_MAX_DIM 100000u

/* Parses a whole .flo file in buf[0, len): float32 tag 202021.25, int32 width, int32 height
 * (each in [1, 100000]), then width*height*2 float32 (u, v) row-major, all little-endian.
 * The data must fill the buffer exactly. buf, name: borrowed (name only for messages).
 * out: fresh (H, W, 2) flow owned by the caller (sp_flow_release); zeroed on failure. */
SP_API sp_status sp_flo_parse(const void *buf, size_t len, const char *name, sp_flow *out,
                              sp_error *err);
/* Reads and parses the file at path (borrowed). SP_ERR_IO when it cannot be read. */
SP_API sp_status sp_flo_read_file(const char *path, sp_flow *out, sp_error *err);
/* Decodes a whole .flo held in buf[0, len) into out, reusing out's storage: out->data (NULL
 * or a buffer of *capacity floats from a previous decode, malloc'd) is kept when it holds
 * the flow, otherwise grown with realloc and *capacity updated; out->height/width/channels
 * are set. The conversion and the finite check are one pass: *nonfinite is 1 when some
 * value is NaN or infinite (the values are decoded anyway; the caller decides). Release
 * with sp_flow_release. On error out's storage is kept (still owned by out). */
SP_API sp_status sp_flo_decode(const void *buf, size_t len, const char *name, sp_flow *out, size_t *capacity,
                               int *nonfinite, sp_error *err);
/* sp_npy_read_flow_into's contract for a .flo file: on a little-endian host the data is read
 * straight into out (same result and errors as reading the file and sp_flo_decode). */
SP_API sp_status sp_flo_read_flow_into(const char *path, size_t max_len, sp_flow *out, size_t *capacity,
                                       sp_membuf *file, int *nonfinite, sp_error *err);
/* Writes channels 0 and 1 of flow (borrowed; 2 or 3 channels, dims in [1, 100000]). */
SP_API sp_status sp_flo_write(const sp_sink *sink, const sp_flow *flow, sp_error *err);

/* ---- Images -------------------------------------------------------------------------- */

/* Grayscale PNG, bit depth 8 or 16. pixels: height rows of width uint8_t or uint16_t
 * (native byte order) values, rows stride_bytes apart (>= width * bytes per sample),
 * borrowed. compression_level: libdeflate level 0-12 (0 stores), or -1 for the fast default
 * used by the generator (level 1). Row filter: always None (measured fastest and smallest
 * for particle images; docs/formats.md). 16-bit samples are written big-endian as PNG
 * requires. Width and height in [1, 2^31 - 1]. Chunks: IHDR, IDAT..., IEND.
 * Errors: SP_ERR_INVALID (arguments), SP_ERR_NOMEM, SP_ERR_INTERNAL, sink errors. */
SP_API sp_status sp_png_write_gray(const sp_sink *sink, size_t width, size_t height, int bit_depth,
                                   const void *pixels, size_t stride_bytes, int compression_level,
                                   sp_error *err);

/* A reusable PNG encoder: the compressor and its buffers are kept from one image to the
 * next, so writing many images allocates nothing once the largest has been seen. Not
 * thread-safe: one encoder per thread. Same arguments, checks and output bytes as
 * sp_png_write_gray with the encoder's level. */
typedef struct sp_png_encoder sp_png_encoder;
SP_API sp_status sp_png_encoder_create(sp_png_encoder **out, int compression_level, sp_error *err);
SP_API void sp_png_encoder_free(sp_png_encoder *e);
SP_API sp_status sp_png_encode_gray(sp_png_encoder *e, const sp_sink *sink, size_t width, size_t height,
                                    int bit_depth, const void *pixels, size_t stride_bytes, sp_error *err);

/* Grayscale baseline TIFF, uncompressed, little-endian ("II"), bit depth 8 or 16, one strip
 * per N rows (N chosen so that a strip holds about 64 KiB). Arguments as for PNG. The file is
 * built in memory (libtiff needs to seek) and then written to the sink in one call; the
 * total must stay below 4 GiB (classic TIFF). */
SP_API sp_status sp_tiff_write_gray(const sp_sink *sink, size_t width, size_t height, int bit_depth,
                                    const void *pixels, size_t stride_bytes, sp_error *err);
/* As sp_tiff_write_gray; deflate_level 0 = uncompressed, 1-9 = Adobe Deflate at that level
 * (with horizontal predictor). */
SP_API sp_status sp_tiff_write_gray_ex(const sp_sink *sink, size_t width, size_t height, int bit_depth,
                                       const void *pixels, size_t stride_bytes, int deflate_level,
                                       sp_error *err);

/* ---- Quantisation -------------------------------------------------------------------- */

/* Converts n float32 intensities (nominal range [0, 255]) to integers. Each value is first
 * clamped to [0, 255] (NaN -> 0, +inf -> 255, -inf -> 0), then, in float32 arithmetic:
 *   u8  = (uint8_t)(c + 0.5f)            round half up; 254.5 -> 255
 *   u16 = (uint16_t)(c * 257.0f + 0.5f)  65535 / 255 = 257 exactly; 255 -> 65535
 * Truncating the non-negative sum is round-to-nearest with ties away from zero.
 * src and dst: caller-owned, n elements, borrowed; must not overlap. */
SP_API void sp_quantize_u8(const float *src, size_t n, uint8_t *dst);
SP_API void sp_quantize_u16(const float *src, size_t n, uint16_t *dst);

#ifdef __cplusplus
}
#endif
#endif /* SP_IO_H */
