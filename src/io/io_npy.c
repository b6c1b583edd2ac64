/* io_npy.c: NumPy .npy reader and writer.
 *
 * Supported subset (reader):
 *   - format versions 1.0, 2.0 and 3.0 (magic "\x93NUMPY", u16 header length for 1.0, u32
 *     for 2.0/3.0, little-endian); any other version is SP_ERR_UNSUPPORTED;
 *   - the header is a Python dict literal with exactly the keys 'descr', 'fortran_order' and
 *     'shape' (any order, single or double quotes, optional trailing comma, whitespace);
 *     strings without escapes, printable ASCII only (3.0's UTF-8 is only needed for field
 *     names of structured dtypes, which are rejected anyway);
 *   - descr: b1 u1 i1 u2 i2 u4 i4 u8 i8 f4 f8 with byte order '<', '>' or '|' ('|' only for
 *     one-byte types); structured, object, string, complex and float16 dtypes are rejected;
 *   - fortran_order True or False; shape a tuple of 0..8 non-negative decimal integers;
 *   - the data must be exactly prod(shape) * itemsize bytes (no short data, no trailing
 *     bytes), at most lim->max_data_bytes (default 4 GiB).
 * The result is always C order, native byte order.
 *
 * Writer: version 1.0 (2.0 if the header exceeded 65535 bytes, which 8 dims cannot reach),
 * C order, little-endian, header dict formatted as NumPy does and padded with spaces and a
 * final '\n' so that the data starts at a multiple of 64 bytes.
 *
 * Guarantee: never reads outside src (buf[0, len)), never writes outside dst (the
 * allocation sized from the checked header), even for malicious input. Every size is
 * overflow-checked before use; nothing is allocated before all checks pass.
 */
#include "sp/sp_io.h"

#include <stdlib.h>
#include <string.h>

#include "sp_flowmap.h"
#include "sp_fsutil.h"
#include "sp_internal.h"
#include "io_private.h"


/* ---- header dict parser ------------------------------------------------------------------- */

typedef struct npy_header {
    int have_descr, have_fortran, have_shape;
    sp_dtype dtype;
    int swap, fortran;
    size_t ndim;
    size_t shape[SP_NPY_MAX_NDIM];
} npy_header;

typedef struct cursor {
    const unsigned char *p, *end;
    const char *name;
    sp_error *err;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == (unsigned char)ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static sp_status bad_header(cursor *c, const char *what)
{
    return sp_error_set(c->err, SP_ERR_CORRUPT, "%s: bad .npy header dict: %s", c->name, what);
}

/* A quoted string of printable ASCII without escapes, copied into out[cap]. */
static sp_status parse_string(cursor *c, char *out, size_t cap)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad_header(c, "expected a string");
    unsigned char const q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        unsigned char const ch = *c->p++;
        if (ch < 0x20 || ch > 0x7e || ch == '\\') return bad_header(c, "unsupported character in string");
        if (n + 1 >= cap) return bad_header(c, "string too long");
        out[n++] = (char)ch;
    }
    if (c->p >= c->end) return bad_header(c, "unterminated string");
    c->p++;
    out[n] = '\0';
    return SP_OK;
}

static int eat_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t const n = strlen(w);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
    c->p += n;
    return 1;
}

/* A non-negative decimal integer, overflow-checked. */
static sp_status parse_uint(cursor *c, size_t *v)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return bad_header(c, "bad shape tuple (expected a non-negative integer)");
    size_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t const d = (size_t)(*c->p++ - '0');
        if (!sp__mul_size(x, 10, &x) || !sp__add_size(x, d, &x))
            return sp_error_set(c->err, SP_ERR_RANGE, "%s: absurd dimension in shape tuple", c->name);
    }
    *v = x;
    return SP_OK;
}

