/* sp_threefry.h: the Threefry-2x32-20 block function and the paired draws (two values per
 * block), inline so that the bulk loops of any module vectorise over them.
 *
 * Paired draws (stream version 2, sp_rng.h, docs/determinism.md): element i of a paired
 * stream is output (i & 1) of the block q = i >> 1, with counter (q >> 32, q & 0xffffffff):
 *   uniform [0, scale):  t = w >> 8 (w = word 0 or 1 of the block); x = (t * 2^-24) * scale
 *   normal (Box-Muller): u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1], r = sqrt(-2 ln u1);
 *                        theta = 2 pi t / 2^24, t = w1 >> 8; element 2q = r cos theta,
 *                        element 2q + 1 = r sin theta.
 * Why Box-Muller and not erfinv (sp_normal): one block gives two normals instead of one, and
 * the transform (one log, one sqrt, a sine/cosine pair on [-pi/4, pi/4]) vectorises. The
 * AVX2 loop of sp__pair_normal_block runs 198 instructions per 8 blocks (16 normals): about
 * 117 for the 20 Threefry rounds and 72 for the transform, 12.4 per normal, against about
 * 160 per normal for sp_normal_fill (callgrind). Why not a Ziggurat: its rejection step
 * makes the number of blocks per value data-dependent, which breaks both the vector loop
 * and the one-block-per-pair keying.
 * Exact range reduction: the angle is an integer number of 2^-24 turns, so the quadrant is
 * taken from the integer (rounded to the nearest quarter turn) and only the remainder, at
 * most an eighth of a turn, is converted to radians (one rounding).
 *
 * Everything is integer arithmetic or IEEE-754 basic operations in float32 (sp__logf of
 * sp_math.h, sqrt, and polynomials); with -ffp-contract=off the scalar and vector code
 * paths give the same bits. Accuracy against the exact transform (double precision, same
 * u1 and theta; tests/unit/test_rng.c, exhaustive over the 2^24 radii and the 2^24 angles):
 * radius relative error <= 9.8e-8; cosine and sine, with the rounding of the product by
 * the radius, <= 1.3e-7 absolute; so |z - z_exact| <= 5.77 * 2.3e-7 = 1.3e-6 at the largest
 * radius, 5.77 (largest seen on 10^6 random blocks: 5.0e-7).
 */
#ifndef SP_THREEFRY_H
#define SP_THREEFRY_H

#include <stddef.h>
#include <stdint.h>

#include "sp_math.h"

/* The kernels below must be inlined into their callers: a caller compiled for several ISAs
 * (SP_MULTIVERSION) vectorises them only for the ISA of the copy they are inlined in. */
#if defined(__GNUC__)
#define SP_INLINE_ALWAYS static inline __attribute__((always_inline))
#else
#define SP_INLINE_ALWAYS static inline
#endif

static inline uint32_t sp__rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32u - r));
}

#define SP_TF_ROUND(x0, x1, r)                                                                \
    do {                                                                                      \
        x0 += x1;                                                                             \
        x1 = sp__rotl32(x1, r);                                                               \
        x1 ^= x0;                                                                             \
    } while (0)

/* The 20-round function on (c0, c1) with key (k0, k1) (Random123's Threefry-2x32-20),
 * written out so that compilers vectorise loops over counters. */
SP_INLINE_ALWAYS void sp__threefry2x32_20(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t *o0,
                                          uint32_t *o1)
{
    uint32_t const k2 = k0 ^ k1 ^ 0x1BD11BDAu;
    uint32_t x0 = c0 + k0, x1 = c1 + k1;
    SP_TF_ROUND(x0, x1, 13); SP_TF_ROUND(x0, x1, 15); SP_TF_ROUND(x0, x1, 26); SP_TF_ROUND(x0, x1, 6);
    x0 += k1; x1 += k2 + 1u;
    SP_TF_ROUND(x0, x1, 17); SP_TF_ROUND(x0, x1, 29); SP_TF_ROUND(x0, x1, 16); SP_TF_ROUND(x0, x1, 24);
    x0 += k2; x1 += k0 + 2u;
    SP_TF_ROUND(x0, x1, 13); SP_TF_ROUND(x0, x1, 15); SP_TF_ROUND(x0, x1, 26); SP_TF_ROUND(x0, x1, 6);
    x0 += k0; x1 += k1 + 3u;
    SP_TF_ROUND(x0, x1, 17); SP_TF_ROUND(x0, x1, 29); SP_TF_ROUND(x0, x1, 16); SP_TF_ROUND(x0, x1, 24);
    x0 += k1; x1 += k2 + 4u;
    SP_TF_ROUND(x0, x1, 13); SP_TF_ROUND(x0, x1, 15); SP_TF_ROUND(x0, x1, 26); SP_TF_ROUND(x0, x1, 6);
    x0 += k2; x1 += k0 + 5u;
    *o0 = x0;
    *o1 = x1;
}

