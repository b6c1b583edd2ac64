/* test_fixtures.c: see test_fixtures.h. */
#include "test_fixtures.h"

#include "sp_test.h"

void sp_test_load_yaml(sp_config *c, const char *yaml)
{
    sp_diag d;
    sp_diag_init(&d);
    sp_status const st = sp_config_load_string(c, yaml, strlen(yaml), "test.yaml", sp_test_tmpdir(), &d);
    if (st != SP_OK) sp_diag_print(&d, "test.yaml", stderr);
    sp_diag_free(&d);
    SP_ASSERT_OK(st);
}

void sp_test_write_npy(const char *path, sp_dtype dtype, size_t ndim, const size_t *shape, const void *data)
{
    sp_membuf m = {0};
    sp_sink const s = sp_sink_membuf(&m);
    SP_ASSERT_OK(sp_npy_write(&s, dtype, ndim, shape, data, NULL));
    sp_test_write_file(path, m.data, m.size);
    sp_membuf_free(&m);
}