/* "()" | "(n,)" | "(n, m[, ...][,])" */
static sp_status parse_shape(cursor *c, npy_header *h)
{
    if (!eat(c, '(')) return bad_header(c, "bad shape tuple (expected '(')");
    h->ndim = 0;
    if (eat(c, ')')) return SP_OK;
    for (;;) {
        if (h->ndim == SP_NPY_MAX_NDIM)
            return sp_error_set(c->err, SP_ERR_UNSUPPORTED, "%s: shape has more than %d dimensions",
                                c->name, SP_NPY_MAX_NDIM);
        SP_TRY(parse_uint(c, &h->shape[h->ndim]));
        h->ndim++;
        int const comma = eat(c, ',');
        if (eat(c, ')')) {
            if (h->ndim == 1 && !comma) return bad_header(c, "bad shape tuple ('(n)' is not a tuple)");
            return SP_OK;
        }
        if (!comma) return bad_header(c, "bad shape tuple (expected ',' or ')')");
    }
}

static sp_status parse_descr(cursor *c, npy_header *h)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED,
                            "%s: unsupported dtype: structured arrays are not supported", c->name);
    char d[32];
    SP_TRY(parse_string(c, d, sizeof d));
    if (!sp_dtype_from_descr(d, &h->dtype, &h->swap))
        return sp_error_set(c->err, SP_ERR_UNSUPPORTED,
                            "%s: unsupported dtype '%s' (expected b1 u1 i1 u2 i2 u4 i4 u8 i8 f4 f8 "
                            "with byte order '<', '>' or '|')", c->name, d);
    return SP_OK;
}

static sp_status parse_value(cursor *c, const char *key, npy_header *h)
{
    int *seen;
    if (strcmp(key, "descr") == 0) seen = &h->have_descr;
    else if (strcmp(key, "fortran_order") == 0) seen = &h->have_fortran;
    else if (strcmp(key, "shape") == 0) seen = &h->have_shape;
    else return sp_error_set(c->err, SP_ERR_CORRUPT, "%s: bad .npy header dict: unexpected key '%s'",
                             c->name, key);
    if (*seen) return sp_error_set(c->err, SP_ERR_CORRUPT, "%s: bad .npy header dict: duplicate key '%s'",
                                   c->name, key);
    *seen = 1;
    if (seen == &h->have_descr) return parse_descr(c, h);
    if (seen == &h->have_shape) return parse_shape(c, h);
    if (eat_word(c, "True")) h->fortran = 1;
    else if (eat_word(c, "False")) h->fortran = 0;
    else return bad_header(c, "fortran_order must be True or False");
    return SP_OK;
}

