/* ckpt_at.c: a checkpoint at a path, without a manager (sp_ckpt_save_at, sp_ckpt_restore_at,
 * sp_ckpt_metadata_at; Orbax's Checkpointer).
 *
 * The directory at `path` is one step in the layout of ckpt_step.c, written by
 * sp__step_write with root = the parent directory and name = the last component. The
 * temporary is "<path>.sp-tmp-<pid>-<n>" beside it.
 *
 * Replacing an existing checkpoint (force), crash-safely. The new step is complete and
 * durable under its temporary name before anything happens to the old one; then:
 *   swap:     exchange(tmp, path) swaps the two directories in one atomic step, so `path`
 *             names a whole checkpoint at every instant, old before and new after. The old
 *             one is now under the temporary's name; the parent is fsync'd, then it is
 *             removed.
 *   fallback: (a file system or table without exchange) rename(path, side) with
 *             side = "<path>.sp-old-<pid>-<n>", fsync the parent, rename(tmp, path). A
 *             failure of the second rename renames the old one back. A kill between the
 *             two leaves `path` missing and the old checkpoint whole under `side`: restore
 *             and metadata look there when `path` is missing (the newest such copy).
 * Only a directory holding a readable _MANIFEST is ever replaced; anything else at `path`
 * is refused untouched (we never delete what we did not write).
 *
 * Garbage: a killed writer leaves "<base>.sp-tmp-<pid>-<8 hex>" (a partial new step, or the
 * old one after a swap) or "<base>.sp-old-<pid>-<8 hex>". After each successful save, such
 * siblings of `path` whose pid no longer runs are removed; nothing else is.
 */
#include "ckpt_internal.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

#define SP_CKPT_OLD_TAG ".sp-old-"

typedef struct at_path {
    char parent[SP_CKPT_PATH_MAX];
    char base[256];
    char full[SP_CKPT_PATH_MAX];
} at_path;

/* Splits path into its parent directory and last component (trailing slashes dropped). */
static sp_status split_path(const char *path, at_path *p, sp_error *err)
{
    SP_RETURN_IF(path == NULL || path[0] == 0, err, SP_ERR_INVALID, "checkpoint path is empty");
    size_t len = strlen(path);
    SP_RETURN_IF(len >= SP_CKPT_PATH_MAX - 64, err, SP_ERR_RANGE, "checkpoint path too long: %s", path);
    while (len > 1 && path[len - 1] == '/') len--;
    memcpy(p->full, path, len);
    p->full[len] = 0;
    const char *const slash = strrchr(p->full, '/');
    const char *const base = slash ? slash + 1 : p->full;
    SP_RETURN_IF(base[0] == 0 || strcmp(base, ".") == 0 || strcmp(base, "..") == 0, err, SP_ERR_INVALID,
                 "checkpoint path %s does not end in a directory name", path);
    SP_RETURN_IF(strlen(base) >= sizeof p->base - 32, err, SP_ERR_RANGE, "checkpoint name too long: %s", base);
    SP_RETURN_IF(strstr(base, SP_CKPT_TMP_TAG) || strstr(base, SP_CKPT_OLD_TAG), err, SP_ERR_INVALID,
                 "checkpoint path %s: names containing '%s' or '%s' are reserved for temporaries", path,
                 SP_CKPT_TMP_TAG, SP_CKPT_OLD_TAG);
    memcpy(p->base, base, strlen(base) + 1); /* fits: checked above */
    if (slash == NULL) {
        snprintf(p->parent, sizeof p->parent, ".");
    } else if (slash == p->full) {
        snprintf(p->parent, sizeof p->parent, "/");
    } else {
        memcpy(p->parent, p->full, (size_t)(slash - p->full));
        p->parent[slash - p->full] = 0;
    }
    return SP_OK;
}

/* Parses "<base><tag><pid>-<8 hex>"; returns the pid or 0 when entry is not such a name. */
static long entry_pid(const char *entry, const char *base, const char *tag)
{
    size_t const nb = strlen(base), nt = strlen(tag);
    if (strncmp(entry, base, nb) != 0 || strncmp(entry + nb, tag, nt) != 0) return 0;
    const char *s = entry + nb + nt;
    long pid = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 10; s++, digits++) pid = pid * 10 + (*s - '0');
    if (digits == 0 || *s != '-') return 0;
    s++;
    for (int i = 0; i < 8; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return s[8] == 0 ? pid : 0;
}

