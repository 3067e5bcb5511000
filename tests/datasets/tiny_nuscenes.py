"""A tiny nuScenes-format dataset built around the one real keyframe of the shared fixture.

Tables are written as nuScenes lays them out (13 JSON tables, ``samples/``, ``sweeps/``,
``maps/``) so that the devkit's ``NuScenes`` loads them unmodified. Sensor files are symlinks to
the real files in ``../shared/data/nuscenes-real``: the real LIDAR_TOP scan, the six real
camera images with their real calibration, and the three real radar scans (their extrinsics are
not in the fixture, so nominal nuScenes radar mounts are used).

Layout (v1.0-mini, so the devkit's official mini split decides train/val):

- ``scene-0061`` (mini_train, "Parked cars, peds, train passing"): 2 samples 0.5 s apart, the
  first being the real keyframe with all its annotated boxes (converted back to global from the
  fixture pkl), the second the same scans 5 m further along the road.
- ``scene-0103`` (mini_val, "Night, rain, ..."): 1 sample.

Every keyframe has ``NUM_LIDAR_SWEEPS`` previous LiDAR sweeps 0.05 s apart and
``NUM_RADAR_SCANS`` scans per radar; the ego vehicle drives ``EGO_SPEED`` m/s along its x axis.
"""
import json
import os
import os.path as osp
import pickle
from typing import Dict, List, Optional

import cv2
import numpy as np
from pyquaternion import Quaternion

from fusion_moe.data.categories import NUSCENES_CATEGORIES
from fusion_moe.structures import CAMERAS, CLASSES, LIDAR, RADARS
from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT, REAL_INFO_FILE, REAL_RADAR_SCANS

REAL = REAL_FIXTURE_ROOT  # read only by tests that request the real_fixture_root fixture
REAL_PKL = osp.join(REAL, REAL_INFO_FILE)
REAL_RADAR = sorted(REAL_RADAR_SCANS)
NUM_LIDAR_SWEEPS = 2
NUM_RADAR_SCANS = 2
EGO_SPEED = 10.0  # m/s along ego x
SCENES = (('scene-0061', 'Parked cars, peds, train passing', 2),
          ('scene-0103', 'Night, rain, peds and cars', 1))
# Nominal nuScenes radar mounts: (x, y, z) in metres in the ego frame, yaw in degrees.
RADAR_MOUNTS = {'RADAR_FRONT': (3.41, 0.0, 0.5, 0.0),
                'RADAR_FRONT_LEFT': (2.42, 0.80, 0.5, 90.0),
                'RADAR_FRONT_RIGHT': (2.42, -0.80, 0.5, -90.0),
                'RADAR_BACK_LEFT': (-0.56, 0.63, 0.5, 178.0),
                'RADAR_BACK_RIGHT': (-0.56, -0.63, 0.5, -178.0)}
CATEGORY_OF_CLASS = {'car': 'vehicle.car', 'truck': 'vehicle.truck',
                     'trailer': 'vehicle.trailer', 'bus': 'vehicle.bus.rigid',
                     'construction_vehicle': 'vehicle.construction',
                     'bicycle': 'vehicle.bicycle', 'motorcycle': 'vehicle.motorcycle',
                     'pedestrian': 'human.pedestrian.adult',
                     'traffic_cone': 'movable_object.trafficcone',
                     'barrier': 'movable_object.barrier'}


def load_real_info() -> dict:
    with open(REAL_PKL, 'rb') as f:
        return pickle.load(f)['data_list'][0]


def _quat(matrix: np.ndarray) -> List[float]:
    # The fixture's matrices are float32-rounded: re-orthonormalise before converting.
    u, _, vt = np.linalg.svd(np.asarray(matrix, dtype=np.float64)[:3, :3])
    return list(Quaternion(matrix=u @ vt).elements)


def _pose(matrix: np.ndarray) -> Dict[str, list]:
    return dict(rotation=_quat(matrix), translation=list(np.asarray(matrix)[:3, 3]))


class _Tables:
    def __init__(self):
        self.tables: Dict[str, List[dict]] = {name: [] for name in (
            'category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor',
            'ego_pose', 'log', 'scene', 'sample', 'sample_data', 'sample_annotation', 'map')}
        self._n = 0

    def token(self) -> str:
        self._n += 1
        return f'{self._n:032x}'

    def add(self, table: str, **record) -> str:
        record.setdefault('token', self.token())
        self.tables[table].append(record)
        return record['token']


