"""synthpix.checkpoint: Orbax's checkpoint API over libsynthpix's checkpoint manager.

Code written against Orbax runs with the import changed (``import synthpix.checkpoint as
ocp``): ``CheckpointManager`` with ``CheckpointManagerOptions``, ``Checkpointer`` and
``AsyncCheckpointer`` with the PyTree / Standard / Array handlers, ``ocp.args``, and
``orbax_utils``. ``synthpix.checkpoint.flax`` has Flax's legacy ``save_checkpoint`` /
``restore_checkpoint``. Every save is the library's commit protocol (temporary directory,
every file fsync'd, one atomic rename, CRC32C manifest); docs/python.md lists the
differences from Orbax, all on the side of safety.

Items are trees of dict / list / tuple / None / bool / int / float / str and NumPy arrays
(11 dtypes, 0-d included; torch tensors and other objects with ``__array__`` are saved as
arrays). ``restore`` without a target rebuilds the saved structure; with a target it returns
the target's structure and leaf types, and the kinds, dtypes and shapes must match (a 0-d
target array such as ``np.array(0)`` stands for any shape, as in the migration guide's
TARGET_PYTREE); a mismatch raises :class:`~synthpix.CheckpointMismatchError` naming the path.
"""

from __future__ import annotations

import datetime
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

from synthpix import _core, _pytree
from synthpix.checkpoint import args
from synthpix.checkpoint import orbax_utils

PathLike = Union[str, "os.PathLike[str]"]

#: The metric under which ``best_fn(metrics)`` is stored (the library ranks by a named metric).
BEST_FN_METRIC = "synthpix_best_fn"


# ---- handlers (accepted for compatibility: one format serves them all) -------------------


class CheckpointHandler:
    """Base of the handler classes; our format stores every item the same way."""


class PyTreeCheckpointHandler(CheckpointHandler):
    """Orbax's PyTree handler."""


class StandardCheckpointHandler(CheckpointHandler):
    """Orbax's Standard handler."""


class ArrayCheckpointHandler(CheckpointHandler):
    """Orbax's Array handler (a bare array is stored as the leaf ``checkpoint``)."""


# ---- metadata --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointMetadata:
    """What a checkpoint step records besides its tree."""

    step: int  #: the step number (0 for a checkpoint written by a Checkpointer)
    init_time_ns: int  #: when the save started (ns since the Unix epoch)
    commit_time_ns: int  #: when it committed
    total_bytes: int  #: bytes of all its files
    n_files: int
    items: List[str]  #: top-level names of the tree
    directory: str  #: the step's directory name
    custom_metadata: Dict[str, Any] = field(default_factory=dict)  #: what the save was given
    metrics: Dict[str, float] = field(default_factory=dict)  #: CheckpointManager.save(metrics=...)


def _metadata(info: Mapping[str, Any], json_text: Optional[str]) -> CheckpointMetadata:
    custom, _, metrics = _pytree.split_metadata(json_text)
    metrics.pop(BEST_FN_METRIC, None)
    return CheckpointMetadata(
        step=info["step"],
        init_time_ns=info["init_ns"],
        commit_time_ns=info["commit_ns"],
        total_bytes=info["total_bytes"],
        n_files=info["n_files"],
        items=[i for i in info["items"].split(",") if i],
        directory=info["dir_name"],
        custom_metadata=custom,
        metrics=metrics,
    )


def _restored(leaves: List[Any], json_text: Optional[str], target: Any) -> Any:
    if target is not None:
        return _pytree.fill(target, leaves)
    _, structure, _ = _pytree.split_metadata(json_text)
    return _pytree.unflatten(leaves, structure)


def _item(item: Any, a: Any) -> Any:
    """The item of a call that may use Orbax's ``args=`` form instead."""
    return a.item if a is not None else item


# ---- Checkpointer ----------------------------------------------------------------------------


