"""The base degradation configs build and run; degradations go right before packing."""
import copy
import os

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from fusion_moe.degradation import DEGRADATIONS, insert_degradations
from fusion_moe.degradation.suites import suite_conditions
from fusion_moe.registry import TRANSFORMS

CONFIG_DIR = os.path.join(os.path.dirname(__file__), '..', '..', 'configs', '_base_',
                          'degradations')


def load(name):
    return Config.fromfile(os.path.join(CONFIG_DIR, name + '.py'))


def test_insert_puts_degradations_before_packing():
    pipeline = [dict(type='LoadLidar'), dict(type='LoadCameras'),
                dict(type='PackFusionInputs', keys=['points'])]
    out = insert_degradations(pipeline, [dict(type='Fog', severity=3, seed=0)])
    assert [t['type'] for t in out] == ['LoadLidar', 'LoadCameras', 'Fog', 'PackFusionInputs']
    assert [t['type'] for t in pipeline] == ['LoadLidar', 'LoadCameras', 'PackFusionInputs']


def test_insert_refuses_a_pipeline_without_packing():
    with pytest.raises(ValueError, match='LoadLidar'):
        insert_degradations([dict(type='LoadLidar')], [dict(type='Fog', severity=1)])


@pytest.mark.parametrize('name,key', [('fog', 'degradation_pipeline'),
                                      ('night', 'degradation_pipeline')])
def test_single_condition_configs_build_and_run(name, key, tiny_results):
    transforms = [TRANSFORMS.build(copy.deepcopy(t)) for t in load(name)[key]]
    out = tiny_results
    for t in transforms:
        out = t(out)
    assert out['degradations'][-1]['name'] == name


def test_failure_and_corruption_configs_build():
    for key, cfg in (('sensor_failure_pipelines', load('sensor_failures')),
                     ('image_corruption_pipelines', load('image_corruptions'))):
        for cond, pipeline in cfg[key].items():
            assert cond in DEGRADATIONS
            for t in pipeline:
                TRANSFORMS.build(copy.deepcopy(t))


def test_robustness_grid_names_are_known():
    conditions = load('robustness_grid')['degradation_conditions']
    assert len(conditions) == 14 * 5
    assert all(c['name'] in DEGRADATIONS and 1 <= c['severity'] <= 5 for c in conditions)


def test_training_augmentation_builds_and_degrades_some_samples(tiny_results):
    # mmcv's wrappers build their children in the default scope, as a Runner sets it from
    # the config's default_scope = 'mmdet3d'
    with DefaultScope.overwrite_default_scope('mmdet3d'):
        augment = TRANSFORMS.build(copy.deepcopy(load('train_augmentation')
                                                 ['degradation_augmentation']))
    np.random.seed(1)
    degraded = 0
    for idx in range(30):
        sample = copy.deepcopy(tiny_results)
        sample['sample_idx'] = idx
        degraded += bool(augment(sample)['degradations'])
    assert 0 < degraded < 30


def test_degradations_go_before_global_augmentation_in_the_sensor_frame():
    pipeline = [dict(type='LoadLidarSweeps'), dict(type='LoadAnnotations3D'),
                dict(type='GlobalRotScaleTrans'), dict(type='BEVRandomFlip3D'),
                dict(type='PropagateLidarAugmentation'), dict(type='PointsRangeFilter'),
                dict(type='PackFusionInputs')]
    out = insert_degradations(pipeline, [dict(type='Fog', severity=3, seed=0)])
    assert [t['type'] for t in out] == [
        'LoadLidarSweeps', 'LoadAnnotations3D', 'Fog', 'GlobalRotScaleTrans', 'BEVRandomFlip3D',
        'PropagateLidarAugmentation', 'PointsRangeFilter', 'PackFusionInputs']


@pytest.mark.parametrize('name', ['multicorrupt', 'nuscenes_c'])
def test_suite_configs_name_their_suite_and_run_one_of_its_conditions(name, tiny_results):
    cfg = load(name)
    pipelines = [c.pipeline for c in suite_conditions(cfg['degradation_suite'])]
    assert cfg['degradation_pipeline'] in pipelines
    out = tiny_results
    for t in cfg['degradation_pipeline']:
        out = TRANSFORMS.build(copy.deepcopy(t))(out)
    assert out['degradations'][-1]['preset'] == name
