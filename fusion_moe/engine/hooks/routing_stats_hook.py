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
"""
import json
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, is_main_process
from mmengine.hooks import Hook

from fusion_moe.models.moe import accumulate_statistics, find_moe_layers, summarize_statistics
from fusion_moe.registry import HOOKS

SCALAR_STATS = ('routing_entropy', 'gate_gap', 'fallback_rate', 'dropped_fraction')


@HOOKS.register_module()
class RoutingStatisticsHook(Hook):
    """Accumulate and save routing statistics of every MoE layer in val and test loops.

    Args:
        out_dir: where to write the JSON; default ``runner.log_dir``.
        file_prefix: JSON file name prefix.
    """
    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL), so the scalars get logged

    def __init__(self, out_dir: Optional[str] = None,
                 file_prefix: str = 'routing_stats') -> None:
        self.out_dir = out_dir
        self.file_prefix = file_prefix
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

    def _finish(self, runner, mode: str, metrics: Optional[dict]) -> None:
        summary = {}
        for name in sorted(self._totals):
            totals = {}
            for key in sorted(self._totals[name]):
                value = self._totals[name][key].clone()
                all_reduce(value, op='sum')
                totals[key] = value
            summary[name] = summarize_statistics(totals)
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
                json.dump({'mode': mode, 'epoch': runner.epoch, 'iter': runner.iter,
                           'layers': summary}, f, indent=2)
            runner.logger.info(f'routing statistics of {len(summary)} MoE layer(s) -> {path}')

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
