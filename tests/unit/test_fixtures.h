/* test_fixtures.h: fixture helpers for tests that link the config and io modules. */
#ifndef SP_TEST_FIXTURES_H
#define SP_TEST_FIXTURES_H

#include <stddef.h>

#include "sp/sp_config.h"
#include "sp/sp_io.h"
#include "sp/sp_sampler.h"
#include "sp_test.h"

/* Loads YAML text into c (paths relative to the test's temporary directory); fails the
 * case, printing the diagnostics, when the text does not load. */
void sp_test_load_yaml(sp_config *c, const char *yaml);
/* Writes a .npy file (through the library's writer); fails the case on error. */
void sp_test_write_npy(const char *path, sp_dtype dtype, size_t ndim, const size_t *shape, const void *data);

/* A sampler of c with these options (SP_PREFETCH_AUTO, SP_FLOW_FILES_AUTO: the defaults);
 * fails the case with the library's message when it cannot be made. */
static inline sp_sampler *sp_test_sampler(const sp_config *c, unsigned threads, unsigned prefetch, int flow_files)
{
    sp_sampler_options o;
    sp_sampler_options_init(&o);
    o.threads = threads;
    o.prefetch_threads = prefetch;
    o.flow_files = flow_files;
    sp_sampler *s = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_create(&s, c, &o, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_sampler_create: %s (%s)", e.message, sp_strerror(st));
    return s;
}

/* The next batch of s; fails the case with the library's message when there is none.
 * Inline, so tests that do not use it need not link the sampler. */
static inline const sp_batch *sp_test_next_ok(sp_sampler *s)
{
    const sp_batch *b = NULL;
    sp_error e;
    sp_error_clear(&e);
    sp_status const st = sp_sampler_next(s, &b, &e);
    SP_EXPECT_MSG(st == SP_OK, "sp_sampler_next: %s (%s)", e.message, sp_strerror(st));
    return b;
}

#endif
