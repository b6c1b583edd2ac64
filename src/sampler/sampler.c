/* sampler.c: batches of image pairs (or of K frames: key `frames`, docs/realism.md) from a
 * configuration (docs/synthpix-compat.md, Batching).
 *
 * One call of sp_sampler_next runs these stages, each a parallel-for on the pool whose
 * work items write disjoint memory:
 *   refresh   (every batches_per_flow_batch batches, or every episode step) the loader
 *             takes and loads the next F records (src/loader, sp_records.h; file records
 *             come from the prefetcher), then their output flows are computed on the
 *             velocities_per_pixel grid, table-driven       items: F * row blocks
 *   setup     pair k: key, parameters, particle count, output flow copy   items: B
 *   particles chunks of SP_PAIR_CHUNK particles: draws and advection      items: sum N/chunk
 *             (with a light sheet, each chunk's sheet counts, summed per pair in chunk
 *             order afterwards: integers, so the sums do not depend on the threads)
 *   bins      the band lists of each frame                                items: KB
 *   render    one band of one frame: splat, noise, clip, mask             items: KB * bands
 *   histogram optional histogram matching of each frame                   items: KB
 * When the batch has at least as many frames as the pool has threads, bins, render and
 * histogram are one stage of KB items, a whole frame each (frame_item); when the output
 * flows are the batch's own array (F == B), a refresh's output flows and the setups are
 * one stage. Mapped flow files (src/internal/sp_flowmap.h) are checked for non-finite
 * values in the refresh (check_mapped) and for changes before a batch is returned
 * (check_damaged).
 * sp_sampler_seek moves to any batch without rendering: the loader goes to the start of
 * its flow batch and the next refresh reloads that flow batch's records, continuing at the
 * batch's repetition (a restored checkpoint that holds the position only does the same).
 * Memory: the batch's frames and flows are the sampler's own arrays, or the caller's
 * (sp_sampler_next_into, use_buffers); the refresh's output flows (out_flows) are always the
 * sampler's, so a batch written elsewhere never takes the cache with it.
 * Every value depends only on (pair key, index), never on the item-to-thread mapping,
 * so batches are byte-identical for any thread count. Errors of a stage are collected
 * per item and the lowest-numbered one is reported, so error messages are deterministic
 * too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "pair.h"
#include "sampler_struct.h"
#include "sampler_internal.h"
#include "sp_records.h"
#include "sp/sp_io.h"
#include "sp/sp_render.h"

void sp_sampler_options_init(sp_sampler_options *o)
{
    memset(o, 0, sizeof *o);
}

/* ---- stage timers ------------------------------------------------------------------ */

const char *sp_stage_name(sp_stage stage)
{
    static const char *const names[SP_STAGE_COUNT] = {"load", "flow", "particles", "bins", "render", "noise", "post"};
    return (unsigned)stage < SP_STAGE_COUNT ? names[stage] : NULL;
}

static double timer_start(const sp_sampler *s)
{
    return s->timers ? sp__now() : 0.0;
}

/* Worker `worker` spent the time since t0 in `stage`; returns now (the next start). */
static double timer_add(sp_sampler *s, unsigned worker, sp_stage stage, double t0)
{
    if (!s->timers) return 0.0;
    double const t = sp__now();
    s->worker_seconds[(size_t)worker * SP_TIMER_STRIDE + stage] += t - t0;
    return t;
}

void sp_sampler_stage_times(const sp_sampler *s, sp_stage_times *out)
{
    *out = s->times;
    if (!s->timers) return;
    for (unsigned w = 0; w < sp_pool_size(s->pool); w++)
        for (int k = 0; k < SP_STAGE_COUNT; k++) out->seconds[k] += s->worker_seconds[(size_t)w * SP_TIMER_STRIDE + k];
}

void sp_sampler_stage_times_reset(sp_sampler *s)
{
    memset(&s->times, 0, sizeof s->times);
    if (s->timers) memset(s->worker_seconds, 0, sp_pool_size(s->pool) * SP_TIMER_STRIDE * sizeof(double));
}

/* ---- flow sampling ---------------------------------------------------------------- */

/* The four grid points around (gy, gx), clamped to the grid, and their bilinear weights. */
typedef struct bilinear_taps {
    size_t i00, i01, i10, i11; /* offsets of the points' channel 0 */
    float a, b, c, d;
} bilinear_taps;

static inline bilinear_taps taps_at(const sp_flow *f, float gy, float gx)
{
    float const hmax = (float)(f->height - 1), wmax = (float)(f->width - 1);
    float const yc = gy < 0.0f ? 0.0f : (gy > hmax ? hmax : gy);
    float const xc = gx < 0.0f ? 0.0f : (gx > wmax ? wmax : gx);
    size_t const y0 = (size_t)yc, x0 = (size_t)xc;
    size_t const y1 = y0 + 1 < f->height ? y0 + 1 : y0, x1 = x0 + 1 < f->width ? x0 + 1 : x0;
    float const wy = yc - (float)y0, wx = xc - (float)x0;
    size_t const C = f->channels, W = f->width;
    bilinear_taps t = {(y0 * W + x0) * C, (y0 * W + x1) * C, (y1 * W + x0) * C, (y1 * W + x1) * C,
                       (1.0f - wx) * (1.0f - wy), wx * (1.0f - wy), (1.0f - wx) * wy, wx * wy};
    return t;
}

static inline float tap_sum(const sp_flow *f, const bilinear_taps *t, size_t ch)
{
    const float *const d = f->data + ch;
    return t->a * d[t->i00] + t->b * d[t->i01] + t->c * d[t->i10] + t->d * d[t->i11];
}

void sp__flow_bilinear(const sp_flow *f, float gy, float gx, float *u, float *v)
{
    bilinear_taps const t = taps_at(f, gy, gx);
    *u = tap_sum(f, &t, 0);
    *v = tap_sum(f, &t, 1);
}

float sp__flow_bilinear_w(const sp_flow *f, float gy, float gx)
{
    SP_ASSERT(f->channels > 2);
    bilinear_taps const t = taps_at(f, gy, gx);
    return tap_sum(f, &t, 2);
}

/* Grid coordinate per physical unit along each axis of a record's flow. */
static void grid_scale(const sp_sampler *s, const sp_flow *f, double *res_y, double *res_x)
{
    *res_y = (double)f->height / s->cfg.flow_field_size[0];
    *res_x = (double)f->width / s->cfg.flow_field_size[1];
}

/* One axis of the output grid: for each output sample, the two flow-grid indices and the
 * weight of the second, exactly as sp__flow_bilinear computes them (clamped coordinate,
 * floor, fraction), so the table-driven resampling below gives the same bits. */
typedef struct axis_tap {
    uint32_t i0, i1;
    float w;
} axis_tap;

