/* pair.h: per-pair particle state inside the sampler (see pair.c). */
#ifndef SP_PAIR_H
#define SP_PAIR_H

#include "sampler_internal.h"

/* Particles per work item: small enough that one pair of a 256x256 image (~2,500
 * particles) splits over the threads, large enough to amortise the item overhead. */
#define SP_PAIR_CHUNK 1024
#define SP_PAIR_ARRAYS 12

/* What every pair of a batch shares. */
typedef struct sp_pair_context {
    const sp_config *cfg;
    const sp_geometry *geom;
    /* canvas pixel -> flow grid coordinate: g = g0 + px * g_per_px (per axis, per record) */
    float gy0, gy_per_px, gx0, gx_per_px;
    float px_per_velocity; /* dt * r */
} sp_pair_context;

typedef struct sp_pair_slot {
    sp_key sub[10], props[8];
    sp_pair_params params;
    size_t count;            /* N */
    const sp_flow *flow;     /* the record's flow (borrowed from the refresh cache) */
    sp_pair_context ctx;     /* per-pair copy: grid mapping depends on the record */
    float *buf;
    size_t capacity;
    float *y1, *x1, *y2, *x2, *sx1, *sy1, *sx2, *sy2, *r1, *r2, *a1, *a2;
    sp_frame_bins bins[2];
    sp_status status;
    sp_error err;
} sp_pair_slot;

void sp__pair_setup(sp_pair_slot *p, const sp_pair_context *ctx, sp_key key);
sp_status sp__pair_reserve(sp_pair_slot *p, sp_error *err);
/* Draws particles [j0, j1) (at most SP_PAIR_CHUNK); tmp holds 2 * SP_PAIR_CHUNK floats. */
void sp__pair_chunk(sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t j1, float *tmp);
void sp__pair_particles(const sp_pair_slot *p, int frame, sp_particles *out);
void sp__pair_slot_release(sp_pair_slot *p);

#endif
