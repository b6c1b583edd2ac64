/* generate_group.c: sp_generate split between the P > 1 ranks of a group (sp_group.h,
 * docs/scale-out.md). Every rank runs this with the same arguments; the result is the
 * dataset and the checkpoint root one process writes, byte for byte.
 *
 * Split. From the resume point on, the pairs are cut into units at the multiples of U
 * pairs: one flow batch (B * batches_per_flow_batch pairs; B with real image pairs), or
 * with h5 the smallest run of whole shards that is also a whole number of batches. Unit i
 * goes to rank i mod P (Grain's elastic rule: from the global position n, shard r of P
 * takes n + r, n + r + P, ...), so round k is units kP .. kP + P - 1. A rank seeks its
 * sampler to its unit's first batch (sp_sampler_seek: a pair's bytes depend only on its
 * stream position), renders the unit's batches and writes their pair files, or whole
 * shards, itself. Its params lines go to its own part file (a temporary of params.jsonl
 * with the job family's tag), with the length each unit added: no rank holds more than a
 * unit in memory. Rank 0 alone holds the locks, params.jsonl, the checkpoint root and
 * dataset.json.
 *
 * Ranks meet only in sync rounds: those where a checkpoint is due (a multiple of
 * checkpoint_every batches crossed; every rank computes it alike) and the last. There:
 *   each rank closes its shard, fsyncs its part file and syncs the file system, so its part
 *   of everything up to the round is durable, then
 *   "round K report"  (to rank 0) status and message, the real pairs written since the last
 *                     sync, whether the stream ended (loop: false), the part file's name
 *                     and the length of each unit's lines;
 *   rank 0 reads the part files unit by unit in stream order (round by round, rank by rank)
 *   and appends them to params.jsonl, then in a checkpoint round commits a step: its own
 *   sampler sought to the round's end (its next unit starts there) so the step holds the
 *   global position only, with the writer's progress record;
 *   "round K verdict" (from rank 0) the first failure (rank, status, message) or the end of
 *   the stream: every rank stops together, with the same status; else each rank empties its
 *   part file and goes on.
 * A rank that fails between sync rounds calls the group's fail hook (synthpix-mpi ends the
 * job there), else it skips its units up to the next sync round and reports the failure.
 *
 * Start: "start identity" (each rank's set-up status and arguments, received by all: a
 * failed or differently started rank is refused by every rank, naming it); rank 0 opens and
 * locks the checkpoint root, restores the newest good step, opens its writer (which removes
 * the family's stale temporaries and claims the folder before any other rank writes);
 * "start verdict" (family tag, resume point). Finish: after the last sync round rank 0
 * completes the dataset (params.jsonl renamed, dataset.json last); "finish verdict".
 */
#include "group_internal.h"

#include <errno.h>

#include "sp_sampler_state.h"
#include "sp/sp_pipeline.h"

#define SP_GROUP_NAME_MAX 96

typedef struct grp {
    sp__gen_job *j;
    sp__wire w;
    const sp_config *cfg;
    uint64_t B;          /* pairs per batch */
    uint64_t unit;       /* pairs per unit (U) */
    uint64_t start;      /* the resume point (pairs), a whole number of batches */
    uint64_t total;      /* the dataset's last pair + 1 */
    uint64_t next_batch; /* the batch this rank's sampler returns next; UINT64_MAX unknown */
    uint64_t mark;       /* batches at the last checkpoint (or the start) */
    /* This rank since the last sync round. */
    int part_fd;
    char part_path[SP_FS_PATH_MAX];
    uint64_t *lens;      /* params bytes of each of its units (one per round) */
    size_t nlens, cap;    /* rounds since the last sync round */
    uint64_t written;    /* real pairs */
    double slowest_ms;   /* rank 0: the slowest rank's sync in this sync round */
    int ended;           /* its stream ended (loop: false) */
    sp_status st;        /* its first failure */
    sp_error err;
} grp;

static unsigned rank_of(const grp *x)
{
    return x->w.g->rank;
}

/* ---- start -------------------------------------------------------------------------------- */

/* CRC32C of the configuration's YAML echo (what the writer and dataset.json record). */
static uint32_t config_crc(const sp_config *cfg)
{
    sp_membuf yaml = {0};
    sp_sink const sink = sp_sink_membuf(&yaml);
    uint32_t const crc = sp_config_write_yaml(cfg, &sink, NULL) == SP_OK ? sp_crc32c(0, yaml.data, yaml.size) : 0;
    sp_membuf_free(&yaml);
    return crc;
}

