/* test_render.c: the particle renderer against the analytic Gaussian, computed here in
 * double precision: pixel values, peak, integral, centroid, correlated particles, edge
 * clipping, and byte-identity across band sizes; post-processing (noise, clip, mask)
 * against the same sum computed pixel by pixel, and byte-identity across row splits. */
#include "sp_test.h"

#include "sp/sp_render.h"
#include "sp/sp_rng.h"

#define SP_ARRAY_LEN_T(a) (sizeof(a) / sizeof((a)[0]))

#define H 64
#define W 64

typedef struct one_particle {
    float y, x, sy, sx, rho, a;
} one_particle;

static void render_one(const one_particle *q, int R, sp_psf psf, float *img)
{
    sp_particles p = {1, &q->y, &q->x, &q->sy, &q->sx, &q->rho, &q->a};
    sp_render_geometry g = {H, W, R, 0, psf};
    SP_ASSERT_OK(sp_render_frame(&g, &p, img, NULL));
}

static double gauss_point(const one_particle *q, double i, double j)
{
    double const X = j - (double)q->x, Y = i - (double)q->y;
    double const sx = (double)q->sx, sy = (double)q->sy, r = (double)q->rho;
    double const z = X * X / (sx * sx) + Y * Y / (sy * sy) - 2 * r * X * Y / (sx * sy);
    return (double)q->a * exp(-z / (2 * (1 - r * r)));
}

/* Mean of exp(-d^2/(2 s^2)) over [d - 1/2, d + 1/2]. */
static double axis_mean(double d, double s)
{
    return s * sqrt(M_PI / 2) * (erf((d + 0.5) / (s * sqrt(2.0))) - erf((d - 0.5) / (s * sqrt(2.0))));
}

static void moments(const float *img, double *sum, double *cy, double *cx, double *peak)
{
    double s = 0, my = 0, mx = 0, pk = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double const v = (double)img[i * W + j];
            s += v;
            my += v * i;
            mx += v * j;
            if (v > pk) pk = v;
        }
    *sum = s;
    *cy = my / s;
    *cx = mx / s;
    *peak = pk;
}

/* The next value of a 32-bit LCG as a float in [lo, lo + span): reproducible test inputs. */
static float lcg_float(uint32_t *st, float span, float lo)
{
    *st = *st * 1664525u + 1013904223u;
    return (float)(*st >> 8) / 16777216.0f * span + lo;
}

SP_TEST(render_single_particle_point_matches_gaussian)
{
    static const float offs[][2] = {{20.3f, 30.7f}, {31.0f, 31.0f}, {10.49f, 40.51f}, {33.25f, 12.9f}};
    static const float sig[] = {0.75f, 1.0f, 1.6f};
    static float img[H * W];
    for (size_t k = 0; k < SP_ARRAY_LEN_T(offs); k++)
        for (size_t s = 0; s < SP_ARRAY_LEN_T(sig); s++) {
            one_particle const q = {offs[k][0], offs[k][1], sig[s], sig[s], 0.0f, 100.0f};
            int const R = (int)ceilf(4.5f * sig[s]);
            render_one(&q, R, SP_PSF_POINT, img);
            double sum, cy, cx, peak;
            moments(img, &sum, &cy, &cx, &peak);
            SP_ASSERT_NEAR(cy, q.y, 0.01);
            SP_ASSERT_NEAR(cx, q.x, 0.01);
            /* Integral of the continuous Gaussian: 2 pi sx sy A. */
            double const integral = 2 * M_PI * (double)q.sx * (double)q.sy * (double)q.a;
            SP_ASSERT_NEAR(sum / integral, 1.0, 2e-3);
            /* Peak: the pixel nearest the centre. */
            double const want_peak = gauss_point(&q, floor((double)q.y + 0.5), floor((double)q.x + 0.5));
            SP_ASSERT_NEAR(peak, want_peak, 1e-4 * want_peak);
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int const inside = abs(i - (int)floorf(q.y + 0.5f)) <= R && abs(j - (int)floorf(q.x + 0.5f)) <= R;
                    double const want = inside ? gauss_point(&q, i, j) : 0.0;
                    SP_ASSERT_NEAR(img[i * W + j], want, 2e-5 * (double)q.a);
                }
        }
}

