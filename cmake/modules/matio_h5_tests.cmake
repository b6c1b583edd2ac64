# Real-data tests: .mat/.h5 round trips against files written by Python and by libmatio.
sp_add_unit_test(test_matio_h5 SOURCES tests/unit/test_matio_h5.c MODULES core rng flow io matio_h5)
# Every SynthPix example configuration (reference 2.6, tests/data/configs) runs unchanged on
# flow files the test writes.
sp_add_unit_test(test_config_compat SOURCES tests/unit/test_config_compat.c
    MODULES core rng flow config io render matio_h5 sampler)
# test_matio_h5 runs `synthpix generate --format h5` and reads the shards back with h5py.
if(TARGET test_matio_h5 AND TARGET synthpix_cli)
    add_dependencies(test_matio_h5 synthpix_cli)
endif()
