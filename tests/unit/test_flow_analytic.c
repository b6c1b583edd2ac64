/* test_flow_analytic.c: the built-in analytic flows and the kinematic random smooth flow.
 *
 * Each expectation is computed independently of the implementation: hand-evaluated
 * formulas at chosen points, analytic error bounds for the discrete divergence, draws
 * recomputed from the RNG API, and scipy.ndimage for the Gaussian filter.
 */
#include "sp_test.h"

#include <float.h>
#include <pthread.h>
#include <time.h>

#include "flow_filter.h"
#include "flow_v4.h"
#include "sp/sp_flow.h"
#include "sp/sp_rng.h"

#define PI 3.14159265358979323846
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---------------------------------------------------------------------- */

static void vel(const sp_analytic_params *p, double ly, double lx, double y, double x, double *u,
                double *v)
{
    sp_analytic_velocity(p, ly, lx, y, x, u, v);
}

/* |got - want| <= rel |want| + abs_tol. */
static int close_to(double got, double want, double rel, double abs_tol)
{
    return fabs(got - want) <= rel * fabs(want) + abs_tol;
}

#define EXPECT_VEL(p, ly, lx, y, x, want_u, want_v, rel, abs_tol)                             \
    do {                                                                                      \
        double u_, v_;                                                                        \
        vel((p), (ly), (lx), (y), (x), &u_, &v_);                                             \
        SP_EXPECT_MSG(close_to(u_, (want_u), (rel), (abs_tol)) &&                             \
                          close_to(v_, (want_v), (rel), (abs_tol)),                           \
                      "at (y=%g, x=%g): got (%.17g, %.17g), want (%.17g, %.17g)", (double)(y), \
                      (double)(x), u_, v_, (double)(want_u), (double)(want_v));               \
    } while (0)

static sp_analytic_params params(sp_analytic_kind kind)
{
    sp_analytic_params p;
    sp_analytic_params_init(&p, kind);
    return p;
}

