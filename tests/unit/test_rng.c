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

/* ---- paired draws (stream version 2): one Threefry block, two values ------------------ */

static double exact_radius(uint32_t w0)
{
    return sqrt(-2.0 * log(((double)(w0 >> 8) + 1.0) * ldexp(1.0, -24)));
}

static double exact_angle(uint32_t w1)
{
    return 2.0 * M_PI * (double)(w1 >> 8) * ldexp(1.0, -24);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

SP_TEST(rng_pair_draws_known_answers)
{
    /* Elements 0, 1 are block threefry((0,0), (0,0)) = (0x6b200159, 0x99ba4efe); elements
     * 2, 3 block (0, 1). */
    sp_key const k = sp_key_from_seed(0);
    SP_ASSERT_NEAR(sp_pair_uniform(k, 0, 1.0f), 0x6b2001 * ldexp(1.0, -24), 0);
    SP_ASSERT_NEAR(sp_pair_uniform(k, 1, 1.0f), 0x99ba4e * ldexp(1.0, -24), 0);
    SP_ASSERT_NEAR(sp_pair_uniform(k, 1, 3.0f), (float)(0x99ba4e * ldexp(1.0, -24)) * 3.0f, 0);
    uint32_t const key[2] = {0, 0}, ctr[2] = {0, 1};
    uint32_t w[2];
    sp_threefry2x32(key, ctr, w);
    SP_ASSERT_NEAR(sp_pair_uniform(k, 3, 1.0f), (w[1] >> 8) * ldexp(1.0, -24), 0);
    /* The normals of block 0 against the transform in double precision, then their bits
     * (pinned: another implementation must reproduce them exactly). */
    double const r = exact_radius(0x6b200159u), th = exact_angle(0x99ba4efeu);
    SP_ASSERT_NEAR(sp_pair_normal(k, 0), r * cos(th), 1.4e-6);
    SP_ASSERT_NEAR(sp_pair_normal(k, 1), r * sin(th), 1.4e-6);
    static const uint32_t want[6] = {0xbf8860c1u, 0xbf477a79u, 0x3f156d07u, 0xbfd32977u, 0xbe366de6u, 0xbe49d54au};
    for (int i = 0; i < 6; i++) SP_ASSERT_EQ_U64(f32_bits(sp_pair_normal(k, (uint64_t)i)), want[i]);
}

/* Box-Muller against the exact transform: the radius depends on w0 only and the angle on
 * w1 only, so both are checked exhaustively over their 2^24 values (radius with angle 0;
 * angle at the largest radius, divided by it), then together on random blocks. The bound
 * of sp_threefry.h follows: |z - exact| <= 5.77 (1e-7 + 1.3e-7) < 1.4e-6. */
SP_TEST(rng_box_muller_accuracy_against_double)
{
    double rad = 0, trig = 0, abs_err = 0, rel_r = 0;
    for (uint32_t t = 0; t < (1u << 24); t++) {
        float z[2];
        sp_box_muller(t << 8, 0, z);
        double const r = exact_radius(t << 8);
        SP_EXPECT(z[1] == 0.0f);
        if (r > 0) rad = fmax(rad, fabs((double)z[0] - r) / r);
        else SP_EXPECT(z[0] == 0.0f);
    }
    float big[2];
    sp_box_muller(0, 0, big); /* u1 = 2^-24: the largest radius */
    SP_ASSERT_NEAR(big[0], sqrt(48.0 * log(2.0)), 1e-6);
    for (uint32_t t = 0; t < (1u << 24); t++) {
        float z[2];
        sp_box_muller(0, t << 8, z);
        double const th = exact_angle(t << 8);
        double const R = (double)big[0];
        trig = fmax(trig, fmax(fabs((double)z[0] / R - cos(th)), fabs((double)z[1] / R - sin(th))));
    }
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 1000000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint32_t const w0 = (uint32_t)s, w1 = (uint32_t)(s >> 32);
        float z[2];
        sp_box_muller(w0, w1, z);
        double const r = exact_radius(w0), th = exact_angle(w1);
        double const e = fmax(fabs((double)z[0] - r * cos(th)), fabs((double)z[1] - r * sin(th)));
        abs_err = fmax(abs_err, e);
        if (r > 0) rel_r = fmax(rel_r, e / r);
    }
    printf("# radius rel err %.3g, cos/sin err %.3g, sampled |z - exact| %.3g (%.3g of r)\n", rad, trig, abs_err,
           rel_r);
    SP_EXPECT_MSG(rad <= 1.2e-7, "radius relative error %.3g", rad);
    SP_EXPECT_MSG(trig <= 1.5e-7, "cos/sin error %.3g", trig);
    SP_EXPECT_MSG(abs_err <= 1.4e-6 && rel_r <= 2.5e-7, "|z - exact| %.3g (%.3g of r)", abs_err, rel_r);
}

