/* h5_raw.c: the raw data of one HDF5 dataset, checked against the file and read by us.
 *
 * Why: libhdf5 1.10.8 trusts a dataset's storage description when it reads the data. The
 * fuzz corpus (tests/corpus/h5) holds files on which H5Dread reads past its own heap
 * buffers, all in the data path (H5D__compact_readvv -> H5VM_memcpyvv, which also serves
 * chunks held in the chunk cache), none in metadata parsing:
 *   crash_m00176.h5, crash_m00895.h5  chunked (2, 2, 3) float64 whose deflate filter was
 *       flipped away: the stored chunks (24..43 bytes) are copied out as 96-byte chunks,
 *       reading up to 60 bytes past each buffer;
 *   crash_m00387.h5  chunk dims (1, 4, 2) flipped to (1, 4, 1026): 32-byte stored chunks
 *       copied as 16416-byte ones (a read 3944 bytes past the buffer);
 *   crash_m00841.h5  layout flipped from contiguous to compact with 0 bytes of compact data
 *       for a 96-byte dataset: memcpy from a NULL buffer.
 * Inside the isolating child these read garbage or die quietly; nothing told the caller.
 *
 * What we accept (anything else is an error naming the file, the dataset and the reason):
 *   types    IEEE float32/float64, little- or big-endian; with float_only == 0 also the
 *            standard 8..64-bit signed and unsigned integers of either byte order. Exactly
 *            the standard layouts (H5Tequal), so no exotic float or padding reaches us.
 *   contiguous  H5Dget_offset (absolute) + the data size within the file, and the stored
 *            size equal to the shape's. Read with memcpy (in-memory image) or pread.
 *   chunked  chunk dims of the dataset's rank, at most SP_MH_MAX_ELEMENTS elements and
 *            SP_H5_MAX_CHUNKS chunks; every chunk of the grid stored (a missing chunk would
 *            need the fill value), each at base + address with its stored size inside the
 *            file. Filters: none, shuffle (its element size must be the type's) and deflate
 *            (zlib), each at most once, skipped per chunk as the chunk's filter mask says;
 *            the decoded chunk must be exactly the chunk's size (unfiltered: the stored
 *            size itself). Partial edge chunks left unfiltered (an HDF5 1.10 option) are
 *            refused. Chunks are read and decoded by us.
 *   compact  the stored size must equal the shape's; the data lives inside the object
 *            header, which only libhdf5 can reach, so this one layout is read through
 *            H5Dread in the file's own type (no conversion), after the size check.
 *   refused  virtual datasets, external storage, every other filter (named: fletcher32,
 *            szip, nbit, scaleoffset, or the id, e.g. 32000 lzf).
 * Guarantee: no read outside the file image, the file or our buffers, whatever the file
 * says: every offset and size is checked with overflow-checked arithmetic first, and a
 * buffer is allocated only after its size is bounded by the file (stored chunks) or by
 * zlib's maximum ratio of 1032:1 (inflated chunks).
 *
 * Still libhdf5's: parsing the metadata (superblock, links, object headers, datatype,
 * dataspace and layout messages, the chunk index) happens in H5Fopen, H5Dopen and
 * H5Dget_chunk_info_by_coord, inside the child process of mh_isolate.c.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <unistd.h>
#include <zlib.h>

#include "sp_internal.h"
#include "matio_h5_internal.h"

#if SP_HAVE_HDF5

/* Far above any sane chunking of a PIV flow (h5py picks chunks of tens of KiB to 1 MiB),
 * and low enough that the chunk walk (one index lookup each) stays fast on hostile input. */
#define SP_H5_MAX_CHUNKS ((size_t)1 << 20)
/* zlib cannot expand input more than 1032:1; a chunk claiming more is damaged. */
#define SP_H5_DEFLATE_MAX_RATIO 1032u
/* Compact data lives in a 16-bit-sized layout message. */
#define SP_H5_COMPACT_MAX 65535u