static void fill(const sp_analytic_params *p, double ly, double lx, uint32_t seed, uint64_t record,
                 sp_flow *f, size_t h, size_t w, size_t c)
{
    SP_ASSERT_OK(sp_flow_alloc(f, h, w, c, NULL));
    sp_error e;
    sp_status const st = sp_analytic_fill(p, ly, lx, seed, record, f, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_analytic_fill: %d %s", (int)st, e.message);
}

/* ---- hand-computed values ----------------------------------------------------------- */

SP_TEST(flow_uniform_values_and_third_channel)
{
    sp_analytic_params p = params(SP_FLOW_UNIFORM);
    p.u = 0.3;
    p.v = -1.25;
    EXPECT_VEL(&p, 1, 1, 0.7, 0.2, 0.3, -1.25, 0, 0);
    sp_flow f;
    fill(&p, 2.0, 3.0, 0, 0, &f, 5, 7, 3);
    for (size_t k = 0; k < 5 * 7; k++) {
        SP_EXPECT(f.data[3 * k] == 0.3f && f.data[3 * k + 1] == -1.25f && f.data[3 * k + 2] == 0.0f);
    }
    sp_flow_release(&f);
}

SP_TEST(flow_lamb_oseen_hand_values)
{
    sp_analytic_params p = params(SP_FLOW_LAMB_OSEEN);
    p.circulation = 2.0;
    p.core_radius = 0.1;
    /* r = rc to the right of the default centre (0.5, 0.5): speed G/(2 pi rc)(1 - e^-1). */
    double const s1 = 2.0 / (2 * PI * 0.1) * (1 - exp(-1.0));
    EXPECT_VEL(&p, 1, 1, 0.5, 0.6, 0.0, s1, 1e-14, 1e-15);
    /* r = rc above the centre (y smaller): moves right, i.e. clockwise on screen. */
    EXPECT_VEL(&p, 1, 1, 0.4, 0.5, s1, 0.0, 1e-14, 1e-15);
    /* X = 0.3, Y = 0.4, r = 0.5 = 5 rc: u = -ut Y/r, v = ut X/r. */
    double const ut = 2.0 / (2 * PI * 0.5) * (1 - exp(-25.0));
    EXPECT_VEL(&p, 1, 1, 0.9, 0.8, -ut * 0.8, ut * 0.6, 1e-14, 1e-15);
    /* An explicit centre and a domain that is not square. */
    p.center[0] = 0.25;
    p.center[1] = 1.5;
    EXPECT_VEL(&p, 0.5, 3.0, 0.25, 1.4, 0.0, -s1, 1e-14, 1e-15);
}

SP_TEST(flow_lamb_oseen_centre_small_r_and_series_switch)
{
    sp_analytic_params p = params(SP_FLOW_LAMB_OSEEN);
    p.circulation = 3.0;
    p.core_radius = 0.2;
    double u = 1, v = 1;
    vel(&p, 1, 1, 0.5, 0.5, &u, &v);
    SP_EXPECT(u == 0.0 && v == 0.0); /* exactly zero, not NaN */
    /* Small r (centre at the origin, so r is exact): u_theta = G r/(2 pi rc^2)
     * (1 - s/2 + O(s^2)), s = r^2/rc^2. */
    p.center[0] = p.center[1] = 0.0;
    double const r = 1e-7, s = r * r / 0.04;
    EXPECT_VEL(&p, 1, 1, 0.0, r, 0.0, 3.0 * r / (2 * PI * 0.04) * (1 - s / 2), 1e-15, 0);
    /* Both sides of the series threshold s = 1e-3 agree with the expm1 form to 1e-15. */
    double const rs[2] = {sqrt(0.999e-3) * 0.2, sqrt(1.001e-3) * 0.2};
    for (int k = 0; k < 2; k++) {
        double const sk = rs[k] * rs[k] / 0.04;
        double const want = 3.0 / (2 * PI * rs[k]) * -expm1(-sk);
        EXPECT_VEL(&p, 1, 1, 0.0, rs[k], 0.0, want, 1e-15, 0);
    }
    p.center[0] = p.center[1] = NAN;
    /* A grid with the centre on a grid point: no NaN anywhere, zero at the centre. */
    sp_flow f;
    fill(&p, 1.0, 1.0, 0, 0, &f, 64, 64, 2);
    size_t i, j, c;
    SP_EXPECT(!sp_flow_find_nonfinite(&f, &i, &j, &c));
    SP_EXPECT(f.data[sp_flow_index(&f, 32, 32, 0)] == 0.0f && f.data[sp_flow_index(&f, 32, 32, 1)] == 0.0f);
    sp_flow_release(&f);
}

SP_TEST(flow_vortex_sense_positive_circulation)
{
    sp_analytic_kind const kinds[2] = {SP_FLOW_LAMB_OSEEN, SP_FLOW_RANKINE};
    for (int k = 0; k < 2; k++) {
        sp_analytic_params p = params(kinds[k]);
        p.circulation = 1.0;
        double u, v;
        vel(&p, 1, 1, 0.5, 0.6, &u, &v); /* right of the centre */
        SP_EXPECT(v > 0 && fabs(u) < 1e-15);
        vel(&p, 1, 1, 0.5, 0.4, &u, &v); /* left */
        SP_EXPECT(v < 0);
        vel(&p, 1, 1, 0.4, 0.5, &u, &v); /* above (smaller y) */
        SP_EXPECT(u > 0 && fabs(v) < 1e-15);
        p.circulation = -1.0;
        vel(&p, 1, 1, 0.5, 0.6, &u, &v);
        SP_EXPECT(v < 0);
    }
}

SP_TEST(flow_rankine_hand_values_and_continuity)
{
    sp_analytic_params p = params(SP_FLOW_RANKINE);
    p.circulation = 2.0;
    p.core_radius = 0.1;
    /* Inside at r = rc/2: G (rc/2)/(2 pi rc^2); outside at r = 2 rc: G/(2 pi 2 rc). Equal. */
    double const want = 2.0 / (4 * PI * 0.1);
    EXPECT_VEL(&p, 1, 1, 0.5, 0.55, 0.0, want, 1e-14, 0);
    EXPECT_VEL(&p, 1, 1, 0.5, 0.70, 0.0, want, 1e-14, 0);
    EXPECT_VEL(&p, 1, 1, 0.5, 0.5, 0.0, 0.0, 0, 0);
    /* Continuous at r = rc: both sides within 1e-8 relative of G/(2 pi rc). */
    double const at_rc = 2.0 / (2 * PI * 0.1);
    EXPECT_VEL(&p, 1, 1, 0.5, 0.6 - 1e-10, 0.0, at_rc, 1e-8, 0);
    EXPECT_VEL(&p, 1, 1, 0.5, 0.6 + 1e-10, 0.0, at_rc, 1e-8, 0);
}

SP_TEST(flow_lamb_oseen_approaches_rankine_far_away)
{
    sp_analytic_params lo = params(SP_FLOW_LAMB_OSEEN), rk = params(SP_FLOW_RANKINE);
    lo.core_radius = rk.core_radius = 0.01;
    for (int a = 0; a < 12; a++) {
        double const th = 2 * PI * a / 12.0, y = 0.5 + 0.1 * sin(th), x = 0.5 + 0.1 * cos(th);
        double u1, v1, u2, v2;
        vel(&lo, 1, 1, y, x, &u1, &v1);
        vel(&rk, 1, 1, y, x, &u2, &v2);
        double const d = hypot(u1 - u2, v1 - v2), s = hypot(u2, v2);
        SP_EXPECT_MSG(d < 1e-6 * s, "angle %d: |d| %g vs speed %g", a, d, s);
    }
}

SP_TEST(flow_taylor_green_hand_values)
{
    sp_analytic_params p = params(SP_FLOW_TAYLOR_GREEN);
    p.amplitude = 2.0;
    p.wavelength = 0.5; /* k = 4 pi: a quarter wavelength is 0.125 */
    EXPECT_VEL(&p, 1, 1, 0.0, 0.125, 2.0, 0.0, 1e-15, 1e-15);
    EXPECT_VEL(&p, 1, 1, 0.125, 0.0, 0.0, -2.0, 1e-15, 1e-15);
    EXPECT_VEL(&p, 1, 1, 0.0625, 0.0625, 1.0, -1.0, 1e-14, 1e-15); /* (sqrt 2/2)^2 = 1/2 */
    EXPECT_VEL(&p, 1, 1, 0.25, 0.375, 2.0, 0.0, 1e-14, 1e-14);     /* sin(3pi/2) cos(pi) */
}

SP_TEST(flow_shear_hand_values)
{
    sp_analytic_params p = params(SP_FLOW_SHEAR);
    p.rate = 3.0;
    EXPECT_VEL(&p, 2, 4, 1.5, 0.3, 1.5, 0.0, 0, 0); /* default cy = ly/2 = 1 */
    EXPECT_VEL(&p, 2, 4, 0.0, 3.9, -3.0, 0.0, 0, 0);
    p.center[0] = 0.25;
    p.center[1] = 0.75;
    EXPECT_VEL(&p, 2, 4, 0.25, 1.0, 0.0, 0.0, 0, 0);
    EXPECT_VEL(&p, 2, 4, 1.25, 1.0, 3.0, 0.0, 0, 0);
}

SP_TEST(flow_poiseuille_hand_values)
{
    sp_analytic_params p = params(SP_FLOW_POISEUILLE);
    p.amplitude = 2.0;
    /* Default: cy = 1, h = 1 on a domain of height 2. */
    EXPECT_VEL(&p, 2, 1, 1.0, 0.5, 2.0, 0.0, 0, 0);
    EXPECT_VEL(&p, 2, 1, 1.5, 0.5, 1.5, 0.0, 0, 0);
    EXPECT_VEL(&p, 2, 1, 0.0, 0.5, 0.0, 0.0, 0, 0);
    p.half_width = 0.5;
    EXPECT_VEL(&p, 2, 1, 1.25, 0.1, 1.5, 0.0, 0, 0);
    EXPECT_VEL(&p, 2, 1, 0.2, 0.1, 0.0, 0.0, 0, 0); /* outside the channel */
    EXPECT_VEL(&p, 2, 1, 1.8, 0.1, 0.0, 0.0, 0, 0);
}

SP_TEST(flow_stagnation_hand_values)
{
    sp_analytic_params p = params(SP_FLOW_STAGNATION);
    p.rate = 2.0;
    EXPECT_VEL(&p, 1, 1, 0.75, 0.25, -0.5, -0.5, 0, 0);
    EXPECT_VEL(&p, 1, 1, 0.5, 0.5, 0.0, 0.0, 0, 0);
    p.center[0] = 0.0;
    p.center[1] = 1.0;
    EXPECT_VEL(&p, 1, 2, 0.5, 2.0, 2.0, -1.0, 0, 0);
}

/* ---- the grid ------------------------------------------------------------------------ */

static const sp_analytic_kind k_formula_kinds[] = {
    SP_FLOW_UNIFORM, SP_FLOW_LAMB_OSEEN, SP_FLOW_RANKINE,    SP_FLOW_TAYLOR_GREEN,
    SP_FLOW_SHEAR,   SP_FLOW_POISEUILLE, SP_FLOW_STAGNATION,
};

SP_TEST(flow_fill_is_float_of_velocity_at_grid_points)
{
    size_t const h = 37, w = 53;
    double const ly = 0.8, lx = 1.3;
    for (size_t k = 0; k < 2 * ARRAY_LEN(k_formula_kinds); k++) {
        size_t const channels = k % 2 ? 3 : 2; /* with channel 3 the entry's w = 0.25 */
        sp_analytic_params p = params(k_formula_kinds[k / 2]);
        p.center[0] = 0.31;
        p.center[1] = 0.67;
        p.w = channels == 3 ? 0.25 : 0.0;
        sp_flow f;
        fill(&p, ly, lx, 0, 0, &f, h, w, channels);
        for (size_t i = 0; i < h; i++) {
            for (size_t j = 0; j < w; j++) {
                double u, v;
                vel(&p, ly, lx, (double)i * ly / (double)h, (double)j * lx / (double)w, &u, &v);
                const float *const cell = f.data + sp_flow_index(&f, i, j, 0);
                SP_EXPECT_MSG(cell[0] == (float)u && cell[1] == (float)v && (channels == 2 || cell[2] == 0.25f),
                              "%s, %zu channels, at (%zu, %zu)", sp_analytic_kind_name(p.kind), channels, i, j);
            }
        }
        sp_flow_release(&f);
    }
}

/* The Lamb-Oseen rows take 4 points at a time with flow_v4.h's expm1 and fall back to libm
 * where the float could differ (flow_v4.h's map): every point of many random vortices,
 * rows whose width is not a multiple of 4, 2 and 3 channels, must hold (float) of the
 * per-point formula with libm, bit for bit. The sweep also counts the points whose double
 * values are within 2^-40 of a float rounding boundary (the fallback's trigger, recomputed
 * here from the reference values), so the fallback path is known to have run. */
SP_TEST(flow_lamb_oseen_rows_are_libm_bits)
{
    size_t const h = 97, w = 203;
    double const ly = 1.6, lx = 1.7;
    uint64_t lcg = 12345;
    size_t unsure = 0;
    for (int t = 0; t < 80; t++) {
        double r[4];
        for (int k = 0; k < 4; k++) {
            lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
            r[k] = (double)(lcg >> 11) * 0x1p-53;
        }
        size_t const channels = t % 2 ? 3 : 2;
        sp_analytic_params p = params(SP_FLOW_LAMB_OSEEN);
        p.center[0] = 0.2 + 1.2 * r[0];
        p.center[1] = 0.2 + 1.3 * r[1];
        p.circulation = -3.0 + 6.0 * r[2];
        p.core_radius = 0.02 + 0.4 * r[3];
        p.w = channels == 3 ? -0.5 : 0.0;
        sp_flow f;
        fill(&p, ly, lx, 0, 0, &f, h, w, channels);
        for (size_t i = 0; i < h; i++) {
            for (size_t j = 0; j < w; j++) {
                double u, v;
                vel(&p, ly, lx, (double)i * ly / (double)h, (double)j * lx / (double)w, &u, &v);
                const float *const cell = f.data + sp_flow_index(&f, i, j, 0);
                SP_EXPECT_MSG(memcmp(&cell[0], &(float){(float)u}, 4) == 0 && memcmp(&cell[1], &(float){(float)v}, 4) == 0 &&
                                  (channels == 2 || cell[2] == -0.5f),
                              "vortex %d at (%zu, %zu): (%.9g, %.9g), formula (%.9g, %.9g)", t, i, j, (double)cell[0],
                              (double)cell[1], u, v);
                double const b[2] = {fabs(u) * 0x1p-40, fabs(v) * 0x1p-40};
                unsure += (float)(u - b[0]) != (float)(u + b[0]) || (float)(v - b[1]) != (float)(v + b[1]);
            }
        }
        sp_flow_release(&f);
    }
    printf("# %zu of %zu points near a float rounding boundary (recomputed with libm)\n", unsure, (size_t)80 * h * w);
    SP_EXPECT_MSG(unsure > 0, "no point exercised the libm fallback; widen the sweep");
}

/* flow_v4.h's expm1 for x <= 0 against expm1l: relative error under 2^-49 (the fallback
 * margin is 2^-40), over a dense geometric sweep of [1e-6, 745] and the series switch. */
SP_TEST(flow_expm1_v4_relative_error)
{
    double worst = 0.0, at = 0.0;
    size_t const n = 400000;
    for (size_t i = 0; i < n; i += 4) {
        sp_v4d x;
        for (size_t l = 0; l < 4; l++) x[l] = -1e-6 * pow(745.0 / 1e-6, (double)(i + l) / (double)(n - 1));
        sp_v4d const y = sp__expm1_neg_v4(x);
        for (size_t l = 0; l < 4; l++) {
            long double const want = expm1l((long double)x[l]);
            double const rel = (double)fabsl(((long double)y[l] - want) / want);
            if (rel > worst) worst = rel, at = x[l];
        }
    }
    printf("# worst relative error %.3g at x = %.17g (2^-49 = %.3g)\n", worst, at, 0x1p-49);
    SP_EXPECT_MSG(worst < 0x1p-49, "expm1 relative error %.3g at %.17g", worst, at);
}

/* sp__v4d_float_unsure: a double exactly halfway between two floats, or within 2^-41 of
 * that point, is unsure; a float itself and a value a quarter ulp from a midpoint are not. */
SP_TEST(flow_v4_float_unsure_finds_rounding_boundaries)
{
    float const f = 1.2345678f;
    double const ulp = (double)nextafterf(f, 2.0f) - (double)f;
    double const mid = (double)f + 0.5 * ulp;
    sp_v4d const d = {mid, mid * (1 + 0x1p-42), (double)f, (double)f + 0.25 * ulp};
    sp_v4i const m = sp__v4d_float_unsure(d);
    SP_EXPECT(m[0] != 0 && m[1] != 0 && m[2] == 0 && m[3] == 0);
    sp_v4d const z = {0.0, -0.0, -mid, 1e-300};
    sp_v4i const mz = sp__v4d_float_unsure(z);
    SP_EXPECT(mz[0] == 0 && mz[1] == 0 && mz[2] != 0 && mz[3] == 0);
}

/* Largest central-difference divergence over the interior, skipping points whose stencil
 * straddles the radius `skip_r` around (cy, cx) (skip_r < 0: none). */
static double max_divergence(const sp_flow *f, double hy, double hx, double cy, double cx,
                             double skip_r, double *umax)
{
    double dmax = 0.0;
    *umax = 0.0;
    for (size_t k = 0; k < f->height * f->width * 2; k++)
        *umax = fmax(*umax, fabs((double)f->data[k]));
    for (size_t i = 1; i + 1 < f->height; i++) {
        for (size_t j = 1; j + 1 < f->width; j++) {
            double const r = hypot((double)i * hy - cy, (double)j * hx - cx);
            if (skip_r >= 0 && fabs(r - skip_r) <= 1.01 * fmax(hx, hy)) continue;
            double const du = (double)f->data[sp_flow_index(f, i, j + 1, 0)] -
                              (double)f->data[sp_flow_index(f, i, j - 1, 0)];
            double const dv = (double)f->data[sp_flow_index(f, i + 1, j, 1)] -
                              (double)f->data[sp_flow_index(f, i - 1, j, 1)];
            dmax = fmax(dmax, fabs(du / (2 * hx) + dv / (2 * hy)));
        }
    }
    return dmax;
}

/* Divergence-free kinds: the central difference (f(x+h) - f(x-h))/2h equals f'(x) plus
 * h^2/12 (f'''(a) + f'''(b)), so |div_h| <= hx^2/6 max|u_xxx| + hy^2/6 max|v_yyy|, plus the
 * float32 storage error 2^-24 Umax (1/hx + 1/hy). Third derivatives, with U0 = G/(2 pi rc):
 *   Lamb-Oseen   u = -U0 eta f(xi^2 + eta^2) in rc units; |d^3/dxi^3 (eta f)| <= 0.78
 *                (maximised over the plane), so use U0/rc^3.
 *   Rankine      inside: linear (0). Outside: u - i v = -i G / (2 pi z), analytic, so
 *                |u_xxx| <= |d^3/dz^3| = 6 G/(2 pi r^4) <= 6 U0/rc^3; points whose stencil
 *                crosses the kink at r = rc are skipped.
 *   Taylor-Green |u_xxx|, |v_yyy| <= A k^3.
 *   uniform, shear, Poiseuille, stagnation: u_xxx = v_yyy = 0 (rounding only).
 * A sign error in either component gives a divergence of order U0/rc (resp. A k), about
 * a hundred times these bounds. */
SP_TEST(flow_divergence_free_kinds_on_grid)
{
    size_t const h = 96, w = 128;
    double const ly = 0.75, lx = 1.0, hy = ly / (double)h, hx = lx / (double)w;
    for (size_t k = 0; k < ARRAY_LEN(k_formula_kinds); k++) {
        sp_analytic_params p = params(k_formula_kinds[k]);
        p.center[0] = 0.37;
        p.center[1] = 0.52;
        p.circulation = 1.5;
        p.core_radius = 16 * hx;
        p.wavelength = 0.25;
        p.amplitude = 1.7;
        p.half_width = 0.2;
        p.u = 0.4;
        p.v = -0.9;
        sp_flow f;
        fill(&p, ly, lx, 0, 0, &f, h, w, 2);
        double const u0 = p.circulation / (2 * PI * p.core_radius);
        double const rc3 = pow(p.core_radius, 3), k3 = pow(2 * PI / p.wavelength, 3);
        double third = 0.0;
        if (p.kind == SP_FLOW_LAMB_OSEEN) third = u0 / rc3;
        if (p.kind == SP_FLOW_RANKINE) third = 6 * u0 / rc3;
        if (p.kind == SP_FLOW_TAYLOR_GREEN) third = p.amplitude * k3;
        double umax;
        double const skip = p.kind == SP_FLOW_RANKINE ? p.core_radius : -1.0;
        double const d = max_divergence(&f, hy, hx, p.center[0], p.center[1], skip, &umax);
        double const bound = (hx * hx + hy * hy) / 6 * third + ldexp(umax, -24) * (1 / hx + 1 / hy);
        printf("# %s: max |div| %.3g, bound %.3g\n", sp_analytic_kind_name(p.kind), d, bound);
        SP_EXPECT_MSG(d <= 1.01 * bound + 1e-300, "%s: max |div| %g > bound %g",
                      sp_analytic_kind_name(p.kind), d, bound);
        sp_flow_release(&f);
    }
}

/* ---- the kinematic flow --------------------------------------------------------------- */

static sp_analytic_params kinematic(double smin, double smax, double amin, double amax)
{
    sp_analytic_params p = params(SP_FLOW_KINEMATIC);
    p.filter_sigma_range[0] = smin;
    p.filter_sigma_range[1] = smax;
    p.max_displacement_range[0] = amin;
    p.max_displacement_range[1] = amax;
    return p;
}

/* The record's key as the documentation states it. */
static sp_key record_key(uint32_t seed, uint64_t record)
{
    sp_key key = sp_key_fold_in(sp_key_from_seed(seed), (uint32_t)record);
    if (record >> 32) key = sp_key_fold_in(key, (uint32_t)(record >> 32));
    return key;
}

static double max_magnitude(const sp_flow *f)
{
    double m = 0.0;
    for (size_t k = 0; k < f->height * f->width; k++) {
        double const u = (double)f->data[k * f->channels], v = (double)f->data[k * f->channels + 1];
        m = fmax(m, sqrt(u * u + v * v));
    }
    return m;
}

SP_TEST(flow_kinematic_is_deterministic_per_record)
{
    sp_analytic_params const p = kinematic(2.0, 6.0, 1.0, 8.0);
    sp_flow a, b, c, d, e3;
    fill(&p, 1, 1, 7, 3, &a, 40, 56, 2);
    fill(&p, 1, 1, 7, 3, &b, 40, 56, 2);
    fill(&p, 1, 1, 7, 4, &c, 40, 56, 2);
    fill(&p, 1, 1, 8, 3, &d, 40, 56, 2);
    fill(&p, 1, 1, 7, 3, &e3, 40, 56, 3);
    size_t const n = 40 * 56 * 2 * sizeof(float);
    SP_EXPECT(memcmp(a.data, b.data, n) == 0);
    SP_EXPECT(memcmp(a.data, c.data, n) != 0);
    SP_EXPECT(memcmp(a.data, d.data, n) != 0);
    for (size_t k = 0; k < 40 * 56; k++) {
        SP_EXPECT(memcmp(&e3.data[3 * k], &a.data[2 * k], 2 * sizeof(float)) == 0 && e3.data[3 * k + 2] == 0.0f);
    }
    /* Records past 2^32 fold in their high word: record 2^32 + 3 is not record 3. */
    sp_flow_release(&b);
    fill(&p, 1, 1, 7, (UINT64_C(1) << 32) + 3, &b, 40, 56, 2);
    SP_EXPECT(memcmp(a.data, b.data, n) != 0);
    sp_flow_release(&a);
    sp_flow_release(&b);
    sp_flow_release(&c);
    sp_flow_release(&d);
    sp_flow_release(&e3);
}

typedef struct fill_job {
    sp_analytic_params p;
    sp_flow f;
    int status;
} fill_job;

static void *fill_thread(void *arg)
{
    fill_job *const j = (fill_job *)arg;
    j->status = (int)sp_analytic_fill(&j->p, 1, 1, 9, 21, &j->f, NULL);
    return NULL;
}

/* No hidden state: concurrent calls give the bytes of a lone call. */
SP_TEST(flow_kinematic_same_bytes_from_concurrent_calls)
{
    sp_analytic_params const p = kinematic(4.0, 12.0, 1.0, 3.0);
    sp_flow ref;
    fill(&p, 1, 1, 9, 21, &ref, 64, 80, 2);
    fill_job jobs[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        jobs[t].p = p;
        SP_ASSERT_OK(sp_flow_alloc(&jobs[t].f, 64, 80, 2, NULL));
        SP_ASSERT_EQ_INT(pthread_create(&th[t], NULL, fill_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        SP_ASSERT_EQ_INT(pthread_join(th[t], NULL), 0);
        SP_ASSERT_OK(jobs[t].status);
        SP_EXPECT(memcmp(jobs[t].f.data, ref.data, 64 * 80 * 2 * sizeof(float)) == 0);
        sp_flow_release(&jobs[t].f);
    }
    sp_flow_release(&ref);
}

SP_TEST(flow_kinematic_peak_magnitude_is_drawn_a)
{
    sp_analytic_params const p = kinematic(1.0, 20.0, 0.5, 16.0);
    for (uint64_t rec = 0; rec < 6; rec++) {
        uint64_t const record = rec < 5 ? rec * 1000 : (UINT64_C(5) << 32) + 9;
        sp_key const key = record_key(11, record);
        float const a = sp_uniform(sp_key_split_at(key, 1), 0, 0.5f, 16.0f);
        sp_flow f;
        fill(&p, 1, 1, 11, record, &f, 48, 33, 2);
        double const m = max_magnitude(&f);
        SP_EXPECT_MSG(fabs(m - (double)a) <= 4 * ldexp((double)a, -24),
                      "record %" PRIu64 ": max |(u, v)| %.9g, a %.9g", record, m, (double)a);
        sp_flow_release(&f);
    }
}

/* sigma = 0 leaves the noise unfiltered, which exposes its layout: (u, v) at (i, j) are
 * draws (i W + j) 2 and (i W + j) 2 + 1, scaled by a / max |noise|. */
SP_TEST(flow_kinematic_noise_layout_without_filter)
{
    size_t const h = 9, w = 13;
    sp_analytic_params const p = kinematic(0.0, 0.0, 2.0, 2.0);
    sp_flow f;
    fill(&p, 1, 1, 5, 77, &f, h, w, 2);
    float noise[9 * 13 * 2];
    sp_uniform_fill(sp_key_split_at(record_key(5, 77), 2), 0, h * w * 2, -1.0f, 1.0f, noise);
    double m = 0.0;
    for (size_t k = 0; k < h * w; k++)
        m = fmax(m, hypot((double)noise[2 * k], (double)noise[2 * k + 1]));
    for (size_t k = 0; k < h * w * 2; k++) {
        double const want = (double)noise[k] * 2.0 / m;
        SP_EXPECT_MSG(fabs((double)f.data[k] - want) <= 1e-6, "element %zu: %g vs %g", k,
                      (double)f.data[k], want);
    }
    sp_flow_release(&f);
}

SP_TEST(flow_kinematic_zero_amplitude_is_zero)
{
    sp_analytic_params const p = kinematic(3.0, 3.0, 0.0, 0.0);
    sp_flow f;
    fill(&p, 1, 1, 1, 2, &f, 16, 16, 2);
    for (size_t k = 0; k < 16 * 16 * 2; k++) SP_EXPECT(f.data[k] == 0.0f);
    sp_flow_release(&f);
}

static double mean_gradient(const sp_flow *f)
{
    double s = 0.0;
    for (size_t i = 0; i + 1 < f->height; i++) {
        for (size_t j = 0; j + 1 < f->width; j++) {
            for (size_t c = 0; c < 2; c++) {
                double const v = (double)f->data[sp_flow_index(f, i, j, c)];
                double const gx = (double)f->data[sp_flow_index(f, i, j + 1, c)] - v;
                double const gy = (double)f->data[sp_flow_index(f, i + 1, j, c)] - v;
                s += hypot(gx, gy);
            }
        }
    }
    return s / (double)((f->height - 1) * (f->width - 1) * 2);
}

SP_TEST(flow_kinematic_larger_sigma_is_smoother)
{
    double const sigmas[4] = {1.0, 3.0, 8.0, 20.0};
    double prev = INFINITY;
    for (int k = 0; k < 4; k++) {
        sp_analytic_params const p = kinematic(sigmas[k], sigmas[k], 1.0, 1.0);
        sp_flow f;
        fill(&p, 1, 1, 3, 12, &f, 96, 96, 2);
        double const g = mean_gradient(&f);
        SP_EXPECT_MSG(g < prev, "sigma %g: mean |grad| %g, previous %g", sigmas[k], g, prev);
        prev = g;
        sp_flow_release(&f);
    }
}

/* ---- the Gaussian filter against scipy ------------------------------------------------- */

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Runs scipy's gaussian_filter (reflect, truncate 4) on a float32 (h, w) array. */
static float *scipy_filter(const float *in, size_t h, size_t w, double sigma)
{
    char src[600], dst[600], out[4096];
    snprintf(src, sizeof src, "%s/in.f32", sp_test_tmpdir());
    snprintf(dst, sizeof dst, "%s/out.f32", sp_test_tmpdir());
    sp_test_write_file(src, in, h * w * sizeof(float));
    int const rc = sp_test_sh(out, sizeof out,
                              "/usr/bin/python3 -c \"import numpy as np, scipy.ndimage as nd; "
                              "a = np.fromfile('%s', np.float32).reshape(%zu, %zu); "
                              "nd.gaussian_filter(a, %.17g, mode='reflect', truncate=4.0)"
                              ".astype(np.float32).tofile('%s')\" 2>&1",
                              src, h, w, sigma, dst);
    SP_EXPECT_MSG(rc == 0, "python failed (%d): %s", rc, out);
    size_t n = 0;
    float *const got = (float *)sp_test_read_file(dst, &n);
    SP_EXPECT(got != NULL && n == h * w * sizeof(float));
    return got;
}

SP_TEST(flow_gaussian_filter_matches_scipy)
{
    if (!sp_test_have_python("numpy scipy")) sp_test_skip("/usr/bin/python3 lacks numpy or scipy");
    /* Narrow and wide kernels; radius > n exercises the folded kernel (repeated reflection). */
    static const struct { size_t h, w; double sigma; } cases[] = {
        {64, 48, 3.0}, {40, 30, 12.0}, {17, 256, 100.0}, {1, 9, 2.0}, {5, 5, 0.6}, {33, 70, 0.0},
        {128, 96, 7.3},
    };
    uint32_t seed = 12345;
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        size_t const h = cases[c].h, w = cases[c].w, n = h * w;
        float *const mine = (float *)malloc(n * sizeof(float));
        for (size_t k = 0; k < n; k++) mine[k] = (float)((double)xorshift(&seed) / 2147483648.0 - 1.0);
        float *const ref = scipy_filter(mine, h, w, cases[c].sigma);
        SP_ASSERT_OK(sp__gaussian_filter_2d(mine, h, w, cases[c].sigma));
        double worst = 0.0;
        for (size_t k = 0; k < n; k++) {
            double const d = fabs((double)mine[k] - (double)ref[k]);
            worst = fmax(worst, d / (fabs((double)ref[k]) + 1e-3));
        }
        SP_EXPECT_MSG(worst <= 1e-5, "(%zu, %zu) sigma %g: worst relative difference %g", h, w,
                      cases[c].sigma, worst);
        printf("# filter (%zu, %zu) sigma %g: worst relative difference %.3g\n", h, w,
               cases[c].sigma, worst);
        free(ref);
        free(mine);
    }
}

/* End to end: the kinematic field equals the reference recipe run in numpy/scipy on the same
 * noise (drawn here through the RNG API). */
SP_TEST(flow_kinematic_matches_scipy_recipe)
{
    if (!sp_test_have_python("numpy scipy")) sp_test_skip("/usr/bin/python3 lacks numpy or scipy");
    size_t const h = 50, w = 70;
    sp_analytic_params const p = kinematic(3.5, 9.5, 2.0, 6.0);
    sp_key const key = record_key(42, 1234);
    float const sigma = sp_uniform(sp_key_split_at(key, 0), 0, 3.5f, 9.5f);
    float const a = sp_uniform(sp_key_split_at(key, 1), 0, 2.0f, 6.0f);
    float *const noise = (float *)malloc(h * w * 2 * sizeof(float));
    sp_uniform_fill(sp_key_split_at(key, 2), 0, h * w * 2, -1.0f, 1.0f, noise);
    char src[600], dst[600], out[4096];
    snprintf(src, sizeof src, "%s/noise.f32", sp_test_tmpdir());
    snprintf(dst, sizeof dst, "%s/field.f32", sp_test_tmpdir());
    sp_test_write_file(src, noise, h * w * 2 * sizeof(float));
    int const rc = sp_test_sh(out, sizeof out,
        "/usr/bin/python3 -c \"import numpy as np, scipy.ndimage as nd; "
        "n = np.fromfile('%s', np.float32).reshape(%zu, %zu, 2); "
        "f = np.stack([nd.gaussian_filter(n[..., c], %.17g, mode='reflect', truncate=4.0) "
        "for c in range(2)], -1).astype(np.float64); "
        "m = np.sqrt((f ** 2).sum(-1)).max(); "
        "(f * (%.17g / m)).astype(np.float32).tofile('%s')\" 2>&1",
        src, h, w, (double)sigma, (double)a, dst);
    SP_EXPECT_MSG(rc == 0, "python failed (%d): %s", rc, out);
    size_t n = 0;
    float *const ref = (float *)sp_test_read_file(dst, &n);
    SP_EXPECT(ref != NULL && n == h * w * 2 * sizeof(float));
    sp_flow f;
    fill(&p, 1, 1, 42, 1234, &f, h, w, 2);
    for (size_t k = 0; k < h * w * 2; k++) {
        SP_EXPECT_MSG(fabs((double)f.data[k] - (double)ref[k]) <= 1e-5 * (double)a,
                      "element %zu: %.9g vs scipy %.9g", k, (double)f.data[k], (double)ref[k]);
    }
    sp_flow_release(&f);
    free(ref);
    free(noise);
}

/* A large field keeps its peak exactly at a (speed is measured by bench, not here). */
SP_TEST(flow_kinematic_large_grid_peak)
{
    sp_analytic_params const p = kinematic(32.0, 32.0, 16.0, 16.0);
    sp_flow f;
    SP_ASSERT_OK(sp_flow_alloc(&f, 1216, 1936, 2, NULL));
    SP_ASSERT_OK(sp_analytic_fill(&p, 1216, 1936, 0, 0, &f, NULL));
    SP_ASSERT_NEAR(max_magnitude(&f), 16.0, 16.0 * 4 * (double)FLT_EPSILON);
    sp_flow_release(&f);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void expect_error(const sp_analytic_params *p, double ly, double lx, sp_flow *f,
                         const char *needle, const char *value)
{
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_analytic_fill(p, ly, lx, 0, 0, f, &e);
    SP_EXPECT_MSG(st != SP_OK, "expected an error naming %s", needle);
    SP_ASSERT_STR_CONTAINS(e.message, needle);
    if (value) SP_ASSERT_STR_CONTAINS(e.message, value);
}

SP_TEST(flow_errors_name_the_parameter)
{
    sp_flow f;
    SP_ASSERT_OK(sp_flow_alloc(&f, 8, 8, 2, NULL));
    sp_analytic_params p = params(SP_FLOW_LAMB_OSEEN);
    p.core_radius = -1;
    expect_error(&p, 1, 1, &f, "core_radius", "-1");
    p = params(SP_FLOW_RANKINE);
    p.core_radius = NAN;
    expect_error(&p, 1, 1, &f, "core_radius", "nan");
    p = params(SP_FLOW_RANKINE);
    p.center[1] = INFINITY;
    expect_error(&p, 1, 1, &f, "center", "inf");
    p = params(SP_FLOW_TAYLOR_GREEN);
    p.wavelength = 0;
    expect_error(&p, 1, 1, &f, "wavelength", "0");
    p = params(SP_FLOW_POISEUILLE);
    p.half_width = -0.5;
    expect_error(&p, 1, 1, &f, "half_width", "-0.5");
    p = params(SP_FLOW_SHEAR);
    p.rate = INFINITY;
    expect_error(&p, 1, 1, &f, "rate", "inf");
    p = params(SP_FLOW_UNIFORM);
    p.v = NAN;
    expect_error(&p, 1, 1, &f, "analytic_flow.v", "nan");
    p = kinematic(5, 1, 0, 1);
    expect_error(&p, 1, 1, &f, "filter_sigma_range", "(5, 1)");
    p = kinematic(-1, 1, 0, 1);
    expect_error(&p, 1, 1, &f, "filter_sigma_range", "-1");
    p = kinematic(1, 2e5, 0, 1);
    expect_error(&p, 1, 1, &f, "filter_sigma_range", "200000");
    p = kinematic(1, 2, 0, INFINITY);
    expect_error(&p, 1, 1, &f, "max_displacement_range", "inf");
    p = params(SP_FLOW_UNIFORM);
    expect_error(&p, 0, 1, &f, "flow_field_size", "(0, 1)");
    expect_error(&p, 1, NAN, &f, "flow_field_size", "nan");
    p.kind = (sp_analytic_kind)99;
    expect_error(&p, 1, 1, &f, "kind", "99");
    p = params(SP_FLOW_UNIFORM);
    f.channels = 4;
    expect_error(&p, 1, 1, &f, "channels", "4");
    f.channels = 2;
    sp_flow empty = {0, 0, 0, NULL};
    expect_error(&p, 1, 1, &empty, "not allocated", NULL);
    /* NaN half-width and centre are the documented defaults, not errors. */
    p = params(SP_FLOW_POISEUILLE);
    SP_ASSERT_OK(sp_analytic_fill(&p, 1, 1, 0, 0, &f, NULL));
    sp_flow_release(&f);
}

/* ---- per-record parameters (sp_analytic_draw) ------------------------------------------------ */

/* Draws are uniform in their ranges (means within 4.5 standard errors), a pure function of
 * (seed, record), different across records and seeds, and independent of each other: adding
 * a range to one parameter leaves the other parameters' draws unchanged. */
SP_TEST(analytic_draw_is_uniform_per_record_and_deterministic)
{
    sp_analytic_params spec;
    sp_analytic_params_init(&spec, SP_FLOW_LAMB_OSEEN);
    spec.random = 1u << SP_AP_CIRCULATION | 1u << SP_AP_CORE_RADIUS;
    spec.range[SP_AP_CIRCULATION][0] = -3, spec.range[SP_AP_CIRCULATION][1] = 3;
    spec.range[SP_AP_CORE_RADIUS][0] = 0.1, spec.range[SP_AP_CORE_RADIUS][1] = 0.3;
    int const n = 20000;
    double sum_g = 0, sum_rc = 0, first_g = 0;
    for (int r = 0; r < n; r++) {
        sp_analytic_params p;
        sp_analytic_draw(&spec, 7, (uint64_t)r, &p);
        SP_EXPECT(p.random == 0 && p.kind == SP_FLOW_LAMB_OSEEN);
        SP_EXPECT(p.circulation >= -3 && p.circulation < 3 && p.core_radius >= 0.1 && p.core_radius < 0.3);
        SP_EXPECT(isnan(p.center[0]) && p.amplitude == spec.amplitude); /* not ranged: unchanged */
        sum_g += p.circulation;
        sum_rc += p.core_radius;
        if (r == 0) first_g = p.circulation;
    }
    /* uniform on [a, b]: mean (a+b)/2, standard error (b-a)/sqrt(12 n) */
    SP_ASSERT_NEAR(sum_g / n, 0.0, 4.5 * 6.0 / sqrt(12.0 * n));
    SP_ASSERT_NEAR(sum_rc / n, 0.2, 4.5 * 0.2 / sqrt(12.0 * n));
    sp_analytic_params a, b, c, d;
    sp_analytic_draw(&spec, 7, 0, &a);
    SP_EXPECT(a.circulation == first_g);                        /* same (seed, record): same */
    sp_analytic_draw(&spec, 7, 1, &b);
    sp_analytic_draw(&spec, 8, 0, &c);
    SP_EXPECT(b.circulation != a.circulation && c.circulation != a.circulation);
    sp_analytic_draw(&spec, 7, (uint64_t)1 << 33, &d);          /* records past 2^32 differ */
    SP_EXPECT(d.circulation != a.circulation);
    sp_analytic_params more = spec;
    more.random |= 1u << SP_AP_CENTER_X;
    more.range[SP_AP_CENTER_X][0] = 0, more.range[SP_AP_CENTER_X][1] = 1;
    sp_analytic_draw(&more, 7, 0, &b);
    SP_EXPECT(b.circulation == a.circulation && b.core_radius == a.core_radius && b.center[1] >= 0);
}

/* The polar form of the uniform flow: (u, v) = speed (cos angle, sin angle), angle in
 * degrees from +x towards +y. */
SP_TEST(analytic_uniform_polar_form)
{
    sp_analytic_params p;
    sp_analytic_params_init(&p, SP_FLOW_UNIFORM);
    p.polar = 1;
    p.speed = 2.0;
    p.angle = 90.0;
    double u = 0, v = 0;
    sp_analytic_velocity(&p, 1, 1, 0.3, 0.4, &u, &v);
    SP_ASSERT_NEAR(u, 0.0, 1e-12);
    SP_ASSERT_NEAR(v, 2.0, 1e-12);
    p.angle = 210.0;
    sp_analytic_velocity(&p, 1, 1, 0.3, 0.4, &u, &v);
    SP_ASSERT_NEAR(u, -2.0 * sqrt(3.0) / 2.0, 1e-12);
    SP_ASSERT_NEAR(v, -1.0, 1e-12);
}