/* (t * 2^-24) * scale for the top 24 bits t of w: [0, scale) for any scale >= 2^-100 (one
 * rounding; t * 2^-24 <= 1 - 2^-24 is exact). */
SP_INLINE_ALWAYS float sp__u24_scaled(uint32_t w, float scale)
{
    return (float)(int32_t)(w >> 8) * 0x1p-24f * scale;
}

/* 2 pi / 2^24 (radians per step of the 24-bit angle) rounded to float32, relative error
 * 2.8e-8. */
#define SP_TWO_PI_2M24 0x1.921fb6p-22f

SP_INLINE_ALWAYS float sp__xor_sign(float x, uint32_t sign)
{
    return sp__f32_from_bits(sp__bits_from_f32(x) ^ sign);
}

/* Box-Muller on one block (w0, w1): the two normals of the header's definition. The sine
 * and cosine on [-pi/4, pi/4] are Cephes' sinf/cosf polynomials; the quadrant q (0..3)
 * rotates (cos x, sin x) by q quarter turns: swap when q is odd, negate the cosine for
 * q = 1, 2 and the sine for q = 2, 3 (sign-bit xor, no branch). */
SP_INLINE_ALWAYS void sp__box_muller(uint32_t w0, uint32_t w1, float *z0, float *z1)
{
    float const u1 = (float)(int32_t)((w0 >> 8) + 1u) * 0x1p-24f;
    float const r = __builtin_sqrtf(sp__logf(u1) * -2.0f);
    int32_t const t = (int32_t)(w1 >> 8) + 0x200000; /* + 1/8 turn: rounds to the nearest quadrant */
    uint32_t const q = (uint32_t)t >> 22;             /* 0..4; 4 is quadrant 0 */
    float const x = (float)((t & 0x3FFFFF) - 0x200000) * SP_TWO_PI_2M24; /* [-pi/4, pi/4) */
    float const z = x * x;
    float const s = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * x + x;
    float const c = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f) * z * z -
                    0.5f * z + 1.0f;
    float const cq = (q & 1u) ? s : c, sq = (q & 1u) ? c : s;
    *z0 = sp__xor_sign(r * cq, ((q + 1u) >> 1) << 31); /* bit 1 of q + 1 to the sign */
    *z1 = sp__xor_sign(r * sq, (q >> 1) << 31);
}

/* Blocks (hi, lo + j), j < n, into out[2j], out[2j + 1] (lo + n - 1 must not wrap). The
 * 32-bit loop counter keeps the vector counter a 32-bit lane increment. */
SP_INLINE_ALWAYS void sp__pair_uniform_block(uint32_t k0, uint32_t k1, uint32_t hi, uint32_t lo, uint32_t n,
                                             float scale, float *out)
{
    for (uint32_t j = 0; j < n; j++) {
        uint32_t a, b;
        sp__threefry2x32_20(k0, k1, hi, lo + j, &a, &b);
        out[2 * (size_t)j] = sp__u24_scaled(a, scale);
        out[2 * (size_t)j + 1] = sp__u24_scaled(b, scale);
    }
}

SP_INLINE_ALWAYS void sp__pair_normal_block(uint32_t k0, uint32_t k1, uint32_t hi, uint32_t lo, uint32_t n, float *out)
{
    for (uint32_t j = 0; j < n; j++) {
        uint32_t a, b;
        sp__threefry2x32_20(k0, k1, hi, lo + j, &a, &b);
        sp__box_muller(a, b, &out[2 * (size_t)j], &out[2 * (size_t)j + 1]);
    }
}

/* How many of `want` blocks from block q keep the low counter word from wrapping (at most
 * 2^31, so the count fits the blocks' 32-bit loop counter). */
SP_INLINE_ALWAYS uint32_t sp__pair_run(uint64_t q, size_t want)
{
    uint64_t const room = 0x100000000ull - (q & 0xFFFFFFFFull);
    uint64_t const m = (uint64_t)want < room ? (uint64_t)want : room;
    return (uint32_t)(m < 0x80000000ull ? m : 0x80000000ull);
}

/* Blocks q0 .. q0 + nb - 1 into out[0 .. 2 nb): normals when `normal` (a constant at every
 * call site, so the branch folds), else uniforms scaled by `scale`. */
SP_INLINE_ALWAYS void sp__pair_span(uint32_t k0, uint32_t k1, uint64_t q0, size_t nb, int normal, float scale,
                                 float *out)
{
    while (nb > 0) {
        uint32_t const m = sp__pair_run(q0, nb);
        uint32_t const hi = (uint32_t)(q0 >> 32), lo = (uint32_t)q0;
        if (normal)
            sp__pair_normal_block(k0, k1, hi, lo, m, out);
        else
            sp__pair_uniform_block(k0, k1, hi, lo, m, scale, out);
        q0 += m;
        nb -= m;
        out += 2 * (size_t)m;
    }
}

#endif /* SP_THREEFRY_H */
