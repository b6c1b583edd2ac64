/* render.c: particle binning and the banded Gaussian splatting kernel.
 *
 * Data flow for one frame:
 *   sp_frame_bins_build: each particle's footprint centre (or "not drawn") in one
 *       branch-free vectorised pass, then a counting sort of the drawn particles into
 *       horizontal bands of band_rows rows by the rows their footprint covers (count, fill),
 *       so each band's list is in increasing particle index order.
 *   sp_render_band: zero the band's rows, then add the footprint rows of each particle of
 *       the band that fall inside it, with one of these kernels:
 *         point PSF        the whole (non-positive) exponent of every footprint pixel, one
 *                          vectorised exp pass (fixed-width variants for R = 1..6 when the
 *                          columns are whole; the same expression, so the same bytes);
 *         integrated, rho = 0        separable: erf-based column and row factors;
 *         integrated, 0 < |rho| <= 0.6  Y marginal x conditional X Gaussian, erf per row
 *                          (8-lane rows when the columns are whole, same bytes);
 *         integrated, |rho| > 0.6       4x4 samples per pixel of the whole exponent (the
 *                          separated factors would under- or overflow there).
 * Why (2R+1)^2 exponentials for the point PSF, not the textbook O(R) (separable factors and
 * a cross term advancing by a constant factor along each row; docs/performance.md): at the
 * radii PIV uses (R ~ 3) the per-pixel work dominates, and the row progression is a serial
 * multiply chain that keeps the row loop scalar. The vectorised whole-exponent pass
 * executes 25% fewer instructions in the stamp (callgrind, `generate -n 8` of
 * bench/synthpix_like_1216x1936.yaml: 1.08e9 against 1.43e9) and handles every rho without
 * a second path.
 * Invariants: a particle with a non-finite position or amplitude 0 is never binned; the
 * footprint of a binned particle intersects the image; |radius| <= SP_RENDER_MAX_RADIUS.
 */
#include "sp/sp_render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sp_math.h"
#include "render_internal.h"
#include "sp_v8.h"

#define SP_BAND_ROWS_DEFAULT 32u
#define SP_RHO_SEPARABLE_MAX 0.6f
#define SP_SQRT_HALF_PI 1.2533141373155f
#define SP_INV_SQRT2 0.70710678118654752f

/* Footprint centres of particles [0, n): c[2i], c[2i + 1] = the nearest pixel's row and
 * column, or c[2i] = INT32_MIN when the particle is invisible (amplitude 0, a non-finite
 * position) or its footprint misses the image. Branch-free, so it vectorises: the position
 * tests are written as "inside" comparisons, which NaN fails, and an invisible particle's
 * position is replaced by 0 before the conversion to int. */
static void footprint_centres(const sp_render_geometry *g, const sp_particles *p, int32_t *c)
{
    float const reach = (float)g->radius + 1.0f;
    float const ymax = (float)g->height + reach, xmax = (float)g->width + reach;
    int32_t const R = g->radius, hmax = (int32_t)g->height - 1, wmax = (int32_t)g->width - 1;
    const float *const py = p->y, *const px = p->x, *const pa = p->amplitude;
    for (size_t i = 0; i < p->count; i++) {
        float const y = py[i], x = px[i];
        int const inside = (pa[i] != 0.0f) & (y >= -reach) & (x >= -reach) & (y <= ymax) & (x <= xmax);
        int32_t const cy = (int32_t)floorf((inside ? y : 0.0f) + 0.5f);
        int32_t const cx = (int32_t)floorf((inside ? x : 0.0f) + 0.5f);
        int const hits = inside & (cy + R >= 0) & (cy - R <= hmax) & (cx + R >= 0) & (cx - R <= wmax);
        c[2 * i] = hits ? cy : INT32_MIN;
        c[2 * i + 1] = cx;
    }
}

static void band_span(const sp_render_geometry *g, size_t band_rows, long cy, size_t *b0, size_t *b1)
{
    long const R = g->radius;
    long const top = cy - R < 0 ? 0 : cy - R;
    long const bottom = cy + R > (long)g->height - 1 ? (long)g->height - 1 : cy + R;
    *b0 = (size_t)top / band_rows;
    *b1 = (size_t)bottom / band_rows;
}