static void axis_taps(double origin, double step, double res, size_t n, size_t len, axis_tap *t)
{
    float const max = (float)(len - 1);
    for (size_t k = 0; k < n; k++) {
        float const g = (float)((origin + (double)k * step) * res);
        float const c = g < 0.0f ? 0.0f : (g > max ? max : g);
        size_t const i0 = (size_t)c;
        t[k].i0 = (uint32_t)i0;
        t[k].i1 = (uint32_t)(i0 + 1 < len ? i0 + 1 : i0);
        t[k].w = c - (float)i0;
    }
}

/* The x taps fall on consecutive grid points (weights 0). */
static int xt_is_identity(const axis_tap *xt, size_t n)
{
    for (size_t l = 0; l < n; l++)
        if (xt[l].w != 0.0f || xt[l].i0 != xt[0].i0 + l) return 0;
    return 1;
}

/* -0.0f: the one grid value whose bilinear sum 1 p00 + 0 p01 + 0 p10 + 0 p11 may differ from
 * p00 itself (+0 when a neighbour is positive); +0 and every non-zero value come back as
 * they are. */
static inline int is_neg_zero(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u == 0x80000000u;
}

/* A row on grid points: the values times scale, in one vectorisable pass that also notes
 * (in *nonfinite) a NaN or infinity among them. Returns 0 when the row holds a -0 (the
 * caller then recomputes those samples with the full sum). */
static int copy_row(const float *src, size_t n, float scale, float *dst, uint32_t *nonfinite)
{
    int neg_zero = 0;
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        neg_zero |= u == 0x80000000u;
        bad |= (u & 0x7f800000u) == 0x7f800000u;
        dst[i] = src[i] * scale;
    }
    *nonfinite |= bad;
    return !neg_zero;
}

/* Sample l of a row between flow rows r0 and r1 (weight wy of r1): the grid value itself
 * where the sample falls on a non-zero grid point, else the bilinear sum (see output_rows). */
static inline void sample_px(const float *r0, const float *r1, const axis_tap *t, float wy, size_t C, float *u,
                             float *v)
{
    float const wx = t->w;
    const float *const p00 = r0 + t->i0 * C, *const p01 = r0 + t->i1 * C;
    const float *const p10 = r1 + t->i0 * C, *const p11 = r1 + t->i1 * C;
    *u = p00[0], *v = p00[1];
    if (wx != 0.0f || wy != 0.0f || *u == 0.0f || *v == 0.0f) {
        float const a = (1.0f - wx) * (1.0f - wy), b = wx * (1.0f - wy), c = (1.0f - wx) * wy, d = wx * wy;
        *u = a * p00[0] + b * p01[0] + c * p10[0] + d * p11[0];
        *v = a * p00[1] + b * p01[1] + c * p10[1] + d * p11[1];
    }
}

