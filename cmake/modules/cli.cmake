# The synthpix command-line tool: cli/ uses only include/sp/*.h.
list(APPEND SP_CLI_SOURCES cli/synthpix.c cli/cli_common.c cli/cmd_generate.c cli/cmd_bench.c)
