/* sp_math.h: float32 elementary functions for the hot loops: exp, log, erf, erfinv.
 *
 * Why our own: the renderer and the noise generator call these tens of millions of times
 * per second; libm's versions are opaque calls that keep loops scalar, and their last-bit
 * results may differ between library versions. These are inline, branch-free (both sides
 * of a range split are computed and one selected), use only IEEE basic operations and
 * integer bit manipulation, so compilers vectorise loops over them and the results are
 * bit-identical on every platform and vector width (we build with -ffp-contract=off).
 *
 * Accuracy: sp__expf ~1 ulp on [-87, 88] (0 below, clamped above); sp__logf ~1 ulp for
 * positive normal inputs; sp__erff absolute error < 2e-7 (Abramowitz & Stegun 7.1.26);
 * sp__erfinvf: Giles' single-precision approximation (as XLA), relative error ~1e-7.
 */
#ifndef SP_MATH_H
#define SP_MATH_H

#include <stdint.h>
#include <string.h>

static inline float sp__f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t sp__bits_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* e^x: x = k ln2 + r, |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (error
 * r^7/5040 < 1.3e-7 relative), 2^k assembled in the exponent bits. */
static inline float sp__expf(float x)
{
    float const xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float const shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float const t = xc * 1.44269504089f + shifter;
    float const k = t - shifter;
    int32_t const ki = (int32_t)(sp__bits_from_f32(t) - sp__bits_from_f32(shifter));
    float const r = (xc - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    float const p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
                                                                 r * (0.00833333377f + r * 0.00138888892f)))));
    float const scale = sp__f32_from_bits((uint32_t)(ki + 127) << 23);
    float const y = p * scale;
    return x < -87.0f ? 0.0f : y;
}

/* ln x for positive normal x: fdlibm's e_logf reduction, x = 2^k (1 + f) with 1 + f in
 * [sqrt(2)/2, sqrt(2)), log(1 + f) = 2s + s R(s^2), s = f / (2 + f). */
static inline float sp__logf(float x)
{
    uint32_t ix = sp__bits_from_f32(x);
    int32_t k = (int32_t)(ix >> 23) - 127;
    ix &= 0x007FFFFFu;
    uint32_t const i = (ix + (0x95F64u << 3)) & 0x800000u;
    float const mf = sp__f32_from_bits(ix | (i ^ 0x3F800000u));
    k += (int32_t)(i >> 23);
    float const f = mf - 1.0f;
    float const s = f / (2.0f + f);
    float const z = s * s;
    float const w = z * z;
    float const t1 = w * (0.40000972152f + w * 0.24279078841f);
    float const t2 = z * (0.66666662693f + w * 0.28498786688f);
    float const r = t2 + t1;
    float const hfsq = 0.5f * f * f;
    float const dk = (float)k;
    return dk * 6.9313812256e-01f - ((hfsq - (s * (hfsq + r) + dk * 9.0580006145e-06f)) - f);
}

/* erf x = sign(x) (1 - (a1 t + ... + a5 t^5) e^{-x^2}), t = 1 / (1 + p |x|). */
static inline float sp__erff(float x)
{
    float const ax = x < 0.0f ? -x : x;
    float const t = 1.0f / (1.0f + 0.3275911f * ax);
    float const poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float const y = 1.0f - poly * sp__expf(-ax * ax);
    return x < 0.0f ? -y : y;
}

/* Inverse error function on (-1, 1): M. Giles, "Approximating the erfinv function"
 * (GPU Computing Gems, 2011), both branches evaluated and selected. */
static inline float sp__erfinvf(float x)
{
    float const w = -sp__logf((1.0f - x) * (1.0f + x));
    float const a = w - 2.5f;
    float p = 2.81022636e-08f;
    p = 3.43273939e-07f + p * a;
    p = -3.5233877e-06f + p * a;
    p = -4.39150654e-06f + p * a;
    p = 0.00021858087f + p * a;
    p = -0.00125372503f + p * a;
    p = -0.00417768164f + p * a;
    p = 0.246640727f + p * a;
    p = 1.50140941f + p * a;
    float const b = __builtin_sqrtf(w) - 3.0f;
    float q = -0.000200214257f;
    q = 0.000100950558f + q * b;
    q = 0.00134934322f + q * b;
    q = -0.00367342844f + q * b;
    q = 0.00573950773f + q * b;
    q = -0.0076224613f + q * b;
    q = 0.00943887047f + q * b;
    q = 1.00167406f + q * b;
    q = 2.83297682f + q * b;
    return (w < 5.0f ? p : q) * x;
}

#endif /* SP_MATH_H */
