"""Safe checkpoint loading: torch's weights-only unpickler plus a narrow allow-list.

torch >= 2.6 loads with ``weights_only=True``: only tensors, containers and allow-listed
globals can be unpickled, so a checkpoint cannot run code when it is loaded. mmengine 0.10
checkpoints also pickle its message hub (``HistoryBuffer`` objects holding numpy arrays, and
numpy scalars), which the default allow-list refuses. Instead of turning the safe loader off
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``, process-wide), :func:`allow_mmengine_checkpoints`
adds exactly those globals:

- ``mmengine.logging.history_buffer.HistoryBuffer`` (a data class: arrays and ints);
- numpy arrays and scalars (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar``) under the
  numpy 1.x and 2.x module names;
- ``builtins.getattr``, *restricted*: HistoryBuffer pickles its statistics methods as
  ``getattr(HistoryBuffer, 'min')``; the stand-in resolves only those four names on that class
  and refuses everything else (the general ``getattr`` would reach any attribute of any
  allowed object).

:func:`load_checkpoint_file` is registered as mmengine's loader for local paths, so
``--resume``, ``load_from``, ``tools/test.py CKPT`` and ``init_cfg=dict(type='Pretrained')``
all go through it; a file the weights-only unpickler refuses raises
:class:`UnsafeCheckpointError` naming the file and the refused global. It always passes
``weights_only=True`` explicitly, so a ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` left in a user's
environment does not turn it off.

:func:`load_model_weights` loads a checkpoint's ``state_dict`` into a model and refuses one
with missing or unexpected keys (or no weights at all), naming the file and the keys, unless
``strict=False``, which logs them and goes on.
"""
import logging
import os.path as osp
import pickle
import re
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

#: Statistics methods HistoryBuffer pickles by name (``HistoryBuffer._set_default_statistics``).
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
_REFUSED_GLOBAL = re.compile(r'(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)')
_TORCH_BOILERPLATE = ('Weights only load failed', 'Check the documentation', 'Please file an issue')


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint file holds a pickle that the weights-only loader refuses.

    Attributes:
        path: the file.
        refused: the refused global (e.g. ``posix.system``), or None if torch did not say.
    """

    def __init__(self, path: str, refused: Optional[str], detail: str) -> None:
        self.path = str(path)
        self.refused = refused
        what = f'it needs the global {refused!r}, ' if refused else ''
        super().__init__(
            f'{self.path}: refused to load this checkpoint: {what}which is not on the '
            f'allow-list of fusion_moe.engine.checkpoint, so unpickling it could run code. '
            f'Checkpoints written by tools/train.py never need it. If you made this file '
            f'yourself and trust it, load it once in Python with torch.load(..., '
            f'weights_only=False) and re-save only what you need (e.g. its "state_dict"). '
            f'(torch: {_torch_detail(detail)})')


def _torch_detail(message: str) -> str:
    """The specific part of torch's weights-only error (without its generic advice)."""
    parts = [p.replace('WeightsUnpickler error:', '').strip() for p in message.split('\n\n')]
    specific = [p for p in parts if p and not p.startswith(_TORCH_BOILERPLATE)]
    return ' '.join(' '.join(specific).split())[:300] or 'no detail'


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model (missing / unexpected / mis-shaped keys)."""

    def __init__(self, path: str, message: str) -> None:
        self.path = str(path)
        super().__init__(f'{self.path}: {message}')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` as HistoryBuffer's pickle needs it, and nothing else."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}): the checkpoint allow-list only resolves '
        f'HistoryBuffer.{{{", ".join(_HISTORY_BUFFER_METHODS)}}}')


def _numpy_globals() -> List[Any]:
    from numpy.core import multiarray
    entries = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    entries += [np.ndarray, np.dtype]
    # a dtype's state is set on its class (numpy.dtypes.Float64DType, ...): data, no code
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        entries += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    return entries


def mmengine_checkpoint_globals() -> List[Any]:
    """The allow-list (entries as ``torch.serialization.add_safe_globals`` takes them)."""
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr'), *_numpy_globals()]


def load_checkpoint_file(filename: str, map_location: Any = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with errors that name the file.

    Raises:
        FileNotFoundError: no such file.
        UnsafeCheckpointError: the pickle needs a global outside the allow-list.
        RuntimeError: the file is not a readable checkpoint (e.g. truncated), naming it.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename}: checkpoint file does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if isinstance(err, UnsafeCheckpointError):
            raise
        match = _REFUSED_GLOBAL.search(str(err))
        raise UnsafeCheckpointError(filename, match.group(1) if match else None,
                                    str(err)) from None
    except (RuntimeError, EOFError, OSError) as err:
        raise RuntimeError(f'{filename}: not a readable checkpoint ({err}); a half-written '
                           f'file? tools/train.py writes checkpoints atomically') from err


def load_from_weights_only(filename: str, map_location: Any = None) -> Any:
    """:func:`load_checkpoint_file` under the name mmengine's log line shows ("Loads checkpoint
    by weights_only backend")."""
    return load_checkpoint_file(filename, map_location)


