"""Pause and resume of the stream: save_checkpoint and make(load_from=...)."""

from __future__ import annotations

import numpy as np
import pytest

import synthpix
from test_sampler import same_batch


def test_restored_stream_continues_with_the_same_bytes(small, tmp_path):
    cfg = small()
    with synthpix.make(cfg) as ref:
        reference = [next(ref) for _ in range(7)]
    for j in (0, 1, 3):  # 3: mid-repetition (batches_per_flow_batch = 2)
        ck = tmp_path / f"ck{j}"
        with synthpix.make(cfg, threads=1) as a:
            for i in range(j):
                assert same_batch(next(a), reference[i])
            synthpix.save_checkpoint(ck, a, step=j)
        with synthpix.make(cfg, load_from=ck, threads=2) as b:
            assert b.restored_step == j
            for i in range(j, 7):
                assert same_batch(next(b), reference[i])


def test_chosen_step_retention_and_errors(small, tmp_path):
    cfg = small()
    ck = tmp_path / "ck"
    with synthpix.make(cfg) as a:
        firsts = []
        for step in range(4):
            synthpix.save_checkpoint(ck, a, step, max_to_keep=2)
            firsts.append(next(a))
        with pytest.raises(synthpix.CheckpointExistsError) as e:
            synthpix.save_checkpoint(ck, a, 3)
        assert isinstance(e.value, FileExistsError)
    with synthpix.make(cfg, load_from=ck, step=2) as s:
        assert same_batch(next(s), firsts[2])
    with pytest.raises(synthpix.CheckpointNotFoundError):  # retention removed step 1
        synthpix.make(cfg, load_from=ck, step=1)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        synthpix.make(cfg, load_from=tmp_path / "nowhere")
    with pytest.raises(synthpix.CheckpointMismatchError, match="seed") as e:
        synthpix.make(small(seed=8), load_from=ck)
    assert isinstance(e.value, ValueError)
    with pytest.raises(synthpix.ConfigError):  # the configuration is checked before the checkpoint
        synthpix.make(small(batch_size=0), load_from=ck)
    with pytest.raises(ValueError):
        synthpix.save_checkpoint(ck, object(), 9)  # type: ignore[arg-type]


def test_damaged_checkpoint_names_the_file(small, tmp_path):
    ck = tmp_path / "ck"
    with synthpix.make(small()) as a:
        next(a)
        synthpix.save_checkpoint(ck, a, 1)
    victim = next(p for p in (ck / "1").rglob("*") if p.is_file() and p.name == "0.0.0.0")
    data = bytearray(victim.read_bytes())
    data[0] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.raises(synthpix.CheckpointError) as e:
        synthpix.make(small(), load_from=ck)
    assert victim.parent.name in str(e.value) and e.value.status == "SP_ERR_CHECKSUM"


def test_pipeline_checkpoint_reads_as_a_python_tree(small, tmp_path):
    """A step written by the C pipeline is an ordinary checkpoint: the manager restores it
    without a target (JSON items parsed, arrays as NumPy)."""
    ck = tmp_path / "ck"
    with synthpix.make(small()) as a:
        next(a)
        synthpix.save_checkpoint(ck, a, 5)
    with synthpix.CheckpointManager(ck, synthpix.CheckpointManagerOptions(read_only=True)) as m:
        assert m.all_steps() == [5]
        tree = m.restore()
    assert tree["loader"]["seed"] == 7 and tree["sampler"]["batch_size"] == 4
    assert tree["cache"]["output_flows"].dtype == np.float32 and tree["cache"]["output_flows"].shape == (2, 64, 64, 2)
