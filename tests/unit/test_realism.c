/* test_realism.c: the light sheet, out-of-plane motion, K-frame samples and the kinematic
 * scale mode (docs/realism.md).
 *
 * Map:
 *   stream_unchanged_*   with none of the new keys the stream is the one synthpix wrote
 *                        before they existed: FNV-1a 64 hashes of whole batches (images,
 *                        flows, the per-pair counts), recorded from that earlier build.
 *   sheet_*              particle-level statistics over >= 1e5 particles read from the
 *                        sampler's pair slots (white-box): brightness against depth, the
 *                        fractions lost and gained against the sheet's overlap with itself
 *                        shifted by w dt, computed here from the profile's definition.
 *   *_cross_correlation_* rendered frames through the FFT cross-correlation of
 *                        test_xcorr.c: the peak falls as |w| grows, each consecutive pair of
 *                        K frames holds the flow's displacement.
 *   frames_*             K frames: bytes independent of the thread count, and a stream
 *                        saved mid-way and restored continues with the same bytes.
 *   scale_mode_*         the kinematic source's two scale modes and the refusal of others.
 */
#include "sp_test.h"
#include "test_fixtures.h"
#include "test_xcorr.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sampler_struct.h"
#include "sp/sp_config.h"
#include "sp/sp_pipeline.h"
#include "sp/sp_sampler.h"

/* ---- helpers ------------------------------------------------------------------------- */

static sp_sampler *make_sampler(const sp_config *c, unsigned threads)
{
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = threads;
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_create(&s, c, &o, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_sampler_create: %s", e.message);
    return s;
}


/* FNV-1a, 64 bits: an independent hash, so a change of any byte shows. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *const p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ull

/* Hash of the first nb batches: both images, the flows, and each pair's density and
 * particle count (the fields of sp_pair_params that existed before the new ones). */
static uint64_t stream_hash(const sp_config *c, int nb)
{
    sp_sampler *const s = make_sampler(c, 2);
    uint64_t h = FNV_OFFSET;
    for (int i = 0; i < nb; i++) {
        const sp_batch *const b = sp_test_next_ok(s);
        size_t const B = b->batch_size, npx = b->height * b->width;
        size_t const nf = b->flow_height * b->flow_width * 2;
        h = fnv1a(h, b->images1, B * npx * sizeof(float));
        h = fnv1a(h, b->images2, B * npx * sizeof(float));
        h = fnv1a(h, b->flow_fields, B * nf * sizeof(float));
        for (size_t k = 0; k < B; k++) {
            h = fnv1a(h, &b->params[k].seeding_density, sizeof(float));
            h = fnv1a(h, &b->params[k].particles, sizeof(uint32_t));
        }
    }
    sp_sampler_free(s);
    return h;
}

/* ---- no new key: the stream is unchanged ---------------------------------------------- */

/* Recorded with the build before the light sheet, K frames and scale_mode existed (stream
 * version 2). A change of these values is a change of the stream: it needs a new
 * SP_STREAM_VERSION (docs/determinism.md), never a new constant here. */
#define SP_HASH_DEFAULT_3_BATCHES 0x20cd9098a89849a9ull
#define SP_HASH_CLASSIC_2_BATCHES 0xe441ac77fb22b6c0ull
#define SP_HASH_KINEMATIC_1_BATCH 0x1f2e4a872bb6cde7ull

SP_TEST(realism_stream_unchanged_embedded_default)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    uint64_t const h = stream_hash(&c, 3);
    SP_EXPECT_MSG(h == SP_HASH_DEFAULT_3_BATCHES, "hash 0x%016llx", (unsigned long long)h);
    sp_config_free(&c);
}

static void file_config(sp_config *c, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", sp_test_source_dir(), rel);
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_file(c, path, &d);
    if (st != SP_OK) sp_diag_print(&d, path, stderr);
    sp_diag_free(&d);
    SP_ASSERT_OK(st);
}

SP_TEST(realism_stream_unchanged_classic_eight_flows_file)
{
    sp_config c;
    file_config(&c, "examples/classic-eight-flows.yaml");
    uint64_t const h = stream_hash(&c, 2);
    SP_EXPECT_MSG(h == SP_HASH_CLASSIC_2_BATCHES, "hash 0x%016llx", (unsigned long long)h);
    sp_config_free(&c);
}

SP_TEST(realism_stream_unchanged_kinematic_file)
{
    sp_config c;
    file_config(&c, "tests/data/configs/kinematic.yaml");
    uint64_t const h = stream_hash(&c, 1);
    SP_EXPECT_MSG(h == SP_HASH_KINEMATIC_1_BATCH, "hash 0x%016llx", (unsigned long long)h);
    sp_config_free(&c);
}

/* ---- scale_mode of the kinematic source ------------------------------------------------ */

/* A kinematic source in pixel units (r = 1, dt = 1, identity output grid), so the batch's
 * flow fields are the record flows themselves. */
