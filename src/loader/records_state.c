/* records_state.c: the loader's part of a sampler's saved state, read out and put back.
 *
 * What the loader contributes (sp_records_state; the sampler gathers it with its own part
 * in sampler_state.c, and the pipeline maps the whole onto a checkpoint tree):
 *   identity   seed, randomize/loop, episode length, record count, a fingerprint of the
 *              record names (the resolved file list, hashed once at creation) and the
 *              shard: they define the record stream; the sampler compares them, with its
 *              own, in one fixed order;
 *   position   the order's next stream position (and its epoch, informative) and the
 *              global position shards in lockstep have read up to: a state of another
 *              shard is placed there (the elastic restore: this shard's blocks from it);
 *   episodes   the episode counter, the time step and, while an episode is under way, the
 *              F running episodes;
 *   records    the F current records: refs, validity, names and record flows, so a
 *              restore taken mid-repetition gets the same flows without touching the flow
 *              files (which may be gone by then).
 * A restore is all-or-nothing: every check and allocation happens before r is touched, and
 * the saved values are treated as hostile (nothing may index outside the source, the
 * episodes or the current records).
 */
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"
#include "loader_internal.h"

void sp__records_state_get(const sp_records *r, sp_records_state *st)
{
    memset(st, 0, sizeof *st);
    st->seed = r->order.seed;
    st->randomize = r->randomize != 0;
    st->loop = r->loop != 0;
    st->episode_length = r->episode_length;
    st->records = sp__source_count(r->src); /* files, not episodes: the episode count follows from L */
    st->fingerprint = sp__source_fingerprint(r->src);
    st->shard_index = r->order.shard_index;
    st->shard_count = r->order.shard_count;
    st->next = r->order.next;
    sp_record_ref next;
    sp__loader_ref(&r->order, r->order.next, &next);
    st->epoch = next.epoch;
    st->global = sp__loader_global(&r->order);
    st->episode = r->episode;
    st->timestep = r->timestep;
    st->episode_refs = r->ep_refs;
    st->episode_valid = r->ep_valid;
    st->F = r->count;
    st->refs = r->refs;
    st->valid = r->valid;
    st->flows = r->flows;
    st->files = r->names;
    st->loader = r;
}

static sp_status check_episodes(const sp_records *r, const sp_records_state *st, sp_error *err)
{
    SP_RETURN_IF(st->episode_length > 0 && (st->timestep < 0 || st->timestep > st->episode_length), err,
                 SP_ERR_CORRUPT, "sampler state: time step %lld outside the episode", (long long)st->timestep);
    if (st->episode_length <= 0 || st->timestep == 0) return SP_OK;
    SP_RETURN_IF(st->episode_refs == NULL || st->episode_valid == NULL, err, SP_ERR_CORRUPT,
                 "sampler state: running episodes missing");
    for (size_t f = 0; f < r->count; f++)
        SP_RETURN_IF(st->episode_refs[f].record >= r->order.records, err, SP_ERR_CORRUPT,
                     "sampler state: episode %llu out of range", (unsigned long long)st->episode_refs[f].record);
    return SP_OK;
}

