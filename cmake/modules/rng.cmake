# Randomness: Threefry-2x32-20 and JAX-compatible key operations and draws.
sp_add_module(rng SOURCES src/rng/threefry.c)
