/* test_layouts.c: `synthpix generate --layout cai|pykitpiv|liteflownet` (docs/formats.md,
 * "Dataset layouts").
 *
 * Oracles: each layout is read back by tests/unit/layout_readers.py, written from the other
 * projects' public conventions only (glob and the FlowData_*.list files with Pillow for the
 * TIFF images and a .flo reader written from the Middlebury specification; h5py for the
 * HDF5 files), and compared with `--format npy` of the same configuration and seed after
 * the documented value mapping. The split is checked against sp_dataset_split_is_test,
 * itself checked for determinism and for its fraction over 2,000 pairs. Refusals are
 * checked by their messages, and that they leave nothing on disk. Crash safety and resume:
 * tests/unit/test_resume_cli.c and tests/unit/test_generate_faults.c.
 */
#include "sp_test.h"

#include <sys/stat.h>
#include <unistd.h>

#include "sp/sp.h"

/* Non-square images, so a transposed reader fails; two flows so the pairs differ. */
#define CONFIG_YAML \
    "scheduler_class: analytic\n" \
    "analytic_flow:\n" \
    "  - {kind: uniform, u: 1.5, v: -1.0}\n" \
    "  - {kind: lamb_oseen, center: [0.8, 0.8], circulation: 3.0, core_radius: 0.2}\n" \
    "analytic_num_examples: 5\n" \
    "image_shape: [40, 56]\nflow_field_size: [1.6, 1.6]\nresolution: 200\nimg_offset: [0.16, 0.16]\n" \
    "dt: 0.01\nvelocities_per_pixel: %s\noutput_units: %s\n" \
    "min_speed_x: -3\nmax_speed_x: 3\nmin_speed_y: -3\nmax_speed_y: 3\n" \
    "batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 2\nrandomize: true\nseed: %d\n" \
    "noise_uniform: 3\n%s"

#define SEED 11
#define PAIRS 22
#define SPLIT 0.4

/* The configuration file with velocities_per_pixel, output_units and more YAML, named by
 * its text (dataset.json echoes the file's name: one text, one file). */
static const char *config_with(const char *vpp, const char *units, const char *more)
{
    static char path[700];
    char text[4096];
    int const n = snprintf(text, sizeof text, CONFIG_YAML, vpp, units, SEED, more);
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < n; i++) h = (h ^ (unsigned char)text[i]) * 16777619u;
    snprintf(path, sizeof path, "%s/cfg-%08x.yaml", sp_test_tmpdir(), h);
    sp_test_write_file(path, text, (size_t)n);
    return path;
}

static const char *config_path(const char *vpp, const char *units)
{
    return config_with(vpp, units, "");
}

/* `synthpix generate` into tmp/NAME with the small configuration and extra arguments;
 * returns the exit status, the output in out. */
static int generate(char *out, size_t cap, const char *name, const char *extra)
{
    return sp_test_sh(out, cap, "%s generate -q -c %s -n %d -o %s/%s %s 2>&1", sp_test_cli(),
                      config_path("1", "pixels"), PAIRS, sp_test_tmpdir(), name, extra);
}

/* The pairs the split rule sends to the test (val) part, one index per line. */
static const char *write_test_indices(void)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/test_indices.txt", sp_test_tmpdir());
    char text[4096];
    size_t len = 0;
    for (uint64_t n = 0; n < PAIRS; n++)
        if (sp_dataset_split_is_test(SEED, n, SPLIT))
            len += (size_t)snprintf(text + len, sizeof text - len, "%llu\n", (unsigned long long)n);
    sp_test_write_file(path, text, len);
    return path;
}

/* Generates the npy reference and the layout, then runs the independent reader. */
static void read_back(const char *layout, const char *extra, const char *reader_args)
{
    char out[8192];
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "npy", "--format npy"), 0);
    char args[512];
    snprintf(args, sizeof args, "--layout %s %s", layout, extra);
    int const rc = generate(out, sizeof out, layout, args);
    SP_EXPECT_MSG(rc == 0, "generate %s: exit %d: %s", args, rc, out);
    const char *const tmp = sp_test_tmpdir();
    int const r = sp_test_sh(out, sizeof out,
                             "/usr/bin/python3 %s/tests/unit/layout_readers.py %s %s/%s %s/npy %s 2>&1",
                             sp_test_source_dir(), layout, tmp, layout, tmp, reader_args);
    SP_EXPECT_MSG(r == 0, "the %s reader: %s", layout, out);
    fprintf(stderr, "# %s", out);
}