SP_TEST(render_single_particle_integrated_matches_pixel_average)
{
    static float img[H * W];
    one_particle const q = {25.37f, 18.81f, 0.6f, 0.9f, 0.0f, 200.0f};
    int const R = 5;
    render_one(&q, R, SP_PSF_INTEGRATED, img);
    double sum, cy, cx, peak;
    moments(img, &sum, &cy, &cx, &peak);
    SP_ASSERT_NEAR(cy, q.y, 0.01);
    SP_ASSERT_NEAR(cx, q.x, 0.01);
    /* The pixel averages tile the window exactly: sum = A * integral over the window. */
    SP_ASSERT_NEAR(sum / (2 * M_PI * (double)q.sx * (double)q.sy * (double)q.a), 1.0, 1e-4);
    int const ci = 25, cj = 19;
    double const want_peak = (double)q.a * axis_mean(ci - (double)q.y, q.sy) * axis_mean(cj - (double)q.x, q.sx);
    SP_ASSERT_NEAR(img[ci * W + cj], want_peak, 1e-4 * want_peak);
    SP_ASSERT_NEAR(peak, want_peak, 1e-4 * want_peak);
}

SP_TEST(render_correlated_particle_matches_formula)
{
    static float img[H * W];
    static const float rhos[] = {0.3f, -0.45f, 0.9f, -0.97f};
    for (size_t r = 0; r < SP_ARRAY_LEN_T(rhos); r++) {
        one_particle const q = {30.2f, 29.6f, 1.2f, 0.8f, rhos[r], 150.0f};
        render_one(&q, 6, SP_PSF_POINT, img);
        for (int i = 24; i <= 36; i++)
            for (int j = 24; j <= 36; j++)
                SP_ASSERT_NEAR(img[i * W + j], gauss_point(&q, i, j), 3e-5 * 150.0);
        /* Both PSF modes conserve the integral 2 pi sx sy sqrt(1 - rho^2) A. */
        double const integral = 2 * M_PI * 1.2 * 0.8 * sqrt(1 - (double)rhos[r] * (double)rhos[r]) * 150.0;
        for (int psf = 0; psf < 2; psf++) {
            render_one(&q, 7, psf ? SP_PSF_INTEGRATED : SP_PSF_POINT, img);
            double sum, cy, cx, peak;
            moments(img, &sum, &cy, &cx, &peak);
            /* Point sampling aliases the narrow minor axis of |rho| ~ 1 particles a little. */
            SP_ASSERT_NEAR(sum / integral, 1.0, psf ? 1e-4 : 5e-3);
            if (psf || fabsf(rhos[r]) < 0.95f) { /* the 0.17-px ridge of rho = -0.97 aliases */
                SP_ASSERT_NEAR(cy, q.y, 0.01);
                SP_ASSERT_NEAR(cx, q.x, 0.01);
            }
        }
    }
}

SP_TEST(render_edge_particle_is_clipped_not_moved)
{
    static float img[H * W];
    one_particle const q = {0.2f, 63.6f, 1.0f, 1.0f, 0.0f, 100.0f};
    render_one(&q, 3, SP_PSF_POINT, img);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            int const inside = i <= 3 && j >= 61;
            SP_ASSERT_NEAR(img[i * W + j], inside ? gauss_point(&q, i, j) : 0.0, 2e-3);
        }
    /* Completely outside: nothing drawn. */
    one_particle const far = {-10.0f, 20.0f, 1.0f, 1.0f, 0.0f, 100.0f};
    render_one(&far, 3, SP_PSF_POINT, img);
    for (int k = 0; k < H * W; k++) SP_ASSERT_NEAR(img[k], 0.0, 0);
}

SP_TEST(render_overlapping_particles_add)
{
    static float a[H * W], b[H * W], both[H * W];
    float ys[2] = {30.1f, 31.4f}, xs[2] = {30.3f, 29.2f}, s[2] = {1.0f, 1.3f}, rho[2] = {0, 0.2f}, amp[2] = {80, 120};
    sp_render_geometry g = {H, W, 5, 0, SP_PSF_POINT};
    sp_particles p0 = {1, &ys[0], &xs[0], &s[0], &s[0], &rho[0], &amp[0]};
    sp_particles p1 = {1, &ys[1], &xs[1], &s[1], &s[1], &rho[1], &amp[1]};
    sp_particles p2 = {2, ys, xs, s, s, rho, amp};
    SP_ASSERT_OK(sp_render_frame(&g, &p0, a, NULL));
    SP_ASSERT_OK(sp_render_frame(&g, &p1, b, NULL));
    SP_ASSERT_OK(sp_render_frame(&g, &p2, both, NULL));
    for (int k = 0; k < H * W; k++) SP_ASSERT_NEAR(both[k], a[k] + b[k], 1e-4);
}

