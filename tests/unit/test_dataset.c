/* test_dataset.c: the dataset writer (sp_dataset.h) through its library API, no CLI.
 *
 * Oracles: PNG files are decoded with libpng's own reader and compared with the quantisation
 * formula written out here (round(clamp(x, 0, 255)) and round(clamp * 257)); .npy and .flo
 * files are read back with the library's readers (tested on their own against NumPy) and
 * compared bit for bit with the batch; params.jsonl and dataset.json are parsed with jansson.
 * Resume is checked against an uninterrupted writer, byte for byte.
 */
#include "sp_test.h"

#include <errno.h>
#include <jansson.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp/sp.h"

#define PAIRS 10

static void small_config(sp_config *c, uint64_t seed)
{
    SP_ASSERT_OK(sp_config_load_default(c, NULL));
    c->image_shape[0] = c->image_shape[1] = 64;
    c->batch_size = 4;
    c->flow_fields_per_batch = 2;
    c->seed = seed;
}

typedef struct fixture {
    sp_config cfg;
    sp_sampler *s;
    sp_dataset_writer *w;
    char dir[700];
} fixture;

static void fixture_open(fixture *f, const char *name, const sp_dataset_options *o, const char *resume)
{
    memset(f, 0, sizeof *f);
    small_config(&f->cfg, 0);
    SP_ASSERT_OK(sp_sampler_create(&f->s, &f->cfg, NULL, NULL));
    snprintf(f->dir, sizeof f->dir, "%s/%s", sp_test_tmpdir(), name);
    sp_error e;
    sp_status const st = sp_dataset_writer_open(&f->w, f->dir, &f->cfg, sp_sampler_geometry(f->s), o, resume, &e);
    SP_EXPECT_MSG(st == SP_OK, "open %s: %s", name, e.message);
}

static void fixture_close(fixture *f)
{
    sp_dataset_writer_free(f->w);
    sp_sampler_free(f->s);
    sp_config_free(&f->cfg);
}

static void options(sp_dataset_options *o, sp_dataset_format fmt, int bits)
{
    sp_dataset_options_init(o);
    o->format = fmt;
    o->bit_depth = bits;
    o->pairs = PAIRS;
}

static const sp_batch *next_batch(fixture *f)
{
    const sp_batch *b = NULL;
    SP_ASSERT_OK(sp_sampler_next(f->s, &b, NULL));
    return b;
}

static void write_batch(fixture *f, const sp_batch *b)
{
    sp_error e;
    sp_status const st = sp_dataset_writer_write(f->w, b, &e);
    SP_EXPECT_MSG(st == SP_OK, "write: %s", e.message);
}

/* ---- oracles ----------------------------------------------------------------------------- */

static unsigned quantise(float x, int bits)
{
    float const c = x > 0.0f ? (x < 255.0f ? x : 255.0f) : 0.0f;
    return bits == 8 ? (unsigned)(c + 0.5f) : (unsigned)(c * 257.0f + 0.5f);
}

/* Decodes a grayscale PNG with libpng and compares every sample with the oracle. */
static void expect_png(const char *path, const float *img, size_t H, size_t W, int bits)
{
    FILE *const fp = fopen(path, "rb");
    SP_EXPECT(fp != NULL);
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    png_init_io(p, fp);
    png_read_info(p, info);
    SP_ASSERT_EQ_U64(png_get_image_width(p, info), W);
    SP_ASSERT_EQ_U64(png_get_image_height(p, info), H);
    SP_ASSERT_EQ_INT(png_get_bit_depth(p, info), bits);
    SP_ASSERT_EQ_INT(png_get_color_type(p, info), PNG_COLOR_TYPE_GRAY);
    size_t const rowbytes = W * (size_t)(bits / 8);
    unsigned char *const row = (unsigned char *)malloc(rowbytes);
    for (size_t y = 0; y < H; y++) {
        png_read_row(p, row, NULL);
        for (size_t x = 0; x < W; x++) {
            unsigned const got = bits == 8 ? row[x] : (unsigned)(row[2 * x] << 8 | row[2 * x + 1]); /* big-endian */
            unsigned const want = quantise(img[y * W + x], bits);
            if (got != want) sp_test_fail(__FILE__, __LINE__, "%s (%zu, %zu): %u, want %u", path, y, x, got, want);
        }
    }
    free(row);
    png_destroy_read_struct(&p, &info, NULL);
    fclose(fp);
}

