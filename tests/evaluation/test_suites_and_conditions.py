"""Suites, condition specs, degraded test pipelines, and what the on-the-fly injection does to
the data the model sees: every LiDAR sweep degraded, and the same degradation every run."""
import argparse
import copy

import numpy as np
import pytest
from mmengine.config import Config

from fusion_moe.data.real_keyframe import (add_lidar_sweeps, build_real_keyframe_results,
                                           downscale_images)
from fusion_moe.degradation import build_degradation
from fusion_moe.evaluation.robustness import (condition_name, degrade_test_pipeline, get_suite,
                                              parse_degradation_spec)
from fusion_moe.registry import TRANSFORMS

DEMO = 'configs/demo/detector_cpu.py'
TIME_LAG = 5


def test_default_suite_runs_clean_then_every_corruption_at_severities_1_to_5():
    conditions = get_suite('default').conditions()
    assert conditions[0].name == 'clean' and conditions[0].degradations == ()
    assert len(conditions) == 1 + 9 * 5
    names = [c.name for c in conditions]
    assert {'fog_1', 'fog_5', 'night_3', 'camera_dropout_2', 'lidar_dropout_5',
            'radar_dropout_4', 'lidar_beams_1', 'lidar_fov_2', 'spatial_misalignment_5',
            'temporal_misalignment_1'} <= set(names)
    fog3 = conditions[names.index('fog_3')]
    assert fog3.degradations == (dict(type='Fog', severity=3, seed=0),)


def test_corruptions_and_severities_select_and_other_degradations_run_ad_hoc():
    suite = get_suite('default')
    conditions = suite.conditions(['night', 'brightness'], [1, 3], seed=7)
    assert [c.name for c in conditions] == ['clean', 'night_1', 'night_3', 'brightness_1',
                                            'brightness_3']
    assert conditions[-1].degradations == (
        dict(type='ImageCorruption', corruption='brightness', severity=3, seed=7),)
    with pytest.raises(ValueError, match='severities'):
        suite.conditions(['fog'], [6])
    with pytest.raises(KeyError, match='smog'):
        suite.conditions(['smog'])


def test_multicorrupt_maps_its_three_severities_onto_ours_and_says_where_it_differs():
    suite = get_suite('multicorrupt')
    assert suite.severities == (1, 2, 3)
    by_name = {c.name: c for c in suite.conditions()}
    assert len(by_name) == 1 + 9 * 3
    # 16 / 8 / 4 beams are our severities 2 / 4 / 5; visibility 150 / 100 / 50 m is 3 / 4 / 5
    assert [by_name[f'beams_reducing_{s}'].degradations[0]['severity'] for s in (1, 2, 3)] \
        == [2, 4, 5]
    assert [by_name[f'fog_{s}'].degradations[0]['severity'] for s in (1, 2, 3)] == [3, 4, 5]
    assert all(c.differences for c in suite.corruptions)
    assert any('points_reducing' in note for note in suite.notes)
    serialized = suite.serialize()
    assert serialized['corruptions'][0]['severity_map'] == {'1': 2, '2': 4, '3': 5}
    with pytest.raises(KeyError, match='severities 1-5'):
        suite.conditions(['lidar_fov'])


def test_degradation_specs_on_the_command_line():
    assert parse_degradation_spec('fog:3') == ('fog', 3)
    for bad in ('fog', 'fog:0', 'fog:6', 'smog:2', 'fog:x'):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_degradation_spec(bad)
    assert condition_name([('fog', 3), ('night', 2)]) == 'fog_3+night_2'
    assert condition_name([]) == 'clean'


def test_degrade_test_pipeline_inserts_seeded_transforms_before_packing():
    cfg = Config.fromfile(DEMO)
    applied = degrade_test_pipeline(cfg, [('fog', 3), ('camera_dropout', 2)], seed=4)
    types = [t['type'] for t in cfg.test_dataloader.dataset.pipeline]
    assert types[-3:] == ['Fog', 'CameraDropout', 'PackFusionInputs']
    assert applied == [dict(type='Fog', severity=3, seed=4),
                       dict(type='CameraDropout', severity=2, seed=4)]
    cfg.test_dataloader.dataset.pop('pipeline')
    with pytest.raises(KeyError, match='test_dataloader.dataset.pipeline'):
        degrade_test_pipeline(cfg, [('fog', 3)])


@pytest.fixture(scope='module')
def keyframe_with_sweeps():
    """The real keyframe (images 8x smaller) with six older sweeps (0.05-0.30 s)."""
    return add_lidar_sweeps(downscale_images(build_real_keyframe_results(), 8))


@pytest.mark.parametrize('name,severity', [('fog', 5), ('lidar_beams', 3), ('lidar_fov', 3),
                                           ('lidar_dropout', 5)])
def test_lidar_corruptions_reach_every_sweep_not_only_the_keyframe(keyframe_with_sweeps, name,
                                                                   severity):
    clean = keyframe_with_sweeps['points'].tensor.numpy()
    out = build_degradation(name, severity, seed=0)(copy.deepcopy(keyframe_with_sweeps))
    degraded = out['points'].tensor.numpy()
    for lag in np.unique(clean[:, TIME_LAG]):
        before = clean[clean[:, TIME_LAG] == lag]
        after = degraded[np.isclose(degraded[:, TIME_LAG], lag)]
        changed = len(after) != len(before) or not np.allclose(after, before)
        assert changed, f'{name}: the sweep {lag:.2f} s old is untouched'


def test_the_same_condition_degrades_a_sample_identically_in_every_run(keyframe_with_sweeps):
    def run(seed):
        out = copy.deepcopy(keyframe_with_sweeps)
        for config in get_suite('default').corruption('fog').condition(4, seed).degradations:
            out = TRANSFORMS.build(dict(config))(out)
        return out
    first, again, other = run(0), run(0), run(1)
    assert np.array_equal(first['points'].tensor.numpy(), again['points'].tensor.numpy())
    assert all(np.array_equal(a, b) for a, b in zip(first['img'], again['img']))
    assert not np.array_equal(first['points'].tensor.numpy(), other['points'].tensor.numpy())