/* ---- garbage of writers that no longer run ---- */

typedef struct gc_ctx {
    const sp_fs *fs;
    const at_path *p;
} gc_ctx;

static int gc_entry(void *ctx, const char *entry, int is_dir)
{
    gc_ctx *const g = (gc_ctx *)ctx;
    long pid = entry_pid(entry, g->p->base, SP_CKPT_TMP_TAG);
    if (pid == 0) pid = entry_pid(entry, g->p->base, SP_CKPT_OLD_TAG);
    if (!is_dir || pid == 0 || pid == (long)getpid()) return 0;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) return 0; /* still running, or not ours to probe */
    char path[SP_CKPT_PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", g->p->parent, entry) < sizeof path) sp__fs_rm_rf(g->fs, path);
    return 0;
}

static void collect_garbage(const sp_fs *fs, const at_path *p)
{
    gc_ctx g = {fs, p};
    (void)fs->list(fs->ctx, p->parent, gc_entry, &g);
}

/* ---- finding the checkpoint ---- */

typedef struct find_ctx {
    const sp_fs *fs;
    const at_path *p;
    char best[256];
    int64_t best_ns;
} find_ctx;

static int find_old_entry(void *ctx, const char *entry, int is_dir)
{
    find_ctx *const f = (find_ctx *)ctx;
    if (!is_dir || entry_pid(entry, f->p->base, SP_CKPT_OLD_TAG) == 0 || strlen(entry) >= sizeof f->best) return 0;
    sp__manifest mf;
    if (sp__step_manifest(f->fs, f->p->parent, entry, -1, &mf, NULL) != SP_OK) return 0;
    if (f->best[0] == 0 || mf.commit_ns > f->best_ns) {
        memcpy(f->best, entry, strlen(entry) + 1); /* fits: checked above */
        f->best_ns = mf.commit_ns;
    }
    sp__manifest_free(&mf);
    return 0;
}

/* The directory name (in p->parent) that holds the checkpoint of p: p->base, or the old copy
 * a forced save killed between its renames left. SP_ERR_NOTFOUND when there is none. */
static sp_status locate(const sp_fs *fs, const at_path *p, char *name, size_t cap, sp_error *err)
{
    int is_dir = 0;
    int const e = fs->stat(fs->ctx, p->full, NULL, &is_dir);
    if (e == 0) {
        SP_RETURN_IF(!is_dir && !fs->is_link(fs->ctx, p->full), err, SP_ERR_CORRUPT,
                     "%s is not a checkpoint directory", p->full);
        snprintf(name, cap, "%s", p->base);
        return SP_OK;
    }
    if (e != -ENOENT) return sp__fs_fail(err, e, "stat", p->full);
    find_ctx f;
    memset(&f, 0, sizeof f);
    f.fs = fs;
    f.p = p;
    (void)fs->list(fs->ctx, p->parent, find_old_entry, &f);
    SP_RETURN_IF(f.best[0] == 0, err, SP_ERR_NOTFOUND, "no checkpoint at %s", p->full);
    snprintf(name, cap, "%s", f.best);
    return SP_OK;
}

/* ---- replacing ---- */

typedef struct replace_ctx {
    const sp_fs *fs;
    const at_path *p;
    int durable;
    uint64_t nonce;
    char old[SP_CKPT_PATH_MAX]; /* where the old checkpoint went, once published */
} replace_ctx;

static int exchange_unsupported(int e)
{
    return e == -ENOSYS || e == -EINVAL || e == -EOPNOTSUPP;
}

static sp_status fsync_parent(const replace_ctx *r, sp_error *err)
{
    return r->durable ? sp__fs_fsync_dir(r->fs, r->p->parent, r->p->parent, err) : SP_OK;
}

