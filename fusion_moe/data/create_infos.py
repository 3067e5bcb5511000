"""Write nuScenes info files (mmdet3d info format v1.1) extended for camera-LiDAR-radar fusion.

Same layout as mmdet3d's converter (``tools/dataset_converters/nuscenes_converter.py`` followed
by ``update_infos_to_v2.py``), produced in one pass with the nuScenes devkit, plus:

- ``lidar_sweeps[i]``: mmdet3d's keys (``lidar_points.{lidar_path, lidar2ego, lidar2sensor}``,
  ``ego2global``, ``timestamp``, ``sample_data_token``) and ``sensor2lidar`` (4x4, sweep LiDAR
  frame -> keyframe LiDAR frame, ego motion compensated through the global frame);
- ``radar_sweeps[RADAR_NAME]``: list (newest first; index 0 is the sample's own radar scan) of
  ``{data_path, sensor2lidar, sensor2ego, ego2global, timestamp, sample_data_token}``;
- ``context``: ``{lighting, weather, source='metadata'}`` parsed from the scene description;
- ``scene_token``, ``scene_name``;
- ``metainfo['fusion_info_version']``: a stamp that :class:`FusionNuScenesDataset` checks, so
  an info file of another convention is refused instead of misread.

Boxes follow mmdet3d 1.x exactly: ``bbox_3d = [x, y, z_center, l, w, h, yaw]`` in the keyframe
LiDAR frame (metres, radians; the dataset converts to bottom-centre ``LiDARInstance3DBoxes``),
``velocity = [vx, vy]`` in the LiDAR frame (m/s, NaN where the devkit cannot estimate it).
Timestamps are seconds (the tables hold microseconds).
"""
import logging
import os
import os.path as osp
from typing import Dict, List, Optional

import mmengine
import numpy as np
from mmengine.logging import print_log

from ..structures import CAMERAS, CLASSES, LIDAR, RADARS, context_from_description
from .calib import pose_to_matrix, sensor_to_keyframe_lidar
from .categories import detection_class_of

FUSION_INFO_VERSION = '1.0'
SPLITS_OF_VERSION = {'v1.0-mini': ('mini_train', 'mini_val'),
                     'v1.0-trainval': ('train', 'val'),
                     'v1.0-test': ('test', None)}


def _calibration(nusc, sd_token: str):
    """(sample_data record, sensor2ego 4x4, ego2global 4x4) of one sample_data."""
    sd = nusc.get('sample_data', sd_token)
    cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
    pose = nusc.get('ego_pose', sd['ego_pose_token'])
    return (sd, pose_to_matrix(cs['rotation'], cs['translation']),
            pose_to_matrix(pose['rotation'], pose['translation']))


def _sweep_chain(nusc, sd_token: str, count: int, include_first: bool) -> List[dict]:
    """Up to ``count`` sample_data records following ``prev`` links from ``sd_token``."""
    sd = nusc.get('sample_data', sd_token)
    chain = [sd] if include_first else []
    while len(chain) < count and sd['prev']:
        sd = nusc.get('sample_data', sd['prev'])
        chain.append(sd)
    return chain


def _sensor_entry(nusc, sd: dict, lidar2ego: np.ndarray, ego2global: np.ndarray) -> dict:
    _, sensor2ego, sd_ego2global = _calibration(nusc, sd['token'])
    return dict(
        data_path=sd['filename'],
        sample_data_token=sd['token'],
        timestamp=sd['timestamp'] / 1e6,
        sensor2ego=sensor2ego.tolist(),
        ego2global=sd_ego2global.tolist(),
        sensor2lidar=sensor_to_keyframe_lidar(sensor2ego, sd_ego2global, lidar2ego,
                                              ego2global).tolist())


def _instances(nusc, sample: dict, lidar_token: str, lidar2ego: np.ndarray,
               ego2global: np.ndarray) -> List[dict]:
    _, boxes, _ = nusc.get_sample_data(lidar_token)  # boxes in the keyframe LiDAR frame
    global2lidar_rot = np.linalg.inv(ego2global @ lidar2ego)[:3, :3]
    instances = []
    for ann_token, box in zip(sample['anns'], boxes):
        ann = nusc.get('sample_annotation', ann_token)
        name = detection_class_of(ann['category_name'], f'sample_annotation {ann_token}')
        velocity_global = nusc.box_velocity(ann_token)  # (3,), NaN if not estimable
        velocity = global2lidar_rot @ np.nan_to_num(velocity_global, nan=0.0)
        if np.isnan(velocity_global[:2]).any():
            velocity[:2] = np.nan
        label = CLASSES.index(name) if name is not None else -1
        w, l, h = box.wlh
        instances.append(dict(
            bbox_3d=[*map(float, box.center), float(l), float(w), float(h),
                     float(box.orientation.yaw_pitch_roll[0])],
            bbox_label=label, bbox_label_3d=label,
            velocity=[float(velocity[0]), float(velocity[1])],
            num_lidar_pts=int(ann['num_lidar_pts']), num_radar_pts=int(ann['num_radar_pts']),
            bbox_3d_isvalid=bool(ann['num_lidar_pts'] + ann['num_radar_pts'] > 0)))
    return instances