static sp_status bins_reserve(sp_frame_bins *bins, size_t nbands, size_t ncenter, size_t nidx, sp_error *err)
{
    if (nbands + 1 > bins->start_capacity) {
        uint32_t *const s = (uint32_t *)realloc(bins->start, (nbands + 1) * sizeof *s);
        SP_RETURN_IF(s == NULL, err, SP_ERR_NOMEM, "out of memory binning particles");
        bins->start = s;
        bins->start_capacity = nbands + 1;
    }
    if (ncenter > bins->center_capacity) {
        int32_t *const c = (int32_t *)realloc(bins->center, ncenter * 2 * sizeof *c);
        SP_RETURN_IF(c == NULL, err, SP_ERR_NOMEM, "out of memory binning %zu particles", ncenter);
        bins->center = c;
        bins->center_capacity = ncenter;
    }
    if (nidx > bins->capacity) {
        uint32_t *const ix = (uint32_t *)realloc(bins->index, (nidx ? nidx : 1) * sizeof *ix);
        SP_RETURN_IF(ix == NULL, err, SP_ERR_NOMEM, "out of memory binning %zu particles", nidx);
        bins->index = ix;
        bins->capacity = nidx;
    }
    return SP_OK;
}

size_t sp__render_band_rows(const sp_render_geometry *g)
{
    return g->band_rows ? g->band_rows : SP_BAND_ROWS_DEFAULT;
}

SP_MULTIVERSION __attribute__((flatten)) sp_status sp_frame_bins_build(sp_frame_bins *bins, const sp_render_geometry *g, const sp_particles *p,
                              sp_error *err)
{
    SP_RETURN_IF(g->radius < 1 || g->radius > SP_RENDER_MAX_RADIUS, err, SP_ERR_RANGE,
                 "render radius %d outside [1, %d]", g->radius, SP_RENDER_MAX_RADIUS);
    SP_RETURN_IF(p->count >= UINT32_MAX / 2, err, SP_ERR_RANGE, "too many particles (%zu)", p->count);
    size_t const rows = sp__render_band_rows(g);
    size_t const nbands = (g->height + rows - 1) / rows;
    SP_RETURN_IF(g->height > INT32_MAX / 2 || g->width > INT32_MAX / 2, err, SP_ERR_RANGE,
                 "image %zux%zu too large to render", g->height, g->width);
    SP_TRY(bins_reserve(bins, nbands, p->count, 0, err));
    bins->nbands = nbands;
    bins->band_rows = rows;
    memset(bins->start, 0, (nbands + 1) * sizeof *bins->start);
    size_t b0, b1;
    /* Each footprint once: the centre (|centre| <= size + R + 1) is kept for the count, the
     * fill and sp_render_band. */
    int32_t *const c = bins->center;
    footprint_centres(g, p, c);
    for (size_t i = 0; i < p->count; i++) {
        if (c[2 * i] == INT32_MIN) continue;
        band_span(g, rows, c[2 * i], &b0, &b1);
        for (size_t b = b0; b <= b1; b++) bins->start[b + 1]++;
    }
    for (size_t b = 0; b < nbands; b++) bins->start[b + 1] += bins->start[b];
    SP_TRY(bins_reserve(bins, nbands, p->count, bins->start[nbands], err));
    /* Fill: start[b] is used as the write cursor of band b, then restored. */
    for (size_t i = 0; i < p->count; i++) {
        if (c[2 * i] == INT32_MIN) continue;
        band_span(g, rows, c[2 * i], &b0, &b1);
        for (size_t b = b0; b <= b1; b++) bins->index[bins->start[b]++] = (uint32_t)i;
    }
    for (size_t b = nbands; b > 0; b--) bins->start[b] = bins->start[b - 1];
    bins->start[0] = 0;
    return SP_OK;
}

void sp_frame_bins_release(sp_frame_bins *bins)
{
    if (bins == NULL) return;
    free(bins->start);
    free(bins->index);
    free(bins->center);
    memset(bins, 0, sizeof *bins);
}

/* x[i] = erf(x[i]) in place; one vectorised loop (same bits at any vector width). */
static void erf_array(float *x, size_t n) /* inlined into sp_render_band's clones */
{
    for (size_t i = 0; i < n; i++) x[i] = sp__erff(x[i]);
}

