/* test_ckpt_at.c: a checkpoint at a path without a manager (sp_ckpt_save_at,
 * sp_ckpt_restore_at, sp_ckpt_metadata_at).
 *
 * Every tree written here is a pure function of a generation number g, and every leaf
 * carries g, so a restored tree is checked to be *whole*: all of it from one save. The
 * crash-safety cases check the promise of the header after every injected failure and
 * every SIGKILL: `path` restores to the old or the new checkpoint, never to a mix and never
 * to nothing. Both replacement protocols run: the atomic swap (RENAME_EXCHANGE) and the
 * two-rename fallback, forced with a file-system table that has no exchange.
 */
#include "sp_test.h"

#include "sp/sp_ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROWS 256 /* 256 x 256 float32: a 256 KiB array, so a save takes a measurable time */

static const char *in_tmp(const char *leaf)
{
    static char buf[8][1024];
    static int next;
    char *const b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", sp_test_tmpdir(), leaf);
    return b;
}

/* Generation g: every leaf is a function of g. */
static sp_tree *make_tree(int64_t g)
{
    sp_tree *t = NULL;
    SP_ASSERT_OK(sp_tree_create(&t));
    static float big[ROWS * ROWS];
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) big[i] = (float)g + (float)(i % 1000) * 1e-3f;
    uint64_t const bshape[2] = {ROWS, ROWS};
    int64_t const small[3] = {g, -g, 7};
    uint64_t const sshape[1] = {3};
    uint8_t const flags[2] = {1, (uint8_t)(g & 1)};
    uint64_t const fshape[1] = {2};
    char json[64], text[64];
    snprintf(json, sizeof json, "{\"g\": %lld}", (long long)g);
    snprintf(text, sizeof text, "generation %lld", (long long)g);
    SP_ASSERT_OK(sp_tree_add_array(t, "model/w", SP_DTYPE_F32, 2, bshape, big, NULL));
    SP_ASSERT_OK(sp_tree_add_array(t, "model/b", SP_DTYPE_I64, 1, sshape, small, NULL));
    SP_ASSERT_OK(sp_tree_add_array(t, "flags", SP_DTYPE_BOOL, 1, fshape, flags, NULL));
    SP_ASSERT_OK(sp_tree_add_i64(t, "g", g, NULL));
    SP_ASSERT_OK(sp_tree_add_f64(t, "lr", 0.5 + (double)g, NULL));
    SP_ASSERT_OK(sp_tree_add_string(t, "note", text, NULL));
    SP_ASSERT_OK(sp_tree_add_json(t, "meta", json, NULL));
    return t;
}

/* The generation of a restored tree after checking every leaf against it; fails the case
 * when the leaves do not all come from one generation. */
static int64_t whole_generation(const sp_tree *t)
{
    int64_t g = -1;
    SP_ASSERT_OK(sp_tree_get_i64(t, "g", &g, NULL));
    sp_tree *const want = make_tree(g);
    SP_ASSERT_EQ_U64(sp_tree_count(t), sp_tree_count(want));
    for (size_t i = 0; i < sp_tree_count(want); i++) {
        sp_leaf_view a, b;
        SP_ASSERT_OK(sp_tree_at(want, i, &a));
        SP_ASSERT_OK(sp_tree_find(t, a.path, &b));
        SP_EXPECT_MSG(a.kind == b.kind && a.nbytes == b.nbytes, "leaf %s differs in kind or size", a.path);
        if (a.kind == SP_LEAF_ARRAY) SP_EXPECT_MSG(memcmp(a.data, b.data, a.nbytes) == 0, "leaf %s: mixed data", a.path);
        if (a.kind == SP_LEAF_F64) SP_EXPECT(a.f64 == b.f64);
        if (a.kind == SP_LEAF_STRING || a.kind == SP_LEAF_JSON) SP_EXPECT(strcmp(a.text, b.text) == 0);
    }
    sp_tree_free(want);
    return g;
}

