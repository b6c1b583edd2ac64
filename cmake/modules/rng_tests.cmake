sp_add_unit_test(test_rng SOURCES tests/unit/test_rng.c MODULES core rng)