/* What must be the same on every rank, as "key=value" lines in a fixed order. */
static char *identity(const grp *x, const char *dir)
{
    const sp_generate_options *const o = x->j->opt;
    const sp_dataset_options *const d = &o->dataset;
    char *text = NULL;
    int const n = asprintf(&text,
                           "size=%u\nconfiguration=%08x\npairs=%llu\nformat=%s\nbit_depth=%d\nshard_size=%llu\n"
                           "output=%s\ncheckpoint_dir=%s\ncheckpoint_every=%llu\nmax_to_keep=%lld\nresume=%d\n"
                           "overwrite=%d\ndata_shard=%u/%u\n",
                           x->w.g->size, config_crc(x->cfg), (unsigned long long)d->pairs,
                           sp_dataset_format_name(d->format), d->bit_depth, (unsigned long long)d->shard_size, dir,
                           o->checkpoint_dir ? o->checkpoint_dir : "", (unsigned long long)o->checkpoint_every,
                           (long long)o->max_to_keep, o->resume, d->overwrite, o->sampler.shard_index,
                           o->sampler.shard_count);
    return n < 0 ? NULL : text;
}

/* The first line where a and b differ: its key (before '=') and both values. */
static void first_difference(const char *a, const char *b, char *key, char *va, char *vb)
{
    size_t i = 0, line = 0;
    while (a[i] && a[i] == b[i]) {
        if (a[i] == '\n') line = i + 1;
        i++;
    }
    size_t const eq = strcspn(a + line, "=\n");
    snprintf(key, 64, "%.*s", (int)eq, a + line);
    const char *const ea = a + line + eq + (a[line + eq] == '=');
    const char *const eb = b + line + eq + (b[line + eq] == '=');
    snprintf(va, 256, "%.*s", (int)strcspn(ea, "\n"), ea);
    snprintf(vb, 256, "%.*s", (int)strcspn(eb, "\n"), eb);
}

/* Each rank's set-up status and identity, received by every rank, judged alike: the first
 * failure, then the first rank whose arguments differ from rank 0's. */
static sp_status agree_identity(grp *x, const char *dir, sp_status local, const sp_error *local_err, sp_error *err)
{
    char *const id = identity(x, dir);
    json_t *const o = sp__wire_status(local == SP_OK && id == NULL ? SP_ERR_NOMEM : local, local_err);
    json_object_set_new(o, "identity", json_string(id ? id : ""));
    free(id);
    size_t n = 0;
    char *const line = sp__wire_line(o, &n);
    unsigned char *all = NULL;
    sp_status st = sp__wire_exchange(&x->w, "start identity", -1, line ? line : "\n", line ? n : 1, &all, err);
    free(line);
    if (st == SP_OK) st = sp__wire_first_failure(&x->w, all, err);
    size_t off = 0, rest = 0;
    json_t *const zero = st == SP_OK ? sp__wire_parse(all, x->w.lens[0], &rest) : NULL;
    const char *const zid = json_string_value(json_object_get(zero, "identity"));
    for (unsigned r = 0; st == SP_OK && r < x->w.g->size; r++) {
        json_t *const o_r = sp__wire_parse(all + off, x->w.lens[r], &rest);
        off += x->w.lens[r];
        const char *const id_r = json_string_value(json_object_get(o_r, "identity"));
        char key[64], v0[256], vr[256];
        if (zid == NULL || id_r == NULL) st = sp_error_set(err, SP_ERR_CORRUPT, "rank %u: a malformed start message", r);
        else if (strcmp(id_r, zid) != 0) {
            first_difference(zid, id_r, key, v0, vr);
            st = sp_error_set(err, SP_ERR_MISMATCH,
                              "rank %u was started with %s %s, rank 0 with %s %s: every rank of a group needs the "
                              "same arguments", r, key, vr, key, v0);
        }
        json_decref(o_r);
    }
    json_decref(zero);
    free(all);
    return st;
}

/* The resume point must be a whole number of batches (every generate checkpoint is). */
static sp_status check_start(const grp *x, sp_error *err)
{
    SP_RETURN_IF(x->start % x->B != 0 && x->start < x->total, err, SP_ERR_CORRUPT,
                 "%s: the checkpoint covers %llu pairs, not a whole number of batches of %llu",
                 x->j->opt->checkpoint_dir, (unsigned long long)x->start, (unsigned long long)x->B);
    return SP_OK;
}

