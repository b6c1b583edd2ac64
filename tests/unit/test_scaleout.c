/* test_scaleout.c: sp_generate split between the ranks of a group (docs/scale-out.md),
 * through the library, with ranks joined by sockets (test_group.h), so every build tests
 * the protocol, MPI or not (test_mpi.c runs the real synthpix-mpi under mpirun).
 *
 * Oracle: the dataset one process writes (sp_generate without a group), compared file for
 * file, byte for byte (pairs, shards, params.jsonl, dataset.json). Crashes are SIGKILLs of
 * every rank at a chosen exchange (the hub's kill_at) or of a single process at a chosen
 * pair; resumes change the number of processes (the elastic rule). Failures: a rank whose
 * disk fills, a rank started with other arguments, a rank that cannot start, a rank that
 * never comes (the deadline) - every rank must stop with the same status, the message
 * naming the rank, and the committed steps must verify.
 */
#include "sp_test.h"
#include "test_fixtures.h"
#include "test_group.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <unistd.h>

#include "sp/sp.h"

#define CONFIG_YAML                                                                                          \
    "scheduler_class: analytic\n"                                                                            \
    "analytic_flow:\n"                                                                                       \
    "  - {kind: uniform, u: 1.5, v: -1.0}\n"                                                                 \
    "  - {kind: lamb_oseen, center: [0.8, 0.8], circulation: 3.0, core_radius: 0.2}\n"                       \
    "  - {kind: taylor_green, amplitude: 2.0, wavelength: 0.8}\n"                                            \
    "  - {kind: shear, center: [0.8, 0.8], rate: 2.5}\n"                                                     \
    "analytic_num_examples: %d\n"                                                                            \
    "image_shape: [32, 32]\nflow_field_size: [1.6, 1.6]\nresolution: 100\nimg_offset: [0.16, 0.16]\n"        \
    "dt: 0.01\nvelocities_per_pixel: 1\noutput_units: pixels\n"                                              \
    "min_speed_x: -3\nmax_speed_x: 3\nmin_speed_y: -3\nmax_speed_y: 3\n"                                     \
    "batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 3\nrandomize: true\nloop: %s\n"        \
    "seed: 5\nnoise_uniform: 3\n"

/* One job, as every rank runs it (a rank may be given something else, to test refusals). */
typedef struct job {
    char dir[600], ck[600], res[600]; /* output, checkpoint root (empty: none), result files */
    uint64_t pairs;
    sp_dataset_format format;
    uint64_t shard_size;
    uint64_t every;           /* checkpoint_every */
    int examples;             /* analytic_num_examples: the records of an epoch */
    int finite;               /* loop: false */
    int odd_rank;             /* >= 0: this rank asks for one pair more */
    int broken_rank;          /* >= 0: this rank's flow source is broken */
    int late_rank;            /* >= 0: this rank arrives 3 s late */
    int full_rank;            /* >= 0: this rank's disk is full from write number full_at */
    uint64_t full_at;
    uint64_t die_at;          /* > 0 (one process): SIGKILL itself once this many pairs are covered */
    int slow_rank;            /* >= 0: this rank writes and syncs slowly (watch_fs below) */
} job;

static void job_init(job *j, const char *name, uint64_t pairs)
{
    memset(j, 0, sizeof *j);
    snprintf(j->dir, sizeof j->dir, "%s/%s", sp_test_tmpdir(), name);
    snprintf(j->res, sizeof j->res, "%s/%s.result", sp_test_tmpdir(), name);
    j->pairs = pairs;
    j->format = SP_DATASET_PNG;
    j->shard_size = 24;
    j->every = 12; /* batches: a step every few rounds (a unit is one flow batch of 3 batches) */
    j->examples = 25;
    j->odd_rank = j->broken_rank = j->late_rank = j->full_rank = j->slow_rank = -1;
}

static void with_checkpoints(job *j, const char *name)
{
    snprintf(j->ck, sizeof j->ck, "%s/%s", sp_test_tmpdir(), name);
}

static void die_at(void *ctx, uint64_t covered, uint64_t total, uint64_t start)
{
    (void)total;
    (void)start;
    if (covered >= *(const uint64_t *)ctx) raise(SIGKILL);
}

/* A whole file as a NUL-terminated string (free()), or NULL when missing. */
static char *read_text(const char *path)
{
    size_t n = 0;
    unsigned char *const data = sp_test_read_file(path, &n);
    char *const text = data ? (char *)malloc(n + 1) : NULL;
    if (text) {
        memcpy(text, data, n);
        text[n] = '\0';
    }
    free(data);
    return text;
}

