"""Benchmark the MoE layer's sorted dispatch against a dense FFN and a GShard one-hot einsum.

    python benchmarks/moe_layer.py [--repeats 7] [--json out.json]

One thread (``torch.set_num_threads(1)``), CPU, float32. For every case the three
implementations run alternately (the order rotates every round, so slow drift of a shared
machine hits all of them alike) and the medians are reported:

- ``moe``: ``fusion_moe.models.moe.MoELayer`` with a TopKRouter, dropless, including its router
  and auxiliary losses, i.e. exactly what a training step runs. Routing statistics are computed
  when read (the statistics hook reads them in validation and test), so neither a training step
  nor this benchmark computes them.
- ``dense``: ``Linear(d, k*h) -> GELU -> Linear(k*h, d)``, the same active FLOPs per token.
- ``einsum``: GShard-style dispatch written here (groups of 1024 tokens, capacity factor 1.25,
  one-hot (G, S, E, C) dispatch/combine tensors and einsums); the reference the sorted
  dispatch replaces.

Each case starts with the C allocator settled (see ``settle_allocator``), so a case timed on its
own (``--only``) measures what it measures after another case.

"forward" runs under ``torch.no_grad()``; "forward+backward" is a training step's forward and
``backward()`` of the output sum. Ratios are moe / dense and einsum / moe from the same run;
``paired_ratio_quartiles`` adds, per case and mode, the quartiles of the per-round moe / dense
ratios, to show how much one figure moves on a noisy machine.
"""
import argparse
import json
import math
import statistics
import time
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.models.moe import DenseFFN, MoELayer

CASES = {
    'large': dict(tokens=32768, channels=128, hidden=256, experts=8, top_k=2),
    'small': dict(tokens=8192, channels=64, hidden=128, experts=4, top_k=1),
}


class GShardEinsumMoE(nn.Module):
    """Reference: one-hot (groups, tokens, experts, capacity) dispatch and combine by einsum.

    Top-k routing as in GShard: positions inside each expert come from a cumulative sum of the
    one-hot masks, first choices before second choices; assignments beyond capacity drop.
    """

    def __init__(self, channels: int, hidden: int, experts: int, top_k: int,
                 group_size: int = 1024, capacity_factor: float = 1.25) -> None:
        super().__init__()
        self.num_experts, self.top_k, self.group_size = experts, top_k, group_size
        self.capacity = math.ceil(capacity_factor * group_size * top_k / experts)
        self.gate = nn.Linear(channels, experts, bias=False)
        self.w1 = nn.Parameter(torch.randn(experts, channels, hidden) / math.sqrt(channels))
        self.b1 = nn.Parameter(torch.zeros(experts, 1, hidden))
        self.w2 = nn.Parameter(torch.randn(experts, hidden, channels) / math.sqrt(hidden))
        self.b2 = nn.Parameter(torch.zeros(experts, 1, channels))

    def forward(self, x_TD: Tensor) -> Tensor:
        num_tokens, channels = x_TD.shape
        groups = num_tokens // self.group_size
        x_GSD = x_TD.view(groups, self.group_size, channels)
        probs_GSE = torch.softmax(self.gate(x_GSD).float(), dim=-1)
        gates_GSK, experts_GSK = torch.topk(probs_GSE, self.top_k, dim=-1)
        combine_GSEC = x_TD.new_zeros(groups, self.group_size, self.num_experts, self.capacity)
        filled_GE = torch.zeros(groups, 1, self.num_experts)
        for k in range(self.top_k):
            mask_GSE = F.one_hot(experts_GSK[..., k], self.num_experts).float()
            position_GSE = (torch.cumsum(mask_GSE, dim=1) - 1 + filled_GE) * mask_GSE
            filled_GE = filled_GE + mask_GSE.sum(1, keepdim=True)
            mask_GSE = mask_GSE * (position_GSE < self.capacity)
            position_GS = (position_GSE * mask_GSE).sum(-1).long()
            slot_GSC = F.one_hot(position_GS, self.capacity).float()
            combine_GSEC = combine_GSEC + (gates_GSK[..., k, None] * mask_GSE)[..., None] * \
                slot_GSC[:, :, None, :]
        dispatch_GSEC = (combine_GSEC > 0).to(x_TD.dtype)
        in_EGCD = torch.einsum('gsec,gsd->egcd', dispatch_GSEC, x_GSD)
        in_ND = in_EGCD.reshape(self.num_experts, groups * self.capacity, channels)
        h = F.gelu(torch.baddbmm(self.b1, in_ND, self.w1))
        out_EGCD = torch.baddbmm(self.b2, h, self.w2).view(self.num_experts, groups,
                                                           self.capacity, channels)
        out_GSD = torch.einsum('gsec,egcd->gsd', combine_GSEC, out_EGCD)
        return out_GSD.reshape(num_tokens, channels)


def _time_forward(fn: Callable[[], Tensor]) -> float:
    with torch.no_grad():
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


def _time_forward_backward(fn: Callable[[], Tensor]) -> float:
    start = time.perf_counter()
    fn().sum().backward()
    return time.perf_counter() - start


def settle_allocator() -> None:
    """Put the C allocator in a training loop's steady state before a case is timed.

    glibc's malloc maps blocks above its mmap threshold (128 kB at start) fresh on every
    allocation and page-faults them in; freeing one such block raises the threshold to its size
    (up to 32 MB), after which multi-MB tensors are reused from the heap. A training process gets
    there after its first step. Without this, a case timed first in a fresh process (e.g.
    ``--only small``) charges both implementations page faults that the same case timed after
    another one does not: the small dense FFN took 15 ms per forward+backward cold and 10.7 ms
    settled, the MoE 17.2 and 16.4 ms (2026-12-02). Harmless with other allocators.
    """
    block = torch.empty(4 * 1024 * 1024)  # 16 MB: below the 32 MB cap, so it sets the threshold
    block.fill_(0.0)
    del block


