/* test_ckpt.c: the checkpoint manager (sp_ckpt.h).
 *
 * Expectations are independent of the code under test: retention lists are hand-computed
 * from the rules and Orbax's worked examples in docs/checkpoints.md, Retention (with our
 * "latest is never deleted" rule applied by hand), CRC32C known answers come from RFC 3720,
 * zarr output is read back by python3-zarr, and corruption is made by editing files
 * directly on disk.
 */
#include "sp_test.h"

#include "ckpt_internal.h"
#include "sp/sp_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *root_path(const char *leaf)
{
    static char buf[8][1024];
    static int next;
    char *const b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", sp_test_tmpdir(), leaf);
    return b;
}

static sp_ckpt_manager *open_mgr(const char *root, const sp_ckpt_options *opt)
{
    sp_ckpt_manager *m = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const s = sp_ckpt_manager_open(&m, root, opt, &e);
    SP_EXPECT_MSG(s == SP_OK, "open %s: %d %s", root, s, e.message);
    return m;
}

static void close_mgr(sp_ckpt_manager *m)
{
    sp_error e;
    sp_error_clear(&e);
    sp_status const s = sp_ckpt_manager_close(m, 60000, &e);
    SP_EXPECT_MSG(s == SP_OK, "close: %d %s", s, e.message);
}

/* A tree whose contents are a function of step. */
static sp_tree *make_tree(int64_t step)
{
    sp_tree *t = NULL;
    SP_ASSERT_OK(sp_tree_create(&t));
    float flows[4 * 6 * 5 * 2];
    for (size_t i = 0; i < SP_ARRAY_LEN(flows); i++) flows[i] = (float)step * 1000.0f + (float)i * 0.25f;
    uint64_t const fshape[4] = {4, 6, 5, 2};
    unsigned char mask[4 * 6];
    for (size_t i = 0; i < sizeof mask; i++) mask[i] = (unsigned char)((i + (size_t)step) % 3 == 0);
    uint64_t const mshape[2] = {4, 6};
    int32_t epochs[3] = {(int32_t)step, (int32_t)step + 1, -7};
    uint64_t const eshape[1] = {3};
    uint32_t const seed = (uint32_t)(0xdeadbeefu ^ (uint32_t)step);
    char json[128];
    snprintf(json, sizeof json, "{\"epoch\": %lld, \"position\": [1, 2, 3]}", (long long)step);
    SP_ASSERT_OK(sp_tree_add_array(t, "sampler/flows", SP_DTYPE_F32, 4, fshape, flows, NULL));
    SP_ASSERT_OK(sp_tree_add_array(t, "sampler/mask", SP_DTYPE_BOOL, 2, mshape, mask, NULL));
    SP_ASSERT_OK(sp_tree_add_array(t, "sampler/epochs", SP_DTYPE_I32, 1, eshape, epochs, NULL));
    SP_ASSERT_OK(sp_tree_add_array(t, "sampler/seed", SP_DTYPE_U32, 0, NULL, &seed, NULL));
    SP_ASSERT_OK(sp_tree_add_json(t, "loader", json, NULL));
    SP_ASSERT_OK(sp_tree_add_i64(t, "counters/step", step, NULL));
    SP_ASSERT_OK(sp_tree_add_f64(t, "counters/lr", 1.0 / 3.0 + (double)step, NULL));
    SP_ASSERT_OK(sp_tree_add_string(t, "files/current", "flow_000001.npy", NULL));
    return t;
}

/* Leaf-by-leaf equality (kind, dtype, shape, bytes, values). */
static void expect_trees_equal(const sp_tree *a, const sp_tree *b)
{
    SP_ASSERT_EQ_INT(sp_tree_count(a), sp_tree_count(b));
    for (size_t i = 0; i < sp_tree_count(a); i++) {
        sp_leaf_view x, y;
        SP_ASSERT_OK(sp_tree_at(a, i, &x));
        SP_ASSERT_OK(sp_tree_find(b, x.path, &y));
        SP_EXPECT_MSG(x.kind == y.kind, "%s: kind", x.path);
        switch (x.kind) {
        case SP_LEAF_ARRAY:
            SP_EXPECT_MSG(x.dtype == y.dtype && x.ndim == y.ndim && x.nbytes == y.nbytes, "%s: type", x.path);
            for (size_t d = 0; d < x.ndim; d++) SP_ASSERT_EQ_U64(x.shape[d], y.shape[d]);
            SP_EXPECT_MSG(x.nbytes == 0 || memcmp(x.data, y.data, x.nbytes) == 0, "%s: data differs", x.path);
            break;
        case SP_LEAF_I64: SP_ASSERT_EQ_INT(x.i64, y.i64); break;
        case SP_LEAF_F64: SP_EXPECT_MSG(memcmp(&x.f64, &y.f64, sizeof x.f64) == 0, "%s: f64 bits", x.path); break;
        case SP_LEAF_STRING:
        case SP_LEAF_JSON: SP_EXPECT_MSG(strcmp(x.text, y.text) == 0, "%s: '%s' vs '%s'", x.path, x.text, y.text); break;
        }
    }
}

static void save_step(sp_ckpt_manager *m, int64_t step, const sp_ckpt_save_args *args)
{
    sp_tree *const t = make_tree(step);
    sp_error e;
    sp_error_clear(&e);
    int saved = 0;
    sp_status const s = sp_ckpt_save(m, step, t, args, &saved, &e);
    SP_EXPECT_MSG(s == SP_OK, "save %lld: %d %s", (long long)step, s, e.message);
    sp_tree_free(t);
}

static void expect_steps(sp_ckpt_manager *m, const int64_t *want, size_t n)
{
    int64_t got[256];
    size_t const k = sp_ckpt_all_steps(m, got, 256);
    char gs[2048] = "", ws[2048] = "";
    for (size_t i = 0; i < k && i < 256; i++) snprintf(gs + strlen(gs), sizeof gs - strlen(gs), "%lld ", (long long)got[i]);
    for (size_t i = 0; i < n; i++) snprintf(ws + strlen(ws), sizeof ws - strlen(ws), "%lld ", (long long)want[i]);
    SP_EXPECT_MSG(k == n && strcmp(gs, ws) == 0, "steps: got [%s], want [%s]", gs, ws);
}

/* Restores step and compares it with make_tree(step). */
static void expect_restores(sp_ckpt_manager *m, int64_t step)
{
    sp_tree *back = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const s = sp_ckpt_restore(m, step, NULL, NULL, &back, &e);
    SP_EXPECT_MSG(s == SP_OK, "restore %lld: %d %s", (long long)step, s, e.message);
    sp_tree *const want = make_tree(step);
    expect_trees_equal(want, back);
    sp_tree_free(want);
    sp_tree_free(back);
}

static int path_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The CLI links every module; when it is not built or cannot even print its version (a
 * build where another module's start-up code fails), the CLI cases are skipped. */
static void require_cli(void)
{
    if (!path_exists(sp_test_cli())) sp_test_skip("CLI not built at %s", sp_test_cli());
    char out[256];
    int const rc = sp_test_sh(out, sizeof out, "'%s' --version 2>&1", sp_test_cli());
    if (rc != 0) sp_test_skip("'%s --version' exits %d", sp_test_cli(), rc);
}

/* ---- CRC32C, names, tree ---- */

SP_TEST(ckpt_crc32c_known_answers)
{
    /* RFC 3720 B.4 and the classic check value. */
    unsigned char zeros[32], ones[32], inc[32];
    memset(zeros, 0, 32);
    memset(ones, 0xff, 32);
    for (int i = 0; i < 32; i++) inc[i] = (unsigned char)i;
    SP_ASSERT_EQ_U64(sp_crc32c(0, "123456789", 9), 0xE3069283u);
    SP_ASSERT_EQ_U64(sp_crc32c(0, zeros, 32), 0x8A9136AAu);
    SP_ASSERT_EQ_U64(sp_crc32c(0, ones, 32), 0x62A8AB43u);
    SP_ASSERT_EQ_U64(sp_crc32c(0, inc, 32), 0x46DD794Eu);
    SP_ASSERT_EQ_U64(sp__crc32c_portable(0, "123456789", 9), 0xE3069283u);
    SP_ASSERT_EQ_U64(sp__crc32c_portable(0, inc, 32), 0x46DD794Eu);
    /* Continuation equals one pass, on both paths, at every split. */
    for (size_t k = 0; k <= 32; k++) {
        SP_ASSERT_EQ_U64(sp_crc32c(sp_crc32c(0, inc, k), inc + k, 32 - k), 0x46DD794Eu);
        SP_ASSERT_EQ_U64(sp__crc32c_portable(sp__crc32c_portable(0, inc, k), inc + k, 32 - k), 0x46DD794Eu);
    }
}

SP_TEST(ckpt_crc32c_fast_path_equals_portable)
{
    /* Sizes around the interleaved path's thresholds (64 x 8 KiB, blocks of 3 x 8 KiB). */
    size_t const n = (size_t)3 << 20;
    unsigned char *const b = (unsigned char *)malloc(n);
    SP_EXPECT(b != NULL);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        b[i] = (unsigned char)x;
    }
    size_t const sizes[] = {0, 1, 7, 8, 9, 4095, 524287, 524288, 524289, 3 * 8192 * 64 + 5, n - 3, n};
    for (size_t i = 0; i < SP_ARRAY_LEN(sizes); i++) {
        uint32_t const want = sp__crc32c_portable(0, b + 3, sizes[i] - (sizes[i] >= 3 ? 3 : 0));
        uint32_t const got = sp_crc32c(0, b + 3, sizes[i] - (sizes[i] >= 3 ? 3 : 0));
        SP_EXPECT_MSG(got == want, "size %zu: %08x vs portable %08x", sizes[i], got, want);
    }
    free(b);
}

