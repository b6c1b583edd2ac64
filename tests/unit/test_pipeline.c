/* test_pipeline.c: pause and resume of the stream (sp_save_checkpoint / sp_make).
 *
 * Every resumed stream is compared with an uninterrupted one computed in the same case:
 * images, flows, params, keys, seeds, epochs, masks, records, names and counters, byte for
 * byte. Also: refusals that name the field, the loader's shards (disjoint, covering each
 * epoch), prefetch threads that do not change a byte, and deleted files named at the batch
 * that needs them after a restore. */
#include "sp_test.h"
#include "test_fixtures.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader_internal.h"
#include "sp/sp_ckpt.h"
#include "sp/sp_config.h"
#include "sp/sp_io.h"
#include "sp/sp_pipeline.h"
#include "sp/sp_sampler.h"

enum { NFILES = 5, FLOW_N = 16 };
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Five smooth flows flow_0..4.npy in DIR/flows (record i has its own pattern); i = 3 has
 * a different grid (20x12), so cached flows of several shapes are saved. */
static const char *write_flows(void)
{
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/flows", sp_test_tmpdir());
    SP_ASSERT_OK(mkdir(dir, 0755));
    for (int i = 0; i < NFILES; i++) {
        size_t const h = i == 3 ? 20 : FLOW_N, w = i == 3 ? 12 : FLOW_N;
        float *const f = (float *)malloc(h * w * 2 * sizeof(float));
        for (size_t y = 0; y < h; y++)
            for (size_t x = 0; x < w; x++) {
                f[(y * w + x) * 2] = 0.3f * (float)(i + 1) + 0.05f * (float)y;
                f[(y * w + x) * 2 + 1] = -0.2f * (float)i + 0.04f * (float)x;
            }
        char path[700];
        snprintf(path, sizeof path, "%s/flow_%d.npy", dir, i);
        size_t const shape[3] = {h, w, 2};
        sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, f);
        free(f);
    }
    return dir;
}

/* B=4, F=2, batches_per_flow_batch=3, randomize, over the five files; extra overrides. */
static void file_config(sp_config *c, const char *dir, const char *extra)
{
    char yaml[16384];
    snprintf(yaml, sizeof yaml,
             "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [32, 32]\nflow_field_size: [64, 64]\n"
             "resolution: 1\nimg_offset: [12, 12]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\n"
             "min_speed_x: -2\nmax_speed_x: 2\nmin_speed_y: -2\nmax_speed_y: 2\nseed: 3\n"
             "seeding_density_range: [0.05, 0.1]\ndiameter_ranges: [[1, 2]]\nnoise_uniform: 2\n"
             "batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 3\nrandomize: true\n%s",
             dir, extra);
    sp_test_load_yaml(c, yaml);
}

/* A deep copy of everything a batch exposes. */
typedef struct snap {
    float *img1, *img2, *flows;
    sp_pair_params params[8];
    sp_key keys[8];
    uint32_t seeds[8];
    int32_t epoch[8];
    uint8_t mask[8];
    uint64_t records[8];
    char files[8][256];
    uint64_t first_pair, batch_index;
    uint32_t repetition;
} snap;

static void take(snap *d, const sp_batch *b)
{
    size_t const B = b->batch_size, npx = b->height * b->width, nf = b->flow_height * b->flow_width * 2;
    SP_EXPECT(B <= 8);
    d->img1 = (float *)malloc(B * npx * sizeof(float));
    d->img2 = (float *)malloc(B * npx * sizeof(float));
    d->flows = (float *)malloc(B * nf * sizeof(float));
    memcpy(d->img1, b->images1, B * npx * sizeof(float));
    memcpy(d->img2, b->images2, B * npx * sizeof(float));
    memcpy(d->flows, b->flow_fields, B * nf * sizeof(float));
    memcpy(d->params, b->params, B * sizeof *b->params);
    memcpy(d->keys, b->keys, B * sizeof *b->keys);
    memcpy(d->seeds, b->seeds, B * sizeof *b->seeds);
    memcpy(d->epoch, b->epoch, B * sizeof *b->epoch);
    memcpy(d->mask, b->mask, B);
    memcpy(d->records, b->records, B * sizeof *b->records);
    for (size_t k = 0; k < B; k++) snprintf(d->files[k], sizeof d->files[k], "%s", b->files[k]);
    d->first_pair = b->first_pair;
    d->batch_index = b->batch_index;
    d->repetition = b->repetition;
}

static void snap_free(snap *d)
{
    free(d->img1);
    free(d->img2);
    free(d->flows);
}

static void expect_same(const snap *w, const sp_batch *b, const char *what, int j)
{
    size_t const B = b->batch_size, npx = b->height * b->width, nf = b->flow_height * b->flow_width * 2;
    SP_EXPECT_MSG(b->batch_index == w->batch_index && b->first_pair == w->first_pair &&
                      b->repetition == w->repetition,
                  "%s j=%d: batch %llu rep %u, want batch %llu rep %u", what, j, (unsigned long long)b->batch_index,
                  b->repetition, (unsigned long long)w->batch_index, w->repetition);
    SP_EXPECT_MSG(memcmp(w->img1, b->images1, B * npx * sizeof(float)) == 0, "%s j=%d batch %llu: images1 differ",
                  what, j, (unsigned long long)w->batch_index);
    SP_EXPECT_MSG(memcmp(w->img2, b->images2, B * npx * sizeof(float)) == 0, "%s j=%d: images2 differ", what, j);
    SP_EXPECT_MSG(memcmp(w->flows, b->flow_fields, B * nf * sizeof(float)) == 0,
                  "%s j=%d batch %llu: flow_fields differ", what, j, (unsigned long long)w->batch_index);
    SP_EXPECT_MSG(memcmp(w->params, b->params, B * sizeof *b->params) == 0, "%s j=%d: params differ", what, j);
    SP_EXPECT_MSG(memcmp(w->keys, b->keys, B * sizeof *b->keys) == 0, "%s j=%d: keys differ", what, j);
    SP_EXPECT_MSG(memcmp(w->seeds, b->seeds, B * sizeof *b->seeds) == 0, "%s j=%d: seeds differ", what, j);
    SP_EXPECT_MSG(memcmp(w->epoch, b->epoch, B * sizeof *b->epoch) == 0, "%s j=%d: epochs differ", what, j);
    SP_EXPECT_MSG(memcmp(w->mask, b->mask, B) == 0, "%s j=%d: masks differ", what, j);
    SP_EXPECT_MSG(memcmp(w->records, b->records, B * sizeof *b->records) == 0, "%s j=%d: records differ", what, j);
    for (size_t k = 0; k < B; k++)
        SP_EXPECT_MSG(strcmp(w->files[k], b->files[k]) == 0, "%s j=%d: file %zu is %s, want %s", what, j, k,
                      b->files[k], w->files[k]);
}