/* The batch rank 0's restored sampler returns next (it continues there with its cache). */
static uint64_t restored_batch(const grp *x)
{
    sp_sampler_state st;
    sp__sampler_state_get(x->j->sampler, &st);
    return st.batch_index;
}

/* Rank 0: root, restore and writer, before any other rank touches the folder. */
static json_t *open_primary(grp *x, const char *dir, sp_generate_result *res)
{
    sp__gen_job *const j = x->j;
    sp_error e;
    sp_error_clear(&e);
    sp_status st = j->opt->checkpoint_dir ? sp__gen_open_checkpoints(j, &e) : SP_OK;
    if (st == SP_OK) st = sp__gen_open_writer(j, x->cfg, dir, &e);
    if (st != SP_OK) return sp__wire_status(st, &e);
    int const complete = sp_dataset_writer_complete(j->writer);
    x->start = complete ? x->total : sp_dataset_writer_covered(j->writer);
    if (!complete) st = check_start(x, &e);
    if (st != SP_OK) return sp__wire_status(st, &e);
    if (j->resume_json) {
        x->next_batch = restored_batch(x);
        sp__gen_note(j, "resuming after %llu pairs (%s) on %u processes", (unsigned long long)x->start,
                     j->opt->checkpoint_dir, x->w.g->size);
    }
    res->started = !complete;
    sp__dataset_writer_collect(j->writer);
    return json_pack("{s:i, s:s, s:s, s:I, s:I, s:b}", "status", 0, "message", "", "tag", j->writer->tag, "start",
                     (json_int_t)x->start, "written", (json_int_t)sp_dataset_writer_written(j->writer), "complete",
                     complete);
}

static sp_status open_part_writer(grp *x, const char *dir, const char *tag, sp_error *err)
{
    sp_dataset_options d = x->j->opt->dataset;
    d.pool = x->j->pool;
    d.fs = x->j->fs;
    d.data_shard_index = x->j->opt->sampler.shard_index;
    d.data_shard_count = x->j->opt->sampler.shard_count;
    d.tmp_tag = tag;
    return sp__dataset_writer_open_part(&x->j->writer, dir, x->cfg, sp_sampler_geometry(x->j->sampler), &d, err);
}

/* This rank's part file: a temporary of params.jsonl under the family's tag (a killed
 * job's are removed by the next job's rank 0 before any rank creates its own). */
static sp_status part_create(grp *x, const char *dir, sp_error *err)
{
    const sp_fs *const fs = x->j->fs;
    char final[SP_FS_PATH_MAX];
    snprintf(final, sizeof final, "%s/params.jsonl", dir);
    int fd = -EEXIST;
    for (int attempt = 0; attempt < 8 && fd == -EEXIST; attempt++) {
        if (!sp__fs_tmp_name(x->part_path, sizeof x->part_path, final, x->j->writer->tag))
            return sp_error_set(err, SP_ERR_INVALID, "%s: path too long", dir);
        fd = fs->open(fs->ctx, x->part_path, 'w');
    }
    if (fd < 0) return sp__fs_fail(err, fd, "create", x->part_path);
    x->part_fd = fd;
    return SP_OK;
}

static sp_status start(grp *x, const char *dir, sp_status local, const sp_error *local_err, sp_generate_result *res,
                       sp_error *err)
{
    SP_TRY(agree_identity(x, dir, local, local_err, err));
    json_t *v = NULL;
    SP_TRY(sp__wire_verdict(&x->w, "start verdict", rank_of(x) == 0 ? open_primary(x, dir, res) : NULL, &v, err));
    char tag[SP_DATASET_TAG_MAX + 1];
    snprintf(tag, sizeof tag, "%s", json_string_value(json_object_get(v, "tag")));
    x->start = (uint64_t)json_integer_value(json_object_get(v, "start"));
    int const complete = json_is_true(json_object_get(v, "complete"));
    uint64_t const written = (uint64_t)json_integer_value(json_object_get(v, "written"));
    json_decref(v);
    res->start_pairs = x->start;
    res->started = !complete;
    res->already_complete = complete;
    res->pairs_written = complete ? x->j->opt->dataset.pairs : written;
    x->mark = x->start / x->B;
    if (complete) return SP_OK;
    if (rank_of(x) != 0) SP_TRY(open_part_writer(x, dir, tag, err));
    return part_create(x, dir, err);
}

