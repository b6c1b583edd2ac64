"""The exceptions of the synthpix package.

Every exception raised for a failure inside libsynthpix carries the library's one-line
message (it names the key, value, file or checkpoint leaf at fault) and a ``status``
attribute with the C status name (``"SP_ERR_NOTFOUND"``, ...).
"""

from __future__ import annotations

from typing import Any, Dict, List


class Error(Exception):
    """Base class of the errors synthpix raises for a failure inside the library."""

    status: str = ""


class ConfigError(Error, ValueError):
    """An invalid configuration (a ``ValueError``).

    The message lists every error, one per line, as ``source:LINE:COL: error: message``.
    ``diagnostics`` holds them (and the warnings) as dicts with ``level``, ``key``,
    ``message``, ``line`` and ``column``.
    """

    diagnostics: List[Dict[str, Any]] = []


class ConfigWarning(UserWarning):
    """An unknown or deprecated configuration key (the message suggests the nearest key)."""


class FlowFileError(Error, OSError):
    """A flow file that is missing, unreadable or malformed (an ``OSError``); the message
    names the file and what is wrong with it."""


class EpisodeEndError(Error):
    """The episode ended: call ``Sampler.next_episode()`` before the next batch (SynthPix's
    ``EpisodeEndError``)."""


class CheckpointError(Error):
    """A checkpoint that cannot be saved or restored (damaged files are named)."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No checkpoint (or no such step) where one was asked for."""


class CheckpointExistsError(CheckpointError, FileExistsError):
    """The checkpoint or step already exists (save with ``force`` to replace a checkpoint
    at a path; a manager's steps are never overwritten), or something that is not a
    checkpoint is in the way."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """The checkpoint does not match what restores it: another stream (the message names
    the field: seed, file_list, batch_size, ...) or another tree (the leaf)."""


class DatasetError(Error, OSError):
    """``synthpix.generate`` could not write its dataset: the output folder holds another
    dataset or is locked by another job, its checkpoints belong to another dataset, or a
    write failed (the message names the file and the reason)."""


__all__ = [
    "DatasetError",
    "Error",
    "ConfigError",
    "ConfigWarning",
    "FlowFileError",
    "EpisodeEndError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointExistsError",
    "CheckpointMismatchError",
]
