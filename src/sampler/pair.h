/* pair.h: per-pair particle state inside the sampler (see pair.c). */
#ifndef SP_PAIR_H
#define SP_PAIR_H

#include "sampler_internal.h"

/* Particles per work item: small enough that one pair of a 256x256 image (~2,500
 * particles) splits over the threads, large enough to amortise the item overhead. */
#define SP_PAIR_CHUNK 1024
/* Floats of per-worker scratch a chunk needs: positions (2 per particle), then the
 * intensities carried from frame to frame and one draw's temporaries. */
#define SP_PAIR_TMP_FLOATS (4 * SP_PAIR_CHUNK)
/* Per-frame particle arrays: y, x, sigma x, sigma y, rho, amplitude, depth z. */
#define SP_FRAME_ARRAYS 7
/* Keys of frame f >= 2 (frames 0 and 1 use the sub-keys of docs/determinism.md, "Pairs"):
 * diameter x, diameter y, rho and intensity perturbations, visibility, noise. */
#define SP_FRAME_KEYS 6
/* Sheet counts of one chunk: in the sheet per frame, lost and gained per step. */
#define SP_SHEET_COUNTS (3 * SP_MAX_FRAMES)

/* What every pair of a batch shares. */
typedef struct sp_pair_context {
    const sp_config *cfg;
    const sp_geometry *geom;
    /* canvas pixel -> flow grid coordinate: g = g0 + px * g_per_px (per axis, per record) */
    float gy0, gy_per_px, gx0, gx_per_px;
    float px_per_velocity; /* dt * r */
    int frames;            /* K */
} sp_pair_context;

/* The light sheet of one pair (docs/realism.md), all in measure units; z = 0 is the sheet's
 * centre plane. Unused (profile SP_SHEET_NONE) without a sheet. */
typedef struct sp_pair_sheet {
    sp_sheet_profile profile;
    float half;       /* t / 2: "in the sheet" means |z| <= half */
    float k8;         /* gaussian: 8 / t^2 */
    float reach;      /* |z| beyond which the profile is 0: t (gaussian), (t + edge) / 2 (tophat) */
    float edge;       /* tophat edge width */
    float zlo, depth; /* the seeding slab [zlo, zlo + depth] */
    float w;          /* the pair's out-of-plane velocity from out_of_plane_range, units/s */
    float dz_per_w;   /* dt: depth travelled per unit of w in one step */
} sp_pair_sheet;

typedef struct sp_pair_slot {
    sp_key key;              /* the pair key */
    sp_key sub[10], props[8];
    sp_key fsub[SP_MAX_FRAMES][SP_FRAME_KEYS]; /* frames f >= 2 */
    sp_key zkey;             /* the depth draws */
    sp_pair_params params;
    size_t count;            /* N */
    const sp_flow *flow;     /* the record's flow (borrowed from the refresh cache) */
    float wflow_min, wflow_max; /* range of the flow's channel 2 (0 when it has none) */
    sp_pair_context ctx;     /* per-pair copy: grid mapping depends on the record */
    sp_pair_sheet sheet;
    float *buf;
    size_t capacity;
    int arrays_frames;       /* frames the arrays in buf are laid out for */
    float *y[SP_MAX_FRAMES], *x[SP_MAX_FRAMES], *sx[SP_MAX_FRAMES], *sy[SP_MAX_FRAMES];
    float *r[SP_MAX_FRAMES], *a[SP_MAX_FRAMES], *z[SP_MAX_FRAMES];
    sp_frame_bins bins[SP_MAX_FRAMES];
    sp_status status;
    sp_error err;
} sp_pair_slot;

void sp__pair_setup(sp_pair_slot *p, const sp_pair_context *ctx, sp_key key);
sp_status sp__pair_reserve(sp_pair_slot *p, sp_error *err);
/* Draws particles [j0, j1) (at most SP_PAIR_CHUNK); tmp holds SP_PAIR_TMP_FLOATS floats.
 * With a sheet, counts (SP_SHEET_COUNTS entries) receives the chunk's sheet counts: in the
 * sheet per frame at [f], lost per step at [SP_MAX_FRAMES + f], gained at
 * [2 SP_MAX_FRAMES + f]; NULL without a sheet. */
void sp__pair_chunk(sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t j1, float *tmp,
                    uint32_t *counts);
/* The pair's sheet fractions from the summed counts of its chunks (into p->params). */
void sp__pair_sheet_fractions(sp_pair_slot *p, const uint32_t *counts);
void sp__pair_particles(const sp_pair_slot *p, int frame, sp_particles *out);
void sp__pair_slot_release(sp_pair_slot *p);

#endif