SP_TEST(ckpt_step_name_rules)
{
    int64_t s = -1;
    /* Unpadded: 0 | [1-9]\d* */
    SP_EXPECT(sp__ckpt_parse_step_name("23", NULL, 0, &s) && s == 23);
    SP_EXPECT(sp__ckpt_parse_step_name("0", NULL, 0, &s) && s == 0);
    SP_EXPECT(!sp__ckpt_parse_step_name("0023", NULL, 0, &s));
    SP_EXPECT(!sp__ckpt_parse_step_name("23.sp-tmp-1-00000000", NULL, 0, &s));
    SP_EXPECT(!sp__ckpt_parse_step_name("", NULL, 0, &s));
    SP_EXPECT(!sp__ckpt_parse_step_name("-1", NULL, 0, &s));
    /* Padded to 4: 0\d{3} | [1-9]\d{3}\d* */
    SP_EXPECT(sp__ckpt_parse_step_name("0023", NULL, 4, &s) && s == 23);
    SP_EXPECT(sp__ckpt_parse_step_name("0000", NULL, 4, &s) && s == 0);
    SP_EXPECT(sp__ckpt_parse_step_name("12345", NULL, 4, &s) && s == 12345);
    SP_EXPECT(!sp__ckpt_parse_step_name("23", NULL, 4, &s));
    SP_EXPECT(!sp__ckpt_parse_step_name("00023", NULL, 4, &s));
    /* Prefix: "step_" then the number. */
    SP_EXPECT(sp__ckpt_parse_step_name("step_23", "step", 0, &s) && s == 23);
    SP_EXPECT(sp__ckpt_parse_step_name("step_0023", "step", 4, &s) && s == 23);
    SP_EXPECT(!sp__ckpt_parse_step_name("step23", "step", 0, &s));
    SP_EXPECT(!sp__ckpt_parse_step_name("23", "step", 0, &s));
    SP_EXPECT(!sp__ckpt_parse_step_name("stepx_23", "step", 0, &s));
}

SP_TEST(ckpt_names_on_disk_are_prefixed_and_padded)
{
    const char *const root = root_path("named");
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.step_prefix = "step";
    opt.step_format_fixed_length = 4;
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    save_step(m, 23, NULL);
    save_step(m, 12345, NULL);
    close_mgr(m);
    char p[1200];
    snprintf(p, sizeof p, "%s/step_0023/_MANIFEST", root);
    SP_EXPECT_MSG(path_exists(p), "missing %s", p);
    snprintf(p, sizeof p, "%s/step_12345/sampler/flows/.zarray", root);
    SP_EXPECT_MSG(path_exists(p), "missing %s", p);
    /* An unpadded manager does not see padded names (docs/checkpoints.md, On-disk layout), a
     * padded one does. */
    sp_ckpt_options plain;
    sp_ckpt_options_init(&plain);
    plain.step_prefix = "step";
    sp_ckpt_manager *const m2 = open_mgr(root, &plain);
    int64_t const want_plain[] = {12345};
    expect_steps(m2, want_plain, 1);
    close_mgr(m2);
    /* detect_naming reads _ROOT_METADATA written by the first writer. */
    sp_ckpt_options det;
    sp_ckpt_options_init(&det);
    det.detect_naming = 1;
    det.read_only = 1;
    sp_ckpt_manager *const m3 = open_mgr(root, &det);
    int64_t const want_all[] = {23, 12345};
    expect_steps(m3, want_all, 2);
    expect_restores(m3, 23);
    close_mgr(m3);
}

SP_TEST(ckpt_tree_paths_and_lookups)
{
    sp_tree *t = NULL;
    SP_ASSERT_OK(sp_tree_create(&t));
    sp_error e;
    int32_t const v = 5;
    uint64_t const one = 1;
    SP_ASSERT_OK(sp_tree_add_array(t, "a/b", SP_DTYPE_I32, 1, &one, &v, &e));
    SP_ASSERT_STATUS(sp_tree_add_i64(t, "a/b", 1, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "duplicate");
    SP_ASSERT_STATUS(sp_tree_add_i64(t, "a/b/c", 1, &e), SP_ERR_INVALID); /* inside a leaf */
    SP_ASSERT_STR_CONTAINS(e.message, "a/b/c");
    SP_ASSERT_STATUS(sp_tree_add_i64(t, "a", 1, &e), SP_ERR_INVALID); /* would contain a/b */
    const char *const bad[] = {"", "/a", "a/", "a//b", ".hidden", "_x", "x.json", "a b", "a/../b", "é"};
    for (size_t i = 0; i < SP_ARRAY_LEN(bad); i++)
        SP_EXPECT_MSG(sp_tree_add_i64(t, bad[i], 1, &e) == SP_ERR_INVALID, "accepted '%s'", bad[i]);
    SP_ASSERT_OK(sp_tree_add_i64(t, "a-b", 2, &e));
    SP_ASSERT_OK(sp_tree_add_string(t, "z", "text", &e));
    SP_ASSERT_STATUS(sp_tree_add_json(t, "j", "{\"a\":", &e), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_tree_add_string(t, "s", "\xff\xfe", &e), SP_ERR_INVALID);
    unsigned char const badbool[2] = {0, 2};
    uint64_t const two = 2;
    SP_ASSERT_STATUS(sp_tree_add_array(t, "bb", SP_DTYPE_BOOL, 1, &two, badbool, &e), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_tree_add_array(t, "bd", SP_DTYPE_COUNT_, 1, &two, badbool, &e), SP_ERR_INVALID);
    uint64_t const huge[2] = {UINT64_C(1) << 40, UINT64_C(1) << 40};
    SP_ASSERT_STATUS(sp_tree_add_array(t, "h", SP_DTYPE_U8, 2, huge, badbool, &e), SP_ERR_RANGE);
    /* Sorted iteration: "a-b" < "a/b" < "z". */
    SP_ASSERT_EQ_INT(sp_tree_count(t), 3);
    sp_leaf_view lv;
    SP_ASSERT_OK(sp_tree_at(t, 0, &lv));
    SP_EXPECT(strcmp(lv.path, "a-b") == 0 && lv.kind == SP_LEAF_I64 && lv.i64 == 2);
    SP_ASSERT_OK(sp_tree_find(t, "a/b", &lv));
    SP_EXPECT(lv.kind == SP_LEAF_ARRAY && lv.ndim == 1 && lv.shape[0] == 1 && *(const int32_t *)lv.data == 5);
    SP_ASSERT_STATUS(sp_tree_find(t, "nope", &lv), SP_ERR_NOTFOUND);
    sp_tree_free(t);
    sp_tree_free(NULL);
}

/* ---- retention (docs/checkpoints.md, Retention: Orbax's examples, our latest-is-kept rule
 * applied by hand) ---- */

SP_TEST(ckpt_retention_max_to_keep_and_keep_period)
{
    /* max_to_keep=2, keep_period=4, save_interval_steps=2, steps 0..11 -> [0,4,8,10]. */
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.max_to_keep = 2;
    opt.keep_period = 4;
    opt.save_interval_steps = 2;
    sp_ckpt_manager *const m = open_mgr(root_path("r1"), &opt);
    int saves = 0;
    for (int64_t s = 0; s <= 11; s++) {
        if (!sp_ckpt_should_save(m, s)) continue;
        save_step(m, s, NULL);
        saves++;
    }
    SP_ASSERT_EQ_INT(saves, 6);
    int64_t const want[] = {0, 4, 8, 10};
    expect_steps(m, want, 4);
    close_mgr(m);
    /* The listing comes from disk: a fresh manager sees the same. */
    sp_ckpt_manager *const m2 = open_mgr(root_path("r1"), &opt);
    expect_steps(m2, want, 4);
    for (size_t i = 0; i < 4; i++) expect_restores(m2, want[i]);
    close_mgr(m2);
}

SP_TEST(ckpt_retention_time_interval_across_restart)
{
    /* max_to_keep=2, keep_time_interval=3h, steps 0..9 one hour apart -> [0,3,6,8,9];
     * restart, steps 10..19 -> [0,3,6,9,12,15,18,19]. */
    int64_t const hour = INT64_C(3600000000000);
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), 0);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.max_to_keep = 2;
    opt.keep_time_interval_ns = 3 * hour;
    opt.fs = &f.fs;
    opt.durable = 0;
    const char *const root = root_path("r2");
    sp_ckpt_manager *m = open_mgr(root, &opt);
    for (int64_t s = 0; s <= 9; s++) {
        f.clock_ns = INT64_C(1700000000000000000) + s * hour;
        save_step(m, s, NULL);
    }
    int64_t const want1[] = {0, 3, 6, 8, 9};
    expect_steps(m, want1, 5);
    close_mgr(m);
    m = open_mgr(root, &opt);
    expect_steps(m, want1, 5);
    for (int64_t s = 10; s <= 19; s++) {
        f.clock_ns = INT64_C(1700000000000000000) + s * hour;
        save_step(m, s, NULL);
    }
    int64_t const want2[] = {0, 3, 6, 9, 12, 15, 18, 19};
    expect_steps(m, want2, 8);
    close_mgr(m);
}

SP_TEST(ckpt_retention_zero_keeps_latest)
{
    /* Orbax: max_to_keep=0, keep_period=3, keep_time_interval=5h over 9 hourly saves ->
     * [0,3,5,6]. Our rule also keeps the latest committed step (8): [0,3,5,6,8]. */
    int64_t const hour = INT64_C(3600000000000);
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), 0);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.max_to_keep = 0;
    opt.keep_period = 3;
    opt.keep_time_interval_ns = 5 * hour;
    opt.fs = &f.fs;
    opt.durable = 0;
    sp_ckpt_manager *const m = open_mgr(root_path("r3"), &opt);
    for (int64_t s = 0; s <= 8; s++) {
        f.clock_ns = INT64_C(1700000000000000000) + s * hour;
        save_step(m, s, NULL);
        SP_ASSERT_EQ_INT(sp_ckpt_latest_step(m), s); /* never deleted right after commit */
    }
    int64_t const want[] = {0, 3, 5, 6, 8};
    expect_steps(m, want, 5);
    close_mgr(m);
}

static void save_with_loss(sp_ckpt_manager *m, int64_t step, double loss)
{
    sp_ckpt_metric const metric = {"loss", loss};
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.metrics = &metric;
    a.n_metrics = 1;
    save_step(m, step, &a);
}

