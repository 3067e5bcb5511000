"""Print the headline table of benchmarks/README.md from the JSON files ``make bench`` wrote.

    python benchmarks/_summary.py [benchmarks/results]

One markdown row per headline of every ``<name>.json`` (see ``_common.py`` for the
convention): benchmark, figure, value, target, met, date and the 1-minute load average at the
start of the run. A JSON without ``headlines`` gets one row saying so, so a benchmark that
records none stays visible. Not a benchmark itself (``make bench`` skips ``_*.py``).
"""
import glob
import json
import os.path as osp
import sys
from typing import List


def table_rows(results_dir: str) -> List[str]:
    rows = ['| benchmark | headline | value | target | met | measured (load avg) |',
            '|---|---|---|---|---|---|']
    for path in sorted(glob.glob(osp.join(results_dir, '*.json'))):
        name = osp.splitext(osp.basename(path))[0]
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, ValueError) as err:
            raise SystemExit(f'{path}: not a readable JSON record ({err})')
        measured = record.get('measured', {})
        when = measured.get('date', '?')
        load = measured.get('load_avg_start')
        when += f' ({load[0]:.1f})' if load else ''
        headlines = record.get('headlines')
        if not headlines:
            rows.append(f'| {name} | (records no headlines) | | | | {when} |')
            continue
        for key, h in headlines.items():
            met = {True: 'yes', False: '**no**', None: '-'}[h.get('met')]
            rows.append(f"| {name} | `{key}` | {h['value']:.3g} | {h.get('target') or '-'} | "
                        f'{met} | {when} |')
    return rows


def main(argv: List[str]) -> int:
    results_dir = argv[0] if argv else osp.join(osp.dirname(osp.abspath(__file__)), 'results')
    if not osp.isdir(results_dir):
        raise SystemExit(f'{results_dir}: no such folder (run make bench first)')
    print('\n'.join(table_rows(results_dir)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