SP_TEST(layouts_cai_reads_back_as_the_npy_dataset)
{
    if (!sp_test_have_python("numpy PIL")) sp_test_skip("/usr/bin/python3 lacks numpy or PIL (python3-pil)");
    char args[800];
    snprintf(args, sizeof args, "%s run7", write_test_indices());
    char extra[64];
    snprintf(extra, sizeof extra, "--split %g --case run7", SPLIT);
    read_back("cai", extra, args);
    /* Both parts hold pairs, so the check above covered both lists. */
    char out[256];
    const char *const tmp = sp_test_tmpdir();
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out,
                                "test -s %s/cai/FlowData_train.list && test -s %s/cai/FlowData_test.list", tmp, tmp),
                     0);
}

SP_TEST(layouts_pykitpiv_reads_back_as_the_npy_dataset)
{
    sp_test_need_feature("hdf5");
    if (!sp_test_have_python("numpy h5py")) sp_test_skip("/usr/bin/python3 lacks numpy or h5py");
    read_back("pykitpiv", "", "");
}

SP_TEST(layouts_liteflownet_reads_back_as_the_npy_dataset)
{
    sp_test_need_feature("hdf5");
    if (!sp_test_have_python("numpy h5py")) sp_test_skip("/usr/bin/python3 lacks numpy or h5py");
    char extra[64];
    snprintf(extra, sizeof extra, "--split %g", SPLIT);
    read_back("liteflownet", extra, write_test_indices());
}

/* The rule depends on the seed and the index only, and over 2,000 pairs its test fraction
 * lies within 3 standard deviations of F, for several F and seeds. */
SP_TEST(layouts_split_rule_is_deterministic_and_near_its_fraction)
{
    static const double fractions[] = {0.05, 0.1, 0.3, 0.5, 0.9};
    static const uint64_t seeds[] = {0, 1, 12345, 0xffffffffffffull};
    uint64_t const N = 2000;
    for (size_t f = 0; f < sizeof fractions / sizeof fractions[0]; f++) {
        for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
            double const F = fractions[f];
            uint64_t tests = 0;
            for (uint64_t n = 0; n < N; n++) {
                int const t = sp_dataset_split_is_test(seeds[s], n, F);
                SP_ASSERT_EQ_INT(sp_dataset_split_is_test(seeds[s], n, F), t);
                tests += (uint64_t)t;
            }
            double const sd = sqrt((double)N * F * (1.0 - F));
            SP_EXPECT_MSG(fabs((double)tests - F * (double)N) <= 3.0 * sd, "seed %llu, F %g: %llu test pairs of %llu",
                          (unsigned long long)seeds[s], F, (unsigned long long)tests, (unsigned long long)N);
        }
    }
    /* 0 and 1 are exact; a smaller fraction's test pairs are a subset of a larger one's;
     * another seed splits differently. */
    int differs = 0;
    for (uint64_t n = 0; n < N; n++) {
        SP_ASSERT_EQ_INT(sp_dataset_split_is_test(7, n, 0.0), 0);
        SP_ASSERT_EQ_INT(sp_dataset_split_is_test(7, n, 1.0), 1);
        if (sp_dataset_split_is_test(7, n, 0.2)) SP_ASSERT_EQ_INT(sp_dataset_split_is_test(7, n, 0.6), 1);
        differs |= sp_dataset_split_is_test(7, n, 0.5) != sp_dataset_split_is_test(8, n, 0.5);
    }
    SP_EXPECT(differs);
}

/* Every refusal: exit 2, a message naming the option or key, its value and what is
 * expected, and no output folder. */
