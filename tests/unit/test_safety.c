/* test_safety.c: what synthpix may touch on disk (docs/durability.md, "What synthpix may
 * delete"). Each case plants what a shared directory may hold - a symbolic link where we
 * create a file, a user's directory named like a checkpoint step, another dataset, a
 * second job - runs the real command, and checks byte for byte that nothing it did not
 * write was deleted, truncated or written through, and that two jobs never mix one output.
 */
#include "sp_test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_cfg[700];

/* A small, fast configuration derived from the embedded default (64x64, batches of 4). */
static const char *config(int seed)
{
    snprintf(g_cfg, sizeof g_cfg, "%s/small%d.yaml", sp_test_tmpdir(), seed);
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "'%s' config default | sed -e 's/^image_shape: .*/image_shape: [64, 64]/' "
                            "-e 's/^batch_size: .*/batch_size: 4/' -e 's/^flow_fields_per_batch: .*/flow_fields_per_batch: 2/' "
                            "-e 's/^seed: .*/seed: %d/' > '%s'",
                            sp_test_cli(), seed, g_cfg));
    return g_cfg;
}

static const char *path(const char *name)
{
    static char buf[4][800];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", sp_test_tmpdir(), name);
    return buf[i];
}

/* Runs the CLI (stderr folded into out); returns its exit status. */
static int cli(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int cli(char *out, size_t cap, const char *fmt, ...)
{
    char args[4000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    return sp_test_sh(out, cap, "cd '%s' && '%s' %s 2>&1", sp_test_tmpdir(), sp_test_cli(), args);
}

static void plant_victim(void)
{
    sp_test_write_file(path("victim"), "precious bytes", 14);
}

/* The victim still holds exactly what it held. */
static void expect_victim_untouched(void)
{
    size_t n = 0;
    unsigned char *const b = sp_test_read_file(path("victim"), &n);
    SP_EXPECT_MSG(b != NULL && n == 14 && memcmp(b, "precious bytes", 14) == 0, "the planted link's target was changed");
    free(b);
}

static int is_link_to_victim(const char *p)
{
    char target[800];
    ssize_t const n = readlink(p, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = '\0';
    return strcmp(target, path("victim")) == 0;
}

static int exists(const char *p)
{
    struct stat sb;
    return lstat(p, &sb) == 0;
}

/* 1. A symbolic link planted as the checkpoint root's lock file (or the output folder's) is
 *    refused by name and its target keeps its bytes; `ckpt rm` refuses it too. */
SP_TEST(safety_symlinked_lock_files_are_refused_and_never_written)
{
    char out[8192];
    const char *const cfg = config(0);
    plant_victim();
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "mkdir -p '%s' && ln -s '%s' '%s'", path("ck"), path("victim"), path("ck/.lock")));
    int rc = cli(out, sizeof out, "generate -c %s -n 8 -o out --checkpoint-dir ck --checkpoint-every 1", cfg);
    SP_EXPECT_MSG(rc == 1, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "ck/.lock");
    SP_ASSERT_STR_CONTAINS(out, "symbolic link");
    expect_victim_untouched();
    SP_EXPECT(is_link_to_victim(path("ck/.lock")));
    /* A real root whose lock is then replaced by a link: ckpt rm refuses, target intact. */
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 8 -o out2 --checkpoint-dir ck2 --checkpoint-every 1", cfg), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "rm '%s' && ln -s '%s' '%s'", path("ck2/.lock"), path("victim"), path("ck2/.lock")));
    rc = cli(out, sizeof out, "ckpt rm ck2 --step 2");
    SP_EXPECT_MSG(rc == 1, "ckpt rm: exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "symbolic link");
    SP_EXPECT(exists(path("ck2/2")));
    expect_victim_untouched();
    /* The output folder's lock. */
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "mkdir -p '%s' && ln -s '%s' '%s'", path("out3"), path("victim"), path("out3/.synthpix.lock")));
    rc = cli(out, sizeof out, "generate -q -c %s -n 8 -o out3", cfg);
    SP_EXPECT_MSG(rc == 1, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, ".synthpix.lock");
    expect_victim_untouched();
}

/* 2. Directories named like steps that hold no _MANIFEST are a user's: --resume reports
 *    them and leaves them byte for byte. */