SP_TEST(ckpt_retention_best_n_across_restart)
{
    /* best_fn=loss, min, max_to_keep=2: losses [5,2,4,3,7], restart, [1,10,9,7,4].
     * Orbax keeps [1,5]; with the latest always kept: [1,5,9]; best_step = 5. */
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.max_to_keep = 2;
    opt.best_metric = "loss";
    opt.best_mode = SP_CKPT_BEST_MIN;
    opt.durable = 0;
    const char *const root = root_path("r4");
    double const l1[] = {5, 2, 4, 3, 7}, l2[] = {1, 10, 9, 7, 4};
    sp_ckpt_manager *m = open_mgr(root, &opt);
    for (int i = 0; i < 5; i++) save_with_loss(m, i, l1[i]);
    int64_t const mid[] = {1, 3, 4}; /* hand-computed: best {1,3} + latest 4 */
    expect_steps(m, mid, 3);
    SP_ASSERT_EQ_INT(sp_ckpt_best_step(m), 1);
    close_mgr(m);
    m = open_mgr(root, &opt); /* metrics of old steps are re-read from disk */
    SP_ASSERT_EQ_INT(sp_ckpt_best_step(m), 1);
    for (int i = 0; i < 5; i++) save_with_loss(m, 5 + i, l2[i]);
    int64_t const want[] = {1, 5, 9};
    expect_steps(m, want, 3);
    SP_ASSERT_EQ_INT(sp_ckpt_best_step(m), 5);
    close_mgr(m);
    /* Max mode ranks the other way: highest "loss" values kept. */
    opt.best_mode = SP_CKPT_BEST_MAX;
    m = open_mgr(root_path("r4max"), &opt);
    for (int i = 0; i < 5; i++) save_with_loss(m, i, l1[i]);
    int64_t const wmax[] = {0, 2, 4}; /* losses 5, 4, 7: best two are 4 (7) and 0 (5); 2 (4) kept? */
    (void)wmax;
    /* Hand computation, step by step (max, keep 2, latest kept):
     *   [0]            keep all
     *   [0,1]          keep all (2 <= n)
     *   [0,1,2]        best 0(5),2(4); latest 2 -> delete 1
     *   [0,2,3]        best 0(5),2(4); latest 3 -> keep
     *   [0,2,3,4]      best 4(7),0(5); latest 4 -> delete 2,3 -> [0,4] */
    int64_t const want_max[] = {0, 4};
    expect_steps(m, want_max, 2);
    SP_ASSERT_EQ_INT(sp_ckpt_best_step(m), 4);
    close_mgr(m);
}

SP_TEST(ckpt_retention_best_without_metrics_keeps_all)
{
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.max_to_keep = 2;
    opt.best_metric = "loss";
    opt.durable = 0;
    sp_ckpt_manager *m = open_mgr(root_path("r5"), &opt);
    for (int64_t s = 0; s < 5; s++) save_step(m, s, NULL);
    int64_t const want[] = {0, 1, 2, 3, 4};
    expect_steps(m, want, 5);
    SP_ASSERT_EQ_INT(sp_ckpt_best_step(m), SP_CKPT_NONE);
    close_mgr(m);
    /* keep_checkpoints_without_metrics = 0: they are eligible; only the latest stays. */
    opt.keep_checkpoints_without_metrics = 0;
    m = open_mgr(root_path("r5b"), &opt);
    for (int64_t s = 0; s < 5; s++) save_step(m, s, NULL);
    int64_t const want_b[] = {4};
    expect_steps(m, want_b, 1);
    close_mgr(m);
}

SP_TEST(ckpt_retention_pure_function)
{
    /* The decision function alone, on the final state of the first retention example
     * (docs/checkpoints.md, Retention) plus extras. */
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.max_to_keep = 2;
    opt.keep_period = 4;
    sp__step_rec recs[6];
    memset(recs, 0, sizeof recs);
    int64_t const steps[6] = {0, 2, 4, 6, 8, 10};
    for (int i = 0; i < 6; i++) recs[i].step = steps[i];
    unsigned char keep[6];
    sp__ckpt_retention(&opt, 0, recs, 6, keep);
    unsigned char const want[6] = {1, 0, 1, 0, 1, 1};
    SP_EXPECT(memcmp(keep, want, 6) == 0);
    opt.max_to_keep = -1;
    opt.keep_period = 0;
    sp__ckpt_retention(&opt, 0, recs, 6, keep);
    for (int i = 0; i < 6; i++) SP_EXPECT(keep[i] == 1);
}

/* ---- should_save and force ---- */

static int odd_only(void *ctx, int64_t step, int64_t last)
{
    (void)last;
    ++*(int *)ctx;
    return step % 2 == 1;
}

SP_TEST(ckpt_should_save_intervals_steps_force)
{
    /* save_interval_steps=10000, save_on_steps={1,3,5}, steps 0..5 -> {0,1,3,5}. */
    int64_t const on[] = {1, 3, 5};
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.save_interval_steps = 10000;
    opt.save_on_steps = on;
    opt.n_save_on_steps = 3;
    opt.durable = 0;
    sp_ckpt_manager *const m = open_mgr(root_path("s1"), &opt);
    for (int64_t s = 0; s <= 5; s++) {
        sp_tree *const t = make_tree(s);
        int saved = -1;
        SP_ASSERT_OK(sp_ckpt_save(m, s, t, NULL, &saved, NULL));
        SP_ASSERT_EQ_INT(saved, s == 0 || s == 1 || s == 3 || s == 5);
        sp_tree_free(t);
    }
    int64_t const want[] = {0, 1, 3, 5};
    expect_steps(m, want, 4);
    /* step <= latest: never, even on the interval. */
    SP_EXPECT(!sp_ckpt_should_save(m, 5));
    SP_EXPECT(!sp_ckpt_should_save(m, 4));
    SP_EXPECT(sp_ckpt_should_save(m, 10000));
    SP_EXPECT(!sp_ckpt_should_save(m, 10001));
    /* force saves an off-interval step but never overwrites. */
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = 1;
    save_step(m, 7, &a);
    sp_tree *const t = make_tree(7);
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_save(m, 7, t, &a, NULL, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "7");
    /* Force of an older, absent step works (it is not the latest). */
    save_step(m, 2, &a);
    int64_t const want2[] = {0, 1, 2, 3, 5, 7};
    expect_steps(m, want2, 6);
    SP_ASSERT_EQ_INT(sp_ckpt_latest_step(m), 7);
    sp_tree_free(t);
    close_mgr(m);
    /* A user predicate replaces interval, explicit steps and the initial-save rule. */
    int calls = 0;
    sp_ckpt_options o2;
    sp_ckpt_options_init(&o2);
    o2.should_save_fn = odd_only;
    o2.should_save_ctx = &calls;
    sp_ckpt_manager *const m2 = open_mgr(root_path("s2"), &o2);
    SP_EXPECT(!sp_ckpt_should_save(m2, 0));
    SP_EXPECT(sp_ckpt_should_save(m2, 1));
    SP_EXPECT(calls == 2);
    close_mgr(m2);
    /* Read-only: never saves, save is refused. */
    sp_ckpt_options ro;
    sp_ckpt_options_init(&ro);
    ro.read_only = 1;
    sp_ckpt_manager *const m3 = open_mgr(root_path("s1"), &ro);
    SP_EXPECT(!sp_ckpt_should_save(m3, 100000));
    sp_tree *const t3 = make_tree(9);
    SP_ASSERT_STATUS(sp_ckpt_save(m3, 100000, t3, &a, NULL, NULL), SP_ERR_READONLY);
    SP_ASSERT_STATUS(sp_ckpt_delete(m3, 0, NULL), SP_ERR_READONLY);
    expect_restores(m3, 7);
    sp_tree_free(t3);
    close_mgr(m3);
    /* Read-only on a missing root does not create it. */
    SP_ASSERT_STATUS(sp_ckpt_manager_open(&(sp_ckpt_manager *){NULL}, root_path("absent"), &ro, NULL),
                     SP_ERR_NOTFOUND);
    SP_EXPECT(!path_exists(root_path("absent")));
}

SP_TEST(ckpt_flax_mapping)
{
    char buf[80];
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    SP_ASSERT_OK(sp_ckpt_options_from_flax(&opt, 2, 3, "checkpoint_", buf, sizeof buf, NULL));
    SP_ASSERT_EQ_INT(opt.max_to_keep, 2);
    SP_ASSERT_EQ_INT(opt.keep_period, 3);
    SP_EXPECT(opt.step_prefix && strcmp(opt.step_prefix, "checkpoint") == 0);
    sp_error e;
    sp_ckpt_options bad;
    sp_ckpt_options_init(&bad);
    SP_ASSERT_STATUS(sp_ckpt_options_from_flax(&bad, 1, 0, "ckpt", buf, sizeof buf, &e), SP_ERR_UNSUPPORTED);
    opt.durable = 0;
    const char *const root = root_path("flax");
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    for (int64_t s = 0; s <= 7; s++) save_step(m, s, NULL);
    /* keep=2 -> newest two (6,7); keep_every_n_steps=3 -> 0,3,6: [0,3,6,7]. */
    int64_t const want[] = {0, 3, 6, 7};
    expect_steps(m, want, 4);
    close_mgr(m);
    char p[1200];
    snprintf(p, sizeof p, "%s/checkpoint_7/_MANIFEST", root);
    SP_EXPECT_MSG(path_exists(p), "Flax naming: missing %s", p);
    /* restore_checkpoint(target=None): rebuilt from metadata. */
    sp_ckpt_manager *const r = open_mgr(root, &opt);
    expect_restores(r, 7);
    close_mgr(r);
}

/* ---- round trips ---- */