static sp_status publish_replace(void *ctx, const char *tmp, const char *final_path, sp_error *err)
{
    replace_ctx *const r = (replace_ctx *)ctx;
    const sp_fs *const fs = r->fs;
    int e = fs->exchange ? fs->exchange(fs->ctx, tmp, final_path) : -ENOSYS;
    if (e == 0) {
        snprintf(r->old, sizeof r->old, "%s", tmp);
        return fsync_parent(r, err);
    }
    if (e == -ENOENT) { /* the old one vanished meanwhile: publish as a fresh save */
        e = fs->rename(fs->ctx, tmp, final_path);
        return e < 0 ? sp__fs_fail(err, e, "rename", final_path) : SP_OK;
    }
    if (!exchange_unsupported(e)) return sp__fs_fail(err, e, "exchange", final_path);
    char side[SP_CKPT_PATH_MAX];
    if ((size_t)snprintf(side, sizeof side, "%s" SP_CKPT_OLD_TAG "%ld-%08llx", final_path, (long)getpid(),
                         (unsigned long long)(r->nonce & 0xffffffffu)) >= sizeof side)
        return sp_error_set(err, SP_ERR_RANGE, "path too long: %s", final_path);
    e = fs->rename(fs->ctx, final_path, side);
    if (e < 0) return sp__fs_fail(err, e, "rename", final_path);
    sp_status const s = fsync_parent(r, err);
    e = s == SP_OK ? fs->rename(fs->ctx, tmp, final_path) : 0;
    if (s != SP_OK || e < 0) {
        (void)fs->rename(fs->ctx, side, final_path); /* put the old one back (best effort) */
        return s != SP_OK ? s : sp__fs_fail(err, e, "rename", final_path);
    }
    snprintf(r->old, sizeof r->old, "%s", side);
    return SP_OK;
}

/* SP_OK when `path` is free (*exists 0) or holds a checkpoint of ours (*exists 1). */
static sp_status probe_existing(const sp_fs *fs, const at_path *p, int *exists, sp_error *err)
{
    *exists = 0;
    int is_dir = 0;
    int const e = fs->stat(fs->ctx, p->full, NULL, &is_dir);
    if (e == -ENOENT) return SP_OK;
    if (e < 0) return sp__fs_fail(err, e, "stat", p->full);
    SP_RETURN_IF(fs->is_link(fs->ctx, p->full), err, SP_ERR_EXISTS, "%s is a symbolic link; not replaced",
                 p->full);
    SP_RETURN_IF(!is_dir, err, SP_ERR_EXISTS, "%s exists and is not a checkpoint directory; not replaced",
                 p->full);
    sp__manifest mf;
    sp_error probe;
    if (sp__step_manifest(fs, p->parent, p->base, -1, &mf, &probe) != SP_OK)
        return sp_error_set(err, SP_ERR_EXISTS, "%s exists and is not a whole synthpix checkpoint (%s); not replaced",
                            p->full, probe.message);
    sp__manifest_free(&mf);
    *exists = 1;
    return SP_OK;
}

sp_status sp_ckpt_save_at_fs(const sp_fs *fs, const char *path, const sp_tree *tree,
                             const sp_ckpt_save_args *args, sp_error *err)
{
    sp_error local;
    if (err == NULL) err = &local;
    if (fs == NULL) fs = sp_fs_posix();
    sp_ckpt_save_args defaults;
    sp_ckpt_save_args_init(&defaults);
    const sp_ckpt_save_args *const a = args ? args : &defaults;
    SP_RETURN_IF(a->struct_size != sizeof *a, err, SP_ERR_INVALID, "sp_ckpt_save_args: call _init");
    SP_RETURN_IF(tree == NULL, err, SP_ERR_INVALID, "tree is NULL");
    at_path p;
    SP_TRY(split_path(path, &p, err));
    SP_TRY(sp__fs_mkdirs(fs, p.parent, err));
    int exists = 0;
    SP_TRY(probe_existing(fs, &p, &exists, err));
    SP_RETURN_IF(exists && !a->force, err, SP_ERR_EXISTS, "%s already exists (save with force to replace it)",
                 p.full);
    sp__save_meta meta;
    sp_status s = sp__save_meta_copy(a, &meta, err);
    replace_ctx r;
    memset(&r, 0, sizeof r);
    r.fs = fs;
    r.p = &p;
    r.durable = 1;
    r.nonce = sp__fs_random64();
    sp__step_ctx const c = {fs, p.parent, 1, -1, (size_t)16 << 20, NULL, r.nonce,
                            exists ? publish_replace : NULL, &r};
    int published = 0;
    if (s == SP_OK) s = sp__step_write(&c, p.base, 0, tree, &meta, NULL, &published, err);
    sp__save_meta_free(&meta);
    if (!published) return sp_error_prefix(err, "saving checkpoint %s: ", p.full);
    if (r.old[0]) sp__fs_rm_rf(fs, r.old); /* the replaced checkpoint (the new one is durable) */
    collect_garbage(fs, &p);
    return s;
}

