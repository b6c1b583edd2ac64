/* test_config_compat.c: every SynthPix example configuration (the YAML files of
 * tests/data/configs; docs/synthpix-compat.md, Example configurations) runs unchanged.
 *
 * Each fixture is copied byte for byte into a temporary directory; small flow files are
 * written next to it at the relative paths its file_list names (.mat v5 from scipy, .mat
 * HDF5 from h5py, .h5 with 3 components, .npy), so the configuration loads with
 * sp_config_load_file exactly as a SynthPix user's would. A sampler is then created and
 * one batch generated; the batch must have the configuration's own image_shape, output flow
 * grid (int(H vpp), int(W vpp)) and batch size, images in [0, 255] that are not black,
 * and real records (mask 1) named after the generated files.
 *
 * One reduction: JHTDB.yaml asks for 128 pairs of 1216x1936 per batch (2.4 GB of float32
 * images); the test lowers batch_size and flow_fields_per_batch to 2 after loading so it
 * stays at about 40 MB. Everything else, geometry included, is the file's.
 */
#include "sp_test.h"

#include "sp/sp_config.h"
#include "sp/sp_io.h"
#include "sp/sp_sampler.h"

/* Writes the flow files every fixture needs under dir. Flows are smooth and their values
 * encode position (u = 0.01 i + 0.02 j, v = 0.03 i - 0.01 j pixels) so that the cylinder
 * check below can compare output flows with values computed here. */
static const char *const k_writer =
    "import os, sys, numpy as np, scipy.io, h5py\n"
    "d = sys.argv[1]\n"
    "def flow(H, W, C=2, scale=1.0):\n"
    "    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing='ij')\n"
    "    ch = [0.01*i + 0.02*j, 0.03*i - 0.01*j, 0.001*(i+j)]\n"
    "    return (scale*np.stack(ch[:C], axis=-1)).astype(np.float32)\n"
    "def mk(p):\n"
    "    os.makedirs(os.path.join(d, p), exist_ok=True); return os.path.join(d, p)\n"
    "for k in range(2):\n"
    "    scipy.io.savemat(mk('flows/main') + '/f%d.mat' % k, {'V': flow(96, 80)}, do_compression=bool(k))\n"
    "with h5py.File(mk('flows/cylinder') + '/cyl.mat', 'w') as f:\n"
    "    f['V'] = flow(256, 256)\n"
    "scipy.io.savemat(mk('flows/jassal/sub') + '/j.mat', {'V': np.moveaxis(flow(40, 56), -1, 0)})\n"
    "for k in range(4):\n"
    "    scipy.io.savemat(mk('flows/benchmark') + '/b%d.mat' % k, {'V': flow(64, 64)})\n"
    "for k in range(2):\n"
    "    with h5py.File(mk('flows/jhtdb/part%d' % k) + '/c%d.h5' % k, 'w') as f:\n"
    "        f['velocity'] = flow(48, 64, 3, 20.0)\n"
    "    with h5py.File(mk('flows/test_data') + '/flow_%03d.h5' % k, 'w') as f:\n"
    "        f['velocity'] = flow(96, 128, 3, 20.0).astype(np.float64)\n"
    "for k in range(3):\n"
    "    np.save(mk('npy') + '/flow_%03d.npy' % k, flow(256, 256))\n"
    "    i, j = np.meshgrid(np.arange(48), np.arange(64), indexing='ij')\n"
    "    scipy.io.savemat(mk('mat') + '/pair%d.mat' % k, {'V': flow(48, 64),\n"
    "                     'I0': ((i*3 + j + k) % 256).astype(np.uint8),\n"
    "                     'I1': ((i*3 + j + k + 1) % 256).astype(np.uint8)})\n";

