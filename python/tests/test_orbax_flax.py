"""The Flax -> Orbax migration guide, both columns, with only the imports changed: every
scenario runs with the guide's own data, and we check what it leaves on disk and returns.

The guide imports orbax.checkpoint, flax.training.checkpoints and orbax_utils, and uses
jax.numpy for one array; the shims below stand for those imports and nothing else.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import synthpix
import synthpix.checkpoint as ocp
from synthpix.checkpoint import flax as checkpoints
from synthpix.checkpoint import orbax_utils

orbax = SimpleNamespace(checkpoint=ocp)  # import orbax
flax = SimpleNamespace(config=SimpleNamespace(update=lambda *a: None),  # import flax
                       training=SimpleNamespace(orbax_utils=orbax_utils, checkpoints=checkpoints))
jnp = np  # import jax.numpy as jnp

# "Setup" of the guide.
MAX_STEPS = 5
CKPT_PYTREE = [12, {'bar': np.array((2, 3))}, [1, 4, 10]]
TARGET_PYTREE = [0, {'bar': np.array((0))}, [0, 0, 0]]


def same(a, b):
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def steps_on_disk(d, prefix):
    return sorted(int(p.name[len(prefix):]) for p in d.iterdir() if p.name.startswith(prefix) and ".sp-" not in p.name)


def test_most_common_use_case_flax_column(tmp_path):
    CKPT_DIR = str(tmp_path)
    flax.config.update('flax_use_orbax_checkpointing', False)

    # Inside your training loop
    for step in range(MAX_STEPS):
        # do training
        checkpoints.save_checkpoint(CKPT_DIR, CKPT_PYTREE, step=step,
                                    prefix='test_', keep=3, keep_every_n_steps=2)

    restored = checkpoints.restore_checkpoint(CKPT_DIR, target=TARGET_PYTREE, step=4, prefix='test_')
    assert steps_on_disk(tmp_path, "test_") == [0, 2, 3, 4]  # what Orbax keeps
    assert same(restored, CKPT_PYTREE)
    assert checkpoints.latest_checkpoint(CKPT_DIR, prefix='test_').endswith("test_4")
    with pytest.raises(synthpix.CheckpointExistsError):  # an existing step is never overwritten
        checkpoints.save_checkpoint(CKPT_DIR, CKPT_PYTREE, step=4, prefix='test_', keep=3, overwrite=True)


def test_most_common_use_case_orbax_column(tmp_path):
    CKPT_DIR = str(tmp_path / 'orbax')

    # At the top level
    mgr_options = orbax.checkpoint.CheckpointManagerOptions(
        create=True, max_to_keep=3, keep_period=2, step_prefix='test')
    ckpt_mgr = orbax.checkpoint.CheckpointManager(
        CKPT_DIR,
        orbax.checkpoint.Checkpointer(orbax.checkpoint.PyTreeCheckpointHandler()), mgr_options)

    # Inside your training loop
    for step in range(MAX_STEPS):
        # do training
        save_args = flax.training.orbax_utils.save_args_from_target(CKPT_PYTREE)
        ckpt_mgr.save(step, CKPT_PYTREE, save_kwargs={'save_args': save_args})

    restore_args = flax.training.orbax_utils.restore_args_from_target(TARGET_PYTREE, mesh=None)
    restored = ckpt_mgr.restore(4, items=TARGET_PYTREE, restore_kwargs={'restore_args': restore_args})

    assert ckpt_mgr.all_steps() == [0, 2, 3, 4] == steps_on_disk(tmp_path / 'orbax', "test_")
    assert same(restored, CKPT_PYTREE)
    ckpt_mgr.close()


def test_pure_save_and_load_both_columns(tmp_path):
    # Flax column.
    PURE_CKPT_DIR = str(tmp_path / 'flax_pure')
    checkpoints.save_checkpoint(PURE_CKPT_DIR, CKPT_PYTREE, step=0, overwrite=True)
    assert same(checkpoints.restore_checkpoint(PURE_CKPT_DIR, target=TARGET_PYTREE), CKPT_PYTREE)

    # Orbax column.
    PURE_CKPT_DIR = str(tmp_path / 'pure')
    ckptr = orbax.checkpoint.Checkpointer(orbax.checkpoint.PyTreeCheckpointHandler())  # A stateless object, can be created on the fly.
    ckptr.save(PURE_CKPT_DIR, CKPT_PYTREE,
               save_args=flax.training.orbax_utils.save_args_from_target(CKPT_PYTREE), force=True)
    restored = ckptr.restore(PURE_CKPT_DIR, item=TARGET_PYTREE,
                             restore_args=flax.training.orbax_utils.restore_args_from_target(TARGET_PYTREE, mesh=None))
    assert same(restored, CKPT_PYTREE)

    # force=True replaces, no force refuses and leaves the checkpoint as it was.
    ckptr.save(PURE_CKPT_DIR, {'new': 1}, force=True)
    with pytest.raises(synthpix.CheckpointExistsError):
        ckptr.save(PURE_CKPT_DIR, CKPT_PYTREE)
    assert ckptr.restore(PURE_CKPT_DIR) == {'new': 1}


def test_restore_without_a_target_both_columns(tmp_path):
    NOTARGET_CKPT_DIR = str(tmp_path / 'flax_no_target')
    checkpoints.save_checkpoint(NOTARGET_CKPT_DIR, CKPT_PYTREE, step=0)
    assert same(checkpoints.restore_checkpoint(NOTARGET_CKPT_DIR, target=None), CKPT_PYTREE)

    NOTARGET_CKPT_DIR = str(tmp_path / 'no_target')
    # A stateless object, can be created on the fly.
    ckptr = orbax.checkpoint.Checkpointer(orbax.checkpoint.PyTreeCheckpointHandler())
    ckptr.save(NOTARGET_CKPT_DIR, CKPT_PYTREE,
               save_args=flax.training.orbax_utils.save_args_from_target(CKPT_PYTREE))
    assert same(ckptr.restore(NOTARGET_CKPT_DIR, item=None), CKPT_PYTREE)  # lists stay lists, ints ints


def test_async_checkpointing_both_columns(tmp_path):
    ASYNC_CKPT_DIR = str(tmp_path / 'flax_async')
    flax.config.update('flax_use_orbax_checkpointing', True)
    async_manager = checkpoints.AsyncManager()
    checkpoints.save_checkpoint(ASYNC_CKPT_DIR, CKPT_PYTREE, step=0, overwrite=True, async_manager=async_manager)
    async_manager.wait_previous_save()
    assert same(checkpoints.restore_checkpoint(ASYNC_CKPT_DIR, target=TARGET_PYTREE), CKPT_PYTREE)

    ASYNC_CKPT_DIR = str(tmp_path / 'async')
    import synthpix.checkpoint as ocp  # import orbax.checkpoint as ocp
    ckptr = ocp.AsyncCheckpointer(ocp.StandardCheckpointHandler())
    ckptr.save(ASYNC_CKPT_DIR, args=ocp.args.StandardSave(CKPT_PYTREE))
    # ... Continue with your work...
    # ... Until a time when you want to wait until the save completes:
    ckptr.wait_until_finished()  # Blocks until the checkpoint saving is completed.
    restored = ckptr.restore(ASYNC_CKPT_DIR, args=ocp.args.StandardRestore(TARGET_PYTREE))
    assert same(restored, CKPT_PYTREE)
    # An asynchronous failure is raised by wait_until_finished, once.
    ckptr.save(ASYNC_CKPT_DIR, args=ocp.args.StandardSave(CKPT_PYTREE))  # exists, no force
    with pytest.raises(synthpix.CheckpointExistsError):
        ckptr.wait_until_finished()
    ckptr.wait_until_finished()


def test_single_array_both_columns(tmp_path):
    ARR_CKPT_DIR = str(tmp_path / 'flax_singleton')
    checkpoints.save_checkpoint(ARR_CKPT_DIR, jnp.arange(10), step=0)
    assert same(checkpoints.restore_checkpoint(ARR_CKPT_DIR, target=None), np.arange(10))

    ARR_CKPT_DIR = str(tmp_path / 'singleton')
    ckptr = orbax.checkpoint.Checkpointer(orbax.checkpoint.ArrayCheckpointHandler())
    ckptr.save(ARR_CKPT_DIR, jnp.arange(10))
    assert same(ckptr.restore(ARR_CKPT_DIR, item=None), np.arange(10))


def test_manager_with_an_async_checkpointer_and_best_fn(tmp_path):
    options = ocp.CheckpointManagerOptions(max_to_keep=2, best_fn=lambda m: m['loss'], best_mode='min')
    with ocp.CheckpointManager(tmp_path, ocp.AsyncCheckpointer(ocp.StandardCheckpointHandler()), options) as mgr:
        for step, loss in enumerate([5.0, 2.0, 4.0, 3.0, 7.0]):
            mgr.save(step, args=ocp.args.StandardSave({'step': step}), metrics={'loss': loss})
        mgr.wait_until_finished()
        assert mgr.all_steps() == [1, 3, 4] and mgr.best_step() == 1
        assert mgr.restore(3) == {'step': 3} and mgr.metrics(3) == {'loss': 3.0}
