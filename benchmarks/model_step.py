"""MoE detector against its dense twin, per fusion placement: training step and inference.

    python benchmarks/model_step.py [--json PATH] [--placements early mid_before ...]
                                    [--rounds 5] [--warmup 1] [--profile]
                                    [--pair NAME MOE_CONFIG DENSE_CONFIG ...]

For each placement P, ``configs/demo/moe_P.py`` and its dense twin ``configs/demo/dense_P.py``
(each MoE layer replaced by a dense FFN of equal active FLOPs; ``tools/model_info.py`` shows
the equality) are built with the same seed and timed alternately in one run (the order rotates
every round, ``benchmarks/_common.py``), one torch thread, demo size:

- ``train_step``: ``model(mode='loss')``, the losses summed by ``model.parse_losses`` (as
  the runner's ``train_step`` does; MoE aux losses included) and ``backward()`` (gradients zeroed first; no optimizer step), in train mode;
- ``infer``: ``model(mode='predict')`` under ``torch.no_grad()`` in eval mode (box decoding
  included).

Batches are generated packed batches sized as each config's test pipeline loads nuScenes
(``fusion_moe.analysis.packed_batch``; random content: speed does not depend on it), the
train / val dataloaders' batch sizes; the data preprocessor runs once, outside the timing.
Ratios are MoE time / dense-twin time, the median of per-round ratios. ``--pair`` times any
other pair under NAME (instead of the four placements). ``--profile`` prints, per placement,
the torch.profiler table (top self-CPU ops) of one training step of each model.

The JSON maps each placement to ``{"train_step_ratio": r, "infer_ratio": r, ...}`` (plus the
medians in seconds and the ratios' quartiles), with ``headlines`` (target <= 1.15 each) and
``measured`` as every benchmark's record.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Dict, List, Tuple

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import fusion_moe  # noqa: E402,F401  (registration)
from _common import alternate, headline, median, paired_ratios, quartiles, write_json  # noqa
from mmengine.config import Config  # noqa: E402

from fusion_moe.analysis import packed_batch, sizes_from_config  # noqa: E402
from fusion_moe.registry import MODELS  # noqa: E402

PLACEMENTS = ('early', 'mid_before', 'mid_after', 'late')
TARGET = '<= 1.15'


def demo_pair(placement: str) -> Tuple[str, str]:
    """The demo configs of a placement: (MoE, dense twin)."""
    return (osp.join(REPO, 'configs', 'demo', f'moe_{placement}.py'),
            osp.join(REPO, 'configs', 'demo', f'dense_{placement}.py'))


class Runner:
    """One built model with its preprocessed training and inference batches."""

    def __init__(self, config: str, seed: int = 0) -> None:
        if not osp.isfile(config):
            raise FileNotFoundError(f'{config}: no such config (model_step.py times the demo '
                                    'configs configs/demo/{moe,dense}_<placement>.py)')
        cfg = Config.fromfile(config)
        torch.manual_seed(seed)
        self.model = MODELS.build(cfg.model)
        sizes = sizes_from_config(cfg)
        train_bs = int(cfg.get('train_dataloader', {}).get('batch_size', 2))
        test_bs = int(cfg.get('val_dataloader', {}).get('batch_size', train_bs))
        pre = self.model.data_preprocessor
        self.train_data = pre(packed_batch(sizes, train_bs, seed), True)
        self.test_data = pre(packed_batch(sizes, test_bs, seed + 1), False)

    def train_step(self) -> None:
        model = self.model.train()
        model.zero_grad(set_to_none=True)
        losses = model(**self.train_data, mode='loss')
        total, _ = model.parse_losses(losses)  # as the runner's train_step sums them
        total.backward()

    def infer(self) -> None:
        model = self.model.eval()
        with torch.no_grad():
            model(**self.test_data, mode='predict')


def profile_table(fn: Callable[[], None], rows: int = 15) -> str:
    """torch.profiler's top ``rows`` ops by self CPU time for one call of ``fn``."""
    from torch.profiler import ProfilerActivity, profile
    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    return prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=rows)


def time_pair(moe: Runner, dense: Runner, rounds: int, warmup: int) -> Dict[str, object]:
    times = alternate({'moe_train': moe.train_step, 'dense_train': dense.train_step,
                       'moe_infer': moe.infer, 'dense_infer': dense.infer}, rounds, warmup)
    out: Dict[str, object] = {}
    for mode, key in (('train', 'train_step'), ('infer', 'infer')):
        ratios = paired_ratios(times[f'moe_{mode}'], times[f'dense_{mode}'])
        out[f'{key}_ratio'] = median(ratios)
        out[f'{key}_ratio_quartiles'] = quartiles(ratios)
        out[f'{key}_s'] = {'moe': median(times[f'moe_{mode}']),
                           'dense': median(times[f'dense_{mode}'])}
    return out


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--placements', nargs='+', default=list(PLACEMENTS),
                        choices=PLACEMENTS, help='placements to time (default all four)')
    parser.add_argument('--pair', nargs=3, action='append', metavar=('NAME', 'MOE', 'DENSE'),
                        help='time this (MoE config, dense config) pair instead')
    parser.add_argument('--rounds', type=int, default=5, help='timed rounds per placement')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    parser.add_argument('--profile', action='store_true',
                        help='print torch.profiler tables of one training step of each model')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    load_at_start = os.getloadavg()
    pairs: List[Tuple[str, str, str]] = (
        [tuple(p) for p in args.pair] if args.pair
        else [(p, *demo_pair(p)) for p in args.placements])
    results, headlines = {}, {}
    for name, moe_cfg, dense_cfg in pairs:
        moe, dense = Runner(moe_cfg), Runner(dense_cfg)
        figures = time_pair(moe, dense, args.rounds, args.warmup)
        figures.update(moe_config=osp.relpath(moe_cfg, REPO),
                       dense_config=osp.relpath(dense_cfg, REPO), rounds=args.rounds)
        results[name] = figures
        print(f"{name}: train step {figures['train_step_s']['moe']:.3f} s vs "
              f"{figures['train_step_s']['dense']:.3f} s, ratio {figures['train_step_ratio']:.3f}"
              f" {figures['train_step_ratio_quartiles']}; infer {figures['infer_s']['moe']:.3f} s "
              f"vs {figures['infer_s']['dense']:.3f} s, ratio {figures['infer_ratio']:.3f} "
              f"{figures['infer_ratio_quartiles']}", flush=True)
        if args.profile:
            for label, runner in (('MoE', moe), ('dense twin', dense)):
                print(f'--- {name}, {label}: one training step\n'
                      f'{profile_table(runner.train_step)}', flush=True)
        for key in ('train_step_ratio', 'infer_ratio'):
            headlines[f'{name}_{key}'] = headline(figures[key], TARGET)
        del moe, dense
    return write_json(args.json, results, headlines, load_at_start)


if __name__ == '__main__':
    main()
