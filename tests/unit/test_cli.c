/* test_cli.c: the synthpix command line, end to end: generate's files are byte-identical
 * for 1, 2 and 4 threads and for a shorter run; the embedded default writes its pairs and
 * the .flo ground truth equals the configured analytic flows; exit codes and "a bad
 * configuration writes nothing"; the image formats agree with each other; bench --json;
 * --data-shard splits the stream's flow batches as documented (also from a launcher's
 * environment with auto) and --prefetch changes no byte. */
#include "sp_test.h"

#include <jansson.h>
#include <png.h>
#include <sys/stat.h>

#include "sp/sp.h"
#include "test_fixtures.h"

static int run_cli(char *out, size_t cap, const char *args)
{
    return sp_test_sh(out, cap, "%s %s 2>&1", sp_test_cli(), args);
}

static void dir_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", sp_test_tmpdir(), name);
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

SP_TEST(cli_generate_bytes_identical_for_1_2_4_threads)
{
    char d[3][600], out[8192];
    static const int threads[3] = {1, 2, 4};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "t%d", threads[i]);
        dir_path(d[i], sizeof d[i], name);
        char args[2048];
        snprintf(args, sizeof args, "generate -q -n 20 --threads %d -o %s", threads[i], d[i]);
        SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    }
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "diff -r %s %s && diff -r %s %s", d[0], d[1], d[0], d[2]), 0);
    /* 20 pairs x 3 files + params.jsonl + dataset.json */
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "test $(ls %s | wc -l) -eq 62", d[0]), 0);
}

SP_TEST(cli_generate_first_pairs_equal_a_shorter_run)
{
    char a[600], b[600], out[8192];
    dir_path(a, sizeof a, "short");
    dir_path(b, sizeof b, "long");
    char args[2048];
    snprintf(args, sizeof args, "generate -q -n 10 -o %s", a);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    snprintf(args, sizeof args, "generate -q -n 27 --threads 1 -o %s", b);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    for (int p = 0; p < 10; p++)
        SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cmp %s/pair_%06d_img1.png %s/pair_%06d_img1.png && "
                                    "cmp %s/pair_%06d_img2.png %s/pair_%06d_img2.png && cmp %s/pair_%06d_flow.flo %s/pair_%06d_flow.flo",
                                    a, p, b, p, a, p, b, p, a, p, b, p), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "head -n 10 %s/params.jsonl | cmp - %s/params.jsonl", b, a), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "test $(wc -l < %s/params.jsonl) -eq 27", b), 0);
    SP_EXPECT_MSG(sp_test_sh(NULL, 0, "test -e %s/pair_000010_img1.png", a) != 0, "the 10-pair run wrote pair 10");
}

/* The analytic velocity (units/s) of the linear kinds, written out from their formulas. */
static int linear_velocity(const sp_analytic_params *p, double ly, double lx, double y, double x, double *u, double *v)
{
    double const cy = isnan(p->center[0]) ? ly / 2 : p->center[0], cx = isnan(p->center[1]) ? lx / 2 : p->center[1];
    switch (p->kind) {
    case SP_FLOW_UNIFORM:
        *u = p->polar ? p->speed * cos(p->angle * M_PI / 180.0) : p->u;
        *v = p->polar ? p->speed * sin(p->angle * M_PI / 180.0) : p->v;
        return 1;
    case SP_FLOW_SHEAR: *u = p->rate * (y - cy); *v = 0; return 1;
    case SP_FLOW_STAGNATION: *u = p->rate * (x - cx); *v = -p->rate * (y - cy); return 1;
    case SP_FLOW_LAMB_OSEEN: case SP_FLOW_RANKINE: case SP_FLOW_TAYLOR_GREEN: case SP_FLOW_POISEUILLE:
    case SP_FLOW_KINEMATIC: case SP_FLOW_KIND_COUNT_: break;
    }
    return 0;
}