SP_TEST(render_bytes_independent_of_band_size)
{
    enum { N = 3000 };
    static float y[N], x[N], s[N], rho[N], amp[N];
    uint32_t st = 12345;
    for (int i = 0; i < N; i++) {
        y[i] = lcg_float(&st, 80.0f, -8.0f);
        x[i] = lcg_float(&st, 80.0f, -8.0f);
        s[i] = 0.5f + (float)(i % 7) * 0.2f;
        rho[i] = (float)(i % 5) * 0.1f - 0.2f;
        amp[i] = (i % 13) ? 100.0f : 0.0f;
    }
    sp_particles p = {N, y, x, s, s, rho, amp};
    static float ref[H * W], img[H * W];
    /* Band sizes that split footprints (1, 7) take the generic kernels for particles the
     * wider bands render with the fixed-width ones: the bytes must not change. */
    static const size_t bands[] = {64, 1, 7, 32};
    for (int psf = 0; psf < 2; psf++)
        for (int R = 3; R <= 4; R++)
            for (size_t b = 0; b < SP_ARRAY_LEN_T(bands); b++) {
                sp_render_geometry g = {H, W, R, bands[b], psf ? SP_PSF_INTEGRATED : SP_PSF_POINT};
                SP_ASSERT_OK(sp_render_frame(&g, &p, b == 0 ? ref : img, NULL));
                if (b > 0)
                    SP_EXPECT_MSG(memcmp(ref, img, sizeof img) == 0, "psf %d R %d: band size %zu changed the bytes", psf,
                                  R, bands[b]);
            }
}

SP_TEST(render_fixed_and_generic_kernels_give_the_same_bytes)
{
    /* Particles near column 63 are clipped in a 64-column image (generic kernel) and whole
     * in an 80-column one (fixed-width or 8-lane kernel): the shared columns must be
     * identical, for the point PSF and for the integrated one (rho in [-0.36, 0.36]: the
     * separable and the sheared kernels). */
    enum { N = 400, WN = 64, WW = 80 };
    static float y[N], x[N], sy[N], sx[N], rho[N], amp[N];
    uint32_t st = 777;
    for (int i = 0; i < N; i++) {
        y[i] = lcg_float(&st, 60.0f, 2.0f);
        x[i] = lcg_float(&st, 10.0f, 56.0f);
        sy[i] = 0.6f + (float)(i % 5) * 0.15f;
        sx[i] = 0.7f + (float)(i % 3) * 0.2f;
        rho[i] = (float)(i % 7) * 0.12f - 0.36f;
        amp[i] = 50.0f + (float)(i % 11);
    }
    sp_particles p = {N, y, x, sy, sx, rho, amp};
    static float narrow[64 * WN], wide[64 * WW];
    sp_psf const psfs[] = {SP_PSF_POINT, SP_PSF_INTEGRATED};
    for (int k = 0; k < 2; k++)
        for (int R = 1; R <= 6; R++) {
            sp_render_geometry gn = {64, WN, R, 0, psfs[k]}, gw = {64, WW, R, 0, psfs[k]};
            SP_ASSERT_OK(sp_render_frame(&gn, &p, narrow, NULL));
            SP_ASSERT_OK(sp_render_frame(&gw, &p, wide, NULL));
            for (int i = 0; i < 64; i++)
                SP_EXPECT_MSG(memcmp(narrow + i * WN, wide + i * WW, WN * sizeof(float)) == 0,
                              "psf %d R %d: row %d differs", (int)psfs[k], R, i);
        }
}

