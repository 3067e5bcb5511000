"""Info files: mmdet3d's v1.1 layout, extended with sweeps, radar and context; right values."""
import pickle

import numpy as np
import pytest

from fusion_moe.data import FUSION_INFO_VERSION, create_nuscenes_infos
from fusion_moe.data.categories import UnknownCategoryError
from fusion_moe.structures import CAMERAS, RADARS
from tiny_nuscenes import (EGO_SPEED, NUM_LIDAR_SWEEPS, NUM_RADAR_SCANS, build_tiny_nuscenes,
                           load_real_info)


def _load(root, split):
    with open(f'{root}/nuscenes_infos_{split}.pkl', 'rb') as f:
        return pickle.load(f)


def test_official_mini_split_decides_train_and_val(tiny_root):
    train, val = _load(tiny_root, 'train'), _load(tiny_root, 'val')
    assert [i['scene_name'] for i in train['data_list']] == ['scene-0061', 'scene-0061']
    assert [i['scene_name'] for i in val['data_list']] == ['scene-0103']
    assert [i['sample_idx'] for i in train['data_list']] == [0, 1]


def test_metainfo_carries_the_version_stamps(tiny_root):
    meta = _load(tiny_root, 'train')['metainfo']
    assert meta['info_version'] == '1.1' and meta['version'] == 'v1.0-mini'
    assert meta['fusion_info_version'] == FUSION_INFO_VERSION
    assert meta['categories']['car'] == 0 and meta['categories']['barrier'] == 9


def test_context_comes_from_the_scene_description_by_whole_word(tiny_root):
    train, val = _load(tiny_root, 'train'), _load(tiny_root, 'val')
    # scene-0061 says "train passing": not rain.
    assert train['data_list'][0]['context'] == dict(lighting='day', weather='clear',
                                                    source='metadata')
    assert val['data_list'][0]['context'] == dict(lighting='night', weather='rain',
                                                  source='metadata')


def test_boxes_and_velocities_reproduce_mmdet3d_converter_output(tiny_root):
    """The tiny set holds the real keyframe's boxes; the real pkl was written by mmdet3d."""
    ours = _load(tiny_root, 'train')['data_list'][0]
    real = load_real_info()
    assert len(ours['instances']) == len(real['instances']) == 69
    np.testing.assert_allclose([i['bbox_3d'] for i in ours['instances']],
                               [i['bbox_3d'] for i in real['instances']], atol=1e-5)
    assert [i['bbox_label_3d'] for i in ours['instances']] == \
        [i['bbox_label_3d'] for i in real['instances']]
    np.testing.assert_allclose([i['velocity'] for i in ours['instances']],
                               np.nan_to_num([i['velocity'] for i in real['instances']]),
                               atol=1e-5)
    for cam in CAMERAS:
        np.testing.assert_allclose(ours['images'][cam]['cam2img'], real['images'][cam]['cam2img'])
        # Same mounting; the translation differs by the ego motion between camera and LiDAR
        # timestamps, which the real set and the tiny set do not share.
        np.testing.assert_allclose(np.asarray(ours['images'][cam]['lidar2cam'])[:3, :3],
                                   np.asarray(real['images'][cam]['lidar2cam'])[:3, :3],
                                   atol=2e-3)


def test_lidar_sweeps_are_ego_motion_compensated_into_the_keyframe_frame(tiny_root):
    info = _load(tiny_root, 'train')['data_list'][0]
    assert len(info['lidar_sweeps']) == NUM_LIDAR_SWEEPS
    lidar2ego = np.asarray(info['lidar_points']['lidar2ego'])
    for k, sweep in enumerate(info['lidar_sweeps'], start=1):
        assert sweep['timestamp'] == pytest.approx(info['timestamp'] - 0.05 * k)
        assert sweep['lidar_points']['lidar_path'].startswith('sweeps/LIDAR_TOP/')
        sensor2lidar = np.asarray(sweep['sensor2lidar'])
        # The sweep's sensor origin sits EGO_SPEED * lag behind, along the ego's x axis.
        origin_ego = lidar2ego @ sensor2lidar @ np.array([0, 0, 0, 1.0])
        np.testing.assert_allclose(origin_ego[:3] - lidar2ego[:3, 3],
                                   [-EGO_SPEED * 0.05 * k, 0, 0], atol=1e-6)
        np.testing.assert_allclose(np.linalg.inv(sweep['lidar_points']['lidar2sensor']),
                                   sensor2lidar, atol=1e-9)


def test_radar_sweeps_list_every_radar_newest_first_with_sensor2lidar(tiny_root):
    info = _load(tiny_root, 'train')['data_list'][1]  # 2nd sample: its chain reaches sample 1
    assert set(info['radar_sweeps']) == set(RADARS)
    for radar, sweeps in info['radar_sweeps'].items():
        assert 1 <= len(sweeps) <= 6
        stamps = [s['timestamp'] for s in sweeps]
        assert stamps == sorted(stamps, reverse=True)
        assert sweeps[0]['data_path'].startswith(f'samples/{radar}/')
        assert all(s['data_path'].startswith(f'sweeps/{radar}/') for s in sweeps[1:NUM_RADAR_SCANS])
        assert np.asarray(sweeps[0]['sensor2lidar']).shape == (4, 4)
    assert len(info['radar_sweeps']['RADAR_FRONT']) == 2 * NUM_RADAR_SCANS


def test_max_sweeps_limits_the_lists(tmp_path, tiny_root):
    paths = create_nuscenes_infos(tiny_root, 'v1.0-mini', out_dir=str(tmp_path), max_sweeps=1,
                                  max_radar_sweeps=1)
    info = pickle.load(open(paths['train'], 'rb'))['data_list'][1]
    assert len(info['lidar_sweeps']) == 1
    assert all(len(s) == 1 for s in info['radar_sweeps'].values())


def test_unknown_category_is_refused_by_name(tmp_path, real_fixture_root):
    root = str(tmp_path / 'bad')
    version = build_tiny_nuscenes(root, extra_category='vehicle.spaceship')
    with pytest.raises(UnknownCategoryError, match="'vehicle.spaceship'.*sample_annotation"):
        create_nuscenes_infos(root, version, out_dir=str(tmp_path))


def test_unknown_version_is_refused(tiny_root, tmp_path):
    with pytest.raises(Exception, match='v9.9'):
        create_nuscenes_infos(tiny_root, 'v9.9', out_dir=str(tmp_path))


def test_create_data_cli_writes_both_splits(tiny_root, tmp_path, capsys):
    from tool_scripts import load_tool
    tool = load_tool('create_data')
    tool.main(['nuscenes', '--root-path', tiny_root, '--version', 'v1.0-mini', '--out-dir',
               str(tmp_path), '--max-sweeps', '3'])
    out = capsys.readouterr().out
    assert f'train: {tmp_path}/nuscenes_infos_train.pkl' in out
    info = _load(str(tmp_path), 'train')['data_list'][1]
    assert len(info['lidar_sweeps']) == 3