/* ---- units -------------------------------------------------------------------------------- */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t const t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static sp_status unit_size(grp *x, sp_error *err)
{
    const sp_config *const c = x->cfg;
    uint64_t const B = (uint64_t)c->batch_size;
    uint64_t unit = B * (c->include_images ? 1 : (uint64_t)c->batches_per_flow_batch);
    if (x->j->opt->dataset.format == SP_DATASET_H5) {
        uint64_t const N = x->j->opt->dataset.shard_size;
        SP_RETURN_IF(N > UINT64_MAX / B, err, SP_ERR_CONFIG, "shard size %llu: a unit would exceed 2^64 pairs",
                     (unsigned long long)N);
        unit = N * (B / gcd64(N, B)); /* whole shards, whole batches */
    }
    SP_RETURN_IF(unit == 0, err, SP_ERR_CONFIG, "batch_size must be positive");
    x->B = B;
    x->unit = unit;
    return SP_OK;
}

/* Unit i after the resume point: pairs [*lo, *hi), empty past the end. */
static void unit_range(const grp *x, uint64_t i, uint64_t *lo, uint64_t *hi)
{
    uint64_t const base = x->start / x->unit + i;
    uint64_t const a = i == 0 ? x->start : base * x->unit, b = (base + 1) * x->unit;
    *lo = a < x->total ? a : x->total;
    *hi = b < x->total ? b : x->total;
}

/* Renders pairs [lo, hi) and writes them; *ended when the stream ended first. */
static sp_status render(grp *x, uint64_t lo, uint64_t hi, sp_error *err)
{
    sp__gen_job *const j = x->j;
    uint64_t b = lo / x->B;
    if (x->next_batch != b) SP_TRY(sp_sampler_seek(j->sampler, b, err));
    x->next_batch = UINT64_MAX; /* until a batch succeeds */
    for (; b * x->B < hi; b++) {
        const sp_batch *bt = NULL;
        sp_status const st = sp_sampler_next(j->sampler, &bt, err);
        if (st == SP_ERR_END) {
            x->ended = 1; /* every later unit is past the end too */
            return SP_OK;
        }
        SP_TRY(st);
        x->next_batch = b + 1;
        SP_TRY(sp_dataset_writer_write(j->writer, bt, err));
    }
    return SP_OK;
}

/* The unit's params lines go to the part file; their length is recorded for rank 0. */
static sp_status keep_lines(grp *x, sp_error *err)
{
    sp_dataset_writer *const w = x->j->writer;
    if (x->nlens == x->cap) {
        size_t const cap = x->cap ? 2 * x->cap : 64;
        uint64_t *const l = (uint64_t *)realloc(x->lens, cap * sizeof *l);
        SP_RETURN_IF(l == NULL, err, SP_ERR_NOMEM, "out of memory");
        x->lens = l;
        x->cap = cap;
    }
    SP_TRY(sp__fs_write_all(x->j->fs, x->part_fd, w->pending.data, w->pending.size, x->part_path, err));
    x->lens[x->nlens++] = w->pending.size;
    x->written += w->pending_written;
    w->pending.size = 0;
    w->pending_written = 0;
    return SP_OK;
}

/* This rank's unit of round k. After a failure it does nothing more until the next sync
 * round, where it reports the failure; past the end of the stream its units are empty. */
static void do_unit(grp *x, uint64_t k)
{
    if (x->st != SP_OK) return;
    uint64_t lo, hi;
    unit_range(x, k * x->w.g->size + rank_of(x), &lo, &hi);
    sp_status st = !x->ended && lo < hi ? render(x, lo, hi, &x->err) : SP_OK;
    if (st == SP_OK && x->j->opt->dataset.format == SP_DATASET_H5) st = sp__shard_close(x->j->writer, &x->err);
    if (st == SP_OK) st = keep_lines(x, &x->err);
    if (st == SP_OK) return;
    x->st = st;
    if (x->w.g->fail) x->w.g->fail(x->w.g->ctx, x->err.message); /* may end the job here */
}

/* ---- sync rounds ------------------------------------------------------------------------- */

