"""Camera fog: per-pixel range from geometry + LiDAR, and Koschmieder's law."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.camera_depth import (NUSCENES_GROUND_Z_M, SKY_RANGE_M,
                                                 camera_range_map, ground_plane_range,
                                                 lidar_range_image)
from fusion_moe.degradation.fog_camera import apply_koschmieder, transmission

FRONT = 0
SCALE = 4


def project(results, cam, xyz):
    """Pixel (u, v) of LiDAR-frame points in camera ``cam``."""
    P = results['lidar2img'][cam]
    uvw = np.c_[xyz, np.ones(len(xyz))] @ P.T
    return uvw[:, :2] / uvw[:, 2:3]


def camera_centre(results, cam):
    return np.linalg.inv(results['lidar2cam'][cam])[:3, 3]


def test_ground_plane_range_matches_a_projected_ground_point(real_results):
    hw = real_results['img'][FRONT].shape[:2]
    prior = ground_plane_range(real_results['cam2img'][FRONT], real_results['lidar2cam'][FRONT],
                               hw, SCALE)
    for ahead_m in (8.0, 15.0, 30.0):
        ground_pt = np.array([[0.5, ahead_m, NUSCENES_GROUND_Z_M]])   # LiDAR +y is ahead
        u, v = project(real_results, FRONT, ground_pt)[0]
        expected = np.linalg.norm(ground_pt[0] - camera_centre(real_results, FRONT))
        got = prior[int(v // SCALE), int(u // SCALE)]
        assert got == pytest.approx(expected, rel=0.12)


def test_ground_plane_range_grows_towards_the_horizon_and_caps_the_sky(real_results):
    hw = real_results['img'][FRONT].shape[:2]
    prior = ground_plane_range(real_results['cam2img'][FRONT], real_results['lidar2cam'][FRONT],
                               hw, SCALE)
    column = prior[:, prior.shape[1] // 2]
    assert column[0] == SKY_RANGE_M                          # top row looks at the sky
    below = column[column < SKY_RANGE_M]
    assert np.all(np.diff(below) < 0)                        # nearer as we go down the image
    assert prior.dtype == np.float32 and np.isfinite(prior).all()


def test_lidar_points_set_the_range_where_they_project(real_results):
    hw = real_results['img'][FRONT].shape[:2]
    K, L = real_results['cam2img'][FRONT], real_results['lidar2cam'][FRONT]
    # a made-up wall 6 m ahead, 4 m wide, 3 m tall (LiDAR frame: +y ahead, z up)
    xs, zs = np.meshgrid(np.linspace(-2, 2, 80), np.linspace(-1.8, 1.2, 60))
    wall = np.c_[xs.ravel(), np.full(xs.size, 6.0), zs.ravel()]
    sparse = lidar_range_image(wall, K, L, hw, SCALE)
    assert np.isfinite(sparse).sum() > 50
    dense = camera_range_map(K, L, hw, wall, SCALE)
    u, v = project(real_results, FRONT, np.array([[0.0, 6.0, 0.0]]))[0]
    expected = np.linalg.norm(np.array([0.0, 6.0, 0.0]) - camera_centre(real_results, FRONT))
    assert dense[int(v // SCALE), int(u // SCALE)] == pytest.approx(expected, rel=0.05)
    prior = ground_plane_range(K, L, hw, SCALE)
    assert prior[int(v // SCALE), int(u // SCALE)] > 2 * expected   # geometry alone: far


def test_koschmieder_law_holds_per_pixel():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    range_m = np.full((90, 160), 100.0, np.float32)
    out = apply_koschmieder(img, range_m, 150.0, 200.0)
    t = float(transmission(range_m[:1, :1], 150.0)[0, 0])
    assert t == pytest.approx(np.exp(-np.log(20) * 100 / 150), rel=1e-5)
    expected = img.astype(np.float64) * t + 200.0 * (1 - t)
    assert np.abs(out.astype(np.float64) - expected).max() <= 2.0   # 8-bit fixed point
    assert out.dtype == np.uint8 and out.shape == img.shape


def local_contrast(img, mask):
    grey = img.astype(np.float64).mean(axis=2)
    gy, gx = np.gradient(grey)
    return np.hypot(gx, gy)[mask].mean()


def test_camera_fog_lowers_contrast_more_with_depth(real_results):
    clean = copy.deepcopy(real_results)
    out = build_degradation('camera_fog', 3)(real_results)
    hw = clean['img'][FRONT].shape[:2]
    pts = clean['points'].tensor.numpy()[:, :3]
    rng_map = camera_range_map(clean['cam2img'][FRONT], clean['lidar2cam'][FRONT], hw, pts,
                               SCALE)
    full = np.kron(rng_map, np.ones((SCALE, SCALE), np.float32))[:hw[0], :hw[1]]
    retained = []
    for lo, hi in ((0, 12), (12, 30), (30, 80)):
        mask = (full >= lo) & (full < hi)
        assert mask.sum() > 5000
        retained.append(local_contrast(out['img'][FRONT], mask)
                        / local_contrast(clean['img'][FRONT], mask))
    assert retained[0] > retained[1] > retained[2], retained


def test_camera_fog_contrast_falls_with_severity(small_results):
    def contrast(img):
        return img.astype(np.float64).std()
    clean = np.mean([contrast(img) for img in small_results['img']])
    values = []
    for severity in range(1, 6):
        out = build_degradation('camera_fog', severity)(copy.deepcopy(small_results))
        values.append(np.mean([contrast(img) for img in out['img']]) / clean)
    assert all(a > b for a, b in zip(values, values[1:])), values
    assert values[0] < 1.0


def test_camera_fog_leaves_dropped_cameras_black(small_results):
    out = build_degradation('camera_dropout', 2, seed=0)(small_results)
    dropped = out['degradations'][-1]['params']['dropped_cameras']
    out = build_degradation('camera_fog', 5)(out)
    from fusion_moe.structures import CAMERAS
    for cam in dropped:
        assert not out['img'][CAMERAS.index(cam)].any()


def test_camera_fog_runs_without_lidar(small_results):
    small_results['modality_present']['lidar'] = False
    out = build_degradation('camera_fog', 3)(small_results)
    assert out['degradations'][-1]['params']['lidar_refined'] is False
