# End-to-end tests of the synthpix command line (they run the built CLI).
sp_add_unit_test(test_cli SOURCES tests/unit/test_cli.c tests/unit/test_fixtures.c MODULES core rng flow config io render matio_h5 loader sampler)
if(TARGET test_cli)
    add_dependencies(test_cli synthpix_cli)
endif()
