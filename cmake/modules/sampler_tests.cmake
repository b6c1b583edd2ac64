sp_add_unit_test(test_sampler SOURCES tests/unit/test_sampler.c tests/unit/test_fixtures.c MODULES core rng flow config io render matio_h5 loader sampler LABELS threads WHITEBOX loader sampler)
