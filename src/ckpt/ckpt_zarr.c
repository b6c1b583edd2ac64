/* ckpt_zarr.c: zarr v2 array metadata (.zarray) for checkpoint arrays.
 *
 * Written: {"chunks":[c0,d1,...],"compressor":null|{"id":"zlib","level":L},
 * "dimension_separator":".","dtype":"<f4",...,"fill_value":0,"filters":null,"order":"C",
 * "shape":[d0,d1,...],"zarr_format":2}. Arrays are chunked along axis 0 only (every other
 * chunk extent equals the dimension, or 1 for an empty dimension), about chunk_bytes per
 * chunk; chunk keys are "i.0.0..." ("0" for rank 0) and edge chunks are full-size, padded
 * with zeros, as zarr v2 requires.
 *
 * Parsed (hostile input): exactly that subset. zarr_format 2, order "C", filters null,
 * dimension_separator "." or absent, little-endian dtypes |b1 |u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8
 * <f4 <f8,
 * compressor null or zlib level 0..9, rank <= 32, every chunk extent >= 1, chunks along
 * axis 0 only; sizes are overflow-checked and an array is at most 1 TiB. Anything else is
 * SP_ERR_CORRUPT or SP_ERR_UNSUPPORTED with a message naming the field.
 */
#include "ckpt_internal.h"

#include <jansson.h>

void sp__zarr_plan(sp__zarray *z, sp_dtype d, size_t ndim, const uint64_t *shape, size_t chunk_bytes,
                   int level)
{
    memset(z, 0, sizeof *z);
    z->dtype = d;
    z->ndim = ndim;
    z->level = level;
    uint64_t row = sp_dtype_size(d);
    for (size_t i = 0; i < ndim; i++) {
        z->shape[i] = shape[i];
        z->chunks[i] = shape[i] ? shape[i] : 1;
        if (i > 0) row *= z->chunks[i];
    }
    if (ndim > 0) {
        uint64_t rows = row ? (uint64_t)chunk_bytes / row : shape[0];
        if (rows < 1) rows = 1;
        if (rows > z->chunks[0]) rows = z->chunks[0];
        z->chunks[0] = rows;
    }
}

uint64_t sp__zarr_nchunks(const sp__zarray *z)
{
    for (size_t i = 0; i < z->ndim; i++)
        if (z->shape[i] == 0) return 0;
    if (z->ndim == 0) return 1;
    return (z->shape[0] + z->chunks[0] - 1) / z->chunks[0];
}

uint64_t sp__zarr_row_bytes(const sp__zarray *z)
{
    uint64_t row = sp_dtype_size(z->dtype);
    for (size_t i = 1; i < z->ndim; i++) row *= z->chunks[i];
    return row;
}

uint64_t sp__zarr_chunk_bytes(const sp__zarray *z)
{
    return z->ndim ? sp__zarr_row_bytes(z) * z->chunks[0] : sp_dtype_size(z->dtype);
}

int sp__zarr_dtype_parse(const char *s, sp_dtype *out)
{
    int swap = 0;
    sp_dtype d;
    if (!sp_dtype_from_descr(s, &d, &swap) || strcmp(s, sp_dtype_name(d)) != 0) return 0;
    *out = d;
    return 1;
}

void sp__zarr_chunk_key(const sp__zarray *z, uint64_t i, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%llu", (unsigned long long)i);
    for (size_t d = 1; d < z->ndim && n + 2 < cap; d++) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = 0;
    }
}

char *sp__zarray_dump(const sp__zarray *z)
{
    json_t *const o = json_object();
    json_t *const shape = json_array();
    json_t *const chunks = json_array();
    for (size_t i = 0; i < z->ndim; i++) {
        json_array_append_new(shape, json_integer((json_int_t)z->shape[i]));
        json_array_append_new(chunks, json_integer((json_int_t)z->chunks[i]));
    }
    json_t *comp = json_null();
    if (z->level >= 0) {
        comp = json_object();
        json_object_set_new(comp, "id", json_string("zlib"));
        json_object_set_new(comp, "level", json_integer(z->level));
    }
    json_object_set_new(o, "zarr_format", json_integer(2));
    json_object_set_new(o, "shape", shape);
    json_object_set_new(o, "chunks", chunks);
    json_object_set_new(o, "dtype", json_string(sp_dtype_name(z->dtype)));
    json_object_set_new(o, "compressor", comp);
    json_object_set_new(o, "fill_value", z->dtype == SP_DTYPE_BOOL ? json_false() : json_integer(0));
    json_object_set_new(o, "order", json_string("C"));
    json_object_set_new(o, "filters", json_null());
    json_object_set_new(o, "dimension_separator", json_string("."));
    char *const s = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
    json_decref(o);
    return s;
}

static sp_status parse_dims(json_t *a, const char *key, uint64_t *out, size_t *n, sp_error *err)
{
    SP_RETURN_IF(!json_is_array(a), err, SP_ERR_CORRUPT, ".zarray: '%s' is not an array", key);
    size_t const len = json_array_size(a);
    SP_RETURN_IF(len > SP_CKPT_MAX_RANK, err, SP_ERR_UNSUPPORTED, ".zarray: rank %zu > %d", len,
                 SP_CKPT_MAX_RANK);
    for (size_t i = 0; i < len; i++) {
        json_t *const v = json_array_get(a, i);
        SP_RETURN_IF(!json_is_integer(v) || json_integer_value(v) < 0, err, SP_ERR_CORRUPT,
                     ".zarray: '%s'[%zu] is not a non-negative integer", key, i);
        out[i] = (uint64_t)json_integer_value(v);
    }
    *n = len;
    return SP_OK;
}

