/* ckpt_manager.c: sp_ckpt_manager, Orbax CheckpointManager semantics on top of ckpt_step.c.
 *
 * State: the sorted list of committed steps (step, commit time, best metric, damaged flag)
 * is built from the root directory at open and reload (one _MANIFEST read per step) and is
 * changed only after a commit or a delete succeeded on disk, so it never names a step that
 * is not there. A step directory is any entry whose name matches the step format
 * ("[prefix_]step", docs/checkpoints.md) exactly; temporaries (".sp-tmp-"), tombstones
 * (".sp-del-") and quarantined steps (".sp-damaged-") never match.
 * A directory with a step's name but no _MANIFEST was never committed by us (the manifest
 * is written before the commit rename): it is foreign, never listed, never touched, and
 * reported by sp_ckpt_foreign_*. A step whose manifest is present but unreadable stays
 * listed as damaged: restore and verify name the damage, retention neither counts nor
 * deletes it, and sp_ckpt_quarantine moves it aside (renamed, never deleted).
 *
 * Retention (after each successful commit): keep = OR of {every keep_period-th step},
 * {oldest, then each step >= keep_time_interval after the last kept}, {latest max_to_keep,
 * or best max_to_keep by best_metric}, and ALWAYS the latest committed step (our rule;
 * Orbax can delete it). Deleting renames the step to a tombstone, then removes it.
 *
 * Locking: see struct sp_ckpt_manager (one mutex, never held across file-system calls).
 * The root lock is an flock on <root>/.lock held from open to close by writers only.
 */
#include "ckpt_internal.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

void sp_ckpt_options_init(sp_ckpt_options *o)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->max_to_keep = -1;
    o->best_mode = SP_CKPT_BEST_MAX;
    o->keep_checkpoints_without_metrics = 1;
    o->save_interval_steps = 1;
    o->create = 1;
    o->async_staging_cap = (size_t)1 << 30;
    o->async_timeout_ms = 1200000;
    o->compression_level = -1;
    o->chunk_bytes = (size_t)16 << 20;
    o->durable = 1;
}

void sp_ckpt_save_args_init(sp_ckpt_save_args *a)
{
    memset(a, 0, sizeof *a);
    a->struct_size = sizeof *a;
    a->timeout_ms = -1;
}

void sp_ckpt_restore_args_init(sp_ckpt_restore_args *a)
{
    memset(a, 0, sizeof *a);
    a->struct_size = sizeof *a;
}

sp_status sp_ckpt_options_from_flax(sp_ckpt_options *opt, int64_t keep, int64_t keep_every_n_steps,
                                    const char *prefix, char *prefix_buf, size_t prefix_buf_size,
                                    sp_error *err)
{
    opt->max_to_keep = keep;
    opt->keep_period = keep_every_n_steps > 0 ? keep_every_n_steps : 0;
    opt->step_prefix = NULL;
    if (prefix == NULL || prefix[0] == 0) return SP_OK;
    size_t const n = strlen(prefix);
    SP_RETURN_IF(prefix[n - 1] != '_', err, SP_ERR_UNSUPPORTED,
                 "Flax prefix '%s' does not end in '_' (step names are always prefix_step)", prefix);
    SP_RETURN_IF(n - 1 >= prefix_buf_size || n == 1, err, SP_ERR_INVALID, "Flax prefix '%s' too long or empty",
                 prefix);
    memcpy(prefix_buf, prefix, n - 1);
    prefix_buf[n - 1] = 0;
    opt->step_prefix = prefix_buf;
    return SP_OK;
}

/* ---- naming ---- */

void sp__mgr_step_name(const sp_ckpt_manager *m, int64_t step, char *buf, size_t cap)
{
    int const w = m->opt.step_format_fixed_length;
    if (m->prefix) snprintf(buf, cap, "%s_%0*lld", m->prefix, w, (long long)step);
    else snprintf(buf, cap, "%0*lld", w, (long long)step);
}

int sp__ckpt_parse_step_name(const char *name, const char *prefix, int fixed_length, int64_t *step)
{
    if (prefix && prefix[0]) {
        size_t const pl = strlen(prefix);
        if (strncmp(name, prefix, pl) != 0 || name[pl] != '_') return 0;
        name += pl + 1;
    }
    size_t const n = strlen(name);
    if (n == 0 || n > 18) return 0;
    for (size_t i = 0; i < n; i++)
        if (name[i] < '0' || name[i] > '9') return 0;
    size_t const w = fixed_length > 0 ? (size_t)fixed_length : 1;
    /* Unpadded: 0 | [1-9]\d*.  Padded to N: 0\d{N-1} | [1-9]\d{N-1}\d*. */
    if (name[0] == '0' && n != w) return 0;
    if (name[0] != '0' && n < w) return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (name[i] - '0');
    *step = v;
    return 1;
}