static sp_status parse_dict(cursor *c, npy_header *h)
{
    memset(h, 0, sizeof *h);
    if (!eat(c, '{')) return bad_header(c, "expected '{'");
    while (!eat(c, '}')) {
        char key[32];
        SP_TRY(parse_string(c, key, sizeof key));
        if (!eat(c, ':')) return bad_header(c, "expected ':' after a key");
        SP_TRY(parse_value(c, key, h));
        if (!eat(c, ',')) {
            if (!eat(c, '}')) return bad_header(c, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(c);
    if (c->p != c->end) return bad_header(c, "unexpected bytes after '}'");
    if (!h->have_descr || !h->have_fortran || !h->have_shape)
        return sp_error_set(c->err, SP_ERR_CORRUPT, "%s: bad .npy header dict: missing key '%s'", c->name,
                            !h->have_descr ? "descr" : !h->have_fortran ? "fortran_order" : "shape");
    return SP_OK;
}

/* ---- reader ------------------------------------------------------------------------------ */

static void format_shape(const size_t *shape, size_t ndim, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "(");
    for (size_t k = 0; k < ndim && n < cap; k++)
        n += (size_t)snprintf(out + n, cap - n, k + 1 < ndim ? "%zu, " : ndim == 1 ? "%zu," : "%zu",
                              shape[k]);
    if (n < cap) snprintf(out + n, cap - n, ")");
}

/* Locates the header dict: sets *hdr, *hlen and *data_off. */
static sp_status read_preamble(const unsigned char *b, size_t len, const char *name,
                               const sp_npy_limits *lim, size_t *hdr_off, size_t *hlen,
                               sp_error *err)
{
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    SP_RETURN_IF(len == 0, err, SP_ERR_CORRUPT, "%s: truncated: empty file", name);
    size_t const cmp = len < 6 ? len : 6;
    SP_RETURN_IF(memcmp(b, magic, cmp) != 0, err, SP_ERR_CORRUPT,
                 "%s: not a .npy file (wrong magic)", name);
    SP_RETURN_IF(len < 10, err, SP_ERR_CORRUPT, "%s: truncated .npy preamble (%zu bytes)", name, len);
    unsigned const major = b[6], minor = b[7];
    SP_RETURN_IF(major < 1 || major > 3 || minor != 0, err, SP_ERR_UNSUPPORTED,
                 "%s: unsupported .npy version %u.%u (expected 1.0, 2.0 or 3.0)", name, major, minor);
    *hdr_off = major == 1 ? 10 : 12;
    SP_RETURN_IF(len < *hdr_off, err, SP_ERR_CORRUPT, "%s: truncated .npy preamble (%zu bytes)", name, len);
    *hlen = major == 1 ? sp__load_le16(b + 8) : sp__load_le32(b + 8);
    SP_RETURN_IF(*hlen > lim->max_header_bytes, err, SP_ERR_RANGE,
                 "%s: .npy header length %zu over the limit of %zu", name, *hlen, lim->max_header_bytes);
    SP_RETURN_IF(*hlen > len - *hdr_off, err, SP_ERR_CORRUPT,
                 "%s: truncated: .npy header length %zu points past the end of the file (%zu bytes)",
                 name, *hlen, len);
    return SP_OK;
}

/* Checks the total size against the limit and the bytes present. */
static sp_status check_sizes(const npy_header *h, size_t avail, const char *name,
                             const sp_npy_limits *lim, size_t *count, size_t *nbytes, sp_error *err)
{
    char shp[256];
    format_shape(h->shape, h->ndim, shp, sizeof shp);
    size_t n = 1;
    for (size_t k = 0; k < h->ndim; k++)
        SP_RETURN_IF(!sp__mul_size(n, h->shape[k], &n), err, SP_ERR_RANGE,
                     "%s: absurd dimensions %s (element count overflows)", name, shp);
    size_t const es = sp_dtype_size(h->dtype);
    SP_RETURN_IF(!sp__mul_size(n, es, nbytes) || *nbytes > lim->max_data_bytes, err, SP_ERR_RANGE,
                 "%s: absurd dimensions %s of %s: data over the limit of %zu bytes", name, shp,
                 sp_dtype_name(h->dtype), lim->max_data_bytes);
    SP_RETURN_IF(avail < *nbytes, err, SP_ERR_CORRUPT,
                 "%s: truncated: shape %s of %s needs %zu data bytes, file has %zu", name, shp,
                 sp_dtype_name(h->dtype), *nbytes, avail);
    SP_RETURN_IF(avail > *nbytes, err, SP_ERR_CORRUPT,
                 "%s: shape %s of %s needs %zu data bytes, file has %zu (trailing bytes)", name, shp,
                 sp_dtype_name(h->dtype), *nbytes, avail);
    *count = n;
    return SP_OK;
}

/* Fortran order -> C order: walks the output in C order with an odometer, tracking the
 * matching offset in the column-major source. count >= 1 and every shape[k] >= 1. */
static void fortran_to_c(const unsigned char *src, unsigned char *dst, const npy_header *h,
                         size_t count, size_t es)
{
    size_t idx[SP_NPY_MAX_NDIM] = {0}, fstride[SP_NPY_MAX_NDIM];
    for (size_t k = 0; k < h->ndim; k++) fstride[k] = k == 0 ? 1 : fstride[k - 1] * h->shape[k - 1];
    size_t off = 0;
    for (size_t i = 0; i < count; i++) {
        SP_ASSERT(off < count);
        memcpy(dst + i * es, src + off * es, es);
        for (size_t k = h->ndim; k-- > 0;) {
            off += fstride[k];
            if (++idx[k] < h->shape[k]) break;
            off -= fstride[k] * h->shape[k];
            idx[k] = 0;
        }
    }
}

sp_status sp_npy_parse(const void *buf, size_t len, const char *name, sp_npy_array *out,
                       const sp_npy_limits *lim, sp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *const nm = sp__io_name(name);
    sp_npy_limits dflt;
    if (lim == NULL) {
        sp_npy_limits_init(&dflt);
        lim = &dflt;
    }
    SP_RETURN_IF(buf == NULL && len != 0, err, SP_ERR_INVALID, "%s: NULL buffer", nm);
    const unsigned char *const b = (const unsigned char *)buf;
    size_t hdr_off = 0, hlen = 0, count = 0, nbytes = 0;
    SP_TRY(read_preamble(b, len, nm, lim, &hdr_off, &hlen, err));
    npy_header h;
    cursor c = {b + hdr_off, b + hdr_off + hlen, nm, err};
    SP_TRY(parse_dict(&c, &h));
    size_t const data_off = hdr_off + hlen;
    SP_TRY(check_sizes(&h, len - data_off, nm, lim, &count, &nbytes, err));
    unsigned char *const data = (unsigned char *)malloc(nbytes ? nbytes : 1);
    SP_RETURN_IF(data == NULL, err, SP_ERR_NOMEM, "%s: out of memory for %zu data bytes", nm, nbytes);
    size_t const es = sp_dtype_size(h.dtype);
    if (h.fortran && h.ndim > 1 && count > 0) fortran_to_c(b + data_off, data, &h, count, es);
    else if (nbytes) memcpy(data, b + data_off, nbytes);
    if (h.swap) sp__io_byteswap(data, count, es);
    out->dtype = h.dtype;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof h.shape);
    out->count = count;
    out->nbytes = nbytes;
    out->data = data;
    return SP_OK;
}

/* ---- decoding a flow into a reused buffer (the loader's steady state) ------------------- */

/* out's storage holds at least n floats: reused when *cap suffices, else grown. */
static sp_status ensure_floats(sp_flow *out, size_t n, size_t *cap, const char *nm, sp_error *err)
{
    if (out->data != NULL && *cap >= n) return SP_OK;
    size_t bytes = 0;
    SP_RETURN_IF(!sp__mul_size(n ? n : 1, sizeof(float), &bytes), err, SP_ERR_RANGE, "%s: flow too large", nm);
    float *const d = (float *)realloc(out->data, bytes);
    SP_RETURN_IF(d == NULL, err, SP_ERR_NOMEM, "%s: out of memory for a flow of %zu values", nm, n);
    out->data = d;
    *cap = n;
    return SP_OK;
}

/* 1 when the float's exponent bits are all ones (NaN or infinity). */
static inline uint32_t f32_bits_nonfinite(uint32_t u)
{
    return (uint32_t)(((u >> 23) & 0xffu) == 0xffu);
}

/* Little-endian float32 data, C order: one pass converts and checks. */
static int decode_f32(const unsigned char *src, size_t n, int swap, float *dst)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + 4 * i, 4);
        if (swap) u = (u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24);
        bad |= f32_bits_nonfinite(u);
        memcpy(&dst[i], &u, 4);
    }
    return bad != 0;
}

