"""The vectorised LiDAR fog agrees point by point with the plain per-point loop of the paper's
equations (``fog_lidar_loop``) on the real keyframe scan, and behaves at its limits."""
import numpy as np
import pytest

from fusion_moe.degradation.fog_lidar import OVERLAP_R1_M, simulate_lidar_fog
from fusion_moe.degradation.fog_lidar_loop import (peak_soft_response,
                                                   simulate_lidar_fog_loop)

#: The alphas of the authors' lookup tables [1/m]; MOR = ln(20) / alpha.
REFERENCE_ALPHAS = (0.005, 0.01, 0.02, 0.03, 0.06, 0.1, 0.12, 0.15, 0.2)


def visibility(alpha):
    return float(np.log(20.0) / alpha)


def ranges(points):
    return np.linalg.norm(points[:, :3].astype(np.float64), axis=1)


@pytest.fixture(scope='module')
def scan(_real_clean):
    """(34688, 6) float32 keyframe scan: x, y, z, intensity, ring, time_lag."""
    return _real_clean['points'].tensor.numpy().copy()


@pytest.fixture(scope='module')
def subsample(scan):
    """300 points: 150 drawn from the whole scan, 150 from beyond 15 m (where fog wins)."""
    pick = np.random.default_rng(0)
    far = np.flatnonzero(ranges(scan) >= 15.0)
    idx = np.concatenate([pick.choice(len(scan), 150, replace=False),
                          pick.choice(far, 150, replace=False)])
    return scan[np.sort(idx)]


@pytest.mark.parametrize('alpha', [0.03, 0.06, 0.2])
def test_fast_path_matches_the_per_point_loop(subsample, alpha):
    slow_points, slow_fog, slow_counts = simulate_lidar_fog_loop(
        subsample, visibility(alpha), np.random.default_rng(1))
    fast = simulate_lidar_fog(subsample, visibility(alpha), np.random.default_rng(1))
    assert fast.counts == slow_counts
    assert slow_counts['fog_returns'] >= 10                  # the comparison is not vacuous
    assert np.array_equal(fast.is_fog_return, slow_fog)     # same decision for every point
    np.testing.assert_allclose(fast.points[:, 3], slow_points[:, 3], rtol=1e-2, atol=1e-6)
    np.testing.assert_allclose(ranges(fast.points), ranges(slow_points), rtol=1e-2, atol=0.03)
    kept = ~slow_fog
    assert np.array_equal(fast.points[kept], slow_points[kept])     # hard returns: exact
    assert np.array_equal(fast.points[:, 4:], subsample[:, 4:])     # ring, time_lag kept


def test_soft_peak_of_the_loop_sits_where_the_fast_table_puts_it():
    # R0 beyond the peak: the peak (about 4.6 m); R0 before it: R0 itself
    j_far, r_far = peak_soft_response(30.0, 0.06)
    j_near, r_near = peak_soft_response(3.0, 0.06)
    assert 4.5 < r_far < 4.8 and r_near == 3.0 and j_near < j_far


def test_vanishing_fog_changes_nothing(scan):
    result = simulate_lidar_fog(scan, 1e9, np.random.default_rng(0))
    assert result.counts == {'lost': 0, 'fog_returns': 0, 'kept': len(scan)}
    assert np.array_equal(result.points, scan)


@pytest.mark.parametrize('alpha', REFERENCE_ALPHAS)
def test_fog_returns_lie_between_the_overlap_start_and_their_own_target(scan, alpha):
    result = simulate_lidar_fog(scan, visibility(alpha), np.random.default_rng(0))
    assert len(result.points) == len(scan)
    fog = result.is_fog_return
    r_fog, r0 = ranges(result.points[fog]), ranges(scan[fog])
    assert np.all(r_fog >= OVERLAP_R1_M - 1e-4)
    assert np.all(r_fog <= r0 + 1e-4) and np.all(r_fog <= ranges(scan).max())
    # fog returns stay on their ray
    cos = np.einsum('ij,ij->i', result.points[fog, :3], scan[fog, :3]) / (r_fog * r0)
    assert np.all(cos > 0.9999)