static sp_status parse_compressor(json_t *c, sp__zarray *z, sp_error *err)
{
    z->level = -1;
    if (c == NULL || json_is_null(c)) return SP_OK;
    SP_RETURN_IF(!json_is_object(c), err, SP_ERR_CORRUPT, ".zarray: 'compressor' is not an object");
    const char *const id = json_string_value(json_object_get(c, "id"));
    SP_RETURN_IF(id == NULL || strcmp(id, "zlib") != 0, err, SP_ERR_UNSUPPORTED,
                 ".zarray: compressor '%s' (only zlib)", id ? id : "?");
    json_t *const lv = json_object_get(c, "level");
    z->level = 1;
    if (lv) {
        SP_RETURN_IF(!json_is_integer(lv) || json_integer_value(lv) < 0 || json_integer_value(lv) > 9,
                     err, SP_ERR_CORRUPT, ".zarray: zlib level must be 0..9");
        z->level = (int)json_integer_value(lv);
    }
    return SP_OK;
}

static sp_status check_zarray(json_t *o, sp__zarray *z, sp_error *err)
{
    json_t *const fmt = json_object_get(o, "zarr_format");
    SP_RETURN_IF(!json_is_integer(fmt) || json_integer_value(fmt) != 2, err, SP_ERR_UNSUPPORTED,
                 ".zarray: zarr_format is not 2");
    const char *const order = json_string_value(json_object_get(o, "order"));
    SP_RETURN_IF(order == NULL || strcmp(order, "C") != 0, err, SP_ERR_UNSUPPORTED,
                 ".zarray: order must be \"C\"");
    json_t *const filters = json_object_get(o, "filters");
    SP_RETURN_IF(filters && !json_is_null(filters), err, SP_ERR_UNSUPPORTED, ".zarray: filters");
    json_t *const sep = json_object_get(o, "dimension_separator");
    SP_RETURN_IF(sep && (!json_is_string(sep) || strcmp(json_string_value(sep), ".") != 0), err,
                 SP_ERR_UNSUPPORTED, ".zarray: dimension_separator must be \".\"");
    const char *const dt = json_string_value(json_object_get(o, "dtype"));
    SP_RETURN_IF(dt == NULL, err, SP_ERR_CORRUPT, ".zarray: missing dtype");
    SP_RETURN_IF(!sp__zarr_dtype_parse(dt, &z->dtype), err, SP_ERR_UNSUPPORTED, ".zarray: dtype '%s'", dt);
    size_t nc = 0;
    SP_TRY(parse_dims(json_object_get(o, "shape"), "shape", z->shape, &z->ndim, err));
    SP_TRY(parse_dims(json_object_get(o, "chunks"), "chunks", z->chunks, &nc, err));
    SP_RETURN_IF(nc != z->ndim, err, SP_ERR_CORRUPT, ".zarray: chunks rank %zu != shape rank %zu", nc,
                 z->ndim);
    uint64_t total = sp_dtype_size(z->dtype), chunk = total;
    for (size_t i = 0; i < z->ndim; i++) {
        SP_RETURN_IF(z->chunks[i] == 0, err, SP_ERR_CORRUPT, ".zarray: chunks[%zu] is 0", i);
        SP_RETURN_IF(i > 0 && z->chunks[i] != (z->shape[i] ? z->shape[i] : 1), err, SP_ERR_UNSUPPORTED,
                     ".zarray: chunked along axis %zu (only axis 0 is supported)", i);
        SP_RETURN_IF(z->shape[i] != 0 && total > SP_CKPT_MAX_ARRAY_BYTES / z->shape[i], err,
                     SP_ERR_RANGE, ".zarray: array larger than 1 TiB");
        SP_RETURN_IF(chunk > SP_CKPT_MAX_ARRAY_BYTES / z->chunks[i], err, SP_ERR_RANGE,
                     ".zarray: chunk larger than 1 TiB");
        total *= z->shape[i];
        chunk *= z->chunks[i];
    }
    SP_RETURN_IF(z->ndim > 0 && z->shape[0] && z->chunks[0] > z->shape[0], err, SP_ERR_CORRUPT,
                 ".zarray: chunks[0] larger than shape[0]");
    return parse_compressor(json_object_get(o, "compressor"), z, err);
}

sp_status sp__zarray_parse(const char *text, size_t n, sp__zarray *z, sp_error *err)
{
    memset(z, 0, sizeof *z);
    json_error_t je;
    json_t *const o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &je);
    SP_RETURN_IF(o == NULL, err, SP_ERR_CORRUPT, ".zarray: invalid JSON at line %d: %s", je.line, je.text);
    sp_status s = SP_OK;
    if (!json_is_object(o)) s = sp_error_set(err, SP_ERR_CORRUPT, ".zarray: not a JSON object");
    else s = check_zarray(o, z, err);
    json_decref(o);
    return s;
}

/* Chunk bytes are the in-memory bytes; the zarr dtypes written are little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ckpt_zarr.c: chunks are written in host order, which is little-endian zarr only on little-endian hosts; big-endian hosts are not supported"
#endif
