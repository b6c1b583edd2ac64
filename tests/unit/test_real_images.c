/* test_real_images.c: include_images: true (docs/synthpix-compat.md, Real image pairs):
 * batches hold the image pairs and flows stored in .mat files, not synthetic ones.
 *
 * Three files in three encodings (scipy v5, MATLAB-layout v7.3 written by libmatio, h5py
 * HDF5) hold non-square images and flows whose values encode (file, i, j), so the test
 * computes every expected pixel itself; batch size 2 over 3 files without looping gives a
 * full batch, a padded one (mask 0, empty name, zero images) and then the end of data.
 * Keys follow the synthetic rule fold_in(fold_in(PRNGKey(seed), k), 0). Files whose
 * images differ in shape from the first record, or that lack I1, are errors naming them.
 */
#include "sp_test.h"

#if SP_HAVE_MATIO
#include <matio.h>
#endif

#include "sp/sp_config.h"
#include "sp/sp_pipeline.h"
#include "sp/sp_rng.h"
#include "sp/sp_sampler.h"

#define IH 6
#define IW 5
#define FLH 4
#define FLW 3

/* Image values: file f, frame t (0 = I0): 37 f + 10 i + j + 500 t (uint16 for I1, so values
 * above 255 show that images are returned as stored). Flow: u = f + i / 4, v = j - f. */
static float img_value(int f, int t, size_t i, size_t j)
{
    return (float)(37 * f + 10 * (int)i + (int)j + (t ? 500 : 0));
}

/* The Python side of img_value and of the flow pattern, shared by the fixture writers. */
#define K_FIXTURE_FUNCS                                                                        \
    "import sys, numpy as np, scipy.io, h5py\n"                                                \
    "d = sys.argv[1]\n"                                                                        \
    "def imgs(f):\n"                                                                           \
    "    i, j = np.meshgrid(np.arange(6), np.arange(5), indexing='ij')\n"                      \
    "    base = 37 * f + 10 * i + j\n"                                                         \
    "    return base.astype(np.uint8), (base + 500).astype(np.uint16)\n"                       \
    "def flow(f):\n"                                                                           \
    "    i, j = np.meshgrid(np.arange(4), np.arange(3), indexing='ij')\n"                      \
    "    return np.stack([f + i / 4.0, j - f + 0.0 * i], -1).astype(np.float32)\n"

static const char *const k_writer =
    K_FIXTURE_FUNCS
    "a, b = imgs(0)\n"
    "scipy.io.savemat(d + '/r/p0.mat', {'V': flow(0), 'I0': a, 'I1': b}, do_compression=True)\n"
    "a, b = imgs(2)\n"
    "with h5py.File(d + '/r/p2.mat', 'w') as h:\n"
    "    h['V'] = flow(2).astype(np.float64); h['I0'] = a.astype(np.float32); h['I1'] = b\n"
    "a, b = imgs(0)\n"
    "scipy.io.savemat(d + '/bad/a.mat', {'V': flow(0), 'I0': a, 'I1': b})\n"
    "scipy.io.savemat(d + '/bad/b.mat', {'V': flow(0), 'I0': a[:5], 'I1': b[:5]})\n"
    "scipy.io.savemat(d + '/noimg/a.mat', {'V': flow(0), 'I0': a})\n";

