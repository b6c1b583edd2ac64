/* test_resume_cli.c: synthpix generate with checkpoints, SIGKILLed at random moments and
 * resumed until it finishes; the dataset must equal an uninterrupted run's file for file,
 * byte for byte (images, flows, params.jsonl, dataset.json; PNG, HDF5 shards, and the
 * pykitpiv and cai layouts). Also the CLI's refusals: a
 * checkpoint directory in use without --resume, and a resume with another seed. */
#include "sp_test.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_YAML \
    "scheduler_class: analytic\n" \
    "analytic_flow:\n" \
    "  - {kind: uniform, u: 1.5, v: -1.0}\n" \
    "  - {kind: lamb_oseen, center: [0.8, 0.8], circulation: 3.0, core_radius: 0.2}\n" \
    "  - {kind: taylor_green, amplitude: 2.0, wavelength: 0.8}\n" \
    "  - {kind: shear, center: [0.8, 0.8], rate: 2.5}\n" \
    "  - {kind: stagnation, center: [0.8, 0.8], rate: 1.8}\n" \
    "analytic_num_examples: 5\n" \
    "image_shape: [64, 64]\nflow_field_size: [1.6, 1.6]\nresolution: 200\nimg_offset: [0.16, 0.16]\n" \
    "dt: 0.01\nvelocities_per_pixel: 1\noutput_units: pixels\n" \
    "min_speed_x: -3\nmax_speed_x: 3\nmin_speed_y: -3\nmax_speed_y: 3\n" \
    "batch_size: 4\nflow_fields_per_batch: 2\nbatches_per_flow_batch: 3\nrandomize: true\nseed: %d\n" \
    "noise_uniform: 3\n"

static void write_config(const char *path, int seed)
{
    char text[4096];
    int const n = snprintf(text, sizeof text, CONFIG_YAML, seed);
    sp_test_write_file(path, text, (size_t)n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Extra options of a scenario (NULL-terminated). */
static const char *const h5_args[] = {"--format", "h5", "--shard-size", "12", NULL}; /* 12: not a multiple of
                                                                                      * the 8 pairs of two batches */
static const char *const pykitpiv_args[] = {"--layout", "pykitpiv", NULL};
static const char *const cai_args[] = {"--layout", "cai", "--split", "0.3", NULL};

/* Starts `synthpix generate ...` with stdout/stderr to a log file; `extra`: NULL (PNG) or
 * more options (NULL-terminated). */
static pid_t spawn_generate_as(const char *cfg, const char *out, const char *ck, unsigned pairs, const char *log,
                               const char *const *extra)
{
    char n[32];
    snprintf(n, sizeof n, "%u", pairs);
    const char *args[32];
    int k = 0;
    const char *const base[] = {"synthpix", "generate", "-c", cfg, "-o", out, "-n", n, "-q", "--threads", "2"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) args[k++] = base[i];
    for (size_t i = 0; extra && extra[i]; i++) args[k++] = extra[i];
    if (ck) {
        const char *const c[] = {"--checkpoint-dir", ck, "--checkpoint-every", "2", "--max-to-keep", "2", "--resume"};
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) args[k++] = c[i];
    }
    pid_t const pid = fork();
    SP_EXPECT(pid >= 0);
    if (pid == 0) {
        FILE *const f = freopen(log, "a", stderr);
        (void)f;
        char *argv[32]; /* execv wants writable strings: copies, in the child only */
        for (int i = 0; i < k; i++) argv[i] = strdup(args[i]);
        argv[k] = NULL;
        execv(sp_test_cli(), argv);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    SP_EXPECT(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void show_log(const char *log)
{
    size_t n = 0;
    unsigned char *const text = sp_test_read_file(log, &n);
    if (text) fprintf(stderr, "# log:\n%.*s\n", (int)(n > 4000 ? 4000 : n), (const char *)text);
    free(text);
}

/* Every file of want/ must exist in got/ with the same bytes, and got/ has no other file. */
static void expect_same_dataset(const char *want, const char *got)
{
    size_t nwant = 0, ngot = 0;
    DIR *d = opendir(want);
    SP_EXPECT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/%s", want, e->d_name);
        snprintf(b, sizeof b, "%s/%s", got, e->d_name);
        size_t na = 0, nb = 0;
        unsigned char *const da = sp_test_read_file(a, &na), *const db = sp_test_read_file(b, &nb);
        SP_EXPECT_MSG(db != NULL, "%s: missing from the resumed dataset", e->d_name);
        SP_EXPECT_MSG(na == nb && memcmp(da, db, na) == 0, "%s: differs from the uninterrupted run (%zu vs %zu bytes)",
                      e->d_name, na, nb);
        free(da);
        free(db);
        nwant++;
    }
    closedir(d);
    d = opendir(got);
    SP_EXPECT(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            ngot++;
            char a[1200];
            snprintf(a, sizeof a, "%s/%s", want, e->d_name);
            struct stat sb;
            SP_EXPECT_MSG(stat(a, &sb) == 0, "%s: extra file in the resumed dataset", e->d_name);
        }
    closedir(d);
    SP_ASSERT_EQ_U64(ngot, nwant);
}

/* What a shared directory may hold around a job: a file that symbolic links point to,
 * links under names an older synthpix used for its temporaries, a user's notes, and
 * directories named like checkpoint steps (7 and 2023: never a step of these runs, whose
 * steps are even batch counts below 600). None of it may be touched by any run or kill. */
static void plant(const char *tmp, const char *out, const char *ck)
{
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "printf precious > '%s/victim' && mkdir -p '%s' '%s/7' '%s/2023' && "
                            "ln -sfn '%s/victim' '%s/params.jsonl.partial' && ln -sfn '%s/victim' '%s/pair_000002_img1.png.tmp-4242' && "
                            "echo mine > '%s/notes.txt' && echo mine > '%s/7/a' && echo mine > '%s/notes.txt'",
                            tmp, out, ck, ck, tmp, out, tmp, out, out, ck, ck));
}

/* Every planted item is as planted; then the output's are removed for the comparison. */
static void check_and_unplant(const char *tmp, const char *out, const char *ck)
{
    char got[256];
    SP_ASSERT_EQ_INT(sp_test_sh(got, sizeof got, "cat '%s/victim'", tmp), 0);
    SP_EXPECT_MSG(strcmp(got, "precious") == 0, "the links' target now holds '%s'", got);
    SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0,
                                "test -L '%s/params.jsonl.partial' && test -L '%s/pair_000002_img1.png.tmp-4242' && "
                                "grep -qx mine '%s/notes.txt' && grep -qx mine '%s/7/a' && grep -qx mine '%s/notes.txt' && "
                                "test -d '%s/2023'",
                                out, out, out, ck, ck, ck),
                     0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s' && rm params.jsonl.partial pair_000002_img1.png.tmp-4242 notes.txt", out));
}

