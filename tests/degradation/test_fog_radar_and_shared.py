"""Radar fog and the all-sensor ``Fog`` with one shared visibility."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.fog_radar import (CLUTTER_RANGE_M, liquid_water_content,
                                              simulate_radar_fog)


def test_liquid_water_grows_as_visibility_drops():
    lwc = [liquid_water_content(v) for v in (600, 300, 150, 100, 50)]
    assert all(a < b for a, b in zip(lwc, lwc[1:]))
    assert 0.005 < lwc[0] < 0.05 and 0.1 < lwc[-1] < 1.0     # g/m^3: light to dense fog


def test_rcs_loss_is_mild_and_grows_with_range_and_severity(small_results):
    clean = small_results['radar_points']
    rng_m = np.linalg.norm(clean[:, :3], axis=1)
    losses = []
    for severity in range(1, 6):
        out = build_degradation('radar_fog', severity)(copy.deepcopy(small_results))
        loss = clean[:, 3] - out['radar_points'][:len(clean), 3]
        assert np.array_equal(out['radar_points'][:len(clean), :3], clean[:, :3])
        assert np.all(loss >= 0)
        far, near = rng_m > np.median(rng_m), rng_m <= np.median(rng_m)
        assert loss[far].mean() > loss[near].mean()
        losses.append(loss.mean())
    assert all(a < b for a, b in zip(losses, losses[1:]))
    assert losses[-1] < 1.0                                    # dB: radar sees through fog


def test_clutter_is_near_weak_and_more_frequent_in_denser_fog(small_results):
    radar = small_results['radar_points']
    mean_counts = []
    for visibility in (600.0, 50.0):
        counts = []
        for seed in range(40):
            out, info = simulate_radar_fog(radar, visibility, np.random.default_rng(seed))
            clutter = out[len(radar):]
            assert len(clutter) == info['clutter_points']
            r = np.linalg.norm(clutter[:, :2], axis=1)
            assert np.all((r >= CLUTTER_RANGE_M[0]) & (r <= CLUTTER_RANGE_M[1]))
            assert np.all(clutter[:, 4:7] == 0)                # stationary, current scan
            counts.append(len(clutter))
        mean_counts.append(np.mean(counts))
    assert 0 < mean_counts[1] < 15 and mean_counts[0] < mean_counts[1]


def test_fog_applies_one_visibility_to_all_sensors(small_results):
    out = build_degradation('fog', 4)(copy.deepcopy(small_results))
    params = out['degradations'][-1]['params']
    assert params['visibility_m'] == 100.0
    assert params['camera']['applied'] and params['lidar']['applied'] and \
        params['radar']['applied']
    # the LiDAR part is the same physics as LidarFog at that severity
    alone = build_degradation('lidar_fog', 4)(copy.deepcopy(small_results))
    lidar_params = alone['degradations'][-1]['params']
    assert params['lidar']['lost'] == lidar_params['lost']
    assert params['lidar']['fog_returns'] == lidar_params['fog_returns']
    assert len(out['degradations']) == 1


def test_fog_uses_clean_lidar_for_the_camera_range(small_results):
    """Camera first: fog clutter at ~2 m must not make the whole scene look near."""
    fog_all = build_degradation('fog', 5)(copy.deepcopy(small_results))
    lidar_then_camera = build_degradation('camera_fog', 5)(
        build_degradation('lidar_fog', 5)(copy.deepcopy(small_results)))
    clean_std = np.mean([img.std() for img in small_results['img']])
    std_fog_all = np.mean([img.std() for img in fog_all['img']])
    std_wrong_order = np.mean([img.std() for img in lidar_then_camera['img']])
    assert std_fog_all < clean_std
    assert std_fog_all < std_wrong_order


@pytest.mark.parametrize('name', ['fog', 'camera_fog', 'lidar_fog', 'radar_fog'])
def test_fog_sets_weather_and_keeps_lighting(name, small_results):
    small_results['context'] = {'lighting': 'night', 'weather': 'rain', 'source': 'metadata'}
    out = build_degradation(name, 2)(small_results)
    assert out['context'] == {'lighting': 'night', 'weather': 'fog', 'source': 'injected'}


def test_fog_at_night_is_dark(small_results):
    day = build_degradation('camera_fog', 5)(copy.deepcopy(small_results))
    small_results['context'] = {'lighting': 'night', 'weather': 'clear', 'source': 'metadata'}
    night = build_degradation('camera_fog', 5)(small_results)
    assert np.mean([i.mean() for i in night['img']]) < np.mean([i.mean() for i in day['img']])