#if SP_HAVE_V8
/* out[b] = w (e[b + 1] - e[b]) for b < 8 nv: the pixel means from erf'd boundaries, 8 lanes
 * at a time (the same expression as the scalar loops). */
static inline void boundary_diffs_v8(const float *e, int nv, float w, float *out)
{
    for (int v = 0; v < nv; v++) {
        sp_v8f lo, hi;
        memcpy(&lo, e + 8 * v, sizeof lo);
        memcpy(&hi, e + 8 * v + 1, sizeof hi);
        sp_v8f const r = w * (hi - lo);
        memcpy(out + 8 * v, &r, sizeof r);
    }
}
#endif

/* Integrated axis factors for offsets -R..R around the centre pixel: the mean of
 * exp(-d^2 / (2 s^2)) over each pixel [d - 1/2, d + 1/2], f being the particle's sub-pixel
 * offset from the centre pixel (in [-0.5, 0.5)) and s the axis standard deviation. */
static void axis_factors(int R, float f, float s, float *out)
{
    float const inv = SP_INV_SQRT2 / s;
    float const scale = s * SP_SQRT_HALF_PI;
#if SP_HAVE_V8
    if (R >= 0 && R <= 7) { /* the 2R + 2 boundaries in one or two 8-lane vectors; same expressions */
        sp_v8i const lane = {0, 1, 2, 3, 4, 5, 6, 7};
        int const nv = (2 * R + 2 + 7) / 8;
        float e[3 * 8] = {0}, o[2 * 8];
        for (int v = 0; v < nv; v++) {
            sp_v8f const c = __builtin_convertvector(lane + (8 * v - R), sp_v8f); /* (float)(o - R) */
            sp_v8f const z = sp__erff_v8((c - f - 0.5f) * inv);
            memcpy(e + 8 * v, &z, sizeof z);
        }
        boundary_diffs_v8(e, nv, scale, o);
        /* Fixed sizes, so no call: the callers' arrays hold 2 SP_RENDER_MAX_RADIUS + 1 floats. */
        _Static_assert(2 * SP_RENDER_MAX_RADIUS + 1 >= 16, "axis factor arrays hold 16 floats");
        memcpy(out, o, 8 * sizeof *out);
        if (nv == 2) memcpy(out + 8, o + 8, 8 * sizeof *out);
        return;
    }
#endif
    float edge[2 * SP_RENDER_MAX_RADIUS + 2]; /* erf at the pixel boundaries */
    for (int o = 0; o <= 2 * R + 1; o++) edge[o] = ((float)(o - R) - f - 0.5f) * inv;
    erf_array(edge, (size_t)(2 * R + 2));
    for (int o = 0; o <= 2 * R; o++) out[o] = scale * (edge[o + 1] - edge[o]);
}

typedef struct particle_frame {
    long cy, cx;
    float fy, fx;
    float amp, rho, c; /* c = rho / ((1 - rho^2) sx sy) */
    float sxr, syr;    /* axis sigmas scaled by sqrt(1 - rho^2) */
} particle_frame;

static void particle_setup(const sp_particles *p, size_t i, long cy, long cx, particle_frame *q)
{
    float const rho = p->rho[i];
    float const omr = 1.0f - rho * rho;
    float const sq = sqrtf(omr);
    q->cy = cy;
    q->cx = cx;
    q->fy = p->y[i] - (float)cy;
    q->fx = p->x[i] - (float)cx;
    q->amp = p->amplitude[i];
    q->rho = rho;
    q->c = rho / (omr * p->sigma_x[i] * p->sigma_y[i]);
    q->sxr = p->sigma_x[i] * sq;
    q->syr = p->sigma_y[i] * sq;
}

/* Adds rows [a0, a1] x cols [b0, b1] (offsets from the centre pixel) of an uncorrelated
 * particle: the outer product of its row and column factors. */
static void splat_separable(const sp_render_geometry *g, const particle_frame *q, int a0, int a1, int b0,
                            int b1, const float *ex, const float *ey, float *dst)
{
    int const R = g->radius;
    size_t const W = g->width;
    for (int a = a0; a <= a1; a++) {
        float *const row = dst + (size_t)(q->cy + a) * W;
        float const wy = q->amp * ey[a + R];
        for (int b = b0; b <= b1; b++) row[q->cx + b] += wy * ex[b + R];
    }
}

