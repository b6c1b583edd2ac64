/* pair.c: the particles of one image pair, drawn from the pair's key.
 *
 * Key derivation (documented in docs/determinism.md):
 *   sub = split(pair_key, 10):  sub[0] density, sub[1] frame-1 visibility, sub[2] frame-2
 *   visibility, sub[3] positions (N, 2), sub[4] particle properties (split into 8:
 *   diameter x, diameter y offset, rho, intensity, and the four frame-2 perturbations),
 *   sub[5] and sub[6] frame-1 and frame-2 noise (split into uniform, gaussian), sub[7],
 *   sub[8], sub[9] the diameter, intensity and rho range indices.
 * Particle j's values depend only on (key, j), so chunks of particles can be drawn by any
 * thread. The transforms follow SynthPix's (docs/synthpix-compat.md, Pair kernel):
 * dy1 = clip(dx1 + U(-1, 1)), frame-2 values = clip(frame-1 value + sqrt(var) N(0, 1)) to
 * the pair's range, visibility Bernoulli(1 - p_hide). Variances of 0 and p_hide of 0 skip
 * their draws (same values).
 *
 * Advection: one explicit Euler step (SynthPix) or classical RK4 with the flow bilinearly
 * interpolated on its own grid at the particle's physical position.
 */
#include <math.h>
#include <string.h>

#include "sp_internal.h"
#include "pair.h"

static float clipf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

void sp__pair_setup(sp_pair_slot *p, const sp_pair_context *ctx, sp_key key)
{
    const sp_config *const c = ctx->cfg;
    sp_key_split(key, 10, p->sub);
    sp_key_split(p->sub[4], 8, p->props);
    float dens = sp_uniform(p->sub[0], 0, (float)c->seeding_density_range.min, (float)c->seeding_density_range.max);
    dens = clipf(dens, 0.0f, (float)c->seeding_density_range.max);
    double const area = (double)ctx->geom->canvas_h * (double)ctx->geom->canvas_w;
    size_t n = (size_t)floor(area * (double)dens);
    if (n > ctx->geom->max_particles) n = ctx->geom->max_particles;
    p->count = n;
    uint32_t const jd = (uint32_t)sp_randint(p->sub[7], 0, 0, (int32_t)c->n_diameter_ranges);
    uint32_t const ji = (uint32_t)sp_randint(p->sub[8], 0, 0, (int32_t)c->n_intensity_ranges);
    uint32_t const jr = (uint32_t)sp_randint(p->sub[9], 0, 0, (int32_t)c->n_rho_ranges);
    sp_pair_params *const pp = &p->params;
    pp->seeding_density = dens;
    pp->diameter_index = jd;
    pp->intensity_index = ji;
    pp->rho_index = jr;
    pp->diameter_range[0] = (float)c->diameter_ranges[jd].min;
    pp->diameter_range[1] = (float)c->diameter_ranges[jd].max;
    pp->intensity_range[0] = (float)c->intensity_ranges[ji].min;
    pp->intensity_range[1] = (float)c->intensity_ranges[ji].max;
    pp->rho_range[0] = (float)c->rho_ranges[jr].min;
    pp->rho_range[1] = (float)c->rho_ranges[jr].max;
    pp->particles = (uint32_t)n;
}

sp_status sp__pair_reserve(sp_pair_slot *p, sp_error *err)
{
    if (p->count <= p->capacity && p->buf) return SP_OK;
    /* Sized once for the densest pair the configuration allows, so pairs never reallocate. */
    size_t const most = p->ctx.geom ? p->ctx.geom->max_particles : 0;
    size_t const cap = (p->count > most ? p->count : most) + 64;
    size_t bytes = 0;
    SP_RETURN_IF(!sp__mul_size(cap, SP_PAIR_ARRAYS * sizeof(float), &bytes), err, SP_ERR_NOMEM, "too many particles");
    float *const b = (float *)realloc(p->buf, bytes);
    SP_RETURN_IF(b == NULL, err, SP_ERR_NOMEM, "out of memory for %zu particles", p->count);
    p->buf = b;
    p->capacity = cap;
    float **const arrays[SP_PAIR_ARRAYS] = {&p->y1, &p->x1, &p->y2, &p->x2, &p->sx1, &p->sy1,
                                            &p->sx2, &p->sy2, &p->r1, &p->r2, &p->a1, &p->a2};
    for (size_t k = 0; k < SP_PAIR_ARRAYS; k++) *arrays[k] = b + k * cap;
    return SP_OK;
}

/* Displacement in pixels of a particle at canvas position (y, x). */
static void displacement(const sp_pair_context *ctx, const sp_flow *f, float y, float x, float *dy, float *dx)
{
    float u, v;
    sp__flow_bilinear(f, ctx->gy0 + y * ctx->gy_per_px, ctx->gx0 + x * ctx->gx_per_px, &u, &v);
    *dy = v * ctx->px_per_velocity;
    *dx = u * ctx->px_per_velocity;
}

static void advect(const sp_pair_context *ctx, const sp_flow *f, float y, float x, float *y2, float *x2)
{
    float k1y, k1x;
    displacement(ctx, f, y, x, &k1y, &k1x);
    if (ctx->cfg->advection != SP_ADVECT_RK4) {
        *y2 = y + k1y;
        *x2 = x + k1x;
        return;
    }
    float k2y, k2x, k3y, k3x, k4y, k4x;
    displacement(ctx, f, y + 0.5f * k1y, x + 0.5f * k1x, &k2y, &k2x);
    displacement(ctx, f, y + 0.5f * k2y, x + 0.5f * k2x, &k3y, &k3x);
    displacement(ctx, f, y + k3y, x + k3x, &k4y, &k4x);
    *y2 = y + (k1y + 2.0f * k2y + 2.0f * k3y + k4y) / 6.0f;
    *x2 = x + (k1x + 2.0f * k2x + 2.0f * k3x + k4x) / 6.0f;
}

