/* ckpt_step.c: one checkpoint step on disk: the commit protocol and verified reads.
 *
 * Layout of a committed step (docs/checkpoints.md has the full description):
 *   <root>/<name>/_MANIFEST               size + CRC32C of every other file (written last)
 *   <root>/<name>/_CHECKPOINT_METADATA    timestamps, items, metrics, custom metadata
 *   <root>/<name>/_TREE_METADATA          every leaf: path, kind, dtype/shape or value
 *   <root>/<name>/<leaf path>/.zarray     an array leaf: zarr v2 metadata ...
 *   <root>/<name>/<leaf path>/<i>.0...    ... and its chunk files
 *   <root>/<name>/<leaf path>.json        a JSON leaf, byte-for-byte as given
 *
 * Commit protocol (write side), each step checked and reported with the failing operation:
 *   1. mkdir <root>/<name>.sp-tmp-<pid>-<nonce>
 *   2. write every file there; each is created O_EXCL, written fully, fsync'd, closed (checked)
 *   3. write _MANIFEST last, fsync it
 *   4. fsync every directory created inside the temporary directory, then the directory
 *   5. rename it to <root>/<name> (atomic publish; the step is visible complete or not at all)
 *   6. fsync <root> so the rename itself is durable
 * A failure before 5 removes the temporary directory (best effort; a leftover is never
 * listed and is collected by cleanup_tmp_directories). A failure at 6 leaves a complete step
 * that may or may not survive a power loss; it is reported as an error.
 *
 * Read side: every file is read through the manifest (known size, CRC32C), so a flipped
 * byte, a truncation, an extension or a missing file is reported with the file's path
 * relative to the root. A missing chunk is always an error, never a fill value.
 */
#include "ckpt_internal.h"

#include <errno.h>
#include <jansson.h>
#include <unistd.h>
#include <zlib.h>

void sp__save_meta_free(sp__save_meta *s)
{
    for (size_t i = 0; i < s->n_metrics; i++) free(s->metrics[i].name);
    free(s->metrics);
    free(s->custom_json);
    memset(s, 0, sizeof *s);
}

sp_status sp__save_meta_copy(const sp_ckpt_save_args *a, sp__save_meta *meta, sp_error *err)
{
    memset(meta, 0, sizeof *meta);
    if (a->n_metrics) {
        SP_RETURN_IF(a->metrics == NULL || a->n_metrics > 4096, err, SP_ERR_INVALID, "bad metrics");
        meta->metrics = (sp__metric *)calloc(a->n_metrics, sizeof *meta->metrics);
        SP_RETURN_IF(meta->metrics == NULL, err, SP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < a->n_metrics; i++) {
            SP_RETURN_IF(a->metrics[i].name == NULL || a->metrics[i].name[0] == 0, err, SP_ERR_INVALID,
                         "metric %zu has no name", i);
            SP_RETURN_IF(a->metrics[i].value != a->metrics[i].value || a->metrics[i].value - a->metrics[i].value != 0.0,
                         err, SP_ERR_INVALID, "metric '%s' is not finite", a->metrics[i].name);
            meta->metrics[i].value = a->metrics[i].value;
            SP_RETURN_IF((meta->metrics[i].name = strdup(a->metrics[i].name)) == NULL, err, SP_ERR_NOMEM,
                         "out of memory");
            meta->n_metrics++;
        }
    }
    if (a->custom_metadata_json) {
        sp_tree *probe = NULL;
        SP_RETURN_IF(sp_tree_create(&probe) != SP_OK, err, SP_ERR_NOMEM, "out of memory");
        sp_status const s = sp_tree_add_json(probe, "custom", a->custom_metadata_json, err);
        sp_tree_free(probe);
        SP_TRY(s);
        SP_RETURN_IF(a->custom_metadata_json[strspn(a->custom_metadata_json, " \t\r\n")] != '{', err,
                     SP_ERR_INVALID, "custom_metadata_json is not a JSON object");
        SP_RETURN_IF((meta->custom_json = strdup(a->custom_metadata_json)) == NULL, err, SP_ERR_NOMEM,
                     "out of memory");
    }
    return SP_OK;
}

/* ---- write side ---- */

typedef struct writer {
    const sp__step_ctx *c;
    char tmp[SP_CKPT_PATH_MAX];
    const char *name;
    sp__manifest mf;
    char **dirs; /* created sub-directories, relative */
    size_t n_dirs, cap_dirs;
    unsigned char *scratch;
    size_t scratch_cap;
} writer;