/* exp(-z / (2 (1 - rho^2))) at offset (X, Y) from the centre: the whole exponent at once,
 * which stays finite where the separated factors would under- or overflow. */
static inline float gauss_full(const particle_frame *q, float X, float Y)
{
    /* With sxr = sx sqrt(1 - rho^2): z/(2(1-rho^2)) = X^2/(2 sxr^2) + Y^2/(2 syr^2) - c X Y. */
    float const e = X * X / (2.0f * q->sxr * q->sxr) + Y * Y / (2.0f * q->syr * q->syr) - q->c * X * Y;
    return sp__expf(e > 0.0f ? -e : 0.0f);
}

/* Strongly correlated particles: the whole exponent per pixel; the integrated PSF averages
 * a 4x4 grid of samples over the pixel (rare: |rho| > SP_RHO_SEPARABLE_MAX only). */
static void splat_direct(const sp_render_geometry *g, const particle_frame *q, int a0, int a1, int b0,
                         int b1, float *dst)
{
    size_t const W = g->width;
    int const sub = g->psf == SP_PSF_POINT ? 1 : 4;
    float const step = 1.0f / (float)sub;
    float const first = sub == 1 ? 0.0f : 0.5f * step - 0.5f;
    float const weight = q->amp / (float)(sub * sub);
    for (int a = a0; a <= a1; a++) {
        float *const row = dst + (size_t)(q->cy + a) * W;
        for (int b = b0; b <= b1; b++) {
            float acc = 0.0f;
            for (int u = 0; u < sub; u++)
                for (int v = 0; v < sub; v++)
                    acc += gauss_full(q, (float)b - q->fx + first + (float)v * step,
                                      (float)a - q->fy + first + (float)u * step);
            row[q->cx + b] += weight * acc;
        }
    }
}

/* Integrated PSF with 0 < |rho| <= SP_RHO_SEPARABLE_MAX. The correlated Gaussian factors
 * exactly as exp(-Y^2/(2 sy^2)) * exp(-(X - m Y)^2 / (2 sx^2 (1 - rho^2))), m = rho sx/sy:
 * the Y marginal times the conditional X Gaussian centred on m Y. Each row takes the pixel
 * mean of the marginal over the row's extent and the pixel means of the conditional
 * Gaussian at the row centre, so the footprint conserves the integral exactly (up to the
 * window) and costs (2R+2) erf per row. */
static void splat_integrated_sheared(const sp_render_geometry *g, const particle_frame *q, float sigma_x,
                                     float sigma_y, int a0, int a1, int b0, int b1, float *dst)
{
    int const R = g->radius;
    size_t const W = g->width;
    float ey[2 * SP_RENDER_MAX_RADIUS + 1];
    axis_factors(R, q->fy, sigma_y, ey);
    float const m = q->rho * sigma_x / sigma_y;
    float const inv = SP_INV_SQRT2 / q->sxr;
    float const scale = q->sxr * SP_SQRT_HALF_PI;
    /* All the column boundaries of all the rows in one vectorised erf pass. */
    enum { CAP = 1024 };
    float edge[CAP];
    int const ne = b1 - b0 + 2;
    int const rows_per_pass = CAP / ne;
    for (int a = a0; a <= a1; a += rows_per_pass) {
        int const last = a + rows_per_pass - 1 < a1 ? a + rows_per_pass - 1 : a1;
        size_t n = 0;
        for (int r = a; r <= last; r++) {
            float const shift = q->fx + m * ((float)r - q->fy);
            for (int e = 0; e < ne; e++) edge[n++] = ((float)(b0 + e) - shift - 0.5f) * inv;
        }
        erf_array(edge, n);
        for (int r = a; r <= last; r++) {
            float *const row = dst + (size_t)(q->cy + r) * W;
            float const wy = q->amp * ey[r + R] * scale;
            const float *const e = edge + (size_t)(r - a) * (size_t)ne;
            for (int b = b0; b <= b1; b++) row[q->cx + b] += wy * (e[b - b0 + 1] - e[b - b0]);
        }
    }
}

