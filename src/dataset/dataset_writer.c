/* dataset_writer.c: the dataset writer object (sp_dataset.h).
 *
 * Open: options are checked and the directory created and locked before any data; a folder
 * already holding exactly the dataset asked for is left as it is (complete); a fresh writer
 * refuses a folder holding another dataset unless told to replace it; a resumed writer
 * first checks the progress record against this dataset, then cuts its params file back to
 * the length the record vouches for (lines after it are written again, identically). Both
 * kinds remove the temporaries that carry this job family's tag (left by a killed job of
 * the same family), keeping only the params file the record names.
 *
 * Layouts other than synthpix (dataset_layouts.c) resolve their format and bit depth first,
 * and add side files (dataset_sides.c) that follow the params file's rules exactly: created
 * fresh, or reopened and cut back from the progress record; synced with it; kept with it.
 *
 * Write: the batch's files (sp__pairs_*, or the side records), then its params lines,
 * appended in pair order (in a group's job they are collected instead, and rank 0 appends
 * every rank's in stream order; a rank > 0's writer holds no lock and no params file: rank
 * 0's does). Sync: a full shard is closed, the params file and side files fsync'd, the file
 * system synced; only then is the progress record produced, so a checkpoint holding it never
 * covers data a crash could still lose. Finish: the same, then the side files finished
 * (lists renamed, or the layout's HDF5 file assembled), params.jsonl renamed into place and
 * dataset.json written last (docs/durability.md).
 */
#include "dataset_internal.h"

#include <errno.h>

#include "sp/sp_config.h"

void sp_dataset_options_init(sp_dataset_options *o)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->format = SP_DATASET_PNG;
    o->shard_size = 256;
    o->pairs = 64;
    o->layout = SP_DATASET_LAYOUT_SYNTHPIX;
    o->split = 0.1;
}

