"""Helpers the benchmark scripts share: alternating rounds, medians, growth exponents, and the
JSON record every script writes with ``--json PATH``.

Files whose name starts with ``_`` are helpers, not benchmarks: ``make bench`` runs every other
``benchmarks/*.py`` with ``--json benchmarks/results/<name>.json``.

The JSON convention (read by ``benchmarks/_summary.py`` for the table at the top of
benchmarks/README.md): the script's own figures, plus

- ``headlines``: ``{name: {"value": float, "target": "<= 1.1" | ">= 4" | null, "met": bool|null}}``
  the ratios the README quotes;
- ``measured``: date (UTC), commit, CPUs, torch threads and the 1/5/15-minute load averages at
  the start and end of the run (a shared machine inflates every figure; the load says how much).
"""
import datetime
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def alternate(fns: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1
              ) -> Dict[str, List[float]]:
    """Seconds per call of every ``fns`` entry, one call each per round, ``rounds`` timed rounds
    after ``warmup`` untimed ones. The order rotates every round, so slow drift of a shared
    machine hits every entry alike; round ``r``'s timings are seconds apart, so per-round
    ratios cancel most of it."""
    if rounds < 1:
        raise ValueError(f'rounds must be >= 1, got {rounds}')
    names = list(fns)
    times: Dict[str, List[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            fns[name]()
            elapsed = time.perf_counter() - start
            if r >= warmup:
                times[name].append(elapsed)
    return times


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def quartiles(values: Sequence[float]) -> List[float]:
    """``[q1, median, q3]`` (the median alone repeated when there are fewer than 2 values)."""
    if len(values) < 2:
        return [float(values[0])] * 3
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return [q1, q2, q3]


def paired_ratios(num: Sequence[float], den: Sequence[float]) -> List[float]:
    """Per-round ratios ``num[r] / den[r]`` of two entries timed in the same rounds."""
    return [a / b for a, b in zip(num, den)]


def fit_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """Least-squares slope of log(seconds) against log(size): p in ``seconds ~ size**p``.

    1 for linear growth, 2 for quadratic. Needs at least three sizes (two points always fit a
    line, so they could not show a bend) and positive values.
    """
    if len(sizes) != len(seconds) or len(sizes) < 3:
        raise ValueError(f'need >= 3 (size, seconds) pairs, got {len(sizes)} and {len(seconds)}')
    if min(sizes) <= 0 or min(seconds) <= 0:
        raise ValueError(f'sizes and seconds must be positive, got {sizes}, {seconds}')
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            / sum((x - mx) ** 2 for x in xs))


def headline(value: float, target: Optional[str] = None) -> dict:
    """One headline figure; ``target`` is ``'<= X'``, ``'>= X'`` or None (information)."""
    met = None
    if target is not None:
        op, bound = target.split()
        if op not in ('<=', '>='):
            raise ValueError(f"target must be '<= X' or '>= X', got {target!r}")
        met = value <= float(bound) if op == '<=' else value >= float(bound)
    return {'value': float(value), 'target': target, 'met': met}


def _commit() -> Optional[str]:
    try:
        out = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_record(load_at_start: Sequence[float]) -> dict:
    """The ``measured`` block: when, on what, and how loaded the machine was."""
    import torch
    return {
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d'),
        'commit': _commit(),
        'cpus': os.cpu_count(),
        'torch_threads': torch.get_num_threads(),
        'load_avg_start': [round(v, 2) for v in load_at_start],
        'load_avg_end': [round(v, 2) for v in os.getloadavg()],
    }


def write_json(path: Optional[str], figures: dict, headlines: Mapping[str, dict],
               load_at_start: Sequence[float]) -> dict:
    """Add ``headlines`` and ``measured`` to ``figures``, print the headlines, and write the
    JSON when ``path`` is given (its folder is created). Returns the full record."""
    record = dict(figures, headlines=dict(headlines), measured=run_record(load_at_start))
    for name, h in record['headlines'].items():
        verdict = '' if h['met'] is None else ('  met' if h['met'] else '  NOT MET')
        target = f"  (target {h['target']})" if h['target'] else ''
        print(f"headline {name:<40} {h['value']:.3f}{target}{verdict}")
    print(f"load average start {record['measured']['load_avg_start']} "
          f"end {record['measured']['load_avg_end']}")
    if path:
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        with open(path, 'w') as f:
            json.dump(record, f, indent=2)
        print(f'wrote {path}')
    return record
