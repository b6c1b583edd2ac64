/* synthpix: flow fields and the built-in analytic flows.
 *
 * A flow is a row-major float32 array of shape (height, width, channels): channel 0 = u
 * (x velocity, along columns, positive right), channel 1 = v (y velocity, along rows,
 * positive down), channel 2 = w when present. Grid point (i, j) of a flow covering the
 * physical domain (Ly, Lx) lies at (y = i / res_y, x = j / res_x) with res = H / Ly, W / Lx
 * (grid steps per measure unit); velocities are in measure units per second.
 *
 * Thread safety: functions on distinct sp_flow values may run concurrently; analytic
 * evaluation is a pure function of its arguments.
 */
#ifndef SP_FLOW_H
#define SP_FLOW_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_flow {
    size_t height, width, channels; /* channels is 2 or 3 */
    float *data;                    /* height*width*channels floats, owned (sp_flow_release) */
} sp_flow;

/* Allocates a zeroed (h, w, c) flow. Limits: h, w in [1, 1e5], c in {2, 3}. */
SP_API sp_status sp_flow_alloc(sp_flow *f, size_t h, size_t w, size_t c, sp_error *err);
/* Frees f->data and zeroes f (NULL allowed). */
SP_API void sp_flow_release(sp_flow *f);
/* Index of channel c at (i, j). */
static inline size_t sp_flow_index(const sp_flow *f, size_t i, size_t j, size_t c)
{
    return (i * f->width + j) * f->channels + c;
}
/* First non-finite value: returns 1 and fills (*i, *j, *c) when one exists, else 0. */
SP_API int sp_flow_find_nonfinite(const sp_flow *f, size_t *i, size_t *j, size_t *c);

/* ---- Analytic flows --------------------------------------------------------------- */

typedef enum sp_analytic_kind {
    SP_FLOW_UNIFORM = 0,  /* (u, v) = (u, v) */
    SP_FLOW_LAMB_OSEEN,   /* u_theta = G/(2 pi r) (1 - exp(-r^2/rc^2)) */
    SP_FLOW_RANKINE,      /* u_theta = G r/(2 pi rc^2) inside rc, G/(2 pi r) outside */
    SP_FLOW_TAYLOR_GREEN, /* u = A sin(kx) cos(ky), v = -A cos(kx) sin(ky), k = 2 pi / wavelength */
    SP_FLOW_SHEAR,        /* u = rate (y - cy), v = 0 */
    SP_FLOW_POISEUILLE,   /* u = A (1 - ((y - cy)/h)^2) for |y - cy| <= h, else 0; v = 0 */
    SP_FLOW_STAGNATION,   /* u = rate (x - cx), v = -rate (y - cy) */
    SP_FLOW_KINEMATIC,    /* random smooth flow, docs/flows.md */
    SP_FLOW_KIND_COUNT_
} sp_analytic_kind;

/* The parameters that may be drawn per record (sp_analytic_params.random; docs/flows.md). */
typedef enum sp_analytic_param {
    SP_AP_U = 0,
    SP_AP_V,
    SP_AP_CENTER_Y,
    SP_AP_CENTER_X,
    SP_AP_CIRCULATION,
    SP_AP_CORE_RADIUS,
    SP_AP_AMPLITUDE,
    SP_AP_WAVELENGTH,
    SP_AP_RATE,
    SP_AP_HALF_WIDTH,
    SP_AP_SPEED,
    SP_AP_ANGLE,
    SP_AP_W, /* appended: the draws of the parameters above keep their counters */
    SP_AP_COUNT_
} sp_analytic_param;

/* How a kinematic field's filtered noise becomes velocities (configuration key scale_mode;
 * docs/flows.md, "The kinematic random smooth flow"). */
typedef enum sp_kinematic_scale {
    SP_KINEMATIC_SCALE_PEAK = 0, /* rescaled so that its largest |(u, v)| is the drawn amplitude a */
    SP_KINEMATIC_SCALE_LITERAL   /* a times the filtered noise, as it is (no rescaling) */
} sp_kinematic_scale;

