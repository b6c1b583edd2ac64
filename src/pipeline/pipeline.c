/* pipeline.c: sp_save_checkpoint and sp_make (SynthPix's save_checkpoint / make(load_from)).
 *
 * A checkpoint step is one tree, committed atomically by the checkpoint manager:
 *   loader                JSON {"version", "seed", "epoch", "next_position", "shard_index",
 *                         "shard_count", "records", "dataset_fingerprint" (16 hex digits,
 *                         FNV-1a 64 of the record names), "shuffle", "loop",
 *                         "global_position"} (Grain's role; global_position: the global
 *                         stream position shards in lockstep have read up to, the elastic
 *                         restore's starting point; optional when reading)
 *   sampler               JSON {"version", "batch_size", "flow_fields_per_batch",
 *                         "batches_per_flow_batch", "image_shape", "flow_shape",
 *                         "episode_length", "batch_index", "repetition", "have_flows",
 *                         "episode", "timestep", "stream_version"}
 *   cache/positions       uint64 (F,)  stream positions of the cached records   } only when
 *   cache/records         uint64 (F,)  record indices                            } the sampler
 *   cache/epochs          uint32 (F,)                                            } holds
 *   cache/record_seeds    uint32 (F,)                                            } flows
 *   cache/mask            bool (F,)    1 = real record, 0 = padding              }
 *   cache/files           JSON array of the F record names ("" for padding)      }
 *   cache/output_flows    float32 (F, Ho, Wo, 2)                                 }
 *   cache/flows/<f>       float32 (H_f, W_f, C_f) record flow f, its own shape   }
 *   episode/positions, episode/records, episode/epochs, episode/record_seeds, episode/mask
 *                         the F running episodes (record = episode index), episodic mode
 *                         while an episode is under way (timestep > 0)
 *   user                  optional JSON of the caller (the CLI's progress)
 * The state has two owners (src/internal/sp_sampler_state.h): the loader's part
 * (sp_sampler_state.loader) fills the "loader" item, "episode_length", "episode" and
 * "timestep" of the "sampler" item, the episode/ leaves and the cache/ leaves but
 * output_flows; the sampler's part fills the rest of "sampler" and cache/output_flows. The
 * layout above is the checkpoint format, fixed so old checkpoints restore; it does not
 * follow the owners.
 * Restore reads the step without a target (every leaf checked against the manifest's
 * CRC32C), parses it into an sp_sampler_state and hands that to the sampler, which refuses
 * a different stream identity naming the field. Loader JSON "version" other than
 * SP_PIPELINE_STATE_VERSION is refused (a C reader should check it; Grain does not).
 * "stream_version" (SP_STREAM_VERSION; absent in checkpoints written before it existed,
 * which are version 1) is checked first: a checkpoint of another stream version would
 * continue its dataset with other bytes, so it is refused with SP_ERR_MISMATCH. It is not a
 * format version: the layout above is unchanged, and "version" stays 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sp_internal.h"
#include "sp_sampler_state.h"
#include "sp/sp_pipeline.h"

/* ---- saving ------------------------------------------------------------------------------ */

