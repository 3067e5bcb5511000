"""One cell of a grid: train it, measure it, evaluate it, and turn that into table rows.

Every step runs the project's own tool in a subprocess (so a crash, an out-of-memory kill or
a leaked thread stays inside the cell), with its output in a log file in the cell's directory
``DIR/cells/<cell>/``:

1. ``config.py``: the cell's resolved config (:mod:`.cell_config`);
2. ``tools/train.py config.py --work-dir train --resume`` (``train.log``): ``--resume``
   continues from the newest complete checkpoint of an interrupted attempt and starts from
   scratch when there is none; a finished training leaves ``train/finished.json`` and is not
   repeated;
3. ``tools/model_info.py config.py --json model_info.json`` (``model_info.log``), when that
   tool exists: the cell's FLOPs of one inference forward per sample (counted by that tool on
   what runs, so an MoE layer counts its active experts only), parameters and active
   parameters per token (its ``total``) and the placement's FLOPs (``components.fusion``);
   otherwise, or when it fails, the columns stay empty and ``notes`` says why (never an
   estimate of ours);
4. ``tools/robustness.py config.py CKPT --work-dir robustness ...`` (``robustness.log``): clean
   and every condition, scored by the devkit; a ``results.json`` holding every condition is
   not recomputed.

``timing.json`` keeps the wall time of each finished step (an attempt that was killed is not
counted). A failing step raises :class:`CellFailed`, which the runner records as the cell's
rows with ``status=failed``.
"""
import json
import logging
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.logging import print_log

from .cell_config import write_cell_config
from .grid import Cell, Grid
from .results_table import INFO_COLUMNS

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_ERROR_LINE = re.compile(r'^\s*([A-Za-z_.]*(Error|Exception|Interrupt)\b.*)$')