static int tag_ok(const char *t)
{
    size_t const n = strlen(t);
    if (n == 0 || n > SP_DATASET_TAG_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f'))) return 0;
    return 1;
}

static sp_status check_options(const sp_dataset_options *o, int bit_depth, sp_error *err)
{
    SP_RETURN_IF(o->struct_size != sizeof *o, err, SP_ERR_INVALID,
                 "dataset options: struct_size %zu, expected %zu (call sp_dataset_options_init)", o->struct_size,
                 sizeof *o);
    SP_RETURN_IF((unsigned)o->format >= SP_DATASET_FORMAT_COUNT_, err, SP_ERR_INVALID, "dataset format %d is not one of png, tiff, npy, h5",
                 (int)o->format);
    SP_RETURN_IF(bit_depth != 8 && bit_depth != 16 && bit_depth != 32, err, SP_ERR_INVALID,
                 "bit depth %d is not 8, 16 or 32", bit_depth);
    SP_RETURN_IF(bit_depth == 32 && o->format != SP_DATASET_H5, err, SP_ERR_INVALID,
                 "bit depth 32 (float32 images) needs the h5 format");
    SP_RETURN_IF(o->format == SP_DATASET_H5 && (o->shard_size == 0 || o->shard_size > 1000000), err, SP_ERR_INVALID,
                 "shard size %llu is not in [1, 1000000]", (unsigned long long)o->shard_size);
    SP_RETURN_IF(o->pairs == 0, err, SP_ERR_INVALID, "the dataset needs at least one pair");
    SP_RETURN_IF(o->format == SP_DATASET_H5 && !sp_have_feature("hdf5"), err, SP_ERR_UNSUPPORTED,
                 "synthpix was built without libhdf5: the h5 format needs it (install libhdf5-dev and rebuild)");
    SP_RETURN_IF(o->tmp_tag && !tag_ok(o->tmp_tag), err, SP_ERR_INVALID,
                 "temporary tag '%s' is not 1 to 16 lowercase hex digits", o->tmp_tag);
    return SP_OK;
}

/* The options with what the layout fixes resolved (format, bit depth), all checked. */
static sp_status options_for(const sp_dataset_options *opt, const sp_config *cfg, const sp_geometry *geom,
                             sp_dataset_options *out, sp_error *err)
{
    SP_RETURN_IF(opt->struct_size != sizeof *opt, err, SP_ERR_INVALID,
                 "dataset options: struct_size %zu, expected %zu (call sp_dataset_options_init)", opt->struct_size,
                 sizeof *opt);
    /* HDF5 shards hold image pairs (images1, images2): K frames need a per-pair format (the
     * other layouts refuse K frames in sp__layout_resolve). Said first, even by a build
     * without libhdf5: the configuration is what asks for the impossible. */
    SP_RETURN_IF(opt->layout == SP_DATASET_LAYOUT_SYNTHPIX && opt->format == SP_DATASET_H5 && !cfg->include_images &&
                     cfg->frames != 2,
                 err, SP_ERR_UNSUPPORTED,
                 "frames: %d: the h5 format stores image pairs (images1, images2) only; write %d frames per sample "
                 "with --format png, tiff or npy", cfg->frames, cfg->frames);
    int bits = 0;
    SP_TRY(sp__layout_resolve(opt, cfg, geom, out, &bits, err));
    return check_options(out, bits, err);
}

static sp_status echo_config(sp_dataset_writer *w, const sp_config *cfg, sp_error *err)
{
    sp_membuf yaml = {0};
    sp_sink const sink = sp_sink_membuf(&yaml);
    sp_status st = sp_config_write_yaml(cfg, &sink, err);
    if (st == SP_OK) w->config_crc = sp_crc32c(0, yaml.data, yaml.size);
    if (st == SP_OK) st = sp_sink_write(&sink, "", 1, err); /* NUL */
    if (st == SP_OK) w->config_yaml = (char *)yaml.data;
    else sp_membuf_free(&yaml);
    return st;
}

/* ---- temporaries of this job family --------------------------------------------------- */

typedef struct stale_ctx {
    const sp_dataset_writer *w;
    const char *keep; /* a name to keep, or NULL */
    char marker[64];  /* ".sp-tmp-<tag>-" */
} stale_ctx;

static int stale_entry(void *ctx, const char *name, int is_dir)
{
    stale_ctx *const c = (stale_ctx *)ctx;
    const char *const at = strstr(name, c->marker);
    if (is_dir || at == NULL || at == name || (c->keep && strcmp(name, c->keep) == 0) || sp__sides_keep(c->w, name))
        return 0;
    char path[SP_FS_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", c->w->dir, name) < sizeof path) c->w->fs->unlink(c->w->fs->ctx, path);
    return 0;
}

/* A killed job of this family leaves the temporaries of the files it was writing; they
 * carry the family's tag, which nothing else uses, so they are ours to remove (all but the
 * params file `keep` and the side files the progress record names). */
static void remove_stale(const sp_dataset_writer *w, const char *keep)
{
    stale_ctx c = {w, keep, {0}};
    snprintf(c.marker, sizeof c.marker, SP_FS_TMP_TAG "%s-", w->tag);
    (void)w->fs->list(w->fs->ctx, w->dir, stale_entry, &c); /* best effort: litter only */
}

/* ---- the folder: lock, what it holds --------------------------------------------------- */

static sp_status lock_folder(sp_dataset_writer *w, sp_error *err)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/.synthpix.lock", w->dir);
    long pid = 0;
    sp_status const st = sp__fs_lock_file(w->fs, path, &w->lock_fd, &pid, err);
    if (st != SP_ERR_LOCKED) return st;
    if (pid > 0)
        return sp_error_set(err, SP_ERR_LOCKED, "%s is being written by another synthpix job (pid %ld)", w->dir, pid);
    return sp_error_set(err, SP_ERR_LOCKED, "%s is being written by another synthpix job", w->dir);
}

typedef struct scan_ctx {
    const sp_dataset_writer *w;
    int remove;      /* 1: unlink what matches */
    size_t found;
    char first[256]; /* the first match, for the message */
    int failed;      /* a removal failed (negative errno) */
} scan_ctx;

static int scan_entry(void *ctx, const char *name, int is_dir)
{
    scan_ctx *const c = (scan_ctx *)ctx;
    if (is_dir || !sp__layout_name(c->w, name)) return 0;
    if (c->found++ == 0) snprintf(c->first, sizeof c->first, "%s", name);
    if (!c->remove) return 0;
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", c->w->dir, name);
    int const e = c->w->fs->unlink(c->w->fs->ctx, path);
    if (e < 0 && e != -ENOENT && c->failed == 0) c->failed = e;
    return 0;
}

/* A fresh dataset goes into a folder holding none: another dataset found there is refused,
 * or (overwrite, adopt_partial) its files - and only those the layout names - removed. */
static sp_status claim_folder(sp_dataset_writer *w, sp_error *err)
{
    scan_ctx c;
    memset(&c, 0, sizeof c);
    c.w = w;
    c.remove = w->opt.overwrite || w->opt.adopt_partial;
    sp__layout_find_case(w);
    int const e = w->fs->list(w->fs->ctx, w->dir, scan_entry, &c);
    if (e < 0) return sp__fs_fail(err, e, "list", w->dir);
    if (c.failed) return sp__fs_fail(err, c.failed, "remove the old dataset's files in", w->dir);
    if (c.found && !c.remove)
        return sp_error_set(err, SP_ERR_EXISTS,
                            "%s already holds %s dataset (%zu of its files, e.g. %s): resume it from its "
                            "checkpoints, or overwrite it",
                            w->dir, c.found > 1 || strcmp(c.first, "dataset.json") ? "another" : "a", c.found, c.first);
    return SP_OK;
}

/* A resumed job rewrites pairs: dataset.json goes before the first of them, so a folder
 * holding it is always complete. */
static sp_status unclaim_complete(sp_dataset_writer *w, sp_error *err)
{
    char path[SP_FS_PATH_MAX];
    snprintf(path, sizeof path, "%s/dataset.json", w->dir);
    int const e = w->fs->unlink(w->fs->ctx, path);
    return e < 0 && e != -ENOENT ? sp__fs_fail(err, e, "remove", path) : SP_OK;
}

/* ---- params file ---------------------------------------------------------------------- */

static sp_status params_create(sp_dataset_writer *w, sp_error *err)
{
    char final[SP_FS_PATH_MAX];
    snprintf(final, sizeof final, "%s/params.jsonl", w->dir);
    remove_stale(w, NULL);
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        if (!sp__fs_tmp_name(w->params_path, sizeof w->params_path, final, w->tag))
            return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", w->dir);
        fd = w->fs->open(w->fs->ctx, w->params_path, 'w');
    }
    if (fd < 0) return sp__fs_fail(err, fd, "create", w->params_path);
    w->params_fd = fd;
    return SP_OK;
}