/* Float64 data, C order, converted to float32 in one pass with the finite check. */
static int decode_f64(const unsigned char *src, size_t n, int swap, float *dst)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b[8];
        memcpy(b, src + 8 * i, 8);
        if (swap) sp__io_byteswap(b, 1, 8);
        double v;
        memcpy(&v, b, 8);
        bad |= !(v - v == 0.0); /* NaN or infinity */
        dst[i] = (float)v;
    }
    return bad;
}

sp_status sp_npy_decode_flow(const void *buf, size_t len, const char *name, sp_flow *out, size_t *capacity,
                             int *nonfinite, sp_error *err)
{
    const char *const nm = sp__io_name(name);
    SP_RETURN_IF(buf == NULL && len != 0, err, SP_ERR_INVALID, "%s: NULL buffer", nm);
    sp_npy_limits lim;
    sp_npy_limits_init(&lim);
    const unsigned char *const b = (const unsigned char *)buf;
    size_t hdr_off = 0, hlen = 0, count = 0, nbytes = 0;
    SP_TRY(read_preamble(b, len, nm, &lim, &hdr_off, &hlen, err));
    npy_header h;
    cursor c = {b + hdr_off, b + hdr_off + hlen, nm, err};
    SP_TRY(parse_dict(&c, &h));
    SP_TRY(check_sizes(&h, len - hdr_off - hlen, nm, &lim, &count, &nbytes, err));
    sp_npy_array a = {h.dtype, h.ndim, {0}, count, nbytes, NULL};
    memcpy(a.shape, h.shape, sizeof a.shape);
    if (h.fortran && h.ndim > 1) { /* rare: the general path (allocates) */
        sp_flow tmp;
        SP_TRY(sp_npy_parse(buf, len, name, &a, NULL, err));
        sp_status const st = sp_npy_to_flow(&a, name, &tmp, err);
        sp_npy_array_release(&a);
        SP_TRY(st);
        sp_flow_release(out);
        *out = tmp;
        *capacity = tmp.height * tmp.width * tmp.channels;
        size_t i, j, k;
        *nonfinite = sp_flow_find_nonfinite(out, &i, &j, &k);
        return SP_OK;
    }
    int const shape_ok = h.ndim == 3 && (h.shape[2] == 2 || h.shape[2] == 3);
    int const dtype_ok = h.dtype == SP_DTYPE_F32 || h.dtype == SP_DTYPE_F64;
    if (!shape_ok || !dtype_ok) { /* sp_npy_to_flow names what is wrong; out keeps its storage */
        sp_flow tmp;
        sp_status const st = sp_npy_to_flow(&a, name, &tmp, err);
        sp_flow_release(&tmp);
        return st;
    }
    SP_TRY(ensure_floats(out, count, capacity, nm, err));
    out->height = h.shape[0], out->width = h.shape[1], out->channels = h.shape[2];
    const unsigned char *const data = b + hdr_off + hlen;
    *nonfinite = h.dtype == SP_DTYPE_F32 ? decode_f32(data, count, h.swap, out->data)
                                         : decode_f64(data, count, h.swap, out->data);
    return SP_OK;
}