/* ---- a slowed rank, watched by rank 0 ----------------------------------------------------- */

/* The slowed rank's file system: every write takes 2 ms more and every file-system sync
 * 100 ms more; after each sync it records how many it has completed (<res>.synced). Rank
 * 0's: at each step commit (the rename of a step's temporary directory to a step name, N
 * batches of 4 pairs) it checks that the slowed rank has completed a sync for this step
 * and every earlier one, and that every pair file below pair 4N has its final name; a
 * violation is written to <res>.violation. */
typedef struct watch {
    sp_fs fs;
    const job *j;
    int synced, commits;
} watch;

static watch the_watch; /* one per rank process: each rank is its own process */

static int64_t slow_write(void *ctx, int fd, const void *buf, size_t n)
{
    (void)ctx;
    usleep(2000);
    return sp_fs_posix()->write(sp_fs_posix()->ctx, fd, buf, n);
}

static int slow_syncfs(void *ctx, int fd)
{
    (void)ctx;
    usleep(100000);
    int const rc = sp_fs_posix()->syncfs(sp_fs_posix()->ctx, fd);
    char path[700], text[32];
    snprintf(path, sizeof path, "%s.synced", the_watch.j->res);
    int const n = snprintf(text, sizeof text, "%d", ++the_watch.synced);
    sp_test_write_file(path, text, (size_t)n);
    return rc;
}

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    char path[700], text[1024];
    va_list ap;
    va_start(ap, fmt);
    int const n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s.violation", the_watch.j->res);
    sp_test_write_file(path, text, (size_t)n);
}

static void check_commit(uint64_t step)
{
    char path[700];
    snprintf(path, sizeof path, "%s.synced", the_watch.j->res);
    char *const text = read_text(path);
    int const synced = text ? atoi(text) : 0;
    free(text);
    the_watch.commits++;
    if (synced < the_watch.commits)
        violation("step %llu committed while the slowed rank had synced %d rounds, not %d", (unsigned long long)step,
                  synced, the_watch.commits);
    for (uint64_t i = 0; i < 4 * step; i++) {
        snprintf(path, sizeof path, "%s/pair_%06llu_flow.flo", the_watch.j->dir, (unsigned long long)i);
        if (access(path, F_OK) != 0) violation("step %llu committed without %s", (unsigned long long)step, path);
    }
}

static int watched_rename(void *ctx, const char *from, const char *to)
{
    (void)ctx;
    size_t const root = strlen(the_watch.j->ck);
    const char *const name = to + root + 1;
    if (strncmp(to, the_watch.j->ck, root) == 0 && to[root] == '/' && strstr(from, ".sp-tmp-") &&
        strspn(name, "0123456789") == strlen(name) && *name)
        check_commit(strtoull(name, NULL, 10));
    return sp_fs_posix()->rename(sp_fs_posix()->ctx, from, to);
}

static const sp_fs *watch_fs(const job *j, unsigned rank)
{
    memset(&the_watch, 0, sizeof the_watch);
    the_watch.j = j;
    the_watch.fs = *sp_fs_posix();
    if ((int)rank == j->slow_rank) {
        the_watch.fs.write = slow_write;
        the_watch.fs.syncfs = slow_syncfs;
        return &the_watch.fs;
    }
    if (rank == 0) {
        the_watch.fs.rename = watched_rename;
        return &the_watch.fs;
    }
    return NULL;
}

/* One rank: the job through sp_generate; its result as "status started complete written\n
 * message" in <res>.<rank>. Exit 0 on success, 1 otherwise. */
