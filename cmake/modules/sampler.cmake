# Module sampler: sources are appended to SP_LIB_SOURCES here.