static sp_sampler *make(const sp_config *c, const char *load_from, unsigned threads, unsigned prefetch)
{
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = threads;
    o.prefetch_threads = prefetch;
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_make(c, load_from, SP_CKPT_LATEST, &o, &s, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_make(%s): %s", load_from ? load_from : "fresh", e.message);
    return s;
}


/* The reference stream: n uninterrupted batches. */
static snap *reference(const sp_config *c, int n)
{
    snap *const ref = (snap *)calloc((size_t)n, sizeof *ref);
    sp_sampler *const s = make(c, NULL, 1, SP_PREFETCH_OFF);
    for (int i = 0; i < n; i++) take(&ref[i], sp_test_next_ok(s));
    sp_sampler_free(s);
    return ref;
}

/* For every j: take j batches, save, restore into a new sampler (other thread and prefetch
 * counts), and compare the rest of the stream with the reference. */
static void restore_matrix(const sp_config *c, const snap *ref, int n, int jmax, const char *what)
{
    for (int j = 0; j <= jmax; j++) {
        char dir[700];
        snprintf(dir, sizeof dir, "%s/ckpt_%s_%d", sp_test_tmpdir(), what, j);
        sp_sampler *const a = make(c, NULL, 2, 0);
        for (int i = 0; i < j; i++) expect_same(&ref[i], sp_test_next_ok(a), what, j);
        sp_error e;
        sp_error_clear(&e);
        SP_EXPECT_MSG(sp_save_checkpoint(dir, a, j, 2, &e) == SP_OK, "save: %s", e.message);
        sp_sampler_free(a);
        sp_sampler *const b = make(c, dir, (unsigned)(1 + j % 3), (unsigned)(j % 2 ? 3 : 0));
        for (int i = j; i < n; i++) expect_same(&ref[i], sp_test_next_ok(b), what, j);
        sp_sampler_free(b);
    }
}

SP_TEST(pipeline_restore_after_every_batch_gives_the_uninterrupted_stream)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "loop: true\n");
    /* 15 batches = 5 refreshes of F=2 = 10 records = two epochs of five files; the epoch
     * boundary falls inside refresh 2 (positions 4, 5) and after refresh 4. */
    enum { N = 15 };
    snap *const ref = reference(&c, N);
    SP_ASSERT_EQ_INT(ref[6].epoch[0], 0);
    SP_ASSERT_EQ_INT(ref[6].epoch[1], 1);
    SP_ASSERT_EQ_INT(ref[14].epoch[1], 1);
    restore_matrix(&c, ref, N, 13, "loop");
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

SP_TEST(pipeline_restore_finite_stream_keeps_padding_masks_and_end)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "loop: false\n");
    enum { N = 9 }; /* 5 records, F=2: refreshes (0,1) (2,3) (4,pad) */
    snap *const ref = reference(&c, N);
    SP_ASSERT_EQ_INT(ref[8].mask[1], 0);
    restore_matrix(&c, ref, N, N, "finite");
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt_finite_%d", sp_test_tmpdir(), N);
    sp_sampler *const s = make(&c, ck, 1, 0);
    const sp_batch *b;
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_END);
    sp_sampler_free(s);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

/* ---- random access (sp_sampler_seek) ----------------------------------------------- */

/* A sampler sought to batch b returns the reference's batch b and those after it, for every
 * b (repetitions 0..2 of each flow batch, across the epoch boundary), from a fresh sampler
 * or one holding another flow batch, with prefetch threads or not. A checkpoint saved right
 * after a seek holds the position only (no cached flows, repetition mid flow batch) and
 * restores to the same batches. Past the end of a finite stream the next call ends. */
SP_TEST(pipeline_seek_returns_the_batches_of_the_uninterrupted_stream)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "loop: true\n");
    enum { N = 15 };
    snap *const ref = reference(&c, N);
    for (int b = 0; b < N; b++) {
        sp_sampler *const s = make(&c, NULL, 2, b % 2 ? 2 : 0);
        if (b % 3 == 1) expect_same(&ref[0], sp_test_next_ok(s), "before seek", b);
        sp_error e;
        SP_ASSERT_OK(sp_sampler_seek(s, (uint64_t)b, &e));
        char ck[700];
        snprintf(ck, sizeof ck, "%s/ckpt_seek_%d", sp_test_tmpdir(), b);
        SP_EXPECT_MSG(sp_save_checkpoint(ck, s, b, 1, &e) == SP_OK, "save after seek: %s", e.message);
        for (int i = b; i < N && i < b + 4; i++) expect_same(&ref[i], sp_test_next_ok(s), "seek", b);
        sp_sampler_free(s);
        sp_sampler *const r = make(&c, ck, 1, 0);
        for (int i = b; i < N && i < b + 4; i++) expect_same(&ref[i], sp_test_next_ok(r), "restored after seek", b);
        sp_sampler_free(r);
    }
    sp_config_free(&c);
    file_config(&c, dir, "loop: false\n"); /* 5 records: batches 0..8 */
    sp_sampler *const s = make(&c, NULL, 1, 0);
    const sp_batch *bt;
    sp_error e;
    SP_ASSERT_OK(sp_sampler_seek(s, 9, &e));
    SP_ASSERT_STATUS(sp_sampler_next(s, &bt, &e), SP_ERR_END);
    sp_sampler_free(s);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

SP_TEST(pipeline_restore_chosen_step_and_retention)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "");
    enum { N = 8 };
    snap *const ref = reference(&c, N);
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    sp_sampler *const a = make(&c, NULL, 1, 0);
    sp_error e;
    for (int i = 0; i < 6; i++) {
        SP_ASSERT_OK(sp_save_checkpoint(ck, a, i, 3, &e));
        sp_test_next_ok(a);
    }
    sp_sampler_free(a);
    /* max_to_keep 3: steps 3, 4, 5 remain; step 4 restores the stream after 4 batches. */
    sp_sampler *s = NULL;
    SP_ASSERT_STATUS(sp_make(&c, ck, 1, NULL, &s, &e), SP_ERR_NOTFOUND);
    SP_EXPECT(s == NULL);
    SP_ASSERT_OK(sp_make(&c, ck, 4, NULL, &s, &e));
    for (int i = 4; i < N; i++) expect_same(&ref[i], sp_test_next_ok(s), "step4", 4);
    sp_sampler_free(s);
    SP_ASSERT_STATUS(sp_save_checkpoint(ck, s = make(&c, NULL, 1, 0), 5, 3, &e), SP_ERR_EXISTS);
    sp_sampler_free(s);
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nowhere", sp_test_tmpdir());
    SP_ASSERT_STATUS(sp_make(&c, missing, SP_CKPT_LATEST, NULL, &s, &e), SP_ERR_NOTFOUND);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

