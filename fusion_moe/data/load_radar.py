"""Radar loading: all radars and their sweeps, accumulated in the keyframe LiDAR frame.

mmdet3d has no radar loader; this follows what radar-camera detectors on nuScenes do (the
devkit's ``RadarPointCloud.from_file_multisweep``, CRN, RCBEVDet): every scan is moved into the
keyframe LiDAR frame through the global frame (which compensates the ego motion between scan
and keyframe for static returns), its ego-motion-compensated velocities are rotated into the
same frame, and each point carries the scan's time lag.
"""
import logging
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from ..registry import TRANSFORMS
from ..structures import RADAR_POINT_DIMS, RADARS
from .errors import (SensorFileError, check_missing_sensor_policy, handle_sensor_error,
                     record_sensor_fault)
from .radar_file import RADAR_PCD_FIELDS, radar_filter_from_config, read_radar_pcd

_COL = {name: RADAR_PCD_FIELDS.index(name) for name in RADAR_PCD_FIELDS}


def radar_scan_to_lidar(points: np.ndarray, sensor2lidar: np.ndarray, time_lag_s: float
                        ) -> np.ndarray:
    """Convert one scan to ``RADAR_POINT_DIMS`` rows in the keyframe LiDAR frame.

    Args:
        points: (N, 18) float64 in ``RADAR_PCD_FIELDS`` order, radar sensor frame.
        sensor2lidar: 4x4, radar frame at scan time -> keyframe LiDAR frame.
        time_lag_s: keyframe timestamp minus scan timestamp, seconds.

    Returns:
        (N, 8) float32: x, y, z [m], rcs [dBsm], vx_comp, vy_comp [m/s, LiDAR frame],
        time_lag [s], dyn_prop.
    """
    sensor2lidar = np.asarray(sensor2lidar, dtype=np.float64)
    rot = sensor2lidar[:3, :3]
    xyz = points[:, [_COL['x'], _COL['y'], _COL['z']]] @ rot.T + sensor2lidar[:3, 3]
    vel = np.zeros((len(points), 3))
    vel[:, :2] = points[:, [_COL['vx_comp'], _COL['vy_comp']]]
    vel = vel @ rot.T
    out = np.empty((len(points), len(RADAR_POINT_DIMS)), dtype=np.float32)
    out[:, 0:3] = xyz
    out[:, 3] = points[:, _COL['rcs']]
    out[:, 4:6] = vel[:, :2]
    out[:, 6] = time_lag_s
    out[:, 7] = points[:, _COL['dyn_prop']]
    return out


@TRANSFORMS.register_module()
class LoadRadarSweeps(BaseTransform):
    """Load and accumulate the radar scans of a sample.

    Reads ``results['radar_sweeps'][RADAR]`` (newest first; ``data_path``, ``sensor2lidar``
    4x4, ``timestamp`` s) and ``results['timestamp']`` (s). Writes ``results['radar_points']``:
    (M, 8) float32 numpy array with dims ``RADAR_POINT_DIMS`` (keyframe LiDAR frame; the time
    lag of the sample's own scans can be slightly negative, radars fire independently of the
    LiDAR) and ``results['modality_present']['radar']``.

    Args:
        sweeps_num: scans per radar, the sample's own included (nuScenes radars run at 13 Hz,
            so 6 scans cover about the same 0.45 s as 10 LiDAR sweeps).
        radars: radar names, default all five.
        invalid_states, dynprop_states, ambig_states: states to keep (None = the devkit's
            defaults: invalid_state 0, dyn_prop 0-6, ambig_state 3).
        on_missing: 'raise' for a missing / malformed scan or a sample without radar info, or
            'mark_absent': the scan is skipped with a logged warning, and
            ``modality_present['radar']`` is False when no scan could be read.
    """

    def __init__(self, sweeps_num: int = 6, radars: Sequence[str] = RADARS,
                 invalid_states: Optional[Sequence[int]] = None,
                 dynprop_states: Optional[Sequence[int]] = None,
                 ambig_states: Optional[Sequence[int]] = None,
                 on_missing: str = 'raise') -> None:
        if sweeps_num < 1:
            raise ValueError(f'sweeps_num must be >= 1, got {sweeps_num}')
        unknown = [r for r in radars if r not in RADARS]
        if unknown:
            raise ValueError(f'unknown radar names {unknown}; expected names from {RADARS}')
        self.sweeps_num = sweeps_num
        self.radars = tuple(radars)
        self.radar_filter = radar_filter_from_config(invalid_states, dynprop_states,
                                                     ambig_states)
        self.on_missing = check_missing_sensor_policy(on_missing)

    def transform(self, results: dict) -> dict:
        results['radar_points'] = np.zeros((0, len(RADAR_POINT_DIMS)), np.float32)
        sweeps_of = results.get('radar_sweeps') or {}
        missing = [r for r in self.radars if not sweeps_of.get(r)]
        if missing:
            if self.on_missing == 'raise':
                raise KeyError(f'sample {results.get("token")} has no radar_sweeps for '
                               f'{missing}; create the info file with tools/create_data.py')
            print_log(f'sample {results.get("token")}: no radar scans listed for {missing}',
                      logger='current', level=logging.WARNING)
        clouds, read_any = [], False
        for radar in self.radars:
            for sweep in (sweeps_of.get(radar) or [])[:self.sweeps_num]:
                try:
                    scan = read_radar_pcd(sweep['data_path'], self.radar_filter)
                except SensorFileError as err:
                    if self.on_missing == 'raise':
                        raise
                    print_log(f'{radar}: {err}; scan skipped', logger='current',
                              level=logging.WARNING)
                    record_sensor_fault(results, 'radar', err.path,
                                        f'{radar} scan skipped: {err.problem}')
                    continue
                read_any = True
                clouds.append(radar_scan_to_lidar(scan, sweep['sensor2lidar'],
                                                  results['timestamp'] - sweep['timestamp']))
        if clouds:
            results['radar_points'] = np.concatenate(clouds, axis=0)
        results.setdefault('modality_present', {})['radar'] = read_any
        if not read_any:
            handle_sensor_error(SensorFileError(f'radar_sweeps of sample {results.get("token")}',
                                                'no radar scan could be read'),
                                results, 'radar', 'mark_absent')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sweeps_num={self.sweeps_num}, radars={self.radars}, '
                f'filter={self.radar_filter}, on_missing={self.on_missing!r})')
