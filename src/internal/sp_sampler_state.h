/* sp_sampler_state.h: the sampler's state as the pipeline module saves and restores it.
 *
 * This is the declared interface between src/sampler and src/pipeline (which turns the
 * state into a checkpoint tree and back); it is the only header of either module the
 * pipeline includes. The state has two owners, and the struct says which part is whose:
 *   loader   (src/loader, sp_records_state of sp_records.h) the record stream's identity,
 *            its position, the episodes and the current records with their record flows;
 *   sampler  (src/sampler) the batch identity (sizes, image and output-flow shapes), the
 *            batch counters and the output flows of the current records.
 * The functions below gather both: src/sampler implements them, asking its loader for the
 * loader's part, so the pipeline never sees either module's private headers.
 */
#ifndef SP_SAMPLER_STATE_H
#define SP_SAMPLER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_sampler.h"
#include "sp_records.h"

/* Everything a sampler needs to continue its stream exactly (docs/resume.md). Filled by
 * sp__sampler_state_get with pointers BORROWED from the sampler and its loader (valid until
 * the next call on the sampler); given to sp__sampler_state_set with pointers borrowed for
 * the call. */
typedef struct sp_sampler_state {
    /* The stream version the state continues (SP_STREAM_VERSION of sp_api.h). A property of
     * the build, not of either owner: sp__sampler_state_get leaves it 0 and the pipeline
     * writes SP_STREAM_VERSION; a parsed checkpoint carries its own (1 when absent), and
     * the pipeline refuses one of another version before the identity is compared. */
    uint32_t stream_version;
    sp_records_state loader;     /* the loader's part (identity, position, episodes, records) */
    /* The sampler's part. Identity: a restore into a sampler whose identity (this and the
     * loader's) differs is refused, naming the field. */
    uint64_t batch_size, flow_fields_per_batch, batches_per_flow_batch;
    uint64_t image_h, image_w, flow_h, flow_w;
    /* Counters. */
    uint64_t batch_index;        /* batches produced */
    uint32_t repetition;         /* batches produced from the current flows */
    int have_flows;              /* the current records' flows and out_flows are valid */
    /* The refresh cache's synthesis side: loader.F = min(batch_size, flow_fields_per_batch)
     * output flows. */
    const float *out_flows;      /* F * flow_h * flow_w * 2 output flows */
} sp_sampler_state;

/* Fills st from s and its loader; st's arrays point into them. */
void sp__sampler_state_get(const sp_sampler *s, sp_sampler_state *st);
/* Compares st's identity (both parts) with s's own, in one fixed order: SP_ERR_MISMATCH
 * naming the first differing field ("seed: the checkpoint was taken with seed 3; the
 * configuration has seed 4"). */
sp_status sp__sampler_state_check(const sp_sampler *s, const sp_sampler_state *st, sp_error *err);
/* Checks st (identity, then counters and references against hostile input), then copies it
 * into s and its loader (flows are copied). On error both are unchanged. */
sp_status sp__sampler_state_set(sp_sampler *s, const sp_sampler_state *st, sp_error *err);

#endif /* SP_SAMPLER_STATE_H */
