"""Checkpoints that exist only complete, and the choice of the checkpoint to resume from.

mmengine's ``CheckpointHook`` writes ``iter_N.pth`` with ``open(path, 'wb').write(...)``; a run
killed during that write leaves a truncated file under the final name. Here the bytes go to a
temporary file in the same directory, are flushed to disk (``fsync``) and then renamed over the
final name (``os.replace`` is atomic on POSIX and Windows): at any moment a checkpoint file is
either absent or complete.

``last_checkpoint`` (the pointer mmengine's auto-resume reads) is still written by mmengine in
place; :func:`latest_checkpoint` therefore checks it and, if it is empty or names a file that is
not there, falls back to the newest ``epoch_N.pth`` / ``iter_N.pth`` of the work dir, with a
warning. ``tools/train.py --resume`` (no file given) resumes from what it returns.
"""
import glob
import logging
import os
import os.path as osp
import re
import tempfile
from pathlib import Path
from typing import Optional, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from fusion_moe.registry import HOOKS

ATOMIC_BACKEND = 'atomic_local'
_CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def write_atomically(data: Union[bytes, str], path: Union[str, Path]) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename."""
    path = str(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', suffix='.part', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data.encode('utf-8') if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        write_atomically(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        write_atomically(obj.encode(encoding), filepath)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoint files are written atomically (see module doc).

    Same arguments as mmengine's ``CheckpointHook``; without ``backend_args`` (or the deprecated
    ``file_client_args``) it writes local files through :class:`AtomicLocalBackend`.
    """

    def __init__(self, *args, backend_args: Optional[dict] = None,
                 file_client_args: Optional[dict] = None, **kwargs) -> None:
        if backend_args is None and file_client_args is None:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, backend_args=backend_args, file_client_args=file_client_args,
                         **kwargs)


def _step_of(path: str) -> int:
    match = _CHECKPOINT_NAME.match(osp.basename(path))
    return int(match.group(2)) if match else -1


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` should continue from, or None if the work dir has none.

    The file named by ``<work_dir>/last_checkpoint`` if it exists; otherwise (pointer missing,
    empty or dangling) the newest ``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir``.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    named = ''
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if named and osp.isfile(named):
            return named
    found = [p for p in glob.glob(osp.join(work_dir, '*.pth')) if _step_of(p) >= 0]
    if not found:
        if named:
            print_log(f'{pointer} names {named!r}, which does not exist, and {work_dir} holds no '
                      f'other checkpoint', logger='current', level=logging.WARNING)
        return None
    newest = max(found, key=lambda p: (osp.getmtime(p), _step_of(p)))
    print_log(f'{pointer} is {"missing" if not osp.isfile(pointer) else repr(named)}; resuming '
              f'from the newest checkpoint file {newest}', logger='current',
              level=logging.WARNING)
    return newest
