/* test_mpi.c: synthpix-mpi under Open MPI's mpirun (built only when MPI is found; the
 * protocol itself is tested in every build by test_scaleout.c).
 *
 * Configuration: five .npy flows, B = 4, F = 2, batches_per_flow_batch = 3, randomize.
 * Oracle: the dataset `synthpix generate` writes in one process: the sha256 of every file
 * (1 to 4 ranks, PNG and h5), or a file-for-file comparison. Crashes: one process of the
 * job (a rank, or the single process) SIGKILLed at a random moment, mpirun ending the rest;
 * each restart on 1, 2 or 3 processes drawn at random, every surviving step verified after
 * each kill. Refusals: ranks started with other arguments (MPMD), a rank whose
 * configuration file is missing; exit 2, rank 0's message naming the rank.
 */
#include "sp_test.h"
#include "test_fixtures.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Five 16x16 .npy flows (flow_i has its own pattern) and the configuration: B = 4,
 * F = 2, batches_per_flow_batch = 3, randomize; returns the configuration's path. */
static const char *config_file(void)
{
    static char path[700];
    char list[4096] = "";
    for (int f = 0; f < 5; f++) {
        char npy[700];
        snprintf(npy, sizeof npy, "%s/flow_%d.npy", sp_test_tmpdir(), f);
        float data[16 * 16 * 2];
        for (size_t i = 0; i < 16 * 16; i++) {
            data[2 * i] = 0.5f * (float)f - 0.8f + 0.01f * (float)(i % 16);
            data[2 * i + 1] = 0.3f - 0.2f * (float)f + 0.02f * (float)(i / 16);
        }
        size_t const shape[3] = {16, 16, 2};
        sp_test_write_npy(npy, SP_DTYPE_F32, 3, shape, data);
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", f ? ", " : "", npy);
    }
    char yaml[8192];
    int const n = snprintf(yaml, sizeof yaml,
                           "scheduler_class: .npy\nfile_list: [%s]\nimage_shape: [32, 32]\nflow_field_size: [16, 16]\n"
                           "resolution: 4\nimg_offset: [4, 4]\ndt: 1\nvelocities_per_pixel: 1\noutput_units: pixels\n"
                           "min_speed_x: -1\nmax_speed_x: 1\nmin_speed_y: -1\nmax_speed_y: 1\nseed: 9\n"
                           "batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 3\nrandomize: true\n", list);
    snprintf(path, sizeof path, "%s/run.yaml", sp_test_tmpdir());
    sp_test_write_file(path, yaml, (size_t)n);
    return path;
}

static const char *const mpi_cli = SP_MPI_CLI; /* built with this test */

/* mpirun, or the case is skipped (the MPI headers and library were found, the launcher is
 * not there). Sanitizer builds: Open MPI's own allocations are not ours to report. */
static void need_mpi(void)
{
    if (access(SP_MPIEXEC, X_OK) != 0) sp_test_skip("%s is missing (install openmpi-bin)", SP_MPIEXEC);
    SP_EXPECT_MSG(access(mpi_cli, X_OK) == 0, "%s is not built", mpi_cli);
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1); /* CI runs as root */
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
#if SP_SANITIZED
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
#endif
}


/* `mpirun -n P synthpix-mpi generate ARGS` (P = 0: `synthpix generate ARGS`); its output in out. */
static int run(char *out, size_t cap, unsigned P, const char *args)
{
    if (P == 0) return sp_test_sh(out, cap, "%s generate %s 2>&1", sp_test_cli(), args);
    return sp_test_sh(out, cap, "%s --oversubscribe -n %u %s generate %s 2>&1", SP_MPIEXEC, P, mpi_cli, args);
}

/* The sha256 of every file of dir, sorted by name, into out. */
static void digests(const char *dir, char *out, size_t cap)
{
    SP_ASSERT_EQ_INT(sp_test_sh(out, cap, "cd '%s' && sha256sum -- * | sort -k 2", dir), 0);
}

/* P = 1 .. 4 ranks over two epochs of the five files (60 pairs): every file's sha256
 * equals the one-process dataset's; PNG, then h5 shards of 8 pairs (units of 2 batches, so
 * ranks start inside flow batches). */