static int rank_main(void *ctx, const sp_group *g)
{
    job *const j = (job *)ctx;
    unsigned const rank = g ? g->rank : 0;
    if ((int)rank == j->late_rank) sleep(3);
    char yaml[4096];
    snprintf(yaml, sizeof yaml, CONFIG_YAML, j->examples, j->finite ? "false" : "true");
    if ((int)rank == j->broken_rank) strcat(yaml, "histogram: /nonexistent/histogram.npy\n");
    sp_config cfg;
    sp_diag d;
    sp_diag_init(&d);
    sp_status st = sp_config_load_string(&cfg, yaml, strlen(yaml), "test.yaml", sp_test_tmpdir(), &d);
    sp_diag_free(&d);
    if (st != SP_OK) return 3;
    sp_generate_options o;
    sp_generate_options_init(&o);
    o.dataset.pairs = j->pairs + ((int)rank == j->odd_rank);
    o.dataset.format = j->format;
    o.dataset.shard_size = j->shard_size;
    o.sampler.threads = 1;
    o.checkpoint_dir = j->ck[0] ? j->ck : NULL;
    o.checkpoint_every = j->every;
    o.resume = 1;
    o.group = g && g->size > 1 ? g : NULL;
    sp_fs_faulty faulty;
    sp_fs_faulty_init(&faulty, sp_fs_posix(), SP_FS_OP_WRITE);
    if ((int)rank == j->full_rank) {
        faulty.fail_at = j->full_at;
        faulty.fail_errno = ENOSPC;
        faulty.sticky = 1;
        o.dataset.fs = &faulty.fs;
    }
    if (j->slow_rank >= 0) o.dataset.fs = watch_fs(j, rank);
    if (j->die_at) {
        o.progress = die_at;
        o.progress_ctx = &j->die_at;
    }
    sp_generate_result r;
    sp_error e;
    sp_error_clear(&e);
    st = sp_generate(&cfg, j->dir, &o, &r, &e);
    sp_config_free(&cfg);
    char path[700], text[2048];
    snprintf(path, sizeof path, "%s.%u", j->res, rank);
    int const n = snprintf(text, sizeof text, "%d %d %d %llu\n%s", (int)st, r.started, r.already_complete,
                           (unsigned long long)r.pairs_written, e.message);
    sp_test_write_file(path, text, (size_t)n);
    return st == SP_OK ? 0 : 1;
}

typedef struct outcome {
    int status, started, complete;
    unsigned long long written;
    char message[SP_ERROR_MESSAGE_MAX];
} outcome;

static outcome result_of(const job *j, unsigned rank)
{
    outcome o;
    memset(&o, 0, sizeof o);
    char path[700];
    snprintf(path, sizeof path, "%s.%u", j->res, rank);
    char *const text = read_text(path);
    SP_EXPECT_MSG(text != NULL, "rank %u left no result", rank);
    SP_EXPECT(sscanf(text, "%d %d %d %llu", &o.status, &o.started, &o.complete, &o.written) == 4);
    const char *const nl = strchr(text, '\n');
    snprintf(o.message, sizeof o.message, "%s", nl ? nl + 1 : "");
    free(text);
    return o;
}

/* The job on P ranks (P = 1: one process, no group) in child processes. */
static sp_test_group_result run_group(unsigned P, job *j, const sp_test_group_opts *opts)
{
    sp_test_group_result res;
    sp_test_group_run(P, rank_main, j, opts, &res);
    SP_EXPECT_MSG(res.order_error[0] == '\0', "ranks called different exchanges: %s", res.order_error);
    return res;
}

static void expect_success(unsigned P, job *j)
{
    sp_test_group_result const res = run_group(P, j, NULL);
    for (unsigned r = 0; r < P; r++) {
        outcome const o = result_of(j, r);
        SP_EXPECT_MSG(res.exit_code[r] == 0 && o.status == 0, "%u ranks: rank %u exited %d: %s", P, r,
                      res.exit_code[r], o.message);
    }
}

/* Every rank failed with `status`, and rank 0's message holds `fragment`. */
static void expect_all_failed(unsigned P, const job *j, const sp_test_group_result *res, int status,
                              const char *fragment)
{
    for (unsigned r = 0; r < P; r++) {
        outcome const o = result_of(j, r);
        SP_EXPECT_MSG(res->exit_code[r] == 1 && o.status == status, "rank %u: exit %d, status %d (want %d): %s", r,
                      res->exit_code[r], o.status, status, o.message);
        if (r == 0) SP_ASSERT_STR_CONTAINS(o.message, fragment);
    }
}

static void expect_steps_verify(const char *root)
{
    sp_ckpt_options co;
    sp_ckpt_options_init(&co);
    co.read_only = 1;
    co.detect_naming = 1;
    sp_ckpt_manager *m = NULL;
    sp_error e;
    SP_EXPECT_MSG(sp_ckpt_manager_open(&m, root, &co, &e) == SP_OK, "%s: %s", root, e.message);
    int64_t steps[64];
    size_t const n = sp_ckpt_all_steps(m, steps, 64);
    SP_EXPECT_MSG(n > 0, "%s: no committed step", root);
    for (size_t i = 0; i < n && i < 64; i++)
        SP_EXPECT_MSG(sp_ckpt_verify(m, steps[i], NULL, NULL, &e) == SP_OK, "step %lld: %s", (long long)steps[i], e.message);
    sp_ckpt_manager_close(m, -1, NULL);
}

