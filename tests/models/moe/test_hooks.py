"""The MoE hooks on a toy model through mmengine's Runner: staged training (dense ->
upcycle -> routers/experts with the trunk frozen), routing statistics saved after validation,
and the aux-loss-free expert bias update."""
import json
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from fusion_moe.engine.hooks import (ExpertLoadBiasHook, RoutingStatisticsHook,
                                     StagedMoETrainingHook)
from fusion_moe.models.moe import MoELayer
from fusion_moe.registry import HOOKS, MODELS

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_', 'moe')


class ToyTokens(Dataset):
    """16 samples of 10 tokens (8 channels) with a scalar regression target per token."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 10, 8, generator=g)
        self.y = self.x[..., :1].sin() + self.x[..., 1:2]
        self.context = torch.randint(0, 2, (16,), generator=g)

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], targets=self.y[i], lighting=self.context[i])


class ToyMoEModel(BaseModel):
    """trunk -> MoELayer (residual) -> head, on (B, 10, 8) token batches."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Linear(8, 16)
        self.moe = MoELayer(16, 32, 4, generalist_hidden_channels=32,
                            router=dict(type='TopKRouter', top_k=2, normalize_gates=True))
        self.head = nn.Linear(16, 1)

    def forward(self, inputs, targets, lighting, mode='tensor'):
        b, t, _ = inputs.shape
        h = self.trunk(inputs).reshape(b * t, -1)
        sample_ids = torch.arange(b).repeat_interleave(t)
        context = {'lighting': lighting, 'weather': torch.zeros_like(lighting)}
        y, record = self.moe(h, sample_ids=sample_ids, context_ids=context)
        out = self.head(h + y).view(b, t, 1)
        if mode == 'loss':
            return {'loss_mse': F.mse_loss(out, targets), **record.aux_losses}
        return [dict(pred=out[i], target=targets[i]) for i in range(b)]


class MSEMetric(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.extend(float(F.mse_loss(s['pred'], s['target'])) for s in data_samples)

    def compute_metrics(self, results) -> dict:
        return {'mse': sum(results) / len(results)}


class Snapshot(Hook):
    """Records parameters right after the staged hook switched (lower priority runs later)."""
    priority = 'LOW'

    def __init__(self, at_iter: int) -> None:
        self.at_iter = at_iter
        self.params = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter in (self.at_iter - 1, self.at_iter):
            self.params[runner.iter] = {k: v.detach().clone()
                                        for k, v in runner.model.state_dict().items()}


def _runner(tmp_path, hooks, max_iters=12):
    loader = dict(dataset=ToyTokens(), batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return Runner(model=ToyMoEModel(), work_dir=str(tmp_path), train_dataloader=loader,
                  val_dataloader=loader, val_evaluator=Evaluator(MSEMetric()),
                  val_cfg=dict(),
                  train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters),
                  optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2)),
                  custom_hooks=hooks, default_hooks=dict(checkpoint=None),
                  default_scope='mmdet3d', log_level='WARNING',
                  # Unique per test: runners started in the same second would otherwise share
                  # one message hub (mmengine names it by the timestamp).
                  experiment_name=tmp_path.name)


def test_staged_schedule_trains_dense_then_upcycles_and_freezes_the_trunk(tmp_path):
    snapshot = Snapshot(at_iter=6)
    runner = _runner(tmp_path, [StagedMoETrainingHook(dense_iters=6, noise_std=0.01),
                                snapshot], max_iters=12)
    runner.train()
    model = runner.model
    before, at_switch = snapshot.params[5], snapshot.params[6]
    end = {k: v.detach() for k, v in model.state_dict().items()}
    # Dense stage: the trunk and the generalist trained; the routers were unused.
    assert not torch.equal(at_switch['trunk.weight'], before['trunk.weight'])
    assert torch.equal(at_switch['moe.routers.0.gate.weight'],
                       before['moe.routers.0.gate.weight'])
    # Switch: experts are noisy copies of the generalist.
    w1 = at_switch['moe.generalist.fc1.weight'].t()
    experts_w1 = at_switch['moe.experts.ffn.w1_EDF']
    for e in range(4):
        rel = (experts_w1[e] - w1).std() / w1.std()
        assert 0 < float(rel) < 0.05
    # MoE stage: trunk, head and generalist frozen; routers and experts train.
    for frozen in ('trunk.weight', 'head.weight', 'moe.generalist.fc1.weight'):
        assert torch.equal(end[frozen], at_switch[frozen]), frozen
    for trained in ('moe.routers.0.gate.weight', 'moe.experts.ffn.w1_EDF'):
        assert not torch.equal(end[trained], at_switch[trained]), trained
    assert model.moe.stage == 'moe'


def test_staged_schedule_can_keep_the_trunk_training_after_the_switch(tmp_path):
    snapshot = Snapshot(at_iter=6)
    runner = _runner(tmp_path, [StagedMoETrainingHook(dense_iters=6, noise_std=0.01,
                                                      freeze_trunk=False), snapshot],
                     max_iters=12)
    runner.train()
    at_switch = snapshot.params[6]
    end = {k: v.detach() for k, v in runner.model.state_dict().items()}
    # MoE stage: trunk, head, routers and experts train; the generalist (fallback) is frozen
    for trained in ('trunk.weight', 'head.weight', 'moe.routers.0.gate.weight',
                    'moe.experts.ffn.w1_EDF'):
        assert not torch.equal(end[trained], at_switch[trained]), trained
    assert torch.equal(end['moe.generalist.fc1.weight'], at_switch['moe.generalist.fc1.weight'])
    assert runner.model.moe.stage == 'moe'


