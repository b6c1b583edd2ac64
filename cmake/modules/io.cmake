# File formats: .npy and .flo readers/writers, PNG and TIFF writers, quantisation.
sp_add_module(io SOURCES src/io/io_file.c src/io/io_npy.c src/io/io_flo.c src/io/io_png.c
    src/io/io_tiff.c src/io/io_quantize.c)
# Lets gcc if-convert the clamps in the quantisation loops so that they vectorise; results are
# unchanged (no fast-math, no contraction), see the comment at the top of io_quantize.c.
set_source_files_properties(src/io/io_quantize.c PROPERTIES COMPILE_OPTIONS "-fno-trapping-math")
