"""The dataset + loading transforms produce the results dict of structures/sensors.py."""
import numpy as np
import pytest
import torch
from mmdet3d.registry import DATASETS
from mmdet3d.structures import LiDARInstance3DBoxes
from mmdet3d.structures.points import LiDARPoints

from fusion_moe.data.load_radar import radar_scan_to_lidar
from fusion_moe.structures import LIDAR_POINT_DIMS, RADAR_POINT_DIMS
from tiny_nuscenes import NUM_LIDAR_SWEEPS

LOADING = [dict(type='LoadLidarSweeps', sweeps_num=10),
           dict(type='LoadCameraImages'),
           dict(type='LoadRadarSweeps', sweeps_num=6),
           dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True)]


def _dataset(root, pipeline=LOADING, ann_file='nuscenes_infos_train.pkl', **kwargs):
    return DATASETS.build(dict(type='FusionNuScenesDataset', data_root=root, ann_file=ann_file,
                               pipeline=pipeline, **kwargs))


@pytest.fixture(scope='module')
def loaded(tiny_root):
    ds = _dataset(tiny_root)
    return ds, ds.pipeline(ds.get_data_info(1))


def test_results_dict_follows_the_sensor_contract(loaded):
    _, r = loaded
    assert isinstance(r['points'], LiDARPoints) and r['points'].shape[1] == len(LIDAR_POINT_DIMS)
    assert r['points'].tensor.dtype == torch.float32
    assert len(r['img']) == 6 and all(i.shape == (900, 1600, 3) and i.dtype == np.uint8
                                      for i in r['img'])
    for key in ('lidar2img', 'cam2img', 'lidar2cam'):
        assert len(r[key]) == 6 and all(m.shape == (4, 4) and m.dtype == np.float64
                                        for m in r[key])
    np.testing.assert_allclose(r['lidar2img'][0], r['cam2img'][0] @ r['lidar2cam'][0])
    assert r['radar_points'].dtype == np.float32
    assert r['radar_points'].shape[1] == len(RADAR_POINT_DIMS) and len(r['radar_points']) > 100
    assert r['modality_present'] == {'camera': True, 'lidar': True, 'radar': True}
    assert r['context'] == {'lighting': 'day', 'weather': 'clear', 'source': 'metadata'}
    assert r['degradations'] == []
    assert isinstance(r['gt_bboxes_3d'], LiDARInstance3DBoxes)
    assert r['gt_bboxes_3d'].tensor.shape[1] == 9
    assert r['gt_labels_3d'].dtype == np.int64


def test_lidar_time_lag_channel_and_ring_are_kept(loaded):
    _, r = loaded
    pts = r['points'].tensor.numpy()
    lags = np.unique(pts[:, LIDAR_POINT_DIMS.index('time_lag')])
    # keyframe and its 2 sweeps, then the previous sample (0.5 s earlier) and its 2 sweeps
    assert NUM_LIDAR_SWEEPS == 2
    np.testing.assert_allclose(lags, [0, 0.05, 0.1, 0.5, 0.55, 0.6], atol=1e-4)
    ring = pts[:, LIDAR_POINT_DIMS.index('ring')]
    assert ring.min() == 0 and ring.max() == 31


def test_sweeps_are_moved_by_the_ego_motion(tiny_root):
    """The tiny set replays one scan; a static world point seen 0.05 s earlier sits
    EGO_SPEED * 0.05 = 0.5 m further back along the ego x axis in the keyframe frame."""
    ds = _dataset(tiny_root, pipeline=[dict(type='LoadLidarSweeps', sweeps_num=1,
                                            remove_close_m=None)])
    info = ds.get_data_info(0)
    pts = ds.pipeline(info)['points'].tensor.numpy()
    key, sweep = pts[pts[:, 5] == 0], pts[pts[:, 5] > 0]
    assert len(key) == len(sweep)
    lidar2ego = np.asarray(info['lidar_points']['lidar2ego'])
    shift_ego = (sweep[:, :3] - key[:, :3]) @ lidar2ego[:3, :3].T
    np.testing.assert_allclose(shift_ego, np.tile([-0.5, 0, 0], (len(key), 1)), atol=1e-4)


def test_radar_points_are_in_the_lidar_frame_with_rotated_velocities():
    scan = np.zeros((1, 18))
    scan[0, [0, 1, 5, 8, 9, 3]] = [10.0, 2.0, 7.5, 3.0, 0.0, 2]  # x y rcs vx_comp vy_comp dyn
    yaw90 = np.array([[0, -1, 0, 1.0], [1, 0, 0, 2.0], [0, 0, 1, 0.5], [0, 0, 0, 1]])
    out = radar_scan_to_lidar(scan, yaw90, time_lag_s=0.2)
    np.testing.assert_allclose(out[0], [-2 + 1, 10 + 2, 0.5, 7.5, 0.0, 3.0, 0.2, 2], atol=1e-6)


