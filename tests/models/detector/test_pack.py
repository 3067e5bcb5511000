"""PackFusionInputs: the packed layout the detector reads, and clear errors on bad input."""
import numpy as np
import pytest
import torch
from mmdet3d.structures import LiDARInstance3DBoxes, LiDARPoints

from fusion_moe.data.pack import PackFusionInputs


def _results(**overrides):
    rng = np.random.default_rng(0)
    res = dict(
        points=LiDARPoints(rng.normal(size=(50, 6)).astype(np.float32), points_dim=6),
        img=[np.zeros((16, 24, 3), np.uint8) for _ in range(6)],
        lidar2img=[np.eye(4)] * 6, cam2img=[np.eye(4)] * 6, lidar2cam=[np.eye(4)] * 6,
        img_shape=(16, 24),
        radar_points=rng.normal(size=(7, 8)).astype(np.float32),
        gt_bboxes_3d=LiDARInstance3DBoxes(torch.zeros(2, 9), box_dim=9),
        gt_labels_3d=np.array([0, 3]),
        context={'lighting': 'night', 'weather': 'clear', 'source': 'metadata'},
        modality_present={'camera': True, 'lidar': True, 'radar': True},
        degradations=[], sample_idx=4, token='abc', box_type_3d=LiDARInstance3DBoxes)
    res.update(overrides)
    return res


def test_packed_inputs_metainfo_and_boxes_follow_the_contract():
    packed = PackFusionInputs().transform(_results())
    inputs, sample = packed['inputs'], packed['data_samples']
    assert inputs['points'].shape == (50, 6) and inputs['points'].dtype == torch.float32
    assert inputs['img'].shape == (6, 3, 16, 24)
    assert inputs['radar_points'].shape == (7, 8)
    assert inputs['radar_points'].dtype == torch.float32
    for key in ('lidar2img', 'cam2img', 'lidar2cam', 'img_shape', 'context',
                'modality_present', 'degradations', 'sample_idx', 'token', 'box_type_3d'):
        assert key in sample.metainfo, key
    assert sample.metainfo['context']['lighting'] == 'night'
    boxes = sample.gt_instances_3d.bboxes_3d
    assert isinstance(boxes, LiDARInstance3DBoxes) and boxes.tensor.shape == (2, 9)
    assert sample.gt_instances_3d.labels_3d.tolist() == [0, 3]


def test_missing_radar_is_an_empty_cloud_marked_absent():
    packed = PackFusionInputs().transform(_results(radar_points=None))
    assert packed['inputs']['radar_points'].shape == (0, 8)
    assert packed['data_samples'].metainfo['modality_present']['radar'] is False


def test_non_finite_points_are_dropped():
    pts = np.zeros((5, 6), np.float32)
    pts[1, 0] = np.nan
    pts[3, 2] = np.inf
    packed = PackFusionInputs().transform(_results(points=LiDARPoints(pts, points_dim=6)))
    assert packed['inputs']['points'].shape == (3, 6)


def test_wrong_point_width_is_an_error_naming_the_key():
    with pytest.raises(ValueError, match='radar_points'):
        PackFusionInputs().transform(_results(radar_points=np.zeros((4, 5), np.float32)))


def test_wrong_number_of_images_is_an_error():
    with pytest.raises(ValueError, match='6'):
        PackFusionInputs().transform(_results(img=[np.zeros((16, 24, 3), np.uint8)] * 5))