static void expect_npy(const char *path, const float *data, size_t n)
{
    sp_npy_array a;
    sp_error e;
    SP_EXPECT_MSG(sp_npy_read_file(path, &a, NULL, &e) == SP_OK, "%s: %s", path, e.message);
    SP_ASSERT_EQ_INT(a.dtype, SP_DTYPE_F32);
    SP_ASSERT_EQ_U64(a.count, n);
    SP_EXPECT_MSG(memcmp(a.data, data, n * sizeof(float)) == 0, "%s: values differ from the batch", path);
    sp_npy_array_release(&a);
}

static void expect_flo(const char *path, const float *data, size_t H, size_t W)
{
    sp_flow f;
    sp_error e;
    SP_EXPECT_MSG(sp_flo_read_file(path, &f, &e) == SP_OK, "%s: %s", path, e.message);
    SP_ASSERT_EQ_U64(f.height, H);
    SP_ASSERT_EQ_U64(f.width, W);
    SP_EXPECT_MSG(memcmp(f.data, data, H * W * 2 * sizeof(float)) == 0, "%s: flow differs from the batch", path);
    sp_flow_release(&f);
}

/* Checks the files of the pairs of b below PAIRS. */
static void expect_pairs(const fixture *f, const sp_batch *b, sp_dataset_format fmt, int bits)
{
    size_t const H = b->height, W = b->width, npx = H * W, nf = b->flow_height * b->flow_width * 2;
    for (size_t k = 0; k < b->batch_size && b->first_pair + k < PAIRS; k++) {
        char p1[900], p2[900], pf[900];
        unsigned long long const i = (unsigned long long)(b->first_pair + k);
        const char *const ext = fmt == SP_DATASET_NPY ? "npy" : "png";
        snprintf(p1, sizeof p1, "%s/pair_%06llu_img1.%s", f->dir, i, ext);
        snprintf(p2, sizeof p2, "%s/pair_%06llu_img2.%s", f->dir, i, ext);
        snprintf(pf, sizeof pf, "%s/pair_%06llu_flow.%s", f->dir, i, fmt == SP_DATASET_NPY ? "npy" : "flo");
        if (fmt == SP_DATASET_NPY) {
            expect_npy(p1, b->images1 + k * npx, npx);
            expect_npy(p2, b->images2 + k * npx, npx);
            expect_npy(pf, b->flow_fields + k * nf, nf);
        } else {
            expect_png(p1, b->images1 + k * npx, H, W, bits);
            expect_png(p2, b->images2 + k * npx, H, W, bits);
            expect_flo(pf, b->flow_fields + k * nf, b->flow_height, b->flow_width);
        }
    }
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *const j = json_load_file(path, 0, &je);
    SP_EXPECT_MSG(j != NULL, "%s: %s", path, je.text);
    return j;
}

/* params.jsonl: one line per pair in order, each a JSON object naming its index. */
static void expect_params(const char *dir, uint64_t pairs)
{
    char path[800];
    snprintf(path, sizeof path, "%s/params.jsonl", dir);
    FILE *const fp = fopen(path, "r");
    SP_EXPECT(fp != NULL);
    char line[4096];
    uint64_t n = 0;
    while (fgets(line, sizeof line, fp)) {
        json_t *const j = json_loads(line, 0, NULL);
        SP_EXPECT_MSG(j != NULL, "params line %llu is not JSON", (unsigned long long)n);
        SP_ASSERT_EQ_U64(json_integer_value(json_object_get(j, "index")), n);
        SP_EXPECT(json_is_array(json_object_get(j, "key")) && json_is_string(json_object_get(j, "source")));
        json_decref(j);
        n++;
    }
    fclose(fp);
    SP_ASSERT_EQ_U64(n, pairs);
}

