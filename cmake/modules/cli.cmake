# The synthpix command-line tool: tools/ uses only include/sp/*.h.
list(APPEND SP_CLI_SOURCES tools/synthpix.c)
