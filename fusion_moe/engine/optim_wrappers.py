"""Mixed precision on CPU: bf16 autocast around the forward pass, no loss scaling.

mmengine's ``AmpOptimWrapper`` (fp16 with a dynamic loss scaler) refuses to run without a GPU.
bf16 has fp32's exponent range, so it needs no loss scale; this wrapper only enters
``torch.autocast('cpu', dtype=torch.bfloat16)`` in ``optim_context`` (the forward and loss of
``train_step``), like mmengine's AMP wrapper does for CUDA. Parameters, gradients and optimizer
state stay fp32. Numerically sensitive parts opt out of autocast themselves (routers, the camera
projection, the reliability gate's loss).

``tools/train.py --amp`` picks ``AmpOptimWrapper`` (fp16) on CUDA and this wrapper on CPU.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from fusion_moe.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUBF16AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward context is CPU bf16 autocast. Same arguments."""

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast('cpu', dtype=torch.bfloat16):
            yield
