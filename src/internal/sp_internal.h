/* sp_internal.h: private helpers shared by the library's modules (never installed).
 *
 * SP_TRY forwards a failing status; SP_RETURN_IF returns an error with a detail message;
 * SP_ASSERT checks our own invariants in debug and sanitizer builds; SP_CHECK is always on
 * and aborts where going on could corrupt data on disk. Overflow-checked size arithmetic
 * lives here too, for every reader that takes sizes from a header, and the one set of
 * endian-explicit byte loaders every reader uses (never a cast-and-dereference).
 */
#ifndef SP_INTERNAL_H
#define SP_INTERNAL_H

#include "sp/sp_errors.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SP_TRY(expr)                                                                          \
    do {                                                                                      \
        sp_status const sp_try_s_ = (expr);                                                   \
        if (sp_try_s_ != SP_OK) return sp_try_s_;                                             \
    } while (0)

#define SP_RETURN_IF(cond, err, status, ...)                                                  \
    do {                                                                                      \
        if (cond) return sp_error_set((err), (status), __VA_ARGS__);                          \
    } while (0)

#if SP_DEBUG
#define SP_ASSERT(x)                                                                          \
    do {                                                                                      \
        if (!(x)) {                                                                           \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #x);         \
            abort();                                                                          \
        }                                                                                     \
    } while (0)
#else
#define SP_ASSERT(x) ((void)0)
#endif

#define SP_CHECK(x)                                                                           \
    do {                                                                                      \
        if (!(x)) {                                                                           \
            fprintf(stderr, "%s:%d: fatal check failed: %s\n", __FILE__, __LINE__, #x);       \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

#define SP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Hot loops are compiled for AVX2 and for the baseline ISA and picked at load time (an
 * ifunc). Integer and IEEE basic operations without contraction give the same bits at any
 * vector width, so this changes speed only. Off in sanitizer builds: ifunc resolvers run
 * before the ThreadSanitizer runtime is ready, and the sanitizers should see one plain path. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && !SP_SANITIZED
#define SP_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define SP_MULTIVERSION
#endif

/* 1 when some of the n floats is NaN or infinite (exponent bits all ones): a read-only pass
 * that vectorises. */
static inline int sp__any_nonfinite_f32(const float *v, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        bad |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad != 0;
}

/* Monotonic seconds (for durations only). */
static inline double sp__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1 where the host stores integers and floats little-endian (the file formats' order). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SP_LITTLE_ENDIAN 1
#else
#define SP_LITTLE_ENDIAN 0
#endif

/* *out = a * b; returns 0 on overflow. */
static inline int sp__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* *out = a + b; returns 0 on overflow. */
static inline int sp__add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

static inline uint16_t sp__load_le16(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t sp__load_le32(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static inline uint64_t sp__load_le64(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static inline uint16_t sp__load_be16(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t sp__load_be32(const void *p)
{
    const unsigned char *b = (const unsigned char *)p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

/* 1 when the host stores integers little-endian. */
static inline int sp__host_is_le(void)
{
    uint16_t const one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static inline void sp__store_le32(void *p, uint32_t v)
{
    unsigned char *b = (unsigned char *)p;
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

static inline float sp__load_le_f32(const void *p)
{
    uint32_t const u = sp__load_le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline void sp__store_le_f32(void *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    sp__store_le32(p, u);
}

#endif /* SP_INTERNAL_H */