/* Record 1 in MATLAB's own layout (column-major, MATLAB_class), written by libmatio. */
#if SP_HAVE_MATIO
static void write_matlab_record(const char *path)
{
    mat_t *const m = Mat_CreateVer(path, NULL, MAT_FT_MAT73);
    SP_EXPECT(m != NULL);
    double v[FLH * FLW * 2];
    float i0[IH * IW];
    uint16_t i1[IH * IW];
    for (size_t i = 0; i < FLH; i++)
        for (size_t j = 0; j < FLW; j++) {
            v[i + FLH * j] = 1.0 + (double)i / 4.0;
            v[i + FLH * (j + FLW)] = (double)j - 1.0;
        }
    for (size_t i = 0; i < IH; i++)
        for (size_t j = 0; j < IW; j++) {
            i0[i + IH * j] = img_value(1, 0, i, j);
            i1[i + IH * j] = (uint16_t)img_value(1, 1, i, j);
        }
    size_t dv[3] = {FLH, FLW, 2}, di[2] = {IH, IW};
    matvar_t *const a = Mat_VarCreate("V", MAT_C_DOUBLE, MAT_T_DOUBLE, 3, dv, v, 0);
    matvar_t *const b = Mat_VarCreate("I0", MAT_C_SINGLE, MAT_T_SINGLE, 2, di, i0, 0);
    matvar_t *const c = Mat_VarCreate("I1", MAT_C_UINT16, MAT_T_UINT16, 2, di, i1, 0);
    SP_EXPECT(a && b && c);
    SP_ASSERT_OK(Mat_VarWrite(m, a, MAT_COMPRESSION_NONE));
    SP_ASSERT_OK(Mat_VarWrite(m, b, MAT_COMPRESSION_NONE));
    SP_ASSERT_OK(Mat_VarWrite(m, c, MAT_COMPRESSION_NONE));
    Mat_VarFree(a);
    Mat_VarFree(b);
    Mat_VarFree(c);
    Mat_Close(m);
}

#endif

/* The three encodings need both optional libraries (and libmatio writes record 1). */
static int setup(void)
{
    sp_test_need_feature("matio");
    sp_test_need_feature("hdf5");
    if (!sp_test_have_python("numpy scipy h5py")) sp_test_skip("python3 numpy/scipy/h5py not installed");
    const char *const d = sp_test_tmpdir();
    char script[4200], out[4096], p1[4200];
    snprintf(script, sizeof script, "%s/write.py", d);
    sp_test_write_file(script, k_writer, strlen(k_writer));
    int const rc = sp_test_sh(out, sizeof out, "mkdir -p %s/r %s/bad %s/noimg && /usr/bin/python3 %s %s 2>&1", d, d, d,
                              script, d);
    SP_EXPECT_MSG(rc == 0, "fixture writer failed: %s", out);
    snprintf(p1, sizeof p1, "%s/r/p1.mat", d);
#if SP_HAVE_MATIO /* always, past the checks above */
    write_matlab_record(p1);
#endif
    return 1;
}

static sp_sampler *real_sampler(const char *dir, int batch, sp_config *c, sp_error *e)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: \".mat\"\ninclude_images: true\nfile_list: [\"%s\"]\nbatch_size: %d\n"
             "flow_fields_per_batch: %d\nloop: false\nseed: 3\n",
             dir, batch, batch);
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_string(c, yaml, strlen(yaml), "real.yaml", sp_test_tmpdir(), &d);
    if (st != SP_OK) sp_diag_print(&d, "real.yaml", stderr);
    sp_diag_free(&d);
    SP_ASSERT_OK(st);
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = 2;
    sp_sampler *s = NULL;
    sp_error_clear(e);
    if (sp_sampler_create(&s, c, &o, e) != SP_OK) return NULL;
    return s;
}

static void check_pair(const sp_batch *b, size_t k, int file)
{
    size_t const npx = IH * IW;
    for (size_t i = 0; i < IH; i++)
        for (size_t j = 0; j < IW; j++) {
            float const g1 = b->images1[k * npx + i * IW + j], g2 = b->images2[k * npx + i * IW + j];
            SP_EXPECT_MSG(g1 == img_value(file, 0, i, j) && g2 == img_value(file, 1, i, j),
                          "pair %zu (file %d) pixel (%zu, %zu) = (%g, %g), want (%g, %g)", k, file, i, j, (double)g1,
                          (double)g2, (double)img_value(file, 0, i, j), (double)img_value(file, 1, i, j));
        }
    for (size_t i = 0; i < FLH; i++)
        for (size_t j = 0; j < FLW; j++) {
            const float *const f = b->flow_fields + k * FLH * FLW * 2 + 2 * (i * FLW + j);
            SP_EXPECT_MSG(f[0] == (float)file + (float)i / 4.0f && f[1] == (float)j - (float)file,
                          "pair %zu flow (%zu, %zu) = (%g, %g)", k, i, j, (double)f[0], (double)f[1]);
        }
    char want[32];
    snprintf(want, sizeof want, "/r/p%d.mat", file);
    SP_ASSERT_STR_CONTAINS(b->files[k], want);
    SP_EXPECT(b->mask[k] == 1);
    sp_key const key = sp_key_fold_in(sp_key_fold_in(sp_key_from_seed(b->seeds[k]), (uint32_t)k), 0);
    SP_EXPECT(b->keys[k].k[0] == key.k[0] && b->keys[k].k[1] == key.k[1]);
}

