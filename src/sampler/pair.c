/* pair.c: the particles of one sample (an image pair, or K frames), drawn from its key.
 *
 * Key derivation (documented in docs/determinism.md):
 *   sub = split(pair_key, 10):  sub[0] density, sub[1] frame-1 visibility, sub[2] frame-2
 *   visibility, sub[3] positions (N, 2), sub[4] particle properties (split into 8:
 *   diameter x, diameter y offset, rho, intensity, and the four frame-2 perturbations),
 *   sub[5] and sub[6] frame-1 and frame-2 noise (split into uniform, gaussian), sub[7],
 *   sub[8], sub[9] the diameter, intensity and rho range indices.
 *   Frames f >= 2 (key `frames`, docs/realism.md): split(fold_in(fold_in(pair_key, FRMS),
 *   f), 6) = diameter x, diameter y, rho and intensity perturbations, visibility, noise.
 *   The light sheet: depths from fold_in(pair_key, ZDEP), the pair's w from
 *   fold_in(pair_key, WOOP). These keys are folded in with tags far above 9, so no draw of
 *   a configuration without them changes.
 * Particle j's values depend only on (key, j), so chunks of particles can be drawn by any
 * thread. The transforms follow SynthPix's (docs/synthpix-compat.md, Pair kernel):
 * dy1 = clip(dx1 + U(-1, 1)), frame-(f+1) values = clip(frame-f value + sqrt(var) N(0, 1)) to
 * the pair's range, visibility Bernoulli(1 - p_hide) (p_hide_img2 for every frame after the
 * first). Variances of 0 and p_hide of 0 skip their draws (same values).
 *
 * Advection: frame f + 1 is frame f moved by one explicit Euler step (SynthPix) or classical
 * RK4 with the flow bilinearly interpolated on its own grid at the particle's physical
 * position; every step uses the same flow record.
 *
 * The light sheet (docs/realism.md): each particle has a depth z (measure units, 0 = the
 * sheet's centre plane), uniform over the pair's slab, which holds every depth from which a
 * particle can be in the sheet in some frame (the profile's reach plus the farthest the
 * out-of-plane velocity carries it in K - 1 steps); the particle count is the in-plane count
 * times depth / t, so seeding_density_range stays the count per pixel within the sheet's
 * thickness. z advances by (w_flow(x, y) + w_pair) dt per step, w_flow being the flow's
 * channel 2 at the particle's frame-f position (its RK4 stages with rk4), and a particle's
 * amplitude in a frame is its visible intensity times the profile at its depth, times
 * over_exposure. "In the sheet" means |z| <= t / 2; the chunks count, per step, the
 * particles that leave and enter it.
 */
#include <math.h>
#include <string.h>

#include "sp_internal.h"
#include "sp_math.h"
#include "pair.h"

#define SP_TAG_FRAMES 0x46524D53u /* "FRMS" */
#define SP_TAG_DEPTH 0x5A444550u  /* "ZDEP" */
#define SP_TAG_W 0x574F4F50u      /* "WOOP" */

static float clipf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* The slab, the pair's w and the particle count with a sheet (see the map); n is the count
 * without one, bound the largest in-plane count the configuration allows. */
static size_t sheet_setup(sp_pair_slot *p, const sp_pair_context *ctx, double area, float dens, size_t bound)
{
    const sp_config *const c = ctx->cfg;
    sp_pair_sheet *const sh = &p->sheet;
    float const t = (float)c->sheet_thickness;
    sh->profile = c->sheet_profile;
    sh->half = 0.5f * t;
    sh->k8 = 8.0f / (t * t);
    sh->edge = c->sheet_profile == SP_SHEET_TOPHAT ? (float)c->sheet_edge * t : 0.0f;
    sh->reach = c->sheet_profile == SP_SHEET_TOPHAT ? 0.5f * (t + sh->edge) : t;
    sh->w = sp_uniform(sp_key_fold_in(p->key, SP_TAG_W), 0, (float)c->out_of_plane_range.min,
                       (float)c->out_of_plane_range.max);
    sh->dz_per_w = (float)c->dt;
    float const span = (float)(c->dt * (double)(ctx->frames - 1));
    float const up = p->wflow_max + sh->w > 0.0f ? (p->wflow_max + sh->w) * span : 0.0f;
    float const down = p->wflow_min + sh->w < 0.0f ? -(p->wflow_min + sh->w) * span : 0.0f;
    sh->zlo = -sh->reach - up;
    sh->depth = 2.0f * sh->reach + up + down;
    double const ratio = (double)sh->depth / (double)t;
    double const most = floor((double)bound * ratio) + 1.0;
    double n = floor(area * (double)dens * ratio);
    if (n > most) n = most;
    sp_pair_params *const pp = &p->params;
    pp->sheet_profile = (uint32_t)sh->profile;
    pp->sheet_thickness = t;
    pp->sheet_edge = sh->edge;
    pp->depth[0] = sh->zlo;
    pp->depth[1] = sh->zlo + sh->depth;
    pp->w = sh->w;
    return n < 4.0e9 ? (size_t)n : (size_t)4e9;
}

