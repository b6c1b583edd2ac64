# Datasets on disk: the dataset writer (formats, params.jsonl, dataset.json, durable progress
# and resume) and sp_generate, the whole job the CLI, the Python package and MPI share.
sp_add_module(dataset SOURCES
    src/dataset/dataset_meta.c
    src/dataset/dataset_pairs.c
    src/dataset/dataset_writer.c
    src/dataset/generate.c
    src/dataset/group_wire.c
    src/dataset/generate_group.c)