SP_TEST(real_images_batches_hold_the_files_images_and_flows)
{
    if (!setup()) return;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/r", sp_test_tmpdir());
    sp_config c;
    sp_error e;
    sp_sampler *const s = real_sampler(dir, 2, &c, &e);
    SP_EXPECT_MSG(s != NULL, "create: %s", e.message);
    const sp_batch *b = NULL;
    SP_ASSERT_OK(sp_sampler_next(s, &b, &e));
    SP_ASSERT_EQ_INT(b->batch_size, 2);
    SP_ASSERT_EQ_INT(b->height, IH);
    SP_ASSERT_EQ_INT(b->width, IW);
    SP_ASSERT_EQ_INT(b->flow_height, FLH);
    SP_ASSERT_EQ_INT(b->flow_width, FLW);
    check_pair(b, 0, 0);
    check_pair(b, 1, 1);
    SP_ASSERT_EQ_U64(b->first_pair, 0);
    SP_ASSERT_OK(sp_sampler_next(s, &b, &e));
    check_pair(b, 0, 2);
    SP_ASSERT_EQ_U64(b->first_pair, 2);
    SP_EXPECT(b->mask[1] == 0 && strcmp(b->files[1], "") == 0);
    for (size_t p = 0; p < IH * IW; p++) SP_EXPECT(b->images1[IH * IW + p] == 0.0f && b->images2[IH * IW + p] == 0.0f);
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_END);
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(real_images_shape_mismatch_and_missing_image_name_the_file)
{
    if (!setup()) return;
    char dir[4200];
    sp_config c;
    sp_error e;
    snprintf(dir, sizeof dir, "%s/bad", sp_test_tmpdir());
    sp_sampler *const s = real_sampler(dir, 2, &c, &e);
    SP_EXPECT_MSG(s != NULL, "create: %s", e.message);
    const sp_batch *b = NULL;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "/bad/b.mat");
    SP_ASSERT_STR_CONTAINS(e.message, "5x5");
    sp_sampler_free(s);
    sp_config_free(&c);
    snprintf(dir, sizeof dir, "%s/noimg", sp_test_tmpdir());
    SP_EXPECT(real_sampler(dir, 1, &c, &e) == NULL);
    SP_ASSERT_STR_CONTAINS(e.message, "/noimg/a.mat");
    SP_ASSERT_STR_CONTAINS(e.message, "no variable I1");
    sp_config_free(&c);
}

/* Episodic mode with real images: every leaf directory is a sequence; pair k of a batch is
 * the current time step of episode k, and its images and flow are that file's. */
