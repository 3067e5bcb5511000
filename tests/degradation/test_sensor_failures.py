"""Sensor failures: camera views, LiDAR beams and field of view, whole LiDAR / radar."""
import copy

import numpy as np
import pytest

from fusion_moe.degradation import build_degradation
from fusion_moe.degradation.dropout import kept_rings
from fusion_moe.degradation.severity_tables import (CAMERA_DROPOUT_COUNT, LIDAR_BEAMS_KEPT,
                                                    LIDAR_FOV_LOST_DEG)
from fusion_moe.structures import CAMERAS


def lidar(results):
    return results['points'].tensor.numpy()


@pytest.mark.parametrize('severity', range(1, 6))
def test_camera_dropout_blanks_the_listed_views(severity, tiny_results):
    out = build_degradation('camera_dropout', severity, seed=2)(tiny_results)
    dropped = out['degradations'][-1]['params']['dropped_cameras']
    assert len(dropped) == CAMERA_DROPOUT_COUNT[severity]
    for cam, img in zip(CAMERAS, out['img']):
        assert (not img.any()) == (cam in dropped)
    assert out['modality_present']['camera'] == (severity < 5)


def test_beam_reduction_keeps_evenly_spaced_rings():
    assert kept_rings(16).tolist() == list(range(0, 32, 2))
    assert kept_rings(4).tolist() == [0, 8, 16, 24]
    with pytest.raises(ValueError):
        kept_rings(0)


@pytest.mark.parametrize('severity', range(1, 6))
def test_beam_reduction_leaves_only_the_kept_rings(severity, small_results):
    out = build_degradation('lidar_beams', severity)(small_results)
    rings = np.unique(lidar(out)[:, 4]).astype(int)
    assert len(rings) == LIDAR_BEAMS_KEPT[severity]
    assert set(rings) == set(kept_rings(LIDAR_BEAMS_KEPT[severity]).tolist())
    # nuScenes keyframe: every ring has the same number of returns
    assert len(lidar(out)) == len(rings) * 34688 // 32


def test_beam_reduction_needs_the_ring_column(small_results):
    pts = lidar(small_results)[:, :4].copy()
    small_results['points'] = pts
    with pytest.raises(ValueError, match='ring'):
        build_degradation('lidar_beams', 2)(small_results)


@pytest.mark.parametrize('severity', range(1, 6))
def test_fov_loss_empties_a_sector_of_the_stated_width(severity, small_results):
    out = build_degradation('lidar_fov', severity, seed=4)(small_results)
    params = out['degradations'][-1]['params']
    az = np.degrees(np.arctan2(lidar(out)[:, 1], lidar(out)[:, 0]))
    offset = (az - params['centre_deg'] + 180) % 360 - 180
    assert np.all(np.abs(offset) >= LIDAR_FOV_LOST_DEG[severity] / 2)
    # the returns left span the rest of the circle: the lost sector is the one wide gap
    gaps = np.sort(np.diff(np.sort(offset)))
    assert gaps[-1] == pytest.approx(LIDAR_FOV_LOST_DEG[severity], abs=1.0)
    assert gaps[-2] < 5.0


def test_fov_loss_removes_more_with_severity(small_results):
    removed = [build_degradation('lidar_fov', s, seed=4)(copy.deepcopy(small_results))
               ['degradations'][-1]['params']['points_removed'] for s in range(1, 6)]
    assert all(a < b for a, b in zip(removed, removed[1:])), removed


@pytest.mark.parametrize('name,key,width', [('lidar_dropout', 'points', 6),
                                            ('radar_dropout', 'radar_points', 8)])
def test_whole_sensor_dropout_rate_follows_severity(name, key, width, tiny_results):
    modality = name.split('_')[0]
    rates = []
    for severity in range(1, 6):
        transform = build_degradation(name, severity, seed=0)
        dropped = 0
        for idx in range(60):
            sample = {'sample_idx': idx, 'modality_present': dict(tiny_results['modality_present']),
                      'points': tiny_results['points'],
                      'radar_points': tiny_results['radar_points'], 'degradations': []}
            out = transform(sample)
            was_dropped = out['degradations'][-1]['params']['dropped']
            dropped += was_dropped
            arr = out[key].tensor.numpy() if key == 'points' else out[key]
            assert (len(arr) == 0) == was_dropped
            assert arr.shape[1] == width and arr.dtype == np.float32
            assert out['modality_present'][modality] == (not was_dropped)
        rates.append(dropped / 60)
    assert rates[-1] == 1.0
    assert all(a <= b for a, b in zip(rates, rates[1:])), rates
    assert 0.05 < rates[0] < 0.45


def test_failures_leave_the_context_alone(small_results):
    for name in ('camera_dropout', 'lidar_beams', 'lidar_fov', 'lidar_dropout',
                 'radar_dropout'):
        out = build_degradation(name, 5)(copy.deepcopy(small_results))
        assert out['context'] == small_results['context']


def test_dropped_views_are_absent_like_views_missing_on_disk(tiny_results):
    out = build_degradation('camera_dropout', 2, seed=2)(tiny_results)
    dropped = out['degradations'][-1]['params']['dropped_cameras']
    assert out['degradations'][-1]['params']['view'] == 'absent'
    assert out['cameras_present'] == [cam not in dropped for cam in CAMERAS]
    assert out['modality_present']['camera'] is True


def test_black_frame_mode_tells_the_model_nothing(tiny_results):
    out = build_degradation('camera_dropout', 5, seed=2, view='black')(tiny_results)
    assert not any(img.any() for img in out['img'])
    assert 'cameras_present' not in out
    assert out['modality_present']['camera'] is True       # six black frames, still "present"


def test_absent_mode_keeps_views_the_loader_already_lost(tiny_results):
    tiny_results['cameras_present'] = [True, True, True, False, True, True]
    tiny_results['img'][3][:] = 0
    out = build_degradation('camera_dropout', 1, seed=0)(tiny_results)
    dropped = out['degradations'][-1]['params']['dropped_cameras']
    assert out['cameras_present'][3] is False
    assert sum(out['cameras_present']) == 6 - len(set(dropped) | {'CAM_BACK'})


def test_later_degradations_leave_absent_views_black(tiny_results):
    tiny_results['cameras_present'] = [True, True, True, False, True, True]   # lost on disk
    tiny_results['img'][3][:] = 0
    out = build_degradation('camera_dropout', 1, seed=0)(tiny_results)
    out = build_degradation('fog', 3)(out)
    out = build_degradation('night', 3)(out)
    for present, img in zip(out['cameras_present'], out['img']):
        assert img.any() == present


def test_unknown_view_mode_is_refused():
    with pytest.raises(ValueError, match='view'):
        build_degradation('camera_dropout', 1, view='grey')
