"""Log losses averaged over DDP processes, not rank 0's own.

mmengine's ``BaseModel.parse_losses`` returns each process's local losses, and the loggers
only see rank 0's: with 8 processes the logged curve is one eighth of the batch, noisier than
and different from what the gradient (averaged by DDP) follows. This hook replaces every scalar
of ``train_step``'s output by its mean over processes before ``RuntimeInfoHook`` puts it into
the message hub, so the logged loss (and every named auxiliary loss) is that of the global
batch. It does nothing in a single process.
"""
from typing import List, Optional

import torch
from mmengine.dist import all_gather_object, all_reduce, get_world_size
from mmengine.hooks import Hook

from fusion_moe.registry import HOOKS


@HOOKS.register_module()
class ProcessMeanLossHook(Hook):
    """Average the logged training scalars over DDP processes (see module doc)."""
    priority = 5  # before RuntimeInfoHook (VERY_HIGH = 10), which logs ``outputs``

    def __init__(self) -> None:
        self._keys: Optional[List[str]] = None

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not outputs or get_world_size() == 1:
            return
        keys = sorted(k for k, v in outputs.items() if torch.is_tensor(v) and v.numel() == 1)
        if keys != self._keys:  # first iteration, or the loss terms changed (staged training)
            every = all_gather_object(keys)
            if any(other != keys for other in every):
                raise RuntimeError(f'DDP processes return different loss names at iteration '
                                   f'{runner.iter + 1}: {every}; every process must compute '
                                   f'the same loss terms')
            self._keys = keys
        if not keys:
            return
        values = torch.stack([outputs[k].detach().float().reshape(()) for k in keys])
        all_reduce(values, op='mean')
        for key, value in zip(keys, values):
            outputs[key] = value
