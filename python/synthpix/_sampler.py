"""Configurations, samplers and batches: the generation loop (``make``, ``next``,
``save_checkpoint``), over ``sp_config``, ``sp_sampler`` and ``sp_pipeline``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import numpy as np

from synthpix import _core

PathLike = Union[str, "os.PathLike[str]"]
ConfigLike = Union[PathLike, Mapping[str, Any], "Config", None]


def _params_dtype() -> np.dtype:
    itemsize, fields = _core.params_layout()
    return np.dtype(
        {
            "names": [f[0] for f in fields],
            "formats": [f[1] if f[2] == 1 else (f[1], (f[2],)) for f in fields],
            "offsets": [f[3] for f in fields],
            "itemsize": itemsize,
        }
    )


#: The NumPy dtype of ``Batch.params`` (the C struct ``sp_pair_params``, field for field).
PARAMS_DTYPE: np.dtype = _params_dtype()


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # NumPy scalars and arrays
        return value.tolist()
    raise TypeError(f"configuration value {value!r} of type {type(value).__name__} is not a plain value")


def _is_yaml_text(text: str) -> bool:
    """A str is YAML text when it has a newline, or a colon and names no file."""
    return "\n" in text or (":" in text and not os.path.exists(text))


class Config:
    """A loaded and validated configuration (SynthPix's YAML keys; docs/configuration.md).

    ``Config(None)`` is the embedded default (analytic flows, no data files); a path
    (``os.PathLike``, or a ``str`` naming a file) is a YAML file (relative paths inside
    resolve against its directory); a ``str`` holding a newline, or a colon and naming no
    file, is YAML text; a mapping holds the keys themselves (relative paths in text and
    mappings resolve against ``base_dir``, default the current directory). Every invalid value raises one :class:`~synthpix.ConfigError`
    listing all errors; unknown or deprecated keys give a :class:`~synthpix.ConfigWarning`.
    A missing file raises ``FileNotFoundError``.
    """

    def __init__(self, config: ConfigLike = None, *, base_dir: Optional[PathLike] = None) -> None:
        if isinstance(config, Config):
            self._c: _core.Config = config._c
        elif config is None:
            self._c = _core.Config()
        elif isinstance(config, Mapping):
            text = json.dumps(dict(config), default=_json_default)  # JSON is YAML: the C parser reads it
            base = os.fspath(base_dir) if base_dir is not None else None
            self._c = _core.Config(text=text, name="<dict>", base_dir=base)
        elif isinstance(config, str) and _is_yaml_text(config):
            self._c = _core.Config(text=config, name="<string>",
                                   base_dir=os.fspath(base_dir) if base_dir is not None else None)
        elif isinstance(config, (str, os.PathLike)):
            self._c = _core.Config(path=os.fspath(config))
        else:
            raise TypeError(f"config must be a path, a mapping, a Config or None, not {type(config).__name__}")

    @classmethod
    def from_yaml(cls, text: str, *, name: str = "<string>", base_dir: Optional[PathLike] = None) -> "Config":
        """A configuration from YAML text; ``name`` is used in error messages."""
        self = cls.__new__(cls)
        self._c = _core.Config(text=text, name=name, base_dir=os.fspath(base_dir) if base_dir is not None else None)
        return self

    def __reduce__(self) -> Any:
        # Pickled as its resolved YAML (paths in it are absolute), e.g. for DataLoader workers.
        return (Config.from_yaml, (self.yaml,), None)

    @property
    def yaml(self) -> str:
        """The resolved configuration as YAML: every key, defaults included."""
        return self._c.yaml

    @property
    def source(self) -> str:
        """The file the configuration came from, or a description."""
        return self._c.source

    def __repr__(self) -> str:
        return f"Config(source={self.source!r})"


def default_config_yaml() -> str:
    """The embedded default configuration, commented (``synthpix config default``)."""
    return _core.default_config_yaml()


@dataclass(frozen=True)
class Batch:
    """One batch of ``B`` image pairs (SynthPix's ``SynthpixBatch``).

    Every array is a NumPy array owned by this batch (nothing is shared with the sampler or
    with another live batch; the frames and flows sit in memory the sampler recycles from
    batches the program has dropped), unless the batch was rendered with
    ``Sampler.next(out=...)``, which writes into the arrays of the batch given.
    """

    images1: np.ndarray  #: (B, H, W) float32 in [0, 255]: frame 1
    images2: np.ndarray  #: (B, H, W) float32: frame 2
    flow_fields: np.ndarray  #: (B, Ho, Wo, 2) float32: u, v (pixels, or units/s per output_units); moves each frame to the next
    params: np.ndarray  #: (B,) PARAMS_DTYPE: density, ranges picked, particle count, light sheet
    keys: np.ndarray  #: (B, 2) uint32 per-pair keys
    seeds: np.ndarray  #: (B,) uint32 record seeds
    epoch: np.ndarray  #: (B,) int32
    mask: np.ndarray  #: (B,) bool: False marks padding at the end of a finite stream
    records: np.ndarray  #: (B,) uint64 record indices into the source
    files: Tuple[str, ...]  #: (B,) record names ("" for padding)
    done: Optional[np.ndarray]  #: (B,) bool in episodic mode (True on the last step), else None
    batch_index: int  #: batches since the start of the stream
    first_pair: int  #: stream index of pair 0 of this batch
    repetition: int  #: 0 .. batches_per_flow_batch - 1
    timestep: Optional[int]  #: episodic mode: the step of the episode; else None
    #: The K frames of each sample (``frames: K``, docs/realism.md), each (B, H, W) float32:
    #: ``images[0] is images1``, ``images[1] is images2``.
    images: Tuple[np.ndarray, ...] = ()

    @property
    def batch_size(self) -> int:
        return int(self.images1.shape[0])

    @property
    def frames(self) -> int:
        """K, the frames per sample (2 for image pairs)."""
        return max(len(self.images), 2)

    def stacked(self) -> np.ndarray:
        """The frames as one new (B, K, H, W) float32 array."""
        return np.stack(self.images if self.images else (self.images1, self.images2), axis=1)


_FLOW_FILES = {"auto": 0, "read": 1, "map": 2}  #: sp_sampler_options.flow_files
_ARRAY_FIELDS = ("images1", "images2", "flow_fields", "params", "keys", "seeds", "epoch", "mask", "records", "done")
_RENDERED = ("images1", "images2", "flow_fields")  #: rendered in place, into recycled memory


class Sampler:
    """A stream of batches (``sp_sampler``): iterate, or call :meth:`next`.

    ``threads``: rendering threads (None: the configuration's ``threads``, 0 there = all
    cores). ``shard=(index, count)``: read one shard of every epoch (disjoint shards that
    together cover it). ``prefetch``: threads that load flow records ahead (0: automatic, one for flow
    files and none for built-in flows; -1: none). ``flow_files``: how ``.npy`` and ``.flo``
    flow files reach memory: ``"auto"`` maps float32 files of 4 MiB or more and reads the
    others, ``"read"`` reads every file, ``"map"`` maps every file it can (docs/durability.md
    says what happens when a mapped file changes). None of these changes a byte of the stream. ``load_from``/``step``: restore a checkpoint root written
    by :func:`save_checkpoint` (``step=None``: the newest step).

    The GIL is released while a batch renders, so samplers in different threads run in
    parallel. One sampler is used by one thread at a time (a second thread gets
    ``RuntimeError``).
    """

    def __init__(
        self,
        config: ConfigLike = None,
        *,
        threads: Optional[int] = None,
        shard: Optional[Tuple[int, int]] = None,
        prefetch: int = 0,
        flow_files: str = "auto",
        load_from: Optional[PathLike] = None,
        step: Optional[int] = None,
    ) -> None:
        cfg = config if isinstance(config, Config) else Config(config)
        index, count = shard if shard is not None else (0, 0)
        if flow_files not in _FLOW_FILES:
            raise ValueError(f"flow_files: {flow_files!r} is not one of 'auto', 'read', 'map'")
        self._s = _core.Sampler(cfg._c, threads or 0, index, count, prefetch, _FLOW_FILES[flow_files])
        layout = self._s.layout
        b, h, w = layout["batch_size"], layout["height"], layout["width"]
        self._shapes: Dict[str, Tuple[Tuple[int, ...], np.dtype]] = {
            "images1": ((b, h, w), np.dtype(np.float32)),
            "images2": ((b, h, w), np.dtype(np.float32)),
            "flow_fields": ((b, layout["flow_height"], layout["flow_width"], 2), np.dtype(np.float32)),
            "params": ((b,), PARAMS_DTYPE),
            "keys": ((b, 2), np.dtype(np.uint32)),
            "seeds": ((b,), np.dtype(np.uint32)),
            "epoch": ((b,), np.dtype(np.int32)),
            "mask": ((b,), np.dtype(np.bool_)),
            "records": ((b,), np.dtype(np.uint64)),
        }
        if layout["episode_length"] > 0:
            self._shapes["done"] = ((b,), np.dtype(np.bool_))
        self._frame_shape = (b, h, w)
        self._layout = layout
        #: The checkpoint step restored by ``load_from``, else None.
        self.restored_step: Optional[int] = None
        if load_from is not None:
            self.restored_step = self._s.restore(os.fspath(load_from), -1 if step is None else step)

    # ---- the loop ----

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        return self.next()

    def next(self, out: Optional[Batch] = None) -> Batch:
        """The next batch. Raises ``StopIteration`` at the end of a finite stream
        (``loop: false``) and :class:`~synthpix.EpisodeEndError` after an episode's last
        step. ``out``: a batch of this sampler whose arrays are overwritten (no allocation;
        ``out`` itself must not be used afterwards)."""
        arrays = self._arrays(out)
        extra = self._extra_frames(out)
        meta = self._s.next_into(*(arrays.get(name) for name in _ARRAY_FIELDS), extra)
        if meta is None:
            raise StopIteration
        files, batch_index, first_pair, repetition, timestep = meta
        return Batch(
            files=files,
            batch_index=batch_index,
            first_pair=first_pair,
            repetition=repetition,
            timestep=timestep if timestep >= 0 else None,
            done=arrays.get("done"),
            images=(arrays["images1"], arrays["images2"]) + extra,
            **{k: v for k, v in arrays.items() if k != "done"},
        )

    def _extra_frames(self, out: Optional[Batch]) -> Tuple[np.ndarray, ...]:
        """Frames 3 .. K: new arrays over recycled blocks, or out's."""
        n = self.frames - 2
        if out is None:
            return tuple(self._recycled(self._frame_shape, np.dtype(np.float32)) for _ in range(n))
        extra = tuple(out.images[2:])
        if len(extra) != n or any(
            not isinstance(a, np.ndarray) or a.shape != self._frame_shape or a.dtype != np.float32 for a in extra
        ):
            raise ValueError(f"out.images is not {n + 2} float32 arrays of shape {self._frame_shape}: pass a batch of "
                             "this sampler")
        return extra

    def _recycled(self, shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A new array over a block of the sampler's recycled memory (a dropped batch's, or
        fresh): rendering into reused pages avoids the kernel zeroing new ones every batch.
        The array keeps its block; the block is reused only after the array is gone."""
        nbytes = int(np.prod(shape)) * dtype.itemsize
        return np.frombuffer(self._s.memory(nbytes), dtype=dtype).reshape(shape)

    def _arrays(self, out: Optional[Batch]) -> Dict[str, np.ndarray]:
        if out is None:
            return {k: self._recycled(shape, dtype) if k in _RENDERED else np.empty(shape, dtype)
                    for k, (shape, dtype) in self._shapes.items()}
        arrays = {k: getattr(out, k) for k in self._shapes}
        for k, (shape, dtype) in self._shapes.items():
            a = arrays[k]
            if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dtype:
                raise ValueError(f"out.{k} is not a {dtype} array of shape {shape}: pass a batch of this sampler")
        return arrays

    def skip(self, n: int) -> int:
        """Advances the stream by ``n`` batches without rendering them (the next batch is
        the one ``n`` calls of :meth:`next` would have led to; only the flows the next batch
        reuses are loaded). Returns the batches skipped: fewer than ``n`` at the end of a
        finite stream. Raises :class:`~synthpix.EpisodeEndError` when an episode ends."""
        if n < 0:
            raise ValueError("n must be >= 0")
        return int(self._s.skip(n))

    def reset(self) -> None:
        """Back to the start of the stream (epoch 0)."""
        self._s.reset()

    def next_episode(self) -> None:
        """Episodic mode: start the next episodes (the next batch is their step 0).
        ``AttributeError`` when the configuration is not episodic (as SynthPix)."""
        self._s.next_episode()

    def save_checkpoint(self, checkpoint_dir: PathLike, step: int, max_to_keep: Optional[int] = None) -> None:
        """See :func:`save_checkpoint`."""
        self._s.save_checkpoint(os.fspath(checkpoint_dir), step, -1 if max_to_keep is None else max_to_keep)

    def close(self) -> None:
        """Frees the sampler and joins its threads (also done when it is garbage-collected)."""
        self._s.close()

    shutdown = close  #: SynthPix's name

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- what the stream is ----

    @property
    def batch_size(self) -> int:
        return int(self._layout["batch_size"])

    @property
    def image_shape(self) -> Tuple[int, int]:
        return (int(self._layout["height"]), int(self._layout["width"]))

    @property
    def flow_shape(self) -> Tuple[int, int, int]:
        return (int(self._layout["flow_height"]), int(self._layout["flow_width"]), 2)

    @property
    def frames(self) -> int:
        """K, the frames per sample (``frames`` key; 2 for image pairs)."""
        return int(self._layout["frames"])

    @property
    def episode_length(self) -> int:
        """0 outside episodic mode."""
        return int(self._layout["episode_length"])

    @property
    def records(self) -> int:
        """Flow records in one epoch of the source."""
        return int(self._layout["records"])

    @property
    def geometry(self) -> Dict[str, Any]:
        """The seeding geometry: canvas, crop, origin, resolution, flow grid, particle patch."""
        return dict(self._s.geometry)

    @property
    def config_yaml(self) -> str:
        """The resolved configuration the sampler runs."""
        return self._s.config_yaml

    @property
    def closed(self) -> bool:
        return bool(self._s.closed)


def make(
    config: ConfigLike = None,
    load_from: Optional[PathLike] = None,
    step: Optional[int] = None,
    *,
    threads: int = 0,
    shard: Optional[Tuple[int, int]] = None,
    prefetch: int = 0,
    flow_files: str = "auto",
) -> Sampler:
    """A sampler for ``config`` (SynthPix's ``make(config, load_from=...)``): a YAML path,
    YAML text, a dict of SynthPix keys, a :class:`Config`, or None for the embedded default.
    ``threads`` (0: the configuration's ``threads``, 0 there = all cores), ``shard``,
    ``prefetch`` and ``flow_files`` as for :class:`Sampler`.

    With ``load_from``, restores checkpoint ``step`` (None: the newest) of that root, so the
    next batch is the one that would have come after the save. Raises
    :class:`~synthpix.ConfigError`, :class:`~synthpix.FlowFileError`,
    :class:`~synthpix.CheckpointNotFoundError` (no root or no step) and
    :class:`~synthpix.CheckpointMismatchError` (a checkpoint of another stream; the message
    names the field).
    """
    return Sampler(config, threads=threads, shard=shard, prefetch=prefetch, flow_files=flow_files,
                   load_from=load_from, step=step)


def save_checkpoint(checkpoint_dir: PathLike, sampler: Sampler, step: int, max_to_keep: Optional[int] = None) -> None:
    """Saves the stream's state as step ``step`` of the root ``checkpoint_dir`` (created when
    missing), keeping the newest ``max_to_keep`` steps (None: all; the latest is never
    deleted). Returns once the step is durable. ``make(config, load_from=checkpoint_dir)``
    continues the stream with identical bytes. Raises
    :class:`~synthpix.CheckpointExistsError` when the step exists."""
    if not isinstance(sampler, Sampler):
        raise ValueError("sampler must be a synthpix.Sampler")  # SynthPix raises ValueError here
    sampler.save_checkpoint(checkpoint_dir, step, max_to_keep)


def generate(
    config: ConfigLike,
    output_dir: PathLike,
    pairs: int,
    *,
    format: str = "png",
    bit_depth: int = 0,
    shard_size: int = 256,
    threads: int = 0,
    prefetch: int = 0,
    shard: Optional[Tuple[int, int]] = None,
    checkpoint_dir: Optional[PathLike] = None,
    checkpoint_every: int = 100,
    max_to_keep: int = 2,
    resume: bool = False,
    overwrite: bool = False,
    layout: str = "synthpix",
    split: Optional[float] = None,
    case: Optional[str] = None,
) -> Dict[str, Any]:
    """Writes a dataset of ``pairs`` pairs into ``output_dir``: ``synthpix generate`` as a call
    (``sp_generate``; the same files, checkpoints and guarantees, docs/formats.md). ``format``:
    png, tiff, npy or h5; ``bit_depth`` 0 (the configuration's), 8, 16 (32 with h5).
    ``layout``: synthpix (the files ``format`` says), or the files another project reads
    (docs/formats.md, "Dataset layouts"): ``cai``, ``pykitpiv`` or ``liteflownet``; ``split``
    (cai, liteflownet; default 0.1) the fraction of pairs in the test (val) part, ``case``
    (cai; default "synthpix") the name the files start with. ``format`` and ``shard_size``
    apply to the synthpix layout only, ``split`` and ``case`` to the layouts that use them:
    anything else is a ValueError. With
    ``checkpoint_dir`` the job commits a checkpoint every ``checkpoint_every`` batches, and
    ``resume=True`` continues a killed job from its last one, rewriting identical bytes.
    Returns ``pairs_written``, ``start_pairs``, ``pairs_this_run``, ``threads``,
    ``already_complete`` and ``notes`` (lines about a resume or a damaged step skipped).
    Errors before the job starts writing leave the disk untouched."""
    _check_layout_args(layout, format, shard_size, split, case)
    cfg = config if isinstance(config, Config) else Config(config)
    index, count = shard if shard is not None else (0, 0)
    return dict(
        _core.generate(cfg._c, os.fspath(output_dir), pairs, format, bit_depth, shard_size, threads, prefetch, index,
                       count, None if checkpoint_dir is None else os.fspath(checkpoint_dir), checkpoint_every,
                       max_to_keep, resume, overwrite, layout, 0.1 if split is None else float(split), case)
    )


def _check_layout_args(layout: str, format: str, shard_size: int, split: Optional[float], case: Optional[str]) -> None:
    """The arguments that apply to some layouts only, as ``synthpix generate`` checks them."""
    if layout != "synthpix" and (format != "png" or shard_size != 256):
        what = "format" if format != "png" else "shard_size"
        raise ValueError(f"{what} does not apply to the {layout} layout (the layout fixes its files)")
    if split is not None and layout not in ("cai", "liteflownet"):
        raise ValueError(f"split does not apply to the {layout} layout (the cai and liteflownet layouts split their pairs)")
    if split is not None and not 0.0 <= float(split) <= 1.0:
        raise ValueError(f"split {split} is not in [0, 1] (the fraction of pairs that go to the test part)")
    if case is not None and layout != "cai":
        raise ValueError(f"case does not apply to the {layout} layout (only the cai layout has a case name)")


__all__ = ["Batch", "Config", "PARAMS_DTYPE", "Sampler", "default_config_yaml", "generate", "make", "save_checkpoint"]