def test_staged_hook_rejects_bad_configs_and_models_without_moe(tmp_path):
    with pytest.raises(ValueError, match='exactly one'):
        StagedMoETrainingHook()
    with pytest.raises(ValueError, match='exactly one'):
        StagedMoETrainingHook(dense_iters=1, dense_epochs=1)
    with pytest.raises(ValueError, match='no MoELayer'):
        StagedMoETrainingHook(dense_iters=1).before_train(
            SimpleNamespace(model=nn.Linear(2, 2), iter=0, epoch=0))
    with pytest.raises(ValueError, match='trainable_parts'):
        StagedMoETrainingHook(dense_iters=1, trainable_parts=('routerz',)).before_train(
            SimpleNamespace(model=ToyMoEModel(), iter=0, epoch=0))


def test_routing_statistics_are_saved_with_the_validation_results(tmp_path):
    runner = _runner(tmp_path, [RoutingStatisticsHook()], max_iters=2)
    metrics = runner.val()
    path = osp.join(runner.log_dir, 'routing_stats_val.json')
    with open(path) as f:
        saved = json.load(f)
    layer = saved['layers']['moe']
    assert layer['num_tokens'] == 160  # 16 samples x 10 tokens, each counted once
    assert len(layer['expert_load']) == 4
    assert sum(layer['expert_load']) == pytest.approx(1.0)
    for key in ('routing_entropy', 'gate_gap', 'fallback_rate', 'dropped_fraction'):
        assert metrics[f'moe/moe/{key}'] == pytest.approx(layer[key])
    util = layer['context_utilisation']['lighting']
    assert util['day']['tokens'] + util['night']['tokens'] == 160
    assert 'mse' in metrics


def test_routing_rates_are_logged_every_train_interval_iterations(tmp_path):
    runner = _runner(tmp_path, [RoutingStatisticsHook(train_interval=3)], max_iters=6)
    runner.train()
    hub = runner.message_hub
    entropy_values, _ = hub.get_scalar('train/moe/moe/routing_entropy').data
    gap_values, _ = hub.get_scalar('train/moe/moe/gate_gap').data
    assert len(entropy_values) == 2  # iterations 3 and 6
    assert all(0.0 < v <= math.log(4) + 1e-6 for v in entropy_values)
    assert all(0.0 <= v <= 1.0 for v in gap_values)
    assert hub.get_scalar('train/moe/moe/fallback_rate').current() == 0.0


def test_training_rates_are_not_logged_by_default(tmp_path):
    runner = _runner(tmp_path, [RoutingStatisticsHook()], max_iters=2)
    runner.train()
    assert 'train/moe/moe/routing_entropy' not in runner.message_hub.log_scalars
    with pytest.raises(ValueError, match='train_interval'):
        RoutingStatisticsHook(train_interval=-1)


def test_expert_bias_update_balances_a_collapsed_router():
    layer = MoELayer(4, 8, 4, router=dict(type='TopKRouter', top_k=1), use_expert_bias=True)
    with torch.no_grad():
        layer.routers[0].gate.weight.normal_(std=1.0)
        layer.routers[0].gate.weight[0] += 1.5  # expert 0 wins for every (positive) token
    x = torch.randn(200, 4).abs()
    hub = MessageHub.get_instance('test_expert_bias')
    runner = SimpleNamespace(model=layer, message_hub=hub, iter=0)
    hook = ExpertLoadBiasHook(update_rate=0.01, log_interval=1)
    layer.train()
    loads = []
    for it in range(100):
        runner.iter = it
        _, record = layer(x)
        loads.append(record.stats['expert_load'])
        hook.after_train_iter(runner, it)
        assert layer.tokens_per_expert.sum() == 0  # counts reset after each update
    assert loads[0].tolist() == [200, 0, 0, 0]
    late = torch.stack(loads[-20:]).mean(0)
    assert float(late.max()) < 80 and float(late.min()) > 20  # near 50 each
    assert layer.expert_bias[0] < layer.expert_bias[1:].min()
    assert float(layer.expert_bias.sum()) == pytest.approx(0.0, abs=1e-5)
    assert hub.get_scalar('train/moe//load_e0') is not None
    # The bias changes selection only: gates are still the router's probabilities.
    torch.testing.assert_close(record.gates, record.probs.gather(1, record.experts))


def test_config_fragments_build_the_layer_and_the_hooks():
    layer_cfg = Config.fromfile(osp.join(CONFIG_DIR, 'moe_layer.py'))
    # the placement fills in in_channels and modalities (fusion_moe/models/fusion/ffn_block.py)
    layer = MODELS.build(dict(layer_cfg.moe_layer, in_channels=16, hidden_channels=32,
                              generalist_hidden_channels=32,
                              modalities=('camera', 'lidar', 'radar')))
    assert isinstance(layer, MoELayer) and len(layer.routers) == 3
    for router in layer_cfg.moe_routers.values():
        MODELS.build(dict(layer_cfg.moe_layer, in_channels=16, hidden_channels=32,
                          expert_kinds=None, router=router))
    staged = Config.fromfile(osp.join(CONFIG_DIR, 'staged_training.py'))
    hooks = [HOOKS.build(h) for h in staged.custom_hooks]
    assert isinstance(hooks[0], StagedMoETrainingHook)
    assert staged.moe_layer.generalist_hidden_channels == staged.moe_layer.hidden_channels
