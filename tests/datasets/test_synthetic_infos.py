"""Our info files and loaders on the synthetic generator's output (the demo's code path)."""
import pickle

import numpy as np
import pytest
from mmdet3d.registry import DATASETS

from fusion_moe.data.synthetic import scene_identities

LOADING = [dict(type='LoadLidarSweeps', sweeps_num=10),
           dict(type='LoadCameraImages'),
           dict(type='LoadRadarSweeps', sweeps_num=6),
           dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True)]


def test_context_labels_match_the_generated_conditions(synth_root, synth_seed):
    truth = {i.name: (i.lighting, i.weather)
             for i in scene_identities(4, 0.5, 0.5, synth_seed)}
    assert len(set(truth.values())) == 4  # all four condition pairs are exercised
    seen = {}
    for split in ('train', 'val'):
        data = pickle.load(open(f'{synth_root}/nuscenes_infos_{split}.pkl', 'rb'))['data_list']
        assert data, f'{split} split is empty'
        for info in data:
            seen[info['scene_name']] = (info['context']['lighting'], info['context']['weather'])
    assert seen == truth


@pytest.fixture(scope='module')
def loaded(synth_root):
    ds = DATASETS.build(dict(type='FusionNuScenesDataset', data_root=synth_root,
                             ann_file='nuscenes_infos_train.pkl', pipeline=LOADING))
    info = ds.get_data_info(len(ds) - 1)  # a second keyframe: it has sweeps behind it
    return info, ds.pipeline(info)


def test_all_sensors_load_with_sweeps(loaded):
    info, r = loaded
    assert r['modality_present'] == {'camera': True, 'lidar': True, 'radar': True}
    assert [img.shape for img in r['img']] == [(90, 160, 3)] * 6
    lags = np.unique(r['points'].tensor[:, 5].numpy())
    assert len(lags) > 1 and lags[0] == 0 and lags[-1] <= 0.55
    assert len(info['radar_sweeps']) == 5
    assert len(r['radar_points']) > 20


def test_keyframe_lidar_inside_boxes_matches_num_lidar_pts(loaded):
    """Generator and loader agree on frames: the devkit's num_lidar_pts counts keyframe
    points inside each box, and so does our loaded keyframe scan."""
    info, r = loaded
    pts = r['points'].tensor.numpy()
    key = pts[pts[:, 5] == 0][:, :3].astype(np.float64)
    agree = []
    for inst in info['instances']:
        x, y, z, l, w, h, yaw = inst['bbox_3d']
        d = key - [x, y, z]
        c, s = np.cos(-yaw), np.sin(-yaw)
        inside = ((np.abs(d[:, 0] * c - d[:, 1] * s) <= l / 2)
                  & (np.abs(d[:, 0] * s + d[:, 1] * c) <= w / 2) & (np.abs(d[:, 2]) <= h / 2))
        agree.append(abs(int(inside.sum()) - inst['num_lidar_pts'])
                     <= max(1, 0.02 * inst['num_lidar_pts']))
    assert len(agree) > 20 and np.mean(agree) > 0.95


def test_radar_returns_lie_near_objects(loaded):
    """Moving returns come from moving objects: most radar points with a compensated speed
    above 1 m/s lie within 4 m of some box centre (the rest are what a real radar adds:
    multipath ghosts a few metres behind a moving object, and false alarms)."""
    info, r = loaded
    radar = r['radar_points']
    centres = np.array([inst['bbox_3d'][:2] for inst in info['instances']])
    dist = np.min(np.linalg.norm(radar[:, None, :2] - centres[None], axis=2), axis=1)
    moving = np.hypot(radar[:, 4], radar[:, 5]) > 1.0
    assert moving.any()
    assert np.mean(dist[moving] < 4.0) > 0.7


def test_ground_truth_scores_perfect_boxes_through_nuscenes_metric(synth_root):
    """Info files -> FusionNuScenesDataset boxes -> mmdet3d's NuScenesMetric (devkit eval):
    the ground truth submitted as predictions has zero translation, scale, orientation and
    velocity error, so the box convention survives the whole round trip. The boxes submitted
    are those the devkit evaluates: with at least one LiDAR or radar point (``use_valid_flag``;
    mmdet3d's default keeps boxes with LiDAR points only, and a far box can hold a radar
    return and no LiDAR point, as on real nuScenes)."""
    import torch
    from mmdet3d.registry import METRICS
    ds = DATASETS.build(dict(type='FusionNuScenesDataset', data_root=synth_root,
                             ann_file='nuscenes_infos_val.pkl', pipeline=LOADING[-1:],
                             use_valid_flag=True))
    metric = METRICS.build(dict(type='NuScenesMetric', data_root=synth_root,
                                ann_file=f'{synth_root}/nuscenes_infos_val.pkl', metric='bbox'))
    metric.dataset_meta = ds.metainfo
    predictions = []
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        r = ds.pipeline(info)
        labels = torch.as_tensor(r['gt_labels_3d'])
        keep = labels >= 0
        predictions.append(dict(sample_idx=info['sample_idx'], pred_instances_3d=dict(
            bboxes_3d=r['gt_bboxes_3d'][keep], labels_3d=labels[keep],
            scores_3d=torch.linspace(1.0, 0.5, int(keep.sum())))))
    out = metric.compute_metrics(predictions)
    key = 'pred_instances_3d_NuScenes/'
    assert out[key + 'mAP'] > 0.99
    for err in ('mATE', 'mASE', 'mAOE', 'mAVE'):
        assert out[key + err] < 0.01, err
