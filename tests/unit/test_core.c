/* test_core.c: status table, error details, sinks, the thread pool, the version and the
 * optional features of the build. */
#include "sp_test.h"

#include "sp/sp_api.h"
#include "sp/sp_errors.h"
#include "sp/sp_pool.h"
#include "sp/sp_sink.h"

SP_TEST(core_strerror_names_every_code)
{
    SP_ASSERT_STR_CONTAINS(sp_strerror(SP_ERR_NOMEM), "memory");
    SP_ASSERT_STR_CONTAINS(sp_status_name(SP_ERR_CHECKSUM), "SP_ERR_CHECKSUM");
    for (int c = -1; c > SP_ERR_LAST_; c--) {
        SP_EXPECT_MSG(strcmp(sp_strerror((sp_status)c), "unknown status") != 0, "code %d has no message", c);
    }
    SP_ASSERT_STR_CONTAINS(sp_strerror((sp_status)-999), "unknown");
}

SP_TEST(core_error_set_and_prefix)
{
    sp_error e;
    sp_error_clear(&e);
    SP_ASSERT_EQ_INT(sp_error_set(&e, SP_ERR_CORRUPT, "bad magic %d", 7), SP_ERR_CORRUPT);
    sp_error_prefix(&e, "%s: ", "x.npy");
    SP_EXPECT(strcmp(e.message, "x.npy: bad magic 7") == 0);
    SP_ASSERT_EQ_INT(sp_error_set(NULL, SP_ERR_IO, "ignored"), SP_ERR_IO);
}

SP_TEST(core_membuf_sink_appends)
{
    sp_membuf b = {0};
    sp_sink const s = sp_sink_membuf(&b);
    char big[10000];
    memset(big, 'x', sizeof big);
    SP_ASSERT_OK(sp_sink_write(&s, "abc", 3, NULL));
    SP_ASSERT_OK(sp_sink_write(&s, big, sizeof big, NULL));
    SP_ASSERT_EQ_INT(b.size, 10003);
    SP_EXPECT(memcmp(b.data, "abcx", 4) == 0 && b.data[10002] == 'x');
    sp_membuf_free(&b);
}

SP_TEST(core_atomic_file_replaces_whole)
{
    char path[600];
    snprintf(path, sizeof path, "%s/f.bin", sp_test_tmpdir());
    SP_ASSERT_OK(sp_write_file_atomic(path, "first", 5, 1, NULL));
    SP_ASSERT_OK(sp_write_file_atomic(path, "second!", 7, 0, NULL));
    size_t n = 0;
    unsigned char *const got = sp_test_read_file(path, &n);
    SP_EXPECT(got != NULL && n == 7 && memcmp(got, "second!", 7) == 0);
    free(got);
    sp_error e;
    char bad[700];
    snprintf(bad, sizeof bad, "%s/missing-dir/f.bin", sp_test_tmpdir());
    SP_EXPECT(sp_write_file_atomic(bad, "x", 1, 1, &e) == SP_ERR_IO);
    SP_ASSERT_STR_CONTAINS(e.message, "missing-dir");
}

typedef struct count_ctx {
    int hits[5000];
    unsigned max_worker;
} count_ctx;

static void count_item(void *ctx, size_t item, unsigned worker)
{
    count_ctx *const c = (count_ctx *)ctx;
    c->hits[item]++; /* disjoint per item: no race */
    (void)worker;
}

SP_TEST(core_pool_runs_each_item_once)
{
    for (unsigned threads = 1; threads <= 4; threads++) {
        sp_pool *pool = NULL;
        SP_ASSERT_OK(sp_pool_create(&pool, threads));
        SP_ASSERT_EQ_INT(sp_pool_size(pool), threads);
        for (int rep = 0; rep < 20; rep++) {
            static count_ctx c;
            memset(&c, 0, sizeof c);
            size_t const n = (size_t)(rep * 251 % 5000);
            sp_pool_run(pool, n, count_item, &c);
            for (size_t i = 0; i < 5000; i++) SP_ASSERT_EQ_INT(c.hits[i], i < n ? 1 : 0);
        }
        sp_pool_free(pool);
    }
    sp_pool_free(NULL);
}

SP_TEST(core_features_match_the_build)
{
    SP_ASSERT_EQ_INT(sp_have_feature("matio"), SP_HAVE_MATIO);
    SP_ASSERT_EQ_INT(sp_have_feature("hdf5"), SP_HAVE_HDF5);
    SP_ASSERT_EQ_INT(sp_have_feature("no-such-feature"), 0);
    SP_ASSERT_EQ_INT(sp_have_feature(NULL), 0);
    unsigned n = 0;
    while (sp_feature_name(n) != NULL) SP_EXPECT(sp_have_feature(sp_feature_name(n++)) <= 1);
    SP_ASSERT_EQ_INT(n, 2);
    SP_ASSERT_EQ_INT(sp_version_number(), SP_VERSION_NUMBER);
    SP_EXPECT(strcmp(sp_version_string(), SP_VERSION_STRING) == 0);
}
