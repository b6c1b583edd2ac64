/* io_flo.c: Middlebury .flo reader and writer.
 *
 * Supported subset (the whole format): a 12-byte header of float32 tag 202021.25 ("PIEH"),
 * int32 width, int32 height, then width*height*2 float32 (u, v) pairs in row-major order,
 * everything little-endian. Width and height must lie in [1, 100000] (docs/formats.md,
 * .flo). The file must end exactly after the data: short data and trailing bytes are errors.
 * Non-finite values are passed through (the caller decides; sp_flow_find_nonfinite).
 * The writer emits channels 0 and 1 of a 2- or 3-channel flow in the same layout.
 *
 * Guarantee: never reads outside src (buf[0, len)), never writes outside dst (the flow
 * allocated from the checked header), even for malicious input.
 */
#include "sp/sp_io.h"

#include <stdlib.h>
#include <string.h>

#include "sp_flowmap.h"
#include "sp_fsutil.h"
#include "sp_internal.h"
#include "io_private.h"

#define FLO_HEADER 12u

static sp_status check_header(const unsigned char *b, size_t len, const char *nm, size_t *w,
                              size_t *h, sp_error *err)
{
    static const unsigned char tag[4] = {'P', 'I', 'E', 'H'}; /* 202021.25f little-endian */
    size_t const cmp = len < 4 ? len : 4;
    SP_RETURN_IF(len == 0, err, SP_ERR_CORRUPT, "%s: truncated: empty file", nm);
    SP_RETURN_IF(memcmp(b, tag, cmp) != 0, err, SP_ERR_CORRUPT,
                 "%s: not a .flo file (wrong magic, expected float 202021.25)", nm);
    SP_RETURN_IF(len < FLO_HEADER, err, SP_ERR_CORRUPT, "%s: truncated .flo header (%zu bytes)", nm, len);
    int32_t const wi = (int32_t)sp__load_le32(b + 4), hi = (int32_t)sp__load_le32(b + 8);
    SP_RETURN_IF(wi < 1 || hi < 1 || wi > (int32_t)SP_FLO_MAX_DIM || hi > (int32_t)SP_FLO_MAX_DIM, err,
                 SP_ERR_RANGE, "%s: absurd .flo dimensions width=%ld height=%ld (expected 1..%u)", nm,
                 (long)wi, (long)hi, SP_FLO_MAX_DIM);
    *w = (size_t)wi;
    *h = (size_t)hi;
    /* w*h*8 <= 8e10: fits size_t on 64-bit hosts; checked anyway for 32-bit ones. */
    size_t need = 0;
    SP_RETURN_IF(!sp__mul_size(*w * *h, 8, &need) || !sp__add_size(need, FLO_HEADER, &need), err,
                 SP_ERR_RANGE, "%s: .flo dimensions %zux%zu too large for this host", nm, *w, *h);
    SP_RETURN_IF(len < need, err, SP_ERR_CORRUPT,
                 "%s: truncated: a %zux%zu .flo needs %zu bytes, file has %zu", nm, *w, *h, need, len);
    SP_RETURN_IF(len > need, err, SP_ERR_CORRUPT,
                 "%s: a %zux%zu .flo needs %zu bytes, file has %zu (trailing bytes)", nm, *w, *h, need,
                 len);
    return SP_OK;
}

sp_status sp_flo_parse(const void *buf, size_t len, const char *name, sp_flow *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    const char *const nm = sp__io_name(name);
    SP_RETURN_IF(buf == NULL && len != 0, err, SP_ERR_INVALID, "%s: NULL buffer", nm);
    const unsigned char *const b = (const unsigned char *)buf;
    size_t w = 0, h = 0;
    SP_TRY(check_header(b, len, nm, &w, &h, err));
    if (sp_flow_alloc(out, h, w, 2, err) != SP_OK) return sp_error_prefix(err, "%s: ", nm);
    size_t const n = w * h * 2;
    const unsigned char *p = b + FLO_HEADER;
    for (size_t i = 0; i < n; i++, p += 4) out->data[i] = sp__load_le_f32(p);
    return SP_OK;
}

/* out's storage holds an (h, w, 2) flow (reused when *capacity suffices, else grown), and
 * out's shape is set. */
static sp_status reserve_flow(sp_flow *out, size_t w, size_t h, size_t *capacity, const char *nm, sp_error *err)
{
    size_t const n = w * h * 2;
    if (out->data == NULL || *capacity < n) {
        float *const d = (float *)realloc(out->data, n * sizeof(float));
        SP_RETURN_IF(d == NULL, err, SP_ERR_NOMEM, "%s: out of memory for a %zux%zu flow", nm, h, w);
        out->data = d;
        *capacity = n;
    }
    out->height = h, out->width = w, out->channels = 2;
    return SP_OK;
}

sp_status sp_flo_decode(const void *buf, size_t len, const char *name, sp_flow *out, size_t *capacity,
                        int *nonfinite, sp_error *err)
{
    const char *const nm = sp__io_name(name);
    SP_RETURN_IF(buf == NULL && len != 0, err, SP_ERR_INVALID, "%s: NULL buffer", nm);
    const unsigned char *const b = (const unsigned char *)buf;
    size_t w = 0, h = 0;
    SP_TRY(check_header(b, len, nm, &w, &h, err));
    SP_TRY(reserve_flow(out, w, h, capacity, nm, err));
    size_t const n = w * h * 2;
    /* One pass: load little-endian, note any all-ones exponent (NaN, infinity), store. The
     * destination is a local, so the stores cannot alias out->data and the loop vectorises
     * (it re-read the pointer every value: 0.1 ms a 256x256 flow, 9 % of cylinder's time). */
    const unsigned char *const p = b + FLO_HEADER;
    float *const dst = out->data;
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t const u = sp__load_le32(p + 4 * i);
        bad |= (uint32_t)(((u >> 23) & 0xffu) == 0xffu);
        memcpy(&dst[i], &u, 4);
    }
    *nonfinite = bad != 0;
    return SP_OK;
}

