/* analytic_random.c: analytic flows whose parameters are drawn per record.
 *
 * A parameter given as a range [lo, hi] (configuration: `circulation: [-3, 3]`; in C: bit p
 * of sp_analytic_params.random and range[p]) takes, for record r, the value
 *     lo + (hi - lo) * U,   U = a 53-bit uniform in [0, 1) from Threefry-2x32,
 * with key fold_in(fold_in(fold_in(PRNGKey(seed), TAG), r_lo), r_hi) and counters 2p, 2p + 1
 * (r_lo and r_hi the two halves of r, the high one folded only when non-zero, as the
 * kinematic flow does). A record's flow depends on (seed, record, spec) alone: the same in
 * every epoch, thread, process and resume, and different from every other record's. The
 * draws are in double precision; no draw depends on another, so adding a range to one
 * parameter never changes the values drawn for the others.
 */
#include <math.h>
#include <stddef.h>

#include "sp/sp_flow.h"
#include "sp/sp_rng.h"

#define SP_ANALYTIC_DRAW_TAG 0x616e6c74u /* "anlt": keeps these keys apart from other draws */

/* The double each sp_analytic_param names. */
static double *param_field(sp_analytic_params *p, sp_analytic_param k)
{
    switch (k) {
    case SP_AP_U: return &p->u;
    case SP_AP_V: return &p->v;
    case SP_AP_CENTER_Y: return &p->center[0];
    case SP_AP_CENTER_X: return &p->center[1];
    case SP_AP_CIRCULATION: return &p->circulation;
    case SP_AP_CORE_RADIUS: return &p->core_radius;
    case SP_AP_AMPLITUDE: return &p->amplitude;
    case SP_AP_WAVELENGTH: return &p->wavelength;
    case SP_AP_RATE: return &p->rate;
    case SP_AP_HALF_WIDTH: return &p->half_width;
    case SP_AP_SPEED: return &p->speed;
    case SP_AP_ANGLE: return &p->angle;
    case SP_AP_W: return &p->w;
    case SP_AP_COUNT_: break;
    }
    return NULL;
}

static double unit53(sp_key key, uint64_t index)
{
    uint32_t const a = sp_random_bits(key, 2 * index) >> 5, b = sp_random_bits(key, 2 * index + 1) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

void sp_analytic_draw(const sp_analytic_params *spec, uint32_t seed, uint64_t record, sp_analytic_params *out)
{
    unsigned const random = spec->random;
    if (out != spec) *out = *spec;
    out->random = 0;
    if (random == 0) return;
    sp_key key = sp_key_fold_in(sp_key_from_seed(seed), SP_ANALYTIC_DRAW_TAG);
    key = sp_key_fold_in(key, (uint32_t)record);
    if (record >> 32) key = sp_key_fold_in(key, (uint32_t)(record >> 32));
    for (int k = 0; k < SP_AP_COUNT_; k++) {
        if (!(random & (1u << k))) continue;
        double const lo = spec->range[k][0], hi = spec->range[k][1];
        *param_field(out, (sp_analytic_param)k) = lo + (hi - lo) * unit53(key, (uint64_t)k);
    }
}