static int prefix_ok(const char *p)
{
    size_t const n = strlen(p);
    if (n == 0 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char const c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

static uint64_t next_nonce(sp_ckpt_manager *m)
{
    uint64_t x = atomic_fetch_add(&m->nonce, 0x9E3779B97F4A7C15ull);
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

/* ---- listing ---- */

typedef struct list_ctx {
    sp_ckpt_manager *m;
    sp__step_rec *recs;
    size_t n, cap;
    int nomem;
} list_ctx;

static int list_entry(void *ctx, const char *name, int is_dir)
{
    list_ctx *const l = (list_ctx *)ctx;
    int64_t step = 0;
    if (!is_dir || !sp__ckpt_parse_step_name(name, l->m->prefix, l->m->opt.step_format_fixed_length, &step))
        return 0;
    if (l->n == l->cap) {
        size_t const cap = l->cap ? l->cap * 2 : 64;
        sp__step_rec *const r = (sp__step_rec *)realloc(l->recs, cap * sizeof *r);
        if (r == NULL) {
            l->nomem = 1;
            return 1;
        }
        l->recs = r;
        l->cap = cap;
    }
    memset(&l->recs[l->n], 0, sizeof l->recs[0]);
    l->recs[l->n++].step = step;
    return 0;
}

static int cmp_rec(const void *a, const void *b)
{
    int64_t const x = ((const sp__step_rec *)a)->step, y = ((const sp__step_rec *)b)->step;
    return (x > y) - (x < y);
}

/* Reads a listed directory's manifest: 0 a committed step, 1 damaged (the manifest is
 * there but unreadable), 2 foreign (no manifest: never committed by us). */
static int fill_rec(sp_ckpt_manager *m, sp__step_rec *r)
{
    char name[96];
    sp__mgr_step_name(m, r->step, name, sizeof name);
    char path[SP_CKPT_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s/" SP_CKPT_MANIFEST, m->root, name);
    if (m->fs->stat(m->fs->ctx, path, NULL, NULL) == -ENOENT) return 2;
    sp__manifest mf;
    sp_error e;
    sp_status const st = sp__step_manifest(m->fs, m->root, name, r->step, &mf, &e);
    if (st != SP_OK) {
        r->damaged = 1;
        return 1;
    }
    r->commit_ns = mf.commit_ns;
    const sp__metric *const mt = sp__manifest_metric(&mf, m->best_metric);
    r->has_metric = mt != NULL;
    r->metric = mt ? mt->value : 0.0;
    sp__manifest_free(&mf);
    return 0;
}

static void free_foreign(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Moves the foreign directories out of l's list into a fresh name array. */
static sp_status split_foreign(sp_ckpt_manager *m, sp__step_rec *recs, size_t *n, char ***names, size_t *nf)
{
    *names = (char **)calloc(*n ? *n : 1, sizeof **names);
    if (*names == NULL) return SP_ERR_NOMEM;
    size_t k = 0;
    *nf = 0;
    for (size_t i = 0; i < *n; i++) {
        if (fill_rec(m, &recs[i]) != 2) {
            recs[k++] = recs[i];
            continue;
        }
        char name[96];
        sp__mgr_step_name(m, recs[i].step, name, sizeof name);
        if (((*names)[(*nf)++] = strdup(name)) == NULL) return SP_ERR_NOMEM;
    }
    *n = k;
    return SP_OK;
}

/* Builds the step list from disk and swaps it in. */
static sp_status list_steps(sp_ckpt_manager *m, sp_error *err)
{
    list_ctx l = {m, NULL, 0, 0, 0};
    int const e = m->fs->list(m->fs->ctx, m->root, list_entry, &l);
    if (l.nomem || e < 0) {
        free(l.recs);
        if (l.nomem) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        return sp_error_set(err, sp__fs_errno_status(e), "listing %s: %s", m->root, strerror(-e));
    }
    if (l.n) qsort(l.recs, l.n, sizeof *l.recs, cmp_rec);
    char **foreign = NULL;
    size_t nf = 0;
    if (split_foreign(m, l.recs, &l.n, &foreign, &nf) != SP_OK) {
        free(l.recs);
        free_foreign(foreign, nf);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&m->mu);
    free(m->steps);
    m->steps = l.recs;
    m->n_steps = l.n;
    m->cap_steps = l.cap;
    free_foreign(m->foreign, m->n_foreign);
    m->foreign = foreign;
    m->n_foreign = nf;
    pthread_mutex_unlock(&m->mu);
    return SP_OK;
}

/* ---- retention ---- */

typedef struct best_ent {
    double metric;
    int64_t step;
    size_t index;
} best_ent;

static int cmp_best(const void *a, const void *b)
{
    const best_ent *const x = (const best_ent *)a, *const y = (const best_ent *)b;
    if (x->metric != y->metric) return x->metric < y->metric ? -1 : 1;
    return (x->step > y->step) - (x->step < y->step);
}

static void keep_best(const sp_ckpt_options *opt, const sp__step_rec *recs, size_t n, unsigned char *keep)
{
    if (opt->max_to_keep < 0 || n <= (size_t)opt->max_to_keep) {
        memset(keep, 1, n);
        return;
    }
    best_ent *const v = (best_ent *)malloc(n * sizeof *v);
    if (v == NULL) { /* cannot rank: keep everything rather than delete wrongly */
        memset(keep, 1, n);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!recs[i].has_metric) {
            if (opt->keep_checkpoints_without_metrics) keep[i] = 1;
            continue;
        }
        /* Rank so that "better" sorts last in both modes; ties: the newer is better. */
        best_ent const e = {opt->best_mode == SP_CKPT_BEST_MIN ? -recs[i].metric : recs[i].metric,
                            recs[i].step, i};
        v[k++] = e;
    }
    qsort(v, k, sizeof *v, cmp_best);
    size_t const want = (size_t)opt->max_to_keep;
    for (size_t j = k > want ? k - want : 0; j < k; j++) keep[v[j].index] = 1;
    free(v);
}

void sp__ckpt_retention(const sp_ckpt_options *opt, int has_best, const sp__step_rec *recs, size_t n,
                        unsigned char *keep)
{
    memset(keep, 0, n);
    if (n == 0) return;
    if (opt->keep_period > 0)
        for (size_t i = 0; i < n; i++)
            if (recs[i].step % opt->keep_period == 0) keep[i] = 1;
    if (opt->keep_time_interval_ns > 0) {
        keep[0] = 1;
        int64_t last = recs[0].commit_ns;
        for (size_t i = 1; i < n; i++) {
            if (recs[i].commit_ns - last >= opt->keep_time_interval_ns) {
                keep[i] = 1;
                last = recs[i].commit_ns;
            }
        }
    }
    if (has_best) {
        keep_best(opt, recs, n, keep);
    } else if (opt->max_to_keep < 0) {
        memset(keep, 1, n);
    } else {
        size_t const want = (size_t)opt->max_to_keep;
        for (size_t i = n > want ? n - want : 0; i < n; i++) keep[i] = 1;
    }
    keep[n - 1] = 1; /* the latest committed step is the resume point: never deleted */
}

static void drop_rec(sp_ckpt_manager *m, int64_t step)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_steps; i++) {
        if (m->steps[i].step != step) continue;
        memmove(&m->steps[i], &m->steps[i + 1], (m->n_steps - i - 1) * sizeof *m->steps);
        m->n_steps--;
        break;
    }
    pthread_mutex_unlock(&m->mu);
}

/* Rename to a tombstone (atomic: the step vanishes whole), then remove the tombstone. */
static sp_status delete_step(sp_ckpt_manager *m, int64_t step, sp_error *err)
{
    char name[96], from[SP_CKPT_PATH_MAX], to[SP_CKPT_PATH_MAX];
    sp__mgr_step_name(m, step, name, sizeof name);
    snprintf(from, sizeof from, "%s/%s", m->root, name);
    snprintf(to, sizeof to, "%s/%s" SP_CKPT_DEL_TAG "%ld-%08llx", m->root, name, (long)getpid(),
             (unsigned long long)(next_nonce(m) & 0xffffffffu));
    int const e = m->fs->rename(m->fs->ctx, from, to);
    if (e < 0) return sp_error_set(err, sp__fs_errno_status(e), "deleting step %s: rename %s: %s", name, from,
                                   strerror(-e));
    drop_rec(m, step);
    int const r = sp__fs_rm_rf(m->fs, to);
    if (r < 0) return sp_error_set(err, SP_ERR_IO, "removing tombstone %s: %s (collected at next open)",
                                   to, strerror(-r));
    return SP_OK;
}

static sp_status apply_retention(sp_ckpt_manager *m, sp_error *err)
{
    pthread_mutex_lock(&m->mu);
    size_t const n = m->n_steps;
    sp__step_rec *const recs = (sp__step_rec *)malloc((n ? n : 1) * sizeof *recs);
    size_t k = 0;
    for (size_t i = 0; recs && i < n; i++)
        if (!m->steps[i].damaged) recs[k++] = m->steps[i];
    pthread_mutex_unlock(&m->mu);
    unsigned char *const keep = (unsigned char *)malloc(k ? k : 1);
    if (recs == NULL || keep == NULL) {
        free(recs);
        free(keep);
        return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    }
    sp__ckpt_retention(&m->opt, m->best_metric != NULL, recs, k, keep);
    sp_status s = SP_OK;
    for (size_t i = 0; i < k && s == SP_OK; i++)
        if (!keep[i]) s = delete_step(m, recs[i].step, err);
    free(recs);
    free(keep);
    return s;
}

static sp_status insert_rec(sp_ckpt_manager *m, const sp__step_rec *r, sp_error *err)
{
    sp_status s = SP_OK;
    pthread_mutex_lock(&m->mu);
    if (m->n_steps == m->cap_steps) {
        size_t const cap = m->cap_steps ? m->cap_steps * 2 : 64;
        sp__step_rec *const v = (sp__step_rec *)realloc(m->steps, cap * sizeof *v);
        if (v == NULL) s = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
        else {
            m->steps = v;
            m->cap_steps = cap;
        }
    }
    if (s == SP_OK) {
        size_t i = m->n_steps;
        while (i > 0 && m->steps[i - 1].step > r->step) i--;
        memmove(&m->steps[i + 1], &m->steps[i], (m->n_steps - i) * sizeof *m->steps);
        m->steps[i] = *r;
        m->n_steps++;
    }
    pthread_mutex_unlock(&m->mu);
    return s;
}

typedef struct stale_ctx {
    sp_ckpt_manager *m;
    const char *name;
} stale_ctx;

static int stale_entry(void *ctx, const char *entry, int is_dir)
{
    stale_ctx *const c = (stale_ctx *)ctx;
    size_t const n = strlen(c->name);
    if (is_dir && strncmp(entry, c->name, n) == 0 && strncmp(entry + n, SP_CKPT_TMP_TAG, strlen(SP_CKPT_TMP_TAG)) == 0) {
        char path[SP_CKPT_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", c->m->root, entry);
        sp__fs_rm_rf(c->m->fs, path);
    }
    return 0;
}

sp_status sp__mgr_commit(sp_ckpt_manager *m, int64_t step, const sp_tree *t, const sp__save_meta *meta,
                         sp_error *err)
{
    char name[96];
    sp__mgr_step_name(m, step, name, sizeof name);
    /* A temporary of this step left by a killed writer is garbage: we hold the root lock. */
    stale_ctx sc = {m, name};
    (void)m->fs->list(m->fs->ctx, m->root, stale_entry, &sc);
    sp__step_ctx const c = {m->fs,           m->root, m->opt.durable, m->opt.compression_level,
                            m->opt.chunk_bytes, &m->cancel, next_nonce(m), NULL, NULL};
    sp__manifest mf;
    int published = 0;
    sp_status s = sp__step_write(&c, name, step, t, meta, &mf, &published, err);
    sp__step_rec r;
    memset(&r, 0, sizeof r);
    r.step = step;
    r.commit_ns = mf.commit_ns;
    const sp__metric *const mt = sp__manifest_metric(&mf, m->best_metric);
    r.has_metric = mt != NULL;
    r.metric = mt ? mt->value : 0.0;
    sp__manifest_free(&mf);
    if (!published) return sp_error_prefix(err, "%s: saving step %lld: ", m->root, (long long)step);
    /* Published: the step is on disk and complete, so it is listed even when the final
     * directory fsync failed (that failure is still reported). */
    sp_status const ins = insert_rec(m, &r, s == SP_OK ? err : NULL);
    if (s != SP_OK) return s;
    SP_TRY(ins);
    s = apply_retention(m, err);
    if (s != SP_OK) sp_error_prefix(err, "step %lld committed; retention: ", (long long)step);
    return s;
}

/* ---- open / close ---- */

static sp_status copy_options(sp_ckpt_manager *m, const sp_ckpt_options *opt, sp_error *err)
{
    SP_RETURN_IF(opt->struct_size != sizeof *opt, err, SP_ERR_INVALID,
                 "sp_ckpt_options: struct_size %zu (call sp_ckpt_options_init)", opt->struct_size);
    m->opt = *opt;
    SP_RETURN_IF(opt->step_prefix && !prefix_ok(opt->step_prefix), err, SP_ERR_INVALID,
                 "step_prefix '%s': 1..64 of [A-Za-z0-9_.-]", opt->step_prefix);
    SP_RETURN_IF(opt->step_format_fixed_length < 0 || opt->step_format_fixed_length > 18, err,
                 SP_ERR_INVALID, "step_format_fixed_length %d not in 0..18", opt->step_format_fixed_length);
    SP_RETURN_IF(opt->save_interval_steps < 0 || opt->keep_period < 0 || opt->keep_time_interval_ns < 0,
                 err, SP_ERR_INVALID, "negative interval");
    SP_RETURN_IF(opt->compression_level > 9 || opt->compression_level < -1 || opt->compression_level == 0,
                 err, SP_ERR_INVALID, "compression_level %d: -1 or 1..9", opt->compression_level);
    SP_RETURN_IF(opt->chunk_bytes == 0, err, SP_ERR_INVALID, "chunk_bytes is 0");
    SP_RETURN_IF(opt->n_save_on_steps && opt->save_on_steps == NULL, err, SP_ERR_INVALID, "save_on_steps NULL");
    if (opt->step_prefix && (m->prefix = strdup(opt->step_prefix)) == NULL) return SP_ERR_NOMEM;
    if (opt->best_metric && (m->best_metric = strdup(opt->best_metric)) == NULL) return SP_ERR_NOMEM;
    if (opt->n_save_on_steps) {
        m->save_on_steps = (int64_t *)malloc(opt->n_save_on_steps * sizeof(int64_t));
        if (m->save_on_steps == NULL) return SP_ERR_NOMEM;
        memcpy(m->save_on_steps, opt->save_on_steps, opt->n_save_on_steps * sizeof(int64_t));
    }
    m->opt.step_prefix = m->prefix;
    m->opt.best_metric = m->best_metric;
    m->opt.save_on_steps = m->save_on_steps;
    if (m->opt.read_only) { /* Orbax forces these off in read-only mode */
        m->opt.create = 0;
        m->opt.cleanup_tmp_directories = 0;
        m->opt.enable_async = 0;
    }
    return SP_OK;
}

static sp_status make_root(sp_ckpt_manager *m, sp_error *err)
{
    int const e = m->fs->stat(m->fs->ctx, m->root, NULL, NULL);
    SP_RETURN_IF(e != 0 && e != -ENOENT, err, sp__fs_errno_status(e), "%s: %s", m->root, strerror(-e));
    SP_RETURN_IF(e == -ENOENT && !m->opt.create, err, SP_ERR_NOTFOUND, "checkpoint root %s does not exist", m->root);
    /* An existing directory (or a link to one) is accepted; missing ones are created. */
    return sp__fs_mkdirs(m->fs, m->root, err);
}

static sp_status take_lock(sp_ckpt_manager *m, sp_error *err)
{
    char path[SP_CKPT_PATH_MAX];
    snprintf(path, sizeof path, "%s/" SP_CKPT_LOCK, m->root);
    int const fd = m->fs->open(m->fs->ctx, path, 'l');
    if (fd < 0) return sp__fs_fail(err, fd, "open lock file", path);
    int const e = m->fs->lock(m->fs->ctx, fd);
    if (e < 0) {
        char who[64] = "";
        int64_t const n = m->fs->read(m->fs->ctx, fd, who, sizeof who - 1);
        who[n > 0 ? n : 0] = 0;
        who[strcspn(who, " \n")] = 0;
        m->fs->close(m->fs->ctx, fd);
        if (e == -EWOULDBLOCK || e == -EAGAIN)
            return sp_error_set(err, SP_ERR_LOCKED, "checkpoint root %s is locked by another writer (pid %s)",
                                m->root, who[0] ? who : "?");
        return sp_error_set(err, SP_ERR_IO, "lock %s: %s", path, strerror(-e));
    }
    char rec[24];
    memset(rec, ' ', sizeof rec);
    int const len = snprintf(rec, sizeof rec, "%ld", (long)getpid());
    rec[len] = ' ';
    rec[sizeof rec - 1] = '\n';
    (void)m->fs->write(m->fs->ctx, fd, rec, sizeof rec); /* informational only */
    m->lock_fd = fd;
    return SP_OK;
}

typedef struct gc_ctx {
    sp_ckpt_manager *m;
    int tmp_too;
} gc_ctx;

static int gc_entry(void *ctx, const char *name, int is_dir)
{
    gc_ctx *const g = (gc_ctx *)ctx;
    int const del = strstr(name, SP_CKPT_DEL_TAG) != NULL;
    int const tmp = strstr(name, SP_CKPT_TMP_TAG) != NULL;
    if (del || (tmp && g->tmp_too)) {
        char path[SP_CKPT_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", g->m->root, name);
        if (is_dir) sp__fs_rm_rf(g->m->fs, path);
        else g->m->fs->unlink(g->m->fs->ctx, path); /* e.g. an interrupted _ROOT_METADATA */
    }
    return 0;
}

static void collect_garbage(sp_ckpt_manager *m)
{
    gc_ctx g = {m, m->opt.cleanup_tmp_directories};
    (void)m->fs->list(m->fs->ctx, m->root, gc_entry, &g); /* best effort */
}

/* The naming recorded in _ROOT_METADATA (validated by the parser: a plain prefix, 0..18
 * digits), adopted with detect_naming. Without it the options name the steps, as Orbax's
 * do: a manager sees only the directories its naming matches. */
static sp_status adopt_naming(sp_ckpt_manager *m, const char *prefix, int len, sp_error *err)
{
    if (!m->opt.detect_naming) return SP_OK;
    free(m->prefix);
    m->prefix = prefix[0] ? strdup(prefix) : NULL;
    SP_RETURN_IF(prefix[0] && m->prefix == NULL, err, SP_ERR_NOMEM, "out of memory");
    m->opt.step_prefix = m->prefix;
    m->opt.step_format_fixed_length = len;
    return SP_OK;
}

static sp_status root_metadata(sp_ckpt_manager *m, sp_error *err)
{
    char path[SP_CKPT_PATH_MAX];
    snprintf(path, sizeof path, "%s/" SP_CKPT_ROOT_META, m->root);
    unsigned char *buf = NULL;
    size_t n = 0;
    sp_status const s = sp__fs_read_file(m->fs, path, 1 << 16, &buf, &n, path, err);
    if (s == SP_OK) {
        char prefix[80];
        int len = 0;
        sp_status const ps = sp__rootmeta_parse((const char *)buf, n, prefix, sizeof prefix, &len, err);
        free(buf);
        if (ps != SP_OK) return sp_error_prefix(err, "%s: invalid root metadata: ", path);
        return adopt_naming(m, prefix, len, err);
    }
    if (s != SP_ERR_NOTFOUND) return s;
    SP_RETURN_IF(m->opt.require_root, err, SP_ERR_NOTFOUND, "%s is not a checkpoint root (no " SP_CKPT_ROOT_META ")",
                 m->root);
    if (m->opt.read_only) return SP_OK;
    /* First writer: record the naming so tools can list the root without options. */
    char *const text = sp__rootmeta_dump(m->prefix, m->opt.step_format_fixed_length, &n);
    SP_RETURN_IF(text == NULL, err, SP_ERR_NOMEM, "out of memory");
    sp_status const ws = sp__fs_write_atomic(m->fs, path, "0", text, n, m->opt.durable, err);
    free(text);
    return ws;
}

static sp_status open_impl(sp_ckpt_manager *m, const char *root, const sp_ckpt_options *opt, sp_error *err)
{
    SP_TRY(copy_options(m, opt, err));
    m->fs = opt->fs ? opt->fs : sp_fs_posix();
    size_t len = strlen(root);
    while (len > 1 && root[len - 1] == '/') len--;
    SP_RETURN_IF(len == 0 || len > 3000, err, SP_ERR_INVALID, "bad checkpoint root '%s'", root);
    SP_RETURN_IF((m->root = strndup(root, len)) == NULL, err, SP_ERR_NOMEM, "out of memory");
    atomic_store(&m->nonce, (unsigned long long)m->fs->now_ns(m->fs->ctx) ^ ((uint64_t)getpid() << 32));
    if (m->opt.require_root) { /* the ckpt tools: never create anything in a directory that is not ours */
        m->opt.create = 0;
        char path[SP_CKPT_PATH_MAX];
        snprintf(path, sizeof path, "%s/" SP_CKPT_ROOT_META, m->root);
        SP_RETURN_IF(m->fs->stat(m->fs->ctx, path, NULL, NULL) != 0, err, SP_ERR_NOTFOUND,
                     "%s is not a checkpoint root (no " SP_CKPT_ROOT_META ")", m->root);
    }
    SP_TRY(make_root(m, err));
    if (!m->opt.read_only) {
        SP_TRY(take_lock(m, err));
        collect_garbage(m);
    }
    SP_TRY(root_metadata(m, err));
    SP_TRY(list_steps(m, err));
    if (m->opt.enable_async) SP_TRY(sp__async_start(m, err));
    return SP_OK;
}

static void free_manager(sp_ckpt_manager *m)
{
    if (m->lock_fd >= 0) m->fs->close(m->fs->ctx, m->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv_work);
    pthread_cond_destroy(&m->cv_idle);
    free(m->steps);
    free_foreign(m->foreign, m->n_foreign);
    free(m->root);
    free(m->prefix);
    free(m->best_metric);
    free(m->save_on_steps);
    free(m);
}

sp_status sp_ckpt_manager_open(sp_ckpt_manager **out, const char *root, const sp_ckpt_options *opt,
                               sp_error *err)
{
    *out = NULL;
    SP_RETURN_IF(root == NULL || opt == NULL, err, SP_ERR_INVALID, "root and options are required");
    sp_ckpt_manager *const m = (sp_ckpt_manager *)calloc(1, sizeof *m);
    SP_RETURN_IF(m == NULL, err, SP_ERR_NOMEM, "out of memory");
    m->lock_fd = -1;
    m->last_queued = -1;
    m->inflight = -1;
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv_work, &ca);
    pthread_cond_init(&m->cv_idle, &ca);
    pthread_condattr_destroy(&ca);
    sp_error local;
    sp_error *const e = err ? err : &local;
    sp_error_clear(e);
    sp_status const s = open_impl(m, root, opt, e);
    if (s != SP_OK) {
        if (e->status == SP_OK) sp_error_set(e, s, "%s", sp_strerror(s));
        free_manager(m);
        return s;
    }
    *out = m;
    return SP_OK;
}

sp_status sp_ckpt_manager_close(sp_ckpt_manager *m, int64_t timeout_ms, sp_error *err)
{
    if (m == NULL) return SP_OK;
    sp_status s = SP_OK;
    if (m->have_worker) {
        s = sp__async_wait_idle(m, timeout_ms, err);
        if (s == SP_ERR_TIMEOUT) atomic_store(&m->cancel, 1);
        sp__async_stop(m);
        if (m->sticky.status != SP_OK && s != SP_ERR_TIMEOUT) {
            s = m->sticky.status;
            if (err) *err = m->sticky;
        }
    }
    free_manager(m);
    return s;
}

/* ---- queries ---- */

int64_t sp_ckpt_latest_step(sp_ckpt_manager *m)
{
    pthread_mutex_lock(&m->mu);
    int64_t const s = m->n_steps ? m->steps[m->n_steps - 1].step : SP_CKPT_NONE;
    pthread_mutex_unlock(&m->mu);
    return s;
}

size_t sp_ckpt_all_steps(sp_ckpt_manager *m, int64_t *steps, size_t cap)
{
    pthread_mutex_lock(&m->mu);
    size_t const n = m->n_steps;
    for (size_t i = 0; i < n && i < cap; i++) steps[i] = m->steps[i].step;
    pthread_mutex_unlock(&m->mu);
    return n;
}

int64_t sp_ckpt_best_step(sp_ckpt_manager *m)
{
    if (m->best_metric == NULL) return sp_ckpt_latest_step(m);
    pthread_mutex_lock(&m->mu);
    int64_t best = SP_CKPT_NONE;
    double bv = 0.0;
    for (size_t i = 0; i < m->n_steps; i++) {
        const sp__step_rec *const r = &m->steps[i];
        if (!r->has_metric || r->damaged) continue;
        double const v = m->opt.best_mode == SP_CKPT_BEST_MIN ? -r->metric : r->metric;
        if (best == SP_CKPT_NONE || v >= bv) { /* ties: the newer wins */
            best = r->step;
            bv = v;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return best;
}

int sp_ckpt_should_save(sp_ckpt_manager *m, int64_t step)
{
    if (m->opt.read_only || step < 0) return 0;
    pthread_mutex_lock(&m->mu);
    int64_t latest = m->n_steps ? m->steps[m->n_steps - 1].step : -1;
    if (m->last_queued > latest) latest = m->last_queued;
    pthread_mutex_unlock(&m->mu);
    if (latest >= step) return 0;
    if (m->opt.should_save_fn) return m->opt.should_save_fn(m->opt.should_save_ctx, step, latest);
    if (latest < 0) return 1; /* initial save */
    if (m->opt.save_interval_steps > 0 && step % m->opt.save_interval_steps == 0) return 1;
    for (size_t i = 0; i < m->opt.n_save_on_steps; i++)
        if (m->save_on_steps[i] == step) return 1;
    return 0;
}

const char *sp_ckpt_root(const sp_ckpt_manager *m)
{
    return m->root;
}

static int have_step(sp_ckpt_manager *m, int64_t step, int *damaged)
{
    int found = 0;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_steps && !found; i++) {
        if (m->steps[i].step != step) continue;
        found = 1;
        if (damaged) *damaged = m->steps[i].damaged;
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

/* ---- save ---- */

static int is_queued(sp_ckpt_manager *m, int64_t step)
{
    pthread_mutex_lock(&m->mu);
    int q = m->inflight == step;
    for (const sp__job *j = m->head; j && !q; j = j->next) q = j->step == step;
    pthread_mutex_unlock(&m->mu);
    return q;
}

sp_status sp_ckpt_save(sp_ckpt_manager *m, int64_t step, const sp_tree *tree, const sp_ckpt_save_args *args,
                       int *saved, sp_error *err)
{
    sp_error local_err;
    if (err == NULL) err = &local_err;
    if (saved) *saved = 0;
    sp_ckpt_save_args defaults;
    sp_ckpt_save_args_init(&defaults);
    const sp_ckpt_save_args *const a = args ? args : &defaults;
    SP_RETURN_IF(a->struct_size != sizeof *a, err, SP_ERR_INVALID, "sp_ckpt_save_args: call _init");
    SP_RETURN_IF(m->opt.read_only, err, SP_ERR_READONLY, "manager of %s is read-only", m->root);
    SP_RETURN_IF(step < 0 || step > (int64_t)999999999999999999, err, SP_ERR_INVALID, "step %lld out of range",
                 (long long)step);
    SP_RETURN_IF(tree == NULL, err, SP_ERR_INVALID, "tree is NULL");
    SP_TRY(sp_ckpt_check_for_errors(m, err));
    if (!a->force && !sp_ckpt_should_save(m, step)) return SP_OK;
    SP_RETURN_IF(have_step(m, step, NULL) || is_queued(m, step), err, SP_ERR_EXISTS,
                 "step %lld already exists (saves never overwrite)", (long long)step);
    sp__save_meta meta;
    sp_status s = sp__save_meta_copy(a, &meta, err);
    if (s == SP_OK && m->have_worker) {
        s = sp__async_enqueue(m, step, tree, &meta, a->timeout_ms, err); /* takes meta */
    } else if (s == SP_OK) {
        s = sp__mgr_commit(m, step, tree, &meta, err);
    }
    sp__save_meta_free(&meta);
    if (saved && (s == SP_OK || have_step(m, step, NULL) || is_queued(m, step))) *saved = 1;
    return s;
}

/* ---- restore, delete, reload, metadata, verify ---- */

static sp_status settle(sp_ckpt_manager *m, sp_error *err)
{
    if (!m->have_worker) return SP_OK;
    sp_status const s = sp__async_wait_idle(m, m->opt.async_timeout_ms, err);
    return s == SP_ERR_TIMEOUT ? s : SP_OK; /* a sticky save error does not block reads */
}

static sp_status restore_one(sp_ckpt_manager *m, int64_t step, const sp_tree *target,
                             const sp_ckpt_restore_args *a, sp_tree **out, sp_error *err)
{
    char name[96];
    sp__mgr_step_name(m, step, name, sizeof name);
    int damaged = 0;
    SP_RETURN_IF(!have_step(m, step, &damaged), err, SP_ERR_NOTFOUND, "step %lld is not a committed step of %s",
                 (long long)step, m->root);
    sp_status const s = sp__step_read(m->fs, m->root, name, step, target, a, out, NULL, err);
    if (s == SP_OK && a->restored_step) *a->restored_step = step;
    return s;
}

sp_status sp_ckpt_restore(sp_ckpt_manager *m, int64_t step, const sp_tree *target,
                          const sp_ckpt_restore_args *args, sp_tree **out, sp_error *err)
{
    sp_error local_err;
    if (err == NULL) err = &local_err;
    *out = NULL;
    sp_ckpt_restore_args defaults;
    sp_ckpt_restore_args_init(&defaults);
    const sp_ckpt_restore_args *const a = args ? args : &defaults;
    SP_RETURN_IF(a->struct_size != sizeof *a, err, SP_ERR_INVALID, "sp_ckpt_restore_args: call _init");
    SP_TRY(settle(m, err));
    if (step != SP_CKPT_LATEST) return restore_one(m, step, target, a, out, err);
    size_t const n = sp_ckpt_all_steps(m, NULL, 0);
    SP_RETURN_IF(n == 0, err, SP_ERR_NOTFOUND, "no committed step in %s", m->root);
    int64_t *const steps = (int64_t *)malloc(n * sizeof *steps);
    SP_RETURN_IF(steps == NULL, err, SP_ERR_NOMEM, "out of memory");
    size_t const got = sp_ckpt_all_steps(m, steps, n);
    sp_status s = SP_ERR_NOTFOUND;
    sp_error first;
    sp_error_clear(&first);
    for (size_t i = got < n ? got : n; i-- > 0;) {
        s = restore_one(m, steps[i], target, a, out, err);
        if (s == SP_OK || !a->fallback || s == SP_ERR_MISMATCH || s == SP_ERR_NOMEM) break;
        if (first.status == SP_OK && err) first = *err;
    }
    free(steps);
    if (s != SP_OK && first.status != SP_OK && err) { /* report the newest damage, and that all failed */
        sp_error_set(err, s, "no restorable step; newest failure: %s", first.message);
    }
    return s;
}

sp_status sp_ckpt_delete(sp_ckpt_manager *m, int64_t step, sp_error *err)
{
    sp_error local_err;
    if (err == NULL) err = &local_err;
    SP_RETURN_IF(m->opt.read_only, err, SP_ERR_READONLY, "manager of %s is read-only", m->root);
    SP_TRY(settle(m, err));
    SP_RETURN_IF(!have_step(m, step, NULL), err, SP_ERR_NOTFOUND, "step %lld not found in %s", (long long)step,
                 m->root);
    return delete_step(m, step, err);
}

sp_status sp_ckpt_quarantine(sp_ckpt_manager *m, int64_t step, char *moved_to, size_t cap, sp_error *err)
{
    sp_error local_err;
    if (err == NULL) err = &local_err;
    SP_RETURN_IF(m->opt.read_only, err, SP_ERR_READONLY, "manager of %s is read-only", m->root);
    SP_TRY(settle(m, err));
    SP_RETURN_IF(!have_step(m, step, NULL), err, SP_ERR_NOTFOUND, "step %lld not found in %s", (long long)step,
                 m->root);
    char name[96], from[SP_CKPT_PATH_MAX], to[SP_CKPT_PATH_MAX];
    sp__mgr_step_name(m, step, name, sizeof name);
    snprintf(from, sizeof from, "%s/%s", m->root, name);
    snprintf(to, sizeof to, "%s/%s" SP_CKPT_DAMAGED_TAG "%lld", m->root, name, (long long)m->fs->now_ns(m->fs->ctx));
    int const e = m->fs->rename(m->fs->ctx, from, to);
    if (e < 0) return sp__fs_fail(err, e, "quarantine: rename", from);
    drop_rec(m, step);
    if (moved_to) snprintf(moved_to, cap, "%s", to);
    return m->opt.durable ? sp__fs_fsync_dir(m->fs, m->root, m->root, err) : SP_OK;
}

size_t sp_ckpt_foreign_count(sp_ckpt_manager *m)
{
    pthread_mutex_lock(&m->mu);
    size_t const n = m->n_foreign;
    pthread_mutex_unlock(&m->mu);
    return n;
}

const char *sp_ckpt_foreign_name(sp_ckpt_manager *m, size_t i)
{
    pthread_mutex_lock(&m->mu);
    const char *const name = i < m->n_foreign ? m->foreign[i] : NULL;
    pthread_mutex_unlock(&m->mu);
    return name;
}

sp_status sp_ckpt_reload(sp_ckpt_manager *m, sp_error *err)
{
    sp_error local_err;
    if (err == NULL) err = &local_err;
    SP_TRY(settle(m, err));
    return list_steps(m, err);
}

static sp_status metadata_impl(sp_ckpt_manager *m, int64_t step, sp_ckpt_step_info *info, char **json,
                               sp_error *err)
{
    char name[96];
    sp__mgr_step_name(m, step, name, sizeof name);
    snprintf(info->dir_name, sizeof info->dir_name, "%s", name);
    sp__manifest mf;
    if (sp__step_manifest(m->fs, m->root, name, step, &mf, err) != SP_OK) {
        info->damaged = 1;
        return json ? err->status : SP_OK;
    }
    info->init_ns = mf.init_ns;
    info->commit_ns = mf.commit_ns;
    info->n_files = mf.n_files + 1;
    for (size_t i = 0; i < mf.n_files; i++) info->total_bytes += mf.files[i].size;
    const sp__metric *const mt = sp__manifest_metric(&mf, m->best_metric);
    info->has_metric = mt != NULL;
    info->metric = mt ? mt->value : 0.0;
    sp__manifest_items_join(&mf, info->items, sizeof info->items);
    char path[SP_CKPT_PATH_MAX];
    uint64_t msize = 0;
    snprintf(path, sizeof path, "%s/%s/%s", m->root, name, SP_CKPT_MANIFEST);
    if (m->fs->stat(m->fs->ctx, path, &msize, NULL) == 0) info->total_bytes += msize;
    sp_status s = SP_OK;
    if (json) {
        unsigned char *buf = NULL;
        size_t n = 0;
        s = sp__step_read_verified(m->fs, m->root, name, &mf, SP_CKPT_STEP_META, &buf, &n, err);
        *json = (char *)buf;
    }
    sp__manifest_free(&mf);
    return s;
}

sp_status sp_ckpt_metadata(sp_ckpt_manager *m, int64_t step, sp_ckpt_step_info *info, char **metadata_json,
                           sp_error *err)
{
    sp_error local;
    sp_error *const e = err ? err : &local;
    memset(info, 0, sizeof *info);
    if (metadata_json) *metadata_json = NULL;
    SP_TRY(settle(m, e));
    if (step == SP_CKPT_LATEST) step = sp_ckpt_latest_step(m);
    SP_RETURN_IF(step < 0 || !have_step(m, step, NULL), e, SP_ERR_NOTFOUND, "step %lld not found in %s",
                 (long long)step, m->root);
    info->step = step;
    return metadata_impl(m, step, info, metadata_json, e);
}

sp_status sp_ckpt_verify(sp_ckpt_manager *m, int64_t step, sp_ckpt_damage_fn cb, void *cb_ctx, sp_error *err)
{
    sp_error local_err;
    if (err == NULL) err = &local_err;
    SP_TRY(settle(m, err));
    if (step == SP_CKPT_LATEST) step = sp_ckpt_latest_step(m);
    SP_RETURN_IF(step < 0 || !have_step(m, step, NULL), err, SP_ERR_NOTFOUND, "step %lld not found in %s",
                 (long long)step, m->root);
    char name[96];
    sp__mgr_step_name(m, step, name, sizeof name);
    return sp__step_verify(m->fs, m->root, name, step, cb, cb_ctx, err);
}
