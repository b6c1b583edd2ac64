# Configuration tests: validation rules, defaults, round trips; the fuzz corpus replay.
sp_add_unit_test(test_config SOURCES tests/unit/test_config.c MODULES core rng flow config)
sp_add_fuzzer(fuzz_config tests/fuzz/fuzz_config.c config MODULES core rng flow config)
