# File formats: .npy and .flo readers/writers, PNG and TIFF writers, quantisation.
sp_add_module(io SOURCES src/io/io_file.c src/io/io_npy.c src/io/io_flo.c src/io/io_png.c
    src/io/io_tiff.c src/io/io_quantize.c)
