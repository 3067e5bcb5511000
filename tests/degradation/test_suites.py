"""Suites: each condition of ours, MultiCorrupt's and nuScenes-C's, with a runnable pipeline."""
import copy
import os.path as osp

import pytest

from fusion_moe.degradation.suites import (STATUSES, SUITE_SOURCES, SUITES, suite_conditions,
                                           suite_corruptions, suite_table)
from fusion_moe.registry import TRANSFORMS

MULTICORRUPT = ('beamsreducing', 'brightness', 'dark', 'fog', 'missingcamera', 'motionblur',
                'pointsreducing', 'snow', 'spatialmisalignment', 'temporalmisalignment')


def test_multicorrupt_lists_its_ten_corruptions_at_three_severities():
    conditions = suite_conditions('multicorrupt')
    assert set(suite_corruptions('multicorrupt')) == set(MULTICORRUPT)
    assert [(c.corruption, c.severity) for c in conditions] == [
        (name, s) for name in suite_corruptions('multicorrupt') for s in (1, 2, 3)]
    assert {c.name for c in conditions} == {f'{n}_s{s}' for n in MULTICORRUPT for s in (1, 2, 3)}


def test_nuscenes_c_is_its_lidar_fog_at_five_alphas():
    conditions = suite_conditions('nuscenes_c')
    assert [(c.corruption, c.severity) for c in conditions] == [('fog', s) for s in range(1, 6)]
    assert all(c.pipeline[0]['type'] == 'LidarFog' for c in conditions)


def test_default_suite_covers_our_degradations_at_severities_1_to_5():
    conditions = suite_conditions('default')
    assert set(suite_corruptions('default')) == {
        'fog', 'night', 'camera_dropout', 'lidar_dropout', 'radar_dropout', 'lidar_beams',
        'lidar_fov', 'spatial_misalignment', 'temporal_misalignment'}
    assert len(conditions) == 9 * 5
    assert all(c.status == 'reproduced' for c in conditions)


@pytest.mark.parametrize('suite', SUITES)
def test_unsupported_conditions_have_no_pipeline_and_say_why(suite):
    for cond in suite_conditions(suite):
        assert cond.status in STATUSES
        assert (cond.pipeline is None) == (cond.status == 'unsupported')
        if cond.status != 'reproduced':
            assert len(cond.note) > 20
    kept = suite_conditions(suite, include_unsupported=False)
    assert all(c.pipeline is not None for c in kept)
    assert suite in SUITE_SOURCES


def test_multicorrupt_marks_what_we_cannot_reproduce():
    status = {c.corruption: c.status for c in suite_conditions('multicorrupt')}
    for name in ('snow', 'motionblur', 'temporalmisalignment'):
        assert status[name] == 'unsupported'
    assert status['fog'] == 'approximate'


@pytest.mark.parametrize('suite', SUITES)
def test_every_supported_condition_runs_and_records_the_suite(suite, tiny_results):
    for cond in suite_conditions(suite, seed=4, include_unsupported=False):
        out = copy.deepcopy(tiny_results)
        for cfg in cond.pipeline:
            assert cfg['seed'] == 4
            out = TRANSFORMS.build(copy.deepcopy(cfg))(out)
        record = out['degradations'][-1]
        assert record['preset'] == suite and record['severity'] == cond.severity, cond.name


def test_unknown_suite_lists_the_known_ones():
    with pytest.raises(ValueError, match='multicorrupt'):
        suite_conditions('robo3d')


@pytest.mark.parametrize('suite', SUITES)
def test_the_readme_shows_each_suite_as_the_code_defines_it(suite):
    readme = osp.join(osp.dirname(__file__), '..', '..', 'README.md')
    assert f'`{suite}` ({SUITE_SOURCES[suite]}):\n\n{suite_table(suite)}\n' in open(readme).read()
