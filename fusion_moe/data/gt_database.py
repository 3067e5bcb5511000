"""Ground-truth database for GT sampling: the LiDAR and radar points of every training box.

Same layout and keys as mmdet3d's ``create_groundtruth_database`` (``tools/dataset_converters/
create_gt_database.py``), which mmdet3d's ``DataBaseSampler`` / ``ObjectSample`` read:
``<root>/nuscenes_dbinfos_train.pkl`` maps each class name to a list of
``{name, path, image_idx, gt_idx, box3d_lidar (9: x, y, z_bottom, l, w, h, yaw, vx, vy),
num_points_in_gt, difficulty, group_id}``, and ``path`` (relative to the root) is a float32
``.bin`` of the box's points with the box position subtracted (``[:, :3] -= box[:3]``).

Written here rather than by mmdet3d's function because that one loads points with its own
loaders (5 LiDAR dims, no radar); ours come from this package's loading transforms, so the
database holds exactly what training sees: ``LIDAR_POINT_DIMS`` (keyframe + sweeps, keyframe
LiDAR frame) and, per box, its radar points (``RADAR_POINT_DIMS``, all radars and scans, in
``radar_path`` with ``num_radar_pts``) so that a pasted object brings its radar returns along
(``FusionObjectSample``). Membership is mmdet3d's ``points_in_rbbox`` on the bottom-centre box.
"""
import os
import os.path as osp
from typing import Dict, List

import mmengine
import numpy as np
from mmdet3d.structures.ops import box_np_ops
from mmengine.logging import print_log

from ..structures import CLASSES

DB_DIR = 'nuscenes_gt_database'
DB_INFO_FILE = 'nuscenes_dbinfos_train.pkl'


def _loading_pipeline(lidar_sweeps: int, radar_sweeps: int) -> List[dict]:
    return [dict(type='LoadLidarSweeps', sweeps_num=lidar_sweeps),
            dict(type='LoadRadarSweeps', sweeps_num=radar_sweeps),
            dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True)]


def create_gt_database(data_root: str, info_file: str = 'nuscenes_infos_train.pkl',
                       lidar_sweeps: int = 10, radar_sweeps: int = 6) -> str:
    """Write the database of ``info_file`` under ``data_root``; returns the db-info path.

    Args:
        data_root: dataset root holding the info file; the database goes to
            ``<data_root>/nuscenes_gt_database/`` and ``<data_root>/nuscenes_dbinfos_train.pkl``.
        info_file: training info file (``tools/create_data.py`` writes it).
        lidar_sweeps, radar_sweeps: as the training pipeline's ``LoadLidarSweeps`` /
            ``LoadRadarSweeps`` (default the nuScenes configs' 10 and 6).
    """
    from mmdet3d.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    if not osp.isfile(osp.join(data_root, info_file)):
        raise FileNotFoundError(f'{osp.join(data_root, info_file)} not found; write it first '
                                f'with tools/create_data.py nuscenes --root-path {data_root}')
    dataset = DATASETS.build(dict(
        type='FusionNuScenesDataset', data_root=data_root, ann_file=info_file,
        pipeline=_loading_pipeline(lidar_sweeps, radar_sweeps), metainfo=dict(classes=CLASSES),
        test_mode=False, box_type_3d='LiDAR', filter_empty_gt=False))
    os.makedirs(osp.join(data_root, DB_DIR), exist_ok=True)
    db_infos: Dict[str, List[dict]] = {}
    group_id = 0
    for idx in range(len(dataset)):
        results = dataset.pipeline(dataset.get_data_info(idx))
        boxes = results['gt_bboxes_3d'].numpy()
        labels = np.asarray(results['gt_labels_3d'])
        points = results['points'].tensor.numpy()
        radar = results['radar_points']
        lidar_in = box_np_ops.points_in_rbbox(points[:, :3], boxes[:, :7])
        radar_in = box_np_ops.points_in_rbbox(radar[:, :3], boxes[:, :7]) if len(radar) \
            else np.zeros((0, len(boxes)), bool)
        token = results['token']
        for i, (box, label) in enumerate(zip(boxes, labels)):
            if label < 0:  # not one of the 10 detection classes
                continue
            name = CLASSES[int(label)]
            stem = f'{DB_DIR}/{token}_{name}_{i}'
            obj_points = points[lidar_in[:, i]].copy()
            obj_points[:, :3] -= box[:3]
            obj_radar = radar[radar_in[:, i]].copy()
            obj_radar[:, :3] -= box[:3]
            obj_points.astype(np.float32).tofile(osp.join(data_root, stem + '.bin'))
            obj_radar.astype(np.float32).tofile(osp.join(data_root, stem + '_radar.bin'))
            db_infos.setdefault(name, []).append(dict(
                name=name, path=stem + '.bin', radar_path=stem + '_radar.bin', image_idx=token,
                gt_idx=i, box3d_lidar=box.astype(np.float32),
                num_points_in_gt=int(len(obj_points)), num_radar_pts=int(len(obj_radar)),
                difficulty=0, group_id=group_id))
            group_id += 1
    path = osp.join(data_root, DB_INFO_FILE)
    mmengine.dump(db_infos, path)
    counts = ', '.join(f'{name} {len(db_infos.get(name, []))}' for name in CLASSES)
    print_log(f'GT database of {len(dataset)} samples: {counts} boxes -> {path}',
              logger='current')
    return path
