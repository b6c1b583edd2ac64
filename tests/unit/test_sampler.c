/* test_sampler.c: batches from the sampler: shapes and ranges, batching rules (pair k uses
 * flow k mod F, refresh every batches_per_flow_batch), keys, thread-count independence,
 * the true-permutation shuffle, geometry errors, masks, histograms, and an end-to-end
 * check: an FFT cross-correlation of a pair rendered from a uniform flow recovers the
 * displacement. */
#include "sp_test.h"
#include "test_fixtures.h"
#include "test_xcorr.h"

#include <math.h>
#include <unistd.h>

#include "loader_internal.h"
#include "sampler_internal.h"
#include "sp/sp_config.h"
#include "sp/sp_io.h"
#include "sp/sp_sampler.h"

static sp_sampler *make_sampler_prefetch(const sp_config *c, unsigned threads, unsigned prefetch)
{
    return sp_test_sampler(c, threads, prefetch, SP_FLOW_FILES_AUTO);
}

static sp_sampler *make_sampler(const sp_config *c, unsigned threads)
{
    return make_sampler_prefetch(c, threads, SP_PREFETCH_AUTO);
}

SP_TEST(sampler_default_batch_shapes_and_ranges)
{
    sp_config c;
    sp_diag d;
    sp_diag_init(&d);
    SP_ASSERT_OK(sp_config_load_default(&c, &d));
    sp_diag_free(&d);
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *b = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_sampler_next(s, &b, &e));
    SP_ASSERT_EQ_INT(b->batch_size, c.batch_size);
    SP_ASSERT_EQ_INT(b->height, 256);
    SP_ASSERT_EQ_INT(b->width, 256);
    SP_ASSERT_EQ_INT(b->flow_height, 256);
    size_t const npx = b->height * b->width;
    for (size_t k = 0; k < b->batch_size; k++) {
        double sum = 0;
        for (size_t p = 0; p < npx; p++) {
            float const v = b->images1[k * npx + p];
            SP_EXPECT(v >= 0.0f && v <= 255.0f);
            sum += (double)v;
        }
        SP_EXPECT_MSG(sum / (double)npx > 5.0, "pair %zu is nearly black (mean %g)", k, sum / (double)npx);
        const sp_pair_params *const pp = &b->params[k];
        SP_EXPECT(pp->seeding_density >= (float)c.seeding_density_range.min &&
                  pp->seeding_density <= (float)c.seeding_density_range.max);
        SP_EXPECT(b->mask[k] == 1);
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* ---- helpers ------------------------------------------------------------------------- */


/* A pixel-unit configuration (r = 1, dt = 1) around a given flow block. */
static void pixel_config(sp_config *c, const char *flows, const char *extra)
{
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: analytic\n"
             "analytic_flow:\n%s"
             "image_shape: [128, 128]\nflow_field_size: [200, 200]\nresolution: 1\nimg_offset: [30, 30]\n"
             "dt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\n"
             "min_speed_x: -4\nmax_speed_x: 4\nmin_speed_y: -4\nmax_speed_y: 4\n"
             "seeding_density_range: [0.02, 0.03]\ndiameter_ranges: [[2.0, 3.0]]\ndiameter_var: 0\n"
             "intensity_ranges: [[150, 200]]\nintensity_var: 0\nrho_ranges: [[0.0, 0.0]]\nrho_var: 0\n"
             "p_hide_img1: 0\np_hide_img2: 0\nnoise_uniform: 0\nnoise_gaussian_mean: 0\nnoise_gaussian_std: 0\n"
             "seed: 7\n%s",
             flows, extra);
    sp_test_load_yaml(c, yaml);
}

/* ---- determinism ----------------------------------------------------------------------- */

SP_TEST(sampler_bytes_identical_for_1_2_4_threads)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    enum { NB = 3 };
    size_t const B = (size_t)c.batch_size, npx = 256 * 256, nf = 256 * 256 * 2;
    float *ref = NULL;
    sp_pair_params refp[NB * 8];
    for (unsigned threads = 1; threads <= 4; threads *= 2) {
        sp_sampler *const s = make_sampler(&c, threads);
        for (int bi = 0; bi < NB; bi++) {
            const sp_batch *const b = sp_test_next_ok(s);
            size_t const per = B * (2 * npx + nf);
            if (ref == NULL) ref = (float *)malloc(NB * per * sizeof(float));
            float *const slot = ref + (size_t)bi * per;
            if (threads == 1) {
                memcpy(slot, b->images1, B * npx * sizeof(float));
                memcpy(slot + B * npx, b->images2, B * npx * sizeof(float));
                memcpy(slot + 2 * B * npx, b->flow_fields, B * nf * sizeof(float));
                memcpy(refp + bi * 8, b->params, B * sizeof *b->params);
            } else {
                SP_EXPECT_MSG(memcmp(slot, b->images1, B * npx * sizeof(float)) == 0, "images1 differ with %u threads", threads);
                SP_EXPECT_MSG(memcmp(slot + B * npx, b->images2, B * npx * sizeof(float)) == 0, "images2 differ with %u threads", threads);
                SP_EXPECT(memcmp(slot + 2 * B * npx, b->flow_fields, B * nf * sizeof(float)) == 0);
                SP_EXPECT(memcmp(refp + bi * 8, b->params, B * sizeof *b->params) == 0);
            }
        }
        sp_sampler_free(s);
    }
    free(ref);
    sp_config_free(&c);
}

/* ---- batching rules -------------------------------------------------------------------- */