SP_TEST(cli_make_run_default_writes_pairs_and_flo_equals_analytic_flow)
{
    char d[600], out[8192], args[2048];
    dir_path(d, sizeof d, "default");
    snprintf(args, sizeof args, "generate -o %s", d);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_ASSERT_STR_CONTAINS(out, "wrote 64 pairs");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "test $(ls %s/pair_*_img1.png | wc -l) -eq 64 && grep -q '\"pairs\": 64' %s/dataset.json", d, d), 0);
    sp_config c;
    SP_ASSERT_OK(sp_config_load_default(&c, NULL));
    char params[700];
    snprintf(params, sizeof params, "%s/params.jsonl", d);
    FILE *const f = fopen(params, "r");
    SP_EXPECT(f != NULL);
    char line[4096];
    int checked = 0;
    for (int pair = 0; fgets(line, sizeof line, f); pair++) {
        const char *const rec = strstr(line, "\"record\": ");
        SP_EXPECT(rec != NULL);
        uint64_t const record = strtoull(rec + 10, NULL, 10);
        sp_analytic_params drawn; /* the record's own parameters (docs/flows.md) */
        sp_analytic_draw(&c.analytic[record % c.n_analytic], (uint32_t)c.seed, record, &drawn);
        const sp_analytic_params *const p = &drawn;
        char flo[700];
        snprintf(flo, sizeof flo, "%s/pair_%06d_flow.flo", d, pair);
        sp_flow fl;
        SP_ASSERT_OK(sp_flo_read_file(flo, &fl, NULL));
        SP_ASSERT_EQ_INT(fl.height, 256);
        double u, v;
        if (linear_velocity(p, 1.6, 1.6, 0, 0, &u, &v)) {
            /* output_units "pixels": velocity (units/s) x resolution x dt; sample (i, j) at
             * physical img_offset + (i, j) / resolution. Bilinear interpolation of a linear
             * field is exact, so only float rounding remains. */
            for (size_t i = 0; i < 256; i += 5)
                for (size_t j = 0; j < 256; j += 7) {
                    linear_velocity(p, 1.6, 1.6, 0.16 + (double)i / 200.0, 0.16 + (double)j / 200.0, &u, &v);
                    SP_ASSERT_NEAR(fl.data[(i * 256 + j) * 2], u * 200.0 * 0.01, 2e-4);
                    SP_ASSERT_NEAR(fl.data[(i * 256 + j) * 2 + 1], v * 200.0 * 0.01, 2e-4);
                }
            checked++;
        }
        sp_flow_release(&fl);
    }
    fclose(f);
    SP_EXPECT_MSG(checked >= 8, "only %d linear-flow pairs checked", checked);
    sp_config_free(&c);
}

SP_TEST(cli_exit_codes_and_bad_inputs_write_nothing)
{
    char out[8192], args[2048], d[600], cfg[600];
    dir_path(d, sizeof d, "never");
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "--version"), 0);
    SP_ASSERT_STR_CONTAINS(out, "synthpix 0.");
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "generate --help"), 0);
    SP_ASSERT_STR_CONTAINS(out, "usage: synthpix generate");
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "bench --help"), 0);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "generate --no-such-option"), 2);
    snprintf(args, sizeof args, "generate -n 0 -o %s", d);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 2);
    snprintf(args, sizeof args, "generate --format gif -o %s", d);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 2);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, "nonsense"), 2);
    /* A configuration with a bad value: exit 2, the error names the key, nothing written. */
    dir_path(cfg, sizeof cfg, "bad.yaml");
    const char *const bad = "scheduler_class: analytic\nanalytic_flow: [{kind: uniform}]\nbatch_size: 0\n";
    sp_test_write_file(cfg, bad, strlen(bad));
    snprintf(args, sizeof args, "generate -c %s -o %s", cfg, d);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 2);
    SP_ASSERT_STR_CONTAINS(out, "batch_size");
    SP_EXPECT(!exists(d));
    /* A flow file that is not a .npy: nothing written, the error names the file. */
    char flow[600], yaml[2048];
    dir_path(flow, sizeof flow, "flow_0.npy");
    sp_test_write_file(flow, "not a numpy file", 16);
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [32, 32]\nflow_field_size: [16, 16]\nresolution: 4\n"
             "img_offset: [4, 4]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: -1\nmax_speed_x: 1\n"
             "min_speed_y: -1\nmax_speed_y: 1\nbatch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n", flow);
    sp_test_write_file(cfg, yaml, strlen(yaml));
    SP_EXPECT(run_cli(out, sizeof out, args) != 0);
    SP_ASSERT_STR_CONTAINS(out, "flow_0.npy");
    SP_EXPECT(!exists(d));
}

/* Decodes an 8-bit grey PNG with libpng's simplified API. */
static unsigned char *read_png8(const char *path, size_t *w, size_t *h)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return NULL;
    img.format = PNG_FORMAT_GRAY;
    unsigned char *const buf = (unsigned char *)malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
        free(buf);
        return NULL;
    }
    *w = img.width;
    *h = img.height;
    return buf;
}

