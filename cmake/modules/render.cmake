# Renderer: particle binning and banded Gaussian splatting; noise and histogram matching.
sp_add_module(render SOURCES src/render/render.c src/render/post.c)