SP_TEST(pipeline_restore_dir_restores_an_existing_sampler_and_leaves_it_on_error)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "");
    enum { N = 6 };
    snap *const ref = reference(&c, N);
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    sp_sampler *const a = make(&c, NULL, 1, 0);
    sp_error e;
    for (int i = 0; i < 4; i++) {
        if (i == 1 || i == 3) SP_ASSERT_OK(sp_save_checkpoint(ck, a, i, -1, &e));
        sp_test_next_ok(a);
    }
    sp_sampler_free(a);
    /* The latest step (3), reported back; the stream goes on from batch 3. */
    sp_sampler *const s = make(&c, NULL, 2, 0);
    int64_t step = -1;
    SP_ASSERT_OK(sp_pipeline_restore_dir(s, ck, SP_CKPT_LATEST, &step, &e));
    SP_ASSERT_EQ_INT(step, 3);
    expect_same(&ref[3], sp_test_next_ok(s), "restore_dir", 3);
    /* A chosen step rewinds the same sampler. */
    SP_ASSERT_OK(sp_pipeline_restore_dir(s, ck, 1, NULL, &e));
    expect_same(&ref[1], sp_test_next_ok(s), "restore_dir", 1);
    /* Errors leave the sampler where it was: batch 2 comes next. */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/nowhere", sp_test_tmpdir());
    SP_ASSERT_STATUS(sp_pipeline_restore_dir(s, missing, SP_CKPT_LATEST, NULL, &e), SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "nowhere");
    SP_ASSERT_STATUS(sp_pipeline_restore_dir(s, ck, 2, NULL, &e), SP_ERR_NOTFOUND);
    expect_same(&ref[2], sp_test_next_ok(s), "after errors", 2);
    /* A save refused for its arguments creates nothing. */
    char fresh[700];
    snprintf(fresh, sizeof fresh, "%s/fresh", sp_test_tmpdir());
    SP_ASSERT_STATUS(sp_save_checkpoint(fresh, s, -1, 1, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "step -1");
    SP_EXPECT(access(fresh, F_OK) != 0);
    sp_sampler_free(s);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

/* ---- refusals ------------------------------------------------------------------------------ */

static void expect_refused(const char *ck, const sp_config *c, const char *field)
{
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_make(c, ck, SP_CKPT_LATEST, NULL, &s, &e);
    SP_EXPECT_MSG(st == SP_ERR_MISMATCH, "%s: status %d (%s)", field, (int)st, e.message);
    SP_EXPECT(s == NULL);
    SP_ASSERT_STR_CONTAINS(e.message, field);
}

SP_TEST(pipeline_refuses_another_stream_naming_the_field)
{
    const char *const dir = write_flows();
    char ck[700], yaml_dir[4096];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    sp_config c;
    file_config(&c, dir, "");
    sp_sampler *const a = make(&c, NULL, 1, 0);
    sp_test_next_ok(a);
    sp_error e;
    SP_ASSERT_OK(sp_save_checkpoint(ck, a, 1, 1, &e));
    sp_sampler_free(a);
    sp_config_free(&c);
    static const struct { const char *extra, *field; } cases[] = {
        {"seed: 4\n", "seed: the checkpoint was taken with seed 3; the configuration has seed 4"},
        {"batch_size: 6\n", "batch_size"},
        {"flow_fields_per_batch: 1\n", "flow_fields_per_batch"},
        {"batches_per_flow_batch: 2\n", "batches_per_flow_batch"},
        {"image_shape: [24, 32]\n", "image_shape"},
        {"randomize: false\n", "randomize"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        /* Later keys win in the loader, so the override follows the base keys. */
        file_config(&c, dir, cases[i].extra);
        expect_refused(ck, &c, cases[i].field);
        sp_config_free(&c);
    }
    /* A different file list: the same directory without flow_4.npy. */
    snprintf(yaml_dir, sizeof yaml_dir, "%s/flow_0.npy, %s/flow_1.npy, %s/flow_2.npy, %s/flow_3.npy", dir, dir,
             dir, dir);
    file_config(&c, yaml_dir, "");
    expect_refused(ck, &c, "file_list");
    sp_config_free(&c);
    /* Another shard of the same data. */
    file_config(&c, dir, "");
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.shard_count = 2;
    sp_sampler *s = NULL;
    SP_ASSERT_STATUS(sp_make(&c, ck, SP_CKPT_LATEST, &o, &s, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "shard_count");
    sp_config_free(&c);
}

/* A copy of tree t with the "sampler" item's text replaced by `sampler`. */
static sp_tree *copy_with_sampler(const sp_tree *t, const char *sampler)
{
    sp_tree *c = NULL;
    SP_ASSERT_OK(sp_tree_create(&c));
    for (size_t i = 0; i < sp_tree_count(t); i++) {
        sp_leaf_view v;
        SP_ASSERT_OK(sp_tree_at(t, i, &v));
        if (v.kind == SP_LEAF_ARRAY) SP_ASSERT_OK(sp_tree_add_array(c, v.path, v.dtype, v.ndim, v.shape, v.data, NULL));
        else if (v.kind == SP_LEAF_I64) SP_ASSERT_OK(sp_tree_add_i64(c, v.path, v.i64, NULL));
        else if (v.kind == SP_LEAF_F64) SP_ASSERT_OK(sp_tree_add_f64(c, v.path, v.f64, NULL));
        else if (v.kind == SP_LEAF_STRING) SP_ASSERT_OK(sp_tree_add_string(c, v.path, v.text, NULL));
        else SP_ASSERT_OK(sp_tree_add_json(c, v.path, strcmp(v.path, "sampler") ? v.text : sampler, NULL));
    }
    return c;
}

static void save_tree(const char *root, const sp_tree *t)
{
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    o.create = 1;
    sp_ckpt_manager *m = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_manager_open(&m, root, &o, &e));
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = 1;
    SP_ASSERT_OK(sp_ckpt_save(m, 1, t, &a, NULL, &e));
    SP_ASSERT_OK(sp_ckpt_manager_close(m, -1, &e));
}

/* Checkpoints record the stream version; one written by another (edited to 1, or without
 * the field as before it existed) is refused: its dataset would go on with other bytes. */
SP_TEST(pipeline_refuses_a_checkpoint_of_another_stream_version)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "");
    sp_sampler *const a = make(&c, NULL, 1, 0);
    sp_test_next_ok(a);
    sp_tree *t = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_pipeline_state_tree(a, NULL, &t, &e));
    const char *text = NULL;
    SP_ASSERT_OK(sp_tree_get_text(t, "sampler", &text, &e));
    SP_ASSERT_EQ_INT(sp_stream_version(), 2);
    SP_ASSERT_STR_CONTAINS(text, ",\"stream_version\":2}");
    char edited[3][4096];
    size_t const cut = strlen(text) - strlen(",\"stream_version\":2}");
    snprintf(edited[0], sizeof edited[0], "%s", text);                                  /* as written */
    snprintf(edited[1], sizeof edited[1], "%.*s,\"stream_version\":1}", (int)cut, text); /* version 1 */
    snprintf(edited[2], sizeof edited[2], "%.*s}", (int)cut, text);                      /* no field */
    for (int i = 0; i < 3; i++) {
        char ck[700];
        snprintf(ck, sizeof ck, "%s/ckpt_%d", sp_test_tmpdir(), i);
        sp_tree *const ti = copy_with_sampler(t, edited[i]);
        save_tree(ck, ti);
        sp_tree_free(ti);
        sp_sampler *s = NULL;
        sp_status const st = sp_make(&c, ck, SP_CKPT_LATEST, NULL, &s, &e);
        if (i == 0) {
            SP_EXPECT_MSG(st == SP_OK, "the unedited copy: %s", e.message);
            sp_sampler_free(s);
            continue;
        }
        SP_ASSERT_STATUS(st, SP_ERR_MISMATCH);
        SP_EXPECT(s == NULL);
        SP_ASSERT_STR_CONTAINS(e.message, "stream_version: the checkpoint was written by stream version 1; this "
                                          "build produces stream version 2; finish that dataset with the synthpix "
                                          "release that started it, or start afresh");
    }
    sp_tree_free(t);
    sp_sampler_free(a);
    sp_config_free(&c);
}

SP_TEST(pipeline_deleted_file_is_named_at_the_batch_that_needs_it_after_restore)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "");
    enum { N = 9 };
    snap *const ref = reference(&c, N);
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    sp_sampler *const a = make(&c, NULL, 1, 0);
    for (int i = 0; i < 4; i++) sp_test_next_ok(a); /* mid-repetition of refresh 1 */
    sp_error e;
    SP_ASSERT_OK(sp_save_checkpoint(ck, a, 4, 1, &e));
    sp_sampler_free(a);
    sp_sampler *const s = make(&c, ck, 1, 0);
    /* The cached records of refresh 1 and the file refresh 2 needs are deleted: batches 4
     * and 5 come from the restored cache, batch 6 fails naming the file it needs. */
    SP_EXPECT(strcmp(ref[6].files[0], ref[4].files[0]) != 0 && strcmp(ref[6].files[0], ref[4].files[1]) != 0);
    unlink(ref[4].files[0]);
    unlink(ref[4].files[1]);
    unlink(ref[6].files[0]);
    expect_same(&ref[4], sp_test_next_ok(s), "deleted", 4);
    expect_same(&ref[5], sp_test_next_ok(s), "deleted", 4);
    const sp_batch *b;
    SP_EXPECT(sp_sampler_next(s, &b, &e) != SP_OK);
    SP_ASSERT_STR_CONTAINS(e.message, ref[6].files[0]);
    sp_sampler_free(s);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