/* The band lists against a scalar oracle written from the renderer's contract: a particle
 * is drawn when its amplitude is non-zero, its position finite and within R + 1 of the
 * image, and its (2R+1)^2 footprint around the nearest pixel meets the image; it is listed,
 * in increasing index order, in every band whose rows its footprint meets. Edge cases:
 * NaN and infinite positions, amplitude 0 (and NaN, which is drawn), positions exactly at
 * and just past the reach, footprints one pixel from touching. */
SP_TEST(render_bins_match_a_scalar_oracle)
{
    enum { N = 4000, BH = 70, BW = 45, ROWS = 8 };
    static float y[N], x[N], sy[N], sx[N], rho[N], amp[N];
    float const specials[] = {NAN, INFINITY, -INFINITY, -4.0f, -4.0001f, -3.5f, -3.4999f, 74.0f, 74.0001f,
                              73.4999f, 73.5f, 49.0f, 49.0001f, 48.5f, 48.4999f, 0.0f, -0.0f, 69.5f, 44.5f};
    size_t const ns = sizeof specials / sizeof specials[0];
    uint32_t st = 4242;
    for (int i = 0; i < N; i++) {
        float const ry = lcg_float(&st, 90.0f, -10.0f);
        y[i] = (i % 3 == 0) ? specials[(st >> 8) % ns] : ry;
        float const rx = lcg_float(&st, 65.0f, -10.0f);
        x[i] = (i % 5 == 0) ? specials[(st >> 8) % ns] : rx;
        sy[i] = sx[i] = 1.0f;
        rho[i] = 0.0f;
        amp[i] = (i % 7 == 0) ? 0.0f : (i % 11 == 0 ? NAN : 1.0f);
    }
    sp_particles p = {N, y, x, sy, sx, rho, amp};
    for (int R = 1; R <= 4; R++) {
        sp_render_geometry g = {BH, BW, R, ROWS, SP_PSF_POINT};
        sp_frame_bins bins;
        memset(&bins, 0, sizeof bins);
        SP_ASSERT_OK(sp_frame_bins_build(&bins, &g, &p, NULL));
        size_t const nb = (BH + ROWS - 1) / ROWS;
        SP_EXPECT(bins.nbands == nb);
        size_t drawn = 0;
        for (size_t b = 0; b < nb; b++) {
            size_t k = bins.start[b];
            for (int i = 0; i < N; i++) {
                double const reach = R + 1.0, yi = (double)y[i], xi = (double)x[i];
                int vis = amp[i] != 0.0f && isfinite(yi) && isfinite(xi) && yi >= -reach && xi >= -reach &&
                          yi <= BH + reach && xi <= BW + reach;
                long cy = 0, cx = 0;
                if (vis) { /* the nearest pixel as the renderer defines it: floor(v + 0.5) in float32 */
                    cy = (long)floorf(y[i] + 0.5f);
                    cx = (long)floorf(x[i] + 0.5f);
                    vis = cy + R >= 0 && cy - R <= BH - 1 && cx + R >= 0 && cx - R <= BW - 1;
                }
                if (!vis) {
                    if (b == 0) SP_EXPECT_MSG(bins.center[2 * i] == INT32_MIN, "R %d particle %d drawn", R, i);
                    continue;
                }
                if (b == 0) {
                    drawn++;
                    SP_EXPECT_MSG(bins.center[2 * i] == cy && bins.center[2 * i + 1] == cx,
                                  "R %d particle %d: centre (%d, %d), expected (%ld, %ld)", R, i,
                                  (int)bins.center[2 * i], (int)bins.center[2 * i + 1], cy, cx);
                }
                long const r0 = (long)b * ROWS, r1 = r0 + ROWS - 1;
                if (cy + R < r0 || cy - R > r1) continue;
                SP_EXPECT_MSG(k < bins.start[b + 1] && bins.index[k] == (uint32_t)i, "R %d band %zu: particle %d missing",
                              R, b, i);
                k++;
            }
            SP_EXPECT_MSG(k == bins.start[b + 1], "R %d band %zu: %u extra entries", R, b,
                          (unsigned)(bins.start[b + 1] - k));
        }
        SP_EXPECT(drawn > N / 4);
        sp_frame_bins_release(&bins);
    }
}

/* The bytes of both PSFs at R = 1..7 (300 particles of every rho class, some clipped at the
 * edges) equal those recorded with the earlier kernels (the integrated PSF's scalar erf
 * loops, the point PSF's select-based 8-lane rows), before the 8-lane integrated kernels,
 * the vector erf and the one-operation masks: FNV-1a 64 of each frame. */
