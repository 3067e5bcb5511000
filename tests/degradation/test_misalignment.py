"""Spatial (extrinsic error) and temporal (stale LiDAR / radar) misalignment."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.misalignment import xyz_rigid_error
from fusion_moe.degradation.severity_tables import SPATIAL_MISALIGNMENT, TEMPORAL_DELAY_S


def lidar(results):
    return results['points'].tensor.numpy()


def rotation_angle_deg(R):
    return np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))


@pytest.mark.parametrize('severity', range(1, 6))
def test_extrinsic_error_has_the_tabled_magnitude(severity, tiny_results):
    clean = copy.deepcopy(tiny_results)
    out = build_degradation('spatial_misalignment', severity, seed=5)(tiny_results)
    rot_deg, trans_m = SPATIAL_MISALIGNMENT[severity]
    for old, new, K, l2i in zip(clean['lidar2cam'], out['lidar2cam'], out['cam2img'],
                                out['lidar2img']):
        error = new @ np.linalg.inv(old)                      # E in the camera frame
        assert rotation_angle_deg(error[:3, :3]) == pytest.approx(rot_deg, abs=1e-6)
        assert np.linalg.norm(error[:3, 3]) == pytest.approx(trans_m, abs=1e-9)
        assert np.allclose(l2i, K @ new)                      # projection stays consistent
    # images and LiDAR themselves are not moved
    assert all(np.array_equal(a, b) for a, b in zip(clean['img'], out['img']))
    assert np.array_equal(lidar(clean), lidar(out))


def test_projection_error_grows_with_severity(small_results):
    pts = np.c_[lidar(small_results)[:, :3], np.ones(len(lidar(small_results)))]
    clean_uv = small_results['lidar2img'][0] @ pts.T
    front = clean_uv[2] > 1.0
    errors = []
    for severity in range(1, 6):
        out = build_degradation('spatial_misalignment', severity, seed=1)(
            copy.deepcopy(small_results))
        uv = out['lidar2img'][0] @ pts.T
        shift = (uv[:2, front] / uv[2, front]) - (clean_uv[:2, front] / clean_uv[2, front])
        errors.append(np.median(np.linalg.norm(shift, axis=0)))
    assert all(a < b for a, b in zip(errors, errors[1:])), errors


def test_radar_is_moved_rigidly(small_results):
    clean = small_results['radar_points'].copy()
    out = build_degradation('spatial_misalignment', 5, seed=0)(small_results)
    moved = out['radar_points']
    assert moved.shape == clean.shape
    assert not np.allclose(moved[:, :2], clean[:, :2])
    d_clean = np.linalg.norm(clean[:5, None, :2] - clean[None, :5, :2], axis=-1)
    d_moved = np.linalg.norm(moved[:5, None, :2] - moved[None, :5, :2], axis=-1)
    assert np.allclose(d_clean, d_moved, atol=1e-4)           # distances kept: rigid
    assert np.allclose(moved[:, 2:4], clean[:, 2:4])          # height and rcs kept
    assert np.allclose(np.linalg.norm(moved[:, 4:6], axis=1),
                       np.linalg.norm(clean[:, 4:6], axis=1), atol=1e-5)


@pytest.mark.parametrize('severity', range(1, 6))
def test_delay_discards_newer_sweeps_and_restamps_the_rest(severity, sweep_results):
    before = lidar(sweep_results).copy()
    delay = TEMPORAL_DELAY_S[severity]
    out = build_degradation('temporal_misalignment', severity)(sweep_results)
    after = lidar(out)
    old_enough = before[:, 5] >= delay - 0.025
    assert len(after) == old_enough.sum()
    assert np.allclose(after[:, 5], np.maximum(before[old_enough, 5] - delay, 0), atol=1e-6)
    assert after[:, 5].min() == pytest.approx(0.0, abs=1e-6)   # oldest now looks current
    assert out['degradations'][-1]['params']['lidar_fallback'] is False


def test_more_delay_means_staler_data(sweep_results):
    counts = [len(lidar(build_degradation('temporal_misalignment', s)(
        copy.deepcopy(sweep_results)))) for s in range(1, 6)]
    assert all(a > b for a, b in zip(counts, counts[1:])), counts


def test_keyframe_without_sweeps_falls_back_and_says_so(small_results):
    before = lidar(small_results).copy()
    radar_before = small_results['radar_points'].copy()
    out = build_degradation('temporal_misalignment', 3)(small_results)
    params = out['degradations'][-1]['params']
    assert params['lidar_fallback'] is True
    assert np.array_equal(lidar(out), before)
    # the radar has one made-up 0.08 s sweep: at 0.15 s delay only that sweep is kept
    assert params['radar_fallback'] is True
    assert len(out['radar_points']) == (radar_before[:, 6] > 0).sum()


# ---- the LiDAR cloud itself misaligned (MultiCorrupt's spatial misalignment) --------------

def rigid_fit(before, after):
    """(R, t) with after = before @ R.T + t, least squares (Kabsch)."""
    cb, ca = before.mean(0), after.mean(0)
    U, _, Vt = np.linalg.svd((before - cb).T @ (after - ca))
    R = (U @ np.diag([1, 1, np.sign(np.linalg.det(U @ Vt))]) @ Vt).T
    return R, ca - cb @ R.T


@pytest.mark.parametrize('severity', range(1, 6))
def test_lidar_error_moves_the_whole_cloud_rigidly_by_its_magnitude(severity, sweep_results):
    clean = copy.deepcopy(sweep_results)
    out = build_degradation('lidar_misalignment', severity, seed=2)(sweep_results)
    rot_deg, trans_m = SPATIAL_MISALIGNMENT[severity]
    before, after = lidar(clean).astype(np.float64), lidar(out).astype(np.float64)
    R, t = rigid_fit(before[:, :3], after[:, :3])          # one error for every sweep
    assert np.abs(after[:, :3] - (before[:, :3] @ R.T + t)).max() < 1e-3
    assert rotation_angle_deg(R) == pytest.approx(rot_deg, abs=1e-3)
    assert np.linalg.norm(t) == pytest.approx(trans_m, abs=1e-3)
    assert np.array_equal(after[:, 3:], before[:, 3:])
    # everything else stays: cameras, radar, boxes
    assert all(np.array_equal(a, b) for a, b in zip(clean['lidar2img'], out['lidar2img']))
    assert np.array_equal(clean['radar_points'], out['radar_points'])
    assert np.array_equal(clean['gt_bboxes_3d'].tensor.numpy(),
                          out['gt_bboxes_3d'].tensor.numpy())


def test_multicorrupt_lidar_error_is_their_xyz_rotation_and_2m_shift():
    theta = np.radians(2.0)
    c, s = np.cos(theta), np.sin(theta)
    # right-handed rotations by -theta about x, y, z, multiplied in that order
    rx = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    ry = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    rz = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    E = xyz_rigid_error(2.0, 2.0)
    assert np.allclose(E[:3, :3], rx @ ry @ rz, atol=1e-12)
    assert np.array_equal(E[:3, 3], [2.0, 0.0, 0.0])


def _sweeps_sample(idx, sweeps=7):
    rng = np.random.default_rng(idx)
    pts = np.zeros((sweeps * 20, 6), np.float32)
    pts[:, :3] = rng.uniform(-30, 30, (len(pts), 3))
    pts[:, 5] = np.repeat(np.arange(sweeps) * 0.05, 20)
    return {'sample_idx': idx, 'points': pts, 'degradations': [],
            'modality_present': {'camera': True, 'lidar': True, 'radar': True}}


def test_multicorrupt_draws_for_every_sweep_with_its_probability():
    moved = {}
    for severity, (p, theta) in {1: (0.2, 1.0), 2: (0.4, 2.0), 3: (0.6, 3.0)}.items():
        transform = build_degradation('lidar_misalignment', severity, preset='multicorrupt')
        E = xyz_rigid_error(theta, 2.0)
        moved[severity] = []
        for idx in range(60):
            sample = _sweeps_sample(idx)
            before = sample['points'].copy()
            after = transform(sample)['points']
            flags = []
            for lag in np.unique(before[:, 5]):
                rows = before[:, 5] == lag
                shifted = before[rows, :3] @ E[:3, :3].T + E[:3, 3]
                hit = np.allclose(after[rows, :3], shifted, atol=1e-4)
                assert hit or np.array_equal(after[rows], before[rows])
                flags.append(hit)
            moved[severity].append(np.array(flags))
        rate = np.mean(moved[severity])
        assert abs(rate - p) < 0.08, (severity, rate)
    # common random numbers: a sweep moved at one severity is moved at every higher one
    for lo, hi in ((1, 2), (2, 3)):
        assert all((a <= b).all() for a, b in zip(moved[lo], moved[hi]))
