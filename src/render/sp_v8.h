/* sp_v8.h - 8-lane float helpers for the render kernels (private to src/render).
 *
 * Map: sp_v8f/sp_v8i/sp_v8u (GCC/clang vector extensions), sp__v8_select, sp__v8_keep,
 * sp__v8_splat,
 * sp__expf_v8 and sp__erff_v8 (lane i has the bits of sp_math.h's sp__expf(x[i]) and
 * sp__erff(x[i])).
 *
 * Why a module header and not sp_math.h: functions that return 32-byte vectors draw
 * -Wpsabi in any file built without AVX; render.c, whose kernels are AVX2/default clones,
 * is the only user and is built with -Wno-psabi (cmake/modules/render.cmake). The
 * functions are static inline, so no vector ever crosses a real call boundary. */
#ifndef SP_V8_H
#define SP_V8_H

#include <stdint.h>

/* The same operations, in the same order, on 8 floats at once: element i of
 * sp__expf_v8(x) has the bits of sp__expf(x[i]). The compiler emits one AVX2 instruction
 * per operation in the AVX2 clones and two SSE instructions in the baseline ones, so the
 * hot kernels vectorise whatever the loop shapes around them. */
#if defined(__GNUC__) || defined(__clang__)
#define SP_HAVE_V8 1
typedef float sp_v8f __attribute__((vector_size(32)));
typedef int32_t sp_v8i __attribute__((vector_size(32)));

typedef uint32_t sp_v8u __attribute__((vector_size(32)));

/* m ? a : b, m a comparison result (all ones or all zeros per lane): three operations. */
static inline sp_v8f sp__v8_select(sp_v8i m, sp_v8f a, sp_v8f b)
{
    return (sp_v8f)((m & (sp_v8i)a) | (~m & (sp_v8i)b));
}

/* m ? a : +0, one operation. */
static inline sp_v8f sp__v8_keep(sp_v8i m, sp_v8f a)
{
    return (sp_v8f)(m & (sp_v8i)a);
}

static inline sp_v8f sp__v8_splat(float v)
{
    sp_v8f const r = {v, v, v, v, v, v, v, v};
    return r;
}

/* Element i has the bits of sp__expf(x[i]) for every x[i] <= 88 (the callers pass
 * exponents <= 0). sp__expf clamps x to [-87, 88] and returns +0 below -87; here the lanes
 * below -87 are computed unclamped and then zeroed, and none is above 88, so both clamps
 * (two selects) are dropped and every other lane sees the same operations. */
static inline sp_v8f sp__expf_v8(sp_v8f x)
{
    sp_v8i const under = x < sp__v8_splat(-87.0f);
    sp_v8f const shifter = sp__v8_splat(12582912.0f);
    sp_v8f const t = x * 1.44269504089f + shifter;
    sp_v8f const k = t - shifter;
    sp_v8u const ku = (sp_v8u)t - (sp_v8u)shifter; /* unsigned: the shift below is defined */
    sp_v8f const r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    sp_v8f const p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666672f + r * (0.0416666679f +
                                                                   r * (0.00833333377f + r * 0.00138888892f)))));
    sp_v8f const scale = (sp_v8f)((ku + 127u) << 23);
    sp_v8f const y = p * scale;
    return (sp_v8f)(~under & (sp_v8i)y);
}

/* Element i has the bits of sp_math.h's sp__erff(x[i]) (the same operations in the same
 * order; the division is IEEE-exact in both). |x| by clearing the sign bit differs from
 * sp__erff's (x < 0 ? -x : x) only at x = -0, where every later result is the same; the
 * final sign flip is an xor of the sign bit where x < 0, as -y is. */
static inline sp_v8f sp__erff_v8(sp_v8f x)
{
    sp_v8i const sign = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    sp_v8i const neg = x < sp__v8_splat(0.0f);
    sp_v8f const ax = (sp_v8f)(~sign & (sp_v8i)x);
    sp_v8f const t = 1.0f / (1.0f + 0.3275911f * ax);
    sp_v8f const poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    sp_v8f const y = 1.0f - poly * sp__expf_v8(-ax * ax);
    return (sp_v8f)((sp_v8i)y ^ (neg & sign));
}
#else
#define SP_HAVE_V8 0
#endif

#endif /* SP_V8_H */