static const char *workdir(void)
{
    static char dir[4096];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/compat", sp_test_tmpdir());
    char script[4200], out[4096];
    snprintf(script, sizeof script, "%s/write.py", sp_test_tmpdir());
    sp_test_write_file(script, k_writer, strlen(k_writer));
    int const rc = sp_test_sh(out, sizeof out, "mkdir -p %s && cp %s/tests/data/configs/*.yaml %s/ && "
                              "/usr/bin/python3 %s %s 2>&1", dir, sp_test_source_dir(), dir, script, dir);
    SP_EXPECT_MSG(rc == 0, "fixture setup failed (%d): %s", rc, out);
    return dir;
}

static int have_python(void)
{
    if (!sp_test_have_python("numpy scipy h5py")) sp_test_skip("python3 numpy/scipy/h5py not installed");
    return 1;
}

static void load_fixture(sp_config *c, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", workdir(), name);
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_file(c, path, &d);
    if (st != SP_OK) sp_diag_print(&d, path, stderr);
    SP_EXPECT_MSG(st == SP_OK, "%s does not load unchanged", name);
    SP_EXPECT_MSG(sp_diag_errors(&d) == 0, "%s: errors", name);
    sp_diag_free(&d);
}

static sp_sampler *make_sampler(const sp_config *c, const char *name)
{
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = 2;
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_create(&s, c, &o, &e);
    SP_EXPECT_MSG(st == SP_OK, "%s: sp_sampler_create: %s", name, e.message);
    return s;
}

static const sp_batch *one_batch(sp_sampler *s, const char *name)
{
    const sp_batch *b = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_next(s, &b, &e);
    SP_EXPECT_MSG(st == SP_OK, "%s: sp_sampler_next: %s", name, e.message);
    return b;
}

/* The batch has the configuration's own geometry and sane contents. */
static void check_synthetic(const sp_config *c, const sp_batch *b, const char *name, const char *file_part)
{
    SP_ASSERT_EQ_INT(b->batch_size, c->batch_size);
    SP_ASSERT_EQ_INT(b->height, c->image_shape[0]);
    SP_ASSERT_EQ_INT(b->width, c->image_shape[1]);
    SP_ASSERT_EQ_INT(b->flow_height, (size_t)((double)c->image_shape[0] * c->velocities_per_pixel));
    SP_ASSERT_EQ_INT(b->flow_width, (size_t)((double)c->image_shape[1] * c->velocities_per_pixel));
    size_t const npx = b->height * b->width;
    for (size_t k = 0; k < b->batch_size; k++) {
        double s1 = 0, s2 = 0;
        for (size_t p = 0; p < npx; p++) {
            float const v1 = b->images1[k * npx + p], v2 = b->images2[k * npx + p];
            SP_EXPECT_MSG(v1 >= 0.0f && v1 <= 255.0f && v2 >= 0.0f && v2 <= 255.0f, "%s: pixel out of range", name);
            s1 += (double)v1;
            s2 += (double)v2;
        }
        SP_EXPECT_MSG(s1 > 0 && s2 > 0, "%s: pair %zu is black", name, k);
        SP_EXPECT_MSG(b->mask[k] == 1, "%s: pair %zu is padding", name, k);
        SP_ASSERT_STR_CONTAINS(b->files[k], file_part);
    }
}

static void run_fixture(const char *name, const char *file_part, int shrink_to)
{
    if (!have_python()) return;
    sp_config c;
    load_fixture(&c, name);
    if (shrink_to > 0) { /* see the note at the top: memory only, geometry unchanged */
        c.batch_size = shrink_to;
        c.flow_fields_per_batch = shrink_to;
    }
    sp_sampler *const s = make_sampler(&c, name);
    const sp_batch *const b = one_batch(s, name);
    check_synthetic(&c, b, name, file_part);
    sp_sampler_free(s);
    sp_config_free(&c);
}

SP_TEST(config_compat_main_yaml)
{
    sp_test_need_feature("matio");
    run_fixture("main.yaml", "flows/main/f", 0);
}

SP_TEST(config_compat_jassal_yaml)
{
    sp_test_need_feature("matio");
    run_fixture("Jassal.yaml", "flows/jassal/sub/j.mat", 0);
}

