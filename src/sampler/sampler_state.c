/* sampler_state.c: the sampler's whole stream state, read out and put back.
 *
 * What continues a stream exactly (PRODUCT 8, reference 9.2 with the fix of PRODUCT 4.4):
 *   counters   the loader's next position, the batch index, the repetition index (batches
 *              made from the cached flows), whether the cache is valid, the episode state;
 *   cache      the F record references (position, record, epoch, record seed), their
 *              masks and names, the F intermediate record flows (each its own shape) AND
 *              the F output flows, so a restore taken mid-repetition returns the same
 *              flows without touching the flow files (which may be gone by then);
 *   episodes   in episodic mode, the F running episodes (loader refs) while one is under
 *              way (time step > 0);
 *   identity   seed, record count and a fingerprint of the record names (the resolved file
 *              list), batch geometry, image and output-flow shapes, episode length,
 *              randomize/loop and the shard: these define the stream (PRODUCT 5), so a
 *              state whose identity differs is refused, naming the field.
 * Nothing here knows about files or the checkpoint format: the pipeline module maps this
 * struct onto a checkpoint tree. Restores are all-or-nothing: every check and allocation
 * happens before the sampler is touched.
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sampler_internal.h"
#include "sampler_struct.h"

uint64_t sp__sampler_fingerprint(const sp_sampler *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    uint64_t const n = sp__source_count(s->src);
    for (uint64_t i = 0; i < n; i++) {
        /* The terminating NUL is hashed too, so name boundaries count. */
        for (const unsigned char *c = (const unsigned char *)sp__source_name(s->src, i);; c++) {
            h = (h ^ *c) * 0x100000001b3ull;
            if (*c == 0) break;
        }
    }
    for (int b = 0; b < 8; b++) h = (h ^ ((n >> (8 * b)) & 0xffu)) * 0x100000001b3ull;
    return h;
}

static void identity_of(const sp_sampler *s, sp_sampler_state *st)
{
    st->seed = s->cfg.seed;
    st->batch_size = (uint64_t)s->cfg.batch_size;
    st->flow_fields_per_batch = (uint64_t)s->cfg.flow_fields_per_batch;
    st->batches_per_flow_batch = (uint64_t)s->cfg.batches_per_flow_batch;
    st->image_h = s->geom.height;
    st->image_w = s->geom.width;
    st->flow_h = s->geom.flow_h;
    st->flow_w = s->geom.flow_w;
    st->episode_length = s->cfg.episode_length;
    st->randomize = s->cfg.randomize != 0;
    st->loop = s->cfg.loop != 0;
    st->records = sp__source_count(s->src); /* files, not episodes: the episode count follows from L */
    st->fingerprint = sp__sampler_fingerprint(s);
    st->shard_index = s->loader.shard_index;
    st->shard_count = s->loader.shard_count;
}

void sp__sampler_state_get(const sp_sampler *s, sp_sampler_state *st)
{
    memset(st, 0, sizeof *st);
    identity_of(s, st);
    st->loader_next = s->loader.next;
    st->loader_epoch = s->loader.per_epoch ? s->loader.next / s->loader.per_epoch : 0;
    st->batch_index = s->batch_index;
    st->repetition = s->rep;
    st->have_flows = s->have_flows;
    st->episode = s->episode;
    st->timestep = s->timestep;
    st->episode_refs = s->ep_refs;
    st->episode_valid = s->ep_valid;
    st->F = s->F;
    st->refs = s->refs;
    st->valid = s->valid;
    st->flows = s->flows;
    st->out_flows = s->out_flows;
    st->files = s->state_files;
    for (size_t f = 0; f < s->F; f++)
        s->state_files[f] = s->valid[f] ? sp__source_name(s->src, s->refs[f].record) : "";
}

#define SP_CHECK_FIELD(name, have, want)                                                                  \
    SP_RETURN_IF((have) != (want), err, SP_ERR_MISMATCH,                                                  \
                 "%s: the checkpoint was taken with %s %llu; the configuration has %s %llu", name, name, \
                 (unsigned long long)(have), name, (unsigned long long)(want))

sp_status sp__sampler_state_check(const sp_sampler *s, const sp_sampler_state *st, sp_error *err)
{
    sp_sampler_state me;
    memset(&me, 0, sizeof me);
    identity_of(s, &me);
    SP_CHECK_FIELD("seed", st->seed, me.seed);
    SP_RETURN_IF(st->records != me.records || st->fingerprint != me.fingerprint, err, SP_ERR_MISMATCH,
                 "file_list: the checkpoint was taken with %llu records (fingerprint %016llx); the configuration "
                 "gives %llu records (fingerprint %016llx)",
                 (unsigned long long)st->records, (unsigned long long)st->fingerprint,
                 (unsigned long long)me.records, (unsigned long long)me.fingerprint);
    SP_CHECK_FIELD("batch_size", st->batch_size, me.batch_size);
    SP_CHECK_FIELD("flow_fields_per_batch", st->flow_fields_per_batch, me.flow_fields_per_batch);
    SP_CHECK_FIELD("batches_per_flow_batch", st->batches_per_flow_batch, me.batches_per_flow_batch);
    SP_RETURN_IF(st->image_h != me.image_h || st->image_w != me.image_w, err, SP_ERR_MISMATCH,
                 "image_shape: the checkpoint was taken with image_shape [%llu, %llu]; the configuration has "
                 "[%llu, %llu]", (unsigned long long)st->image_h, (unsigned long long)st->image_w,
                 (unsigned long long)me.image_h, (unsigned long long)me.image_w);
    SP_RETURN_IF(st->flow_h != me.flow_h || st->flow_w != me.flow_w, err, SP_ERR_MISMATCH,
                 "velocities_per_pixel: the checkpoint's output flows are %llux%llu; the configuration gives "
                 "%llux%llu", (unsigned long long)st->flow_h, (unsigned long long)st->flow_w,
                 (unsigned long long)me.flow_h, (unsigned long long)me.flow_w);
    SP_CHECK_FIELD("episode_length", st->episode_length, me.episode_length);
    SP_CHECK_FIELD("randomize", st->randomize, me.randomize);
    SP_CHECK_FIELD("loop", st->loop, me.loop);
    SP_CHECK_FIELD("shard_count", st->shard_count, me.shard_count);
    SP_CHECK_FIELD("shard_index", st->shard_index, me.shard_index);
    return SP_OK;
}

