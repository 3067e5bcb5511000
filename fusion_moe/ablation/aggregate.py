"""Seed spread of a results table: mean and min-max over seeds per setting and condition.

Pure functions of the rows of ``results.csv`` (``results_table.read_rows``): the report and
the plots are made from these alone. A *variant* is a cell's setting without its seed; the
columns that are the same in every row are the grid's fixed settings and are left out of
variant labels.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from .results_table import INFO_COLUMNS, number

#: ``moe`` column values that mean the dense twin (the grid's own label is kept as is).
DENSE_LABELS = ('dense', 'off', 'false', 'no', '0', 'none')
Variant = Tuple[Tuple[str, str], ...]


@dataclass(frozen=True)
class Spread:
    """A metric over seeds: ``values`` by seed label, their mean, min and max."""
    values: Tuple[Tuple[str, float], ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return sum(v for _, v in self.values) / len(self.values)

    @property
    def min(self) -> float:
        return min(v for _, v in self.values)

    @property
    def max(self) -> float:
        return max(v for _, v in self.values)

    def overlaps(self, other: 'Spread') -> bool:
        """Whether the two min-max ranges share a value."""
        return self.min <= other.max and other.min <= self.max

    def text(self, digits: int = 4) -> str:
        if self.n == 1:
            return f'{self.mean:.{digits}f}'
        return f'{self.mean:.{digits}f} [{self.min:.{digits}f}, {self.max:.{digits}f}]'


def setting_columns(rows: Sequence[Dict[str, str]]) -> List[str]:
    """The setting columns of a table: those between ``cell`` and ``condition``."""
    if not rows:
        return []
    keys = list(rows[0])
    return keys[keys.index('cell') + 1:keys.index('condition')]


def tied_to(rows: Sequence[Dict[str, str]], column: str) -> Dict[str, Dict[str, str]]:
    """Setting columns fully determined by ``column`` (one value per value of ``column``, more
    than one value overall), e.g. a dense twin's ``router=none``:
    ``{tied column: {value of column: its value}}``."""
    out: Dict[str, Dict[str, str]] = {}
    for c in setting_columns(rows):
        if c in (column, 'seed'):
            continue
        pairs = {(r.get(column, ''), r.get(c, '')) for r in rows}
        keys = [k for k, _ in pairs]
        if len(set(keys)) == len(keys) and len({v for _, v in pairs}) > 1:
            out[c] = dict(sorted(pairs))
    return out


def varied_columns(rows: Sequence[Dict[str, str]], exclude: Sequence[str] = ('seed',)
                   ) -> List[str]:
    """Setting columns with more than one value in ``rows`` (``exclude`` left out, and the
    columns tied to ``moe``, which say nothing the model kind does not)."""
    tied = tied_to(rows, 'moe') if 'moe' in setting_columns(rows) else {}
    return [c for c in setting_columns(rows) if c not in exclude and c not in tied
            and len({r.get(c, '') for r in rows}) > 1]


def fixed_settings(rows: Sequence[Dict[str, str]]) -> Dict[str, str]:
    """``{column: value}`` of the setting columns that are equal in every row (non-empty)."""
    out = {}
    for c in setting_columns(rows):
        values = {r.get(c, '') for r in rows}
        if len(values) == 1 and next(iter(values)):
            out[c] = next(iter(values))
    return out


def conditions_in(rows: Sequence[Dict[str, str]]) -> List[str]:
    """Conditions in table order, ``clean`` first."""
    names = list(dict.fromkeys(r['condition'] for r in rows))
    return sorted(names, key=lambda n: (n != 'clean', names.index(n)))


def spreads(rows: Sequence[Dict[str, str]], metric: str = 'NDS',
            columns: Optional[Sequence[str]] = None) -> Dict[Tuple[Variant, str], Spread]:
    """``{(variant, condition): Spread}`` over the ``ok`` rows with a value of ``metric``.

    ``columns``: the setting columns a variant is made of (default: the varied ones)."""
    columns = varied_columns(rows) if columns is None else list(columns)
    grouped: Dict[Tuple[Variant, str], List[Tuple[str, float]]] = {}
    for row in rows:
        value = number(row.get(metric))
        if row.get('status') != 'ok' or value is None:
            continue
        variant = tuple((c, row.get(c, '')) for c in columns)
        grouped.setdefault((variant, row['condition']), []).append((row.get('seed', ''), value))
    return {key: Spread(tuple(values)) for key, values in grouped.items()}


def variant_label(variant: Variant, skip: Sequence[str] = ()) -> str:
    parts = [value if col in ('placement', 'moe') else f'{col}={value}'
             for col, value in variant if col not in skip]
    return ' '.join(parts) or 'all cells'


def moe_minus_dense(rows: Sequence[Dict[str, str]], metric: str = 'NDS'
                    ) -> Dict[Tuple[Variant, str], Spread]:
    """``{(variant without moe, condition): Spread of MoE - dense twin}``, paired by seed.

    Needs a ``moe`` column with exactly one dense label (``DENSE_LABELS``) and one other value;
    otherwise ``{}``."""
    kinds = sorted({r.get('moe', '') for r in rows})
    dense = [k for k in kinds if k.lower() in DENSE_LABELS]
    if len(kinds) != 2 or len(dense) != 1:
        return {}
    moe = next(k for k in kinds if k != dense[0])
    columns = [c for c in varied_columns(rows) if c != 'moe']
    by_kind: Dict[str, Dict[Tuple[Variant, str, str], float]] = {moe: {}, dense[0]: {}}
    for row in rows:
        value = number(row.get(metric))
        if row.get('status') != 'ok' or value is None:
            continue
        variant = tuple((c, row.get(c, '')) for c in columns)
        by_kind[row['moe']][(variant, row['condition'], row.get('seed', ''))] = value
    diffs: Dict[Tuple[Variant, str], List[Tuple[str, float]]] = {}
    for (variant, condition, seed), value in by_kind[moe].items():
        twin = by_kind[dense[0]].get((variant, condition, seed))
        if twin is not None:
            diffs.setdefault((variant, condition), []).append((seed, value - twin))
    return {key: Spread(tuple(values)) for key, values in diffs.items()}


def cost_by_variant(rows: Sequence[Dict[str, str]]) -> Dict[Variant, Dict[str, Optional[float]]]:
    """Per variant: active FLOPs and params (as recorded; equal over seeds and conditions),
    mean train and evaluation wall time and CPU time per cell (s), over ``ok`` cells."""
    columns = varied_columns(rows)
    cells: Dict[Variant, Dict[str, Dict[str, str]]] = {}
    for row in rows:
        if row.get('status') == 'ok':
            variant = tuple((c, row.get(c, '')) for c in columns)
            cells.setdefault(variant, {})[row['cell']] = row
    out = {}
    for variant, by_cell in cells.items():
        first = next(iter(by_cell.values()))
        entry: Dict[str, Optional[float]] = {k: number(first.get(k)) for k in INFO_COLUMNS}
        for key in ('train_s', 'eval_s', 'cpu_s'):
            values = [number(r.get(key)) for r in by_cell.values()]
            values = [v for v in values if v is not None]
            entry[key] = sum(values) / len(values) if values else None
        entry['cells'] = float(len(by_cell))
        out[variant] = entry
    return out
