sp_add_unit_test(test_core SOURCES tests/unit/test_core.c MODULES core LABELS threads)