static char *loader_json(const sp_records_state *st)
{
    char fp[17];
    snprintf(fp, sizeof fp, "%016" PRIx64, st->fingerprint);
    json_t *const o = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:b, s:I}", "version",
                                SP_PIPELINE_STATE_VERSION, "seed", (json_int_t)st->seed, "epoch",
                                (json_int_t)st->epoch, "next_position", (json_int_t)st->next,
                                "shard_index", (json_int_t)st->shard_index, "shard_count",
                                (json_int_t)st->shard_count, "records", (json_int_t)st->records,
                                "dataset_fingerprint", fp, "shuffle", st->randomize, "loop", st->loop,
                                "global_position", (json_int_t)st->global);
    char *const text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static char *sampler_json(const sp_sampler_state *st)
{
    json_t *const o = json_pack(
        "{s:i, s:I, s:I, s:I, s:[I, I], s:[I, I], s:I, s:I, s:I, s:b, s:I, s:I, s:I}", "version",
        SP_PIPELINE_STATE_VERSION, "batch_size", (json_int_t)st->batch_size, "flow_fields_per_batch",
        (json_int_t)st->flow_fields_per_batch, "batches_per_flow_batch", (json_int_t)st->batches_per_flow_batch,
        "image_shape", (json_int_t)st->image_h, (json_int_t)st->image_w, "flow_shape", (json_int_t)st->flow_h,
        (json_int_t)st->flow_w, "episode_length", (json_int_t)st->loader.episode_length, "batch_index",
        (json_int_t)st->batch_index, "repetition", (json_int_t)st->repetition, "have_flows", st->have_flows,
        "episode", (json_int_t)st->loader.episode, "timestep", (json_int_t)st->loader.timestep, "stream_version",
        (json_int_t)st->stream_version);
    char *const text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

static sp_status add_json_text(sp_tree *t, const char *path, char *text, sp_error *err)
{
    if (text == NULL) return sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    sp_status const st = sp_tree_add_json(t, path, text, err);
    free(text);
    return st;
}

static sp_status add_files(sp_tree *t, const sp_records_state *st, sp_error *err)
{
    json_t *const a = json_array();
    for (size_t f = 0; a && f < st->F; f++) json_array_append_new(a, json_string(st->files[f]));
    char *const text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return add_json_text(t, "cache/files", text, err);
}

static sp_status add_refs(sp_tree *t, const char *prefix, const sp_record_ref *refs, const uint8_t *valid, size_t F,
                          sp_error *err)
{
    char p[5][64];
    static const char *const names[5] = {"positions", "records", "epochs", "record_seeds", "mask"};
    for (int i = 0; i < 5; i++) snprintf(p[i], sizeof p[i], "%s/%s", prefix, names[i]);
    uint64_t *const u64 = (uint64_t *)malloc(2 * F * sizeof *u64);
    uint32_t *const u32 = (uint32_t *)malloc(2 * F * sizeof *u32);
    sp_status rc = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    if (u64 && u32) {
        for (size_t f = 0; f < F; f++) {
            u64[f] = refs[f].position;
            u64[F + f] = refs[f].record;
            u32[f] = refs[f].epoch;
            u32[F + f] = refs[f].seed;
        }
        uint64_t const shape[1] = {F};
        rc = sp_tree_add_array(t, p[0], SP_DTYPE_U64, 1, shape, u64, err);
        if (rc == SP_OK) rc = sp_tree_add_array(t, p[1], SP_DTYPE_U64, 1, shape, u64 + F, err);
        if (rc == SP_OK) rc = sp_tree_add_array(t, p[2], SP_DTYPE_U32, 1, shape, u32, err);
        if (rc == SP_OK) rc = sp_tree_add_array(t, p[3], SP_DTYPE_U32, 1, shape, u32 + F, err);
        if (rc == SP_OK) rc = sp_tree_add_array(t, p[4], SP_DTYPE_BOOL, 1, shape, valid, err);
    }
    free(u64);
    free(u32);
    return rc;
}

static sp_status add_cache(sp_tree *t, const sp_sampler_state *st, sp_error *err)
{
    const sp_records_state *const ld = &st->loader;
    SP_TRY(add_refs(t, "cache", ld->refs, ld->valid, (size_t)ld->F, err));
    SP_TRY(add_files(t, ld, err));
    uint64_t const oshape[4] = {ld->F, st->flow_h, st->flow_w, 2};
    SP_TRY(sp_tree_add_array_ref(t, "cache/output_flows", SP_DTYPE_F32, 4, oshape, st->out_flows, err));
    for (size_t f = 0; f < ld->F; f++) {
        const sp_flow *const fl = &ld->flows[f];
        uint64_t const shape[3] = {fl->height, fl->width, fl->channels};
        char path[64];
        snprintf(path, sizeof path, "cache/flows/%zu", f);
        /* A mapped file's values are copied now, and kept only if the file lost no page
         * before or during the copy (src/internal/sp_flowmap.h): the checkpoint never holds
         * zeros that stand for a truncated file's values. */
        int const mapped = ld->loader && sp__records_mapped(ld->loader, f);
        SP_TRY((mapped ? sp_tree_add_array : sp_tree_add_array_ref)(t, path, SP_DTYPE_F32, 3, shape, fl->data, err));
        SP_RETURN_IF(mapped && sp__records_damaged(ld->loader, f), err, SP_ERR_IO,
                     "%s: the file changed while it was in use (modified, shrunk, replaced or removed by "
                     "another process?); no checkpoint was made", ld->files[f]);
    }
    return SP_OK;
}

static sp_status fill_tree(sp_tree *t, const sp_sampler *s, const char *user_json, sp_error *err)
{
    sp_sampler_state st;
    sp__sampler_state_get(s, &st);
    st.stream_version = SP_STREAM_VERSION;
    SP_TRY(add_json_text(t, "loader", loader_json(&st.loader), err));
    SP_TRY(add_json_text(t, "sampler", sampler_json(&st), err));
    if (st.have_flows) SP_TRY(add_cache(t, &st, err));
    if (st.loader.episode_length > 0 && st.loader.timestep > 0)
        SP_TRY(add_refs(t, "episode", st.loader.episode_refs, st.loader.episode_valid, (size_t)st.loader.F, err));
    if (user_json) SP_TRY(sp_tree_add_json(t, "user", user_json, err));
    return SP_OK;
}

sp_status sp_pipeline_state_tree(const sp_sampler *s, const char *user_json, sp_tree **out, sp_error *err)
{
    *out = NULL;
    sp_tree *t = NULL;
    SP_RETURN_IF(sp_tree_create(&t) != SP_OK, err, SP_ERR_NOMEM, "out of memory");
    sp_status const st = fill_tree(t, s, user_json, err);
    if (st != SP_OK) {
        sp_tree_free(t);
        return st;
    }
    *out = t;
    return SP_OK;
}

sp_status sp_save_checkpoint(const char *dir, const sp_sampler *s, int64_t step, int64_t max_to_keep,
                             sp_error *err)
{
    /* Arguments the manager would refuse are refused before it creates the root. */
    SP_RETURN_IF(dir == NULL || s == NULL, err, SP_ERR_INVALID, "sp_save_checkpoint: NULL argument");
    SP_RETURN_IF(step < 0, err, SP_ERR_INVALID, "step %lld out of range (steps are >= 0)", (long long)step);
    sp_tree *t = NULL;
    SP_TRY(sp_pipeline_state_tree(s, NULL, &t, err));
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    o.max_to_keep = max_to_keep;
    o.create = 1;
    sp_ckpt_manager *m = NULL;
    sp_status st = sp_ckpt_manager_open(&m, dir, &o, err);
    if (st == SP_OK) {
        sp_ckpt_save_args a;
        sp_ckpt_save_args_init(&a);
        a.force = 1; /* the caller chose this step; should_save's interval rule does not apply */
        st = sp_ckpt_save(m, step, t, &a, NULL, err);
        sp_error cerr;
        sp_status const cst = sp_ckpt_manager_close(m, -1, &cerr);
        if (st == SP_OK && cst != SP_OK) {
            st = cst;
            if (err) *err = cerr;
        }
    }
    sp_tree_free(t);
    return st;
}

/* ---- restoring ----------------------------------------------------------------------------- */

static sp_status json_leaf(const sp_tree *t, const char *path, json_t **out, sp_error *err)
{
    sp_leaf_view v;
    SP_RETURN_IF(sp_tree_find(t, path, &v) != SP_OK || v.kind != SP_LEAF_JSON, err, SP_ERR_CORRUPT,
                 "checkpoint: item \"%s\" is missing", path);
    json_error_t je;
    *out = json_loads(v.text, 0, &je);
    SP_RETURN_IF(*out == NULL, err, SP_ERR_CORRUPT, "checkpoint: item \"%s\": %s", path, je.text);
    return SP_OK;
}

static sp_status get_int(const json_t *o, const char *item, const char *key, int64_t *out, sp_error *err)
{
    const json_t *const v = json_object_get(o, key);
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return SP_OK;
    }
    SP_RETURN_IF(!json_is_integer(v), err, SP_ERR_CORRUPT, "checkpoint: %s: \"%s\" is missing or not an integer",
                 item, key);
    *out = (int64_t)json_integer_value(v);
    return SP_OK;
}

