"""Training and test machinery around mmengine's Runner: hooks, loops, safe checkpoints."""
from . import hooks, loops, optim_wrappers  # noqa: F401  (registration)
from .checkpoint import (CheckpointMismatchError, UnsafeCheckpointError,
                         allow_mmengine_checkpoints, load_checkpoint_file, load_model_weights)

allow_mmengine_checkpoints()

__all__ = ['CheckpointMismatchError', 'UnsafeCheckpointError', 'load_checkpoint_file',
           'load_model_weights']
