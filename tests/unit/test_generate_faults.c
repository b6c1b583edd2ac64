/* test_generate_faults.c: `synthpix generate --checkpoint-dir` over a failing file system.
 *
 * The command's own code (cli/cmd_generate.c, linked into this binary) runs in-process with
 * every file operation going through a fault-injecting sp_fs that fails the Nth counted call
 * (open, read, write, fsync, close, rename, mkdir, truncate, syncfs) with EIO or ENOSPC,
 * for PNG files, HDF5 shards and the pykitpiv and cai layouts.
 * After each injected failure:
 *   - the command exits 1 (or 0 when the failed call was one the protocol tolerates, e.g.
 *     closing a read-only descriptor) and its message names a file of the job and the OS
 *     reason;
 *   - a folder holding dataset.json holds the whole dataset (after a failure it exists
 *     only when the failing call came after its rename, e.g. the last directory fsync);
 *   - every committed checkpoint step verifies (sizes and CRC32C of every file);
 *   - `--resume` on a healthy file system finishes a dataset byte-identical to an
 *     uninterrupted run, with no temporaries left.
 * The base file system skips fsync and syncfs (they cost milliseconds each and change no
 * control flow); durability itself is what the SIGKILL tests check.
 */
#include "sp_test.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "sp/sp.h"

/* ---- a fast base file system: POSIX without the sync calls -------------------------- */

static int fast_fsync(void *ctx, int fd)
{
    (void)ctx;
    (void)fd;
    return 0;
}

static sp_fs fast_fs(void)
{
    sp_fs f = *sp_fs_posix();
    f.fsync = fast_fsync;
    f.syncfs = fast_fsync;
    return f;
}

/* ---- running the command in-process ------------------------------------------------- */

/* The sweep's directories: on tmpfs when there is one (metadata calls are the cost);
 * removed when the case's process exits. */
static char g_work[256];

static void remove_work(void)
{
    if (strncmp(g_work, "/dev/shm/", 9) == 0 && !getenv("SP_TEST_KEEP")) sp_test_sh(NULL, 0, "rm -rf '%s'", g_work);
}

static const char *work_dir(void)
{
    if (g_work[0]) return g_work;
    snprintf(g_work, sizeof g_work, "%s", sp_test_tmpdir());
    char shm[] = "/dev/shm/sp-faults-XXXXXX";
    if (access("/dev/shm", W_OK) == 0 && mkdtemp(shm) != NULL) {
        snprintf(g_work, sizeof g_work, "%s", shm);
        atexit(remove_work);
    }
    return g_work;
}


typedef struct run_out {
    int rc;
    char msg[4096]; /* what the command printed on stderr */
} run_out;

/* Extra options of every run of the current sweep (e.g. --format h5). */
static const char *g_format_args[5];

