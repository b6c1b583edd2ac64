/* generate.c: sp_generate, the whole dataset job: a sampler renders batches, a dataset
 * writer puts them on disk and, with a checkpoint directory, a checkpoint manager commits
 * the stream position every checkpoint_every batches.
 *
 * The order at each checkpoint is the guarantee (docs/durability.md): the writer first makes
 * every pair and params line written so far durable (sp_dataset_writer_sync), and only then
 * is a step holding the sampler state and the writer's progress record committed, so a
 * committed step never covers data a crash could still lose. A step is numbered by the
 * batches it covers. With h5 a checkpoint waits for the first shard boundary after its mark.
 *
 * Resume restores the newest step that verifies (damaged newer steps are reported and
 * quarantined: renamed aside, never deleted) and hands its progress record to the writer,
 * which cuts params.jsonl back and removes the family's temporaries; the pairs after the
 * step are rendered again with the same bytes.
 *
 * At the end, one note says what the checkpoints cost (data made durable, step committed:
 * median and maximum), so a user can weigh checkpoint_every against it.
 *
 * Job family: the checkpoint root holds _DATASET_TAG, 16 hex digits drawn when the root is
 * first used. Every temporary of every job on that root carries it, so a resumed job removes
 * exactly the temporaries its killed predecessors left and nothing else.
 */
#include "dataset_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>

#include "sp/sp_ckpt.h"
#include "sp/sp_pipeline.h"

#define SP_DATASET_TAG_FILE "_DATASET_TAG"

void sp_generate_options_init(sp_generate_options *o)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    sp_dataset_options_init(&o->dataset);
    sp_sampler_options_init(&o->sampler);
    o->checkpoint_every = 100;
    o->max_to_keep = 2;
}

