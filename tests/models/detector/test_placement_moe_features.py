"""The MoE library's features inside the detector, set by config: context modes, generalist
fallback, reliability gate, staged training with a frozen trunk, routing captures, old
checkpoints. Tiny models, hand-made batches, one thread."""
import copy
from types import SimpleNamespace

import pytest
import torch
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample
from mmengine.logging import MMLogger

from fusion_moe.engine import load_model_weights
from fusion_moe.engine.hooks import RoutingCaptureHook, StagedMoETrainingHook
from fusion_moe.models.fusion import reliability_targets
from fusion_moe.models.moe import find_moe_layers

NIGHT_RAIN = {'lighting': 'night', 'weather': 'rain', 'source': 'metadata'}


def _build(cfg, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(copy.deepcopy(cfg))


def _with_context(data, ctx):
    for s in data['data_samples']:
        s.set_metainfo({'context': dict(ctx)})
    return data


def _randomise_context_tables(model):
    with torch.no_grad():
        for _, layer in find_moe_layers(model):
            for table in layer.context_bias.tables.values():
                table.normal_(0, 3.0)


@pytest.mark.parametrize('placement', ['mid_after', 'late'])
def test_estimated_context_test_forward_never_reads_the_label(det, placement):
    model = _build(det.tiny_placement_cfg(placement, context_bias='estimated'))
    _randomise_context_tables(model)
    model.eval()
    outs = []
    for ctx in (None, NIGHT_RAIN):
        data = model.data_preprocessor(det.make_batch(), False)
        if ctx is not None:
            _with_context(data, ctx)
        with torch.no_grad():
            outs.append(model(**data, mode='tensor'))
    for a, b in zip(outs[0], outs[1]):
        for key in a[0]:
            torch.testing.assert_close(a[0][key], b[0][key], rtol=0, atol=0)
    # in training the label trains the context head
    model.train()
    losses = model(**model.data_preprocessor(det.make_batch(), True), mode='loss')
    assert any(k.endswith('_context') for k in losses)


def test_oracle_context_bias_reads_the_label(det):
    model = _build(det.tiny_placement_cfg('mid_after', context_bias='oracle'))
    _randomise_context_tables(model)
    model.eval()
    outs = []
    for ctx in ({'lighting': 'day', 'weather': 'clear', 'source': 'metadata'}, NIGHT_RAIN):
        data = _with_context(model.data_preprocessor(det.make_batch(), False), ctx)
        with torch.no_grad():
            model(**data, mode='tensor')
        outs.append(model.last_routing_records['mid_after'].probs)
    assert not torch.allclose(outs[0], outs[1])
    data = model.data_preprocessor(det.make_batch(), False)
    data['data_samples'] = [Det3DDataSample(metainfo={k: v for k, v in s.metainfo.items()
                                                      if k != 'context'})
                            for s in data['data_samples']]
    with pytest.raises(KeyError, match="metainfo\\['context'\\]"):
        model(**data, mode='tensor')


def test_generalist_fallback_acts_at_inference_only(det):
    model = _build(det.tiny_placement_cfg('mid_after', generalist_hidden_channels=8,
                                          fallback_threshold=1.0))  # every gap is < 1
    data = model.data_preprocessor(det.make_batch(), True)
    model.train()
    model(**data, mode='loss')
    assert model.last_routing_records['mid_after'].fallback_mask is None
    model.eval()
    with torch.no_grad():
        model(**data, mode='tensor')
    record = model.last_routing_records['mid_after']
    assert bool(record.fallback_mask.all())
    assert record.summary()['fallback_rate'] == pytest.approx(1.0)


def test_reliability_targets_come_from_presence_and_degradations():
    metas = [{'modality_present': {'camera': True, 'lidar': True, 'radar': True},
              'degradations': [{'name': 'night', 'severity': 3, 'params': {}}]},
             {'modality_present': {'camera': True, 'lidar': False, 'radar': True},
              'degradations': [{'name': 'fog', 'severity': 1, 'params': {}}]},
             {'modality_present': {'camera': True, 'lidar': True, 'radar': True},
              'degradations': [{'name': 'lidar_beams', 'severity': 2, 'params': {}}]}]
    t = reliability_targets(metas, ('camera', 'lidar', 'radar'), torch.device('cpu'))
    assert t['camera'].tolist() == [0.0, 0.0, 1.0]
    assert t['lidar'].tolist() == [1.0, 0.0, 0.0]
    assert t['radar'].tolist() == [1.0, 0.0, 1.0]
    t = reliability_targets(metas, ('camera', 'lidar', 'radar'), torch.device('cpu'),
                            min_severity=2)
    assert t['radar'].tolist() == [1.0, 1.0, 1.0]  # fog 1 is below the bar
    with pytest.raises(KeyError, match='warp_drive'):
        reliability_targets([{'degradations': [{'name': 'warp_drive', 'severity': 1}]}],
                            ('camera', ), torch.device('cpu'))


def test_reliability_gate_trains_on_the_targets_and_suppresses_at_inference(det):
    cfg = det.tiny_placement_cfg('mid_before')
    cfg['fusion']['reliability_gate'] = dict(type='ModalityReliabilityGate', threshold=0.5)
    model = _build(cfg)
    data = model.data_preprocessor(det.make_batch(), True)
    data['data_samples'][0].set_metainfo(
        {'degradations': [{'name': 'camera_dropout', 'severity': 5, 'params': {}}]})
    losses = model(**data, mode='loss')
    assert 'loss_mid_before_reliability' in losses
    with torch.no_grad():  # make the heads certain: camera unreliable, the others reliable
        for m, bias in (('camera', -50.0), ('lidar', 50.0), ('radar', 50.0)):
            model.fusion.reliability_gate.heads[m][-1].bias.fill_(bias)
    model.eval()
    hook = RoutingCaptureHook()
    hook._install(SimpleNamespace(model=model))
    with torch.no_grad():
        model(**model.data_preprocessor(det.make_batch(), False), mode='tensor')
    hook._finish()
    suppression = hook.last_capture['suppression']['fusion.reliability_gate']
    assert suppression['camera']['rate'] == 1.0 and suppression['lidar']['suppressed'] == 0


@pytest.mark.parametrize('placement', ['early', 'mid_before', 'mid_after', 'late'])
def test_routing_capture_hook_sees_every_moe_layer_per_sample(det, placement):
    model = _build(det.tiny_placement_cfg(placement)).eval()
    hook = RoutingCaptureHook(keep_top1=True)
    runner = SimpleNamespace(model=model)
    hook.before_test_epoch(runner)
    batch = det.make_batch()
    with torch.no_grad():
        model.test_step(batch)
    hook.after_test_iter(runner, 0, batch)
    hook.after_test_epoch(runner)
    top1 = hook.last_capture['top1']
    assert set(top1) == {name for name, _ in find_moe_layers(model)}
    for per_sample in top1.values():
        assert set(per_sample) == {'tok0', 'tok1'}
        assert all(a.size and (a >= -1).all() for a in per_sample.values())


def _fake_runner(model, epoch=0, it=0):
    return SimpleNamespace(model=model, epoch=epoch, iter=it,
                           logger=MMLogger.get_instance('placements_test'))


def test_staged_training_on_a_detector_freezes_the_trunk_and_its_batchnorm(det):
    model = _build(det.tiny_placement_cfg('mid_after', generalist_hidden_channels=8))
    hook = StagedMoETrainingHook(dense_iters=1)
    runner = _fake_runner(model)
    model.train()
    hook.before_train(runner)
    layer = model.fusion.moe.moe
    assert layer.stage == 'dense'
    data = model.data_preprocessor(det.make_batch(), True)
    losses = model(**data, mode='loss')
    assert not any('mid_after' in k for k in losses)  # dense stage: no routing losses
    runner.iter = 1
    hook.before_train_iter(runner, 1)
    assert layer.stage == 'moe'
    bn = model.backbone.blocks[0][1]
    assert not bn.training and not bn.weight.requires_grad
    assert model.fusion.fuser.fuse[1].training is False
    model.train()  # the next epoch's model.train() keeps frozen BatchNorm in eval
    assert not bn.training
    running = bn.running_mean.clone()
    losses = model(**model.data_preprocessor(det.make_batch(), True), mode='loss')
    sum(losses.values()).backward()
    torch.testing.assert_close(bn.running_mean, running, rtol=0, atol=0)
    assert bn.weight.grad is None
    assert layer.routers[0].linear.weight.grad is not None if hasattr(
        layer.routers[0], 'linear') else any(p.grad is not None
                                             for p in layer.routers.parameters())


def test_fuser_era_checkpoints_load_into_the_composed_detector(det, tmp_path):
    model = _build(det.tiny_model_cfg())
    old = {('fuser.' + k[len('fusion.fuser.'):] if k.startswith('fusion.fuser.') else k): v
           for k, v in model.state_dict().items()}
    assert any(k.startswith('fuser.') for k in old)
    fresh = _build(det.tiny_model_cfg(), seed=1)
    fresh.load_state_dict(copy.deepcopy(old), strict=True)
    torch.testing.assert_close(fresh.fusion.fuser.fuse[0].weight, model.fusion.fuser.fuse[0].weight)
    path = tmp_path / 'fuser_era.pth'
    torch.save({'state_dict': old}, path)
    load_model_weights(_build(det.tiny_model_cfg(), seed=2), str(path), strict=True)


def test_fusion_and_fuser_together_are_refused(det):
    cfg = det.tiny_placement_cfg('mid_after')
    cfg['fuser'] = dict(type='ConcatConvFuser', out_channels=16)
    with pytest.raises(ValueError, match='exactly one of model.fusion'):
        _build(cfg)
    cfg = det.tiny_placement_cfg('mid_after')
    cfg['fusion']['moe']['in_channels'] = 99
    with pytest.raises(ValueError, match='mid_after.moe.in_channels'):
        _build(cfg)


def test_robustness_context_mode_override_reaches_the_placement(det):
    """tools/robustness.py --context-mode off / oracle on a model built with oracle bias."""
    from fusion_moe.evaluation.robustness.context_mode import apply_context_mode
    model = _build(det.tiny_placement_cfg('mid_after', context_bias='oracle'))
    _randomise_context_tables(model)
    model.eval()
    data = _with_context(model.data_preprocessor(det.make_batch(), False), NIGHT_RAIN)
    with torch.no_grad():
        model(**data, mode='tensor')
        oracle = model.last_routing_records['mid_after'].probs
        assert apply_context_mode(model, 'off') == ('off', '--context-mode')
        assert model.fusion.context_mode == 'off'
        model(**data, mode='tensor')
        off = model.last_routing_records['mid_after'].probs
    assert not torch.allclose(oracle, off)