SP_TEST(pipeline_damaged_checkpoint_is_reported_by_file)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "");
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    sp_sampler *const a = make(&c, NULL, 1, 0);
    sp_test_next_ok(a);
    sp_error e;
    SP_ASSERT_OK(sp_save_checkpoint(ck, a, 1, 1, &e));
    sp_sampler_free(a);
    char out[4096];
    SP_ASSERT_OK(sp_test_sh(out, sizeof out, "f=$(find %s/1 -path '*output_flows/0*' -type f | head -1); "
                            "printf 'X' | dd of=\"$f\" bs=1 seek=20 conv=notrunc 2>/dev/null", ck));
    sp_sampler *s = NULL;
    sp_status const st = sp_make(&c, ck, SP_CKPT_LATEST, NULL, &s, &e);
    SP_EXPECT_MSG(st == SP_ERR_CHECKSUM || st == SP_ERR_CORRUPT, "status %d: %s", (int)st, e.message);
    SP_ASSERT_STR_CONTAINS(e.message, "output_flows");
    sp_config_free(&c);
}

/* ---- shards and prefetch ------------------------------------------------------------------- */

/* Shard s of `count` in blocks of `block` reads the unsharded stream's blocks s, s + count,
 * ...: at its position i the global position (s + (i / block) count) block + i mod block,
 * with the unsharded stream's record, epoch and seed there; together the shards read every
 * position of three epochs exactly once. A finite stream's shards end where the global
 * stream does (the last block may be partial). */
static void check_shards(uint64_t n, uint64_t count, uint64_t block, int shuffle)
{
    uint64_t const total = 3 * n;
    uint8_t *const seen = (uint8_t *)calloc(total, 1);
    sp_loader g;
    sp__loader_init(&g, n, shuffle, 1, 11);
    for (uint64_t s = 0; s < count; s++) {
        sp_loader l;
        sp__loader_init(&l, n, shuffle, 1, 11);
        SP_ASSERT_OK(sp__loader_shard(&l, s, count, block, NULL));
        for (uint64_t i = 0;; i++) {
            sp_record_ref r, want;
            sp__loader_ref(&l, i, &r);
            if (r.position >= total) break;
            sp__loader_ref(&g, r.position, &want);
            SP_EXPECT_MSG(r.position == (s + i / block * count) * block + i % block && r.record == want.record &&
                              r.seed == want.seed && r.epoch == want.epoch,
                          "n=%llu count=%llu block=%llu shard %llu position %llu", (unsigned long long)n,
                          (unsigned long long)count, (unsigned long long)block, (unsigned long long)s,
                          (unsigned long long)i);
            SP_EXPECT_MSG(!seen[r.position], "position %llu read twice", (unsigned long long)r.position);
            seen[r.position] = 1;
        }
        sp__loader_init(&l, n, shuffle, 0, 11);
        SP_ASSERT_OK(sp__loader_shard(&l, s, count, block, NULL));
        uint64_t const end = sp__loader_end(&l);
        sp_record_ref r;
        for (uint64_t i = 0; i < end; i++) {
            sp__loader_ref(&l, i, &r);
            SP_EXPECT_MSG(r.position < n, "finite shard %llu/%llu: position %llu past the end", (unsigned long long)s,
                          (unsigned long long)count, (unsigned long long)i);
        }
        sp__loader_ref(&l, end, &r);
        SP_EXPECT(r.position >= n);
    }
    for (uint64_t p = 0; p < total; p++)
        SP_EXPECT_MSG(seen[p], "n=%llu count=%llu block=%llu: position %llu read by no shard", (unsigned long long)n,
                      (unsigned long long)count, (unsigned long long)block, (unsigned long long)p);
    free(seen);
}

SP_TEST(pipeline_shards_are_disjoint_and_cover_the_stream)
{
    static const uint64_t ns[] = {1, 2, 5, 7, 64, 1001};
    static const uint64_t counts[] = {1, 2, 3, 4, 7, 16};
    static const uint64_t blocks[] = {1, 2, 3, 8};
    for (size_t a = 0; a < ARRAY_LEN(ns); a++)
        for (size_t b = 0; b < ARRAY_LEN(counts); b++)
            for (size_t k = 0; k < ARRAY_LEN(blocks); k++) {
                if (counts[b] > ns[a]) continue;
                check_shards(ns[a], counts[b], blocks[k], 1);
                check_shards(ns[a], counts[b], blocks[k], 0);
            }
    sp_loader l;
    sp__loader_init(&l, 3, 1, 1, 0);
    sp_error e;
    SP_ASSERT_STATUS(sp__loader_shard(&l, 3, 3, 1, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "shard_index");
    SP_ASSERT_STATUS(sp__loader_shard(&l, 0, 4, 1, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "shard_count");
}

SP_TEST(pipeline_sharded_samplers_save_and_restore_their_own_shard)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "");
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.shard_index = 1;
    o.shard_count = 2;
    sp_sampler *s = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_make(&c, NULL, SP_CKPT_LATEST, &o, &s, &e));
    enum { N = 8 };
    snap ref[N];
    for (int i = 0; i < N; i++) take(&ref[i], sp_test_next_ok(s));
    sp_sampler_free(s);
    /* Shard 1 of 2 over five records reads the refreshes (blocks of F = 2) 1, 3, ...:
     * positions 2, 3 (epoch 0), then 6, 7 (epoch 1). */
    SP_ASSERT_EQ_INT(ref[0].epoch[0], 0);
    SP_ASSERT_EQ_INT(ref[0].epoch[1], 0);
    SP_ASSERT_EQ_INT(ref[3].epoch[0], 1);
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    SP_ASSERT_OK(sp_make(&c, NULL, SP_CKPT_LATEST, &o, &s, &e));
    for (int i = 0; i < 4; i++) sp_test_next_ok(s);
    SP_ASSERT_OK(sp_save_checkpoint(ck, s, 4, 1, &e));
    sp_sampler_free(s);
    SP_ASSERT_OK(sp_make(&c, ck, SP_CKPT_LATEST, &o, &s, &e));
    for (int i = 4; i < N; i++) expect_same(&ref[i], sp_test_next_ok(s), "shard", 4);
    sp_sampler_free(s);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    sp_config_free(&c);
}

/* Shard s of c, local batch L: batch (s + (L / 3) c) 3 + L mod 3 of the unsharded stream
 * from global flow batch `from` (3 batches a flow batch here), compared pair for pair
 * (shards number their own batches, so batch_index and first_pair are not compared). */
static void expect_global_batch(const snap *ref, int nref, const sp_batch *b, uint64_t from, uint64_t s, uint64_t c,
                                int L, const char *what)
{
    uint64_t const g = (from + s + (uint64_t)(L / 3) * c) * 3 + (uint64_t)(L % 3);
    SP_EXPECT_MSG(g < (uint64_t)nref, "%s: batch %llu past the reference", what, (unsigned long long)g);
    snap w = ref[g];
    w.batch_index = b->batch_index;
    w.first_pair = b->first_pair;
    expect_same(&w, b, what, L);
}

