"""Run a whole grid: skip the finished cells, run the others (``jobs`` at a time), record each
cell's rows as it ends, print progress with an ETA, and remake the report at the end.

The synthetic set the configs name is made (or remade after a generator change) once before
the first cell, never by two cells at once. Resuming is a matter of running the same command again: cells whose every condition has an
``ok`` row in ``results.csv`` are skipped; a cell that was interrupted continues inside its
directory (its training from the last checkpoint, see :mod:`.cell_runner`); a cell that failed
is tried again (its rows are replaced), and so is a cell recorded before
``tools/model_info.py`` existed (only its model info is computed: the training and the
evaluation it has are kept).
"""
import contextlib
import logging
import os
import os.path as osp
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional

from mmengine.logging import print_log

from .cell_runner import CellResult, CellRunner, StudyStopped
from .grid import Cell, Grid, missing_model_configs
from .report import make_report
from .results_table import ResultsTable
from .run_log import RUN_LOG_NAME, RunLog

RESULTS_NAME = 'results.csv'


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds} s'
    if seconds < 3600:
        return f'{seconds // 60} min {seconds % 60:02d} s'
    return f'{seconds // 3600} h {seconds % 3600 // 60:02d} min'


class Progress:
    """Cells done / left and an ETA from the mean wall time of the cells run so far."""

    def __init__(self, total: int, skipped: int, jobs: int,
                 echo: Callable[[str], None] = print) -> None:
        self.total, self.skipped, self.jobs = total, skipped, max(1, jobs)
        self.durations: List[float] = []
        self.failed = 0
        self.echo = echo
        self._lock = threading.Lock()

    def line(self) -> str:
        done = self.skipped + len(self.durations)
        left = self.total - done
        text = (f'[ablate] {done}/{self.total} cells done ({self.skipped} skipped as finished, '
                f'{self.failed} failed), {left} left')
        if left and self.durations:
            mean = sum(self.durations) / len(self.durations)
            text += f'; ETA {format_duration(mean * left / min(self.jobs, left))}'
        return text

    def cell_done(self, cell: Cell, result: CellResult) -> None:
        with self._lock:
            self.durations.append(result.wall_s)
            self.failed += result.status == 'failed'
            self.echo(f'[ablate] cell {cell.cell_id}: {result.status} in '
                      f'{format_duration(result.wall_s)}'
                      + (f' ({result.error})' if result.error else ''))
            self.echo(self.line())


@contextlib.contextmanager
def _stop_on_signals(runner: CellRunner, echo: Callable[[str], None]):
    """On SIGINT / SIGTERM (main thread only): stop the runner's tools, then raise
    KeyboardInterrupt; the cells that were running are resumed by the next run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        echo(f'[ablate] {signal.Signals(signum).name}: stopping the running cells (the next '
             'run resumes them)')
        runner.stop()
        raise KeyboardInterrupt
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except StudyStopped:
        raise KeyboardInterrupt from None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run_grid(grid: Grid, work_dir: str, max_iters: Optional[int] = None, jobs: int = 1,
             runner: Optional[CellRunner] = None, echo: Callable[[str], None] = print
             ) -> Dict[str, object]:
    """Run every unfinished cell of ``grid`` into ``work_dir``; returns a summary dict
    (``cells``, ``ran``, ``skipped``, ``failed``, ``wall_s``, ``report`` files)."""
    os.makedirs(work_dir, exist_ok=True)
    started = time.time()
    missing = missing_model_configs(grid)
    if missing:  # not fatal: those cells fail with this reason, the others run
        print_log(f'{len(missing)} model config(s) of {grid.path} do not exist: {missing}',
                  logger='current', level=logging.WARNING)
    table = ResultsTable(osp.join(work_dir, RESULTS_NAME), grid.setting_columns)
    runner = runner or CellRunner(grid, work_dir, max_iters=max_iters)
    # once tools/model_info.py exists, a cell recorded without its FLOPs is run again: its
    # training and evaluation are kept (cell_runner), only the model info is added
    require = ('active_flops',) if runner.has_model_info() else ()
    finished = set(table.finished_cells(runner.condition_names, require))
    todo = [c for c in grid.cells if c.cell_id not in finished]
    progress = Progress(len(grid.cells), len(grid.cells) - len(todo), jobs, echo)
    echo(f'[ablate] {grid.path}: {len(grid.cells)} cells x {len(runner.condition_names)} '
         f'conditions ({", ".join(runner.condition_names)}); work dir {work_dir}'
         + (f'; --max-iters {max_iters}' if max_iters else ''))
    log = RunLog(osp.join(work_dir, RUN_LOG_NAME))
    data = runner.prepare_data() if todo else None
    if data:
        echo(f'[ablate] synthetic set {data["out_root"]} (seed {data.get("seed")}): ready '
             f'(log {osp.join(work_dir, "data.log")})')
    log.start(grid, max_iters, jobs, len(todo), data, runner.repo_root)
    echo(progress.line())

    def one(cell: Cell) -> CellResult:
        echo(f'[ablate] cell {cell.cell_id} ({cell.describe()}): starting, logs in '
             f'{runner.cell_dir(cell)}')
        result = runner.run(cell)
        table.replace_cell(cell.cell_id, result.rows)
        progress.cell_done(cell, result)
        return result

    with _stop_on_signals(runner, echo):
        if jobs <= 1:
            results = [one(cell) for cell in todo]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(one, todo))
    wall = time.time() - started
    log.finish(wall, sum(r.status == 'failed' for r in results))
    report = make_report(table.path, work_dir)
    echo(f'[ablate] finished in {format_duration(wall)}: {len(results)} cell(s) run, '
         f'{len(grid.cells) - len(todo)} skipped, '
         f'{sum(r.status == "failed" for r in results)} failed; table {table.path}; '
         f'summary {report["summary"]}')
    return {'cells': len(grid.cells), 'ran': len(results), 'skipped': len(grid.cells) - len(todo),
            'failed': sum(r.status == 'failed' for r in results), 'wall_s': wall,
            'report': report}