static void fill_pattern(sp_dtype d, void *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        long long const u = (long long)((i * 7 + 3) % 100);
        double const f = (double)i * 0.5 - 3.25;
        switch (d) {
        case SP_DTYPE_BOOL: ((unsigned char *)data)[i] = (unsigned char)(i % 3 == 0); break;
        case SP_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)u; break;
        case SP_DTYPE_I8: ((int8_t *)data)[i] = (int8_t)(u - 50); break;
        case SP_DTYPE_U16: ((uint16_t *)data)[i] = (uint16_t)(u * 600); break;
        case SP_DTYPE_I16: ((int16_t *)data)[i] = (int16_t)((u - 50) * 600); break;
        case SP_DTYPE_U32: ((uint32_t *)data)[i] = (uint32_t)(u * 40000000); break;
        case SP_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)((u - 50) * 40000000); break;
        case SP_DTYPE_U64: ((uint64_t *)data)[i] = (uint64_t)u * UINT64_C(100000000000000000); break;
        case SP_DTYPE_I64: ((int64_t *)data)[i] = (int64_t)(u - 50) * INT64_C(100000000000000000); break;
        case SP_DTYPE_F32: ((float *)data)[i] = (float)f; break;
        case SP_DTYPE_F64: ((double *)data)[i] = f; break;
        case SP_DTYPE_COUNT_: break;
        }
    }
}

static const sp_dtype all_dtypes[] = {SP_DTYPE_BOOL, SP_DTYPE_U8,  SP_DTYPE_I8,  SP_DTYPE_U16,
                                      SP_DTYPE_I16,  SP_DTYPE_U32, SP_DTYPE_I32, SP_DTYPE_U64,
                                      SP_DTYPE_I64,  SP_DTYPE_F32, SP_DTYPE_F64};
static const uint64_t shapes[6][4] = {{0}, {7}, {5, 3}, {3, 4, 5}, {2, 3, 1, 4}, {0, 3}};
static const size_t ranks[6] = {0, 1, 2, 3, 4, 2};

static sp_tree *dtype_tree(void)
{
    sp_tree *t = NULL;
    SP_ASSERT_OK(sp_tree_create(&t));
    for (size_t d = 0; d < SP_ARRAY_LEN(all_dtypes); d++) {
        for (size_t r = 0; r < 6; r++) {
            size_t n = 1;
            for (size_t k = 0; k < ranks[r]; k++) n *= (size_t)shapes[r][k];
            unsigned char buf[8 * 64];
            fill_pattern(all_dtypes[d], buf, n);
            char path[64];
            snprintf(path, sizeof path, "%s/r%zu%s", sp_dtype_numpy_name(all_dtypes[d]), ranks[r], r == 5 ? "e" : "");
            SP_ASSERT_OK(sp_tree_add_array(t, path, all_dtypes[d], ranks[r], shapes[r], buf, NULL));
        }
    }
    SP_ASSERT_OK(sp_tree_add_f64(t, "scalars/nan", NAN, NULL));
    SP_ASSERT_OK(sp_tree_add_f64(t, "scalars/neg_zero", -0.0, NULL));
    SP_ASSERT_OK(sp_tree_add_f64(t, "scalars/inf", -INFINITY, NULL));
    SP_ASSERT_OK(sp_tree_add_i64(t, "scalars/min", INT64_MIN, NULL));
    SP_ASSERT_OK(sp_tree_add_string(t, "scalars/text", "caf\xc3\xa9 \"quoted\"\n", NULL));
    SP_ASSERT_OK(sp_tree_add_json(t, "state/loader", "{\"b\": [1, 2.5, null], \"a\": \"x\"}  ", NULL));
    return t;
}

static void roundtrip_with(int level, size_t chunk_bytes, const char *leaf)
{
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.compression_level = level;
    opt.chunk_bytes = chunk_bytes;
    sp_tree *const t = dtype_tree();
    sp_ckpt_manager *m = open_mgr(root_path(leaf), &opt);
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_save(m, 1, t, NULL, NULL, &e));
    close_mgr(m);
    m = open_mgr(root_path(leaf), &opt);
    sp_tree *back = NULL;
    sp_status s = sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, NULL, &back, &e);
    SP_EXPECT_MSG(s == SP_OK, "restore without target: %s", e.message);
    expect_trees_equal(t, back);
    sp_tree_free(back);
    s = sp_ckpt_restore(m, 1, t, NULL, &back, &e); /* into a target */
    SP_EXPECT_MSG(s == SP_OK, "restore with target: %s", e.message);
    expect_trees_equal(t, back);
    sp_tree_free(back);
    /* Metadata-only: shapes without data. */
    sp_ckpt_restore_args ra;
    sp_ckpt_restore_args_init(&ra);
    ra.metadata_only = 1;
    SP_ASSERT_OK(sp_ckpt_restore(m, 1, NULL, &ra, &back, &e));
    sp_leaf_view lv;
    SP_ASSERT_OK(sp_tree_find(back, "float32/r3", &lv));
    SP_EXPECT(lv.data == NULL && lv.ndim == 3 && lv.shape[2] == 5 && lv.dtype == SP_DTYPE_F32);
    sp_tree_free(back);
    SP_ASSERT_OK(sp_ckpt_verify(m, 1, NULL, NULL, &e));
    close_mgr(m);
    sp_tree_free(t);
}

SP_TEST(ckpt_roundtrip_every_dtype_and_rank)
{
    roundtrip_with(-1, (size_t)16 << 20, "rt_plain");
    roundtrip_with(-1, 24, "rt_chunked");   /* many chunks, padded edge chunks */
    roundtrip_with(6, 40, "rt_zlib");
}

SP_TEST(ckpt_restore_into_mismatched_target_names_the_path)
{
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.durable = 0;
    sp_ckpt_manager *const m = open_mgr(root_path("mm"), &opt);
    save_step(m, 3, NULL);
    sp_tree *target = make_tree(3);
    sp_tree *out = NULL;
    sp_error e;
    /* Wrong shape. */
    sp_tree *wrong = NULL;
    SP_ASSERT_OK(sp_tree_create(&wrong));
    float z[4 * 6 * 5 * 3] = {0};
    uint64_t const sh[4] = {4, 6, 5, 3};
    SP_ASSERT_OK(sp_tree_add_array(wrong, "sampler/flows", SP_DTYPE_F32, 4, sh, z, NULL));
    sp_ckpt_restore_args ra;
    sp_ckpt_restore_args_init(&ra);
    ra.partial = 1;
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 3, wrong, &ra, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "sampler/flows");
    SP_ASSERT_STR_CONTAINS(e.message, "float32[4,6,5,2]");
    sp_tree_free(wrong);
    /* Wrong dtype. */
    SP_ASSERT_OK(sp_tree_create(&wrong));
    int32_t const e32[3] = {0};
    uint64_t const three = 3;
    SP_ASSERT_OK(sp_tree_add_array(wrong, "sampler/epochs", SP_DTYPE_I64, 1, &three, (const int64_t[3]){0}, NULL));
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 3, wrong, &ra, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "sampler/epochs");
    (void)e32;
    /* Partial restore gives only the target's leaves. */
    sp_tree_free(wrong);
    SP_ASSERT_OK(sp_tree_create(&wrong));
    SP_ASSERT_OK(sp_tree_add_json(wrong, "loader", "{}", NULL));
    SP_ASSERT_OK(sp_ckpt_restore(m, 3, wrong, &ra, &out, &e));
    SP_ASSERT_EQ_INT(sp_tree_count(out), 1);
    sp_leaf_view lv;
    SP_ASSERT_OK(sp_tree_find(out, "loader", &lv));
    SP_ASSERT_STR_CONTAINS(lv.text, "\"epoch\": 3");
    sp_tree_free(out);
    /* Without partial, extra stored leaves are an error naming one. */
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 3, wrong, NULL, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "partial");
    /* A target leaf missing from the step. */
    SP_ASSERT_OK(sp_tree_add_i64(target, "extra/leaf", 1, NULL));
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 3, target, NULL, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "extra/leaf");
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 4, NULL, NULL, &out, &e), SP_ERR_NOTFOUND);
    sp_tree_free(wrong);
    sp_tree_free(target);
    close_mgr(m);
}

SP_TEST(ckpt_python_zarr_reads_saved_arrays)
{
    if (!sp_test_have_python("numpy zarr")) sp_test_skip("/usr/bin/python3 lacks numpy or zarr");
    for (int level = -1; level <= 3; level += 4) {
        sp_ckpt_options opt;
        sp_ckpt_options_init(&opt);
        opt.compression_level = level;
        opt.chunk_bytes = 40; /* several chunks with padded edges */
        const char *const root = root_path(level < 0 ? "py_plain" : "py_zlib");
        sp_ckpt_manager *const m = open_mgr(root, &opt);
        sp_tree *const t = dtype_tree();
        SP_ASSERT_OK(sp_ckpt_save(m, 5, t, NULL, NULL, NULL));
        sp_tree_free(t);
        close_mgr(m);
        /* Python computes the expected values itself from the same formula. */
        char out[8192];
        int const rc = sp_test_sh(out, sizeof out,
            "/usr/bin/python3 - '%s/5' <<'EOF' 2>&1\n"
            "import sys, numpy as np, zarr\n"
            "root = sys.argv[1]\n"
            "shapes = {'r0': (), 'r1': (7,), 'r2': (5, 3), 'r3': (3, 4, 5), 'r4': (2, 3, 1, 4), 'r2e': (0, 3)}\n"
            "def expect(name, n):\n"
            "    i = np.arange(n, dtype=np.int64); u = (i * 7 + 3) %% 100; f = i * 0.5 - 3.25\n"
            "    return {'bool': (i %% 3 == 0), 'uint8': u.astype('u1'), 'int8': (u - 50).astype('i1'),\n"
            "            'uint16': (u * 600).astype('u2'), 'int16': ((u - 50) * 600).astype('i2'),\n"
            "            'uint32': (u * 40000000).astype('u4'), 'int32': ((u - 50) * 40000000).astype('i4'),\n"
            "            'uint64': u.astype('u8') * np.uint64(10**17), 'int64': (u - 50) * 10**17,\n"
            "            'float32': f.astype('f4'), 'float64': f}[name]\n"
            "count = 0\n"
            "for dt in ['bool','uint8','int8','uint16','int16','uint32','int32','uint64','int64','float32','float64']:\n"
            "    for key, shape in shapes.items():\n"
            "        a = zarr.open_array(root + '/' + dt + '/' + key, mode='r')\n"
            "        got = a[...]\n"
            "        want = np.asarray(expect(dt, int(np.prod(shape)))).reshape(shape)\n"
            "        assert got.dtype == np.dtype(dt), (dt, key, got.dtype)\n"
            "        assert got.shape == shape, (dt, key, got.shape)\n"
            "        assert np.array_equal(got, want), (dt, key, got, want)\n"
            "        count += 1\n"
            "print('zarr-ok', count)\n"
            "EOF",
            root);
        SP_EXPECT_MSG(rc == 0 && strstr(out, "zarr-ok 66"), "python zarr (level %d): rc %d: %s", level, rc, out);
    }
}

