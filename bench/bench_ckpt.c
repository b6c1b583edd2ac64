/* bench_ckpt.c: measured figures of the checkpoint manager (docs/checkpoints.md quotes them).
 *
 *   bench_ckpt [DIR]     (default: $TMPDIR or /tmp; a fresh sub-directory is used and removed)
 *
 * Prints one machine-readable line per figure:
 *   ckpt_save_64mib      durable synchronous save of one 64 MiB float32 array vs a raw
 *                        write()+fsync() of the same bytes into one file, same file system
 *   ckpt_restore_64mib   restore (every byte CRC-checked) vs a raw read() of the same bytes
 *                        into a freshly allocated buffer; both from a warm page cache
 *   ckpt_async_block_1mib how long an async save of 1 MiB blocks the caller (staging copy)
 *   ckpt_list_1000       opening a root with 1,000 committed steps (one manifest read each)
 * Each figure is the median of several runs; min and max are printed too.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sp/sp_ckpt.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b)
{
    double const x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static void die(const char *what, const sp_error *e)
{
    fprintf(stderr, "bench_ckpt: %s: %s\n", what, e ? e->message : "failed");
    exit(1);
}

static double raw_write(const char *path, const void *data, size_t n)
{
    unlink(path);
    double const t0 = now_s();
    int const fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) die("raw open", NULL);
    size_t done = 0;
    while (done < n) {
        ssize_t const w = write(fd, (const char *)data + done, n - done);
        if (w <= 0) die("raw write", NULL);
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) die("raw fsync", NULL);
    return now_s() - t0;
}

/* Reads into a freshly allocated buffer, as restore must. */
static double raw_read(const char *path, size_t n)
{
    double const t0 = now_s();
    char *const dst = (char *)malloc(n);
    if (dst == NULL) die("malloc", NULL);
    int const fd = open(path, O_RDONLY);
    if (fd < 0) die("raw read open", NULL);
    size_t done = 0;
    while (done < n) {
        ssize_t const r = read(fd, (char *)dst + done, n - done);
        if (r <= 0) die("raw read", NULL);
        done += (size_t)r;
    }
    close(fd);
    double const t = now_s() - t0;
    free(dst);
    return t;
}

static void bench_64mib(const char *dir)
{
    enum { RUNS = 5 };
    size_t const count = (size_t)16 << 20, bytes = count * sizeof(float);
    float *const data = (float *)malloc(bytes);
    if (!data) die("malloc", NULL);
    for (size_t i = 0; i < count; i++) data[i] = (float)i * 0.5f;
    char root[1024], raw[1100];
    snprintf(root, sizeof root, "%s/big", dir);
    snprintf(raw, sizeof raw, "%s/raw.bin", dir);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    sp_ckpt_manager *m = NULL; /* keep all: old steps are deleted outside the timed region */
    sp_error e;
    if (sp_ckpt_manager_open(&m, root, &opt, &e) != SP_OK) die("open", &e);
    sp_tree *t = NULL;
    sp_tree_create(&t);
    uint64_t const shape[3] = {4096, 2048, 2}; /* a (H, W, 2) flow field, 64 MiB */
    if (sp_tree_add_array_ref(t, "flows", SP_DTYPE_F32, 3, shape, data, &e) != SP_OK) die("tree", &e);
    double save[RUNS], rawt[RUNS], rest[RUNS], rawr[RUNS];
    for (int r = 0; r < RUNS; r++) {
        rawt[r] = raw_write(raw, data, bytes);
        double const t0 = now_s();
        if (sp_ckpt_save(m, r, t, NULL, NULL, &e) != SP_OK) die("save", &e);
        save[r] = now_s() - t0;
        double const t1 = now_s();
        sp_tree *out = NULL;
        if (sp_ckpt_restore(m, SP_CKPT_LATEST, NULL, NULL, &out, &e) != SP_OK) die("restore", &e);
        rest[r] = now_s() - t1;
        sp_leaf_view v;
        if (sp_tree_find(out, "flows", &v) != SP_OK || memcmp(v.data, data, bytes) != 0) die("restore mismatch", NULL);
        sp_tree_free(out);
        rawr[r] = raw_read(raw, bytes);
        if (r > 0 && sp_ckpt_delete(m, r - 1, &e) != SP_OK) die("delete", &e);
    }
    double const ms = median(save, RUNS), mr = median(rawt, RUNS), rs = median(rest, RUNS), rr = median(rawr, RUNS);
    printf("ckpt_save_64mib save_s=%.4f raw_write_fsync_s=%.4f ratio=%.2f save_mib_s=%.0f raw_mib_s=%.0f "
           "save_min_s=%.4f save_max_s=%.4f runs=%d\n",
           ms, mr, ms / mr, 64.0 / ms, 64.0 / mr, save[0], save[RUNS - 1], RUNS);
    printf("ckpt_restore_64mib restore_s=%.4f raw_read_s=%.4f ratio=%.2f restore_mib_s=%.0f raw_mib_s=%.0f "
           "warm_cache=1 runs=%d\n",
           rs, rr, rs / rr, 64.0 / rs, 64.0 / rr, RUNS);
    sp_tree_free(t);
    sp_ckpt_manager_close(m, -1, NULL);
    unlink(raw);
    free(data);
}

