"""A checkpoint file exists only complete, and ``--resume`` never picks a half-written one."""
import os
import signal

import pytest
from mmengine.fileio import get_file_backend

import fusion_moe.engine.hooks.atomic_checkpoint_hook as atomic_module
from fusion_moe.engine.hooks import AtomicCheckpointHook, latest_checkpoint
from fusion_moe.registry import HOOKS


def _die_before_rename(*args):
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_write_killed_before_its_rename_leaves_the_old_file_and_no_new_one(tmp_path):
    old = tmp_path / 'iter_2.pth'
    old.write_bytes(b'complete checkpoint 2')
    (tmp_path / 'last_checkpoint').write_text(str(old))
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    pid = os.fork()
    if pid == 0:  # the training process, killed while it writes iter_4.pth
        atomic_module.os.replace = _die_before_rename
        backend.put(b'x' * 1_000_000, str(tmp_path / 'iter_4.pth'))
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not (tmp_path / 'iter_4.pth').exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith('.part')]
    assert len(leftovers) == 1 and leftovers[0].startswith('.iter_4.pth.')  # the dead write
    assert latest_checkpoint(str(tmp_path)) == str(old)
    assert old.read_bytes() == b'complete checkpoint 2'


def test_a_failed_write_removes_its_temporary_file(tmp_path, monkeypatch):
    def fail(*args):
        raise OSError('disk full')
    monkeypatch.setattr(atomic_module.os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        atomic_module.write_atomically(b'data', tmp_path / 'iter_1.pth')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('pointer', ['', 'missing', None], ids=['empty', 'dangling', 'absent'])
def test_a_damaged_last_checkpoint_pointer_falls_back_to_the_newest_file(tmp_path, pointer):
    for step in (3, 6):
        (tmp_path / f'iter_{step}.pth').write_bytes(b'complete')
        os.utime(tmp_path / f'iter_{step}.pth', (step, step))
    (tmp_path / 'best_coco.pth').write_bytes(b'not a resume point')
    if pointer is not None:
        (tmp_path / 'last_checkpoint').write_text(
            str(tmp_path / 'iter_9.pth') if pointer == 'missing' else '')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_6.pth')
    assert latest_checkpoint(str(tmp_path / 'nothing_here')) is None


def test_the_default_checkpoint_hook_writes_atomically():
    hook = HOOKS.build(dict(type='AtomicCheckpointHook', interval=1))
    assert isinstance(hook, AtomicCheckpointHook)
    assert hook.backend_args == dict(backend='atomic_local')
    from mmengine.config import Config
    runtime = Config.fromfile(os.path.join(os.path.dirname(__file__), '..', '..', 'configs',
                                           '_base_', 'default_runtime.py'))
    assert runtime.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
