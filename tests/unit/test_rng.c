/* test_rng.c: Threefry known answers (Random123; docs/determinism.md, Known answers), JAX
 * key operations, and the draw transforms against hand-computed values and statistics. */
#include "sp_test.h"

#include "sp/sp_rng.h"

static void expect_threefry(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1, uint32_t w0, uint32_t w1)
{
    uint32_t const key[2] = {k0, k1}, ctr[2] = {c0, c1};
    uint32_t out[2];
    sp_threefry2x32(key, ctr, out);
    SP_ASSERT_EQ_U64(out[0], w0);
    SP_ASSERT_EQ_U64(out[1], w1);
}

SP_TEST(rng_threefry_random123_known_answers)
{
    expect_threefry(0, 0, 0, 0, 0x6b200159u, 0x99ba4efeu);
    expect_threefry(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x1cb996fcu, 0xbb002be7u);
    expect_threefry(0x13198a2eu, 0x03707344u, 0x243f6a88u, 0x85a308d3u, 0xc4923a9cu, 0x483df7a0u);
}

SP_TEST(rng_prngkey_matches_jax)
{
    sp_key k = sp_key_from_seed(0);
    SP_ASSERT_EQ_U64(k.k[0], 0);
    SP_ASSERT_EQ_U64(k.k[1], 0);
    k = sp_key_from_seed(42);
    SP_ASSERT_EQ_U64(k.k[0], 0);
    SP_ASSERT_EQ_U64(k.k[1], 42);
    k = sp_key_from_seed(0x123456789abcdef0ull);
    SP_ASSERT_EQ_U64(k.k[0], 0x12345678u);
    SP_ASSERT_EQ_U64(k.k[1], 0x9abcdef0u);
}

SP_TEST(rng_split_partitionable_matches_jax)
{
    /* jax.random.split(jax.random.key(0), 3) with jax_threefry_partitionable=True. */
    static const uint32_t want[3][2] = {
        {1797259609u, 2579123966u}, {928981903u, 3453687069u}, {4146024105u, 2718843009u}};
    sp_key out[3];
    sp_key_split(sp_key_from_seed(0), 3, out);
    for (int i = 0; i < 3; i++) {
        SP_ASSERT_EQ_U64(out[i].k[0], want[i][0]);
        SP_ASSERT_EQ_U64(out[i].k[1], want[i][1]);
        sp_key const at = sp_key_split_at(sp_key_from_seed(0), (uint64_t)i);
        SP_ASSERT_EQ_U64(at.k[0], want[i][0]);
    }
}

SP_TEST(rng_split_legacy_matches_jax)
{
    /* jax.random.split(jax.random.PRNGKey(0)) with the legacy scheme. */
    sp_key out[2];
    sp_key_split_legacy(sp_key_from_seed(0), 2, out);
    SP_ASSERT_EQ_U64(out[0].k[0], 4146024105u);
    SP_ASSERT_EQ_U64(out[0].k[1], 967050713u);
    SP_ASSERT_EQ_U64(out[1].k[0], 2718843009u);
    SP_ASSERT_EQ_U64(out[1].k[1], 1272950319u);
}

SP_TEST(rng_fold_in_is_threefry_of_zero_data)
{
    /* fold_in(k, d) = threefry(k, (0, d)); with k = (0,0), d = 2 this is the counter (0,2)
     * whose output appears in both known split answers above. */
    sp_key const f = sp_key_fold_in(sp_key_from_seed(0), 2);
    SP_ASSERT_EQ_U64(f.k[0], 4146024105u);
    SP_ASSERT_EQ_U64(f.k[1], 2718843009u);
    sp_key const g = sp_key_fold_in(sp_key_from_seed(0), 0);
    SP_ASSERT_EQ_U64(g.k[0], 0x6b200159u);
    SP_ASSERT_EQ_U64(g.k[1], 0x99ba4efeu);
}

SP_TEST(rng_random_bits_xor_of_counter_output)
{
    /* Element 0 of random_bits(key(0)) = 0x6b200159 ^ 0x99ba4efe. */
    SP_ASSERT_EQ_U64(sp_random_bits(sp_key_from_seed(0), 0), 0x6b200159u ^ 0x99ba4efeu);
    /* Element 2: counter (0, 2). */
    SP_ASSERT_EQ_U64(sp_random_bits(sp_key_from_seed(0), 2), 4146024105u ^ 2718843009u);
}