/* Kills checkpointing runs at random moments, resumes until one finishes, and compares the
 * dataset with an uninterrupted run's, file by file. With `planted`, every run works among
 * planted links and foreign directories, which must all be untouched at the end. The
 * scenario's size in the quick tier: pairs_quick pairs (under 1200: the reference run
 * checkpoints too) and kills_quick kills. */
static void crash_and_resume_sized(const char *const *format, int planted, unsigned pairs_quick, int kills_quick)
{
    const char *const tmp = sp_test_tmpdir();
    char cfg[600], ref[600], out[600], ck[600], log[600];
    snprintf(cfg, sizeof cfg, "%s/small.yaml", tmp);
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(ck, sizeof ck, "%s/ck", tmp);
    snprintf(log, sizeof log, "%s/log.txt", tmp);
    write_config(cfg, 5);
    unsigned const pairs = sp_test_full() ? 3000 : pairs_quick;
    int const want_kills = planted ? (sp_test_full() ? 50 : 20) : (sp_test_full() ? 25 : kills_quick);
    double const t0 = now_s();
    /* The layout scenarios time their reference with checkpoints, as the killed runs go, so
     * that the kill moments spread over the same work with fewer pairs. */
    char refck[620];
    snprintf(refck, sizeof refck, "%s/refck", tmp);
    int rc = wait_exit(spawn_generate_as(cfg, ref, pairs_quick < 1200 ? refck : NULL, pairs, log, format));
    double const t_ref = now_s() - t0;
    if (rc != 0) show_log(log);
    SP_ASSERT_EQ_INT(rc, 0);
    /* Kill moments uniform in [0, 2 t_ref / kills): each run gets about 1/kills of the work
     * done, so the kills land across the whole run (start-up, batches, checkpoint commits,
     * the final rename) instead of piling up after it finished. When a run does finish the
     * dataset first, the dataset is checked and the scenario starts over from empty
     * directories: a finished run would resume from its last checkpoint and end at once, so
     * further kills would rarely land in one (and the loop would spin). Bounded: at most 20
     * runs per kill wanted, each waited on for at most 2 t_ref / kills, so at most about
     * 40 t_ref plus the reference and final runs (normally about 3 t_ref in all). */
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int kills = 0, runs = 0, finished_early = 0, committed = 0;
    char steps[256];
    if (planted) plant(tmp, out, ck);
    while (kills < want_kills && runs < 20 * want_kills) {
        runs++;
        pid_t const pid = spawn_generate_as(cfg, out, ck, pairs, log, format);
        useconds_t const delay = (useconds_t)(1e6 * 2.0 * t_ref / want_kills * ((double)rand() / RAND_MAX));
        usleep(delay);
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == 0) {
            kill(pid, SIGKILL);
            kills++;
            wait_exit(pid);
            sp_test_sh(steps, sizeof steps, "ls %s 2>/dev/null | grep -c '^[0-9]'", ck);
            committed |= atoi(steps) > 0;
        } else {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            if (rc != 0) show_log(log);
            SP_ASSERT_EQ_INT(rc, 0);
            finished_early++;
            if (planted) check_and_unplant(tmp, out, ck);
            expect_same_dataset(ref, out);
            SP_ASSERT_EQ_INT(sp_test_sh(NULL, 0, "rm -rf '%s' '%s'", out, ck), 0);
            if (planted) plant(tmp, out, ck);
        }
    }
    fprintf(stderr, "# %d kills over %d runs (%d finished before their kill), reference %.2f s\n", kills, runs,
            finished_early, t_ref);
    SP_EXPECT(kills >= want_kills);
    /* The kills must have interrupted real progress, not only start-ups. */
    SP_EXPECT_MSG(committed, "no checkpoint was committed between the kills");
    rc = wait_exit(spawn_generate_as(cfg, out, ck, pairs, log, format));
    if (rc != 0) show_log(log);
    SP_ASSERT_EQ_INT(rc, 0);
    if (planted) check_and_unplant(tmp, out, ck);
    expect_same_dataset(ref, out);
}