static sp_sampler *make_shard(const sp_config *c, const char *load_from, unsigned s, unsigned count, unsigned prefetch)
{
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.shard_index = s;
    o.shard_count = count;
    o.prefetch_threads = prefetch;
    o.threads = 1;
    sp_sampler *out = NULL;
    sp_error e;
    sp_status const st = sp_make(c, load_from, SP_CKPT_LATEST, &o, &out, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_make as shard %u of %u: %s", s, count, e.message);
    return out;
}

/* Grain's elastic rule: shards 0/2 and 1/2 go in lockstep for two refreshes each (their
 * pairs are the unsharded stream's refreshes 0, 2 and 1, 3) and each saves a checkpoint;
 * restored as 0/1 either continues the unsharded stream at refresh 4 (numbered as it),
 * and restored as 0/3, 1/3, 2/3 the three shards read refreshes 4 .. 9 between them, each
 * once. A checkpoint inside a refresh continues only on its own shard. */
SP_TEST(pipeline_shard_checkpoints_continue_the_global_stream_on_any_shard_count)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "loop: true\n");
    enum { N = 30 }; /* 10 refreshes of F = 2 over 5 files: 4 epochs */
    snap *const ref = reference(&c, N);
    char ck[2][700];
    for (unsigned s = 0; s < 2; s++) {
        snprintf(ck[s], sizeof ck[s], "%s/ckpt_shard_%u_of_2", sp_test_tmpdir(), s);
        sp_sampler *const a = make_shard(&c, NULL, s, 2, s);
        for (int L = 0; L < 6; L++) expect_global_batch(ref, N, sp_test_next_ok(a), 0, s, 2, L, "shard of 2");
        sp_error e;
        SP_EXPECT_MSG(sp_save_checkpoint(ck[s], a, 6, 1, &e) == SP_OK, "save: %s", e.message);
        sp_sampler_free(a);
    }
    for (unsigned from = 0; from < 2; from++) {
        sp_sampler *const one = make_shard(&c, ck[from], 0, 1, 0);
        for (int i = 12; i < 18; i++) expect_same(&ref[i], sp_test_next_ok(one), "restored as 0/1", i);
        sp_sampler_free(one);
        for (unsigned s = 0; s < 3; s++) {
            sp_sampler *const t = make_shard(&c, ck[from], s, 3, from);
            for (int L = 0; L < 6; L++) expect_global_batch(ref, N, sp_test_next_ok(t), 4, s, 3, L, "restored as a shard of 3");
            sp_sampler_free(t);
        }
    }
    /* Inside a refresh (repetition 1 of 3): only shard 0 of 2 continues it. */
    char mid[700];
    snprintf(mid, sizeof mid, "%s/ckpt_mid", sp_test_tmpdir());
    sp_sampler *const a = make_shard(&c, NULL, 0, 2, 0);
    for (int L = 0; L < 4; L++) sp_test_next_ok(a);
    sp_error e;
    SP_ASSERT_OK(sp_save_checkpoint(mid, a, 4, 1, &e));
    sp_sampler_free(a);
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.shard_count = 3;
    sp_sampler *t = NULL;
    SP_ASSERT_STATUS(sp_make(&c, mid, SP_CKPT_LATEST, &o, &t, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "shard_count: the checkpoint was taken as shard 0 of 2 inside a refresh");
    t = make_shard(&c, mid, 0, 2, 0);
    for (int L = 4; L < 6; L++) expect_global_batch(ref, N, sp_test_next_ok(t), 0, 0, 2, L, "mid refresh, same shard");
    sp_sampler_free(t);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

SP_TEST(pipeline_prefetch_threads_do_not_change_the_stream)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "batches_per_flow_batch: 1\n");
    enum { N = 12 };
    snap *const ref = reference(&c, N); /* no prefetcher: SP_PREFETCH_OFF */
    static const unsigned prefetch[] = {1, 4};
    for (size_t p = 0; p < ARRAY_LEN(prefetch); p++) {
        sp_sampler *const s = make(&c, NULL, 2, prefetch[p]);
        for (int i = 0; i < N; i++) expect_same(&ref[i], sp_test_next_ok(s), prefetch[p] == 1 ? "prefetch1" : "prefetch4", i);
        /* A reset restarts the window at position 0. */
        sp_sampler_reset(s);
        expect_same(&ref[0], sp_test_next_ok(s), "prefetch-reset", 0);
        sp_sampler_free(s);
    }
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

/* One flow file per pair (B = F = 1, a new record every batch: SynthPix's own configurations)
 * is the same stream for 1, 2 and 4 threads, with the prefetcher off, automatic (one thread
 * for flow files) or four threads. */
SP_TEST(pipeline_one_record_per_pair_is_identical_for_threads_and_prefetch)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "batch_size: 1\nflow_fields_per_batch: 1\nbatches_per_flow_batch: 1\n");
    enum { N = 12 };
    snap *const ref = reference(&c, N); /* 1 thread, no prefetcher */
    static const struct {
        unsigned threads, prefetch;
    } runs[] = {{2, SP_PREFETCH_OFF}, {2, SP_PREFETCH_AUTO}, {4, SP_PREFETCH_AUTO}, {4, 4}, {1, SP_PREFETCH_AUTO}};
    for (size_t r = 0; r < ARRAY_LEN(runs); r++) {
        sp_sampler *const s = make(&c, NULL, runs[r].threads, runs[r].prefetch);
        for (int i = 0; i < N; i++) expect_same(&ref[i], sp_test_next_ok(s), "B=1", (int)r);
        sp_sampler_free(s);
    }
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

/* ---- episodic mode ------------------------------------------------------------------------- */

/* Sequences ep/a (4 files), ep/b (5), ep/c (3), ep/d (2); file t of directory d has
 * u = d + 1 + 0.1 t everywhere. Returns the file_list text. */
static const char *write_sequences(void)
{
    static const int lengths[4] = {4, 5, 3, 2};
    static char list[4096];
    list[0] = '\0';
    for (int d = 0; d < 4; d++) {
        char dir[700];
        snprintf(dir, sizeof dir, "%s/ep_%c", sp_test_tmpdir(), 'a' + d);
        SP_ASSERT_OK(mkdir(dir, 0755));
        for (int t = 0; t < lengths[d]; t++) {
            float f[FLOW_N * FLOW_N * 2];
            for (size_t i = 0; i < FLOW_N * FLOW_N; i++) {
                f[2 * i] = (float)(d + 1) + 0.1f * (float)t;
                f[2 * i + 1] = 0.25f;
            }
            char path[800];
            snprintf(path, sizeof path, "%s/flow_%02d.npy", dir, t);
            size_t const shape[3] = {FLOW_N, FLOW_N, 2};
            sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, f);
        }
        size_t const len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", d ? ", " : "", dir);
    }
    return list;
}

/* One step of an RL loop: a new episode when the last one ended. */
static const sp_batch *episode_step(sp_sampler *s)
{
    const sp_batch *b = NULL;
    sp_error e;
    sp_status st = sp_sampler_next(s, &b, &e);
    if (st == SP_ERR_EPISODE_END) {
        SP_ASSERT_OK(sp_sampler_next_episode(s, &e));
        st = sp_sampler_next(s, &b, &e);
    }
    SP_EXPECT_MSG(st == SP_OK, "episode step: %s (%s)", e.message, sp_strerror(st));
    return b;
}

/* ---- skipping ------------------------------------------------------------------------------ */

static void skip_ok(sp_sampler *s, uint64_t n)
{
    uint64_t got = 99;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_skip(s, n, &got, &e);
    SP_EXPECT_MSG(st == SP_OK, "skip %llu: %s", (unsigned long long)n, e.message);
    SP_ASSERT_EQ_U64(got, n);
}

