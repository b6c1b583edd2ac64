/* analytic.c: the built-in analytic flows and the kinematic random smooth flow.
 *
 * Map
 *   sp_analytic_velocity  the closed-form velocity at a physical point (double).
 *   sp_analytic_fill      validates, then either evaluates that formula at every grid point
 *                         (out = (float) of the double result, so ground-truth checks can
 *                         compare exactly; fill_row and fill_taylor_green give the same bits
 *                         row by row, with the kind's switch out of the loop; Lamb-Oseen
 *                         4 points at a time with a vector expm1 and libm's where the float
 *                         could differ, lamb_oseen_row) or generates a kinematic field.
 *
 * Geometry: grid point (i, j) of an (Hf, Wf) grid over the domain (ly, lx) sits at
 * y = i * ly / Hf, x = j * lx / Wf (measure units); velocities are units/s; channel 0 = u
 * (x, right), 1 = v (y, down), channel 2 (when present) = w, the entry's constant out-of-plane
 * velocity (0 unless given; docs/realism.md). A NaN centre component means the
 * domain centre (ly/2, lx/2); a NaN Poiseuille half-width means ly/2.
 *
 * Formulas (Y = y - cy, X = x - cx, r^2 = X^2 + Y^2):
 *   uniform       (u, v)
 *   vortices      u = -F Y, v = F X with F = u_theta / r, so a positive circulation turns
 *                 clockwise on screen (v > 0 to the right of the centre).
 *                 Lamb-Oseen: F = G/(2 pi rc^2) f(s), s = r^2/rc^2, f(s) = (1 - e^-s)/s,
 *                 written without dividing by r; f uses a series below s = 1e-3, so the
 *                 centre gives 0 with no NaN, and expm1 above it, so nothing cancels.
 *                 Rankine: F = G/(2 pi rc^2) for r <= rc, G/(2 pi r^2) outside.
 *   taylor_green  u = A sin(kx) cos(ky), v = -A cos(kx) sin(ky), k = 2 pi / wavelength,
 *                 x and y from the domain origin.
 *   shear         u = rate Y, v = 0.
 *   poiseuille    u = A (1 - (Y/h)^2) for |Y| <= h, else 0; v = 0.
 *   stagnation    u = rate X, v = -rate Y.
 *
 * Kinematic (random smooth flow, docs/flows.md), for record r and seed s:
 *   key   = fold_in(PRNGKey(s), r mod 2^32); when r >= 2^32, fold_in(key, r >> 32) too
 *   sigma = uniform(split(key)[0], 0, smin, smax)   (grid cells, float32)
 *   a     = uniform(split(key)[1], 0, amin, amax)   (float32)
 *   noise = uniform [-1, 1) from split(key)[2], element (i, j, c) at flat index (i Wf + j) 2 + c
 *   each channel filtered by a Gaussian of sigma (flow_filter.c, scipy's conventions), then
 *   scale_mode peak (default): (u, v) scaled by a / max |(u, v)| in double (a zero field
 *   stays zero); scale_mode literal: (u, v) times a, in double, with no rescaling.
 * Single-threaded and free of global state: the same (seed, record) gives the same bytes
 * everywhere.
 */
#include "sp/sp_flow.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "flow_filter.h"
#include "flow_v4.h"
#include "sp_internal.h"
#include "sp/sp_rng.h"

#define SP_TWO_PI 6.283185307179586476925286766559

/* Parameters with the NaN defaults replaced by their meaning for one domain. */
typedef struct sp_resolved {
    const sp_analytic_params *p;
    double cy, cx; /* centre */
    double half;   /* Poiseuille half-width */
    double u, v;   /* uniform velocity (from the polar form when set) */
} sp_resolved;

static sp_resolved resolve(const sp_analytic_params *p, double ly, double lx)
{
    sp_resolved r;
    r.p = p;
    double const a = p->angle * (3.14159265358979323846 / 180.0);
    r.u = p->polar ? p->speed * cos(a) : p->u;
    r.v = p->polar ? p->speed * sin(a) : p->v;
    r.cy = isnan(p->center[0]) ? 0.5 * ly : p->center[0];
    r.cx = isnan(p->center[1]) ? 0.5 * lx : p->center[1];
    r.half = isnan(p->half_width) ? 0.5 * ly : p->half_width;
    return r;
}

