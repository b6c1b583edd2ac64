/* flow_filter.h (private): the separable Gaussian filter behind the kinematic flow.
 *
 * Conventions are scipy.ndimage.gaussian_filter's, so that a field generated here matches
 * the reference generator: mode 'reflect' (half-sample symmetric, d c b a | a b c d |
 * d c b a, repeated for kernels wider than the line), truncate = 4.0, radius =
 * (size_t)(4 sigma + 0.5), weights exp(-x^2 / (2 sigma^2)) normalised to sum 1 in double.
 * Axis 0 (down the columns) is filtered first, then axis 1 (along the rows); each pass
 * accumulates in double and stores float32, as scipy does for a float32 array.
 *
 * Thread safety: pure functions of their arguments.
 */
#ifndef SP_FLOW_FILTER_H
#define SP_FLOW_FILTER_H

#include <stddef.h>

#include "sp/sp_errors.h"

/* Largest sigma (grid cells) the filter accepts: it bounds the kernel's memory
 * (2 * radius + 1 doubles). Wider kernels are folded onto the 2n-periodic reflection, so the
 * cost stays O(h w min(radius, n)) whatever sigma is. */
#define SP_GAUSS_SIGMA_MAX 1e5

/* Kernel radius for sigma: (size_t)(4 sigma + 0.5), as scipy's truncate = 4.0. */
size_t sp__gaussian_radius(double sigma);

/* Filters the (h, w) row-major float32 plane in place with a Gaussian of standard deviation
 * sigma grid cells along both axes. sigma <= 1e-15 leaves the plane unchanged (scipy skips
 * such axes). Requires 0 <= sigma <= SP_GAUSS_SIGMA_MAX, h, w >= 1. Returns SP_ERR_NOMEM
 * (plane untouched or partly filtered) when scratch memory cannot be had. */
sp_status sp__gaussian_filter_2d(float *plane, size_t h, size_t w, double sigma);

#endif /* SP_FLOW_FILTER_H */