SP_TEST(pipeline_skip_leaves_the_state_rendering_would)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, ""); /* B=4, F=2, batches_per_flow_batch=3: skips end inside and at refreshes */
    enum { N = 12 };
    snap *const ref = reference(&c, N);
    for (int j = 0; j <= 8; j++) {
        /* skip(j) from the start, then the stream goes on as rendered. */
        sp_sampler *const s = make(&c, NULL, 2, 0);
        skip_ok(s, (uint64_t)j);
        expect_same(&ref[j], sp_test_next_ok(s), "skip", j);
        /* render, skip, render: a worker's pattern when N workers split the stream. */
        skip_ok(s, 2);
        if (j + 3 < N) expect_same(&ref[j + 3], sp_test_next_ok(s), "skip-after-render", j);
        sp_sampler_free(s);
        /* A checkpoint taken right after a skip restores to the same place. */
        char ck[700];
        snprintf(ck, sizeof ck, "%s/ckpt_skip_%d", sp_test_tmpdir(), j);
        sp_sampler *const a = make(&c, NULL, 1, 0);
        skip_ok(a, (uint64_t)j);
        sp_error e;
        SP_ASSERT_OK(sp_save_checkpoint(ck, a, 0, 1, &e));
        sp_sampler_free(a);
        sp_sampler *const b = make(&c, ck, 1, 0);
        expect_same(&ref[j], sp_test_next_ok(b), "restore-after-skip", j);
        sp_sampler_free(b);
    }
    /* The prefetcher takes the same records ahead whatever was skipped. */
    sp_sampler *const p = make(&c, NULL, 2, 2);
    skip_ok(p, 5);
    expect_same(&ref[5], sp_test_next_ok(p), "skip-prefetch", 5);
    sp_sampler_free(p);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    free(ref);
    sp_config_free(&c);
}

SP_TEST(pipeline_skip_stops_at_the_end_of_a_finite_stream_and_of_an_episode)
{
    const char *const dir = write_flows();
    sp_config c;
    file_config(&c, dir, "loop: false\n"); /* 9 batches, then SP_ERR_END */
    sp_sampler *s = make(&c, NULL, 1, 0);
    uint64_t got = 0;
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_skip(s, 20, &got, &e), SP_ERR_END);
    SP_ASSERT_EQ_U64(got, 9);
    const sp_batch *b;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_END);
    sp_sampler_free(s);
    sp_config_free(&c);

    const char *const list = write_sequences();
    file_config(&c, list, "episode_length: 3\n");
    enum { N = 6 };
    snap ref[N];
    s = make(&c, NULL, 1, 0);
    for (int i = 0; i < N; i++) take(&ref[i], episode_step(s));
    sp_sampler_free(s);
    s = make(&c, NULL, 1, 0);
    SP_ASSERT_STATUS(sp_sampler_skip(s, 5, &got, &e), SP_ERR_EPISODE_END);
    SP_ASSERT_EQ_U64(got, 3);
    SP_ASSERT_OK(sp_sampler_next_episode(s, &e));
    skip_ok(s, 1);
    b = sp_test_next_ok(s);
    expect_same(&ref[4], b, "episodic-skip", 4);
    SP_ASSERT_EQ_INT(b->timestep, 1);
    sp_sampler_free(s);
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    sp_config_free(&c);
}

SP_TEST(pipeline_episodic_steps_done_flags_and_whole_episode_shuffle)
{
    const char *const list = write_sequences();
    sp_config c;
    file_config(&c, list, "episode_length: 3\n");
    sp_sampler *const s = make(&c, NULL, 2, 0);
    /* Six episodes: a/0 a/1 b/0 b/1 b/2 c/0 (d is too short); F = 2 run in parallel. */
    int seen[4][3] = {{0}};
    int sorted_order = 1, last_key = -1;
    for (int ep = 0; ep < 3; ep++) {
        char first[2][256];
        for (int t = 0; t < 3; t++) {
            const sp_batch *b = NULL;
            sp_error e;
            if (t == 0 && ep > 0) {
                SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_EPISODE_END);
                SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_EPISODE_END);
                SP_ASSERT_OK(sp_sampler_next_episode(s, &e));
            }
            b = sp_test_next_ok(s);
            SP_ASSERT_EQ_INT(b->timestep, t);
            for (size_t k = 0; k < 4; k++) {
                SP_ASSERT_EQ_INT(b->done[k], t == 2);
                SP_ASSERT_EQ_INT(b->epoch[k], 0);
                SP_EXPECT(strcmp(b->files[k], b->files[k % 2]) == 0); /* pair k follows episode k mod F */
            }
            for (size_t f = 0; f < 2; f++) {
                const char *const name = b->files[f];
                size_t const n = strlen(name);
                int const d = name[n - 13] - 'a', step = atoi(name + n - 6);
                if (t == 0) {
                    snprintf(first[f], sizeof first[f], "%s", name);
                    SP_EXPECT(d >= 0 && d < 3 && step <= 2);
                    seen[d][step]++;
                    sorted_order &= d * 3 + step > last_key;
                    last_key = d * 3 + step;
                } else { /* the next file of the same directory */
                    SP_EXPECT(strncmp(first[f], name, n - 6) == 0);
                    SP_ASSERT_EQ_INT(step, atoi(first[f] + n - 6) + t);
                }
                SP_ASSERT_NEAR(b->flow_fields[f * 32 * 32 * 2 + 100], (double)(d + 1) + 0.1 * step, 1e-4);
            }
        }
    }
    /* One epoch: every episode exactly once, in shuffled order. */
    SP_EXPECT_MSG(!sorted_order, "randomize left the episodes in directory order");
    static const int valid[4][3] = {{1, 1, 0}, {1, 1, 1}, {1, 0, 0}, {0, 0, 0}};
    for (int d = 0; d < 4; d++)
        for (int st = 0; st < 3; st++) SP_ASSERT_EQ_INT(seen[d][st], valid[d][st]);
    sp_sampler_free(s);
    sp_error e;
    sp_sampler *const plain = make(&c, NULL, 1, 0);
    sp_config_free(&c);
    file_config(&c, write_flows(), "");
    sp_sampler *const p2 = make(&c, NULL, 1, 0);
    SP_ASSERT_STATUS(sp_sampler_next_episode(p2, &e), SP_ERR_INVALID);
    sp_sampler_free(p2);
    sp_sampler_free(plain);
    sp_config_free(&c);
    file_config(&c, list, "episode_length: 6\n");
    sp_sampler *bad = NULL;
    SP_ASSERT_STATUS(sp_make(&c, NULL, SP_CKPT_LATEST, NULL, &bad, &e), SP_ERR_CONFIG);
    SP_ASSERT_STR_CONTAINS(e.message, "episode_length");
    sp_config_free(&c);
}

