# Module rng: sources are appended to SP_LIB_SOURCES here.