static void bench_async(const char *dir)
{
    enum { RUNS = 21 };
    size_t const count = (size_t)256 << 10; /* 1 MiB of float32 */
    float *const data = (float *)malloc(count * sizeof(float));
    if (!data) die("malloc", NULL);
    for (size_t i = 0; i < count; i++) data[i] = (float)i;
    char root[1024];
    snprintf(root, sizeof root, "%s/async", dir);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.enable_async = 1;
    opt.max_to_keep = 2;
    sp_ckpt_manager *m = NULL;
    sp_error e;
    if (sp_ckpt_manager_open(&m, root, &opt, &e) != SP_OK) die("open async", &e);
    sp_tree *t = NULL;
    sp_tree_create(&t);
    uint64_t const shape[3] = {256, 512, 2};
    if (sp_tree_add_array_ref(t, "flows", SP_DTYPE_F32, 3, shape, data, &e) != SP_OK) die("tree", &e);
    if (sp_tree_add_json(t, "loader", "{\"seed\": 1, \"epoch\": 0, \"position\": 123}", &e) != SP_OK) die("json", &e);
    double block[RUNS], total[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double const t0 = now_s();
        if (sp_ckpt_save(m, r, t, NULL, NULL, &e) != SP_OK) die("async save", &e);
        block[r] = now_s() - t0;
        if (sp_ckpt_wait_until_finished(m, 60000, &e) != SP_OK) die("wait", &e);
        total[r] = now_s() - t0;
    }
    double const mb = median(block, RUNS), mt = median(total, RUNS);
    printf("ckpt_async_block_1mib block_us=%.1f block_min_us=%.1f block_max_us=%.1f full_save_ms=%.2f runs=%d\n",
           mb * 1e6, block[0] * 1e6, block[RUNS - 1] * 1e6, mt * 1e3, RUNS);
    sp_tree_free(t);
    sp_ckpt_manager_close(m, -1, NULL);
    free(data);
}

static void bench_list(const char *dir)
{
    enum { STEPS = 1000, RUNS = 5 };
    char root[1024];
    snprintf(root, sizeof root, "%s/list", dir);
    sp_ckpt_options opt;
    sp_ckpt_options_init(&opt);
    opt.durable = 0; /* setup only: the listing below does not depend on it */
    sp_ckpt_manager *m = NULL;
    sp_error e;
    if (sp_ckpt_manager_open(&m, root, &opt, &e) != SP_OK) die("open list", &e);
    sp_tree *t = NULL;
    sp_tree_create(&t);
    int32_t const epochs[4] = {1, 2, 3, 4};
    uint64_t const four = 4;
    sp_tree_add_array(t, "epochs", SP_DTYPE_I32, 1, &four, epochs, &e);
    sp_tree_add_json(t, "loader", "{\"position\": 1}", &e);
    for (int s = 0; s < STEPS; s++)
        if (sp_ckpt_save(m, s, t, NULL, NULL, &e) != SP_OK) die("save list", &e);
    sp_ckpt_manager_close(m, -1, NULL);
    sp_tree_free(t);
    double v[RUNS];
    size_t n = 0;
    for (int r = 0; r < RUNS; r++) {
        sp_ckpt_options ro;
        sp_ckpt_options_init(&ro);
        ro.read_only = 1;
        double const t0 = now_s();
        if (sp_ckpt_manager_open(&m, root, &ro, &e) != SP_OK) die("open ro", &e);
        n = sp_ckpt_all_steps(m, NULL, 0);
        v[r] = now_s() - t0;
        sp_ckpt_manager_close(m, -1, NULL);
    }
    if (n != STEPS) die("listing count", NULL);
    double const ml = median(v, RUNS);
    printf("ckpt_list_1000 open_and_list_ms=%.2f per_step_us=%.1f steps=%zu runs=%d\n", ml * 1e3, ml * 1e6 / STEPS,
           n, RUNS);
}

int main(int argc, char **argv)
{
    const char *const base = argc > 1 ? argv[1] : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    char dir[900];
    snprintf(dir, sizeof dir, "%s/bench-ckpt-XXXXXX", base);
    if (mkdtemp(dir) == NULL) die("mkdtemp", NULL);
    bench_64mib(dir);
    bench_async(dir);
    bench_list(dir);
    char cmd[1000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
