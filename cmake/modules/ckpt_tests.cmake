# Checkpoint manager tests. One binary, label "threads" so the async cases also run under TSan.
sp_add_unit_test(test_ckpt SOURCES tests/unit/test_ckpt.c MODULES core ckpt LABELS threads WHITEBOX ckpt
    LONG_CASES ckpt_fault_injection_every_call_eio ckpt_fault_injection_every_call_enospc
               ckpt_kill_during_save_leaves_only_complete_steps)
# Hostile-input parsers: one harness dispatching on the first byte (manifest, tree metadata,
# .zarray, step and root metadata), replaying tests/corpus/ckpt_manifest/.
sp_add_fuzzer(fuzz_ckpt_manifest tests/fuzz/fuzz_ckpt_manifest.c ckpt_manifest MODULES core ckpt WHITEBOX ckpt)