static int cmp_float(const void *a, const void *b)
{
    float const x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Two-sided Kolmogorov-Smirnov statistic of sorted x[0..n) against the standard normal. */
static double ks_normal(const float *x, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double const F = 0.5 * erfc(-(double)x[i] / sqrt(2.0));
        d = fmax(d, fmax((double)(i + 1) / (double)n - F, F - (double)i / (double)n));
    }
    return d;
}

/* 2^20 draws. Moments within 5 standard errors of a normal sample's (mean 1/sqrt(n),
 * variance sqrt(2/n), skewness sqrt(6/n), excess kurtosis sqrt(24/n)): a true normal source
 * fails one with probability < 3e-6. KS at alpha = 1e-4: sqrt(n) D > sqrt(ln(2/alpha)/2)
 * = 2.2252 (asymptotic Kolmogorov distribution). */
SP_TEST(rng_pair_normal_moments_and_kolmogorov_smirnov)
{
    enum { N = 1 << 20 };
    float *const z = (float *)malloc(N * sizeof(float));
    SP_EXPECT(z != NULL);
    sp_pair_normal_fill(sp_key_fold_in(sp_key_from_seed(11), 7), 0, N, z);
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    for (int i = 0; i < N; i++) m1 += (double)z[i];
    m1 /= N;
    for (int i = 0; i < N; i++) {
        SP_EXPECT(isfinite(z[i]) && fabsf(z[i]) <= 5.77f);
        double const d = (double)z[i] - m1;
        m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
    }
    m2 /= N, m3 /= N, m4 /= N;
    double const skew = m3 / pow(m2, 1.5), kurt = m4 / (m2 * m2) - 3.0;
    SP_ASSERT_NEAR(m1, 0.0, 5 * sqrt(1.0 / N));
    SP_ASSERT_NEAR(m2, 1.0, 5 * sqrt(2.0 / N));
    SP_ASSERT_NEAR(skew, 0.0, 5 * sqrt(6.0 / N));
    SP_ASSERT_NEAR(kurt, 0.0, 5 * sqrt(24.0 / N));
    qsort(z, N, sizeof *z, cmp_float);
    double const d = ks_normal(z, N), crit = sqrt(log(2.0 / 1e-4) / 2.0) / sqrt((double)N);
    printf("# n=%d mean %.3g var %.6f skew %.3g excess kurtosis %.3g KS D=%.3g (critical %.3g at alpha 1e-4)\n", N,
           m1, m2, skew, kurt, d, crit);
    SP_EXPECT_MSG(d < crit, "KS D = %.4g >= %.4g", d, crit);
    free(z);
}

/* The bulk fills run the ISA the machine selects (AVX2 where it has it: target_clones);
 * the element functions and the reference below are scalar code. All must agree to the
 * bit, for odd and even starts, short and long runs, and across the 2^32 block boundary
 * where the counter's high word changes. */
