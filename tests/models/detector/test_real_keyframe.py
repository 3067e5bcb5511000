"""The nuScenes-size camera+LiDAR+radar model on a real nuScenes keyframe (radar absent).

Checks frames and shapes, not accuracy: the model is untrained. Images are decoded at 1/4
size (400 x 225) to keep the test short; lidar2img is scaled to match.
"""
import os.path as osp
import pickle

import mmcv
import numpy as np
import pytest
import torch
from mmdet3d.registry import MODELS
from mmdet3d.structures import LiDARInstance3DBoxes, LiDARPoints
from mmengine.config import Config

from fusion_moe.data.pack import PackFusionInputs
from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT, REAL_INFO_FILE
from fusion_moe.structures import CAMERAS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
REAL = REAL_FIXTURE_ROOT
FULL_CONFIG = osp.join(REPO, 'configs', 'detector',
                       'fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py')
SCALE = 0.25


def _load_keyframe() -> tuple:
    with open(osp.join(REAL, REAL_INFO_FILE), 'rb') as f:
        info = pickle.load(f)['data_list'][0]
    pts = np.fromfile(osp.join(REAL, 'lidar', info['lidar_points']['lidar_path']),
                      dtype=np.float32).reshape(-1, 5)
    pts = np.concatenate([pts, np.zeros((len(pts), 1), np.float32)], axis=1)  # time_lag 0
    imgs, lidar2img = [], []
    for cam in CAMERAS:
        cam_info = info['images'][cam]
        img = mmcv.imread(osp.join(REAL, 'cameras', osp.basename(cam_info['img_path'])))
        imgs.append(mmcv.imrescale(img, SCALE))
        cam2img = np.eye(4)
        cam2img[:3, :3] = np.asarray(cam_info['cam2img'])
        resize = np.diag([SCALE, SCALE, 1, 1])
        lidar2img.append(resize @ cam2img @ np.asarray(cam_info['lidar2cam']))
    results = dict(points=LiDARPoints(pts, points_dim=6), img=imgs, lidar2img=lidar2img,
                   radar_points=None, box_type_3d=LiDARInstance3DBoxes, sample_idx=0,
                   token=info['token'],
                   modality_present=dict(camera=True, lidar=True, radar=False))
    packed = PackFusionInputs().transform(results)
    batch = {'inputs': {k: [v] for k, v in packed['inputs'].items()},
             'data_samples': [packed['data_samples']]}
    gt = np.array([inst['bbox_3d'] for inst in info['instances']])
    return batch, gt


@pytest.fixture(scope='module')
def keyframe_run(real_fixture_root):
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(FULL_CONFIG).model).eval()
    batch, gt = _load_keyframe()
    with torch.no_grad():
        data = model.data_preprocessor(batch, False)
        metas = [s.metainfo for s in data['data_samples']]
        features = model.encode(data['inputs'], metas)
        out = model.predict(data['inputs'], data['data_samples'])
    return model, data, features, out, gt


def test_boxes_come_back_in_the_lidar_frame_with_velocity(keyframe_run):
    model, _, _, out, _ = keyframe_run
    pred = out[0].pred_instances_3d
    assert isinstance(pred.bboxes_3d, LiDARInstance3DBoxes)
    boxes = pred.bboxes_3d.tensor
    assert boxes.ndim == 2 and boxes.shape[1] == 9 and boxes.shape[0] > 0
    assert torch.isfinite(boxes).all()
    pcr = model.grid.point_cloud_range
    assert torch.all(boxes[:, :2].abs() <= max(abs(v) for v in pcr[:2]) + 10)
    assert torch.all(boxes[:, 3:6] > 0)  # l, w, h in metres
    assert torch.allclose(pred.bboxes_3d.gravity_center[:, 2], boxes[:, 2] + boxes[:, 5] / 2)


def test_radar_is_absent_and_lidar_camera_present(keyframe_run):
    _, _, features, _, _ = keyframe_run
    assert set(features) == {'camera', 'lidar', 'radar'}
    assert features['radar'][1].tolist() == [False]
    assert torch.all(features['radar'][0] == 0)
    assert features['lidar'][1].tolist() == [True] and features['lidar'][0].abs().sum() > 0
    assert features['camera'][1].tolist() == [True] and features['camera'][0].abs().sum() > 0


def test_the_six_real_cameras_see_the_annotated_boxes_through_lidar2img(keyframe_run):
    """Project the real GT box centres with the packed lidar2img: each box within 50 m lies in
    front of at least one camera and inside its image (the six views cover 360 degrees)."""
    _, data, _, _, gt = keyframe_run
    from fusion_moe.models.encoders.camera.view_transform import sample_cameras_to_bev
    meta = data['data_samples'][0].metainfo
    lidar2img = torch.as_tensor(np.asarray(meta['lidar2img']), dtype=torch.float32)[None]
    centres = torch.as_tensor(gt[:, :3] + np.c_[0 * gt[:, :2], gt[:, 5] / 2],
                              dtype=torch.float32)
    near = centres[:, :2].norm(dim=1) < 50
    imgs = data['inputs']['imgs']
    feats = torch.ones(1, len(CAMERAS), 1, 8, 8)
    _, seen = sample_cameras_to_bev(feats, lidar2img, centres[near][None, None],
                                    tuple(imgs.shape[-2:]))
    assert int(near.sum()) > 20
    assert float((seen > 0).float().mean()) > 0.95