/* (1 - e^-s) / s for s >= 0. The series' first omitted term, s^5/720, is below 1.4e-18 for
 * s < 1e-3, i.e. under half an ulp of a value near 1. */
static double lamb_oseen_shape(double s)
{
    if (s < 1e-3) return 1.0 + s * (-0.5 + s * (1.0 / 6.0 + s * (-1.0 / 24.0 + s / 120.0)));
    return -expm1(-s) / s;
}

/* u_theta / r for each vortex. */
static double lamb_oseen_factor(const sp_analytic_params *p, double r2)
{
    double const rc2 = p->core_radius * p->core_radius;
    return p->circulation / (SP_TWO_PI * rc2) * lamb_oseen_shape(r2 / rc2);
}

static double rankine_factor(const sp_analytic_params *p, double r2)
{
    double const rc2 = p->core_radius * p->core_radius;
    return p->circulation / (SP_TWO_PI * (r2 <= rc2 ? rc2 : r2));
}

static void vortex(const sp_resolved *q, double y, double x, double *u, double *v)
{
    double const dy = y - q->cy, dx = x - q->cx;
    double const r2 = dx * dx + dy * dy;
    double const f = q->p->kind == SP_FLOW_RANKINE ? rankine_factor(q->p, r2)
                                                   : lamb_oseen_factor(q->p, r2);
    *u = -f * dy;
    *v = f * dx;
}

static void taylor_green(const sp_analytic_params *p, double y, double x, double *u, double *v)
{
    double const k = SP_TWO_PI / p->wavelength;
    *u = p->amplitude * sin(k * x) * cos(k * y);
    *v = -p->amplitude * cos(k * x) * sin(k * y);
}

static void poiseuille(const sp_resolved *q, double y, double *u, double *v)
{
    double const d = (y - q->cy) / q->half;
    *u = fabs(y - q->cy) <= q->half ? q->p->amplitude * (1.0 - d * d) : 0.0;
    *v = 0.0;
}

/* One switch over the kinds; each case is one formula. */
static void eval_point(const sp_resolved *q, double y, double x, double *u, double *v)
{
    const sp_analytic_params *const p = q->p;
    switch (p->kind) {
    case SP_FLOW_UNIFORM: *u = q->u; *v = q->v; return;
    case SP_FLOW_LAMB_OSEEN:
    case SP_FLOW_RANKINE: vortex(q, y, x, u, v); return;
    case SP_FLOW_TAYLOR_GREEN: taylor_green(p, y, x, u, v); return;
    case SP_FLOW_SHEAR: *u = p->rate * (y - q->cy); *v = 0.0; return;
    case SP_FLOW_POISEUILLE: poiseuille(q, y, u, v); return;
    case SP_FLOW_STAGNATION: *u = p->rate * (x - q->cx); *v = -p->rate * (y - q->cy); return;
    case SP_FLOW_KINEMATIC:
    case SP_FLOW_KIND_COUNT_: break;
    }
    *u = 0.0; /* the kinematic flow has no closed form */
    *v = 0.0;
}

void sp_analytic_velocity(const sp_analytic_params *p, double ly, double lx, double y, double x,
                          double *u, double *v)
{
    sp_resolved const q = resolve(p, ly, lx);
    eval_point(&q, y, x, u, v);
}

/* ---- validation ------------------------------------------------------------------- */

static sp_status check_finite(double value, const char *name, sp_error *err)
{
    SP_RETURN_IF(!isfinite(value), err, SP_ERR_RANGE,
                 "analytic_flow.%s = %g: must be a finite number", name, value);
    return SP_OK;
}

static sp_status check_positive(double value, const char *name, sp_error *err)
{
    SP_RETURN_IF(!isfinite(value) || !(value > 0.0), err, SP_ERR_RANGE,
                 "analytic_flow.%s = %g: must be a finite number > 0", name, value);
    return SP_OK;
}

/* NaN is allowed (it selects the default); infinities are not. */
static sp_status check_center(const sp_analytic_params *p, sp_error *err)
{
    SP_RETURN_IF(isinf(p->center[0]) || isinf(p->center[1]), err, SP_ERR_RANGE,
                 "analytic_flow.center = (%g, %g): must be finite (or NaN for the domain centre)",
                 p->center[0], p->center[1]);
    return SP_OK;
}