static int entries(const char *dir, const char *needle)
{
    char out[64];
    sp_test_sh(out, sizeof out, "ls -a '%s' | grep -c -- '%s'", dir, needle);
    return atoi(out);
}

/* ---- cases ------------------------------------------------------------------------------- */

static void formats_case(sp_dataset_format fmt, int bits, const char *name)
{
    sp_dataset_options o;
    options(&o, fmt, bits);
    fixture f;
    fixture_open(&f, name, &o, NULL);
    while (sp_dataset_writer_covered(f.w) < PAIRS) {
        const sp_batch *const b = next_batch(&f);
        write_batch(&f, b);
        expect_pairs(&f, b, fmt, bits);
    }
    SP_ASSERT_EQ_U64(sp_dataset_writer_covered(f.w), 12); /* three batches of four */
    SP_ASSERT_EQ_U64(sp_dataset_writer_written(f.w), PAIRS);
    SP_ASSERT_OK(sp_dataset_writer_finish(f.w, NULL));
    expect_params(f.dir, PAIRS);
    char path[800];
    snprintf(path, sizeof path, "%s/dataset.json", f.dir);
    json_t *const d = load_json(path);
    SP_ASSERT_EQ_U64(json_integer_value(json_object_get(d, "pairs")), PAIRS);
    SP_ASSERT_EQ_INT(json_integer_value(json_array_get(json_object_get(d, "image_shape"), 0)), 64);
    SP_EXPECT(strcmp(json_string_value(json_object_get(d, "format")), "synthpix-dataset") == 0);
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(d, "stream_version")), SP_STREAM_VERSION);
    json_decref(d);
    /* 3 files per pair, params.jsonl, dataset.json; no temporaries, no pair 10 or 11. */
    SP_ASSERT_EQ_INT(entries(f.dir, "^pair_"), 3 * PAIRS);
    SP_ASSERT_EQ_INT(entries(f.dir, "sp-tmp"), 0);
    SP_ASSERT_EQ_INT(entries(f.dir, "pair_000010"), 0);
    fixture_close(&f);
}

SP_TEST(dataset_writer_png8_files_decode_to_the_batch)
{
    formats_case(SP_DATASET_PNG, 8, "png8");
}

SP_TEST(dataset_writer_png16_files_decode_to_the_batch)
{
    formats_case(SP_DATASET_PNG, 16, "png16");
}

SP_TEST(dataset_writer_npy_files_equal_the_batch)
{
    formats_case(SP_DATASET_NPY, 0, "npy");
}

/* A job that synced after batch 1, wrote batch 2 and died: reopened from its progress
 * record, it finishes a dataset equal to an uninterrupted one. Its own stale temporaries
 * go; a temporary of another job family and a user's file stay. */
