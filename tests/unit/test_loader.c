/* test_loader.c: the loader object through its declared interface (src/internal/
 * sp_records.h) alone, without a sampler: takes, padding and the end of a finite stream,
 * reset, prefetched loads against pool loads, episode steps, and the all-or-nothing restore
 * of its part of the state. The order itself (permutation, shards) is tested in
 * test_sampler and test_pipeline. */
#include "sp_test.h"
#include "test_fixtures.h"

#include <sys/stat.h>

#include "sp_records.h"
#include "sp/sp_config.h"
#include "sp/sp_pool.h"

#define ANALYTIC_YAML                                                                                   \
    "scheduler_class: analytic\n"                                                                       \
    "analytic_flow: [{kind: uniform, u: 1, v: 0.5}, {kind: shear, rate: 0.1}, {kind: kinematic}]\n"     \
    "analytic_num_examples: 5\nimage_shape: [16, 16]\nflow_field_size: [40, 40]\nresolution: 1\n"       \
    "img_offset: [8, 8]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\nmin_speed_x: -2\n"       \
    "max_speed_x: 2\nmin_speed_y: -2\nmax_speed_y: 2\nbatch_size: 3\nflow_fields_per_batch: 3\n"         \
    "batches_per_flow_batch: 1\ndiameter_ranges: [[1, 2]]\nseed: 7\n"

typedef struct fixture {
    sp_config cfg;
    sp_pool *pool;
    sp_records *r;
} fixture;

