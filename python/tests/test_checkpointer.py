"""Checkpoints of Python trees: Checkpointer and CheckpointManager, with the Orbax/Flax
migration guide's snippets written against synthpix (docs/python.md has the mapping)."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import synthpix

# The migration guide's trees.
CKPT_PYTREE = [12, {"bar": np.array((2, 3))}, [1, 4, 10]]
TARGET_PYTREE = [0, {"bar": np.array((0))}, [0, 0, 0]]


def assert_tree_equal(a, b):
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_tree_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_tree_equal(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    else:
        assert a == b or (a != a and b != b)


def test_restore_without_a_target_gives_the_saved_containers(tmp_path):
    tree = {
        "list": [1, 2.5, "three"],
        "tuple": (np.float32(1.5), (None, True, False)),
        "empty": {"d": {}, "l": [], "t": ()},
        "nested": {"deeper": {"x": np.arange(6, dtype=np.int16).reshape(2, 3)}},
        "nan": float("nan"),
        "big": 2**62,
    }
    synthpix.Checkpointer().save(tmp_path / "c", tree)
    back = synthpix.Checkpointer().restore(tmp_path / "c")
    expected = dict(tree, tuple=(np.array(1.5, np.float32), (None, True, False)))
    assert_tree_equal(back, expected)
    # Top-level containers and bare leaves (Orbax's ArrayCheckpointHandler).
    for i, item in enumerate([CKPT_PYTREE, (1, 2), np.arange(10), 3, "text", [], {}]):
        synthpix.Checkpointer().save(tmp_path / f"t{i}", item)
        assert_tree_equal(synthpix.Checkpointer().restore(tmp_path / f"t{i}"), item)


@pytest.mark.parametrize("dtype", synthpix.dtypes())
def test_every_dtype_round_trips(tmp_path, dtype):
    rng = np.random.default_rng(0)
    a = (rng.integers(0, 2, size=(3, 5)) if dtype == "bool" else rng.uniform(0, 100, size=(3, 5))).astype(dtype)
    tree = {"a": a, "scalar": a[1, 2], "empty": np.zeros((0, 4), dtype)}
    synthpix.Checkpointer().save(tmp_path / "c", tree)
    back = synthpix.Checkpointer().restore(tmp_path / "c")
    assert_tree_equal(back, {"a": a, "scalar": np.array(a[1, 2]), "empty": tree["empty"]})


def test_non_native_byte_order_and_unsupported_leaves(tmp_path):
    big = np.arange(4, dtype=">f8")
    synthpix.Checkpointer().save(tmp_path / "be", {"x": big})
    back = synthpix.Checkpointer().restore(tmp_path / "be")["x"]
    assert back.dtype == np.float64 and np.array_equal(back, big)
    with pytest.raises(TypeError, match="'z'.*complex|complex.*'z'|<c16"):
        synthpix.Checkpointer().save(tmp_path / "c1", {"z": np.zeros(2, np.complex128)})
    with pytest.raises(TypeError, match="object"):
        synthpix.Checkpointer().save(tmp_path / "c2", {"o": object()})
    with pytest.raises(TypeError, match="keys must be str"):
        synthpix.Checkpointer().save(tmp_path / "c3", {1: 2})
    with pytest.raises(synthpix.CheckpointError, match="a b"):
        synthpix.Checkpointer().save(tmp_path / "c4", {"a b": 1})
    assert not any(p.name.startswith("c") for p in tmp_path.iterdir())


def test_restore_with_a_target_checks_the_leaves_and_keeps_its_types(tmp_path):
    ck = synthpix.Checkpointer()
    ck.save(tmp_path / "c", {"a": 1, "b": np.arange(3.0), "t": (1, 2), "s": np.float32(2.5)})
    cases = [
        ({"a": 0, "b": np.zeros(3), "t": (0, 0), "s": np.float32(0), "c": 0}, "'c'"),  # not in the checkpoint
        ({"a": 0, "b": np.zeros(3), "t": (0, 0)}, "'s'"),  # not in the target
        ({"a": 0, "b": np.zeros(1), "t": (0, 0), "s": np.float32(0)}, "'b'.*float64\\[3\\].*float64\\[1\\]"),
        ({"a": 0, "b": np.zeros(3, np.float32), "t": (0, 0), "s": np.float32(0)}, "'b'"),  # dtype
        ({"a": 0.0, "b": np.zeros(3), "t": (0, 0), "s": np.float32(0)}, "'a'"),  # kind
    ]
    for target, match in cases:
        with pytest.raises(synthpix.CheckpointMismatchError, match=match):
            ck.restore(tmp_path / "c", item=target)
    got = ck.restore(tmp_path / "c", item={"a": 0, "b": np.array(0.0), "t": [0, 0], "s": np.float32(0)})
    assert got["a"] == 1 and type(got["a"]) is int
    assert np.array_equal(got["b"], np.arange(3.0))  # a 0-d target array stands for any shape
    assert got["t"] == [1, 2] and type(got["s"]) is np.float32 and got["s"] == 2.5
    assert ck.restore(tmp_path / "c", item={"a": 0}, partial=True) == {"a": 1}
    with pytest.raises(synthpix.CheckpointNotFoundError):
        ck.restore(tmp_path / "missing")


def test_custom_metadata_metrics_and_best_step(tmp_path):
    opts = synthpix.CheckpointManagerOptions(max_to_keep=2, best_fn=lambda m: m["loss"], best_mode="min")
    with synthpix.CheckpointManager(tmp_path, options=opts) as mgr:
        for step, loss in enumerate([5.0, 2.0, 4.0, 3.0, 7.0]):
            mgr.save(step, {"w": np.full(2, step)}, metrics={"loss": loss}, custom_metadata={"lr": 0.1 * step})
        assert mgr.best_step() == 1
        assert mgr.all_steps() == [1, 3, 4]  # best 2 by loss, and the latest is never deleted
        meta = mgr.metadata(3)
        assert meta.metrics == {"loss": 3.0} and meta.custom_metadata == {"lr": pytest.approx(0.3)}
        assert meta.step == 3 and meta.items == ["w"] and meta.total_bytes > 0
    synthpix.Checkpointer().save(tmp_path / "pure", [1], custom_metadata={"who": "me"})
    assert synthpix.Checkpointer().metadata(tmp_path / "pure").custom_metadata == {"who": "me"}
    with pytest.raises(ValueError, match="reserved"):
        synthpix.Checkpointer().save(tmp_path / "x", [1], custom_metadata={"synthpix_pytree": 1})


def test_save_decisions_and_should_save_fn(tmp_path):
    opts = synthpix.CheckpointManagerOptions(save_interval_steps=3, save_on_steps=[4])
    with synthpix.CheckpointManager(tmp_path / "a", options=opts) as mgr:
        saved = [s for s in range(8) if mgr.save(s, {"s": s})]
        assert saved == [0, 3, 4, 6]
        assert mgr.save(7, {"s": 7}, force=True) and mgr.latest_step() == 7
        with pytest.raises(synthpix.CheckpointExistsError):
            mgr.save(7, {"s": 7}, force=True)
    calls = []
    fn_opts = synthpix.CheckpointManagerOptions(should_save_fn=lambda s, last: calls.append((s, last)) or s % 2 == 1)
    with synthpix.CheckpointManager(tmp_path / "b", options=fn_opts) as mgr:
        assert [s for s in range(4) if mgr.save(s, {"s": s})] == [1, 3]
    assert calls[:2] == [(0, None), (1, None)] and (3, 1) in calls

    def boom(step, last):
        raise KeyError("from should_save_fn")

    with synthpix.CheckpointManager(tmp_path / "c", options=synthpix.CheckpointManagerOptions(should_save_fn=boom)) as mgr:
        with pytest.raises(KeyError, match="from should_save_fn"):
            mgr.save(0, {"s": 0})
        assert mgr.all_steps() == []


def test_async_saves_and_their_errors(tmp_path):
    """Orbax: AsyncCheckpointer / async manager, wait_until_finished()."""
    opts = synthpix.CheckpointManagerOptions(enable_async_checkpointing=True, keep_time_interval=datetime.timedelta(0))
    big = {"w": np.arange(1 << 20, dtype=np.float32)}
    with synthpix.CheckpointManager(tmp_path / "async", options=opts) as mgr:
        assert mgr.save(0, big)
        big["w"][:] = -1  # the tree was staged: changing it now does not change step 0
        mgr.wait_until_finished()
        assert mgr.all_steps() == [0]
        assert np.array_equal(mgr.restore(0)["w"], np.arange(1 << 20, dtype=np.float32))
    # A root locked by another manager.
    with synthpix.CheckpointManager(tmp_path / "locked"):
        with pytest.raises(synthpix.CheckpointError, match="lock|another"):
            synthpix.CheckpointManager(tmp_path / "locked")


def test_arrays_are_readable_with_zarr(tmp_path):
    zarr = pytest.importorskip("zarr")
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    synthpix.Checkpointer().save(tmp_path / "c", {"model": {"w": a}})
    assert np.array_equal(zarr.open_array(str(tmp_path / "c" / "model" / "w"), mode="r")[:], a)


KILL_CHILD = """
import sys, numpy as np, synthpix
path = sys.argv[1]
try:
    g = synthpix.Checkpointer().restore(path)["g"]  # go on from what is there