/* ---- fault injection ---- */

static void fault_sweep(int err_no)
{
    const char *const root = root_path(err_no == ENOSPC ? "fault_nospc" : "fault_eio");
    sp_ckpt_options base;
    sp_ckpt_options_init(&base);
    base.max_to_keep = 1; /* a successful save of step 2 also deletes step 1 */
    /* Size the sweep: count the calls of one full save of step 2. */
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_OPEN | SP_FS_OP_WRITE | SP_FS_OP_FSYNC |
                                                        SP_FS_OP_RENAME | SP_FS_OP_MKDIR | SP_FS_OP_CLOSE);
    uint64_t total = 0;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    sp_test_sh(NULL, 0, "%s", cmd);
    {
        sp_ckpt_manager *m = open_mgr(root, &base);
        save_step(m, 1, NULL);
        close_mgr(m);
        sp_ckpt_options o = base;
        o.fs = &f.fs;
        m = open_mgr(root, &o);
        f.count = 0;
        save_step(m, 2, NULL);
        total = f.count;
        close_mgr(m);
    }
    SP_EXPECT_MSG(total >= 30, "a save made only %llu counted calls", (unsigned long long)total);
    int failures = 0;
    for (uint64_t n = 1; n <= total; n++) {
        sp_test_sh(NULL, 0, "%s", cmd);
        sp_ckpt_manager *m = open_mgr(root, &base);
        save_step(m, 1, NULL);
        close_mgr(m);
        sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_OPEN | SP_FS_OP_WRITE | SP_FS_OP_FSYNC |
                                                            SP_FS_OP_RENAME | SP_FS_OP_MKDIR | SP_FS_OP_CLOSE);
        f.fail_errno = err_no;
        f.sticky = err_no == ENOSPC; /* a full disk stays full */
        sp_ckpt_options o = base;
        o.fs = &f.fs;
        m = open_mgr(root, &o);
        f.count = 0;
        f.fail_at = n;
        sp_tree *const t = make_tree(2);
        sp_error e;
        sp_error_clear(&e);
        sp_status const s = sp_ckpt_save(m, 2, t, NULL, NULL, &e);
        sp_tree_free(t);
        if (s != SP_OK) {
            failures++;
            SP_EXPECT_MSG(e.message[0] != 0, "failure %llu without a message", (unsigned long long)n);
            if (err_no == ENOSPC && f.failures > 0 && strstr(e.message, "retention") == NULL)
                SP_EXPECT_MSG(s == SP_ERR_NOSPC, "n=%llu: status %d (%s), want NOSPC", (unsigned long long)n, s,
                              e.message);
        }
        sp_ckpt_manager_close(m, 1000, NULL);
        /* Reopen on the plain file system: the invariant. */
        sp_ckpt_options ro;
        sp_ckpt_options_init(&ro);
        ro.read_only = 1;
        m = open_mgr(root, &ro);
        int64_t steps[8];
        size_t const k = sp_ckpt_all_steps(m, steps, 8);
        SP_EXPECT_MSG(k >= 1 && k <= 2, "n=%llu: %zu steps listed", (unsigned long long)n, k);
        int const has2 = steps[k - 1] == 2;
        SP_EXPECT_MSG(has2 || (k == 1 && steps[0] == 1), "n=%llu: previous step lost", (unsigned long long)n);
        SP_EXPECT_MSG(s != SP_OK || has2, "n=%llu: save reported success but step 2 is not listed",
                      (unsigned long long)n);
        for (size_t i = 0; i < k; i++) {
            expect_restores(m, steps[i]);
            SP_ASSERT_OK(sp_ckpt_verify(m, steps[i], NULL, NULL, NULL));
        }
        close_mgr(m);
        SP_EXPECT_MSG(sp_test_count_entries_with(root, SP_CKPT_TMP_TAG) == 0, "n=%llu: temporary left behind",
                      (unsigned long long)n);
        /* And the root keeps working. */
        m = open_mgr(root, &base);
        save_step(m, 3, NULL);
        close_mgr(m);
    }
    SP_EXPECT_MSG(failures == (int)total, "only %d of %llu injected failures surfaced", failures,
                  (unsigned long long)total);
}

SP_TEST(ckpt_fault_injection_every_call_eio)
{
    fault_sweep(EIO);
}

SP_TEST(ckpt_fault_injection_every_call_enospc)
{
    fault_sweep(ENOSPC);
}

SP_TEST(ckpt_enospc_is_clear_and_keeps_earlier_steps)
{
    const char *const root = root_path("nospc");
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, sp_fs_posix(), SP_FS_OP_WRITE);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.fs = &f.fs;
    opt.max_to_keep = 2;
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    for (int64_t s = 1; s <= 3; s++) save_step(m, s, NULL);
    f.fail_errno = ENOSPC;
    f.sticky = 1;
    f.fail_at = f.count + 3; /* the disk fills up in the middle of the next save */
    sp_tree *const t = make_tree(4);
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_save(m, 4, t, NULL, NULL, &e), SP_ERR_NOSPC);
    SP_ASSERT_STR_CONTAINS(e.message, "step 4");
    SP_ASSERT_STR_CONTAINS(e.message, "No space left on device");
    int64_t const want[] = {2, 3};
    expect_steps(m, want, 2);
    expect_restores(m, 3);
    expect_restores(m, 2);
    SP_EXPECT(sp_test_count_entries_with(root, SP_CKPT_TMP_TAG) == 0);
    /* Space comes back: saving resumes. */
    f.fail_at = 0;
    SP_ASSERT_OK(sp_ckpt_save(m, 4, t, NULL, NULL, &e));
    sp_tree_free(t);
    close_mgr(m);
}

/* ---- kill test ---- */

static void kill_options(sp_ckpt_options *opt)
{
    sp_ckpt_options_init(opt);
    opt->max_to_keep = 3;
    opt->cleanup_tmp_directories = 1;
}

/* Median wall time of one durable save on this file system, in microseconds. fsync costs
 * differ by two orders of magnitude between machines (tmpfs, local SSD, network disks), so
 * a kill aimed inside a save is timed from what a save really takes here. */
static unsigned measure_save_us(const char *root)
{
    sp_ckpt_options opt;
    kill_options(&opt);
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    double t[5];
    for (int i = 0; i < 5; i++) {
        sp_tree *const tree = make_tree(i + 1);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        SP_ASSERT_OK(sp_ckpt_save(m, i + 1, tree, NULL, NULL, NULL));
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
        sp_tree_free(tree);
    }
    close_mgr(m);
    for (int i = 1; i < 5; i++) /* insertion sort of five */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double const x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    return (unsigned)t[2] + 1u;
}

/* Saves in a loop from the latest committed step on, writing one byte to `beat` as each
 * save begins, until it is killed. */
static void kill_child(const char *root, int beat)
{
    sp_ckpt_options opt;
    kill_options(&opt);
    sp_ckpt_manager *m = NULL;
    if (sp_ckpt_manager_open(&m, root, &opt, NULL) != SP_OK) _exit(3);
    for (int64_t s = sp_ckpt_latest_step(m) + 1;; s++) {
        sp_tree *const t = make_tree(s);
        if (write(beat, "s", 1) != 1) _exit(5);
        if (sp_ckpt_save(m, s, t, NULL, NULL, NULL) != SP_OK) _exit(4);
        sp_tree_free(t);
    }
}

/* Blocks until the child has begun its n-th save (read n beats); 0 if the child died first. */
static int wait_for_saves(int beat, int n)
{
    char c;
    for (int got = 0; got < n; got++)
        if (read(beat, &c, 1) != 1) return 0;
    return 1;
}

