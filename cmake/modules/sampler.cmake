# Sampler: geometry, record loader and sources, per-pair particles, batch orchestration.
sp_add_module(sampler SOURCES src/sampler/geometry.c src/sampler/loader.c src/sampler/source.c
    src/sampler/pair.c src/sampler/sampler.c src/sampler/sampler_state.c src/sampler/prefetch.c
    src/sampler/real.c src/sampler/episodic.c)