/* ---- reading a flow file straight into a reused flow (the loader's steady state) ------- */

#define SP_FLOW_HEAD_BYTES 4096u /* the preamble and header of any .npy NumPy writes for a flow */

typedef struct flow_place {
    const char *name;
    sp_flow *out;
    size_t *cap;
    int direct; /* the data went straight into out */
    size_t count;
    int map;          /* sp__npy_map_flow: only check and take the shape; out is left alone */
    size_t shape[3];  /* the shape (with map) */
} flow_place;

/* sp_fs_place_fn for .npy flows: float32 in the host's byte order, C order, (H, W, 2|3) is
 * read straight into out; anything else (or a header beyond the head, or a file the head
 * holds whole) takes the whole-buffer decode. Errors are sp_npy_decode_flow's, word for
 * word: the same checks on the same header. */
static sp_status npy_place(void *ctx, const unsigned char *head, size_t have, size_t size, unsigned char **dst,
                           size_t *off, sp_error *err)
{
    flow_place *const q = (flow_place *)ctx;
    *dst = NULL;
    if (have == size || have < 12) return SP_OK;
    sp_npy_limits lim;
    sp_npy_limits_init(&lim);
    size_t hdr_off = 0, hlen = 0, count = 0, nbytes = 0;
    SP_TRY(read_preamble(head, size, q->name, &lim, &hdr_off, &hlen, err));
    if (hlen > have - hdr_off) return SP_OK;
    npy_header h;
    cursor c = {head + hdr_off, head + hdr_off + hlen, q->name, err};
    SP_TRY(parse_dict(&c, &h));
    SP_TRY(check_sizes(&h, size - hdr_off - hlen, q->name, &lim, &count, &nbytes, err));
    if (h.dtype != SP_DTYPE_F32 || h.swap || h.fortran || h.ndim != 3 || (h.shape[2] != 2 && h.shape[2] != 3))
        return SP_OK;
    q->direct = 1;
    q->count = count;
    *off = hdr_off + hlen;
    if (q->map) {
        q->shape[0] = h.shape[0], q->shape[1] = h.shape[1], q->shape[2] = h.shape[2];
        *dst = (unsigned char *)q; /* any non-NULL value: map it */
        return SP_OK;
    }
    SP_TRY(ensure_floats(q->out, count, q->cap, q->name, err));
    q->out->height = h.shape[0], q->out->width = h.shape[1], q->out->channels = h.shape[2];
    *dst = (unsigned char *)q->out->data;
    return SP_OK;
}