/* ---- the split ------------------------------------------------------------------------ */

/* 2 and 3 ranks, with and without checkpoints, write the one-process dataset; a second run
 * over a finished dataset changes nothing on any rank. */
SP_TEST(scaleout_ranks_write_the_one_process_dataset)
{
    job ref, a, b;
    job_init(&ref, "ref", 240);
    expect_success(1, &ref);
    job_init(&a, "two", 240);
    with_checkpoints(&a, "two.ck");
    expect_success(2, &a);
    sp_test_expect_same_dir(ref.dir, a.dir, 0);
    expect_steps_verify(a.ck);
    job_init(&b, "three", 240);
    expect_success(3, &b);
    sp_test_expect_same_dir(ref.dir, b.dir, 0);
    expect_success(2, &a);
    for (unsigned r = 0; r < 2; r++) SP_EXPECT_MSG(result_of(&a, r).complete, "rank %u: not 'already complete'", r);
}

/* Killed at chosen exchanges and resumed on another number of processes each time (3, 2,
 * then one process), and a one-process run killed mid-way resumed on 3 ranks: every
 * dataset equals the uninterrupted one. */
SP_TEST(scaleout_resume_on_any_number_of_processes)
{
    job ref, a, b;
    job_init(&ref, "ref", 480);
    expect_success(1, &ref);
    job_init(&a, "a", 480);
    with_checkpoints(&a, "a.ck");
    /* Exchanges: identity, start verdict, then a report and a verdict per sync round. On
     * 3 ranks a round is 9 batches: steps at batches 18 and 27 before the 7th exchange. */
    sp_test_group_opts k = {0, 7, 0};
    sp_test_group_result res = run_group(3, &a, &k);
    SP_EXPECT(res.killed && res.exchanges == 6);
    k.kill_at = 8; /* on 2 ranks, from batch 27: rounds of 6 batches, two more steps */
    res = run_group(2, &a, &k);
    SP_EXPECT(res.killed);
    expect_steps_verify(a.ck);
    expect_success(1, &a);
    sp_test_expect_same_dir(ref.dir, a.dir, 0);
    job_init(&b, "b", 480);
    with_checkpoints(&b, "b.ck");
    b.every = 5; /* steps mid flow batch: batch 5 is repetition 2 of flow batch 1 */
    b.die_at = 250;
    res = run_group(1, &b, NULL);
    SP_ASSERT_EQ_INT(res.exit_code[0], 128 + SIGKILL);
    b.die_at = 0;
    expect_success(3, &b);
    sp_test_expect_same_dir(ref.dir, b.dir, 0);
}

/* HDF5 shards of 24 pairs: a rank writes whole shards, which are the one-process shards;
 * killed on 3 ranks, resumed on 2. */
SP_TEST(scaleout_h5_shards_equal_the_one_process_shards)
{
    sp_test_need_feature("hdf5");
    job ref, a;
    job_init(&ref, "ref", 500);
    ref.format = SP_DATASET_H5;
    expect_success(1, &ref);
    job_init(&a, "a", 500);
    a.format = SP_DATASET_H5;
    with_checkpoints(&a, "a.ck");
    sp_test_group_opts const k = {0, 7, 0};
    sp_test_group_result const res = run_group(3, &a, &k);
    SP_EXPECT(res.killed);
    expect_success(2, &a);
    sp_test_expect_same_dir(ref.dir, a.dir, 0);
}

/* A finite stream (loop: false) ends inside a round: every rank stops there, and the
 * dataset is the one process's (fewer pairs than asked). */
SP_TEST(scaleout_a_finite_stream_ends_alike_on_every_rank)
{
    job ref, a;
    job_init(&ref, "ref", 2000);
    ref.finite = 1;
    ref.examples = 40; /* 40 records: 20 flow batches of 12 pairs, 216 + 24 on 3 ranks */
    expect_success(1, &ref);
    SP_ASSERT_EQ_U64(result_of(&ref, 0).written, 240);
    job_init(&a, "a", 2000);
    a.finite = 1;
    a.examples = 40;
    with_checkpoints(&a, "a.ck");
    expect_success(3, &a);
    for (unsigned r = 0; r < 3; r++) SP_ASSERT_EQ_U64(result_of(&a, r).written, 240);
    sp_test_expect_same_dir(ref.dir, a.dir, 0);
}

