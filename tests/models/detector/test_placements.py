"""Each fusion placement routes what it claims (DESIGN.md, "Fusion placements"), and its dense
twin has no router. Tiny models, hand-made batches, one thread."""
import copy

import pytest
import torch
from mmdet3d.registry import MODELS

from fusion_moe.models.fusion import EarlyFusion, LateDecisionFusion
from fusion_moe.models.fusion.painting import paint_points
from fusion_moe.models.moe import MoELayer, find_moe_layers

PLACEMENTS = ('early', 'mid_before', 'mid_after', 'late')


def _build(cfg, seed=0):
    torch.manual_seed(seed)
    return MODELS.build(copy.deepcopy(cfg))


def _data(model, det, training, **kw):
    return model.data_preprocessor(det.make_batch(**kw), training)


def _capture_inputs(layer: MoELayer):
    """Record the kwargs of every call of an MoE layer."""
    calls = []
    layer.register_forward_hook(lambda m, a, kw, out: calls.append((a, kw, out)),
                                with_kwargs=True)
    return calls


@pytest.mark.parametrize('placement', PLACEMENTS)
def test_moe_placement_merges_uniquely_named_aux_losses_and_keeps_records(det, placement):
    model = _build(det.tiny_placement_cfg(placement))
    losses = model(**_data(model, det, True), mode='loss')
    layers = dict(find_moe_layers(model))
    assert layers, 'an MoE placement has MoE layers'
    aux = [k for k in losses if not k.startswith('task0.')]
    assert aux and all(k.startswith('loss_') for k in aux)
    prefixes = {layer.loss_prefix for layer in layers.values()}
    assert len(prefixes) == len(layers)  # one loss prefix per layer
    assert {k.rsplit('_', 1)[0][len('loss_'):] for k in aux} == prefixes
    assert set(model.last_routing_records) == prefixes
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for layer in layers.values():
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in layer.routers.parameters())


@pytest.mark.parametrize('placement', PLACEMENTS)
def test_dense_twin_has_no_router_and_equal_active_width(det, placement):
    moe = _build(det.tiny_placement_cfg(placement))
    twin = _build(det.tiny_placement_cfg(placement, moe=False))
    assert find_moe_layers(twin) == []
    assert not any('router' in name for name, _ in twin.named_parameters())
    losses = twin(**_data(twin, det, True), mode='loss')
    assert set(losses) == {'task0.loss_heatmap', 'task0.loss_bbox'}
    for ffn in twin.fusion.ffn_layers():
        assert ffn.dense.fc1.out_features == det.TINY_DENSE_HIDDEN
    for _, layer in find_moe_layers(moe):
        assert layer.routers[0].top_k * layer.experts['ffn'].hidden_channels \
            == det.TINY_DENSE_HIDDEN
    # everything outside the token FFNs is the same module
    strip = lambda m: {k for k in m.state_dict() if '.moe.' not in k}  # noqa: E731
    assert strip(moe) == strip(twin)


def test_early_has_one_shared_encoder_that_sees_every_modality(det):
    model = _build(det.tiny_placement_cfg('early')).eval()
    assert len(model.encoders) == 0 and isinstance(model.fusion, EarlyFusion)
    (_, layer), = find_moe_layers(model)
    assert layer.modalities == ('lidar', 'radar')
    calls = _capture_inputs(layer)
    with torch.no_grad():
        model(**_data(model, det, False), mode='predict')
    (args, kwargs, _), = calls
    ids = kwargs['modality_ids']
    assert set(ids.tolist()) == {0, 1}  # LiDAR and radar pillar tokens in one call
    assert set(kwargs['sample_ids'].tolist()) == {0, 1}


