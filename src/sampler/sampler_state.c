/* sampler_state.c: the sampler's whole stream state, read out and put back.
 *
 * What continues a stream exactly (docs/resume.md; SynthPix's saved state with our fix:
 * docs/synthpix-compat.md, Checkpoint state and D4) comes from two owners
 * (src/internal/sp_sampler_state.h):
 *   loader     (src/loader, records_state.c) the stream identity of the records, the next
 *              position, the episode state, and the F current records: references
 *              (position, record, epoch, record seed), masks, names and record flows (each
 *              its own shape);
 *   sampler    (here) the batch identity (batch sizes, image and output-flow shapes), the
 *              batch index, the repetition index (batches made from the current flows),
 *              whether the cache is valid, and the F output flows, so a restore taken
 *              mid-repetition returns the same flows without touching the flow files.
 * The identity (seed, record count and fingerprint of the record names, batch geometry,
 * shapes, episode length, randomize/loop) defines the stream (docs/determinism.md, The
 * stream's identity): a state whose identity differs is refused, naming the field. The shard
 * is not identity: a state of another shard, taken between two refreshes, continues the
 * global stream from its global position as this sampler's shard (the elastic rule;
 * docs/resume.md); inside a refresh, or in episodic mode, only the same shard continues.
 * Both parts are compared here, in one fixed order, so the message names the same field
 * whichever part differs.
 * Nothing here knows about files or the checkpoint format: the pipeline module maps this
 * struct onto a checkpoint tree. Restores are all-or-nothing: every check happens first,
 * then the loader puts its part back (all its checks and copies before it changes), then
 * the sampler's part, which cannot fail.
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "sampler_internal.h"
#include "sampler_struct.h"
#include "sp_records.h"

static void sampler_identity(const sp_sampler *s, sp_sampler_state *st)
{
    st->batch_size = (uint64_t)s->cfg.batch_size;
    st->flow_fields_per_batch = (uint64_t)s->cfg.flow_fields_per_batch;
    st->batches_per_flow_batch = (uint64_t)s->cfg.batches_per_flow_batch;
    st->image_h = s->geom.height;
    st->image_w = s->geom.width;
    st->flow_h = s->geom.flow_h;
    st->flow_w = s->geom.flow_w;
}

void sp__sampler_state_get(const sp_sampler *s, sp_sampler_state *st)
{
    memset(st, 0, sizeof *st);
    sp__records_state_get(s->records, &st->loader);
    sampler_identity(s, st);
    st->batch_index = s->batch_index;
    st->repetition = s->rep;
    st->have_flows = s->have_flows;
    st->out_flows = s->out_flows;
}

#define SP_CHECK_FIELD(name, have, want)                                                                  \
    SP_RETURN_IF((have) != (want), err, SP_ERR_MISMATCH,                                                  \
                 "%s: the checkpoint was taken with %s %llu; the configuration has %s %llu", name, name, \
                 (unsigned long long)(have), name, (unsigned long long)(want))

/* The fields shown to users as shapes. */
static sp_status check_shapes(const sp_sampler_state *st, const sp_sampler_state *me, sp_error *err)
{
    SP_RETURN_IF(st->image_h != me->image_h || st->image_w != me->image_w, err, SP_ERR_MISMATCH,
                 "image_shape: the checkpoint was taken with image_shape [%llu, %llu]; the configuration has "
                 "[%llu, %llu]", (unsigned long long)st->image_h, (unsigned long long)st->image_w,
                 (unsigned long long)me->image_h, (unsigned long long)me->image_w);
    SP_RETURN_IF(st->flow_h != me->flow_h || st->flow_w != me->flow_w, err, SP_ERR_MISMATCH,
                 "velocities_per_pixel: the checkpoint's output flows are %llux%llu; the configuration gives "
                 "%llux%llu", (unsigned long long)st->flow_h, (unsigned long long)st->flow_w,
                 (unsigned long long)me->flow_h, (unsigned long long)me->flow_w);
    return SP_OK;
}

static int same_shard(const sp_sampler_state *a, const sp_sampler_state *b)
{
    return a->loader.shard_index == b->loader.shard_index && a->loader.shard_count == b->loader.shard_count;
}

/* Between two refreshes: the state's records are all used (or none was taken yet). */
static int at_refresh_boundary(const sp_sampler *s, const sp_sampler_state *st)
{
    return st->repetition >= (uint64_t)s->cfg.batches_per_flow_batch || (!st->have_flows && st->repetition == 0);
}

/* Another shard continues the global stream (Grain's elastic rule) from a refresh boundary
 * of a non-episodic stream; inside a refresh only the same shard can continue. */