/* A resampled row (taps off the grid points), AVX2: 8 samples at a time, the flow values
 * fetched with gathers, then sample_px's expressions lane by lane (the same operations in
 * the same order, so the same bits). Measured (callgrind, the embedded default, whose
 * kinematic records are 80x80 grids resampled to 256x256): 45 instructions a sample in
 * sample_px's loop, about 7 here. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SP_HAVE_GATHER_ROW 1
__attribute__((target("avx2"))) static void sample_row_avx2(const float *r0, const float *r1, const axis_tap *xt,
                                                             size_t n, float wy, size_t C, float scale, float *o)
{
    typedef float v8f __attribute__((vector_size(32)));
    typedef int32_t v8i __attribute__((vector_size(32)));
    v8i const fields = {0, 3, 6, 9, 12, 15, 18, 21}; /* axis_tap is 3 ints: i0, i1, w */
    _Static_assert(sizeof(axis_tap) == 12, "axis_tap is three 4-byte fields");
    float const omy = 1.0f - wy;
    v8f const zero = {0}, one = zero + 1.0f;
    v8i const wy_nonzero = (v8i){0} - (wy != 0.0f);
    int const c = (int)C;
    size_t l = 0;
    for (; l + 8 <= n; l += 8) {
        const int *const tb = (const int *)(const void *)(xt + l);
        v8i const i0 = (v8i)_mm256_i32gather_epi32(tb, (__m256i)fields, 4) * c;
        v8i const i1 = (v8i)_mm256_i32gather_epi32(tb + 1, (__m256i)fields, 4) * c;
        v8f const wx = (v8f)_mm256_i32gather_ps((const float *)(tb + 2), (__m256i)fields, 4);
        v8f const u00 = (v8f)_mm256_i32gather_ps(r0, (__m256i)i0, 4), v00 = (v8f)_mm256_i32gather_ps(r0 + 1, (__m256i)i0, 4);
        v8f const u01 = (v8f)_mm256_i32gather_ps(r0, (__m256i)i1, 4), v01 = (v8f)_mm256_i32gather_ps(r0 + 1, (__m256i)i1, 4);
        v8f const u10 = (v8f)_mm256_i32gather_ps(r1, (__m256i)i0, 4), v10 = (v8f)_mm256_i32gather_ps(r1 + 1, (__m256i)i0, 4);
        v8f const u11 = (v8f)_mm256_i32gather_ps(r1, (__m256i)i1, 4), v11 = (v8f)_mm256_i32gather_ps(r1 + 1, (__m256i)i1, 4);
        v8f const omx = one - wx;
        v8f const a = omx * omy, b = wx * omy, cc = omx * wy, d = wx * wy;
        v8f const us = a * u00 + b * u01 + cc * u10 + d * u11;
        v8f const vs = a * v00 + b * v01 + cc * v10 + d * v11;
        v8i const full = (wx != zero) | wy_nonzero | (u00 == zero) | (v00 == zero);
        v8f const u = (v8f)((full & (v8i)us) | (~full & (v8i)u00)) * scale;
        v8f const v = (v8f)((full & (v8i)vs) | (~full & (v8i)v00)) * scale;
        __m256 const lo = _mm256_unpacklo_ps((__m256)u, (__m256)v), hi = _mm256_unpackhi_ps((__m256)u, (__m256)v);
        _mm256_storeu_ps(o + 2 * l, _mm256_permute2f128_ps(lo, hi, 0x20));
        _mm256_storeu_ps(o + 2 * l + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    for (; l < n; l++) {
        float u, v;
        sample_px(r0, r1, &xt[l], wy, C, &u, &v);
        o[2 * l] = u * scale;
        o[2 * l + 1] = v * scale;
    }
}
#else
#define SP_HAVE_GATHER_ROW 0
#endif

/* After copy_row on a grid row (2 channels, taps on consecutive grid points): the samples
 * whose grid value is -0 get the full sum. Blocks of 8 samples are tested at once, so a
 * row with one -0 (a flow's edge) costs a vectorised scan, not a scalar pass. */
static void fix_neg_zeros(const float *r0, const float *r1, const axis_tap *xt, size_t n, float scale, float *o)
{
    const float *const src = r0 + xt[0].i0 * 2;
    for (size_t l0 = 0; l0 < n; l0 += 8) {
        size_t const l1 = l0 + 8 < n ? l0 + 8 : n;
        int any = 0;
        for (size_t i = 2 * l0; i < 2 * l1; i++) any |= is_neg_zero(src[i]);
        if (!any) continue;
        for (size_t l = l0; l < l1; l++) {
            if (!is_neg_zero(src[2 * l]) && !is_neg_zero(src[2 * l + 1])) continue;
            float u, v;
            sample_px(r0, r1, &xt[l], 0.0f, 2, &u, &v);
            o[2 * l] = u * scale;
            o[2 * l + 1] = v * scale;
        }
    }
}

/* Output rows [k0, k1) of record flow f: sample (k, l) sits at image pixel (k, l) / vpp,
 * i.e. physical img_offset + (k, l) / (vpp r); values in units/s, times r dt for "pixels".
 * Where a sample falls on a grid point (weights 0: the identity resampling of a flow given
 * on the image grid) its value is the grid value itself, which is what the bilinear sum
 * 1 p00 + 0 p01 + 0 p10 + 0 p11 gives for every non-zero p00; zeros take the full sum,
 * whose sign of zero depends on the neighbours (only a -0 can change: +0 + (-0) = +0). A
 * row on grid points is copied in one vectorised pass and only its -0 samples are
 * recomputed. */
/* The output stage's finite check of a mapped record (flow_check bits). */
#define SP_CHECK_NONFINITE 1u   /* a NaN or infinity was seen */
#define SP_CHECK_UNCOVERED 2u   /* some grid rows were not copied whole: scan the record */

static void output_rows(const sp_sampler *s, const sp_flow *f, float *out, size_t k0, size_t k1, axis_tap *xt,
                        uint32_t *check)
{
    const sp_geometry *const g = &s->geom;
    double ry, rx;
    grid_scale(s, f, &ry, &rx);
    double const step = g->flow_step / g->resolution;
    float const scale = s->cfg.output_units == SP_UNITS_PIXELS ? (float)(g->resolution * s->cfg.dt) : 1.0f;
    axis_taps(s->cfg.img_offset[1], step, rx, g->flow_w, f->width, xt);
    size_t const C = f->channels, W = f->width;
    int const x_identity = C == 2 && xt_is_identity(xt, g->flow_w);
    /* Every grid row copied whole by some item: the copies see every value (the check). */
    int const whole_rows = x_identity && xt[0].i0 == 0 && g->flow_w == W && g->flow_h == f->height;
    uint32_t nonfinite = 0, uncovered = 0;
#if SP_HAVE_GATHER_ROW
    int const gather = __builtin_cpu_supports("avx2");
#endif
    for (size_t k = k0; k < k1; k++) {
        axis_tap yt;
        axis_taps(s->cfg.img_offset[0] + (double)k * step, 0.0, ry, 1, f->height, &yt);
        float const wy = yt.w;
        const float *const r0 = f->data + (size_t)yt.i0 * W * C, *const r1 = f->data + (size_t)yt.i1 * W * C;
        float *const o = out + 2 * k * g->flow_w;
        if (x_identity && wy == 0.0f) {
            if (!copy_row(r0 + xt[0].i0 * C, 2 * g->flow_w, scale, o, &nonfinite))
                fix_neg_zeros(r0, r1, xt, g->flow_w, scale, o);
            uncovered |= !whole_rows || yt.i0 != k;
            continue;
        }
        uncovered = 1;
#if SP_HAVE_GATHER_ROW
        if (gather && W * C <= INT32_MAX) {
            sample_row_avx2(r0, r1, xt, g->flow_w, wy, C, scale, o);
            continue;
        }
#endif
        for (size_t l = 0; l < g->flow_w; l++) {
            float u, v;
            sample_px(r0, r1, &xt[l], wy, C, &u, &v);
            o[2 * l] = u * scale;
            o[2 * l + 1] = v * scale;
        }
    }
    *check = (nonfinite ? SP_CHECK_NONFINITE : 0u) | (uncovered ? SP_CHECK_UNCOVERED : 0u);
}

/* ---- refresh ---------------------------------------------------------------------- */

static size_t flow_floats(const sp_sampler *s)
{
    return s->geom.flow_h * s->geom.flow_w * 2;
}

/* Output-flow work items: SP_OUTPUT_ROWS rows of one record's output flow each, so even a
 * single record (F = 1) is resampled by every thread. */
#define SP_OUTPUT_ROWS 32

static size_t output_blocks(const sp_sampler *s)
{
    return (s->geom.flow_h + SP_OUTPUT_ROWS - 1) / SP_OUTPUT_ROWS;
}

SP_MULTIVERSION __attribute__((flatten)) static void output_flow_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    size_t const f = item / output_blocks(s), k0 = item % output_blocks(s) * SP_OUTPUT_ROWS;
    size_t const k1 = k0 + SP_OUTPUT_ROWS < s->geom.flow_h ? k0 + SP_OUTPUT_ROWS : s->geom.flow_h;
    float *const out = s->out_flows + f * flow_floats(s);
    double const t0 = timer_start(s);
    if (!sp__records_valid(s->records, f)) { /* padding */
        memset(out + 2 * k0 * s->geom.flow_w, 0, 2 * (k1 - k0) * s->geom.flow_w * sizeof *out);
    } else {
        axis_tap *const xt = (axis_tap *)(void *)(s->scratch + (size_t)worker * s->scratch_floats);
        uint32_t check = 0;
        output_rows(s, sp__records_flow(s->records, f), out, k0, k1, xt, &check);
        if (check && sp__records_unchecked(s->records, f)) __atomic_fetch_or(&s->flow_check[f], check, __ATOMIC_RELAXED);
    }
    timer_add(s, worker, SP_STAGE_FLOW, t0);
}

/* Rows [64 k, 64 k + 64) of a mapped record the output stage did not copy whole: the check. */
#define SP_SCAN_ROWS 64

static size_t scan_blocks(const sp_flow *f)
{
    return (f->height + SP_SCAN_ROWS - 1) / SP_SCAN_ROWS;
}

static void scan_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    (void)worker;
    size_t f = 0, k = item; /* item k of the uncovered records' blocks, in record order */
    for (; f < s->F; f++) {
        if (!(__atomic_load_n(&s->flow_check[f], __ATOMIC_RELAXED) & SP_CHECK_UNCOVERED)) continue;
        size_t const nb = scan_blocks(sp__records_flow(s->records, f));
        if (k < nb) break;
        k -= nb;
    }
    if (f == s->F) return;
    const sp_flow *const fl = sp__records_flow(s->records, f);
    size_t const row = fl->width * fl->channels, r1 = (k + 1) * SP_SCAN_ROWS < fl->height ? (k + 1) * SP_SCAN_ROWS : fl->height;
    size_t const i0 = k * SP_SCAN_ROWS * row;
    if (sp__any_nonfinite_f32(fl->data + i0, r1 * row - i0))
        __atomic_fetch_or(&s->flow_check[f], SP_CHECK_NONFINITE, __ATOMIC_RELAXED);
}

