/* sampler_internal.h: pieces of the sampler module shared between its files:
 * the record loader (order, epochs, record seeds), the record sources (analytic,
 * kinematic, files) and the per-pair particle generator. */
#ifndef SP_SAMPLER_INTERNAL_H
#define SP_SAMPLER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sp/sp_config.h"
#include "sp/sp_flow.h"
#include "sp/sp_render.h"
#include "sp/sp_rng.h"
#include "sp/sp_sampler.h"

/* ---- loader: stream position -> (record, epoch, record seed) ---------------------- */

typedef struct sp_loader {
    uint64_t records;  /* n: records per epoch */
    int shuffle;       /* reshuffle every epoch with a seeded permutation */
    int loop;          /* infinite epochs; otherwise one */
    sp_key order_key;  /* PRNGKey(seed) folded with the shuffle tag */
    sp_key seed_key;   /* PRNGKey(seed) folded with the record-seed tag */
    uint64_t next;     /* next global stream position */
} sp_loader;

typedef struct sp_record_ref {
    uint64_t position; /* global stream position p = epoch * n + t */
    uint64_t record;   /* index into the source */
    uint32_t epoch;
    uint32_t seed;     /* 32-bit record seed derived from (seed, p) */
} sp_record_ref;

void sp__loader_init(sp_loader *l, uint64_t records, int shuffle, int loop, uint64_t seed);
/* Returns 0 when a finite stream is exhausted. */
int sp__loader_next(sp_loader *l, sp_record_ref *ref);
/* The record at position t of an epoch's permutation of [0, n): a bijection for every n. */
uint64_t sp__permute(uint64_t t, uint64_t n, sp_key epoch_key);
sp_key sp__epoch_key(const sp_loader *l, uint32_t epoch);

/* ---- sources -------------------------------------------------------------------- */

typedef struct sp_source sp_source;

sp_status sp__source_create(sp_source **out, const sp_config *cfg, sp_error *err);
void sp__source_free(sp_source *s);
uint64_t sp__source_count(const sp_source *s);
/* Thread-safe: loads record i into out (allocated here). */
sp_status sp__source_load(const sp_source *s, uint64_t i, sp_flow *out, sp_error *err);
/* The record's name: a file path, "analytic://KIND/i" or "kinematic://i". Valid while s lives. */
const char *sp__source_name(const sp_source *s, uint64_t i);

/* ---- flow sampling -------------------------------------------------------------- */

/* Bilinear sample of channels 0 and 1 at grid coordinates (gy, gx), edge-clamped
 * (reference section 4's sampler). */
void sp__flow_bilinear(const sp_flow *f, float gy, float gx, float *u, float *v);

#endif
