/* test_ckpt.c: placeholder. */
#include "sp_test.h"

#include "sp/sp_ckpt.h"

SP_TEST(ckpt_crc32c_known_answer)
{
    SP_ASSERT_EQ_U64(sp_crc32c(0, "123456789", 9), 0xE3069283u);
}