static void frame_keys(sp_pair_slot *p, int frames)
{
    for (int f = 2; f < frames; f++)
        sp_key_split(sp_key_fold_in(sp_key_fold_in(p->key, SP_TAG_FRAMES), (uint32_t)f), SP_FRAME_KEYS, p->fsub[f]);
    p->zkey = sp_key_fold_in(p->key, SP_TAG_DEPTH);
}

void sp__pair_setup(sp_pair_slot *p, const sp_pair_context *ctx, sp_key key)
{
    const sp_config *const c = ctx->cfg;
    p->key = key;
    sp_key_split(key, 10, p->sub);
    sp_key_split(p->sub[4], 8, p->props);
    frame_keys(p, ctx->frames);
    float dens = sp_uniform(p->sub[0], 0, (float)c->seeding_density_range.min, (float)c->seeding_density_range.max);
    dens = clipf(dens, 0.0f, (float)c->seeding_density_range.max);
    double const area = (double)ctx->geom->canvas_h * (double)ctx->geom->canvas_w;
    sp_pair_params *const pp = &p->params;
    memset(pp, 0, sizeof *pp);
    size_t n = (size_t)floor(area * (double)dens);
    if (n > ctx->geom->max_particles) n = ctx->geom->max_particles;
    if (c->sheet_profile != SP_SHEET_NONE) n = sheet_setup(p, ctx, area, dens, ctx->geom->max_particles);
    p->count = n;
    uint32_t const jd = (uint32_t)sp_randint(p->sub[7], 0, 0, (int32_t)c->n_diameter_ranges);
    uint32_t const ji = (uint32_t)sp_randint(p->sub[8], 0, 0, (int32_t)c->n_intensity_ranges);
    uint32_t const jr = (uint32_t)sp_randint(p->sub[9], 0, 0, (int32_t)c->n_rho_ranges);
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

/* Points the frame arrays into buf, cap particles each. */
static void lay_out(sp_pair_slot *p, size_t cap, int frames)
{
    float *b = p->buf;
    float **const per_frame[SP_FRAME_ARRAYS] = {p->y, p->x, p->sx, p->sy, p->r, p->a, p->z};
    for (int f = 0; f < frames; f++)
        for (size_t k = 0; k < SP_FRAME_ARRAYS; k++, b += cap) per_frame[k][f] = b;
    p->arrays_frames = frames;
}

sp_status sp__pair_reserve(sp_pair_slot *p, sp_error *err)
{
    int const frames = p->ctx.frames;
    if (p->count <= p->capacity && p->buf && p->arrays_frames == frames) return SP_OK;
    SP_RETURN_IF(p->count >= (size_t)1 << 31, err, SP_ERR_RANGE,
                 "%zu particles in one sample: more than 2^31 (the light sheet's seeding slab is %g deep for a "
                 "sheet_thickness of %g; lower out_of_plane_range or the flow's w)",
                 p->count, (double)p->sheet.depth, p->ctx.cfg->sheet_thickness);
    /* Sized once for the densest pair the configuration allows, so pairs never reallocate. */
    size_t const most = p->ctx.geom ? p->ctx.geom->max_particles : 0;
    size_t const cap = (p->count > most ? p->count : most) + 64;
    size_t bytes = 0;
    SP_RETURN_IF(!sp__mul_size(cap, (size_t)frames * SP_FRAME_ARRAYS * sizeof(float), &bytes), err, SP_ERR_NOMEM,
                 "too many particles");
    float *const b = (float *)realloc(p->buf, bytes);
    SP_RETURN_IF(b == NULL, err, SP_ERR_NOMEM, "out of memory for %zu particles", p->count);
    p->buf = b;
    p->capacity = cap;
    lay_out(p, cap, frames);
    return SP_OK;
}

/* ---- advection --------------------------------------------------------------------- */

/* Displacement in pixels of a particle at canvas position (y, x). */
static void displacement(const sp_pair_context *ctx, const sp_flow *f, float y, float x, float *dy, float *dx)
{
    float u, v;
    sp__flow_bilinear(f, ctx->gy0 + y * ctx->gy_per_px, ctx->gx0 + x * ctx->gx_per_px, &u, &v);
    *dy = v * ctx->px_per_velocity;
    *dx = u * ctx->px_per_velocity;
}

/* The flow's w (channel 2) at canvas position (y, x); 0 for a two-channel flow. */
static float flow_w(const sp_pair_context *ctx, const sp_flow *f, float y, float x)
{
    return f->channels > 2 ? sp__flow_bilinear_w(f, ctx->gy0 + y * ctx->gy_per_px, ctx->gx0 + x * ctx->gx_per_px)
                           : 0.0f;
}

/* One step from canvas position (y, x): Euler or RK4 (the image pair's hot loop). */
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

/* advect's step (the same float operations) for K frames or a sheet; *wm (NULL: not
 * wanted) receives the flow's w averaged over the step as the scheme weights it: its value
 * at (y, x) for Euler, RK4's four stages weighted 1, 2, 2, 1. advect stays separate so that
 * the image pair's hot loop inlines it. */
static void advect_w(const sp_pair_context *ctx, const sp_flow *f, float y, float x, float *y2, float *x2,
                     float *wm)
{
    float k1y, k1x;
    displacement(ctx, f, y, x, &k1y, &k1x);
    if (ctx->cfg->advection != SP_ADVECT_RK4) {
        *y2 = y + k1y;
        *x2 = x + k1x;
        if (wm) *wm = flow_w(ctx, f, y, x);
        return;
    }
    float k2y, k2x, k3y, k3x, k4y, k4x;
    displacement(ctx, f, y + 0.5f * k1y, x + 0.5f * k1x, &k2y, &k2x);
    displacement(ctx, f, y + 0.5f * k2y, x + 0.5f * k2x, &k3y, &k3x);
    displacement(ctx, f, y + k3y, x + k3x, &k4y, &k4x);
    *y2 = y + (k1y + 2.0f * k2y + 2.0f * k3y + k4y) / 6.0f;
    *x2 = x + (k1x + 2.0f * k2x + 2.0f * k3x + k4x) / 6.0f;
    if (wm)
        *wm = (flow_w(ctx, f, y, x) + 2.0f * flow_w(ctx, f, y + 0.5f * k1y, x + 0.5f * k1x) +
               2.0f * flow_w(ctx, f, y + 0.5f * k2y, x + 0.5f * k2x) + flow_w(ctx, f, y + k3y, x + k3x)) /
              6.0f;
}

/* Euler steps of an image pair, 8 particles at a time (AVX2): advect's and taps_at's float
 * expressions lane by lane (clamp, truncation, weights, the four-term sums in the same
 * order), the flow values fetched with gathers, so the same bits. Returns how many
 * particles it placed (a multiple of 8); the caller places the rest. Needs offsets
 * (y W + x) C below 2^31. Measured (callgrind, the embedded default): 0.42 M instructions
 * a pair in the scalar loop, 0.14 M with this one. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SP_HAVE_EULER_V8 1
__attribute__((target("avx2"))) static size_t euler_pairs_avx2(const sp_pair_context *ctx, const sp_flow *f,
                                                                const float *tmp, size_t n, float *const out[4])
{
    typedef float v8f __attribute__((vector_size(32)));
    typedef int32_t v8i __attribute__((vector_size(32)));
    const sp_geometry *const g = ctx->geom;
    float const ch = (float)g->canvas_h, cw = (float)g->canvas_w;
    float const oy = (float)g->crop_y, ox = (float)g->crop_x;
    float const hmax = (float)(f->height - 1), wmax = (float)(f->width - 1);
    int32_t const H = (int32_t)f->height, W = (int32_t)f->width, C = (int32_t)f->channels;
    v8f const zero = {0}, one = zero + 1.0f;
    const float *const d0 = f->data, *const d1 = f->data + 1;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 const A = _mm256_loadu_ps(tmp + 2 * i), B = _mm256_loadu_ps(tmp + 2 * i + 8);
        v8f const ty = (v8f)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(A, B, 0x88)), 0xD8));
        v8f const tx = (v8f)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(A, B, 0xDD)), 0xD8));
        v8f const y = ty * ch, x = tx * cw;
        v8f const gy = ctx->gy0 + y * ctx->gy_per_px, gx = ctx->gx0 + x * ctx->gx_per_px;
        v8f const yh = (v8f)_mm256_blendv_ps((__m256)gy, _mm256_set1_ps(hmax), (__m256)(gy > hmax));
        v8f const xh = (v8f)_mm256_blendv_ps((__m256)gx, _mm256_set1_ps(wmax), (__m256)(gx > wmax));
        v8f const yc = (v8f)_mm256_blendv_ps((__m256)yh, (__m256)zero, (__m256)(gy < zero));
        v8f const xc = (v8f)_mm256_blendv_ps((__m256)xh, (__m256)zero, (__m256)(gx < zero));
        v8i const iy0 = __builtin_convertvector(yc, v8i), ix0 = __builtin_convertvector(xc, v8i);
        v8i const iy1 = iy0 - (iy0 + 1 < H), ix1 = ix0 - (ix0 + 1 < W); /* a true comparison is -1 */
        v8f const wy = yc - __builtin_convertvector(iy0, v8f), wx = xc - __builtin_convertvector(ix0, v8f);
        v8i const o00 = (iy0 * W + ix0) * C, o01 = (iy0 * W + ix1) * C, o10 = (iy1 * W + ix0) * C,
                  o11 = (iy1 * W + ix1) * C;
        v8f const a = (one - wx) * (one - wy), b = wx * (one - wy), c = (one - wx) * wy, d = wx * wy;
#define SP_G(base, o) ((v8f)_mm256_i32gather_ps((base), (__m256i)(o), 4))
        v8f const u = a * SP_G(d0, o00) + b * SP_G(d0, o01) + c * SP_G(d0, o10) + d * SP_G(d0, o11);
        v8f const v = a * SP_G(d1, o00) + b * SP_G(d1, o01) + c * SP_G(d1, o10) + d * SP_G(d1, o11);
#undef SP_G
        v8f const y2 = y + v * ctx->px_per_velocity, x2 = x + u * ctx->px_per_velocity;
        v8f const r[4] = {y - oy, x - ox, y2 - oy, x2 - ox};
        for (int k = 0; k < 4; k++) memcpy(out[k] + i, &r[k], sizeof r[k]);
    }
    return i;
}
#else
#define SP_HAVE_EULER_V8 0
#endif

