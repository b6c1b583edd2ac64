# Module matio_h5: sources are appended to SP_LIB_SOURCES here.
