/* config_geometry.c: the frame-1 seeding region (canvas), the image crop and the output grid,
 * and the checks that a configuration's geometry is possible.
 *
 * SynthPix's seeding region (docs/synthpix-compat.md, Geometry), with our fix (D2): the canvas
 * extends the field of view upstream by the largest displacement (vy+ dt above, |vy-| dt
 * below, likewise in x) and, on all four sides, by at least one particle patch (2R + 1
 * pixels), so particles just outside the view appear, disappear and contribute their tails
 * evenly on every edge. The extensions are rounded up to whole pixels, so the image crop
 * sits at an integer canvas offset and image pixel (i, j) is exactly physical
 * (img_offset + (i, j) / r). SynthPix's two geometry errors (image too close to the top or
 * left edge; flow field too small) are kept, naming img_offset and flow_field_size. Where
 * the margins reach outside the flow domain the flow is edge-extended (the bilinear sampler
 * clamps), as SynthPix's edge padding does.
 *
 * One code path: sp__geometry_check reports every geometry error into a diagnostics list;
 * the configuration loader runs it (so `synthpix config check` and `generate` refuse the
 * same configurations, all errors at once) and sp_geometry_compute runs it too.
 */
#include <math.h>

#include "config_internal.h"
#include "sp_internal.h"

static double max0(double v) { return v > 0 ? v : 0; }
static double min0(double v) { return v < 0 ? v : 0; }

static double sigma_max_of(const sp_config *c)
{
    double dmax = 0;
    for (size_t i = 0; i < c->n_diameter_ranges; i++)
        if (c->diameter_ranges[i].max > dmax) dmax = c->diameter_ranges[i].max;
    return dmax * (c->diameter_convention == SP_DIAMETER_E2 ? 0.25 : 0.5);
}

static size_t extension_px(double displacement_px, int patch)
{
    double const e = displacement_px > patch ? displacement_px : patch;
    return (size_t)ceil(e - 1e-9);
}

static void check_domain(const sp_config *c, sp_diag *d)
{
    double const dt = c->dt, r = c->resolution;
    double const vyp = max0(c->max_speed_y), vxp = max0(c->max_speed_x);
    double const vym = min0(c->min_speed_y), vxm = min0(c->min_speed_x);
    double const pboy = c->img_offset[0] - vyp * dt, pbox = c->img_offset[1] - vxp * dt;
    if (pboy < 0 || pbox < 0)
        sp__diag_add(d, SP_DIAG_ERROR, "img_offset", 0, 0,
                     "img_offset: (%g, %g) puts the image too close to the flow field's top or left edge; "
                     "the minimum image offset is (%g, %g) (max_speed * dt)",
                     c->img_offset[0], c->img_offset[1], vyp * dt, vxp * dt);
    double const need_y = max0(pboy) + (double)c->image_shape[0] / r + (vyp - vym) * dt;
    double const need_x = max0(pbox) + (double)c->image_shape[1] / r + (vxp - vxm) * dt;
    if (need_y > c->flow_field_size[0] * (1 + 1e-12) || need_x > c->flow_field_size[1] * (1 + 1e-12))
        sp__diag_add(d, SP_DIAG_ERROR, "flow_field_size", 0, 0,
                     "flow_field_size: (%g, %g) is too small for image_shape [%zu, %zu] at resolution %g and the "
                     "speeds; it must be at least (%g, %g)",
                     c->flow_field_size[0], c->flow_field_size[1], c->image_shape[0], c->image_shape[1], r, need_y,
                     need_x);
}

/* The canvas around the image: margins, crop, origin. With K frames a particle moves K - 1
 * steps of dt, so the upstream margins cover (K - 1) dt (docs/realism.md); K = 2 keeps dt
 * itself, bit for bit. */
