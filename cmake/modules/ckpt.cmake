# Checkpoint manager: crash-safe steps of zarr arrays + JSON, Orbax CheckpointManager semantics.
sp_add_module(ckpt SOURCES
    src/ckpt/ckpt_tree.c
    src/ckpt/ckpt_zarr.c
    src/ckpt/ckpt_manifest.c
    src/ckpt/ckpt_step.c
    src/ckpt/ckpt_manager.c
    src/ckpt/ckpt_async.c
    src/ckpt/ckpt_at.c)
list(APPEND SP_CLI_SOURCES cli/cmd_ckpt.c)

# Measured figures for docs/checkpoints.md (not a test).
add_executable(bench_ckpt bench/bench_ckpt.c $<TARGET_OBJECTS:sp_core> $<TARGET_OBJECTS:sp_ckpt>)
target_link_libraries(bench_ckpt PRIVATE sp_deps)
