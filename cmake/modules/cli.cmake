# The synthpix command-line tool: cli/ uses only include/sp/*.h.
list(APPEND SP_CLI_SOURCES cli/synthpix.c cli/cli_common.c cli/cmd_generate.c cli/generate_opts.c cli/cmd_bench.c cli/cmd_preview.c)
# The preview's drawing needs libcairo (SP_WITH_CAIRO); without it `synthpix preview` only
# says so.
if(SP_HAVE_CAIRO)
    list(APPEND SP_CLI_SOURCES cli/preview_draw.c cli/preview_colour.c)
endif()
# synthpix-mpi (built when MPI is found, see SP_WITH_MPI): the generate command and an MPI
# transport for its group.
set(SP_MPI_CLI_SOURCES cli/synthpix_mpi.c cli/cli_common.c cli/cmd_generate.c cli/generate_opts.c)
