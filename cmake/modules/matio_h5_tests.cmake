# Real-data tests: .mat/.h5 round trips against files written by Python and by libmatio.
sp_add_unit_test(test_matio_h5 SOURCES tests/unit/test_matio_h5.c MODULES core rng flow io matio_h5)