/* The file a progress record names, cut back to its durable length. A job killed between
 * the final rename and dataset.json left only params.jsonl: it is taken back. */
static sp_status params_reopen(sp_dataset_writer *w, const char *name, sp_error *err)
{
    if ((size_t)snprintf(w->params_path, sizeof w->params_path, "%s/%s", w->dir, name) >= sizeof w->params_path)
        return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", w->dir);
    remove_stale(w, name);
    uint64_t size = 0;
    int st = w->fs->stat(w->fs->ctx, w->params_path, &size, NULL);
    if (st == -ENOENT) {
        char final[SP_FS_PATH_MAX], json[SP_FS_PATH_MAX];
        snprintf(final, sizeof final, "%s/params.jsonl", w->dir);
        snprintf(json, sizeof json, "%s/dataset.json", w->dir);
        /* dataset.json goes first: a folder holding it is always complete. */
        int const u = w->fs->unlink(w->fs->ctx, json);
        if (u < 0 && u != -ENOENT) return sp__fs_fail(err, u, "remove", json);
        if (w->fs->rename(w->fs->ctx, final, w->params_path) != 0)
            return sp_error_set(err, SP_ERR_NOTFOUND, "%s: missing; cannot resume", w->params_path);
        st = w->fs->stat(w->fs->ctx, w->params_path, &size, NULL);
    }
    if (st < 0) return sp__fs_fail(err, st, "stat", w->params_path);
    if (size < w->params_bytes)
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: shorter than the %llu bytes the checkpoint covers",
                            w->params_path, (unsigned long long)w->params_bytes);
    int const fd = w->fs->open(w->fs->ctx, w->params_path, 'a');
    if (fd < 0) return sp__fs_fail(err, fd, "open", w->params_path);
    w->params_fd = fd;
    int const t = w->fs->truncate(w->fs->ctx, fd, w->params_bytes);
    if (t < 0) return sp__fs_fail(err, t, "truncate", w->params_path);
    w->keep_params = 1;
    return SP_OK;
}