SP_TEST(safety_resume_leaves_foreign_directories_alone)
{
    char out[8192];
    const char *const cfg = config(0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "mkdir -p '%s' '%s' && echo x > '%s' && echo y > '%s'", path("data/7"),
                            path("data/2024"), path("data/7/a"), path("data/notes.txt")));
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s' && find data -type f | sort | xargs sha256sum > sums.before", sp_test_tmpdir()));
    int const rc = cli(out, sizeof out, "generate -c %s -n 8 -o out --checkpoint-dir data --checkpoint-every 1 --resume", cfg);
    SP_EXPECT_MSG(rc == 0, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "leaving alone 2 directories");
    SP_EXPECT(exists(path("data/2024")));
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cd '%s' && sha256sum -c --quiet sums.before", sp_test_tmpdir()), 0);
    /* The steps it committed are its own. */
    SP_EXPECT(exists(path("data/2/_MANIFEST")));
}

/* 3. A damaged only step is kept aside (renamed) and the run starts the stream afresh in the
 *    same invocation; the dataset equals an uninterrupted run. */
SP_TEST(safety_damaged_only_step_is_quarantined_and_the_run_goes_on)
{
    char out[8192];
    const char *const cfg = config(0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 12 -o ref", cfg), 0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 8 -o out --checkpoint-dir ck --checkpoint-every 1 --max-to-keep 1", cfg), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s/ck/2' && printf 'X' | dd of=sampler.json bs=1 seek=3 conv=notrunc 2>/dev/null",
                            sp_test_tmpdir()));
    int const rc = cli(out, sizeof out, "generate -c %s -n 12 -o out --checkpoint-dir ck --checkpoint-every 1 --resume", cfg);
    SP_EXPECT_MSG(rc == 0, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "is damaged");
    SP_ASSERT_STR_CONTAINS(out, "starting from the beginning of the stream");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "ls -d '%s'/ck/2.sp-damaged-* | wc -l", sp_test_tmpdir()), 0);
    SP_ASSERT_EQ_INT(atoi(out), 1);
    sp_test_expect_same_dir(path("ref"), path("out"), 0);
}

/* 4. Every ckpt subcommand refuses a directory that is not a checkpoint root, by name, and
 *    creates nothing in it. */
SP_TEST(safety_ckpt_tools_refuse_a_directory_that_is_not_a_root)
{
    char out[8192];
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "mkdir -p '%s' && echo x > '%s'", path("photos/5"), path("photos/5/img.jpg")));
    const char *const verbs[] = {"ls photos", "verify photos", "inspect photos", "rm photos --step 5"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        int const rc = cli(out, sizeof out, "ckpt %s", verbs[i]);
        SP_EXPECT_MSG(rc == 1, "ckpt %s: exit %d", verbs[i], rc);
        SP_ASSERT_STR_CONTAINS(out, "photos is not a checkpoint root");
    }
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "ls -A '%s' | tr '\\n' ' '", path("photos")), 0);
    SP_EXPECT_MSG(strcmp(out, "5 ") == 0, "photos now holds: %s", out);
    SP_EXPECT(exists(path("photos/5/img.jpg")));
}

/* 5. Links planted under names we use - the old fixed temporaries, predictable pid-suffixed
 *    names, a final pair name - are never written through. */
SP_TEST(safety_planted_links_in_the_output_are_never_written_through)
{
    char out[8192];
    const char *const cfg = config(0);
    plant_victim();
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "mkdir -p '%s' && cd '%s' && for n in params.jsonl.partial params.jsonl.tmp-1 "
                            "dataset.json.tmp-1 pair_000001_img1.png.tmp-1; do ln -s '%s' $n; done && "
                            "for p in $(seq 2 400); do ln -s '%s' pair_000000_img1.png.tmp-$p; done",
                            path("out"), path("out"), path("victim"), path("victim")));
    int rc = cli(out, sizeof out, "generate -q -c %s -n 8 -o out --checkpoint-dir ck --checkpoint-every 1", cfg);
    SP_EXPECT_MSG(rc == 0, "exit %d: %s", rc, out);
    expect_victim_untouched();
    SP_EXPECT(is_link_to_victim(path("out/params.jsonl.partial")));
    SP_EXPECT(is_link_to_victim(path("out/pair_000000_img1.png.tmp-77")));
    /* A link under a final pair name is another dataset's file: refused without
     * --overwrite; with it, the link itself is replaced, never its target. */
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "mkdir -p '%s' && ln -s '%s' '%s'", path("out2"), path("victim"),
                            path("out2/pair_000003_img2.png")));
    rc = cli(out, sizeof out, "generate -q -c %s -n 8 -o out2", cfg);
    SP_EXPECT_MSG(rc == 2, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "--overwrite");
    rc = cli(out, sizeof out, "generate -q -c %s -n 8 -o out2 --overwrite", cfg);
    SP_EXPECT_MSG(rc == 0, "exit %d: %s", rc, out);
    expect_victim_untouched();
    struct stat sb;
    SP_EXPECT(lstat(path("out2/pair_000003_img2.png"), &sb) == 0 && S_ISREG(sb.st_mode));
}