/* Mapped records come unchecked (src/internal/sp_flowmap.h): their values were checked in
 * the output stage's copies where those saw every value, else scanned here on the pool. A
 * non-finite value is the error the loader gives for a file it read, for the first such
 * record. */
static sp_status check_mapped(sp_sampler *s, sp_error *err)
{
    size_t blocks = 0;
    for (size_t f = 0; f < s->F; f++)
        if (s->flow_check[f] & SP_CHECK_UNCOVERED) blocks += scan_blocks(sp__records_flow(s->records, f));
    if (blocks) sp_pool_run(s->pool, blocks, scan_item, s);
    for (size_t f = 0; f < s->F; f++) {
        if (!sp__records_unchecked(s->records, f)) continue;
        size_t i, j, c;
        if ((s->flow_check[f] & SP_CHECK_NONFINITE) && sp_flow_find_nonfinite(sp__records_flow(s->records, f), &i, &j, &c))
            return sp_error_set(err, SP_ERR_CORRUPT, "%s: non-finite flow value at (row %zu, column %zu, channel %zu)",
                                sp__records_name(s->records, f), i, j, c);
        sp__records_set_checked(s->records, f);
    }
    return SP_OK;
}

/* A mapped record whose file changed while in use (a truncation's lost pages read as
 * zeros; a write in place changes the values): the batch made from it is not returned, and
 * the next call loads the same records again and makes the same batch (the loader goes
 * back to them; the repetition and batch index stay), as after a seek to it. */
static sp_status check_damaged(sp_sampler *s, sp_error *err)
{
    for (size_t f = 0; f < s->F; f++) {
        if (!sp__records_damaged(s->records, f)) continue;
        s->have_flows = 0;
        if (s->cfg.episode_length == 0) sp__records_retake(s->records); /* an episode step is retried as it is */
        return sp_error_set(err, SP_ERR_IO,
                            "%s: the file changed while it was in use (modified, shrunk, replaced or "
                            "removed by another process?); the batch made from it was discarded",
                            sp__records_name(s->records, f));
    }
    return SP_OK;
}

static void fill_metadata(sp_sampler *s);
static void setup_item(void *ctx, size_t k, unsigned worker);

/* The output flows' items, then the batch's pair setups, in one parallel-for, when the
 * output flows are the batch's own array (F == B and not sp_sampler_next_into: no setup
 * copies an output flow): one barrier fewer a batch, which at B = 1 and 256^2 (a pair is
 * a few parallel-fors of ~0.1 ms) is a few percent on two threads. */
static void output_and_setup_item(void *ctx, size_t item, unsigned worker)
{
    /* The setups may read a mapped record's values before check_mapped has judged them
     * (flow_w_range): nothing they compute is used when it fails. */
    sp_sampler *const s = (sp_sampler *)ctx;
    size_t const n = s->F * output_blocks(s);
    if (item < n) output_flow_item(ctx, item, worker);
    else setup_item(ctx, item - n, worker);
}

/* The loader has taken the refresh's records (or an episode step's): loads their flows,
 * computes their output flows and starts a new repetition. With setup (not NULL) and the
 * output flows the batch's own, the batch's metadata and pair setups are done too, and
 * *setup is set to 1. */
static sp_status load_refresh(sp_sampler *s, uint32_t rep, int *setup, sp_error *err)
{
    s->have_flows = 0;
    double const t0 = timer_start(s);
    sp_status const st = sp__records_load(s->records, err);
    if (s->timers) s->times.seconds[SP_STAGE_LOAD] += sp__now() - t0;
    SP_TRY(st);
    memset(s->flow_check, 0, s->F * sizeof *s->flow_check);
    s->rep = rep;
    size_t const n = s->F * output_blocks(s);
    if (setup != NULL && s->out_flows == s->batch.flow_fields) { /* F == B, the sampler's own arrays */
        fill_metadata(s);
        sp_pool_run(s->pool, n + s->B, output_and_setup_item, s);
        *setup = 1;
    } else {
        sp_pool_run(s->pool, n, output_flow_item, s);
    }
    SP_TRY(check_mapped(s, err));
    s->have_flows = 1;
    return SP_OK;
}

/* A refresh starts repetition 0, except where the cache was never filled in the middle of
 * a flow batch (a sampler sought there, or restored from a checkpoint that holds the
 * position only): it reloads that flow batch's records and continues at its repetition. */
static sp_status refresh(sp_sampler *s, int *setup, sp_error *err)
{
    int const episodic = s->cfg.episode_length > 0;
    uint32_t const rep = !episodic && !s->have_flows && s->rep < (uint32_t)s->cfg.batches_per_flow_batch ? s->rep : 0;
    double const t0 = timer_start(s);
    sp_status const st = episodic ? sp__records_step(s->records, err) /* one time step per batch */
                                  : sp__records_take(s->records, err);
    if (s->timers) s->times.seconds[SP_STAGE_LOAD] += sp__now() - t0;
    SP_TRY(st);
    return load_refresh(s, rep, setup, err);
}

/* ---- pairs ------------------------------------------------------------------------ */

static void pair_context(const sp_sampler *s, const sp_flow *f, sp_pair_context *ctx)
{
    double ry, rx;
    grid_scale(s, f, &ry, &rx);
    const sp_geometry *const g = &s->geom;
    ctx->cfg = &s->cfg;
    ctx->geom = g;
    ctx->gy0 = (float)(g->origin_y * ry);
    ctx->gx0 = (float)(g->origin_x * rx);
    ctx->gy_per_px = (float)(ry / g->resolution);
    ctx->gx_per_px = (float)(rx / g->resolution);
    ctx->px_per_velocity = (float)(s->cfg.dt * g->resolution);
    ctx->frames = s->cfg.frames;
}

/* The range of a flow's channel 2 (w), for the light sheet's seeding slab; 0 when the flow
 * has none or no sheet is used. */
static void flow_w_range(const sp_sampler *s, const sp_flow *f, float *lo, float *hi)
{
    *lo = *hi = 0.0f;
    if (s->cfg.sheet_profile == SP_SHEET_NONE || f->channels < 3) return;
    size_t const n = f->height * f->width;
    for (size_t k = 0; k < n; k++) {
        float const w = f->data[k * f->channels + 2];
        *lo = w < *lo ? w : *lo;
        *hi = w > *hi ? w : *hi;
    }
}