sp_status sp_ckpt_save_at(const char *path, const sp_tree *tree, const sp_ckpt_save_args *args, sp_error *err)
{
    return sp_ckpt_save_at_fs(NULL, path, tree, args, err);
}

sp_status sp_ckpt_restore_at_fs(const sp_fs *fs, const char *path, const sp_tree *target,
                                const sp_ckpt_restore_args *args, sp_tree **out, sp_error *err)
{
    sp_error local;
    if (err == NULL) err = &local;
    *out = NULL;
    if (fs == NULL) fs = sp_fs_posix();
    sp_ckpt_restore_args defaults;
    sp_ckpt_restore_args_init(&defaults);
    const sp_ckpt_restore_args *const a = args ? args : &defaults;
    SP_RETURN_IF(a->struct_size != sizeof *a, err, SP_ERR_INVALID, "sp_ckpt_restore_args: call _init");
    at_path p;
    SP_TRY(split_path(path, &p, err));
    char name[256];
    SP_TRY(locate(fs, &p, name, sizeof name, err));
    int64_t step = 0;
    sp_status const s = sp__step_read(fs, p.parent, name, -1, target, a, out, &step, err);
    if (s != SP_OK) return sp_error_prefix(err, "restoring checkpoint %s: ", p.full);
    if (a->restored_step) *a->restored_step = step;
    return SP_OK;
}

sp_status sp_ckpt_restore_at(const char *path, const sp_tree *target, const sp_ckpt_restore_args *args,
                             sp_tree **out, sp_error *err)
{
    return sp_ckpt_restore_at_fs(NULL, path, target, args, out, err);
}

sp_status sp_ckpt_metadata_at(const char *path, sp_ckpt_step_info *info, char **metadata_json, sp_error *err)
{
    sp_error local;
    if (err == NULL) err = &local;
    memset(info, 0, sizeof *info);
    if (metadata_json) *metadata_json = NULL;
    const sp_fs *const fs = sp_fs_posix();
    at_path p;
    SP_TRY(split_path(path, &p, err));
    char name[256];
    SP_TRY(locate(fs, &p, name, sizeof name, err));
    sp__manifest mf;
    SP_TRY(sp__step_manifest(fs, p.parent, name, -1, &mf, err));
    info->step = mf.step;
    info->init_ns = mf.init_ns;
    info->commit_ns = mf.commit_ns;
    info->n_files = mf.n_files + 1;
    for (size_t i = 0; i < mf.n_files; i++) info->total_bytes += mf.files[i].size;
    char mpath[SP_CKPT_PATH_MAX];
    uint64_t msize = 0;
    if ((size_t)snprintf(mpath, sizeof mpath, "%s/%s/%s", p.parent, name, SP_CKPT_MANIFEST) < sizeof mpath &&
        fs->stat(fs->ctx, mpath, &msize, NULL) == 0)
        info->total_bytes += msize;
    snprintf(info->dir_name, sizeof info->dir_name, "%.*s", (int)sizeof info->dir_name - 1, name);
    sp__manifest_items_join(&mf, info->items, sizeof info->items);
    sp_status s = SP_OK;
    if (metadata_json) {
        unsigned char *buf = NULL;
        size_t n = 0;
        s = sp__step_read_verified(fs, p.parent, name, &mf, SP_CKPT_STEP_META, &buf, &n, err);
        *metadata_json = (char *)buf;
    }
    sp__manifest_free(&mf);
    return s;
}