static sp_status check_range(const double r[2], double max, const char *name, sp_error *err)
{
    SP_RETURN_IF(!isfinite(r[0]) || !isfinite(r[1]) || !(r[0] >= 0.0) || !(r[0] <= r[1]) ||
                     !(r[1] <= max),
                 err, SP_ERR_RANGE, "analytic_flow.%s = (%g, %g): need 0 <= min <= max <= %g",
                 name, r[0], r[1], max);
    return SP_OK;
}

static sp_status check_vortex(const sp_analytic_params *p, sp_error *err)
{
    SP_TRY(check_center(p, err));
    SP_TRY(check_finite(p->circulation, "circulation", err));
    return check_positive(p->core_radius, "core_radius", err);
}

static sp_status check_poiseuille(const sp_analytic_params *p, sp_error *err)
{
    SP_TRY(check_center(p, err));
    SP_TRY(check_finite(p->amplitude, "amplitude", err));
    if (isnan(p->half_width)) return SP_OK; /* half the domain height */
    return check_positive(p->half_width, "half_width", err);
}

static sp_status check_kind_params(const sp_analytic_params *p, sp_error *err);

static sp_status check_params(const sp_analytic_params *p, sp_error *err)
{
    SP_TRY(check_finite(p->w, "w", err));
    SP_RETURN_IF(p->scale_mode != SP_KINEMATIC_SCALE_PEAK && p->scale_mode != SP_KINEMATIC_SCALE_LITERAL, err,
                 SP_ERR_INVALID, "analytic_flow.scale_mode = %d: expected peak (0) or literal (1)", (int)p->scale_mode);
    return check_kind_params(p, err);
}

static sp_status check_kind_params(const sp_analytic_params *p, sp_error *err)
{
    switch (p->kind) {
    case SP_FLOW_UNIFORM:
        SP_TRY(check_finite(p->polar ? p->speed : p->u, p->polar ? "speed" : "u", err));
        return check_finite(p->polar ? p->angle : p->v, p->polar ? "angle" : "v", err);
    case SP_FLOW_LAMB_OSEEN:
    case SP_FLOW_RANKINE: return check_vortex(p, err);
    case SP_FLOW_TAYLOR_GREEN:
        SP_TRY(check_finite(p->amplitude, "amplitude", err));
        return check_positive(p->wavelength, "wavelength", err);
    case SP_FLOW_SHEAR:
    case SP_FLOW_STAGNATION:
        SP_TRY(check_center(p, err));
        return check_finite(p->rate, "rate", err);
    case SP_FLOW_POISEUILLE: return check_poiseuille(p, err);
    case SP_FLOW_KINEMATIC:
        SP_TRY(check_range(p->filter_sigma_range, SP_GAUSS_SIGMA_MAX, "filter_sigma_range", err));
        return check_range(p->max_displacement_range, (double)FLT_MAX, "max_displacement_range", err);
    case SP_FLOW_KIND_COUNT_: break;
    }
    return sp_error_set(err, SP_ERR_INVALID, "analytic_flow.kind = %d: unknown kind", (int)p->kind);
}

static sp_status check_target(double ly, double lx, const sp_flow *out, sp_error *err)
{
    SP_RETURN_IF(!isfinite(ly) || !isfinite(lx) || !(ly > 0.0) || !(lx > 0.0), err, SP_ERR_RANGE,
                 "flow_field_size = (%g, %g): both must be finite and > 0", ly, lx);
    SP_RETURN_IF(out == NULL || out->data == NULL || out->height == 0 || out->width == 0, err,
                 SP_ERR_INVALID, "analytic flow output: not allocated");
    SP_RETURN_IF(out->channels != 2 && out->channels != 3, err, SP_ERR_INVALID,
                 "analytic flow output: %zu channels, expected 2 or 3", out->channels);
    return SP_OK;
}

/* ---- evaluation ------------------------------------------------------------------- */

/* One grid point; channel 2, when the flow has one, is the entry's constant w. */
static void store(sp_flow *out, size_t i, size_t j, double u, double v, double w)
{
    float *const cell = out->data + sp_flow_index(out, i, j, 0);
    cell[0] = (float)u;
    cell[1] = (float)v;
    if (out->channels == 3) cell[2] = (float)w;
}