static sp_status get_pair(const json_t *o, const char *item, const char *key, uint64_t *a, uint64_t *b,
                          sp_error *err)
{
    const json_t *const v = json_object_get(o, key);
    SP_RETURN_IF(!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) ||
                     !json_is_integer(json_array_get(v, 1)),
                 err, SP_ERR_CORRUPT, "checkpoint: %s: \"%s\" is not a pair of integers", item, key);
    *a = (uint64_t)json_integer_value(json_array_get(v, 0));
    *b = (uint64_t)json_integer_value(json_array_get(v, 1));
    return SP_OK;
}

static sp_status parse_loader(const json_t *o, sp_records_state *st, sp_error *err)
{
    int64_t v[9];
    static const char *const keys[9] = {"version", "seed", "epoch", "next_position", "shard_index",
                                        "shard_count", "records", "shuffle", "loop"};
    for (int k = 0; k < 9; k++) SP_TRY(get_int(o, "loader", keys[k], &v[k], err));
    SP_RETURN_IF(v[0] != SP_PIPELINE_STATE_VERSION, err, SP_ERR_UNSUPPORTED,
                 "checkpoint: loader state version %lld; this build reads version %d", (long long)v[0],
                 SP_PIPELINE_STATE_VERSION);
    const char *const fp = json_string_value(json_object_get(o, "dataset_fingerprint"));
    char *end = NULL;
    SP_RETURN_IF(fp == NULL || strlen(fp) != 16, err, SP_ERR_CORRUPT, "checkpoint: loader: bad dataset_fingerprint");
    st->fingerprint = strtoull(fp, &end, 16);
    SP_RETURN_IF(*end != '\0', err, SP_ERR_CORRUPT, "checkpoint: loader: bad dataset_fingerprint");
    st->seed = (uint64_t)v[1];
    st->epoch = (uint64_t)v[2];
    st->next = (uint64_t)v[3];
    st->shard_index = (uint64_t)v[4];
    st->shard_count = (uint64_t)v[5];
    st->records = (uint64_t)v[6];
    st->randomize = (int)v[7];
    st->loop = (int)v[8];
    /* Absent before whole-refresh shards: a sharded state without it cannot be placed. */
    int64_t g = 0;
    st->global = SP_RECORDS_NO_GLOBAL;
    if (json_object_get(o, "global_position")) SP_TRY(get_int(o, "loader", "global_position", &g, err));
    if (json_object_get(o, "global_position")) st->global = (uint64_t)g;
    return SP_OK;
}

