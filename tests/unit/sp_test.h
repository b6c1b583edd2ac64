/* sp_test.h: the unit-test framework.
 *
 * SP_TEST(module_behaviour) { ... } defines a case; cases register themselves at start-up.
 * The runner (test_main.c) runs each case in its own process with a timeout and prints TAP
 * lines and a closing "N passed, N failed". Assertion macros print the expression and both
 * operands, then abort the case.
 *
 *   ./test_x            run every case
 *   ./test_x NAME...    run the cases whose name contains one of the arguments
 *   ./test_x -e NAME... run exactly the named cases (how ctest runs each case)
 *   ./test_x -l         list the cases
 * Exit status: 0 all selected cases passed or skipped (at least one passed), 77 all skipped,
 * 1 a case failed (or none was selected), 2 usage error or -e with an unknown name.
 * Environment: SP_TEST_FULL=1 enables the long tiers (sp_test_full()), SP_TEST_TIMEOUT
 * overrides the per-case timeout in seconds (default 300; 600 with SP_TEST_FULL=1).
 */
#ifndef SP_TEST_H
#define SP_TEST_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef void (*sp_test_fn)(void);
void sp_test_register(const char *name, sp_test_fn fn);

#define SP_TEST(name)                                                                         \
    static void sp_test_body_##name(void);                                                    \
    __attribute__((constructor)) static void sp_test_reg_##name(void)                         \
    {                                                                                         \
        sp_test_register(#name, sp_test_body_##name);                                         \
    }                                                                                         \
    static void sp_test_body_##name(void)

void sp_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* Ends the case as skipped: TAP "ok N - name # SKIP reason" (never a pass). Use it when a
 * prerequisite outside the code under test is missing (a Python module, a feature the
 * build left out). */
void sp_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define SP_TEST_SKIP_EXIT 77

#define SP_EXPECT(cond)                                                                       \
    do {                                                                                      \
        if (!(cond)) sp_test_fail(__FILE__, __LINE__, "expected: %s", #cond);                 \
    } while (0)

#define SP_EXPECT_MSG(cond, ...)                                                              \
    do {                                                                                      \
        if (!(cond)) sp_test_fail(__FILE__, __LINE__, __VA_ARGS__);                           \
    } while (0)

#define SP_ASSERT_EQ_INT(got, want)                                                           \
    do {                                                                                      \
        long long const g_ = (long long)(got), w_ = (long long)(want);                        \
        if (g_ != w_)                                                                         \
            sp_test_fail(__FILE__, __LINE__, "%s == %s: got %lld, want %lld", #got, #want,    \
                         g_, w_);                                                             \
    } while (0)

#define SP_ASSERT_EQ_U64(got, want)                                                           \
    do {                                                                                      \
        uint64_t const g_ = (uint64_t)(got), w_ = (uint64_t)(want);                           \
        if (g_ != w_)                                                                         \
            sp_test_fail(__FILE__, __LINE__, "%s == %s: got %" PRIu64 " (0x%" PRIx64          \
                         "), want %" PRIu64 " (0x%" PRIx64 ")", #got, #want, g_, g_, w_, w_); \
    } while (0)

#define SP_ASSERT_NEAR(got, want, tol)                                                        \
    do {                                                                                      \
        double const g_ = (double)(got), w_ = (double)(want), t_ = (double)(tol);             \
        if (!(fabs(g_ - w_) <= t_))                                                           \
            sp_test_fail(__FILE__, __LINE__, "%s ~= %s: got %.9g, want %.9g (tol %.3g)",      \
                         #got, #want, g_, w_, t_);                                            \
    } while (0)

#define SP_ASSERT_OK(expr)                                                                    \
    do {                                                                                      \
        int const s_ = (int)(expr);                                                           \
        if (s_ != 0) sp_test_fail(__FILE__, __LINE__, "%s returned status %d", #expr, s_);    \
    } while (0)

#define SP_ASSERT_STATUS(expr, want)                                                          \
    do {                                                                                      \
        int const s_ = (int)(expr), w_ = (int)(want);                                         \
        if (s_ != w_)                                                                         \
            sp_test_fail(__FILE__, __LINE__, "%s returned status %d, want %d", #expr, s_, w_); \
    } while (0)

#define SP_ASSERT_STR_CONTAINS(hay, needle)                                                   \
    do {                                                                                      \
        const char *const h_ = (hay), *const n_ = (needle);                                   \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                             \
            sp_test_fail(__FILE__, __LINE__, "expected \"%s\" to contain \"%s\"",             \
                         h_ ? h_ : "(null)", n_);                                             \
    } while (0)

/* Utilities (test_util.c). */
int sp_test_full(void);                 /* SP_TEST_FULL=1: long tiers */
const char *sp_test_source_dir(void);   /* repository root */
const char *sp_test_cli(void);          /* path of the built synthpix CLI */
/* A fresh empty directory, removed at exit of the case's process. Returned string is static. */
const char *sp_test_tmpdir(void);
/* Runs a shell command; returns its exit status (or -1). Output is captured into out
 * (NUL-terminated, truncated to cap) when out != NULL. */
int sp_test_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Starts `/bin/sh -c cmd` in a child process and returns its pid (fails the case when
 * fork fails); the caller waits for it. */
pid_t sp_test_spawn_sh(const char *cmd);
/* Reads a whole file; NULL when missing. *size receives the length. free() the result. */
unsigned char *sp_test_read_file(const char *path, size_t *size);
/* Writes bytes to a file (asserts on failure). */
void sp_test_write_file(const char *path, const void *data, size_t n);
/* Entries of dir whose name contains needle; -1 when dir cannot be read. */
int sp_test_count_entries_with(const char *dir, const char *needle);
/* Fails the case unless every regular file of want/ exists in got/ with the same bytes and
 * got/ holds no other entry (hidden names included when `hidden` is 1). */
void sp_test_expect_same_dir(const char *want, const char *got, int hidden);
/* 1 when /usr/bin/python3 can import every module named (space separated). */
int sp_test_have_python(const char *modules);
/* Ends the case as skipped (sp_test_skip) when the build left out the optional library
 * `feature` needs: "matio" (libmatio), "hdf5" (libhdf5) or "cairo" (libcairo); see
 * SP_WITH_MATIO/SP_WITH_HDF5/SP_WITH_CAIRO. */
void sp_test_need_feature(const char *feature);

#endif /* SP_TEST_H */
