"""Small rigid-body helpers shared by the synthetic sensors (all numpy, float64 unless noted).

Conventions: a pose ``A_T_B`` is a 4x4 matrix mapping coordinates in frame B into frame A.
Rotations in the devkit tables are quaternions ``[w, x, y, z]`` (pyquaternion order). The
synthetic world is flat and every rotation is a yaw about +z (radians, counter-clockwise seen
from above), which keeps the sensor models fast and the annotations exact.
"""
import hashlib
from typing import List, Sequence

import numpy as np


def yaw_to_quaternion(yaw: float) -> List[float]:
    """Quaternion ``[w, x, y, z]`` of a rotation by ``yaw`` radians about +z."""
    return [float(np.cos(yaw / 2.0)), 0.0, 0.0, float(np.sin(yaw / 2.0))]


def rotation_to_quaternion(rot: np.ndarray) -> List[float]:
    """Quaternion ``[w, x, y, z]`` (w >= 0) of a proper 3x3 rotation matrix."""
    from pyquaternion import Quaternion
    q = Quaternion(matrix=np.asarray(rot, dtype=np.float64), atol=1e-6)
    q = q if q.w >= 0 else -q
    return [float(v) for v in q.elements]


def yaw_matrix(yaw: float) -> np.ndarray:
    """3x3 rotation about +z by ``yaw`` radians."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def make_pose(rot: np.ndarray, translation: Sequence[float]) -> np.ndarray:
    """4x4 pose from a 3x3 rotation and a translation (metres)."""
    pose = np.eye(4)
    pose[:3, :3] = rot
    pose[:3, 3] = translation
    return pose


def yaw_pose(yaw: float, translation: Sequence[float]) -> np.ndarray:
    """4x4 pose of a yaw rotation (radians) and a translation (metres)."""
    return make_pose(yaw_matrix(yaw), translation)


def invert_pose(pose: np.ndarray) -> np.ndarray:
    """Inverse of a rigid 4x4 pose."""
    inv = np.eye(4)
    inv[:3, :3] = pose[:3, :3].T
    inv[:3, 3] = -pose[:3, :3].T @ pose[:3, 3]
    return inv


def transform_points(pose: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 pose to (..., 3) points."""
    return points @ pose[:3, :3].T + pose[:3, 3]


def wrap_angle(angle):
    """Wrap radians into [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


def box_corners(center: np.ndarray, half: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Corners of yaw-oriented boxes.

    Args:
        center: (P, 3) box centres [m].
        half: (P, 3) half extents along the box's own x (length), y (width), z (height) [m].
        yaw: (P,) headings [rad].

    Returns:
        (P, 8, 3) corners; index bits (ix, iy, iz) = (i >> 2 & 1, i >> 1 & 1, i & 1) choose the
        - (0) or + (1) side of each axis.
    """
    signs = np.array([[(i >> 2) & 1, (i >> 1) & 1, i & 1] for i in range(8)], dtype=np.float64)
    local = (signs * 2.0 - 1.0)[None] * half[:, None, :]
    c, s = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    x = c * local[..., 0] - s * local[..., 1]
    y = s * local[..., 0] + c * local[..., 1]
    return np.stack([x, y, local[..., 2]], axis=-1) + center[:, None, :]


def stable_token(*parts) -> str:
    """Deterministic 32-hex token (like nuScenes tokens) from any printable key parts."""
    return hashlib.md5('/'.join(str(p) for p in parts).encode('utf-8')).hexdigest()


def stable_seed(*parts) -> int:
    """Deterministic 32-bit seed from key parts (independent of PYTHONHASHSEED)."""
    return int(stable_token(*parts)[:8], 16)
