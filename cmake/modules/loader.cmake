# Record loading: the order (seeded permutation per epoch, epochs, shards, record seeds), the
# record sources, the prefetch threads, episodic mode's episodes and the current records the
# sampler draws from (src/internal/sp_records.h). Uses core, rng, config, flow, io, matio_h5.
sp_add_module(loader SOURCES src/loader/loader.c src/loader/source.c src/loader/prefetch.c
    src/loader/episodic.c src/loader/records.c src/loader/records_state.c)
