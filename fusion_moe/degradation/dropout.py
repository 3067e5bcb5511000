"""Sensor failures: cameras dropped, LiDAR beams / field of view lost, LiDAR or radar dead.

None of these changes the driving context (they are failures, not weather or light), so none
touches ``results['context']``. A sensor that is gone entirely keeps a correctly shaped empty
entry and has ``modality_present[<modality>] = False``, as ``structures/sensors.py`` asks:
black (zero) images of unchanged shape, (0, 6) LiDAR points, (0, 8) radar points.

A dropped camera view is, by default, *absent* exactly as a view missing on disk is
(``LoadCameraImages(on_missing='mark_absent')``): a zero image with its ``cameras_present``
entry False, so the camera encoder leaves it out of its average; ``view='black'`` instead
delivers a black frame the model is not told about (MultiCorrupt's missing camera).
LiDAR failures act on every return in ``points``, the keyframe's and the sweeps' alike.
"""
from abc import abstractmethod
from typing import Any, Dict, Tuple

import numpy as np

from ..registry import TRANSFORMS
from ..structures import CAMERAS
from .base import (Degradation, get_images, get_lidar_array, get_radar_array,
                   lidar_sweep_rows, modality_present, set_lidar_array)
from .severity_tables import DEFAULT_PRESET

#: Beams of the nuScenes Velodyne HDL-32E; ring index 0 is the lowest beam (-30.7 deg).
NUM_BEAMS = 32
RING_COLUMN = 4
#: What a dropped camera view becomes (see the module docstring).
CAMERA_VIEW_MODES: Tuple[str, ...] = ('absent', 'black')


def kept_rings(beams_kept: int, num_beams: int = NUM_BEAMS, first_ring: int = 0) -> np.ndarray:
    """Ring indices kept when thinning ``num_beams`` evenly to ``beams_kept``, starting at
    ``first_ring`` (MultiCorrupt keeps rings 1, 5, 9, ... where we keep 0, 4, 8, ...).

    >>> kept_rings(8).tolist()
    [0, 4, 8, 12, 16, 20, 24, 28]
    >>> kept_rings(4, first_ring=1).tolist()
    [1, 9, 17, 25]
    """
    if not 0 < beams_kept <= num_beams:
        raise ValueError(f'beams_kept must be in 1..{num_beams}, got {beams_kept}')
    rings = first_ring + np.arange(beams_kept) * num_beams // beams_kept
    if first_ring < 0 or rings[-1] >= num_beams:
        raise ValueError(f'first_ring {first_ring} leaves rings outside 0..{num_beams - 1} '
                         f'when keeping {beams_kept} beams')
    return rings


@TRANSFORMS.register_module()
class CameraDropout(Degradation):
    """Blank some or all camera views.

    Which cameras go is drawn per sample: ``count`` of the 6 (our table,
    ``CAMERA_DROPOUT_COUNT``) or each one independently with ``probability`` (MultiCorrupt's
    missing camera). They are listed in the record's ``params['dropped_cameras']`` (later
    degradations leave them black). The draws do not depend on the severity, so a camera
    lost at one severity is lost at every higher one.

    Args:
        severity, seed, preset: as for every degradation.
        view: ``'absent'`` (default): the view is black and its ``cameras_present`` entry
            False (the list is created, all True, if the loader did not write one), and
            ``modality_present['camera']`` becomes False when no view is left: the same as a
            camera missing on disk. ``'black'``: only the image is blackened; the model is
            told nothing (``cameras_present`` and ``modality_present`` unchanged, even with
            all six views black).
    """
    name = 'camera_dropout'

    def __init__(self, severity: int, seed: int = 0, preset: str = DEFAULT_PRESET,
                 view: str = 'absent') -> None:
        super().__init__(severity, seed, preset)
        if view not in CAMERA_VIEW_MODES:
            raise ValueError(f'view must be one of {CAMERA_VIEW_MODES}, got {view!r}')
        self.view = view

    def _choose(self, rng: np.random.Generator) -> np.ndarray:
        params = self.severity_params
        if 'count' in params:
            return np.sort(rng.choice(len(CAMERAS), size=params['count'], replace=False))
        return np.flatnonzero(rng.random(len(CAMERAS)) < params['probability'])

    def apply(self, results: dict) -> Dict[str, Any]:
        imgs = get_images(results)
        present = modality_present(results)
        chosen = self._choose(self.rng(results))
        for i in chosen:
            imgs[i] = np.zeros_like(imgs[i])
        if self.view == 'absent':
            views = list(results.get('cameras_present') or [True] * len(CAMERAS))
            for i in chosen:
                views[i] = False
            results['cameras_present'] = views
            present['camera'] = bool(present['camera'] and any(views))
        return {**self.severity_params, 'view': self.view,
                'dropped_cameras': [CAMERAS[i] for i in chosen]}

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(severity={self.severity}, seed={self.seed}, '
                f'preset={self.preset!r}, view={self.view!r})')