typedef struct raw_type {
    size_t size;    /* bytes per element: 1, 2, 4 or 8 */
    int is_float;   /* IEEE binary32/binary64; else a two's complement integer */
    int is_signed;
    int big_endian;
} raw_type;

typedef struct raw_ctx {
    const sp__mh_h5 *h;
    hid_t dset;
    const char *path, *name;
    raw_type t;
    size_t dims[SP_MH_MAX_RANK]; /* padded with 1s to rank 3: row-major offsets unchanged */
    size_t rank, count;
} raw_ctx;

/* ---- element types ------------------------------------------------------------------------ */

static int type_is(hid_t type, hid_t std)
{
    return H5Tequal(type, std) > 0;
}

/* Fills *t when `type` is exactly one of the standard types we decode. */
static int classify_type(hid_t type, raw_type *t)
{
    const struct {
        hid_t le, be;
        size_t size;
        int is_float, is_signed;
    } k[] = {
        {H5T_IEEE_F32LE, H5T_IEEE_F32BE, 4, 1, 1}, {H5T_IEEE_F64LE, H5T_IEEE_F64BE, 8, 1, 1},
        {H5T_STD_I8LE, H5T_STD_I8BE, 1, 0, 1},     {H5T_STD_U8LE, H5T_STD_U8BE, 1, 0, 0},
        {H5T_STD_I16LE, H5T_STD_I16BE, 2, 0, 1},   {H5T_STD_U16LE, H5T_STD_U16BE, 2, 0, 0},
        {H5T_STD_I32LE, H5T_STD_I32BE, 4, 0, 1},   {H5T_STD_U32LE, H5T_STD_U32BE, 4, 0, 0},
        {H5T_STD_I64LE, H5T_STD_I64BE, 8, 0, 1},   {H5T_STD_U64LE, H5T_STD_U64BE, 8, 0, 0},
    };
    for (size_t i = 0; i < SP_ARRAY_LEN(k); i++) {
        int const le = type_is(type, k[i].le), be = !le && type_is(type, k[i].be);
        if (!le && !be) continue;
        t->size = k[i].size, t->is_float = k[i].is_float, t->is_signed = k[i].is_signed, t->big_endian = be;
        return 1;
    }
    return 0;
}

static sp_status read_type(raw_ctx *c, sp_error *err)
{
    hid_t const type = H5Dget_type(c->dset);
    SP_RETURN_IF(type < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable element type", c->path, c->name);
    int const ok = classify_type(type, &c->t);
    H5Tclose(type);
    SP_RETURN_IF(!ok, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' has a non-standard number layout; supported: IEEE "
                 "float32/float64 and 8- to 64-bit integers, little- or big-endian", c->path, c->name);
    return SP_OK;
}

static uint64_t load_uint(const unsigned char *p, size_t n, int big_endian)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[big_endian ? i : n - 1 - i] << (8 * (n - 1 - i));
    return v;
}

/* One element to float32; doubles beyond float's range become +-inf, as IEEE rounding would
 * (and a flow holding them is refused as non-finite later). */
static float element(const raw_type *t, const unsigned char *p)
{
    uint64_t const u = load_uint(p, t->size, t->big_endian);
    if (t->is_float && t->size == 4) {
        uint32_t const u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, sizeof f);
        return f;
    }
    if (t->is_float) {
        double d;
        memcpy(&d, &u, sizeof d);
        return d > (double)FLT_MAX ? HUGE_VALF : d < -(double)FLT_MAX ? -HUGE_VALF : (float)d;
    }
    if (!t->is_signed) return (float)u;
    int64_t s;
    if (t->size == 8) {
        memcpy(&s, &u, sizeof s);
    } else { /* sign-extends: flipping the sign bit maps [-2^(n-1), 2^(n-1)) onto [0, 2^n) */
        uint64_t const sign = (uint64_t)1 << (8 * t->size - 1);
        s = (int64_t)(u ^ sign) - (int64_t)sign;
    }
    return (float)s;
}

static void convert(const raw_type *t, const unsigned char *src, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++) dst[i] = element(t, src + i * t->size);
}

