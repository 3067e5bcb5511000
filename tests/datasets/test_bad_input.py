"""Bad sensor files: a clear error naming the file and the problem, or, where configured,
the sensor marked missing for the sample with a logged warning. Never silent garbage."""
import os.path as osp
import shutil

import numpy as np
import pytest

import fusion_moe.data.errors as errors_module
import fusion_moe.data.lidar_file as lidar_file_module
import fusion_moe.data.load_cameras as load_cameras_module
import fusion_moe.data.load_lidar as load_lidar_module
import fusion_moe.data.load_radar as load_radar_module
from fusion_moe.data import (LoadCameraImages, LoadLidarSweeps, LoadRadarSweeps, SensorFileError,
                             read_image, read_lidar_bin)
from tiny_nuscenes import REAL, REAL_RADAR, load_real_info

REAL_INFO = load_real_info()
REAL_LIDAR = osp.join(REAL, 'lidar', REAL_INFO['lidar_points']['lidar_path'])
REAL_JPEG = osp.join(REAL, 'cameras', REAL_INFO['images']['CAM_FRONT']['img_path'])


@pytest.fixture
def warnings(monkeypatch):
    """Collect the warnings the data modules log."""
    logged = []
    for module in (errors_module, lidar_file_module, load_cameras_module, load_lidar_module,
                   load_radar_module):
        monkeypatch.setattr(module, 'print_log', lambda msg, **kw: logged.append(msg))
    return logged


def _points(tmp_path, points: np.ndarray, name='scan.pcd.bin') -> str:
    path = str(tmp_path / name)
    points.astype(np.float32).tofile(path)
    return path


def _lidar_results(path: str) -> dict:
    return dict(token='tok', timestamp=0.0, lidar_path=path, lidar_sweeps=[],
                modality_present={'lidar': False})


# ---- LiDAR ------------------------------------------------------------------------------

def test_truncated_lidar_file_names_file_and_sizes(tmp_path):
    path = str(tmp_path / 'cut.pcd.bin')
    shutil.copy(REAL_LIDAR, path)
    with open(path, 'r+b') as f:
        f.truncate(osp.getsize(REAL_LIDAR) - 6)
    with pytest.raises(SensorFileError, match='truncated LiDAR file.*not a multiple of the '
                                              '20-byte') as info:
        read_lidar_bin(path)
    assert info.value.path == path


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_lidar_points_raise_or_are_dropped_and_logged(tmp_path, warnings, bad):
    pts = np.ones((10, 5))
    pts[3, 1] = bad
    path = _points(tmp_path, pts)
    with pytest.raises(SensorFileError, match='1 of 10 LiDAR points hold NaN or Inf'):
        read_lidar_bin(path)
    kept = read_lidar_bin(path, non_finite='drop')
    assert kept.shape == (9, 5) and np.isfinite(kept).all()
    assert any(path in w and 'dropped 1 of 10' in w for w in warnings)


def test_missing_lidar_raises_by_default_or_marks_lidar_absent(tmp_path, warnings):
    path = str(tmp_path / 'gone.pcd.bin')
    with pytest.raises(SensorFileError, match='gone.pcd.bin: LiDAR file does not exist'):
        LoadLidarSweeps()(_lidar_results(path))
    results = LoadLidarSweeps(on_missing='mark_absent')(_lidar_results(path))
    assert results['modality_present']['lidar'] is False
    assert results['points'].shape == (0, 6)
    assert any('lidar marked absent' in w and 'gone.pcd.bin' in w for w in warnings)


def test_bad_lidar_sweep_is_skipped_with_a_warning_under_mark_absent(tmp_path, warnings):
    key = _points(tmp_path, np.ones((4, 5)), 'key.pcd.bin')
    results = _lidar_results(key)
    results['lidar_sweeps'] = [dict(lidar_points=dict(lidar_path=str(tmp_path / 'no.pcd.bin')),
                                    sensor2lidar=np.eye(4), timestamp=-0.05)]
    with pytest.raises(SensorFileError, match='no.pcd.bin'):
        LoadLidarSweeps()(dict(results))
    out = LoadLidarSweeps(on_missing='mark_absent')(results)
    assert out['points'].shape == (4, 6) and out['modality_present']['lidar'] is True
    assert any('no.pcd.bin' in w and 'sweep skipped' in w for w in warnings)


# ---- cameras ----------------------------------------------------------------------------

