# Checkpoint manager tests. One binary, label "threads" so the async cases also run under TSan.
sp_add_unit_test(test_ckpt SOURCES tests/unit/test_ckpt.c MODULES core ckpt LABELS threads WHITEBOX ckpt
    LONG_CASES ckpt_fault_injection_every_call_eio ckpt_fault_injection_every_call_enospc
               ckpt_kill_during_save_leaves_only_complete_steps)
# Hostile-input parsers: one harness dispatching on the first byte (manifest, tree metadata,
# .zarray, step and root metadata), replaying tests/corpus/ckpt_manifest/.
sp_add_fuzzer(fuzz_ckpt_manifest tests/fuzz/fuzz_ckpt_manifest.c ckpt_manifest MODULES core ckpt WHITEBOX ckpt)
# A checkpoint at a path without a manager (sp_ckpt_save_at / sp_ckpt_restore_at): forced
# replacement under every injected failure and under SIGKILL, with and without RENAME_EXCHANGE.
sp_add_unit_test(test_ckpt_at SOURCES tests/unit/test_ckpt_at.c MODULES core ckpt
    LONG_CASES ckpt_at_kill_during_forced_saves_leaves_old_or_new_whole
               ckpt_at_forced_replace_survives_every_failing_call_with_exchange
               ckpt_at_forced_replace_survives_every_failing_call_without_exchange
               ckpt_at_kill_during_forced_saves_without_exchange_leaves_old_or_new_whole)