static void kinematic_config(sp_config *c, const char *extra)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: kinematic\nbatch_size: 4\nflow_fields_per_batch: 4\nbatches_per_flow_batch: 1\n"
             "image_shape: [64, 64]\nflow_field_size: [64, 64]\nresolution: 1\nimg_offset: [0, 0]\ndt: 1\n"
             "velocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\n"
             "max_speed_y: 0\nfilter_sigma_range: [4, 4]\nmax_displacement_range: [3, 3]\nseed: 11\n%s",
             extra);
    sp_test_load_yaml(c, yaml);
}

/* The flows of the first batch, copied. */
static float *first_flows(const sp_config *c, size_t *n_per_pair)
{
    sp_sampler *const s = make_sampler(c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    size_t const n = b->flow_height * b->flow_width * 2;
    float *const f = (float *)malloc(b->batch_size * n * sizeof(float));
    memcpy(f, b->flow_fields, b->batch_size * n * sizeof(float));
    *n_per_pair = n;
    sp_sampler_free(s);
    return f;
}

SP_TEST(realism_scale_mode_peak_rescales_and_literal_keeps_the_filtered_noise)
{
    sp_config peak, literal, deflt;
    kinematic_config(&peak, "scale_mode: peak\n");
    kinematic_config(&literal, "scale_mode: literal\n");
    kinematic_config(&deflt, "");
    SP_ASSERT_EQ_INT(deflt.scale_mode, SP_KINEMATIC_SCALE_PEAK);
    size_t n = 0;
    float *const fp = first_flows(&peak, &n), *const fl = first_flows(&literal, &n), *const fd = first_flows(&deflt, &n);
    SP_EXPECT_MSG(memcmp(fp, fd, 4 * n * sizeof(float)) == 0, "scale_mode: peak is not the default");
    double var = 0;
    for (size_t k = 0; k < 4; k++) {
        const float *const p = fp + k * n, *const l = fl + k * n;
        double peak_max = 0, lit_max = 0;
        for (size_t i = 0; i < n; i += 2) {
            peak_max = fmax(peak_max, hypot((double)p[i], (double)p[i + 1]));
            lit_max = fmax(lit_max, hypot((double)l[i], (double)l[i + 1]));
            var += (double)l[i] * (double)l[i] + (double)l[i + 1] * (double)l[i + 1];
        }
        /* peak: the largest displacement is the drawn amplitude (range [3, 3]) */
        SP_ASSERT_NEAR(peak_max, 3.0, 1e-5);
        /* literal: the same field, not rescaled: peak = literal * 3 / max |literal| everywhere */
        SP_EXPECT_MSG(lit_max < 1.0, "literal field's peak %g: it looks rescaled", lit_max);
        for (size_t i = 0; i < n; i++)
            SP_ASSERT_NEAR((double)p[i], (double)l[i] * 3.0 / lit_max, 1e-5 * 3.0);
    }
    /* literal: 3 times uniform [-1, 1) noise (variance 1/3) smoothed by a Gaussian of sigma 4,
     * which keeps 1 / (4 pi sigma^2) of a white noise's variance per component: std 0.122. */
    double const std = sqrt(var / (double)(4 * n)), want = 3.0 * sqrt(1.0 / 3.0 / (4.0 * M_PI * 16.0));
    SP_EXPECT_MSG(fabs(std / want - 1.0) < 0.2, "literal std %g, expected %g", std, want);
    free(fp);
    free(fl);
    free(fd);
    sp_config_free(&peak);
    sp_config_free(&literal);
    sp_config_free(&deflt);
}

/* The diagnostics of a configuration that must not load; returns the first error. */
static sp_diag_item first_error(const char *yaml)
{
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_string(&c, yaml, strlen(yaml), "cfg.yaml", NULL, &d);
    SP_ASSERT_STATUS(st, SP_ERR_CONFIG);
    sp_diag_item it;
    memset(&it, 0, sizeof it);
    for (size_t i = 0; i < d.count; i++)
        if (d.items[i].level == SP_DIAG_ERROR) {
            it = d.items[i];
            break;
        }
    sp_diag_free(&d);
    return it;
}

SP_TEST(realism_scale_mode_unknown_value_is_refused_with_key_position_and_allowed_values)
{
    sp_config base;
    kinematic_config(&base, ""); /* the base text loads */
    sp_config_free(&base);
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: kinematic\nbatch_size: 4\nflow_fields_per_batch: 4\nbatches_per_flow_batch: 1\n"
             "image_shape: [64, 64]\nflow_field_size: [64, 64]\nresolution: 1\nimg_offset: [0, 0]\ndt: 1\n"
             "velocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\n"
             "max_speed_y: 0\nscale_mode:   literally\n");
    sp_diag_item const it = first_error(yaml);
    SP_ASSERT_STR_CONTAINS(it.key, "scale_mode");
    SP_ASSERT_EQ_INT(it.line, 16);
    SP_ASSERT_EQ_INT(it.column, 15);
    SP_ASSERT_STR_CONTAINS(it.message, "scale_mode: literally is not allowed; expected one of \"peak\", "
                                       "\"literal\" (did you mean \"literal\"?)");
    /* an analytic entry of kind kinematic takes its own scale_mode, checked the same way */
    sp_diag_item const a = first_error("scheduler_class: analytic\nbatch_size: 1\nflow_fields_per_batch: 1\n"
                                       "analytic_flow:\n  - {kind: kinematic, scale_mode: max}\n");
    SP_ASSERT_STR_CONTAINS(a.message, "analytic_flow[0].scale_mode: max is not allowed; expected one of "
                                      "\"peak\", \"literal\"");
    SP_ASSERT_EQ_INT(a.line, 5);
    SP_ASSERT_EQ_INT(a.column, 35);
}

