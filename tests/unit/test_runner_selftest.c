/* test_runner_selftest.c: cases with known outcomes for the runner's own test
 * (tests/check_runner.sh): one passes, one skips, one fails. Never registered as unit tests:
 * the failing case fails on purpose.
 */
#include "sp_test.h"

SP_TEST(selftest_passes)
{
    SP_ASSERT_EQ_INT(1 + 1, 2);
}

SP_TEST(selftest_skips)
{
    sp_test_skip("prerequisite %s missing", "widget");
    SP_EXPECT_MSG(0, "sp_test_skip returned");
}

SP_TEST(selftest_fails)
{
    SP_ASSERT_EQ_INT(1 + 1, 3);
}