def sample_info(nusc, sample: dict, sample_idx: int, max_sweeps: int = 10,
                max_radar_sweeps: int = 6, with_annotations: bool = True) -> dict:
    """The info dict of one nuScenes sample (see the module docstring for the layout)."""
    lidar_token = sample['data'][LIDAR]
    lidar_sd, lidar2ego, ego2global = _calibration(nusc, lidar_token)
    scene = nusc.get('scene', sample['scene_token'])
    info = dict(
        sample_idx=sample_idx, token=sample['token'], timestamp=sample['timestamp'] / 1e6,
        scene_token=scene['token'], scene_name=scene['name'],
        ego2global=ego2global.tolist(),
        lidar_points=dict(num_pts_feats=5, lidar_path=osp.basename(lidar_sd['filename']),
                          lidar2ego=lidar2ego.tolist()),
        context=context_from_description(scene['description']))

    info['lidar_sweeps'] = []
    for sd in _sweep_chain(nusc, lidar_token, max_sweeps, include_first=False):
        entry = _sensor_entry(nusc, sd, lidar2ego, ego2global)
        sensor2lidar = np.asarray(entry['sensor2lidar'])
        info['lidar_sweeps'].append(dict(
            lidar_points=dict(lidar_path=entry['data_path'], lidar2ego=entry['sensor2ego'],
                              lidar2sensor=np.linalg.inv(sensor2lidar).tolist()),
            ego2global=entry['ego2global'], timestamp=entry['timestamp'],
            sample_data_token=entry['sample_data_token'], sensor2lidar=entry['sensor2lidar']))

    info['images'] = {}
    for cam in CAMERAS:
        sd, cam2ego, cam_ego2global = _calibration(nusc, sample['data'][cam])
        cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
        cam2lidar = sensor_to_keyframe_lidar(cam2ego, cam_ego2global, lidar2ego, ego2global)
        info['images'][cam] = dict(
            img_path=osp.basename(sd['filename']), cam2img=cs['camera_intrinsic'],
            cam2ego=cam2ego.tolist(), sample_data_token=sd['token'],
            timestamp=sd['timestamp'] / 1e6, lidar2cam=np.linalg.inv(cam2lidar).tolist(),
            height=sd['height'], width=sd['width'])

    info['radar_sweeps'] = {
        radar: [_sensor_entry(nusc, sd, lidar2ego, ego2global)
                for sd in _sweep_chain(nusc, sample['data'][radar], max_radar_sweeps,
                                       include_first=True)]
        for radar in RADARS if radar in sample['data']}

    if with_annotations:
        info['instances'] = _instances(nusc, sample, lidar_token, lidar2ego, ego2global)
    return info


def _scene_split(version: str, scene_names: List[str]) -> Dict[str, List[str]]:
    from nuscenes.utils.splits import create_splits_scenes
    if version not in SPLITS_OF_VERSION:
        raise ValueError(f'unknown nuScenes version {version!r}; expected one of '
                         f'{tuple(SPLITS_OF_VERSION)}')
    official = create_splits_scenes()
    train_split, val_split = SPLITS_OF_VERSION[version]
    split_of = {name: 'train' for name in official[train_split]}
    if val_split:
        split_of.update({name: 'val' for name in official[val_split]})
    unknown = [name for name in scene_names if name not in split_of]
    if unknown:
        raise ValueError(f'scenes {unknown} are in no official {version} split '
                         f'({train_split}/{val_split}); scene names decide the split')
    return {split: [n for n in scene_names if split_of[n] == split] for split in ('train', 'val')}


def create_nuscenes_infos(root_path: str, version: str, out_dir: Optional[str] = None,
                          max_sweeps: int = 10, max_radar_sweeps: int = 6) -> Dict[str, str]:
    """Write ``nuscenes_infos_{train,val}.pkl`` for a nuScenes-format dataset.

    Args:
        root_path: dataset root holding ``<version>/`` tables, ``samples/``, ``sweeps/``.
        version: 'v1.0-trainval', 'v1.0-mini' or 'v1.0-test' (synthetic sets use the first two).
        out_dir: where to write; defaults to ``root_path``.
        max_sweeps: previous LiDAR sweeps per sample (mmdet3d's default 10).
        max_radar_sweeps: radar scans per radar and sample, the sample's own included.

    Returns:
        split name ('train', 'val'; 'test' for v1.0-test) -> written pkl path.
    """
    from nuscenes import NuScenes
    out_dir = out_dir or root_path
    os.makedirs(out_dir, exist_ok=True)
    nusc = NuScenes(version=version, dataroot=root_path, verbose=False)
    scene_names = [s['name'] for s in nusc.scene]
    test = version == 'v1.0-test'
    splits = {'test': scene_names} if test else _scene_split(version, scene_names)
    split_of_scene = {s['token']: split for split, names in splits.items()
                      for s in nusc.scene if s['name'] in names}

    infos: Dict[str, List[dict]] = {split: [] for split in splits}
    for sample in mmengine.track_iter_progress(nusc.sample):
        split = split_of_scene[sample['scene_token']]
        lidar_path = osp.join(root_path, nusc.get('sample_data', sample['data'][LIDAR])['filename'])
        if not osp.isfile(lidar_path):
            raise FileNotFoundError(f'{lidar_path}: LiDAR keyframe of sample {sample["token"]} '
                                    f'is missing; is the dataset complete?')
        infos[split].append(sample_info(nusc, sample, len(infos[split]), max_sweeps,
                                        max_radar_sweeps, with_annotations=not test))

    metainfo = dict(categories={name: i for i, name in enumerate(CLASSES)}, dataset='nuscenes',
                    version=version, info_version='1.1',
                    fusion_info_version=FUSION_INFO_VERSION, max_sweeps=max_sweeps,
                    max_radar_sweeps=max_radar_sweeps)
    paths = {}
    for split, data_list in infos.items():
        paths[split] = osp.join(out_dir, f'nuscenes_infos_{split}.pkl')
        mmengine.dump(dict(metainfo=metainfo, data_list=data_list), paths[split], 'pkl')
        print_log(f'{paths[split]}: {len(data_list)} samples', logger='current',
                  level=logging.INFO)
    return paths