SP_TEST(layouts_refuse_bad_values_with_clear_messages)
{
    static const struct {
        const char *vpp, *units, *more, *args, *message;
    } cases[] = {
        {"1", "pixels", "", "--layout foo", "--layout: 'foo' is not one of synthpix, cai, pykitpiv, liteflownet"},
        {"1", "pixels", "", "--layout cai --split 1.5", "--split: '1.5' is not a number in [0, 1]"},
        {"1", "pixels", "", "--layout cai --split -0.1", "--split: '-0.1' is not a number in [0, 1]"},
        {"1", "pixels", "", "--layout liteflownet --split nan", "--split: 'nan' is not a number in [0, 1]"},
        {"1", "pixels", "", "--layout cai --split 0.2x", "--split: '0.2x' is not a number in [0, 1]"},
        {"1", "pixels", "", "--layout cai --format png", "--format does not apply to the cai layout"},
        {"1", "pixels", "", "--layout pykitpiv --shard-size 4", "--shard-size does not apply to the pykitpiv layout"},
        {"1", "pixels", "", "--layout pykitpiv --split 0.2", "--split does not apply to the pykitpiv layout"},
        {"1", "pixels", "", "--split 0.2", "--split does not apply to the synthpix layout"},
        {"1", "pixels", "", "--layout liteflownet --case x", "--case does not apply to the liteflownet layout"},
        {"1", "pixels", "", "--layout cai --case a/b", "case name 'a/b' is not 1 to 64 characters of [A-Za-z0-9_-]"},
        {"1", "pixels", "", "--layout cai --bit-depth 32",
         "bit depth 32 (asked for): the cai layout stores 8- or 16-bit"},
        {"1", "pixels", "", "--layout liteflownet --bit-depth 16", "the liteflownet layout stores uint8 images"},
        {"1", "pixels", "", "--layout pykitpiv --bit-depth 8", "the pykitpiv layout stores float32 images"},
        {"2", "pixels", "", "--layout cai",
         "the flow grid is 80x112 and the images 40x56 (set velocities_per_pixel: 1)"},
        {"1", "\"measure units per second\"", "", "--layout pykitpiv",
         "the pykitpiv layout stores displacements in pixels (set output_units: pixels)"},
        {"1", "pixels", "frames: 3\n", "--layout liteflownet",
         "frames: 3: the liteflownet layout stores image pairs only; write 3 frames per sample with the synthpix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[4096], dir[700];
        snprintf(dir, sizeof dir, "%s/refused%zu", sp_test_tmpdir(), i);
        int const rc = sp_test_sh(out, sizeof out, "%s generate -q -c %s -n 4 -o %s --checkpoint-dir %s.ck %s 2>&1",
                                  sp_test_cli(), config_with(cases[i].vpp, cases[i].units, cases[i].more), dir, dir,
                                  cases[i].args);
        SP_EXPECT_MSG(rc == 2, "%s: exit %d: %s", cases[i].args, rc, out);
        SP_EXPECT_MSG(strstr(out, cases[i].message) != NULL, "%s: expected '%s' in: %s", cases[i].args,
                      cases[i].message, out);
        struct stat sb;
        SP_EXPECT_MSG(stat(dir, &sb) != 0, "%s: the output folder was created", cases[i].args);
        char ck[720];
        snprintf(ck, sizeof ck, "%s.ck", dir);
        SP_EXPECT_MSG(stat(ck, &sb) != 0, "%s: the checkpoint folder was created", cases[i].args);
    }
}

static int no_exchange(void *ctx, const char *name, int root, const void *data, size_t n, void **out, size_t *lens)
{
    (void)ctx, (void)name, (void)root, (void)data, (void)n, (void)out, (void)lens;
    return -1;
}

/* Through the library: a group of processes is refused by name before anything happens,
 * and so is a split outside [0, 1] (the command checks it too, the library on its own). */
SP_TEST(layouts_refuse_a_group_and_a_bad_split_through_the_library)
{
    sp_config cfg;
    SP_ASSERT_OK(sp_config_load_file(&cfg, config_path("1", "pixels"), NULL));
    sp_group g;
    sp_group_init(&g);
    g.size = 2;
    g.exchange = no_exchange;
    sp_generate_options o;
    sp_generate_options_init(&o);
    o.dataset.pairs = 4;
    o.dataset.layout = SP_DATASET_LAYOUT_CAI;
    o.group = &g;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/grouped", sp_test_tmpdir());
    sp_error e;
    sp_generate_result r;
    SP_ASSERT_STATUS(sp_generate(&cfg, dir, &o, &r, &e), SP_ERR_UNSUPPORTED);
    SP_ASSERT_STR_CONTAINS(e.message, "the cai layout cannot be written by a group of processes (synthpix-mpi)");
    SP_EXPECT(!r.started);
    o.group = NULL;
    o.dataset.split = 1.5;
    SP_ASSERT_STATUS(sp_generate(&cfg, dir, &o, &r, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "split 1.5 is not in [0, 1]");
    o.dataset.split = 0.5;
    o.dataset.layout = (sp_dataset_layout)9;
    SP_ASSERT_STATUS(sp_generate(&cfg, dir, &o, &r, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "dataset layout 9 is not one of synthpix, cai, pykitpiv, liteflownet");
    struct stat sb;
    SP_EXPECT(stat(dir, &sb) != 0);
    SP_ASSERT_EQ_INT(sp_dataset_layout_parse("liteflownet", &o.dataset.layout), 1);
    SP_ASSERT_EQ_INT(o.dataset.layout, SP_DATASET_LAYOUT_LITEFLOWNET);
    SP_ASSERT_EQ_INT(sp_dataset_layout_parse("LiteFlowNet", &o.dataset.layout), 0);
    SP_EXPECT(strcmp(sp_dataset_layout_name(SP_DATASET_LAYOUT_PYKITPIV), "pykitpiv") == 0);
    SP_EXPECT(sp_dataset_layout_name(SP_DATASET_LAYOUT_COUNT_) == NULL);
    sp_config_free(&cfg);
}

/* A folder holding a dataset of one layout: another layout is refused without --overwrite;
 * with it, the files the layouts name go (cai's of the case its dataset.json names) and
 * nothing else: not files that only resemble them, nor another case's cai files. */
SP_TEST(layouts_overwrite_removes_the_layout_files_and_nothing_else)
{
    sp_test_need_feature("hdf5");
    char out[8192];
    const char *const tmp = sp_test_tmpdir();
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "d", "--layout cai --case one"), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "cd %s/d && echo mine > notes.txt && echo mine > other_00001_img1.tif && "
                            "echo mine > one_0001_img1.tif && echo mine > one_00001_img1.png",
                            tmp));
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "d", "--layout cai --case two"), 2);
    SP_ASSERT_STR_CONTAINS(out, "already holds another dataset");
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "d", "--layout liteflownet --overwrite"), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cd %s/d && ls | tr '\\n' ' '", tmp), 0);
    SP_EXPECT_MSG(strcmp(out, "dataset.json liteflownet.h5 notes.txt one_00001_img1.png one_0001_img1.tif "
                              "other_00001_img1.tif params.jsonl ") == 0, "left: %s", out);
    /* A case named by no dataset.json: not recognised, so a folder holding only its files
     * is free for a new dataset and the files stay. */
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "e", "--layout cai --case one"), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd %s/e && rm dataset.json params.jsonl FlowData_*.list", tmp));
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "e", "--layout pykitpiv"), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "ls %s/e | grep -c '^one_'", tmp), 0);
    SP_ASSERT_EQ_INT(atoi(out), 3 * PAIRS);
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "d", "--layout pykitpiv --overwrite"), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cd %s/d && ls | tr '\\n' ' '", tmp), 0);
    SP_EXPECT_MSG(strcmp(out, "dataset.json notes.txt one_00001_img1.png one_0001_img1.tif other_00001_img1.tif "
                              "params.jsonl pykitpiv.h5 ") == 0, "left: %s", out);
    /* The same dataset asked for again: nothing to do, nothing touched. */
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out,
                                "cd %s/d && sha256sum * > ../sums && %s generate -c %s -n %d -o %s/d --layout pykitpiv "
                                "2>&1 && sha256sum -c --quiet ../sums",
                                tmp, sp_test_cli(), config_path("1", "pixels"), PAIRS, tmp), 0);
    SP_ASSERT_STR_CONTAINS(out, "nothing to do");
}

