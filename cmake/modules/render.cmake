# Renderer: particle binning and banded Gaussian splatting; noise and histogram matching.
sp_add_module(render SOURCES src/render/render.c src/render/post.c)
set_source_files_properties(src/render/render.c src/render/post.c PROPERTIES COMPILE_OPTIONS "-fno-math-errno;-fno-trapping-math;-Wno-psabi;-fno-tree-loop-distribute-patterns")
