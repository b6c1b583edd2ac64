/* test_resume_cli.c: placeholder replaced below. */
#include "sp_test.h"
SP_TEST(resume_cli_placeholder) {}
