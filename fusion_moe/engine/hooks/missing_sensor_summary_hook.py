"""Count the samples that lost a sensor input, per loop, and summarise them at the end.

The loading transforms replace an unreadable sensor input by a documented fallback when the
config allows it (``on_missing='mark_absent'``: the sensor marked absent, a view replaced by
zeros, a sweep or scan skipped), and ``PackFusionInputs`` marks absent a sensor left without
data (no points after filtering or degradation, every camera image black). Each such event is
logged where it happens and recorded in the sample's ``sensor_faults`` metainfo. This hook
counts them from the data samples of every train / val / test iteration (summed over DDP
processes), logs one line per epoch, e.g. ::

    missing-sensor summary (test): 1 of 4 samples had a sensor input replaced: lidar 1
    [truncated or wrong-size LiDAR file 1]; first: sample 1 lidar /.../x.pcd.bin: truncated
    or wrong-size LiDAR file: 663450 bytes is not a multiple of the 20-byte point record ...

and, at the end of the run, the same for every loop it saw, plus a JSON file
``<log_dir>/missing_sensors.json`` with the counts and the first ``max_examples`` faults.
A run with no faults logs "no sensor input was replaced".
"""
import json
import logging
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional

from mmengine.dist import all_gather_object, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from fusion_moe.registry import HOOKS
from .runner_progress import train_progress

_KIND_END = re.compile(r'[:(]')


def fault_kind(problem: str) -> str:
    """The kind of a fault: its problem text up to the first ':' or '('."""
    return _KIND_END.split(problem, maxsplit=1)[0].strip()


class _Tally:
    """Counts of one loop (one mode) over a run."""

    def __init__(self) -> None:
        self.samples = 0
        self.faulty_samples = 0
        self.kinds: Counter = Counter()  # (modality, kind) -> faults
        self.examples: List[dict] = []

    def add(self, sample_idx, faults: List[dict], max_examples: int) -> None:
        self.samples += 1
        if not faults:
            return
        self.faulty_samples += 1
        for fault in faults:
            self.kinds[(fault['modality'], fault_kind(fault['problem']))] += 1
            if len(self.examples) < max_examples:
                self.examples.append(dict(fault, sample_idx=sample_idx))

    def merge(self, other: '_Tally', max_examples: int) -> None:
        self.samples += other.samples
        self.faulty_samples += other.faulty_samples
        self.kinds.update(other.kinds)
        self.examples = (self.examples + other.examples)[:max_examples]

    def summary(self) -> dict:
        by_modality: Dict[str, Dict[str, int]] = {}
        for (modality, kind), count in sorted(self.kinds.items()):
            by_modality.setdefault(modality, {})[kind] = count
        return dict(samples=self.samples, samples_with_faults=self.faulty_samples,
                    faults=by_modality, examples=self.examples)

    def line(self, what: str) -> str:
        if not self.faulty_samples:
            return (f'missing-sensor summary ({what}): no sensor input was replaced in '
                    f'{self.samples} samples')
        parts = []
        for modality, kinds in self.summary()['faults'].items():
            listed = ', '.join(f'{kind} {n}' for kind, n in kinds.items())
            parts.append(f'{modality} {sum(kinds.values())} [{listed}]')
        first = self.examples[0] if self.examples else None
        example = (f'; first: sample {first["sample_idx"]} {first["modality"]} {first["path"]}: '
                   f'{first["problem"]}') if first else ''
        return (f'missing-sensor summary ({what}): {self.faulty_samples} of {self.samples} '
                f'samples had a sensor input replaced: {"; ".join(parts)}{example}')


@HOOKS.register_module()
class MissingSensorSummaryHook(Hook):
    """Count, log and summarise the samples with ``sensor_faults`` (see module doc).

    Args:
        max_examples: faults kept verbatim (file and problem) per loop for the summary file.
        out_file: summary file name, written in ``runner.log_dir``; None = no file.
    """
    priority = 'LOW'

    def __init__(self, max_examples: int = 20,
                 out_file: Optional[str] = 'missing_sensors.json') -> None:
        self.max_examples = max_examples
        self.out_file = out_file
        self._epoch: Dict[str, _Tally] = {}
        self._run: Dict[str, _Tally] = {}

    def _count(self, mode: str, data_batch) -> None:
        if not data_batch or 'data_samples' not in data_batch:
            return
        tally = self._epoch.setdefault(mode, _Tally())
        for sample in data_batch['data_samples']:
            meta = getattr(sample, 'metainfo', {}) or {}
            tally.add(meta.get('sample_idx'), list(meta.get('sensor_faults') or []),
                      self.max_examples)

    def _close_epoch(self, runner, mode: str) -> None:
        local = self._epoch.pop(mode, _Tally())
        merged = _Tally()
        for tally in all_gather_object(local):  # every process calls this
            merged.merge(tally, self.max_examples)
        self._run.setdefault(mode, _Tally()).merge(merged, self.max_examples)
        level = logging.WARNING if merged.faulty_samples else logging.INFO
        progress = train_progress(runner)
        what = mode
        if progress is not None and mode in ('train', 'val'):
            what = f"{mode}, epoch {progress['epoch'] + (mode == 'train')}"
        print_log(merged.line(what), logger='current', level=level)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._count('train', data_batch)

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._count('val', data_batch)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._count('test', data_batch)

    def after_train_epoch(self, runner) -> None:
        self._close_epoch(runner, 'train')

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._close_epoch(runner, 'val')

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close_epoch(runner, 'test')

    def after_run(self, runner) -> None:
        if not self._run:
            return
        for mode, tally in self._run.items():
            level = logging.WARNING if tally.faulty_samples else logging.INFO
            print_log(tally.line(f'{mode}, whole run'), logger='current', level=level)
        if self.out_file and is_main_process():
            path = osp.join(runner.log_dir, self.out_file)
            with open(path, 'w') as f:
                json.dump({mode: t.summary() for mode, t in self._run.items()}, f, indent=2)
            print_log(f'missing-sensor summary -> {path}', logger='current', level=logging.INFO)