static sp_status check_records(const sp_records *r, const sp_records_state *st, sp_error *err)
{
    SP_RETURN_IF(st->refs == NULL || st->valid == NULL || st->flows == NULL, err, SP_ERR_CORRUPT,
                 "sampler state: cached flows missing");
    for (size_t f = 0; f < r->count; f++) {
        SP_RETURN_IF(st->refs[f].record >= sp__source_count(r->src), err, SP_ERR_CORRUPT,
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

static sp_status copy_flows(const sp_flow *src, size_t F, sp_flow **out, sp_error *err)
{
    sp_flow *const flows = (sp_flow *)calloc(F, sizeof *flows);
    SP_RETURN_IF(flows == NULL, err, SP_ERR_NOMEM, "out of memory");
    for (size_t f = 0; f < F; f++) {
        sp_status const rc = sp_flow_alloc(&flows[f], src[f].height, src[f].width, src[f].channels, err);
        if (rc != SP_OK) {
            release_flows(flows, F);
            return rc;
        }
        memcpy(flows[f].data, src[f].data, src[f].height * src[f].width * src[f].channels * sizeof(float));
    }
    *out = flows;
    return SP_OK;
}

/* Where this shard's stream goes: the saved one (same shard), or this shard's part of the
 * global stream from the saved global position (another shard: the elastic restore). */
static sp_status placement(const sp_records *r, const sp_records_state *st, sp_loader *order, sp_error *err)
{
    uint64_t const F = r->count, count = st->shard_count;
    int const same = st->shard_index == r->order.shard_index && count == r->order.shard_count;
    *order = r->order;
    if (same && count == 1) { /* unsharded: the position is the global one, as always */
        order->base = 0;
        order->next = st->next;
        return SP_OK;
    }
    uint64_t const global = st->global != SP_RECORDS_NO_GLOBAL ? st->global : (count == 1 ? st->next : st->global);
    SP_RETURN_IF(global == SP_RECORDS_NO_GLOBAL, err, SP_ERR_MISMATCH,
                 "shard_count: the checkpoint of shard %llu of %llu has no global position (an older synthpix, whose "
                 "shards split each epoch's records); it cannot be continued", (unsigned long long)st->shard_index,
                 (unsigned long long)count);
    SP_RETURN_IF(count == 0 || st->shard_index >= count || global % F != 0 || st->next % F != 0 ||
                     global / F < st->next / F * count,
                 err, SP_ERR_CORRUPT, "sampler state: global position %llu does not fit shard %llu of %llu at %llu",
                 (unsigned long long)global, (unsigned long long)st->shard_index, (unsigned long long)count,
                 (unsigned long long)st->next);
    if (same) {
        order->base = global / F - st->next / F * count;
        order->next = st->next;
    } else if (r->order.shard_count == 1) {
        order->base = 0;
        order->next = global;
    } else {
        sp__loader_rebase(order, global / F);
    }
    return SP_OK;
}

sp_status sp__records_state_set(sp_records *r, const sp_records_state *st, int with_records, sp_error *err)
{
    SP_RETURN_IF(st->F != r->count, err, SP_ERR_CORRUPT, "sampler state: %llu cached flows, expected %zu",
                 (unsigned long long)st->F, r->count);
    SP_TRY(check_episodes(r, st, err));
    sp_loader order;
    SP_TRY(placement(r, st, &order, err));
    sp_prefetch *fresh = NULL; /* the prefetcher's copy of the order must follow a new base */
    if (r->prefetch && order.base != r->order.base)
        SP_TRY(sp__prefetch_create(&fresh, r->src, &order, r->prefetch_threads, 2 * r->count, err));
    sp_flow *flows = NULL;
    sp_status rc = with_records ? check_records(r, st, err) : SP_OK;
    if (rc == SP_OK && with_records) rc = copy_flows(st->flows, r->count, &flows, err);
    if (rc != SP_OK) {
        sp__prefetch_free(fresh);
        return rc;
    }
    if (fresh) {
        sp__prefetch_free(r->prefetch);
        r->prefetch = fresh;
    }
    if (with_records) {
        /* Nothing fails past this point. */
        for (size_t f = 0; f < r->count; f++) sp__mapping_drop(&r->flows[f], &r->maps[f]);
        release_flows(r->flows, r->count);
        r->flows = flows;
        for (size_t f = 0; f < r->count; f++) r->flow_cap[f] = flows[f].height * flows[f].width * flows[f].channels;
        memcpy(r->refs, st->refs, r->count * sizeof *r->refs);
        memcpy(r->valid, st->valid, r->count);
        sp__records_sync_names(r);
    }
    r->order = order;
    r->episode = st->episode;
    r->timestep = st->timestep;
    if (st->episode_length > 0 && st->timestep > 0) {
        memcpy(r->ep_refs, st->episode_refs, r->count * sizeof *r->ep_refs);
        memcpy(r->ep_valid, st->episode_valid, r->count);
    }
    return SP_OK;
}