/* centre[b] += term[b] for the footprint columns b in [b0, b1] (offsets from the centre
 * pixel) that lie in the image: the v8 kernels' rows at the image's left and right edges,
 * where a whole 8-lane row would leave the image. */
static void edge_row_add(float *centre, const float *term, int b0, int b1)
{
    for (int b = b0; b <= b1; b++) centre[b] += term[b];
}

#if SP_HAVE_V8
/* splat_integrated_sheared with 8 nv lanes a row (nv = 1 for R <= 3, 2 for R <= 7): each
 * row's column boundaries as 8-lane vectors, erf'd with sp__erff_v8, and the differences
 * added as whole 8-lane rows when the 8 nv columns from the footprint's left edge lie inside
 * the image, else column by column for the columns [b0, b1] in it (edge_row_add). Every
 * real pixel gets the same expressions as in splat_integrated_sheared (column b's
 * boundaries are (float)b - shift - 0.5 scaled, whatever the first column), so the same
 * bits; the padding columns (footprint column >= 2R + 1) get exactly +0 added, which leaves
 * their (non-negative) pixels alone, as in splat_point_v8. Measured (callgrind, the
 * embedded default, 100 pairs): 7.9 M instructions a pair in the stamps before, 4.0 M with
 * this kernel, the vector axis factors and the one-operation masks; the edge rows through
 * it too: 3.83 M to ~3.7 M. */
static inline __attribute__((always_inline)) void sheared_v8_rows(const sp_render_geometry *g, const particle_frame *q,
                                                                  float sigma_x, float sigma_y, int a0, int a1, int b0,
                                                                  int b1, int nv, int whole, float *dst)
{
    int const R = g->radius, P = 2 * R + 1;
    long const W = (long)g->width; /* a local: the row stores (memcpy) may alias *g */
    float ey[2 * SP_RENDER_MAX_RADIUS + 1];
    axis_factors(R, q->fy, sigma_y, ey);
    float const m = q->rho * sigma_x / sigma_y;
    float const inv = SP_INV_SQRT2 / q->sxr;
    float const scale = q->sxr * SP_SQRT_HALF_PI;
    sp_v8i const lane = {0, 1, 2, 3, 4, 5, 6, 7};
    sp_v8f col[2];
    sp_v8i real[2];
    for (int v = 0; v < nv; v++) {
        sp_v8i const c = lane + 8 * v;                          /* footprint column */
        col[v] = __builtin_convertvector(c - R, sp_v8f);        /* (float)(b0 + e), b0 = -R */
        real[v] = c < P;
    }
    /* A row's boundaries, erf'd: column b's factor is e[b + 1] - e[b]. The P + 1 boundaries
     * fit in the nv vectors (P < 8 nv); e[8 nv] only meets a padding column. */
    float e[2 * 8 + 1] = {0};
    for (int a = a0; a <= a1; a++) {
        float const shift = q->fx + m * ((float)a - q->fy);
        for (int v = 0; v < nv; v++) {
            sp_v8f const z = sp__erff_v8((col[v] - shift - 0.5f) * inv);
            memcpy(e + 8 * v, &z, sizeof z);
        }
        float const wy = q->amp * ey[a + R] * scale;
        if (!whole) { /* the footprint meets the left or right edge: its columns in the image */
            float term[2 * 8];
            boundary_diffs_v8(e, nv, wy, term);
            edge_row_add(dst + (q->cy + a) * W + q->cx, term + R, b0, b1);
            continue;
        }
        float *const row = dst + ((q->cy + a) * W + (q->cx - R));
        for (int v = 0; v < nv; v++) {
            sp_v8f lo, hi, px;
            memcpy(&lo, e + 8 * v, sizeof lo);
            memcpy(&hi, e + 8 * v + 1, sizeof hi);
            memcpy(&px, row + 8 * v, sizeof px);
            px += sp__v8_keep(real[v], wy * (hi - lo));
            memcpy(row + 8 * v, &px, sizeof px);
        }
    }
}

