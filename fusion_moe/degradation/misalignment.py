"""Misalignment between sensors: wrong extrinsics (spatial) and stale data (temporal).

``SpatialMisalignment`` corrupts the cameras' (and radar's) calibration against the LiDAR;
``LidarMisalignment`` moves the LiDAR cloud itself, against cameras, radar and boxes
(MultiCorrupt's spatial misalignment). None changes the driving context or the ground truth.
"""
import logging
from typing import Any, Dict, List

import numpy as np
from mmengine.logging import print_log
from scipy.spatial.transform import Rotation

from ..registry import TRANSFORMS
from ..structures import CAMERAS
from .base import (LIDAR_TIME_LAG_COLUMN, Degradation, get_lidar_array, get_radar_array,
                   lidar_sweep_rows, modality_present, require, set_lidar_array)

RADAR_TIME_LAG_COLUMN = 6
#: Half the sweep period: a sweep counts as "at least delay old" within this tolerance [s].
LIDAR_HALF_PERIOD_S = 0.025      # 20 Hz
RADAR_HALF_PERIOD_S = 0.038      # ~13 Hz


def random_rigid_error(rng: np.random.Generator, rotation_deg: float, translation_m: float
                       ) -> np.ndarray:
    """A 4x4 rigid transform rotating by exactly ``rotation_deg`` about a random axis and
    translating by exactly ``translation_m`` along a random direction (isotropic)."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(np.radians(rotation_deg) * axis).as_matrix()
    T[:3, 3] = translation_m * direction
    return T


def xyz_rigid_error(rotation_deg: float, translation_m: float) -> np.ndarray:
    """MultiCorrupt's LiDAR error: R = Rx(-t) Ry(-t) Rz(-t) for t = ``rotation_deg`` (their
    rotation matrices are the transposes of the right-handed ones), then ``translation_m``
    along +x. A 4x4 acting on column vectors of LiDAR-frame points."""
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler('XYZ', [-rotation_deg] * 3, degrees=True).as_matrix()
    T[0, 3] = translation_m
    return T


def _pad4(mat: np.ndarray) -> np.ndarray:
    mat = np.asarray(mat, dtype=np.float64)
    out = np.eye(4)
    out[:mat.shape[0], :mat.shape[1]] = mat
    return out


@TRANSFORMS.register_module()
class SpatialMisalignment(Degradation):
    """Extrinsic calibration error: cameras and radar are not where the calibration says.

    Each camera's ``lidar2cam`` becomes ``E @ lidar2cam`` with its own random rigid error E
    (rotation / translation magnitudes from ``SPATIAL_MISALIGNMENT``, in the camera frame),
    and ``lidar2img`` (and ``cam2lidar`` if present) are recomputed to match; the images are
    unchanged, so projected geometry no longer lands on the right pixels. The radar cloud is
    moved by one rigid error about the LiDAR origin (yaw only, horizontal shift; velocities
    rotated too), as a radar mounting error would. Matrices stay float64 4x4 in a list.
    Place it after the other degradations: camera fog reads ``lidar2cam`` to find out how far
    away each pixel is, which should be the true calibration, not the corrupted one.
    """
    name = 'spatial_misalignment'

    def apply(self, results: dict) -> Dict[str, Any]:
        rot_deg = self.severity_params['rotation_deg']
        trans_m = self.severity_params['translation_m']
        rng = self.rng(results)
        lidar2cam = require(results, 'lidar2cam', 'camera extrinsics')
        cam2img = require(results, 'cam2img', 'camera intrinsics')
        if len(lidar2cam) != len(CAMERAS) or len(cam2img) != len(CAMERAS):
            raise ValueError(f'lidar2cam / cam2img must hold {len(CAMERAS)} matrices, got '
                             f'{len(lidar2cam)} / {len(cam2img)}')
        new_l2c: List[np.ndarray] = []
        for i in range(len(CAMERAS)):
            new_l2c.append(random_rigid_error(rng, rot_deg, trans_m) @ _pad4(lidar2cam[i]))
        results['lidar2cam'] = new_l2c
        results['lidar2img'] = [_pad4(cam2img[i]) @ new_l2c[i] for i in range(len(CAMERAS))]
        if 'cam2lidar' in results:
            results['cam2lidar'] = [np.linalg.inv(m) for m in new_l2c]

        radar_yaw_deg = float(rng.choice([-1.0, 1.0]) * rot_deg)
        shift_dir = rng.uniform(-np.pi, np.pi)
        if modality_present(results)['radar']:
            radar = get_radar_array(results).copy()
            c, s = np.cos(np.radians(radar_yaw_deg)), np.sin(np.radians(radar_yaw_deg))
            rot2 = np.array([[c, -s], [s, c]], dtype=np.float64)
            shift = trans_m * np.array([np.cos(shift_dir), np.sin(shift_dir)])
            radar[:, 0:2] = radar[:, 0:2].astype(np.float64) @ rot2.T + shift
            radar[:, 4:6] = radar[:, 4:6].astype(np.float64) @ rot2.T
            results['radar_points'] = radar.astype(np.float32)
        return {'rotation_deg': rot_deg, 'translation_m': trans_m,
                'radar_yaw_deg': radar_yaw_deg}


@TRANSFORMS.register_module()
class LidarMisalignment(Degradation):
    """The LiDAR cloud is not where the calibration says: a rigid error moves its points.

    With ``probability`` the points (x, y, z, LiDAR frame) are mapped by a rigid error E,
    ``error_model='random'`` (ours: exactly ``rotation_deg`` about a random axis and
    ``translation_m`` along a random direction, as ``SpatialMisalignment`` draws them) or
    ``'xyz'`` (MultiCorrupt's, see :func:`xyz_rigid_error`). ``per_sweep=False``: one draw
    for the whole cloud, a mounting error shared by all sweeps; ``per_sweep=True``: every
    sweep draws for itself, as MultiCorrupt's converter does (it corrupts each sweep file on
    its own). Cameras, radar and boxes stay where they are, so the LiDAR disagrees with all
    of them.

    Approximation (stated): E acts in the keyframe LiDAR frame. MultiCorrupt applies it in
    each sweep's own sensor frame, which for an older sweep differs by the ego motion since
    (at 3 deg and 4.5 m of travel, about 0.24 m).
    """
    name = 'lidar_misalignment'

    def _error(self, rng: np.random.Generator) -> np.ndarray:
        params = self.severity_params
        if params['error_model'] == 'random':
            return random_rigid_error(rng, params['rotation_deg'], params['translation_m'])
        if params['error_model'] == 'xyz':
            return xyz_rigid_error(params['rotation_deg'], params['translation_m'])
        raise ValueError(f"unknown error_model {params['error_model']!r} in the "
                         f"{self.preset!r} table of {self.name!r}")

    def apply(self, results: dict) -> Dict[str, Any]:
        params = dict(self.severity_params)
        if not modality_present(results)['lidar']:
            return {**params, 'applied': False}
        pts = get_lidar_array(results).copy()
        rng = self.rng(results)
        groups = lidar_sweep_rows(pts) if params['per_sweep'] else [np.arange(len(pts))]
        moved = 0
        for rows in groups:
            hit = rng.random() < params['probability']
            error = self._error(rng)                   # drawn either way (common random numbers)
            if hit:
                xyz = pts[rows, :3].astype(np.float64)
                pts[rows, :3] = xyz @ error[:3, :3].T + error[:3, 3]
                moved += 1
        set_lidar_array(results, pts)
        return {**params, 'applied': True, 'groups': len(groups), 'groups_moved': moved}


def delay_sweeps(points: np.ndarray, time_col: int, delay_s: float, half_period_s: float
                 ) -> Dict[str, Any]:
    """Drop returns newer than ``delay_s`` and relabel the rest as ``delay_s`` newer.

    Returns ``{'points': array, 'fallback': bool}``; if no return is old enough (e.g. a
    keyframe without sweeps), the oldest sweep is kept as the freshest data available
    (``fallback=True``), which for a single sweep means no change.
    """
    if len(points) == 0:
        return {'points': points, 'fallback': False}
    lag = points[:, time_col]
    keep = lag >= delay_s - half_period_s
    fallback = not keep.any()
    if fallback:
        keep = lag >= lag.max() - 1e-6
    out = points[keep].copy()
    out[:, time_col] = np.maximum(out[:, time_col] - delay_s, 0.0)
    return {'points': out, 'fallback': fallback}


@TRANSFORMS.register_module()
class TemporalMisalignment(Degradation):
    """LiDAR and radar lag the cameras by ``TEMPORAL_DELAY_S`` (0.05 ... 0.3 s).

    Uses the accumulated sweeps: returns newer than the delay are discarded and the remaining
    ones are relabelled as if they were that much newer (``time_lag -= delay``, floored at 0),
    so the detector sees stale range data stamped as current. Ego motion stays compensated
    (the poses are right); what goes stale is the world: moving objects sit where they were
    ``delay`` seconds ago while the cameras show them now. Needs the sweeps of the loading
    pipeline (``max_sweeps`` > 1); a sample whose sensor has no sweep old enough keeps its
    oldest sweep (logged, ``params[<sensor>_fallback] = True``).
    """
    name = 'temporal_misalignment'

    def apply(self, results: dict) -> Dict[str, Any]:
        delay = self.severity_params['delay_s']
        present = modality_present(results)
        params: Dict[str, Any] = {'delay_s': delay}
        if present['lidar']:
            pts = get_lidar_array(results)
            if pts.shape[1] <= LIDAR_TIME_LAG_COLUMN:
                raise ValueError('TemporalMisalignment needs the time_lag column of '
                                 f"results['points'] (index {LIDAR_TIME_LAG_COLUMN})")
            out = delay_sweeps(pts, LIDAR_TIME_LAG_COLUMN, delay, LIDAR_HALF_PERIOD_S)
            set_lidar_array(results, out['points'])
            params['lidar_fallback'] = out['fallback']
        if present['radar']:
            out = delay_sweeps(get_radar_array(results), RADAR_TIME_LAG_COLUMN, delay,
                               RADAR_HALF_PERIOD_S)
            results['radar_points'] = out['points'].astype(np.float32)
            params['radar_fallback'] = out['fallback']
        if params.get('lidar_fallback') or params.get('radar_fallback'):
            print_log(f'TemporalMisalignment: sample {results.get("sample_idx")!r} has no '
                      f'sweep {delay} s old; kept the oldest one ({params})',
                      logger='current', level=logging.WARNING)
        return params