static sp_status params_durable(sp_dataset_writer *w, sp_error *err)
{
    int const e = w->fs->fsync(w->fs->ctx, w->params_fd);
    return e ? sp__fs_fail(err, e, "fsync", w->params_path) : SP_OK;
}

/* ---- open / free ------------------------------------------------------------------------ */

static sp_status writer_init(sp_dataset_writer *w, const char *dir, const sp_config *cfg, const sp_geometry *geom,
                             const sp_dataset_options *opt, sp_error *err)
{
    w->opt = *opt;
    w->opt.tmp_tag = NULL;
    w->fs = opt->fs ? opt->fs : sp_fs_posix();
    w->params_fd = -1;
    w->lock_fd = -1;
    w->bit_depth = opt->bit_depth ? opt->bit_depth : cfg->bit_depth;
    sp__layout_init(w, cfg);
    w->height = geom->height, w->width = geom->width, w->flow_h = geom->flow_h, w->flow_w = geom->flow_w;
    w->flow_units_pixels = cfg->output_units == SP_UNITS_PIXELS;
    w->frames = cfg->include_images ? 2 : (size_t)cfg->frames;
    if (opt->tmp_tag) snprintf(w->tag, sizeof w->tag, "%s", opt->tmp_tag);
    else snprintf(w->tag, sizeof w->tag, "%016llx", (unsigned long long)sp__fs_random64());
    w->dir = strdup(dir);
    if (w->dir == NULL) return sp_error_set(err, SP_ERR_NOMEM, "%s: out of memory", dir);
    return echo_config(w, cfg, err);
}

sp_status sp_dataset_writer_open(sp_dataset_writer **out, const char *dir, const sp_config *cfg,
                                 const sp_geometry *geom, const sp_dataset_options *opt, const char *resume_json,
                                 sp_error *err)
{
    *out = NULL;
    SP_RETURN_IF(dir == NULL || cfg == NULL || geom == NULL || opt == NULL, err, SP_ERR_INVALID,
                 "dataset writer: NULL argument");
    sp_dataset_options o;
    SP_TRY(options_for(opt, cfg, geom, &o, err));
    sp_dataset_writer *const w = (sp_dataset_writer *)calloc(1, sizeof *w);
    SP_RETURN_IF(w == NULL, err, SP_ERR_NOMEM, "%s: out of memory", dir);
    sp_status st = writer_init(w, dir, cfg, geom, &o, err);
    if (st == SP_OK) st = sp__fs_mkdirs(w->fs, dir, err);
    if (st == SP_OK) st = lock_folder(w, err);
    char name[SP_FS_PATH_MAX];
    if (st == SP_OK && resume_json) st = sp__progress_parse(w, resume_json, name, sizeof name, err);
    if (st == SP_OK && sp__dataset_json_matches(w)) {
        /* A job of this family killed between dataset.json and the removal of its spools
         * left them behind: they carry the family's tag, so they are ours to remove (the
         * side files a progress record names are no longer needed either). */
        w->nside = 0;
        if (opt->tmp_tag) remove_stale(w, NULL);
        w->complete = 1;
        *out = w;
        return SP_OK;
    }
    if (st == SP_OK) st = resume_json ? params_reopen(w, name, err) : claim_folder(w, err);
    if (st == SP_OK) st = resume_json ? sp__sides_reopen(w, err) : SP_OK;
    if (st == SP_OK) st = resume_json ? unclaim_complete(w, err) : params_create(w, err);
    if (st == SP_OK && !resume_json) st = sp__sides_create(w, err);
    if (st == SP_OK) st = sp__pairs_jobs_create(w, err);
    if (st != SP_OK) {
        sp_dataset_writer_free(w);
        return st;
    }
    *out = w;
    return SP_OK;
}