static void ranks_equal_one_process(const char *format)
{
    const char *const tmp = sp_test_tmpdir(), *const cfg = config_file();
    char args[2048], out[8192], ref[700], got[700];
    static char want[65536], have[65536];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(args, sizeof args, "-c %s -n 60 -o %s -q --threads 1 %s", cfg, ref, format);
    int rc = run(out, sizeof out, 0, args);
    SP_EXPECT_MSG(rc == 0, "synthpix generate exited %d:\n%s", rc, out);
    digests(ref, want, sizeof want);
    for (unsigned P = 1; P <= 4; P++) {
        snprintf(got, sizeof got, "%s/p%u", tmp, P);
        snprintf(args, sizeof args, "-c %s -n 60 -o %s --threads 1 %s --checkpoint-dir %s.ck --checkpoint-every 3", cfg,
                 got, format, got);
        rc = run(out, sizeof out, P, args);
        SP_EXPECT_MSG(rc == 0, "%u ranks: mpirun exited %d:\n%s", P, rc, out);
        if (P > 1) SP_ASSERT_STR_CONTAINS(out, "processes x 1 threads");
        digests(got, have, sizeof have);
        SP_EXPECT_MSG(strcmp(want, have) == 0, "%u ranks: the files differ from one process's:\n%s\nwant:\n%s", P, have,
                      want);
        SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s ckpt verify %s.ck 2>&1", sp_test_cli(), got), 0);
    }
}

SP_TEST(mpi_one_to_four_ranks_write_the_one_process_dataset)
{
    need_mpi();
    ranks_equal_one_process("");
}

SP_TEST(mpi_one_to_four_ranks_write_the_one_process_h5_shards)
{
    need_mpi();
    sp_test_need_feature("hdf5");
    ranks_equal_one_process("--format h5 --shard-size 8");
}