SP_TEST(realism_scale_mode_round_trips_through_the_written_yaml)
{
    sp_config c, back;
    sp_test_load_yaml(&c, "scheduler_class: analytic\nbatch_size: 1\nflow_fields_per_batch: 1\n"
                          "batches_per_flow_batch: 1\nimage_shape: [32, 32]\nflow_field_size: [32, 32]\n"
                          "resolution: 1\nimg_offset: [0, 0]\nvelocities_per_pixel: 1\noutput_units: pixels\n"
                          "min_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\nmax_speed_y: 0\n"
                          "analytic_flow:\n  - {kind: kinematic, scale_mode: literal, w: [-1, 2]}\n"
                          "  - {kind: uniform, u: 1, v: 0, w: 0.5}\n");
    SP_ASSERT_EQ_INT(c.analytic[0].scale_mode, SP_KINEMATIC_SCALE_LITERAL);
    SP_EXPECT(c.analytic[0].random & (1u << SP_AP_W));
    SP_ASSERT_NEAR(c.analytic[1].w, 0.5, 0);
    sp_membuf m = {0};
    sp_sink const sink = sp_sink_membuf(&m);
    SP_ASSERT_OK(sp_config_write_yaml(&c, &sink, NULL));
    SP_ASSERT_STR_CONTAINS((const char *)m.data, "{kind: kinematic, filter_sigma_range: [5, 100], "
                                                 "max_displacement_range: [0, 16], w: [-1, 2], scale_mode: literal}");
    SP_ASSERT_OK(sp_config_load_string(&back, (const char *)m.data, m.size, "back.yaml", NULL, NULL));
    SP_EXPECT(sp_config_equal(&c, &back));
    sp_membuf_free(&m);
    sp_config_free(&c);
    sp_config_free(&back);
}

/* ---- the light sheet: particle-level statistics ------------------------------------------ */

/* A pixel-unit configuration (r = 1, dt = 1) with a uniform flow (u, v) and w (units/s =
 * pixels per frame); extra adds keys. */
static void sheet_config(sp_config *c, int size, double u, double v, double w, const char *extra)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: analytic\nanalytic_flow: {kind: uniform, u: %g, v: %g, w: %g}\n"
             "image_shape: [%d, %d]\nflow_field_size: [400, 400]\nresolution: 1\nimg_offset: [50, 50]\n"
             "dt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\n"
             "min_speed_x: -4\nmax_speed_x: 4\nmin_speed_y: -4\nmax_speed_y: 4\n"
             "diameter_ranges: [[2.0, 2.0]]\ndiameter_var: 0\nintensity_ranges: [[50, 200]]\n"
             "intensity_var: 0\nrho_ranges: [[0.0, 0.0]]\nrho_var: 0\np_hide_img1: 0\np_hide_img2: 0\n"
             "noise_uniform: 0\nnoise_gaussian_mean: 0\nnoise_gaussian_std: 0\nseed: 3\n%s",
             u, v, w, size, size, extra);
    sp_test_load_yaml(c, yaml);
}

