# End-to-end tests of the synthpix command line (they run the built CLI).
sp_add_unit_test(test_cli SOURCES tests/unit/test_cli.c tests/unit/test_fixtures.c MODULES core rng flow config io render matio_h5 loader sampler)
if(TARGET test_cli)
    add_dependencies(test_cli synthpix_cli)
endif()
# The fault sweep: the generate command's own code, linked in, over a fault-injecting file
# system (every Nth call fails with EIO or ENOSPC), then resumed.
sp_add_unit_test(test_generate_faults SOURCES tests/unit/test_generate_faults.c cli/cmd_generate.c cli/generate_opts.c cli/cli_common.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline dataset)
target_include_directories(test_generate_faults PRIVATE ${CMAKE_SOURCE_DIR}/cli)
add_dependencies(test_generate_faults synthpix_cli)
# What the command may touch on disk: planted links, foreign directories, another dataset,
# a second job, damaged and tampered checkpoints, out-of-range numbers.
sp_add_unit_test(test_safety SOURCES tests/unit/test_safety.c MODULES core)
add_dependencies(test_safety synthpix_cli)
# A new user's first hour: resume summaries, per-command help, OS errors with their reason,
# durations, a progress line that fits the terminal (links the CLI's helpers).
sp_add_unit_test(test_first_hour SOURCES tests/unit/test_first_hour.c tests/unit/test_fixtures.c cli/cli_common.c MODULES core rng flow config io render loader sampler matio_h5)
target_include_directories(test_first_hour PRIVATE ${CMAKE_SOURCE_DIR}/cli)
add_dependencies(test_first_hour synthpix_cli)
# The README's tour, run top to bottom as written, and its C example compiled and run.
add_test(NAME readme_tour COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_readme.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(readme_tour PROPERTIES TIMEOUT 300)
# `synthpix preview`: the flow panel's colours against an independent Middlebury wheel
# (tests/unit/preview_colours.py), the frames against generate's files, refused pairs,
# configurations and output paths; without libcairo, the message that says so.
sp_add_unit_test(test_preview SOURCES tests/unit/test_preview.c MODULES core)
add_dependencies(test_preview synthpix_cli)
# synthpix-mpi under mpirun: the one-process dataset, SIGKILLed jobs resumed on other
# process counts, refusals (needs MPI; the protocol itself: test_scaleout in every build).
if(SP_HAVE_MPI AND TARGET synthpix_mpi)
    sp_add_unit_test(test_mpi SOURCES tests/unit/test_mpi.c tests/unit/test_fixtures.c MODULES core rng flow config io
        LONG_CASES mpi_sigkilled_ranks_resume_on_other_process_counts mpi_sigkilled_h5_ranks_resume_on_other_process_counts
                   mpi_one_to_four_ranks_write_the_one_process_dataset mpi_one_to_four_ranks_write_the_one_process_h5_shards)
    target_compile_definitions(test_mpi PRIVATE SP_MPIEXEC="${MPIEXEC_EXECUTABLE}" SP_MPI_CLI="$<TARGET_FILE:synthpix_mpi>")
    add_dependencies(test_mpi synthpix_cli synthpix_mpi)
else()
    sp_add_skipped_test(test_mpi "built without MPI: synthpix-mpi needs libopenmpi-dev and openmpi-bin (make deps)")
endif()
