# Real-data tests: .mat/.h5 round trips against files written by Python and by libmatio.
sp_add_unit_test(test_matio_h5 SOURCES tests/unit/test_matio_h5.c MODULES core rng flow io matio_h5)
# Every SynthPix example configuration (tests/data/configs; docs/synthpix-compat.md, Example
# configurations) runs unchanged on flow files the test writes.
sp_add_unit_test(test_config_compat SOURCES tests/unit/test_config_compat.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline)
# test_matio_h5 runs `synthpix generate --format h5` and reads the shards back with h5py.
if(TARGET test_matio_h5 AND TARGET synthpix_cli)
    add_dependencies(test_matio_h5 synthpix_cli)
endif()
# Hostile input: the .h5 reader from memory (HDF5 core driver) and the .mat reader (through a
# temporary file, as libmatio reads only paths), replaying tests/corpus/h5 and tests/corpus/mat.
# A build without the libraries a harness reads through reports its replay as skipped (every
# input would be refused unread).
# fuzz_h5_in_process replays the same corpus without the child process, from memory and
# from a file, so that under ASan a read outside a buffer fails it (tests/fuzz/fuzz_h5.c).
if(SP_HAVE_HDF5)
    sp_add_fuzzer(fuzz_h5 tests/fuzz/fuzz_h5.c h5 MODULES core rng flow io matio_h5)
    sp_add_fuzzer(fuzz_h5_in_process tests/fuzz/fuzz_h5.c h5 MODULES core rng flow io matio_h5 WHITEBOX matio_h5)
    target_compile_definitions(fuzz_h5_in_process PRIVATE SP_FUZZ_H5_IN_PROCESS=1)
    if(TARGET fuzz_h5_in_process AND NOT SP_LIBFUZZER)
        set_tests_properties(fuzz_h5_in_process_replay PROPERTIES ENVIRONMENT
            "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/fuzz/lsan_libhdf5.supp:print_suppressions=0")
    endif()
else()
    sp_add_skipped_test(fuzz_h5_replay "synthpix was built without libhdf5")
    sp_add_skipped_test(fuzz_h5_in_process_replay "synthpix was built without libhdf5")
endif()
if(SP_HAVE_MATIO AND SP_HAVE_HDF5)
    sp_add_fuzzer(fuzz_mat tests/fuzz/fuzz_mat.c mat MODULES core rng flow io matio_h5)
else()
    sp_add_skipped_test(fuzz_mat_replay "synthpix was built without libmatio or libhdf5")
endif()
# Real image pairs (include_images) through the sampler.
sp_add_unit_test(test_real_images SOURCES tests/unit/test_real_images.c
    MODULES core rng flow config io render matio_h5 loader sampler ckpt pipeline)
