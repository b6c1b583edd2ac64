/* flow_filter.c: separable Gaussian filter with scipy.ndimage.gaussian_filter's conventions.
 *
 * Map
 *   kernel_build      g[t], t = 0..radius, g[t] = exp(-t^2 / (2 sigma^2)) / sum; when the
 *                     radius exceeds the line length n, the kernel is folded onto the 2n
 *                     periodic reflection (kernel_fold) so its radius becomes n.
 *   filter_columns    axis 0: each output row i is sum_t g[t] (x[i-t] + x[i+t]) over padded
 *                     rows, vectorised along the row (the columns are independent).
 *   filter_rows       axis 1: the same on one padded line per row, vectorised along it.
 *   sp__gaussian_filter_2d   axis 0 then axis 1, float32 storage between the passes.
 *
 * Exactness. For every output element the operations are those of scipy's correlate1d for
 * a symmetric kernel: acc = x[i] g[0], then for t = radius down to 1,
 * acc += (x[i-t] + x[i+t]) g[t], in double, rounded to float32 at the end of each pass.
 * Vectorising across independent outputs does not reorder any element's sum, so results are
 * identical at every SIMD width and thread count (-ffp-contract=off forbids fused
 * multiply-adds). The weights are normalised in our own summation order, so they can
 * differ from scipy's by an ulp; the folded kernel (radius > n) sums weights in yet another
 * order. Both stay within 1e-6 relative of scipy.
 *
 * Reflection: index p outside [0, n) maps to q = p mod 2n (non-negative), then q if q < n,
 * else 2n - 1 - q, i.e. d c b a | a b c d | d c b a, repeated as often as needed.
 */
#include "flow_filter.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sp_internal.h"

typedef struct sp_gauss_kernel {
    double *g;     /* g[0..radius], symmetric: the weight of offsets +t and -t */
    size_t radius;
} sp_gauss_kernel;

size_t sp__gaussian_radius(double sigma)
{
    return (size_t)(4.0 * sigma + 0.5);
}

/* Half-sample symmetric reflection of p into [0, n). */
static size_t reflect_index(int64_t p, size_t n)
{
    int64_t const period = 2 * (int64_t)n;
    int64_t q = p % period;
    if (q < 0) q += period;
    return q < (int64_t)n ? (size_t)q : (size_t)(period - 1 - q);
}

/* Folds a kernel of radius r > n onto the 2n-periodic reflection: offsets k and k + 2n read
 * the same sample, so their weights add. Offset n and -n are one sample too, hence the half
 * weight at radius n (the symmetric sum adds x[i-n] + x[i+n]). */
static sp_status kernel_fold(sp_gauss_kernel *k, size_t n)
{
    double *const f = (double *)calloc(n + 1, sizeof(double));
    if (f == NULL) return SP_ERR_NOMEM;
    int64_t const period = 2 * (int64_t)n;
    for (int64_t t = -(int64_t)k->radius; t <= (int64_t)k->radius; t++) {
        int64_t q = t % period;
        if (q < 0) q += period;
        if (q <= (int64_t)n) f[q] += k->g[t < 0 ? -t : t]; /* q > n mirrors offset 2n - q */
    }
    f[n] *= 0.5;
    free(k->g);
    k->g = f;
    k->radius = n;
    return SP_OK;
}

/* The normalised kernel for sigma, folded when wider than a line of n samples. */
static sp_status kernel_build(sp_gauss_kernel *k, double sigma, size_t n)
{
    size_t const r = sp__gaussian_radius(sigma);
    k->radius = r;
    k->g = (double *)malloc((r + 1) * sizeof(double));
    if (k->g == NULL) return SP_ERR_NOMEM;
    double const c = -0.5 / (sigma * sigma);
    for (size_t t = 0; t <= r; t++) k->g[t] = exp(c * ((double)t * (double)t));
    double tail = 0.0;
    for (size_t t = r; t > 0; t--) tail += k->g[t]; /* smallest weights first */
    double const total = k->g[0] + 2.0 * tail;
    for (size_t t = 0; t <= r; t++) k->g[t] /= total;
    if (r > n) return kernel_fold(k, n);
    return SP_OK;
}

