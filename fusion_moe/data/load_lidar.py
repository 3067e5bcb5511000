"""LiDAR loading: the keyframe scan plus previous sweeps, in the keyframe LiDAR frame.

Like mmdet3d's ``LoadPointsFromFile`` + ``LoadPointsFromMultiSweeps``, with three differences:
the output keeps all 6 dims of ``LIDAR_POINT_DIMS`` (mmdet3d overwrites the ring channel with the
time lag); sweeps are moved with the full ``sensor2lidar`` transform (mmdet3d applies the
rotation and translation of ``lidar2sensor`` in an order that is only right when the rotation is
the identity); and bad files follow the missing-sensor policy of :mod:`.errors`.
"""
import logging
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.structures.points import LiDARPoints
from mmengine.logging import print_log

from ..registry import TRANSFORMS
from ..structures import LIDAR_POINT_DIMS
from .errors import (SensorFileError, check_missing_sensor_policy, handle_sensor_error,
                     record_sensor_fault)
from .lidar_file import read_lidar_bin


@TRANSFORMS.register_module()
class LoadLidarSweeps(BaseTransform):
    """Load the keyframe scan and up to ``sweeps_num`` previous sweeps.

    Reads ``results['lidar_path']``, ``results['lidar_sweeps'][i]['lidar_points']['lidar_path']``,
    ``['sensor2lidar']`` (4x4) and ``['timestamp']`` (s), ``results['timestamp']`` (s).
    Writes ``results['points']``: ``LiDARPoints`` (N, 6) float32 with dims ``LIDAR_POINT_DIMS``
    (x, y, z [m, keyframe LiDAR frame], intensity, ring, time_lag [s]), and
    ``results['modality_present']['lidar']``.

    Args:
        sweeps_num: previous sweeps to add (the newest ones; 0 for the keyframe only).
        load_dim: float32 values per point in the files (5 for nuScenes).
        remove_close_m: drop sweep points within this box half-size around the sensor
            (metres, as mmdet3d's ``remove_close``: the ego vehicle's own returns); None keeps all.
        non_finite: 'raise' on NaN/Inf points (a SensorFileError, then handled by
            ``on_missing``), or 'drop' those points with a logged warning.
        on_missing: 'raise' for a missing / truncated / non-finite keyframe, or 'mark_absent'
            (empty (0, 6) points, ``modality_present['lidar'] = False``, warning logged). A bad
            sweep is skipped with a warning under 'mark_absent'.
    """

    def __init__(self, sweeps_num: int = 10, load_dim: int = 5,
                 remove_close_m: Optional[float] = 1.0, non_finite: str = 'raise',
                 on_missing: str = 'raise') -> None:
        if sweeps_num < 0:
            raise ValueError(f'sweeps_num must be >= 0, got {sweeps_num}')
        if load_dim < 5:
            raise ValueError(f'load_dim must be >= 5 (x, y, z, intensity, ring), got {load_dim}')
        if non_finite not in ('raise', 'drop'):
            raise ValueError(f"non_finite must be 'raise' or 'drop', got {non_finite!r}")
        self.sweeps_num = sweeps_num
        self.load_dim = load_dim
        self.remove_close_m = remove_close_m
        self.non_finite = non_finite
        self.on_missing = check_missing_sensor_policy(on_missing)

    def _read(self, path: str) -> np.ndarray:
        """(N, 5) float32 x, y, z, intensity, ring in the file's sensor frame."""
        return read_lidar_bin(path, self.load_dim, non_finite=self.non_finite)[:, :5]

    def transform(self, results: dict) -> dict:
        present = results.setdefault('modality_present', {})
        try:
            key = self._read(results['lidar_path'])
        except SensorFileError as err:
            handle_sensor_error(err, results, 'lidar', self.on_missing)
            results['points'] = LiDARPoints(np.zeros((0, len(LIDAR_POINT_DIMS)), np.float32),
                                            points_dim=len(LIDAR_POINT_DIMS))
            return results
        clouds = [np.concatenate([key, np.zeros((len(key), 1), np.float32)], axis=1)]
        for sweep in results.get('lidar_sweeps', [])[:self.sweeps_num]:
            path = sweep['lidar_points']['lidar_path']
            try:
                pts = self._read(path)
            except SensorFileError as err:
                if self.on_missing == 'raise':
                    raise
                print_log(f'{err}; sweep skipped', logger='current', level=logging.WARNING)
                record_sensor_fault(results, 'lidar', err.path, f'sweep skipped: {err.problem}')
                continue
            if self.remove_close_m is not None:
                near = ((np.abs(pts[:, 0]) < self.remove_close_m)
                        & (np.abs(pts[:, 1]) < self.remove_close_m))
                pts = pts[~near]
            sensor2lidar = np.asarray(sweep['sensor2lidar'], dtype=np.float32)
            pts[:, :3] = pts[:, :3] @ sensor2lidar[:3, :3].T + sensor2lidar[:3, 3]
            lag = np.full((len(pts), 1), results['timestamp'] - sweep['timestamp'], np.float32)
            clouds.append(np.concatenate([pts, lag], axis=1))
        points = np.concatenate(clouds, axis=0)
        results['points'] = LiDARPoints(points, points_dim=len(LIDAR_POINT_DIMS))
        present['lidar'] = True
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sweeps_num={self.sweeps_num}, '
                f'remove_close_m={self.remove_close_m}, non_finite={self.non_finite!r}, '
                f'on_missing={self.on_missing!r})')