/* Taylor-Green is separable: sin and cos of k x per column and of k y per row, then the same
 * products as taylor_green(), (A sin kx) cos ky and (-A cos kx) sin ky, so the same bits for
 * two sincos a row and a column instead of two a point. */
SP_MULTIVERSION static int fill_taylor_green(const sp_analytic_params *p, const double *xs, double ly, sp_flow *out)
{
    size_t const H = out->height, W = out->width;
    double *const t = (double *)malloc(2 * W * sizeof *t);
    if (t == NULL) return 0;
    double const k = SP_TWO_PI / p->wavelength;
    for (size_t j = 0; j < W; j++) t[2 * j] = p->amplitude * sin(k * xs[j]), t[2 * j + 1] = -p->amplitude * cos(k * xs[j]);
    for (size_t i = 0; i < H; i++) {
        double const y = (double)i * ly / (double)H, cy = cos(k * y), sy = sin(k * y);
        float *const row = out->data + sp_flow_index(out, i, 0, 0);
        if (out->channels == 2)
            for (size_t j = 0; j < W; j++) row[2 * j] = (float)(t[2 * j] * cy), row[2 * j + 1] = (float)(t[2 * j + 1] * sy);
        else
            for (size_t j = 0; j < W; j++) store(out, i, j, t[2 * j] * cy, t[2 * j + 1] * sy, p->w);
    }
    free(t);
    return 1;
}

/* Points [j0, j1) of a Lamb-Oseen row with libm's expm1 (the reference expressions). */
static void lamb_oseen_points(const sp_analytic_params *p, double dy, double cx, const double *xs, size_t j0,
                              size_t j1, size_t C, float wf, float *row)
{
    for (size_t j = j0; j < j1; j++) {
        double const dx = xs[j] - cx;
        double const f = lamb_oseen_factor(p, dx * dx + dy * dy);
        row[C * j] = (float)(-f * dy), row[C * j + 1] = (float)(f * dx);
        if (C == 3) row[C * j + 2] = wf;
    }
}

/* A Lamb-Oseen row, 4 points at a time with the same expressions as lamb_oseen_points
 * except expm1, which is flow_v4.h's (its map says why the floats are still libm's); a
 * group with a lane whose float that approximation could change is redone by
 * lamb_oseen_points. Measured (callgrind, the embedded default): 1.37 M instructions a
 * pair on Lamb-Oseen flows (one record in eight) with a libm call a point, 0.32 M here. */
SP_MULTIVERSION static void lamb_oseen_row(const sp_analytic_params *p, double dy, double cx, const double *xs,
                                           size_t W, size_t C, float wf, float *row)
{
    size_t j = 0;
#if SP_HAVE_V4D
    double const rc2 = p->core_radius * p->core_radius;
    double const k = p->circulation / (SP_TWO_PI * rc2);
    for (; j + 4 <= W; j += 4) {
        sp_v4d x;
        memcpy(&x, xs + j, sizeof x);
        sp_v4d const dx = x - cx;
        sp_v4d const s = (dx * dx + dy * dy) / rc2;
        sp_v4d const series = 1.0 + s * (-0.5 + s * (1.0 / 6.0 + s * (-1.0 / 24.0 + s / 120.0)));
        sp_v4d const shape = sp__v4d_select(s < 1e-3, series, -sp__expm1_neg_v4(-s) / s);
        sp_v4d const f = k * shape;
        sp_v4d const u = -f * dy, v = f * dx;
        if (sp__v4i_any(sp__v4d_float_unsure(u) | sp__v4d_float_unsure(v))) {
            lamb_oseen_points(p, dy, cx, xs, j, j + 4, C, wf, row);
            continue;
        }
        sp_v4f const uf = __builtin_convertvector(u, sp_v4f), vf = __builtin_convertvector(v, sp_v4f);
        if (C == 2) {
            float both[8] = {uf[0], vf[0], uf[1], vf[1], uf[2], vf[2], uf[3], vf[3]};
            memcpy(row + 2 * j, both, sizeof both);
        } else {
            for (size_t l = 0; l < 4; l++) row[3 * (j + l)] = uf[l], row[3 * (j + l) + 1] = vf[l], row[3 * (j + l) + 2] = wf;
        }
    }
#endif
    lamb_oseen_points(p, dy, cx, xs, j, W, C, wf, row);
}

