/* flow.c: the sp_flow container and the analytic-flow parameter table (names, defaults).
 *
 * The evaluation of analytic flows lives in analytic.c; this file holds only what the
 * configuration parser needs, so that parsing does not pull in the flow kernels.
 */
#include "sp/sp_flow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"

#define SP_FLOW_MAX_DIM 100000u

sp_status sp_flow_alloc(sp_flow *f, size_t h, size_t w, size_t c, sp_error *err)
{
    memset(f, 0, sizeof *f);
    SP_RETURN_IF(h == 0 || w == 0 || h > SP_FLOW_MAX_DIM || w > SP_FLOW_MAX_DIM, err, SP_ERR_RANGE,
                 "flow shape (%zu, %zu) outside [1, %u]", h, w, SP_FLOW_MAX_DIM);
    SP_RETURN_IF(c != 2 && c != 3, err, SP_ERR_RANGE, "flow has %zu channels, expected 2 or 3", c);
    size_t n = 0;
    SP_RETURN_IF(!sp__mul_size(h * w, c, &n) || n > SIZE_MAX / sizeof(float), err, SP_ERR_RANGE,
                 "flow shape (%zu, %zu, %zu) too large", h, w, c);
    f->data = (float *)calloc(n, sizeof(float));
    SP_RETURN_IF(f->data == NULL, err, SP_ERR_NOMEM, "out of memory for a (%zu, %zu, %zu) flow", h, w, c);
    f->height = h;
    f->width = w;
    f->channels = c;
    return SP_OK;
}

void sp_flow_release(sp_flow *f)
{
    if (f == NULL) return;
    free(f->data);
    memset(f, 0, sizeof *f);
}

int sp_flow_find_nonfinite(const sp_flow *f, size_t *i, size_t *j, size_t *c)
{
    size_t const n = f->height * f->width * f->channels;
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(f->data[k])) {
            *c = k % f->channels;
            *j = (k / f->channels) % f->width;
            *i = k / (f->channels * f->width);
            return 1;
        }
    }
    return 0;
}

static const char *const kind_names[SP_FLOW_KIND_COUNT_] = {
    "uniform", "lamb_oseen", "rankine", "taylor_green", "shear", "poiseuille", "stagnation", "kinematic",
};

const char *sp_analytic_kind_name(sp_analytic_kind kind)
{
    return (unsigned)kind < SP_FLOW_KIND_COUNT_ ? kind_names[kind] : NULL;
}

sp_status sp_analytic_kind_parse(const char *name, sp_analytic_kind *kind)
{
    for (unsigned k = 0; k < SP_FLOW_KIND_COUNT_; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (sp_analytic_kind)k;
            return SP_OK;
        }
    }
    return SP_ERR_INVALID;
}

void sp_analytic_params_init(sp_analytic_params *p, sp_analytic_kind kind)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->u = 1.0;
    p->v = 0.0;
    p->center[0] = p->center[1] = (double)NAN; /* domain centre */
    p->circulation = 1.0;
    p->core_radius = 0.1;
    p->amplitude = 1.0;
    p->wavelength = 1.0;
    p->rate = 1.0;
    p->half_width = (double)NAN; /* half the domain height */
    p->filter_sigma_range[0] = 5.0; /* SynthPix's kinematic defaults (docs/configuration.md) */
    p->filter_sigma_range[1] = 100.0;
    p->max_displacement_range[0] = 0.0;
    p->max_displacement_range[1] = 16.0;
    p->speed = 1.0; /* polar form off: u, v above */
}
