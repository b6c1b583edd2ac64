# Tests and fuzz harnesses of the io module.
sp_add_unit_test(test_io SOURCES tests/unit/test_io.c MODULES core rng flow io)
sp_add_fuzzer(fuzz_npy tests/fuzz/fuzz_npy.c npy MODULES core rng flow io)
sp_add_fuzzer(fuzz_flo tests/fuzz/fuzz_flo.c flo MODULES core rng flow io)