/* Runs `synthpix generate ARGS` with the given fs; stderr is captured. */
static void run_generate(const sp_fs *fs, run_out *o, const char *out, const char *ck, const char *extra1,
                         const char *extra2)
{
    char cfg[700], log[700];
    snprintf(cfg, sizeof cfg, "%s/small.yaml", work_dir());
    snprintf(log, sizeof log, "%s/stderr.log", work_dir());
    char *argv[24];
    int n = 0;
    const char *const fixed[] = {"generate", "-c", cfg, "-n", "13", "--threads", "1", "-o", out, "--checkpoint-dir", ck,
                                 "--checkpoint-every", "2", "--max-to-keep", "2"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[n++] = (char *)(uintptr_t)fixed[i];
    for (int i = 0; g_format_args[i]; i++) argv[n++] = (char *)(uintptr_t)g_format_args[i];
    if (extra1) argv[n++] = (char *)(uintptr_t)extra1;
    if (extra2) argv[n++] = (char *)(uintptr_t)extra2;
    argv[n] = NULL;
    fflush(stderr);
    int const saved = dup(STDERR_FILENO);
    int const fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    SP_EXPECT(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    close(fd);
    o->rc = sp_cmd_generate_fs(n, argv, fs);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    size_t len = 0;
    unsigned char *const text = sp_test_read_file(log, &len);
    snprintf(o->msg, sizeof o->msg, "%.*s", (int)len, text ? (const char *)text : "");
    free(text);
}

static void write_small_config(void)
{
    SP_ASSERT_OK(sp_test_sh(NULL, 0,
                            "'%s' config default | sed -e 's/^image_shape: .*/image_shape: [64, 64]/' "
                            "-e 's/^batch_size: .*/batch_size: 4/' -e 's/^flow_fields_per_batch: .*/flow_fields_per_batch: 2/' "
                            "> '%s/small.yaml'",
                            sp_test_cli(), work_dir()));
}

static int exists(const char *dir, const char *name)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Every committed step of the root verifies. */
static void expect_steps_verify(const char *ck)
{
    if (!exists(ck, "_ROOT_METADATA")) return;
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    o.read_only = 1;
    o.detect_naming = 1;
    sp_ckpt_manager *m = NULL;
    sp_error e;
    SP_ASSERT_OK(sp_ckpt_manager_open(&m, ck, &o, &e));
    int64_t steps[256];
    size_t const n = sp_ckpt_all_steps(m, steps, 256);
    for (size_t i = 0; i < n; i++) {
        sp_status const st = sp_ckpt_verify(m, steps[i], NULL, NULL, &e);
        SP_EXPECT_MSG(st == SP_OK, "step %lld does not verify: %s", (long long)steps[i], e.message);
    }
    sp_ckpt_manager_close(m, -1, NULL);
}

/* Fails call k (of the counted ones) with errno en, then checks the aftermath and resumes. */
static void one_fault(const sp_fs *base, const char *ref, uint64_t k, int en, int sticky, int trial)
{
    char out[700], ck[700];
    snprintf(out, sizeof out, "%s/out%d", work_dir(), trial);
    snprintf(ck, sizeof ck, "%s/ck%d", work_dir(), trial);
    sp_fs_faulty f;
    sp_fs_faulty_init(&f, base, SP_FS_OP_ALL);
    f.fail_at = k;
    f.fail_errno = en;
    f.sticky = sticky;
    run_out r;
    run_generate(&f.fs, &r, out, ck, NULL, NULL);
    SP_EXPECT_MSG(r.rc == 0 || r.rc == 1, "call %llu (%s): exit %d: %s", (unsigned long long)k, strerror(en), r.rc, r.msg);
    if (r.rc == 1) {
        SP_EXPECT_MSG(strstr(r.msg, out) || strstr(r.msg, ck), "call %llu: the message names no file: %s",
                      (unsigned long long)k, r.msg);
        SP_EXPECT_MSG(strstr(r.msg, strerror(en)), "call %llu: the message lacks the reason '%s': %s",
                      (unsigned long long)k, strerror(en), r.msg);
        /* A failure after dataset.json reached its name (the final directory fsync) leaves
         * a dataset that is complete: the file may exist only then. */
        if (exists(out, "dataset.json")) sp_test_expect_same_dir(ref, out, 0);
    }
    expect_steps_verify(ck);
    run_generate(base, &r, out, ck, "--resume", NULL);
    SP_EXPECT_MSG(r.rc == 0, "call %llu: the resume failed (%d): %s", (unsigned long long)k, r.rc, r.msg);
    sp_test_expect_same_dir(ref, out, 1);
    SP_ASSERT_OK(sp_test_sh(NULL, 0, "rm -rf '%s' '%s'", out, ck));
}

/* Which calls to fail: all of them in the full tier; in the quick tier the first and last
 * 8 calls (set-up and finish) and every stride-th call between, offset per errno. */
static int selected(uint64_t k, uint64_t n, int pass, uint64_t stride)
{
    return sp_test_full() || k <= 8 || k + 8 > n || (k + (uint64_t)pass * 5) % stride == 0;
}


static void sweep_every(int count_min, uint64_t stride)
{
    write_small_config();
    sp_fs const base = fast_fs();
    char ref[700], ck[700];
    snprintf(ref, sizeof ref, "%s/ref", work_dir());
    snprintf(ck, sizeof ck, "%s/refck", work_dir());
    run_out r;
    run_generate(&base, &r, ref, ck, NULL, NULL);
    SP_EXPECT_MSG(r.rc == 0, "reference run: %s", r.msg);
    sp_fs_faulty counter;
    sp_fs_faulty_init(&counter, &base, SP_FS_OP_ALL);
    snprintf(ck, sizeof ck, "%s/countck", work_dir());
    char out[700];
    snprintf(out, sizeof out, "%s/countout", work_dir());
    run_generate(&counter.fs, &r, out, ck, NULL, NULL);
    SP_EXPECT(r.rc == 0);
    uint64_t const n = counter.count;
    SP_EXPECT_MSG(n >= (uint64_t)count_min, "only %llu counted calls", (unsigned long long)n);
    int trial = 0, failures_seen = 0;
    const int errnos[2] = {EIO, ENOSPC};
    for (int pass = 0; pass < 2; pass++)
        for (uint64_t k = 1; k <= n; k++)
            if (selected(k, n, pass, stride)) {
                one_fault(&base, ref, k, errnos[pass], pass, trial++);
                failures_seen++;
            }
    printf("# %llu counted calls, %d failures injected\n", (unsigned long long)n, failures_seen);
}

static void sweep(int count_min)
{
    sweep_every(count_min, 11);
}

SP_TEST(generate_fault_sweep_png_with_checkpoints)
{
    sweep(150);
}

SP_TEST(generate_fault_sweep_h5_with_checkpoints)
{
    sp_test_need_feature("hdf5");
    /* Shards of 8 pairs (two batches): a checkpoint waits for a shard boundary. */
    g_format_args[0] = "--format";
    g_format_args[1] = "h5";
    g_format_args[2] = "--shard-size";
    g_format_args[3] = "8";
    sweep(40);
}

/* The pykitpiv layout: the spool's writes, fsyncs and truncations, and the finish that reads
 * it back into pykitpiv.h5 (temporary, fsync, rename) and then removes it, each failed in
 * turn. */
SP_TEST(generate_fault_sweep_pykitpiv_with_checkpoints)
{
    sp_test_need_feature("hdf5");
    g_format_args[0] = "--layout";
    g_format_args[1] = "pykitpiv";
    sweep_every(40, 17);
}

/* The cai layout: per-pair files as with PNG (a sparser sample: the PNG sweep covers them),
 * and the two lists, made durable at each checkpoint and renamed at the finish (the last 8
 * calls, always failed). */
SP_TEST(generate_fault_sweep_cai_with_checkpoints)
{
    g_format_args[0] = "--layout";
    g_format_args[1] = "cai";
    g_format_args[2] = "--split";
    g_format_args[3] = "0.5";
    sweep_every(150, 31);
}

/* A write failure on params.jsonl: exit 1 naming the file, and no dataset.json. */
static const char *g_fail_path = "params.jsonl";
static int g_fail_fds[64];

static int pick_open(void *ctx, const char *path, char flags)
{
    const sp_fs *const base = (const sp_fs *)ctx;
    int const fd = base->open(base->ctx, path, flags);
    if (fd >= 0 && fd < 64) g_fail_fds[fd] = strstr(path, g_fail_path) != NULL;
    return fd;
}

static int64_t pick_write(void *ctx, int fd, const void *buf, size_t n)
{
    const sp_fs *const base = (const sp_fs *)ctx;
    if (fd >= 0 && fd < 64 && g_fail_fds[fd]) return -ENOSPC;
    return base->write(base->ctx, fd, buf, n);
}

SP_TEST(generate_params_write_failure_never_claims_complete)
{
    write_small_config();
    sp_fs const posix = *sp_fs_posix();
    sp_fs picky = posix;
    picky.ctx = (void *)(uintptr_t)&posix;
    picky.open = pick_open;
    picky.write = pick_write;
    char out[700], ck[700];
    snprintf(out, sizeof out, "%s/out", work_dir());
    snprintf(ck, sizeof ck, "%s/ck", work_dir());
    run_out r;
    run_generate(&picky, &r, out, ck, NULL, NULL);
    SP_ASSERT_EQ_INT(r.rc, 1);
    SP_ASSERT_STR_CONTAINS(r.msg, "params.jsonl");
    SP_ASSERT_STR_CONTAINS(r.msg, "No space left on device");
    SP_EXPECT(!exists(out, "dataset.json"));
    SP_EXPECT(!exists(out, "params.jsonl"));
}