def test_radar_filters_are_options(tiny_root):
    kept = {}
    for name, kwargs in (('default', {}), ('all', dict(invalid_states=list(range(18)),
                                                       dynprop_states=list(range(8)),
                                                       ambig_states=list(range(5))))):
        ds = _dataset(tiny_root, pipeline=[dict(type='LoadRadarSweeps', sweeps_num=1, **kwargs)])
        kept[name] = len(ds.pipeline(ds.get_data_info(0))['radar_points'])
    assert kept['all'] == 5 * 125 and kept['default'] < kept['all']


def test_half_resolution_decode_scales_the_intrinsics(tiny_root):
    ds = _dataset(tiny_root, pipeline=[dict(type='LoadCameraImages', downscale=2)])
    r = ds.pipeline(ds.get_data_info(0))
    assert r['img'][0].shape == (450, 800, 3) and r['img_shape'] == (450, 800)
    full = np.asarray(ds.get_data_info(0)['images']['CAM_FRONT']['cam2img'])
    np.testing.assert_allclose(r['cam2img'][0][:2, :3], full[:2] / 2)


def test_dataset_refuses_info_files_without_the_fusion_stamp(tiny_root, tmp_path):
    import pickle
    data = pickle.load(open(f'{tiny_root}/nuscenes_infos_train.pkl', 'rb'))
    del data['metainfo']['fusion_info_version']
    pickle.dump(data, open(tmp_path / 'plain.pkl', 'wb'))
    with pytest.raises(ValueError, match='fusion_info_version.*tools/create_data.py'):
        _dataset(tiny_root, ann_file=str(tmp_path / 'plain.pkl'))


def test_dataset_refuses_unknown_modality_keys(tiny_root):
    with pytest.raises(ValueError, match='use_sonar'):
        _dataset(tiny_root, modality=dict(use_sonar=True))


def test_packing_gives_model_inputs(loaded):
    from mmdet3d.registry import TRANSFORMS
    _, r = loaded
    packed = TRANSFORMS.build(dict(type='PackFusionInputs'))(dict(r))
    assert packed['inputs']['points'].shape[1] == 6
    assert packed['inputs']['img'].shape == (6, 3, 900, 1600)
    assert packed['inputs']['radar_points'].shape[1] == 8
    assert packed['data_samples'].metainfo['context']['weather'] == 'clear'


def test_nuscenes_version_comes_from_the_info_file_unless_the_config_sets_it(tiny_root):
    # mmdet3d's NuScenesDataset defaults to 'v1.0-trainval'; NuScenesMetric reads this key.
    assert _dataset(tiny_root, pipeline=[]).metainfo['version'] == 'v1.0-mini'
    forced = _dataset(tiny_root, pipeline=[], metainfo=dict(version='v1.0-trainval'))
    assert forced.metainfo['version'] == 'v1.0-trainval'


def test_an_empty_split_is_a_clear_error(tiny_root, tmp_path):
    import pickle
    data = pickle.load(open(f'{tiny_root}/nuscenes_infos_train.pkl', 'rb'))
    data['data_list'] = []
    pickle.dump(data, open(tmp_path / 'empty.pkl', 'wb'))
    with pytest.raises(ValueError, match='empty.pkl: the info file holds no samples'):
        _dataset(tiny_root, ann_file=str(tmp_path / 'empty.pkl'))


def test_lidar_matches_mmdet3d_loaders_on_the_same_files(tiny_root):
    """Same points as mmdet3d's LoadPointsFromFile + LoadPointsFromMultiSweeps (whose sweep
    transform is exact only for pure translations, as in the tiny set), plus the ring channel
    that mmdet3d overwrites with the time lag."""
    from mmdet3d.datasets.transforms import LoadPointsFromFile, LoadPointsFromMultiSweeps
    ds = _dataset(tiny_root, pipeline=[dict(type='LoadLidarSweeps', sweeps_num=10)])
    info = ds.get_data_info(1)
    ours = ds.pipeline(dict(info))['points'].tensor.numpy()
    theirs = LoadPointsFromMultiSweeps(sweeps_num=10, load_dim=5, use_dim=[0, 1, 2, 3, 4],
                                       remove_close=True, test_mode=True)(
        LoadPointsFromFile(coord_type='LIDAR', load_dim=5, use_dim=5)(ds.get_data_info(1))
    )['points'].tensor.numpy()
    assert ours.shape == (len(theirs), 6)
    np.testing.assert_allclose(ours[:, :4], theirs[:, :4], atol=1e-4)  # x, y, z, intensity
    np.testing.assert_allclose(ours[:, 5], theirs[:, 4], atol=1e-5)    # time lag
    assert ours[:, 4].max() == 31                                        # ring kept