SP_TEST(pipeline_episodic_restore_after_every_batch_gives_the_uninterrupted_stream)
{
    const char *const list = write_sequences();
    sp_config c;
    file_config(&c, list, "episode_length: 3\nloop: true\n");
    enum { N = 14 }; /* 4 episode rounds and a bit: crosses the epoch of 6 episodes */
    snap ref[N];
    sp_sampler *const u = make(&c, NULL, 1, 0);
    for (int i = 0; i < N; i++) take(&ref[i], episode_step(u));
    sp_sampler_free(u);
    SP_ASSERT_EQ_INT(ref[9].epoch[0], 1);
    for (int j = 0; j <= 13; j++) {
        char dir[700];
        snprintf(dir, sizeof dir, "%s/ckpt_ep_%d", sp_test_tmpdir(), j);
        sp_sampler *const a = make(&c, NULL, 2, 0);
        for (int i = 0; i < j; i++) expect_same(&ref[i], episode_step(a), "episodic", j);
        sp_error e;
        SP_ASSERT_OK(sp_save_checkpoint(dir, a, j, 1, &e));
        sp_sampler_free(a);
        sp_sampler *const b = make(&c, dir, (unsigned)(1 + j % 2), 0);
        for (int i = j; i < N; i++) {
            const sp_batch *const bb = episode_step(b);
            expect_same(&ref[i], bb, "episodic", j);
            SP_ASSERT_EQ_INT(bb->done[0], bb->timestep == 2);
        }
        sp_sampler_free(b);
    }
    /* A checkpoint of episodes of length 3 is refused for length 2. */
    char dir[700];
    snprintf(dir, sizeof dir, "%s/ckpt_ep_5", sp_test_tmpdir());
    sp_config_free(&c);
    file_config(&c, list, "episode_length: 2\nloop: true\n");
    expect_refused(dir, &c, "episode_length: the checkpoint was taken with episode_length 3");
    for (int i = 0; i < N; i++) snap_free(&ref[i]);
    sp_config_free(&c);
}

/* ---- the shuffle: a true permutation for every length (docs/synthpix-compat.md, D7) ------- */

/* Calling sp__permute for every t of every n up to 2^17+2 is 8.6e9 calls (about 25 minutes),
 * so lengths sharing a Feistel domain share one table: for a key K and half-width h,
 * pi(t) = sp__permute(t, 4^h, K) is the Feistel network itself (no walking), and for every n
 * in (4^(h-1), 4^h] the implementation is pi walked until the value is below n. Each length
 * is then checked exactly from the table (a bijection of [0, n)), and the implementation is
 * compared with the table at t = 0, n-1 and 6 pseudo-random t of every n, which catches a
 * wrong domain or walking rule for that n. Lengths 2^k +- 1 are checked by direct calls.
 *
 * Tiers: the quick case checks every length up to 2^12 + 2, both edges and 24 seeded random
 * lengths of each domain up to 4^10 = 2^20, and 2^k +- 1 up to 2^20 + 1 (about a CPU second);
 * the full case (SP_TEST_FULL=1) every length up to 2^17 + 2 and 2^k +- 1 up to 2^24 + 1
 * (about two CPU minutes, most of it the 2^16 lengths of the last domain). */
typedef struct domain_job {
    const uint32_t *pi;
    sp_key key;
    uint64_t lo, hi, first, stride; /* lengths n = lo + first, lo + first + stride, ... <= hi */
} domain_job;

static void *check_lengths(void *arg)
{
    const domain_job *const j = (const domain_job *)arg;
    const uint32_t *const pi = j->pi;
    uint32_t *const seen = (uint32_t *)calloc((size_t)j->hi, sizeof *seen);
    SP_EXPECT(seen != NULL);
    for (uint64_t n = j->lo + j->first; n <= j->hi; n += j->stride) {
        uint32_t const stamp = (uint32_t)n; /* n >= 1, distinct per length */
        for (uint64_t t = 0; t < n; t++) {
            uint32_t x = pi[t];
            while (x >= n) x = pi[x];
            if (seen[x] == stamp) sp_test_fail(__FILE__, __LINE__, "n=%llu: %u hit twice", (unsigned long long)n, x);
            seen[x] = stamp;
        }
        for (uint64_t i = 0; i < 8; i++) {
            uint64_t const t = i == 0 ? 0 : i == 1 ? n - 1 : (n * 2654435761u + i * 40503u) % n;
            uint32_t x = pi[t];
            while (x >= n) x = pi[x];
            SP_EXPECT_MSG(sp__permute(t, n, j->key) == x, "n=%llu t=%llu: sp__permute disagrees with its network",
                          (unsigned long long)n, (unsigned long long)t);
        }
    }
    free(seen);
    return NULL;
}

/* Fills pi with the Feistel network of the domain of half-width h (4^h entries) and checks
 * that it is a bijection; returns the key the lengths of this domain are checked with. */
static sp_key domain_table(unsigned h, uint32_t *pi)
{
    uint64_t const D = (uint64_t)1 << (2 * h);
    sp_key const k = sp_key_fold_in(sp_key_from_seed(99), h);
    uint8_t *const hit = (uint8_t *)calloc((size_t)D, 1);
    SP_EXPECT(hit != NULL);
    for (uint64_t t = 0; t < D; t++) {
        pi[t] = (uint32_t)sp__permute(t, D, k);
        SP_EXPECT_MSG(pi[t] < D && !hit[pi[t]], "h=%u: the Feistel network is not a bijection", h);
        hit[pi[t]] = 1;
    }
    free(hit);
    return k;
}

/* Every length in [lo, hi] of the domain of half-width h, on up to 8 threads. */
static void check_domain(unsigned h, uint64_t lo, uint64_t hi, uint32_t *pi)
{
    sp_key const k = domain_table(h, pi);
    long const cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned const T = hi - lo < 64 ? 1 : (unsigned)(cores < 1 ? 1 : cores > 8 ? 8 : cores);
    pthread_t th[8];
    domain_job jobs[8];
    for (unsigned i = 0; i < T; i++) {
        jobs[i] = (domain_job){pi, k, lo, hi, i, T};
        SP_ASSERT_OK(pthread_create(&th[i], NULL, check_lengths, &jobs[i]));
    }
    for (unsigned i = 0; i < T; i++) pthread_join(th[i], NULL);
}

/* Every length 1 .. upto, domain by domain; pi holds 4^h entries for the largest domain. */
static void check_every_length(uint64_t upto, uint32_t *pi)
{
    for (unsigned h = 0; h <= 16; h++) {
        uint64_t const lo = h == 0 ? 1 : ((uint64_t)1 << (2 * h - 2)) + 1, hi = (uint64_t)1 << (2 * h);
        if (lo > upto) break;
        check_domain(h, lo, hi < upto ? hi : upto, pi);
    }
}

static void check_direct(uint64_t n)
{
    size_t const words = (size_t)(n + 63) / 64;
    uint64_t *const seen = (uint64_t *)calloc(words, sizeof *seen);
    sp_key const k = sp_key_fold_in(sp_key_from_seed(42), (uint32_t)n);
    for (uint64_t t = 0; t < n; t++) {
        uint64_t const x = sp__permute(t, n, k);
        SP_EXPECT_MSG(x < n && !(seen[x / 64] >> (x % 64) & 1), "n=%llu: t=%llu maps to %llu (out of range or twice)",
                      (unsigned long long)n, (unsigned long long)t, (unsigned long long)x);
        seen[x / 64] |= (uint64_t)1 << (x % 64);
    }
    free(seen);
}

SP_TEST(pipeline_shuffle_is_a_permutation_for_sampled_lengths)
{
    enum { EVERY_BITS = 12, TOP_H = 10, PER_DOMAIN = 24, DIRECT_K = 20 };
    uint64_t const every = ((uint64_t)1 << EVERY_BITS) + 2; /* enters the domain of 4^7 */
    uint32_t *const pi = (uint32_t *)malloc(((size_t)1 << (2 * TOP_H)) * sizeof *pi);
    SP_EXPECT(pi != NULL);
    check_every_length(every, pi);
    /* Above that, each domain's first two and last lengths and PER_DOMAIN lengths drawn
     * from a fixed seed (a failure reproduces; the full tier checks them all). */
    sp_key const draw = sp_key_from_seed(20240917);
    for (unsigned h = 7; h <= TOP_H; h++) {
        uint64_t const lo = ((uint64_t)1 << (2 * h - 2)) + 1, hi = (uint64_t)1 << (2 * h);
        sp_key const k = domain_table(h, pi);
        for (unsigned i = 0; i < PER_DOMAIN + 3; i++) {
            uint64_t const n = i == 0 ? lo : i == 1 ? lo + 1 : i == 2 ? hi : lo + sp_random_bits(draw, 64 * h + i) % (hi - lo);
            if (n <= every) continue;
            domain_job j = {pi, k, n, n, 0, 1};
            check_lengths(&j);
        }
    }
    free(pi);
    for (unsigned k = 1; k <= DIRECT_K; k++) {
        check_direct(((uint64_t)1 << k) - 1);
        check_direct(((uint64_t)1 << k) + 1);
    }
}

