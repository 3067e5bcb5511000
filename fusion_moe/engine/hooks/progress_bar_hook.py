"""A tqdm progress bar over the samples of each test / val loop (on stderr, main process only)."""
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from fusion_moe.registry import HOOKS


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """Show ``<desc>: k/N samples`` while a test or val loop runs.

    Args:
        desc: label of the bar; the robustness tool sets it to the condition's name.
        leave: keep finished bars on screen.
    """
    priority = 'VERY_LOW'

    def __init__(self, desc: str = 'test', leave: bool = True) -> None:
        self.desc = desc
        self.leave = leave
        self._bar = None

    def _open(self, runner, loop_name: str) -> None:
        if not is_main_process():
            return
        from tqdm import tqdm
        loop = getattr(runner, loop_name)
        self._bar = tqdm(total=len(loop.dataloader.dataset), desc=self.desc, unit='sample',
                         leave=self.leave, dynamic_ncols=True)

    def _step(self, data_batch: Optional[dict]) -> None:
        if self._bar is not None:
            self._bar.update(len((data_batch or {}).get('data_samples') or [None]))

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def before_test_epoch(self, runner) -> None:
        self._open(runner, 'test_loop')

    def before_val_epoch(self, runner) -> None:
        self._open(runner, 'val_loop')

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step(data_batch)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._step(data_batch)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._close()
