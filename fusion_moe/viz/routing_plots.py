"""Plots of MoE routing statistics, read from the JSON that ``RoutingStatisticsHook`` writes.

``<log_dir>/routing_stats_<mode>.json`` holds ``{"mode", "epoch", "iter", "layers": {layer:
summary}}`` with the summaries of ``fusion_moe.models.moe.summarize_statistics``. One figure
row per layer:

- per-expert load (fraction of assignments) as bars, with the uniform share marked;
- per-context utilisation: a heatmap whose rows are the context values (day, night, clear,
  rain, fog) and whose columns are experts, each row the top-1 expert shares of that context's
  tokens, with the row's token count in its label (rows without tokens are left blank);
- the scalar rates: routing entropy (nats), gate gap, fallback rate, dropped fraction.

No model is needed, so results can be re-plotted long after training.
"""
import json
from typing import Dict, List, Mapping, Tuple, Union

import numpy as np
# A bare Figure renders to files without pyplot, so importing this module never changes the
# user's matplotlib backend (e.g. inline plots in a notebook).
from matplotlib.figure import Figure

from fusion_moe.structures.context import FACTORS

SCALARS = ('routing_entropy', 'gate_gap', 'fallback_rate', 'dropped_fraction')


def load_routing_statistics(path: str) -> dict:
    """Read a routing statistics JSON; a file without ``layers`` is a ValueError naming it."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get('layers'), dict):
        raise ValueError(f'{path}: not a routing statistics file (no "layers" mapping); '
                         'expected the JSON written by RoutingStatisticsHook')
    return data


def context_utilisation_matrix(summary: Mapping) -> Tuple[np.ndarray, List[str]]:
    """(V, E) top-1 expert shares per context value (NaN rows where a value has no tokens) and
    the row labels ``'<factor>=<value> (<tokens>)'``, factors and values in vocabulary order."""
    num_experts = len(summary['expert_load'])
    rows, labels = [], []
    for factor, vocab in FACTORS.items():
        per_value = summary.get('context_utilisation', {}).get(factor, {})
        for value in vocab:
            entry = per_value.get(value, {'tokens': 0, 'expert_load': [0.0] * num_experts})
            tokens = int(entry['tokens'])
            rows.append(entry['expert_load'] if tokens else [np.nan] * num_experts)
            labels.append(f'{factor}={value} ({tokens})')
    return np.asarray(rows, dtype=np.float64), labels


def plot_routing_statistics(stats: Union[str, Mapping], out_path: str) -> Dict[str, np.ndarray]:
    """Plot every layer of a routing statistics file (path or loaded dict) into one PNG.

    Returns ``{layer: (V, E) context utilisation matrix}`` as plotted.
    """
    data = load_routing_statistics(stats) if isinstance(stats, str) else stats
    layers = data['layers']
    if not layers:
        raise ValueError('the routing statistics hold no MoE layer to plot')
    fig = Figure(figsize=(14, 3.6 * len(layers)))
    axes = fig.subplots(len(layers), 3, squeeze=False,
                        gridspec_kw=dict(width_ratios=[1.0, 1.4, 0.5]))
    plotted = {}
    for row, (name, summary) in enumerate(sorted(layers.items())):
        load = np.asarray(summary['expert_load'], dtype=np.float64)
        experts = np.arange(len(load))
        ax_load, ax_ctx, ax_text = axes[row]
        ax_load.bar(experts, load, color='tab:blue')
        ax_load.axhline(1.0 / len(load), color='black', linestyle='--', linewidth=1,
                        label='uniform')
        ax_load.set(title=f'{name}: expert load ({summary["num_tokens"]} tokens)',
                    xlabel='expert', ylabel='share of assignments', xticks=experts)
        ax_load.legend(loc='upper right')

        matrix, labels = context_utilisation_matrix(summary)
        plotted[name] = matrix
        image = ax_ctx.imshow(np.ma.masked_invalid(matrix), vmin=0.0, vmax=1.0, cmap='viridis',
                              aspect='auto')
        ax_ctx.set(title='top-1 expert share per context', xlabel='expert', xticks=experts,
                   yticks=np.arange(len(labels)), yticklabels=labels)
        fig.colorbar(image, ax=ax_ctx)

        ax_text.axis('off')
        lines = [f'{key.replace("_", " ")}: {float(summary[key]):.4f}' for key in SCALARS]
        ax_text.text(0.0, 0.9, '\n'.join(lines), va='top', family='monospace')
    title = f'routing statistics ({data.get("mode", "?")}, epoch {data.get("epoch", "?")}, ' \
            f'iter {data.get("iter", "?")})'
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    return plotted
