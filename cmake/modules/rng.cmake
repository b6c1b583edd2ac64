# Randomness: Threefry-2x32-20 and JAX-compatible key operations and draws.
sp_add_module(rng SOURCES src/rng/threefry.c)
# Let the compiler vectorise the bulk draws: errno and trap semantics are never used and
# do not change any result (no -ffast-math: IEEE results are kept bit for bit).
set_source_files_properties(src/rng/threefry.c PROPERTIES COMPILE_OPTIONS "-fno-math-errno;-fno-trapping-math")
