# Real flow data: .mat (libmatio, v5 and v7.3) and .h5 (libhdf5) readers, and the HDF5 dataset
# shard writer used by `synthpix generate --format h5`. Uses core, flow and io; the loader
# (flow records) and the dataset writer (HDF5 shards) call it (docs/ARCHITECTURE.md).
sp_add_module(matio_h5 SOURCES
    src/matio_h5/mh_common.c
    src/matio_h5/h5_raw.c
    src/matio_h5/mh_isolate.c
    src/matio_h5/mat_v5_check.c
    src/matio_h5/flow_mat.c
    src/matio_h5/flow_h5.c
    src/matio_h5/h5_dataset.c
    src/matio_h5/h5_file.c)
# libFuzzer needs the reads in-process to see their coverage (src/matio_h5/mh_isolate.c).
if(SP_LIBFUZZER AND TARGET sp_matio_h5)
    target_compile_definitions(sp_matio_h5 PRIVATE SP_MH_ISOLATE=0)
endif()