SP_TEST(cli_formats_png_tiff_npy_agree)
{
    char png[600], npy[600], tif[600], out[8192], args[2048];
    dir_path(png, sizeof png, "png");
    dir_path(npy, sizeof npy, "npy");
    dir_path(tif, sizeof tif, "tif");
    snprintf(args, sizeof args, "generate -q -n 3 -o %s", png);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    snprintf(args, sizeof args, "generate -q -n 3 --format npy -o %s", npy);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    snprintf(args, sizeof args, "generate -q -n 3 --format tiff --bit-depth 16 -o %s", tif);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    char path[700];
    snprintf(path, sizeof path, "%s/pair_000002_img2.npy", npy);
    sp_npy_array a;
    SP_ASSERT_OK(sp_npy_read_file(path, &a, NULL, NULL));
    SP_ASSERT_EQ_INT(a.dtype, SP_DTYPE_F32);
    SP_ASSERT_EQ_INT(a.ndim, 2);
    SP_ASSERT_EQ_INT(a.shape[0], 256);
    /* The 8-bit PNG is the float image rounded to the nearest level. */
    snprintf(path, sizeof path, "%s/pair_000002_img2.png", png);
    size_t w = 0, h = 0;
    unsigned char *const px = read_png8(path, &w, &h);
    SP_EXPECT(px != NULL && w == 256 && h == 256);
    const float *const f = (const float *)a.data;
    for (size_t k = 0; k < w * h; k++) SP_ASSERT_NEAR(px[k], floor((double)f[k] + 0.5), 0);
    free(px);
    sp_npy_array_release(&a);
    /* TIFF files carry the little-endian TIFF magic and the flows are the same .flo bytes. */
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "head -c 4 %s/pair_000000_img1.tif | od -An -tx1 | tr -d ' \\n'", tif), 0);
    SP_ASSERT_STR_CONTAINS(out, "49492a00");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cmp %s/pair_000001_flow.flo %s/pair_000001_flow.flo", png, tif), 0);
}

SP_TEST(cli_bench_json_reports_fraction_of_bound)
{
    char out[8192];
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s bench --seconds 0.3 --threads 1 --json", sp_test_cli()), 0);
    json_error_t je;
    json_t *const j = json_loads(out, 0, &je);
    SP_EXPECT_MSG(j != NULL, "bench --json printed: %s", out);
    double const pps = json_number_value(json_object_get(j, "pairs_per_second"));
    double const bound = json_number_value(json_object_get(j, "bandwidth_bound_pairs_per_second"));
    double const frac = json_number_value(json_object_get(j, "fraction_of_bound"));
    double const bytes = json_number_value(json_object_get(j, "bytes_per_pair"));
    double const bw = json_number_value(json_object_get(j, "write_bandwidth_bytes_per_second"));
    SP_EXPECT(pps > 0 && bound > 0 && bw > 0);
    SP_ASSERT_NEAR(frac, pps / bound, 1e-3 * frac + 1e-6);
    /* Two float32 256x256 images and a float32 256x256x2 flow. */
    SP_ASSERT_NEAR(bytes, 2.0 * 256 * 256 * 4 + 256 * 256 * 2 * 4, 0);
    SP_ASSERT_NEAR(bound, bw / bytes, 1e-3 * bound);
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(j, "threads")), 1);
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(j, "batch_size")), 8);
    SP_EXPECT(json_is_array(json_object_get(j, "image_shape")));
    json_decref(j);
}