static void crash_and_resume(const char *const *format, int planted)
{
    crash_and_resume_sized(format, planted, 1200, 10);
}

SP_TEST(resume_cli_sigkilled_runs_resume_to_the_uninterrupted_dataset)
{
    crash_and_resume(NULL, 0);
}

/* The same among planted links and foreign directories around both folders: all untouched
 * after every kill and resume (docs/durability.md, what synthpix may delete). */
SP_TEST(resume_cli_sigkilled_runs_never_touch_planted_links_or_foreign_directories)
{
    crash_and_resume(NULL, 1);
}

/* HDF5 shards of 12 pairs (a boundary every 6 batches of 4): checkpoints wait for one, and
 * shards written after the last checkpoint are rewritten with identical bytes. */
SP_TEST(resume_cli_sigkilled_h5_runs_resume_to_the_uninterrupted_dataset)
{
    sp_test_need_feature("hdf5");
    crash_and_resume(h5_args, 0);
}

/* The pykitpiv layout: one HDF5 file assembled at the finish from a spool that checkpoints
 * make durable and a resume cuts back (docs/durability.md); kills land in the rendering,
 * the checkpoints and the assembly. A smaller scenario than PNG's: the spool is what is
 * new. */
SP_TEST(resume_cli_sigkilled_pykitpiv_runs_resume_to_the_uninterrupted_dataset)
{
    sp_test_need_feature("hdf5");
    crash_and_resume_sized(pykitpiv_args, 0, 600, 8);
}

/* The cai layout: per-pair files and the two lists, renamed into place at the finish. */
SP_TEST(resume_cli_sigkilled_cai_runs_resume_to_the_uninterrupted_dataset)
{
    crash_and_resume_sized(cai_args, 0, 400, 6);
}

SP_TEST(resume_cli_refuses_a_used_directory_without_resume_and_another_seed)
{
    const char *const tmp = sp_test_tmpdir();
    char cfg[600], cfg2[600];
    snprintf(cfg, sizeof cfg, "%s/a.yaml", tmp);
    snprintf(cfg2, sizeof cfg2, "%s/b.yaml", tmp);
    write_config(cfg, 5);
    write_config(cfg2, 6);
    char outbuf[8192];
    SP_ASSERT_EQ_INT(sp_test_sh(outbuf, sizeof outbuf,
                                "%s generate -c %s -o %s/o -n 40 -q --checkpoint-dir %s/ck --checkpoint-every 2 2>&1",
                                sp_test_cli(), cfg, tmp, tmp), 0);
    SP_ASSERT_EQ_INT(sp_test_sh(outbuf, sizeof outbuf,
                                "%s generate -c %s -o %s/o -n 40 -q --checkpoint-dir %s/ck 2>&1", sp_test_cli(), cfg,
                                tmp, tmp), 2);
    SP_ASSERT_STR_CONTAINS(outbuf, "--resume");
    SP_ASSERT_EQ_INT(sp_test_sh(outbuf, sizeof outbuf,
                                "%s generate -c %s -o %s/o -n 40 -q --checkpoint-dir %s/ck --resume 2>&1",
                                sp_test_cli(), cfg2, tmp, tmp), 2);
    SP_ASSERT_STR_CONTAINS(outbuf, "seed: the checkpoint was taken with seed 5; the configuration has seed 6");
    SP_ASSERT_EQ_INT(sp_test_sh(outbuf, sizeof outbuf, "%s generate -c %s -o %s/o -n 40 -q --resume 2>&1",
                                sp_test_cli(), cfg, tmp), 2);
    SP_ASSERT_STR_CONTAINS(outbuf, "--checkpoint-dir");
    /* A finished run resumed again rewrites the same bytes. */
    SP_ASSERT_EQ_INT(sp_test_sh(outbuf, sizeof outbuf,
                                "cd %s/o && sha256sum * > ../sums && %s generate -c %s -o %s/o -n 40 -q "
                                "--checkpoint-dir %s/ck --resume && sha256sum -c --quiet ../sums 2>&1",
                                tmp, sp_test_cli(), cfg, tmp, tmp), 0);
}
