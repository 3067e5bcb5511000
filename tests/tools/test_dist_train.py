"""Two CPU processes with gloo through tools/train.py --launcher pytorch: they stay in sync, and
with half the per-process batch they follow the single-process run (losses, routing statistics
and expert-bias state reduced across processes)."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

WORKER = osp.join(osp.dirname(osp.abspath(__file__)), 'ddp_worker.py')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def ddp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(_free_port()), WORKER, str(out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def _records(path) -> list:
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_two_gloo_processes_end_with_identical_parameters(ddp_run):
    final = [torch.load(ddp_run / f'rank{r}_final.pt') for r in (0, 1)]
    init = torch.load(ddp_run / 'rank0_init.pt')
    # each rank trained on its own half of the data (DistributedSampler)
    assert len(final[0]['seen']) == len(final[1]['seen']) == 6
    assert not set(final[0]['seen']) & set(final[1]['seen'])
    states = [f['state'] for f in final]
    assert states[0].keys() == states[1].keys()
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
    changed = [k for k in init if not torch.equal(init[k], states[0][k])]
    assert len(changed) > 10  # the weights really trained


def test_half_the_batch_on_two_processes_follows_the_single_process_run(ddp_run):
    single = _records(ddp_run / 'toy_single_0.jsonl')
    ranks = [_records(ddp_run / f'toy_ddp_{r}.jsonl') for r in (0, 1)]
    assert len(single) == len(ranks[0]) == len(ranks[1]) == 4  # 16 samples, 4 per step
    for step, one in enumerate(single):
        split = [ranks[r][step] for r in (0, 1)]
        # the two halves of each step are the single process's batch
        assert sorted(split[0]['sample_idx'] + split[1]['sample_idx']) == sorted(
            one['sample_idx'])
        for record in split:  # logged values are the global batch's on every rank
            assert record['loss'] == pytest.approx(one['loss'], rel=1e-5), step
            assert record['entropy'] == pytest.approx(one['entropy'], rel=1e-5), step
    final = {name: torch.load(ddp_run / f'toy_{name}_rank0_final.pt')
             for name in ('single', 'ddp')}
    rank1 = torch.load(ddp_run / 'toy_ddp_rank1_final.pt')
    for part in ('state', 'buffers'):  # weights; expert bias and usage EMA
        for key, value in final['single'][part].items():
            torch.testing.assert_close(final['ddp'][part][key], value, rtol=1e-4, atol=1e-5,
                                       msg=key)
            assert torch.equal(rank1[part][key], final['ddp'][part][key]), key
    assert final['single']['buffers']['moe.expert_bias'].abs().sum() > 0  # the bias moved