SP_TEST(cli_bench_breakdown_and_no_bandwidth)
{
    char out[8192];
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s bench --pairs 16 --threads 2 --json --no-bandwidth --breakdown",
                                sp_test_cli()), 0);
    json_error_t je;
    json_t *const j = json_loads(out, 0, &je);
    SP_EXPECT_MSG(j != NULL, "bench --json printed: %s", out);
    SP_EXPECT_MSG(json_object_get(j, "bandwidth_bound_pairs_per_second") == NULL &&
                      json_object_get(j, "write_bandwidth_bytes_per_second") == NULL,
                  "--no-bandwidth still reported a bandwidth: %s", out);
    json_t *const bd = json_object_get(j, "breakdown_ms_per_pair");
    double sum = 0;
    static const char *const stages[] = {"load", "flow", "particles", "bins", "render", "noise", "post"};
    for (size_t k = 0; k < 7; k++) {
        json_t *const v = json_object_get(bd, stages[k]);
        SP_EXPECT_MSG(json_is_number(v), "no %s in %s", stages[k], out);
        sum += json_number_value(v);
    }
    double const wall = json_number_value(json_object_get(j, "wall_ms_per_pair"));
    double const pps = json_number_value(json_object_get(j, "pairs_per_second"));
    SP_EXPECT_MSG(json_number_value(json_object_get(bd, "render")) > 0 && sum > 0 && sum <= 2.0 * wall + 0.05,
                  "stages sum to %.4f ms against %.4f ms of wall per pair", sum, wall);
    /* The timed region is the pairs counted: wall per pair is about 1000 / pairs per second. */
    SP_EXPECT_MSG(wall > 0 && wall <= 1000.0 / pps * 1.05 + 0.01, "wall %.4f ms/pair at %.1f pairs/s", wall, pps);
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(j, "pairs")), 16);
    json_decref(j);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s bench --pairs 8 --threads 1 --breakdown", sp_test_cli()), 0);
    SP_ASSERT_STR_CONTAINS(out, "render");
    SP_ASSERT_STR_CONTAINS(out, "threads busy");
    SP_EXPECT_MSG(strstr(out, "write bandwidth") != NULL, "the text report lost the bandwidth: %s", out);
}

SP_TEST(cli_h5_shards_are_byte_identical_across_runs)
{
    /* HDF5 records object times unless told not to; runs a second apart (the times'
     * resolution) with different thread counts must still give the same shard bytes. */
    sp_test_need_feature("hdf5");
    char a[600], b[600], out[8192], args[2048];
    dir_path(a, sizeof a, "h5a");
    dir_path(b, sizeof b, "h5b");
    snprintf(args, sizeof args, "generate -q -n 10 --format h5 --threads 1 -o %s", a);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "sleep 1.1"), 0);
    snprintf(args, sizeof args, "generate -q -n 10 --format h5 --threads 2 -o %s", b);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "diff -r %s %s", a, b), 0);
}

/* ---- --data-shard and --prefetch ---- */

enum { SHARD_FILES = 6 };
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Six 16x16 .npy flows and a configuration that reads them shuffled, one record per pair;
 * returns the configuration's path in cfg. */
static void write_file_list_config(char *cfg, size_t n)
{
    char list[4096] = "";
    for (int f = 0; f < SHARD_FILES; f++) {
        char path[600];
        snprintf(path, sizeof path, "%s/flow_%d.npy", sp_test_tmpdir(), f);
        float data[16 * 16 * 2];
        for (size_t i = 0; i < N_OF(data); i++) data[i] = 0.1f * (float)f + 0.001f * (float)(i % 7);
        size_t const shape[3] = {16, 16, 2};
        sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, data);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", f ? ", " : "", path);
    }
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [32, 32]\nflow_field_size: [16, 16]\nresolution: 4\n"
             "img_offset: [4, 4]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: -1\nmax_speed_x: 1\n"
             "min_speed_y: -1\nmax_speed_y: 1\nbatch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n"
             "randomize: true\nloop: true\nseed: 7\n", list);
    dir_path(cfg, n, "files.yaml");
    sp_test_write_file(cfg, yaml, strlen(yaml));
}

typedef struct read_record {
    char source[600];
    long long seed, epoch;
} read_record;

/* The (source, record_seed, epoch) of each line of DIR/params.jsonl; returns the count. */
static size_t read_records(const char *dir, read_record *out, size_t cap)
{
    char path[700];
    snprintf(path, sizeof path, "%s/params.jsonl", dir);
    FILE *const f = fopen(path, "r");
    SP_EXPECT_MSG(f != NULL, "cannot open %s", path);
    char line[4096];
    size_t n = 0;
    while (n < cap && fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *const j = json_loads(line, 0, &je);
        SP_EXPECT_MSG(j != NULL, "%s: line %zu is not JSON: %s", path, n + 1, je.text);
        snprintf(out[n].source, sizeof out[n].source, "%s", json_string_value(json_object_get(j, "source")));
        out[n].seed = (long long)json_integer_value(json_object_get(j, "record_seed"));
        out[n].epoch = (long long)json_integer_value(json_object_get(j, "epoch"));
        json_decref(j);
        n++;
    }
    fclose(f);
    return n;
}

/* Shard I of N takes the one-process stream's flow batches I, I + N, I + 2N, ... (here a
 * flow batch is one record and one pair): the same file, record seed and epoch, and the
 * same pair files byte for byte, numbered from 0 in the shard; so the shards are disjoint
 * and together read every file once per epoch. Checked for N = 2 and 3 over two epochs. */