/* The variants, nv and "whole rows" known at compile time. */
static void splat_integrated_sheared_v8(const sp_render_geometry *g, const particle_frame *q, float sigma_x,
                                        float sigma_y, int a0, int a1, int b0, int b1, int nv, float *dst)
{
    int const R = g->radius;
    int const whole = b0 == -R && b1 == R && (long)g->width - (q->cx - R) >= 8 * nv;
    if (nv == 1 && whole) sheared_v8_rows(g, q, sigma_x, sigma_y, a0, a1, b0, b1, 1, 1, dst);
    else if (nv == 1) sheared_v8_rows(g, q, sigma_x, sigma_y, a0, a1, b0, b1, 1, 0, dst);
    else if (whole) sheared_v8_rows(g, q, sigma_x, sigma_y, a0, a1, b0, b1, 2, 1, dst);
    else sheared_v8_rows(g, q, sigma_x, sigma_y, a0, a1, b0, b1, 2, 0, dst);
}
#endif

/* x[i] = exp(x[i]) in place. */
static void exp_array(float *x, size_t n) /* inlined into sp_render_band's clones */
{
    for (size_t i = 0; i < n; i++) x[i] = sp__expf(x[i]);
}

/* Fixed-width variants of splat_point for footprints whose columns lie inside the image
 * (the common case): P = 2R + 1 columns known at compile time, so the column loops unroll
 * and vectorise. Each pixel's exponent is the same expression, in the same order, as in
 * splat_point, so the bytes do not depend on which variant ran. */
#define SP_SPLAT_POINT_FIXED(P)                                                                   \
    static void splat_point_##P(const sp_render_geometry *g, const particle_frame *q, int a0,   \
                                int a1, float *dst)                                             \
    {                                                                                           \
        enum { R = (P - 1) / 2 };                                                               \
        float const kx = 1.0f / (2.0f * q->sxr * q->sxr), ky = 1.0f / (2.0f * q->syr * q->syr);  \
        float X[P], XX[P], z[P * P];                                                            \
        for (int b = 0; b < P; b++) {                                                           \
            X[b] = (float)(b - R) - q->fx;                                                      \
            XX[b] = X[b] * X[b] * kx;                                                           \
        }                                                                                       \
        int const n = a1 - a0 + 1;                                                              \
        for (int r = 0; r < n; r++) {                                                           \
            float const Y = (float)(a0 + r) - q->fy;                                            \
            float const yy = Y * Y * ky, cy = q->c * Y;                                         \
            for (int b = 0; b < P; b++) {                                                       \
                float const e = XX[b] + yy - cy * X[b];                                         \
                z[r * P + b] = e > 0.0f ? -e : 0.0f;                                            \
            }                                                                                   \
        }                                                                                       \
        exp_array(z, (size_t)(n * P));                                                          \
        for (int r = 0; r < n; r++) {                                                           \
            float *const row = dst + (size_t)(q->cy + a0 + r) * g->width + (size_t)(q->cx - R);  \
            for (int b = 0; b < P; b++) row[b] += q->amp * z[r * P + b];                        \
        }                                                                                       \
    }

SP_SPLAT_POINT_FIXED(3)
SP_SPLAT_POINT_FIXED(5)
SP_SPLAT_POINT_FIXED(7)
SP_SPLAT_POINT_FIXED(9)
SP_SPLAT_POINT_FIXED(11)
SP_SPLAT_POINT_FIXED(13)

#if SP_HAVE_V8
/* Padded variants: footprint rows of 8 (R <= 3) or 16 (4 <= R <= 7) columns, computed as
 * whole 8-lane vectors (sp_v8.h's sp__expf_v8: each lane has the bits of sp__expf). The
 * padding columns get exactly +0 added, which leaves a pixel that is >= +0 (every pixel is
 * a sum of non-negative terms from a +0 start) alone. The padding columns are the row's own pixels (the caller checks they lie
 * inside the image), written by this band's thread only. Each real pixel's exponent and sum
 * are the same expressions as in splat_point, so the bytes do not depend on the variant.
 * Measured (callgrind, 50,000 R = 3 stamps): ~1,180 instructions a stamp with the scalar
 * fixed-width loops, which the compiler does not vectorise at 7 columns, against ~230 here. */