/* Row i of the kinds whose formula is plain arithmetic, with the switch out of the loop and
 * the terms that depend on y alone computed once per row: the same expressions as
 * eval_point, so the same bits, in loops that vectorise (about 30 instructions a point
 * before, through a switch and store() per point). Returns 0 for the other kinds. */
#define SP_ROW_LOOP(U, V)                                                                     \
    do {                                                                                      \
        if (C == 2)                                                                           \
            for (size_t j = 0; j < W; j++) row[2 * j] = (float)(U), row[2 * j + 1] = (float)(V); \
        else                                                                                  \
            for (size_t j = 0; j < W; j++)                                                    \
                row[3 * j] = (float)(U), row[3 * j + 1] = (float)(V), row[3 * j + 2] = wf;    \
    } while (0)

SP_MULTIVERSION static int fill_row(const sp_resolved *q, double y, const double *xs, sp_flow *out, size_t i)
{
    const sp_analytic_params *const p = q->p;
    size_t const W = out->width, C = out->channels;
    float *const row = out->data + sp_flow_index(out, i, 0, 0);
    float const wf = (float)p->w;
    switch (p->kind) {
    case SP_FLOW_UNIFORM: SP_ROW_LOOP(q->u, q->v); return 1;
    case SP_FLOW_SHEAR: {
        double const u = p->rate * (y - q->cy);
        SP_ROW_LOOP(u, 0.0);
        return 1;
    }
    case SP_FLOW_POISEUILLE: {
        double u, v;
        poiseuille(q, y, &u, &v);
        SP_ROW_LOOP(u, v);
        return 1;
    }
    case SP_FLOW_STAGNATION: {
        double const v = -p->rate * (y - q->cy);
        SP_ROW_LOOP(p->rate * (xs[j] - q->cx), v);
        return 1;
    }
    case SP_FLOW_RANKINE: {
        double const dy = y - q->cy, rc2 = p->core_radius * p->core_radius;
#define SP_RANKINE_F(dx) (p->circulation / (SP_TWO_PI * ((dx) * (dx) + dy * dy <= rc2 ? rc2 : (dx) * (dx) + dy * dy)))
        SP_ROW_LOOP(-SP_RANKINE_F(xs[j] - q->cx) * dy, SP_RANKINE_F(xs[j] - q->cx) * (xs[j] - q->cx));
#undef SP_RANKINE_F
        return 1;
    }
    case SP_FLOW_LAMB_OSEEN: lamb_oseen_row(p, y - q->cy, q->cx, xs, W, C, wf, row); return 1;
    case SP_FLOW_TAYLOR_GREEN:
    case SP_FLOW_KINEMATIC:
    case SP_FLOW_KIND_COUNT_: break;
    }
    return 0;
}
#undef SP_ROW_LOOP

static void fill_formula(const sp_analytic_params *p, double ly, double lx, sp_flow *out)
{
    sp_resolved const q = resolve(p, ly, lx);
    double const hf = (double)out->height, wf = (double)out->width;
    /* x of each column, computed once (the same expression as per point). */
    double *const xs = (double *)malloc(out->width * sizeof *xs);
    for (size_t j = 0; xs && j < out->width; j++) xs[j] = (double)j * lx / wf;
    if (xs && p->kind == SP_FLOW_TAYLOR_GREEN && fill_taylor_green(p, xs, ly, out)) {
        free(xs);
        return;
    }
    for (size_t i = 0; i < out->height; i++) {
        double const y = (double)i * ly / hf;
        if (xs && fill_row(&q, y, xs, out, i)) continue;
        for (size_t j = 0; j < out->width; j++) {
            double u, v;
            eval_point(&q, y, xs ? xs[j] : (double)j * lx / wf, &u, &v);
            store(out, i, j, u, v, p->w);
        }
    }
    free(xs);
}

/* The record's key: 32-bit records fold in once, as SynthPix's (seed, i); larger ones fold in
 * the low word, then the high word, so every 64-bit record has its own key. */
static sp_key kinematic_key(uint32_t seed, uint64_t record)
{
    sp_key key = sp_key_fold_in(sp_key_from_seed(seed), (uint32_t)record);
    if (record >> 32) key = sp_key_fold_in(key, (uint32_t)(record >> 32));
    return key;
}