/* "stream_version" of the sampler item: 1 when absent (checkpoints written before it). */
static sp_status get_stream_version(const json_t *o, uint32_t *out, sp_error *err)
{
    int64_t v = 1;
    if (json_object_get(o, "stream_version") != NULL) SP_TRY(get_int(o, "sampler", "stream_version", &v, err));
    SP_RETURN_IF(v < 1 || v > UINT32_MAX, err, SP_ERR_CORRUPT, "checkpoint: sampler: bad stream_version %lld",
                 (long long)v);
    *out = (uint32_t)v;
    return SP_OK;
}

static sp_status check_stream_version(const sp_sampler_state *st, sp_error *err)
{
    SP_RETURN_IF(st->stream_version != SP_STREAM_VERSION, err, SP_ERR_MISMATCH,
                 "stream_version: the checkpoint was written by stream version %u; this build produces stream "
                 "version %d; finish that dataset with the synthpix release that started it, or start afresh",
                 (unsigned)st->stream_version, SP_STREAM_VERSION);
    return SP_OK;
}

static sp_status parse_sampler(const json_t *o, sp_sampler_state *st, sp_error *err)
{
    int64_t v[9];
    static const char *const keys[9] = {"version", "batch_size", "flow_fields_per_batch",
                                        "batches_per_flow_batch", "episode_length", "batch_index",
                                        "repetition", "have_flows", "episode"};
    for (int k = 0; k < 9; k++) SP_TRY(get_int(o, "sampler", keys[k], &v[k], err));
    SP_RETURN_IF(v[0] != SP_PIPELINE_STATE_VERSION, err, SP_ERR_UNSUPPORTED,
                 "checkpoint: sampler state version %lld; this build reads version %d", (long long)v[0],
                 SP_PIPELINE_STATE_VERSION);
    SP_TRY(get_pair(o, "sampler", "image_shape", &st->image_h, &st->image_w, err));
    SP_TRY(get_pair(o, "sampler", "flow_shape", &st->flow_h, &st->flow_w, err));
    SP_TRY(get_int(o, "sampler", "timestep", &st->loader.timestep, err));
    SP_TRY(get_stream_version(o, &st->stream_version, err));
    SP_RETURN_IF(v[6] < 0 || v[6] > UINT32_MAX, err, SP_ERR_CORRUPT, "checkpoint: sampler: bad repetition");
    st->batch_size = (uint64_t)v[1];
    st->flow_fields_per_batch = (uint64_t)v[2];
    st->batches_per_flow_batch = (uint64_t)v[3];
    st->loader.episode_length = v[4];
    st->batch_index = (uint64_t)v[5];
    st->repetition = (uint32_t)v[6];
    st->have_flows = v[7] != 0;
    st->loader.episode = (uint64_t)v[8];
    return SP_OK;
}