SP_TEST(ckpt_kill_during_save_leaves_only_complete_steps)
{
    const char *const root = root_path("kill");
    int const trials = sp_test_full() ? 220 : 25;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    unsigned const save_us = measure_save_us(root_path("kill_probe"));
    /* One trial in five kills during start-up (opening the root, collecting the previous
     * victim's temporaries). The others wait until the child has begun its 1st, 2nd or 3rd
     * save, then kill at a moment uniform over one save's measured duration: the kill lands
     * in every phase of a save, and steps are committed between kills however slow this
     * machine's fsync or sanitizer is, since waiting for save k means k - 1 saves committed. */
    printf("# kill test: %d trials, seed %u, one save takes %u us\n", trials, seed, save_us);
    int64_t max_seen = -1;
    int mid_save = 0; /* trials whose kill landed inside a save (a temporary was left) */
    for (int trial = 0; trial < trials; trial++) {
        fflush(stdout);
        int beat[2];
        SP_EXPECT(pipe(beat) == 0);
        pid_t const pid = fork();
        SP_EXPECT(pid >= 0);
        if (pid == 0) {
            close(beat[0]);
            kill_child(root, beat[1]);
        }
        close(beat[1]);
        seed = seed * 1103515245u + 12345u;
        unsigned const r = seed >> 8;
        if (r % 5 == 0) {
            usleep(r / 5 % 2000);
        } else {
            SP_EXPECT_MSG(wait_for_saves(beat[0], 1 + (int)(r % 3)), "trial %d: the child died", trial);
            usleep(r / 15 % save_us);
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(beat[0]);
        SP_EXPECT_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "trial %d: child exited %d", trial,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        if (sp_test_count_entries_with(root, SP_CKPT_TMP_TAG) > 0) mid_save++;
        /* The invariant, checked before any cleanup: every listed step verifies and restores. */
        sp_ckpt_options ro;
        sp_ckpt_options_init(&ro);
        ro.read_only = 1;
        sp_ckpt_manager *m = NULL;
        if (sp_ckpt_manager_open(&m, root, &ro, NULL) != SP_OK) continue; /* killed before mkdir root */
        int64_t steps[64];
        size_t const k = sp_ckpt_all_steps(m, steps, 64);
        for (size_t i = 0; i < k && i < 64; i++) {
            sp_error e;
            sp_error_clear(&e);
            sp_status const v = sp_ckpt_verify(m, steps[i], NULL, NULL, &e);
            SP_EXPECT_MSG(v == SP_OK, "trial %d: step %lld does not verify: %s", trial, (long long)steps[i], e.message);
            expect_restores(m, steps[i]);
            if (steps[i] > max_seen) max_seen = steps[i];
        }
        close_mgr(m);
    }
    printf("# %d of %d kills landed inside a save; latest step %lld\n", mid_save, trials, (long long)max_seen);
    SP_EXPECT_MSG(max_seen >= 3, "the children committed too little (latest %lld)", (long long)max_seen);
    SP_EXPECT_MSG(mid_save >= trials / 4, "only %d of %d kills interrupted a save", mid_save, trials);
}

/* ---- corruption ---- */

typedef struct damage_log {
    char text[8192];
    int n;
} damage_log;

static void log_damage(void *ctx, sp_status s, const char *msg)
{
    damage_log *const d = (damage_log *)ctx;
    (void)s;
    d->n++;
    snprintf(d->text + strlen(d->text), sizeof d->text - strlen(d->text), "%s\n", msg);
}

static void damage_file(const char *path, int how)
{
    size_t n = 0;
    unsigned char *const b = sp_test_read_file(path, &n);
    SP_EXPECT_MSG(b != NULL && n > 0, "cannot read %s", path);
    if (how == 0) { /* flip one byte in the middle */
        b[n / 2] ^= 0x20;
        sp_test_write_file(path, b, n);
    } else if (how == 1) { /* truncate */
        sp_test_write_file(path, b, n / 2);
    } else {
        SP_EXPECT(unlink(path) == 0);
    }
    free(b);
}

/* A step directory without _MANIFEST was never committed: it is foreign. Not listed, not
 * restorable, reported by name, never removed; the latest committed step is the one below. */
static void expect_foreign_step(const char *root, const sp_ckpt_options *opt, const char *name)
{
    sp_ckpt_manager *const m = open_mgr(root, opt);
    SP_ASSERT_EQ_INT(sp_ckpt_foreign_count(m), 1);
    SP_EXPECT(strcmp(sp_ckpt_foreign_name(m, 0), name) == 0);
    int64_t const want[] = {1};
    expect_steps(m, want, 1);
    sp_tree *out = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 2, NULL, NULL, &out, &e), SP_ERR_NOTFOUND);
    int64_t got = -1;
    sp_ckpt_restore_args ra;
    sp_ckpt_restore_args_init(&ra);
    ra.restored_step = &got;
    SP_ASSERT_OK(sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, &ra, &out, &e));
    SP_ASSERT_EQ_INT(got, 1);
    sp_tree_free(out);
    save_step(m, 3, NULL); /* a commit and its retention leave it alone */
    close_mgr(m);
    char p[1200];
    snprintf(p, sizeof p, "%s/%s/_CHECKPOINT_METADATA", root, name);
    SP_EXPECT_MSG(path_exists(p), "the foreign directory %s was touched", name);
}

static const char *const k_damaged_files[] = {"sampler/flows/0.0.0.0", "sampler/flows/.zarray", "loader.json",
                                             "_TREE_METADATA", "_CHECKPOINT_METADATA", "_MANIFEST"};
static const char *const k_damages[] = {"flip", "truncate", "delete"};

static void damaged_options(sp_ckpt_options *opt)
{
    sp_ckpt_options_init(opt);
    opt->step_prefix = "s";
    opt->step_format_fixed_length = 3;
    opt->durable = 0;
}

/* A root with steps 1 and 2 whose step 2 has file k_damaged_files[fi] damaged the way
 * k_damages[how] says; rel receives that file's path relative to the root. */
static const char *damaged_root(size_t fi, int how, char *rel, size_t cap)
{
    char leaf[64];
    snprintf(leaf, sizeof leaf, "corrupt_%zu_%d", fi, how);
    const char *const root = root_path(leaf);
    sp_ckpt_options opt;
    damaged_options(&opt);
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    save_step(m, 1, NULL);
    save_step(m, 2, NULL);
    close_mgr(m);
    char path[1200];
    snprintf(rel, cap, "s_002/%s", k_damaged_files[fi]);
    snprintf(path, sizeof path, "%s/%s", root, rel);
    damage_file(path, how);
    return root;
}

SP_TEST(ckpt_corruption_detected_named_and_fallback)
{
    for (size_t fi = 0; fi < SP_ARRAY_LEN(k_damaged_files); fi++) {
        for (int how = 0; how < 3; how++) {
            char rel[256];
            const char *const root = damaged_root(fi, how, rel, sizeof rel);
            sp_ckpt_options opt;
            damaged_options(&opt);
            if (strcmp(k_damaged_files[fi], "_MANIFEST") == 0 && how == 2) {
                expect_foreign_step(root, &opt, "s_002");
                continue;
            }
            sp_ckpt_manager *const m = open_mgr(root, &opt);
            sp_tree *out = NULL;
            sp_error e;
            sp_error_clear(&e);
            sp_status const s = sp_ckpt_restore(m, 2, NULL, NULL, &out, &e);
            SP_EXPECT_MSG(s == SP_ERR_CHECKSUM || s == SP_ERR_CORRUPT, "%s %s: restore status %d (%s)",
                          k_damages[how], rel, s, e.message);
            SP_EXPECT_MSG(strstr(e.message, rel) != NULL, "%s %s: restore message '%s' does not name it",
                          k_damages[how], rel, e.message);
            damage_log d;
            memset(&d, 0, sizeof d);
            SP_EXPECT(sp_ckpt_verify(m, 2, log_damage, &d, &e) != SP_OK);
            SP_EXPECT_MSG(strstr(d.text, rel) != NULL, "%s %s: verify said '%s'", k_damages[how], rel, d.text);
            SP_ASSERT_OK(sp_ckpt_verify(m, 1, NULL, NULL, NULL));
            /* Latest without fallback fails; with fallback gives step 1. */
            SP_EXPECT(sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, NULL, &out, &e) != SP_OK);
            int64_t got = -1;
            sp_ckpt_restore_args ra;
            sp_ckpt_restore_args_init(&ra);
            ra.fallback = 1;
            ra.restored_step = &got;
            SP_ASSERT_OK(sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, &ra, &out, &e));
            SP_ASSERT_EQ_INT(got, 1);
            sp_tree *const want = make_tree(1);
            expect_trees_equal(want, out);
            sp_tree_free(want);
            sp_tree_free(out);
            close_mgr(m);
        }
    }
}

/* The same damage through the CLI: `synthpix ckpt verify` names the file and exits 1. */
SP_TEST(ckpt_cli_verify_names_the_damaged_file)
{
    require_cli();
    for (size_t fi = 0; fi < SP_ARRAY_LEN(k_damaged_files); fi++) {
        for (int how = 0; how < 3; how++) {
            char rel[256], outbuf[4096];
            const char *const root = damaged_root(fi, how, rel, sizeof rel);
            int const rc = sp_test_sh(outbuf, sizeof outbuf, "'%s' ckpt verify '%s' --step 2 2>&1", sp_test_cli(), root);
            /* Without its _MANIFEST the directory is not a step of ours: reported as foreign. */
            const char *const named = strcmp(k_damaged_files[fi], "_MANIFEST") == 0 && how == 2 ? "FOREIGN" : rel;
            SP_EXPECT_MSG(rc == 1 && strstr(outbuf, named) && strstr(outbuf, "s_002"), "cli verify %s %s: rc %d: %s",
                          k_damages[how], rel, rc, outbuf);
        }
    }
}

/* ---- lock ---- */

SP_TEST(ckpt_second_writer_is_refused)
{
    const char *const root = root_path("lock");
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    save_step(m, 1, NULL);
    sp_ckpt_manager *m2 = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_manager_open(&m2, root, &opt, &e), SP_ERR_LOCKED);
    SP_ASSERT_STR_CONTAINS(e.message, "locked by another writer");
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    SP_ASSERT_STR_CONTAINS(e.message, pid);
    /* Another process is refused too. */
    fflush(stdout);
    pid_t const child = fork();
    if (child == 0) {
        sp_ckpt_manager *c = NULL;
        _exit(sp_ckpt_manager_open(&c, root, &opt, NULL) == SP_ERR_LOCKED ? 0 : 1);
    }
    int st = 0;
    waitpid(child, &st, 0);
    SP_EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Readers never take the lock. */
    sp_ckpt_options ro;
    sp_ckpt_options_init(&ro);
    ro.read_only = 1;
    sp_ckpt_manager *const r = open_mgr(root, &ro);
    expect_restores(r, 1);
    close_mgr(r);
    close_mgr(m);
    m2 = open_mgr(root, &opt); /* released on close */
    close_mgr(m2);
}

/* ---- garbage, listing ---- */

