"""Stop training at the first NaN / Inf, name where it appeared, keep the last good checkpoint.

A non-finite loss, once stepped, turns every weight into NaN and every later checkpoint into
garbage. This hook

- watches the loss dict of every training forward (a forward hook on the model, so it runs
  before the backward pass and the optimizer step): if any loss is NaN or Inf it re-runs that
  forward with the same weights and batch, records which module first produced a non-finite
  output, and raises :class:`NonFiniteError` naming the loss, that module and the last
  checkpoint written; the optimizer never steps on the bad loss;
- checks every parameter and buffer after each optimizer step (a finite loss can still give a
  non-finite gradient), before ``CheckpointHook`` runs, and again before any checkpoint is
  written: a checkpoint holding NaN is never written and no good one is rotated away for it,
  so the work dir's newest checkpoint stays the last good one.

Router logits are already checked by ``MoELayer`` itself (it raises naming the layer).
"""
from typing import Any, Iterator, List, Optional, Tuple

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from torch import Tensor, nn

from fusion_moe.registry import HOOKS
from .atomic_checkpoint_hook import latest_checkpoint


class NonFiniteError(FloatingPointError):
    """Training produced NaN / Inf; the message says where."""


def _tensors(value: Any) -> Iterator[Tensor]:
    if torch.is_tensor(value):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v)


def _describe(t: Tensor) -> str:
    nan, inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
    return f'shape {tuple(t.shape)}, {nan} NaN and {inf} Inf of {t.numel()} values'


def _first_non_finite(value: Any) -> Optional[Tensor]:
    for t in _tensors(value):
        if t.is_floating_point() and not bool(torch.isfinite(t.detach()).all()):
            return t
    return None


def first_non_finite_module(model: nn.Module, run) -> Optional[Tuple[str, str]]:
    """Run ``run()`` with a forward hook on every submodule of ``model``; return
    ``(module name, description)`` of the first module (in execution order) whose output
    holds NaN / Inf, or None."""
    found: List[Tuple[str, str]] = []
    handles = []

    def make_hook(name: str):
        def hook(module, args, output):
            if not found:
                bad = _first_non_finite(output)
                if bad is not None:
                    found.append((name or type(module).__name__, _describe(bad)))
        return hook

    for name, module in model.named_modules():
        if name:  # the root's output is the loss dict, reported separately
            handles.append(module.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            run()
    except Exception as err:  # e.g. MoELayer refusing non-finite router logits
        if not found:
            found.append(('(the forward pass raised)', f'{type(err).__name__}: {err}'))
    finally:
        for handle in handles:
            handle.remove()
    return found[0] if found else None


def all_finite(tensors: List[Tensor]) -> bool:
    """True if no floating tensor holds NaN / Inf (one reduction per tensor, one host sync)."""
    sums = [t.detach().float().sum() for t in tensors if t.is_floating_point()]
    return not sums or bool(torch.isfinite(torch.stack(sums)).all())


def first_non_finite_state(model: nn.Module) -> Optional[Tuple[str, str]]:
    """``(name, description)`` of the first parameter or buffer holding NaN / Inf, or None."""
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor.detach()).all()):
            return name, _describe(tensor.detach())
    return None


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Raise :class:`NonFiniteError` at the first non-finite training loss or weight.

    Args:
        diagnose: re-run a failing forward to find the first module with a non-finite output
            (costs one extra forward, only when it fails).

    Under DDP the loss check is agreed between processes (one small all-reduce per
    iteration), so every process stops at the same iteration instead of the others waiting
    for the one that stopped.
    """
    priority = 'VERY_HIGH'  # check the weights before CheckpointHook (VERY_LOW) saves them

    def __init__(self, diagnose: bool = True) -> None:
        self.diagnose = diagnose
        self._handle = None
        self._rerunning = False

    @staticmethod
    def _last_good(runner) -> str:
        last = latest_checkpoint(runner.work_dir)
        return f'the last good checkpoint is {last}' if last else 'no checkpoint was written yet'

    def _check_losses(self, runner, module, args, kwargs, output) -> None:
        if self._rerunning or not module.training or kwargs.get('mode') != 'loss' or \
                not isinstance(output, dict):
            return
        bad = {k: t for k, t in ((k, _first_non_finite(v)) for k, v in output.items())
               if t is not None}
        flag = torch.tensor([float(bool(bad))])
        all_reduce(flag, op='max')  # a no-op without DDP
        if not float(flag):
            return
        if not bad:
            raise NonFiniteError(f'iteration {runner.iter + 1}: another process got a '
                                 f'non-finite loss; stopping here too')
        where = ''
        if self.diagnose:
            state = first_non_finite_state(module)
            if state is not None:
                where = f'; {state[0]} is already non-finite ({state[1]})'
            else:
                self._rerunning = True
                try:
                    hit = first_non_finite_module(module, lambda: module(*args, **kwargs))
                finally:
                    self._rerunning = False
                if hit is not None:
                    where = f'; first non-finite tensor: output of {hit[0]} ({hit[1]})'
        names = ', '.join(f'{k} ({_describe(t)})' for k, t in bad.items())
        raise NonFiniteError(f'iteration {runner.iter + 1}: non-finite loss {names}{where}. '
                             f'Training stopped before the optimizer step; '
                             f'{self._last_good(runner)}')

    def _check_state(self, runner, when: str) -> None:
        model = getattr(runner.model, 'module', runner.model)
        if all_finite(list(model.parameters()) + list(model.buffers())):
            return
        name, what = first_non_finite_state(model)
        raise NonFiniteError(f'iteration {runner.iter + 1}: {name} holds non-finite values '
                             f'({what}) {when}; {self._last_good(runner)}')

    def before_train(self, runner) -> None:
        model = getattr(runner.model, 'module', runner.model)

        def check(module, args, kwargs, output):
            self._check_losses(runner, module, args, kwargs, output)
        self._handle = model.register_forward_hook(check, with_kwargs=True)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._check_state(runner, 'after the optimizer step (a non-finite gradient?)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self._check_state(runner, 'refusing to write this checkpoint')

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
