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

static inline uint32_t rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32u - r));
}

#define SP_TF_ROUND(x0, x1, r)                                                                \
    do {                                                                                      \
        x0 += x1;                                                                             \
        x1 = rotl32(x1, r);                                                                   \
        x1 ^= x0;                                                                             \
    } while (0)

/* The 20-round function on (c0, c1) with key (k0, k1), written out so that compilers
 * vectorise loops over counters. */
static inline void threefry_core(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t *o0,
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

void sp_threefry2x32(const uint32_t key[2], const uint32_t ctr[2], uint32_t out[2])
{
    threefry_core(key[0], key[1], ctr[0], ctr[1], &out[0], &out[1]);
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
    threefry_core(key.k[0], key.k[1], 0u, data, &r.k[0], &r.k[1]);
    return r;
}

sp_key sp_key_split_at(sp_key key, uint64_t i)
{
    sp_key r;
    threefry_core(key.k[0], key.k[1], (uint32_t)(i >> 32), (uint32_t)i, &r.k[0], &r.k[1]);
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
        threefry_core(key.k[0], key.k[1], (uint32_t)f, (uint32_t)(n + f), &a, &b);
        return a;
    }
    threefry_core(key.k[0], key.k[1], (uint32_t)(f - n), (uint32_t)f, &a, &b);
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
    threefry_core(k0, k1, (uint32_t)(i >> 32), (uint32_t)i, &a, &b);
    return a ^ b;
}

uint32_t sp_random_bits(sp_key key, uint64_t index)
{
    return bits_at(key.k[0], key.k[1], index);
}

float sp_bits_to_unit_float(uint32_t bits)
{
    uint32_t const u = (bits >> 9) | 0x3F800000u;
    float f;
    memcpy(&f, &u, sizeof f);
    return f - 1.0f;
}

static inline float uniform_from_bits(uint32_t bits, float lo, float hi)
{
    float const x = sp_bits_to_unit_float(bits) * (hi - lo) + lo;
    return x > lo ? x : lo;
}

float sp_uniform(sp_key key, uint64_t index, float lo, float hi)
{
    return uniform_from_bits(bits_at(key.k[0], key.k[1], index), lo, hi);
}

/* Natural logarithm of a positive normal float32, fdlibm's e_logf.c reduction written
 * with basic operations only: x = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2)),
 * log(1 + f) = 2s + s R(s^2), s = f / (2 + f). Max error about 1 ulp. */
static inline float sp_logf(float x)
{
    uint32_t ix;
    memcpy(&ix, &x, sizeof ix);
    int k = (int)(ix >> 23) - 127;
    ix &= 0x007FFFFFu;
    /* Scale the mantissa into [sqrt(2)/2, sqrt(2)). */
    uint32_t const i = (ix + (0x95F64u << 3)) & 0x800000u;
    uint32_t const m = ix | (i ^ 0x3F800000u);
    k += (int)(i >> 23);
    float mf;
    memcpy(&mf, &m, sizeof mf);
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

/* Inverse error function in float32: M. Giles, "Approximating the erfinv function"
 * (GPU Computing Gems, 2011), the single-precision version XLA also uses. */
float sp_erfinvf(float x)
{
    float w = -sp_logf((1.0f - x) * (1.0f + x));
    float p;
    if (w < 5.0f) {
        w = w - 2.5f;
        p = 2.81022636e-08f;
        p = 3.43273939e-07f + p * w;
        p = -3.5233877e-06f + p * w;
        p = -4.39150654e-06f + p * w;
        p = 0.00021858087f + p * w;
        p = -0.00125372503f + p * w;
        p = -0.00417768164f + p * w;
        p = 0.246640727f + p * w;
        p = 1.50140941f + p * w;
    } else {
        w = sqrtf(w) - 3.0f;
        p = -0.000200214257f;
        p = 0.000100950558f + p * w;
        p = 0.00134934322f + p * w;
        p = -0.00367342844f + p * w;
        p = 0.00573950773f + p * w;
        p = -0.0076224613f + p * w;
        p = 0.00943887047f + p * w;
        p = 1.00167406f + p * w;
        p = 2.83297682f + p * w;
    }
    return p * x;
}

/* The lower bound of JAX's normal: nextafter(-1, +inf) in float32. */
#define SP_NORMAL_LO (-0.99999994f)

static inline float normal_from_bits(uint32_t bits)
{
    float const u = uniform_from_bits(bits, SP_NORMAL_LO, 1.0f);
    return 1.41421356237f * sp_erfinvf(u);
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

void sp_uniform_fill(sp_key key, uint64_t first, size_t n, float lo, float hi, float *out)
{
    uint32_t const k0 = key.k[0], k1 = key.k[1];
    for (size_t j = 0; j < n; j++) out[j] = uniform_from_bits(bits_at(k0, k1, first + j), lo, hi);
}

void sp_normal_fill(sp_key key, uint64_t first, size_t n, float *out)
{
    uint32_t const k0 = key.k[0], k1 = key.k[1];
    for (size_t j = 0; j < n; j++) out[j] = normal_from_bits(bits_at(k0, k1, first + j));
}
