/* test_fixtures.h: fixture helpers for tests that link the config and io modules. */
#ifndef SP_TEST_FIXTURES_H
#define SP_TEST_FIXTURES_H

#include <stddef.h>

#include "sp/sp_config.h"
#include "sp/sp_io.h"

/* Loads YAML text into c (paths relative to the test's temporary directory); fails the
 * case, printing the diagnostics, when the text does not load. */
void sp_test_load_yaml(sp_config *c, const char *yaml);
/* Writes a .npy file (through the library's writer); fails the case on error. */
void sp_test_write_npy(const char *path, sp_dtype dtype, size_t ndim, const size_t *shape, const void *data);

#endif
