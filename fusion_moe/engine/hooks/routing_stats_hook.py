"""Gather MoE routing statistics during validation/test and save them with the results.

After every val/test iteration the hook adds each ``MoELayer``'s ``last_stats`` (additive sums,
see ``fusion_moe.models.moe.stats``) into per-layer totals. After the epoch it all-reduces the
totals over DDP processes, summarises them (per-expert load, routing entropy, gate gap, fallback
rate, dropped fraction, per-context utilisation), and

- writes ``<out_dir or runner.log_dir>/<file_prefix>_<mode>.json``:
  ``{"mode", "epoch", "iter", "layers": {layer name: summary}}``, plain JSON that a robustness
  report can plot without the model;
- puts the scalar rates into the message hub (``<mode>/moe/<layer>/<stat>``) for the loggers and
  into the epoch's ``metrics`` dict, so ``runner.test()`` returns them with the devkit metrics.

With ``train_interval=N`` it also logs the rates of every N-th training iteration (that
iteration's forward, summed over DDP processes) as ``train/moe/<layer>/<stat>``, to watch routing
entropy and confidence during training. Statistics are computed only when read, so the other
iterations cost nothing.
"""
import json
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook

from fusion_moe.models.moe import accumulate_statistics, find_moe_layers, summarize_statistics
from fusion_moe.registry import HOOKS
from .runner_progress import train_progress

SCALAR_STATS = ('routing_entropy', 'gate_gap', 'fallback_rate', 'dropped_fraction')


@HOOKS.register_module()
class RoutingStatisticsHook(Hook):
    """Accumulate and save routing statistics of every MoE layer in val and test loops.

    Args:
        out_dir: where to write the JSON; default ``runner.log_dir``.
        file_prefix: JSON file name prefix.
        train_interval: log training routing rates every this many iterations; 0 = never.
    """
    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL), so the scalars get logged

    def __init__(self, out_dir: Optional[str] = None, file_prefix: str = 'routing_stats',
                 train_interval: int = 0) -> None:
        if train_interval < 0:
            raise ValueError(f'train_interval must be >= 0 (0 = off), got {train_interval}')
        self.out_dir = out_dir
        self.file_prefix = file_prefix
        self.train_interval = train_interval
        self._totals: Dict[str, Dict[str, torch.Tensor]] = {}
        self.last_summary: Dict[str, dict] = {}

    def _reset(self, runner) -> None:
        self._totals = {}
        for _, layer in find_moe_layers(runner.model):
            layer.last_stats = {}

    def _collect(self, runner) -> None:
        for name, layer in find_moe_layers(runner.model):
            if layer.last_stats:
                accumulate_statistics(self._totals.setdefault(name, {}), layer.last_stats)
                layer.last_stats = {}

    @staticmethod
    def _summed_over_processes(sums: Dict[str, torch.Tensor]) -> dict:
        """Summary of ``sums`` added over DDP processes (every process must call it)."""
        totals = {}
        for key in sorted(sums):  # same order on every process
            value = sums[key].clone()
            all_reduce(value, op='sum')
            totals[key] = value
        return summarize_statistics(totals)

    def _finish(self, runner, mode: str, metrics: Optional[dict]) -> None:
        summary = {name: self._summed_over_processes(self._totals[name])
                   for name in sorted(self._totals)}
        self.last_summary = summary
        for name, layer_summary in summary.items():
            for stat in SCALAR_STATS:
                key = f'moe/{name}/{stat}'
                runner.message_hub.update_scalar(f'{mode}/{key}', layer_summary[stat])
                if metrics is not None:
                    metrics[key] = layer_summary[stat]
        if is_main_process() and summary:
            out_dir = self.out_dir or runner.log_dir
            path = osp.join(out_dir, f'{self.file_prefix}_{mode}.json')
            with open(path, 'w') as f:
                progress = train_progress(runner) or {'epoch': None, 'iter': None}
                json.dump({'mode': mode, **progress, 'layers': summary}, f, indent=2)
            runner.logger.info(f'routing statistics of {len(summary)} MoE layer(s) -> {path}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.train_interval or not self.every_n_train_iters(runner, self.train_interval):
            return
        for name, layer in find_moe_layers(runner.model):
            sums = layer.last_stats
            layer.last_stats = {}
            if not sums:  # dense stage: every process is in the same stage
                continue
            summary = self._summed_over_processes(sums)
            for stat in SCALAR_STATS:
                runner.message_hub.update_scalar(f'train/moe/{name}/{stat}', summary[stat])

    def before_val_epoch(self, runner) -> None:
        self._reset(runner)

    def before_test_epoch(self, runner) -> None:
        self._reset(runner)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._collect(runner)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._collect(runner)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._finish(runner, 'val', metrics)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._finish(runner, 'test', metrics)
