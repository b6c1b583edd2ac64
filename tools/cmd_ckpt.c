/* cmd_ckpt.c: synthpix ckpt (placeholder while the sub-command is written). */
#include <stdio.h>

#include "cli.h"
#include "sp/sp.h"

int sp_cmd_ckpt(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "synthpix ckpt: not available yet\n");
    return SP_EXIT_USAGE;
}
