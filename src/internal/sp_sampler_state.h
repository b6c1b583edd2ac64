/* sp_sampler_state.h: the sampler's state as the pipeline module saves and restores it.
 *
 * This is the declared interface between src/sampler (which owns the state) and
 * src/pipeline (which turns it into a checkpoint tree and back). Nothing else uses it.
 * The sampler module implements every function here.
 */
#ifndef SP_SAMPLER_STATE_H
#define SP_SAMPLER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_sampler.h"

/* One record of the stream: where it sits in the global stream and which source record
 * it is. */
typedef struct sp_record_ref {
    uint64_t position; /* global stream position p = epoch * n + t */
    uint64_t record;   /* index into the source */
    uint32_t epoch;
    uint32_t seed;     /* 32-bit record seed derived from (seed, p) */
} sp_record_ref;

/* ---- sampler state (sampler_state.c), saved and restored by the pipeline module ---- */

/* Everything a sampler needs to continue its stream exactly (PRODUCT 8). Filled by
 * sp__sampler_state_get with pointers BORROWED from the sampler (valid until the next
 * call on it); given to sp__sampler_state_set with pointers borrowed for the call. */
typedef struct sp_sampler_state {
    /* Identity: a restore into a sampler whose identity differs is refused, naming the field. */
    uint64_t seed;
    uint64_t batch_size, flow_fields_per_batch, batches_per_flow_batch;
    uint64_t image_h, image_w, flow_h, flow_w;
    int64_t episode_length;
    int randomize, loop;
    uint64_t records;            /* records per epoch of the source */
    uint64_t fingerprint;        /* FNV-1a 64 of the record names (the resolved file list) */
    uint64_t shard_index, shard_count;
    /* Counters. */
    uint64_t loader_next;        /* next position of this shard's stream */
    uint64_t loader_epoch;       /* epoch of that position (informative) */
    uint64_t batch_index;        /* batches produced */
    uint32_t repetition;         /* batches produced from the cached flows */
    int have_flows;              /* the cache below is valid */
    /* Episodic mode (episode_length > 0). */
    uint64_t episode;            /* episodes started */
    int64_t timestep;            /* time step of the next batch; L = ended */
    const sp_record_ref *episode_refs; /* F running episodes (record = episode start index) */
    const uint8_t *episode_valid;      /* F */
    /* The refresh cache: F = min(batch_size, flow_fields_per_batch) entries. */
    uint64_t F;
    const sp_record_ref *refs;   /* F */
    const uint8_t *valid;        /* F: 1 = real record, 0 = padding */
    const sp_flow *flows;        /* F intermediate (record) flows, each with its own shape */
    const float *out_flows;      /* F * flow_h * flow_w * 2 output flows */
    const char *const *files;    /* F record names ("" for padding) */
} sp_sampler_state;

/* Fills st from s; st's arrays point into s. */
void sp__sampler_state_get(const sp_sampler *s, sp_sampler_state *st);
/* Compares st's identity with s's own: SP_ERR_MISMATCH naming the first differing field
 * ("seed: the checkpoint was taken with seed 3; the configuration has seed 4"). */
sp_status sp__sampler_state_check(const sp_sampler *s, const sp_sampler_state *st, sp_error *err);
/* Checks st, then copies it into s (flows are copied). On error s is unchanged. */
sp_status sp__sampler_state_set(sp_sampler *s, const sp_sampler_state *st, sp_error *err);
/* FNV-1a 64 over the names of every record of the source, and the count. */
uint64_t sp__sampler_fingerprint(const sp_sampler *s);

#endif /* SP_SAMPLER_STATE_H */