SP_TEST(rng_uniform_transform_hand_computed)
{
    SP_ASSERT_NEAR(sp_bits_to_unit_float(0), 0.0, 0);
    SP_ASSERT_NEAR(sp_bits_to_unit_float(0xffffffffu), 1.0 - ldexp(1.0, -23), 0);
    SP_ASSERT_NEAR(sp_bits_to_unit_float(0x80000000u), 0.5, 0);
    /* uniform(key(0)) element 0: bits 0xF29A4FA7 >> 9 = 0x794D27 -> 0x794D27 / 2^23. */
    uint32_t const bits = 0x6b200159u ^ 0x99ba4efeu;
    SP_ASSERT_EQ_U64(bits >> 9, 0x794D27u);
    SP_ASSERT_NEAR(sp_uniform(sp_key_from_seed(0), 0, 0.0f, 1.0f), 7949607.0 / 8388608.0, 0);
    /* Scaled: lo + f (hi - lo), in float32. */
    float const f = (float)(7949607.0 / 8388608.0);
    SP_ASSERT_NEAR(sp_uniform(sp_key_from_seed(0), 0, 2.0f, 6.0f), f * 4.0f + 2.0f, 0);
}

SP_TEST(rng_uniform_statistics)
{
    enum { N = 200000 };
    static float u[N];
    sp_uniform_fill(sp_key_from_seed(7), 0, N, -1.0f, 3.0f, u);
    double sum = 0, sq = 0, lo = 1e9, hi = -1e9;
    for (int i = 0; i < N; i++) {
        double const x = (double)u[i];
        sum += x;
        sq += x * x;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
    }
    double const mean = sum / N, var = sq / N - mean * mean;
    SP_ASSERT_NEAR(mean, 1.0, 0.02);        /* 4/sqrt(12 N) ~ 0.0026 */
    SP_ASSERT_NEAR(var, 16.0 / 12.0, 0.02);
    SP_EXPECT(lo >= -1.0 && hi < 3.0);
    /* Bulk equals element-wise. */
    for (int i = 0; i < 100; i++) SP_ASSERT_NEAR(u[i * 1999], sp_uniform(sp_key_from_seed(7), (uint64_t)i * 1999, -1.0f, 3.0f), 0);
}

SP_TEST(rng_logf_and_erfinv_accuracy)
{
    /* erf(erfinv(x)) == x to float precision over (-1, 1), libm as the reference. */
    for (int i = -999; i <= 999; i++) {
        double const x = i / 1000.0;
        double const y = sp_erfinvf((float)x);
        SP_ASSERT_NEAR(erf(y), x, 2e-6 + 1e-6 * fabs(x));
    }
    /* Tails: erfinv(1 - 1e-6) ~ 3.4589. */
    SP_ASSERT_NEAR(sp_erfinvf(0.999999f), 3.458910737, 2e-3);
    SP_ASSERT_NEAR(sp_erfinvf(0.0f), 0.0, 0);
}

SP_TEST(rng_normal_statistics)
{
    enum { N = 200000 };
    static float z[N];
    sp_normal_fill(sp_key_from_seed(11), 0, N, z);
    double sum = 0, sq = 0, q = 0;
    int beyond2 = 0;
    for (int i = 0; i < N; i++) {
        SP_EXPECT(isfinite(z[i]));
        double const x = (double)z[i];
        sum += x;
        sq += x * x;
        q += x * x * x * x;
        beyond2 += fabsf(z[i]) > 2.0f;
    }
    SP_ASSERT_NEAR(sum / N, 0.0, 0.01);
    SP_ASSERT_NEAR(sq / N, 1.0, 0.015);
    SP_ASSERT_NEAR(q / N, 3.0, 0.08); /* kurtosis of a Gaussian */
    SP_ASSERT_NEAR((double)beyond2 / N, 0.0455, 0.003);
    SP_ASSERT_NEAR(sp_normal(sp_key_from_seed(11), 1234), z[1234], 0);
}

SP_TEST(rng_bernoulli_and_randint)
{
    sp_key const k = sp_key_from_seed(3);
    int ones = 0;
    for (int i = 0; i < 100000; i++) ones += sp_bernoulli(k, (uint64_t)i, 0.3f);
    SP_ASSERT_NEAR(ones / 100000.0, 0.3, 0.006);
    int hist[7] = {0};
    for (int i = 0; i < 70000; i++) {
        int32_t const v = sp_randint(k, (uint64_t)i, -2, 5);
        SP_EXPECT(v >= -2 && v < 5);
        hist[v + 2]++;
    }
    for (int b = 0; b < 7; b++) SP_ASSERT_NEAR(hist[b], 10000, 400);
    SP_ASSERT_EQ_INT(sp_randint(k, 0, 4, 4), 4);
    /* Hand-computed from the documented algorithm: span 7, 65536 mod 7 = 2, m = 2^2 mod 7 = 4. */
    sp_key const k1 = sp_key_split_at(k, 0), k2 = sp_key_split_at(k, 1);
    uint32_t const hb = sp_random_bits(k1, 5), lb = sp_random_bits(k2, 5);
    uint32_t const want = ((hb % 7u) * 4u + lb % 7u) % 7u;
    SP_ASSERT_EQ_INT(sp_randint(k, 5, -2, 5), -2 + (int)want);
}