SP_TEST(ckpt_stray_temporaries_are_never_listed_and_collected)
{
    const char *const root = root_path("gc");
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.durable = 0;
    sp_ckpt_manager *m = open_mgr(root, &opt);
    save_step(m, 1, NULL);
    close_mgr(m);
    char p[1200];
    snprintf(p, sizeof p, "mkdir -p '%s/5.sp-tmp-1-deadbeef/sampler' '%s/1.sp-del-2-00000001' '%s/7' && "
             "touch '%s/5.sp-tmp-1-deadbeef/_MANIFEST'", root, root, root, root);
    SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "%s", p), 0);
    /* Without cleanup: temporaries stay but are not steps; "7" has no manifest: foreign,
     * never listed, never removed. */
    m = open_mgr(root, &opt);
    int64_t const want[] = {1};
    expect_steps(m, want, 1);
    SP_ASSERT_EQ_INT(sp_ckpt_foreign_count(m), 1);
    sp_tree *out = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_restore(m, 7, NULL, NULL, &out, &e), SP_ERR_NOTFOUND);
    save_step(m, 8, NULL);
    close_mgr(m);
    SP_EXPECT(sp_test_count_entries_with(root, ".sp-tmp-") == 1);
    SP_EXPECT(sp_test_count_entries_with(root, ".sp-del-") == 0); /* tombstones always go */
    opt.cleanup_tmp_directories = 1;
    m = open_mgr(root, &opt);
    SP_EXPECT(sp_test_count_entries_with(root, ".sp-tmp-") == 0);
    SP_ASSERT_STATUS(sp_ckpt_delete(m, 7, &e), SP_ERR_NOTFOUND);
    snprintf(p, sizeof p, "%s/7", root);
    SP_EXPECT(path_exists(p));
    int64_t const want2[] = {1, 8};
    expect_steps(m, want2, 2);
    /* reload sees a step another tool removed. */
    snprintf(p, sizeof p, "rm -rf '%s/1'", root);
    sp_test_sh(NULL, 0, "%s", p);
    SP_ASSERT_OK(sp_ckpt_reload(m, NULL));
    int64_t const want3[] = {8};
    expect_steps(m, want3, 1);
    sp_ckpt_step_info info;
    char *json = NULL;
    SP_ASSERT_OK(sp_ckpt_metadata(m, 8, &info, &json, &e));
    SP_EXPECT(info.step == 8 && info.commit_ns >= info.init_ns && info.init_ns > 0 && !info.damaged);
    SP_EXPECT(strcmp(info.items, "counters,files,loader,sampler") == 0);
    SP_ASSERT_STR_CONTAINS(json, "\"commit_timestamp_nsecs\"");
    free(json);
    close_mgr(m);
}

/* ---- async ---- */

/* A file system whose writes wait at a gate the test opens: makes "save in flight"
 * deterministic. */
typedef struct gated_fs {
    sp_fs fs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open_gate;
    int blocked;
} gated_fs;

static int64_t gated_write(void *ctx, int fd, const void *buf, size_t n)
{
    gated_fs *const g = (gated_fs *)ctx;
    pthread_mutex_lock(&g->mu);
    g->blocked++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open_gate) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return sp_fs_posix()->write(NULL, fd, buf, n);
}

