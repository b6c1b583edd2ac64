"""synthpix: synthetic PIV (particle image velocimetry) image pairs with exact ground-truth
flow, from libsynthpix (C) through a thin, typed layer.

    import synthpix

    sampler = synthpix.make("my.yaml")            # or make() for the embedded default
    for step, batch in zip(range(1000), sampler):
        train_on(batch.images1, batch.images2, batch.flow_fields)
        if step % 100 == 99:
            synthpix.save_checkpoint("ckpts", sampler, step, max_to_keep=2)
    # later: synthpix.make("my.yaml", load_from="ckpts") continues with the same bytes

docs/python.md has the whole API, the array contract, threads, checkpoints of Python trees
(synthpix.checkpoint: Orbax's API; synthpix.checkpoint.flax: Flax's legacy calls), and
torch (synthpix.torch).
"""

from synthpix import _core
from synthpix.errors import (
    CheckpointError,
    CheckpointExistsError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    ConfigError,
    ConfigWarning,
    DatasetError,
    EpisodeEndError,
    Error,
    FlowFileError,
)

_core._register_exceptions(
    Error,
    ConfigError,
    ConfigWarning,
    FlowFileError,
    EpisodeEndError,
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointExistsError,
    CheckpointMismatchError,
    DatasetError,
)

from synthpix import checkpoint  # noqa: E402  (the exceptions are registered first)
from synthpix._sampler import (  # noqa: E402
    PARAMS_DTYPE,
    Batch,
    Config,
    Sampler,
    default_config_yaml,
    generate,
    make,
    save_checkpoint,
)
from synthpix.checkpoint import (  # noqa: E402
    AsyncCheckpointer,
    CheckpointManager,
    CheckpointManagerOptions,
    Checkpointer,
    dtypes,
)

#: The version of the library linked into the package ("major.minor.patch").
__version__: str = _core.version()


def features() -> dict:
    """Optional features of the linked library: {"matio": bool, "hdf5": bool, "cairo": bool}."""
    return dict(_core.features())


__all__ = [
    "AsyncCheckpointer",
    "Batch",
    "CheckpointError",
    "CheckpointExistsError",
    "CheckpointManager",
    "CheckpointManagerOptions",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "Checkpointer",
    "Config",
    "ConfigError",
    "ConfigWarning",
    "DatasetError",
    "EpisodeEndError",
    "Error",
    "FlowFileError",
    "PARAMS_DTYPE",
    "checkpoint",
    "Sampler",
    "default_config_yaml",
    "dtypes",
    "features",
    "generate",
    "make",
    "save_checkpoint",
]
