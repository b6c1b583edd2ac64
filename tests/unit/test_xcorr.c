/* test_xcorr.c: see test_xcorr.h. A plain radix-2 FFT in double, written for the tests (an
 * oracle independent of the library: it shares no code with the renderer). */
#include "test_xcorr.h"

#include <math.h>
#include <stdlib.h>

typedef struct cpx {
    double re, im;
} cpx;

/* In-place radix-2 FFT of n = 2^k values with stride. */
static void fft1(cpx *a, size_t n, size_t stride, int inverse)
{
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1) j ^= bit;
        j ^= bit;
        if (i < j) {
            cpx const t = a[i * stride];
            a[i * stride] = a[j * stride];
            a[j * stride] = t;
        }
    }
    for (size_t len = 2; len <= n; len <<= 1) {
        double const ang = 2 * M_PI / (double)len * (inverse ? 1 : -1);
        for (size_t i = 0; i < n; i += len)
            for (size_t j = 0; j < len / 2; j++) {
                double const c = cos(ang * (double)j), s = sin(ang * (double)j);
                cpx *const u = &a[(i + j) * stride], *const v = &a[(i + j + len / 2) * stride];
                cpx const t = {v->re * c - v->im * s, v->re * s + v->im * c};
                v->re = u->re - t.re;
                v->im = u->im - t.im;
                u->re += t.re;
                u->im += t.im;
            }
    }
}

static void fft2(cpx *a, size_t n, int inverse)
{
    for (size_t r = 0; r < n; r++) fft1(a + r * n, n, 1, inverse);
    for (size_t col = 0; col < n; col++) fft1(a + col, n, n, inverse);
}

/* Displacement of b relative to a by FFT cross-correlation and a 3-point Gaussian fit. */
void sp_test_cross_correlate(const float *a, const float *b, size_t n, double *dy, double *dx, double *peak)
{
    cpx *const A = (cpx *)calloc(n * n, sizeof *A), *const Bf = (cpx *)calloc(n * n, sizeof *Bf);
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n * n; i++) ma += (double)a[i], mb += (double)b[i];
    ma /= (double)(n * n), mb /= (double)(n * n);
    double ea = 0, eb = 0;
    for (size_t i = 0; i < n * n; i++) {
        A[i].re = (double)a[i] - ma, Bf[i].re = (double)b[i] - mb;
        ea += A[i].re * A[i].re, eb += Bf[i].re * Bf[i].re;
    }
    fft2(A, n, 0);
    fft2(Bf, n, 0);
    for (size_t i = 0; i < n * n; i++) { /* conj(A) * B */
        cpx const x = A[i], y = Bf[i];
        A[i].re = x.re * y.re + x.im * y.im;
        A[i].im = x.re * y.im - x.im * y.re;
    }
    fft2(A, n, 1);
    size_t best = 0;
    for (size_t i = 1; i < n * n; i++) if (A[i].re > A[best].re) best = i;
    size_t const pi = best / n, pj = best % n;
    /* the inverse transform is unnormalised: divide by n^2 */
    if (peak) *peak = A[best].re / ((double)(n * n) * sqrt(ea * eb));
#define CC(i, j) (A[(((i) + n) % n) * n + (((j) + n) % n)].re)
    double const c0 = log(CC(pi, pj)), ym = log(CC(pi - 1, pj)), yp = log(CC(pi + 1, pj));
    double const xm = log(CC(pi, pj - 1)), xp = log(CC(pi, pj + 1));
#undef CC
    double const sy = (ym - yp) / (2 * (ym - 2 * c0 + yp)), sx = (xm - xp) / (2 * (xm - 2 * c0 + xp));
    *dy = (double)(pi > n / 2 ? (long)pi - (long)n : (long)pi) + sy;
    *dx = (double)(pj > n / 2 ? (long)pj - (long)n : (long)pj) + sx;
    free(A);
    free(Bf);
}
