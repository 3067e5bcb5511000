"""FusionDetector on hand-made packed batches: losses, boxes, any sensor subset, config errors."""
import copy

import pytest
import torch
from mmdet3d.registry import MODELS
from mmdet3d.structures import LiDARInstance3DBoxes


def _build(cfg):
    torch.manual_seed(0)
    return MODELS.build(copy.deepcopy(cfg))


def test_loss_is_finite_and_trains_every_encoder(det):
    model = _build(det.tiny_model_cfg())
    losses = model(**model.data_preprocessor(det.make_batch(), True), mode='loss')
    assert set(losses) == {'task0.loss_heatmap', 'task0.loss_bbox'}
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    for modality, encoder in model.encoders.items():
        grads = [p.grad for p in encoder.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), modality


def test_predict_returns_nine_dim_lidar_frame_boxes(det):
    model = _build(det.tiny_model_cfg()).eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(det.make_batch(), False), mode='predict')
    pred = out[0].pred_instances_3d
    assert isinstance(pred.bboxes_3d, LiDARInstance3DBoxes)
    assert pred.bboxes_3d.tensor.shape[1] == 9
    assert pred.scores_3d.shape == pred.labels_3d.shape == (len(pred.bboxes_3d), )
    assert int(pred.labels_3d.max()) < 10
    centres = pred.bboxes_3d.gravity_center
    assert torch.all(centres[:, :2].abs() <= 12.8 + 5)  # inside the head's post-centre range
    assert 'pred_instances' in out[0]  # the (empty) 2D predictions NuScenesMetric reads


@pytest.mark.parametrize('absent', ['camera', 'lidar', 'radar'])
def test_one_model_runs_with_any_sensor_missing(det, absent):
    model = _build(det.tiny_model_cfg()).eval()
    present = {'camera': True, 'lidar': True, 'radar': True, absent: False}
    batch = det.make_batch(presents=[present, None])
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        feats = model.encode(data['inputs'], [s.metainfo for s in data['data_samples']])
        out = model(**data, mode='predict')
    assert feats[absent][1].tolist() == [False, True]
    assert torch.all(feats[absent][0][0] == 0)
    assert len(out) == 2


def test_absent_modality_features_do_not_leak_into_the_prediction(det):
    """Garbage points in a sample flagged lidar-absent must not change its prediction."""
    model = _build(det.tiny_model_cfg()).eval()
    present = {'camera': True, 'lidar': False, 'radar': True}
    clean = det.make_batch(seeds=(0, ), presents=[present])
    dirty = det.make_batch(seeds=(0, ), presents=[present])
    dirty['inputs']['points'] = [torch.randn(500, 6) * 10]
    with torch.no_grad():
        a = model(**model.data_preprocessor(clean, False), mode='tensor')
        b = model(**model.data_preprocessor(dirty, False), mode='tensor')
    assert torch.allclose(a[0][0]['heatmap'], b[0][0]['heatmap'])


def test_lidar_only_model_learns_to_find_the_car(det):
    """A few steps of Adam on one scene: the top-scoring box moves onto the car at (5, 2)."""
    torch.manual_seed(0)
    model = _build(det.tiny_model_cfg(modalities=('lidar', )))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = det.make_batch(seeds=(0, 1))
    for _ in range(40):
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    # precise BN: re-estimate the running statistics of the final weights on the batch
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        model(**model.data_preprocessor(batch, True), mode='tensor')
    model.eval()
    with torch.no_grad():
        pred = model(**model.data_preprocessor(batch, False), mode='predict')[0].pred_instances_3d
    best = pred.bboxes_3d[int(pred.scores_3d.argmax())]
    assert int(pred.labels_3d[pred.scores_3d.argmax()]) == 0  # car
    assert torch.dist(best.gravity_center[0, :2], torch.tensor([5.0, 2.0])) < 1.0
    assert abs(float(best.tensor[0, 3]) - 4.5) < 1.0  # length in metres


def test_unknown_modality_in_config_is_an_error_naming_the_key(det):
    cfg = det.tiny_model_cfg()
    cfg['encoders']['sonar'] = cfg['encoders'].pop('radar')
    with pytest.raises(KeyError, match='encoders.sonar'):
        _build(cfg)


def test_encoder_with_its_own_different_grid_is_an_error_naming_the_key(det):
    cfg = det.tiny_model_cfg()
    cfg['encoders']['lidar']['cell_m'] = 0.8
    with pytest.raises(ValueError, match='encoders.lidar.cell_m'):
        _build(cfg)


@pytest.mark.parametrize('path, value, key', [
    (('train_cfg', 'grid_size'), [32, 32, 1], 'bbox_head.train_cfg.grid_size'),
    (('test_cfg', 'pc_range'), [-51.2, -51.2], 'bbox_head.test_cfg.pc_range'),
    (('bbox_coder', 'voxel_size'), [0.2, 0.2], 'bbox_head.bbox_coder.voxel_size'),
])
def test_head_grid_that_differs_from_bev_grid_is_an_error_naming_the_key(det, path, value, key):
    cfg = det.tiny_model_cfg()
    cfg['bbox_head'][path[0]][path[1]] = value
    with pytest.raises(ValueError, match=key.replace('.', r'\.')):
        _build(cfg)


def test_backbone_stride_inconsistent_with_out_size_factor_is_an_error(det):
    cfg = det.tiny_model_cfg()
    cfg['backbone']['layer_strides'] = [2]  # heatmap 8x8 but out_size_factor says 16x16
    model = _build(cfg)
    with pytest.raises(ValueError, match='out_size_factor'):
        model(**model.data_preprocessor(det.make_batch(), True), mode='loss')


def test_task_classes_out_of_dataset_order_are_refused(det):
    cfg = det.tiny_model_cfg()
    names = cfg['bbox_head']['tasks'][0]['class_names']
    names[0], names[1] = names[1], names[0]
    with pytest.raises(ValueError, match='CLASSES'):
        _build(cfg)