static void setup_item(void *ctx, size_t k, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    double const t0 = timer_start(s);
    sp_pair_slot *const p = &s->slots[k];
    size_t const f = k % s->F;
    sp_batch *const b = &s->batch;
    p->flow = sp__records_flow(s->records, f);
    pair_context(s, p->flow, &p->ctx);
    flow_w_range(s, p->flow, &p->wflow_min, &p->wflow_max);
    sp__pair_setup(p, &p->ctx, b->keys[k]);
    b->params[k] = p->params;
    p->status = sp__pair_reserve(p, &p->err);
    if (s->out_flows != b->flow_fields) /* F == B: the cache is the batch's own array already */
        memcpy(b->flow_fields + k * flow_floats(s), s->out_flows + f * flow_floats(s), flow_floats(s) * sizeof(float));
    timer_add(s, worker, SP_STAGE_PARTICLES, t0);
}

static void chunk_item(void *ctx, size_t c, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    sp_pair_slot *const p = &s->slots[s->chunk_pair[c]];
    size_t const j0 = s->chunk_first[c];
    size_t const j1 = j0 + SP_PAIR_CHUNK < p->count ? j0 + SP_PAIR_CHUNK : p->count;
    double const t0 = timer_start(s);
    uint32_t *const counts = s->chunk_counts ? s->chunk_counts + c * SP_SHEET_COUNTS : NULL;
    sp__pair_chunk(p, &p->ctx, j0, j1, s->scratch + (size_t)worker * s->scratch_floats, counts);
    timer_add(s, worker, SP_STAGE_PARTICLES, t0);
}

/* Sums each pair's chunk counts in chunk order and records its sheet fractions. */
static void sheet_fractions(sp_sampler *s)
{
    if (s->chunk_counts == NULL) return;
    uint32_t sum[SP_SHEET_COUNTS];
    size_t c = 0;
    for (size_t k = 0; k < s->B; k++) {
        memset(sum, 0, sizeof sum);
        for (; c < s->nchunks && s->chunk_pair[c] == k; c++)
            for (size_t i = 0; i < SP_SHEET_COUNTS; i++) sum[i] += s->chunk_counts[c * SP_SHEET_COUNTS + i];
        sp__pair_sheet_fractions(&s->slots[k], sum);
        s->batch.params[k] = s->slots[k].params;
    }
}

/* Frame item % K of pair item / K: its band lists. */
static sp_status frame_bins(sp_sampler *s, size_t item, unsigned worker)
{
    double const t0 = timer_start(s);
    size_t const K = (size_t)s->cfg.frames;
    sp_pair_slot *const p = &s->slots[item / K];
    sp_particles pts;
    sp__pair_particles(p, (int)(item % K), &pts);
    sp_status const st = sp_frame_bins_build(&p->bins[item % K], &s->rg, &pts, &p->err);
    if (st != SP_OK) p->status = st;
    timer_add(s, worker, SP_STAGE_BINS, t0);
    return st;
}

static void bins_item(void *ctx, size_t item, unsigned worker)
{
    (void)frame_bins((sp_sampler *)ctx, item, worker);
}

/* The batch's frames and flows: the caller's buffers (sp_sampler_next_into) or the
 * sampler's own. The flow cache (out_flows) is always the sampler's: with F == B it is the
 * own flow array, and setup_item copies each pair's flow when the batch's is elsewhere. */
static void use_buffers(sp_sampler *s, const sp_batch_buffers *buf)
{
    sp_batch *const b = &s->batch;
    for (size_t f = 0; f < b->frames; f++) b->images[f] = buf ? buf->images[f] : s->own_images[f];
    b->images1 = b->images[0];
    b->images2 = b->images[1];
    b->flow_fields = buf ? buf->flow_fields : s->own_flows;
}

static float *frame_image(const sp_sampler *s, size_t k, int frame)
{
    size_t const npx = s->geom.height * s->geom.width;
    return s->batch.images[frame] + k * npx;
}

/* One band of frame `frame` of pair k: its stamps, then its noise, clip and mask. */
static void render_band(sp_sampler *s, size_t k, size_t frame, size_t band, unsigned worker)
{
    sp_pair_slot *const p = &s->slots[k];
    sp_particles pts;
    sp__pair_particles(p, (int)frame, &pts);
    float *const img = frame_image(s, k, (int)frame);
    double const t0 = timer_start(s);
    sp_render_band(&s->rg, &pts, &p->bins[frame], band, img);
    double const t1 = timer_add(s, worker, SP_STAGE_RENDER, t0);
    size_t const r0 = band * SP_BAND_ROWS;
    size_t const r1 = r0 + SP_BAND_ROWS < s->geom.height ? r0 + SP_BAND_ROWS : s->geom.height;
    sp_key const nk = frame < 2 ? p->sub[5 + frame] : p->fsub[frame][SP_FRAME_KEYS - 1];
    sp_post_rows(img, s->geom.width, r0, r1, &s->noise, sp_key_split_at(nk, 0), sp_key_split_at(nk, 1), s->mask,
                 s->scratch + (size_t)worker * s->scratch_floats);
    timer_add(s, worker, SP_STAGE_NOISE, t1);
}

static void band_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    size_t const nb = s->slots[0].bins[0].nbands, K = (size_t)s->cfg.frames;
    render_band(s, item / (K * nb), (item / nb) % K, item % nb, worker);
}

static void histogram_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    double const t0 = timer_start(s);
    size_t const K = (size_t)s->cfg.frames;
    sp_histogram_match(frame_image(s, item / K, (int)(item % K)), s->geom.height * s->geom.width, s->target_cdf);
    timer_add(s, worker, SP_STAGE_POST, t0);
}

/* A whole frame as one item: its bins, its bands and its histogram matching, on one
 * thread. Used when the batch has at least as many frames as the pool has threads: no
 * barrier between the bins and the bands, and the particles and band lists a frame's bands
 * read stay in the cache of the core that built them. Measured (bench --breakdown,
 * cylinder, 2 threads): the stamps took 27 % longer on two threads than on one when a
 * frame's bands went to both cores. The bytes are those of the band items. */
static void frame_item(void *ctx, size_t item, unsigned worker)
{
    sp_sampler *const s = (sp_sampler *)ctx;
    if (frame_bins(s, item, worker) != SP_OK) return;
    size_t const K = (size_t)s->cfg.frames, k = item / K, frame = item % K;
    size_t const nb = s->slots[k].bins[frame].nbands;
    for (size_t band = 0; band < nb; band++) render_band(s, k, frame, band, worker);
    if (s->have_histogram) histogram_item(ctx, item, worker);
}

