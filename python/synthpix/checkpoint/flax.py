"""Flax's legacy ``flax.training.checkpoints`` calls over the checkpoint manager.

    from synthpix.checkpoint import flax as checkpoints
    checkpoints.save_checkpoint(ckpt_dir, state, step, prefix="test_", keep=3, keep_every_n_steps=2)
    state = checkpoints.restore_checkpoint(ckpt_dir, target=state, step=4, prefix="test_")

The arguments map as docs/python.md says: ``keep`` -> ``max_to_keep``,
``keep_every_n_steps`` -> ``keep_period`` (Orbax's rule: keep every step divisible by it,
not Flax's distance since the last kept one), ``overwrite`` -> ``force``, ``prefix`` ->
``step_prefix`` (directories ``<prefix><step>``, as Flax names them). Differences, all on the
side of safety: an existing step is never overwritten (``overwrite=True`` saves a step at
or before the latest, without deleting the later ones; saving an existing step raises
:class:`~synthpix.CheckpointExistsError`); restoring from a directory without checkpoints
raises :class:`~synthpix.CheckpointNotFoundError` instead of returning the target unchanged;
``target=None`` gives back the saved structure (lists stay lists).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Optional, Union

from synthpix.checkpoint import CheckpointManager, CheckpointManagerOptions
from synthpix.errors import CheckpointExistsError

PathLike = Union[str, "os.PathLike[str]"]


class AsyncManager:
    """Flax's ``AsyncManager``: ``save_checkpoint(..., async_manager=m)`` writes on a
    background thread; the next save through the same manager, or
    ``wait_previous_save()``, waits for it and raises its error."""

    def __init__(self) -> None:
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None

    def wait_previous_save(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def save_async(self, fn: Callable[[], None]) -> None:
        self.wait_previous_save()

        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001  (handed to the caller's thread)
                self._error = e

        self._thread = threading.Thread(target=run, name="synthpix-flax-save")
        self._thread.start()


def _options(prefix: str, keep: int = 1, keep_every_n_steps: Optional[int] = None, **kw: Any) -> CheckpointManagerOptions:
    return CheckpointManagerOptions.from_flax(keep=keep, keep_every_n_steps=keep_every_n_steps, prefix=prefix, **kw)


def save_checkpoint(
    ckpt_dir: PathLike,
    target: Any,
    step: int,
    prefix: str = "checkpoint_",
    keep: int = 1,
    overwrite: bool = False,
    keep_every_n_steps: Optional[int] = None,
    async_manager: Optional[AsyncManager] = None,
    orbax_checkpointer: Any = None,
) -> str:
    """Saves ``target`` as step ``step`` and applies the retention; returns the step's path.
    Raises :class:`~synthpix.CheckpointExistsError` when the step exists, or when a later
    step exists and ``overwrite`` is false (as Flax)."""
    ckpt_dir = os.fspath(ckpt_dir)
    options = _options(prefix, keep, keep_every_n_steps)
    if async_manager is not None:
        async_manager.wait_previous_save()  # so the previous save's lock is released

    def save() -> None:
        with CheckpointManager(ckpt_dir, options=options) as mgr:
            if not mgr.save(int(step), target, force=overwrite):
                raise CheckpointExistsError(
                    f"{ckpt_dir}: step {step} is not after the latest step {mgr.latest_step()} (pass overwrite=True)"
                )

    if async_manager is not None:
        async_manager.save_async(save)
    else:
        save()
    return os.path.join(ckpt_dir, f"{prefix}{int(step)}")


def restore_checkpoint(
    ckpt_dir: PathLike,
    target: Any,
    step: Optional[int] = None,
    prefix: str = "checkpoint_",
    parallel: bool = True,
) -> Any:
    """The tree of ``step`` (None: the latest) under ``ckpt_dir``, in ``target``'s structure
    when a target is given."""
    options = _options(prefix, read_only=True, create=False)
    with CheckpointManager(os.fspath(ckpt_dir), options=options) as mgr:
        return mgr.restore(step, items=target)


def latest_checkpoint(ckpt_dir: PathLike, prefix: str = "checkpoint_") -> Optional[str]:
    """The path of the latest step, or None."""
    options = _options(prefix, read_only=True, create=False)
    with CheckpointManager(os.fspath(ckpt_dir), options=options) as mgr:
        step = mgr.latest_step()
    return None if step is None else os.path.join(os.fspath(ckpt_dir), f"{prefix}{step}")


__all__ = ["AsyncManager", "latest_checkpoint", "restore_checkpoint", "save_checkpoint"]
