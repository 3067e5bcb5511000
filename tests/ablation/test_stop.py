"""Stopping the runner ends the tools it started (whole process group) and records nothing."""
import threading
import time

import pytest

from fusion_moe.ablation.cell_runner import CellFailed, CellRunner, StudyStopped
from fusion_moe.ablation.grid import ConditionSet, Grid


def _runner(tmp_path) -> CellRunner:
    grid = Grid(path='g.py', cells=(), conditions=ConditionSet(corruptions=('fog',),
                                                               severities=(3,)), axis_names=())
    return CellRunner(grid, str(tmp_path))


def test_stop_kills_a_running_tool_and_its_children(tmp_path):
    runner = _runner(tmp_path)
    child = tmp_path / 'child.pid'
    code = ('import subprocess, sys, time; '
            'p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]); '
            f'open({str(child)!r}, "w").write(str(p.pid)); time.sleep(60)')
    raised = []

    def work():
        try:
            runner._run('train', ['-c', code], str(tmp_path / 'log'))
        except BaseException as err:  # noqa: B902  (what the thread saw)
            raised.append(err)
    thread = threading.Thread(target=work)
    start = time.time()
    thread.start()
    while not child.exists() and time.time() - start < 30:
        time.sleep(0.05)
    runner.stop()
    thread.join(30)
    assert time.time() - start < 30 and len(raised) == 1
    assert isinstance(raised[0], StudyStopped)
    pid = int(child.read_text())
    state, deadline = '', time.time() + 10  # the grandchild dies too (SIGKILL is asynchronous)
    while state not in ('gone', 'Z') and time.time() < deadline:
        try:
            state = open(f'/proc/{pid}/stat').read().split()[2]
        except FileNotFoundError:
            state = 'gone'
        time.sleep(0.05)
    assert state in ('gone', 'Z')
    with pytest.raises(StudyStopped):  # and nothing new starts
        runner._run('evaluate', ['-c', 'pass'], str(tmp_path / 'log'))


def test_a_tool_that_fails_raises_the_last_error_line_of_its_log(tmp_path):
    runner = _runner(tmp_path)
    timing = {}
    with pytest.raises(CellFailed, match=r"train: exit code 1: KeyError: 'boom'"):
        runner._run('train', ['-c', 'raise KeyError("boom")'], str(tmp_path / 'log'), timing)
    assert timing['train_cpu_s'] > 0
