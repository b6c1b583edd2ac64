/* synthpix: counter-based randomness, compatible with JAX's Threefry-2x32 keys.
 *
 * The generator is Random123's Threefry-2x32 with 20 rounds. Key operations follow JAX
 * (jax.random with the default jax_threefry_partitionable=True):
 *   PRNGKey(s)      = (s >> 32, s & 0xffffffff)          (so (0, s) for 32-bit seeds)
 *   fold_in(k, d)   = threefry(k, (0, d))
 *   split(k, n)[i]  = threefry(k, (i >> 32, i & 0xffffffff))   (independent of n)
 *   random_bits(k, shape)[i] = hi ^ lo of threefry(k, (i >> 32, i & 0xffffffff)),
 *                    i = the flat C-order index of the element
 * The raw block function, the legacy (non-partitionable) split and the draw transforms'
 * building blocks are experimental (SP_EXPERIMENTAL_API): tests check them against
 * known-answer vectors.
 *
 * Draws (each element i depends only on (key, i)):
 *   uniform [lo, hi): f = bitcast((bits >> 9) | 0x3f800000) - 1 in [0, 1);
 *                     x = max(lo, f * (hi - lo) + lo)                        (JAX's transform)
 *   normal:           u = uniform in (-1, 1) (lo = nextafter(-1, +inf)); x = sqrt(2) erfinv(u),
 *                     erfinv in float32 by Giles' polynomial (as XLA), our own log so that
 *                     results are identical on every platform
 *   bernoulli(p):     uniform [0, 1) < p
 *   randint [lo, hi): JAX's algorithm: k1, k2 = split(key); span = hi - lo;
 *                     m = (2^16 mod span)^2 mod span;
 *                     lo + (((bits(k1) mod span) * m + bits(k2) mod span) mod span), the
 *                     product and sum wrapping in uint32 as in JAX
 *
 * Paired draws (synthpix's own, not JAX's; the image noise since stream version 2): one
 * Threefry block gives two values. Element i is output (i & 1) of the block
 *   (w0, w1) = threefry(key, (q >> 32, q & 0xffffffff)),  q = i >> 1
 *   pair uniform [0, scale): x = ((w >> 8) * 2^-24) * scale, w = w0 for even i, w1 for odd i
 *                     (t * 2^-24 exact, one rounding in float32; [0, scale) for scale >= 2^-100)
 *   pair normal:      Box-Muller: u1 = ((w0 >> 8) + 1) * 2^-24 in (0, 1],
 *                     r = sqrt(-2 ln u1), theta = 2 pi (w1 >> 8) / 2^24;
 *                     even i: r cos theta, odd i: r sin theta
 *                     computed in float32 from IEEE basic operations only (our own log,
 *                     sin and cos; docs/determinism.md gives the exact operations), so
 *                     identical on every platform and vector width. Largest error against
 *                     the exact transform in double precision: 1.4e-6 (|z| <= 5.77).
 *
 * Thread safety: every function is pure.
 */
#ifndef SP_RNG_H
#define SP_RNG_H

#include <stddef.h> /* size_t */
#include <stdint.h> /* uint32_t, uint64_t, int32_t */

#include "sp/sp_api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sp_key {
    uint32_t k[2];
} sp_key;

SP_API sp_key sp_key_from_seed(uint64_t seed);           /* jax.random.PRNGKey */
SP_API sp_key sp_key_fold_in(sp_key key, uint32_t data); /* jax.random.fold_in */
SP_API sp_key sp_key_split_at(sp_key key, uint64_t i);   /* jax.random.split(key, n)[i] */
SP_API void sp_key_split(sp_key key, size_t n, sp_key *out);

SP_API uint32_t sp_random_bits(sp_key key, uint64_t index);
SP_API float sp_uniform(sp_key key, uint64_t index, float lo, float hi);
SP_API float sp_normal(sp_key key, uint64_t index);
SP_API int sp_bernoulli(sp_key key, uint64_t index, float p);
SP_API int32_t sp_randint(sp_key key, uint64_t index, int32_t lo, int32_t hi);

/* Bulk versions: out[j] = draw(key, first + j) for j < n. */
SP_API void sp_uniform_fill(sp_key key, uint64_t first, size_t n, float lo, float hi, float *out);
SP_API void sp_normal_fill(sp_key key, uint64_t first, size_t n, float *out);

/* Paired draws (above): element `index`; bulk: out[j] = element first + j for j < n (out
 * borrowed for the call; any first, odd included). */
SP_API float sp_pair_uniform(sp_key key, uint64_t index, float scale);
SP_API float sp_pair_normal(sp_key key, uint64_t index);
SP_API void sp_pair_uniform_fill(sp_key key, uint64_t first, size_t n, float scale, float *out);
SP_API void sp_pair_normal_fill(sp_key key, uint64_t first, size_t n, float *out);

#if defined(SP_EXPERIMENTAL_API)
/* ---- experimental: building blocks (known-answer tests) ------------------------------ */

/* Threefry-2x32, 20 rounds: out = threefry(key, ctr). */
SP_API void sp_threefry2x32(const uint32_t key[2], const uint32_t ctr[2], uint32_t out[2]);
/* jax.random.split with jax_threefry_partitionable=False (for reference). */
SP_API void sp_key_split_legacy(sp_key key, size_t n, sp_key *out);
/* [0, 1) float from 32 random bits, and float32 erfinv (the draws' transforms). */
SP_API float sp_bits_to_unit_float(uint32_t bits);
SP_API float sp_erfinvf(float x);
/* The pair normal's transform of one block (w0, w1): z[0] = r cos theta, z[1] = r sin theta. */
SP_API void sp_box_muller(uint32_t w0, uint32_t w1, float z[2]);
#endif /* SP_EXPERIMENTAL_API */

#ifdef __cplusplus
}
#endif
#endif /* SP_RNG_H */