/* Axis 0. pad holds h + 2r rows of w floats: row p is src row reflect(p - r). */
SP_MULTIVERSION static void filter_columns(float *plane, size_t h, size_t w, const sp_gauss_kernel *k,
                           float *restrict pad, double *restrict acc)
{
    size_t const r = k->radius;
    for (size_t p = 0; p < h + 2 * r; p++) {
        size_t const src = reflect_index((int64_t)p - (int64_t)r, h);
        memcpy(pad + p * w, plane + src * w, w * sizeof(float));
    }
    for (size_t i = 0; i < h; i++) {
        const float *const mid = pad + (i + r) * w;
        double const g0 = k->g[0];
        for (size_t j = 0; j < w; j++) acc[j] = (double)mid[j] * g0;
        for (size_t t = r; t > 0; t--) {
            const float *restrict const up = mid - t * w;
            const float *restrict const down = mid + t * w;
            double const gt = k->g[t];
            for (size_t j = 0; j < w; j++) acc[j] += ((double)up[j] + (double)down[j]) * gt;
        }
        float *const out = plane + i * w;
        for (size_t j = 0; j < w; j++) out[j] = (float)acc[j];
    }
}

/* Axis 1. line holds w + 2r doubles: line[q] is row[reflect(q - r)]. */
SP_MULTIVERSION static void filter_rows(float *plane, size_t h, size_t w, const sp_gauss_kernel *k,
                        double *restrict line, double *restrict acc)
{
    size_t const r = k->radius;
    for (size_t i = 0; i < h; i++) {
        float *const row = plane + i * w;
        for (size_t q = 0; q < w + 2 * r; q++)
            line[q] = (double)row[reflect_index((int64_t)q - (int64_t)r, w)];
        const double *restrict const mid = line + r;
        double const g0 = k->g[0];
        for (size_t j = 0; j < w; j++) acc[j] = mid[j] * g0;
        for (size_t t = r; t > 0; t--) {
            const double *restrict const left = mid - t;
            const double *restrict const right = mid + t;
            double const gt = k->g[t];
            for (size_t j = 0; j < w; j++) acc[j] += (left[j] + right[j]) * gt;
        }
        for (size_t j = 0; j < w; j++) row[j] = (float)acc[j];
    }
}

static sp_status filter_axis0(float *plane, size_t h, size_t w, double sigma)
{
    sp_gauss_kernel k = {NULL, 0};
    sp_status st = kernel_build(&k, sigma, h);
    float *pad = NULL;
    double *acc = NULL;
    size_t bytes = 0; /* (h + 2 radius) w floats; radius <= max(h, 4 sigma_max + 1) */
    if (st == SP_OK && !sp__mul_size(h + 2 * k.radius, w * sizeof(float), &bytes)) st = SP_ERR_NOMEM;
    if (st == SP_OK) {
        pad = (float *)malloc(bytes);
        acc = (double *)malloc(w * sizeof(double));
        st = (pad && acc) ? SP_OK : SP_ERR_NOMEM;
    }
    if (st == SP_OK) filter_columns(plane, h, w, &k, pad, acc);
    free(pad);
    free(acc);
    free(k.g);
    return st;
}

static sp_status filter_axis1(float *plane, size_t h, size_t w, double sigma)
{
    sp_gauss_kernel k = {NULL, 0};
    sp_status st = kernel_build(&k, sigma, w);
    double *line = NULL, *acc = NULL;
    if (st == SP_OK) {
        line = (double *)malloc((w + 2 * k.radius) * sizeof(double));
        acc = (double *)malloc(w * sizeof(double));
        st = (line && acc) ? SP_OK : SP_ERR_NOMEM;
    }
    if (st == SP_OK) filter_rows(plane, h, w, &k, line, acc);
    free(line);
    free(acc);
    free(k.g);
    return st;
}

sp_status sp__gaussian_filter_2d(float *plane, size_t h, size_t w, double sigma)
{
    SP_ASSERT(plane != NULL && h > 0 && w > 0);
    SP_ASSERT(sigma >= 0.0 && sigma <= SP_GAUSS_SIGMA_MAX);
    /* scipy skips axes with sigma <= 1e-15; a radius-0 kernel is the single weight 1, whose
     * product with x is x exactly, so skipping it too changes no bit (and avoids a 0 * inf
     * weight when sigma^2 underflows). */
    if (!(sigma > 1e-15) || sp__gaussian_radius(sigma) == 0) return SP_OK;
    SP_TRY(filter_axis0(plane, h, w, sigma));
    return filter_axis1(plane, h, w, sigma);
}