static uint64_t fnv1a64(const void *data, size_t n)
{
    const unsigned char *b = (const unsigned char *)data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

SP_TEST(render_bytes_equal_those_recorded_with_the_earlier_kernels)
{
    enum { N = 300, RH = 64, RW = 80 };
    static const uint64_t recorded[2][7] = {
        {0x324bd6efa136bc36ull, 0x7ee26321bf062141ull, 0x060634d6f4a00630ull, 0xacc42466e5479c9eull,
         0x621b1f87c0326b1dull, 0x231546de97d4f977ull, 0x7889441aaeea1188ull},
        {0x8d1ea8956a94c85bull, 0xaae4c402ca240adbull, 0xb21b85dad74dfd95ull, 0x38b93f11018aa5e9ull,
         0xdc43415843fac58full, 0x75b1e6ae088e4642ull, 0xc440d86cf787e60eull},
    };
    static float y[N], x[N], sy[N], sx[N], rho[N], amp[N], img[RH * RW];
    uint32_t st = 2024;
    for (int i = 0; i < N; i++) {
        y[i] = lcg_float(&st, 74.0f, -5.0f);
        x[i] = lcg_float(&st, 90.0f, -5.0f);
        sy[i] = 0.5f + (float)(i % 9) * 0.2f;
        sx[i] = 0.6f + (float)(i % 4) * 0.3f;
        rho[i] = (i % 3 == 0) ? 0.0f : (float)(i % 17) * 0.1f - 0.8f; /* 0, |rho| <= 0.6 and > 0.6 */
        amp[i] = 20.0f + (float)(i % 13) * 10.0f;
    }
    sp_particles p = {N, y, x, sy, sx, rho, amp};
    sp_psf const psfs[] = {SP_PSF_POINT, SP_PSF_INTEGRATED};
    for (int k = 0; k < 2; k++)
        for (int R = 1; R <= 7; R++) {
            sp_render_geometry g = {RH, RW, R, 0, psfs[k]};
            SP_ASSERT_OK(sp_render_frame(&g, &p, img, NULL));
            uint64_t const h = fnv1a64(img, sizeof img);
            SP_EXPECT_MSG(h == recorded[k][R - 1], "psf %d R %d: hash 0x%016llxull", k, R, (unsigned long long)h);
        }
}

/* ---- post-processing: noise, clip, mask ------------------------------------------------- */

enum { PH = 29, PW = 601 }; /* odd width: every other row starts at an odd pixel index; rows
                                 * span several of post.c's 256-pixel chunks */

/* A frame with values in [-20, 280) (so both clip bounds act) and a mask of 0, 1 and 0.5. */
static void post_frame(float *img, float *mask)
{
    uint32_t st = 99;
    for (int k = 0; k < PH * PW; k++) {
        st = st * 1664525u + 1013904223u;
        img[k] = (float)(st >> 8) / 16777216.0f * 300.0f - 20.0f;
        mask[k] = (k % 11) == 0 ? 0.0f : ((k % 7) == 0 ? 0.5f : 1.0f);
    }
}

/* Pixel p separately, in the documented float32 order: ((x + u) + mean) + z * std, clipped
 * to [0, 255], times the mask. Draws come from the scalar element functions. */
static float post_pixel(float x, uint64_t p, const sp_noise_params *n, sp_key ku, sp_key kg, float m)
{
    float const u = n->uniform > 0.0f ? sp_pair_uniform(ku, p, n->uniform) : 0.0f;
    float const z = n->gaussian_std > 0.0f ? sp_pair_normal(kg, p) : 0.0f;
    float const sd = n->gaussian_std > 0.0f ? n->gaussian_std : 0.0f;
    float const v = ((x + u) + n->gaussian_mean) + z * sd;
    /* The same sum in double: the float order loses at most 3 roundings of values < 2^9. */
    double const dv = (double)x + (double)u + (double)n->gaussian_mean + (double)z * (double)sd;
    SP_ASSERT_NEAR(v, dv, 1e-4);
    float const c = v > 0.0f ? (v < 255.0f ? v : 255.0f) : 0.0f;
    return c * m;
}

SP_TEST(render_post_fused_pass_equals_the_separate_sum)
{
    static float img[PH * PW], mask[PH * PW], want[PH * PW];
    static const sp_noise_params cases[] = {
        {4.0f, 2.0f, 3.0f}, {4.0f, 0.0f, 0.0f}, {0.0f, 2.0f, 1.5f}, {0.0f, 0.0f, 0.0f}, {0.5f, 300.0f, 40.0f}};
    sp_key const ku = sp_key_from_seed(21), kg = sp_key_from_seed(22);
    for (size_t c = 0; c < SP_ARRAY_LEN_T(cases); c++)
        for (int masked = 0; masked < 2; masked++) {
            post_frame(img, mask);
            for (int k = 0; k < PH * PW; k++)
                want[k] = post_pixel(img[k], (uint64_t)k, &cases[c], ku, kg, masked ? mask[k] : 1.0f);
            sp_post_rows(img, PW, 0, PH, &cases[c], ku, kg, masked ? mask : NULL, NULL);
            for (int k = 0; k < PH * PW; k++)
                SP_EXPECT_MSG(memcmp(&img[k], &want[k], sizeof(float)) == 0,
                              "case %zu masked %d pixel %d: %.9g, want %.9g", c, masked, k, (double)img[k],
                              (double)want[k]);
        }
}

SP_TEST(render_post_bytes_independent_of_row_split)
{
    static float ref[PH * PW], img[PH * PW], mask[PH * PW];
    sp_noise_params const n = {4.0f, 2.0f, 3.0f};
    sp_key const ku = sp_key_from_seed(31), kg = sp_key_from_seed(32);
    post_frame(ref, mask);
    sp_post_rows(ref, PW, 0, PH, &n, ku, kg, mask, NULL);
    static const size_t bands[] = {1, 2, 3, 7};
    for (size_t b = 0; b < SP_ARRAY_LEN_T(bands); b++) {
        post_frame(img, mask);
        /* Bands in reverse order: any thread may take any band. */
        for (size_t r1 = PH; r1 > 0;) {
            size_t const r0 = r1 > bands[b] ? r1 - bands[b] : 0;
            sp_post_rows(img, PW, r0, r1, &n, ku, kg, mask, NULL);
            r1 = r0;
        }
        SP_EXPECT_MSG(memcmp(ref, img, sizeof img) == 0, "bands of %zu rows changed the bytes", bands[b]);
    }
}

SP_TEST(render_post_noise_ranges_and_skipped_draws)
{
    static float img[PH * PW], other[PH * PW];
    sp_key const ku = sp_key_from_seed(41), kg = sp_key_from_seed(42);
    /* Uniform noise alone on a black frame: every pixel is its draw, in [0, uniform). */
    sp_noise_params const u = {6.5f, 0.0f, 0.0f};
    memset(img, 0, sizeof img);
    sp_post_rows(img, PW, 0, PH, &u, ku, kg, NULL, NULL);
    double sum = 0;
    for (int k = 0; k < PH * PW; k++) {
        SP_EXPECT_MSG(img[k] >= 0.0f && img[k] < 6.5f, "pixel %d: %.9g", k, (double)img[k]);
        SP_EXPECT(img[k] == sp_pair_uniform(ku, (uint64_t)k, 6.5f));
        sum += (double)img[k];
    }
    SP_ASSERT_NEAR(sum / (PH * PW), 3.25, 5 * 6.5 / sqrt(12.0 * PH * PW));
    /* A zero amplitude skips its draw: the other key does not matter. */
    memset(other, 0, sizeof other);
    sp_post_rows(other, PW, 0, PH, &u, ku, sp_key_from_seed(43), NULL, NULL);
    SP_EXPECT(memcmp(img, other, sizeof img) == 0);
    sp_noise_params const g = {0.0f, 100.0f, 5.0f};
    memset(img, 0, sizeof img);
    memset(other, 0, sizeof other);
    sp_post_rows(img, PW, 0, PH, &g, ku, kg, NULL, NULL);
    sp_post_rows(other, PW, 0, PH, &g, sp_key_from_seed(44), kg, NULL, NULL);
    SP_EXPECT(memcmp(img, other, sizeof img) == 0);
}
