sp_add_unit_test(test_sampler SOURCES tests/unit/test_sampler.c tests/unit/test_fixtures.c tests/unit/test_xcorr.c MODULES core rng flow config io render matio_h5 loader sampler LABELS threads WHITEBOX loader sampler)
# The light sheet, out-of-plane motion, K frames and the kinematic scale mode
# (docs/realism.md); the K-frame resume case saves and restores through the pipeline.
sp_add_unit_test(test_realism SOURCES tests/unit/test_realism.c tests/unit/test_fixtures.c tests/unit/test_xcorr.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline LABELS threads WHITEBOX sampler)