typedef struct flo_place_ctx {
    const char *name;
    sp_flow *out;
    size_t *cap;
    int direct;     /* the data went straight into out */
    int map;        /* sp__flo_map_flow: only check and take the shape; out is left alone */
    size_t w, h;    /* the shape (with map) */
} flo_place_ctx;

/* sp_fs_place_fn for .flo: on a little-endian host the data (float32 little-endian) is read
 * straight into out once the header checks pass (the same checks, and messages, as
 * sp_flo_decode); elsewhere, or for a file the head holds whole, the whole-buffer decode. */
static sp_status flo_place(void *ctx, const unsigned char *head, size_t have, size_t size, unsigned char **dst,
                           size_t *off, sp_error *err)
{
    flo_place_ctx *const q = (flo_place_ctx *)ctx;
    *dst = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (have == size || have < FLO_HEADER) return SP_OK;
    size_t w = 0, h = 0;
    SP_TRY(check_header(head, size, q->name, &w, &h, err)); /* reads head[0, 12) only */
    q->direct = 1;
    *off = FLO_HEADER;
    if (q->map) {
        q->w = w, q->h = h;
        *dst = (unsigned char *)q; /* any non-NULL value: map it */
        return SP_OK;
    }
    SP_TRY(reserve_flow(q->out, w, h, q->cap, q->name, err));
    *dst = (unsigned char *)q->out->data;
#else
    (void)q, (void)head, (void)have, (void)size, (void)off, (void)err;
#endif
    return SP_OK;
}

sp_status sp_flo_read_flow_into(const char *path, size_t max_len, sp_flow *out, size_t *capacity, sp_membuf *file,
                                int *nonfinite, sp_error *err)
{
    flo_place_ctx q = {sp__io_name(path), out, capacity, 0, 0, 0, 0};
    SP_TRY(sp__fs_read_placed(path, max_len, FLO_HEADER, file, flo_place, &q, err));
    if (!q.direct) return sp_flo_decode(file->data, file->size, path, out, capacity, nonfinite, err);
    *nonfinite = sp__any_nonfinite_f32(out->data, out->width * out->height * 2);
    return SP_OK;
}

sp_status sp__flo_map_flow(const char *path, size_t max_len, size_t min_len, sp_flow *out, sp_membuf *head,
                           sp_fmap *map, int *mapped, sp_error *err)
{
    *mapped = 0;
    flo_place_ctx q = {sp__io_name(path), out, NULL, 0, 1, 0, 0};
    const unsigned char *data = NULL;
    SP_TRY(sp__fs_map_placed(path, max_len, min_len, FLO_HEADER, head, flo_place, &q, map, &data, err));
    if (data == NULL) return SP_OK;
    out->height = q.h, out->width = q.w, out->channels = 2;
    out->data = (float *)(uintptr_t)data; /* read-only: the loader's flows are never written */
    *mapped = 1;
    return SP_OK;
}

sp_status sp_flo_read_file(const char *path, sp_flow *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    size_t const max_len = FLO_HEADER + (size_t)SP_FLO_MAX_DIM * SP_FLO_MAX_DIM * 8u;
    unsigned char *buf = NULL;
    size_t len = 0;
    SP_TRY(sp__fs_read_whole(path, max_len, &buf, &len, err));
    sp_status const s = sp_flo_parse(buf, len, path, out, err);
    free(buf);
    return s;
}

sp_status sp_flo_write(const sp_sink *sink, const sp_flow *flow, sp_error *err)
{
    SP_RETURN_IF(sink == NULL || sink->write == NULL || flow == NULL || flow->data == NULL, err,
                 SP_ERR_INVALID, "flo write: NULL argument");
    SP_RETURN_IF(flow->width < 1 || flow->height < 1 || flow->width > SP_FLO_MAX_DIM ||
                     flow->height > SP_FLO_MAX_DIM || (flow->channels != 2 && flow->channels != 3),
                 err, SP_ERR_INVALID, "flo write: flow shape (%zu, %zu, %zu) not writable", flow->height,
                 flow->width, flow->channels);
    unsigned char buf[8192];
    sp__store_le_f32(buf, SP_FLO_TAG);
    sp__store_le32(buf + 4, (uint32_t)flow->width);
    sp__store_le32(buf + 8, (uint32_t)flow->height);
    size_t used = FLO_HEADER;
    size_t const npix = flow->width * flow->height, c = flow->channels;
    for (size_t i = 0; i < npix; i++) {
        if (used + 8 > sizeof buf) {
            SP_TRY(sp_sink_write(sink, buf, used, err));
            used = 0;
        }
        sp__store_le_f32(buf + used, flow->data[i * c]);
        sp__store_le_f32(buf + used + 4, flow->data[i * c + 1]);
        used += 8;
    }
    return sp_sink_write(sink, buf, used, err);
}