static void splat_point_v8(const sp_render_geometry *g, const particle_frame *q, int a0, int a1, int nv, float *dst)
{
    int const R = g->radius, P = 2 * R + 1;
    long const W = (long)g->width; /* a local: the row stores (memcpy) may alias *g */
    float const kx = 1.0f / (2.0f * q->sxr * q->sxr), ky = 1.0f / (2.0f * q->syr * q->syr);
    sp_v8i const lane = {0, 1, 2, 3, 4, 5, 6, 7};
    sp_v8f X[2], XX[2];
    sp_v8i real[2];
    for (int v = 0; v < nv; v++) {
        sp_v8i const col = lane + 8 * v;                                  /* footprint column */
        X[v] = __builtin_convertvector(col - R, sp_v8f) - q->fx;         /* (float)(b - R) - fx */
        real[v] = col < P;
        XX[v] = X[v] * X[v] * kx;
    }
    sp_v8f const zero = sp__v8_splat(0.0f);
    for (int a = a0; a <= a1; a++) {
        float const Y = (float)a - q->fy;
        float const yy = Y * Y * ky, cy = q->c * Y;
        float *const row = dst + ((q->cy + a) * W + (q->cx - R));
        for (int v = 0; v < nv; v++) {
            sp_v8f const e = XX[v] + yy - cy * X[v];
            sp_v8f const z = sp__v8_keep(e > zero, -e); /* e > 0 ? -e : +0 */
            sp_v8f px;
            memcpy(&px, row + 8 * v, sizeof px);
            px += sp__v8_keep(real[v], q->amp * sp__expf_v8(z));
            memcpy(row + 8 * v, &px, sizeof px);
        }
    }
}
#endif

/* The fixed-width variant for this footprint, or 0 when none applies. */
static int splat_point_fixed(const sp_render_geometry *g, const particle_frame *q, int a0, int a1, int b0, int b1,
                             float *dst)
{
    int const R = g->radius;
    if (b0 != -R || b1 != R) return 0;
#if SP_HAVE_V8
    long const room = (long)g->width - (q->cx - R); /* columns from the footprint's left edge */
    int const nv = R <= 3 ? 1 : R <= 7 ? 2 : 0;     /* 8-lane vectors per footprint row */
    if (nv && room >= 8 * nv) {
        splat_point_v8(g, q, a0, a1, nv, dst);
        return 1;
    }
#endif
    switch (R) {
    case 1: splat_point_3(g, q, a0, a1, dst); return 1;
    case 2: splat_point_5(g, q, a0, a1, dst); return 1;
    case 3: splat_point_7(g, q, a0, a1, dst); return 1;
    case 4: splat_point_9(g, q, a0, a1, dst); return 1;
    case 5: splat_point_11(g, q, a0, a1, dst); return 1;
    case 6: splat_point_13(g, q, a0, a1, dst); return 1;
    default: return 0;
    }
}

/* Point PSF, any rho: the whole exponent -(X^2 kx + Y^2 ky - c X Y) of every footprint pixel
 * in one array and one vectorised exp pass, then the rows are added. kx = 1/(2 sxr^2). The
 * exponent is <= 0 (positive definite form), so nothing overflows whatever rho is. */
static void splat_point(const sp_render_geometry *g, const particle_frame *q, int a0, int a1, int b0, int b1,
                        float *dst)
{
    size_t const W = g->width;
    float const kx = 1.0f / (2.0f * q->sxr * q->sxr), ky = 1.0f / (2.0f * q->syr * q->syr);
    enum { CAP = 1024 };
    float z[CAP];
    int const nb = b1 - b0 + 1;
    int const rows_per_pass = CAP / nb;
    for (int a = a0; a <= a1; a += rows_per_pass) {
        int const last = a + rows_per_pass - 1 < a1 ? a + rows_per_pass - 1 : a1;
        size_t n = 0;
        for (int r = a; r <= last; r++) {
            float const Y = (float)r - q->fy;
            float const yy = Y * Y * ky, cy = q->c * Y;
            for (int b = b0; b <= b1; b++) {
                float const X = (float)b - q->fx;
                float const e = X * X * kx + yy - cy * X;
                z[n++] = e > 0.0f ? -e : 0.0f;
            }
        }
        exp_array(z, n);
        for (int r = a; r <= last; r++) {
            float *const row = dst + (size_t)(q->cy + r) * W + (size_t)(q->cx + b0);
            const float *const zr = z + (size_t)(r - a) * (size_t)nb;
            for (int b = 0; b < nb; b++) row[b] += q->amp * zr[b];
        }
    }
}