static sp_status first_slot_error(const sp_sampler *s, sp_error *err)
{
    for (size_t k = 0; k < s->B; k++) {
        if (s->slots[k].status != SP_OK) {
            if (err) *err = s->slots[k].err;
            return s->slots[k].status;
        }
    }
    return SP_OK;
}

static sp_status plan_chunks(sp_sampler *s, sp_error *err)
{
    size_t total = 0;
    for (size_t k = 0; k < s->B; k++) total += (s->slots[k].count + SP_PAIR_CHUNK - 1) / SP_PAIR_CHUNK;
    if (total > s->chunk_capacity) {
        size_t *const a = (size_t *)realloc(s->chunk_pair, total * sizeof *a);
        if (a) s->chunk_pair = a;
        size_t *const b = (size_t *)realloc(s->chunk_first, total * sizeof *b);
        if (b) s->chunk_first = b;
        SP_RETURN_IF(a == NULL || b == NULL, err, SP_ERR_NOMEM, "out of memory");
        if (s->cfg.sheet_profile != SP_SHEET_NONE) {
            uint32_t *const c = (uint32_t *)realloc(s->chunk_counts, total * SP_SHEET_COUNTS * sizeof *c);
            SP_RETURN_IF(c == NULL, err, SP_ERR_NOMEM, "out of memory");
            s->chunk_counts = c;
        }
        s->chunk_capacity = total;
    }
    size_t c = 0;
    for (size_t k = 0; k < s->B; k++)
        for (size_t j = 0; j < s->slots[k].count; j += SP_PAIR_CHUNK) {
            s->chunk_pair[c] = k;
            s->chunk_first[c] = j;
            c++;
        }
    s->nchunks = c;
    return SP_OK;
}

/* Keys, seeds, epochs and names of the batch (pair k uses record k mod F). */
static void fill_metadata(sp_sampler *s)
{
    sp_batch *const b = &s->batch;
    for (size_t k = 0; k < s->B; k++) {
        size_t const f = k % s->F;
        const sp_record_ref *const ref = sp__records_ref(s->records, f);
        b->seeds[k] = ref->seed;
        b->epoch[k] = (int32_t)ref->epoch;
        b->mask[k] = (uint8_t)sp__records_valid(s->records, f);
        b->records[k] = ref->record;
        b->files[k] = sp__records_name(s->records, f);
        sp_key const base = sp_key_from_seed(b->seeds[k]);
        b->keys[k] = sp_key_fold_in(sp_key_fold_in(base, (uint32_t)k), s->rep);
    }
    int const episodic = s->cfg.episode_length > 0;
    int64_t const t = episodic ? sp__records_timestep(s->records) : -1;
    memset(b->done, episodic && t + 1 == s->cfg.episode_length, s->B);
    b->timestep = t;
    b->repetition = s->rep;
    b->batch_index = s->batch_index;
    b->first_pair = s->batch_index * s->B;
}

static sp_status sampler_next(sp_sampler *s, const sp_batch **out, sp_error *err);

static sp_status timed_next(sp_sampler *s, const sp_batch **out, sp_error *err);

sp_status sp_sampler_next(sp_sampler *s, const sp_batch **out, sp_error *err)
{
    *out = NULL;
    use_buffers(s, NULL);
    return timed_next(s, out, err);
}

sp_status sp_sampler_next_into(sp_sampler *s, const sp_batch_buffers *buf, const sp_batch **out, sp_error *err)
{
    *out = NULL;
    SP_RETURN_IF(s->cfg.include_images, err, SP_ERR_UNSUPPORTED,
                 "sp_sampler_next_into: a sampler of real image pairs fills its own arrays (use sp_sampler_next)");
    SP_RETURN_IF(buf == NULL || buf->flow_fields == NULL, err, SP_ERR_INVALID, "sp_sampler_next_into: no flow buffer");
    for (size_t f = 0; f < s->batch.frames; f++)
        SP_RETURN_IF(buf->images[f] == NULL, err, SP_ERR_INVALID, "sp_sampler_next_into: no buffer for frame %zu", f);
    use_buffers(s, buf);
    return timed_next(s, out, err);
}

static sp_status timed_next(sp_sampler *s, const sp_batch **out, sp_error *err)
{
    double const t0 = timer_start(s);
    sp_status const st = s->cfg.include_images ? sp__real_next(s, out, err) : sampler_next(s, out, err);
    if (!s->timers) return st;
    double const dt = sp__now() - t0;
    s->times.wall += dt;
    if (s->cfg.include_images) s->times.seconds[SP_STAGE_LOAD] += dt;
    if (st == SP_OK) s->times.batches++, s->times.pairs += s->B;
    return st;
}

static sp_status sampler_next(sp_sampler *s, const sp_batch **out, sp_error *err)
{
    int const episodic = s->cfg.episode_length > 0; /* batches_per_flow_batch does not apply */
    int setup = 0;
    if (episodic || !s->have_flows || s->rep >= (uint32_t)s->cfg.batches_per_flow_batch) SP_TRY(refresh(s, &setup, err));
    if (!setup) {
        fill_metadata(s);
        sp_pool_run(s->pool, s->B, setup_item, s);
    }
    SP_TRY(first_slot_error(s, err));
    SP_TRY(plan_chunks(s, err));
    sp_pool_run(s->pool, s->nchunks, chunk_item, s);
    sheet_fractions(s);
    size_t const KB = (size_t)s->cfg.frames * s->B;
    if (KB >= sp_pool_size(s->pool)) { /* a frame per item (frame_item) */
        sp_pool_run(s->pool, KB, frame_item, s);
        SP_TRY(first_slot_error(s, err));
    } else {
        sp_pool_run(s->pool, KB, bins_item, s);
        SP_TRY(first_slot_error(s, err));
        sp_pool_run(s->pool, KB * s->slots[0].bins[0].nbands, band_item, s);
        if (s->have_histogram) sp_pool_run(s->pool, KB, histogram_item, s);
    }
    SP_TRY(check_damaged(s, err));
    s->rep++;
    s->batch_index++;
    if (episodic) sp__records_step_done(s->records);
    *out = &s->batch;
    return SP_OK;
}

/* The batch loop of sp_sampler_next without the rendering: the loader takes records at
 * every refresh (cheap: stream arithmetic), and only the last refresh's flows are loaded,
 * keeping the repetition index as next() leaves it. */
