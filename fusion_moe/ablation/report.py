"""``DIR/summary.md`` and the PNG plots of an ablation, from ``results.csv`` alone (plus, when
it lies beside the table, ``runs.json``: when, on what data and commit, and how long each
invocation ran).

:func:`make_report` is what the runner calls at the end and ``tools/ablate.py --report``
calls on its own, so a report remade from the table is the same file. :func:`render_summary`
is a pure function of the rows (fixed number formats, no clock).

The summary states, per comparison, whether the seeds' min-max ranges of the two sides are
disjoint: with as few seeds as a demo grid has, a difference inside the seed spread is not
evidence of an effect, and the text says so instead of ranking such settings.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from .aggregate import (conditions_in, cost_by_variant, fixed_settings, moe_minus_dense,
                        spreads, tied_to, variant_label)
from .results_table import read_rows
from .run_log import RUN_LOG_NAME, read_runs

SUMMARY_NAME = 'summary.md'
PLOTS = {'nds_per_placement': 'nds_per_placement.png', 'moe_vs_dense': 'moe_vs_dense.png',
         'clean_vs_conditions': 'clean_vs_conditions.png'}


def _table(header: Sequence[str], rows: List[Sequence[str]]) -> List[str]:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return lines + ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]


def _metric_table(rows, metric: str, conditions: Sequence[str]) -> List[str]:
    stats = spreads(rows, metric)
    variants = list(dict.fromkeys(v for v, _ in stats))
    body = [[variant_label(v)] + [stats[(v, c)].text() if (v, c) in stats else '-'
                                  for c in conditions] for v in variants]
    seeds = sorted({s.n for s in stats.values()})
    return [f'### {metric} (devkit; mean [min, max] over {"/".join(map(str, seeds))} seed(s))',
            ''] + _table(['setting', *conditions], body)


def _moe_section(rows, conditions: Sequence[str]) -> List[str]:
    diffs = moe_minus_dense(rows)
    if not diffs:
        return []
    stats = spreads(rows)
    variants = list(dict.fromkeys(v for v, _ in diffs))
    body, disjoint, total = [], 0, 0
    for variant in variants:
        cells = []
        for condition in conditions:
            diff = diffs.get((variant, condition))
            if diff is None:
                cells.append('-')
                continue
            sides = [s for (v, c), s in stats.items() if c == condition and
                     tuple(x for x in v if x[0] != 'moe') == variant]
            separate = len(sides) == 2 and not sides[0].overlaps(sides[1])
            disjoint += separate
            total += 1
            cells.append(f'{diff.text(4)}' + (' *' if separate else ''))
        body.append([variant_label(variant) or 'all', *cells])
    return ['### NDS: MoE minus its dense twin (paired by seed; mean [min, max])', '',
            *_table(['setting', *conditions], body), '',
            f'`*`: the seeds\' NDS ranges of MoE and dense twin do not overlap. {disjoint} of '
            f'{total} comparisons have disjoint ranges; the others differ by less than the '
            'seeds differ from each other, so the table does not show that one kind is better '
            'there.', '']


def _best_sentence(rows, condition: str = 'clean') -> List[str]:
    stats = {v: s for (v, c), s in spreads(rows).items() if c == condition}
    if len(stats) < 2:
        return []
    best = max(stats, key=lambda v: stats[v].mean)
    beaten = [v for v in stats if v != best and not stats[v].overlaps(stats[best])]
    return [f'{condition} NDS: the highest mean is {variant_label(best)} '
            f'({stats[best].text()}); its seed range is disjoint from {len(beaten)} of the '
            f'{len(stats) - 1} other settings'
            + (f' ({", ".join(variant_label(v) for v in beaten)})' if beaten else '')
            + '; where the ranges overlap, the order is within the seed spread and the table '
            'does not rank those settings.', '']


def _cost_section(rows) -> List[str]:
    cost = cost_by_variant(rows)
    if not cost:
        return []

    def fmt(value: Optional[float], scale: float = 1.0, digits: int = 0) -> str:
        return '-' if value is None else f'{value / scale:.{digits}f}'
    body = [[variant_label(v), fmt(c['active_flops'], 1e9, 3), fmt(c['fusion_flops'], 1e9, 3),
             fmt(c['params'], 1e6, 3), fmt(c['active_params'], 1e6, 3), fmt(c['train_s']),
             fmt(c['eval_s']), fmt(c['cpu_s']), fmt(c['cells'])] for v, c in cost.items()]
    return ['### Cost', '', 'GFLOPs of one inference forward per sample and parameters from '
            '`tools/model_info.py` (active: what runs, an MoE layer counting its chosen '
            'experts); times are per cell.', '',
            *_table(['setting', 'active GFLOPs', 'placement GFLOPs', 'params (M)',
                     'active params (M)', 'train s', 'eval s', 'CPU s', 'cells'], body), '']


def _runs_section(runs: Sequence[dict]) -> List[str]:
    if not runs:
        return []

    def load(value) -> str:
        return '-' if value is None else f'{value:.1f}'
    body = [[r.get('started', '-'), r.get('finished', 'did not finish'),
             f'{r["wall_s"] / 60:.1f}' if r.get('wall_s') is not None else '-',
             r.get('cells_to_run', '-'), r.get('failed', '-'), r.get('max_iters') or '-',
             r.get('jobs', '-'), f'{load(r.get("load_start"))} / {load(r.get("load_end"))}',
             f'`{r.get("commit", "")}`'] for r in runs]
    lines = ['## Runs', '', 'From `runs.json` beside the table (one row per invocation; a resumed '
             'study has several).', '',
             *_table(['started', 'finished', 'wall min', 'cells run', 'failed', 'max iters',
                      'jobs', 'load avg start / end', 'commit'], body), '']
    last = runs[-1]
    data = last.get('data') or {}
    if data.get('out_root'):
        lines.append(f'- data: synthetic nuScenes at `{data["out_root"]}`, '
                     f'{data.get("num_scenes")} scenes x {data.get("samples_per_scene")} '
                     f'samples, data seed {data.get("seed")}')
    elif data.get('data_root'):
        lines.append(f'- data: `{data["data_root"]}`')
    lines += [f'- command: `{last.get("command", "")}`', '']
    return lines


def render_summary(rows: Sequence[Dict[str, str]], source: str = 'results.csv',
                   plots: Sequence[str] = (), runs: Sequence[dict] = ()) -> str:
    """The summary's Markdown from the table's rows (and the ``runs.json`` entries, if any;
    see the module docstring)."""
    conditions = conditions_in(rows)
    cells = {r['cell']: r for r in rows}
    failed = {c: r for c, r in cells.items() if r.get('status') == 'failed'}
    wall = sum(float(r['wall_s']) for r in cells.values() if r.get('wall_s'))
    cpu = sum(float(r['cpu_s']) for r in cells.values() if r.get('cpu_s'))
    lines = ['# Ablation summary', '', f'From `{source}` alone: {len(cells)} cell(s) '
             f'({len(cells) - len(failed)} ok, {len(failed)} failed) x {len(conditions)} '
             f'condition(s): {", ".join(conditions)}. Sum of the cells\' wall times: '
             f'{wall / 60:.1f} min; their CPU time: {cpu / 60:.1f} min.', '']
    fixed = fixed_settings(rows)
    if fixed:
        lines += ['Fixed in every cell: ' + ', '.join(f'{k}={v}' for k, v in fixed.items()), '']
    tied = tied_to(rows, 'moe')
    if tied:
        kinds = sorted({r.get('moe', '') for r in rows})
        lines += ['Set by the model kind: ' + '; '.join(
            f'{kind}: ' + ', '.join(f'{c}={values[kind]}' for c, values in tied.items())
            for kind in kinds), '']
    if len(cells) > len(failed):
        lines += _metric_table(rows, 'NDS', conditions) + ['']
        lines += _metric_table(rows, 'mAP', conditions) + ['']
        lines += ['## What the numbers support', ''] + _best_sentence(rows)
        lines += _moe_section(rows, conditions)
        lines += _cost_section(rows)
    notes = sorted({n for r in rows for n in (r.get('notes') or '').split('; ') if n})
    if notes:
        lines += ['## Notes', ''] + [f'- {n}' for n in notes] + ['']
    if failed:
        lines += ['## Failed cells', ''] + _table(
            ['cell', 'error'], [[c, (r.get('error') or '').replace('|', '/')]
                                for c, r in failed.items()]) + ['']
    lines += _runs_section(runs)
    if plots:
        lines += ['## Plots', ''] + [f'![{osp.splitext(p)[0]}]({p})' for p in plots] + ['']
    return '\n'.join(lines)


def make_report(results_csv: str, out_dir: Optional[str] = None) -> Dict[str, str]:
    """Write ``summary.md`` and the plots beside ``results_csv`` (or into ``out_dir``).

    Returns ``{name: path}``; a plot the table cannot give (e.g. no MoE / dense pair) is left
    out with a logged note."""
    from fusion_moe.viz import ablation_plots
    rows = read_rows(results_csv)
    if not rows:
        raise ValueError(f'{results_csv}: no rows to report')
    out_dir = out_dir or osp.dirname(osp.abspath(results_csv))
    written: Dict[str, str] = {}
    for name, file_name in PLOTS.items():
        try:
            written[name] = getattr(ablation_plots, f'plot_{name}')(
                rows, osp.join(out_dir, file_name))
        except ValueError as err:
            print_log(f'{file_name} not made: {err}', logger='current', level=logging.INFO)
    summary = osp.join(out_dir, SUMMARY_NAME)
    runs = read_runs(osp.join(osp.dirname(osp.abspath(results_csv)), RUN_LOG_NAME))
    with open(summary, 'w') as f:
        f.write(render_summary(rows, osp.basename(results_csv),
                               [osp.basename(p) for p in written.values()], runs))
    written['summary'] = summary
    return written