sp_status sp__dataset_writer_open_part(sp_dataset_writer **out, const char *dir, const sp_config *cfg,
                                       const sp_geometry *geom, const sp_dataset_options *opt, sp_error *err)
{
    *out = NULL;
    SP_RETURN_IF(opt->tmp_tag == NULL, err, SP_ERR_INVALID, "dataset writer: a rank's writer needs the job's tag");
    sp_dataset_options o;
    SP_TRY(options_for(opt, cfg, geom, &o, err));
    SP_RETURN_IF(o.layout != SP_DATASET_LAYOUT_SYNTHPIX, err, SP_ERR_UNSUPPORTED,
                 "the %s layout is written by one process only", sp_dataset_layout_name(o.layout));
    sp_dataset_writer *const w = (sp_dataset_writer *)calloc(1, sizeof *w);
    SP_RETURN_IF(w == NULL, err, SP_ERR_NOMEM, "%s: out of memory", dir);
    w->part = 1;
    w->collect = 1;
    sp_status st = writer_init(w, dir, cfg, geom, &o, err);
    if (st == SP_OK) st = sp__fs_mkdirs(w->fs, dir, err);
    if (st == SP_OK) st = sp__pairs_jobs_create(w, err);
    if (st != SP_OK) {
        sp_dataset_writer_free(w);
        return st;
    }
    *out = w;
    return SP_OK;
}

void sp__dataset_writer_collect(sp_dataset_writer *w)
{
    w->collect = 1;
}

sp_status sp__dataset_writer_sync_part(sp_dataset_writer *w, sp_error *err)
{
    SP_TRY(sp__shard_close(w, err));
    return sp__fs_sync_fs(w->fs, w->dir, err);
}

sp_status sp__dataset_writer_append(sp_dataset_writer *w, const void *lines, size_t n, uint64_t written,
                                    sp_error *err)
{
    SP_ASSERT(!w->part && w->params_fd >= 0);
    SP_TRY(sp__fs_write_all(w->fs, w->params_fd, lines, n, w->params_path, err));
    w->params_bytes += n;
    w->written += written;
    return SP_OK;
}

void sp__dataset_writer_set_covered(sp_dataset_writer *w, uint64_t covered)
{
    w->covered = covered;
}

sp_status sp__dataset_writer_progress(sp_dataset_writer *w, char **progress_json, sp_error *err)
{
    *progress_json = NULL;
    SP_TRY(params_durable(w, err));
    *progress_json = sp__progress_dump(w);
    SP_RETURN_IF(*progress_json == NULL, err, SP_ERR_NOMEM, "%s: out of memory", w->dir);
    w->keep_params = 1;
    return SP_OK;
}

void sp_dataset_writer_free(sp_dataset_writer *w)
{
    if (w == NULL) return;
    sp_h5_dataset_abort(w->shard); /* a failed job leaves no partial shard */
    if (w->params_fd >= 0) w->fs->close(w->fs->ctx, w->params_fd);
    if (!w->finished && !w->keep_params && w->params_path[0]) w->fs->unlink(w->fs->ctx, w->params_path);
    sp__sides_free(w, w->finished || w->keep_params);
    sp__pairs_jobs_free(w);
    if (w->lock_fd >= 0) w->fs->close(w->fs->ctx, w->lock_fd); /* releases the lock */
    sp_membuf_free(&w->lines);
    sp_membuf_free(&w->pending);
    free(w->config_yaml);
    free(w->dir);
    free(w);
}

/* ---- write / sync / finish ------------------------------------------------------------- */

int sp_dataset_writer_complete(const sp_dataset_writer *w)
{
    return w->complete;
}

/* The files of pairs [0, count) of b, as the layout wants them. */
static sp_status write_pairs(sp_dataset_writer *w, const sp_batch *b, size_t count, sp_error *err)
{
    if (w->layout == SP_DATASET_LAYOUT_SYNTHPIX)
        return w->opt.format == SP_DATASET_H5 ? sp__pairs_write_h5(w, b, count, err)
                                              : sp__pairs_write_files(w, b, count, err);
    if (w->layout == SP_DATASET_LAYOUT_CAI) SP_TRY(sp__pairs_write_files(w, b, count, err));
    return sp__sides_write(w, b, count, err);
}