@TRANSFORMS.register_module()
class LidarBeamReduction(Degradation):
    """Keep every k-th of the 32 beams (32 -> 24, 16, 12, 8, 4), by the ``ring`` column of
    every return (keyframe and sweeps alike)."""
    name = 'lidar_beams'

    def apply(self, results: dict) -> Dict[str, Any]:
        beams = self.severity_params['beams_kept']
        rings = kept_rings(beams, first_ring=self.severity_params['first_ring'])
        if not modality_present(results)['lidar']:
            return {'beams_kept': beams, 'applied': False}
        pts = get_lidar_array(results)
        if pts.shape[1] <= RING_COLUMN:
            raise ValueError(f"LidarBeamReduction needs the ring column (index {RING_COLUMN}) "
                             f"of results['points'], which has only {pts.shape[1]} columns")
        keep = np.isin(np.rint(pts[:, RING_COLUMN]).astype(np.int64), rings)
        set_lidar_array(results, pts[keep])
        return {'beams_kept': beams, 'rings': rings.tolist(), 'applied': True,
                'points_removed': int((~keep).sum())}


@TRANSFORMS.register_module()
class LidarPointsReduction(Degradation):
    """Drop a fraction of the returns uniformly at random, sweep by sweep.

    Each sweep (keyframe included) keeps round(n * (1 - ``fraction_dropped``)) of its n
    returns, chosen without replacement (MultiCorrupt's points reducing, applied to every
    sweep file). The random keys do not depend on the severity, so the points kept at one
    severity are a subset of those kept at every lower one.
    """
    name = 'lidar_points'

    def apply(self, results: dict) -> Dict[str, Any]:
        fraction = self.severity_params['fraction_dropped']
        if not modality_present(results)['lidar']:
            return {'fraction_dropped': fraction, 'applied': False}
        pts = get_lidar_array(results)
        keys = self.rng(results).random(len(pts))
        keep = np.zeros(len(pts), dtype=bool)
        sweeps = lidar_sweep_rows(pts)
        for rows in sweeps:
            kept = int(round(len(rows) * (1.0 - fraction)))
            keep[rows[np.argsort(keys[rows], kind='stable')[:kept]]] = True
        set_lidar_array(results, pts[keep])
        return {'fraction_dropped': fraction, 'applied': True, 'sweeps': len(sweeps),
                'points_removed': int((~keep).sum())}


@TRANSFORMS.register_module()
class LidarFovLoss(Degradation):
    """Lose the returns of an azimuth sector (width ``LIDAR_FOV_LOST_DEG``, random centre).

    Azimuth is atan2(y, x) in the LiDAR frame; the lost sector's centre is drawn per sample.
    """
    name = 'lidar_fov'

    def apply(self, results: dict) -> Dict[str, Any]:
        lost_deg = self.severity_params['lost_deg']
        centre_deg = float(self.rng(results).uniform(-180.0, 180.0))
        if not modality_present(results)['lidar']:
            return {'lost_deg': lost_deg, 'centre_deg': centre_deg, 'applied': False}
        pts = get_lidar_array(results)
        azimuth_deg = np.degrees(np.arctan2(pts[:, 1], pts[:, 0]))
        offset = (azimuth_deg - centre_deg + 180.0) % 360.0 - 180.0
        keep = np.abs(offset) >= lost_deg / 2.0
        set_lidar_array(results, pts[keep])
        return {'lost_deg': lost_deg, 'centre_deg': centre_deg, 'applied': True,
                'points_removed': int((~keep).sum())}


class _SensorDropout(Degradation):
    """A whole sensor dies for a sample with probability ``SENSOR_DROPOUT_PROBABILITY``."""
    modality = ''

    def apply(self, results: dict) -> Dict[str, Any]:
        probability = self.severity_params['probability']
        dropped = bool(self.rng(results).random() < probability)
        if dropped:
            self.clear(results)
            modality_present(results)[self.modality] = False
        return {'probability': probability, 'dropped': dropped}

    @abstractmethod
    def clear(self, results: dict) -> None:
        """Empty the sensor's entry in ``results``, keeping its dtype and column count."""


@TRANSFORMS.register_module()
class LidarDropout(_SensorDropout):
    """LiDAR dead: ``points`` become (0, C) float32, ``modality_present['lidar'] = False``."""
    name = 'lidar_dropout'
    modality = 'lidar'

    def clear(self, results: dict) -> None:
        pts = get_lidar_array(results)
        set_lidar_array(results, pts[:0])


@TRANSFORMS.register_module()
class RadarDropout(_SensorDropout):
    """All radars dead: ``radar_points`` become (0, 8) float32, radar marked absent."""
    name = 'radar_dropout'
    modality = 'radar'

    def clear(self, results: dict) -> None:
        results['radar_points'] = get_radar_array(results)[:0].astype(np.float32)
