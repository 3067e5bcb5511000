"""Bad input: a clear error naming the file or key, or, where the config says so, the sensor
marked missing for the sample with a logged warning, recorded in the sample's
``sensor_faults`` and counted by the run's missing-sensor summary. Never silent garbage."""
import os.path as osp
import pickle
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config

import fusion_moe.data.errors as errors_module
import fusion_moe.data.lidar_file as lidar_file_module
import fusion_moe.data.load_cameras as load_cameras_module
import fusion_moe.data.load_lidar as load_lidar_module
import fusion_moe.data.load_radar as load_radar_module
import fusion_moe.data.pack as pack_module
from fusion_moe.data import (LoadCameraImages, LoadLidarSweeps, LoadRadarSweeps, SensorFileError,
                             read_image, read_lidar_bin)
from fusion_moe.data.pack import PackFusionInputs
from fusion_moe.degradation import LidarBeamReduction
from fusion_moe.engine.config_checks import check_point_ranges
from fusion_moe.engine.hooks import MissingSensorSummaryHook
from fusion_moe.registry import HOOKS, MODELS, TRANSFORMS
from fusion_moe.structures import CAMERAS, LIDAR_POINT_DIMS
from tiny_nuscenes import REAL_RADAR, load_real_info

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def real(real_fixture_root):
    """The fixture's info dict, LiDAR scan and front camera JPEG."""
    info = load_real_info()
    return SimpleNamespace(
        root=real_fixture_root, info=info,
        lidar=osp.join(real_fixture_root, 'lidar', info['lidar_points']['lidar_path']),
        jpeg=osp.join(real_fixture_root, 'cameras', info['images']['CAM_FRONT']['img_path']))


@pytest.fixture
def warnings(monkeypatch):
    """Collect the warnings the data modules log."""
    logged = []
    for module in (errors_module, lidar_file_module, load_cameras_module, load_lidar_module,
                   load_radar_module, pack_module):
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

def test_truncated_lidar_file_names_file_and_sizes(tmp_path, real):
    path = str(tmp_path / 'cut.pcd.bin')
    shutil.copy(real.lidar, path)
    with open(path, 'r+b') as f:
        f.truncate(osp.getsize(real.lidar) - 6)
    with pytest.raises(SensorFileError, match='truncated or wrong-size LiDAR file.*not a '
                                              'multiple of the 20-byte') as info:
        read_lidar_bin(path)
    assert info.value.path == path


def test_empty_and_wrong_size_lidar_files_are_refused(tmp_path):
    empty = tmp_path / 'empty.pcd.bin'
    empty.write_bytes(b'')
    with pytest.raises(SensorFileError, match='empty.pcd.bin: empty LiDAR file'):
        read_lidar_bin(str(empty))
    kitti = _points(tmp_path, np.ones((7, 4)), 'kitti.bin')  # 4 floats per point, 112 bytes
    with pytest.raises(SensorFileError, match='kitti.bin: .*112 bytes.*KITTI'):
        read_lidar_bin(kitti)


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
    assert results['sensor_faults'] == [
        {'modality': 'lidar', 'path': path, 'problem': 'LiDAR file does not exist'}]


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

def _camera_results(tmp_path, real, broken: str = None) -> dict:
    images = {}
    for cam, img in real.info['images'].items():
        path = osp.join(real.root, 'cameras', img['img_path'])
        if cam == broken:
            path = str(tmp_path / f'{cam}.jpg')
        images[cam] = dict(img, img_path=path)
    return dict(token='tok', images=images, modality_present={})


def test_missing_image_raises_naming_it(tmp_path, real):
    with pytest.raises(SensorFileError, match='CAM_BACK.jpg: image file does not exist'):
        LoadCameraImages()(_camera_results(tmp_path, real, broken='CAM_BACK'))


