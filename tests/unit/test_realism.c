/* test_realism.c: the light sheet, out-of-plane motion, K-frame samples and the kinematic
 * scale mode (docs/realism.md).
 *
 * Map:
 *   stream_unchanged_*   with none of the new keys the stream is the one synthpix wrote
 *                        before they existed: FNV-1a 64 hashes of whole batches (images,
 *                        flows, the per-pair counts), recorded from that earlier build.
 */
#include "sp_test.h"
#include "test_fixtures.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sp/sp_config.h"
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

static const sp_batch *next_ok(sp_sampler *s)
{
    const sp_batch *b = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_next(s, &b, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_sampler_next: %s (%s)", e.message, sp_strerror(st));
    return b;
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
        const sp_batch *const b = next_ok(s);
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
    const sp_batch *const b = next_ok(s);
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