static void perturb(sp_key k, size_t j0, size_t n, float sd, const float *base, float lo, float hi, float *out,
                    float *tmp)
{
    if (sd > 0.0f) {
        sp_normal_fill(k, j0, n, tmp);
        for (size_t i = 0; i < n; i++) out[i] = clipf(base[i] + sd * tmp[i], lo, hi);
    } else if (out != base) {
        memcpy(out, base, n * sizeof *out);
    }
}

static void visibility(sp_key k, size_t j0, size_t n, float p_hide, const float *intensity, float *amp, float *tmp)
{
    if (p_hide > 0.0f) {
        float const keep = 1.0f - p_hide;
        sp_uniform_fill(k, j0, n, 0.0f, 1.0f, tmp);
        for (size_t i = 0; i < n; i++) amp[i] = tmp[i] < keep ? intensity[i] : 0.0f;
    } else if (amp != intensity) {
        memcpy(amp, intensity, n * sizeof *amp);
    }
}

static void draw_properties(const sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t n, float *tmp)
{
    const sp_config *const c = ctx->cfg;
    const sp_pair_params *const pp = &p->params;
    float const dlo = pp->diameter_range[0], dhi = pp->diameter_range[1];
    float const rlo = pp->rho_range[0], rhi = pp->rho_range[1];
    float const ilo = pp->intensity_range[0], ihi = pp->intensity_range[1];
    float *const dx1 = p->sx1 + j0, *const dy1 = p->sy1 + j0, *const dx2 = p->sx2 + j0, *const dy2 = p->sy2 + j0;
    sp_uniform_fill(p->props[0], j0, n, dlo, dhi, dx1);
    sp_uniform_fill(p->props[1], j0, n, -1.0f, 1.0f, tmp);
    for (size_t i = 0; i < n; i++) dy1[i] = clipf(dx1[i] + tmp[i], dlo, dhi);
    sp_uniform_fill(p->props[2], j0, n, rlo, rhi, p->r1 + j0);
    /* a2 holds frame-1 intensities until visibility() turns them into amplitudes. */
    float *const i1 = p->a2 + j0;
    sp_uniform_fill(p->props[3], j0, n, ilo, ihi, i1);
    perturb(p->props[4], j0, n, (float)sqrt(c->diameter_var), dx1, dlo, dhi, dx2, tmp);
    perturb(p->props[5], j0, n, (float)sqrt(c->diameter_var), dy1, dlo, dhi, dy2, tmp);
    perturb(p->props[6], j0, n, (float)sqrt(c->rho_var), p->r1 + j0, rlo, rhi, p->r2 + j0, tmp);
    visibility(p->sub[1], j0, n, (float)c->p_hide_img1, i1, p->a1 + j0, tmp);
    perturb(p->props[7], j0, n, (float)sqrt(c->intensity_var), i1, ilo, ihi, i1, tmp);
    visibility(p->sub[2], j0, n, (float)c->p_hide_img2, i1, p->a2 + j0, tmp);
    /* Diameters to Gaussian sigmas. */
    float const conv = c->diameter_convention == SP_DIAMETER_E2 ? 0.25f : 0.5f;
    for (size_t i = 0; i < n; i++) {
        dx1[i] *= conv;
        dy1[i] *= conv;
        dx2[i] *= conv;
        dy2[i] *= conv;
    }
}

void sp__pair_chunk(sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t j1, float *tmp)
{
    size_t const n = j1 - j0;
    SP_ASSERT(n <= SP_PAIR_CHUNK);
    const sp_geometry *const g = ctx->geom;
    sp_uniform_fill(p->sub[3], 2 * (uint64_t)j0, 2 * n, 0.0f, 1.0f, tmp);
    float const ch = (float)g->canvas_h, cw = (float)g->canvas_w;
    float const oy = (float)g->crop_y, ox = (float)g->crop_x;
    for (size_t i = 0; i < n; i++) {
        float const y = tmp[2 * i] * ch, x = tmp[2 * i + 1] * cw;
        float y2, x2;
        advect(ctx, p->flow, y, x, &y2, &x2);
        p->y1[j0 + i] = y - oy;
        p->x1[j0 + i] = x - ox;
        p->y2[j0 + i] = y2 - oy;
        p->x2[j0 + i] = x2 - ox;
    }
    draw_properties(p, ctx, j0, n, tmp);
}

void sp__pair_particles(const sp_pair_slot *p, int frame, sp_particles *out)
{
    out->count = p->count;
    out->y = frame ? p->y2 : p->y1;
    out->x = frame ? p->x2 : p->x1;
    out->sigma_y = frame ? p->sy2 : p->sy1;
    out->sigma_x = frame ? p->sx2 : p->sx1;
    out->rho = frame ? p->r2 : p->r1;
    out->amplitude = frame ? p->a2 : p->a1;
}

void sp__pair_slot_release(sp_pair_slot *p)
{
    free(p->buf);
    sp_frame_bins_release(&p->bins[0]);
    sp_frame_bins_release(&p->bins[1]);
    memset(p, 0, sizeof *p);
}
