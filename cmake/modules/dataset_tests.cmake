# The dataset writer through its API (no CLI): formats decoded by libpng and the library's
# readers, params.jsonl and dataset.json, resume, refusals, h5 sync points, temporaries.
sp_add_unit_test(test_dataset SOURCES tests/unit/test_dataset.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline dataset)
# Scale-out: sp_generate split between ranks joined by sockets (tests/unit/test_group.c,
# no MPI needed): the one-process dataset byte for byte, elastic resumes, failures that
# stop every rank together.
sp_add_unit_test(test_scaleout SOURCES tests/unit/test_scaleout.c tests/unit/test_group.c tests/unit/test_fixtures.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline dataset
    LONG_CASES scaleout_resume_on_any_number_of_processes scaleout_a_rank_with_a_full_disk_stops_every_rank)
