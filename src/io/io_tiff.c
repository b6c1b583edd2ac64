/* io_tiff.c: grayscale TIFF writer (libtiff) emitting through an sp_sink.
 *
 * Supported subset: classic little-endian TIFF ("II*\0"), one image, SamplesPerPixel 1,
 * Photometric MinIsBlack, PlanarConfig contiguous, BitsPerSample 8 or 16 (unsigned),
 * compression None or Adobe Deflate (with horizontal predictor), RowsPerStrip chosen so a
 * strip holds about 64 KiB. No BigTIFF: the file must stay under 4 GiB.
 *
 * libtiff needs to seek while writing, so the file is built in an in-memory buffer through
 * TIFFClientOpenExt and pushed to the sink in one write after TIFFClose. libtiff errors and
 * warnings go to per-handle handlers (TIFFOpenOptions), never to the process-wide ones.
 * Each row is copied into a private buffer first because libtiff's predictor and byte
 * swapping may modify the buffer they are given.
 *
 * Guarantee: never reads outside pixels[0, (height-1)*stride + width*bytes), never writes
 * outside its own buffers; the memory file's read/seek procedures are bounds-checked.
 */
#include "sp/sp_io.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "sp_internal.h"

typedef struct tiff_mem {
    unsigned char *data;
    size_t size, cap, pos;
    char msg[256]; /* first libtiff error */
} tiff_mem;

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n)
{
    tiff_mem *const m = (tiff_mem *)h;
    if (n < 0 || m->pos >= m->size) return 0;
    size_t const k = (size_t)n < m->size - m->pos ? (size_t)n : m->size - m->pos;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return (tmsize_t)k;
}

static int mem_reserve(tiff_mem *m, size_t need)
{
    if (need <= m->cap) return 1;
    size_t cap = m->cap ? m->cap : 65536;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *const p = (unsigned char *)realloc(m->data, cap);
    if (p == NULL) return 0;
    m->data = p;
    m->cap = cap;
    return 1;
}

static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n)
{
    tiff_mem *const m = (tiff_mem *)h;
    size_t end = 0;
    if (n < 0 || !sp__add_size(m->pos, (size_t)n, &end) || end > 0xffffffffu) return -1;
    if (!mem_reserve(m, end)) return -1;
    if (m->pos > m->size) memset(m->data + m->size, 0, m->pos - m->size); /* seek past end */
    memcpy(m->data + m->pos, buf, (size_t)n);
    m->pos = end;
    if (end > m->size) m->size = end;
    return n;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence)
{
    tiff_mem *const m = (tiff_mem *)h;
    uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return (toff_t)-1;
    if (off > 0xffffffffu || base + off > 0xffffffffu) return (toff_t)-1;
    m->pos = (size_t)(base + off);
    return (toff_t)m->pos;
}

static int mem_close(thandle_t h)
{
    (void)h;
    return 0;
}

static toff_t mem_size(thandle_t h)
{
    return (toff_t)((tiff_mem *)h)->size;
}

static int mem_map(thandle_t h, void **base, toff_t *size)
{
    (void)h;
    (void)base;
    (void)size;
    return 0; /* no mapping: libtiff falls back to read */
}

static void mem_unmap(thandle_t h, void *base, toff_t size)
{
    (void)h;
    (void)base;
    (void)size;
}

__attribute__((format(printf, 4, 0))) static int on_error(TIFF *tif, void *user, const char *module,
                                                          const char *fmt, va_list ap)
{
    tiff_mem *const m = (tiff_mem *)user;
    (void)tif;
    (void)module;
    if (m->msg[0] == '\0') vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    return 1;
}

__attribute__((format(printf, 4, 0))) static int on_warning(TIFF *tif, void *user, const char *module,
                                                            const char *fmt, va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

static int set_tags(TIFF *t, size_t width, size_t height, int bit_depth, int deflate_level)
{
    size_t const row_bytes = width * (size_t)(bit_depth / 8);
    size_t rows = 65536 / row_bytes;
    if (rows < 1) rows = 1;
    if (rows > height) rows = height;
    int ok = TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)width) &&
             TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)height) &&
             TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)bit_depth) &&
             TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)1) &&
             TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, (uint16_t)SAMPLEFORMAT_UINT) &&
             TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (uint16_t)PHOTOMETRIC_MINISBLACK) &&
             TIFFSetField(t, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG) &&
             TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)rows);
    if (ok && deflate_level > 0) {
        ok = TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_ADOBE_DEFLATE) &&
             TIFFSetField(t, TIFFTAG_PREDICTOR, (uint16_t)PREDICTOR_HORIZONTAL) &&
             TIFFSetField(t, TIFFTAG_ZIPQUALITY, deflate_level);
    } else if (ok) {
        ok = TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_NONE);
    }
    return ok;
}

