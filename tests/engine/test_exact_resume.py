"""Kill tools/train.py mid-epoch and ``--resume``: the run ends exactly where an uninterrupted
run with the same seed ends (weights, optimizer, schedule, routing state, data, losses)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from fusion_moe.engine import load_checkpoint_file
from toy_moe import toy_config

HERE = osp.dirname(osp.abspath(__file__))
KILL_AT = 8  # iteration 2 of epoch 2 (6 iterations per epoch)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp('resume')
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, osp.join(HERE, 'resume_worker.py'), str(out),
                           str(KILL_AT)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def batches(name):
        with open(out / f'{name}.jsonl') as f:
            return [json.loads(line) for line in f]
    return dict(out=out, status=json.load(open(out / 'runs.json')),
                log=proc.stdout + proc.stderr,
                straight=batches('straight'), killed=batches('killed'))


def test_the_killed_run_died_mid_epoch_and_resumed_from_its_last_checkpoint(runs):
    assert runs['status']['straight'] == 0
    assert runs['status']['killed'] == -9  # SIGKILL right after iteration 8's checkpoint
    assert runs['status']['resume_from'] == str(runs['out'] / 'killed' / f'iter_{KILL_AT}.pth')
    assert runs['status']['resumed'] == 0
    assert 'skipping its first 2 of 6 batches' in runs['log']
    assert [r['iter'] for r in runs['killed']] == list(range(1, 13))  # none trained twice


def test_two_runs_with_the_same_seed_and_the_resumed_run_see_the_same_batches_and_losses(runs):
    for straight, killed in zip(runs['straight'], runs['killed']):
        assert killed['sample_idx'] == straight['sample_idx'], straight['iter']
        assert killed['loss'] == straight['loss'], straight['iter']
    # the dataset was told the epoch before each pass, in the data worker too
    assert [r['epoch'] for r in runs['straight']] == [[0, 0]] * 6 + [[1, 1]] * 6


def test_final_weights_optimizer_schedule_and_routing_state_match_the_uninterrupted_run(runs):
    straight = load_checkpoint_file(str(runs['out'] / 'straight' / 'iter_12.pth'))
    resumed = load_checkpoint_file(str(runs['out'] / 'killed' / 'iter_12.pth'))
    weights = straight['state_dict']
    assert {'moe.expert_bias', 'moe.usage_regularizer.usage_ema_E'} <= set(weights)
    assert weights['moe.expert_bias'].abs().sum() > 0  # the bias hook did move it
    for key, value in weights.items():
        torch.testing.assert_close(resumed['state_dict'][key], value, rtol=0, atol=1e-6,
                                   msg=key)
    for a, b in zip(straight['optimizer']['state'].values(),
                    resumed['optimizer']['state'].values()):
        for name in ('exp_avg', 'exp_avg_sq'):
            torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-7)
    assert straight['param_schedulers'] == resumed['param_schedulers']
    assert straight['meta']['iter'] == resumed['meta']['iter'] == 12


def _iteration_run(tmp_path, name: str, max_iters: int, resume: bool = False) -> Runner:
    cfg = toy_config(str(tmp_path / 'work'), length=6, num_workers=0)
    cfg.update(train_cfg=dict(type='ResumableIterBasedTrainLoop', max_iters=max_iters),
               param_scheduler=[dict(type='LinearLR', start_factor=0.2, by_epoch=False,
                                     begin=0, end=4)],
               randomness=dict(seed=3),  # deterministic mode is process-wide: not here
               experiment_name=f'iter_{name}_{tmp_path.name}', resume=resume)
    cfg['train_dataloader']['sampler'] = dict(type='InfiniteSampler', shuffle=True)
    cfg['work_dir'] = str(tmp_path / name)
    cfg['custom_hooks'].append(dict(type='RecordBatchesHook',
                                    out_file=str(tmp_path / f'{name}.jsonl')))
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    return runner


def test_the_iteration_loop_resumes_exactly_and_tells_the_dataset_each_pass(tmp_path):
    straight = _iteration_run(tmp_path, 'straight', 8)
    _iteration_run(tmp_path, 'stopped', 5)
    resumed = _iteration_run(tmp_path, 'stopped', 8, resume=True)
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=1e-6,
                                   msg=key)
    records = [json.loads(line) for line in open(tmp_path / 'straight.jsonl')]
    assert [r['epoch'] for r in records] == [[0, 0]] * 3 + [[1, 1]] * 3 + [[2, 2]] * 2
    again = [json.loads(line) for line in open(tmp_path / 'stopped.jsonl')]
    assert [r['loss'] for r in again] == [r['loss'] for r in records]
