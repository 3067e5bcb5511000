"""Train the toy MoE model three times through tools/train.py, killing one run mid-epoch.

    python tests/engine/resume_worker.py OUT_DIR KILL_AT

Imports once, then forks one process per run (each is a complete ``tools/train.py`` run):

- ``OUT_DIR/straight``: 2 epochs x 6 iterations, uninterrupted;
- ``OUT_DIR/killed``: the same config and seed, SIGKILLed right after iteration KILL_AT and its
  checkpoint (mid-epoch 2), then resumed with ``--resume`` (newest checkpoint of the work dir)
  in a new process until the end.

Writes ``OUT_DIR/runs.json`` (each process's exit status, minus the signal for a killed one,
and the checkpoint ``--resume`` picked) and, per iteration, the samples, their epoch and the
logged loss to ``OUT_DIR/straight.jsonl`` and ``OUT_DIR/killed.jsonl``.
"""
import json
import os
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(osp.dirname(HERE))
sys.path[:0] = [REPO, osp.join(REPO, 'tools'), HERE]

from mmengine.config import Config  # noqa: E402
from toy_moe import toy_config  # noqa: E402
from train import main as train_main  # noqa: E402

import fusion_moe  # noqa: E402,F401
from fusion_moe.engine.hooks import latest_checkpoint  # noqa: E402


def _in_child(argv) -> int:
    """Run tools/train.py with ``argv`` in a forked process; its exit status or -signal."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            train_main(argv)
        except BaseException as err:  # report, do not fall back into the parent's code
            print(f'run {argv} failed: {err!r}', file=sys.stderr)
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _config(out: str, name: str, records: str, kill_at: int = 0) -> str:
    cfg = toy_config(osp.join(out, name))
    cfg['custom_hooks'].append(dict(type='RecordBatchesHook',
                                    out_file=osp.join(out, f'{records}.jsonl')))
    if kill_at:
        cfg['custom_hooks'].append(dict(type='KillAtIterationHook', iteration=kill_at))
    path = osp.join(out, f'{name}.py')
    Config(cfg).dump(path)
    return path


def main(out: str, kill_at: int) -> None:
    runs = {'straight': _in_child([_config(out, 'straight', 'straight')]),
            'killed': _in_child([_config(out, 'killed', 'killed', kill_at)])}
    runs['resume_from'] = latest_checkpoint(osp.join(out, 'killed'))
    runs['resumed'] = _in_child([_config(out, 'resumed', 'killed'), '--work-dir',
                                 osp.join(out, 'killed'), '--resume'])
    with open(osp.join(out, 'runs.json'), 'w') as f:
        json.dump(runs, f)


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