static sp_status path_join(char *buf, size_t cap, const char *a, const char *b, sp_error *err)
{
    if ((size_t)snprintf(buf, cap, "%s/%s", a, b) >= cap)
        return sp_error_set(err, SP_ERR_RANGE, "path too long: %s/%s", a, b);
    return SP_OK;
}

static sp_status check_cancel(const writer *w, sp_error *err)
{
    if (w->c->cancel && atomic_load(w->c->cancel))
        return sp_error_set(err, SP_ERR_CANCELED, "save of %s canceled", w->name);
    return SP_OK;
}

/* Creates rel (a directory inside the temporary one) and its parents, once each. */
static sp_status make_dirs(writer *w, const char *rel, sp_error *err)
{
    char part[SP_CKPT_LEAF_PATH_MAX + 8];
    size_t const len = strlen(rel);
    for (size_t i = 0; i <= len; i++) {
        if (rel[i] != '/' && rel[i] != 0) continue;
        memcpy(part, rel, i);
        part[i] = 0;
        int known = 0;
        for (size_t d = 0; d < w->n_dirs && !known; d++) known = strcmp(w->dirs[d], part) == 0;
        if (known) continue;
        char full[SP_CKPT_PATH_MAX];
        SP_TRY(path_join(full, sizeof full, w->tmp, part, err));
        int const e = w->c->fs->mkdir(w->c->fs->ctx, full);
        if (e < 0) return sp_error_set(err, sp__fs_errno_status(e), "mkdir %s/%s: %s", w->name, part,
                                       strerror(-e));
        if (w->n_dirs == w->cap_dirs) {
            size_t const cap = w->cap_dirs ? 2 * w->cap_dirs : 16;
            char **const d = (char **)realloc(w->dirs, cap * sizeof *d);
            if (d == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
            w->dirs = d;
            w->cap_dirs = cap;
        }
        if ((w->dirs[w->n_dirs] = strdup(part)) == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        w->n_dirs++;
    }
    return SP_OK;
}

/* Writes one file of the step and records it in the manifest. */
static sp_status put_file(writer *w, const char *rel, const void *data, size_t n, sp_error *err)
{
    SP_TRY(check_cancel(w, err));
    char full[SP_CKPT_PATH_MAX], shown[SP_CKPT_PATH_MAX];
    SP_TRY(path_join(full, sizeof full, w->tmp, rel, err));
    snprintf(shown, sizeof shown, "%s/%s", w->name, rel);
    uint32_t crc = 0;
    SP_TRY(sp__fs_write_file_crc(w->c->fs, full, data, n, w->c->durable, &crc, shown, err));
    if (sp__manifest_add(&w->mf, rel, n, crc) != SP_OK)
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    return SP_OK;
}

static sp_status scratch(writer *w, size_t n, sp_error *err)
{
    if (n <= w->scratch_cap) return SP_OK;
    free(w->scratch);
    w->scratch = (unsigned char *)malloc(n);
    w->scratch_cap = w->scratch ? n : 0;
    return w->scratch ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory (%zu bytes)", n);
}

static sp_status put_chunk(writer *w, const sp__zarray *z, const sp__leaf *l, uint64_t i, const char *rel,
                           sp_error *err)
{
    size_t const full = (size_t)sp__zarr_chunk_bytes(z);
    size_t const off = z->ndim ? (size_t)(i * sp__zarr_row_bytes(z) * z->chunks[0]) : 0;
    size_t const have = l->nbytes - off < full ? l->nbytes - off : full;
    const unsigned char *src = (const unsigned char *)l->data + off;
    if (have < full) { /* edge chunk: zarr v2 stores it full-size */
        SP_TRY(scratch(w, full, err));
        memcpy(w->scratch, src, have);
        memset(w->scratch + have, 0, full - have);
        src = w->scratch;
    }
    char key[SP_CKPT_PATH_MAX], crel[SP_CKPT_PATH_MAX];
    sp__zarr_chunk_key(z, i, key, sizeof key);
    SP_TRY(path_join(crel, sizeof crel, rel, key, err));
    if (z->level < 0) return put_file(w, crel, src, full, err);
    uLongf clen = compressBound((uLong)full);
    unsigned char *const cbuf = (unsigned char *)malloc(clen);
    if (cbuf == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    sp_status s = SP_OK;
    if (compress2(cbuf, &clen, src, (uLong)full, z->level) != Z_OK)
        s = sp_error_set(err, SP_ERR_INTERNAL, "zlib failed on %s", crel);
    if (s == SP_OK) s = put_file(w, crel, cbuf, clen, err);
    free(cbuf);
    return s;
}

static sp_status put_array(writer *w, const sp__leaf *l, sp_error *err)
{
    sp__zarray z;
    sp__zarr_plan(&z, l->dtype, l->ndim, l->shape, w->c->chunk_bytes, w->c->level);
    SP_TRY(make_dirs(w, l->path, err));
    char *const meta = sp__zarray_dump(&z);
    if (meta == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    char rel[SP_CKPT_PATH_MAX];
    sp_status s = path_join(rel, sizeof rel, l->path, ".zarray", err);
    if (s == SP_OK) s = put_file(w, rel, meta, strlen(meta), err);
    free(meta);
    uint64_t const n = sp__zarr_nchunks(&z);
    for (uint64_t i = 0; s == SP_OK && i < n; i++) s = put_chunk(w, &z, l, i, l->path, err);
    return s;
}

static sp_status put_json_leaf(writer *w, const sp__leaf *l, sp_error *err)
{
    char rel[SP_CKPT_PATH_MAX];
    snprintf(rel, sizeof rel, "%s.json", l->path);
    const char *const slash = strrchr(l->path, '/');
    if (slash) {
        char parent[SP_CKPT_LEAF_PATH_MAX + 1];
        memcpy(parent, l->path, (size_t)(slash - l->path));
        parent[slash - l->path] = 0;
        SP_TRY(make_dirs(w, parent, err));
    }
    return put_file(w, rel, l->text, l->nbytes, err);
}

static sp_status collect_items(sp__manifest *mf, const sp_tree *t, sp_error *err)
{
    mf->items = (char **)calloc(t->n ? t->n : 1, sizeof *mf->items);
    SP_RETURN_IF(mf->items == NULL, err, SP_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++) {
        const char *const p = t->v[i].path;
        size_t const len = strcspn(p, "/");
        /* Paths sharing a first component are contiguous in sorted order. */
        if (mf->n_items && strlen(mf->items[mf->n_items - 1]) == len &&
            memcmp(mf->items[mf->n_items - 1], p, len) == 0)
            continue;
        mf->items[mf->n_items] = strndup(p, len);
        SP_RETURN_IF(mf->items[mf->n_items] == NULL, err, SP_ERR_NOMEM, "out of memory");
        mf->n_items++;
    }
    return SP_OK;
}

static sp_status put_metadata(writer *w, const sp_tree *t, const sp__save_meta *meta, sp_error *err)
{
    size_t len = 0;
    char *const tm = sp__treemeta_dump(t, &len);
    SP_RETURN_IF(tm == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status s = put_file(w, SP_CKPT_TREE_META, tm, len, err);
    free(tm);
    SP_TRY(s);
    SP_TRY(collect_items(&w->mf, t, err));
    if (meta && meta->n_metrics) {
        w->mf.metrics = (sp__metric *)calloc(meta->n_metrics, sizeof *w->mf.metrics);
        SP_RETURN_IF(w->mf.metrics == NULL, err, SP_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < meta->n_metrics; i++) {
            w->mf.metrics[i].value = meta->metrics[i].value;
            w->mf.metrics[i].name = strdup(meta->metrics[i].name);
            SP_RETURN_IF(w->mf.metrics[i].name == NULL, err, SP_ERR_NOMEM, "out of memory");
            w->mf.n_metrics++;
        }
    }
    w->mf.commit_ns = w->c->fs->now_ns(w->c->fs->ctx);
    char *const sm = sp__stepmeta_dump(&w->mf, meta ? meta->custom_json : NULL, &len);
    SP_RETURN_IF(sm == NULL, err, SP_ERR_NOMEM, "out of memory");
    s = put_file(w, SP_CKPT_STEP_META, sm, len, err);
    free(sm);
    return s;
}

static sp_status put_manifest_and_sync(writer *w, sp_error *err)
{
    size_t len = 0;
    char *const text = sp__manifest_dump(&w->mf, &len);
    SP_RETURN_IF(text == NULL, err, SP_ERR_NOMEM, "out of memory");
    SP_TRY(check_cancel(w, err));
    char full[SP_CKPT_PATH_MAX], shown[SP_CKPT_PATH_MAX];
    sp_status s = path_join(full, sizeof full, w->tmp, SP_CKPT_MANIFEST, err);
    snprintf(shown, sizeof shown, "%s/%s", w->name, SP_CKPT_MANIFEST);
    if (s == SP_OK) s = sp__fs_write_file(w->c->fs, full, text, len, w->c->durable, shown, err);
    free(text);
    for (size_t i = w->n_dirs; s == SP_OK && w->c->durable && i-- > 0;) {
        s = path_join(full, sizeof full, w->tmp, w->dirs[i], err);
        snprintf(shown, sizeof shown, "%s/%s", w->name, w->dirs[i]);
        if (s == SP_OK) s = sp__fs_fsync_dir(w->c->fs, full, shown, err);
    }
    if (s == SP_OK && w->c->durable) s = sp__fs_fsync_dir(w->c->fs, w->tmp, w->tmp, err);
    return s;
}

static sp_status write_all(writer *w, const sp_tree *t, const sp__save_meta *meta, sp_error *err)
{
    const sp_fs *const fs = w->c->fs;
    int const e = fs->mkdir(fs->ctx, w->tmp);
    if (e < 0) return sp_error_set(err, sp__fs_errno_status(e), "mkdir %s: %s", w->tmp, strerror(-e));
    for (size_t i = 0; i < t->n; i++) {
        const sp__leaf *const l = &t->v[i];
        if (l->kind == SP_LEAF_ARRAY) SP_TRY(put_array(w, l, err));
        else if (l->kind == SP_LEAF_JSON) SP_TRY(put_json_leaf(w, l, err));
    }
    SP_TRY(put_metadata(w, t, meta, err));
    return put_manifest_and_sync(w, err);
}

static sp_status publish(writer *w, sp_error *err)
{
    const sp_fs *const fs = w->c->fs;
    char final_path[SP_CKPT_PATH_MAX];
    SP_TRY(path_join(final_path, sizeof final_path, w->c->root, w->name, err));
    if (w->c->publish) return w->c->publish(w->c->publish_ctx, w->tmp, final_path, err);
    /* The caller holds the root lock and checked the name is free; rename(2) would
     * silently replace an empty directory, so check again right before. */
    int is_dir = 0;
    if (fs->stat(fs->ctx, final_path, NULL, &is_dir) == 0)
        return sp_error_set(err, SP_ERR_EXISTS, "%s already exists", w->name);
    int const e = fs->rename(fs->ctx, w->tmp, final_path);
    if (e < 0) return sp_error_set(err, sp__fs_errno_status(e), "rename %s -> %s: %s", w->tmp, w->name,
                                   strerror(-e));
    return SP_OK;
}

sp_status sp__step_write(const sp__step_ctx *c, const char *name, int64_t step, const sp_tree *t,
                         const sp__save_meta *meta, sp__manifest *mf_out, int *published,
                         sp_error *err)
{
    *published = 0;
    writer w;
    memset(&w, 0, sizeof w);
    w.c = c;
    w.name = name;
    w.mf.step = step;
    w.mf.init_ns = c->fs->now_ns(c->fs->ctx);
    if ((size_t)snprintf(w.tmp, sizeof w.tmp, "%s/%s" SP_CKPT_TMP_TAG "%ld-%08llx", c->root, name,
                         (long)getpid(), (unsigned long long)(c->nonce & 0xffffffffu)) >= sizeof w.tmp)
        return sp_error_set(err, SP_ERR_RANGE, "root path too long");
    sp_status s = write_all(&w, t, meta, err);
    if (s == SP_OK) s = publish(&w, err);
    if (s == SP_OK) *published = 1;
    if (s != SP_OK) {
        sp__fs_rm_rf(c->fs, w.tmp); /* best effort: a leftover is never listed */
    } else if (c->durable) {
        s = sp__fs_fsync_dir(c->fs, c->root, c->root, err);
        if (s != SP_OK) sp_error_prefix(err, "step %s was renamed into place but may not be durable: ", name);
    }
    for (size_t i = 0; i < w.n_dirs; i++) free(w.dirs[i]);
    free(w.dirs);
    free(w.scratch);
    if (mf_out) *mf_out = w.mf;
    else sp__manifest_free(&w.mf);
    return s;
}

/* ---- read side ---- */

sp_status sp__step_manifest(const sp_fs *fs, const char *root, const char *name, int64_t step,
                            sp__manifest *mf, sp_error *err)
{
    memset(mf, 0, sizeof *mf);
    char full[SP_CKPT_PATH_MAX], shown[SP_CKPT_PATH_MAX];
    snprintf(shown, sizeof shown, "%s/%s", name, SP_CKPT_MANIFEST);
    SP_TRY(path_join(full, sizeof full, root, shown, err));
    unsigned char *buf = NULL;
    size_t n = 0;
    sp_status s = sp__fs_read_file(fs, full, SP_CKPT_MAX_META_BYTES, &buf, &n, shown, err);
    if (s == SP_ERR_NOTFOUND) s = SP_ERR_CORRUPT; /* a committed step always has one */
    if (s != SP_OK) return s;
    s = sp__manifest_parse((const char *)buf, n, mf, err);
    free(buf);
    if (s != SP_OK) return sp_error_prefix(err, "%s: ", shown);
    if (step >= 0 && mf->step != step) {
        sp__manifest_free(mf);
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: records step %lld, directory is step %lld", shown,
                            (long long)mf->step, (long long)step);
    }
    return SP_OK;
}

static sp_status verify_bytes(const sp__mfile *f, uint32_t crc, size_t n, int longer, const char *shown,
                              sp_error *err)
{
    if (n != f->size || longer)
        return sp_error_set(err, SP_ERR_CORRUPT, "%s: size %s%zu, manifest says %llu (%s)", shown,
                            longer ? "> " : "", n, (unsigned long long)f->size,
                            longer || n > f->size ? "extended" : "truncated");
    if (crc != f->crc)
        return sp_error_set(err, SP_ERR_CHECKSUM, "%s: crc32c %08x, manifest says %08x", shown, crc, f->crc);
    return SP_OK;
}

/* Reads rel into dst (exactly its manifest size, which the caller checked against cap). */
static sp_status read_verified_into(const sp_fs *fs, const char *root, const char *name,
                                    sp__manifest *mf, const char *rel, void *dst, size_t cap,
                                    sp_error *err)
{
    char full[SP_CKPT_PATH_MAX], shown[SP_CKPT_PATH_MAX];
    snprintf(shown, sizeof shown, "%s/%s", name, rel);
    SP_TRY(path_join(full, sizeof full, root, shown, err));
    sp__mfile *const f = sp__manifest_find(mf, rel);
    SP_RETURN_IF(f == NULL, err, SP_ERR_CORRUPT, "%s: not listed in the manifest", shown);
    SP_RETURN_IF(f->size > cap, err, SP_ERR_CORRUPT, "%s: manifest size %llu exceeds %zu", shown,
                 (unsigned long long)f->size, cap);
    f->used = 1;
    size_t n = 0;
    int longer = 0;
    uint32_t crc = 0;
    sp_status const s = sp__fs_read_into_crc(fs, full, dst, (size_t)f->size, &n, &longer, &crc, shown, err);
    if (s == SP_ERR_NOTFOUND) return sp_error_set(err, SP_ERR_CORRUPT, "%s: file is missing", shown);
    SP_TRY(s);
    return verify_bytes(f, crc, n, longer, shown, err);
}

sp_status sp__step_read_verified(const sp_fs *fs, const char *root, const char *name,
                                 sp__manifest *mf, const char *rel, unsigned char **buf, size_t *n,
                                 sp_error *err)
{
    *buf = NULL;
    sp__mfile *const f = sp__manifest_find(mf, rel);
    SP_RETURN_IF(f == NULL, err, SP_ERR_CORRUPT, "%s/%s: not listed in the manifest", name, rel);
    SP_RETURN_IF(f->size > SP_CKPT_MAX_ARRAY_BYTES, err, SP_ERR_CORRUPT, "%s/%s: size too large", name, rel);
    unsigned char *const b = (unsigned char *)malloc((size_t)f->size + 1);
    SP_RETURN_IF(b == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status const s = read_verified_into(fs, root, name, mf, rel, b, (size_t)f->size, err);
    if (s != SP_OK) {
        free(b);
        return s;
    }
    b[f->size] = 0;
    *buf = b;
    *n = (size_t)f->size;
    return SP_OK;
}

typedef struct reader {
    const sp_fs *fs;
    const char *root;
    const char *name;
    sp__manifest mf;
} reader;

static sp_status read_zarray(reader *r, const sp__leaf *l, sp__zarray *z, sp_error *err)
{
    char rel[SP_CKPT_PATH_MAX];
    snprintf(rel, sizeof rel, "%s/.zarray", l->path);
    unsigned char *buf = NULL;
    size_t n = 0;
    SP_TRY(sp__step_read_verified(r->fs, r->root, r->name, &r->mf, rel, &buf, &n, err));
    sp_status s = sp__zarray_parse((const char *)buf, n, z, err);
    free(buf);
    if (s != SP_OK) return sp_error_prefix(err, "%s/%s: ", r->name, l->path);
    int same = z->dtype == l->dtype && z->ndim == l->ndim;
    for (size_t d = 0; same && d < l->ndim; d++) same = z->shape[d] == l->shape[d];
    SP_RETURN_IF(!same, err, SP_ERR_CORRUPT, "%s/%s/.zarray: dtype or shape differs from %s", r->name,
                 l->path, SP_CKPT_TREE_META);
    return SP_OK;
}

static sp_status read_chunk(reader *r, const sp__zarray *z, const char *rel, unsigned char *dst,
                            size_t full, unsigned char *tmp, sp_error *err)
{
    if (z->level < 0) return read_verified_into(r->fs, r->root, r->name, &r->mf, rel, dst, full, err);
    unsigned char *buf = NULL;
    size_t n = 0;
    SP_TRY(sp__step_read_verified(r->fs, r->root, r->name, &r->mf, rel, &buf, &n, err));
    uLongf dlen = (uLongf)full;
    int const zr = uncompress(tmp ? tmp : dst, &dlen, buf, (uLong)n);
    free(buf);
    SP_RETURN_IF(zr != Z_OK || dlen != full, err, SP_ERR_CORRUPT, "%s/%s: zlib data does not decode to %zu bytes",
                 r->name, rel, full);
    if (tmp) memcpy(dst, tmp, full);
    return SP_OK;
}

static sp_status read_array_data(reader *r, sp__leaf *l, const sp__zarray *z, sp_error *err)
{
    l->data = malloc(l->nbytes ? l->nbytes : 1);
    SP_RETURN_IF(l->data == NULL, err, SP_ERR_NOMEM, "%s: out of memory (%zu bytes)", l->path, l->nbytes);
    size_t const full = (size_t)sp__zarr_chunk_bytes(z);
    uint64_t const n = sp__zarr_nchunks(z);
    unsigned char *edge = NULL;
    sp_status s = SP_OK;
    for (uint64_t i = 0; s == SP_OK && i < n; i++) {
        size_t const off = z->ndim ? (size_t)(i * full) : 0;
        size_t const have = l->nbytes - off < full ? l->nbytes - off : full;
        char key[64], rel[SP_CKPT_PATH_MAX];
        sp__zarr_chunk_key(z, i, key, sizeof key);
        snprintf(rel, sizeof rel, "%s/%s", l->path, key);
        unsigned char *const dst = (unsigned char *)l->data + off;
        if (have == full) {
            s = read_chunk(r, z, rel, dst, full, NULL, err);
            continue;
        }
        if (edge == NULL && (edge = (unsigned char *)malloc(full)) == NULL)
            s = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        if (s == SP_OK) s = read_chunk(r, z, rel, edge, full, NULL, err);
        if (s == SP_OK) memcpy(dst, edge, have);
    }
    free(edge);
    return s;
}

static sp_status read_json_leaf(reader *r, sp__leaf *l, sp_error *err)
{
    char rel[SP_CKPT_PATH_MAX];
    snprintf(rel, sizeof rel, "%s.json", l->path);
    unsigned char *buf = NULL;
    size_t n = 0;
    SP_TRY(sp__step_read_verified(r->fs, r->root, r->name, &r->mf, rel, &buf, &n, err));
    json_error_t je;
    json_t *const j = json_loadb((const char *)buf, n, JSON_DECODE_ANY, &je);
    if (j == NULL || strlen((const char *)buf) != n) {
        json_decref(j);
        free(buf);
        return sp_error_set(err, SP_ERR_CORRUPT, "%s/%s: invalid JSON", r->name, rel);
    }
    json_decref(j);
    l->text = (char *)buf;
    l->nbytes = n;
    return SP_OK;
}

static void shape_str(const sp__leaf *l, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "%s[", sp_dtype_numpy_name(l->dtype));
    for (size_t d = 0; d < l->ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ",%llu" : "%llu", (unsigned long long)l->shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static sp_status check_target(const sp_tree *meta, const sp_tree *target, int partial, int placeholders,
                              int64_t step, sp_error *err)
{
    for (size_t i = 0; i < target->n; i++) {
        const sp__leaf *const t = &target->v[i];
        const sp__leaf *const m = sp__tree_get(meta, t->path);
        SP_RETURN_IF(m == NULL, err, SP_ERR_MISMATCH, "leaf '%s' is in the target but not in step %lld",
                     t->path, (long long)step);
        SP_RETURN_IF(m->kind != t->kind, err, SP_ERR_MISMATCH, "leaf '%s': kind differs from the target",
                     t->path);
        if (t->kind != SP_LEAF_ARRAY) continue;
        int const any_shape = placeholders && t->ndim == 0;
        int same = m->dtype == t->dtype && (any_shape || m->ndim == t->ndim);
        for (size_t d = 0; same && !any_shape && d < t->ndim; d++) same = m->shape[d] == t->shape[d];
        if (!same) {
            char a[256], b[256];
            shape_str(m, a, sizeof a);
            shape_str(t, b, sizeof b);
            return sp_error_set(err, SP_ERR_MISMATCH, "leaf '%s': step %lld holds %s, target wants %s",
                                t->path, (long long)step, a, b);
        }
    }
    for (size_t i = 0; !partial && i < meta->n; i++)
        SP_RETURN_IF(sp__tree_get(target, meta->v[i].path) == NULL, err, SP_ERR_MISMATCH,
                     "leaf '%s' is in step %lld but not in the target (restore with partial)",
                     meta->v[i].path, (long long)step);
    return SP_OK;
}

static sp_status read_meta_files(reader *r, int64_t step, sp_tree **meta, sp_error *err)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    SP_TRY(sp__step_read_verified(r->fs, r->root, r->name, &r->mf, SP_CKPT_STEP_META, &buf, &n, err));
    sp_status s = sp__stepmeta_parse((const char *)buf, n, step, err);
    free(buf);
    if (s != SP_OK) return sp_error_prefix(err, "%s/%s: ", r->name, SP_CKPT_STEP_META);
    SP_TRY(sp__step_read_verified(r->fs, r->root, r->name, &r->mf, SP_CKPT_TREE_META, &buf, &n, err));
    s = sp__treemeta_parse((const char *)buf, n, meta, err);
    free(buf);
    if (s != SP_OK) return sp_error_prefix(err, "%s/%s: ", r->name, SP_CKPT_TREE_META);
    return SP_OK;
}

static sp_status read_leaves(reader *r, sp_tree *meta, const sp_tree *target, int metadata_only,
                             sp_tree **out, sp_error *err)
{
    sp_tree *res = NULL;
    SP_RETURN_IF(sp_tree_create(&res) != SP_OK, err, SP_ERR_NOMEM, "out of memory");
    sp_status s = SP_OK;
    for (size_t i = 0; s == SP_OK && i < meta->n; i++) {
        sp__leaf *const l = &meta->v[i];
        if (target && sp__tree_get(target, l->path) == NULL) continue; /* partial restore */
        sp__zarray z;
        if (l->kind == SP_LEAF_ARRAY) {
            s = read_zarray(r, l, &z, err);
            if (s == SP_OK && !metadata_only) s = read_array_data(r, l, &z, err);
        } else if (l->kind == SP_LEAF_JSON && !metadata_only) {
            s = read_json_leaf(r, l, err);
        }
        if (s != SP_OK) break;
        sp__leaf moved = *l;
        l->path = NULL; /* moved into res */
        l->data = NULL;
        l->text = NULL;
        s = sp__tree_add_owned(res, &moved, err);
        if (s != SP_OK) {
            free(moved.path);
            free(moved.data);
            free(moved.text);
        }
    }
    if (s != SP_OK) {
        sp_tree_free(res);
        return s;
    }
    *out = res;
    return SP_OK;
}

/* Files listed in the manifest that restore did not read are still checked. */
static sp_status verify_unused(reader *r, sp_error *err)
{
    for (size_t i = 0; i < r->mf.n_files; i++) {
        if (r->mf.files[i].used) continue;
        unsigned char *buf = NULL;
        size_t n = 0;
        SP_TRY(sp__step_read_verified(r->fs, r->root, r->name, &r->mf, r->mf.files[i].path, &buf, &n, err));
        free(buf);
    }
    return SP_OK;
}

sp_status sp__step_read(const sp_fs *fs, const char *root, const char *name, int64_t step,
                        const sp_tree *target, const sp_ckpt_restore_args *a, sp_tree **out,
                        int64_t *step_out, sp_error *err)
{
    *out = NULL;
    reader r = {fs, root, name, {0}};
    SP_TRY(sp__step_manifest(fs, root, name, step, &r.mf, err));
    step = r.mf.step;
    if (step_out) *step_out = step;
    sp_tree *meta = NULL;
    sp_status s = read_meta_files(&r, step, &meta, err);
    if (s == SP_OK && target) s = check_target(meta, target, a->partial, a->scalar_placeholders, step, err);
    if (s == SP_OK) s = read_leaves(&r, meta, target, a->metadata_only, out, err);
    if (s == SP_OK && !a->metadata_only && !(target && a->partial)) s = verify_unused(&r, err);
    if (s != SP_OK) {
        sp_tree_free(*out);
        *out = NULL;
    }
    sp_tree_free(meta);
    sp__manifest_free(&r.mf);
    return s;
}

/* ---- verify ---- */

typedef struct verifier {
    reader r;
    sp_ckpt_damage_fn cb;
    void *cb_ctx;
    sp_status first;
    sp_error first_err;
} verifier;

static void damage(verifier *v, const sp_error *e)
{
    if (v->first == SP_OK) {
        v->first = e->status;
        v->first_err = *e;
    }
    if (v->cb) v->cb(v->cb_ctx, e->status, e->message);
}

/* Structure: every file the tree metadata implies must be in the manifest. */
static void verify_structure(verifier *v, const sp_tree *meta)
{
    sp_error e;
    for (size_t i = 0; i < meta->n; i++) {
        const sp__leaf *const l = &meta->v[i];
        char rel[SP_CKPT_PATH_MAX];
        if (l->kind == SP_LEAF_JSON) {
            snprintf(rel, sizeof rel, "%s.json", l->path);
            if (!sp__manifest_find(&v->r.mf, rel)) {
                sp_error_set(&e, SP_ERR_CORRUPT, "%s/%s: not listed in the manifest", v->r.name, rel);
                damage(v, &e);
            }
        }
        if (l->kind != SP_LEAF_ARRAY) continue;
        sp__zarray z;
        if (read_zarray(&v->r, l, &z, &e) != SP_OK) {
            if (e.status != SP_ERR_CHECKSUM && !strstr(e.message, "missing")) damage(v, &e);
            continue; /* a damaged .zarray file was already reported by the byte check */
        }
        for (uint64_t c = 0; c < sp__zarr_nchunks(&z); c++) {
            char key[64];
            sp__zarr_chunk_key(&z, c, key, sizeof key);
            snprintf(rel, sizeof rel, "%s/%s", l->path, key);
            if (!sp__manifest_find(&v->r.mf, rel)) {
                sp_error_set(&e, SP_ERR_CORRUPT, "%s/%s: chunk not listed in the manifest", v->r.name, rel);
                damage(v, &e);
            }
        }
    }
}

sp_status sp__step_verify(const sp_fs *fs, const char *root, const char *name, int64_t step,
                          sp_ckpt_damage_fn cb, void *cb_ctx, sp_error *err)
{
    verifier v;
    memset(&v, 0, sizeof v);
    v.r.fs = fs;
    v.r.root = root;
    v.r.name = name;
    v.cb = cb;
    v.cb_ctx = cb_ctx;
    sp_error e;
    if (sp__step_manifest(fs, root, name, step, &v.r.mf, &e) != SP_OK) {
        damage(&v, &e);
    } else {
        for (size_t i = 0; i < v.r.mf.n_files; i++) {
            unsigned char *buf = NULL;
            size_t n = 0;
            if (sp__step_read_verified(fs, root, name, &v.r.mf, v.r.mf.files[i].path, &buf, &n, &e) != SP_OK)
                damage(&v, &e);
            free(buf);
        }
        sp_tree *meta = NULL;
        int const meta_ok = v.first == SP_OK;
        if (meta_ok && read_meta_files(&v.r, step, &meta, &e) != SP_OK) damage(&v, &e);
        if (meta) verify_structure(&v, meta);
        sp_tree_free(meta);
    }
    sp__manifest_free(&v.r.mf);
    if (v.first != SP_OK && err) *err = v.first_err;
    return v.first;
}
