/* synthpix: the particle renderer.
 *
 * A frame is rendered by binning particles into horizontal bands of the image and letting
 * each band accumulate its particles in increasing index order. Each pixel belongs to one
 * band, so its sum is taken in particle index order whatever the band size or the thread
 * that renders the band: results are byte-identical for any thread count.
 *
 * Each particle touches only its (2R+1)^2 footprint, clipped to the image
 * (docs/synthpix-compat.md, D1: particles off the image are clipped at the edge of their
 * patch, never moved). The Gaussian is
 *     I(X, Y) = A exp(-(X^2/sx^2 + Y^2/sy^2 - 2 rho X Y/(sx sy)) / (2 (1 - rho^2)))
 * with X = col - x, Y = row - y; render.c explains how each PSF evaluates it.
 *   psf point:      the Gaussian sampled at the pixel centre (SynthPix).
 *   psf integrated: the mean of the Gaussian over the pixel's area (erf form: what a sensor
 *                   pixel records); exact for rho = 0; for rho != 0 the Y marginal is
 *                   averaged over the row and the conditional X Gaussian over each pixel at
 *                   the row centre (conserves the integral); for |rho| > 0.6 a 4x4 grid of
 *                   samples per pixel. For a large sigma both modes agree.
 * The footprint is centred on the nearest pixel: rows round(y) - R .. round(y) + R.
 *
 * The band binning and band rendering calls (sp_frame_bins_*, sp_render_band) are the
 * library's internals for rendering one frame on many threads; they are experimental
 * (SP_EXPERIMENTAL_API). sp_render_frame renders a whole frame on the calling thread.
 *
 * Thread safety: every function may be called from any thread on distinct outputs.
 * sp_render_band may run concurrently for different bands of one frame (they write
 * disjoint rows); an sp_frame_bins is built by one thread.
 */
#ifndef SP_RENDER_H
#define SP_RENDER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "sp/sp_api.h"
#include "sp/sp_errors.h"
#include "sp/sp_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest footprint half-width in pixels: 3 sigma of an 85-pixel (synthpix convention)
 * particle. */
#define SP_RENDER_MAX_RADIUS 128

/* The point-spread function (configuration key `psf`; docs/configuration.md). */
typedef enum sp_psf { SP_PSF_POINT = 0, SP_PSF_INTEGRATED = 1 } sp_psf;

/* One frame's particles, structure of arrays (all borrowed). Coordinates are in image
 * pixels: (y, x) = (row, column), pixel (i, j) centred at (i, j). */
typedef struct sp_particles {
    size_t count;
    const float *y, *x;
    const float *sigma_y, *sigma_x; /* Gaussian standard deviations, pixels, > 0 */
    const float *rho;               /* correlation, (-1, 1) */
    const float *amplitude;         /* peak intensity; particles with 0 are skipped */
} sp_particles;

typedef struct sp_render_geometry {
    size_t height, width; /* image */
    int radius;           /* R: footprint half-width in pixels, >= 1 */
    size_t band_rows;     /* rows per band (>= 1); 0 = default (32) */
    sp_psf psf;
} sp_render_geometry;

#if defined(SP_EXPERIMENTAL_API)
/* ---- experimental: band binning and band rendering (the sampler's threads) ---------- */

/* Particle indices of each band (counting sort: indices ascend within a band). */
typedef struct sp_frame_bins {
    size_t nbands;
    size_t band_rows;
    uint32_t *start; /* nbands + 1 offsets into index */
    uint32_t *index; /* particle indices, a particle appears once per band it touches */
    size_t capacity;
    size_t start_capacity;
    int32_t *center; /* per particle: footprint centre row and column (2 values), or
                        INT32_MIN when the particle is not drawn; computed once */
    size_t center_capacity;
} sp_frame_bins;

/* Bins the particles of one frame. bins is reused across calls (zero-initialise once;
 * release with sp_frame_bins_release). At most 2^32 - 1 particles. */
SP_API sp_status sp_frame_bins_build(sp_frame_bins *bins, const sp_render_geometry *g, const sp_particles *p,
                                     sp_error *err);
SP_API void sp_frame_bins_release(sp_frame_bins *bins);

/* Renders band `band` of the frame into dst (row-major height x width floats; only the
 * band's rows are written: they are overwritten, not accumulated). */
SP_API void sp_render_band(const sp_render_geometry *g, const sp_particles *p, const sp_frame_bins *bins,
                           size_t band, float *dst);
#endif /* SP_EXPERIMENTAL_API */

/* Bins and renders a whole frame on the calling thread. */
SP_API sp_status sp_render_frame(const sp_render_geometry *g, const sp_particles *p, float *dst, sp_error *err);

/* ---- post-processing (docs/synthpix-compat.md, Pair kernel): noise, clip, mask, histogram */

typedef struct sp_noise_params {
    float uniform;       /* U[0, uniform) added per pixel (0 = none) */
    float gaussian_mean; /* constant added to every pixel */
    float gaussian_std;  /* N(0, 1) * std added per pixel (0 = none) */
} sp_noise_params;

/* Rows [r0, r1) of a width-W image, each pixel in this float32 order:
 *   v = ((img + u) + mean) + z * std,  u = sp_pair_uniform(ku, p, uniform) (0 when uniform
 *   <= 0), z = sp_pair_normal(kg, p) (0 when std <= 0); img = clip(v, 0, 255) * mask
 * (NULL = no mask; NaN clips to 0). p = i * W + j is the pixel's flat index, so the result
 * does not depend on how rows are split between threads. scratch is unused since stream
 * version 2 (NULL allowed). */
SP_API void sp_post_rows(float *img, size_t width, size_t r0, size_t r1, const sp_noise_params *noise, sp_key ku,
                         sp_key kg, const float *mask, float *scratch);

/* Target CDF of a 256-bin histogram: cdf[l] = sum(hist[0..l]) / sum(hist). Returns
 * SP_ERR_INVALID when the sum is not positive or a bin is negative or not finite. */
SP_API sp_status sp_histogram_target_cdf(const double *hist, double *cdf);
/* SynthPix's histogram matching of n pixels in place: source bins floor(v) clipped to
 * [0, 255], source CDF normalised to 1, each pixel becomes the first level l with
 * target_cdf[l] >= source_cdf[bin] (an integer level, stored as float). */
SP_API void sp_histogram_match(float *img, size_t n, const double *target_cdf);

#ifdef __cplusplus
}
#endif
#endif /* SP_RENDER_H */