sp_status sp_npy_read_flow_into(const char *path, size_t max_len, sp_flow *out, size_t *capacity, sp_membuf *file,
                                int *nonfinite, sp_error *err)
{
    flow_place q = {sp__io_name(path), out, capacity, 0, 0, 0, {0, 0, 0}};
    SP_TRY(sp__fs_read_placed(path, max_len, SP_FLOW_HEAD_BYTES, file, npy_place, &q, err));
    if (!q.direct) return sp_npy_decode_flow(file->data, file->size, path, out, capacity, nonfinite, err);
    *nonfinite = sp__any_nonfinite_f32(out->data, q.count);
    return SP_OK;
}

sp_status sp__npy_map_flow(const char *path, size_t max_len, size_t min_len, sp_flow *out, sp_membuf *head,
                           sp_fmap *map, int *mapped, sp_error *err)
{
    *mapped = 0;
    flow_place q = {sp__io_name(path), out, NULL, 0, 0, 1, {0, 0, 0}};
    const unsigned char *data = NULL;
    SP_TRY(sp__fs_map_placed(path, max_len, min_len, SP_FLOW_HEAD_BYTES, head, npy_place, &q, map, &data, err));
    if (data == NULL) return SP_OK;
    out->height = q.shape[0], out->width = q.shape[1], out->channels = q.shape[2];
    out->data = (float *)(uintptr_t)data; /* read-only: the loader's flows are never written */
    *mapped = 1;
    return SP_OK;
}

void sp_npy_limits_init(sp_npy_limits *lim)
{
    lim->max_data_bytes = SP_NPY_DEFAULT_MAX_BYTES;
    lim->max_header_bytes = SP_NPY_DEFAULT_MAX_HEADER;
}

sp_status sp_npy_read_file(const char *path, sp_npy_array *out, const sp_npy_limits *lim,
                           sp_error *err)
{
    memset(out, 0, sizeof *out);
    sp_npy_limits dflt;
    if (lim == NULL) {
        sp_npy_limits_init(&dflt);
        lim = &dflt;
    }
    size_t max_len = 0;
    if (!sp__add_size(lim->max_data_bytes, lim->max_header_bytes, &max_len) ||
        !sp__add_size(max_len, 12, &max_len))
        max_len = SIZE_MAX;
    unsigned char *buf = NULL;
    size_t len = 0;
    SP_TRY(sp__fs_read_whole(path, max_len, &buf, &len, err));
    sp_status const s = sp_npy_parse(buf, len, path, out, lim, err);
    free(buf);
    return s;
}