SP_TEST(dataset_writer_resume_rewrites_identical_bytes)
{
    sp_dataset_options o;
    options(&o, SP_DATASET_PNG, 8);
    fixture a;
    fixture_open(&a, "whole", &o, NULL);
    while (sp_dataset_writer_covered(a.w) < PAIRS) write_batch(&a, next_batch(&a));
    SP_ASSERT_OK(sp_dataset_writer_finish(a.w, NULL));
    o.tmp_tag = "abc123";
    fixture b;
    fixture_open(&b, "resumed", &o, NULL);
    write_batch(&b, next_batch(&b));
    char *progress = NULL;
    SP_ASSERT_OK(sp_dataset_writer_sync(b.w, &progress, NULL));
    write_batch(&b, next_batch(&b)); /* lost: after the sync */
    fixture_close(&b);               /* the "crash" */
    char p[900];
    snprintf(p, sizeof p, "%s/resumed/pair_000005_img1.png.sp-tmp-abc123-00000000deadbeef", sp_test_tmpdir());
    sp_test_write_file(p, "stale", 5);
    snprintf(p, sizeof p, "%s/resumed/pair_000005_img1.png.sp-tmp-ffff-00000000deadbeef", sp_test_tmpdir());
    sp_test_write_file(p, "other job", 9);
    snprintf(p, sizeof p, "%s/resumed/notes.txt", sp_test_tmpdir());
    sp_test_write_file(p, "mine", 4);
    fixture c;
    fixture_open(&c, "resumed", &o, progress);
    SP_ASSERT_EQ_U64(sp_dataset_writer_covered(c.w), 4);
    next_batch(&c); /* the sampler is deterministic: skip what the record covers */
    while (sp_dataset_writer_covered(c.w) < PAIRS) write_batch(&c, next_batch(&c));
    SP_ASSERT_OK(sp_dataset_writer_finish(c.w, NULL));
    SP_ASSERT_EQ_INT(entries(c.dir, "sp-tmp-abc123"), 0);
    SP_ASSERT_EQ_INT(entries(c.dir, "sp-tmp-ffff"), 1);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s' && rm notes.txt pair_000005_img1.png.sp-tmp-ffff-*", c.dir));
    sp_test_expect_same_dir(a.dir, c.dir, 1);
    free(progress);
    fixture_close(&a);
    fixture_close(&c);
}

static void expect_refusal(const sp_dataset_options *o, uint64_t seed, const char *progress, sp_status want,
                           const char *words)
{
    sp_config cfg;
    small_config(&cfg, seed);
    sp_sampler *s = NULL;
    SP_ASSERT_OK(sp_sampler_create(&s, &cfg, NULL, NULL));
    char dir[800];
    snprintf(dir, sizeof dir, "%s/refused", sp_test_tmpdir());
    sp_dataset_writer *w = NULL;
    sp_error e;
    sp_error_clear(&e);
    SP_ASSERT_STATUS(sp_dataset_writer_open(&w, dir, &cfg, sp_sampler_geometry(s), o, progress, &e), want);
    SP_EXPECT(w == NULL);
    SP_ASSERT_STR_CONTAINS(e.message, words);
    sp_sampler_free(s);
    sp_config_free(&cfg);
}

SP_TEST(dataset_writer_refuses_a_record_of_another_dataset)
{
    sp_dataset_options o;
    options(&o, SP_DATASET_PNG, 8);
    fixture f;
    fixture_open(&f, "refused", &o, NULL);
    write_batch(&f, next_batch(&f));
    write_batch(&f, next_batch(&f));
    char *progress = NULL;
    SP_ASSERT_OK(sp_dataset_writer_sync(f.w, &progress, NULL));
    fixture_close(&f);
    sp_dataset_options x = o;
    x.format = SP_DATASET_NPY;
    expect_refusal(&x, 0, progress, SP_ERR_MISMATCH, "format differs");
    x = o;
    x.bit_depth = 16;
    expect_refusal(&x, 0, progress, SP_ERR_MISMATCH, "bit depth differs");
    expect_refusal(&o, 7, progress, SP_ERR_MISMATCH, "configuration differs");
    x = o;
    x.pairs = 5;
    expect_refusal(&x, 0, progress, SP_ERR_MISMATCH, "pair count");
    expect_refusal(&o, 0, "{\"pairs_covered\": 4}", SP_ERR_CORRUPT, "progress record");
    json_t *const j = json_loads(progress, 0, NULL);
    json_object_set_new(j, "params_file", json_string("../escape"));
    char *const text = json_dumps(j, JSON_COMPACT);
    expect_refusal(&o, 0, text, SP_ERR_CORRUPT, "progress record");
    free(text);
    json_decref(j);
    free(progress);
}

