"""Training progress of a Runner without building its training loop.

``runner.epoch`` and ``runner.iter`` read ``runner.train_loop``, which mmengine builds on first
access, train dataloader and dataset included. A test or validation-only run (``tools/test.py``,
``tools/robustness.py``) that asks for them would load the training info file, which need not
exist. Hooks that only report progress use these instead.
"""
from typing import Optional

from mmengine.runner import BaseLoop


def train_progress(runner) -> Optional[dict]:
    """``{'epoch': e, 'iter': i}`` of the training loop, or None when no training loop was built
    (a test- or val-only run)."""
    loop = getattr(runner, '_train_loop', None)
    if not isinstance(loop, BaseLoop):
        return None
    return {'epoch': loop.epoch, 'iter': loop.iter}
