"""Plots of a robustness run, from its results object alone (``results.json``, no model).

- :func:`plot_nds_vs_severity`: one panel per corruption, NDS against severity, the clean NDS as
  a dashed line, and the baseline's NDS beside it when the run has one;
- :func:`plot_expert_utilisation`: per MoE layer a heatmap of the per-expert load (share of
  assignments; the last column is the generalist fallback's share of tokens when the layer has
  one) with one row per condition;
- :func:`plot_fallback_vs_severity`: the token-weighted fallback rate against severity, one line
  per corruption, the clean rate dashed.

Rendered through a bare matplotlib ``Figure`` (never pyplot), like ``routing_plots``.
"""
import math
from typing import Dict, List

import numpy as np
from matplotlib.figure import Figure

from fusion_moe.evaluation.robustness.data_classes import RobustnessResults


def _severity_table(results: RobustnessResults, value) -> Dict[str, Dict[int, float]]:
    table: Dict[str, Dict[int, float]] = {}
    for cond in results.conditions.values():
        if cond.kind == 'corruption':
            v = value(cond)
            if v is not None:
                table.setdefault(cond.corruption, {})[int(cond.severity)] = float(v)
    return table


def plot_nds_vs_severity(results: RobustnessResults, out_path: str) -> str:
    table = results.corruption_table('NDS')
    if not table:
        raise ValueError('no corruption condition to plot')
    baseline = (results.baseline or {}).get('metrics', {}).get('NDS', {})
    names = list(table)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    clean = results.conditions['clean'].metric('NDS')
    for ax, name in zip(axes.flat, names):
        severities = sorted(table[name])
        ax.plot(severities, [table[name][s] for s in severities], 'o-', color='tab:blue',
                label='this model')
        ax.axhline(clean, color='tab:blue', linestyle='--', linewidth=1, label='clean')
        base = [(s, baseline[f'{name}_{s}']) for s in severities if f'{name}_{s}' in baseline]
        if base:
            ax.plot([s for s, _ in base], [v for _, v in base], 's-', color='tab:orange',
                    label='baseline')
            if 'clean' in baseline:
                ax.axhline(baseline['clean'], color='tab:orange', linestyle='--', linewidth=1,
                           label='baseline clean')
        ax.set(title=name, xlabel='severity', ylabel='NDS', xticks=severities)
        ax.set_ylim(bottom=0.0)
        ax.legend(fontsize=7, loc='lower left')
    for ax in list(axes.flat)[len(names):]:
        ax.axis('off')
    fig.suptitle(f'NDS vs severity ({results.suite["name"]} suite, devkit)')
    fig.tight_layout()
    fig.savefig(out_path, dpi=90)
    return out_path


def _utilisation_rows(results: RobustnessResults, layer: str):
    labels: List[str] = []
    rows: List[List[float]] = []
    for cond in results.conditions.values():
        entry = (cond.routing.get('layers') or {}).get(layer)
        if entry is None:
            continue
        load = list(entry['expert_load'])
        labels.append(cond.name)
        rows.append(load + [float(entry.get('fallback_rate', 0.0))])
    return labels, np.asarray(rows, dtype=np.float64)


def plot_expert_utilisation(results: RobustnessResults, out_path: str) -> str:
    layers = results.model.moe_layers
    if not layers:
        raise ValueError('a dense model has no expert utilisation to plot')
    rows = len(results.conditions) * len(layers)
    fig = Figure(figsize=(7.5, 0.9 + 0.32 * rows + 0.8 * len(layers)))
    axes = fig.subplots(len(layers), 1, squeeze=False)[:, 0]
    for ax, layer in zip(axes, layers):
        labels, matrix = _utilisation_rows(results, layer)
        if not labels:
            ax.axis('off')
            ax.set_title(f'{layer}: no routing recorded')
            continue
        image = ax.imshow(matrix, vmin=0.0, vmax=max(1e-6, float(matrix.max())),
                          cmap='viridis', aspect='auto')
        experts = matrix.shape[1] - 1
        ax.set(title=f'{layer}: expert load per condition',
               xticks=np.arange(experts + 1),
               xticklabels=[str(e) for e in range(experts)] + ['fallback'],
               yticks=np.arange(len(labels)), yticklabels=labels, xlabel='expert')
        fig.colorbar(image, ax=ax, label='share')
    fig.tight_layout()
    fig.savefig(out_path, dpi=90)
    return out_path


def plot_fallback_vs_severity(results: RobustnessResults, out_path: str) -> str:
    def fallback(cond):
        return (cond.routing.get('overall') or {}).get('fallback_rate')
    table = _severity_table(results, fallback)
    fig = Figure(figsize=(6.0, 4.0))
    ax = fig.subplots()
    for name, by_severity in table.items():
        severities = sorted(by_severity)
        ax.plot(severities, [by_severity[s] for s in severities], 'o-', label=name)
    clean = fallback(results.conditions['clean'])
    if clean is not None:
        ax.axhline(clean, color='black', linestyle='--', linewidth=1, label='clean')
    ax.set(title='generalist fallback rate vs severity', xlabel='severity',
           ylabel='share of tokens')
    ax.set_ylim(bottom=0.0)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_path, dpi=90)
    return out_path