class Checkpointer:
    """One checkpoint at a path, without a manager (Orbax's ``Checkpointer``; stateless:
    create it on the fly). ``handler`` is accepted for compatibility.

    ``save(path, item, force=True)`` replaces an existing checkpoint crash-safely: the new
    one is written and made durable beside it, then swapped in by one atomic rename, so a
    kill at any moment leaves the old or the new checkpoint whole at ``path``. Without
    ``force`` an existing ``path`` raises :class:`~synthpix.CheckpointExistsError`.
    Something at ``path`` that is not a synthpix checkpoint is never replaced.
    """

    def __init__(self, handler: Optional[CheckpointHandler] = None, **kwargs: Any) -> None:
        self.handler = handler

    def save(
        self,
        directory: PathLike,
        item: Any = None,
        save_args: Any = None,
        *,
        force: bool = False,
        args: Any = None,
        custom_metadata: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Saves the tree ``item`` (or ``args.item``) as the checkpoint ``directory``."""
        leaves, structure = _pytree.flatten(_item(item, args))
        _core.save_at(os.fspath(directory), leaves, force, _pytree.custom_metadata(structure, custom_metadata))

    def restore(
        self,
        directory: PathLike,
        item: Any = None,
        restore_args: Any = None,
        *,
        args: Any = None,
        partial: bool = False,
    ) -> Any:
        """The tree saved at ``directory``; ``item`` (or ``args.item``) is an optional target.
        ``partial``: the checkpoint may hold leaves the target does not."""
        path = os.fspath(directory)
        target = _item(item, args)
        if target is not None:
            t_leaves, _ = _pytree.flatten(target)
            _, leaves = _core.restore_at(path, t_leaves, partial, True)
            return _restored(leaves, None, target)
        _, json_text = _core.metadata_at(path)
        _, leaves = _core.restore_at(path)
        return _restored(leaves, json_text, None)

    def metadata(self, directory: PathLike) -> CheckpointMetadata:
        """The checkpoint's metadata (custom metadata, sizes, times)."""
        info, json_text = _core.metadata_at(os.fspath(directory))
        return _metadata(info, json_text)

    def wait_until_finished(self) -> None:
        """Saves are synchronous: nothing to wait for."""

    def check_for_errors(self) -> None:
        """Saves are synchronous: errors were raised by save."""

    def close(self) -> None:
        self.wait_until_finished()

    def __enter__(self) -> "Checkpointer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class AsyncCheckpointer(Checkpointer):
    """Orbax's ``AsyncCheckpointer``: ``save`` returns once the item is copied, and the write
    and commit run on a background thread (one save at a time: a save waits for the one
    before). ``wait_until_finished()`` blocks until it is committed and raises its error,
    once; so do ``check_for_errors()`` (without blocking), the next ``save``, ``restore`` and
    ``close``."""

    def __init__(self, handler: Optional[CheckpointHandler] = None, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None

    def save(
        self,
        directory: PathLike,
        item: Any = None,
        save_args: Any = None,
        *,
        force: bool = False,
        args: Any = None,
        custom_metadata: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.wait_until_finished()
        leaves, structure = _pytree.flatten(_item(item, args))
        leaves = [leaf[:4] + (leaf[4].copy(),) if leaf[1] == "array" else leaf for leaf in leaves]  # snapshot
        meta = _pytree.custom_metadata(structure, custom_metadata)
        path = os.fspath(directory)

        def run() -> None:
            try:
                _core.save_at(path, leaves, force, meta)  # the GIL is released while it writes
            except BaseException as e:  # noqa: BLE001  (handed to the caller's thread)
                self._error = e

        self._thread = threading.Thread(target=run, name="synthpix-async-save", daemon=False)
        self._thread.start()

    def restore(self, directory: PathLike, item: Any = None, restore_args: Any = None, **kwargs: Any) -> Any:
        self.wait_until_finished()
        return super().restore(directory, item, restore_args, **kwargs)

    def wait_until_finished(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.check_for_errors()

    def check_for_errors(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            error, self._error = self._error, None
            if error is not None:
                raise error


# ---- CheckpointManager -----------------------------------------------------------------------


@dataclass
class CheckpointManagerOptions:
    """Orbax's ``CheckpointManagerOptions``, with its names and defaults, except that saves
    are synchronous unless ``enable_async_checkpointing`` (Orbax: asynchronous by default).
    The latest committed step is never deleted by retention (Orbax may delete it)."""

    save_interval_steps: int = 1  #: should_save: step % N == 0 (0 disables)
    max_to_keep: Optional[int] = None  #: keep the newest N (best N with best_fn); None: all
    keep_time_interval: Union[datetime.timedelta, float, None] = None  #: timedelta or seconds
    keep_period: Optional[int] = None  #: also keep every step % keep_period == 0
    best_fn: Optional[Callable[[Mapping[str, float]], float]] = None  #: metrics -> the value to rank
    best_mode: str = "max"  #: "max" or "min"
    keep_checkpoints_without_metrics: bool = True
    step_prefix: Optional[str] = None  #: directories "<prefix>_<step>"
    step_format_fixed_length: Optional[int] = None  #: zero-pad steps to this many digits
    create: bool = True
    cleanup_tmp_directories: bool = False
    save_on_steps: Optional[Iterable[int]] = None  #: should_save: these steps too
    should_save_fn: Optional[Callable[[int, Optional[int]], bool]] = None  #: (step, last saved or None)
    read_only: bool = False
    enable_async_checkpointing: bool = False  #: save() returns once the tree is staged
    # Beyond Orbax:
    best_metric: Optional[str] = None  #: rank by this metric of save(metrics=...) instead of best_fn
    detect_naming: bool = False  #: take prefix and padding from the root's _ROOT_METADATA
    async_timeout_secs: float = 1200.0  #: deadline of internal waits (Orbax's AsyncOptions.timeout_secs)
    async_staging_bytes: int = 1 << 30  #: bound on staged trees
    compression_level: Optional[int] = None  #: 1..9: zlib-compressed zarr chunks
    chunk_bytes: int = 16 << 20
    durable: bool = True  #: fsync files and directories (False only for throw-away data)

    @classmethod
    def from_flax(
        cls, keep: int = 1, keep_every_n_steps: Optional[int] = None, prefix: str = "checkpoint_", **kw: Any
    ) -> "CheckpointManagerOptions":
        """Flax's ``save_checkpoint(keep=, keep_every_n_steps=, prefix=)`` as options (docs/python.md
        mapping: keep -> max_to_keep, keep_every_n_steps -> keep_period (Orbax's modulo rule),
        prefix -> step_prefix without its trailing ``_``)."""
        max_to_keep, keep_period, step_prefix = _core.options_from_flax(keep, keep_every_n_steps or 0, prefix)
        return cls(
            max_to_keep=None if max_to_keep < 0 else max_to_keep,
            keep_period=keep_period or None,
            step_prefix=step_prefix,
            **kw,
        )

    def _kwargs(self) -> Dict[str, Any]:
        interval = self.keep_time_interval
        if isinstance(interval, datetime.timedelta):
            interval = interval.total_seconds()
        if self.best_mode not in ("max", "min"):
            raise ValueError(f"best_mode must be 'max' or 'min', not {self.best_mode!r}")
        if self.best_fn is not None and self.best_metric is not None:
            raise ValueError("give best_fn or best_metric, not both")
        return {
            "max_to_keep": -1 if self.max_to_keep is None else self.max_to_keep,
            "keep_period": self.keep_period or 0,
            "keep_time_interval_ns": int(round((interval or 0) * 1e9)),
            "best_metric": BEST_FN_METRIC if self.best_fn is not None else self.best_metric,
            "best_mode_min": self.best_mode == "min",
            "keep_checkpoints_without_metrics": self.keep_checkpoints_without_metrics,
            "save_interval_steps": self.save_interval_steps,
            "save_on_steps": None if self.save_on_steps is None else sorted(self.save_on_steps),
            "should_save_fn": self.should_save_fn,
            "step_prefix": self.step_prefix,
            "step_format_fixed_length": self.step_format_fixed_length or 0,
            "detect_naming": self.detect_naming,
            "create": self.create,
            "cleanup_tmp_directories": self.cleanup_tmp_directories,
            "read_only": self.read_only,
            "enable_async": self.enable_async_checkpointing,
            "async_staging_cap": self.async_staging_bytes,
            "async_timeout_ms": int(self.async_timeout_secs * 1000),
            "compression_level": -1 if self.compression_level is None else self.compression_level,
            "chunk_bytes": self.chunk_bytes,
            "durable": self.durable,
        }


def _ms(timeout: Optional[float]) -> int:
    return -1 if timeout is None else int(timeout * 1000)


class CheckpointManager:
    """Numbered checkpoint steps under one root (Orbax's ``CheckpointManager``).

    ``checkpointers`` is accepted for compatibility (an ``AsyncCheckpointer`` turns on
    asynchronous saves; options given in its place are taken as the options). A root is written by one manager at a time: an advisory lock
    refuses a second writer, naming its pid. One manager is used by one thread at a time;
    the GIL is released while it works.
    """

    def __init__(
        self,
        directory: PathLike,
        checkpointers: Any = None,
        options: Optional[CheckpointManagerOptions] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if isinstance(checkpointers, CheckpointManagerOptions) and options is None:
            checkpointers, options = None, checkpointers  # CheckpointManager(dir, options)
        opts = options or CheckpointManagerOptions()
        kw = opts._kwargs()
        values = checkpointers.values() if isinstance(checkpointers, Mapping) else [checkpointers]
        if any(isinstance(c, AsyncCheckpointer) for c in values):
            kw["enable_async"] = True
        self._best_fn = opts.best_fn
        self._m = _core.Manager(os.fspath(directory), **kw)

    @property
    def directory(self) -> str:
        return self._m.root

    def save(
        self,
        step: int,
        items: Any = None,
        save_kwargs: Optional[Mapping[str, Any]] = None,
        metrics: Optional[Mapping[str, float]] = None,
        force: bool = False,
        *,
        args: Any = None,
        custom_metadata: Optional[Mapping[str, Any]] = None,
    ) -> bool:
        """Saves the tree ``items`` (or ``args.item``) as ``step`` when ``should_save(step)``
        (or ``force``); returns whether a save was made or queued. A step is never
        overwritten (:class:`~synthpix.CheckpointExistsError`). With asynchronous saves, a
        failure surfaces from the next ``save``, ``wait_until_finished`` or
        ``check_for_errors``. ``save_kwargs`` is accepted and ignored."""
        leaves, structure = _pytree.flatten(_item(items, args))
        meta = _pytree.custom_metadata(structure, custom_metadata)
        m = dict(metrics) if metrics else None
        if m is not None and self._best_fn is not None:
            m[BEST_FN_METRIC] = float(self._best_fn(metrics))  # type: ignore[arg-type]
        return bool(self._m.save(step, leaves, force, m, meta))

    def restore(
        self,
        step: Optional[int] = None,
        items: Any = None,
        restore_kwargs: Optional[Mapping[str, Any]] = None,
        *,
        args: Any = None,
        partial: bool = False,
        fallback: bool = False,
    ) -> Any:
        """The tree of ``step`` (None: the latest); ``items`` (or ``args.item``) is an optional
        target. ``fallback``: when the latest step is damaged, try older ones. Every file read
        is checked against the step's CRC32C manifest. ``restore_kwargs`` is ignored."""
        s = -1 if step is None else step
        target = _item(items, args)
        if target is not None:
            t_leaves, _ = _pytree.flatten(target)
            _, leaves = self._m.restore(s, t_leaves, partial, fallback, True)
            return _restored(leaves, None, target)
        restored, leaves = self._m.restore(s, None, partial, fallback)
        _, json_text = self._m.metadata(restored)
        return _restored(leaves, json_text, None)

    def all_steps(self, read: bool = False) -> List[int]:
        """Committed steps, ascending (``read`` is accepted; use ``reload()``)."""
        return list(self._m.all_steps())

    def latest_step(self) -> Optional[int]:
        return self._m.latest_step()

    def best_step(self) -> Optional[int]:
        """The best step by ``best_fn`` / ``best_metric``, or the latest without them."""
        return self._m.best_step()

    def should_save(self, step: int) -> bool:
        return bool(self._m.should_save(step))

    def delete(self, step: int) -> None:
        self._m.delete(step)

    def reload(self) -> None:
        """Re-lists the steps from disk."""
        self._m.reload()

    def wait_until_finished(self, timeout: Optional[float] = None) -> None:
        """Blocks until queued saves are committed (:class:`~synthpix.CheckpointError` with
        status SP_ERR_TIMEOUT after ``timeout`` seconds); raises a failed save's error once."""
        self._m.wait_until_finished(_ms(timeout))

    def check_for_errors(self) -> None:
        """Raises a failed asynchronous save's error once, without blocking."""
        self._m.check_for_errors()

    def metadata(self, step: Optional[int] = None) -> CheckpointMetadata:
        info, json_text = self._m.metadata(-1 if step is None else step)
        return _metadata(info, json_text)

    def metrics(self, step: int) -> Dict[str, float]:
        return self.metadata(step).metrics

    def verify(self, step: Optional[int] = None) -> List[str]:
        """Checks every file of a step; one message per damaged file (empty: whole)."""
        return list(self._m.verify(-1 if step is None else step))

    def quarantine(self, step: int) -> str:
        """Moves a damaged step aside (renamed, never deleted); returns where it went."""
        return self._m.quarantine(step)

    def foreign_directories(self) -> List[str]:
        """Step-named directories without a manifest: not ours, never touched."""
        return list(self._m.foreign())

    def close(self, timeout: Optional[float] = None) -> None:
        """Waits for queued saves and releases the root's lock."""
        self._m.close(_ms(timeout))

    def __enter__(self) -> "CheckpointManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def dtypes() -> List[str]:
    """The NumPy dtypes checkpoints store (the library's dtype table)."""
    return list(_core.dtypes())


__all__ = [
    "ArrayCheckpointHandler",
    "AsyncCheckpointer",
    "CheckpointHandler",
    "CheckpointManager",
    "CheckpointManagerOptions",
    "CheckpointMetadata",
    "Checkpointer",
    "PyTreeCheckpointHandler",
    "StandardCheckpointHandler",
    "args",
    "dtypes",
    "orbax_utils",
]