/* The cache arrays as parsed from a tree; freed by cache_free. */
typedef struct cache_buf {
    sp_record_ref *refs, *episode_refs;
    sp_flow *flows;
    size_t F;
} cache_buf;

static void cache_free(cache_buf *c)
{
    for (size_t f = 0; c->flows && f < c->F; f++) sp_flow_release(&c->flows[f]);
    free(c->flows);
    free(c->refs);
    free(c->episode_refs);
}

static sp_status array_leaf(const sp_tree *t, const char *path, sp_dtype dt, size_t ndim, const uint64_t *shape,
                            sp_leaf_view *v, sp_error *err)
{
    SP_RETURN_IF(sp_tree_find(t, path, v) != SP_OK || v->kind != SP_LEAF_ARRAY || v->data == NULL, err,
                 SP_ERR_CORRUPT, "checkpoint: item \"%s\" is missing", path);
    int ok = v->dtype == dt && v->ndim == ndim;
    for (size_t d = 0; ok && shape && d < ndim; d++) ok = v->shape[d] == shape[d];
    SP_RETURN_IF(!ok, err, SP_ERR_CORRUPT, "checkpoint: item \"%s\" has the wrong type or shape", path);
    return SP_OK;
}

/* Reads PREFIX/{positions,records,epochs,record_seeds,mask} into refs (F entries). */
static sp_status parse_refs(const sp_tree *t, const char *prefix, size_t F, sp_record_ref *refs,
                            const uint8_t **valid, sp_error *err)
{
    uint64_t const shape[1] = {F};
    sp_leaf_view v[5];
    static const char *const names[5] = {"positions", "records", "epochs", "record_seeds", "mask"};
    static const sp_dtype types[5] = {SP_DTYPE_U64, SP_DTYPE_U64, SP_DTYPE_U32, SP_DTYPE_U32, SP_DTYPE_BOOL};
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "%s/%s", prefix, names[i]);
        SP_TRY(array_leaf(t, path, types[i], 1, shape, &v[i], err));
    }
    for (size_t f = 0; f < F; f++) {
        memcpy(&refs[f].position, (const uint64_t *)v[0].data + f, sizeof(uint64_t));
        memcpy(&refs[f].record, (const uint64_t *)v[1].data + f, sizeof(uint64_t));
        memcpy(&refs[f].epoch, (const uint32_t *)v[2].data + f, sizeof(uint32_t));
        memcpy(&refs[f].seed, (const uint32_t *)v[3].data + f, sizeof(uint32_t));
    }
    *valid = (const uint8_t *)v[4].data;
    return SP_OK;
}

