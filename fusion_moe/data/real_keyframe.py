"""The results dict of the real nuScenes keyframe, built directly from the fixture files.

Used by the degradation tests, ``benchmarks/degradation.py`` and
``tools/render_degradations.py``. Follows ``fusion_moe/structures/sensors.py`` exactly, without
the data pipeline (so that those depend only on the contract): numpy + cv2 + mmdet3d's
``LiDARPoints`` and ``LiDARInstance3DBoxes``. Fixture: ``../shared/data/nuscenes-real``
(see its README).

Made up, and marked as such: the keyframe has no radar, so the three real radar scans of the
fixture (other logs, no calibration) are placed with a plausible invented mounting: two as
RADAR_BACK_LEFT / RADAR_BACK_RIGHT of this keyframe, the third as an older (0.08 s) sweep of
RADAR_BACK_LEFT. Mountings are given in the ego frame (x forward, y left; positions and yaw
loosely after the nuScenes vehicle) and converted to the LiDAR frame with the real lidar2ego.
Box velocities that are NaN in the info file (instances without neighbours) are set to 0,
as mmdet3d's nuScenes dataset does.
"""
import glob
import os
import pickle
from typing import Any, Dict, Tuple

import cv2
import numpy as np
from mmdet3d.structures import LiDARInstance3DBoxes
from mmdet3d.structures.points import LiDARPoints

from fusion_moe.structures import CAMERAS, make_context
from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT

REAL_ROOT = REAL_FIXTURE_ROOT
INFO_FILE = 'n015-2018-07-24-11-22-45+0800.pkl'

# (file name fragment, ego-frame x, y, z [m], yaw [deg], time_lag [s]) -- invented mountings.
_RADAR_PLACEMENT: Tuple[Tuple[str, float, float, float, float, float], ...] = (
    ('n008-2018-08-01-15-16-36-0400__RADAR_BACK_LEFT', -0.56, 0.63, 0.53, 150.0, 0.0),
    ('n008-2018-08-01-15-34-25-0400__RADAR_BACK_RIGHT', -0.56, -0.62, 0.53, -150.0, 0.0),
    ('n015-2018-07-25-16-15-50+0800__RADAR_BACK_LEFT', -0.56, 0.63, 0.53, 150.0, 0.08),
)


def _pose(x: float, y: float, z: float, yaw_deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(yaw_deg)), np.sin(np.radians(yaw_deg))
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    T[:3, 3] = [x, y, z]
    return T


def load_radar(root: str, lidar2ego: np.ndarray) -> np.ndarray:
    """(M, 8) float32 radar points in the LiDAR frame (``RADAR_POINT_DIMS``)."""
    from nuscenes.utils.data_classes import RadarPointCloud
    ego2lidar = np.linalg.inv(lidar2ego)
    rows = []
    for fragment, x, y, z, yaw, lag in _RADAR_PLACEMENT:
        path, = glob.glob(os.path.join(root, 'radar', fragment + '*.pcd'))
        pc = RadarPointCloud.from_file(path).points          # (18, K), default filters
        sensor2lidar = ego2lidar @ _pose(x, y, z, yaw)
        rot = sensor2lidar[:3, :3]
        xyz = pc[0:3].T @ rot.T + sensor2lidar[:3, 3]
        vel = np.zeros((pc.shape[1], 3))
        vel[:, :2] = pc[8:10].T                               # vx_comp, vy_comp
        vel = vel @ rot.T
        out = np.zeros((pc.shape[1], 8), dtype=np.float32)
        out[:, 0:3] = xyz
        out[:, 3] = pc[5]                                     # rcs
        out[:, 4:6] = vel[:, :2]
        out[:, 6] = lag
        out[:, 7] = pc[3]                                     # dyn_prop
        rows.append(out)
    return np.concatenate(rows, axis=0)


def build_real_keyframe_results(root: str = REAL_ROOT) -> Dict[str, Any]:
    """Results dict of the real keyframe (scene-0061), as after the loading pipeline."""
    with open(os.path.join(root, INFO_FILE), 'rb') as f:
        info = pickle.load(f)['data_list'][0]
    lidar_path = os.path.join(root, 'lidar', info['lidar_points']['lidar_path'])
    raw = np.fromfile(lidar_path, dtype=np.float32).reshape(-1, 5)
    points = np.concatenate([raw, np.zeros((len(raw), 1), np.float32)], axis=1)

    imgs, img_paths, cam2img, lidar2cam, lidar2img = [], [], [], [], []
    for cam in CAMERAS:
        cinfo = info['images'][cam]
        path = os.path.join(root, 'cameras', cinfo['img_path'])
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(path)
        K = np.eye(4)
        K[:3, :3] = np.asarray(cinfo['cam2img'], dtype=np.float64)
        l2c = np.asarray(cinfo['lidar2cam'], dtype=np.float64)
        imgs.append(img)
        img_paths.append(path)
        cam2img.append(K)
        lidar2cam.append(l2c)
        lidar2img.append(K @ l2c)

    boxes = np.array([list(inst['bbox_3d']) + list(inst['velocity'])
                      for inst in info['instances']], dtype=np.float32)
    boxes = np.nan_to_num(boxes, nan=0.0)
    labels = np.array([inst['bbox_label_3d'] for inst in info['instances']], dtype=np.int64)
    lidar2ego = np.asarray(info['lidar_points']['lidar2ego'], dtype=np.float64)

    return {
        'sample_idx': info['sample_idx'],
        'token': info['token'],
        'timestamp': info['timestamp'],
        'points': LiDARPoints(points, points_dim=points.shape[1]),
        'img': imgs,
        'img_path': img_paths,
        'img_shape': imgs[0].shape[:2],
        'cam2img': cam2img,
        'lidar2cam': lidar2cam,
        'lidar2img': lidar2img,
        'radar_points': load_radar(root, lidar2ego),
        'modality_present': {'camera': True, 'lidar': True, 'radar': True},
        'context': make_context('day', 'clear', 'metadata'),
        'degradations': [],
        'gt_bboxes_3d': LiDARInstance3DBoxes(boxes, box_dim=9),
        'gt_labels_3d': labels,
        'lidar2ego': lidar2ego,
        'ego2global': np.asarray(info['ego2global'], dtype=np.float64),
    }


def downscale_images(results: Dict[str, Any], factor: int) -> Dict[str, Any]:
    """Shrink every image by ``factor`` and scale the intrinsics to match (in place)."""
    S = np.diag([1.0 / factor, 1.0 / factor, 1.0, 1.0])
    results['img'] = [cv2.resize(img, (img.shape[1] // factor, img.shape[0] // factor),
                                 interpolation=cv2.INTER_AREA) for img in results['img']]
    results['cam2img'] = [S @ K for K in results['cam2img']]
    results['lidar2img'] = [K @ l2c for K, l2c in zip(results['cam2img'], results['lidar2cam'])]
    results['img_shape'] = results['img'][0].shape[:2]
    return results


def add_lidar_sweeps(results: Dict[str, Any], lags_s=(0.05, 0.10, 0.15, 0.20, 0.25, 0.30)
                     ) -> Dict[str, Any]:
    """Give the keyframe older LiDAR sweeps (copies of the keyframe scan with their time lag,
    i.e. a static ego and world: made up, for the temporal tests only), in place."""
    pts = results['points'].tensor.numpy()
    sweeps = [pts]
    for lag in lags_s:
        old = pts.copy()
        old[:, 5] = lag
        sweeps.append(old)
    stacked = np.concatenate(sweeps, axis=0)
    results['points'] = results['points'].new_point(stacked)
    return results
