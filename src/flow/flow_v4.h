/* flow_v4.h - 4-lane double helpers for the analytic flows (private to src/flow).
 *
 * Map: sp_v4d/sp_v4l/sp_v4f/sp_v4i (GCC/clang vector extensions), sp__v4d_select,
 * sp__expm1_neg_v4 (an accurate expm1 for x <= 0, NOT libm's bits), sp__v4d_float_unsure
 * (lanes whose float rounding an error of |d| 2^-40 could change).
 *
 * Why an approximation can still give libm's bytes: the flows store (float) of a double
 * formula. When a lane's double result d is within |d| 2^-40 of libm's, and no float
 * rounding boundary lies within |d| 2^-40 of d, both round to the same float; the caller
 * recomputes the rare other lanes (about one value in 2^15) with libm. sp__expm1_neg_v4's
 * relative error is under 2^-49 (test_flow_analytic sweeps it against expm1l), 2^9 below
 * the margin, and the few roundings after it add a few ulps (2^-53 each).
 *
 * Functions that take or return 32-byte vectors draw -Wpsabi in files built without AVX;
 * the users are built with -Wno-psabi (cmake/modules/flow.cmake) and the functions are
 * static inline, so no vector crosses a real call boundary. */
#ifndef SP_FLOW_V4_H
#define SP_FLOW_V4_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define SP_HAVE_V4D 1
typedef double sp_v4d __attribute__((vector_size(32)));
typedef int64_t sp_v4l __attribute__((vector_size(32)));
typedef float sp_v4f __attribute__((vector_size(16)));
typedef int32_t sp_v4i __attribute__((vector_size(16)));

static inline sp_v4d sp__v4d_splat(double v)
{
    sp_v4d const r = {v, v, v, v};
    return r;
}

/* m ? a : b, m a comparison result (all ones or all zeros per lane). */
static inline sp_v4d sp__v4d_select(sp_v4l m, sp_v4d a, sp_v4d b)
{
    return (sp_v4d)((m & (sp_v4l)a) | (~m & (sp_v4l)b));
}

/* expm1(x) for x <= 0 (any x, -inf and NaN excepted), relative error < 2^-49: x = k ln2 + r
 * with |r| <= ln2/2 (Cody-Waite, ln2 split so k ln2_hi is exact for |k| < 2^11), expm1(r)
 * from its Taylor series to r^13 (the first omitted term is < 2^-56 of the result), then
 * expm1(x) = 2^k expm1(r) + (2^k - 1), both terms exact, one rounding. x is clamped at
 * -700, where expm1 is -1 to double precision. */
static inline sp_v4d sp__expm1_neg_v4(sp_v4d x)
{
    sp_v4d const lim = sp__v4d_splat(-700.0);
    x = sp__v4d_select(x < lim, lim, x);
    sp_v4d const shifter = sp__v4d_splat(0x1.8p52);
    sp_v4d const t = x * 0x1.71547652b82fep0 + shifter; /* x / ln2 + 1.5 2^52: k in the low bits */
    sp_v4d const k = t - shifter;
    sp_v4l const ki = (sp_v4l)t - (sp_v4l)shifter; /* t and the shifter share a binade */
    sp_v4d const r = (x - k * 0x1.62e42feep-1) - k * 0x1.a39ef35793c76p-33;
    sp_v4d const c = 1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (1.0 / 5040 +
                     r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 +
                     r * (1.0 / 479001600 + r * (1.0 / 6227020800.0)))))))))));
    sp_v4d const p = r + (r * r) * c;
    sp_v4d const scale = (sp_v4d)((ki + 1023) << 52);
    return scale * p + (scale - 1.0);
}

/* Lanes (all ones) where some value within |d| 2^-40 of d rounds to another float than d
 * does: the float of any double that close to d is then not known from d alone. */
static inline sp_v4i sp__v4d_float_unsure(sp_v4d d)
{
    sp_v4l const abs_mask = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    sp_v4d const b = (sp_v4d)((sp_v4l)d & abs_mask) * 0x1p-40;
    return __builtin_convertvector(d - b, sp_v4f) != __builtin_convertvector(d + b, sp_v4f);
}

/* Whether any lane of m is set. */
static inline int sp__v4i_any(sp_v4i m)
{
    uint64_t a, b;
    memcpy(&a, &m, sizeof a);
    memcpy(&b, (const char *)&m + 8, sizeof b);
    return (a | b) != 0;
}
#else
#define SP_HAVE_V4D 0
#endif

#endif /* SP_FLOW_V4_H */
