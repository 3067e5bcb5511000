"""Plots of an ablation, from the rows of its ``results.csv`` alone (no model, no cell dirs).

Every point is the mean over seeds; whiskers span the seeds' min and max, and the single
seeds are drawn as small dots, so a difference can be read against the seed spread.

- :func:`plot_nds_per_placement`: clean NDS per placement, one bar per model kind (MoE, dense
  twin, and any other varied setting);
- :func:`plot_moe_vs_dense`: NDS(MoE) - NDS(dense twin), paired by seed, per placement, one
  panel per condition;
- :func:`plot_clean_vs_conditions`: NDS per condition (clean first), one line per variant.

Rendered through a bare matplotlib ``Figure`` (never pyplot), like ``robustness_plots``.
"""
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
from matplotlib.figure import Figure

from fusion_moe.ablation.aggregate import (Spread, Variant, conditions_in, fixed_settings,
                                           moe_minus_dense, spreads, variant_label)


def _whiskers(ax, x: float, spread: Spread, width: float = 0.0) -> None:
    ax.errorbar([x], [spread.mean], yerr=[[spread.mean - spread.min], [spread.max - spread.mean]],
                fmt='none', ecolor='black', elinewidth=1, capsize=3)
    seeds = [v for _, v in spread.values]
    offsets = np.linspace(-width / 4, width / 4, len(seeds)) if len(seeds) > 1 else [0.0]
    ax.scatter([x + o for o in offsets], seeds, s=9, color='black', zorder=3)


def _save(fig: Figure, out_path: str) -> str:
    fig.tight_layout()
    fig.savefig(out_path, dpi=90)
    return out_path


def _split(variant: Variant) -> Tuple[str, Variant]:
    placement = dict(variant).get('placement', '')
    return placement, tuple((c, v) for c, v in variant if c != 'placement')


def plot_nds_per_placement(rows: Sequence[Dict[str, str]], out_path: str,
                           condition: str = 'clean') -> str:
    stats = {_split(v): s for (v, c), s in spreads(rows).items() if c == condition}
    if not stats:
        raise ValueError(f'no ok row of condition {condition!r} to plot')
    placements = list(dict.fromkeys(p for p, _ in stats))
    series = list(dict.fromkeys(kind for _, kind in stats))
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(5.0, 1.6 * len(placements) + 2), 3.6))
    ax = fig.subplots()
    for j, kind in enumerate(series):
        color = f'C{j % 10}'
        xs, means = [], []
        for i, placement in enumerate(placements):
            spread = stats.get((placement, kind))
            if spread is None:
                continue
            x = i + (j - (len(series) - 1) / 2) * width
            xs.append(x)
            means.append(spread.mean)
            _whiskers(ax, x, spread, width)
        ax.bar(xs, means, width=width * 0.9, color=color, alpha=0.7,
               label=variant_label(kind) or 'all')
    fixed = fixed_settings(rows).get('placement', '-')
    ax.set_xticks(range(len(placements)), [p or fixed for p in placements])
    ax.set(xlabel='placement', ylabel=f'NDS, {condition} (mean; seed min-max)',
           title=f'NDS per placement ({condition})')
    ax.set_ylim(bottom=0.0)
    ax.legend(fontsize=7, loc='lower right')
    return _save(fig, out_path)


def plot_moe_vs_dense(rows: Sequence[Dict[str, str]], out_path: str) -> str:
    diffs = moe_minus_dense(rows)
    if not diffs:
        raise ValueError('no MoE / dense-twin pair (same setting and seed) to plot')
    conditions = [c for c in conditions_in(rows) if any(k[1] == c for k in diffs)]
    variants = list(dict.fromkeys(v for v, _ in diffs))
    cols = min(3, len(conditions))
    nrows = math.ceil(len(conditions) / cols)
    fig = Figure(figsize=(max(4.2, 1.1 * len(variants) + 1.5) * cols, 3.2 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax, condition in zip(axes.flat, conditions):
        for i, variant in enumerate(variants):
            spread = diffs.get((variant, condition))
            if spread is not None:
                ax.bar([i], [spread.mean], width=0.6, color='C0' if spread.mean >= 0 else 'C3',
                       alpha=0.7)
                _whiskers(ax, i, spread, 0.6)
        ax.axhline(0.0, color='black', linewidth=0.8)
        ax.set_xticks(range(len(variants)), [variant_label(v) for v in variants], fontsize=7,
                      rotation=20)
        ax.set(title=condition, ylabel='NDS: MoE - dense twin')
    for ax in list(axes.flat)[len(conditions):]:
        ax.axis('off')
    fig.suptitle('MoE minus its dense twin, paired by seed (mean; whiskers: seed min-max)')
    return _save(fig, out_path)


def plot_clean_vs_conditions(rows: Sequence[Dict[str, str]], out_path: str) -> str:
    stats = spreads(rows)
    if not stats:
        raise ValueError('no ok row to plot')
    conditions = conditions_in(rows)
    variants = list(dict.fromkeys(v for v, _ in stats))
    fig = Figure(figsize=(max(5.0, 1.3 * len(conditions) + 3), 3.8))
    ax = fig.subplots()
    markers = 'os^vDP*X'
    for k, variant in enumerate(variants):
        xs: List[float] = []
        spreads_here: List[Spread] = []
        shift = (k - (len(variants) - 1) / 2) * 0.03 * len(conditions)
        for i, condition in enumerate(conditions):
            spread = stats.get((variant, condition))
            if spread is not None:
                xs.append(i + shift)
                spreads_here.append(spread)
        if not xs:
            continue
        means = [s.mean for s in spreads_here]
        ax.errorbar(xs, means, yerr=[[m - s.min for m, s in zip(means, spreads_here)],
                                     [s.max - m for m, s in zip(means, spreads_here)]],
                    marker=markers[k % len(markers)], linestyle='-', linewidth=1, capsize=2,
                    color=f'C{k % 10}', label=variant_label(variant))
    ax.set_xticks(range(len(conditions)), conditions)
    ax.set(xlabel='condition', ylabel='NDS',
           title='NDS clean and under each condition (mean; whiskers: seed min-max)')
    ax.set_ylim(bottom=0.0)
    ax.legend(fontsize=7, loc='lower left', ncol=2 if len(variants) > 4 else 1)
    return _save(fig, out_path)


__all__ = ['plot_clean_vs_conditions', 'plot_moe_vs_dense', 'plot_nds_per_placement']
