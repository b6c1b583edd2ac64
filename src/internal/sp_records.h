/* sp_records.h: record loading (src/loader) as the sampler (src/sampler) uses it.
 *
 * This is the declared interface between src/loader, which decides which records come next
 * and reads them, and src/sampler, which turns records into image pairs. src/loader
 * implements every function here; src/sampler is its only library caller (and, through
 * sp_sampler_state.h, the pipeline sees the sp_records_state part of a sampler's state);
 * tests/unit/test_loader.c tests it without a sampler.
 *
 * Who owns what:
 *   src/loader   the source (record count, names, reading), the order (seeded Feistel
 *                permutation per epoch, epochs, shards, record seeds: the stream position),
 *                the prefetch threads, the episodes of episodic mode (episode list, running
 *                episodes, episode counter, time step), and the `count` CURRENT records it
 *                hands out: their refs, validity, names and record flows (each on its own
 *                grid, as read). Current records stay unchanged until the next call that
 *                takes, steps, loads, resets or restores them.
 *   src/sampler  everything computed from the current records (the output flows on the
 *                output grid, particles, images), and when to ask for new records
 *                (batches_per_flow_batch and the repetition index are batching rules).
 *
 * A refresh is sp__records_take (or sp__records_step in episodic mode) followed by
 * sp__records_load; real image pairs (include_images) take records and read each one with
 * its images through sp__records_read_pair instead of sp__records_load.
 *
 * Thread safety: a loader is used by one thread at a time (the sampler's caller). Between
 * two calls that change it, the read-only functions taking `const sp_records *` may be
 * called from any number of threads at once (the sampler's pool workers read current
 * records and read real pairs concurrently). sp__records_load runs its loads on the pool it
 * was given (borrowed) and, with prefetch threads, takes records the loader's own threads
 * loaded ahead; those threads only read the source, which is immutable after creation.
 */
#ifndef SP_RECORDS_H
#define SP_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_config.h"
#include "sp/sp_errors.h"
#include "sp/sp_flow.h"
#include "sp/sp_pool.h"
#include "sp/sp_sampler.h"

/* One record of the stream: where it sits in the global stream and which source record
 * it is. */
typedef struct sp_record_ref {
    uint64_t position; /* global stream position p = epoch * n + t */
    uint64_t record;   /* index into the source */
    uint32_t epoch;
    uint32_t seed;     /* 32-bit record seed derived from (seed, p) */
} sp_record_ref;

typedef struct sp_records sp_records;

/* ---- lifetime ------------------------------------------------------------------------ */

/* Opens the source named by cfg (borrowed for the call: the loader keeps what it needs),
 * builds the episodes (episode_length > 0), applies opt's shard (opt may be NULL: no
 * shard, no prefetch) and loads the first record once, so a bad source fails here naming
 * the file (real image pairs excepted: the sampler's probe reads that record with its
 * images). `count` records are handed out per take (F; >= 1). pool is borrowed for the
 * loader's life. Prefetch threads (opt->prefetch_threads) are started for synthetic,
 * non-episodic streams only. Errors name the option or the file. */
sp_status sp__records_create(sp_records **out, const sp_config *cfg, const sp_sampler_options *opt, size_t count,
                             sp_pool *pool, sp_error *err);
void sp__records_free(sp_records *r); /* accepts NULL; joins the prefetch threads first */

/* Records per epoch of the source (files or analytic examples; not episodes). */
uint64_t sp__records_source_count(const sp_records *r);

/* ---- moving along the stream ----------------------------------------------------------- */

/* The next `count` records of the stream become the current records (refs, validity,
 * names; their flows are NOT loaded). Past the end of a finite stream the remainder is
 * padding (valid 0, the last record's epoch, seed 0, name ""). SP_ERR_END when none is
 * valid. */
sp_status sp__records_take(sp_records *r, sp_error *err);
/* Loads the record flows of the current records: prefetched ones in stream order on this
 * thread, the others on the pool, padding as a zero 2x2 flow. Reports the lowest-numbered
 * failure. */
sp_status sp__records_load(sp_records *r, sp_error *err);
/* Back to the start of the stream: position 0, no episode started, time step 0. */
void sp__records_reset(sp_records *r);
/* The next take starts at this shard's stream position `position` (non-episodic streams;
 * the current records are left as they are until then). Prefetched records restart there. */
void sp__records_seek(sp_records *r, uint64_t position);

/* Episodic mode (episode_length L > 0). The current records become time step t of the
 * `count` running episodes, starting new ones at t = 0 (a finite stream pads, SP_ERR_END
 * when no episode is left); SP_ERR_EPISODE_END once t = L. Flows are not loaded. */
