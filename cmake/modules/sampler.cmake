# Sampler: image synthesis from the loader's records: geometry, per-pair particles, output
# flows, batch orchestration and rendering, real image pairs, the saved state (both parts),
# the shard from a launcher's environment.
sp_add_module(sampler SOURCES src/sampler/pair.c src/sampler/sampler.c
    src/sampler/sampler_state.c src/sampler/real.c src/sampler/shard_env.c)
