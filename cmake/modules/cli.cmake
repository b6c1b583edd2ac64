# The synthpix command-line tool: cli/ uses only include/sp/*.h.
list(APPEND SP_CLI_SOURCES cli/synthpix.c cli/cli_common.c cli/cmd_generate.c cli/cmd_bench.c)
# synthpix-mpi (built when MPI is found, see SP_WITH_MPI): the generate command and an MPI
# transport for its group.
set(SP_MPI_CLI_SOURCES cli/synthpix_mpi.c cli/cli_common.c cli/cmd_generate.c)
