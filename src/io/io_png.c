/* io_png.c: grayscale PNG writer: PNG framing around libdeflate's zlib streams.
 *
 * Map: sp_png_encoder_create/free (a libdeflate compressor and two buffers, reused from
 * image to image), sp_png_encode_gray (filter bytes + rows into the raw buffer, one
 * libdeflate_zlib_compress call, then signature, IHDR, IDAT chunks and IEND through the
 * sink), sp_png_write_gray (a one-shot encoder).
 *
 * Supported subset: colour type 0 (gray), bit depth 8 or 16, no interlace, no ancillary
 * chunks (IHDR, IDAT..., IEND), filter None on every row; the layout is the PNG
 * specification's (ISO/IEC 15948, chunks of length, type, data and the CRC-32 of type and
 * data). 16-bit samples are written big-endian.
 *
 * Why libdeflate and not libpng: the compressor is the whole cost. Measured on a 1024x1024
 * 8-bit particle image from the generator (/tmp ct.c-style loop, minimum of 40 runs, and
 * callgrind for a stable figure): zlib level 1 with Z_RLE, the tuned libpng path we used
 * before, 9.7 ms and 110 M instructions for 768 KB; libdeflate level 1, 8.2 ms and 53 M
 * instructions for 781 KB (+1.7%). At 256x256: 0.63 ms against 0.46 ms. libdeflate
 * compresses a whole buffer in one call, which is how the generator holds its images
 * anyway, and the framing around it is a few fixed chunks; libpng's row interface and
 * setjmp error handling buy nothing here. Filter None was measured fastest and smallest
 * for particle images (docs/formats.md has the table).
 *
 * Guarantee: never reads outside pixels[0, (height-1)*stride + width*bytes), never writes
 * outside the encoder's own buffers; a failing sink write stops the encoding with the
 * sink's status and message.
 */
#include "sp/sp_io.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"

struct sp_png_encoder {
    int level;                      /* libdeflate level, 0-12 */
    struct libdeflate_compressor *c;
    unsigned char *raw;             /* filter byte + row, for every row */
    size_t raw_cap;
    unsigned char *out;             /* the zlib stream */
    size_t out_cap;
};

enum { PNG_IDAT_MAX = 1 << 30 }; /* bytes per IDAT chunk (the format allows 2^31 - 1) */

sp_status sp_png_encoder_create(sp_png_encoder **out, int compression_level, sp_error *err)
{
    SP_RETURN_IF(out == NULL, err, SP_ERR_INVALID, "png encoder: NULL argument");
    *out = NULL;
    SP_RETURN_IF(compression_level < -1 || compression_level > 12, err, SP_ERR_INVALID,
                 "png write: compression level %d (expected -1..12)", compression_level);
    sp_png_encoder *const e = (sp_png_encoder *)calloc(1, sizeof *e);
    SP_RETURN_IF(e == NULL, err, SP_ERR_NOMEM, "png write: out of memory");
    e->level = compression_level < 0 ? 1 : compression_level;
    e->c = libdeflate_alloc_compressor(e->level);
    if (e->c == NULL) {
        free(e);
        return sp_error_set(err, SP_ERR_NOMEM, "png write: out of memory");
    }
    *out = e;
    return SP_OK;
}

void sp_png_encoder_free(sp_png_encoder *e)
{
    if (e == NULL) return;
    libdeflate_free_compressor(e->c);
    free(e->raw);
    free(e->out);
    free(e);
}

static sp_status check_args(const sp_sink *sink, size_t width, size_t height, int bit_depth, const void *pixels,
                            size_t stride, sp_error *err)
{
    SP_RETURN_IF(sink == NULL || sink->write == NULL || pixels == NULL, err, SP_ERR_INVALID,
                 "png write: NULL argument");
    SP_RETURN_IF(bit_depth != 8 && bit_depth != 16, err, SP_ERR_INVALID,
                 "png write: bit depth %d (expected 8 or 16)", bit_depth);
    SP_RETURN_IF(width < 1 || height < 1 || width > 0x7fffffffu || height > 0x7fffffffu, err, SP_ERR_INVALID,
                 "png write: size %zux%zu outside [1, 2^31-1]", width, height);
    SP_RETURN_IF(stride < width * (size_t)(bit_depth / 8), err, SP_ERR_INVALID,
                 "png write: stride %zu bytes shorter than a row", stride);
    return SP_OK;
}

