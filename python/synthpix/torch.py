"""PyTorch interop (optional: needs torch; everything else in synthpix works without it).

    from torch.utils.data import DataLoader
    from synthpix.torch import SynthPixDataset

    loader = DataLoader(SynthPixDataset("my.yaml"), batch_size=None, num_workers=2)
    for batch in loader:          # dicts of tensors, one synthpix batch each
        batch["images1"]          # (B, H, W) float32

``to_tensors(batch)`` wraps a batch's arrays without copying (``torch.from_numpy``): the
arrays of a batch are its own (docs/python.md, "Arrays"), so the tensors stay valid. Call
``tensor.pin_memory()`` or ``.to(device)`` on them as usual.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from synthpix._sampler import Batch, Config, ConfigLike, Sampler

_TENSOR_FIELDS = ("images1", "images2", "flow_fields", "keys", "seeds", "epoch", "mask", "records", "done")


def _tensor(a: np.ndarray) -> "torch.Tensor":
    # torch 1.13 has no uint32 or uint64 tensors: the same bits as int32 / int64.
    if a.dtype.kind == "u" and a.dtype.itemsize in (4, 8):
        a = a.view(f"int{a.dtype.itemsize * 8}")
    return torch.from_numpy(a)


def to_tensors(batch: Batch) -> Dict[str, Any]:
    """The batch as a dict: arrays as CPU tensors sharing their memory (uint32 and uint64
    arrays, which torch lacks, as int32 and int64 of the same bits), ``images`` as the tuple of
    the K frames' tensors (``frames: K``; the first two share images1's and images2's memory),
    ``params`` as a dict of
    tensors per field, and ``files``, ``batch_index``, ``first_pair``, ``repetition``,
    ``timestep`` as they are."""
    out: Dict[str, Any] = {}
    for name in _TENSOR_FIELDS:
        a = getattr(batch, name)
        out[name] = None if a is None else _tensor(a)
    out["images"] = tuple(_tensor(a) for a in batch.images)  # the K frames (images[0] is images1's memory)
    out["params"] = {k: _tensor(np.ascontiguousarray(batch.params[k])) for k in batch.params.dtype.names}
    for name in ("files", "batch_index", "first_pair", "repetition", "timestep"):
        out[name] = getattr(batch, name)
    return out


def _world(rank: Optional[int], world_size: Optional[int]) -> Tuple[int, int]:
    """(rank, world size): given, else torch.distributed's when initialised, else the RANK
    and WORLD_SIZE environment variables, else (0, 1)."""
    if rank is not None or world_size is not None:
        return int(rank or 0), int(world_size or 1)
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class SynthPixDataset(IterableDataset):
    """A synthpix stream as a torch ``IterableDataset`` of ready-made batches (use
    ``DataLoader(dataset, batch_size=None, num_workers=N)``); each item is
    ``to_tensors(batch)`` plus ``stream_batch``, the batch's index in this rank's stream.

    The stream is split by batch, deterministically: with R ranks, rank r takes batches
    r, r + R, r + 2R, ... of the single-process stream; with N DataLoader workers, worker w
    renders this rank's batches w, w + N, ... and skips the others without rendering them
    (``Sampler.skip``). The DataLoader hands out its workers' batches in turn, so each rank
    sees its batches in stream order, and one rank sees exactly the single-process stream,
    pair for pair. (Counted from the batch an iteration starts at: worker w takes that
    batch + w, + w + N, ...) Episodic configurations need one worker and one rank.

    Resume: ``state_dict()`` / ``load_state_dict()``. The dataset object counts the batches
    it yields when it is iterated in this process (``num_workers=0``); with workers, take the
    state from the last batch you consumed: ``SynthPixDataset.state_after(batch)``.
    ``max_batches`` bounds each iteration (the default stream never ends).
    """

    def __init__(
        self,
        config: ConfigLike = None,
        *,
        threads: int = 0,
        prefetch: int = 0,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        max_batches: Optional[int] = None,
    ) -> None:
        super().__init__()
        self._config = config if isinstance(config, Config) else Config(config)  # errors now, not in a worker
        self._threads = threads
        self._prefetch = prefetch
        self._rank, self._world = rank, world_size
        self._max = max_batches
        self._next = 0  # this rank's next batch

    def state_dict(self) -> Dict[str, int]:
        """The position in this rank's stream (batches yielded in this process so far)."""
        return {"version": 1, "next_batch": self._next}

    def load_state_dict(self, state: Dict[str, int]) -> None:
        """The next iteration starts at ``state["next_batch"]`` of this rank's stream."""
        if state.get("version") != 1:
            raise ValueError(f"unknown SynthPixDataset state {state!r}")
        self._next = int(state["next_batch"])

    @staticmethod
    def state_after(batch: Dict[str, Any]) -> Dict[str, int]:
        """The state that resumes right after ``batch`` (an item this dataset yielded)."""
        return {"version": 1, "next_batch": int(batch["stream_batch"]) + 1}

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        rank, world = _world(self._rank, self._world)
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        start = self._next
        stop = None if self._max is None else start + self._max
        j = start + worker  # worker w takes start + w, start + w + N, ...: the DataLoader's turn order
        with Sampler(self._config, threads=self._threads, prefetch=self._prefetch) as sampler:
            if (workers > 1 or world > 1) and sampler.episode_length > 0:
                raise ValueError("an episodic stream cannot be split between workers or ranks")
            done = 0  # batches of the single stream the sampler has passed
            while stop is None or j < stop:
                wanted = rank + j * world
                if sampler.skip(wanted - done) < wanted - done:
                    return  # a finite stream ended
                try:
                    batch = sampler.next()
                except StopIteration:
                    return
                done = wanted + 1
                item = to_tensors(batch)
                item["stream_batch"] = j
                if info is None:
                    self._next = j + 1
                yield item
                j += workers


__all__ = ["SynthPixDataset", "to_tensors"]
