"""Rigid transforms between nuScenes frames, as 4x4 float64 matrices.

Naming: ``a2b`` maps coordinates in frame ``a`` into frame ``b`` (mmdet3d's info keys use this
order: ``lidar2ego``, ``ego2global``, ``cam2img``). Frames: sensor (camera / radar / LiDAR as
mounted), ego (vehicle body at the sensor's timestamp), global (map), and the keyframe's LiDAR
frame, which is the working frame of fusion_moe.
"""
from typing import Sequence

import numpy as np
from pyquaternion import Quaternion


def pose_to_matrix(rotation_wxyz: Sequence[float], translation: Sequence[float]) -> np.ndarray:
    """4x4 matrix from a nuScenes ``rotation`` (w, x, y, z quaternion) and ``translation`` [m]."""
    mat = np.eye(4)
    mat[:3, :3] = Quaternion(list(rotation_wxyz)).rotation_matrix
    mat[:3, 3] = np.asarray(translation, dtype=np.float64)
    return mat


def sensor_to_keyframe_lidar(sensor2ego: np.ndarray, ego2global_at_sensor: np.ndarray,
                             lidar2ego: np.ndarray, ego2global_at_keyframe: np.ndarray
                             ) -> np.ndarray:
    """``sensor2lidar``: sensor frame at its own timestamp -> keyframe LiDAR frame.

    Goes through the global frame, so the ego motion between the two timestamps is compensated
    (for static points): sensor -> ego(t_s) -> global -> ego(t_key) -> LiDAR.
    """
    return (np.linalg.inv(lidar2ego) @ np.linalg.inv(ego2global_at_keyframe)
            @ ego2global_at_sensor @ sensor2ego)


def pad_intrinsics(cam2img: np.ndarray) -> np.ndarray:
    """3x3 camera intrinsics -> 4x4 (identity padding), as mmdet3d pads ``cam2img``."""
    cam2img = np.asarray(cam2img, dtype=np.float64)
    out = np.eye(4)
    out[:cam2img.shape[0], :cam2img.shape[1]] = cam2img
    return out


def transform_points(points_xyz: np.ndarray, a2b: np.ndarray) -> np.ndarray:
    """Apply a 4x4 rigid transform to (N, 3) points; returns (N, 3) in the same dtype."""
    a2b = np.asarray(a2b, dtype=np.float64)
    out = points_xyz.astype(np.float64) @ a2b[:3, :3].T + a2b[:3, 3]
    return out.astype(points_xyz.dtype, copy=False)