def _camera_results(tmp_path, broken: str = None) -> dict:
    images = {}
    for cam, img in REAL_INFO['images'].items():
        path = osp.join(REAL, 'cameras', img['img_path'])
        if cam == broken:
            path = str(tmp_path / f'{cam}.jpg')
        images[cam] = dict(img, img_path=path)
    return dict(token='tok', images=images, modality_present={})


def test_missing_image_raises_naming_it(tmp_path):
    with pytest.raises(SensorFileError, match='CAM_BACK.jpg: image file does not exist'):
        LoadCameraImages()(_camera_results(tmp_path, broken='CAM_BACK'))


def test_missing_image_becomes_a_zero_view_when_configured(tmp_path, warnings):
    out = LoadCameraImages(on_missing='mark_absent', downscale=8)(
        _camera_results(tmp_path, broken='CAM_BACK'))
    i = list(REAL_INFO['images']).index('CAM_BACK')
    assert out['cameras_present'] == [True, True, True, False, True, True]
    assert out['img'][i].shape == out['img'][0].shape == (113, 200, 3)
    assert not out['img'][i].any() and out['img'][0].any()
    assert out['modality_present']['camera'] is True
    assert any('CAM_BACK' in w and 'replaced by zeros' in w for w in warnings)


def test_truncated_and_garbage_jpegs_are_refused(tmp_path):
    raw = open(REAL_JPEG, 'rb').read()
    (tmp_path / 'cut.jpg').write_bytes(raw[:len(raw) // 2])
    with pytest.raises(SensorFileError, match='cut.jpg: truncated JPEG'):
        read_image(str(tmp_path / 'cut.jpg'))
    (tmp_path / 'noise.jpg').write_bytes(b'not an image at all')
    with pytest.raises(SensorFileError, match='noise.jpg: not a decodable image'):
        read_image(str(tmp_path / 'noise.jpg'))


# ---- radar ------------------------------------------------------------------------------

def _radar_results(paths) -> dict:
    sweeps = {'RADAR_FRONT': [dict(data_path=p, sensor2lidar=np.eye(4), timestamp=0.0)
                              for p in paths]}
    return dict(token='tok', timestamp=0.0, radar_sweeps=sweeps, modality_present={})


def test_malformed_radar_header_raises_or_skips_the_scan(tmp_path, warnings):
    good = osp.join(REAL, 'radar', REAL_RADAR[0])
    bad = tmp_path / 'bad.pcd'
    bad.write_bytes(open(good, 'rb').read().replace(b'HEIGHT 1', b'HEIGHT 7'))
    loader = dict(radars=['RADAR_FRONT'])
    with pytest.raises(SensorFileError, match='bad.pcd: malformed radar PCD header: HEIGHT'):
        LoadRadarSweeps(**loader)(_radar_results([good, str(bad)]))
    out = LoadRadarSweeps(on_missing='mark_absent', **loader)(_radar_results([good, str(bad)]))
    assert out['modality_present']['radar'] is True and len(out['radar_points']) == 71
    assert any('bad.pcd' in w and 'scan skipped' in w for w in warnings)


def test_sample_without_radar_info_raises_or_marks_radar_absent(warnings):
    results = dict(token='tok', timestamp=0.0, modality_present={})
    with pytest.raises(KeyError, match='no radar_sweeps'):
        LoadRadarSweeps()(dict(results))
    out = LoadRadarSweeps(on_missing='mark_absent')(results)
    assert out['modality_present']['radar'] is False
    assert out['radar_points'].shape == (0, 8) and out['radar_points'].dtype == np.float32
    assert any('radar marked absent' in w for w in warnings)


# ---- config keys ------------------------------------------------------------------------

@pytest.mark.parametrize('build, key', [
    (lambda: LoadLidarSweeps(on_missing='ignore'), 'on_missing'),
    (lambda: LoadLidarSweeps(non_finite='keep'), 'non_finite'),
    (lambda: LoadCameraImages(downscale=3), 'downscale'),
    (lambda: LoadCameraImages(cameras=['CAM_TOP']), 'CAM_TOP'),
    (lambda: LoadRadarSweeps(radars=['RADAR_TOP']), 'RADAR_TOP'),
    (lambda: LoadRadarSweeps(sweeps_num=0), 'sweeps_num')])
def test_wrong_config_values_name_the_key(build, key):
    with pytest.raises(ValueError, match=key):
        build()