static void save_gen(const sp_fs *fs, const char *path, int64_t g, int force)
{
    sp_tree *const t = make_tree(g);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = force;
    sp_error e;
    sp_error_clear(&e);
    sp_status const s = sp_ckpt_save_at_fs(fs, path, t, &a, &e);
    SP_EXPECT_MSG(s == SP_OK, "save_at %s (g %lld): %d %s", path, (long long)g, s, e.message);
    sp_tree_free(t);
}

/* Restores path and returns its generation (-1 when nothing restores: the error goes to e). */
static int64_t restored_gen(const char *path, sp_error *e)
{
    sp_tree *t = NULL;
    sp_error_clear(e);
    if (sp_ckpt_restore_at(path, NULL, NULL, &t, e) != SP_OK) return -1;
    int64_t const g = whole_generation(t);
    sp_tree_free(t);
    return g;
}

static int leftovers(const char *dir)
{
    return sp_test_count_entries_with(dir, ".sp-tmp-") + sp_test_count_entries_with(dir, ".sp-old-");
}

/* The POSIX table without exchange: what a file system without RENAME_EXCHANGE gives. */
static const sp_fs *fs_without_exchange(void)
{
    static sp_fs f;
    f = *sp_fs_posix();
    f.exchange = NULL;
    return &f;
}

/* A pid that no longer runs: a child that exited and was reaped. */
static long dead_pid(void)
{
    pid_t const pid = fork();
    SP_EXPECT(pid >= 0);
    if (pid == 0) _exit(0);
    int st = 0;
    waitpid(pid, &st, 0);
    return (long)pid;
}

/* ---- behaviour ---- */

SP_TEST(ckpt_at_round_trip_with_and_without_target)
{
    const char *const path = in_tmp("a/b/ckpt"); /* parents are created */
    sp_tree *const t = make_tree(5);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.custom_metadata_json = "{\"who\": \"test\"}";
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_save_at(path, t, &a, &e));
    SP_EXPECT(restored_gen(path, &e) == 5);
    /* With the tree itself as target; the restored step is the 0 a save_at records. */
    sp_ckpt_restore_args r;
    sp_ckpt_restore_args_init(&r);
    int64_t step = -7;
    r.restored_step = &step;
    sp_tree *back = NULL;
    SP_ASSERT_OK(sp_ckpt_restore_at(path, t, &r, &back, &e));
    SP_ASSERT_EQ_INT(step, 0);
    SP_ASSERT_EQ_INT(whole_generation(back), 5);
    sp_tree_free(back);
    /* Metadata: the custom metadata, the items, the directory name. */
    sp_ckpt_step_info info;
    char *json = NULL;
    SP_ASSERT_OK(sp_ckpt_metadata_at(path, &info, &json, &e));
    SP_ASSERT_STR_CONTAINS(json, "\"who\": \"test\"");
    SP_ASSERT_STR_CONTAINS(info.items, "model");
    SP_EXPECT(strcmp(info.dir_name, "ckpt") == 0 && info.step == 0 && info.total_bytes > ROWS * ROWS * 4);
    free(json);
    /* A trailing slash names the same checkpoint. */
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", path);
    SP_EXPECT(restored_gen(slash, &e) == 5);
    SP_EXPECT(leftovers(in_tmp("a/b")) == 0);
    sp_tree_free(t);
}