SP_TEST(realism_sheet_gaussian_brightness_follows_the_profile)
{
    /* w = 0, t = 2: mean amplitude of the particles at depth z over the mean intensity
     * (125) against exp(-8 z^2 / t^2), the e^-2 convention, in 16 bins of |z| in [0, t). */
    double const t = 2.0;
    sp_config c;
    sheet_config(&c, 64, 0.5, 0.0, 0.0,
                 "batch_size: 2\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
                 "seeding_density_range: [10, 10]\nsheet_profile: gaussian\nsheet_thickness: 2\n");
    sp_sampler *const s = make_sampler(&c, 2);
    sp_test_next_ok(s);
    enum { NB = 16 };
    double sum_a[NB] = {0}, sum_f[NB] = {0}, count[NB] = {0};
    size_t total = 0, outside_lit = 0;
    for (size_t k = 0; k < 2; k++) {
        const sp_pair_slot *const p = &s->slots[k];
        for (size_t j = 0; j < p->count; j++) {
            double const z = (double)p->z[0][j], a = (double)p->a[0][j];
            total++;
            if (fabs(z) >= t) {
                outside_lit += a != 0.0;
                continue;
            }
            int const bin = (int)(fabs(z) / t * NB);
            sum_a[bin] += a / 125.0;
            sum_f[bin] += exp(-8.0 * z * z / (t * t));
            count[bin]++;
        }
    }
    SP_EXPECT_MSG(total >= 200000, "only %zu particles", total);
    SP_ASSERT_EQ_U64(outside_lit, 0); /* the profile is cut to 0 beyond |z| = t */
    /* Each bin: the mean brightness follows the mean profile within 2% (where the profile
     * is above 5%), and a least-squares fit of ln(brightness) = -8 z^2 / t_fit^2 gives t
     * within 2%. */
    double sxx = 0, sxy = 0;
    for (int b = 0; b < NB; b++) {
        double const mean_a = sum_a[b] / count[b], mean_f = sum_f[b] / count[b];
        double const zc = (b + 0.5) * t / NB;
        if (mean_f > 0.05)
            SP_EXPECT_MSG(fabs(mean_a / mean_f - 1.0) < 0.02, "bin %d (|z| ~ %.3f, %g particles): brightness %.4f, "
                          "profile %.4f", b, zc, count[b], mean_a, mean_f);
        if (mean_f > 0.05) sxx += zc * zc * zc * zc, sxy += zc * zc * log(mean_a);
    }
    double const t_fit = sqrt(-8.0 / (sxy / sxx));
    SP_EXPECT_MSG(fabs(t_fit / t - 1.0) < 0.02, "fitted thickness %g, configured %g", t_fit, t);
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* Over the pairs of one batch: the fraction of frame-0 in-sheet particles lost by frame 1
 * and of frame-1 ones gained, from the recorded params weighted by in_sheet; and, checked
 * on every particle, that z moved by exactly w dt. */
static void lost_gained(const char *profile_keys, double w, double t, double *lost, double *gained, double *in0)
{
    sp_config c;
    char extra[512];
    snprintf(extra, sizeof extra,
             "batch_size: 2\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
             "seeding_density_range: [10, 10]\n%s", profile_keys);
    sheet_config(&c, 64, 1.0, -0.5, w, extra);
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    double l = 0, g = 0, n0 = 0, n1 = 0;
    for (size_t k = 0; k < 2; k++) {
        const sp_pair_params *const pp = &b->params[k];
        l += (double)pp->lost[0] * pp->in_sheet[0];
        g += (double)pp->gained[0] * pp->in_sheet[1];
        n0 += pp->in_sheet[0];
        n1 += pp->in_sheet[1];
        SP_ASSERT_NEAR(pp->sheet_thickness, t, 1e-6);
        SP_ASSERT_NEAR(pp->w, 0.0, 0.0); /* no out_of_plane_range: w comes from the flow */
        const sp_pair_slot *const p = &s->slots[k];
        for (size_t j = 0; j < p->count; j += 97)
            SP_ASSERT_NEAR((double)p->z[1][j] - (double)p->z[0][j], w, 1e-5);
    }
    *lost = l / n0, *gained = g / n1, *in0 = n0;
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(realism_sheet_uniform_w_loses_the_overlap_fraction)
{
    /* Particles fill the slab uniformly, so of those with |z| <= t/2 in frame 0 the ones
     * within |w dt| of the downstream edge leave: lost = gained = min(|w dt| / t, 1), one
     * minus the overlap of [-t/2, t/2] with itself shifted by w dt. */
    static const struct {
        const char *keys;
        double t, w;
    } cases[] = {
        {"sheet_profile: gaussian\nsheet_thickness: 4\n", 4.0, 1.0},
        {"sheet_profile: gaussian\nsheet_thickness: 4\n", 4.0, -2.6},
        {"sheet_profile: tophat\nsheet_thickness: 3\nsheet_edge: 0.3\n", 3.0, 0.6},
        {"sheet_profile: tophat\nsheet_thickness: 3\n", 3.0, 4.5}, /* |w dt| > t: all lost */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double lost, gained, n0;
        lost_gained(cases[i].keys, cases[i].w, cases[i].t, &lost, &gained, &n0);
        double const want = fmin(fabs(cases[i].w) / cases[i].t, 1.0);
        SP_EXPECT_MSG(n0 >= 1e5, "case %zu: %g particles in the sheet", i, n0);
        SP_EXPECT_MSG(fabs(lost - want) < 0.02 && fabs(gained - want) < 0.02,
                      "case %zu: lost %.4f, gained %.4f, expected %.4f", i, lost, gained, want);
    }
}

SP_TEST(realism_sheet_out_of_plane_range_draws_w_per_sample)
{
    /* w from out_of_plane_range, a flow without w: each sample's w lies in the range, the
     * samples differ, and each loses |w| / t of its sheet (t = 4). */
    sp_config c;
    sheet_config(&c, 64, 1.0, 0.0, 0.0,
                 "batch_size: 4\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
                 "seeding_density_range: [6, 6]\nsheet_profile: gaussian\nsheet_thickness: 4\n"
                 "out_of_plane_range: [-3, 3]\n");
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    for (size_t k = 0; k < 4; k++) {
        const sp_pair_params *const pp = &b->params[k];
        SP_EXPECT(pp->w >= -3.0f && pp->w <= 3.0f);
        SP_EXPECT(k == 0 || pp->w != b->params[0].w);
        SP_EXPECT_MSG(fabs((double)pp->lost[0] - fabs((double)pp->w) / 4.0) < 0.02, "sample %zu: w %g, lost %g", k,
                      (double)pp->w, (double)pp->lost[0]);
        /* the slab reaches t beyond the sheet's centre and |w| dt further upstream */
        SP_ASSERT_NEAR((double)(pp->depth[1] - pp->depth[0]), 2 * 4.0 + fabs((double)pp->w), 1e-4);
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* ---- rendered frames through the cross-correlation --------------------------------------- */

SP_TEST(realism_sheet_cross_correlation_peak_falls_as_w_grows)
{
    /* A Gaussian sheet of t = 4 px and a uniform in-plane move (dy, dx) = (-1.3, 2.2): the
     * normalised correlation peak of frame 0 against frame 1, averaged over 4 samples, falls
     * with |w dt| / t = 0, 0.3, 0.6, 0.9 (theory: the sheet's self-overlap
     * exp(-4 (w dt)^2 / t^2) = 1, 0.70, 0.24, 0.04 of the w = 0 peak), and the displacement is
     * still found while the peak stands out. */
    static const double ws[] = {0.0, 1.2, -2.4, 3.6};
    double prev = 2.0, first = 0.0;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        sp_config c;
        sheet_config(&c, 128, 2.2, -1.3, ws[i],
                     "batch_size: 4\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
                     "seeding_density_range: [0.05, 0.05]\nsheet_profile: gaussian\nsheet_thickness: 4\n");
        sp_sampler *const s = make_sampler(&c, 2);
        const sp_batch *const b = sp_test_next_ok(s);
        double mean = 0;
        for (size_t k = 0; k < 4; k++) {
            double dy, dx, peak;
            sp_test_cross_correlate(b->images1 + k * 128 * 128, b->images2 + k * 128 * 128, 128, &dy, &dx, &peak);
            mean += peak / 4;
            if (i < 2) {
                SP_ASSERT_NEAR(dy, -1.3, 0.1);
                SP_ASSERT_NEAR(dx, 2.2, 0.1);
            }
        }
        if (i == 0) first = mean;
        double const theory = exp(-4.0 * ws[i] * ws[i] / 16.0);
        SP_EXPECT_MSG(mean < prev - 0.03, "|w| = %g: peak %.4f does not fall below %.4f", fabs(ws[i]), mean, prev);
        SP_EXPECT_MSG(fabs(mean / first - theory) < 0.1, "|w| = %g: peak ratio %.3f, sheet overlap %.3f",
                      fabs(ws[i]), mean / first, theory);
        prev = mean;
        sp_sampler_free(s);
        sp_config_free(&c);
    }
}

SP_TEST(realism_frames_each_consecutive_pair_holds_the_displacement)
{
    /* frames: 4 with a uniform flow: frames f and f + 1 of every sample are the same
     * particles moved by the flow once more, so the cross-correlation of each consecutive
     * pair finds (dy, dx) = (1.7, -2.4). */
    sp_config c;
    sheet_config(&c, 128, -2.4, 1.7, 0.0,
                 "batch_size: 2\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
                 "seeding_density_range: [0.03, 0.03]\nframes: 4\n");
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    SP_ASSERT_EQ_INT(b->frames, 4);
    SP_EXPECT(b->images[0] == b->images1 && b->images[1] == b->images2 && b->images[4] == NULL);
    size_t const npx = 128 * 128;
    for (size_t k = 0; k < 2; k++)
        for (size_t f = 0; f + 1 < 4; f++) {
            double dy, dx;
            sp_test_cross_correlate(b->images[f] + k * npx, b->images[f + 1] + k * npx, 128, &dy, &dx, NULL);
            SP_EXPECT_MSG(fabs(dy - 1.7) < 0.05 && fabs(dx + 2.4) < 0.05, "sample %zu, frames %zu -> %zu: (%g, %g)",
                          k, f, f + 1, dy, dx);
        }
    /* and frame 0 against frame 3: three moves */
    double dy, dx;
    sp_test_cross_correlate(b->images[0], b->images[3], 128, &dy, &dx, NULL);
    SP_ASSERT_NEAR(dy, 3 * 1.7, 0.1);
    SP_ASSERT_NEAR(dx, -3 * 2.4, 0.1);
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* ---- K frames: determinism and resume -------------------------------------------------- */

/* Everything a K-frame batch holds, copied: every frame, the flows, the params. */
static size_t batch_bytes(const sp_batch *b)
{
    size_t const npx = b->height * b->width, nf = b->flow_height * b->flow_width * 2;
    return b->batch_size * ((b->frames * npx + nf) * sizeof(float) + sizeof(sp_pair_params));
}

static void copy_batch(const sp_batch *b, unsigned char *out)
{
    size_t const B = b->batch_size, npx = b->height * b->width, nf = b->flow_height * b->flow_width * 2;
    for (size_t f = 0; f < b->frames; f++, out += B * npx * sizeof(float))
        memcpy(out, b->images[f], B * npx * sizeof(float));
    memcpy(out, b->flow_fields, B * nf * sizeof(float));
    out += B * nf * sizeof(float);
    for (size_t k = 0; k < B; k++, out += sizeof(sp_pair_params)) memcpy(out, &b->params[k], sizeof(sp_pair_params));
}

/* A K = 4 stream with every new feature on: a tophat sheet, w from the flow's channel 2 per
 * record plus a drawn w, over-exposure, RK4. */
static void frames_config(sp_config *c)
{
    sp_test_load_yaml(c, "scheduler_class: analytic\n"
                         "analytic_flow:\n"
                         "  - {kind: lamb_oseen, circulation: [-300, 300], core_radius: 20, w: [-0.5, 0.5]}\n"
                         "  - {kind: uniform, speed: [0.5, 2], angle: [0, 360], w: 0.3}\n"
                         "analytic_num_examples: 100\nimage_shape: [64, 96]\nflow_field_size: [300, 300]\n"
                         "resolution: 1\nimg_offset: [100, 100]\ndt: 1\nvelocities_per_pixel: 0.5\n"
                         "output_units: pixels\nmin_speed_x: -3\nmax_speed_x: 3\nmin_speed_y: -3\nmax_speed_y: 3\n"
                         "batch_size: 3\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 2\nseed: 5\n"
                         "seeding_density_range: [0.05, 0.08]\ndiameter_ranges: [[1.5, 3]]\nadvection: rk4\n"
                         "noise_gaussian_std: 2\nnoise_uniform: 1\nframes: 4\nsheet_profile: tophat\n"
                         "sheet_thickness: 3\nsheet_edge: 0.25\nout_of_plane_range: [-0.4, 0.4]\n"
                         "over_exposure: 1.5\n");
}

SP_TEST(realism_frames_bytes_identical_for_1_and_2_threads)
{
    sp_config c;
    frames_config(&c);
    enum { NB = 3 };
    unsigned char *ref[NB] = {NULL};
    for (unsigned threads = 1; threads <= 2; threads++) {
        sp_sampler *const s = make_sampler(&c, threads);
        for (int i = 0; i < NB; i++) {
            const sp_batch *const b = sp_test_next_ok(s);
            SP_ASSERT_EQ_INT(b->frames, 4);
            unsigned char *const got = (unsigned char *)malloc(batch_bytes(b));
            copy_batch(b, got);
            if (threads == 1) {
                ref[i] = got;
                continue;
            }
            SP_EXPECT_MSG(memcmp(ref[i], got, batch_bytes(b)) == 0, "batch %d differs with 2 threads", i);
            free(got);
        }
        sp_sampler_free(s);
    }
    for (int i = 0; i < NB; i++) free(ref[i]);
    sp_config_free(&c);
}

SP_TEST(realism_frames_checkpoint_mid_stream_restores_the_same_bytes)
{
    /* Batches 0..4 uninterrupted; then a sampler that saved after batch 2 (mid-repetition:
     * batches_per_flow_batch 2) is restored into a new sampler, whose batches 3 and 4 must
     * be the same bytes. */
    sp_config c;
    frames_config(&c);
    enum { NB = 5, SAVE_AFTER = 3 };
    unsigned char *ref[NB];
    size_t nbytes = 0;
    sp_sampler *const s = make_sampler(&c, 2);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ckpt-frames", sp_test_tmpdir());
    sp_error e;
    sp_error_clear(&e);
    for (int i = 0; i < NB; i++) {
        const sp_batch *const b = sp_test_next_ok(s);
        nbytes = batch_bytes(b);
        ref[i] = (unsigned char *)malloc(nbytes);
        copy_batch(b, ref[i]);
        if (i + 1 == SAVE_AFTER) SP_ASSERT_OK(sp_save_checkpoint(dir, s, SAVE_AFTER, -1, &e));
    }
    sp_sampler_free(s);
    sp_sampler *r = NULL;
    sp_status const st = sp_make(&c, dir, SP_CKPT_LATEST, NULL, &r, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_make: %s", e.message);
    unsigned char *const got = (unsigned char *)malloc(nbytes);
    for (int i = SAVE_AFTER; i < NB; i++) {
        copy_batch(sp_test_next_ok(r), got);
        SP_EXPECT_MSG(memcmp(ref[i], got, nbytes) == 0, "batch %d after the restore differs", i);
    }
    free(got);
    for (int i = 0; i < NB; i++) free(ref[i]);
    sp_sampler_free(r);
    sp_config_free(&c);
}

SP_TEST(realism_sheet_w_from_a_flow_files_third_channel)
{
    /* A .npy flow (H, W, 3) whose channel 2 is w = 1.5 px per frame everywhere: z moves by
     * w dt and a Gaussian sheet of t = 5 loses 1.5 / 5 of its particles. */
    enum { N = 128 };
    static float flow[N * N * 3];
    for (size_t i = 0; i < N * N; i++) flow[3 * i] = 0.8f, flow[3 * i + 1] = -0.6f, flow[3 * i + 2] = 1.5f;
    char path[4096];
    snprintf(path, sizeof path, "%s/flow_w.npy", sp_test_tmpdir());
    size_t const shape[3] = {N, N, 3};
    sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, flow);
    sp_config c;
    char yaml[6144];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .npy\nfile_list: [%s]\nbatch_size: 2\nflow_fields_per_batch: 1\n"
             "batches_per_flow_batch: 1\nimage_shape: [64, 64]\nflow_field_size: [128, 128]\nresolution: 1\n"
             "img_offset: [32, 32]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: -1\n"
             "max_speed_x: 1\nmin_speed_y: -1\nmax_speed_y: 1\nseeding_density_range: [10, 10]\n"
             "diameter_ranges: [[2, 2]]\nsheet_profile: gaussian\nsheet_thickness: 5\n",
             path);
    sp_test_load_yaml(&c, yaml);
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    double lost = 0, n0 = 0;
    for (size_t k = 0; k < 2; k++) {
        lost += (double)b->params[k].lost[0] * b->params[k].in_sheet[0];
        n0 += b->params[k].in_sheet[0];
        const sp_pair_slot *const p = &s->slots[k];
        for (size_t j = 0; j < p->count; j += 101) SP_ASSERT_NEAR((double)(p->z[1][j] - p->z[0][j]), 1.5, 1e-5);
        /* the slab reaches t beyond the centre plane, and 1.5 further upstream */
        SP_ASSERT_NEAR((double)b->params[k].depth[0], -5.0 - 1.5, 1e-5);
        SP_ASSERT_NEAR((double)b->params[k].depth[1], 5.0, 1e-5);
    }
    SP_EXPECT_MSG(n0 >= 1e5, "%g particles in the sheet", n0);
    SP_ASSERT_NEAR(lost / n0, 1.5 / 5.0, 0.02);
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(realism_example_light_sheet_loads_without_warnings_and_renders_four_frames)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/light-sheet.yaml", sp_test_source_dir());
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    SP_ASSERT_OK(sp_config_load_file(&c, path, &d));
    if (d.count) sp_diag_print(&d, path, stderr);
    SP_ASSERT_EQ_U64(d.count, 0);
    sp_diag_free(&d);
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    SP_ASSERT_EQ_INT(b->frames, 4);
    for (size_t k = 0; k < b->batch_size; k++) {
        const sp_pair_params *const pp = &b->params[k];
        SP_ASSERT_EQ_INT(pp->sheet_profile, SP_SHEET_GAUSSIAN);
        SP_EXPECT(pp->w >= -1.0f && pp->w <= 1.0f);
        /* w dt / t = 0.5 w: every step loses about that share (uniform flows and vortices
         * have no w of their own) */
        for (int f = 0; f < 3; f++)
            SP_EXPECT_MSG(fabs((double)pp->lost[f] - 0.5 * fabs((double)pp->w)) < 0.08, "sample %zu step %d: lost %g, w %g",
                          k, f, (double)pp->lost[f], (double)pp->w);
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(realism_frames_seek_lands_on_the_same_bytes)
{
    /* sp_sampler_seek to batch 3 (mid-repetition) of the K = 4 stream gives batch 3's bytes. */
    sp_config c;
    frames_config(&c);
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *b = NULL;
    for (int i = 0; i < 4; i++) b = sp_test_next_ok(s);
    size_t const nbytes = batch_bytes(b);
    unsigned char *const want = (unsigned char *)malloc(nbytes), *const got = (unsigned char *)malloc(nbytes);
    copy_batch(b, want);
    sp_sampler_free(s);
    sp_sampler *const t = make_sampler(&c, 1);
    sp_error e;
    sp_error_clear(&e);
    SP_ASSERT_OK(sp_sampler_seek(t, 3, &e));
    copy_batch(sp_test_next_ok(t), got);
    SP_EXPECT(memcmp(want, got, nbytes) == 0);
    free(want);
    free(got);
    sp_sampler_free(t);
    sp_config_free(&c);
}

SP_TEST(realism_sampler_refuses_frames_and_sheets_set_out_of_range_in_code)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    sp_sampler *s = NULL;
    sp_error e;
    c.frames = 0;
    SP_ASSERT_STATUS(sp_sampler_create(&s, &c, NULL, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "frames: 0 is out of range; expected an integer in [2, 16]");
    c.frames = 3;
    c.sheet_profile = SP_SHEET_TOPHAT;
    SP_ASSERT_STATUS(sp_sampler_create(&s, &c, NULL, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "sheet_thickness: 0 is out of range");
    SP_EXPECT(s == NULL);
    sp_config_free(&c);
}

/* ---- the keys' validation ------------------------------------------------------------------- */

/* Loads base + extra; returns the joined diagnostics ("level key line:col message\n"). */
static sp_status load_diags(const char *extra, char *out, size_t cap)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: analytic\nanalytic_flow: {kind: uniform, u: 1, v: 0}\nbatch_size: 1\n"
             "flow_fields_per_batch: 1\nbatches_per_flow_batch: 1\nimage_shape: [32, 32]\nflow_field_size: [64, 64]\n"
             "resolution: 1\nimg_offset: [10, 10]\nvelocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: 0\n"
             "max_speed_x: 1\nmin_speed_y: 0\nmax_speed_y: 0\n%s",
             extra);
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_string(&c, yaml, strlen(yaml), "cfg.yaml", NULL, &d);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < d.count && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s %d:%d %s\n",
                                d.items[i].level == SP_DIAG_ERROR ? "error" : "warning", d.items[i].line,
                                d.items[i].column, d.items[i].message);
    sp_diag_free(&d);
    if (st == SP_OK) sp_config_free(&c);
    return st;
}

SP_TEST(realism_keys_are_validated_with_positions_and_useless_ones_warned)
{
    char m[4096];
    /* the base loads clean: 15 lines, so the next key is on line 16 */
    SP_ASSERT_OK(load_diags("", m, sizeof m));
    SP_ASSERT_EQ_INT(m[0], '\0');
    SP_ASSERT_STATUS(load_diags("sheet_profile: gaussian\n", m, sizeof m), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(m, "missing required key 'sheet_thickness' (needed by sheet_profile: gaussian)");
    SP_ASSERT_STATUS(load_diags("sheet_profile: lorentzian\n", m, sizeof m), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(m, "error 16:16 sheet_profile: lorentzian is not allowed; expected one of \"none\", "
                              "\"gaussian\", \"tophat\"");
    SP_ASSERT_STATUS(load_diags("frames: 17\n", m, sizeof m), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(m, "error 16:9 frames: 17 is out of range; expected an integer in [2, 16]");
    SP_ASSERT_STATUS(load_diags("sheet_profile: tophat\nsheet_thickness: 2\nsheet_edge: 1.5\n", m, sizeof m),
                     SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(m, "error 18:13 sheet_edge: 1.5 is out of range");
    SP_ASSERT_STATUS(load_diags("over_exposure: 0\n", m, sizeof m), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(m, "over_exposure: 0 is out of range");
    SP_ASSERT_STATUS(load_diags("sheet_profile: gaussian\nsheet_thickness: 1\nout_of_plane_range: [1, -1]\n", m,
                                sizeof m),
                     SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(m, "out_of_plane_range: [1, -1] has min > max");
    /* keys that do nothing here are warnings at their position */
    SP_ASSERT_OK(load_diags("sheet_thickness: 2\nout_of_plane_range: [0, 1]\n", m, sizeof m));
    SP_ASSERT_STR_CONTAINS(m, "warning 16:1 sheet_thickness: ignored without a light sheet (sheet_profile: none)");
    SP_ASSERT_STR_CONTAINS(m, "warning 17:1 out_of_plane_range: ignored without a light sheet");
    SP_ASSERT_OK(load_diags("sheet_profile: gaussian\nsheet_thickness: 2\nsheet_edge: 0.1\n", m, sizeof m));
    SP_ASSERT_STR_CONTAINS(m, "warning 18:1 sheet_edge: ignored with sheet_profile: gaussian");
    SP_ASSERT_OK(load_diags("scale_mode: literal\n", m, sizeof m));
    SP_ASSERT_STR_CONTAINS(m, "warning 16:1 scale_mode: ignored unless scheduler_class is \"kinematic\"");
    /* real image pairs have two frames */
    sp_diag_item const it = first_error("scheduler_class: .mat\ninclude_images: true\nfile_list: [a.mat]\n"
                                        "batch_size: 1\nflow_fields_per_batch: 1\nframes: 3\n");
    SP_ASSERT_STR_CONTAINS(it.message, "frames: 3 is not supported with include_images: true");
    SP_ASSERT_EQ_INT(it.line, 6);
}