/* Parameters of one analytic flow. Positions and lengths are in measure units, velocities
 * in measure units per second. Vortices turn counter-clockwise on screen (x right, y down)
 * for a negative circulation and clockwise for a positive one: u = -u_theta (y-cy)/r,
 * v = u_theta (x-cx)/r. Unused fields are ignored by the other kinds. */
typedef struct sp_analytic_params {
    sp_analytic_kind kind;
    double u, v;                /* uniform velocity */
    double center[2];           /* (y, x); NaN means the domain centre */
    double circulation;         /* vortices, units^2/s */
    double core_radius;         /* vortices, units, > 0 */
    double amplitude;           /* Taylor-Green peak speed; Poiseuille centre-line speed */
    double wavelength;          /* Taylor-Green, units, > 0 */
    double rate;                /* shear and stagnation, 1/s */
    double half_width;          /* Poiseuille channel half-width, units, > 0 */
    double filter_sigma_range[2];       /* kinematic: Gaussian sigma in grid cells, drawn per record */
    double max_displacement_range[2];   /* kinematic: peak |(u, v)|, drawn per record */
    size_t grid[2];             /* flow grid (Hf, Wf); 0 = derived by the caller */
    /* Uniform flow in polar form: with polar set, (u, v) = speed (cos angle, sin angle), the
     * angle in degrees from +x towards +y (on screen: 90 points down). */
    int polar;
    double speed, angle;
    /* Per-record parameters: bit p (sp_analytic_param) set means parameter p is drawn for
     * every record, uniformly in [range[p][0], range[p][1]], by sp_analytic_draw. */
    unsigned random;
    double range[SP_AP_COUNT_][2];
    /* Out-of-plane velocity w (units/s), the same at every grid point, for every kind; a flow
     * with w != 0 (or w drawn per record) is filled with three channels, channel 2 = w
     * (docs/realism.md). 0 by default: two channels, as before. */
    double w;
    sp_kinematic_scale scale_mode; /* kinematic kind only; SP_KINEMATIC_SCALE_PEAK by default */
} sp_analytic_params;

/* Fills defaults for `kind` (a moderate flow on a unit domain). */
SP_API void sp_analytic_params_init(sp_analytic_params *p, sp_analytic_kind kind);
/* "uniform", "lamb_oseen", ...; NULL for an invalid kind. */
SP_API const char *sp_analytic_kind_name(sp_analytic_kind kind);
/* Parses a kind name; returns SP_ERR_INVALID for an unknown name. */
SP_API sp_status sp_analytic_kind_parse(const char *name, sp_analytic_kind *kind);

/* The concrete flow of one record: spec with every parameter of spec->random drawn
 * uniformly from its range, from a key derived from (seed, record) alone (docs/flows.md),
 * so record r of a source is always the same flow whatever the order, thread or process
 * that asks. out->random is 0. spec and out may alias. */
SP_API void sp_analytic_draw(const sp_analytic_params *spec, uint32_t seed, uint64_t record,
                             sp_analytic_params *out);

/* 1 when spec gives its flow an out-of-plane component (w != 0 or w drawn per record): the
 * flow is then best allocated with three channels. */
SP_API int sp_analytic_has_w(const sp_analytic_params *spec);

/* Evaluates the flow on out's grid (allocated by the caller, channels 2 or 3), for a domain of
 * flow_field_size (ly, lx). seed and record matter only for the kinematic kind: record i
 * of a kinematic source with a given seed is always the same field. */
SP_API sp_status sp_analytic_fill(const sp_analytic_params *p, double ly, double lx, uint32_t seed,
                                  uint64_t record, sp_flow *out, sp_error *err);
/* The analytic velocity at a physical point (not defined for the kinematic kind, which
 * returns 0). Used by tests and by the ground-truth checks. */
SP_API void sp_analytic_velocity(const sp_analytic_params *p, double ly, double lx, double y, double x,
                                 double *u, double *v);

#ifdef __cplusplus
}
#endif
#endif /* SP_FLOW_H */
