# The synthpix command-line tool: tools/ uses only include/sp/*.h.
list(APPEND SP_CLI_SOURCES tools/synthpix.c tools/cli_common.c tools/cmd_generate.c tools/cmd_bench.c)
