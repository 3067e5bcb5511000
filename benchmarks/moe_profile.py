"""Where the MoE layer's training step spends its time, against the dense FFN (one thread).

    python benchmarks/moe_profile.py [--json PATH] [--steps N]

For both cases of ``benchmarks/moe_layer.py`` (large: T=32768, D=128, F=256, E=8, K=2; small:
T=8192, D=64, F=128, E=4, K=1), a training step is forward + ``backward()`` of ``y.sum()`` plus
the aux losses, as there. Reported:

1. ATen ops per training step, counted by ``torch.profiler`` (one profiled step after warm-up):
   ``aten_ops_top_level`` (ATen ops not called from inside another ATen op: what Python and
   the autograd engine dispatch) and ``aten_ops_all`` (nested ones too), MoE and dense.
2. Forward regions of the MoE step, timed with ``perf_counter`` around the router, the experts
   (on the dispatch-sorted rows) and the balance loss in ``--steps`` steps (medians, ms), and
   the same calls with the same inputs timed alone, back to back. The gap between the two is
   the cost of a small op that follows large ones, not of its own work.
3. Tiny-op latency: ``torch.empty(4, 4)`` and ``t.mean(0)`` on a (8192, 4) tensor, timed alone
   (warm, back to back) and right after a GELU on (8192, 128) (medians, microseconds).

The step medians of MoE and dense come from the same alternating rounds.
"""
import argparse
import os
import sys
import time
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fusion_moe.models.moe.record as record_module  # noqa: E402
from _common import alternate, headline, median, write_json  # noqa: E402
from fusion_moe.models.moe import DenseFFN, MoELayer  # noqa: E402
from moe_layer import CASES, moe_step, settle_allocator, training_step  # noqa: E402


class RegionTimer:
    """Wraps callables so every call's wall time (and its last arguments) is recorded."""

    def __init__(self) -> None:
        self.seconds: Dict[str, List[float]] = {}
        self.last_args: Dict[str, tuple] = {}

    def wrap(self, name: str, fn: Callable) -> Callable:
        self.seconds[name] = []

        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            self.seconds[name].append(time.perf_counter() - start)
            self.last_args[name] = (args, kwargs)
            return out
        return timed


def count_aten_ops(run: Callable[[], None]) -> Dict[str, int]:
    """ATen ops of one call of ``run`` (top-level and all), from the profiler's event tree."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run()
    events = [e for e in prof.events() if e.name.startswith('aten::')]

    def top_level(e) -> bool:
        parent = e.cpu_parent
        while parent is not None:
            if parent.name.startswith('aten::'):
                return False
            parent = parent.cpu_parent
        return True
    return {'aten_ops_all': len(events), 'aten_ops_top_level': sum(map(top_level, events))}


def _alone_ms(fn: Callable[[], object], repeats: int = 50) -> float:
    times = []
    for _ in range(repeats + 5):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * median(times[5:])


def profile_case(tokens: int, channels: int, hidden: int, experts: int, top_k: int,
                 steps: int) -> dict:
    settle_allocator()
    torch.manual_seed(0)
    x = torch.randn(tokens, channels, requires_grad=True)
    moe = MoELayer(channels, hidden, experts, router=dict(type='TopKRouter', top_k=top_k))
    dense = DenseFFN(channels, top_k * hidden, channels)
    moe_run = training_step(moe_step(moe), x)
    dense_run = training_step(lambda x_TD: (dense(x_TD), None), x)
    for _ in range(2):
        moe_run(), dense_run()
    ops = {'moe': count_aten_ops(moe_run), 'dense': count_aten_ops(dense_run)}

    timer = RegionTimer()
    router, experts_ffn = moe.routers[0], moe.experts['ffn']
    router.forward = timer.wrap('router', router.forward)
    experts_ffn.forward = timer.wrap('experts', experts_ffn.forward)
    original_balance = record_module.load_balance_loss
    record_module.load_balance_loss = timer.wrap('balance_loss', original_balance)
    try:
        times = alternate({'moe': moe_run, 'dense': dense_run}, rounds=steps, warmup=1)
    finally:
        del router.forward, experts_ffn.forward
        record_module.load_balance_loss = original_balance
    in_layer = {name: 1e3 * median(v[-steps:]) for name, v in timer.seconds.items()}
    calls = {'router': router, 'experts': experts_ffn, 'balance_loss': original_balance}
    alone = {}
    for name, fn in calls.items():
        args, kwargs = timer.last_args[name]
        alone[name] = _alone_ms(lambda: fn(*args, **kwargs))
    moe_ms, dense_ms = 1e3 * median(times['moe']), 1e3 * median(times['dense'])
    return {
        'shape': dict(tokens=tokens, channels=channels, hidden=hidden, experts=experts,
                      top_k=top_k),
        'ops_per_step': ops, 'step_ms': {'moe': moe_ms, 'dense': dense_ms},
        'forward_regions_in_layer_ms': in_layer, 'forward_regions_alone_ms': alone,
    }


def tiny_op_latency(repeats: int = 200) -> Dict[str, float]:
    """Median microseconds of two tiny ops, warm and right after a (8192, 128) GELU."""
    big = torch.randn(8192, 128)
    small = torch.randn(8192, 4)
    ops = {'empty_4x4': lambda: torch.empty(4, 4), 'mean_8192x4': lambda: small.mean(0)}
    out = {}
    for name, op in ops.items():
        warm, after = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            op()
            warm.append(time.perf_counter() - start)
            F.gelu(big)
            start = time.perf_counter()
            op()
            after.append(time.perf_counter() - start)
        out[f'{name}_warm_us'] = 1e6 * median(warm)
        out[f'{name}_after_gelu_us'] = 1e6 * median(after)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--steps', type=int, default=15, help='timed steps per case')
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_at_start = os.getloadavg()
    figures = {'steps': args.steps}
    for case, shape in CASES.items():
        figures[case] = profile_case(**shape, steps=args.steps)
        r = figures[case]
        print(f"{case}: step ms moe {r['step_ms']['moe']:.1f} dense {r['step_ms']['dense']:.1f};"
              f" ATen ops per step (top-level / all) moe {r['ops_per_step']['moe']} "
              f"dense {r['ops_per_step']['dense']}")
        for name, ms in r['forward_regions_in_layer_ms'].items():
            print(f"  {name:<13} in the layer {ms:8.3f} ms   alone "
                  f"{r['forward_regions_alone_ms'][name]:8.3f} ms")
    figures['tiny_ops'] = tiny_op_latency()
    for name, us in figures['tiny_ops'].items():
        print(f'  {name:<28} {us:8.2f} us')
    write_json(args.json, figures, {
        f'{case}_aten_ops_per_step_moe_over_dense': headline(
            figures[case]['ops_per_step']['moe']['aten_ops_top_level']
            / figures[case]['ops_per_step']['dense']['aten_ops_top_level'])
        for case in CASES}, load_at_start)


if __name__ == '__main__':
    main()
