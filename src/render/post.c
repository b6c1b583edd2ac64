/* post.c: what happens to a rendered frame after the crop (docs/synthpix-compat.md, Pair kernel):
 * noise + clip, then mask, then histogram matching, in SynthPix's order (so masked zeros
 * are histogram-matched too, as in SynthPix).
 *
 * Noise draws are keyed by the pixel's flat index: a band of rows can be processed by
 * any thread with identical results. The loops over a row are written so that compilers
 * vectorise them (the bulk RNG fills do most of the work).
 */
#include <math.h>
#include <string.h>

#include "sp_internal.h"
#include "sp/sp_render.h"

static void post_row(float *row, size_t w, size_t first, const sp_noise_params *n, sp_key ku, sp_key kg,
                     const float *mask, float *scratch)
{
    if (n->uniform > 0.0f) {
        sp_uniform_fill(ku, first, w, 0.0f, n->uniform, scratch);
        for (size_t j = 0; j < w; j++) row[j] += scratch[j];
    }
    if (n->gaussian_mean != 0.0f)
        for (size_t j = 0; j < w; j++) row[j] += n->gaussian_mean;
    if (n->gaussian_std > 0.0f) {
        sp_normal_fill(kg, first, w, scratch);
        float const sd = n->gaussian_std;
        for (size_t j = 0; j < w; j++) row[j] += scratch[j] * sd;
    }
    for (size_t j = 0; j < w; j++) {
        float const v = row[j];
        row[j] = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
    }
    if (mask)
        for (size_t j = 0; j < w; j++) row[j] *= mask[j];
}

void sp_post_rows(float *img, size_t width, size_t r0, size_t r1, const sp_noise_params *noise, sp_key ku,
                  sp_key kg, const float *mask, float *scratch)
{
    for (size_t i = r0; i < r1; i++)
        post_row(img + i * width, width, i * width, noise, ku, kg, mask ? mask + i * width : NULL, scratch);
}

sp_status sp_histogram_target_cdf(const double *hist, double *cdf)
{
    double total = 0;
    for (int l = 0; l < 256; l++) {
        if (!isfinite(hist[l]) || hist[l] < 0) return SP_ERR_INVALID;
        total += hist[l];
        cdf[l] = total;
    }
    if (!(total > 0)) return SP_ERR_INVALID;
    for (int l = 0; l < 256; l++) cdf[l] /= total;
    return SP_OK;
}

static int source_bin(float v)
{
    /* digitize(v, edges 0..256) - 1, clipped to [0, 255]: floor for v in [0, 256). */
    if (!(v >= 0.0f)) return 0;
    if (v >= 255.0f) return 255;
    return (int)v;
}

void sp_histogram_match(float *img, size_t n, const double *target_cdf)
{
    if (n == 0) return;
    size_t count[256] = {0};
    for (size_t k = 0; k < n; k++) count[source_bin(img[k])]++;
    float level[256];
    size_t cum = 0;
    int l = 0;
    for (int b = 0; b < 256; b++) {
        cum += count[b];
        double const q = (double)cum / (double)n;
        /* First target level whose CDF reaches q; q is non-decreasing in b. */
        while (l < 255 && target_cdf[l] < q) l++;
        level[b] = (float)l;
    }
    for (size_t k = 0; k < n; k++) img[k] = level[source_bin(img[k])];
}