SP_TEST(sampler_pair_k_uses_flow_k_mod_F_and_refreshes_every_bpfb)
{
    sp_config c;
    /* Five uniform flows whose u identifies the record: u = record + 1 (pixels per frame). */
    pixel_config(&c,
                 "  - {kind: uniform, u: 1.0, v: 0.5}\n  - {kind: uniform, u: 2.0, v: 0.5}\n"
                 "  - {kind: uniform, u: 3.0, v: 0.5}\n  - {kind: uniform, u: 3.5, v: 0.5}\n"
                 "  - {kind: uniform, u: -1.0, v: 0.5}\n",
                 "batch_size: 6\nflow_fields_per_batch: 4\nbatches_per_flow_batch: 3\n");
    static const float u_of_record[5] = {1.0f, 2.0f, 3.0f, 3.5f, -1.0f};
    sp_sampler *const s = make_sampler(&c, 2);
    SP_ASSERT_EQ_INT(sp_sampler_records(s), 5);
    size_t const nf = 128 * 128 * 2;
    uint32_t first_seeds[4] = {0};
    for (int bi = 0; bi < 6; bi++) {
        const sp_batch *const b = sp_test_next_ok(s);
        SP_ASSERT_EQ_INT(b->repetition, bi % 3);
        SP_ASSERT_EQ_INT(b->first_pair, (uint64_t)bi * 6);
        for (size_t k = 0; k < 6; k++) {
            size_t const f = k % 4;
            /* Refresh r reads stream positions 4r .. 4r+3: records (4r + f) mod 5, epoch (4r + f) / 5. */
            uint64_t const pos = (uint64_t)(bi / 3) * 4 + f;
            SP_ASSERT_EQ_INT(b->records[k], pos % 5);
            SP_ASSERT_EQ_INT(b->epoch[k], pos / 5);
            SP_ASSERT_EQ_INT(b->seeds[k], b->seeds[f]);
            SP_ASSERT_NEAR(b->flow_fields[k * nf + 1000], u_of_record[pos % 5], 1e-5);
            SP_ASSERT_NEAR(b->flow_fields[k * nf + 1001], 0.5, 1e-5);
            /* The pair key: fold_in(fold_in(PRNGKey(seed), k), repetition). */
            sp_key const want = sp_key_fold_in(sp_key_fold_in(sp_key_from_seed(b->seeds[k]), (uint32_t)k), b->repetition);
            SP_ASSERT_EQ_U64(b->keys[k].k[0], want.k[0]);
            SP_ASSERT_EQ_U64(b->keys[k].k[1], want.k[1]);
            for (size_t m = 0; m < k; m++)
                SP_EXPECT(b->keys[m].k[0] != b->keys[k].k[0] || b->keys[m].k[1] != b->keys[k].k[1]);
        }
        if (bi == 0) memcpy(first_seeds, b->seeds, sizeof first_seeds);
        if (bi == 3) SP_EXPECT(memcmp(first_seeds, b->seeds, sizeof first_seeds) != 0);
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(sampler_finite_stream_pads_masks_and_ends)
{
    sp_config c;
    pixel_config(&c,
                 "  - {kind: uniform, u: 1.0, v: 0}\n  - {kind: uniform, u: 2.0, v: 0}\n  - {kind: uniform, u: 3.0, v: 0}\n",
                 "batch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 1\nloop: false\n");
    sp_sampler *const s = make_sampler(&c, 1);
    const sp_batch *b = sp_test_next_ok(s);
    SP_EXPECT(b->mask[0] == 1 && b->mask[1] == 1);
    b = sp_test_next_ok(s);
    SP_EXPECT(b->mask[0] == 1 && b->mask[1] == 0);
    SP_EXPECT(strcmp(b->files[1], "") == 0);
    SP_EXPECT(strcmp(b->files[0], "analytic://uniform/2") == 0);
    SP_ASSERT_NEAR(b->flow_fields[128 * 128 * 2 + 10], 0.0, 0); /* padding flow is zero */
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_END);
    sp_sampler_free(s);
    sp_config_free(&c);
}

static void check_permutation(uint64_t n, uint32_t epoch)
{
    size_t const words = (size_t)(n + 63) / 64;
    uint64_t *const seen = (uint64_t *)calloc(words ? words : 1, sizeof *seen);
    sp_key const k = sp_key_fold_in(sp_key_from_seed(99), epoch);
    for (uint64_t t = 0; t < n; t++) {
        uint64_t const x = sp__permute(t, n, k);
        SP_EXPECT_MSG(x < n, "n=%llu: t=%llu maps to %llu", (unsigned long long)n, (unsigned long long)t, (unsigned long long)x);
        SP_EXPECT_MSG(!(seen[x / 64] >> (x % 64) & 1), "n=%llu: %llu hit twice", (unsigned long long)n, (unsigned long long)x);
        seen[x / 64] |= (uint64_t)1 << (x % 64);
    }
    free(seen);
}

/* Direct calls for short lengths (every length up to 3000 and 2^k+-1 up to 2^18+1). Longer
 * lengths are checked in test_pipeline.c, which shares one Feistel table per domain: a sample
 * up to 2^20 in the quick tier (pipeline_shuffle_is_a_permutation_for_sampled_lengths), and
 * every length up to 2^17+2 and 2^k+-1 up to 2^24+1 in the full tier
 * (pipeline_shuffle_is_a_permutation_for_every_length); direct calls for all of them would
 * take 25 minutes. */
SP_TEST(sampler_shuffle_is_a_permutation_for_every_length)
{
    uint64_t const upto = 3000;
    for (uint64_t n = 1; n <= upto; n++) check_permutation(n, (uint32_t)n);
    unsigned const kmax = 18;
    for (unsigned k = 1; k <= kmax; k++) {
        check_permutation(((uint64_t)1 << k) - 1, 1);
        check_permutation(((uint64_t)1 << k) + 1, 2);
    }
}

SP_TEST(sampler_randomize_visits_each_record_once_per_epoch)
{
    sp_config c;
    char flows[4096] = "";
    for (int i = 0; i < 7; i++) {
        char line[128];
        snprintf(line, sizeof line, "  - {kind: uniform, u: %d.0, v: 0}\n", i - 3);
        strcat(flows, line);
    }
    pixel_config(&c, flows, "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\nrandomize: true\n");
    c.image_shape[0] = c.image_shape[1] = 32;
    sp_sampler *const s = make_sampler(&c, 1);
    int order[3][7];
    for (int e = 0; e < 3; e++) {
        int seen[7] = {0};
        for (int i = 0; i < 7; i++) {
            const sp_batch *const b = sp_test_next_ok(s);
            SP_ASSERT_EQ_INT(b->epoch[0], e);
            order[e][i] = (int)b->records[0];
            seen[order[e][i]]++;
        }
        for (int r = 0; r < 7; r++) SP_ASSERT_EQ_INT(seen[r], 1);
    }
    SP_EXPECT(memcmp(order[0], order[1], sizeof order[0]) != 0 || memcmp(order[1], order[2], sizeof order[0]) != 0);
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* ---- end to end: cross-correlation recovers a uniform displacement ---------------------- */

SP_TEST(sampler_cross_correlation_recovers_uniform_displacement)
{
    static const double disp[][2] = {{-1.7, 2.3}, {0.45, -3.2}, {2.75, 0.1}};
    for (size_t t = 0; t < 3; t++) {
        sp_config c;
        char flow[128];
        snprintf(flow, sizeof flow, "  - {kind: uniform, u: %.3f, v: %.3f}\n", disp[t][1], disp[t][0]);
        pixel_config(&c, flow, "batch_size: 2\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n");
        sp_sampler *const s = make_sampler(&c, 2);
        const sp_batch *const b = sp_test_next_ok(s);
        for (size_t k = 0; k < 2; k++) {
            double dy, dx;
            sp_test_cross_correlate(b->images1 + k * 128 * 128, b->images2 + k * 128 * 128, 128, &dy, &dx, NULL);
            SP_ASSERT_NEAR(dy, disp[t][0], 0.05);
            SP_ASSERT_NEAR(dx, disp[t][1], 0.05);
            /* The ground truth says the same, exactly (bilinear of a constant). */
            SP_ASSERT_NEAR(b->flow_fields[k * 128 * 128 * 2 + 2 * 777], disp[t][1], 1e-5);
            SP_ASSERT_NEAR(b->flow_fields[k * 128 * 128 * 2 + 2 * 777 + 1], disp[t][0], 1e-5);
        }
        sp_sampler_free(s);
        sp_config_free(&c);
    }
}

/* ---- ground truth equals the analytic flow ------------------------------------------------ */

SP_TEST(sampler_output_flow_equals_analytic_flow)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    c.batch_size = 8;
    c.flow_fields_per_batch = 8;
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    double const r = c.resolution, dt = c.dt;
    for (size_t k = 0; k < 8; k++) {
        sp_analytic_params drawn; /* the record's own parameters */
        sp_analytic_draw(&c.analytic[b->records[k] % c.n_analytic], (uint32_t)c.seed, b->records[k], &drawn);
        const sp_analytic_params *const p = &drawn;
        if (p->kind == SP_FLOW_KINEMATIC) continue;
        /* Bilinear interpolation is exact for linear fields; others within the grid's error. */
        int const linear = p->kind == SP_FLOW_UNIFORM || p->kind == SP_FLOW_SHEAR || p->kind == SP_FLOW_STAGNATION;
        double const tol = linear ? 2e-4 : 0.02;
        double maxerr = 0;
        for (size_t i = 0; i < 256; i += 15)
            for (size_t j = 0; j < 256; j += 13) {
                double u, v;
                sp_analytic_velocity(p, c.flow_field_size[0], c.flow_field_size[1], c.img_offset[0] + (double)i / r,
                                     c.img_offset[1] + (double)j / r, &u, &v);
                const float *const got = b->flow_fields + k * 256 * 256 * 2 + (i * 256 + j) * 2;
                double const e = fmax(fabs((double)got[0] - u * r * dt), fabs((double)got[1] - v * r * dt));
                if (e > maxerr) maxerr = e;
            }
        SP_EXPECT_MSG(maxerr <= tol, "%s: max |flow - analytic| = %g px > %g", sp_analytic_kind_name(p->kind), maxerr, tol);
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* ---- errors that name the key or the file -------------------------------------------------- */

static void expect_create_error(const sp_config *c, const char *fragment)
{
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    SP_EXPECT(sp_sampler_create(&s, c, NULL, &e) != SP_OK);
    SP_EXPECT(s == NULL);
    SP_ASSERT_STR_CONTAINS(e.message, fragment);
}

SP_TEST(sampler_geometry_errors_name_the_key)
{
    sp_config c;
    pixel_config(&c, "  - {kind: uniform, u: 1, v: 1}\n", "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n");
    c.img_offset[0] = 2.0; /* max_speed_y * dt = 4 > 2 */
    expect_create_error(&c, "img_offset");
    c.img_offset[0] = 30.0;
    c.flow_field_size[1] = 150.0; /* 30 + 128 + 8 > 150 */
    expect_create_error(&c, "flow_field_size");
    sp_config_free(&c);
}

SP_TEST(sampler_mask_zeroes_masked_pixels_and_bad_masks_name_the_file)
{
    static float mask[128 * 128];
    for (size_t i = 0; i < 128 * 128; i++) mask[i] = (i / 128) % 2 ? 1.0f : 0.0f; /* odd rows kept */
    char path[600], extra[1024];
    snprintf(path, sizeof path, "%s/mask.npy", sp_test_tmpdir());
    size_t const shape[2] = {128, 128};
    sp_test_write_npy(path, SP_DTYPE_F32, 2, shape, mask);
    snprintf(extra, sizeof extra, "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\nmask: mask.npy\nnoise_gaussian_mean: 5\n");
    sp_config c;
    pixel_config(&c, "  - {kind: uniform, u: 1, v: 1}\n", extra);
    sp_sampler *const s = make_sampler(&c, 1);
    const sp_batch *const b = sp_test_next_ok(s);
    for (size_t i = 0; i < 128 * 128; i++) {
        if (mask[i] == 0.0f) SP_ASSERT_NEAR(b->images1[i], 0.0, 0);
        else SP_EXPECT(b->images1[i] >= 5.0f); /* the offset survives where kept */
    }
    sp_sampler_free(s);
    mask[5] = 0.5f;
    sp_test_write_npy(path, SP_DTYPE_F32, 2, shape, mask);
    expect_create_error(&c, "mask.npy");
    size_t const wrong[2] = {64, 128};
    sp_test_write_npy(path, SP_DTYPE_F32, 2, wrong, mask);
    expect_create_error(&c, "mask.npy");
    sp_config_free(&c);
}

SP_TEST(sampler_histogram_matching_maps_to_target_levels)
{
    double hist[256] = {0};
    /* Target: only levels 10 and 200, half the pixels each. */
    hist[10] = 128 * 128 / 2;
    hist[200] = 128 * 128 / 2;
    char path[600];
    snprintf(path, sizeof path, "%s/hist.npy", sp_test_tmpdir());
    size_t const shape[1] = {256};
    sp_test_write_npy(path, SP_DTYPE_F64, 1, shape, hist);
    sp_config c;
    pixel_config(&c, "  - {kind: uniform, u: 1, v: 1}\n",
                 "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\nhistogram: hist.npy\nnoise_uniform: 3\n");
    sp_sampler *const s = make_sampler(&c, 1);
    const sp_batch *const b = sp_test_next_ok(s);
    size_t low = 0;
    for (size_t i = 0; i < 128 * 128; i++) {
        SP_EXPECT(b->images1[i] == 10.0f || b->images1[i] == 200.0f);
        low += b->images1[i] == 10.0f;
    }
    /* Source bins whose CDF is <= 0.5 map to 10; the bin that straddles 0.5 maps to 200,
     * so at most half the pixels are 10 (and the dark background, U[0,3) noise over three
     * bins, gives at least a quarter). */
    SP_EXPECT(low <= 128 * 128 / 2 && low >= 128 * 128 / 4);
    sp_sampler_free(s);
    hist[10] += 1000; /* the sum no longer equals H*W */
    sp_test_write_npy(path, SP_DTYPE_F64, 1, shape, hist);
    expect_create_error(&c, "hist.npy");
    sp_config_free(&c);
}

SP_TEST(sampler_bad_flow_files_name_the_file)
{
    static float flow[16 * 16 * 2];
    for (size_t i = 0; i < 16 * 16 * 2; i++) flow[i] = 0.5f;
    const char *const dir = sp_test_tmpdir();
    char p0[600], p1[600], yaml[2048];
    snprintf(p0, sizeof p0, "%s/flow_0.npy", dir);
    snprintf(p1, sizeof p1, "%s/flow_1.npy", dir);
    size_t const shape[3] = {16, 16, 2};
    sp_test_write_npy(p0, SP_DTYPE_F32, 3, shape, flow);
    sp_test_write_npy(p1, SP_DTYPE_F32, 3, shape, flow);
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [32, 32]\nflow_field_size: [16, 16]\n"
             "resolution: 4\nimg_offset: [4, 4]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\n"
             "min_speed_x: -1\nmax_speed_x: 1\nmin_speed_y: -1\nmax_speed_y: 1\nseed: 1\n"
             "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\ndiameter_ranges: [[1, 2]]\n",
             dir);
    sp_config c;
    sp_test_load_yaml(&c, yaml);
    sp_sampler *const s = make_sampler_prefetch(&c, 1, SP_PREFETCH_OFF); /* no record read ahead */
    sp_test_next_ok(s);
    unlink(p1); /* deleted after start: the batch that needs it names it */
    const sp_batch *b;
    sp_error e;
    SP_EXPECT(sp_sampler_next(s, &b, &e) != SP_OK);
    SP_ASSERT_STR_CONTAINS(e.message, "flow_1.npy");
    sp_sampler_free(s);
    flow[(3 * 16 + 5) * 2 + 1] = NAN;
    sp_test_write_npy(p0, SP_DTYPE_F32, 3, shape, flow);
    expect_create_error(&c, "flow_0.npy");
    expect_create_error(&c, "row 3, column 5");
    sp_config_free(&c);
}

/* ---- renderer options seen through the sampler --------------------------------------------- */

/* Mean second moment (pixels^2) of isolated particles: one particle per canvas, kept when
 * its footprint lies inside the 64x64 image. */
static double single_particle_variance(const char *convention, double diameter)
{
    char extra[1024];
    /* Canvas: 64 + 2 * (2R + 1) per side; density so that floor(area * density) = 1. */
    snprintf(extra, sizeof extra,
             "batch_size: 32\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\npsf: integrated\n"
             "diameter_convention: %s\ndiameter_ranges: [[%g, %g]]\nimage_shape: [64, 64]\n"
             "min_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\nmax_speed_y: 0\n",
             convention, diameter, diameter);
    sp_config c;
    pixel_config(&c, "  - {kind: uniform, u: 0, v: 0}\n", extra);
    sp_geometry g;
    SP_ASSERT_OK(sp_geometry_compute(&c, &g, NULL));
    double const area = (double)g.canvas_h * (double)g.canvas_w;
    c.seeding_density_range.min = c.seeding_density_range.max = 1.5 / area;
    sp_sampler *const s = make_sampler(&c, 1);
    double sum_var = 0;
    int used = 0;
    for (int round = 0; round < 4; round++) {
        const sp_batch *const b = sp_test_next_ok(s);
        for (size_t k = 0; k < b->batch_size; k++) {
            SP_ASSERT_EQ_INT(b->params[k].particles, 1);
            const float *const img = b->images1 + k * 64 * 64;
            double m = 0, my = 0, mx = 0;
            for (int i = 0; i < 64; i++)
                for (int j = 0; j < 64; j++) m += (double)img[i * 64 + j], my += i * (double)img[i * 64 + j], mx += j * (double)img[i * 64 + j];
            if (m <= 0) continue;
            my /= m, mx /= m;
            if (my < 12 || my > 51 || mx < 12 || mx > 51) continue; /* footprint clipped */
            double vy = 0;
            for (int i = 0; i < 64; i++)
                for (int j = 0; j < 64; j++) vy += (i - my) * (i - my) * (double)img[i * 64 + j];
            sum_var += vy / m;
            used++;
        }
    }
    SP_EXPECT_MSG(used >= 10, "only %d isolated particles", used);
    sp_sampler_free(s);
    sp_config_free(&c);
    return sum_var / used;
}

SP_TEST(sampler_diameter_conventions_set_sigma)
{
    /* The pixel-integrated Gaussian of std sigma has variance sigma^2 + 1/12 along an axis;
     * with diameter 4 px: sigma = d/2 = 2 (SynthPix) or d/4 = 1 (e^-2 convention). The
     * footprint (R = 3 sigma) truncates a little of the tails, hence the tolerances. */
    SP_ASSERT_NEAR(single_particle_variance("synthpix", 4.0), 4.0 + 1.0 / 12, 0.15);
    SP_ASSERT_NEAR(single_particle_variance("e2", 4.0), 1.0 + 1.0 / 12, 0.05);
}

SP_TEST(sampler_hiding_and_noise_statistics)
{
    sp_config c;
    /* p_hide_img1 = 1: frame 1 holds no particle, only noise: U[0, 4) + 3 + N(0, 1.5). */
    pixel_config(&c, "  - {kind: uniform, u: 1, v: 0}\n",
                 "batch_size: 2\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\np_hide_img1: 1\n");
    c.noise_uniform = 4.0;
    c.noise_gaussian_mean = 3.0;
    c.noise_gaussian_std = 1.5;
    sp_sampler *const s = make_sampler(&c, 2);
    const sp_batch *const b = sp_test_next_ok(s);
    size_t const n = 128 * 128;
    double sum = 0, sq = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++) {
        double const v = (double)b->images1[i];
        sum += v;
        sq += v * v;
        sum2 += (double)b->images2[i];
    }
    double const mean = sum / (double)n, var = sq / (double)n - mean * mean;
    /* Mean 2 + 3 = 5; variance 16/12 + 2.25 = 3.583 (clipping at 0 is negligible here). */
    SP_ASSERT_NEAR(mean, 5.0, 0.05);
    SP_ASSERT_NEAR(var, 16.0 / 12.0 + 2.25, 0.1);
    /* Frame 2 has its particles: far brighter on average. */
    SP_EXPECT(sum2 / (double)n > mean + 5.0);
    sp_sampler_free(s);
    sp_config_free(&c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t const x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The embedded default draws every record's flow: among 1,000 pairs at least 900 distinct
 * flow fields (each pair has its own record, so all 1,000 in practice), compared by a
 * 64-bit FNV-1a hash of each pair's output flow. */
SP_TEST(sampler_default_stream_has_a_new_flow_per_pair)
{
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    sp_sampler *const s = make_sampler(&c, 0);
    uint64_t *const h = (uint64_t *)calloc(1000, sizeof *h);
    size_t n = 0;
    while (n < 1000) {
        const sp_batch *const b = sp_test_next_ok(s);
        size_t const nf = b->flow_height * b->flow_width * 2;
        for (size_t k = 0; k < b->batch_size && n < 1000; k++, n++) {
            const unsigned char *const bytes = (const unsigned char *)(b->flow_fields + k * nf);
            uint64_t x = 1469598103934665603ull;
            for (size_t i = 0; i < nf * sizeof(float); i++) x = (x ^ bytes[i]) * 1099511628211ull;
            h[n] = x;
        }
    }
    qsort(h, n, sizeof *h, cmp_u64);
    size_t distinct = n > 0;
    for (size_t i = 1; i < n; i++) distinct += h[i] != h[i - 1];
    printf("# %zu distinct flow fields among %zu pairs\n", distinct, n);
    SP_EXPECT_MSG(distinct >= 900, "only %zu distinct flow fields among 1000 pairs", distinct);
    free(h);
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* A histogram target of two levels, 10 and 200, half the 128 x 128 pixels each, written as
 * tmpdir/name. */
static void write_two_level_histogram(const char *name)
{
    double hist[256] = {0};
    hist[10] = hist[200] = 128 * 128 / 2;
    char path[600];
    snprintf(path, sizeof path, "%s/%s", sp_test_tmpdir(), name);
    size_t const shape[1] = {256};
    sp_test_write_npy(path, SP_DTYPE_F64, 1, shape, hist);
}

SP_TEST(sampler_stage_timers_account_for_every_stage_and_change_no_byte)
{
    write_two_level_histogram("hist_t.npy");
    sp_config c;
    pixel_config(&c, "  - {kind: uniform, u: 1, v: 1}\n",
                 "batch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 1\nhistogram: hist_t.npy\n"
                 "noise_uniform: 3\n");
    sp_sampler *plain = make_sampler(&c, 2), *timed = NULL;
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = 2;
    o.stage_timers = 1;
    SP_ASSERT_OK(sp_sampler_create(&timed, &c, &o, NULL));
    for (int i = 0; i < 3; i++) {
        const sp_batch *const a = sp_test_next_ok(plain), *const b = sp_test_next_ok(timed);
        size_t const n = a->batch_size * a->height * a->width;
        SP_EXPECT_MSG(memcmp(a->images1, b->images1, n * sizeof(float)) == 0 &&
                          memcmp(a->images2, b->images2, n * sizeof(float)) == 0,
                      "batch %d: the timers changed the images", i);
    }
    sp_stage_times t, off;
    sp_sampler_stage_times(timed, &t);
    sp_sampler_stage_times(plain, &off);
    SP_ASSERT_EQ_U64(t.batches, 3);
    SP_ASSERT_EQ_U64(t.pairs, 6);
    double sum = 0;
    for (int k = 0; k < SP_STAGE_COUNT; k++) {
        SP_EXPECT_MSG(t.seconds[k] > 0, "stage %s was not timed", sp_stage_name((sp_stage)k));
        SP_EXPECT_MSG(off.seconds[k] == 0, "stage %s timed without stage_timers", sp_stage_name((sp_stage)k));
        sum += t.seconds[k];
    }
    /* Work summed over 2 threads fits in 2 x the wall time (with the clock's granularity). */
    SP_EXPECT_MSG(t.wall > 0 && sum <= 2.0 * t.wall + 1e-3, "work %.6f s against wall %.6f s", sum, t.wall);
    SP_EXPECT(off.wall == 0 && off.batches == 0);
    sp_sampler_stage_times_reset(timed);
    sp_sampler_stage_times(timed, &t);
    SP_EXPECT(t.wall == 0 && t.pairs == 0 && t.seconds[SP_STAGE_RENDER] == 0);
    static const char *const names[] = {"load", "flow", "particles", "bins", "render", "noise", "post"};
    for (int k = 0; k < SP_STAGE_COUNT; k++) SP_ASSERT_STR_CONTAINS(sp_stage_name((sp_stage)k), names[k]);
    SP_EXPECT(sp_stage_name(SP_STAGE_COUNT) == NULL);
    sp_sampler_free(plain);
    sp_sampler_free(timed);
    sp_config_free(&c);
}

/* sp_sampler_next_into renders into the caller's buffers: the same bytes as sp_sampler_next,
 * mixed freely with it (the F == B flow cache stays the sampler's own), with F < B and
 * F == B over several repetitions, 2 and 4 frames, and histogram matching (which rewrites
 * the frames in place). Buffers are filled with NaN bytes first, so a pixel or flow value
 * left unwritten shows. */
static void expect_next_into_matches(const char *extra, int batches)
{
    sp_config c;
    pixel_config(&c, "  - {kind: lamb_oseen, circulation: 300, core_radius: 20}\n  - {kind: uniform, u: 1, v: 2}\n",
                 extra);
    sp_sampler *const plain = make_sampler(&c, 2), *const into = make_sampler(&c, 2);
    const sp_batch *const shape = sp_test_next_ok(plain);
    size_t const K = shape->frames, npx = shape->batch_size * shape->height * shape->width;
    size_t const nf = shape->batch_size * shape->flow_height * shape->flow_width * 2;
    sp_sampler_reset(plain);
    float *const img = (float *)malloc(K * npx * sizeof(float)), *const fl = (float *)malloc(nf * sizeof(float));
    SP_EXPECT(img != NULL && fl != NULL);
    for (int i = 0; i < batches; i++) {
        const sp_batch *const a = sp_test_next_ok(plain);
        const sp_batch *b = NULL;
        if (i % 3 == 2) {
            b = sp_test_next_ok(into); /* plain calls in between keep the stream */
        } else {
            memset(img, 0xff, K * npx * sizeof(float));
            memset(fl, 0xff, nf * sizeof(float));
            sp_batch_buffers buf;
            memset(&buf, 0, sizeof buf);
            for (size_t f = 0; f < K; f++) buf.images[f] = img + f * npx;
            buf.flow_fields = fl;
            sp_error e;
            sp_error_clear(&e);
            sp_status const st = sp_sampler_next_into(into, &buf, &b, &e);
            SP_EXPECT_MSG(st == SP_OK && b != NULL, "next_into: %s", e.message);
            SP_EXPECT(b->images1 == img && b->images2 == img + npx && b->flow_fields == fl);
        }
        for (size_t f = 0; f < K; f++)
            SP_EXPECT_MSG(memcmp(a->images[f], b->images[f], npx * sizeof(float)) == 0, "%s: batch %d frame %zu differs",
                          extra, i, f);
        SP_EXPECT_MSG(memcmp(a->flow_fields, b->flow_fields, nf * sizeof(float)) == 0, "%s: batch %d flows differ", extra,
                      i);
        SP_EXPECT(memcmp(a->keys, b->keys, a->batch_size * sizeof *a->keys) == 0);
    }
    free(img);
    free(fl);
    sp_sampler_free(plain);
    sp_sampler_free(into);
    sp_config_free(&c);
}

SP_TEST(sampler_next_into_caller_buffers_gives_the_same_bytes)
{
    write_two_level_histogram("hist_into.npy");
    expect_next_into_matches("batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 3\n", 7);
    expect_next_into_matches("batch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 3\n", 7);
    expect_next_into_matches("batch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 2\nframes: 4\n", 5);
    expect_next_into_matches("batch_size: 2\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
                             "histogram: hist_into.npy\nnoise_uniform: 3\n", 4);
    /* Refusals: no flow buffer, no buffer for a frame. */
    sp_config c;
    pixel_config(&c, "  - {kind: uniform, u: 1, v: 1}\n", "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n");
    sp_sampler *const s = make_sampler(&c, 1);
    sp_batch_buffers buf;
    memset(&buf, 0, sizeof buf);
    const sp_batch *b = NULL;
    sp_error e;
    SP_EXPECT(sp_sampler_next_into(s, &buf, &b, &e) == SP_ERR_INVALID && b == NULL);
    SP_ASSERT_STR_CONTAINS(e.message, "flow buffer");
    static float fl[128 * 128 * 2];
    buf.flow_fields = fl;
    SP_EXPECT(sp_sampler_next_into(s, &buf, &b, &e) == SP_ERR_INVALID && b == NULL);
    SP_ASSERT_STR_CONTAINS(e.message, "frame 0");
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(sampler_output_flow_on_the_flow_grid_keeps_every_bit_of_the_bilinear_sum)
{
    /* A flow given on the image grid is copied, not resampled, except where the sum
     * 1 p00 + 0 p01 + 0 p10 + 0 p11 differs from p00: the output must equal that sum, bit
     * for bit, with +0, -0, negative and positive neighbours (the pattern puts each kind
     * next to each other along both axes). */
    enum { N = 24 };
    static float flow[N * N * 2];
    static const float vals[] = {0.0f, -0.0f, -1.5f, 2.25f, -0.0f, 0.0f, 3.0f, -0.0f, -2.0f};
    for (size_t i = 0; i < N * N * 2; i++) flow[i] = vals[(i * 7 + i / (2 * N) * 3) % (sizeof vals / sizeof vals[0])];
    for (size_t i = 0; i < N * 2; i++) flow[5 * N * 2 + i] = 1.0f + (float)i; /* a row without zeros */
    char dir[600], p0[700], yaml[2048];
    snprintf(dir, sizeof dir, "%s/signed_zero", sp_test_tmpdir());
    SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    snprintf(p0, sizeof p0, "%s/flow_0.npy", dir);
    size_t const shape[3] = {N, N, 2};
    sp_test_write_npy(p0, SP_DTYPE_F32, 3, shape, flow);
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [%d, %d]\nflow_field_size: [%d, %d]\n"
             "resolution: 1\nimg_offset: [0, 0]\ndt: 0.5\nvelocities_per_pixel: 1\noutput_units: pixels\n"
             "min_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\nmax_speed_y: 0\nseed: 1\n"
             "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\ndiameter_ranges: [[1, 2]]\n",
             dir, N, N, N, N);
    sp_config c;
    sp_test_load_yaml(&c, yaml);
    for (unsigned threads = 1; threads <= 2; threads++) {
        sp_sampler *const s = make_sampler(&c, threads);
        const sp_batch *const b = sp_test_next_ok(s);
        sp_flow const f = {N, N, 2, flow};
        for (size_t k = 0; k < N; k++)
            for (size_t l = 0; l < N; l++) {
                float u, v;
                sp__flow_bilinear(&f, (float)k, (float)l, &u, &v);
                float const want[2] = {u * 0.5f, v * 0.5f};
                const float *const got = b->flow_fields + (k * N + l) * 2;
                SP_EXPECT_MSG(memcmp(got, want, sizeof want) == 0,
                              "sample (%zu, %zu): got (%g, %g) want (%g, %g), signs %d%d / %d%d", k, l, (double)got[0],
                              (double)got[1], (double)want[0], (double)want[1], signbit(got[0]) != 0, signbit(got[1]) != 0,
                              signbit(want[0]) != 0, signbit(want[1]) != 0);
            }
        sp_sampler_free(s);
    }
    sp_config_free(&c);
}

/* Output flows resampled off the grid points (the taps' weights not 0): every sample must be
 * the bilinear sum sp__flow_bilinear gives at the sample's grid coordinate, computed here
 * from the documented geometry (physical img_offset + k / (vpp r), times the grid's points
 * per unit), bit for bit, for 2 and 3 channels, output widths that are not a multiple of 8,
 * and values with +0, -0 and both signs; 1 and 2 threads. */
SP_TEST(sampler_output_flow_resampled_is_the_bilinear_sum_bit_for_bit)
{
    enum { H = 21, W = 26 };
    static float flow[H * W * 3];
    static const float vals[] = {0.0f, -0.0f, -1.5f, 2.25f, 0.375f, -3.0f, 7.0f, -0.0f, 1e-3f};
    for (size_t ch = 2; ch <= 3; ch++) {
        for (size_t i = 0; i < (size_t)H * W * ch; i++)
            flow[i] = vals[(i * 5 + i / 7) % (sizeof vals / sizeof vals[0])] * (1.0f + (float)(i % 11) / 16.0f);
        char dir[600], p0[700], yaml[2048];
        snprintf(dir, sizeof dir, "%s/resampled_%zu", sp_test_tmpdir(), ch);
        SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
        snprintf(p0, sizeof p0, "%s/flow_0.npy", dir);
        size_t const shape[3] = {H, W, ch};
        sp_test_write_npy(p0, SP_DTYPE_F32, 3, shape, flow);
        /* 24 x 30 images of a 21 x 26 unit domain at 1.3 px per unit, offset (0.7, 1.1): the
         * samples fall between grid points; vpp 1.5 gives a 36 x 45 output grid. */
        snprintf(yaml, sizeof yaml,
                 "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [24, 30]\nflow_field_size: [%d, %d]\n"
                 "resolution: 1.3\nimg_offset: [0.7, 1.1]\ndt: 0.5\nvelocities_per_pixel: 1.5\n"
                 "output_units: pixels\nmin_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\nmax_speed_y: 0\nseed: 1\n"
                 "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\ndiameter_ranges: [[1, 2]]\n",
                 dir, H, W);
        sp_config c;
        sp_test_load_yaml(&c, yaml);
        for (unsigned threads = 1; threads <= 2; threads++) {
            sp_sampler *const s = make_sampler(&c, threads);
            const sp_batch *const b = sp_test_next_ok(s);
            SP_EXPECT_MSG(b->flow_height == 36 && b->flow_width == 45, "output grid %zux%zu", b->flow_height, b->flow_width);
            sp_flow const f = {H, W, ch, flow};
            double const step = (1.0 / 1.5) / 1.3; /* units between output samples */
            size_t bad = 0;
            for (size_t k = 0; k < b->flow_height; k++)
                for (size_t l = 0; l < b->flow_width; l++) {
                    float const gy = (float)((0.7 + (double)k * step) * ((double)H / (double)H));
                    float const gx = (float)((1.1 + (double)l * step) * ((double)W / (double)W));
                    float u, v;
                    sp__flow_bilinear(&f, gy, gx, &u, &v);
                    float const scale = (float)(1.3 * 0.5);
                    float const want[2] = {u * scale, v * scale};
                    const float *const got = b->flow_fields + (k * b->flow_width + l) * 2;
                    if (memcmp(got, want, sizeof want) != 0 && bad++ < 5)
                        SP_EXPECT_MSG(0, "%zu channels, %u threads, sample (%zu, %zu): got (%g, %g) want (%g, %g)", ch,
                                      threads, k, l, (double)got[0], (double)got[1], (double)want[0], (double)want[1]);
                }
            SP_EXPECT_MSG(bad == 0, "%zu samples differ", bad);
            sp_sampler_free(s);
        }
        sp_config_free(&c);
    }
}

/* ---- mapped flow files (src/internal/sp_flowmap.h) ------------------------------------ */

/* Flow k of a small smooth field (H x W x C) with |u|, |v| < 1.5 px; (bad_row, bad_col) of
 * channel 1 is NaN when bad_row >= 0. */
static void mapped_field(float *v, size_t H, size_t W, size_t C, int k, long bad_row, long bad_col)
{
    for (size_t i = 0; i < H; i++)
        for (size_t j = 0; j < W; j++)
            for (size_t c = 0; c < C; c++)
                v[(i * W + j) * C + c] = (float)(1.4 * sin(0.11 * (double)(i + 3 * (size_t)k) + (double)c) *
                                                 cos(0.07 * (double)j - 0.5 * (double)k));
    if (bad_row >= 0) v[((size_t)bad_row * W + (size_t)bad_col) * C + 1] = NAN;
}

static void write_flo_file(const char *path, const float *v, size_t H, size_t W)
{
    FILE *const f = fopen(path, "wb");
    int32_t const w = (int32_t)W, h = (int32_t)H;
    SP_EXPECT(f != NULL && fwrite("PIEH", 1, 4, f) == 4 && fwrite(&w, 4, 1, f) == 1 && fwrite(&h, 4, 1, f) == 1 &&
              fwrite(v, sizeof(float), H * W * 2, f) == H * W * 2 && fclose(f) == 0);
}

/* Six flow files in DIR (flow_0.EXT ...), record `bad` (or none: -1) with a NaN at
 * (row 5, column 7, channel 1); the configuration reads them at 64 x 80 pixels on their own
 * grid, or resampled (vpp 1.5, offset 0.5: the sampler's scan instead of the copy's check). */
static void mapped_setup(sp_config *c, const char *name, const char *ext, size_t C, int bad, int resampled,
                         const char *extra)
{
    enum { H = 64, W = 80 };
    static float v[H * W * 3];
    char dir[600], path[700], yaml[4096];
    snprintf(dir, sizeof dir, "%s/%s", sp_test_tmpdir(), name);
    SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    for (int k = 0; k < 6; k++) {
        mapped_field(v, H, W, C, k, k == bad ? 5 : -1, 7);
        snprintf(path, sizeof path, "%s/flow_%d.%s", dir, k, ext);
        size_t const shape[3] = {H, W, C};
        if (strcmp(ext, "npy") == 0) sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, v);
        else write_flo_file(path, v, H, W);
    }
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .%s\nfile_list: [%s]\nimage_shape: [%d, %d]\nflow_field_size: [%d, %d]\n"
             "resolution: 1\nimg_offset: [%s]\ndt: 1\nvelocities_per_pixel: %s\noutput_units: pixels\n"
             "min_speed_x: 0\nmax_speed_x: 0\nmin_speed_y: 0\nmax_speed_y: 0\nseed: 3\n"
             "batch_size: 2\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 2\ndiameter_ranges: [[1, 2]]\n"
             "seeding_density_range: [0.05, 0.05]\nnoise_gaussian_std: 2\n%s",
             ext, dir, resampled ? H - 2 : H, resampled ? W - 2 : W, H, W, resampled ? "0.5, 0.5" : "0, 0",
             resampled ? "1.5" : "1", extra);
    sp_test_load_yaml(c, yaml);
}

/* Mapped flow files give the bytes of read ones: .npy with 2 and 3 channels and .flo, on
 * their own grid and resampled, prefetched or not, 1 and 2 threads, over 5 batches (both
 * refreshes and a repetition). */
SP_TEST(sampler_mapped_flow_files_give_the_read_bytes)
{
    static const struct { const char *ext; size_t C; int resampled; } cases[] = {
        {"npy", 2, 0}, {"npy", 2, 1}, {"npy", 3, 0}, {"flo", 2, 0}, {"flo", 2, 1}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        sp_config c;
        mapped_setup(&c, "mapped_same", cases[t].ext, cases[t].C, -1, cases[t].resampled, "");
        for (unsigned threads = 1; threads <= 2; threads++) {
            unsigned const prefetch = threads == 1 ? SP_PREFETCH_OFF : SP_PREFETCH_AUTO;
            sp_sampler *const a = sp_test_sampler(&c, threads, prefetch, SP_FLOW_FILES_READ);
            sp_sampler *const b = sp_test_sampler(&c, threads, prefetch, SP_FLOW_FILES_MAP);
            for (int i = 0; i < 5; i++) {
                const sp_batch *x = sp_test_next_ok(a), *y = sp_test_next_ok(b);
                size_t const ni = x->batch_size * x->height * x->width;
                size_t const nf = x->batch_size * x->flow_height * x->flow_width * 2;
                SP_EXPECT_MSG(memcmp(x->images[0], y->images[0], ni * sizeof(float)) == 0 &&
                                  memcmp(x->images[1], y->images[1], ni * sizeof(float)) == 0 &&
                                  memcmp(x->flow_fields, y->flow_fields, nf * sizeof(float)) == 0,
                              ".%s, %zu channels, %s, %u threads: batch %d differs", cases[t].ext, cases[t].C,
                              cases[t].resampled ? "resampled" : "own grid", threads, i);
            }
            sp_sampler_free(a);
            sp_sampler_free(b);
        }
        sp_config_free(&c);
    }
}

/* A NaN in a mapped file is the error a read file gives (file, row, column, channel), found
 * by the output copy's check (own grid) or the sampler's scan (resampled, 3 channels). */
SP_TEST(sampler_mapped_nan_is_the_read_error)
{
    static const struct { const char *ext; size_t C; int resampled; } cases[] = {
        {"npy", 2, 0}, {"npy", 2, 1}, {"npy", 3, 0}, {"flo", 2, 0}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        sp_config c;
        mapped_setup(&c, "mapped_nan", cases[t].ext, cases[t].C, 1, cases[t].resampled, "");
        char msg[2][SP_ERROR_MESSAGE_MAX];
        for (int mode = 0; mode < 2; mode++) {
            sp_sampler *const s = sp_test_sampler(&c, 2, SP_PREFETCH_AUTO, mode ? SP_FLOW_FILES_MAP : SP_FLOW_FILES_READ);
            const sp_batch *b = NULL;
            sp_error e;
            SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_CORRUPT);
            snprintf(msg[mode], sizeof msg[mode], "%s", e.message);
            sp_sampler_free(s);
        }
        SP_ASSERT_STR_CONTAINS(msg[1], "flow_1.");
        SP_ASSERT_STR_CONTAINS(msg[1], "non-finite flow value at (row 5, column 7, channel 1)");
        SP_EXPECT_MSG(strcmp(msg[0], msg[1]) == 0, ".%s: read '%s', mapped '%s'", cases[t].ext, msg[0], msg[1]);
        sp_config_free(&c);
    }
}

/* A mapped file truncated by another process between two batches made from it: the second
 * batch fails naming the file (no SIGBUS, no batch), and the next call reloads and reports
 * the short file as a read would. The same for a file written in place. */
SP_TEST(sampler_mapped_file_truncated_in_use_fails_naming_it)
{
    sp_config c;
    mapped_setup(&c, "mapped_cut", "npy", 2, -1, 0, "");
    sp_sampler *const s = sp_test_sampler(&c, 2, SP_PREFETCH_OFF, SP_FLOW_FILES_MAP);
    (void)sp_test_next_ok(s);
    char path[700];
    snprintf(path, sizeof path, "%s/mapped_cut/flow_0.npy", sp_test_tmpdir());
    SP_ASSERT_EQ_INT(truncate(path, 200), 0);
    const sp_batch *b = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "flow_0.npy: the file changed while it was in use");
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_CORRUPT);
    SP_ASSERT_STR_CONTAINS(e.message, "flow_0.npy");
    sp_sampler_free(s);
    sp_config_free(&c);
    /* Written in place (same size, no SIGBUS): the stat's modification time tells. */
    mapped_setup(&c, "mapped_cut", "npy", 2, -1, 0, "");
    sp_sampler *const t = sp_test_sampler(&c, 2, SP_PREFETCH_OFF, SP_FLOW_FILES_MAP);
    (void)sp_test_next_ok(t);
    snprintf(path, sizeof path, "%s/mapped_cut/flow_1.npy", sp_test_tmpdir());
    usleep(20000); /* past the file system's timestamp granularity */
    FILE *const f = fopen(path, "r+b");
    float const x = 0.5f;
    SP_EXPECT(f != NULL && fseek(f, 4096, SEEK_SET) == 0 && fwrite(&x, sizeof x, 1, f) == 1 && fclose(f) == 0);
    SP_ASSERT_STATUS(sp_sampler_next(t, &b, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "flow_1.npy: the file changed while it was in use");
    sp_sampler_free(t);
    sp_config_free(&c);
}