static sp_status check_shard(const sp_sampler *s, const sp_sampler_state *st, const sp_sampler_state *me,
                             sp_error *err)
{
    if (same_shard(st, me)) return SP_OK;
    const sp_records_state *const a = &st->loader, *const b = &me->loader;
    const char *const field = a->shard_count != b->shard_count ? "shard_count" : "shard_index";
    SP_RETURN_IF(s->cfg.episode_length > 0, err, SP_ERR_MISMATCH,
                 "%s: the checkpoint was taken as shard %llu of %llu; an episodic stream continues only on its own "
                 "shard (this sampler is shard %llu of %llu)", field, (unsigned long long)a->shard_index,
                 (unsigned long long)a->shard_count, (unsigned long long)b->shard_index, (unsigned long long)b->shard_count);
    SP_RETURN_IF(!at_refresh_boundary(s, st), err, SP_ERR_MISMATCH,
                 "%s: the checkpoint was taken as shard %llu of %llu inside a refresh (repetition %u of %llu); it "
                 "continues only as that shard, or from a checkpoint between refreshes (this sampler is shard %llu of "
                 "%llu)", field, (unsigned long long)a->shard_index, (unsigned long long)a->shard_count,
                 (unsigned)st->repetition, (unsigned long long)st->batches_per_flow_batch,
                 (unsigned long long)b->shard_index, (unsigned long long)b->shard_count);
    return SP_OK;
}

sp_status sp__sampler_state_check(const sp_sampler *s, const sp_sampler_state *st, sp_error *err)
{
    sp_sampler_state me;
    sp__sampler_state_get(s, &me);
    const sp_records_state *const a = &st->loader, *const b = &me.loader;
    SP_CHECK_FIELD("seed", a->seed, b->seed);
    SP_RETURN_IF(a->records != b->records || a->fingerprint != b->fingerprint, err, SP_ERR_MISMATCH,
                 "file_list: the checkpoint was taken with %llu records (fingerprint %016llx); the configuration "
                 "gives %llu records (fingerprint %016llx)",
                 (unsigned long long)a->records, (unsigned long long)a->fingerprint, (unsigned long long)b->records,
                 (unsigned long long)b->fingerprint);
    SP_CHECK_FIELD("batch_size", st->batch_size, me.batch_size);
    SP_CHECK_FIELD("flow_fields_per_batch", st->flow_fields_per_batch, me.flow_fields_per_batch);
    SP_CHECK_FIELD("batches_per_flow_batch", st->batches_per_flow_batch, me.batches_per_flow_batch);
    SP_TRY(check_shapes(st, &me, err));
    SP_CHECK_FIELD("episode_length", a->episode_length, b->episode_length);
    SP_CHECK_FIELD("randomize", a->randomize, b->randomize);
    SP_CHECK_FIELD("loop", a->loop, b->loop);
    return check_shard(s, st, &me, err);
}

/* The sampler's counters and cache must be usable as they are (hostile or damaged input);
 * the loader checks its own part in sp__records_state_set. */
static sp_status check_cache(const sp_sampler *s, const sp_sampler_state *st, sp_error *err)
{
    SP_RETURN_IF(st->loader.F != s->F, err, SP_ERR_CORRUPT, "sampler state: %llu cached flows, expected %zu",
                 (unsigned long long)st->loader.F, s->F);
    SP_RETURN_IF(st->repetition > (uint64_t)s->cfg.batches_per_flow_batch, err, SP_ERR_CORRUPT,
                 "sampler state: repetition %u exceeds batches_per_flow_batch", st->repetition);
    SP_RETURN_IF(st->have_flows && st->out_flows == NULL, err, SP_ERR_CORRUPT, "sampler state: cached flows missing");
    return SP_OK;
}

sp_status sp__sampler_state_set(sp_sampler *s, const sp_sampler_state *st, sp_error *err)
{
    SP_TRY(sp__sampler_state_check(s, st, err));
    SP_TRY(check_cache(s, st, err));
    sp_sampler_state me;
    sp__sampler_state_get(s, &me);
    if (!same_shard(st, &me)) { /* elastic: this shard's part of the global stream from there */
        SP_TRY(sp__records_state_set(s->records, &st->loader, 0, err));
        uint64_t const per_refresh = s->cfg.include_images ? 1 : (uint64_t)s->cfg.batches_per_flow_batch;
        s->batch_index = me.loader.shard_count == 1 ? st->loader.global / s->F * per_refresh : 0;
        s->rep = 0;
        s->have_flows = 0;
        return SP_OK;
    }
    SP_TRY(sp__records_state_set(s->records, &st->loader, st->have_flows, err));
    /* Nothing fails past this point. */
    if (st->have_flows)
        memcpy(s->out_flows, st->out_flows, s->F * s->geom.flow_h * s->geom.flow_w * 2 * sizeof(float));
    s->batch_index = st->batch_index;
    s->rep = st->repetition;
    s->have_flows = st->have_flows;
    return SP_OK;
}
