/* synthpix: the particle renderer.
 *
 * A frame is rendered by binning particles into horizontal bands of the image and letting
 * each band accumulate its particles in increasing index order. Each pixel belongs to one
 * band, so its sum is taken in particle index order whatever the band size or the thread
 * that renders the band: results are byte-identical for any thread count.
 *
 * Each particle touches only its (2R+1)^2 footprint, clipped to the image (PRODUCT 4.1:
 * particles off the image are clipped at the edge of their patch, never moved). The
 * Gaussian
 *     I(X, Y) = A exp(-(X^2/sx^2 + Y^2/sy^2 - 2 rho X Y/(sx sy)) / (2 (1 - rho^2)))
 * with X = col - x, Y = row - y is evaluated as the product of a column factor, a row
 * factor and the cross term exp(c X Y); along a row the cross term advances by the constant
 * factor exp(c Y), so a footprint costs O(R) exponentials, not O(R^2).
 *   psf point:      the Gaussian sampled at the pixel centre (SynthPix).
 *   psf integrated: the mean of the Gaussian over the pixel's area (erf form: what a sensor
 *                   pixel records); exact for rho = 0; for rho != 0 the Y marginal is
 *                   averaged over the row and the conditional X Gaussian over each pixel at
 *                   the row centre (conserves the integral); for |rho| > 0.6 a 4x4 grid of
 *                   samples per pixel. For a large sigma both modes agree.
 * The footprint is centred on the nearest pixel: rows round(y) - R .. round(y) + R.
 *
 * Thread safety: sp_render_band may run concurrently for different bands of one frame
 * (they write disjoint rows); an sp_frame_bins is built by one thread.
 */
#ifndef SP_RENDER_H
#define SP_RENDER_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t */

#include "sp/sp_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sp_psf { SP_RENDER_PSF_POINT = 0, SP_RENDER_PSF_INTEGRATED = 1 } sp_psf;

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

/* Particle indices of each band (counting sort: indices ascend within a band). */
typedef struct sp_frame_bins {
    size_t nbands;
    size_t band_rows;
    uint32_t *start; /* nbands + 1 offsets into index */
    uint32_t *index; /* particle indices, a particle appears once per band it touches */
    size_t capacity;
    size_t start_capacity;
} sp_frame_bins;

/* Bins the particles of one frame. bins is reused across calls (zero-initialise once;
 * release with sp_frame_bins_release). At most 2^32 - 1 particles. */
sp_status sp_frame_bins_build(sp_frame_bins *bins, const sp_render_geometry *g, const sp_particles *p,
                              sp_error *err);
void sp_frame_bins_release(sp_frame_bins *bins);

/* Renders band `band` of the frame into dst (row-major height x width floats; only the
 * band's rows are written: they are overwritten, not accumulated). */
void sp_render_band(const sp_render_geometry *g, const sp_particles *p, const sp_frame_bins *bins,
                    size_t band, float *dst);

/* Convenience: bins and renders a whole frame on the calling thread. */
sp_status sp_render_frame(const sp_render_geometry *g, const sp_particles *p, float *dst, sp_error *err);

#ifdef __cplusplus
}
#endif
#endif /* SP_RENDER_H */