/* A step is never committed while a rank's pairs are missing or unsynced: rank 2 of 3
 * writes and syncs slowly, and at every commit rank 0's file system checks that rank 2 had
 * completed its sync for the step and that every pair below the step is there. */
SP_TEST(scaleout_a_step_waits_for_the_slowest_rank_to_be_durable)
{
    job ref, a;
    job_init(&ref, "ref", 216);
    expect_success(1, &ref);
    job_init(&a, "a", 216);
    with_checkpoints(&a, "a.ck");
    a.every = 6;
    a.slow_rank = 2;
    expect_success(3, &a);
    char path[700];
    snprintf(path, sizeof path, "%s.violation", a.res);
    char *const v = read_text(path);
    SP_EXPECT_MSG(v == NULL, "%s", v ? v : "");
    snprintf(path, sizeof path, "%s.synced", a.res);
    char *const synced = read_text(path);
    SP_EXPECT_MSG(synced && atoi(synced) >= 4, "the slowed rank synced %s times", synced ? synced : "no");
    free(synced);
    sp_test_expect_same_dir(ref.dir, a.dir, 0);
    expect_steps_verify(a.ck);
}

/* ---- failures: every rank stops together ---------------------------------------------- */

/* Rank 1's disk fills mid-run: every rank fails with its status and message; the steps
 * committed before verify, and a resume on a healthy disk finishes the same dataset. */
SP_TEST(scaleout_a_rank_with_a_full_disk_stops_every_rank)
{
    job ref, a;
    job_init(&ref, "ref", 480);
    expect_success(1, &ref);
    job_init(&a, "a", 480);
    with_checkpoints(&a, "a.ck");
    a.full_rank = 1;
    a.full_at = 200; /* writes: about 60 of its 160 pairs in, after the first steps */
    sp_test_group_result const res = run_group(3, &a, NULL);
    expect_all_failed(3, &a, &res, SP_ERR_NOSPC, "rank 1: ");
    SP_ASSERT_STR_CONTAINS(result_of(&a, 2).message, "No space left on device");
    expect_steps_verify(a.ck);
    a.full_rank = -1;
    expect_success(3, &a);
    sp_test_expect_same_dir(ref.dir, a.dir, 0);
}

/* Rank 2 asks for another pair count: refused by every rank before anything is written. */
SP_TEST(scaleout_ranks_with_other_arguments_are_refused)
{
    job a;
    job_init(&a, "a", 100);
    a.odd_rank = 2;
    sp_test_group_result const res = run_group(3, &a, NULL);
    expect_all_failed(3, &a, &res, SP_ERR_MISMATCH, "rank 2 was started with pairs 101, rank 0 with pairs 100");
    SP_EXPECT_MSG(access(a.dir, F_OK) != 0, "%s was created", a.dir);
}

/* Rank 1 cannot build its sampler (a file its configuration names is missing there):
 * every rank stops with its reason, nothing written. */
SP_TEST(scaleout_a_rank_that_cannot_start_stops_every_rank)
{
    job a;
    job_init(&a, "a", 100);
    a.broken_rank = 1;
    sp_test_group_result const res = run_group(2, &a, NULL);
    outcome const o0 = result_of(&a, 0), o1 = result_of(&a, 1);
    SP_EXPECT(res.exit_code[0] == 1 && res.exit_code[1] == 1 && o0.status == o1.status && o0.status != 0);
    SP_ASSERT_STR_CONTAINS(o0.message, "rank 1: ");
    SP_ASSERT_STR_CONTAINS(o0.message, "/nonexistent/histogram.npy");
    SP_EXPECT_MSG(access(a.dir, F_OK) != 0, "%s was created", a.dir);
}

/* Rank 2 never comes within the deadline: the waiting ranks fail naming the exchange. */
SP_TEST(scaleout_a_missing_rank_times_out_naming_the_wait)
{
    job a;
    job_init(&a, "a", 100);
    a.late_rank = 2;
    sp_test_group_opts const t = {400, 0, 0};
    sp_test_group_result const res = run_group(3, &a, &t);
    SP_EXPECT(res.timed_out);
    for (unsigned r = 0; r < 2; r++) {
        outcome const o = result_of(&a, r);
        SP_ASSERT_EQ_INT(o.status, SP_ERR_TIMEOUT);
        SP_ASSERT_STR_CONTAINS(o.message, "'start identity'");
    }
}