static void gate_open(gated_fs *g)
{
    pthread_mutex_lock(&g->mu);
    g->open_gate = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

SP_TEST(ckpt_async_save_snapshots_and_orders)
{
    gated_fs g;
    memset(&g, 0, sizeof g);
    g.fs = *sp_fs_posix();
    g.fs.ctx = &g;
    g.fs.write = gated_write;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    g.open_gate = 1; /* open() writes the root metadata */
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.enable_async = 1;
    opt.fs = &g.fs;
    opt.max_to_keep = 10;
    const char *const root = root_path("async");
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    pthread_mutex_lock(&g.mu);
    g.open_gate = 0;
    pthread_mutex_unlock(&g.mu);
    /* Step 1: the caller's tree is modified right after save returns. */
    sp_tree *t = make_tree(1);
    sp_error e;
    int saved = 0;
    SP_ASSERT_OK(sp_ckpt_save(m, 1, t, NULL, &saved, &e));
    SP_EXPECT(saved == 1);
    sp_leaf_view lv;
    SP_ASSERT_OK(sp_tree_find(t, "sampler/flows", &lv));
    memset((void *)(uintptr_t)lv.data, 0xff, lv.nbytes); /* the caller owns its tree again */
    sp_tree_free(t);
    /* The save is blocked in the worker: waits with a deadline time out. */
    SP_ASSERT_STATUS(sp_ckpt_wait_until_finished(m, 50, &e), SP_ERR_TIMEOUT);
    SP_EXPECT(sp_ckpt_latest_step(m) == SP_CKPT_NONE); /* committed only */
    SP_EXPECT(!sp_ckpt_should_save(m, 1));              /* but queued counts for should_save */
    sp_ckpt_save_args force;
    sp_ckpt_save_args_init(&force);
    force.force = 1;
    t = make_tree(1);
    SP_ASSERT_OK(sp_ckpt_save(m, 1, t, NULL, &saved, &e)); /* declined by should_save */
    SP_EXPECT(saved == 0);
    SP_ASSERT_STATUS(sp_ckpt_save(m, 1, t, &force, NULL, &e), SP_ERR_EXISTS);
    sp_tree_free(t);
    /* Queue two more: FIFO. */
    for (int64_t s = 2; s <= 3; s++) {
        t = make_tree(s);
        SP_ASSERT_OK(sp_ckpt_save(m, s, t, NULL, NULL, &e));
        sp_tree_free(t);
    }
    gate_open(&g);
    SP_ASSERT_OK(sp_ckpt_wait_until_finished(m, 60000, &e));
    int64_t const want[] = {1, 2, 3};
    expect_steps(m, want, 3);
    for (int64_t s = 1; s <= 3; s++) expect_restores(m, s); /* the snapshot, not the 0xff */
    /* Commit order = save order: commit timestamps increase. */
    sp_ckpt_step_info a, b;
    SP_ASSERT_OK(sp_ckpt_metadata(m, 1, &a, NULL, &e));
    SP_ASSERT_OK(sp_ckpt_metadata(m, 3, &b, NULL, &e));
    SP_EXPECT(a.commit_ns <= b.commit_ns);
    close_mgr(m);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

typedef struct failing_fs {
    sp_fs fs;
    atomic_int fail; /* 1: every write fails with EIO */
} failing_fs;

static int64_t failing_write(void *ctx, int fd, const void *buf, size_t n)
{
    failing_fs *const f = (failing_fs *)ctx;
    if (atomic_load(&f->fail)) return -EIO;
    return sp_fs_posix()->write(NULL, fd, buf, n);
}

SP_TEST(ckpt_async_errors_are_sticky)
{
    failing_fs f;
    memset(&f, 0, sizeof f);
    f.fs = *sp_fs_posix();
    f.fs.ctx = &f;
    f.fs.write = failing_write;
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.enable_async = 1;
    opt.fs = &f.fs;
    const char *const root = root_path("sticky");
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    sp_tree *t = make_tree(1);
    SP_ASSERT_OK(sp_ckpt_save(m, 1, t, NULL, NULL, NULL));
    sp_tree_free(t);
    SP_ASSERT_OK(sp_ckpt_wait_until_finished(m, 60000, NULL));
    atomic_store(&f.fail, 1);
    t = make_tree(2);
    SP_ASSERT_OK(sp_ckpt_save(m, 2, t, NULL, NULL, NULL)); /* accepted; fails in the background */
    sp_tree_free(t);
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_wait_until_finished(m, 60000, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "step 2");
    /* Sticky: every later call reports it until acknowledged. */
    SP_ASSERT_STATUS(sp_ckpt_check_for_errors(m, &e), SP_ERR_IO);
    SP_ASSERT_STATUS(sp_ckpt_wait_until_finished(m, 0, &e), SP_ERR_IO);
    atomic_store(&f.fail, 0);
    t = make_tree(3);
    SP_ASSERT_STATUS(sp_ckpt_save(m, 3, t, NULL, NULL, &e), SP_ERR_IO);
    int64_t const want[] = {1};
    expect_steps(m, want, 1);
    SP_EXPECT(sp_test_count_entries_with(root, SP_CKPT_TMP_TAG) == 0);
    sp_ckpt_clear_error(m);
    SP_ASSERT_OK(sp_ckpt_check_for_errors(m, NULL));
    SP_ASSERT_OK(sp_ckpt_save(m, 3, t, NULL, NULL, &e));
    sp_tree_free(t);
    SP_ASSERT_OK(sp_ckpt_wait_until_finished(m, 60000, &e));
    /* A failure that is never waited for surfaces on close. */
    atomic_store(&f.fail, 1);
    t = make_tree(4);
    SP_ASSERT_OK(sp_ckpt_save(m, 4, t, NULL, NULL, &e));
    sp_tree_free(t);
    SP_ASSERT_STATUS(sp_ckpt_manager_close(m, 60000, &e), SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "step 4");
    sp_ckpt_options ro;
    sp_ckpt_options_init(&ro);
    ro.read_only = 1;
    sp_ckpt_manager *const r = open_mgr(root, &ro);
    int64_t const want2[] = {1, 3};
    expect_steps(r, want2, 2);
    close_mgr(r);
}

SP_TEST(ckpt_async_staging_is_bounded)
{
    gated_fs g;
    memset(&g, 0, sizeof g);
    g.fs = *sp_fs_posix();
    g.fs.ctx = &g;
    g.fs.write = gated_write;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    g.open_gate = 1;
    sp_tree *t1 = make_tree(1);
    size_t const one = sp__tree_bytes(t1);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.enable_async = 1;
    opt.fs = &g.fs;
    opt.async_staging_cap = one + one / 2; /* room for one staged tree, not two */
    sp_ckpt_manager *const m = open_mgr(root_path("cap"), &opt);
    pthread_mutex_lock(&g.mu);
    g.open_gate = 0;
    pthread_mutex_unlock(&g.mu);
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_save(m, 1, t1, NULL, NULL, &e));
    /* A second tree does not fit while the first is in flight: back-pressure with deadline. */
    sp_tree *const t2 = make_tree(2);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.timeout_ms = 50;
    SP_ASSERT_STATUS(sp_ckpt_save(m, 2, t2, &a, NULL, &e), SP_ERR_TIMEOUT);
    SP_ASSERT_STR_CONTAINS(e.message, "staging");
    gate_open(&g);
    a.timeout_ms = 60000;
    SP_ASSERT_OK(sp_ckpt_save(m, 2, t2, &a, NULL, &e));
    SP_ASSERT_OK(sp_ckpt_wait_until_finished(m, 60000, &e));
    int64_t const want[] = {1, 2};
    expect_steps(m, want, 2);
    /* A tree larger than the cap is saved synchronously (and still correctly). */
    sp_tree *const big = dtype_tree();
    SP_EXPECT(sp__tree_bytes(big) > opt.async_staging_cap);
    SP_ASSERT_OK(sp_ckpt_save(m, 3, big, NULL, NULL, &e));
    SP_EXPECT(sp_ckpt_latest_step(m) == 3); /* committed on return */
    sp_tree *back = NULL;
    SP_ASSERT_OK(sp_ckpt_restore(m, 3, big, NULL, &back, &e));
    expect_trees_equal(big, back);
    sp_tree_free(back);
    sp_tree_free(big);
    sp_tree_free(t1);
    sp_tree_free(t2);
    close_mgr(m);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

SP_TEST(ckpt_async_close_deadline_cancels)
{
    gated_fs g;
    memset(&g, 0, sizeof g);
    g.fs = *sp_fs_posix();
    g.fs.ctx = &g;
    g.fs.write = gated_write;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    g.open_gate = 1;
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.enable_async = 1;
    opt.fs = &g.fs;
    const char *const root = root_path("cancel");
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    pthread_mutex_lock(&g.mu);
    g.open_gate = 0;
    pthread_mutex_unlock(&g.mu);
    for (int64_t s = 1; s <= 2; s++) {
        sp_tree *const t = make_tree(s);
        SP_ASSERT_OK(sp_ckpt_save(m, s, t, NULL, NULL, NULL));
        sp_tree_free(t);
    }
    /* Release the gate shortly after close starts waiting. */
    pthread_mutex_lock(&g.mu);
    while (g.blocked == 0) pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    /* close with a zero deadline while step 1 is in flight and step 2 queued: it times
     * out, cancels step 1 at its next check, drops step 2; never a partial step. */
    sp_error e;
    gate_open(&g); /* the in-flight save now runs to its next cancel check */
    sp_status const s = sp_ckpt_manager_close(m, 0, &e);
    SP_EXPECT_MSG(s == SP_ERR_TIMEOUT || s == SP_OK, "close: %d %s", s, e.message);
    sp_ckpt_options ro;
    sp_ckpt_options_init(&ro);
    ro.read_only = 1;
    sp_ckpt_manager *const r = open_mgr(root, &ro);
    int64_t steps[4];
    size_t const k = sp_ckpt_all_steps(r, steps, 4);
    for (size_t i = 0; i < k; i++) expect_restores(r, steps[i]);
    close_mgr(r);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

/* ---- CLI ---- */

SP_TEST(ckpt_cli_ls_inspect_verify_rm)
{
    require_cli();
    const char *const root = root_path("cli");
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.step_prefix = "ckpt";
    opt.step_format_fixed_length = 2;
    opt.durable = 0;
    sp_ckpt_manager *const m = open_mgr(root, &opt);
    save_step(m, 4, NULL);
    save_step(m, 9, NULL);
    close_mgr(m);
    char out[8192];
    int rc = sp_test_sh(out, sizeof out, "'%s' ckpt ls '%s' 2>&1", sp_test_cli(), root);
    SP_EXPECT_MSG(rc == 0 && strstr(out, "ckpt_04") && strstr(out, "ckpt_09") && strstr(out, "loader,sampler"),
                  "ls: rc %d: %s", rc, out);
    rc = sp_test_sh(out, sizeof out, "'%s' ckpt inspect '%s' --step 9 2>&1", sp_test_cli(), root);
    SP_EXPECT_MSG(rc == 0 && strstr(out, "sampler/flows") && strstr(out, "float32") && strstr(out, "[4, 6, 5, 2]") &&
                      strstr(out, "sampler/mask") && strstr(out, "bool"),
                  "inspect: rc %d: %s", rc, out);
    rc = sp_test_sh(out, sizeof out, "'%s' ckpt verify '%s' 2>&1", sp_test_cli(), root);
    SP_EXPECT_MSG(rc == 0 && strstr(out, "ok"), "verify: rc %d: %s", rc, out);
    rc = sp_test_sh(out, sizeof out, "'%s' ckpt rm '%s' --step 4 2>&1", sp_test_cli(), root);
    SP_EXPECT_MSG(rc == 0, "rm: rc %d: %s", rc, out);
    rc = sp_test_sh(out, sizeof out, "'%s' ckpt ls '%s' 2>&1", sp_test_cli(), root);
    SP_EXPECT_MSG(rc == 0 && !strstr(out, "ckpt_04") && strstr(out, "ckpt_09"), "ls after rm: %s", out);
    rc = sp_test_sh(out, sizeof out, "'%s' ckpt rm '%s' --step 4 2>&1", sp_test_cli(), root);
    SP_EXPECT_MSG(rc == 1, "rm of a missing step: rc %d", rc);
    rc = sp_test_sh(out, sizeof out, "'%s' ckpt bogus 2>&1", sp_test_cli());
    SP_EXPECT_MSG(rc == 2, "usage error: rc %d", rc);
}

/* ---- hostile metadata: the checked-in corpus files parse or fail as expected ---- */

static unsigned char *corpus(const char *name, size_t *n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/tests/corpus/ckpt_manifest/%s", sp_test_source_dir(), name);
    unsigned char *const b = sp_test_read_file(p, n);
    SP_EXPECT_MSG(b != NULL && *n > 0, "missing corpus file %s", p);
    return b;
}

SP_TEST(ckpt_parsers_accept_real_and_reject_malformed)
{
    size_t n = 0;
    sp_error e;
    sp__manifest mf;
    unsigned char *b = corpus("manifest_real", &n);
    SP_ASSERT_OK(sp__manifest_parse((const char *)b + 1, n - 1, &mf, &e));
    SP_ASSERT_EQ_INT(mf.step, 12);
    SP_ASSERT_EQ_INT(mf.n_files, 9);
    sp__manifest_free(&mf);
    free(b);
    const char *const bad_manifests[] = {"manifest_truncated", "manifest_version2", "manifest_traversal",
                                         "manifest_negative_size", "manifest_bad_selfcrc", "manifest_bad_filecrc",
                                         "manifest_duplicate_key", "manifest_noncanonical", "manifest_huge_size",
                                         "manifest_deep_nesting", "manifest_array"};
    for (size_t i = 0; i < SP_ARRAY_LEN(bad_manifests); i++) {
        b = corpus(bad_manifests[i], &n);
        SP_EXPECT_MSG(sp__manifest_parse((const char *)b + 1, n - 1, &mf, &e) != SP_OK, "%s accepted",
                      bad_manifests[i]);
        free(b);
    }
    b = corpus("manifest_bad_selfcrc", &n);
    SP_ASSERT_STATUS(sp__manifest_parse((const char *)b + 1, n - 1, &mf, &e), SP_ERR_CHECKSUM);
    free(b);
    sp__zarray z;
    b = corpus("zarray_f32_zlib", &n);
    SP_ASSERT_OK(sp__zarray_parse((const char *)b + 1, n - 1, &z, &e));
    SP_EXPECT(z.dtype == SP_DTYPE_F32 && z.ndim == 2 && z.shape[0] == 3 && z.level == 5);
    free(b);
    const char *const bad_z[] = {"zarray_huge", "zarray_zero_chunk", "zarray_axis1_chunks", "zarray_unsupported",
                                 "zarray_v3_negative", "zarray_rank33"};
    for (size_t i = 0; i < SP_ARRAY_LEN(bad_z); i++) {
        b = corpus(bad_z[i], &n);
        SP_EXPECT_MSG(sp__zarray_parse((const char *)b + 1, n - 1, &z, &e) != SP_OK, "%s accepted", bad_z[i]);
        free(b);
    }
    sp_tree *t = NULL;
    b = corpus("tree_real", &n);
    SP_ASSERT_OK(sp__treemeta_parse((const char *)b + 1, n - 1, &t, &e));
    SP_ASSERT_EQ_INT(sp_tree_count(t), 7);
    sp_tree_free(t);
    free(b);
    const char *const bad_t[] = {"tree_bad_dtype", "tree_bad_bits", "tree_bad_path", "tree_prefix_conflict",
                                 "tree_huge_shape", "tree_duplicate_leaf"};
    for (size_t i = 0; i < SP_ARRAY_LEN(bad_t); i++) {
        b = corpus(bad_t[i], &n);
        SP_EXPECT_MSG(sp__treemeta_parse((const char *)b + 1, n - 1, &t, &e) != SP_OK, "%s accepted", bad_t[i]);
        free(b);
    }
}

SP_TEST(ckpt_typed_getters_restore_into_caller_memory)
{
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.durable = 0;
    sp_ckpt_manager *const m = open_mgr(root_path("typed"), &opt);
    save_step(m, 6, NULL);
    sp_tree *back = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, NULL, &back, &e));
    int64_t step = 0;
    double lr = 0;
    const char *loader = NULL;
    SP_ASSERT_OK(sp_tree_get_i64(back, "counters/step", &step, &e));
    SP_ASSERT_EQ_INT(step, 6);
    SP_ASSERT_OK(sp_tree_get_f64(back, "counters/lr", &lr, &e));
    SP_EXPECT(lr == 1.0 / 3.0 + 6.0);
    SP_ASSERT_OK(sp_tree_get_text(back, "loader", &loader, &e));
    SP_EXPECT(strcmp(loader, "{\"epoch\": 6, \"position\": [1, 2, 3]}") == 0);
    float flows[4 * 6 * 5 * 2];
    uint64_t const shape[4] = {4, 6, 5, 2};
    SP_ASSERT_OK(sp_tree_copy_array(back, "sampler/flows", SP_DTYPE_F32, 4, shape, flows, sizeof flows, &e));
    SP_EXPECT(flows[0] == 6000.0f && flows[239] == 6000.0f + 239 * 0.25f);
    uint64_t const wrong[4] = {4, 6, 5, 3};
    SP_ASSERT_STATUS(sp_tree_copy_array(back, "sampler/flows", SP_DTYPE_F32, 4, wrong, flows, sizeof flows, &e),
                     SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "float32[4,6,5,2]");
    SP_ASSERT_STATUS(sp_tree_copy_array(back, "sampler/flows", SP_DTYPE_F64, 4, shape, flows, sizeof flows, &e),
                     SP_ERR_MISMATCH);
    SP_ASSERT_STATUS(sp_tree_get_i64(back, "loader", &step, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "loader");
    SP_ASSERT_STATUS(sp_tree_get_f64(back, "nope", &lr, &e), SP_ERR_NOTFOUND);
    uint32_t seed = 0;
    SP_ASSERT_OK(sp_tree_copy_array(back, "sampler/seed", SP_DTYPE_U32, 0, NULL, &seed, sizeof seed, &e));
    SP_ASSERT_EQ_U64(seed, 0xdeadbeefu ^ 6u);
    sp_tree_free(back);
    close_mgr(m);
}