/* A checkpoint records the layout, the split and the case: a resume that asks for another
 * is refused, naming what differs, and changes nothing; the same options resume (here: find
 * the dataset complete). */
SP_TEST(layouts_resume_refuses_another_layout_split_or_case)
{
    char out[8192];
    const char *const tmp = sp_test_tmpdir();
    char base[700];
    snprintf(base, sizeof base, "--checkpoint-dir %s/ck --checkpoint-every 2", tmp);
    char args[1024];
    snprintf(args, sizeof args, "--layout cai --split 0.5 --case c1 %s", base);
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "r", args), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd %s/r && sha256sum * > ../sums", tmp));
    static const struct {
        const char *args, *message;
    } cases[] = {
        {"--layout liteflownet --split 0.5", "the layout differs from the run that wrote it (layout cai; this run: "
                                             "liteflownet)"},
        {"--layout cai --split 0.25 --case c1", "the split differs from the run that wrote it"},
        {"--layout cai --split 0.5 --case c2", "the case name differs from the run that wrote it"},
        {"", "the layout differs from the run that wrote it (layout cai; this run: synthpix)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strstr(cases[i].args, "liteflownet") && !sp_have_feature("hdf5")) continue; /* refused for that first */
        snprintf(args, sizeof args, "%s %s --resume", cases[i].args, base);
        int const rc = generate(out, sizeof out, "r", args);
        SP_EXPECT_MSG(rc == 2, "%s: exit %d: %s", args, rc, out);
        SP_EXPECT_MSG(strstr(out, cases[i].message) != NULL, "%s: expected '%s' in: %s", args, cases[i].message, out);
    }
    snprintf(args, sizeof args, "--layout cai --split 0.5 --case c1 %s --resume", base);
    SP_ASSERT_EQ_INT(generate(out, sizeof out, "r", args), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cd %s/r && sha256sum -c --quiet ../sums && ls | wc -l", tmp), 0);
    SP_ASSERT_EQ_INT(atoi(out), 3 * PAIRS + 4); /* pairs, two lists, params.jsonl, dataset.json */
}
