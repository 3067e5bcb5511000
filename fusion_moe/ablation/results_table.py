"""``DIR/results.csv``: one row per cell and condition, the only input of the report.

Columns, in order: ``cell`` (the cell's name), the setting columns (``placement, moe, router,
context, fallback, seed`` and the grid's other axes), ``condition`` (the robustness tool's
name: ``clean``, ``fog_3``, ...), ``mAP``, ``NDS`` (the devkit's ``metrics_summary.json`` of
that condition), ``active_flops``, ``fusion_flops``, ``params``, ``active_params``
(``tools/model_info.py``: FLOPs of one inference forward per sample, counted on what runs so
an MoE layer counts its active experts only; the placement's share; parameters; parameters
one token passes through. Empty when that tool could not say), ``train_s``, ``eval_s``, ``wall_s`` (the cell's training, evaluation and
total wall time in seconds: ``train_s + eval_s`` of a finished cell, the failing attempt's
time for a failed one), ``cpu_s`` (user + system CPU seconds of the cell's training and
evaluation processes, data workers included: what the cell costs on an idle machine),
``status`` (``ok`` or ``failed``), ``error`` (a failed cell's
step and last log line), ``notes``, ``config`` and ``checkpoint``.

A failed cell has one row per condition with empty metrics, so the table always shows which
settings are missing and why. Writes replace the file atomically (temporary file, then
rename): an interrupted run never leaves half a row, and a retried cell's rows replace its
old ones.
"""
import csv
import os
import threading
from typing import Dict, Iterable, List, Optional, Sequence

#: What ``tools/model_info.py`` says of the cell's model (per sample, one inference forward).
INFO_COLUMNS = ('active_flops', 'fusion_flops', 'params', 'active_params')
RESULT_COLUMNS = ('condition', 'mAP', 'NDS', *INFO_COLUMNS, 'train_s', 'eval_s',
                  'wall_s', 'cpu_s', 'status', 'error', 'notes', 'config', 'checkpoint')
STATUSES = ('ok', 'failed')


def read_rows(path: str) -> List[Dict[str, str]]:
    """All rows of ``path`` as dicts of strings ([] when the file does not exist)."""
    if not os.path.isfile(path):
        return []
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            return []
        missing = [c for c in ('cell', 'condition', 'NDS', 'status') if c not in
                   reader.fieldnames]
        if missing:
            raise ValueError(f'{path}: not an ablation results table (no column {missing})')
        return [dict(row) for row in reader]


def number(value: Optional[str]) -> Optional[float]:
    """A numeric cell of the table, or None when it is empty."""
    if value is None or str(value).strip() == '':
        return None
    return float(value)


class ResultsTable:
    """The results file of one work dir; safe to share between the runner's threads.

    Args:
        path: the CSV file (made on the first write).
        setting_columns: the grid's setting columns (``Grid.setting_columns``).
    """

    def __init__(self, path: str, setting_columns: Sequence[str]) -> None:
        self.path = path
        self.setting_columns = tuple(setting_columns)
        self._lock = threading.Lock()

    def rows(self) -> List[Dict[str, str]]:
        with self._lock:
            return read_rows(self.path)

    def finished_cells(self, conditions: Sequence[str], require: Sequence[str] = ()
                       ) -> List[str]:
        """Cells whose every condition in ``conditions`` has an ``ok`` row with a value in
        every column of ``require``."""
        ok: Dict[str, set] = {}
        for row in self.rows():
            if row.get('status') == 'ok' and all(row.get(c) for c in require):
                ok.setdefault(row['cell'], set()).add(row['condition'])
        return [cell for cell, got in ok.items() if set(conditions) <= got]

    def replace_cell(self, cell: str, new_rows: Iterable[Dict[str, object]]) -> None:
        """Drop ``cell``'s old rows and append ``new_rows`` (atomically)."""
        new_rows = [{k: '' if v is None else v for k, v in row.items()} for row in new_rows]
        for row in new_rows:
            if row.get('status') not in STATUSES:
                raise ValueError(f'row of cell {cell}: status must be one of {STATUSES}, '
                                 f'got {row.get("status")!r}')
        with self._lock:
            rows = [r for r in read_rows(self.path) if r['cell'] != cell] + new_rows
            columns = ['cell', *self.setting_columns, *RESULT_COLUMNS]
            for row in rows:  # columns of an earlier grid version are kept, after ours
                columns += [k for k in row if k not in columns]
            tmp = f'{self.path}.tmp{os.getpid()}'
            with open(tmp, 'w', newline='') as f:
                writer = csv.DictWriter(f, fieldnames=columns, restval='')
                writer.writeheader()
                writer.writerows(rows)
            os.replace(tmp, self.path)