SP_TEST(config_compat_jhtdb_yaml)
{
    sp_test_need_feature("hdf5");
    run_fixture("JHTDB.yaml", "flows/jhtdb/part", 2);
}

SP_TEST(config_compat_test_data_yaml)
{
    sp_test_need_feature("hdf5");
    run_fixture("test_data.yaml", "flows/test_data/flow_00", 0);
}

SP_TEST(config_compat_kinematic_yaml)
{
    run_fixture("kinematic.yaml", "kinematic://", 0);
}

SP_TEST(config_compat_test_benchmark_yaml)
{
    sp_test_need_feature("matio");
    run_fixture("test_benchmark.yaml", "flows/benchmark/b", 0);
}

SP_TEST(config_compat_docs_npy_yaml)
{
    run_fixture("docs_npy.yaml", "npy/flow_00", 0);
}

/* cylinder.yaml is a pixel-unit configuration on a 256x256 grid that matches the image, so
 * output flow (i, j) is the file's flow at grid point (i, j): the h5py-written (row-major)
 * .mat must arrive untransposed, with the values computed here. */
SP_TEST(config_compat_cylinder_yaml_flow_matches_file)
{
    sp_test_need_feature("hdf5"); /* an h5py-written .mat */
    if (!have_python()) return;
    sp_config c;
    load_fixture(&c, "cylinder.yaml");
    sp_sampler *const s = make_sampler(&c, "cylinder.yaml");
    const sp_batch *const b = one_batch(s, "cylinder.yaml");
    check_synthetic(&c, b, "cylinder.yaml", "flows/cylinder/cyl.mat");
    for (size_t i = 0; i < 256; i++)
        for (size_t j = 0; j < 256; j++) {
            float const u = (float)(0.01 * (double)i + 0.02 * (double)j);
            float const v = (float)(0.03 * (double)i - 0.01 * (double)j);
            const float *const got = b->flow_fields + 2 * (i * 256 + j);
            SP_EXPECT_MSG(got[0] == u && got[1] == v, "cylinder flow (%zu, %zu) = (%g, %g), want (%g, %g)", i, j,
                          (double)got[0], (double)got[1], (double)u, (double)v);
        }
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* docs/examples/mat: real image pairs; the images and flows come from the files. */
SP_TEST(config_compat_docs_mat_yaml_real_images)
{
    sp_test_need_feature("matio");
    if (!have_python()) return;
    sp_config c;
    load_fixture(&c, "docs_mat.yaml");
    sp_sampler *const s = make_sampler(&c, "docs_mat.yaml");
    const sp_batch *const b = one_batch(s, "docs_mat.yaml");
    SP_ASSERT_EQ_INT(b->batch_size, 10);
    SP_ASSERT_EQ_INT(b->height, 48);
    SP_ASSERT_EQ_INT(b->width, 64);
    SP_ASSERT_EQ_INT(b->flow_height, 48);
    SP_ASSERT_EQ_INT(b->flow_width, 64);
    for (size_t k = 0; k < 10; k++) {
        size_t const rec = k % 3; /* three files, looping, file order kept */
        char want[32];
        snprintf(want, sizeof want, "mat/pair%zu.mat", rec);
        SP_ASSERT_STR_CONTAINS(b->files[k], want);
        SP_EXPECT(b->mask[k] == 1);
        for (size_t i = 0; i < 48; i += 7)
            for (size_t j = 0; j < 64; j += 5) {
                size_t const p = k * 48 * 64 + i * 64 + j;
                SP_ASSERT_EQ_INT(b->images1[p], (3 * i + j + rec) % 256);
                SP_ASSERT_EQ_INT(b->images2[p], (3 * i + j + rec + 1) % 256);
                SP_EXPECT(b->flow_fields[2 * p] == (float)(0.01 * (double)i + 0.02 * (double)j));
            }
    }
    sp_sampler_free(s);
    sp_config_free(&c);
}
