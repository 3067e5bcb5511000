"""Sensor failures: cameras dropped, LiDAR beams / field of view lost, LiDAR or radar dead.

None of these changes the driving context (they are failures, not weather or light), so none
touches ``results['context']``. A sensor that is gone entirely keeps a correctly shaped empty
entry and has ``modality_present[<modality>] = False``, as ``structures/sensors.py`` asks:
black (zero) images of unchanged shape, (0, 6) LiDAR points, (0, 8) radar points.
"""
from abc import abstractmethod
from typing import Any, Dict

import numpy as np

from ..registry import TRANSFORMS
from ..structures import CAMERAS
from .base import (Degradation, get_images, get_lidar_array, get_radar_array,
                   modality_present, set_lidar_array)
from .severity_tables import (CAMERA_DROPOUT_COUNT, LIDAR_BEAMS_KEPT, LIDAR_FOV_LOST_DEG,
                              SENSOR_DROPOUT_PROBABILITY)

#: Beams of the nuScenes Velodyne HDL-32E; ring index 0 is the lowest beam (-30.7 deg).
NUM_BEAMS = 32
RING_COLUMN = 4


def kept_rings(beams_kept: int, num_beams: int = NUM_BEAMS) -> np.ndarray:
    """Ring indices kept when thinning ``num_beams`` evenly to ``beams_kept``.

    >>> kept_rings(8).tolist()
    [0, 4, 8, 12, 16, 20, 24, 28]
    """
    if not 0 < beams_kept <= num_beams:
        raise ValueError(f'beams_kept must be in 1..{num_beams}, got {beams_kept}')
    return np.arange(beams_kept) * num_beams // beams_kept


@TRANSFORMS.register_module()
class CameraDropout(Degradation):
    """Blank some or all camera views (severity -> count, ``CAMERA_DROPOUT_COUNT``).

    Which cameras go is drawn per sample; they are listed in the record's
    ``params['dropped_cameras']`` (later degradations leave them black).
    """
    name = 'camera_dropout'

    def apply(self, results: dict) -> Dict[str, Any]:
        count = CAMERA_DROPOUT_COUNT[self.severity]
        imgs = get_images(results)
        present = modality_present(results)
        chosen = np.sort(self.rng(results).choice(len(CAMERAS), size=count, replace=False))
        for i in chosen:
            imgs[i] = np.zeros_like(imgs[i])
        if count == len(CAMERAS):
            present['camera'] = False
        return {'count': count, 'dropped_cameras': [CAMERAS[i] for i in chosen]}


@TRANSFORMS.register_module()
class LidarBeamReduction(Degradation):
    """Keep every k-th of the 32 beams (32 -> 24, 16, 12, 8, 4), by the ``ring`` column."""
    name = 'lidar_beams'

    def apply(self, results: dict) -> Dict[str, Any]:
        beams = LIDAR_BEAMS_KEPT[self.severity]
        rings = kept_rings(beams)
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
class LidarFovLoss(Degradation):
    """Lose the returns of an azimuth sector (width ``LIDAR_FOV_LOST_DEG``, random centre).

    Azimuth is atan2(y, x) in the LiDAR frame; the lost sector's centre is drawn per sample.
    """
    name = 'lidar_fov'

    def apply(self, results: dict) -> Dict[str, Any]:
        lost_deg = LIDAR_FOV_LOST_DEG[self.severity]
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
        probability = SENSOR_DROPOUT_PROBABILITY[self.severity]
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