/* Noise into two planes (u then v). Row by row: element (i, j, c) is draw (i W + j) 2 + c
 * whatever the chunking, since each draw depends only on (key, index). */
static sp_status kinematic_noise(sp_key key, size_t h, size_t w, float *planes)
{
    float *const row = (float *)malloc(2 * w * sizeof(float));
    if (row == NULL) return SP_ERR_NOMEM;
    for (size_t i = 0; i < h; i++) {
        sp_uniform_fill(key, (uint64_t)i * w * 2, 2 * w, -1.0f, 1.0f, row);
        for (size_t j = 0; j < w; j++) {
            planes[i * w + j] = row[2 * j];
            planes[h * w + i * w + j] = row[2 * j + 1];
        }
    }
    free(row);
    return SP_OK;
}

/* The factor of the filtered noise: a / max |(u, v)| (peak; a zero field stays zero) or a
 * itself (literal). */
static double kinematic_scale(const float *planes, size_t n, double a, sp_kinematic_scale mode)
{
    if (mode == SP_KINEMATIC_SCALE_LITERAL) return a;
    double m2 = 0.0;
    for (size_t k = 0; k < n; k++) {
        double const u = (double)planes[k], v = (double)planes[n + k];
        double const s = u * u + v * v;
        if (s > m2) m2 = s;
    }
    return m2 > 0.0 ? a / sqrt(m2) : 0.0;
}

/* Scales (u, v) by the scale mode's factor, writing the flow's interleaved layout. */
SP_MULTIVERSION static void kinematic_store(const float *planes, double a, const sp_analytic_params *p, sp_flow *out)
{
    size_t const n = out->height * out->width;
    double const scale = kinematic_scale(planes, n, a, p->scale_mode);
    for (size_t k = 0; k < n; k++) {
        float *const cell = out->data + k * out->channels;
        cell[0] = (float)((double)planes[k] * scale);
        cell[1] = (float)((double)planes[n + k] * scale);
        if (out->channels == 3) cell[2] = (float)p->w;
    }
}

static sp_status fill_kinematic(const sp_analytic_params *p, uint32_t seed, uint64_t record,
                                sp_flow *out, sp_error *err)
{
    sp_key const key = kinematic_key(seed, record);
    const double *const sr = p->filter_sigma_range, *const ar = p->max_displacement_range;
    float const sigma = sp_uniform(sp_key_split_at(key, 0), 0, (float)sr[0], (float)sr[1]);
    float const a = sp_uniform(sp_key_split_at(key, 1), 0, (float)ar[0], (float)ar[1]);
    size_t const h = out->height, w = out->width;
    size_t n = 0;
    SP_RETURN_IF(!sp__mul_size(h * w, 2 * sizeof(float), &n), err, SP_ERR_RANGE,
                 "kinematic flow (%zu, %zu) too large", h, w);
    float *const planes = (float *)malloc(n);
    sp_status st = planes ? kinematic_noise(sp_key_split_at(key, 2), h, w, planes) : SP_ERR_NOMEM;
    if (st == SP_OK) st = sp__gaussian_filter_2d(planes, h, w, (double)sigma);
    if (st == SP_OK) st = sp__gaussian_filter_2d(planes + h * w, h, w, (double)sigma);
    if (st == SP_OK) kinematic_store(planes, (double)a, p, out);
    free(planes);
    SP_RETURN_IF(st != SP_OK, err, st, "kinematic flow (%zu, %zu), sigma %g: out of memory", h, w,
                 (double)sigma);
    return SP_OK;
}

int sp_analytic_has_w(const sp_analytic_params *spec)
{
    return spec->w != 0.0 || (spec->random & (1u << SP_AP_W)) != 0;
}

sp_status sp_analytic_fill(const sp_analytic_params *p, double ly, double lx, uint32_t seed,
                           uint64_t record, sp_flow *out, sp_error *err)
{
    SP_RETURN_IF(p == NULL, err, SP_ERR_INVALID, "analytic flow: no parameters");
    SP_TRY(check_target(ly, lx, out, err));
    SP_TRY(check_params(p, err));
    if (p->kind == SP_FLOW_KINEMATIC) return fill_kinematic(p, seed, record, out, err);
    fill_formula(p, ly, lx, out);
    return SP_OK;
}