void sp__gen_note(const sp__gen_job *j, const char *fmt, ...)
{
    if (j->opt->note == NULL) return;
    char line[SP_ERROR_MESSAGE_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    j->opt->note(j->opt->note_ctx, line);
}

/* ---- set-up ------------------------------------------------------------------------------ */

sp_status sp__gen_make_sampler(sp__gen_job *j, const sp_config *cfg, sp_error *err)
{
    sp_sampler_options so = j->opt->sampler;
    if (so.pool == NULL) {
        unsigned const threads = so.threads ? so.threads : (cfg->threads > 0 ? (unsigned)cfg->threads : 0);
        SP_TRY(sp_pool_create(&j->pool, threads));
        j->own_pool = 1;
        so.pool = j->pool;
    } else {
        j->pool = so.pool;
    }
    return sp_sampler_create(&j->sampler, cfg, &so, err);
}

/* The root's job-family tag: read, or drawn and stored durably on first use. */
static sp_status family_tag(sp__gen_job *j, sp_error *err)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/" SP_DATASET_TAG_FILE, j->opt->checkpoint_dir);
    unsigned char *buf = NULL;
    size_t n = 0;
    sp_status st = sp__fs_read_file(j->fs, path, 64, &buf, &n, path, err);
    if (st == SP_OK) {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
        int ok = n == 16;
        for (size_t i = 0; ok && i < n; i++) ok = (buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f');
        if (ok) memcpy(j->tag, buf, 17);
        j->tag_existed = ok;
        free(buf);
        return ok ? SP_OK : sp_error_set(err, SP_ERR_CORRUPT, "%s: not 16 lowercase hex digits", path);
    }
    if (st != SP_ERR_NOTFOUND) return st;
    snprintf(j->tag, sizeof j->tag, "%016llx", (unsigned long long)sp__fs_random64());
    char text[24];
    int const len = snprintf(text, sizeof text, "%s\n", j->tag);
    return sp__fs_write_atomic(j->fs, path, j->tag, text, (size_t)len, 1, err);
}

/* Restores the newest step that verifies into the sampler; its progress record goes to
 * j->resume_json. A damaged step is quarantined (renamed aside, never deleted) and the
 * next older one tried; when none is left the job starts from the beginning of the stream
 * (the files are rewritten with identical bytes). A refusal (another stream) stops here. */
static sp_status restore_latest(sp__gen_job *j, sp_error *err)
{
    size_t n = sp_ckpt_all_steps(j->ckpt, NULL, 0);
    int64_t *const steps = (int64_t *)malloc((n ? n : 1) * sizeof *steps);
    SP_RETURN_IF(steps == NULL, err, SP_ERR_NOMEM, "out of memory");
    n = sp_ckpt_all_steps(j->ckpt, steps, n);
    sp_status st = SP_ERR_NOTFOUND;
    int quarantined = 0;
    while (n > 0 && st != SP_OK) {
        int64_t const step = steps[--n];
        st = sp_pipeline_restore(j->ckpt, step, j->sampler, NULL, &j->resume_json, err);
        if (st != SP_ERR_CHECKSUM && st != SP_ERR_CORRUPT) break;
        char moved[SP_FS_PATH_MAX] = "";
        sp_error qe;
        if (sp_ckpt_quarantine(j->ckpt, step, moved, sizeof moved, &qe) != SP_OK) {
            st = sp_error_set(err, qe.status, "checkpoint step %lld is damaged (%s), and moving it aside failed: %s",
                              (long long)step, err->message, qe.message);
            break;
        }
        sp__gen_note(j, "warning: checkpoint step %lld is damaged (%s); kept as %s; %s", (long long)step, err->message,
             moved, n > 0 ? "trying an older one" : "no older step: starting from the beginning of the stream");
        quarantined = 1;
        st = SP_ERR_NOTFOUND;
    }
    free(steps);
    if (st == SP_ERR_NOTFOUND && quarantined) {
        sp_sampler_reset(j->sampler);
        return SP_OK;
    }
    if (st == SP_OK && j->resume_json == NULL)
        st = sp_error_set(err, SP_ERR_CORRUPT, "the checkpoint has no generate progress record");
    return st == SP_OK ? SP_OK : sp_error_prefix(err, "%s: ", j->opt->checkpoint_dir);
}

/* Step-named directories without a manifest are not ours: said once, left alone. */
static void note_foreign(const sp__gen_job *j)
{
    size_t const n = sp_ckpt_foreign_count(j->ckpt);
    if (n == 0) return;
    char names[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof names - 64; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "", sp_ckpt_foreign_name(j->ckpt, i));
    sp__gen_note(j, "%s: leaving alone %zu director%s that %s no checkpoint _MANIFEST: %s%s", j->opt->checkpoint_dir, n,
         n == 1 ? "y" : "ies", n == 1 ? "holds" : "hold", names, len >= sizeof names - 64 ? ", ..." : "");
}

sp_status sp__gen_open_checkpoints(sp__gen_job *j, sp_error *err)
{
    sp_ckpt_options co;
    sp_ckpt_options_init(&co);
    co.max_to_keep = j->opt->max_to_keep;
    co.cleanup_tmp_directories = 1; /* a killed save leaves a temporary directory */
    co.detect_naming = 1;           /* the root's own naming, as every tool reads it */
    co.fs = j->fs;
    SP_TRY(sp_ckpt_manager_open(&j->ckpt, j->opt->checkpoint_dir, &co, err));
    SP_TRY(family_tag(j, err));
    note_foreign(j);
    int64_t const latest = sp_ckpt_latest_step(j->ckpt);
    if (latest == SP_CKPT_NONE) return SP_OK;
    SP_RETURN_IF(!j->opt->resume, err, SP_ERR_EXISTS,
                 "%s already holds checkpoints (latest step %lld): resume from them, or use an empty directory",
                 j->opt->checkpoint_dir, (long long)latest);
    return restore_latest(j, err);
}

sp_status sp__gen_open_writer(sp__gen_job *j, const sp_config *cfg, const char *dir, sp_error *err)
{
    sp_dataset_options d = j->opt->dataset;
    d.pool = j->pool;
    d.fs = j->fs;
    d.data_shard_index = j->opt->sampler.shard_index;
    d.data_shard_count = j->opt->sampler.shard_count;
    d.tmp_tag = j->ckpt ? j->tag : NULL;
    d.adopt_partial = j->ckpt && j->tag_existed; /* a killed job of this family committed nothing */
    sp_status const st =
        sp_dataset_writer_open(&j->writer, dir, cfg, sp_sampler_geometry(j->sampler), &d, j->resume_json, err);
    if (st == SP_ERR_MISMATCH) return sp_error_prefix(err, "cannot resume from %s: ", j->opt->checkpoint_dir);
    return st;
}

/* ---- the loop ----------------------------------------------------------------------------- */

double sp__clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

void sp__ckpt_times_add(sp__ckpt_times *t, double durable_ms, double commit_ms)
{
    if (t->n == t->cap) {
        size_t const cap = t->cap ? 2 * t->cap : 16;
        double *const d = (double *)realloc(t->durable_ms, cap * sizeof *d);
        if (d) t->durable_ms = d;
        double *const c = (double *)realloc(t->commit_ms, cap * sizeof *c);
        if (c) t->commit_ms = c;
        if (d == NULL || c == NULL) return; /* a figure for the user only */
        t->cap = cap;
    }
    t->durable_ms[t->n] = durable_ms;
    t->commit_ms[t->n++] = commit_ms;
}

static int cmp_double(const void *a, const void *b)
{
    double const x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "4.1 ms median, 9.0 max" of v (sorted in place). */
static void median_max(double *v, size_t n, char *buf, size_t cap)
{
    qsort(v, n, sizeof *v, cmp_double);
    double const median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    snprintf(buf, cap, "%.1f ms median, %.1f max", median, v[n - 1]);
}

/* One note on what the job's checkpoints cost; frees the figures. */
static void note_times(sp__gen_job *j)
{
    sp__ckpt_times *const t = &j->times;
    if (t->n > 0) {
        char d[64], c[64];
        median_max(t->durable_ms, t->n, d, sizeof d);
        median_max(t->commit_ms, t->n, c, sizeof c);
        unsigned const P = j->opt->group && j->opt->group->size > 1 ? j->opt->group->size : 1;
        sp__gen_note(j, "%zu checkpoint%s: data made durable in %s%s; step committed in %s", t->n, t->n == 1 ? "" : "s",
                     d, P > 1 ? " (the slowest rank's)" : "", c);
    }
    free(t->durable_ms);
    free(t->commit_ms);
    memset(t, 0, sizeof *t);
}

sp_status sp__gen_commit(sp__gen_job *j, int64_t step, const char *progress, sp_error *err)
{
    sp_tree *t = NULL;
    sp_status st = sp_pipeline_state_tree(j->sampler, progress, &t, err);
    sp_ckpt_save_args a;
    sp_ckpt_save_args_init(&a);
    a.force = 1; /* checkpoint_every decides, not the manager's interval rule */
    if (st == SP_OK) st = sp_ckpt_save(j->ckpt, step, t, &a, NULL, err);
    sp_tree_free(t);
    return st;
}

sp_status sp__gen_checkpoint(sp__gen_job *j, int64_t step, double *durable_ms, double *commit_ms, sp_error *err)
{
    double const t0 = sp__clock_ms();
    char *progress = NULL;
    SP_TRY(sp_dataset_writer_sync(j->writer, &progress, err));
    double const t1 = sp__clock_ms();
    sp_status const st = sp__gen_commit(j, step, progress, err);
    free(progress);
    if (durable_ms) *durable_ms = t1 - t0;
    if (commit_ms) *commit_ms = sp__clock_ms() - t1;
    return st;
}

static sp_status checkpoint_after(sp__gen_job *j, const sp_batch *b, sp_error *err)
{
    uint64_t const batches = b->batch_index + 1;
    if (batches % j->opt->checkpoint_every == 0) j->ckpt_due = 1;
    if (!j->ckpt_due || !sp_dataset_writer_can_sync(j->writer)) return SP_OK;
    j->ckpt_due = 0;
    double durable = 0, commit = 0;
    SP_TRY(sp__gen_checkpoint(j, (int64_t)batches, &durable, &commit, err));
    sp__ckpt_times_add(&j->times, durable, commit);
    return SP_OK;
}

static sp_status run_batches(sp__gen_job *j, sp_error *err)
{
    uint64_t const total = j->opt->dataset.pairs, start = sp_dataset_writer_covered(j->writer);
    uint64_t covered = start;
    while (covered < total) {
        const sp_batch *b = NULL;
        sp_status const st = sp_sampler_next(j->sampler, &b, err);
        if (st == SP_ERR_END) break; /* a finite stream ran out: keep what was written */
        SP_TRY(st);
        SP_TRY(sp_dataset_writer_write(j->writer, b, err));
        covered = b->first_pair + b->batch_size;
        if (j->ckpt && covered <= total) SP_TRY(checkpoint_after(j, b, err));
        if (j->opt->progress) j->opt->progress(j->opt->progress_ctx, covered < total ? covered : total, total, start);
    }
    return SP_OK;
}

static sp_status run_job(sp__gen_job *j, const sp_config *cfg, const char *dir, sp_generate_result *res, sp_error *err)
{
    SP_TRY(sp__gen_make_sampler(j, cfg, err));
    sp_dataset_options checked;
    int bits = 0; /* the layout's needs, checked before the checkpoint root is touched */
    SP_TRY(sp__layout_resolve(&j->opt->dataset, cfg, sp_sampler_geometry(j->sampler), &checked, &bits, err));
    if (j->opt->checkpoint_dir) SP_TRY(sp__gen_open_checkpoints(j, err));
    SP_TRY(sp__gen_open_writer(j, cfg, dir, err));
    if (sp_dataset_writer_complete(j->writer)) {
        res->already_complete = 1;
        res->pairs_written = j->opt->dataset.pairs;
        return SP_OK;
    }
    uint64_t const start = sp_dataset_writer_covered(j->writer), written0 = sp_dataset_writer_written(j->writer);
    res->started = 1;
    if (j->resume_json) sp__gen_note(j, "resuming after %llu pairs (%s)", (unsigned long long)start, j->opt->checkpoint_dir);
    res->start_pairs = start;
    SP_TRY(run_batches(j, err));
    SP_TRY(sp_dataset_writer_finish(j->writer, err));
    res->pairs_written = sp_dataset_writer_written(j->writer);
    res->pairs_this_run = res->pairs_written - written0;
    return SP_OK;
}

sp_status sp_generate(const sp_config *cfg, const char *dir, const sp_generate_options *opt, sp_generate_result *res,
                      sp_error *err)
{
    SP_RETURN_IF(cfg == NULL || dir == NULL || opt == NULL, err, SP_ERR_INVALID, "generate: NULL argument");
    SP_RETURN_IF(opt->struct_size != sizeof *opt, err, SP_ERR_INVALID,
                 "generate options: struct_size %zu, expected %zu (call sp_generate_options_init)", opt->struct_size,
                 sizeof *opt);
    SP_RETURN_IF(opt->checkpoint_dir && opt->checkpoint_every == 0, err, SP_ERR_INVALID,
                 "checkpoint_every must be at least 1");
    sp_generate_result local;
    if (res == NULL) res = &local;
    memset(res, 0, sizeof *res);
    sp__gen_job j;
    memset(&j, 0, sizeof j);
    j.opt = opt;
    j.fs = opt->dataset.fs ? opt->dataset.fs : sp_fs_posix();
    int const grouped = opt->group && opt->group->size > 1;
    /* One writer assembles the other layouts' lists and files: a group's ranks would each
     * need their own part of them, merged in stream order, which only params.jsonl has. */
    const char *const layout = sp_dataset_layout_name(opt->dataset.layout);
    SP_RETURN_IF(grouped && opt->dataset.layout != SP_DATASET_LAYOUT_SYNTHPIX, err, SP_ERR_UNSUPPORTED,
                 "the %s layout cannot be written by a group of processes (synthpix-mpi); write it with one process "
                 "(synthpix generate), or use the synthpix layout",
                 layout ? layout : "requested");
    sp_status st = grouped ? sp__generate_group(&j, cfg, dir, res, err) : run_job(&j, cfg, dir, res, err);
    if (st == SP_OK) note_times(&j);
    else free(j.times.durable_ms), free(j.times.commit_ms);
    res->threads = j.pool ? sp_pool_size(j.pool) : 0;
    sp_dataset_writer_free(j.writer);
    sp_status const cs = sp_ckpt_manager_close(j.ckpt, -1, st == SP_OK ? err : NULL);
    if (st == SP_OK) st = cs;
    free(j.resume_json);
    sp_sampler_free(j.sampler);
    if (j.own_pool) sp_pool_free(j.pool);
    return st;
}