static void canvas(const sp_config *c, sp_geometry *g)
{
    double const r = c->resolution, dt = c->frames > 2 ? c->dt * (double)(c->frames - 1) : c->dt;
    int const patch = 2 * g->radius + 1;
    size_t const top = extension_px(max0(c->max_speed_y) * dt * r, patch);
    size_t const bottom = extension_px(-min0(c->min_speed_y) * dt * r, patch);
    size_t const left = extension_px(max0(c->max_speed_x) * dt * r, patch);
    size_t const right = extension_px(-min0(c->min_speed_x) * dt * r, patch);
    g->height = c->image_shape[0];
    g->width = c->image_shape[1];
    g->canvas_h = top + g->height + bottom;
    g->canvas_w = left + g->width + right;
    g->crop_y = top;
    g->crop_x = left;
    g->origin_y = c->img_offset[0] - (double)top / r;
    g->origin_x = c->img_offset[1] - (double)left / r;
    g->resolution = r;
}

static void grids(const sp_config *c, sp_geometry *g, sp_diag *d)
{
    double const vpp = c->velocities_per_pixel;
    g->flow_h = (size_t)((double)g->height * vpp);
    g->flow_w = (size_t)((double)g->width * vpp);
    if (g->flow_h == 0 || g->flow_w == 0)
        sp__diag_add(d, SP_DIAG_ERROR, "velocities_per_pixel", 0, 0,
                     "velocities_per_pixel: %g gives an empty output flow grid for image_shape (%zu, %zu)", vpp,
                     g->height, g->width);
    g->flow_step = vpp > 0 ? 1.0 / vpp : 0.0;
    double const n = floor((double)g->canvas_h * (double)g->canvas_w * c->seeding_density_range.max);
    if (n > 4.0e9)
        sp__diag_add(d, SP_DIAG_ERROR, "seeding_density_range", 0, 0,
                     "seeding_density_range: %g particles per pixel on a %zux%zu canvas is more than 4e9 particles",
                     c->seeding_density_range.max, g->canvas_h, g->canvas_w);
    g->max_particles = n > 4.0e9 ? 0 : (size_t)n;
}

size_t sp__geometry_check(const sp_config *c, sp_geometry *g, sp_diag *d)
{
    size_t const before = sp_diag_errors(d);
    memset(g, 0, sizeof *g);
    if (c->image_shape[0] == 0 || c->image_shape[1] == 0)
        sp__diag_add(d, SP_DIAG_ERROR, "image_shape", 0, 0, "image_shape: must be two positive integers");
    if (!(c->resolution > 0) || !(c->dt > 0))
        sp__diag_add(d, SP_DIAG_ERROR, !(c->resolution > 0) ? "resolution" : "dt", 0, 0,
                     "resolution and dt must be > 0");
    if (sp_diag_errors(d) > before) return sp_diag_errors(d) - before; /* nothing below is meaningful */
    check_domain(c, d);
    g->sigma_max = sigma_max_of(c);
    int const R = (int)(3.0 * g->sigma_max);
    g->radius = R < 1 ? 1 : R;
    if (g->radius > SP_RENDER_MAX_RADIUS) {
        sp__diag_add(d, SP_DIAG_ERROR, "diameter_ranges", 0, 0,
                     "diameter_ranges: the largest diameter gives a %d-pixel patch radius; at most %d is supported",
                     g->radius, SP_RENDER_MAX_RADIUS);
        g->radius = SP_RENDER_MAX_RADIUS;
    }
    canvas(c, g);
    grids(c, g, d);
    return sp_diag_errors(d) - before;
}

sp_status sp_geometry_compute(const sp_config *c, sp_geometry *g, sp_error *err)
{
    sp_diag d;
    sp_diag_init(&d);
    size_t const errors = sp__geometry_check(c, g, &d);
    sp_status st = SP_OK;
    for (size_t i = 0; errors && i < d.count; i++) {
        if (d.items[i].level != SP_DIAG_ERROR) continue;
        st = sp_error_set(err, SP_ERR_CONFIG, "%s", d.items[i].message);
        break;
    }
    if (errors && st == SP_OK) st = sp_error_set(err, SP_ERR_NOMEM, "out of memory");
    sp_diag_free(&d);
    return st;
}