sp_status sp__records_step(sp_records *r, sp_error *err);
int64_t sp__records_timestep(const sp_records *r); /* t of the next step, 0 .. L */
void sp__records_step_done(sp_records *r);         /* the batch of step t was made: t + 1 */
void sp__records_rewind_episode(sp_records *r);    /* t = 0: the next step starts new episodes */

/* ---- the current records (f < count) ---------------------------------------------------- */

const sp_record_ref *sp__records_ref(const sp_records *r, size_t f);
int sp__records_valid(const sp_records *r, size_t f);  /* 1 = real record, 0 = padding */
const char *sp__records_name(const sp_records *r, size_t f); /* "" for padding */
const sp_flow *sp__records_flow(const sp_records *r, size_t f); /* after a successful load */
/* Mapped flow files (src/internal/sp_flowmap.h): a record's values may come unchecked for
 * non-finite ones (1 until sp__records_set_checked), and its file may have shrunk while
 * mapped (damaged: its lost pages read as zeros; nothing made from it may be returned). */
int sp__records_unchecked(const sp_records *r, size_t f);
void sp__records_set_checked(sp_records *r, size_t f);
int sp__records_damaged(const sp_records *r, size_t f);
/* 1 when record f's flow is a mapped file (its values live in the page cache, not in r). */
int sp__records_mapped(const sp_records *r, size_t f);
/* The next sp__records_take takes the current records again (not episodic): a batch made
 * from them failed after the take moved the position past them. */
void sp__records_retake(sp_records *r);

/* Real image pairs: source record `record` read with its images (.mat I0, I1, V), as
 * sp_mat_read_flow(name, 1, ...) gives them: *flow is released with sp_flow_release, *i1
 * and *i2 with free. Thread-safe. */
sp_status sp__records_read_pair(const sp_records *r, uint64_t record, sp_flow *flow, float **i1, float **i2,
                                size_t *ih, size_t *iw, sp_error *err);

/* ---- state (the loader's part of sp_sampler_state, see sp_sampler_state.h) ---------- */

typedef struct sp_records_state {
    /* Identity of the record stream. */
    uint64_t seed;
    int randomize, loop;
    int64_t episode_length;
    uint64_t records;            /* records per epoch of the source (files, not episodes) */
    uint64_t fingerprint;        /* FNV-1a 64 of the record names (the resolved file list) */
    uint64_t shard_index, shard_count;
    /* Position. */
    uint64_t next;               /* next position of this shard's stream */
    uint64_t epoch;              /* epoch of that position (informative) */
    uint64_t global;             /* global position below which this shard and the others,
                                  * in lockstep, have read every record (Grain's elastic
                                  * position; = next unsharded); SP_RECORDS_NO_GLOBAL when a
                                  * restored state lacks it */
    /* Episodic mode (episode_length > 0). */
    uint64_t episode;            /* episodes started */
    int64_t timestep;            /* time step of the next batch; L = ended */
    const sp_record_ref *episode_refs; /* F running episodes (record = episode index) */
    const uint8_t *episode_valid;      /* F */
    /* The current records: F = count entries. */
    uint64_t F;
    const sp_record_ref *refs;   /* F */
    const uint8_t *valid;        /* F: 1 = real record, 0 = padding */
    const sp_flow *flows;        /* F record flows, each with its own shape */
    const char *const *files;    /* F record names ("" for padding) */
    const sp_records *loader;    /* the loader (state_get only; NULL in a restored state):
                                    sp__records_mapped and sp__records_damaged of the flows */
} sp_records_state;

#define SP_RECORDS_NO_GLOBAL UINT64_MAX

/* Fills st from r; its arrays are BORROWED from r (valid until the next call that changes r). */
void sp__records_state_get(const sp_records *r, sp_records_state *st);
/* Puts st back into r (st's arrays borrowed for the call). Checks first that counters and
 * references index inside the source and the episodes (hostile input); the current records
 * (refs, validity, flows: copied) only when with_records, the running episodes only while
 * one is under way (timestep > 0). The identity is NOT checked here (the caller compares
 * the whole stream identity, see sp__sampler_state_check). A state of another shard (index
 * or count) is restored elastically: this shard's stream continues the global stream from
 * st->global (with one shard: next = global; else this shard's blocks from there); the
 * caller passes with_records = 0 and checks that the state is at a refresh boundary. On
 * error r is unchanged. */
sp_status sp__records_state_set(sp_records *r, const sp_records_state *st, int with_records, sp_error *err);

#endif /* SP_RECORDS_H */