static sp_status parse_flows(const sp_tree *t, sp_sampler_state *st, cache_buf *c, sp_error *err)
{
    sp_leaf_view v;
    uint64_t const oshape[4] = {st->loader.F, st->flow_h, st->flow_w, 2};
    SP_TRY(array_leaf(t, "cache/output_flows", SP_DTYPE_F32, 4, oshape, &v, err));
    st->out_flows = (const float *)v.data;
    for (size_t f = 0; f < c->F; f++) {
        char path[64];
        snprintf(path, sizeof path, "cache/flows/%zu", f);
        SP_TRY(array_leaf(t, path, SP_DTYPE_F32, 3, NULL, &v, err));
        SP_TRY(sp_flow_alloc(&c->flows[f], (size_t)v.shape[0], (size_t)v.shape[1], (size_t)v.shape[2], err));
        memcpy(c->flows[f].data, v.data, v.nbytes);
    }
    st->loader.flows = c->flows;
    return SP_OK;
}

static sp_status parse_cache(const sp_tree *t, const sp_sampler *s, sp_sampler_state *st, cache_buf *c,
                             sp_error *err)
{
    sp_sampler_state me;
    sp__sampler_state_get(s, &me);
    sp_records_state *const ld = &st->loader;
    ld->F = me.loader.F;
    ld->files = me.loader.files; /* names follow from the records (the fingerprint vouches for them) */
    c->F = (size_t)me.loader.F;
    if (ld->episode_length > 0 && ld->timestep > 0) {
        c->episode_refs = (sp_record_ref *)calloc(c->F, sizeof *c->episode_refs);
        SP_RETURN_IF(c->episode_refs == NULL, err, SP_ERR_NOMEM, "out of memory");
        SP_TRY(parse_refs(t, "episode", c->F, c->episode_refs, &ld->episode_valid, err));
        ld->episode_refs = c->episode_refs;
    }
    if (!st->have_flows) return SP_OK;
    c->refs = (sp_record_ref *)calloc(c->F, sizeof *c->refs);
    c->flows = (sp_flow *)calloc(c->F, sizeof *c->flows);
    SP_RETURN_IF(c->refs == NULL || c->flows == NULL, err, SP_ERR_NOMEM, "out of memory");
    SP_TRY(parse_refs(t, "cache", c->F, c->refs, &ld->valid, err));
    ld->refs = c->refs;
    return parse_flows(t, st, c, err);
}

static sp_status parse_state(const sp_tree *t, const sp_sampler *s, sp_sampler_state *st, cache_buf *c,
                             sp_error *err)
{
    json_t *loader = NULL, *sampler = NULL;
    sp_status rc = json_leaf(t, "loader", &loader, err);
    if (rc == SP_OK) rc = json_leaf(t, "sampler", &sampler, err);
    if (rc == SP_OK) rc = parse_loader(loader, &st->loader, err);
    if (rc == SP_OK) rc = parse_sampler(sampler, st, err);
    json_decref(loader);
    json_decref(sampler);
    /* The stream version, then the identity, are checked before the cache is read: a
     * checkpoint of another stream is refused by name, not by a shape error deep in its
     * arrays. */
    if (rc == SP_OK) rc = check_stream_version(st, err);
    if (rc == SP_OK) rc = sp__sampler_state_check(s, st, err);
    if (rc == SP_OK) rc = parse_cache(t, s, st, c, err);
    return rc;
}

