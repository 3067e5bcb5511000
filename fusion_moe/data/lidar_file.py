"""Reader for nuScenes LiDAR scans (``.pcd.bin``: float32 records, 5 per point).

nuScenes stores LIDAR_TOP scans as raw little-endian float32 ``(x, y, z, intensity, ring)``
in the sensor frame (metres; intensity 0-255; ring 0-31). This reader is ``np.fromfile`` like
mmdet3d's ``LoadPointsFromFile``, plus the checks mmdet3d does not make: a size that is not a
whole number of points, and NaN / Inf values.
"""
import logging
import os
from typing import Literal

import numpy as np
from mmengine.logging import print_log

from .errors import SensorFileError

NonFinitePolicy = Literal['raise', 'drop']


def read_lidar_bin(path: str, num_dims: int = 5, non_finite: NonFinitePolicy = 'raise'
                   ) -> np.ndarray:
    """Read a ``.pcd.bin`` scan.

    Args:
        path: file path.
        num_dims: float32 values per point (5 for nuScenes: x, y, z, intensity, ring).
        non_finite: 'raise' on any NaN/Inf value, or 'drop' those points with a logged
            warning naming the file and the count.

    Returns:
        (N, num_dims) float32 array in the sensor frame.

    Raises:
        SensorFileError: missing or empty file, size not a multiple of ``4 * num_dims`` bytes,
            or NaN/Inf values with ``non_finite='raise'``.
    """
    if non_finite not in ('raise', 'drop'):
        raise ValueError(f"non_finite must be 'raise' or 'drop', got {non_finite!r}")
    if not os.path.isfile(path):
        raise SensorFileError(path, 'LiDAR file does not exist')
    size = os.path.getsize(path)
    record = 4 * num_dims
    if size == 0:
        raise SensorFileError(path, 'empty LiDAR file (0 bytes)')
    if size % record:
        raise SensorFileError(
            path, f'truncated or wrong-size LiDAR file: {size} bytes is not a multiple of the '
                  f'{record}-byte point record ({num_dims} float32; a KITTI-style scan has 4 '
                  f'per point)')
    points = np.fromfile(path, dtype=np.float32).reshape(-1, num_dims)
    finite = np.isfinite(points).all(axis=1)
    if not finite.all():
        bad = int((~finite).sum())
        if non_finite == 'raise':
            raise SensorFileError(path, f'{bad} of {len(points)} LiDAR points hold NaN or Inf')
        print_log(f'{path}: dropped {bad} of {len(points)} LiDAR points holding NaN or Inf',
                  logger='current', level=logging.WARNING)
        points = points[finite]
    return points