static void expect_fills_match(sp_key k, uint64_t first, size_t n)
{
    float *const u = (float *)malloc((n + 1) * sizeof(float)), *const z = (float *)malloc((n + 1) * sizeof(float));
    SP_EXPECT(u && z);
    u[n] = z[n] = 42.0f; /* never written */
    sp_pair_uniform_fill(k, first, n, 3.5f, u);
    sp_pair_normal_fill(k, first, n, z);
    for (size_t j = 0; j < n; j++) {
        uint64_t const i = first + j, q = i >> 1;
        uint32_t const ctr[2] = {(uint32_t)(q >> 32), (uint32_t)q};
        uint32_t w[2];
        float bm[2];
        sp_threefry2x32(k.k, ctr, w);
        sp_box_muller(w[0], w[1], bm);
        float const uref = (float)(w[i & 1] >> 8) * 0x1p-24f * 3.5f;
        SP_EXPECT_MSG(f32_bits(z[j]) == f32_bits(bm[i & 1]) && f32_bits(z[j]) == f32_bits(sp_pair_normal(k, i)),
                      "normal element %llu (first %llu n %zu): %.9g", (unsigned long long)i,
                      (unsigned long long)first, n, (double)z[j]);
        SP_EXPECT_MSG(f32_bits(u[j]) == f32_bits(uref) && f32_bits(u[j]) == f32_bits(sp_pair_uniform(k, i, 3.5f)),
                      "uniform element %llu (first %llu n %zu)", (unsigned long long)i, (unsigned long long)first, n);
    }
    SP_EXPECT(u[n] == 42.0f && z[n] == 42.0f);
    free(u);
    free(z);
}

SP_TEST(rng_pair_fills_match_the_scalar_path_bit_for_bit)
{
#if defined(__x86_64__) && defined(__GNUC__)
    printf("# this machine %s AVX2: the fills ran the %s clone\n", __builtin_cpu_supports("avx2") ? "has" : "lacks",
           __builtin_cpu_supports("avx2") ? "avx2" : "default");
#endif
    sp_key const k = sp_key_fold_in(sp_key_from_seed(5), 9);
    static const size_t ns[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 255, 256, 257, 1000, 100003};
    static const uint64_t firsts[] = {0, 1, 2, 5, 64, 65, 12345, (1ull << 33) - 9, (1ull << 33) - 10};
    for (size_t a = 0; a < sizeof firsts / sizeof *firsts; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) expect_fills_match(k, firsts[a], ns[b]);
}

SP_TEST(rng_pair_uniform_range_and_moments)
{
    /* The largest value, t = 2^24 - 1, stays below scale for any scale (one rounding). */
    uint32_t st = 1;
    for (int i = 0; i < 200000; i++) {
        st = st * 1664525u + 1013904223u;
        float const scale = ldexpf(1.0f + (float)(st >> 9) * 0x1p-23f, (int)(st % 200) - 100);
        SP_EXPECT_MSG((float)0xFFFFFF * 0x1p-24f * scale < scale, "scale %a", (double)scale);
    }
    enum { N = 1 << 20 };
    float *const u = (float *)malloc(N * sizeof(float));
    SP_EXPECT(u != NULL);
    sp_pair_uniform_fill(sp_key_from_seed(13), 3, N, 4.0f, u);
    double m1 = 0, m2 = 0;
    for (int i = 0; i < N; i++) {
        SP_EXPECT(u[i] >= 0.0f && u[i] < 4.0f);
        m1 += (double)u[i];
    }
    m1 /= N;
    for (int i = 0; i < N; i++) m2 += ((double)u[i] - m1) * ((double)u[i] - m1);
    m2 /= N;
    /* 5 standard errors: sd of the mean 4/sqrt(12 n); of the variance (4^2) sqrt(1/180 n)
     * (fourth central moment 4^4/80 for U[0, 4)). */
    SP_ASSERT_NEAR(m1, 2.0, 5 * 4.0 / sqrt(12.0 * N));
    SP_ASSERT_NEAR(m2, 16.0 / 12.0, 5 * 16.0 * sqrt(1.0 / 180.0 / N));
    free(u);
}