sp_status sp_dataset_writer_write(sp_dataset_writer *w, const sp_batch *b, sp_error *err)
{
    SP_RETURN_IF(w->finished || w->complete, err, SP_ERR_INVALID, "%s: the dataset is already finished", w->dir);
    SP_RETURN_IF(b->height != w->height || b->width != w->width || b->flow_height != w->flow_h ||
                     b->flow_width != w->flow_w,
                 err, SP_ERR_MISMATCH, "%s: batch shape differs from the dataset's", w->dir);
    if (b->first_pair >= w->opt.pairs) return SP_OK;
    size_t const count = (size_t)(w->opt.pairs - b->first_pair < b->batch_size ? w->opt.pairs - b->first_pair
                                                                              : b->batch_size);
    SP_TRY(write_pairs(w, b, count, err));
    sp_membuf *const lines = w->collect ? &w->pending : &w->lines;
    if (!w->collect) lines->size = 0;
    uint64_t n = 0;
    for (size_t k = 0; k < count; k++) {
        if (!b->mask[k]) continue;
        SP_TRY(sp__params_line(lines, b, k, err));
        n++;
    }
    w->covered = b->first_pair + b->batch_size;
    if (w->collect) {
        w->pending_written += n;
        return SP_OK;
    }
    SP_TRY(sp__fs_write_all(w->fs, w->params_fd, lines->data, lines->size, w->params_path, err));
    w->params_bytes += lines->size;
    w->written += n;
    return SP_OK;
}

uint64_t sp_dataset_writer_covered(const sp_dataset_writer *w)
{
    return w->covered;
}

uint64_t sp_dataset_writer_written(const sp_dataset_writer *w)
{
    return w->written;
}

int sp_dataset_writer_can_sync(const sp_dataset_writer *w)
{
    return w->layout != SP_DATASET_LAYOUT_SYNTHPIX || w->opt.format != SP_DATASET_H5 ||
           w->covered % w->opt.shard_size == 0;
}

sp_status sp_dataset_writer_sync(sp_dataset_writer *w, char **progress_json, sp_error *err)
{
    *progress_json = NULL;
    SP_RETURN_IF(w->complete, err, SP_ERR_INVALID, "%s: the dataset is already complete", w->dir);
    SP_RETURN_IF(w->part, err, SP_ERR_INVALID, "%s: a rank's writer has no progress of its own", w->dir);
    SP_RETURN_IF(!sp_dataset_writer_can_sync(w), err, SP_ERR_BUSY,
                 "%s: a checkpoint covers whole shards; pair %llu is inside one", w->dir,
                 (unsigned long long)w->covered);
    SP_TRY(sp__shard_close(w, err)); /* a resumed job starts a new shard, never reopens one */
    SP_TRY(params_durable(w, err));
    SP_TRY(sp__sides_durable(w, err));
    SP_TRY(sp__fs_sync_fs(w->fs, w->dir, err));
    *progress_json = sp__progress_dump(w);
    SP_RETURN_IF(*progress_json == NULL, err, SP_ERR_NOMEM, "%s: out of memory", w->dir);
    w->keep_params = 1;
    return SP_OK;
}

sp_status sp_dataset_writer_finish(sp_dataset_writer *w, sp_error *err)
{
    SP_RETURN_IF(w->finished || w->complete, err, SP_ERR_INVALID, "%s: the dataset is already finished", w->dir);
    SP_RETURN_IF(w->part, err, SP_ERR_INVALID, "%s: rank 0's writer finishes the dataset", w->dir);
    SP_TRY(sp__shard_close(w, err)); /* the last, possibly short, shard */
    SP_TRY(params_durable(w, err));
    SP_TRY(sp__sides_durable(w, err));
    int const c = w->fs->close(w->fs->ctx, w->params_fd);
    w->params_fd = -1;
    if (c) return sp__fs_fail(err, c, "close", w->params_path);
    SP_TRY(sp__fs_sync_fs(w->fs, w->dir, err));
    SP_TRY(sp__sides_finish(w, err)); /* lists into place, or the layout's HDF5 file assembled */
    char final[SP_FS_PATH_MAX];
    snprintf(final, sizeof final, "%s/params.jsonl", w->dir);
    int const r = w->fs->rename(w->fs->ctx, w->params_path, final);
    if (r) return sp__fs_fail(err, r, "rename to", final);
    w->finished = 1;
    return sp__dataset_json_write(w, err); /* and the spools, once it no longer needs them */
}