/* The counters and references must be usable as they are: hostile or damaged input must
 * not index outside the source or the cache. */
static sp_status check_cache(const sp_sampler *s, const sp_sampler_state *st, sp_error *err)
{
    SP_RETURN_IF(st->F != s->F, err, SP_ERR_CORRUPT, "sampler state: %llu cached flows, expected %zu",
                 (unsigned long long)st->F, s->F);
    SP_RETURN_IF(st->repetition > (uint64_t)s->cfg.batches_per_flow_batch, err, SP_ERR_CORRUPT,
                 "sampler state: repetition %u exceeds batches_per_flow_batch", st->repetition);
    SP_RETURN_IF(st->episode_length > 0 && (st->timestep < 0 || st->timestep > st->episode_length), err,
                 SP_ERR_CORRUPT, "sampler state: time step %lld outside the episode", (long long)st->timestep);
    if (st->episode_length > 0 && st->timestep > 0) {
        SP_RETURN_IF(st->episode_refs == NULL || st->episode_valid == NULL, err, SP_ERR_CORRUPT,
                     "sampler state: running episodes missing");
        for (size_t f = 0; f < s->F; f++)
            SP_RETURN_IF(st->episode_refs[f].record >= s->loader.records, err, SP_ERR_CORRUPT,
                         "sampler state: episode %llu out of range", (unsigned long long)st->episode_refs[f].record);
    }
    if (!st->have_flows) return SP_OK;
    SP_RETURN_IF(st->refs == NULL || st->valid == NULL || st->flows == NULL || st->out_flows == NULL, err,
                 SP_ERR_CORRUPT, "sampler state: cached flows missing");
    for (size_t f = 0; f < s->F; f++) {
        SP_RETURN_IF(st->refs[f].record >= sp__source_count(s->src), err, SP_ERR_CORRUPT,
                     "sampler state: cached record %llu out of range", (unsigned long long)st->refs[f].record);
        SP_RETURN_IF(st->flows[f].data == NULL || (st->flows[f].channels != 2 && st->flows[f].channels != 3), err,
                     SP_ERR_CORRUPT, "sampler state: cached flow %zu is malformed", f);
    }
    return SP_OK;
}

static void release_flows(sp_flow *flows, size_t n)
{
    for (size_t f = 0; flows && f < n; f++) sp_flow_release(&flows[f]);
    free(flows);
}

static sp_status copy_flows(const sp_sampler_state *st, size_t F, sp_flow **out, sp_error *err)
{
    sp_flow *const flows = (sp_flow *)calloc(F, sizeof *flows);
    SP_RETURN_IF(flows == NULL, err, SP_ERR_NOMEM, "out of memory");
    for (size_t f = 0; f < F; f++) {
        const sp_flow *const src = &st->flows[f];
        sp_status const rc = sp_flow_alloc(&flows[f], src->height, src->width, src->channels, err);
        if (rc != SP_OK) {
            release_flows(flows, F);
            return rc;
        }
        memcpy(flows[f].data, src->data, src->height * src->width * src->channels * sizeof(float));
    }
    *out = flows;
    return SP_OK;
}

sp_status sp__sampler_state_set(sp_sampler *s, const sp_sampler_state *st, sp_error *err)
{
    SP_TRY(sp__sampler_state_check(s, st, err));
    SP_TRY(check_cache(s, st, err));
    sp_flow *flows = NULL;
    if (st->have_flows) SP_TRY(copy_flows(st, s->F, &flows, err));
    if (flows) {
        release_flows(s->flows, s->F);
        s->flows = flows;
        memcpy(s->refs, st->refs, s->F * sizeof *s->refs);
        memcpy(s->valid, st->valid, s->F);
        memcpy(s->out_flows, st->out_flows, s->F * s->geom.flow_h * s->geom.flow_w * 2 * sizeof(float));
    }
    s->loader.next = st->loader_next;
    s->batch_index = st->batch_index;
    s->rep = st->repetition;
    s->have_flows = st->have_flows;
    s->episode = st->episode;
    s->timestep = st->timestep;
    if (st->episode_length > 0 && st->timestep > 0) {
        memcpy(s->ep_refs, st->episode_refs, s->F * sizeof *s->ep_refs);
        memcpy(s->ep_valid, st->episode_valid, s->F);
    }
    return SP_OK;
}