/* Starts `synthpix generate` in the background (stderr to log); returns its pid. */
static pid_t spawn(const char *cfg, const char *dir, unsigned pairs, const char *log, const char *extra)
{
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cd '%s' && exec '%s' generate -q -c '%s' -n %u -o '%s' %s 2>'%s'", sp_test_tmpdir(),
             sp_test_cli(), cfg, pairs, dir, extra, log);
    return sp_test_spawn_sh(cmd);
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    SP_EXPECT(waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Waits (up to 20 s) until the folder holds a pair file. */
static void wait_first_pair(const char *dir)
{
    char p[900];
    snprintf(p, sizeof p, "%s/pair_000000_flow.flo", dir);
    for (int i = 0; i < 2000 && !exists(p); i++) usleep(10000);
    SP_EXPECT_MSG(exists(p), "%s: no pair appeared", dir);
}

/* 6a. Two concurrent jobs into one folder: the second is refused naming the holder's pid;
 *     the first finishes the dataset an uninterrupted run writes. */
SP_TEST(safety_two_concurrent_jobs_never_mix_one_folder)
{
    char cfg0[800], cfg5[800], out[8192], want[64];
    snprintf(cfg0, sizeof cfg0, "%s", config(0));
    snprintf(cfg5, sizeof cfg5, "%s", config(5));
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 600 -o ref", cfg0), 0);
    pid_t const a = spawn(cfg0, "m", 600, path("a.log"), "--threads 1");
    wait_first_pair(path("m"));
    pid_t const b = spawn(cfg5, "m", 600, path("b.log"), "");
    int const rb = wait_exit(b), ra = wait_exit(a);
    size_t n = 0;
    unsigned char *const log = sp_test_read_file(path("b.log"), &n);
    SP_EXPECT_MSG(ra == 0 && rb == 2, "exits %d and %d; second job said: %.*s", ra, rb, (int)n, (const char *)log);
    snprintf(want, sizeof want, "pid %ld", (long)a);
    SP_EXPECT_MSG(strstr((const char *)log, want) != NULL, "the refusal does not name %s: %.*s", want, (int)n,
                  (const char *)log);
    free(log);
    sp_test_expect_same_dir(path("ref"), path("m"), 0);
}

/* 6b. A smaller job over a folder holding another dataset is refused (the old one is left
 *     whole); with --overwrite no stale pair survives; an interrupted later job leaves no
 *     dataset.json claiming a complete dataset. */
SP_TEST(safety_a_new_job_never_mixes_with_an_old_dataset)
{
    char out[8192];
    const char *const cfg = config(0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 40 -o m", cfg), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s/m' && sha256sum * > ../m.sums", sp_test_tmpdir()));
    int rc = cli(out, sizeof out, "generate -q -c %s -n 16 -o m", config(5));
    SP_EXPECT_MSG(rc == 2, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "already holds another dataset");
    SP_ASSERT_STR_CONTAINS(out, "--resume");
    SP_ASSERT_STR_CONTAINS(out, "--overwrite");
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "cd '%s/m' && sha256sum -c --quiet ../m.sums", sp_test_tmpdir()), 0);
    /* The same job again: the folder already holds it; nothing is touched. */
    rc = cli(out, sizeof out, "generate -c %s -n 40 -o m", config(0));
    SP_EXPECT_MSG(rc == 0, "exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "nothing to do");
    rc = cli(out, sizeof out, "generate -q -c %s -n 16 -o m --overwrite", config(5));
    SP_EXPECT_MSG(rc == 0, "exit %d: %s", rc, out);
    SP_ASSERT_EQ_INT(sp_test_sh(out, sizeof out, "ls '%s/m' | grep -c '^pair_'", sp_test_tmpdir()), 0);
    SP_ASSERT_EQ_INT(atoi(out), 48);
    /* Interrupt a replacing job: dataset.json went before its first pair. */
    pid_t const p = spawn(config(7), "m", 100000, path("c.log"), "--overwrite --threads 1");
    for (int i = 0; i < 2000 && exists(path("m/dataset.json")); i++) usleep(10000);
    wait_first_pair(path("m"));
    kill(p, SIGINT);
    wait_exit(p);
    SP_EXPECT_MSG(!exists(path("m/dataset.json")), "an interrupted job left a dataset.json claiming completion");
}

