"""Orbax's ``ocp.args`` save/restore argument objects (``args=ocp.args.StandardSave(tree)``).

They only carry the item: one format serves every handler here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class _SaveArgs:
    item: Any
    save_args: Any = None


@dataclass
class _RestoreArgs:
    item: Any = None
    restore_args: Any = None


class StandardSave(_SaveArgs):
    """``ocp.args.StandardSave(tree)``."""


class PyTreeSave(_SaveArgs):
    """``ocp.args.PyTreeSave(tree)``."""


class ArraySave(_SaveArgs):
    """``ocp.args.ArraySave(array)``."""


class StandardRestore(_RestoreArgs):
    """``ocp.args.StandardRestore(target=None)``."""


class PyTreeRestore(_RestoreArgs):
    """``ocp.args.PyTreeRestore(target=None)``."""


class ArrayRestore(_RestoreArgs):
    """``ocp.args.ArrayRestore(target=None)``."""


__all__ = ["ArrayRestore", "ArraySave", "PyTreeRestore", "PyTreeSave", "StandardRestore", "StandardSave"]