SP_TEST(ckpt_at_target_shapes_are_checked_except_scalar_placeholders)
{
    const char *const path = in_tmp("ckpt");
    save_gen(NULL, path, 1, 0);
    /* A target whose w has another shape: refused, naming the leaf and both shapes... */
    sp_tree *target = NULL;
    SP_ASSERT_OK(sp_tree_create(&target));
    float zero = 0;
    int64_t const b[3] = {0, 0, 0};
    uint64_t const bshape[1] = {3};
    uint8_t const flags[2] = {0, 0};
    uint64_t const fshape[1] = {2};
    SP_ASSERT_OK(sp_tree_add_array(target, "model/w", SP_DTYPE_F32, 0, NULL, &zero, NULL));
    SP_ASSERT_OK(sp_tree_add_array(target, "model/b", SP_DTYPE_I64, 1, bshape, b, NULL));
    SP_ASSERT_OK(sp_tree_add_array(target, "flags", SP_DTYPE_BOOL, 1, fshape, flags, NULL));
    SP_ASSERT_OK(sp_tree_add_i64(target, "g", 0, NULL));
    SP_ASSERT_OK(sp_tree_add_f64(target, "lr", 0, NULL));
    SP_ASSERT_OK(sp_tree_add_string(target, "note", "", NULL));
    SP_ASSERT_OK(sp_tree_add_json(target, "meta", "{}", NULL));
    sp_tree *out = NULL;
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_restore_at(path, target, NULL, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "model/w");
    SP_ASSERT_STR_CONTAINS(e.message, "float32[256,256]");
    /* ... but with scalar_placeholders the 0-d target w stands for any shape of float32. */
    sp_ckpt_restore_args r;
    sp_ckpt_restore_args_init(&r);
    r.scalar_placeholders = 1;
    SP_ASSERT_OK(sp_ckpt_restore_at(path, target, &r, &out, &e));
    SP_ASSERT_EQ_INT(whole_generation(out), 1);
    sp_tree_free(out);
    /* A placeholder of another dtype, a non-scalar target of another shape and a kind
     * mismatch are still refused. */
    sp_tree *other = NULL;
    double zero64 = 0;
    SP_ASSERT_OK(sp_tree_create(&other));
    SP_ASSERT_OK(sp_tree_add_array(other, "model/w", SP_DTYPE_F64, 0, NULL, &zero64, NULL));
    r.partial = 1;
    SP_ASSERT_STATUS(sp_ckpt_restore_at(path, other, &r, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "float64");
    sp_tree_free(other);
    SP_ASSERT_OK(sp_tree_create(&other));
    int64_t const b2[2] = {0, 0};
    uint64_t const b2shape[1] = {2};
    SP_ASSERT_OK(sp_tree_add_array(other, "model/b", SP_DTYPE_I64, 1, b2shape, b2, NULL));
    SP_ASSERT_STATUS(sp_ckpt_restore_at(path, other, &r, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "model/b");
    sp_tree_free(other);
    sp_tree *bad = NULL;
    SP_ASSERT_OK(sp_tree_create(&bad));
    SP_ASSERT_OK(sp_tree_add_string(bad, "g", "not an integer", NULL));
    SP_ASSERT_STATUS(sp_ckpt_restore_at(path, bad, &r, &out, &e), SP_ERR_MISMATCH);
    SP_ASSERT_STR_CONTAINS(e.message, "'g'");
    sp_tree_free(bad);
    sp_tree_free(target);
}

SP_TEST(ckpt_at_existing_path_is_replaced_only_with_force)
{
    const char *const path = in_tmp("ckpt");
    save_gen(NULL, path, 1, 0);
    sp_tree *const t = make_tree(2);
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_save_at(path, t, NULL, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "force");
    SP_EXPECT(restored_gen(path, &e) == 1);
    SP_EXPECT(leftovers(sp_test_tmpdir()) == 0);
    save_gen(NULL, path, 2, 1);
    SP_EXPECT(restored_gen(path, &e) == 2);
    save_gen(fs_without_exchange(), path, 3, 1); /* the two-rename fallback */
    SP_EXPECT(restored_gen(path, &e) == 3);
    SP_EXPECT_MSG(leftovers(sp_test_tmpdir()) == 0, "the replaced checkpoints were not removed");
    sp_tree_free(t);
}

SP_TEST(ckpt_at_never_replaces_what_is_not_a_checkpoint)
{
    sp_tree *const t = make_tree(1);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = 1;
    sp_error e;
    /* A regular file. */
    const char *const file = in_tmp("file");
    sp_test_write_file(file, "mine", 4);
    SP_ASSERT_STATUS(sp_ckpt_save_at(file, t, &a, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "not a checkpoint");
    size_t n = 0;
    unsigned char *const back = sp_test_read_file(file, &n);
    SP_EXPECT(back && n == 4 && memcmp(back, "mine", 4) == 0);
    free(back);
    /* A directory of someone else's files. */
    const char *const dir = in_tmp("theirs");
    SP_EXPECT(mkdir(dir, 0755) == 0);
    char inner[1100];
    snprintf(inner, sizeof inner, "%s/data.bin", dir);
    sp_test_write_file(inner, "x", 1);
    SP_ASSERT_STATUS(sp_ckpt_save_at(dir, t, &a, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "not a whole synthpix checkpoint");
    SP_EXPECT(access(inner, F_OK) == 0);
    /* A symbolic link to a real checkpoint: never replaced through. */
    const char *const real = in_tmp("real");
    save_gen(NULL, real, 4, 0);
    const char *const link = in_tmp("link");
    SP_EXPECT(symlink(real, link) == 0);
    SP_ASSERT_STATUS(sp_ckpt_save_at(link, t, &a, &e), SP_ERR_EXISTS);
    SP_ASSERT_STR_CONTAINS(e.message, "symbolic link");
    SP_EXPECT(restored_gen(real, &e) == 4);
    SP_EXPECT(restored_gen(link, &e) == 4); /* reading through a link is fine */
    SP_EXPECT(leftovers(sp_test_tmpdir()) == 0);
    sp_tree_free(t);
}

SP_TEST(ckpt_at_refuses_bad_paths_and_reports_missing_ones)
{
    sp_tree *const t = make_tree(1);
    sp_error e;
    SP_ASSERT_STATUS(sp_ckpt_save_at("", t, NULL, &e), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_ckpt_save_at(in_tmp(".."), t, NULL, &e), SP_ERR_INVALID);
    SP_ASSERT_STATUS(sp_ckpt_save_at(in_tmp("x.sp-tmp-1-00000000"), t, NULL, &e), SP_ERR_INVALID);
    SP_ASSERT_STR_CONTAINS(e.message, "reserved");
    SP_ASSERT_STATUS(sp_ckpt_save_at(in_tmp("x"), NULL, NULL, &e), SP_ERR_INVALID);
    sp_tree *out = NULL;
    SP_ASSERT_STATUS(sp_ckpt_restore_at(in_tmp("nothing"), NULL, NULL, &out, &e), SP_ERR_NOTFOUND);
    SP_ASSERT_STR_CONTAINS(e.message, "nothing");
    SP_EXPECT(out == NULL);
    sp_ckpt_step_info info;
    SP_ASSERT_STATUS(sp_ckpt_metadata_at(in_tmp("nothing"), &info, NULL, &e), SP_ERR_NOTFOUND);
    sp_tree_free(t);
}

SP_TEST(ckpt_at_restores_a_manager_step_directory)
{
    const char *const root = in_tmp("root");
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    o.step_prefix = "step";
    sp_ckpt_manager *m = NULL;
    SP_ASSERT_OK(sp_ckpt_manager_open(&m, root, &o, NULL));
    sp_tree *const t = make_tree(9);
    SP_ASSERT_OK(sp_ckpt_save(m, 7, t, NULL, NULL, NULL));
    SP_ASSERT_OK(sp_ckpt_manager_close(m, -1, NULL));
    sp_ckpt_restore_args r;
    sp_ckpt_restore_args_init(&r);
    int64_t step = -1;
    r.restored_step = &step;
    sp_tree *out = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_restore_at(in_tmp("root/step_7"), NULL, &r, &out, &e));
    SP_ASSERT_EQ_INT(step, 7);
    SP_ASSERT_EQ_INT(whole_generation(out), 9);
    sp_tree_free(out);
    sp_tree_free(t);
}

SP_TEST(ckpt_at_restores_the_old_copy_a_kill_between_renames_left)
{
    /* The state a forced save on a file system without exchange leaves when killed between
     * its two renames: no `path`, the old checkpoint whole under .sp-old-, and possibly the
     * complete new one under its temporary name (never restored: it was not published). */
    const char *const path = in_tmp("ckpt");
    save_gen(NULL, path, 1, 0);
    long const pid = dead_pid();
    char side[1100], tmp[1100];
    snprintf(side, sizeof side, "%s.sp-old-%ld-0000abcd", path, pid);
    snprintf(tmp, sizeof tmp, "%s.sp-tmp-%ld-0000abce", path, pid);
    SP_EXPECT(rename(path, side) == 0);
    save_gen(NULL, in_tmp("staging"), 2, 0);
    SP_EXPECT(rename(in_tmp("staging"), tmp) == 0);
    sp_error e;
    SP_EXPECT_MSG(restored_gen(path, &e) == 1, "%s", e.message);
    sp_ckpt_step_info info;
    SP_ASSERT_OK(sp_ckpt_metadata_at(path, &info, NULL, &e));
    SP_EXPECT(strstr(info.dir_name, ".sp-old-") != NULL);
    /* The next save publishes and collects both leftovers of the dead writer. */
    save_gen(NULL, path, 3, 0);
    SP_EXPECT(restored_gen(path, &e) == 3);
    SP_EXPECT_MSG(leftovers(sp_test_tmpdir()) == 0, "the dead writer's leftovers were not collected");
}

SP_TEST(ckpt_at_keeps_leftovers_of_running_writers)
{
    const char *const path = in_tmp("ckpt");
    char live[1100], other[1100];
    snprintf(live, sizeof live, "%s.sp-tmp-%ld-00000001", path, (long)getppid()); /* a running process */
    snprintf(other, sizeof other, "%s.sp-tmp-xyz", path);                          /* not our name pattern */
    SP_EXPECT(mkdir(live, 0755) == 0 && mkdir(other, 0755) == 0);
    save_gen(NULL, path, 1, 0);
    SP_EXPECT(access(live, F_OK) == 0 && access(other, F_OK) == 0);
}

/* ---- injected failures ---- */

/* Fails the n-th counted call of a forced replacement of generation 1 by 2; the path must
 * then restore whole, to 2 when the save reported success. Returns the calls counted. */
static uint64_t replace_with_fault(const char *path, const sp_fs *base, uint64_t n, int err_no)
{
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, base, SP_FS_OP_ALL);
    f.fail_at = n;
    f.fail_errno = err_no;
    sp_tree *const t = make_tree(2);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = 1;
    sp_error e;
    sp_error_clear(&e);
    sp_status const s = sp_ckpt_save_at_fs(&f.fs, path, t, &a, &e);
    sp_tree_free(t);
    sp_error re;
    int64_t const g = restored_gen(path, &re);
    SP_EXPECT_MSG(g == 1 || g == 2, "fail at call %llu (%s): nothing restores: %s", (unsigned long long)n,
                  e.message, re.message);
    SP_EXPECT_MSG(s != SP_OK || g == 2, "call %llu: the save succeeded but the path holds generation %lld",
                  (unsigned long long)n, (long long)g);
    SP_EXPECT_MSG(s == SP_OK || e.message[0] != 0, "call %llu: an error without a message", (unsigned long long)n);
    return f.count;
}

static void fault_sweep(const sp_fs *base, int err_no)
{
    const char *const path = in_tmp("ckpt");
    save_gen(NULL, path, 1, 0);
    uint64_t const total = replace_with_fault(path, base, 0, err_no); /* counts the calls */
    SP_EXPECT(total > 20);
    for (uint64_t n = 1; n <= total; n++) {
        save_gen(NULL, path, 1, 1); /* back to generation 1 */
        (void)replace_with_fault(path, base, n, err_no);
        SP_EXPECT_MSG(leftovers(sp_test_tmpdir()) == 0, "fail at call %llu of %llu: a temporary was left",
                      (unsigned long long)n, (unsigned long long)total);
    }
}

SP_TEST(ckpt_at_forced_replace_survives_every_failing_call_with_exchange)
{
    fault_sweep(sp_fs_posix(), EIO);
}

SP_TEST(ckpt_at_forced_replace_survives_every_failing_call_without_exchange)
{
    fault_sweep(fs_without_exchange(), ENOSPC);
}

/* ---- SIGKILL ---- */

/* Forced saves in a loop from the generation on disk on; one beat byte as each begins. */
static void kill_child(const sp_fs *fs, const char *path, int beat)
{
    sp_error e;
    int64_t g = restored_gen(path, &e);
    for (g = g < 0 ? 1 : g + 1;; g++) {
        sp_tree *const t = make_tree(g);
        sp_ckpt_save_args a;
        sp_ckpt_save_args_init(&a);
        a.force = 1;
        if (write(beat, "s", 1) != 1) _exit(5);
        if (sp_ckpt_save_at_fs(fs, path, t, &a, NULL) != SP_OK) _exit(4);
        sp_tree_free(t);
    }
}

static unsigned save_us(const sp_fs *fs, const char *path)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 3; i++) save_gen(fs, path, 1, 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (unsigned)(((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / 3) + 1u;
}

static void kill_trials(const sp_fs *fs)
{
    const char *const path = in_tmp("ckpt");
    int const trials = sp_test_full() ? 150 : 20;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    unsigned const us = save_us(fs, in_tmp("probe"));
    printf("# %d kills, seed %u, one forced save takes %u us\n", trials, seed, us);
    int64_t last = -1;
    int mid = 0;
    for (int trial = 0; trial < trials; trial++) {
        fflush(stdout);
        int beat[2];
        SP_EXPECT(pipe(beat) == 0);
        pid_t const pid = fork();
        SP_EXPECT(pid >= 0);
        if (pid == 0) {
            close(beat[0]);
            kill_child(fs, path, beat[1]);
        }
        close(beat[1]);
        seed = seed * 1103515245u + 12345u;
        unsigned const r = seed >> 8;
        /* Wait for the 1st, 2nd or 3rd save to begin, then kill uniformly within one save. */
        char c;
        for (int k = 0; k < 1 + (int)(r % 3); k++) SP_EXPECT_MSG(read(beat[0], &c, 1) == 1, "the child died");
        usleep(r / 3 % us);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(beat[0]);
        SP_EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        mid += leftovers(sp_test_tmpdir()) > 0;
        /* The promise: the path restores whole, and never to less than was there before. */
        sp_error e;
        int64_t const g = restored_gen(path, &e);
        if (last < 0 && g < 0 && e.status == SP_ERR_NOTFOUND) continue; /* killed before any save committed */
        SP_EXPECT_MSG(g >= 1, "trial %d: nothing restores: %s", trial, e.message);
        SP_EXPECT_MSG(g >= last, "trial %d: generation went back from %lld to %lld", trial, (long long)last,
                      (long long)g);
        last = g;
    }
    printf("# %d of %d kills left a temporary or an old copy; last generation %lld\n", mid, trials, (long long)last);
    SP_EXPECT_MSG(last >= 3, "the children committed too little (generation %lld)", (long long)last);
    SP_EXPECT_MSG(mid >= trials / 4, "only %d of %d kills landed inside a save", mid, trials);
    save_gen(fs, path, last + 1, 1); /* one clean save collects every dead writer's leftovers */
    SP_EXPECT(leftovers(sp_test_tmpdir()) == 0);
}

SP_TEST(ckpt_at_kill_during_forced_saves_leaves_old_or_new_whole)
{
    kill_trials(sp_fs_posix());
}

SP_TEST(ckpt_at_kill_during_forced_saves_without_exchange_leaves_old_or_new_whole)
{
    kill_trials(fs_without_exchange());
}
