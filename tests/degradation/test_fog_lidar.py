"""LiDAR fog physics (Hahner et al. 2021) on the real keyframe scan and on single points."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.fog_lidar import (OVERLAP_R1_M, SPEED_OF_LIGHT_M_S, TAU_H_S,
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


def test_no_point_is_deleted_by_default(fog_by_severity, _real_clean):
    for severity in range(1, 6):
        points, params = fog_by_severity[severity]
        assert params['lost'] == 0 and params['noise_floor'] == 0.0
        assert len(points) == len(lidar(_real_clean))


def test_fog_returns_grow_with_severity_and_sit_a_few_metres_out(_real_clean):
    fog, median_range = [], []
    for visibility in (600.0, 300.0, 150.0, 100.0, 50.0):
        result = simulate_lidar_fog(lidar(_real_clean), visibility, np.random.default_rng(0))
        fog.append(result.counts['fog_returns'])
        if result.counts['fog_returns']:
            median_range.append(np.median(ranges(result.points[result.is_fog_return])))
    assert all(a <= b for a, b in zip(fog, fog[1:])), fog
    assert fog[2] < fog[3] < fog[4], fog
    assert fog[4] > 0.1 * len(lidar(_real_clean))           # 50 m fog: a real share
    assert all(3.0 < m < 7.0 for m in median_range), median_range


def test_far_range_shrinks_with_severity(fog_by_severity, _real_clean):
    far = [np.percentile(ranges(fog_by_severity[s][0]), 99) for s in range(1, 6)]
    assert all(a >= b for a, b in zip(far, far[1:])), far
    assert ranges(fog_by_severity[5][0]).max() < 0.5 * ranges(lidar(_real_clean)).max()


def test_hard_target_intensity_is_attenuated_two_way_in_whole_counts():
    mor = 150.0
    out, is_fog, counts = simulate_lidar_fog(one_point(20.0, 100.0), mor,
                                             np.random.default_rng(0))
    assert counts == {'lost': 0, 'fog_returns': 0, 'kept': 1} and not is_fog[0]
    expected = np.round(100.0 * np.exp(-2 * attenuation_coefficient(mor) * 20.0))
    assert out[0, 3] == expected == 45.0
    assert np.allclose(out[0, :3], [0.0, 20.0, 0.0])


def test_an_echo_attenuated_to_zero_counts_gives_way_to_a_weak_fog_return():
    # 3 counts at 80 m in 50 m fog: the attenuated echo reads 0, the fog echo a fraction more
    out, is_fog, counts = simulate_lidar_fog(one_point(80.0, 3.0), 50.0,
                                             np.random.default_rng(0))
    assert counts == {'lost': 0, 'fog_returns': 1, 'kept': 1} and is_fog[0]
    assert 0.0 < out[0, 3] < 1.0
    assert OVERLAP_R1_M <= ranges(out)[0] <= 80.0


def test_noise_floor_deletes_weak_returns_but_keeps_clean_zero_intensity_points():
    weak = one_point(80.0, 3.0)
    out, _, counts = simulate_lidar_fog(weak, 50.0, np.random.default_rng(0), noise_floor=1.0)
    assert counts == {'lost': 1, 'fog_returns': 0, 'kept': 0} and len(out) == 0
    zero = one_point(30.0, 0.0)
    out, _, counts = simulate_lidar_fog(zero, 50.0, np.random.default_rng(0), noise_floor=1.0)
    assert counts['kept'] == 1 and out[0, 3] == 0.0


def test_noise_floor_is_a_transform_option(small_results):
    default = build_degradation('lidar_fog', 5)(copy.deepcopy(small_results))
    floored = build_degradation('lidar_fog', 5, noise_floor=0.5)(copy.deepcopy(small_results))
    all_fog = build_degradation('fog', 5, lidar_noise_floor=0.5)(copy.deepcopy(small_results))
    lost = floored['degradations'][-1]['params']['lost']
    assert default['degradations'][-1]['params']['lost'] == 0 and lost > 0
    assert len(lidar(floored)) == len(lidar(default)) - lost
    assert all_fog['degradations'][-1]['params']['lidar']['lost'] == lost


def test_fog_backscatter_replaces_a_distant_target_with_a_near_return():
    # 50 m visibility, bright target at 45 m: the fog's own echo is the stronger peak
    out, is_fog, counts = simulate_lidar_fog(one_point(45.0, 200.0), 50.0,
                                             np.random.default_rng(0))
    assert counts['fog_returns'] == 1 and is_fog[0]
    r = ranges(out)[0]
    peak = soft_target_table(attenuation_coefficient(50.0))[1][-1]
    # d ~ U(35, 55) m: the return lies within peak * 45 / 55 ... peak * 45 / 35
    assert peak * 45.0 / 55.0 - 1e-3 <= r <= peak * 45.0 / 35.0 + 1e-3
    assert np.allclose(out[0, :2] / r, [0.0, 1.0], atol=1e-5)     # same ray
    assert out[0, 4] == 10.0 and out[0, 5] == 0.0                   # ring, time_lag kept


def test_without_range_noise_the_fog_return_sits_at_the_peak():
    peak = soft_target_table(attenuation_coefficient(50.0))[1][-1]
    out, _, _ = simulate_lidar_fog(one_point(45.0, 200.0), 50.0, np.random.default_rng(0),
                                   range_noise_m=0.0)
    assert np.isclose(ranges(out)[0], peak, atol=1e-4)
    shifted, _, _ = simulate_lidar_fog(one_point(45.0, 200.0), 50.0, np.random.default_rng(0),
                                       range_noise_m=0.0, shift_to_pulse_peak=True)
    assert np.isclose(ranges(shifted)[0], peak - SPEED_OF_LIGHT_M_S * TAU_H_S / 2, atol=1e-4)


def test_soft_target_peak_lies_a_few_metres_out():
    j_max, peak_range = soft_target_table(attenuation_coefficient(100.0))
    assert np.all(np.diff(j_max) >= 0)
    assert 4.0 <= peak_range[-1] <= 5.0
    assert np.all(peak_range <= np.arange(len(peak_range)) * 0.01 + 1e-9)   # peak <= R0


def test_empty_scan_stays_empty():
    out, is_fog, counts = simulate_lidar_fog(np.zeros((0, 6), np.float32), 50.0,
                                             np.random.default_rng(0))
    assert out.shape == (0, 6) and is_fog.shape == (0,)
    assert counts == {'lost': 0, 'fog_returns': 0, 'kept': 0}


def test_fog_return_positions_depend_on_the_seed(small_results):
    a = build_degradation('lidar_fog', 5, seed=0)(copy.deepcopy(small_results))
    b = build_degradation('lidar_fog', 5, seed=1)(copy.deepcopy(small_results))
    assert len(lidar(a)) == len(lidar(b))                # counts are physics, not chance
    assert a['degradations'][-1]['params'] == b['degradations'][-1]['params']
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


def test_backscatter_defaults_to_0_046_over_the_visibility_and_can_be_set(_real_clean):
    scan = lidar(_real_clean)
    default = simulate_lidar_fog(scan, 50.0, np.random.default_rng(0))
    explicit = simulate_lidar_fog(scan, 50.0, np.random.default_rng(0),
                                  beta_per_m_sr=0.046 / 50.0)
    assert np.array_equal(default.points, explicit.points)
    no_backscatter = simulate_lidar_fog(scan, 50.0, np.random.default_rng(0), beta_per_m_sr=0.0)
    assert no_backscatter.counts['fog_returns'] == 0                 # attenuation only
    assert np.array_equal(no_backscatter.points[:, :3], scan[:, :3])
    with pytest.raises(ValueError, match='backscattering'):
        simulate_lidar_fog(scan, 50.0, np.random.default_rng(0), beta_per_m_sr=-1.0)