sp_status sp_sampler_skip(sp_sampler *s, uint64_t n, uint64_t *skipped, sp_error *err)
{
    if (skipped) *skipped = 0;
    int const episodic = s->cfg.episode_length > 0;
    uint32_t const bpfb = (uint32_t)s->cfg.batches_per_flow_batch;
    int pending = 0; /* records taken whose flows are not loaded */
    sp_status st = SP_OK;
    for (uint64_t i = 0; i < n && st == SP_OK; i++) {
        int const take = s->cfg.include_images || episodic || (!pending && !s->have_flows) || s->rep >= bpfb;
        if (take) st = episodic ? sp__records_step(s->records, err) : sp__records_take(s->records, err);
        if (st != SP_OK) break;
        if (take && !s->cfg.include_images) {
            pending = 1;
            s->rep = 0;
        }
        if (!s->cfg.include_images) s->rep++;
        s->batch_index++;
        if (episodic) sp__records_step_done(s->records);
        if (skipped) (*skipped)++;
    }
    if (pending) {
        sp_status const ls = load_refresh(s, s->rep, NULL, st == SP_OK ? err : NULL);
        if (st == SP_OK) st = ls;
    }
    return st;
}

void sp_sampler_reset(sp_sampler *s)
{
    sp__records_reset(s->records);
    s->have_flows = 0;
    s->rep = 0;
    s->batch_index = 0;
}

sp_status sp_sampler_seek(sp_sampler *s, uint64_t batch_index, sp_error *err)
{
    SP_RETURN_IF(s->cfg.episode_length > 0, err, SP_ERR_UNSUPPORTED,
                 "seek: an episodic stream (episode_length %d) moves by episodes, not batches", s->cfg.episode_length);
    /* Real image pairs take B records per batch and have no repetitions (real.c). */
    uint64_t const per_refresh = s->cfg.include_images ? 1 : (uint64_t)s->cfg.batches_per_flow_batch;
    uint64_t const flow_batch = batch_index / per_refresh;
    SP_RETURN_IF(flow_batch > UINT64_MAX / s->F || batch_index > UINT64_MAX / s->B, err, SP_ERR_RANGE,
                 "seek: batch %llu is beyond the stream's 64-bit positions", (unsigned long long)batch_index);
    sp__records_seek(s->records, flow_batch * s->F);
    s->have_flows = 0;
    s->rep = (uint32_t)(batch_index % per_refresh);
    s->batch_index = batch_index;
    return SP_OK;
}

sp_status sp_sampler_next_episode(sp_sampler *s, sp_error *err)
{
    SP_RETURN_IF(s->cfg.episode_length <= 0, err, SP_ERR_INVALID,
                 "next_episode: the sampler is not episodic (episode_length is 0)");
    sp__records_rewind_episode(s->records);
    return SP_OK;
}

const sp_geometry *sp_sampler_geometry(const sp_sampler *s) { return &s->geom; }
const sp_config *sp_sampler_config(const sp_sampler *s) { return &s->cfg; }
uint64_t sp_sampler_records(const sp_sampler *s) { return sp__records_source_count(s->records); }

/* ---- creation --------------------------------------------------------------------- */

static sp_status load_mask(sp_sampler *s, sp_error *err)
{
    sp_npy_array a;
    SP_TRY(sp_npy_read_file(s->cfg.mask, &a, NULL, err));
    size_t const H = s->geom.height, W = s->geom.width;
    sp_status st = SP_OK;
    if (a.ndim != 2 || a.shape[0] != H || a.shape[1] != W)
        st = sp_error_set(err, SP_ERR_CONFIG, "mask: %s has shape (%zu%s%zu%s), expected image_shape (%zu, %zu)",
                          s->cfg.mask, a.ndim > 0 ? a.shape[0] : 0, a.ndim > 1 ? ", " : "", a.ndim > 1 ? a.shape[1] : 0,
                          a.ndim > 2 ? ", ..." : "", H, W);
    if (st == SP_OK) {
        s->mask = (float *)malloc(H * W * sizeof(float));
        st = s->mask ? sp_npy_to_f32(&a, s->mask, H * W, err) : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; st == SP_OK && k < H * W; k++)
        if (s->mask[k] != 0.0f && s->mask[k] != 1.0f)
            st = sp_error_set(err, SP_ERR_CONFIG, "mask: %s has value %g at (%zu, %zu); values must be 0 or 1",
                              s->cfg.mask, (double)s->mask[k], k / W, k % W);
    sp_npy_array_release(&a);
    return st;
}

static sp_status load_histogram(sp_sampler *s, sp_error *err)
{
    sp_npy_array a;
    SP_TRY(sp_npy_read_file(s->cfg.histogram, &a, NULL, err));
    double hist[256];
    sp_status st = SP_OK;
    if (a.ndim != 1 || a.shape[0] != 256)
        st = sp_error_set(err, SP_ERR_CONFIG, "histogram: %s must have shape (256,)", s->cfg.histogram);
    if (st == SP_OK) st = sp_npy_to_f64(&a, hist, 256, err);
    sp_npy_array_release(&a);
    SP_TRY(st);
    double sum = 0;
    for (int l = 0; l < 256; l++) sum += hist[l];
    double const want = (double)s->geom.height * (double)s->geom.width;
    /* numpy.isclose defaults: |sum - want| <= 1e-8 + 1e-5 |want|. */
    SP_RETURN_IF(!(fabs(sum - want) <= 1e-8 + 1e-5 * want), err, SP_ERR_CONFIG,
                 "histogram: %s sums to %g; it must sum to the number of pixels H*W = %g", s->cfg.histogram, sum, want);
    SP_RETURN_IF(sp_histogram_target_cdf(hist, s->target_cdf) != SP_OK, err, SP_ERR_CONFIG,
                 "histogram: %s has a negative or non-finite bin", s->cfg.histogram);
    s->have_histogram = 1;
    return SP_OK;
}

static sp_status check_supported(const sp_config *c, sp_error *err)
{
    SP_RETURN_IF(c->batch_size <= 0 || c->flow_fields_per_batch <= 0 || (!c->include_images && c->batches_per_flow_batch <= 0), err,
                 SP_ERR_CONFIG, "batch_size, flow_fields_per_batch and batches_per_flow_batch must be positive");
    /* A configuration built in code, not loaded, gets the loader's rules for these too. */
    SP_RETURN_IF(!c->include_images && (c->frames < 2 || c->frames > SP_MAX_FRAMES), err, SP_ERR_CONFIG,
                 "frames: %d is out of range; expected an integer in [2, %d]", c->frames, SP_MAX_FRAMES);
    SP_RETURN_IF(c->sheet_profile != SP_SHEET_NONE && !(c->sheet_thickness >= 1e-15 && c->sheet_thickness <= 1e30),
                 err, SP_ERR_CONFIG, "sheet_thickness: %g is out of range; expected a number in [1e-15, 1e30]",
                 c->sheet_thickness);
    SP_RETURN_IF(!(c->over_exposure > 0.0) || !(c->sheet_edge >= 0.0 && c->sheet_edge <= 1.0), err, SP_ERR_CONFIG,
                 "over_exposure (%g) must be > 0 and sheet_edge (%g) in [0, 1]", c->over_exposure, c->sheet_edge);
    return SP_OK;
}