/* Grows *buf to at least n bytes (contents not kept). */
static sp_status reserve(unsigned char **buf, size_t *cap, size_t n, sp_error *err)
{
    if (n <= *cap) return SP_OK;
    free(*buf);
    *cap = 0;
    *buf = (unsigned char *)malloc(n);
    SP_RETURN_IF(*buf == NULL, err, SP_ERR_NOMEM, "png write: out of memory (%zu bytes)", n);
    *cap = n;
    return SP_OK;
}

/* Rows with their filter byte (0, None); 16-bit samples become big-endian. */
static void fill_raw(unsigned char *raw, const unsigned char *pixels, size_t width, size_t height, size_t stride,
                     int bit_depth)
{
    size_t const rb = width * (size_t)(bit_depth / 8);
    for (size_t y = 0; y < height; y++) {
        unsigned char *const d = raw + y * (rb + 1);
        const unsigned char *const s = pixels + y * stride;
        d[0] = 0;
        if (bit_depth == 8) {
            memcpy(d + 1, s, rb);
            continue;
        }
        for (size_t x = 0; x < width; x++) {
            uint16_t v;
            memcpy(&v, s + 2 * x, 2);
            d[1 + 2 * x] = (unsigned char)(v >> 8);
            d[2 + 2 * x] = (unsigned char)v;
        }
    }
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* One chunk: length, type, data, CRC-32 of type and data. */
static sp_status write_chunk(const sp_sink *sink, const char type[4], const unsigned char *data, size_t n,
                             sp_error *err)
{
    unsigned char head[8], tail[4];
    put_be32(head, (uint32_t)n);
    memcpy(head + 4, type, 4);
    uint32_t crc = (uint32_t)libdeflate_crc32(0, head + 4, 4);
    if (n) crc = (uint32_t)libdeflate_crc32(crc, data, n);
    put_be32(tail, crc);
    SP_TRY(sp_sink_write(sink, head, sizeof head, err));
    if (n) SP_TRY(sp_sink_write(sink, data, n, err));
    return sp_sink_write(sink, tail, sizeof tail, err);
}

sp_status sp_png_encode_gray(sp_png_encoder *e, const sp_sink *sink, size_t width, size_t height, int bit_depth,
                             const void *pixels, size_t stride_bytes, sp_error *err)
{
    SP_RETURN_IF(e == NULL, err, SP_ERR_INVALID, "png write: NULL encoder");
    SP_TRY(check_args(sink, width, height, bit_depth, pixels, stride_bytes, err));
    size_t const rb = width * (size_t)(bit_depth / 8) + 1;
    SP_RETURN_IF(height > SIZE_MAX / rb, err, SP_ERR_INVALID, "png write: %zux%zu image too large", width, height);
    size_t const n = rb * height;
    SP_TRY(reserve(&e->raw, &e->raw_cap, n, err));
    size_t const bound = libdeflate_zlib_compress_bound(e->c, n);
    SP_TRY(reserve(&e->out, &e->out_cap, bound, err));
    fill_raw(e->raw, (const unsigned char *)pixels, width, height, stride_bytes, bit_depth);
    size_t const zn = libdeflate_zlib_compress(e->c, e->raw, n, e->out, e->out_cap);
    SP_RETURN_IF(zn == 0, err, SP_ERR_INTERNAL, "png write: libdeflate could not compress %zu bytes", n);

    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = (unsigned char)bit_depth;
    ihdr[9] = 0;  /* colour type: grayscale */
    ihdr[10] = 0; /* compression: deflate */
    ihdr[11] = 0; /* filter method 0 */
    ihdr[12] = 0; /* no interlace */
    SP_TRY(sp_sink_write(sink, sig, sizeof sig, err));
    SP_TRY(write_chunk(sink, "IHDR", ihdr, sizeof ihdr, err));
    for (size_t off = 0; off < zn; off += PNG_IDAT_MAX) {
        size_t const len = zn - off < (size_t)PNG_IDAT_MAX ? zn - off : (size_t)PNG_IDAT_MAX;
        SP_TRY(write_chunk(sink, "IDAT", e->out + off, len, err));
    }
    return write_chunk(sink, "IEND", NULL, 0, err);
}

sp_status sp_png_write_gray(const sp_sink *sink, size_t width, size_t height, int bit_depth, const void *pixels,
                            size_t stride_bytes, int compression_level, sp_error *err)
{
    SP_TRY(check_args(sink, width, height, bit_depth, pixels, stride_bytes, err));
    sp_png_encoder *e = NULL;
    SP_TRY(sp_png_encoder_create(&e, compression_level, err));
    sp_status const st = sp_png_encode_gray(e, sink, width, height, bit_depth, pixels, stride_bytes, err);
    sp_png_encoder_free(e);
    return st;
}