SP_TEST(dataset_writer_checks_options_before_creating_anything)
{
    sp_dataset_options o;
    const struct {
        sp_dataset_format fmt;
        int bits;
        uint64_t shard, pairs;
        const char *tag, *words;
    } bad[] = {{SP_DATASET_PNG, 32, 256, 10, NULL, "needs the h5 format"},
               {SP_DATASET_PNG, 12, 256, 10, NULL, "bit depth 12"},
               {SP_DATASET_H5, 8, 0, 10, NULL, "shard size 0"},
               {SP_DATASET_PNG, 8, 256, 0, NULL, "at least one pair"},
               {SP_DATASET_PNG, 8, 256, 10, "../x", "temporary tag"},
               {(sp_dataset_format)9, 8, 256, 10, NULL, "format 9"}};
    char dir[800];
    snprintf(dir, sizeof dir, "%s/refused", sp_test_tmpdir());
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        options(&o, bad[i].fmt, bad[i].bits);
        o.shard_size = bad[i].shard;
        o.pairs = bad[i].pairs;
        o.tmp_tag = bad[i].tag;
        expect_refusal(&o, 0, NULL, SP_ERR_INVALID, bad[i].words);
        SP_EXPECT_MSG(access(dir, F_OK) != 0, "case %zu created the directory", i);
    }
}

/* With h5 a progress record covers whole shards only. */
SP_TEST(dataset_writer_h5_syncs_only_at_shard_boundaries)
{
    sp_test_need_feature("hdf5");
    sp_dataset_options o;
    options(&o, SP_DATASET_H5, 8);
    o.shard_size = 8;
    fixture f;
    fixture_open(&f, "h5", &o, NULL);
    write_batch(&f, next_batch(&f));
    SP_EXPECT(!sp_dataset_writer_can_sync(f.w));
    char *progress = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_dataset_writer_sync(f.w, &progress, &e), SP_ERR_BUSY);
    SP_EXPECT(progress == NULL);
    write_batch(&f, next_batch(&f));
    SP_EXPECT(sp_dataset_writer_can_sync(f.w));
    SP_ASSERT_OK(sp_dataset_writer_sync(f.w, &progress, NULL));
    char path[800];
    snprintf(path, sizeof path, "%s/shard_00000.h5", f.dir);
    SP_EXPECT_MSG(access(path, F_OK) == 0, "the full shard was not closed by the sync");
    free(progress);
    write_batch(&f, next_batch(&f));
    SP_ASSERT_OK(sp_dataset_writer_finish(f.w, NULL));
    snprintf(path, sizeof path, "%s/shard_00001.h5", f.dir);
    SP_EXPECT(access(path, F_OK) == 0);
    SP_ASSERT_EQ_INT(entries(f.dir, "sp-tmp"), 0);
    fixture_close(&f);
}

/* A writer freed before finishing leaves no temporary and no dataset.json; once a progress
 * record names its params file, that file stays (it is the job's progress). */
SP_TEST(dataset_writer_free_leaves_no_temporaries)
{
    sp_dataset_options o;
    options(&o, SP_DATASET_PNG, 8);
    fixture f;
    fixture_open(&f, "abandoned", &o, NULL);
    write_batch(&f, next_batch(&f));
    fixture_close(&f);
    SP_ASSERT_EQ_INT(entries(f.dir, "sp-tmp"), 0);
    SP_ASSERT_EQ_INT(entries(f.dir, "dataset.json"), 0);
    fixture_open(&f, "kept", &o, NULL);
    write_batch(&f, next_batch(&f));
    char *progress = NULL;
    SP_ASSERT_OK(sp_dataset_writer_sync(f.w, &progress, NULL));
    free(progress);
    fixture_close(&f);
    SP_ASSERT_EQ_INT(entries(f.dir, "params.jsonl.sp-tmp"), 1);
    SP_ASSERT_EQ_INT(entries(f.dir, "dataset.json"), 0);
}

/* frames: 3 with a light sheet: pair_NNNNNN_img1 .. img3 decode to the batch's frames,
 * dataset.json names three image patterns, every params line carries the sheet (its
 * profile and K - 1 lost fractions); the h5 format refuses K != 2 by name before
 * creating anything, and --overwrite's layout knows the img3 files. */
