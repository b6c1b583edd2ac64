/* geometry.c: the frame-1 seeding region (canvas), the image crop and the output grid.
 *
 * Reference section 3, with PRODUCT section 4.2's fix: the canvas extends the field of
 * view upstream by the largest displacement (vy+ dt above, |vy-| dt below, likewise in x)
 * and, on all four sides, by at least one particle patch (2R + 1 pixels), so particles
 * just outside the view appear, disappear and contribute their tails evenly on every
 * edge. The extensions are rounded up to whole pixels, so the image crop sits at an
 * integer canvas offset and image pixel (i, j) is exactly physical
 * (img_offset + (i, j) / r). SynthPix's two geometry errors (image too close to the top
 * or left edge; flow field too small) are kept, naming img_offset and flow_field_size.
 * Where the margins reach outside the flow domain the flow is edge-extended (the bilinear
 * sampler clamps), as SynthPix's edge padding does.
 */
#include <math.h>

#include "sp_internal.h"
#include "sampler_internal.h"

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

static sp_status check_domain(const sp_config *c, sp_error *err)
{
    double const dt = c->dt, r = c->resolution;
    double const vyp = max0(c->max_speed_y), vxp = max0(c->max_speed_x);
    double const vym = min0(c->min_speed_y), vxm = min0(c->min_speed_x);
    double const pboy = c->img_offset[0] - vyp * dt, pbox = c->img_offset[1] - vxp * dt;
    SP_RETURN_IF(pboy < 0 || pbox < 0, err, SP_ERR_CONFIG,
                 "img_offset: (%g, %g) puts the image too close to the flow field's top or left edge; "
                 "the minimum image offset is (%g, %g) (max_speed * dt)",
                 c->img_offset[0], c->img_offset[1], vyp * dt, vxp * dt);
    double const need_y = pboy + (double)c->image_shape[0] / r + (vyp - vym) * dt;
    double const need_x = pbox + (double)c->image_shape[1] / r + (vxp - vxm) * dt;
    SP_RETURN_IF(need_y > c->flow_field_size[0] * (1 + 1e-12) || need_x > c->flow_field_size[1] * (1 + 1e-12),
                 err, SP_ERR_CONFIG,
                 "flow_field_size: (%g, %g) is too small for the image and speeds; it must be at least (%g, %g)",
                 c->flow_field_size[0], c->flow_field_size[1], need_y, need_x);
    return SP_OK;
}

sp_status sp_geometry_compute(const sp_config *c, sp_geometry *g, sp_error *err)
{
    memset(g, 0, sizeof *g);
    SP_RETURN_IF(c->image_shape[0] == 0 || c->image_shape[1] == 0, err, SP_ERR_CONFIG,
                 "image_shape: must be two positive integers");
    SP_RETURN_IF(!(c->resolution > 0) || !(c->dt > 0), err, SP_ERR_CONFIG, "resolution and dt must be > 0");
    SP_TRY(check_domain(c, err));
    double const r = c->resolution, dt = c->dt;
    g->sigma_max = sigma_max_of(c);
    int R = (int)(3.0 * g->sigma_max);
    g->radius = R < 1 ? 1 : R;
    SP_RETURN_IF(g->radius > SP_RENDER_MAX_RADIUS, err, SP_ERR_CONFIG,
                 "diameter_ranges: the largest diameter gives a %d-pixel patch radius; at most %d is supported",
                 g->radius, SP_RENDER_MAX_RADIUS);
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
    double const vpp = c->velocities_per_pixel;
    g->flow_h = (size_t)((double)g->height * vpp);
    g->flow_w = (size_t)((double)g->width * vpp);
    SP_RETURN_IF(g->flow_h == 0 || g->flow_w == 0, err, SP_ERR_CONFIG,
                 "velocities_per_pixel: %g gives an empty output flow grid for image_shape (%zu, %zu)", vpp,
                 g->height, g->width);
    g->flow_step = 1.0 / vpp;
    double const n = floor((double)g->canvas_h * (double)g->canvas_w * c->seeding_density_range.max);
    SP_RETURN_IF(n > 4.0e9, err, SP_ERR_CONFIG,
                 "seeding_density_range: %g particles per pixel on a %zux%zu canvas is more than 4e9 particles",
                 c->seeding_density_range.max, g->canvas_h, g->canvas_w);
    g->max_particles = (size_t)n;
    return SP_OK;
}