def test_missing_image_becomes_a_zero_view_when_configured(tmp_path, real, warnings):
    out = LoadCameraImages(on_missing='mark_absent', downscale=8)(
        _camera_results(tmp_path, real, broken='CAM_BACK'))
    i = list(real.info['images']).index('CAM_BACK')
    assert out['cameras_present'] == [True, True, True, False, True, True]
    assert out['img'][i].shape == out['img'][0].shape == (113, 200, 3)
    assert not out['img'][i].any() and out['img'][0].any()
    assert out['modality_present']['camera'] is True
    assert any('CAM_BACK' in w and 'replaced by zeros' in w for w in warnings)
    assert [f['problem'] for f in out['sensor_faults']] == [
        'CAM_BACK replaced by zeros: image file does not exist']


def test_truncated_and_garbage_jpegs_are_refused(tmp_path, real):
    raw = open(real.jpeg, 'rb').read()
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


def test_malformed_radar_header_raises_or_skips_the_scan(tmp_path, real, warnings):
    good = osp.join(real.root, 'radar', REAL_RADAR[0])
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


# ---- sensors left without data, and the run's count of them ----------------------------

def _packable(points: np.ndarray, imgs=None) -> dict:
    """A loaded sample (LiDAR frame arrays) as PackFusionInputs receives it."""
    from mmdet3d.structures import LiDARInstance3DBoxes, LiDARPoints
    rng = np.random.default_rng(0)
    return dict(points=LiDARPoints(points.astype(np.float32), points_dim=len(LIDAR_POINT_DIMS)),
                img=imgs if imgs is not None else [rng.integers(1, 255, (8, 12, 3), np.uint8)
                                                   for _ in range(6)],
                img_path=[f'cam{i}.jpg' for i in range(6)], lidar2img=[np.eye(4)] * 6,
                radar_points=np.ones((3, 8), np.float32), lidar_path='scan.pcd.bin',
                modality_present={'camera': True, 'lidar': True, 'radar': True},
                context={'lighting': 'day', 'weather': 'clear', 'source': 'metadata'},
                degradations=[], sample_idx=7, box_type_3d=LiDARInstance3DBoxes)


def test_lidar_with_no_points_left_after_degradation_is_packed_absent_and_recorded(warnings):
    points = np.zeros((50, len(LIDAR_POINT_DIMS)))
    points[:, LIDAR_POINT_DIMS.index('ring')] = 1  # severity 5 keeps rings 0, 8, 16, 24 only
    results = LidarBeamReduction(severity=5)(_packable(points))
    sample = PackFusionInputs().transform(results)['data_samples']
    assert sample.metainfo['modality_present'] == {'camera': True, 'lidar': False, 'radar': True}
    assert sample.metainfo['sensor_faults'] == [
        {'modality': 'lidar', 'path': 'scan.pcd.bin',
         'problem': "no lidar points left after degradations ['lidar_beams']"}]
    assert any('sample 7: lidar marked absent' in w for w in warnings)


def test_all_cameras_black_is_packed_as_camera_absent_and_recorded(warnings):
    black = [np.zeros((8, 12, 3), np.uint8) for _ in range(6)]
    sample = PackFusionInputs().transform(_packable(np.ones((5, 6)), black))['data_samples']
    assert sample.metainfo['modality_present']['camera'] is False
    assert sample.metainfo['sensor_faults'][0]['problem'] == (
        'all 6 camera images are black after the pipeline')


def test_views_a_degradation_blackened_on_purpose_keep_the_presence_it_chose():
    black = [np.zeros((8, 12, 3), np.uint8) for _ in range(6)]
    results = _packable(np.ones((5, 6)), black)
    results['degradations'] = [{'name': 'camera_dropout', 'severity': 5,
                                'params': {'dropped_cameras': list(CAMERAS)}}]
    sample = PackFusionInputs().transform(results)['data_samples']
    assert sample.metainfo['modality_present']['camera'] is True
    assert sample.metainfo['sensor_faults'] == []