void sp_npy_array_release(sp_npy_array *a)
{
    if (a == NULL) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- conversions ------------------------------------------------------------------------- */

/* One loop per source type; the array's data is our own malloc'd, suitably aligned,
 * native-order buffer, so typed access is fine here. */
#define SP_NPY_CONVERT(DST_T, dst, a)                                                      \
    do {                                                                                   \
        size_t const n_ = (a)->count;                                                      \
        switch ((a)->dtype) {                                                              \
        case SP_DTYPE_BOOL: {                                                              \
            const uint8_t *s_ = (const uint8_t *)(a)->data;                                \
            for (size_t i_ = 0; i_ < n_; i_++) (dst)[i_] = s_[i_] ? (DST_T)1 : (DST_T)0;   \
        } break;                                                                           \
        case SP_DTYPE_U8: SP_NPY_LOOP(DST_T, uint8_t, dst, a, n_); break;                  \
        case SP_DTYPE_I8: SP_NPY_LOOP(DST_T, int8_t, dst, a, n_); break;                   \
        case SP_DTYPE_U16: SP_NPY_LOOP(DST_T, uint16_t, dst, a, n_); break;                \
        case SP_DTYPE_I16: SP_NPY_LOOP(DST_T, int16_t, dst, a, n_); break;                 \
        case SP_DTYPE_U32: SP_NPY_LOOP(DST_T, uint32_t, dst, a, n_); break;                \
        case SP_DTYPE_I32: SP_NPY_LOOP(DST_T, int32_t, dst, a, n_); break;                 \
        case SP_DTYPE_U64: SP_NPY_LOOP(DST_T, uint64_t, dst, a, n_); break;                \
        case SP_DTYPE_I64: SP_NPY_LOOP(DST_T, int64_t, dst, a, n_); break;                 \
        case SP_DTYPE_F32: SP_NPY_LOOP(DST_T, float, dst, a, n_); break;                   \
        case SP_DTYPE_F64: SP_NPY_LOOP(DST_T, double, dst, a, n_); break;                  \
        case SP_DTYPE_COUNT_: break;                                                       \
        }                                                                                  \
    } while (0)

#define SP_NPY_LOOP(DST_T, SRC_T, dst, a, n)                                               \
    do {                                                                                   \
        const SRC_T *s_ = (const SRC_T *)(a)->data;                                        \
        for (size_t i_ = 0; i_ < (n); i_++) (dst)[i_] = (DST_T)s_[i_];                     \
    } while (0)

static sp_status check_convert(const sp_npy_array *a, const void *dst, size_t dst_count,
                               sp_error *err)
{
    SP_RETURN_IF(a == NULL || (unsigned)a->dtype >= SP_DTYPE_COUNT_ || (a->count && a->data == NULL),
                 err, SP_ERR_INVALID, "npy conversion: invalid array");
    SP_RETURN_IF(dst_count < a->count || (a->count && dst == NULL), err, SP_ERR_INVALID,
                 "npy conversion: destination holds %zu elements, array has %zu", dst_count, a->count);
    return SP_OK;
}

sp_status sp_npy_to_f32(const sp_npy_array *a, float *dst, size_t dst_count, sp_error *err)
{
    SP_TRY(check_convert(a, dst, dst_count, err));
    SP_NPY_CONVERT(float, dst, a);
    return SP_OK;
}

sp_status sp_npy_to_f64(const sp_npy_array *a, double *dst, size_t dst_count, sp_error *err)
{
    SP_TRY(check_convert(a, dst, dst_count, err));
    SP_NPY_CONVERT(double, dst, a);
    return SP_OK;
}

sp_status sp_npy_to_flow(const sp_npy_array *a, const char *name, sp_flow *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *const nm = sp__io_name(name);
    char shp[256];
    format_shape(a->shape, a->ndim, shp, sizeof shp);
    int const shape_ok = a->ndim == 3 && (a->shape[2] == 2 || a->shape[2] == 3);
    int const dtype_ok = a->dtype == SP_DTYPE_F32 || a->dtype == SP_DTYPE_F64;
    SP_RETURN_IF(!shape_ok || !dtype_ok, err, SP_ERR_MISMATCH,
                 "%s: flow array has shape %s and dtype %s; expected shape (H, W, 2) or (H, W, 3) "
                 "of float32 or float64", nm, shp, sp_dtype_name(a->dtype) ? sp_dtype_name(a->dtype) : "?");
    sp_status const s = sp_flow_alloc(out, a->shape[0], a->shape[1], a->shape[2], err);
    if (s != SP_OK) return sp_error_prefix(err, "%s: ", nm);
    SP_TRY(sp_npy_to_f32(a, out->data, a->count, err));
    return SP_OK;
}

sp_status sp_npy_read_flow(const char *path, sp_flow *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    sp_npy_array a;
    SP_TRY(sp_npy_read_file(path, &a, NULL, err));
    sp_status const s = sp_npy_to_flow(&a, path, out, err);
    sp_npy_array_release(&a);
    return s;
}

/* ---- writer ------------------------------------------------------------------------------ */

/* Builds the padded header (preamble included) into hdr[cap]; returns its length, 0 when it
 * does not fit. */
static size_t build_header(sp_dtype dtype, size_t ndim, const size_t *shape, unsigned char *hdr,
                           size_t cap)
{
    char shp[256], dict[400];
    format_shape(shape, ndim, shp, sizeof shp);
    int const dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                            sp_dtype_name(dtype), shp);
    if (dl < 0 || (size_t)dl >= sizeof dict) return 0;
    int const v1 = (size_t)dl + 1 <= 65535;
    size_t const pre = v1 ? 10 : 12;
    size_t const unpadded = pre + (size_t)dl + 1;
    size_t const total = (unpadded + 63) / 64 * 64;
    if (total > cap) return 0;
    size_t const hlen = total - pre;
    memcpy(hdr, "\x93NUMPY", 6);
    hdr[6] = v1 ? 1 : 2;
    hdr[7] = 0;
    if (v1) {
        hdr[8] = (unsigned char)hlen;
        hdr[9] = (unsigned char)(hlen >> 8);
    } else {
        sp__store_le32(hdr + 8, (uint32_t)hlen);
    }
    memcpy(hdr + pre, dict, (size_t)dl);
    memset(hdr + pre + (size_t)dl, ' ', total - 1 - pre - (size_t)dl);
    hdr[total - 1] = '\n';
    return total;
}