static void open_loader(fixture *x, const char *yaml, size_t count, unsigned prefetch)
{
    sp_test_load_yaml(&x->cfg, yaml);
    SP_ASSERT_OK(sp_pool_create(&x->pool, 2));
    sp_sampler_options o;
    memset(&o, 0, sizeof o); /* sp_sampler_options_init's defaults; it lives in the sampler */
    o.prefetch_threads = prefetch ? prefetch : SP_PREFETCH_OFF; /* 0 here: loads on the pool */
    sp_error e;
    sp_status const st = sp__records_create(&x->r, &x->cfg, &o, count, x->pool, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp__records_create: %s", e.message);
}

static void close_loader(fixture *x)
{
    sp__records_free(x->r);
    sp_pool_free(x->pool);
    sp_config_free(&x->cfg);
}

SP_TEST(loader_take_pads_a_finite_stream_then_ends_and_reset_rewinds)
{
    fixture x;
    open_loader(&x, ANALYTIC_YAML "loop: false\nrandomize: false\n", 3, 0);
    SP_ASSERT_EQ_U64(sp__records_source_count(x.r), 5);
    SP_ASSERT_OK(sp__records_take(x.r, NULL));
    uint32_t first_seed = sp__records_ref(x.r, 0)->seed;
    for (size_t f = 0; f < 3; f++) {
        SP_EXPECT(sp__records_valid(x.r, f));
        SP_ASSERT_EQ_U64(sp__records_ref(x.r, f)->record, f);
        SP_ASSERT_EQ_U64(sp__records_ref(x.r, f)->position, f);
    }
    SP_ASSERT_STR_CONTAINS(sp__records_name(x.r, 1), "analytic://shear/1");
    SP_ASSERT_OK(sp__records_take(x.r, NULL));
    SP_EXPECT(sp__records_valid(x.r, 0) && sp__records_valid(x.r, 1) && !sp__records_valid(x.r, 2));
    SP_ASSERT_EQ_U64(sp__records_ref(x.r, 2)->record, 4); /* padding: the last record, seed 0, no name */
    SP_ASSERT_EQ_U64(sp__records_ref(x.r, 2)->seed, 0);
    SP_EXPECT(strcmp(sp__records_name(x.r, 2), "") == 0);
    SP_ASSERT_OK(sp__records_load(x.r, NULL));
    SP_ASSERT_EQ_U64(sp__records_flow(x.r, 2)->height, 2); /* padding: a zero 2x2 flow */
    SP_EXPECT(sp__records_flow(x.r, 2)->data[0] == 0.0f);
    sp_error e;
    SP_ASSERT_STATUS(sp__records_take(x.r, &e), SP_ERR_END);
    SP_ASSERT_STR_CONTAINS(e.message, "end of data: 5 records read");
    sp__records_reset(x.r);
    SP_ASSERT_OK(sp__records_take(x.r, NULL));
    SP_ASSERT_EQ_U64(sp__records_ref(x.r, 0)->seed, first_seed);
    close_loader(&x);
}

static int same_flow(const sp_flow *a, const sp_flow *b)
{
    return a->height == b->height && a->width == b->width && a->channels == b->channels &&
           memcmp(a->data, b->data, a->height * a->width * a->channels * sizeof(float)) == 0;
}

/* Prefetch threads change when records are read, never which or what (label threads). */
SP_TEST(loader_prefetched_loads_equal_pool_loads)
{
    fixture a, b;
    open_loader(&a, ANALYTIC_YAML "loop: true\nrandomize: true\n", 3, 0);
    open_loader(&b, ANALYTIC_YAML "loop: true\nrandomize: true\n", 3, 2);
    for (int take = 0; take < 7; take++) {
        if (take == 4) { /* the prefetch window restarts at the new position */
            sp__records_reset(a.r);
            sp__records_reset(b.r);
        }
        SP_ASSERT_OK(sp__records_take(a.r, NULL));
        SP_ASSERT_OK(sp__records_take(b.r, NULL));
        SP_ASSERT_OK(sp__records_load(a.r, NULL));
        SP_ASSERT_OK(sp__records_load(b.r, NULL));
        for (size_t f = 0; f < 3; f++) {
            SP_EXPECT(memcmp(sp__records_ref(a.r, f), sp__records_ref(b.r, f), sizeof(sp_record_ref)) == 0);
            SP_EXPECT_MSG(same_flow(sp__records_flow(a.r, f), sp__records_flow(b.r, f)), "take %d record %zu", take,
                          f);
        }
    }
    close_loader(&a);
    close_loader(&b);
}

/* Sequence d: n files whose flows are 10 d + t everywhere (t = time step). */
static void write_sequence(const char *dir, int d, int n)
{
    SP_ASSERT_OK(mkdir(dir, 0755));
    for (int t = 0; t < n; t++) {
        float f[8 * 8 * 2];
        for (size_t i = 0; i < 8 * 8 * 2; i++) f[i] = (float)(10 * d + t);
        char path[1024];
        snprintf(path, sizeof path, "%s/flow_%d.npy", dir, t);
        size_t const shape[3] = {8, 8, 2};
        sp_test_write_npy(path, SP_DTYPE_F32, 3, shape, f);
    }
}

/* Directories seq_a (3 files) and seq_b (2 files): with L = 2, episodes a/0 a/1 b/0. */
static void write_sequences(char *yaml, size_t cap)
{
    char list[1400] = "";
    for (int d = 0; d < 2; d++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/seq_%c", sp_test_tmpdir(), 'a' + d);
        write_sequence(dir, d, 3 - d);
        size_t const len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", d ? ", " : "", dir);
    }
    snprintf(yaml, cap,
             "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [8, 8]\nflow_field_size: [24, 24]\n"
             "resolution: 1\nimg_offset: [8, 8]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\n"
             "min_speed_x: -1\nmax_speed_x: 1\nmin_speed_y: -1\nmax_speed_y: 1\nbatch_size: 2\n"
             "flow_fields_per_batch: 2\nbatches_per_flow_batch: 1\ndiameter_ranges: [[1, 2]]\nseed: 1\n"
             "episode_length: 2\nloop: false\nrandomize: false\n",
             list);
}

SP_TEST(loader_episode_steps_follow_each_episode_then_end)
{
    char yaml[4096];
    write_sequences(yaml, sizeof yaml);
    fixture x;
    open_loader(&x, yaml, 2, 0);
    static const float want[2][2][2] = {{{0, 1}, {1, 2}}, {{10, 11}, {10, 11}}}; /* [run][f][t] */
    sp_error e;
    for (int run = 0; run < 2; run++) {
        for (int64_t t = 0; t < 2; t++) {
            SP_ASSERT_EQ_INT(sp__records_timestep(x.r), t);
            SP_ASSERT_OK(sp__records_step(x.r, &e));
            SP_ASSERT_OK(sp__records_load(x.r, &e));
            SP_EXPECT(sp__records_flow(x.r, 0)->data[0] == want[run][0][t]);
            SP_EXPECT(!sp__records_valid(x.r, 1) || sp__records_flow(x.r, 1)->data[0] == want[run][1][t]);
            sp__records_step_done(x.r);
        }
        SP_ASSERT_STATUS(sp__records_step(x.r, &e), SP_ERR_EPISODE_END);
        sp__records_rewind_episode(x.r);
    }
    SP_EXPECT(!sp__records_valid(x.r, 1)); /* three episodes: the second run pads */
    SP_ASSERT_STATUS(sp__records_step(x.r, &e), SP_ERR_END);
    SP_ASSERT_STR_CONTAINS(e.message, "3 episodes read");
    close_loader(&x);
}

SP_TEST(loader_state_restores_into_a_fresh_loader_and_refuses_bad_records_unchanged)
{
    fixture a, b;
    open_loader(&a, ANALYTIC_YAML "loop: true\nrandomize: true\n", 3, 0);
    open_loader(&b, ANALYTIC_YAML "loop: true\nrandomize: true\n", 3, 0);
    for (int k = 0; k < 3; k++) SP_ASSERT_OK(sp__records_take(a.r, NULL));
    SP_ASSERT_OK(sp__records_load(a.r, NULL));
    sp_records_state st;
    sp__records_state_get(a.r, &st);
    SP_ASSERT_EQ_U64(st.next, 9);
    SP_ASSERT_EQ_U64(st.epoch, 1);
    sp_record_ref bad[3];
    memcpy(bad, st.refs, sizeof bad);
    bad[1].record = 5; /* one past the source */
    sp_records_state hostile = st;
    hostile.refs = bad;
    sp_error e;
    SP_ASSERT_STATUS(sp__records_state_set(b.r, &hostile, 1, &e), SP_ERR_CORRUPT);
    SP_ASSERT_STR_CONTAINS(e.message, "cached record 5 out of range");
    sp_records_state untouched;
    sp__records_state_get(b.r, &untouched);
    SP_ASSERT_EQ_U64(untouched.next, 0);
    SP_ASSERT_OK(sp__records_state_set(b.r, &st, 1, &e));
    for (size_t f = 0; f < 3; f++) {
        SP_EXPECT(memcmp(sp__records_ref(a.r, f), sp__records_ref(b.r, f), sizeof(sp_record_ref)) == 0);
        SP_EXPECT(strcmp(sp__records_name(a.r, f), sp__records_name(b.r, f)) == 0);
        SP_EXPECT(same_flow(sp__records_flow(a.r, f), sp__records_flow(b.r, f)));
    }
    SP_ASSERT_OK(sp__records_take(a.r, NULL));
    SP_ASSERT_OK(sp__records_take(b.r, NULL));
    SP_EXPECT(memcmp(sp__records_ref(a.r, 0), sp__records_ref(b.r, 0), sizeof(sp_record_ref)) == 0);
    close_loader(&a);
    close_loader(&b);
}
