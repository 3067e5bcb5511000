"""Suites, condition specs, degraded test pipelines, and the on-the-fly injection degrading a
sample the same way in every run (that every LiDAR sweep is degraded is
tests/degradation/test_lidar_sweeps.py)."""
import argparse
import copy

import numpy as np
import pytest
from mmengine.config import Config

from fusion_moe.data.real_keyframe import (add_lidar_sweeps, build_real_keyframe_results,
                                           downscale_images)
from fusion_moe.evaluation.robustness import (condition_name, degrade_test_pipeline, get_suite,
                                              parse_degradation_spec)
from fusion_moe.registry import TRANSFORMS

DEMO = 'configs/demo/detector_cpu.py'


def test_default_suite_runs_clean_then_every_corruption_at_severities_1_to_5():
    conditions = get_suite('default').conditions()
    assert conditions[0].name == 'clean' and conditions[0].degradations == ()
    assert len(conditions) == 1 + 9 * 5
    names = [c.name for c in conditions]
    assert {'fog_1', 'fog_5', 'night_3', 'camera_dropout_2', 'lidar_dropout_5',
            'radar_dropout_4', 'lidar_beams_1', 'lidar_fov_2', 'spatial_misalignment_5',
            'temporal_misalignment_1'} <= set(names)
    fog3 = conditions[names.index('fog_3')]
    assert fog3.degradations == (dict(type='Fog', severity=3, seed=0, preset='default'),)


def test_corruptions_and_severities_select_and_other_degradations_run_ad_hoc():
    suite = get_suite('default')
    conditions = suite.conditions(['night', 'brightness'], [1, 3], seed=7)
    assert [c.name for c in conditions] == ['clean', 'night_1', 'night_3', 'brightness_1',
                                            'brightness_3']
    assert conditions[-1].degradations == (dict(
        type='ImageCorruption', corruption='brightness', severity=3, seed=7, preset='default'),)
    with pytest.raises(ValueError, match='severities'):
        suite.conditions(['fog'], [6])
    with pytest.raises(KeyError, match='smog'):
        suite.conditions(['smog'])


def test_multicorrupt_runs_its_presets_and_never_a_stand_in_for_what_we_cannot_produce():
    suite = get_suite('multicorrupt')
    assert suite.severities == (1, 2, 3)
    conditions = suite.conditions()
    runnable = {c.corruption for c in conditions if not c.is_clean}
    not_run = set(suite.unsupported())
    assert runnable | not_run == set(suite.corruptions) and not runnable & not_run
    assert {'dark', 'motionblur', 'snow', 'temporalmisalignment'} == not_run
    beams = [c for c in conditions if c.corruption == 'beamsreducing']
    assert [c.name for c in beams] == ['beamsreducing_1', 'beamsreducing_2', 'beamsreducing_3']
    assert all(c.degradations[0]['preset'] == 'multicorrupt' for c in conditions[1:])
    with pytest.raises(KeyError, match='snow.*cannot be run'):
        suite.conditions(['snow'])
    with pytest.raises(KeyError, match='not a corruption'):
        suite.conditions(['lidar_fov'])  # outside MultiCorrupt's severities 1-3


def test_the_suite_record_lists_the_pipelines_run_and_what_was_not_run():
    suite = get_suite('multicorrupt')
    record = suite.serialize(suite.conditions(['fog'], [2]))
    assert record['name'] == 'multicorrupt' and 'MultiCorrupt' in record['source']
    (fog,) = record['corruptions']
    assert fog['status'] == 'approximate' and fog['note']
    assert list(fog['pipelines']) == ['2'] and fog['pipelines']['2'][0]['type'] == 'Fog'
    assert {c['name'] for c in record['not_run']} == set(suite.unsupported())


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
    assert applied == [dict(type='Fog', severity=3, seed=4, preset='default'),
                       dict(type='CameraDropout', severity=2, seed=4, preset='default')]
    cfg.test_dataloader.dataset.pop('pipeline')
    with pytest.raises(KeyError, match='test_dataloader.dataset.pipeline'):
        degrade_test_pipeline(cfg, [('fog', 3)])


@pytest.fixture(scope='module')
def keyframe_with_sweeps(real_fixture_root):
    """The real keyframe (images 8x smaller) with six older sweeps (0.05-0.30 s); requesting
    ``real_fixture_root`` marks its tests ``real_fixture``."""
    return add_lidar_sweeps(downscale_images(build_real_keyframe_results(), 8))


def test_the_same_condition_degrades_a_sample_identically_in_every_run(keyframe_with_sweeps):
    def run(seed):
        out = copy.deepcopy(keyframe_with_sweeps)
        (fog4,) = [c for c in get_suite('default').conditions(['fog'], [4], seed)
                   if not c.is_clean]
        for config in fog4.degradations:
            out = TRANSFORMS.build(dict(config))(out)
        return out
    first, again, other = run(0), run(0), run(1)
    assert np.array_equal(first['points'].tensor.numpy(), again['points'].tensor.numpy())
    assert all(np.array_equal(a, b) for a, b in zip(first['img'], again['img']))
    assert not np.array_equal(first['points'].tensor.numpy(), other['points'].tensor.numpy())
