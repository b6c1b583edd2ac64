sp_add_unit_test(test_sampler SOURCES tests/unit/test_sampler.c MODULES core rng flow config io render matio_h5 sampler LABELS threads)