SP_TEST(cli_data_shards_split_each_epoch_as_documented)
{
    char cfg[600], all[600], out[8192], args[2048];
    write_file_list_config(cfg, sizeof cfg);
    dir_path(all, sizeof all, "unsharded");
    snprintf(args, sizeof args, "generate -q -c %s -n %d -o %s", cfg, 2 * SHARD_FILES, all);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    read_record ref[2 * SHARD_FILES];
    SP_ASSERT_EQ_U64(read_records(all, ref, 2 * SHARD_FILES), (uint64_t)(2 * SHARD_FILES));
    /* The unsharded stream itself: each epoch reads every file exactly once. */
    for (int e = 0; e < 2; e++)
        for (int a = 0; a < SHARD_FILES; a++)
            for (int b = a + 1; b < SHARD_FILES; b++)
                SP_EXPECT(strcmp(ref[e * SHARD_FILES + a].source, ref[e * SHARD_FILES + b].source) != 0);
    static const int counts[] = {2, 3};
    for (size_t c = 0; c < N_OF(counts); c++) {
        int const count = counts[c], per_epoch = SHARD_FILES / count;
        for (int shard = 0; shard < count; shard++) {
            char dir[600], name[64];
            snprintf(name, sizeof name, "shard_%d_of_%d", shard, count);
            dir_path(dir, sizeof dir, name);
            snprintf(args, sizeof args, "generate -q -c %s -n %d --data-shard %d/%d -o %s", cfg, 2 * per_epoch,
                     shard, count, dir);
            SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
            read_record got[2 * SHARD_FILES];
            SP_ASSERT_EQ_U64(read_records(dir, got, 2 * SHARD_FILES), (uint64_t)(2 * per_epoch));
            for (int i = 0; i < 2 * per_epoch; i++) {
                int const e = i / per_epoch, t = shard + (i % per_epoch) * count;
                const read_record *const want = &ref[e * SHARD_FILES + t];
                SP_EXPECT_MSG(strcmp(got[i].source, want->source) == 0 && got[i].seed == want->seed &&
                                  got[i].epoch == e,
                              "shard %d/%d pair %d: %s seed %lld epoch %lld, want %s seed %lld epoch %d", shard,
                              count, i, got[i].source, got[i].seed, got[i].epoch, want->source, want->seed, e);
                SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "cmp -s %s/pair_%06d_img1.png %s/pair_%06d_img1.png && "
                                                     "cmp -s %s/pair_%06d_flow.flo %s/pair_%06d_flow.flo",
                                            dir, i, all, e * SHARD_FILES + t, dir, i, all, e * SHARD_FILES + t),
                                 0);
            }
            /* dataset.json names the shard. */
            char path[700];
            snprintf(path, sizeof path, "%s/dataset.json", dir);
            json_error_t je;
            json_t *const d = json_load_file(path, 0, &je);
            SP_EXPECT_MSG(d != NULL, "%s: %s", path, je.text);
            json_t *const ds = json_object_get(d, "data_shard");
            SP_EXPECT(json_integer_value(json_object_get(ds, "index")) == shard);
            SP_EXPECT(json_integer_value(json_object_get(ds, "count")) == count);
            json_decref(d);
        }
    }
    /* Bad shards: usage errors, nothing written. */
    char never[600];
    dir_path(never, sizeof never, "never");
    static const char *const bad[] = {"2/2", "1", "/3", "0/0", "-1/2", "1/x"};
    for (size_t b = 0; b < N_OF(bad); b++) {
        snprintf(args, sizeof args, "generate -q -c %s --data-shard %s -o %s", cfg, bad[b], never);
        SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 2);
        SP_ASSERT_STR_CONTAINS(out, "--data-shard");
    }
    snprintf(args, sizeof args, "generate -q -c %s --data-shard 0/7 -o %s", cfg, never); /* 7 shards of 6 files */
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 2);
    SP_ASSERT_STR_CONTAINS(out, "shard_count");
    SP_EXPECT(!exists(never));
}

/* --data-shard auto: the shard from each launcher's variables (the others unset), the same
 * as the explicit shard; a bad value and no launcher at all are usage errors naming the
 * variables, and nothing is written. */