class StudyStopped(BaseException):
    """The runner was stopped (SIGINT / SIGTERM): not a failure of the cell, never recorded."""


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the tool's process group; the thread waiting for the tool reaps it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class CellFailed(RuntimeError):
    """A step of a cell failed; ``step`` names it and the message says why."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f'{step}: {message}')
        self.step = step


def last_error_line(log_path: str, limit: int = 300) -> str:
    """The last exception line of a log (else its last non-empty line), shortened."""
    try:
        with open(log_path, errors='replace') as f:
            lines = [line.rstrip() for line in f.readlines()[-400:] if line.strip()]
    except FileNotFoundError:
        return f'no log at {log_path}'
    errors = [m.group(1) for m in map(_ERROR_LINE.match, lines) if m]
    text = errors[-1] if errors else (lines[-1] if lines else 'empty log')
    return text if len(text) <= limit else text[:limit - 3] + '...'


@dataclass
class CellResult:
    """What a finished (or failed) cell contributes to the table."""
    rows: List[Dict[str, object]]
    status: str
    wall_s: float
    error: str = ''
    notes: List[str] = field(default_factory=list)


class CellRunner:
    """Runs the cells of one grid under ``work_dir``.

    Args:
        grid: the expanded grid.
        work_dir: the ablation's work dir (cells go to ``work_dir/cells/<cell>``).
        max_iters: train N iterations instead of the configs' epochs (a smoke run).
        python: the interpreter of the tools' subprocesses.
        repo_root: where ``tools/`` is (the subprocesses' working directory).
    """

    def __init__(self, grid: Grid, work_dir: str, max_iters: Optional[int] = None,
                 python: str = sys.executable, repo_root: str = REPO_ROOT) -> None:
        self.grid = grid
        self.work_dir = osp.abspath(work_dir)
        self.max_iters = max_iters
        self.python = python
        self.repo_root = repo_root
        self.condition_names = grid.conditions.names()
        self._live: set = set()
        self._lock = threading.Lock()
        self._stopping = False

    # ------------------------------------------------------------------ helpers
    def cell_dir(self, cell: Cell) -> str:
        return osp.join(self.work_dir, 'cells', cell.cell_id)

    def _tool(self, name: str) -> str:
        return osp.join(self.repo_root, 'tools', f'{name}.py')

    def _run(self, step: str, args: Sequence[str], log_path: str,
             timing: Optional[dict] = None) -> None:
        """Run a tool; its CPU time (user + system, data workers included) is added to
        ``timing[f'{step}_cpu_s']``. A non-zero exit raises CellFailed with the log's error."""
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [self.repo_root] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        env.setdefault('OMP_NUM_THREADS', '1')
        cmd = [self.python, *[str(a) for a in args]]
        if self._stopping:
            raise StudyStopped(f'stopped before {step}')
        with open(log_path, 'a') as log:
            log.write(f'\n$ {" ".join(cmd)}\n')
            log.flush()
            # its own process group, so that stop() ends the tool with its data workers
            proc = subprocess.Popen(cmd, cwd=self.repo_root, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
            with self._lock:
                self._live.add(proc)
            try:
                _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource usage
                proc.returncode = code = os.waitstatus_to_exitcode(status)
            except BaseException:
                _kill_group(proc)
                try:
                    proc.wait(timeout=30)
                except (subprocess.TimeoutExpired, ChildProcessError):
                    pass
                raise
            finally:
                with self._lock:
                    self._live.discard(proc)
        if self._stopping:
            raise StudyStopped(f'{step} was stopped')
        if timing is not None:
            key = f'{step}_cpu_s'
            timing[key] = timing.get(key, 0.0) + usage.ru_utime + usage.ru_stime
        if code != 0:
            raise CellFailed(step, f'exit code {code}: {last_error_line(log_path)} '
                                   f'(log: {log_path})')

    def stop(self) -> None:
        """End every running tool (its whole process group) and start no other: the cells
        that were running raise StudyStopped and are not recorded (their checkpoints stay, so
        the next run resumes them)."""
        self._stopping = True
        with self._lock:
            for proc in list(self._live):
                _kill_group(proc)

    def has_model_info(self) -> bool:
        return osp.isfile(self._tool('model_info'))

    def _data_args(self) -> List[str]:
        return ['--data-root', self.grid.data_root] if self.grid.data_root else []

    @staticmethod
    def _timing(path: str) -> Dict[str, float]:
        if osp.isfile(path):
            with open(path) as f:
                return json.load(f)
        return {}

    @staticmethod
    def _save_json(path: str, content: dict) -> None:
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(content, f, indent=1)
        os.replace(tmp, path)

    # ------------------------------------------------------------------ steps
    def prepare_data(self) -> Optional[dict]:
        """Make the synthetic set the cells' configs name (``synthetic_data``) once, before
        any cell runs, so parallel cells never generate it side by side: the same function
        ``tools/train.py`` calls (which remakes a set of an older generator), in a subprocess,
        logged to ``work_dir/data.log``. Returns the config's ``synthetic_data`` (out_root,
        scenes, samples, seed; None when the grid has a ``data_root`` or the configs name no
        synthetic set); a failure raises CellFailed (step ``data``)."""
        if self.grid.data_root or not self.grid.cells:
            return None
        from mmengine.config import Config
        cell = self.grid.cells[0]
        try:
            cfg = Config.fromfile(cell.model_config)
            cfg.merge_from_dict(cell.options())
        except Exception as err:  # that cell will fail with the same error, on its own
            print_log(f'data: {cell.model_config}: {err}', logger='current',
                      level=logging.WARNING)
            return None
        synthetic = cfg.get('synthetic_data')
        if not synthetic:
            return None
        os.makedirs(self.work_dir, exist_ok=True)
        code = ('import json, sys; sys.path.insert(0, "tools"); '
                'from train import ensure_synthetic_data; '
                f'ensure_synthetic_data(**json.loads({json.dumps(json.dumps(dict(synthetic)))}))')
        self._run('data', ['-c', code], osp.join(self.work_dir, 'data.log'))
        return dict(synthetic)

    def _train(self, cell_dir: str, config: str, timing: dict) -> str:
        from fusion_moe.engine.hooks import latest_checkpoint
        train_dir = osp.join(cell_dir, 'train')
        marker = osp.join(train_dir, 'finished.json')
        if osp.isfile(marker):
            with open(marker) as f:
                checkpoint = json.load(f)['checkpoint']
            if osp.isfile(checkpoint):
                return checkpoint
        os.makedirs(train_dir, exist_ok=True)
        start = time.time()
        self._run('train', [self._tool('train'), config, '--work-dir', train_dir, '--resume',
                            *self._data_args()], osp.join(cell_dir, 'train.log'), timing)
        checkpoint = latest_checkpoint(train_dir)
        if checkpoint is None:
            raise CellFailed('train', f'tools/train.py saved no checkpoint in {train_dir}')
        timing['train_s'] = time.time() - start
        self._save_json(marker, {'checkpoint': checkpoint})
        return checkpoint

    def _model_info(self, cell_dir: str, config: str, notes: List[str]) -> Dict[str, object]:
        tool = self._tool('model_info')
        if not self.has_model_info():
            notes.append('active FLOPs: tools/model_info.py does not exist yet')
            return {}
        out = osp.join(cell_dir, 'model_info.json')
        if not osp.isfile(out):
            try:
                self._run('model_info', [tool, config, '--json', out],
                          osp.join(cell_dir, 'model_info.log'))
            except CellFailed as err:
                notes.append(f'active FLOPs: {err}')
                return {}
        with open(out) as f:
            record = json.load(f)
        total = record.get('total')
        if not isinstance(total, dict) or total.get('flops') is None:
            notes.append(f'active FLOPs: {out} has no total.flops')
            return {}
        fusion = (record.get('components') or {}).get('fusion') or {}
        return {'active_flops': total['flops'], 'params': total.get('params'),
                'active_params': total.get('active_params'), 'fusion_flops': fusion.get('flops')}

    def _evaluate(self, cell_dir: str, config: str, checkpoint: str, timing: dict):
        from fusion_moe.evaluation.robustness import load_results
        out = osp.join(cell_dir, 'robustness')
        path = osp.join(out, 'results.json')
        if osp.isfile(path):
            results = load_results(path)
            if set(self.condition_names) <= set(results.conditions):
                return results
        start = time.time()
        self._run('evaluate', [self._tool('robustness'), config, checkpoint, '--work-dir', out,
                               *self.grid.conditions.tool_args(), *self._data_args()],
                  osp.join(cell_dir, 'robustness.log'), timing)
        timing['eval_s'] = time.time() - start
        results = load_results(path)
        missing = [c for c in self.condition_names if c not in results.conditions]
        if missing:
            raise CellFailed('evaluate', f'{path} lacks the conditions {missing}')
        return results

    # ------------------------------------------------------------------ the cell
    def run(self, cell: Cell) -> CellResult:
        """Run every step not done yet; never raises for a failing step (see CellResult)."""
        start = time.time()
        cell_dir = self.cell_dir(cell)
        os.makedirs(cell_dir, exist_ok=True)
        config = osp.join(cell_dir, 'config.py')
        timing_path = osp.join(cell_dir, 'timing.json')
        timing = self._timing(timing_path)
        notes: List[str] = []
        checkpoint, info, metrics = '', {}, {}
        try:
            try:
                write_cell_config(cell.model_config, cell.options(), config, self.max_iters)
            except Exception as err:  # a wrong model config or key: the cell's own error
                raise CellFailed('config', f'{type(err).__name__}: {err}') from None
            checkpoint = self._train(cell_dir, config, timing)
            self._save_json(timing_path, timing)
            info = self._model_info(cell_dir, config, notes)
            results = self._evaluate(cell_dir, config, checkpoint, timing)
            self._save_json(timing_path, timing)
            metrics = {name: (results.conditions[name].metric('mAP'),
                              results.conditions[name].metric('NDS'))
                       for name in self.condition_names}
            status, error = 'ok', ''
        except Exception as err:  # recorded in the table; the other cells go on
            status = 'failed'
            error = str(err) if isinstance(err, CellFailed) else f'{type(err).__name__}: {err}'
            print_log(f'cell {cell.cell_id} failed: {error}', logger='current',
                      level=logging.ERROR)
        wall = time.time() - start
        train_s, eval_s = timing.get('train_s'), timing.get('eval_s')
        rows = []
        for name in self.condition_names:
            m_ap, nds = metrics.get(name, (None, None))
            rows.append({'cell': cell.cell_id, **cell.column_dict(), 'condition': name,
                         'mAP': m_ap, 'NDS': nds, **{k: info.get(k) for k in INFO_COLUMNS},
                         'train_s': None if train_s is None else round(train_s, 1),
                         'eval_s': None if eval_s is None else round(eval_s, 1),
                         'wall_s': round((train_s or 0) + (eval_s or 0), 1) if status == 'ok'
                         else round(wall, 1),
                         'cpu_s': round(timing.get('train_cpu_s', 0.0)
                                        + timing.get('evaluate_cpu_s', 0.0), 1),
                         'status': status, 'error': error, 'notes': '; '.join(notes),
                         'config': osp.relpath(config, self.work_dir),
                         'checkpoint': osp.relpath(checkpoint, self.work_dir)
                         if checkpoint else ''})
        return CellResult(rows, status, wall, error, notes)
