# The dataset writer through its API (no CLI): formats decoded by libpng and the library's
# readers, params.jsonl and dataset.json, resume, refusals, h5 sync points, temporaries.
sp_add_unit_test(test_dataset SOURCES tests/unit/test_dataset.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline dataset)
