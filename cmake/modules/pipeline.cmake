# Pipeline: sp_save_checkpoint / sp_make (pause and resume of the stream) over the sampler
# state and the checkpoint manager.
sp_add_module(pipeline SOURCES src/pipeline/pipeline.c)