/* The process ids of mpirun's children (its ranks), at most cap. */
static size_t children(pid_t parent, pid_t *out, size_t cap)
{
    size_t n = 0;
    DIR *const d = opendir("/proc");
    struct dirent *e;
    while (d && n < cap && (e = readdir(d)) != NULL) {
        char path[300], text[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *const f = fopen(path, "r");
        if (f == NULL) continue;
        size_t const len = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[len] = '\0';
        const char *const close = strrchr(text, ')'); /* "pid (comm) state ppid ..." */
        int ppid = 0;
        char state;
        if (close && sscanf(close + 1, " %c %d", &state, &ppid) == 2 && ppid == parent) out[n++] = atoi(e->d_name);
    }
    if (d) closedir(d);
    return n;
}

/* Starts the job (P = 1: `synthpix generate`, else mpirun) in the background, output
 * appended to log. */
static pid_t spawn(unsigned P, const char *args, const char *log)
{
    char cmd[4096];
    if (P == 1) snprintf(cmd, sizeof cmd, "exec %s generate %s >> %s 2>&1", sp_test_cli(), args, log);
    else snprintf(cmd, sizeof cmd, "exec %s --oversubscribe -n %u %s generate %s >> %s 2>&1", SP_MPIEXEC, P, mpi_cli, args, log);
    return sp_test_spawn_sh(cmd);
}

/* 1 while pid runs (a zombie waiting for its reaper does not). */
static int alive(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *const f = fopen(path, "r");
    if (f == NULL) return 0;
    size_t const len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    const char *const close = strrchr(text, ')');
    return close && close[1] == ' ' && close[2] != 'Z' && close[2] != 'X';
}

/* SIGKILLs one process of the job: the single process, or one rank at random (mpirun then
 * ends the job), and waits until every process of the job is gone: 1. 0 when the job had
 * ended by itself (not yet waited for: the caller reads its status). */
static int kill_one(pid_t pid, unsigned P)
{
    pid_t ranks[8];
    size_t n = P == 1 ? 0 : children(pid, ranks, 8);
    /* mpirun still starting its ranks: wait for all of them (never kill mpirun itself, whose
     * ranks would live on as orphans holding the locks) */
    for (int tries = 0; P > 1 && n < P && tries < 1500; tries++) {
        if (!alive(pid)) return 0;
        usleep(20000);
        n = children(pid, ranks, 8);
    }
    SP_EXPECT_MSG(P == 1 || n == P, "mpirun started %zu of %u ranks in 30 s", n, P);
    if (!alive(pid)) return 0; /* it ended by itself: the caller reads its status */
    kill(P == 1 ? pid : ranks[rand() % (int)n], SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    for (size_t i = 0; i < n; i++) /* mpirun has ended the others: wait for them to be gone */
        for (int tries = 0; alive(ranks[i]) && tries < 500; tries++) usleep(10000);
    return 1;
}

/* The end of a log, for a failure's message (static buffer). */
static const char *log_tail(const char *log)
{
    static char tail[3000];
    size_t n = 0;
    unsigned char *const text = sp_test_read_file(log, &n);
    size_t const from = n > sizeof tail - 1 ? n - (sizeof tail - 1) : 0;
    if (text) memcpy(tail, text + from, n - from);
    tail[text ? n - from : 0] = '\0';
    if (!text) snprintf(tail, sizeof tail, "(no log)");
    free(text);
    return tail;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One process of the job (one rank, or the single process) SIGKILLed at a random moment,
 * then the job run again on 1, 2 or 3 processes drawn at random, until `want` kills; every
 * surviving step verifies after each kill, and the finished dataset is the uninterrupted
 * one-process dataset, byte for byte. Kill moments: uniform in [0, 2 t / want) after the
 * start (plus mpirun's start-up), t the uninterrupted run's time, as in
 * test_resume_cli.c. format: "" or "--format h5 ...". */
static void crash_and_resume(const char *format, int want)
{
    const char *const tmp = sp_test_tmpdir(), *const cfg = config_file();
    unsigned const pairs = 480; /* 40 flow batches */
    char args[2048], out[8192], ref[700], got[700], log[700];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(got, sizeof got, "%s/got", tmp);
    snprintf(log, sizeof log, "%s/log.txt", tmp);
    snprintf(args, sizeof args, "-c %s -n %u -o %s -q --threads 1 %s", cfg, pairs, ref, format);
    double const t0 = now_s();
    SP_ASSERT_EQ_INT(run(out, sizeof out, 0, args), 0);
    double const t_ref = now_s() - t0;
    snprintf(args, sizeof args, "-c %s -n %u -o %s -q --threads 1 %s --checkpoint-dir %s/ck --checkpoint-every 4 --resume",
             cfg, pairs, got, format, tmp);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int kills = 0, runs = 0, committed = 0;
    while (kills < want && runs < 10 * want) {
        unsigned const P = 1 + (unsigned)(rand() % 3);
        pid_t const pid = spawn(P, args, log);
        runs++;
        usleep((useconds_t)(1e6 * ((P > 1 ? 0.4 : 0.0) + 2.0 * t_ref / want * ((double)rand() / RAND_MAX))));
        if (kill_one(pid, P)) {
            kills++;
            if (sp_test_sh(NULL, 0, "ls %s/ck 2>/dev/null | grep -q '^[0-9]'", tmp) != 0) continue;
            committed = 1;
            int const rc = sp_test_sh(out, sizeof out, "%s ckpt verify %s/ck 2>&1", sp_test_cli(), tmp);
            SP_EXPECT_MSG(rc == 0, "after kill %d (%u processes): ckpt verify exited %d:\n%s", kills, P, rc, out);
            continue;
        }
        int status = 0;
        waitpid(pid, &status, 0);
        SP_EXPECT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a run on %u processes failed:\n%s", P,
                      log_tail(log));
        sp_test_expect_same_dir(ref, got, 0); /* it finished first: check, and start over */
        SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "rm -rf '%s' '%s/ck'", got, tmp), 0);
    }
    fprintf(stderr, "# %d kills over %d runs, reference %.2f s\n", kills, runs, t_ref);
    SP_EXPECT(kills >= want);
    SP_EXPECT_MSG(committed, "no checkpoint was committed between the kills");
    int const rc = run(out, sizeof out, 2, args);
    SP_EXPECT_MSG(rc == 0, "the last run exited %d:\n%s", rc, out);
    sp_test_expect_same_dir(ref, got, 0);
}

SP_TEST(mpi_sigkilled_ranks_resume_on_other_process_counts)
{
    need_mpi();
    crash_and_resume("", sp_test_full() ? 50 : 10);
}

SP_TEST(mpi_sigkilled_h5_ranks_resume_on_other_process_counts)
{
    if (!sp_test_full())
        sp_test_skip("full tier (SP_TEST_FULL=1); the quick tier kills PNG jobs, and test_scaleout h5 ones");
    need_mpi();
    sp_test_need_feature("hdf5");
    crash_and_resume("--format h5 --shard-size 20", 20);
}

/* MPMD: rank 1 asks for another pair count, then reads a configuration that is missing:
 * every rank stops before writing, exit 2, rank 0's message names rank 1. */
SP_TEST(mpi_ranks_started_differently_are_refused_naming_the_rank)
{
    need_mpi();
    const char *const tmp = sp_test_tmpdir(), *const cfg = config_file();
    char out[8192];
    int rc = sp_test_sh(out, sizeof out,
                        "%s --oversubscribe -n 1 %s generate -c %s -n 100 -o %s/a -q : -n 1 %s generate -c %s -n 101 "
                        "-o %s/a -q 2>&1",
                        SP_MPIEXEC, mpi_cli, cfg, tmp, mpi_cli, cfg, tmp);
    SP_EXPECT_MSG(rc == 2, "exit %d:\n%s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "rank 1 was started with pairs 101, rank 0 with pairs 100");
    rc = sp_test_sh(out, sizeof out,
                    "%s --oversubscribe -n 1 %s generate -c %s -n 100 -o %s/a -q : -n 1 %s generate -c %s/missing.yaml "
                    "-n 100 -o %s/a -q 2>&1",
                    SP_MPIEXEC, mpi_cli, cfg, tmp, mpi_cli, tmp, tmp);
    SP_EXPECT_MSG(rc == 2, "exit %d:\n%s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "rank 1: usage or configuration error");
    SP_EXPECT_MSG(sp_test_sh(NULL, 0, "test -e %s/a", tmp) != 0, "%s/a was created", tmp);
}