SP_TEST(dataset_writer_frames_write_img1_to_imgK_and_the_sheet_params)
{
    fixture f;
    memset(&f, 0, sizeof f);
    small_config(&f.cfg, 1);
    f.cfg.frames = 3;
    f.cfg.sheet_profile = SP_SHEET_GAUSSIAN;
    f.cfg.sheet_thickness = 0.01;
    f.cfg.out_of_plane_range = (sp_range){-0.3, 0.3};
    SP_ASSERT_OK(sp_sampler_create(&f.s, &f.cfg, NULL, NULL));
    sp_dataset_options o;
    options(&o, SP_DATASET_H5, 8);
    snprintf(f.dir, sizeof f.dir, "%s/frames-h5", sp_test_tmpdir());
    sp_error e;
    SP_ASSERT_STATUS(sp_dataset_writer_open(&f.w, f.dir, &f.cfg, sp_sampler_geometry(f.s), &o, NULL, &e),
                     SP_ERR_UNSUPPORTED);
    SP_ASSERT_STR_CONTAINS(e.message, "frames: 3: the h5 format stores image pairs");
    SP_EXPECT(access(f.dir, F_OK) != 0);
    options(&o, SP_DATASET_PNG, 8);
    snprintf(f.dir, sizeof f.dir, "%s/frames", sp_test_tmpdir());
    SP_ASSERT_OK(sp_dataset_writer_open(&f.w, f.dir, &f.cfg, sp_sampler_geometry(f.s), &o, NULL, &e));
    while (sp_dataset_writer_covered(f.w) < PAIRS) {
        const sp_batch *const b = next_batch(&f);
        SP_ASSERT_EQ_INT(b->frames, 3);
        write_batch(&f, b);
        expect_pairs(&f, b, SP_DATASET_PNG, 8);
        size_t const npx = b->height * b->width;
        for (size_t k = 0; k < b->batch_size && b->first_pair + k < PAIRS; k++) {
            char p3[900];
            snprintf(p3, sizeof p3, "%s/pair_%06llu_img3.png", f.dir, (unsigned long long)(b->first_pair + k));
            expect_png(p3, b->images[2] + k * npx, b->height, b->width, 8);
        }
    }
    SP_ASSERT_OK(sp_dataset_writer_finish(f.w, NULL));
    expect_params(f.dir, PAIRS);
    char path[800];
    snprintf(path, sizeof path, "%s/dataset.json", f.dir);
    json_t *const d = load_json(path);
    SP_ASSERT_EQ_INT(json_integer_value(json_object_get(d, "frames")), 3);
    const char *const img3 = json_string_value(json_object_get(json_object_get(d, "files"), "image3"));
    SP_EXPECT(img3 != NULL && strcmp(img3, "pair_%06d_img3.png") == 0);
    json_decref(d);
    snprintf(path, sizeof path, "%s/params.jsonl", f.dir);
    json_t *const line = json_load_file(path, JSON_DISABLE_EOF_CHECK, NULL);
    json_t *const sheet = json_object_get(line, "sheet");
    SP_EXPECT(sheet != NULL && strcmp(json_string_value(json_object_get(sheet, "profile")), "gaussian") == 0);
    SP_ASSERT_EQ_INT(json_array_size(json_object_get(sheet, "in_sheet")), 3);
    SP_ASSERT_EQ_INT(json_array_size(json_object_get(sheet, "lost")), 2);
    double const w = json_number_value(json_object_get(sheet, "w"));
    SP_EXPECT(w >= -0.3 && w <= 0.3);
    json_decref(line);
    SP_ASSERT_EQ_INT(entries(f.dir, "^pair_"), 4 * PAIRS);
    sp_dataset_writer_free(f.w);
    f.w = NULL;
    /* a fresh job of another dataset with overwrite removes every file of the layout, img3
     * included */
    o.overwrite = 1;
    f.cfg.seed = 2;
    SP_ASSERT_OK(sp_dataset_writer_open(&f.w, f.dir, &f.cfg, sp_sampler_geometry(f.s), &o, NULL, &e));
    SP_ASSERT_EQ_INT(entries(f.dir, "_img3"), 0);
    fixture_close(&f);
}