def run_case(tokens: int, channels: int, hidden: int, experts: int, top_k: int,
             repeats: int, warmup: int = 2, with_einsum: bool = True
             ) -> Tuple[Dict[str, float], Dict[str, List[float]]]:
    """Median seconds per implementation and mode, measured alternately in one run, and the
    quartiles ``[q1, median, q3]`` of the per-round moe / dense ratios per mode (a round's
    timings are seconds apart, so slow drift of a shared machine cancels in each ratio; the
    spread shows how far a single figure can be trusted)."""
    if repeats < 2:
        raise ValueError(f'--repeats must be >= 2 for quartiles, got {repeats}')
    settle_allocator()
    torch.manual_seed(0)
    x = torch.randn(tokens, channels, requires_grad=True)
    moe = MoELayer(channels, hidden, experts, router=dict(type='TopKRouter', top_k=top_k))
    dense = DenseFFN(channels, top_k * hidden, channels)
    impls = {'moe': lambda: moe(x)[0], 'dense': lambda: dense(x)}
    if with_einsum:
        einsum = GShardEinsumMoE(channels, hidden, experts, top_k)
        impls['einsum'] = lambda: einsum(x)
    names = list(impls)
    times = {f'{n}_{mode}': [] for n in names for mode in ('fwd', 'fwd_bwd')}
    for r in range(warmup + repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            t_fwd = _time_forward(impls[name])
            t_fwd_bwd = _time_forward_backward(impls[name])
            x.grad = None
            if r >= warmup:
                times[f'{name}_fwd'].append(t_fwd)
                times[f'{name}_fwd_bwd'].append(t_fwd_bwd)
    medians = {key: statistics.median(v) for key, v in times.items()}
    quartiles = {mode: statistics.quantiles(
        [m / d for m, d in zip(times[f'moe_{mode}'], times[f'dense_{mode}'])], n=4)
        for mode in ('fwd', 'fwd_bwd')}
    return medians, quartiles


def _quartiles(q: List[float]) -> str:
    return f'{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds per case')
    parser.add_argument('--json', type=str, default=None, help='write the figures here')
    parser.add_argument('--only', choices=tuple(CASES), default=None,
                        help='run one case only (prints its table, writes no ratios)')
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.only:
        med, quartiles = run_case(**CASES[args.only], repeats=args.repeats,
                                  with_einsum=args.only == 'large')
        for key, value in med.items():
            print(f'{args.only:<6} {key:<16} {1e3 * value:9.1f} ms')
        print(f"moe/dense fwd {med['moe_fwd'] / med['dense_fwd']:.3f}  "
              f"fwd+bwd {med['moe_fwd_bwd'] / med['dense_fwd_bwd']:.3f}")
        print('per-round moe/dense quartiles  fwd ' + _quartiles(quartiles['fwd'])
              + '  fwd+bwd ' + _quartiles(quartiles['fwd_bwd']))
        return
    results, quartiles = {}, {}
    for case, shape in CASES.items():
        # The small case is ~25x cheaper: take 3x the samples so its median is as stable.
        repeats = args.repeats if case == 'large' else 3 * args.repeats
        results[case], quartiles[case] = run_case(**shape, repeats=repeats,
                                                  with_einsum=(case == 'large'))
    large, small = results['large'], results['small']
    figures = {
        'threads': torch.get_num_threads(),
        'repeats': {'large': args.repeats, 'small': 3 * args.repeats},
        'cases': {case: dict(shape=CASES[case], median_seconds=results[case])
                  for case in CASES},
        'fwd_ratio_vs_dense': large['moe_fwd'] / large['dense_fwd'],
        'fwd_bwd_ratio_vs_dense': large['moe_fwd_bwd'] / large['dense_fwd_bwd'],
        'speedup_vs_einsum': large['einsum_fwd_bwd'] / large['moe_fwd_bwd'],
        'fwd_speedup_vs_einsum': large['einsum_fwd'] / large['moe_fwd'],
        'small_fwd_ratio_vs_dense': small['moe_fwd'] / small['dense_fwd'],
        'small_fwd_bwd_ratio_vs_dense': small['moe_fwd_bwd'] / small['dense_fwd_bwd'],
        'paired_ratio_quartiles': quartiles,
        'targets': {'fwd_bwd_ratio_vs_dense': '<= 1.10', 'speedup_vs_einsum': '>= 4',
                    'small_fwd_bwd_ratio_vs_dense': '<= 1.3'},
    }

    print(f"{'case':<6} {'impl':<7} {'fwd ms':>9} {'fwd+bwd ms':>11}")
    for case, med in results.items():
        for impl in ('moe', 'dense', 'einsum'):
            if f'{impl}_fwd' in med:
                print(f"{case:<6} {impl:<7} {1e3 * med[f'{impl}_fwd']:>9.1f} "
                      f"{1e3 * med[f'{impl}_fwd_bwd']:>11.1f}")
    for key in ('fwd_ratio_vs_dense', 'fwd_bwd_ratio_vs_dense', 'speedup_vs_einsum',
                'fwd_speedup_vs_einsum', 'small_fwd_ratio_vs_dense',
                'small_fwd_bwd_ratio_vs_dense'):
        print(f'{key:<30} {figures[key]:.3f}')
    for case in CASES:
        print(f'{case:<6} per-round moe/dense quartiles  fwd {_quartiles(quartiles[case]["fwd"])}'
              f'  fwd+bwd {_quartiles(quartiles[case]["fwd_bwd"])}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(figures, f, indent=2)
        print(f'wrote {args.json}')


if __name__ == '__main__':
    main()
