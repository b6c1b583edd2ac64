/* test_xcorr.h: FFT cross-correlation of two square images, for the end-to-end checks that
 * a rendered pair (or two frames) holds the displacement its flow says (test_sampler,
 * test_realism). */
#ifndef SP_TEST_XCORR_H
#define SP_TEST_XCORR_H

#include <stddef.h>

/* Displacement (dy, dx) of b relative to a (n x n floats, n a power of two) by FFT
 * cross-correlation of the mean-free images and a 3-point Gaussian fit around the peak.
 * *peak (NULL allowed) receives the peak's height normalised by the two images' energies
 * (sqrt(sum a'^2 sum b'^2), a' and b' mean-free): 1 for b a circular shift of a. */
void sp_test_cross_correlate(const float *a, const float *b, size_t n, double *dy, double *dx, double *peak);

#endif
