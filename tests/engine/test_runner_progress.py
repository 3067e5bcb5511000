"""Progress-reporting hooks must not build a test-only run's training loop (and dataset)."""
from types import SimpleNamespace

from mmengine.runner import BaseLoop

from fusion_moe.engine.hooks.runner_progress import train_progress


class _Loop(BaseLoop):
    def __init__(self):  # no runner, no dataloader: only the progress counters matter here
        self._epoch, self._iter = 3, 17

    @property
    def epoch(self):
        return self._epoch

    @property
    def iter(self):
        return self._iter

    def run(self):
        raise AssertionError('not run')


class _TrainLoopIsAConfig:
    """Like a Runner before training: reading .epoch would build the train dataloader."""
    _train_loop = dict(type='EpochBasedTrainLoop', max_epochs=1)

    @property
    def epoch(self):
        raise AssertionError('runner.epoch was read: it builds the training dataset')

    iter = epoch


def test_a_test_only_run_reports_no_training_progress_and_builds_nothing():
    assert train_progress(_TrainLoopIsAConfig()) is None


def test_a_built_training_loop_reports_its_epoch_and_iteration():
    assert train_progress(SimpleNamespace(_train_loop=_Loop())) == {'epoch': 3, 'iter': 17}
