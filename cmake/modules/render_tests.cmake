sp_add_unit_test(test_render SOURCES tests/unit/test_render.c MODULES core rng render)
