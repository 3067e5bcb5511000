"""LiDAR fog physics (Hahner et al. 2021) on the real keyframe scan and on single points."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.fog_lidar import (SPEED_OF_LIGHT_M_S, TAU_H_S,
                                              attenuation_coefficient, simulate_lidar_fog,
                                              soft_target_table)


def lidar(results):
    return results['points'].tensor.numpy()


def ranges(points):
    return np.linalg.norm(points[:, :3], axis=1)


def one_point(range_m, intensity):
    """A single point straight ahead (LiDAR +y) with ring 10 and time_lag 0."""
    return np.array([[0.0, range_m, 0.0, intensity, 10.0, 0.0]], dtype=np.float32)


@pytest.fixture(scope='module')
def fog_by_severity(_real_clean):
    out = {}
    for severity in range(1, 6):
        res = build_degradation('lidar_fog', severity, seed=0)(copy.deepcopy(_real_clean))
        out[severity] = (lidar(res), res['degradations'][-1]['params'])
    return out


def test_alpha_follows_the_meteorological_optical_range():
    for mor in (50.0, 150.0, 600.0):
        alpha = attenuation_coefficient(mor)
        assert np.isclose(np.exp(-alpha * mor), 0.05)      # 5% contrast at the MOR


def test_severities_map_to_the_published_visibilities(fog_by_severity):
    assert [fog_by_severity[s][1]['visibility_m'] for s in range(1, 6)] == \
        [600.0, 300.0, 150.0, 100.0, 50.0]


def test_lost_points_grow_with_severity(fog_by_severity, _real_clean):
    lost = [fog_by_severity[s][1]['lost'] for s in range(1, 6)]
    assert all(a <= b for a, b in zip(lost, lost[1:])), lost
    assert lost[0] < lost[2] < lost[4], lost
    assert lost[4] > 0.05 * len(lidar(_real_clean))        # 50 m fog: a real loss
    kept = [len(fog_by_severity[s][0]) for s in range(1, 6)]
    assert all(a >= b for a, b in zip(kept, kept[1:])), kept


def test_fog_returns_grow_with_severity_and_sit_at_short_range(fog_by_severity):
    fog = [fog_by_severity[s][1]['fog_returns'] for s in range(1, 6)]
    assert all(a <= b for a, b in zip(fog, fog[1:])), fog
    assert fog[0] < fog[2] < fog[4], fog
    # fog returns are within about one pulse length of the sensor: count the near returns
    near = [int((ranges(fog_by_severity[s][0]) < 6.0).sum()) for s in range(1, 6)]
    assert all(a <= b for a, b in zip(near, near[1:])), near
    assert near[4] - near[0] >= fog[4] // 2


def test_far_range_shrinks_with_severity(fog_by_severity, _real_clean):
    far = [np.percentile(ranges(fog_by_severity[s][0]), 99) for s in range(1, 6)]
    assert all(a >= b for a, b in zip(far, far[1:])), far
    assert ranges(fog_by_severity[5][0]).max() < 0.5 * ranges(lidar(_real_clean)).max()


def test_hard_target_intensity_is_attenuated_two_way():
    mor = 150.0
    out, counts = simulate_lidar_fog(one_point(20.0, 100.0), mor, np.random.default_rng(0))
    assert counts == {'lost': 0, 'fog_returns': 0, 'kept': 1}
    expected = 100.0 * np.exp(-2 * attenuation_coefficient(mor) * 20.0)
    assert np.isclose(out[0, 3], expected, rtol=1e-5)
    assert np.allclose(out[0, :3], [0.0, 20.0, 0.0])


def test_weak_far_return_falls_below_the_noise_floor():
    out, counts = simulate_lidar_fog(one_point(80.0, 3.0), 50.0, np.random.default_rng(0))
    assert counts['lost'] == 1 and len(out) == 0


def test_fog_backscatter_replaces_a_distant_target_with_a_near_return():
    # 50 m visibility, bright target at 45 m: the fog's own echo is the stronger peak
    out, counts = simulate_lidar_fog(one_point(45.0, 200.0), 50.0, np.random.default_rng(0))
    assert counts['fog_returns'] == 1
    r = ranges(out)[0]
    half_pulse = SPEED_OF_LIGHT_M_S * TAU_H_S / 2
    _, fog_range = soft_target_table(attenuation_coefficient(50.0))
    assert 1.0 <= r <= fog_range[-1] + half_pulse + 1e-3
    assert np.allclose(out[0, :2] / r, [0.0, 1.0], atol=1e-5)     # same ray
    assert out[0, 4] == 10.0 and out[0, 5] == 0.0                   # ring, time_lag kept


def test_soft_target_peak_lies_a_few_metres_out():
    j_max, fog_range = soft_target_table(attenuation_coefficient(100.0))
    assert np.all(np.diff(j_max) >= 0)
    assert 1.0 <= fog_range[-1] <= 6.0


def test_clean_zero_intensity_points_are_kept():
    out, counts = simulate_lidar_fog(one_point(30.0, 0.0), 50.0, np.random.default_rng(0))
    assert counts['kept'] == 1 and out[0, 3] == 0.0


def test_empty_scan_stays_empty():
    out, counts = simulate_lidar_fog(np.zeros((0, 6), np.float32), 50.0,
                                     np.random.default_rng(0))
    assert out.shape == (0, 6) and counts == {'lost': 0, 'fog_returns': 0, 'kept': 0}


def test_fog_return_positions_depend_on_the_seed(small_results):
    a = build_degradation('lidar_fog', 5, seed=0)(copy.deepcopy(small_results))
    b = build_degradation('lidar_fog', 5, seed=1)(copy.deepcopy(small_results))
    assert len(lidar(a)) == len(lidar(b))                # counts are physics, not chance
    assert not np.array_equal(lidar(a), lidar(b))       # fog return ranges are jittered


def test_absent_lidar_is_left_alone(small_results):
    small_results['modality_present']['lidar'] = False
    before = lidar(small_results).copy()
    out = build_degradation('lidar_fog', 4)(small_results)
    assert np.array_equal(lidar(out), before)
    assert out['degradations'][-1]['params']['applied'] is False
    assert out['context']['weather'] == 'fog'


def test_visibility_must_be_positive():
    with pytest.raises(ValueError, match='visibility'):
        attenuation_coefficient(0.0)