/* ---- the file's bytes --------------------------------------------------------------------- */

/* 1 when [off, off + n) lies within the file. */
static int in_file(const sp__mh_h5 *h, uint64_t off, uint64_t n)
{
    return off <= h->size && n <= h->size - off;
}

/* Copies the n bytes at off (in_file checked by the caller) into dst. */
static sp_status read_bytes(const raw_ctx *c, uint64_t off, size_t n, unsigned char *dst, sp_error *err)
{
    SP_ASSERT(in_file(c->h, off, n));
    if (c->h->image) {
        memcpy(dst, c->h->image + off, n);
        return SP_OK;
    }
    while (n > 0) {
        ssize_t const r = pread(c->h->fd, dst, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        SP_RETURN_IF(r < 0, err, SP_ERR_IO, "%s: cannot read dataset '%s': %s", c->path, c->name, strerror(errno));
        SP_RETURN_IF(r == 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' cannot be read: the file became shorter while "
                     "it was read", c->path, c->name);
        dst += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return SP_OK;
}

/* ---- contiguous and compact ---------------------------------------------------------------- */

static sp_status stored_size_is(const raw_ctx *c, const char *layout, size_t need, sp_error *err)
{
    hsize_t const stored = H5Dget_storage_size(c->dset);
    SP_RETURN_IF(stored != need, err, SP_ERR_CORRUPT, "%s: dataset '%s' has %s storage of %llu bytes, but its shape "
                 "needs %zu (damaged layout)", c->path, c->name, layout, (unsigned long long)stored, need);
    return SP_OK;
}

static sp_status read_contiguous(const raw_ctx *c, float *out, sp_error *err)
{
    size_t const need = c->count * c->t.size; /* count <= 2^28, size <= 8 */
    SP_TRY(stored_size_is(c, "contiguous", need, err));
    haddr_t const addr = H5Dget_offset(c->dset);
    SP_RETURN_IF(addr == HADDR_UNDEF, err, SP_ERR_CORRUPT, "%s: dataset '%s' has no data stored", c->path, c->name);
    SP_RETURN_IF(!in_file(c->h, addr, need), err, SP_ERR_CORRUPT, "%s: dataset '%s' lies outside the file: %zu bytes "
                 "at byte %llu of a %llu-byte file (damaged layout)", c->path, c->name, need,
                 (unsigned long long)addr, (unsigned long long)c->h->size);
    unsigned char block[1 << 16]; /* converted a block at a time: no second copy of the data */
    size_t const per = sizeof block / c->t.size;
    for (size_t done = 0; done < c->count; done += per) {
        size_t const n = c->count - done < per ? c->count - done : per;
        SP_TRY(read_bytes(c, addr + (uint64_t)done * c->t.size, n * c->t.size, block, err));
        convert(&c->t, block, n, out + done);
    }
    return SP_OK;
}

static sp_status read_compact(const raw_ctx *c, float *out, sp_error *err)
{
    size_t const need = c->count * c->t.size;
    SP_TRY(stored_size_is(c, "compact", need, err));
    SP_RETURN_IF(need > SP_H5_COMPACT_MAX, err, SP_ERR_CORRUPT, "%s: dataset '%s' claims %zu bytes of compact data "
                 "(at most %u fit in an object header)", c->path, c->name, need, SP_H5_COMPACT_MAX);
    unsigned char *const buf = (unsigned char *)malloc(need);
    SP_RETURN_IF(buf == NULL, err, SP_ERR_NOMEM, "%s: out of memory for dataset '%s'", c->path, c->name);
    hid_t const type = H5Dget_type(c->dset); /* the file's own type: libhdf5 converts nothing */
    herr_t const r = type >= 0 ? H5Dread(c->dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) : -1;
    if (type >= 0) H5Tclose(type);
    if (r >= 0) convert(&c->t, buf, c->count, out);
    free(buf);
    SP_RETURN_IF(r < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' cannot be read (damaged compact data)", c->path,
                 c->name);
    return SP_OK;
}

/* ---- chunked: the plan ---------------------------------------------------------------------- */

enum { PIPE_SHUFFLE = 1, PIPE_DEFLATE = 2 };

typedef struct chunk_plan {
    size_t cdims[SP_MH_MAX_RANK]; /* chunk dims, padded with 1s */
    size_t grid[SP_MH_MAX_RANK];  /* chunks per dimension */
    size_t chunk_bytes, nchunks;
    int nfilters;
    int filter[2];                /* PIPE_*, in pipeline (write) order */
} chunk_plan;

static const char *filter_name(H5Z_filter_t id)
{
    switch (id) {
    case H5Z_FILTER_FLETCHER32: return "fletcher32";
    case H5Z_FILTER_SZIP: return "szip";
    case H5Z_FILTER_NBIT: return "nbit";
    case H5Z_FILTER_SCALEOFFSET: return "scaleoffset";
    case 32000: return "lzf";
    case 32001: return "blosc";
    case 32004: return "lz4";
    case 32008: return "bitshuffle";
    case 32015: return "zstd";
    default: return "unknown";
    }
}

static sp_status plan_filter(const raw_ctx *c, hid_t dcpl, unsigned idx, chunk_plan *p, sp_error *err)
{
    unsigned flags = 0, config = 0, cd[8];
    size_t ncd = SP_ARRAY_LEN(cd);
    char fname[64];
    H5Z_filter_t const id = H5Pget_filter2(dcpl, idx, &flags, &ncd, cd, sizeof fname, fname, &config);
    SP_RETURN_IF(id < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable filter pipeline", c->path, c->name);
    int const kind = id == H5Z_FILTER_SHUFFLE ? PIPE_SHUFFLE : id == H5Z_FILTER_DEFLATE ? PIPE_DEFLATE : 0;
    SP_RETURN_IF(kind == 0, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' uses the %s filter (id %d); supported: none, "
                 "shuffle, deflate", c->path, c->name, filter_name(id), (int)id);
    for (int k = 0; k < p->nfilters; k++)
        SP_RETURN_IF(p->filter[k] == kind, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' applies the %s filter twice; "
                     "supported: shuffle and deflate at most once each", c->path, c->name,
                     kind == PIPE_SHUFFLE ? "shuffle" : "deflate");
    SP_RETURN_IF(kind == PIPE_SHUFFLE && (ncd < 1 || cd[0] != c->t.size), err, SP_ERR_CORRUPT,
                 "%s: dataset '%s' has a shuffle filter for %u-byte elements; its elements have %zu bytes", c->path,
                 c->name, ncd < 1 ? 0u : cd[0], c->t.size);
    p->filter[p->nfilters++] = kind;
    return SP_OK;
}

static sp_status plan_filters(const raw_ctx *c, hid_t dcpl, chunk_plan *p, sp_error *err)
{
    int const n = H5Pget_nfilters(dcpl);
    SP_RETURN_IF(n < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable filter pipeline", c->path, c->name);
    for (int k = 0; k < n; k++) {
        SP_RETURN_IF(k >= 2, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' has %d filters; supported: none, shuffle, "
                     "deflate", c->path, c->name, n);
        SP_TRY(plan_filter(c, dcpl, (unsigned)k, p, err));
    }
    unsigned opts = 0;
    SP_RETURN_IF(n > 0 && H5Pget_chunk_opts(dcpl, &opts) >= 0 && (opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS), err,
                 SP_ERR_UNSUPPORTED, "%s: dataset '%s' leaves partial edge chunks unfiltered, which is not supported",
                 c->path, c->name);
    return SP_OK;
}

static sp_status plan_grid(const raw_ctx *c, hid_t dcpl, chunk_plan *p, sp_error *err)
{
    hsize_t cd[H5S_MAX_RANK];
    int const r = H5Pget_chunk(dcpl, H5S_MAX_RANK, cd);
    SP_RETURN_IF(r != (int)c->rank, err, SP_ERR_CORRUPT, "%s: dataset '%s' has chunks of rank %d for a rank-%zu "
                 "shape (damaged layout)", c->path, c->name, r, c->rank);
    size_t elems = 1;
    p->nchunks = 1;
    for (size_t k = 0; k < SP_MH_MAX_RANK; k++) {
        hsize_t const ck = k < c->rank ? cd[k] : 1;
        SP_RETURN_IF(ck == 0 || ck > SP_MH_MAX_ELEMENTS, err, SP_ERR_CORRUPT, "%s: dataset '%s' has chunk dimension "
                     "%zu of %llu (damaged layout)", c->path, c->name, k, (unsigned long long)ck);
        p->cdims[k] = (size_t)ck;
        p->grid[k] = c->dims[k] / p->cdims[k] + (c->dims[k] % p->cdims[k] != 0);
        SP_RETURN_IF(!sp__mul_size(elems, p->cdims[k], &elems) || elems > SP_MH_MAX_ELEMENTS, err, SP_ERR_RANGE,
                     "%s: dataset '%s' has chunks of over %zu elements", c->path, c->name, SP_MH_MAX_ELEMENTS);
        p->nchunks *= p->grid[k]; /* each factor <= dims[k]: the product is <= count */
    }
    SP_RETURN_IF(p->nchunks > SP_H5_MAX_CHUNKS, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' is split into %zu chunks; "
                 "at most %zu are supported", c->path, c->name, p->nchunks, SP_H5_MAX_CHUNKS);
    p->chunk_bytes = elems * c->t.size;
    return SP_OK;
}

/* ---- chunked: decoding one chunk ------------------------------------------------------------- */

/* Scratch buffers reused across chunks: a and b of `cap` bytes each. */
typedef struct chunk_bufs {
    unsigned char *a, *b;
    size_t cap;
} chunk_bufs;

static int bufs_reserve(chunk_bufs *s, size_t n)
{
    if (n <= s->cap) return 1;
    free(s->a);
    free(s->b);
    s->a = (unsigned char *)malloc(n);
    s->b = (unsigned char *)malloc(n);
    s->cap = s->a && s->b ? n : 0;
    return s->cap != 0;
}

/* HDF5's shuffle filter undone: byte j of element i is at src[j * n + i]; a tail shorter
 * than one element is stored as is. */
static void unshuffle(const unsigned char *src, size_t len, size_t esize, unsigned char *dst)
{
    size_t const n = len / esize;
    if (esize < 2 || n < 2) {
        memcpy(dst, src, len);
        return;
    }
    for (size_t j = 0; j < esize; j++)
        for (size_t i = 0; i < n; i++) dst[i * esize + j] = src[j * n + i];
    memcpy(dst + n * esize, src + n * esize, len - n * esize);
}

/* zlib stream (HDF5's deflate filter) src[0, len) into dst; *got bytes, at most cap. */
static int inflate_into(const unsigned char *src, size_t len, unsigned char *dst, size_t cap, size_t *got)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (len > UINT32_MAX || cap > UINT32_MAX || inflateInit(&z) != Z_OK) return 0;
    z.next_in = (Bytef *)(uintptr_t)src; /* zlib does not write through next_in */
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)cap;
    int const r = inflate(&z, Z_FINISH);
    *got = (size_t)z.total_out;
    inflateEnd(&z);
    return r == Z_STREAM_END;
}

/* Undoes the pipeline (last filter first) on the `stored` bytes in s->a; the decoded chunk
 * ends in *res, which must hold exactly chunk_bytes. */
static sp_status decode_chunk(const raw_ctx *c, const chunk_plan *p, unsigned mask, size_t stored, chunk_bufs *s,
                              const unsigned char **res, const char *where, sp_error *err)
{
    unsigned char *cur = s->a, *other = s->b;
    size_t len = stored;
    for (int k = p->nfilters - 1; k >= 0; k--) {
        if (mask & (1u << k)) continue; /* the writer skipped this (optional) filter here */
        if (p->filter[k] == PIPE_SHUFFLE) {
            unshuffle(cur, len, c->t.size, other);
        } else {
            size_t got = 0;
            SP_RETURN_IF(!inflate_into(cur, len, other, p->chunk_bytes, &got), err, SP_ERR_CORRUPT,
                         "%s: dataset '%s': the chunk at %s does not inflate to its %zu bytes (damaged deflate data)",
                         c->path, c->name, where, p->chunk_bytes);
            len = got;
        }
        unsigned char *const t = cur;
        cur = other, other = t;
    }
    SP_RETURN_IF(len != p->chunk_bytes, err, SP_ERR_CORRUPT, "%s: dataset '%s': the chunk at %s holds %zu bytes; "
                 "a chunk is %zu (damaged layout or filter pipeline)", c->path, c->name, where, len, p->chunk_bytes);
    *res = cur;
    return SP_OK;
}

/* Converts the part of a decoded chunk (origin o) that lies inside the dataset into out. */
static void place_chunk(const raw_ctx *c, const chunk_plan *p, const size_t *o, const unsigned char *chunk,
                        float *out)
{
    const size_t *const d = c->dims, *const cd = p->cdims;
    size_t const run = d[2] - o[2] < cd[2] ? d[2] - o[2] : cd[2];
    for (size_t a = 0; a < cd[0] && o[0] + a < d[0]; a++)
        for (size_t b = 0; b < cd[1] && o[1] + b < d[1]; b++) {
            const unsigned char *const src = chunk + ((a * cd[1] + b) * cd[2]) * c->t.size;
            convert(&c->t, src, run, out + ((o[0] + a) * d[1] + (o[1] + b)) * d[2] + o[2]);
        }
}

static int has_deflate(const chunk_plan *p, unsigned mask)
{
    for (int k = 0; k < p->nfilters; k++)
        if (p->filter[k] == PIPE_DEFLATE && !(mask & (1u << k))) return 1;
    return 0;
}

/* Looks up, checks, reads, decodes and places the chunk with origin o. */
static sp_status read_chunk(const raw_ctx *c, const chunk_plan *p, const size_t *o, chunk_bufs *s, float *out,
                            sp_error *err)
{
    char where[96];
    snprintf(where, sizeof where, "(%zu, %zu, %zu)", o[0], o[1], o[2]);
    hsize_t off[SP_MH_MAX_RANK];
    for (size_t k = 0; k < SP_MH_MAX_RANK; k++) off[k] = o[k];
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    SP_RETURN_IF(H5Dget_chunk_info_by_coord(c->dset, off, &mask, &addr, &size) < 0, err, SP_ERR_CORRUPT,
                 "%s: dataset '%s': the chunk index cannot be read at %s", c->path, c->name, where);
    SP_RETURN_IF(addr == HADDR_UNDEF || size == 0, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s': the chunk at %s is not "
                 "stored (datasets with unwritten chunks are not supported)", c->path, c->name, where);
    SP_RETURN_IF(mask >> p->nfilters != 0, err, SP_ERR_CORRUPT, "%s: dataset '%s': the chunk at %s skips filters the "
                 "dataset does not have (filter mask 0x%x)", c->path, c->name, where, mask);
    uint64_t const abs = c->h->base + addr;
    SP_RETURN_IF(addr > UINT64_MAX - c->h->base || !in_file(c->h, abs, size), err, SP_ERR_CORRUPT,
                 "%s: dataset '%s': the chunk at %s lies outside the file: %llu bytes at byte %llu of a %llu-byte file "
                 "(damaged chunk index)", c->path, c->name, where, (unsigned long long)size,
                 (unsigned long long)addr + c->h->base, (unsigned long long)c->h->size);
    /* Bound what the chunk may decode to before allocating for it. */
    int const deflated = has_deflate(p, mask);
    SP_RETURN_IF(!deflated ? size != p->chunk_bytes : p->chunk_bytes / SP_H5_DEFLATE_MAX_RATIO > size, err,
                 SP_ERR_CORRUPT, "%s: dataset '%s': the chunk at %s holds %llu bytes, which cannot %s a chunk of %zu "
                 "(damaged layout or filter pipeline)", c->path, c->name, where, (unsigned long long)size,
                 deflated ? "inflate to" : "be", p->chunk_bytes);
    size_t const stored = (size_t)size; /* <= the file size, so it fits */
    SP_RETURN_IF(!bufs_reserve(s, stored > p->chunk_bytes ? stored : p->chunk_bytes), err, SP_ERR_NOMEM,
                 "%s: out of memory for a chunk of dataset '%s'", c->path, c->name);
    SP_TRY(read_bytes(c, abs, stored, s->a, err));
    const unsigned char *chunk = NULL;
    SP_TRY(decode_chunk(c, p, mask, stored, s, &chunk, where, err));
    place_chunk(c, p, o, chunk, out);
    return SP_OK;
}

static sp_status read_chunked(const raw_ctx *c, hid_t dcpl, float *out, sp_error *err)
{
    chunk_plan p;
    memset(&p, 0, sizeof p);
    SP_TRY(plan_grid(c, dcpl, &p, err));
    SP_TRY(plan_filters(c, dcpl, &p, err));
    chunk_bufs s = {NULL, NULL, 0};
    sp_status st = SP_OK;
    size_t g[SP_MH_MAX_RANK] = {0, 0, 0};
    for (size_t n = 0; n < p.nchunks && st == SP_OK; n++) {
        size_t const o[SP_MH_MAX_RANK] = {g[0] * p.cdims[0], g[1] * p.cdims[1], g[2] * p.cdims[2]};
        st = read_chunk(c, &p, o, &s, out, err);
        for (int k = SP_MH_MAX_RANK - 1; k >= 0 && ++g[k] == p.grid[k]; k--) g[k] = 0; /* next grid cell */
    }
    free(s.a);
    free(s.b);
    return st;
}

/* ---- entry ---------------------------------------------------------------------------------- */

static sp_status read_layout(const raw_ctx *c, hid_t dcpl, float *out, sp_error *err)
{
    H5D_layout_t const layout = H5Pget_layout(dcpl);
    SP_RETURN_IF(H5Pget_external_count(dcpl) > 0, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' keeps its data in "
                 "external files, which is not supported", c->path, c->name);
    if (layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) {
        SP_RETURN_IF(H5Pget_nfilters(dcpl) != 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has filters without chunks "
                     "(damaged layout)", c->path, c->name);
        return layout == H5D_CONTIGUOUS ? read_contiguous(c, out, err) : read_compact(c, out, err);
    }
    if (layout == H5D_CHUNKED) return read_chunked(c, dcpl, out, err);
    SP_RETURN_IF(layout == H5D_VIRTUAL, err, SP_ERR_UNSUPPORTED, "%s: dataset '%s' is a virtual dataset, which is not "
                 "supported", c->path, c->name);
    return sp_error_set(err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable storage layout", c->path, c->name);
}

sp_status sp__h5_raw_read(const sp__mh_h5 *h, hid_t dset, const char *path, const char *name, size_t rank,
                          const size_t *dims, size_t count, float *out, sp_error *err)
{
    SP_ASSERT(rank >= 1 && rank <= SP_MH_MAX_RANK && count >= 1 && count <= SP_MH_MAX_ELEMENTS);
    raw_ctx c;
    memset(&c, 0, sizeof c);
    c.h = h, c.dset = dset, c.path = path, c.name = name, c.rank = rank, c.count = count;
    for (size_t k = 0; k < SP_MH_MAX_RANK; k++) c.dims[k] = k < rank ? dims[k] : 1;
    SP_TRY(read_type(&c, err));
    hid_t const dcpl = H5Dget_create_plist(dset);
    SP_RETURN_IF(dcpl < 0, err, SP_ERR_CORRUPT, "%s: dataset '%s' has an unreadable storage layout", path, name);
    sp_status const st = read_layout(&c, dcpl, out, err);
    H5Pclose(dcpl);
    return st;
}

#endif /* SP_HAVE_HDF5 */
