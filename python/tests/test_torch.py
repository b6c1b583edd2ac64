"""PyTorch interop (skipped when torch is not installed: it is optional)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import synthpix  # noqa: E402
from synthpix.torch import SynthPixDataset, to_tensors  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402


def stream_keys(cfg, n):
    with synthpix.make(cfg) as s:
        return [next(s).keys for _ in range(n)]


def test_to_tensors_shares_the_batch_memory(small):
    with synthpix.make(small()) as s:
        b = next(s)
    t = to_tensors(b)
    assert t["images1"].shape == (4, 64, 64) and t["images1"].dtype == torch.float32
    assert t["images1"].data_ptr() == b.images1.ctypes.data  # no copy
    assert t["flow_fields"].shape == (4, 64, 64, 2) and t["mask"].dtype == torch.bool
    assert t["records"].dtype == torch.int64 and t["done"] is None
    assert t["params"]["particles"].tolist() == b.params["particles"].tolist()
    assert t["keys"].dtype == torch.int32 and t["keys"].numpy().view(np.uint32).tolist() == b.keys.tolist()
    assert t["files"] == b.files


def test_two_workers_yield_exactly_the_single_process_stream(small):
    cfg = small()
    want = stream_keys(cfg, 8)
    loader = DataLoader(SynthPixDataset(cfg, max_batches=8), batch_size=None, num_workers=2)
    got = [b["keys"].numpy().view(np.uint32) for b in loader]
    assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(want, got))  # same pairs, same order


def test_two_ranks_yield_disjoint_halves(small, monkeypatch):
    cfg = small()
    want = stream_keys(cfg, 8)
    halves = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        loader = DataLoader(SynthPixDataset(cfg, max_batches=4), batch_size=None, num_workers=2)
        halves.append([b["keys"].numpy().view(np.uint32) for b in loader])
    for rank in (0, 1):
        assert all(np.array_equal(a, want[rank + 2 * j]) for j, a in enumerate(halves[rank]))


def test_state_dict_resume_continues_the_stream(small):
    cfg = small()
    want = stream_keys(cfg, 7)
    ds = SynthPixDataset(cfg)
    it = iter(DataLoader(ds, batch_size=None))
    for _ in range(3):
        next(it)
    state = ds.state_dict()
    assert state["next_batch"] == 3
    resumed = SynthPixDataset(cfg, max_batches=2)
    resumed.load_state_dict(pickle.loads(pickle.dumps(state)))
    got = [b["keys"].numpy().view(np.uint32) for b in DataLoader(resumed, batch_size=None, num_workers=2)]
    assert np.array_equal(got[0], want[3]) and np.array_equal(got[1], want[4])
    # With workers, the state comes from the last batch consumed.
    last = list(DataLoader(SynthPixDataset(cfg, max_batches=5), batch_size=None, num_workers=2))[-1]
    after = SynthPixDataset(cfg, max_batches=1)
    after.load_state_dict(SynthPixDataset.state_after(last))
    assert np.array_equal(next(iter(after))["keys"].numpy().view(np.uint32), want[5])


def test_torch_leaves_are_checkpointed_as_arrays(tmp_path):
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    synthpix.Checkpointer().save(tmp_path / "c", {"t": t})
    back = synthpix.Checkpointer().restore(tmp_path / "c")
    assert isinstance(back["t"], np.ndarray) and np.array_equal(back["t"], t.numpy())
    into = synthpix.Checkpointer().restore(tmp_path / "c", item={"t": torch.zeros(2, 3)})
    assert isinstance(into["t"], torch.Tensor) and torch.equal(into["t"], t)  # the target's type
