"""Severity presets: the published suites' own parameters, used by name."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.dropout import kept_rings
from fusion_moe.degradation.severity_tables import (NUSCENES_C_LIDAR_FOG_BETA, PRESETS,
                                                    SEVERITY_TABLES, severity_table)
from fusion_moe.registry import TRANSFORMS
from fusion_moe.structures import CAMERAS

KEYFRAME_POINTS = 34688


def lidar(results):
    return results['points'].tensor.numpy()


def fog_params(results, name, severity, preset):
    out = build_degradation(name, severity, seed=0, preset=preset)(copy.deepcopy(results))
    record = out['degradations'][-1]
    assert record['preset'] == preset and record['severity'] == severity
    return record['params']


def _suite_entries():
    return [(preset, name, severity) for preset in PRESETS if preset != 'default'
            for name, table in SEVERITY_TABLES[preset].items() for severity in table]


@pytest.mark.parametrize('preset,name,severity', _suite_entries())
def test_every_suite_preset_runs_and_records_itself(preset, name, severity, tiny_results):
    clean_boxes = tiny_results['gt_bboxes_3d'].tensor.numpy().copy()
    out = build_degradation(name, severity, seed=1, preset=preset)(tiny_results)
    record = out['degradations'][-1]
    assert record['name'] == name and record['severity'] == severity
    assert record['preset'] == preset and isinstance(record['params'], dict)
    assert lidar(out).shape[1] == 6 and np.isfinite(lidar(out)).all()
    assert np.array_equal(out['gt_bboxes_3d'].tensor.numpy(), clean_boxes)


def test_our_records_name_the_default_preset(tiny_results):
    out = build_degradation('lidar_beams', 3)(tiny_results)
    assert out['degradations'][-1]['preset'] == 'default'


def test_multicorrupt_lidar_fog_uses_its_alpha_and_beta(small_results):
    for severity, (alpha, beta) in {1: (0.02, 0.008), 2: (0.03, 0.008),
                                    3: (0.06, 0.05)}.items():
        params = fog_params(small_results, 'lidar_fog', severity, 'multicorrupt')
        assert params['alpha_per_m'] == pytest.approx(alpha, rel=1e-12)
        assert params['beta_per_m_sr'] == beta
        assert params['visibility_m'] == pytest.approx(np.log(20) / alpha)


def test_fog_presets_use_their_suites_range_noise(small_results):
    # MultiCorrupt passes the reference's noise=10, nuScenes-C noise=1; ours is the reference's
    assert fog_params(small_results, 'lidar_fog', 2, 'multicorrupt')['range_noise_m'] == 10.0
    assert fog_params(small_results, 'lidar_fog', 4, 'nuscenes_c')['range_noise_m'] == 1.0
    assert fog_params(small_results, 'lidar_fog', 4, 'default')['range_noise_m'] == 10.0


def test_more_backscatter_at_the_same_alpha_gives_more_fog_returns(small_results):
    # alpha 0.02 in all three: beta 0.046 / MOR (ours) < nuScenes-C's 9.2e-4 < MultiCorrupt's
    ours = fog_params(small_results, 'lidar_fog', 3, 'default')
    nusc = fog_params(small_results, 'lidar_fog', 3, 'nuscenes_c')
    multi = fog_params(small_results, 'lidar_fog', 1, 'multicorrupt')
    assert ours['beta_per_m_sr'] < nusc['beta_per_m_sr'] < multi['beta_per_m_sr']
    assert ours['fog_returns'] < nusc['fog_returns'] < multi['fog_returns']


def test_nuscenes_c_fog_keeps_one_beta_across_its_alphas(small_results):
    alphas = []
    for severity in range(1, 6):
        params = fog_params(small_results, 'lidar_fog', severity, 'nuscenes_c')
        assert params['beta_per_m_sr'] == NUSCENES_C_LIDAR_FOG_BETA
        alphas.append(params['alpha_per_m'])
    assert alphas == pytest.approx([0.005, 0.01, 0.02, 0.03, 0.06], rel=1e-12)
    # its alpha 0.06 with beta 0.046 * 0.06 / ln 20 is our severity 5 (MOR 50 m) within 0.2 %
    ours = fog_params(small_results, 'lidar_fog', 5, 'default')
    nusc = fog_params(small_results, 'lidar_fog', 5, 'nuscenes_c')
    assert nusc['fog_returns'] == pytest.approx(ours['fog_returns'], rel=0.02)


def test_fog_preset_gives_cameras_and_radar_the_visibility_of_the_lidar_alpha(tiny_results):
    out = build_degradation('fog', 3, seed=0, preset='multicorrupt')(tiny_results)
    params = out['degradations'][-1]['params']
    assert params['visibility_m'] == pytest.approx(np.log(20) / 0.06)
    assert params['lidar']['beta_per_m_sr'] == 0.05
    assert params['camera']['applied'] and params['radar']['applied']
    assert out['context']['weather'] == 'fog'


@pytest.mark.parametrize('severity,beams', [(1, 16), (2, 8), (3, 4)])
def test_multicorrupt_beams_keep_every_kth_ring_from_ring_1(severity, beams, small_results):
    out = build_degradation('lidar_beams', severity, preset='multicorrupt')(small_results)
    rings = set(np.unique(lidar(out)[:, 4]).astype(int).tolist())
    assert rings == set(range(1, 32, 32 // beams))
    assert len(lidar(out)) == beams * KEYFRAME_POINTS // 32


def test_kept_rings_refuses_rings_beyond_the_sensor():
    assert kept_rings(16, first_ring=1).tolist() == list(range(1, 32, 2))
    with pytest.raises(ValueError, match='first_ring'):
        kept_rings(32, first_ring=1)


def _camera_sample(idx):
    imgs = [np.full((2, 2, 3), 100, np.uint8) for _ in CAMERAS]
    return {'sample_idx': idx, 'img': imgs, 'degradations': [],
            'modality_present': {'camera': True, 'lidar': True, 'radar': True}}


def test_multicorrupt_missing_camera_drops_each_view_with_its_probability():
    draws = {}
    for severity, p in {1: 0.2, 2: 0.4, 3: 0.6}.items():
        transform = build_degradation('camera_dropout', severity, seed=0, preset='multicorrupt')
        draws[severity] = []
        for idx in range(100):
            out = transform(_camera_sample(idx))
            dropped = out['degradations'][-1]['params']['dropped_cameras']
            for cam, img in zip(CAMERAS, out['img']):
                assert (not img.any()) == (cam in dropped)
            draws[severity].append(set(dropped))
        rate = sum(len(d) for d in draws[severity]) / (100 * len(CAMERAS))
        assert abs(rate - p) < 0.07, (severity, rate)
    # common random numbers: a view lost at one severity is lost at every higher one
    for lo, hi in ((1, 2), (2, 3)):
        assert all(a <= b for a, b in zip(draws[lo], draws[hi]))


def test_a_severity_outside_the_presets_table_is_refused():
    with pytest.raises(ValueError, match=r'severity must be in \(1, 2, 3\)'):
        build_degradation('lidar_beams', 4, preset='multicorrupt')


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match='multicorrupt'):
        build_degradation('fog', 2, preset='robo3d')


def test_a_preset_without_the_degradation_names_the_presets_that_have_it():
    with pytest.raises(ValueError, match=r"'night' has no 'multicorrupt'.*\['default'\]"):
        build_degradation('night', 2, preset='multicorrupt')


def test_the_config_form_equals_the_short_name_form(small_results):
    by_name = build_degradation('lidar_fog', 2, seed=0, preset='nuscenes_c')(
        copy.deepcopy(small_results))
    by_config = TRANSFORMS.build(dict(type='LidarFog', severity=2, seed=0, preset='nuscenes_c'))(
        copy.deepcopy(small_results))
    assert np.array_equal(lidar(by_name), lidar(by_config))
    assert by_name['degradations'] == by_config['degradations']


def test_severity_table_hands_out_copies():
    table = severity_table('lidar_fog', 'multicorrupt')
    table[1]['alpha_per_m'] = 1.0
    assert severity_table('lidar_fog', 'multicorrupt')[1]['alpha_per_m'] == 0.02