static int write_rows(TIFF *t, size_t height, size_t row_bytes, const unsigned char *pixels,
                      size_t stride, unsigned char *row)
{
    for (size_t y = 0; y < height; y++) {
        memcpy(row, pixels + y * stride, row_bytes);
        if (TIFFWriteScanline(t, row, (uint32_t)y, 0) < 0) return 0;
    }
    return 1;
}

/* Builds the whole file in m. Returns SP_OK or an error status (message in m->msg). */
static sp_status encode(tiff_mem *m, size_t width, size_t height, int bit_depth,
                        const unsigned char *pixels, size_t stride, int deflate_level)
{
    size_t const row_bytes = width * (size_t)(bit_depth / 8);
    unsigned char *const row = (unsigned char *)malloc(row_bytes);
    TIFFOpenOptions *const opts = TIFFOpenOptionsAlloc();
    if (row == NULL || opts == NULL) {
        free(row);
        TIFFOpenOptionsFree(opts);
        return SP_ERR_NOMEM;
    }
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, m);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, m);
    TIFF *const t = TIFFClientOpenExt("(memory)", "wl", (thandle_t)m, mem_read, mem_write, mem_seek,
                                      mem_close, mem_size, mem_map, mem_unmap, opts);
    int ok = t != NULL && set_tags(t, width, height, bit_depth, deflate_level) &&
             write_rows(t, height, row_bytes, pixels, stride, row);
    if (t != NULL) {
        ok = ok && TIFFFlush(t) == 1;
        TIFFClose(t);
    }
    TIFFOpenOptionsFree(opts);
    free(row);
    return ok && m->msg[0] == '\0' ? SP_OK : SP_ERR_INTERNAL;
}

sp_status sp_tiff_write_gray_ex(const sp_sink *sink, size_t width, size_t height, int bit_depth,
                                const void *pixels, size_t stride_bytes, int deflate_level,
                                sp_error *err)
{
    SP_RETURN_IF(sink == NULL || sink->write == NULL || pixels == NULL, err, SP_ERR_INVALID,
                 "tiff write: NULL argument");
    SP_RETURN_IF(bit_depth != 8 && bit_depth != 16, err, SP_ERR_INVALID,
                 "tiff write: bit depth %d (expected 8 or 16)", bit_depth);
    size_t npix = 0, nbytes = 0;
    SP_RETURN_IF(width < 1 || height < 1 || !sp__mul_size(width, height, &npix) ||
                     !sp__mul_size(npix, (size_t)(bit_depth / 8), &nbytes) || nbytes > 0xfff00000u,
                 err, SP_ERR_INVALID, "tiff write: size %zux%zu outside [1, 4 GiB of samples]", width,
                 height);
    SP_RETURN_IF(stride_bytes < width * (size_t)(bit_depth / 8), err, SP_ERR_INVALID,
                 "tiff write: stride %zu bytes shorter than a row", stride_bytes);
    SP_RETURN_IF(deflate_level < 0 || deflate_level > 9, err, SP_ERR_INVALID,
                 "tiff write: deflate level %d (expected 0..9)", deflate_level);
    tiff_mem m;
    memset(&m, 0, sizeof m);
    sp_status s = encode(&m, width, height, bit_depth, (const unsigned char *)pixels, stride_bytes,
                         deflate_level);
    if (s == SP_ERR_NOMEM) s = sp_error_set(err, s, "tiff write: out of memory");
    else if (s != SP_OK) s = sp_error_set(err, s, "tiff write: libtiff error: %s", m.msg[0] ? m.msg : "write failed");
    else s = sp_sink_write(sink, m.data, m.size, err);
    free(m.data);
    return s;
}

sp_status sp_tiff_write_gray(const sp_sink *sink, size_t width, size_t height, int bit_depth,
                             const void *pixels, size_t stride_bytes, sp_error *err)
{
    return sp_tiff_write_gray_ex(sink, width, height, bit_depth, pixels, stride_bytes, 0, err);
}
