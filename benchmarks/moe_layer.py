"""Benchmark the MoE layer against a dense FFN of equal active FLOPs and, with ``--peers``,
against the published PyPI MoE packages at the same shape and work.

    python benchmarks/moe_layer.py [--repeats 7] [--peers] [--peer-repeats 5] [--json PATH]

One thread (``torch.set_num_threads(1)``), CPU, float32. The implementations of a case run
alternately (the order rotates every round, so slow drift of a shared machine hits all alike);
medians are reported, with the quartiles of the per-round ratios.

Implementations:

- ``moe``: ``fusion_moe.models.moe.MoELayer`` with a TopKRouter, dropless. A training step is
  its forward and ``backward()`` of ``y.sum()`` plus its weighted auxiliary losses (balance
  0.01, router z-loss 0.001), as the detector's loss dict does. Routing statistics are computed
  when read, so neither a training step nor this benchmark computes them.
- ``dense``: ``Linear(D, K*F) -> GELU -> Linear(K*F, D)``: the same active FLOPs per token.
- ``einsum``: an *internal reference* written in this file (GShard one-hot dispatch, groups of
  1024 tokens, capacity 1.25 x S*K/E, overflow dropped), not a package anyone ships.
- ``--peers`` (large case, training step only): ``mixture-of-experts``, ``st-moe-pytorch`` and
  ``soft-moe-pytorch`` (benchmarks/_moe_peers.py, installed by the ``bench`` extra), each with
  its own aux loss in the backward, and our ``SoftMoERouter`` at soft-moe-pytorch's grouping
  and slot count (its like-for-like row). Each row carries the package's differences.

"forward" runs under ``torch.no_grad()``. Each case starts with the C allocator settled
(``settle_allocator``), so a case timed on its own (``--only``) measures what it measures
after another case.
"""
# make-bench-args: --peers
import argparse
import math
import os
import sys
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import alternate, headline, median, paired_ratios, quartiles, write_json  # noqa
from fusion_moe.models.moe import DenseFFN, MoELayer  # noqa: E402

CASES = {
    'large': dict(tokens=32768, channels=128, hidden=256, experts=8, top_k=2),
    'small': dict(tokens=8192, channels=64, hidden=128, experts=4, top_k=1),
}
PEER_GROUP_SIZE = 1024  # tokens per sequence for the packages that dispatch per sequence
# GShard's capacity 1.25 per routed assignment. Both einsum packages size an expert's buffer
# as cf * S / E (no K), so 2.5 = 1.25 * K; at their default 1.25 they drop 37.5% of top-2.
PEER_CAPACITY_FACTOR = 2.5
TARGETS = {'fwd_bwd_ratio_vs_dense': '<= 1.10', 'small_fwd_bwd_ratio_vs_dense': '<= 1.3',
           'speedup_vs_einsum_reference': '>= 4'}