/* sp_sampler_options.flow_files outside its three values is refused, naming the option. */
SP_TEST(sampler_flow_files_option_is_checked)
{
    sp_config c;
    mapped_setup(&c, "mapped_opt", "npy", 2, -1, 0, "");
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.flow_files = 7;
    sp_sampler *s = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_create(&s, &c, &o, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "flow_files 7");
    SP_EXPECT(s == NULL);
    sp_config_free(&c);
}

/* After a mapped file changed under a batch (which failed), the next call makes that same
 * batch again from the same records: put back as it was, the stream continues as one that
 * never failed (batch numbers, repetitions, bytes). */
SP_TEST(sampler_mapped_file_changed_then_restored_continues_the_stream)
{
    sp_config c;
    mapped_setup(&c, "mapped_back", "npy", 2, -1, 0, "");
    enum { N = 6 };
    sp_sampler *const ref = sp_test_sampler(&c, 2, SP_PREFETCH_AUTO, SP_FLOW_FILES_READ);
    static float img[N][2 * 64 * 80], flo[N][2 * 64 * 80 * 2];
    for (int i = 0; i < N; i++) {
        const sp_batch *const b = sp_test_next_ok(ref);
        memcpy(img[i], b->images1, sizeof img[i]);
        memcpy(flo[i], b->flow_fields, sizeof flo[i]);
    }
    sp_sampler_free(ref);
    sp_sampler *const s = sp_test_sampler(&c, 2, SP_PREFETCH_AUTO, SP_FLOW_FILES_MAP);
    (void)sp_test_next_ok(s);
    char path[700];
    snprintf(path, sizeof path, "%s/mapped_back/flow_0.npy", sp_test_tmpdir());
    float old = 0.0f, x = 9.0f;
    usleep(20000); /* past the file system's timestamp granularity */
    FILE *f = fopen(path, "r+b");
    SP_EXPECT(f != NULL && fseek(f, 4096, SEEK_SET) == 0 && fread(&old, sizeof old, 1, f) == 1 &&
              fseek(f, 4096, SEEK_SET) == 0 && fwrite(&x, sizeof x, 1, f) == 1 && fclose(f) == 0);
    const sp_batch *b = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_IO);
    f = fopen(path, "r+b");
    SP_EXPECT(f != NULL && fseek(f, 4096, SEEK_SET) == 0 && fwrite(&old, sizeof old, 1, f) == 1 && fclose(f) == 0);
    for (int i = 1; i < N; i++) {
        b = sp_test_next_ok(s);
        SP_EXPECT_MSG(b->batch_index == (uint64_t)i && memcmp(img[i], b->images1, sizeof img[i]) == 0 &&
                          memcmp(flo[i], b->flow_fields, sizeof flo[i]) == 0,
                      "batch %d (got index %llu) differs from the stream that never failed", i,
                      (unsigned long long)b->batch_index);
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* sp_sampler_options_shard_from_env: torchrun's variables before Open MPI's, SLURM's and
 * PMI's; a bad size or rank names the variable; with none set, o is unchanged. */
SP_TEST(sampler_shard_from_env_takes_the_first_launcher_set)
{
    static const char *const vars[] = {"RANK", "WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                                       "SLURM_PROCID", "SLURM_NTASKS", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_options_shard_from_env(&o, &e), SP_ERR_CONFIG);
    SP_EXPECT(o.shard_index == 0 && o.shard_count == 0);
    setenv("PMI_RANK", "1", 1);
    setenv("PMI_SIZE", "2", 1);
    setenv("SLURM_PROCID", "2", 1);
    setenv("SLURM_NTASKS", "7", 1);
    SP_ASSERT_OK(sp_sampler_options_shard_from_env(&o, &e));
    SP_EXPECT(o.shard_index == 2 && o.shard_count == 7);
    setenv("RANK", "0", 1);
    setenv("WORLD_SIZE", "3", 1);
    SP_ASSERT_OK(sp_sampler_options_shard_from_env(&o, &e));
    SP_EXPECT(o.shard_index == 0 && o.shard_count == 3);
    setenv("WORLD_SIZE", "3x", 1);
    SP_ASSERT_STATUS(sp_sampler_options_shard_from_env(&o, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "WORLD_SIZE='3x'");
    unsetenv("WORLD_SIZE");
    SP_ASSERT_STATUS(sp_sampler_options_shard_from_env(&o, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "WORLD_SIZE is not set");
    SP_EXPECT(o.shard_index == 0 && o.shard_count == 3);
}
