"""Real nuScenes geometry: the real LiDAR scan projected into the six real cameras.

Loads the real keyframe of the shared fixture through our loading transforms and checks that
the calibration chain (lidar2cam, cam2img -> lidar2img) puts points in the right camera, the
right image region and at depths that agree with the annotated boxes.
"""
import os.path as osp

import numpy as np
import pytest
from mmdet3d.structures import LiDARInstance3DBoxes

from fusion_moe.data import LoadCameraImages, LoadLidarSweeps
from fusion_moe.structures import CAMERAS
from tiny_nuscenes import REAL, load_real_info


def _real_results(info: dict) -> dict:
    images = {cam: dict(img, img_path=osp.join(REAL, 'cameras', img['img_path']))
              for cam, img in info['images'].items()}
    return dict(token=info['token'], timestamp=info['timestamp'], images=images,
                lidar_path=osp.join(REAL, 'lidar', info['lidar_points']['lidar_path']),
                lidar_sweeps=[])


@pytest.fixture(scope='module')
def real(real_fixture_root):
    info = load_real_info()
    results = LoadLidarSweeps(sweeps_num=0)(_real_results(info))
    results = LoadCameraImages()(results)
    return info, results


def _project(points_xyz: np.ndarray, lidar2img: np.ndarray, img_hw):
    """(u, v, depth, inside-image mask) of LiDAR-frame points."""
    hom = np.concatenate([points_xyz, np.ones((len(points_xyz), 1))], axis=1) @ lidar2img.T
    depth = hom[:, 2]
    uv = hom[:, :2] / np.maximum(depth[:, None], 1e-6)
    inside = ((depth > 0.5) & (uv[:, 0] >= 0) & (uv[:, 0] < img_hw[1]) & (uv[:, 1] >= 0)
              & (uv[:, 1] < img_hw[0]))
    return uv, depth, inside


def _ego_xyz(info, points_xyz):
    lidar2ego = np.asarray(info['lidar_points']['lidar2ego'])
    return points_xyz @ lidar2ego[:3, :3].T + lidar2ego[:3, 3]


def test_real_keyframe_loads_with_all_six_images_and_34688_points(real):
    _, results = real
    assert results['points'].shape == (34688, 6)
    assert [img.shape for img in results['img']] == [(900, 1600, 3)] * 6
    assert results['modality_present'] == {'lidar': True, 'camera': True}


@pytest.mark.parametrize('direction, expected', [
    ('ahead', {'CAM_FRONT'}), ('behind', {'CAM_BACK'}),
    ('left', {'CAM_FRONT_LEFT', 'CAM_BACK_LEFT'}),
    ('right', {'CAM_FRONT_RIGHT', 'CAM_BACK_RIGHT'})])
def test_points_land_in_the_camera_facing_them(real, direction, expected):
    info, results = real
    xyz = results['points'].tensor[:, :3].numpy().astype(np.float64)
    ego = _ego_xyz(info, xyz)
    dist = np.hypot(ego[:, 0], ego[:, 1])
    azimuth = np.degrees(np.arctan2(ego[:, 1], ego[:, 0]))  # ego frame: 0 ahead, 90 left
    centre = {'ahead': 0, 'left': 90, 'behind': 180, 'right': -90}[direction]
    off = np.abs((azimuth - centre + 180) % 360 - 180)
    chosen = (off < 10) & (dist > 8)
    assert chosen.sum() > 200
    hits = {cam: int(_project(xyz[chosen], results['lidar2img'][i], results['img_shape'])[2].sum())
            for i, cam in enumerate(CAMERAS)}
    in_expected = sum(hits[c] for c in expected)
    assert in_expected >= 0.95 * chosen.sum(), hits
    assert all(hits[c] < 0.05 * chosen.sum() for c in CAMERAS if c not in expected), hits


def test_ground_points_fall_below_the_horizon_and_high_points_above(real):
    info, results = real
    xyz = results['points'].tensor[:, :3].numpy().astype(np.float64)
    ego = _ego_xyz(info, xyz)
    i = CAMERAS.index('CAM_FRONT')
    uv, _, inside = _project(xyz, results['lidar2img'][i], results['img_shape'])
    cy = results['cam2img'][i][1, 2]
    ground = inside & (ego[:, 2] < 0.3) & (ego[:, 0] > 5) & (ego[:, 0] < 25)
    high = inside & (ego[:, 2] > 4.0) & (ego[:, 0] > 5) & (ego[:, 0] < 25)
    assert ground.sum() > 500 and high.sum() > 20
    assert np.mean(uv[ground, 1] > cy) > 0.99
    assert np.mean(uv[high, 1] < cy) > 0.99


def test_box_centres_project_where_mmdet3d_put_them(real):
    """The fixture's ``cam_instances`` (made by mmdet3d's converter through the devkit's
    camera-frame boxes) hold each box's projected gravity centre and depth."""
    info, results = real
    checked = 0
    for i, cam in enumerate(CAMERAS):
        cam_boxes = {tuple(np.round(b['bbox_3d'][3:6], 3)): b for b in info['cam_instances'][cam]}
        for inst in info['instances']:
            x, y, z, l, w, h, _ = inst['bbox_3d']
            ref = cam_boxes.get(tuple(np.round([l, h, w], 3)))  # camera boxes store l, h, w
            if ref is None:
                continue
            uv, depth, _ = _project(np.array([[x, y, z]]), results['lidar2img'][i], (1e9, 1e9))
            if abs(depth[0] - ref['depth']) > 1.0:
                continue  # another box of the same size
            np.testing.assert_allclose(uv[0], ref['center_2d'], atol=0.5)
            np.testing.assert_allclose(depth[0], ref['depth'], atol=0.01)
            checked += 1
    assert checked >= 50


def test_lidar_depths_inside_boxes_agree_with_box_depths(real):
    info, results = real
    xyz = results['points'].tensor[:, :3].numpy().astype(np.float64)
    boxes = np.array([inst['bbox_3d'] for inst in info['instances']])
    bottom = LiDARInstance3DBoxes(boxes, origin=(0.5, 0.5, 0.5))
    i = CAMERAS.index('CAM_FRONT')
    compared, box_depths, point_depths = 0, [], []
    for b, (cx, cy_, cz) in zip(bottom.tensor.numpy(), bottom.gravity_center.numpy()):
        x, y, z, l, w, h, yaw = b
        d = xyz - [x, y, z]
        c, s = np.cos(-yaw), np.sin(-yaw)
        inside_box = ((np.abs(d[:, 0] * c - d[:, 1] * s) <= l / 2)
                      & (np.abs(d[:, 0] * s + d[:, 1] * c) <= w / 2)
                      & (d[:, 2] >= 0) & (d[:, 2] <= h))
        _, depth, inside = _project(xyz[inside_box], results['lidar2img'][i], results['img_shape'])
        if inside.sum() < 5:
            continue
        _, centre_depth, _ = _project(np.array([[cx, cy_, cz]]), results['lidar2img'][i],
                                      (1e9, 1e9))
        # LiDAR hits the object's surface: within half the box diagonal of its centre depth.
        gap = centre_depth[0] - np.median(depth[inside])
        assert abs(gap) < 0.5 * np.hypot(l, w) + 0.3, (b, gap)
        box_depths.append(centre_depth[0])
        point_depths.append(np.median(depth[inside]))
        compared += 1
    assert compared >= 8
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    spearman = np.corrcoef(rank(box_depths), rank(point_depths))[0, 1]
    assert spearman > 0.9  # the same depth ordering of the objects, up to near-ties
