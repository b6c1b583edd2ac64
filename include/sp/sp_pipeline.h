/* synthpix: pause and resume of the generation stream (SynthPix's save_checkpoint and
 * make(config, load_from); docs/resume.md).
 *
 *     sp_save_checkpoint("ckpts", sampler, step, 3, &err);     every so often
 *     ...
 *     sp_sampler *s;
 *     sp_make(&cfg, "ckpts", SP_CKPT_LATEST, NULL, &s, &err);   after a restart
 *     sp_sampler_next(s, &b, &err);                             the batch that came next
 *
 * A checkpoint step holds the sampler state and the loader state, committed together by
 * the checkpoint manager (one atomic rename): counters, the repetition index, the cached
 * record flows and output flows, record references, seeds, epochs, masks and names, and a
 * small JSON loader state (seed, epoch, next position, shard, dataset fingerprint). The
 * batches after a restore are byte-identical to those an uninterrupted sampler would have
 * produced. A checkpoint taken with another seed, file list, batch geometry, image shape,
 * episode length or randomize/loop is refused with SP_ERR_MISMATCH naming the field. A
 * checkpoint of another shard (sp_sampler_options) continues the global stream from the
 * position it records, as this sampler's shard (Grain's elastic rule), unless it was taken
 * inside a refresh. docs/resume.md has the layout and the guarantees.
 *
 * Thread safety: these functions use the sampler from the calling thread only; the sampler
 * must not be used by another thread during the call.
 */
#ifndef SP_PIPELINE_H
#define SP_PIPELINE_H

#include <stdint.h> /* int64_t */

#include "sp/sp_api.h"
#include "sp/sp_ckpt.h"
#include "sp/sp_config.h"
#include "sp/sp_errors.h"
#include "sp/sp_sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SP_PIPELINE_STATE_VERSION 1 /* "version" of the saved sampler and loader JSON */

/* Saves the sampler's state as checkpoint `step` (>= 0) under dir (created when missing),
 * keeping the newest max_to_keep steps (-1 = all; the latest is never deleted). Returns
 * after the step is durable. dir and s are borrowed for the call. Errors: those of
 * sp_ckpt_save (SP_ERR_EXISTS when the step is already committed, SP_ERR_LOCKED, ...). */
SP_API sp_status sp_save_checkpoint(const char *dir, const sp_sampler *s, int64_t step, int64_t max_to_keep,
                                    sp_error *err);

/* Creates a sampler for cfg (copied) and, when load_from is not NULL, restores checkpoint
 * `step` of that root (SP_CKPT_LATEST = the newest committed step). opt as for
 * sp_sampler_create (NULL = defaults; another shard continues the global stream, see
 * above).
 * Errors: SP_ERR_NOTFOUND (no such root or no committed step), SP_ERR_MISMATCH (the
 * checkpoint belongs to another stream; the message names the field), checksum and
 * corruption errors of the checkpoint manager, and sp_sampler_create's. *out is NULL on
 * error. */
SP_API sp_status sp_make(const sp_config *cfg, const char *load_from, int64_t step, const sp_sampler_options *opt,
                         sp_sampler **out, sp_error *err);

/* sp_make's restore half for a sampler that already exists (a binding creates the sampler
 * and restores it as two steps, so that a configuration error and a checkpoint error are
 * told apart): opens the root `dir` read-only and restores checkpoint `step` of it
 * (SP_CKPT_LATEST = the newest committed step) into s. *restored_step (NULL allowed)
 * receives the step restored. Errors as sp_make's restore; on error s is untouched. */
SP_API sp_status sp_pipeline_restore_dir(sp_sampler *s, const char *dir, int64_t step, int64_t *restored_step,
                                         sp_error *err);

/* ---- advanced: building blocks for callers that manage the checkpoint root ------------ */

/* The tree a checkpoint step holds for s. user_json (NULL = none) is any JSON document
 * stored as leaf "user" (the CLI keeps its own progress there). *out: free with
 * sp_tree_free. Array leaves reference the sampler's memory (no copy): save the tree
 * before the next call on the sampler. */
SP_API sp_status sp_pipeline_state_tree(const sp_sampler *s, const char *user_json, sp_tree **out, sp_error *err);
/* Restores s from a tree built by sp_pipeline_state_tree (restored with or without a
 * target). All checks happen before s changes: on error s is untouched. */
SP_API sp_status sp_pipeline_restore_tree(sp_sampler *s, const sp_tree *t, sp_error *err);
/* sp_make's restore half for an open manager: restores `step` into s; *restored_step
 * (NULL allowed) receives the step, *user_json (NULL allowed) a copy of the "user" leaf or
 * NULL (free with free()). */
SP_API sp_status sp_pipeline_restore(sp_ckpt_manager *m, int64_t step, sp_sampler *s, int64_t *restored_step,
                                     char **user_json, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SP_PIPELINE_H */