except synthpix.CheckpointNotFoundError:
    g = 0
print("ready", flush=True)
while True:
    g += 1
    synthpix.Checkpointer().save(path, {"g": g, "w": np.full((128, 256), g, np.float32), "s": str(g)}, force=True)
"""


def test_forced_saves_killed_at_random_leave_the_old_or_the_new_checkpoint_whole(tmp_path):
    """SIGKILL a Python process that replaces one checkpoint in a loop with force=True, 50
    times, at a random moment after it started saving: every time the path restores (every
    file checked against the manifest's CRC32C) to one whole generation, never older than
    the one seen before (test_ckpt_at.c does the same in C, with fault injection too)."""
    path = tmp_path / "c"
    synthpix.Checkpointer().save(path, {"g": 0, "w": np.zeros((128, 256), np.float32), "s": "0"})
    rng = np.random.default_rng()
    last, mid = 0, 0
    for trial in range(50):
        child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(path)], stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(float(rng.uniform(0.0, 0.15)))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        mid += any(".sp-" in p.name for p in tmp_path.iterdir())
        tree = synthpix.Checkpointer().restore(path)
        g = tree["g"]
        assert tree["s"] == str(g) and (tree["w"] == g).all(), f"trial {trial}: a mixed checkpoint"
        assert g >= last, f"trial {trial}: generation went back from {last} to {g}"
        last = g
    assert last >= 5 and mid >= 5, (last, mid)  # the kills landed among saves and inside them
