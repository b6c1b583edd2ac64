# The loader through its declared interface (src/internal/sp_records.h), without a sampler.
# Label "threads": the prefetch threads and the pool run under TSan too.
sp_add_unit_test(test_loader SOURCES tests/unit/test_loader.c tests/unit/test_fixtures.c
    MODULES core rng flow config io matio_h5 loader LABELS threads)