/* Writes n elements of size es as little-endian through a bounce buffer (big-endian hosts). */
static sp_status write_swapped(const sp_sink *sink, const unsigned char *p, size_t n, size_t es,
                               sp_error *err)
{
    unsigned char tmp[8192];
    size_t const per = sizeof tmp / es;
    while (n > 0) {
        size_t const k = n < per ? n : per;
        memcpy(tmp, p, k * es);
        sp__io_byteswap(tmp, k, es);
        SP_TRY(sp_sink_write(sink, tmp, k * es, err));
        p += k * es;
        n -= k;
    }
    return SP_OK;
}

sp_status sp_npy_write(const sp_sink *sink, sp_dtype dtype, size_t ndim, const size_t *shape,
                       const void *data, sp_error *err)
{
    SP_RETURN_IF(sink == NULL || sink->write == NULL, err, SP_ERR_INVALID, "npy write: NULL sink");
    SP_RETURN_IF((unsigned)dtype >= SP_DTYPE_COUNT_, err, SP_ERR_INVALID, "npy write: invalid dtype %d",
                 (int)dtype);
    SP_RETURN_IF(ndim > SP_NPY_MAX_NDIM || (ndim && shape == NULL), err, SP_ERR_INVALID,
                 "npy write: ndim %zu (at most %d)", ndim, SP_NPY_MAX_NDIM);
    size_t count = 1, nbytes = 0;
    size_t const es = sp_dtype_size(dtype);
    for (size_t k = 0; k < ndim; k++)
        SP_RETURN_IF(!sp__mul_size(count, shape[k], &count), err, SP_ERR_INVALID,
                     "npy write: shape overflows");
    SP_RETURN_IF(!sp__mul_size(count, es, &nbytes), err, SP_ERR_INVALID, "npy write: size overflows");
    SP_RETURN_IF(nbytes && data == NULL, err, SP_ERR_INVALID, "npy write: NULL data");
    unsigned char hdr[512];
    size_t const hl = build_header(dtype, ndim, shape, hdr, sizeof hdr);
    SP_RETURN_IF(hl == 0, err, SP_ERR_INTERNAL, "npy write: header does not fit");
    SP_TRY(sp_sink_write(sink, hdr, hl, err));
    if (nbytes == 0) return SP_OK;
    if (sp__host_is_le() || es == 1) return sp_sink_write(sink, data, nbytes, err);
    return write_swapped(sink, (const unsigned char *)data, count, es, err);
}
