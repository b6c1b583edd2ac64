/* test_mpi.c: synthpix-mpi under Open MPI's mpirun (built only when MPI is found; the
 * protocol itself is tested in every build by test_scaleout.c).
 *
 * Oracle: the dataset `synthpix generate` writes in one process, compared file for file,
 * byte for byte. Crashes: the whole job (mpirun and every rank) SIGKILLed at a random
 * moment, then resumed on another number of ranks, and finished by `synthpix generate
 * --resume` on one process. Refusals: ranks started with other arguments (MPMD), a rank
 * whose configuration file is missing; exit 2, rank 0's message naming the rank.
 */
#include "sp_test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_YAML                                                                                          \
    "scheduler_class: analytic\n"                                                                            \
    "analytic_flow:\n"                                                                                       \
    "  - {kind: uniform, u: 1.5, v: -1.0}\n"                                                                 \
    "  - {kind: lamb_oseen, center: [0.8, 0.8], circulation: 3.0, core_radius: 0.2}\n"                       \
    "  - {kind: taylor_green, amplitude: 2.0, wavelength: 0.8}\n"                                            \
    "analytic_num_examples: 30\n"                                                                            \
    "image_shape: [48, 48]\nflow_field_size: [1.6, 1.6]\nresolution: 100\nimg_offset: [0.16, 0.16]\n"        \
    "dt: 0.01\nvelocities_per_pixel: 1\noutput_units: pixels\n"                                              \
    "min_speed_x: -3\nmax_speed_x: 3\nmin_speed_y: -3\nmax_speed_y: 3\n"                                     \
    "batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 2\nrandomize: true\nseed: 9\n"

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

static const char *config_file(void)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/run.yaml", sp_test_tmpdir());
    sp_test_write_file(path, CONFIG_YAML, strlen(CONFIG_YAML));
    return path;
}

/* `mpirun -n P synthpix-mpi generate ARGS` (P = 0: `synthpix generate ARGS`); its output in out. */
static int run(char *out, size_t cap, unsigned P, const char *args)
{
    if (P == 0) return sp_test_sh(out, cap, "%s generate %s 2>&1", sp_test_cli(), args);
    return sp_test_sh(out, cap, "%s --oversubscribe -n %u %s generate %s 2>&1", SP_MPIEXEC, P, mpi_cli, args);
}

/* The whole job: mpirun's children (the ranks), then mpirun, all by process id. */
static void kill_job(pid_t mpirun)
{
    DIR *const d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], text[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *const f = fopen(path, "r");
        if (f == NULL) continue;
        size_t const n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        const char *const close = strrchr(text, ')'); /* "pid (comm) state ppid ..." */
        int ppid = 0;
        char state;
        if (close && sscanf(close + 1, " %c %d", &state, &ppid) == 2 && ppid == mpirun) kill(atoi(e->d_name), SIGKILL);
    }
    if (d) closedir(d);
    kill(mpirun, SIGKILL);
}

/* Starts the job in the background; its output appended to log. */
static pid_t spawn(unsigned P, const char *args, const char *log)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec %s --oversubscribe -n %u %s generate %s >> %s 2>&1", SP_MPIEXEC, P, mpi_cli, args, log);
    pid_t const pid = fork();
    SP_EXPECT(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

SP_TEST(mpi_ranks_write_the_one_process_dataset)
{
    need_mpi();
    const char *const tmp = sp_test_tmpdir(), *const cfg = config_file();
    char args[2048], out[8192], ref[700], got[700];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(got, sizeof got, "%s/got", tmp);
    snprintf(args, sizeof args, "-c %s -n 400 -o %s -q --threads 1", cfg, ref);
    SP_ASSERT_EQ_INT(run(out, sizeof out, 0, args), 0);
    snprintf(args, sizeof args, "-c %s -n 400 -o %s --threads 1 --checkpoint-dir %s/ck --checkpoint-every 3", cfg, got,
             tmp);
    int const rc = run(out, sizeof out, 3, args);
    SP_EXPECT_MSG(rc == 0, "mpirun exited %d:\n%s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "3 processes x 1 threads");
    sp_test_expect_same_dir(ref, got, 0);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "%s ckpt verify %s/ck 2>&1", sp_test_cli(), tmp), 0);
}

/* Kill moments uniform in [0.5 s, 0.5 s + 2 t / kills), t the one-process run's time, as
 * in test_resume_cli.c (plus mpirun's start-up); the number of ranks changes at every
 * restart (2, 3, 2, ...), and one process finishes. format: "" or "--format h5 ...". */
static void crash_and_resume(const char *format, int want)
{
    const char *const tmp = sp_test_tmpdir(), *const cfg = config_file();
    unsigned const pairs = sp_test_full() ? 3000 : 800;
    char args[2048], out[8192], ref[700], got[700], log[700];
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(got, sizeof got, "%s/got", tmp);
    snprintf(log, sizeof log, "%s/log.txt", tmp);
    snprintf(args, sizeof args, "-c %s -n %u -o %s -q --threads 1 %s", cfg, pairs, ref, format);
    double const t0 = now_s();
    SP_ASSERT_EQ_INT(run(out, sizeof out, 0, args), 0);
    double const t_ref = now_s() - t0;
    snprintf(args, sizeof args, "-c %s -n %u -o %s -q --threads 1 %s --checkpoint-dir %s/ck --checkpoint-every 2 --resume",
             cfg, pairs, got, format, tmp);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int kills = 0, runs = 0, committed = 0;
    while (kills < want && runs < 10 * want) {
        pid_t const pid = spawn(2 + (unsigned)(runs % 2), args, log);
        runs++;
        usleep((useconds_t)(1e6 * (0.5 + 2.0 * t_ref / want * ((double)rand() / RAND_MAX))));
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill_job(pid);
            waitpid(pid, &status, 0);
            kills++;
            committed |= sp_test_sh(NULL, 0, "ls %s/ck | grep -q '^[0-9]'", tmp) == 0;
            continue;
        }
        SP_EXPECT_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a run failed; see %s", log);
        sp_test_expect_same_dir(ref, got, 0);
        SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "rm -rf '%s' '%s/ck'", got, tmp), 0);
    }
    fprintf(stderr, "# %d kills over %d runs, reference %.2f s\n", kills, runs, t_ref);
    SP_EXPECT(kills >= want);
    SP_EXPECT_MSG(committed, "no checkpoint was committed between the kills");
    int const rc = run(out, sizeof out, 0, args); /* finished by one process */
    SP_EXPECT_MSG(rc == 0, "synthpix generate --resume exited %d:\n%s", rc, out);
    sp_test_expect_same_dir(ref, got, 0);
}

SP_TEST(mpi_sigkilled_jobs_resume_on_other_process_counts)
{
    need_mpi();
    crash_and_resume("", sp_test_full() ? 12 : 3);
}

SP_TEST(mpi_sigkilled_h5_jobs_resume_on_other_process_counts)
{
    if (!sp_test_full())
        sp_test_skip("full tier (SP_TEST_FULL=1); the quick tier kills PNG jobs, and test_scaleout h5 ones");
    need_mpi();
    sp_test_need_feature("hdf5");
    crash_and_resume("--format h5 --shard-size 20", 8);
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
