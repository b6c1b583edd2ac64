/* threefry.c: Threefry-2x32-20 and JAX-compatible keys and draws.
 *
 * Threefry-2x32 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11;
 * Random123): 20 rounds of add-rotate-xor on two 32-bit words with rotation constants
 * {13, 15, 26, 6, 17, 29, 16, 24} and a key injection every 4 rounds; the third key word is
 * k0 ^ k1 ^ 0x1BD11BDA. JAX uses the same function for its keys; the key operations and
 * draw transforms here follow jax.random with jax_threefry_partitionable=True (the default
 * since JAX 0.5), as sp_rng.h documents.
 *
 * Everything is integer arithmetic or IEEE-754 basic operations (+, -, *, /, sqrt) in
 * float32, with our own logarithm, so results are bit-identical on every platform and
 * whether or not the compiler vectorises the bulk loops (we build with -ffp-contract=off).
 */
#include "sp/sp_rng.h"

#include <math.h>
#include <string.h>

#include "sp_internal.h"
#include "sp_math.h"
#include "sp_threefry.h"

void sp_threefry2x32(const uint32_t key[2], const uint32_t ctr[2], uint32_t out[2])
{
    sp__threefry2x32_20(key[0], key[1], ctr[0], ctr[1], &out[0], &out[1]);
}

sp_key sp_key_from_seed(uint64_t seed)
{
    sp_key k;
    k.k[0] = (uint32_t)(seed >> 32);
    k.k[1] = (uint32_t)seed;
    return k;
}

sp_key sp_key_fold_in(sp_key key, uint32_t data)
{
    sp_key r;
    sp__threefry2x32_20(key.k[0], key.k[1], 0u, data, &r.k[0], &r.k[1]);
    return r;
}

sp_key sp_key_split_at(sp_key key, uint64_t i)
{
    sp_key r;
    sp__threefry2x32_20(key.k[0], key.k[1], (uint32_t)(i >> 32), (uint32_t)i, &r.k[0], &r.k[1]);
    return r;
}

void sp_key_split(sp_key key, size_t n, sp_key *out)
{
    for (size_t i = 0; i < n; i++) out[i] = sp_key_split_at(key, i);
}

/* Legacy JAX split: threefry over the counters iota(2n) cut in halves: the pair
 * (c, n + c), c < n, produces words c and n + c of the flat 2n-word result, and key i is
 * flat words (2i, 2i + 1). */
static uint32_t legacy_word(sp_key key, size_t n, size_t f)
{
    uint32_t a, b;
    if (f < n) {
        sp__threefry2x32_20(key.k[0], key.k[1], (uint32_t)f, (uint32_t)(n + f), &a, &b);
        return a;
    }
    sp__threefry2x32_20(key.k[0], key.k[1], (uint32_t)(f - n), (uint32_t)f, &a, &b);
    return b;
}

void sp_key_split_legacy(sp_key key, size_t n, sp_key *out)
{
    for (size_t i = 0; i < n; i++) {
        out[i].k[0] = legacy_word(key, n, 2 * i);
        out[i].k[1] = legacy_word(key, n, 2 * i + 1);
    }
}

/* ---- draws ---------------------------------------------------------------------- */

static inline uint32_t bits_at(uint32_t k0, uint32_t k1, uint64_t i)
{
    uint32_t a, b;
    sp__threefry2x32_20(k0, k1, (uint32_t)(i >> 32), (uint32_t)i, &a, &b);
    return a ^ b;
}

uint32_t sp_random_bits(sp_key key, uint64_t index)
{
    return bits_at(key.k[0], key.k[1], index);
}

/* Inline, so that the fill loops below vectorise (a call to the exported function goes
 * through the PLT once per value: callgrind counted ~94 instructions a uniform). */
static inline float unit_float(uint32_t bits)
{
    uint32_t const u = (bits >> 9) | 0x3F800000u;
    float f;
    memcpy(&f, &u, sizeof f);
    return f - 1.0f;
}

float sp_bits_to_unit_float(uint32_t bits)
{
    return unit_float(bits);
}

static inline float uniform_from_bits(uint32_t bits, float lo, float hi)
{
    float const x = unit_float(bits) * (hi - lo) + lo;
    return x > lo ? x : lo;
}

float sp_uniform(sp_key key, uint64_t index, float lo, float hi)
{
    return uniform_from_bits(bits_at(key.k[0], key.k[1], index), lo, hi);
}