sp_status sp_pipeline_restore_tree(sp_sampler *s, const sp_tree *t, sp_error *err)
{
    sp_sampler_state st;
    memset(&st, 0, sizeof st);
    cache_buf c;
    memset(&c, 0, sizeof c);
    sp_status rc = parse_state(t, s, &st, &c, err);
    if (rc == SP_OK) rc = sp__sampler_state_set(s, &st, err);
    cache_free(&c);
    return rc;
}

static sp_status copy_user(const sp_tree *t, char **user_json, sp_error *err)
{
    sp_leaf_view v;
    *user_json = NULL;
    if (sp_tree_find(t, "user", &v) != SP_OK || v.kind != SP_LEAF_JSON) return SP_OK;
    *user_json = strdup(v.text);
    SP_RETURN_IF(*user_json == NULL, err, SP_ERR_NOMEM, "out of memory");
    return SP_OK;
}

sp_status sp_pipeline_restore(sp_ckpt_manager *m, int64_t step, sp_sampler *s, int64_t *restored_step,
                              char **user_json, sp_error *err)
{
    if (user_json) *user_json = NULL;
    SP_RETURN_IF(sp_ckpt_latest_step(m) == SP_CKPT_NONE, err, SP_ERR_NOTFOUND, "%s: no checkpoints found",
                 sp_ckpt_root(m));
    sp_ckpt_restore_args a;
    sp_ckpt_restore_args_init(&a);
    int64_t got = SP_CKPT_NONE;
    a.restored_step = &got;
    sp_tree *t = NULL;
    SP_TRY(sp_ckpt_restore(m, step, NULL, &a, &t, err));
    sp_status rc = sp_pipeline_restore_tree(s, t, err);
    if (rc != SP_OK) sp_error_prefix(err, "%s step %lld: ", sp_ckpt_root(m), (long long)got);
    if (rc == SP_OK && user_json) rc = copy_user(t, user_json, err);
    if (rc == SP_OK && restored_step) *restored_step = got;
    sp_tree_free(t);
    return rc;
}

sp_status sp_pipeline_restore_dir(sp_sampler *s, const char *dir, int64_t step, int64_t *restored_step,
                                  sp_error *err)
{
    SP_RETURN_IF(s == NULL || dir == NULL, err, SP_ERR_INVALID, "sp_pipeline_restore_dir: NULL argument");
    sp_ckpt_options o;
    sp_ckpt_options_init(&o);
    o.create = 0;
    o.read_only = 1;
    sp_ckpt_manager *m = NULL;
    sp_status rc = sp_ckpt_manager_open(&m, dir, &o, err);
    if (rc == SP_OK) rc = sp_pipeline_restore(m, step, s, restored_step, NULL, err);
    sp_ckpt_manager_close(m, -1, NULL);
    return rc;
}

sp_status sp_make(const sp_config *cfg, const char *load_from, int64_t step, const sp_sampler_options *opt,
                  sp_sampler **out, sp_error *err)
{
    *out = NULL;
    sp_sampler *s = NULL;
    SP_TRY(sp_sampler_create(&s, cfg, opt, err));
    if (load_from == NULL) {
        *out = s;
        return SP_OK;
    }
    sp_status const rc = sp_pipeline_restore_dir(s, load_from, step, NULL, err);
    if (rc != SP_OK) {
        sp_sampler_free(s);
        return rc;
    }
    *out = s;
    return SP_OK;
}