static sp_status alloc_batch(sp_sampler *s, sp_error *err)
{
    size_t const B = s->B, F = s->F, npx = s->geom.height * s->geom.width, nf = flow_floats(s);
    sp_batch *const b = &s->batch;
    b->batch_size = B;
    b->height = s->geom.height;
    b->width = s->geom.width;
    b->flow_height = s->geom.flow_h;
    b->flow_width = s->geom.flow_w;
    size_t img_bytes = 0, flow_bytes = 0;
    SP_RETURN_IF(!sp__mul_size(B * npx, sizeof(float), &img_bytes) || !sp__mul_size(B * nf, sizeof(float), &flow_bytes),
                 err, SP_ERR_NOMEM, "batch too large");
    b->frames = s->cfg.include_images ? 2 : (size_t)s->cfg.frames;
    int frames_ok = 1;
    for (size_t f = 0; f < b->frames; f++) frames_ok &= (s->own_images[f] = (float *)malloc(img_bytes)) != NULL;
    s->own_flows = (float *)malloc(flow_bytes);
    use_buffers(s, NULL);
    b->params = (sp_pair_params *)calloc(B, sizeof *b->params);
    b->keys = (sp_key *)calloc(B, sizeof *b->keys);
    b->seeds = (uint32_t *)calloc(B, sizeof *b->seeds);
    b->epoch = (int32_t *)calloc(B, sizeof *b->epoch);
    b->mask = (uint8_t *)calloc(B, 1);
    b->records = (uint64_t *)calloc(B, sizeof *b->records);
    b->files = (const char **)calloc(B, sizeof *b->files);
    b->done = (uint8_t *)calloc(B, 1);
    b->timestep = -1;
    s->slots = (sp_pair_slot *)calloc(B, sizeof *s->slots);
    /* With a record per pair (F == B) pair k's output flow is record k's: the cache is the
     * batch's own flow array, so no copy is made per batch. */
    s->out_flows = F == B ? s->own_flows : (float *)malloc(F * nf * sizeof(float));
    s->flow_check = (uint32_t *)calloc(F, sizeof *s->flow_check);
    /* per worker: a particle chunk's temporaries, a row of noise, or an output-flow x table */
    size_t const taps = (s->geom.flow_w * sizeof(axis_tap) + sizeof(float) - 1) / sizeof(float);
    s->scratch_floats = SP_PAIR_TMP_FLOATS + s->geom.width + 16;
    if (taps + 16 > s->scratch_floats) s->scratch_floats = taps + 16;
    s->scratch = (float *)malloc(sp_pool_size(s->pool) * s->scratch_floats * sizeof(float));
    SP_RETURN_IF(!frames_ok || !b->flow_fields || !b->params || !b->keys || !b->seeds || !b->epoch ||
                     !b->mask || !b->records || !b->files || !s->slots || !s->out_flows || !s->flow_check || !s->scratch || !b->done,
                 err, SP_ERR_NOMEM, "out of memory for a batch of %zu pairs of %zux%zu", B, b->height, b->width);
    return SP_OK;
}

static sp_status sampler_init(sp_sampler *s, const sp_config *cfg, const sp_sampler_options *opt, sp_error *err)
{
    SP_TRY(sp_config_copy(&s->cfg, cfg, err));
    SP_TRY(check_supported(&s->cfg, err));
    if (!s->cfg.include_images) SP_TRY(sp_geometry_compute(&s->cfg, &s->geom, err));
    s->B = (size_t)s->cfg.batch_size;
    s->F = (size_t)s->cfg.flow_fields_per_batch;
    if (s->F > s->B || s->cfg.include_images) s->F = s->B; /* real images: one record per pair (real.c) */
    s->rg.height = s->geom.height;
    s->rg.width = s->geom.width;
    s->rg.radius = s->geom.radius;
    s->rg.band_rows = SP_BAND_ROWS;
    s->rg.psf = s->cfg.psf;
    s->noise.uniform = (float)s->cfg.noise_uniform;
    s->noise.gaussian_mean = (float)s->cfg.noise_gaussian_mean;
    s->noise.gaussian_std = (float)s->cfg.noise_gaussian_std;
    if (opt && opt->pool) {
        s->pool = opt->pool;
    } else {
        unsigned const threads = opt && opt->threads ? opt->threads : (unsigned)(s->cfg.threads > 0 ? s->cfg.threads : 0);
        SP_RETURN_IF(sp_pool_create(&s->pool, threads) != SP_OK, err, SP_ERR_NOMEM, "cannot create thread pool");
        s->own_pool = 1;
    }
    /* Source, order, shard, episodes and prefetch threads: a bad source fails here. */
    SP_TRY(sp__records_create(&s->records, &s->cfg, opt, s->F, s->pool, err));
    if (opt && opt->stage_timers) {
        s->worker_seconds = (double *)calloc((size_t)sp_pool_size(s->pool) * SP_TIMER_STRIDE, sizeof(double));
        SP_RETURN_IF(s->worker_seconds == NULL, err, SP_ERR_NOMEM, "out of memory");
        s->timers = 1;
    }
    if (s->cfg.include_images) SP_TRY(sp__real_probe(s, err));
    if (s->cfg.mask) SP_TRY(load_mask(s, err));
    if (s->cfg.histogram) SP_TRY(load_histogram(s, err));
    SP_TRY(alloc_batch(s, err));
    return SP_OK;
}

sp_status sp_sampler_create(sp_sampler **out, const sp_config *cfg, const sp_sampler_options *opt, sp_error *err)
{
    *out = NULL;
    sp_sampler *const s = (sp_sampler *)calloc(1, sizeof *s);
    SP_RETURN_IF(s == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status const st = sampler_init(s, cfg, opt, err);
    if (st != SP_OK) {
        sp_sampler_free(s);
        return st;
    }
    *out = s;
    return SP_OK;
}

void sp_sampler_free(sp_sampler *s)
{
    if (s == NULL) return;
    sp__records_free(s->records); /* first: its prefetch threads may be running */
    sp_batch *const b = &s->batch;
    for (size_t f = 0; f < SP_MAX_FRAMES; f++) free(s->own_images[f]);
    free(s->own_flows);
    free(s->flow_check);
    free(b->params);
    free(b->keys);
    free(b->seeds);
    free(b->epoch);
    free(b->mask);
    free(b->records);
    free(b->files);
    free(b->done);
    for (size_t k = 0; s->slots && k < s->B; k++) sp__pair_slot_release(&s->slots[k]);
    free(s->slots);
    if (s->out_flows != s->own_flows) free(s->out_flows);
    free(s->chunk_pair);
    free(s->chunk_first);
    free(s->chunk_counts);
    free(s->scratch);
    free(s->worker_seconds);
    free(s->mask);
    if (s->own_pool) sp_pool_free(s->pool);
    sp_config_free(&s->cfg);
    free(s);
}
