"""Contract every registered degradation keeps (parametrized over ``DEGRADATIONS``)."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import DEGRADATIONS, build_degradation, degradation_config
from fusion_moe.registry import TRANSFORMS
from fusion_moe.structures import CAMERAS, validate_context

CONTEXT_CHANGES = {'fog': 'weather', 'camera_fog': 'weather', 'lidar_fog': 'weather',
                   'radar_fog': 'weather', 'image_fog': 'weather', 'night': 'lighting'}


def lidar(results):
    return results['points'].tensor.numpy()


def snapshot(results):
    return {
        'img': [img.copy() for img in results['img']],
        'points': lidar(results).copy(),
        'radar': results['radar_points'].copy(),
        'lidar2img': [m.copy() for m in results['lidar2img']],
    }


@pytest.mark.parametrize('name', DEGRADATIONS)
def test_degradation_keeps_the_results_contract(name, tiny_results):
    clean = copy.deepcopy(tiny_results)
    out = build_degradation(name, 2, seed=7)(tiny_results)

    # ground truth untouched
    assert np.array_equal(out['gt_bboxes_3d'].tensor.numpy(),
                          clean['gt_bboxes_3d'].tensor.numpy())
    assert np.array_equal(out['gt_labels_3d'], clean['gt_labels_3d'])
    # shapes, dtypes, no NaN
    assert len(out['img']) == len(CAMERAS)
    for before, after in zip(clean['img'], out['img']):
        assert after.shape == before.shape and after.dtype == np.uint8
    pts = lidar(out)
    assert type(out['points']) is type(clean['points'])
    assert pts.ndim == 2 and pts.shape[1] == 6 and pts.dtype == np.float32
    assert np.isfinite(pts).all()
    assert out['radar_points'].ndim == 2 and out['radar_points'].shape[1] == 8
    assert out['radar_points'].dtype == np.float32 and np.isfinite(out['radar_points']).all()
    for m in out['lidar2img'] + out['lidar2cam']:
        assert m.shape == (4, 4) and np.isfinite(m).all()
    # the record
    record = out['degradations'][-1]
    assert len(out['degradations']) == 1
    assert record['name'] == name and record['severity'] == 2
    assert isinstance(record['params'], dict)
    # the context: set (source injected) exactly when the driving conditions change
    validate_context(out['context'])
    factor = CONTEXT_CHANGES.get(name)
    if factor is None:
        assert out['context'] == clean['context']
    else:
        assert out['context']['source'] == 'injected'
        assert out['context'][factor] == {'weather': 'fog', 'lighting': 'night'}[factor]
    # something actually changed (severity 2 of a failure may spare this sample)
    changed = snapshot(out)
    before = snapshot(clean)
    differs = (any(not np.array_equal(a, b) for a, b in zip(changed['img'], before['img']))
               or changed['points'].shape != before['points'].shape
               or not np.array_equal(changed['points'], before['points'])
               or changed['radar'].shape != before['radar'].shape
               or not np.array_equal(changed['radar'], before['radar'])
               or any(not np.array_equal(a, b)
                      for a, b in zip(changed['lidar2img'], before['lidar2img'])))
    spared = record['params'].get('dropped') is False or (
        name == 'temporal_misalignment')            # keyframe has no LiDAR sweeps
    assert differs or spared


@pytest.mark.parametrize('name', DEGRADATIONS)
def test_same_seed_same_output(name, tiny_results):
    a = build_degradation(name, 2, seed=3)(copy.deepcopy(tiny_results))
    b = build_degradation(name, 2, seed=3)(copy.deepcopy(tiny_results))
    sa, sb = snapshot(a), snapshot(b)
    assert all(np.array_equal(x, y) for x, y in zip(sa['img'], sb['img']))
    assert np.array_equal(sa['points'], sb['points'])
    assert np.array_equal(sa['radar'], sb['radar'])
    assert all(np.array_equal(x, y) for x, y in zip(sa['lidar2img'], sb['lidar2img']))
    assert a['degradations'] == b['degradations']


def test_every_name_builds_by_type_name_from_a_config():
    for name in DEGRADATIONS:
        cfg = degradation_config(name, 4, seed=1)
        transform = TRANSFORMS.build(cfg)
        assert transform.severity == 4 and transform.seed == 1


def test_names_cover_the_issue_list():
    expected = {'fog', 'camera_fog', 'lidar_fog', 'radar_fog', 'night', 'camera_dropout',
                'lidar_beams', 'lidar_fov', 'lidar_dropout', 'radar_dropout',
                'spatial_misalignment', 'temporal_misalignment', 'brightness', 'contrast',
                'motion_blur', 'snow', 'image_fog'}
    assert expected <= set(DEGRADATIONS)
    assert len(set(DEGRADATIONS)) == len(DEGRADATIONS)


@pytest.mark.parametrize('severity', [0, 6, -1])
def test_severity_outside_1_to_5_is_refused(severity):
    with pytest.raises(ValueError, match='severity'):
        build_degradation('fog', severity)


@pytest.mark.parametrize('severity', [2.0, '3', True])
def test_severity_must_be_an_int(severity):
    with pytest.raises(TypeError, match='severity'):
        build_degradation('night', severity)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match='camera_dropout'):
        build_degradation('smog', 3)


def test_missing_key_names_the_key(small_results):
    del small_results['sample_idx']
    with pytest.raises(KeyError, match="'sample_idx'"):
        build_degradation('lidar_fog', 3)(small_results)


def test_missing_context_names_the_key(small_results):
    del small_results['context']
    with pytest.raises(KeyError, match="'context'"):
        build_degradation('night', 3)(small_results)


def test_different_samples_draw_different_streams(small_results):
    a = build_degradation('night', 3, seed=0)(copy.deepcopy(small_results))
    other = copy.deepcopy(small_results)
    other['sample_idx'] = 1
    b = build_degradation('night', 3, seed=0)(other)
    c = build_degradation('night', 3, seed=1)(copy.deepcopy(small_results))
    assert not np.array_equal(a['img'][0], b['img'][0])
    assert not np.array_equal(a['img'][0], c['img'][0])


def test_degradations_compose_and_record_in_order(small_results):
    out = build_degradation('fog', 3)(small_results)
    out = build_degradation('night', 2)(out)
    out = build_degradation('camera_dropout', 1)(out)
    assert [r['name'] for r in out['degradations']] == ['fog', 'night', 'camera_dropout']
    assert out['context'] == {'lighting': 'night', 'weather': 'fog', 'source': 'injected'}
