"""Side-by-side table of several models' robustness results (from their results.json alone).

Rows: clean NDS, NDS per condition, mRA and mRRA (MultiCorrupt, NDS), and, when a model has MoE
layers, the routing summary (fallback rate and top-1 flip rate, token-weighted / pooled over its
MoE layers, on clean data and on average over the corruption conditions). Columns: one per
model.
"""
from typing import List, Mapping, Optional

from .data_classes import RobustnessResults


def _f(value: Optional[float], digits: int = 4) -> str:
    return '-' if value is None else f'{value:.{digits}f}'


def _mean(values) -> Optional[float]:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _routing(results: RobustnessResults, key: str, corrupted: bool) -> Optional[float]:
    if not results.model.is_moe:
        return None
    conds = [c for c in results.conditions.values()
             if c.kind == ('corruption' if corrupted else 'clean')]
    return _mean((c.routing.get('overall') or {}).get(key) for c in conds)


def side_by_side(models: Mapping[str, RobustnessResults]) -> str:
    """A plain-text table, one column per model (``{label: results}``, in order)."""
    labels = list(models)
    names: List[str] = []
    for results in models.values():
        for name, cond in results.conditions.items():
            if cond.kind != 'subset' and name not in names:
                names.append(name)
    rows = [['model'] + labels,
            ['context mode'] + [r.model.context_mode if r.model.is_moe else 'dense'
                                for r in models.values()]]
    for name in names:
        label = 'clean NDS' if name == 'clean' else f'{name} NDS'
        rows.append([label] + [_f(r.conditions[name].metric('NDS'))
                               if name in r.conditions else '-' for r in models.values()])
    rows.append(['mRA (NDS)'] + [_f((r.scores.get('NDS') or {}).get('multicorrupt', {})
                                    .get('mRA'), 3) for r in models.values()])
    rows.append(['mRRA vs baseline (%)'] + [
        _f(None if mrra is None else 100 * mrra, 1) for mrra in
        ((r.scores.get('NDS') or {}).get('multicorrupt', {}).get('mRRA')
         for r in models.values())])
    moe = any(r.model.is_moe for r in models.values())
    for key, title in (('fallback_rate', 'fallback rate'), ('top1_flip_rate', 'top-1 flip rate')):
        if not moe:
            break
        if key != 'top1_flip_rate':
            rows.append([f'{title}, clean'] + [_f(_routing(r, key, False))
                                               for r in models.values()])
        rows.append([f'{title}, corrupted (mean)'] + [_f(_routing(r, key, True))
                                                      for r in models.values()])
    widths = [max(len(row[i]) for row in rows) for i in range(len(labels) + 1)]
    lines = []
    for i, row in enumerate(rows):
        lines.append('  '.join(cell.ljust(w) if j == 0 else cell.rjust(w)
                               for j, (cell, w) in enumerate(zip(row, widths))))
        if i == 0:
            lines.append('  '.join('-' * w for w in widths))
    if not moe:
        lines.append('(no MoE model: no routing summary)')
    return '\n'.join(lines)