/* 7. Temporaries that are not this job family's - another tool's pid-suffixed names, another
 *    family's tagged ones - survive a checkpointed resume. */
SP_TEST(safety_resume_removes_only_its_own_temporaries)
{
    char out[8192];
    const char *const cfg = config(0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 8 -o out --checkpoint-dir ck --checkpoint-every 1", cfg), 0);
    const char *const names[] = {"out/pair_000003_img1.png.tmp-12345", "out/pair_000003_img1.png.sp-tmp-0123456789abcdef-0000000000000000",
                                 "out/params.jsonl.tmp-999"};
    for (size_t i = 0; i < 3; i++) sp_test_write_file(path(names[i]), "not yours", 9);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 16 -o out --checkpoint-dir ck --checkpoint-every 1 --resume", cfg), 0);
    for (size_t i = 0; i < 3; i++) {
        size_t n = 0;
        unsigned char *const b = sp_test_read_file(path(names[i]), &n);
        SP_EXPECT_MSG(b && n == 9 && memcmp(b, "not yours", 9) == 0, "%s was touched", names[i]);
        free(b);
    }
}

/* 8. A tampered _ROOT_METADATA (a prefix that is a path) is an error for every tool. */
SP_TEST(safety_tampered_root_metadata_is_an_error_for_every_tool)
{
    char out[8192];
    const char *const cfg = config(0);
    SP_ASSERT_EQ_INT(cli(out, sizeof out, "generate -q -c %s -n 8 -o out --checkpoint-dir ck --checkpoint-every 1", cfg), 0);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "cd '%s/ck' && sed -i 's/\"step_prefix\": null/\"step_prefix\": \"..\\/escaped\"/' _ROOT_METADATA && grep -q escaped _ROOT_METADATA",
                            sp_test_tmpdir()));
    const char *const runs[] = {"ckpt ls ck", "ckpt verify ck", "ckpt inspect ck"};
    for (size_t i = 0; i < 3; i++) {
        int const rc = cli(out, sizeof out, "%s", runs[i]);
        SP_EXPECT_MSG(rc == 1, "%s: exit %d: %s", runs[i], rc, out);
        SP_ASSERT_STR_CONTAINS(out, "_ROOT_METADATA");
    }
    int const rc = cli(out, sizeof out, "generate -q -c %s -n 16 -o out --checkpoint-dir ck --resume", cfg);
    SP_EXPECT_MSG(rc == 1, "generate: exit %d: %s", rc, out);
    SP_ASSERT_STR_CONTAINS(out, "step_prefix");
}

/* 9. Numbers out of range are refused with a message, never clamped. */
SP_TEST(safety_out_of_range_numbers_are_refused)
{
    char out[8192];
    const char *const runs[] = {"ckpt rm ck --step 99999999999999999999", "generate -n 99999999999999999999999 -o x",
                                "generate --threads 99999999999999999999 -o x", "generate --checkpoint-every -1 -o x",
                                "generate --shard-size 18446744073709551616 --format h5 -o x"};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        int const rc = cli(out, sizeof out, "%s", runs[i]);
        SP_EXPECT_MSG(rc == 2, "%s: exit %d: %s", runs[i], rc, out);
        SP_ASSERT_STR_CONTAINS(out, "is not");
        SP_EXPECT_MSG(!exists(path("x")), "%s created its output", runs[i]);
    }
    const char *const keys[] = {"seed: 99999999999999999999", "batch_size: 18446744073709551617",
                                "seeding_density_range: [0.1, 1e400]", "image_shape: [-5, 64]"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char cfgpath[800];
        snprintf(cfgpath, sizeof cfgpath, "%s/bad%zu.yaml", sp_test_tmpdir(), i);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(keys[i], ":"), keys[i]);
        SP_ASSERT_OK(sp_test_sh(NULL, 0, "'%s' config default | sed 's/^%s: .*/%s/' > '%s'", sp_test_cli(), key,
                                keys[i], cfgpath));
        int const rc = cli(out, sizeof out, "config check %s", cfgpath);
        SP_EXPECT_MSG(rc == 2, "%s: exit %d: %s", keys[i], rc, out);
        SP_ASSERT_STR_CONTAINS(out, key);
    }
}
