# Flow tests: analytic flows against hand-computed values, the kinematic generator, and the
# Gaussian filter against scipy.ndimage (skipped when /usr/bin/python3 lacks scipy).
sp_add_unit_test(test_flow_analytic SOURCES tests/unit/test_flow_analytic.c MODULES core rng flow LABELS threads WHITEBOX flow)
set_source_files_properties(tests/unit/test_flow_analytic.c PROPERTIES COMPILE_OPTIONS "-Wno-psabi")
