"""``DIR/runs.json``: when and how each invocation of the runner ran (the report's "Runs").

One entry per invocation: the command line, the grid file, the git commit of the code, the
data (the configs' ``synthetic_data``: root, scenes, samples, seed; or the grid's
``data_root``), ``--max-iters`` and ``--jobs``, the cells it had to run, start and end (UTC),
wall time, and the 1-minute load average at start and end (the machine is shared; timings
mean little without it). A resumed study has several entries; its wall time is their sum.
"""
import json
import os
import subprocess
import sys
import time
from typing import List, Optional

RUN_LOG_NAME = 'runs.json'


def _utc() -> str:
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())


def _load() -> Optional[float]:
    try:
        with open('/proc/loadavg') as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _commit(repo_root: str) -> str:
    try:
        out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=repo_root,
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=repo_root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ''
    return out.stdout.strip() + (' (with uncommitted changes)' if dirty.stdout.strip() else '')


def read_runs(path: str) -> List[dict]:
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)['runs']


class RunLog:
    """Appends this invocation's entry to ``path`` at the start and completes it at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.runs = read_runs(path)
        self.entry: dict = {}

    def _write(self) -> None:
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({'runs': self.runs}, f, indent=1)
        os.replace(tmp, self.path)

    def start(self, grid, max_iters: Optional[int], jobs: int, cells_to_run: int,
              data: Optional[dict], repo_root: str) -> None:
        self.entry = {'command': ' '.join(sys.argv), 'grid': grid.path,
                      'commit': _commit(repo_root), 'max_iters': max_iters, 'jobs': jobs,
                      'cells_to_run': cells_to_run,
                      'data': data if data else {'data_root': grid.data_root},
                      'started': _utc(), 'load_start': _load()}
        self.runs.append(self.entry)
        self._write()

    def finish(self, wall_s: float, failed: int) -> None:
        self.entry.update(finished=_utc(), wall_s=round(wall_s, 1), failed=failed,
                          load_end=_load())
        self._write()
