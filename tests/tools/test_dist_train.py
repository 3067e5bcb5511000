"""Two CPU processes with gloo through tools/train.py --launcher pytorch stay in sync."""
import os
import os.path as osp
import socket
import subprocess
import sys

import torch

WORKER = osp.join(osp.dirname(osp.abspath(__file__)), 'ddp_worker.py')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_gloo_processes_end_with_identical_parameters(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(_free_port()), WORKER, str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    final = [torch.load(tmp_path / f'rank{r}_final.pt') for r in (0, 1)]
    init = torch.load(tmp_path / 'rank0_init.pt')
    # each rank trained on its own half of the data (DistributedSampler)
    assert len(final[0]['seen']) == len(final[1]['seen']) == 6
    assert not set(final[0]['seen']) & set(final[1]['seen'])
    states = [f['state'] for f in final]
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    changed = [k for k in init if not torch.equal(init[k], states[0][k])]
    assert len(changed) > 10  # the weights really trained