def test_the_run_counts_samples_with_replaced_sensors_and_summarises_them(tmp_path,
                                                                          monkeypatch):
    import fusion_moe.engine.hooks.missing_sensor_summary_hook as hook_module
    logged = []
    monkeypatch.setattr(hook_module, 'print_log', lambda msg, **kw: logged.append(msg))
    empty_lidar = np.zeros((4, 6))
    empty_lidar[:, LIDAR_POINT_DIMS.index('ring')] = 1
    black = [np.zeros((8, 12, 3), np.uint8) for _ in range(6)]
    samples = [PackFusionInputs().transform(r)['data_samples'] for r in (
        LidarBeamReduction(severity=5)(_packable(empty_lidar)), _packable(np.ones((5, 6)), black),
        _packable(np.ones((5, 6))))]
    runner = SimpleNamespace(epoch=0, log_dir=str(tmp_path))
    hook = MissingSensorSummaryHook()
    hook.after_test_iter(runner, 0, data_batch={'data_samples': samples[:2]})
    hook.after_test_iter(runner, 1, data_batch={'data_samples': samples[2:]})
    hook.after_test_epoch(runner)
    hook.after_run(runner)
    assert logged[0].startswith('missing-sensor summary (test): 2 of 3 samples had a '
                                'sensor input replaced: camera 1 [all 6 camera images are black')
    assert 'lidar 1 [no lidar points left' in logged[0]
    summary = __import__('json').load(open(tmp_path / 'missing_sensors.json'))['test']
    assert summary['samples'] == 3 and summary['samples_with_faults'] == 2
    assert sum(summary['faults']['lidar'].values()) == 1
    assert summary['examples'][0]['sample_idx'] == 7


# ---- info files and configs ---------------------------------------------------------------

def test_an_info_file_from_another_version_is_refused_naming_it(tmp_path):
    from fusion_moe.registry import DATASETS
    with open(tmp_path / 'old_infos.pkl', 'wb') as f:
        pickle.dump({'metainfo': {'fusion_info_version': '0.9', 'version': 'v1.0-mini'},
                     'data_list': [{'token': 'a', 'sample_idx': 0}]}, f)
    with pytest.raises(ValueError, match="old_infos.pkl: info file has fusion_info_version "
                                         "'0.9', expected"):
        DATASETS.build(dict(type='FusionNuScenesDataset', data_root=str(tmp_path),
                            ann_file='old_infos.pkl', pipeline=[]))


@pytest.mark.parametrize('registry, cfg, key', [
    (TRANSFORMS, dict(type='LoadLidarSweeps', sweep_num=1), 'sweep_num'),
    (MODELS, dict(type='MoELayer', in_channels=8, hidden_channels=8, num_expert=4), 'num_expert'),
    (HOOKS, dict(type='NonFiniteGuardHook', diagnosis=False), 'diagnosis')])
def test_an_unknown_config_key_is_an_error_naming_it(registry, cfg, key):
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{key}'"):
        registry.build(cfg)


@pytest.mark.parametrize('registry, typo', [
    (TRANSFORMS, 'LoadLidarSweep'), (MODELS, 'FusionDetecter'), (HOOKS, 'NonFiniteGuardHok')])
def test_a_typo_in_a_registered_type_names_the_type_and_its_registry(registry, typo):
    with pytest.raises(KeyError, match=f'{typo} is not in the mmdet3d::'):
        registry.build(dict(type=typo))


def test_a_dataset_point_range_that_disagrees_with_the_bev_range_names_both_keys():
    import glob
    for path in glob.glob(osp.join(REPO, 'configs', '*', '*.py')):
        if '_base_' not in path:
            check_point_ranges(Config.fromfile(path))  # every shipped config agrees
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', 'detector_cpu.py'))
    pipeline = cfg.train_dataloader.dataset.pipeline
    i = [t['type'] for t in pipeline].index('ObjectRangeFilter')
    pipeline[i]['point_cloud_range'] = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0]
    with pytest.raises(ValueError, match=rf'train_dataloader\.dataset\.pipeline\[{i}\] '
                                         rf'\(ObjectRangeFilter\)\.point_cloud_range = '
                                         rf'\[-54\.0.*model\.bev_grid\.point_cloud_range'):
        check_point_ranges(cfg)
