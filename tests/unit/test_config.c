#include "sp_test.h"
#include "sp/sp_config.h"
SP_TEST(config_placeholder) { sp_config c; SP_ASSERT_OK(sp_config_load_default(&c, NULL)); sp_config_free(&c); }