_allowed = False


def allow_mmengine_checkpoints() -> None:
    """Add the allow-list to torch's weights-only loader and make :func:`load_checkpoint_file`
    mmengine's loader for local paths (idempotent; done on ``import fusion_moe``)."""
    global _allowed
    if _allowed:
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
    CheckpointLoader.register_scheme(prefixes='', loader=load_from_weights_only, force=True)
    _allowed = True


def _state_dict_of(checkpoint: Any, path: str) -> Dict[str, torch.Tensor]:
    if not isinstance(checkpoint, Mapping):
        raise CheckpointMismatchError(path, f'holds a {type(checkpoint).__name__}, not a '
                                            f'checkpoint dict')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, Mapping):
        raise CheckpointMismatchError(path, f"'state_dict' is a {type(state).__name__}")
    # DDP-wrapped saves prefix every key with 'module.' (mmengine strips it the same way)
    return OrderedDict((re.sub(r'^module\.', '', k), v) for k, v in state.items()
                       if torch.is_tensor(v))


def _preview(keys: List[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in all)' if len(keys) > limit else '')


def load_model_weights(model: nn.Module, filename: str, strict: bool = True,
                       checkpoint: Optional[Any] = None) -> Any:
    """Load the weights of checkpoint ``filename`` into ``model`` (DDP wrappers unwrapped).

    Args:
        model: the model.
        filename: the checkpoint file (named in every error).
        strict: refuse missing, unexpected or mis-shaped keys (:class:`CheckpointMismatchError`
            naming them); False loads the keys that fit and logs the others as a warning.
            A checkpoint without any of the model's weights is refused either way.
        checkpoint: the already loaded file, if the caller has it.

    Returns:
        the loaded checkpoint.
    """
    model = getattr(model, 'module', model)
    if checkpoint is None:
        checkpoint = load_checkpoint_file(filename, map_location='cpu')
    state = _state_dict_of(checkpoint, filename)
    if hasattr(model, 'upgrade_state_dict'):  # a model's renamed keys (e.g. FusionDetector)
        state = model.upgrade_state_dict(state)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [f'{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}'
                 for k in own if k in state and state[k].shape != own[k].shape]
    if len(missing) == len(own):
        raise CheckpointMismatchError(
            filename, f'holds none of the model\'s {len(own)} weights (its state_dict has '
                      f'{len(state)} tensors{": " + _preview(unexpected) if unexpected else ""});'
                      f' evaluating it would evaluate a randomly initialised model')
    problems = [f'{name} keys: {_preview(keys)}' for name, keys in
                (('missing', missing), ('unexpected', unexpected), ('mis-shaped', misshaped))
                if keys]
    if problems and strict:
        raise CheckpointMismatchError(
            filename, 'does not fit the model; ' + '; '.join(problems) +
            ' (tools/test.py --strict false loads the matching keys only)')
    if problems:
        print_log(f'{filename}: partial load (strict=False); ' + '; '.join(problems),
                  logger='current', level=logging.WARNING)
    shaped = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    model.load_state_dict(shaped, strict=False)
    print_log(f'loaded {len(shaped)} of {len(own)} weights from {filename}', logger='current',
              level=logging.INFO)
    return checkpoint