def _link(src: str, root: str, rel: str) -> str:
    dst = osp.join(root, rel)
    os.makedirs(osp.dirname(dst), exist_ok=True)
    os.symlink(src, dst)
    return rel


def build_tiny_nuscenes(root: str, extra_category: Optional[str] = None) -> str:
    """Write the tiny set under ``root``; returns the version string ('v1.0-mini').

    Args:
        root: output folder (created).
        extra_category: if given, the first annotation's instance is put in a category of this
            name (used to test that unknown categories are refused).
    """
    info = load_real_info()
    db = _Tables()
    lidar2ego = np.asarray(info['lidar_points']['lidar2ego'])
    key_ego2global = np.asarray(info['ego2global'])
    key_ts = int(round(info['timestamp'] * 1e6))

    category_tokens = {name: db.add('category', name=name, description=name, index=i)
                       for i, name in enumerate(NUSCENES_CATEGORIES)}
    if extra_category is not None:
        category_tokens[extra_category] = db.add('category', name=extra_category,
                                                 description='not nuScenes', index=99)
    for i, name in enumerate(('vehicle.moving', 'vehicle.parked', 'vehicle.stopped',
                              'cycle.with_rider', 'cycle.without_rider', 'pedestrian.moving',
                              'pedestrian.standing', 'pedestrian.sitting_lying_down')):
        db.add('attribute', name=name, description=name)
    visibility = db.add('visibility', level='v80-100', description='visible', token='4')

    sensors = {ch: db.add('sensor', channel=ch, modality='lidar') for ch in (LIDAR,)}
    sensors.update({ch: db.add('sensor', channel=ch, modality='camera') for ch in CAMERAS})
    sensors.update({ch: db.add('sensor', channel=ch, modality='radar') for ch in RADARS})
    calib = {LIDAR: db.add('calibrated_sensor', sensor_token=sensors[LIDAR],
                           camera_intrinsic=[], **_pose(lidar2ego))}
    for cam in CAMERAS:
        img = info['images'][cam]
        calib[cam] = db.add('calibrated_sensor', sensor_token=sensors[cam],
                            camera_intrinsic=np.asarray(img['cam2img']).tolist(),
                            **_pose(np.asarray(img['cam2ego'])))
    for radar, (x, y, z, yaw) in RADAR_MOUNTS.items():
        calib[radar] = db.add('calibrated_sensor', sensor_token=sensors[radar],
                              camera_intrinsic=[], translation=[x, y, z],
                              rotation=list(Quaternion(axis=[0, 0, 1],
                                                       degrees=yaw).elements))

    logs = [db.add('log', logfile=f'log{i}', vehicle='n015', date_captured='2018-07-24',
                   location='singapore-onenorth') for i in range(len(SCENES))]
    map_png = 'maps/tiny.png'
    os.makedirs(osp.join(root, 'maps'), exist_ok=True)
    cv2.imwrite(osp.join(root, map_png), np.zeros((8, 8), np.uint8))
    db.add('map', log_tokens=logs, category='semantic_prior', filename=map_png)

    def ego_pose_at(ts: int) -> np.ndarray:
        """Ego drives EGO_SPEED m/s along its own x axis through the real keyframe pose."""
        pose = key_ego2global.copy()
        pose[:3, 3] += pose[:3, 0] * EGO_SPEED * (ts - key_ts) / 1e6
        return pose

    last_sd: Dict[str, Optional[str]] = {}

    def add_sample_data(channel: str, sample: str, ts: int, key: bool, src: str, ext: str,
                        folder: str, hw=(0, 0)) -> str:
        rel = _link(src, root, f'{folder}/{channel}/n015-tiny__{channel}__{ts}{ext}')
        ego = db.add('ego_pose', timestamp=ts, **_pose(ego_pose_at(ts)))
        token = db.add('sample_data', sample_token=sample, ego_pose_token=ego,
                       calibrated_sensor_token=calib[channel], timestamp=ts,
                       fileformat=ext.split('.')[1], is_key_frame=key, height=hw[0],
                       width=hw[1], filename=rel, prev=last_sd.get(channel) or '', next='')
        if last_sd.get(channel):
            db.tables['sample_data'][[r['token'] for r in db.tables['sample_data']].index(
                last_sd[channel])]['next'] = token
        last_sd[channel] = token
        return token

    lidar_src = osp.join(REAL, 'lidar', info['lidar_points']['lidar_path'])
    boxes = info['instances']
    t0 = key_ts
    for scene_i, (name, description, num_samples) in enumerate(SCENES):
        last_sd.clear()
        scene = db.token()
        sample_tokens = [db.token() for _ in range(num_samples)]
        prev_ann: Dict[int, str] = {}
        for s_i, sample in enumerate(sample_tokens):
            ts = t0 + s_i * 500_000
            # Sweeps first (older), then the keyframe, so prev/next chains run in time order.
            for k in range(NUM_LIDAR_SWEEPS, 0, -1):
                add_sample_data(LIDAR, sample, ts - 50_000 * k, False, lidar_src, '.pcd.bin',
                                'sweeps')
            for r_i, radar in enumerate(RADARS):
                src = osp.join(REAL, 'radar', REAL_RADAR[r_i % len(REAL_RADAR)])
                for k in range(NUM_RADAR_SCANS - 1, 0, -1):
                    add_sample_data(radar, sample, ts - 75_000 * k, False, src, '.pcd', 'sweeps')
                add_sample_data(radar, sample, ts + 3_000 * r_i, True, src, '.pcd', 'samples')
            add_sample_data(LIDAR, sample, ts, True, lidar_src, '.pcd.bin', 'samples')
            for c_i, cam in enumerate(CAMERAS):
                src = osp.join(REAL, 'cameras', info['images'][cam]['img_path'])
                add_sample_data(cam, sample, ts - 10_000 * c_i, True, src, '.jpg', 'samples',
                                hw=(900, 1600))
            db.add('sample', token=sample, timestamp=ts, scene_token=scene,
                   prev=sample_tokens[s_i - 1] if s_i else '',
                   next=sample_tokens[s_i + 1] if s_i + 1 < num_samples else '')
            # Annotations: the real boxes (keyframe LiDAR frame, gravity centre) in global,
            # moving with their real velocities from the scene's first keyframe on.
            lidar2global = ego_pose_at(t0) @ lidar2ego
            for b_i, inst in enumerate(boxes if scene_i == 0 else boxes[:12]):
                x, y, z, l, w, h, yaw = inst['bbox_3d']
                vx, vy = np.nan_to_num(inst['velocity'])
                centre = np.array([x + vx * 0.5 * s_i, y + vy * 0.5 * s_i, z, 1.0])
                rot = lidar2global[:3, :3] @ Quaternion(axis=[0, 0, 1], radians=yaw).rotation_matrix
                label = inst['bbox_label_3d']
                if b_i not in prev_ann:
                    cat = extra_category if (extra_category and b_i == 0) else \
                        CATEGORY_OF_CLASS.get(CLASSES[label] if label >= 0 else None,
                                              'movable_object.debris')
                    inst_token = db.add('instance', category_token=category_tokens[cat],
                                        nbr_annotations=0, first_annotation_token='',
                                        last_annotation_token='')
                    instance = db.tables['instance'][-1]
                else:
                    instance = next(r for r in db.tables['instance']
                                    if r['first_annotation_token'] == prev_ann[(b_i, 'first')])
                    inst_token = instance['token']
                ann = db.add('sample_annotation', sample_token=sample, instance_token=inst_token,
                             visibility_token=visibility, attribute_tokens=[],
                             translation=list((lidar2global @ centre)[:3]), size=[w, l, h],
                             rotation=_quat(rot), prev=prev_ann.get(b_i, ''), next='',
                             num_lidar_pts=int(inst['num_lidar_pts']),
                             num_radar_pts=int(inst['num_radar_pts']))
                if b_i in prev_ann:
                    prev_rec = next(r for r in db.tables['sample_annotation']
                                    if r['token'] == prev_ann[b_i])
                    prev_rec['next'] = ann
                else:
                    prev_ann[(b_i, 'first')] = ann
                    instance['first_annotation_token'] = ann
                instance['last_annotation_token'] = ann
                instance['nbr_annotations'] += 1
                prev_ann[b_i] = ann
        db.add('scene', token=scene, log_token=logs[scene_i], nbr_samples=num_samples,
               first_sample_token=sample_tokens[0], last_sample_token=sample_tokens[-1],
               name=name, description=description)
        t0 += 20_000_000

    version = 'v1.0-mini'
    os.makedirs(osp.join(root, version), exist_ok=True)
    for table, records in db.tables.items():
        with open(osp.join(root, version, f'{table}.json'), 'w') as f:
            json.dump(records, f)
    return version