static uint64_t round_end(const grp *x, uint64_t k)
{
    uint64_t lo, hi;
    unit_range(x, (k + 1) * x->w.g->size - 1, &lo, &hi);
    return hi;
}

/* A checkpoint is due when the round crosses a multiple of checkpoint_every batches; it is
 * taken at a whole number of batches (and of shards with h5), which every round end but
 * the dataset's last is. */
static int checkpoint_due(const grp *x, uint64_t covered)
{
    const sp_generate_options *const o = x->j->opt;
    if (o->checkpoint_dir == NULL || covered % x->B != 0) return 0;
    if (o->dataset.format == SP_DATASET_H5 && covered % o->dataset.shard_size != 0) return 0;
    return covered / x->B / o->checkpoint_every > x->mark / o->checkpoint_every;
}

/* This rank's part made durable, then its report: status, counts, part file, lengths. */
static char *report(grp *x, size_t *n)
{
    sp_dataset_writer *const w = x->j->writer;
    double const t0 = sp__clock_ms();
    if (x->st == SP_OK) {
        int const e = x->j->fs->fsync(x->j->fs->ctx, x->part_fd);
        x->st = e ? sp__fs_fail(&x->err, e, "fsync", x->part_path) : sp__dataset_writer_sync_part(w, &x->err);
    }
    json_t *const o = sp__wire_status(x->st, &x->err);
    json_object_set_new(o, "sync_ms", json_real(sp__clock_ms() - t0));
    json_t *const lens = json_array();
    for (size_t i = 0; i < x->nlens; i++) json_array_append_new(lens, json_integer((json_int_t)x->lens[i]));
    const char *const slash = strrchr(x->part_path, '/');
    json_object_set_new(o, "written", json_integer((json_int_t)x->written));
    json_object_set_new(o, "ended", json_boolean(x->ended));
    json_object_set_new(o, "part", json_string(slash ? slash + 1 : x->part_path));
    json_object_set_new(o, "lengths", lens);
    return sp__wire_line(o, n);
}

static sp_status read_exact(const sp_fs *fs, int fd, unsigned char *buf, size_t n, const char *path, sp_error *err)
{
    for (size_t got = 0; got < n;) {
        int64_t const r = fs->read(fs->ctx, fd, buf + got, n - got);
        if (r < 0) return sp__fs_fail(err, (int)r, "read", path);
        SP_RETURN_IF(r == 0, err, SP_ERR_CORRUPT, "%s: shorter than its rank reported", path);
        got += (size_t)r;
    }
    return SP_OK;
}

/* Rank 0: appends the lines of rounds first .. first + rounds - 1, unit by unit in stream
 * order, from the part files (reports parsed in reps, part files opened in fds). */
static sp_status append_units(grp *x, json_t **reps, const int *fds, char (*paths)[SP_FS_PATH_MAX], size_t rounds,
                              sp_error *err)
{
    unsigned char *buf = NULL;
    size_t cap = 0;
    sp_status st = SP_OK;
    for (size_t i = 0; i < rounds && st == SP_OK; i++) {
        for (unsigned r = 0; r < x->w.g->size && st == SP_OK; r++) {
            json_int_t const len = json_integer_value(json_array_get(json_object_get(reps[r], "lengths"), i));
            if (len <= 0) continue;
            if ((size_t)len > cap) {
                unsigned char *const b = (unsigned char *)realloc(buf, (size_t)len);
                if (b == NULL) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
                else buf = b, cap = (size_t)len;
            }
            if (st == SP_OK) st = read_exact(x->j->fs, fds[r], buf, (size_t)len, paths[r], err);
            if (st == SP_OK) st = sp__dataset_writer_append(x->j->writer, buf, (size_t)len, 0, err);
        }
    }
    free(buf);
    return st;
}

/* A part file name from a report: a plain name of this folder. */
static int plain(const char *s)
{
    return s && *s && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && strlen(s) < 256;
}

/* Rank 0: every rank's report of this sync round; the first failure named, else the lines
 * appended in stream order and the written counts summed. */