SP_TEST(pipeline_shuffle_is_a_permutation_for_every_length)
{
    if (!sp_test_full())
        sp_test_skip("full tier (SP_TEST_FULL=1), about two CPU minutes; the quick tier runs "
                     "pipeline_shuffle_is_a_permutation_for_sampled_lengths");
    /* Every length 1 .. 2^17 + 2 and 2^k +- 1 up to 2^24 + 1. */
    uint64_t const upto = ((uint64_t)1 << 17) + 2;
    uint32_t *const pi = (uint32_t *)malloc(((size_t)1 << 18) * sizeof *pi); /* the domain of 2^17 + 2 */
    SP_EXPECT(pi != NULL);
    check_every_length(upto, pi);
    free(pi);
    for (unsigned k = 1; k <= 24; k++) {
        check_direct(((uint64_t)1 << k) - 1);
        check_direct(((uint64_t)1 << k) + 1);
    }
}

SP_TEST(pipeline_episodic_finite_stream_pads_the_last_episodes_and_ends)
{
    const char *const list = write_sequences();
    sp_config c;
    /* Six episodes, four in parallel: round 2 has two real episodes and two padding ones. */
    file_config(&c, list, "episode_length: 3\nloop: false\nflow_fields_per_batch: 4\n");
    sp_sampler *const s = make(&c, NULL, 1, 0);
    for (int t = 0; t < 3; t++) {
        const sp_batch *const b = episode_step(s);
        for (size_t k = 0; k < 4; k++) SP_ASSERT_EQ_INT(b->mask[k], 1);
    }
    char ck[700];
    snprintf(ck, sizeof ck, "%s/ckpt", sp_test_tmpdir());
    for (int t = 0; t < 3; t++) {
        const sp_batch *const b = episode_step(s);
        SP_ASSERT_EQ_INT(b->mask[0] + b->mask[1] + b->mask[2] + b->mask[3], 2);
        SP_EXPECT(strcmp(b->files[2], "") == 0 && strcmp(b->files[3], "") == 0);
        SP_ASSERT_EQ_INT(b->done[3], t == 2);
    }
    sp_error e;
    SP_ASSERT_OK(sp_save_checkpoint(ck, s, 6, 1, &e));
    const sp_batch *b;
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_EPISODE_END);
    SP_ASSERT_OK(sp_sampler_next_episode(s, &e));
    SP_ASSERT_STATUS(sp_sampler_next(s, &b, &e), SP_ERR_END);
    sp_sampler_free(s);
    sp_sampler *const r = make(&c, ck, 1, 0);
    SP_ASSERT_STATUS(sp_sampler_next(r, &b, &e), SP_ERR_EPISODE_END);
    SP_ASSERT_OK(sp_sampler_next_episode(r, &e));
    SP_ASSERT_STATUS(sp_sampler_next(r, &b, &e), SP_ERR_END);
    sp_sampler_free(r);
    sp_config_free(&c);
}

SP_TEST(pipeline_seek_refuses_episodic_streams)
{
    const char *const list = write_sequences();
    sp_config c;
    file_config(&c, list, "episode_length: 3\n");
    sp_sampler *const s = make(&c, NULL, 1, 0);
    sp_error e;
    SP_ASSERT_STATUS(sp_sampler_seek(s, 2, &e), SP_ERR_UNSUPPORTED);
    SP_ASSERT_STR_CONTAINS(e.message, "episodic");
    sp_sampler_free(s);
    sp_config_free(&c);
}

/* ---- mapped flow files ------------------------------------------------------------------- */

/* A state taken mid flow batch from a sampler whose records are mapped files holds their
 * values (copied, since the mapping goes with the records): a sampler that reads the files
 * continues from it with the bytes of the uninterrupted mapped stream. When a mapped file
 * shrank (inside its only page: no SIGBUS, the stat sees it) before the state is taken, no
 * state is made, naming the file. */
SP_TEST(pipeline_state_of_mapped_records_resumes_and_refuses_a_shrunk_file)
{
    /* Files past the 4 KiB head the loader reads first (smaller ones are read whole). */
    static char dir[600];
    snprintf(dir, sizeof dir, "%s/mapped_flows", sp_test_tmpdir());
    SP_ASSERT_OK(mkdir(dir, 0755));
    enum { N = 64 };
    static float v[N * N * 2];
    for (int i = 0; i < NFILES; i++) {
        for (size_t k = 0; k < N * N; k++) {
            v[2 * k] = 0.3f * (float)(i + 1) + 0.01f * (float)(k / N);
            v[2 * k + 1] = -0.2f * (float)i + 0.02f * (float)(k % N);
        }
        char path[700];
        snprintf(path, sizeof path, "%s/flow_%d.npy", dir, i);
        size_t const shape[3] = {N, N, 2};
        sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, v);
    }
    sp_config c;
    file_config(&c, dir, "");
    sp_sampler *const a = sp_test_sampler(&c, 2, SP_PREFETCH_AUTO, SP_FLOW_FILES_MAP);
    sp_error e;
    const sp_batch *b = NULL;
    SP_ASSERT_OK(sp_sampler_next(a, &b, &e)); /* repetition 0 of 3: the records stay */
    sp_tree *t = NULL;
    SP_ASSERT_OK(sp_pipeline_state_tree(a, NULL, &t, &e));
    sp_sampler *const r = sp_test_sampler(&c, 2, SP_PREFETCH_AUTO, SP_FLOW_FILES_READ);
    SP_ASSERT_OK(sp_pipeline_restore_tree(r, t, &e));
    sp_tree_free(t);
    for (int j = 0; j < 4; j++) {
        const sp_batch *x = NULL, *y = NULL;
        SP_ASSERT_OK(sp_sampler_next(a, &x, &e));
        SP_ASSERT_OK(sp_sampler_next(r, &y, &e));
        size_t const npx = x->batch_size * x->height * x->width, nf = x->batch_size * x->flow_height * x->flow_width * 2;
        SP_EXPECT_MSG(x->batch_index == y->batch_index && memcmp(x->images1, y->images1, npx * sizeof(float)) == 0 &&
                          memcmp(x->images2, y->images2, npx * sizeof(float)) == 0 &&
                          memcmp(x->flow_fields, y->flow_fields, nf * sizeof(float)) == 0,
                      "batch %d after the restore differs", j);
    }
    /* Every current record of a is mapped; shrink them all, then ask for a state. */
    for (int i = 0; i < NFILES; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/flow_%d.npy", dir, i);
        SP_ASSERT_EQ_INT(truncate(path, 100), 0);
    }
    SP_ASSERT_STATUS(sp_pipeline_state_tree(a, NULL, &t, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "the file changed while it was in use");
    SP_ASSERT_STR_CONTAINS(e.message, "no checkpoint was made");
    sp_sampler_free(a);
    sp_sampler_free(r);
    sp_config_free(&c);
}