float sp_erfinvf(float x)
{
    return sp__erfinvf(x);
}

/* The lower bound of JAX's normal: nextafter(-1, +inf) in float32. */
#define SP_NORMAL_LO (-0.99999994f)

static inline float normal_from_bits(uint32_t bits)
{
    float const u = uniform_from_bits(bits, SP_NORMAL_LO, 1.0f);
    return 1.41421356237f * sp__erfinvf(u);
}

float sp_normal(sp_key key, uint64_t index)
{
    return normal_from_bits(bits_at(key.k[0], key.k[1], index));
}

int sp_bernoulli(sp_key key, uint64_t index, float p)
{
    return sp_uniform(key, index, 0.0f, 1.0f) < p;
}

int32_t sp_randint(sp_key key, uint64_t index, int32_t lo, int32_t hi)
{
    if (hi <= lo) return lo;
    sp_key const k1 = sp_key_split_at(key, 0);
    sp_key const k2 = sp_key_split_at(key, 1);
    uint32_t const span = (uint32_t)((int64_t)hi - (int64_t)lo);
    uint32_t const hb = sp_random_bits(k1, index);
    uint32_t const lb = sp_random_bits(k2, index);
    /* JAX: multiplier = (2^16 mod span)^2 mod span = 2^32 mod span, and the combination
     * is done in wrapping uint32 arithmetic, as lax.mul/lax.add on uint32 do. */
    uint32_t m = (uint32_t)65536u % span;
    m = (m * m) % span;
    uint32_t const off = ((hb % span) * m + (lb % span)) % span;
    return (int32_t)((int64_t)lo + off);
}

SP_MULTIVERSION void sp_uniform_fill(sp_key key, uint64_t first, size_t n, float lo, float hi, float *out)
{
    uint32_t const k0 = key.k[0], k1 = key.k[1];
    for (size_t j = 0; j < n; j++) out[j] = uniform_from_bits(bits_at(k0, k1, first + j), lo, hi);
}

SP_MULTIVERSION void sp_normal_fill(sp_key key, uint64_t first, size_t n, float *out)
{
    uint32_t const k0 = key.k[0], k1 = key.k[1];
    for (size_t j = 0; j < n; j++) out[j] = normal_from_bits(bits_at(k0, k1, first + j));
}

/* ---- paired draws (sp_threefry.h) ------------------------------------------------------ */

static inline void pair_block_at(sp_key key, uint64_t index, uint32_t w[2])
{
    uint64_t const q = index >> 1;
    sp__threefry2x32_20(key.k[0], key.k[1], (uint32_t)(q >> 32), (uint32_t)q, &w[0], &w[1]);
}

float sp_pair_uniform(sp_key key, uint64_t index, float scale)
{
    uint32_t w[2];
    pair_block_at(key, index, w);
    return sp__u24_scaled(w[index & 1], scale);
}

float sp_pair_normal(sp_key key, uint64_t index)
{
    uint32_t w[2];
    float z[2];
    pair_block_at(key, index, w);
    sp__box_muller(w[0], w[1], &z[0], &z[1]);
    return z[index & 1];
}

void sp_box_muller(uint32_t w0, uint32_t w1, float z[2])
{
    sp__box_muller(w0, w1, &z[0], &z[1]);
}

/* out[j] = element first + j: a leading odd element and a trailing even one take their
 * block alone, the whole blocks between are written in place. */
SP_INLINE_ALWAYS void pair_fill(sp_key key, uint64_t first, size_t n, int normal, float scale, float *out)
{
    uint32_t const k0 = key.k[0], k1 = key.k[1];
    float two[2];
    if (n > 0 && (first & 1)) {
        sp__pair_span(k0, k1, first >> 1, 1, normal, scale, two);
        *out++ = two[1];
        first++;
        n--;
    }
    sp__pair_span(k0, k1, first >> 1, n / 2, normal, scale, out);
    if (n & 1) {
        sp__pair_span(k0, k1, (first + n) >> 1, 1, normal, scale, two);
        out[n - 1] = two[0];
    }
}

SP_MULTIVERSION void sp_pair_uniform_fill(sp_key key, uint64_t first, size_t n, float scale, float *out)
{
    pair_fill(key, first, n, 0, scale, out);
}

SP_MULTIVERSION void sp_pair_normal_fill(sp_key key, uint64_t first, size_t n, float *out)
{
    pair_fill(key, first, n, 1, 0.0f, out);
}