static sp_status take_reports(grp *x, const unsigned char *all, size_t rounds, int *ended, sp_error *err)
{
    unsigned const P = x->w.g->size;
    SP_TRY(sp__wire_first_failure(&x->w, all, err));
    json_t **const reps = (json_t **)calloc(P, sizeof *reps);
    int *const fds = (int *)malloc(P * sizeof *fds);
    char (*const paths)[SP_FS_PATH_MAX] = (char (*)[SP_FS_PATH_MAX])calloc(P, SP_FS_PATH_MAX);
    sp_status st = reps && fds && paths ? SP_OK : sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    uint64_t written = 0;
    size_t off = 0;
    x->slowest_ms = 0;
    for (unsigned r = 0; fds && r < P; r++) fds[r] = -1;
    for (unsigned r = 0; st == SP_OK && r < P; r++) {
        size_t rest = 0;
        reps[r] = sp__wire_parse(all + off, x->w.lens[r], &rest);
        off += x->w.lens[r];
        const char *const name = json_string_value(json_object_get(reps[r], "part"));
        if (!plain(name) || json_array_size(json_object_get(reps[r], "lengths")) != rounds) {
            st = sp_error_set(err, SP_ERR_CORRUPT, "rank 0: a malformed report from rank %u", r);
            break;
        }
        written += (uint64_t)json_integer_value(json_object_get(reps[r], "written"));
        double const ms = json_real_value(json_object_get(reps[r], "sync_ms"));
        if (ms > x->slowest_ms) x->slowest_ms = ms;
        *ended |= json_is_true(json_object_get(reps[r], "ended"));
        snprintf(paths[r], SP_FS_PATH_MAX, "%s/%s", x->j->writer->dir, name);
        fds[r] = x->j->fs->open(x->j->fs->ctx, paths[r], 'r');
        if (fds[r] < 0) st = sp__fs_fail(err, fds[r], "open", paths[r]);
    }
    if (st == SP_OK) st = append_units(x, reps, fds, paths, rounds, err);
    if (st == SP_OK) st = sp__dataset_writer_append(x->j->writer, NULL, 0, written, err);
    for (unsigned r = 0; r < P; r++) {
        if (fds && fds[r] >= 0) x->j->fs->close(x->j->fs->ctx, fds[r]);
        if (reps) json_decref(reps[r]);
    }
    free(reps);
    free(fds);
    free(paths);
    return st;
}

/* Rank 0: a step at the round's end; its own sampler goes there first (its next unit
 * starts there), so the step holds the global position. */
static sp_status commit(grp *x, uint64_t covered, sp_error *err)
{
    uint64_t const b = covered / x->B;
    if (x->next_batch != b) SP_TRY(sp_sampler_seek(x->j->sampler, b, err));
    x->next_batch = b;
    char *progress = NULL; /* every rank synced its part: the params file is all that is left */
    SP_TRY(sp__dataset_writer_progress(x->j->writer, &progress, err));
    sp_status const st = sp__gen_commit(x->j, (int64_t)b, progress, err);
    free(progress);
    return st;
}

static json_t *judge(grp *x, const unsigned char *all, uint64_t covered, int due)
{
    sp_error e;
    sp_error_clear(&e);
    int ended = 0;
    double const t0 = sp__clock_ms(); /* every rank's part is durable */
    sp_status st = take_reports(x, all, x->nlens, &ended, &e);
    if (st == SP_OK) sp__dataset_writer_set_covered(x->j->writer, covered);
    if (st == SP_OK && due && !ended) st = commit(x, covered, &e);
    if (st == SP_OK && due && !ended) sp__ckpt_times_add(&x->j->times, x->slowest_ms, sp__clock_ms() - t0);
    json_t *const v = sp__wire_status(st, &e);
    json_object_set_new(v, "ended", json_boolean(ended));
    return v;
}

/* After an agreed sync round: this rank's part file and counts start afresh. */
static sp_status part_reset(grp *x, sp_error *err)
{
    int const t = x->j->fs->truncate(x->j->fs->ctx, x->part_fd, 0);
    if (t < 0) return sp__fs_fail(err, t, "truncate", x->part_path);
    x->nlens = 0;
    x->written = 0;
    return SP_OK;
}