/* Positions of every frame (and depths with a sheet) of particles [j0, j0 + n). */
static void draw_positions(sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t n, float *tmp)
{
    const sp_geometry *const g = ctx->geom;
    int const sheet = p->sheet.profile != SP_SHEET_NONE;
    sp_uniform_fill(p->sub[3], 2 * (uint64_t)j0, 2 * n, 0.0f, 1.0f, tmp);
    if (sheet) {
        float *const z0 = p->z[0] + j0;
        sp_uniform_fill(p->zkey, j0, n, 0.0f, 1.0f, z0);
        for (size_t i = 0; i < n; i++) z0[i] = p->sheet.zlo + z0[i] * p->sheet.depth;
    }
    float const ch = (float)g->canvas_h, cw = (float)g->canvas_w;
    float const oy = (float)g->crop_y, ox = (float)g->crop_x;
    float *const y0 = p->y[0] + j0, *const x0 = p->x[0] + j0;
    if (!sheet && ctx->frames == 2) { /* an image pair: one step, no depth (the common case) */
        float *const y1 = p->y[1] + j0, *const x1 = p->x[1] + j0;
        size_t i = 0;
#if SP_HAVE_EULER_V8
        const sp_flow *const f = p->flow;
        if (ctx->cfg->advection != SP_ADVECT_RK4 && f->height * f->width * f->channels <= INT32_MAX &&
            __builtin_cpu_supports("avx2")) {
            float *const out[4] = {y0, x0, y1, x1};
            i = euler_pairs_avx2(ctx, f, tmp, n, out);
        }
#endif
        for (; i < n; i++) {
            float const y = tmp[2 * i] * ch, x = tmp[2 * i + 1] * cw;
            float y2, x2;
            advect(ctx, p->flow, y, x, &y2, &x2);
            y0[i] = y - oy, x0[i] = x - ox;
            y1[i] = y2 - oy, x1[i] = x2 - ox;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float y = tmp[2 * i] * ch, x = tmp[2 * i + 1] * cw; /* canvas coordinates */
        y0[i] = y - oy;
        x0[i] = x - ox;
        for (int f = 1; f < ctx->frames; f++) {
            float y2, x2, wm;
            advect_w(ctx, p->flow, y, x, &y2, &x2, sheet ? &wm : NULL);
            if (sheet) p->z[f][j0 + i] = p->z[f - 1][j0 + i] + (wm + p->sheet.w) * p->sheet.dz_per_w;
            y = y2, x = x2;
            p->y[f][j0 + i] = y - oy;
            p->x[f][j0 + i] = x - ox;
        }
    }
}

/* ---- particle properties ------------------------------------------------------------- */

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

/* The keys of step f -> f + 1 (f + 1 >= 1): diameter x, diameter y, rho, intensity
 * perturbations and the visibility of frame f + 1. */
static void step_keys(const sp_pair_slot *p, int next, sp_key k[5])
{
    if (next == 1) {
        k[0] = p->props[4], k[1] = p->props[5], k[2] = p->props[6], k[3] = p->props[7], k[4] = p->sub[2];
        return;
    }
    for (int i = 0; i < 5; i++) k[i] = p->fsub[next][i];
}

/* Diameters, rho, intensities and visibility of every frame of particles [j0, j0 + n);
 * icur holds the current frame's intensities (before visibility). */
static void draw_properties(const sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t n, float *icur,
                            float *tmp)
{
    const sp_config *const c = ctx->cfg;
    const sp_pair_params *const pp = &p->params;
    float const dlo = pp->diameter_range[0], dhi = pp->diameter_range[1];
    float const rlo = pp->rho_range[0], rhi = pp->rho_range[1];
    float const ilo = pp->intensity_range[0], ihi = pp->intensity_range[1];
    float *const dx1 = p->sx[0] + j0, *const dy1 = p->sy[0] + j0;
    sp_uniform_fill(p->props[0], j0, n, dlo, dhi, dx1);
    sp_uniform_fill(p->props[1], j0, n, -1.0f, 1.0f, tmp);
    for (size_t i = 0; i < n; i++) dy1[i] = clipf(dx1[i] + tmp[i], dlo, dhi);
    sp_uniform_fill(p->props[2], j0, n, rlo, rhi, p->r[0] + j0);
    sp_uniform_fill(p->props[3], j0, n, ilo, ihi, icur);
    visibility(p->sub[1], j0, n, (float)c->p_hide_img1, icur, p->a[0] + j0, tmp);
    float const sd_d = (float)sqrt(c->diameter_var), sd_r = (float)sqrt(c->rho_var);
    float const sd_i = (float)sqrt(c->intensity_var);
    for (int f = 1; f < ctx->frames; f++) {
        sp_key k[5];
        step_keys(p, f, k);
        perturb(k[0], j0, n, sd_d, p->sx[f - 1] + j0, dlo, dhi, p->sx[f] + j0, tmp);
        perturb(k[1], j0, n, sd_d, p->sy[f - 1] + j0, dlo, dhi, p->sy[f] + j0, tmp);
        perturb(k[2], j0, n, sd_r, p->r[f - 1] + j0, rlo, rhi, p->r[f] + j0, tmp);
        perturb(k[3], j0, n, sd_i, icur, ilo, ihi, icur, tmp);
        visibility(k[4], j0, n, (float)c->p_hide_img2, icur, p->a[f] + j0, tmp);
    }
    /* Diameters to Gaussian sigmas. */
    float const conv = c->diameter_convention == SP_DIAMETER_E2 ? 0.25f : 0.5f;
    for (int f = 0; f < ctx->frames; f++) {
        float *const sx = p->sx[f] + j0, *const sy = p->sy[f] + j0;
        for (size_t i = 0; i < n; i++) {
            sx[i] *= conv;
            sy[i] *= conv;
        }
    }
}

/* The sheet's intensity factor at depth z (docs/realism.md). */
static float profile_at(const sp_pair_sheet *sh, float z)
{
    float const az = fabsf(z);
    if (!(az <= sh->reach)) return 0.0f;
    if (sh->profile == SP_SHEET_GAUSSIAN) return sp__expf(-(z * z * sh->k8));
    if (sh->edge <= 0.0f) return az <= sh->half ? 1.0f : 0.0f;
    float const v = (sh->reach - az) / sh->edge;
    return v < 1.0f ? v : 1.0f;
}

/* Amplitudes times the sheet's profile and over_exposure; the chunk's sheet counts. */
static void light(sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t n, uint32_t *counts)
{
    int const sheet = p->sheet.profile != SP_SHEET_NONE;
    float const oe = (float)ctx->cfg->over_exposure;
    for (int f = 0; f < ctx->frames; f++) {
        float *const a = p->a[f] + j0;
        if (sheet)
            for (size_t i = 0; i < n; i++) a[i] *= profile_at(&p->sheet, p->z[f][j0 + i]);
        if (oe != 1.0f)
            for (size_t i = 0; i < n; i++) a[i] *= oe;
    }
    if (!sheet || counts == NULL) return;
    memset(counts, 0, SP_SHEET_COUNTS * sizeof *counts);
    float const half = p->sheet.half;
    for (int f = 0; f < ctx->frames; f++) {
        const float *const z = p->z[f] + j0, *const zn = f + 1 < ctx->frames ? p->z[f + 1] + j0 : NULL;
        for (size_t i = 0; i < n; i++) {
            int const in = fabsf(z[i]) <= half;
            counts[f] += (uint32_t)in;
            if (zn == NULL) continue;
            int const in_next = fabsf(zn[i]) <= half;
            counts[SP_MAX_FRAMES + f] += (uint32_t)(in && !in_next);
            counts[2 * SP_MAX_FRAMES + f] += (uint32_t)(in_next && !in);
        }
    }
}

void sp__pair_chunk(sp_pair_slot *p, const sp_pair_context *ctx, size_t j0, size_t j1, float *tmp,
                    uint32_t *counts)
{
    size_t const n = j1 - j0;
    SP_ASSERT(n <= SP_PAIR_CHUNK);
    draw_positions(p, ctx, j0, n, tmp);
    draw_properties(p, ctx, j0, n, tmp + 2 * SP_PAIR_CHUNK, tmp);
    light(p, ctx, j0, n, counts);
}

void sp__pair_sheet_fractions(sp_pair_slot *p, const uint32_t *counts)
{
    sp_pair_params *const pp = &p->params;
    for (int f = 0; f < p->ctx.frames; f++) pp->in_sheet[f] = counts[f];
    for (int f = 0; f + 1 < p->ctx.frames; f++) {
        uint32_t const in = counts[f], in_next = counts[f + 1];
        pp->lost[f] = in ? (float)((double)counts[SP_MAX_FRAMES + f] / (double)in) : 0.0f;
        pp->gained[f] = in_next ? (float)((double)counts[2 * SP_MAX_FRAMES + f] / (double)in_next) : 0.0f;
    }
}

void sp__pair_particles(const sp_pair_slot *p, int frame, sp_particles *out)
{
    out->count = p->count;
    out->y = p->y[frame];
    out->x = p->x[frame];
    out->sigma_y = p->sy[frame];
    out->sigma_x = p->sx[frame];
    out->rho = p->r[frame];
    out->amplitude = p->a[frame];
}

void sp__pair_slot_release(sp_pair_slot *p)
{
    free(p->buf);
    for (int f = 0; f < SP_MAX_FRAMES; f++) sp_frame_bins_release(&p->bins[f]);
    memset(p, 0, sizeof *p);
}