def test_early_paints_lidar_points_with_the_camera_pixel_they_project_to(det):
    imgs = torch.zeros(1, 3, *det.TINY_IMG_HW)
    h, w = det.TINY_IMG_HW
    imgs[0, :, h // 2, w // 2] = torch.tensor([1.0, 2.0, 3.0])  # the optical axis' pixel
    lidar2img = torch.as_tensor(det.front_camera_lidar2img(), dtype=torch.float32)[None]
    xyz = torch.tensor([[10.0, 0.0, 0.0], [-10.0, 0.0, 0.0]])  # in front of / behind the camera
    paint = paint_points(xyz, imgs, lidar2img)
    torch.testing.assert_close(paint[0], torch.tensor([1.0, 2.0, 3.0, 1.0]))
    torch.testing.assert_close(paint[1], torch.zeros(4))
    # the camera reaches the detector's output only through the paint: absent camera, no paint
    model = _build(det.tiny_placement_cfg('early')).eval()
    data = _data(model, det, False)
    metas = [s.metainfo for s in data['data_samples']]
    sets = model.fusion.point_sets(data['inputs'], metas, torch.device('cpu'))
    assert sets['lidar'][0][:, 8].sum() > 0  # cam_hit
    data['data_samples'][0].set_metainfo(
        {'modality_present': {'camera': False, 'lidar': True, 'radar': True}})
    metas = [s.metainfo for s in data['data_samples']]
    sets = model.fusion.point_sets(data['inputs'], metas, torch.device('cpu'))
    assert sets['lidar'][0][:, 5:9].abs().sum() == 0


def test_mid_before_has_one_router_per_modality_and_the_fuser_sees_moe_outputs(det):
    model = _build(det.tiny_placement_cfg('mid_before')).eval()
    (_, layer), = find_moe_layers(model)
    assert layer.modalities == ('camera', 'lidar', 'radar') and len(layer.routers) == 3
    calls = _capture_inputs(layer)
    seen = []
    model.fusion.fuser.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    with torch.no_grad():
        model(**_data(model, det, False), mode='predict')
    (args, kwargs, (y_TD, _)), = calls
    x_TD = args[0]
    b, h, w = 2, 16, 16
    for i, m in enumerate(('camera', 'lidar', 'radar')):
        assert set(kwargs['modality_ids'][i * b * h * w:(i + 1) * b * h * w].tolist()) == {i}
        rows = slice(i * b * h * w, (i + 1) * b * h * w)
        expected = (x_TD[rows] + y_TD[rows]).view(b, h, w, -1).permute(0, 3, 1, 2)
        torch.testing.assert_close(seen[0][m][0], expected)  # residual MoE output, fused next


def test_mid_after_routes_the_fused_cells(det):
    model = _build(det.tiny_placement_cfg('mid_after')).eval()
    (_, layer), = find_moe_layers(model)
    calls = _capture_inputs(layer)
    fused = []
    model.fusion.fuser.register_forward_hook(lambda m, a, out: fused.append(out))
    with torch.no_grad():
        model(**_data(model, det, False), mode='predict')
    (args, kwargs, _), = calls
    torch.testing.assert_close(args[0], fused[0].permute(0, 2, 3, 1).reshape(-1, 16))
    assert len(layer.routers) == 1


def test_mid_after_presence_routers_key_each_sample_by_its_sensor_set(det):
    cfg = det.tiny_placement_cfg('mid_after')
    cfg['fusion']['router_key'] = 'presence'
    model = _build(cfg).eval()
    (_, layer), = find_moe_layers(model)
    assert len(layer.routers) == 8 and layer.modalities[7] == 'camera+lidar+radar'
    calls = _capture_inputs(layer)
    no_radar = {'camera': True, 'lidar': True, 'radar': False}
    with torch.no_grad():
        model(**_data(model, det, False, presents=[None, no_radar]), mode='predict')
    ids = calls[0][1]['modality_ids'].view(2, -1)
    assert set(ids[0].tolist()) == {7} and set(ids[1].tolist()) == {3}  # camera+lidar


def test_late_has_one_head_per_modality_and_the_rule_drops_an_absent_one(det):
    model = _build(det.tiny_placement_cfg('late')).eval()
    assert set(model.bbox_heads) == {'camera', 'lidar', 'radar'}
    assert not hasattr(model, 'bbox_head')
    assert len(find_moe_layers(model)) == 3
    no_radar = {'camera': True, 'lidar': True, 'radar': False}
    data = _data(model, det, False, presents=[None, no_radar])
    metas = [s.metainfo for s in data['data_samples']]
    with torch.no_grad():
        before, _, _ = model.head_outputs(data['inputs'], metas)
        for p in model.bbox_heads['radar'].parameters():
            p.add_(torch.randn_like(p))
        after, _, _ = model.head_outputs(data['inputs'], metas)
    for key in ('heatmap', 'reg', 'vel'):
        assert not torch.allclose(before[0][0][key][0], after[0][0][key][0])  # radar present
        torch.testing.assert_close(before[0][0][key][1], after[0][0][key][1])  # radar absent


def test_late_rule_weights_are_a_softmax_over_present_modalities():
    rule = LateDecisionFusion(('camera', 'lidar'), num_tasks=1, output_keys=('heatmap', ))
    present = {'camera': torch.tensor([True, False, False]),
               'lidar': torch.tensor([True, True, False])}
    w = rule.weights(present)[:, 0, 0]
    torch.testing.assert_close(w, torch.tensor([[0.5, 0.5], [0.0, 1.0], [0.5, 0.5]]))
    outs = {m: ([{'heatmap': torch.full((3, 1, 2, 2), v)}], ) for m, v in
            (('camera', 1.0), ('lidar', 3.0))}
    fused = rule(outs, present)[0][0]['heatmap']
    assert fused[:, 0, 0, 0].tolist() == [2.0, 3.0, 2.0]
