# Pause/resume: the restore matrix, refusals, loader shards and prefetch (library), and the
# SIGKILL/--resume crash test of synthpix generate (CLI; needs the synthpix_cli target).
# Label "threads": the prefetch threads and the pool run under TSan too.
sp_add_unit_test(test_pipeline SOURCES tests/unit/test_pipeline.c tests/unit/test_fixtures.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline LABELS threads WHITEBOX loader
    LONG_CASES pipeline_shuffle_is_a_permutation_for_every_length)
sp_add_unit_test(test_resume_cli SOURCES tests/unit/test_resume_cli.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline LABELS threads
    LONG_CASES resume_cli_sigkilled_runs_resume_to_the_uninterrupted_dataset
               resume_cli_sigkilled_h5_runs_resume_to_the_uninterrupted_dataset
               resume_cli_sigkilled_runs_never_touch_planted_links_or_foreign_directories)
if(TARGET test_resume_cli AND TARGET synthpix_cli)
    add_dependencies(test_resume_cli synthpix_cli)
endif()
# Restoring from hostile checkpoint trees (see the harness's map comment).
sp_add_fuzzer(fuzz_pipeline_state tests/fuzz/fuzz_pipeline_state.c pipeline_state
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline)
