"""Flax's ``flax.training.orbax_utils`` helpers, for code written against Orbax: restore
and save arguments are taken from the target by the library itself, so these return
placeholders that ``save(..., save_kwargs={'save_args': ...})`` and
``restore(..., restore_kwargs={'restore_args': ...})`` accept and ignore."""

from __future__ import annotations

from typing import Any


def save_args_from_target(target: Any) -> None:
    """Accepted for compatibility; returns None."""
    del target
    return None


def restore_args_from_target(target: Any, mesh: Any = None) -> None:
    """Accepted for compatibility (there are no device meshes here); returns None."""
    del target, mesh
    return None


__all__ = ["restore_args_from_target", "save_args_from_target"]