static void render_particle(const sp_render_geometry *g, const sp_particles *p, const sp_frame_bins *bins, size_t i,
                            long r0, long r1, float *dst)
{
    /* Binned particles passed footprint_centres(): finite, visible and touching the image. */
    long const cy = bins->center[2 * i], cx = bins->center[2 * i + 1];
    int const R = g->radius;
    particle_frame q;
    particle_setup(p, i, cy, cx, &q);
    long const la0 = r0 - cy > -R ? r0 - cy : -R;
    long const la1 = r1 - 1 - cy < R ? r1 - 1 - cy : R;
    long const lb0 = -cx > -R ? -cx : -R;
    long const lb1 = (long)g->width - 1 - cx < R ? (long)g->width - 1 - cx : R;
    if (la0 > la1 || lb0 > lb1) return;
    if (g->psf == SP_PSF_POINT) {
        if (!splat_point_fixed(g, &q, (int)la0, (int)la1, (int)lb0, (int)lb1, dst))
            splat_point(g, &q, (int)la0, (int)la1, (int)lb0, (int)lb1, dst);
        return;
    }
    if (fabsf(q.rho) > SP_RHO_SEPARABLE_MAX) {
        splat_direct(g, &q, (int)la0, (int)la1, (int)lb0, (int)lb1, dst);
        return;
    }
    if (q.rho != 0.0f) {
#if SP_HAVE_V8
        int const nv = R <= 3 ? 1 : R <= 7 ? 2 : 0; /* 8-lane vectors per footprint row */
        if (nv) {
            splat_integrated_sheared_v8(g, &q, p->sigma_x[i], p->sigma_y[i], (int)la0, (int)la1, (int)lb0, (int)lb1,
                                        nv, dst);
            return;
        }
#endif
        splat_integrated_sheared(g, &q, p->sigma_x[i], p->sigma_y[i], (int)la0, (int)la1, (int)lb0, (int)lb1, dst);
        return;
    }
    float ex[2 * SP_RENDER_MAX_RADIUS + 1], ey[2 * SP_RENDER_MAX_RADIUS + 1];
    axis_factors(R, q.fx, q.sxr, ex);
    axis_factors(R, q.fy, q.syr, ey);
    splat_separable(g, &q, (int)la0, (int)la1, (int)lb0, (int)lb1, ex, ey, dst);
}

/* dst[0, n) = +0. Why not memset: glibc's memset uses `rep stosb` for large sizes, which
 * callgrind counts as one instruction a byte (18.8 M of the 126 M instructions of a
 * 1216x1936 pair), hiding the kernels' own counts; 8-lane stores cost the same time and
 * count one instruction per 32 bytes. */
static void clear_rows(float *dst, size_t n)
{
    size_t i = 0;
#if SP_HAVE_V8
    sp_v8f const zero = sp__v8_splat(0.0f);
    for (; i + 8 <= n; i += 8) memcpy(dst + i, &zero, sizeof zero);
#endif
    for (; i < n; i++) dst[i] = 0.0f;
}

SP_MULTIVERSION __attribute__((flatten)) void sp_render_band(const sp_render_geometry *g, const sp_particles *p, const sp_frame_bins *bins,
                    size_t band, float *dst)
{
    size_t const r0 = band * bins->band_rows;
    size_t const r1 = r0 + bins->band_rows < g->height ? r0 + bins->band_rows : g->height;
    clear_rows(dst + r0 * g->width, (r1 - r0) * g->width);
    for (uint32_t k = bins->start[band]; k < bins->start[band + 1]; k++)
        render_particle(g, p, bins, bins->index[k], (long)r0, (long)r1, dst);
}

sp_status sp_render_frame(const sp_render_geometry *g, const sp_particles *p, float *dst, sp_error *err)
{
    sp_frame_bins bins;
    memset(&bins, 0, sizeof bins);
    sp_status const st = sp_frame_bins_build(&bins, g, p, err);
    if (st == SP_OK)
        for (size_t b = 0; b < bins.nbands; b++) sp_render_band(g, p, &bins, b, dst);
    sp_frame_bins_release(&bins);
    return st;
}