/* Round k's sync: reports, rank 0's merge (and commit), the verdict. *stop: no round follows. */
static sp_status sync_round(grp *x, uint64_t k, uint64_t covered, int due, int *stop, sp_error *err)
{
    static const char nomem[] = "{\"status\": -1, \"message\": \"out of memory for its report\"}\n";
    char name[SP_GROUP_NAME_MAX];
    size_t n = 0;
    char *const msg = report(x, &n); /* without one, the rank still comes, failing */
    snprintf(name, sizeof name, "round %llu report", (unsigned long long)k);
    unsigned char *all = NULL;
    sp_status st = sp__wire_exchange(&x->w, name, 0, msg ? msg : nomem, msg ? n : sizeof nomem - 1, &all, err);
    free(msg);
    if (st != SP_OK) return st;
    json_t *const mine = rank_of(x) == 0 ? judge(x, all, covered, due) : NULL;
    free(all);
    snprintf(name, sizeof name, "round %llu verdict", (unsigned long long)k);
    json_t *v = NULL;
    SP_TRY(sp__wire_verdict(&x->w, name, mine, &v, err));
    int const ended = json_is_true(json_object_get(v, "ended"));
    json_decref(v);
    if (due && !ended) x->mark = covered / x->B; /* every rank: the same sync rounds next */
    *stop = ended;
    return part_reset(x, err);
}

/* ---- the job ------------------------------------------------------------------------------- */

static sp_status run_rounds(grp *x, sp_error *err)
{
    int stop = x->start >= x->total;
    for (uint64_t k = 0; !stop; k++) {
        uint64_t const covered = round_end(x, k);
        int const last = covered >= x->total, due = checkpoint_due(x, covered);
        do_unit(x, k);
        if (rank_of(x) == 0 && x->j->opt->progress)
            x->j->opt->progress(x->j->opt->progress_ctx, covered, x->total, x->start);
        if (last || due) SP_TRY(sync_round(x, k, covered, due, &stop, err));
        stop |= last;
    }
    return SP_OK;
}

static sp_status finish(grp *x, sp_generate_result *res, sp_error *err)
{
    sp_error e;
    sp_error_clear(&e);
    json_t *mine = NULL;
    if (rank_of(x) == 0) {
        sp_status const st = sp_dataset_writer_finish(x->j->writer, &e);
        mine = sp__wire_status(st, &e);
        json_object_set_new(mine, "written", json_integer((json_int_t)sp_dataset_writer_written(x->j->writer)));
    }
    json_t *v = NULL;
    SP_TRY(sp__wire_verdict(&x->w, "finish verdict", mine, &v, err));
    uint64_t const written = (uint64_t)json_integer_value(json_object_get(v, "written"));
    json_decref(v);
    res->pairs_this_run = written - res->pairs_written; /* pairs_written held the start's count */
    res->pairs_written = written;
    return SP_OK;
}

static sp_status check_group(const sp_group *g, const sp_config *cfg, sp_error *err)
{
    SP_RETURN_IF(g->struct_size != sizeof *g, err, SP_ERR_INVALID,
                 "group: struct_size %zu, expected %zu (call sp_group_init)", g->struct_size, sizeof *g);
    SP_RETURN_IF(g->exchange == NULL || g->rank >= g->size, err, SP_ERR_INVALID,
                 "group: rank %u of %u, %s exchange", g->rank, g->size, g->exchange ? "with an" : "without an");
    SP_RETURN_IF(cfg->episode_length > 0, err, SP_ERR_UNSUPPORTED,
                 "episode_length: an episodic stream cannot be split between processes; run one process");
    return SP_OK;
}

sp_status sp__generate_group(sp__gen_job *j, const sp_config *cfg, const char *dir, sp_generate_result *res,
                             sp_error *err)
{
    const sp_group *const g = j->opt->group;
    SP_TRY(check_group(g, cfg, err));
    grp x;
    memset(&x, 0, sizeof x);
    x.j = j;
    x.cfg = cfg;
    x.total = j->opt->dataset.pairs;
    x.part_fd = -1;
    SP_TRY(sp__wire_open(&x.w, g, err));
    sp_error local;
    sp_error_clear(&local);
    sp_status st = unit_size(&x, &local);
    if (st == SP_OK) st = sp__gen_make_sampler(j, cfg, &local);
    st = start(&x, dir, st, &local, res, err); /* a rank's set-up failure fails every rank */
    if (st == SP_OK && !res->already_complete) st = run_rounds(&x, err);
    if (st == SP_OK && !res->already_complete) st = finish(&x, res, err);
    if (x.part_fd >= 0) { /* this job's part file is never needed again */
        j->fs->close(j->fs->ctx, x.part_fd);
        j->fs->unlink(j->fs->ctx, x.part_path);
    }
    free(x.lens);
    sp__wire_close(&x.w);
    return st;
}
