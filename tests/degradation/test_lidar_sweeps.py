"""LiDAR corruptions act on every sweep, not only the keyframe (as the published suites do).

The ``sweep_results`` fixture stacks six copies of the real keyframe scan as older sweeps
(time lags 0.05-0.30 s), so every sweep must come out corrupted as much as the keyframe.
"""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.base import lidar_sweep_rows

KEYFRAME_POINTS = 34688
SWEEPS = 7


def lidar(results):
    return results['points'].tensor.numpy()


def per_sweep(points):
    return [points[rows] for rows in lidar_sweep_rows(points)]


# (short name, severity, preset); a dead LiDAR below, MultiCorrupt's per-sweep misalignment
# in test_misalignment.py
LIDAR_CORRUPTIONS = [
    ('lidar_fog', 5, 'default'), ('fog', 4, 'default'), ('lidar_beams', 3, 'default'),
    ('lidar_points', 3, 'default'), ('lidar_fov', 3, 'default'),
    ('lidar_misalignment', 3, 'default'),
    ('lidar_fog', 3, 'multicorrupt'), ('fog', 1, 'multicorrupt'),
    ('lidar_beams', 2, 'multicorrupt'), ('lidar_points', 2, 'multicorrupt'),
    ('lidar_fog', 4, 'nuscenes_c')]


@pytest.mark.parametrize('name,severity,preset', LIDAR_CORRUPTIONS)
def test_every_sweep_is_corrupted_like_the_keyframe(name, severity, preset, sweep_results):
    clean = per_sweep(lidar(sweep_results))
    assert len(clean) == SWEEPS
    out = build_degradation(name, severity, seed=3, preset=preset)(sweep_results)
    sweeps = per_sweep(lidar(out))
    assert len(sweeps) == SWEEPS
    key = sweeps[0]
    for before, after in zip(clean, sweeps):
        assert len(after) == len(key)                           # as much as the keyframe
        assert (len(after) != len(before)
                or not np.array_equal(after[:, :4], before[:, :4]))   # and changed
        # what the corruption decided per return (intensity, ring) is the keyframe's
        if name != 'lidar_points':
            assert np.array_equal(np.sort(after[:, 3]), np.sort(key[:, 3]))
            assert np.array_equal(np.sort(after[:, 4]), np.sort(key[:, 4]))


def row_keys(points):
    """One opaque key per row, for set tests on (N, 6) float32 arrays."""
    points = np.ascontiguousarray(points)
    return points.view(np.dtype((np.void, points.itemsize * points.shape[1]))).ravel()


def test_a_dead_lidar_loses_its_sweeps_too(sweep_results):
    out = build_degradation('lidar_dropout', 5)(sweep_results)
    assert lidar(out).shape == (0, 6)


@pytest.mark.parametrize('preset,fractions', [('default', (0.5, 0.7, 0.8, 0.9, 0.95)),
                                              ('multicorrupt', (0.7, 0.8, 0.9))])
def test_points_reduction_keeps_its_share_of_every_sweep(preset, fractions, sweep_results):
    clean_rows = row_keys(lidar(sweep_results))
    kept_before = None
    for severity, fraction in enumerate(fractions, start=1):
        out = build_degradation('lidar_points', severity, seed=0, preset=preset)(
            copy.deepcopy(sweep_results))
        pts = lidar(out)
        for sweep in per_sweep(pts):
            assert len(sweep) == round(KEYFRAME_POINTS * (1 - fraction))
        rows = row_keys(pts)
        assert np.isin(rows, clean_rows).all()                  # returns are kept, not moved
        if kept_before is not None:
            assert np.isin(rows, kept_before).all()             # nested across severities
        kept_before = rows


def test_points_reduction_draws_uniformly_over_range(small_results):
    clean = lidar(small_results)
    out = lidar(build_degradation('lidar_points', 2, seed=0)(small_results))   # 70 % dropped
    bins = [0.0, 5.0, 10.0, 20.0, 40.0, 200.0]
    before = np.histogram(np.linalg.norm(clean[:, :3], axis=1), bins)[0]
    after = np.histogram(np.linalg.norm(out[:, :3], axis=1), bins)[0]
    assert np.allclose(after / before, 0.3, atol=0.02)


def test_sweep_rows_split_by_time_lag():
    pts = np.zeros((5, 6), np.float32)
    pts[:, 5] = [0.1, 0.0, 0.1, 0.05, 0.0]
    assert [r.tolist() for r in lidar_sweep_rows(pts)] == [[1, 4], [3], [0, 2]]
    assert [r.tolist() for r in lidar_sweep_rows(pts[:, :4])] == [[0, 1, 2, 3, 4]]