SP_TEST(cli_data_shard_auto_reads_the_launchers_environment)
{
    static const char *const unset = "env -u RANK -u WORLD_SIZE -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_SIZE "
                                     "-u SLURM_PROCID -u SLURM_NTASKS -u PMI_RANK -u PMI_SIZE";
    static const struct {
        const char *vars;
        int index, count;
    } launchers[] = {{"RANK=1 WORLD_SIZE=2", 1, 2},
                     {"OMPI_COMM_WORLD_RANK=2 OMPI_COMM_WORLD_SIZE=3", 2, 3},
                     {"SLURM_PROCID=0 SLURM_NTASKS=4", 0, 4},
                     {"PMI_RANK=3 PMI_SIZE=5", 3, 5}};
    char cfg[600], out[8192], dir[600], want[600];
    write_file_list_config(cfg, sizeof cfg);
    for (size_t l = 0; l < N_OF(launchers); l++) {
        snprintf(dir, sizeof dir, "%s/auto_%zu", sp_test_tmpdir(), l);
        snprintf(want, sizeof want, "%s/explicit_%zu", sp_test_tmpdir(), l);
        int rc = sp_test_sh(out, sizeof out, "%s %s %s generate -q -c %s -n 3 --data-shard auto -o %s 2>&1", unset,
                            launchers[l].vars, sp_test_cli(), cfg, dir);
        SP_EXPECT_MSG(rc == 0, "%s: exit %d: %s", launchers[l].vars, rc, out);
        rc = sp_test_sh(out, sizeof out, "%s generate -q -c %s -n 3 --data-shard %d/%d -o %s 2>&1", sp_test_cli(), cfg,
                        launchers[l].index, launchers[l].count, want);
        SP_ASSERT_EQ_INT(rc, 0);
        sp_test_expect_same_dir(want, dir, 0);
    }
    snprintf(dir, sizeof dir, "%s/never", sp_test_tmpdir());
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s %s generate -q -c %s -n 3 --data-shard auto -o %s 2>&1", unset,
                                sp_test_cli(), cfg, dir),
                     2);
    SP_ASSERT_STR_CONTAINS(out, "RANK and WORLD_SIZE of torchrun, OMPI_COMM_WORLD_RANK and OMPI_COMM_WORLD_SIZE of "
                                "Open MPI, SLURM_PROCID and SLURM_NTASKS of SLURM, PMI_RANK and PMI_SIZE of PMI");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s RANK=4 WORLD_SIZE=4 %s generate -q -c %s -n 3 --data-shard auto "
                                "-o %s 2>&1", unset, sp_test_cli(), cfg, dir),
                     2);
    SP_ASSERT_STR_CONTAINS(out, "RANK='4' is not an integer in [0, 3]");
    SP_EXPECT(!exists(dir));
}

SP_TEST(cli_prefetch_changes_no_byte_and_resume_keeps_the_shard)
{
    char cfg[600], a[600], b[600], ck[600], out[8192], args[2048];
    write_file_list_config(cfg, sizeof cfg);
    dir_path(a, sizeof a, "no_prefetch");
    dir_path(b, sizeof b, "prefetch");
    snprintf(args, sizeof args, "generate -q -c %s -n 20 --data-shard 1/2 -o %s", cfg, a);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    snprintf(args, sizeof args, "generate -q -c %s -n 20 --data-shard 1/2 --prefetch 3 --threads 2 -o %s", cfg, b);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "diff -r %s %s", a, b), 0);
    /* A checkpoint of shard 1/2 does not resume as shard 0/2: the error names the field. */
    dir_path(ck, sizeof ck, "ck");
    dir_path(b, sizeof b, "checkpointed");
    snprintf(args, sizeof args, "generate -q -c %s -n 20 --data-shard 1/2 --checkpoint-dir %s --checkpoint-every 2 -o %s",
             cfg, ck, b);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    snprintf(args, sizeof args, "generate -q -c %s -n 20 --data-shard 0/2 --checkpoint-dir %s --resume -o %s", cfg, ck, b);
    SP_EXPECT(run_cli(out, sizeof out, args) != 0);
    SP_ASSERT_STR_CONTAINS(out, "shard_index");
    /* The same shard resumes from its last checkpoint and ends with the same bytes. */
    snprintf(args, sizeof args, "generate -q -c %s -n 20 --data-shard 1/2 --checkpoint-dir %s --resume -o %s", cfg, ck, b);
    SP_ASSERT_EQ_INT(run_cli(out, sizeof out, args), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "diff -r %s %s", a, b), 0);
}