class GShardEinsumMoE(nn.Module):
    """Internal reference: one-hot (groups, tokens, experts, capacity) dispatch by einsum.

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


Step = Callable[[Tensor], Tuple[Tensor, Optional[Tensor]]]


def moe_step(moe: MoELayer, **kwargs) -> Step:
    """Our layer as a training step's two terms: output and the sum of its weighted aux losses."""
    def step(x_TD: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        y_TD, record = moe(x_TD, **kwargs)
        return y_TD, sum(record.aux_losses.values()) if record.aux_losses else None
    return step


def training_step(step: Step, x_TD: Tensor) -> Callable[[], None]:
    """Forward, ``backward()`` of ``y.sum() + aux``, gradients of ``x`` cleared."""
    def run() -> None:
        y_TD, aux = step(x_TD)
        loss = y_TD.sum() if aux is None else y_TD.sum() + aux
        loss.backward()
        x_TD.grad = None
    return run


def forward_only(step: Step, x_TD: Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            step(x_TD)
    return run


def settle_allocator() -> None:
    """Put the C allocator in a training loop's steady state before a case is timed.

    glibc's malloc maps blocks above its mmap threshold (128 kB at start) fresh on every
    allocation and page-faults them in; freeing one such block raises the threshold to its size
    (up to 32 MB), after which multi-MB tensors are reused from the heap. A training process gets
    there after its first step. Without this, a case timed first in a fresh process (e.g.
    ``--only small``) charges both implementations page faults that the same case timed after
    another one does not. Harmless with other allocators.
    """
    block = torch.empty(4 * 1024 * 1024)  # 16 MB: below the 32 MB cap, so it sets the threshold
    block.fill_(0.0)
    del block


def _input(tokens: int, channels: int) -> Tensor:
    torch.manual_seed(0)
    return torch.randn(tokens, channels, requires_grad=True)


def run_case(tokens: int, channels: int, hidden: int, experts: int, top_k: int,
             repeats: int, warmup: int = 2, with_einsum: bool = True
             ) -> Tuple[Dict[str, float], Dict[str, List[float]]]:
    """Median seconds per ``<impl>_fwd`` / ``<impl>_fwd_bwd``, all timed alternately in one run,
    and the quartiles ``[q1, median, q3]`` of the per-round moe / dense ratios per mode."""
    settle_allocator()
    x = _input(tokens, channels)
    moe = MoELayer(channels, hidden, experts, router=dict(type='TopKRouter', top_k=top_k))
    dense = DenseFFN(channels, top_k * hidden, channels)
    steps: Dict[str, Step] = {'moe': moe_step(moe), 'dense': lambda x_TD: (dense(x_TD), None)}
    if with_einsum:
        einsum = GShardEinsumMoE(channels, hidden, experts, top_k)
        steps['einsum'] = lambda x_TD: (einsum(x_TD), None)
    fns = {}
    for name, step in steps.items():
        fns[f'{name}_fwd'] = forward_only(step, x)
        fns[f'{name}_fwd_bwd'] = training_step(step, x)
    times = alternate(fns, rounds=repeats, warmup=warmup)
    medians = {key: median(v) for key, v in times.items()}
    ratio_quartiles = {mode: quartiles(paired_ratios(times[f'moe_{mode}'], times[f'dense_{mode}']))
                       for mode in ('fwd', 'fwd_bwd')}
    return medians, ratio_quartiles


def run_peers(repeats: int, warmup: int = 1) -> dict:
    """Training steps of our layer, the dense FFN, the packages, our soft MoE and the einsum
    reference at the large case's shape, alternately; medians and per-round ratios to ours."""
    from _moe_peers import build_peers
    shape = CASES['large']
    tokens, channels, hidden, experts, top_k = (shape[k] for k in (
        'tokens', 'channels', 'hidden', 'experts', 'top_k'))
    settle_allocator()
    x = _input(tokens, channels)
    torch.manual_seed(0)
    moe = MoELayer(channels, hidden, experts, router=dict(type='TopKRouter', top_k=top_k))
    dense = DenseFFN(channels, top_k * hidden, channels)
    slots = top_k * PEER_GROUP_SIZE // experts
    soft = MoELayer(channels, hidden, experts,
                    router=dict(type='SoftMoERouter', slots_per_expert=slots, top_k=top_k))
    sample_ids = torch.arange(tokens // PEER_GROUP_SIZE).repeat_interleave(PEER_GROUP_SIZE)
    einsum = GShardEinsumMoE(channels, hidden, experts, top_k, group_size=PEER_GROUP_SIZE)
    rows = {
        'fusion_moe MoELayer (TopKRouter)': dict(
            step=moe_step(moe), kept=1.0,
            notes='ours: dropless sorted dispatch, GELU FFN experts with biases, balance '
                  '0.01 + z-loss 0.001'),
        'dense FFN (hidden K*F)': dict(
            step=lambda x_TD: (dense(x_TD), None), kept=1.0,
            notes='equal active FLOPs per token, no routing'),
    }
    for peer in build_peers(channels, hidden, experts, top_k, PEER_GROUP_SIZE,
                            PEER_CAPACITY_FACTOR):
        rows[f'{peer.name} {peer.version}'] = dict(step=peer.step, kept=peer.kept_fraction(x),
                                                   notes=peer.notes)
    rows['fusion_moe MoELayer (SoftMoERouter)'] = dict(
        step=moe_step(soft, sample_ids=sample_ids), kept=1.0,
        notes=f'ours, soft routing at soft-moe-pytorch\'s grouping ({PEER_GROUP_SIZE} tokens) '
              f'and slots ({experts}x{slots}); balance + z-loss on the slot logits')
    rows['einsum (internal reference)'] = dict(
        step=lambda x_TD: (einsum(x_TD), None), kept=None,
        notes='written in this file, not a package: GShard one-hot dispatch, capacity 1.25 x '
              'S*K/E, overflow dropped, no aux loss')
    times = alternate({name: training_step(r['step'], x) for name, r in rows.items()},
                      rounds=repeats, warmup=warmup)
    ours = times['fusion_moe MoELayer (TopKRouter)']
    return {
        'shape': dict(shape, group_size=PEER_GROUP_SIZE, capacity_factor=PEER_CAPACITY_FACTOR),
        'rounds': repeats, 'warmup_rounds': warmup,
        'rows': {name: dict(median_s=median(times[name]),
                            ratio_to_ours_quartiles=quartiles(paired_ratios(times[name], ours)),
                            kept_fraction=r['kept'], notes=r['notes'])
                 for name, r in rows.items()},
    }


def _q(q: List[float]) -> str:
    return f'{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]'


def _print_peers(peers: dict) -> None:
    print(f"\npeers: training step (fwd + bwd through aux losses), {peers['rounds']} rounds")
    print(f"{'implementation':<44} {'median s':>9} {'x ours [q1, q3]':>26} {'kept':>6}")
    for name, row in peers['rows'].items():
        kept = '-' if row['kept_fraction'] is None else f"{row['kept_fraction']:.3f}"
        print(f"{name:<44} {row['median_s']:>9.3f} {_q(row['ratio_to_ours_quartiles']):>26} "
              f"{kept:>6}\n    {row['notes']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=7, help='timed rounds per case')
    parser.add_argument('--json', type=str, default=None, help='write the figures here')
    parser.add_argument('--only', choices=tuple(CASES), default=None,
                        help='run one case only (prints its table, writes no ratios)')
    parser.add_argument('--peers', action='store_true',
                        help='also time the published MoE packages (the bench extra)')
    parser.add_argument('--peer-repeats', type=int, default=5, help='timed rounds of --peers')
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_at_start = os.getloadavg()

    if args.only:
        med, ratio_q = run_case(**CASES[args.only], repeats=args.repeats,
                                with_einsum=args.only == 'large')
        for key, value in med.items():
            print(f'{args.only:<6} {key:<16} {1e3 * value:9.1f} ms')
        print(f"moe/dense fwd {med['moe_fwd'] / med['dense_fwd']:.3f}  "
              f"fwd+bwd {med['moe_fwd_bwd'] / med['dense_fwd_bwd']:.3f}")
        print(f"per-round moe/dense quartiles  fwd {_q(ratio_q['fwd'])}  "
              f"fwd+bwd {_q(ratio_q['fwd_bwd'])}")
        return
    results, ratio_quartiles = {}, {}
    for case, shape in CASES.items():
        # The small case is ~25x cheaper: take 3x the samples so its median is as stable.
        repeats = args.repeats if case == 'large' else 3 * args.repeats
        results[case], ratio_quartiles[case] = run_case(**shape, repeats=repeats,
                                                        with_einsum=(case == 'large'))
    large, small = results['large'], results['small']
    figures = {
        'repeats': {'large': args.repeats, 'small': 3 * args.repeats},
        'cases': {case: dict(shape=CASES[case], median_seconds=results[case])
                  for case in CASES},
        'fwd_ratio_vs_dense': large['moe_fwd'] / large['dense_fwd'],
        'fwd_bwd_ratio_vs_dense': large['moe_fwd_bwd'] / large['dense_fwd_bwd'],
        'speedup_vs_einsum_reference': large['einsum_fwd_bwd'] / large['moe_fwd_bwd'],
        'fwd_speedup_vs_einsum_reference': large['einsum_fwd'] / large['moe_fwd'],
        'small_fwd_ratio_vs_dense': small['moe_fwd'] / small['dense_fwd'],
        'small_fwd_bwd_ratio_vs_dense': small['moe_fwd_bwd'] / small['dense_fwd_bwd'],
        'paired_ratio_quartiles': ratio_quartiles,
    }
    print(f"{'case':<6} {'impl':<7} {'fwd ms':>9} {'fwd+bwd ms':>11}")
    for case, med in results.items():
        for impl in ('moe', 'dense', 'einsum'):
            if f'{impl}_fwd' in med:
                print(f"{case:<6} {impl:<7} {1e3 * med[f'{impl}_fwd']:>9.1f} "
                      f"{1e3 * med[f'{impl}_fwd_bwd']:>11.1f}")
    for case in CASES:
        print(f'{case:<6} per-round moe/dense quartiles  fwd {_q(ratio_quartiles[case]["fwd"])}'
              f'  fwd+bwd {_q(ratio_quartiles[case]["fwd_bwd"])}')
    headlines = {key: headline(figures[key], TARGETS.get(key)) for key in (
        'fwd_bwd_ratio_vs_dense', 'small_fwd_bwd_ratio_vs_dense', 'speedup_vs_einsum_reference')}
    if args.peers:
        figures['peers'] = run_peers(args.peer_repeats)
        _print_peers(figures['peers'])
        for name, row in figures['peers']['rows'].items():
            if not name.startswith('fusion_moe MoELayer (TopKRouter)'):
                headlines[f'peer_time_ratio_to_ours: {name}'] = headline(
                    row['ratio_to_ours_quartiles'][1])
    write_json(args.json, figures, headlines, load_at_start)


if __name__ == '__main__':
    main()