SP_TEST(real_images_episodic_steps_follow_each_sequence)
{
    if (!setup()) return;
    const char *const d = sp_test_tmpdir();
    char out[4096];
    /* Sequence a: files 0 then 2; sequence b: files 3 then 4 (values encode the file). */
    static const char writer[] =
        K_FIXTURE_FUNCS
        "for seq, files in (('a', (0, 2)), ('b', (3, 4))):\n"
        "    for t, f in enumerate(files):\n"
        "        a, b = imgs(f)\n"
        "        scipy.io.savemat('%s/ep/%s/s%d.mat' % (d, seq, t), {'V': flow(f), 'I0': a, 'I1': b})\n";
    char script[4200];
    snprintf(script, sizeof script, "%s/write_ep.py", d);
    sp_test_write_file(script, writer, sizeof writer - 1);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "mkdir -p %s/ep/a %s/ep/b && /usr/bin/python3 %s %s 2>&1", d, d, script, d), 0);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: \".mat\"\ninclude_images: true\nfile_list: [\"%s/ep\"]\nbatch_size: 2\n"
             "flow_fields_per_batch: 2\nepisode_length: 2\nloop: false\nseed: 3\n", d);
    sp_config c;
    sp_diag dg;
    sp_diag_init(&dg);
    sp_status const ls = sp_config_load_string(&c, yaml, strlen(yaml), "ep.yaml", d, &dg);
    if (ls != SP_OK) sp_diag_print(&dg, "ep.yaml", stderr);
    sp_diag_free(&dg);
    SP_ASSERT_OK(ls);
    sp_sampler *s = NULL;
    sp_error e;
    sp_status const cs = sp_sampler_create(&s, &c, NULL, &e);
    SP_EXPECT_MSG(cs == SP_OK, "create: %s", e.message);
    static const int want[2][2] = {{0, 3}, {2, 4}}; /* [step][episode] -> file */
    static const char *const names[2][2] = {{"/ep/a/s0.mat", "/ep/b/s0.mat"}, {"/ep/a/s1.mat", "/ep/b/s1.mat"}};
    const sp_batch *b = NULL;
    for (int t = 0; t < 2; t++) {
        sp_status const st = sp_sampler_next(s, &b, &e);
        SP_EXPECT_MSG(st == SP_OK, "step %d: %s", t, e.message);
        SP_ASSERT_EQ_INT(b->timestep, t);
        for (size_t k = 0; k < 2; k++) {
            int const f = want[t][k];
            SP_ASSERT_STR_CONTAINS(b->files[k], names[t][k]);
            SP_ASSERT_EQ_INT(b->done[k], t == 1);
            SP_ASSERT_NEAR(b->images1[k * IH * IW + 1 * IW + 2], img_value(f, 0, 1, 2), 0);
            SP_ASSERT_NEAR(b->images2[k * IH * IW + 3 * IW + 4], img_value(f, 1, 3, 4), 0);
            SP_ASSERT_NEAR(b->flow_fields[k * FLH * FLW * 2 + 2 * (2 * FLW + 1)], (float)f + 0.5f, 0);
        }
    }
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_EPISODE_END);
    SP_ASSERT_OK(sp_sampler_next_episode(s, &e));
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_END); /* both sequences were used */
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* A checkpoint of a real-image stream restores to the batch an uninterrupted run gives. */
SP_TEST(real_images_checkpoint_resumes_the_same_stream)
{
    if (!setup()) return;
    char dir[600], ck[600];
    snprintf(dir, sizeof dir, "%s/r", sp_test_tmpdir());
    snprintf(ck, sizeof ck, "%s/ck", sp_test_tmpdir());
    sp_config c;
    sp_error e;
    sp_sampler *const a = real_sampler(dir, 2, &c, &e);
    SP_EXPECT_MSG(a != NULL, "create: %s", e.message);
    const sp_batch *b = NULL;
    SP_ASSERT_OK(sp_sampler_next(a, &b, &e));
    SP_ASSERT_OK(sp_save_checkpoint(ck, a, 1, 2, &e));
    SP_ASSERT_OK(sp_sampler_next(a, &b, &e)); /* the batch the restored stream must give */
    size_t const ni = 2 * IH * IW, nf = 2 * FLH * FLW * 2;
    float want1[2 * IH * IW], want2[2 * IH * IW], wantf[2 * FLH * FLW * 2];
    memcpy(want1, b->images1, sizeof want1);
    memcpy(want2, b->images2, sizeof want2);
    memcpy(wantf, b->flow_fields, sizeof wantf);
    uint32_t const seed0 = b->seeds[0], seed1 = b->seeds[1];
    const char *const file1 = b->files[1];
    char wfile[600];
    snprintf(wfile, sizeof wfile, "%s", file1);
    sp_sampler *r = NULL;
    sp_status const ms = sp_make(&c, ck, SP_CKPT_LATEST, NULL, &r, &e);
    SP_EXPECT_MSG(ms == SP_OK, "sp_make: %s", e.message);
    SP_ASSERT_OK(sp_sampler_next(r, &b, &e));
    SP_EXPECT(memcmp(want1, b->images1, ni * sizeof(float)) == 0);
    SP_EXPECT(memcmp(want2, b->images2, ni * sizeof(float)) == 0);
    SP_EXPECT(memcmp(wantf, b->flow_fields, nf * sizeof(float)) == 0);
    SP_ASSERT_EQ_U64(b->seeds[0], seed0);
    SP_ASSERT_EQ_U64(b->seeds[1], seed1);
    SP_EXPECT(strcmp(b->files[1], wfile) == 0);
    sp_sampler_free(r);
    sp_sampler_free(a);
    sp_config_free(&c);
}
