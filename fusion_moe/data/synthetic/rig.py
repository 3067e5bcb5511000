"""The synthetic sensor rig: nuScenes-like mounting of LIDAR_TOP, 6 cameras and 5 radars.

Values follow the real nuScenes calibration (see ``shared/data/nuscenes-real``): mounting
positions in the ego frame (x forward, y left, z up; metres, origin on the ground below the rear
axle), camera headings 0, -55, +55, 180, +110, -110 degrees, intrinsics with focal lengths of
about 1266 px (809 px for the wide CAM_BACK) at 1600x900, scaled with the image size. LIDAR_TOP is
mounted turned by -90 degrees about z like the real one (its x axis points to the ego's right),
so code that forgets ``lidar2ego`` fails on synthetic data as it would on real data. All sensors
are level (no roll/pitch), which lets the simulator use flat-world closed forms.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from fusion_moe.structures.sensors import CAMERAS, LIDAR, RADARS

from .geometry import make_pose, yaw_matrix, yaw_pose

# Camera optical frame: z forward, x right, y down. ``_CAM_AXES`` maps optical -> sensor-level
# frame whose x points along the camera heading (columns: optical x, y, z in that frame).
_OPTICAL_TO_FORWARD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

# name: (x, y, z [m] in ego, heading [deg], focal at 1600x900 [px], cx, cy at 1600x900 [px])
_CAMERA_MOUNTS: Dict[str, Tuple[float, float, float, float, float, float, float]] = {
    'CAM_FRONT': (1.70, 0.016, 1.51, 0.0, 1266.4, 816.3, 491.5),
    'CAM_FRONT_RIGHT': (1.55, -0.493, 1.50, -56.0, 1260.8, 808.0, 495.3),
    'CAM_FRONT_LEFT': (1.52, 0.495, 1.51, 55.0, 1272.6, 826.6, 479.8),
    'CAM_BACK': (0.03, 0.003, 1.58, 180.0, 809.2, 829.2, 481.8),
    'CAM_BACK_LEFT': (1.04, 0.485, 1.59, 108.6, 1256.7, 792.1, 492.8),
    'CAM_BACK_RIGHT': (1.01, -0.481, 1.56, -110.8, 1259.5, 807.3, 501.2),
}
# Camera keyframe time relative to the LiDAR keyframe [s]: a camera fires when the spinning
# LiDAR sweeps across its field of view (values as in the real fixture).
CAMERA_TIME_OFFSETS_S: Dict[str, float] = {
    'CAM_FRONT': -0.0355, 'CAM_FRONT_RIGHT': -0.0276, 'CAM_FRONT_LEFT': -0.0431,
    'CAM_BACK': -0.0104, 'CAM_BACK_LEFT': -0.0005, 'CAM_BACK_RIGHT': -0.0201,
}
# name: (x, y, z [m] in ego, heading [deg]); coverage (+-60 deg near, +-9 deg far to 250 m)
# is the ARS 408's own, see radar_ars408
_RADAR_MOUNTS: Dict[str, Tuple[float, float, float, float]] = {
    'RADAR_FRONT': (3.41, 0.0, 0.50, 0.0),
    'RADAR_FRONT_LEFT': (2.42, 0.80, 0.50, 85.0),
    'RADAR_FRONT_RIGHT': (2.42, -0.80, 0.50, -85.0),
    'RADAR_BACK_LEFT': (-0.56, 0.63, 0.50, 160.0),
    'RADAR_BACK_RIGHT': (-0.56, -0.63, 0.50, -160.0),
}
# Each radar channel starts its 13 Hz cycle at its own phase [s] (real radars are not synced).
RADAR_PHASES_S: Dict[str, float] = {
    'RADAR_FRONT': 0.011, 'RADAR_FRONT_LEFT': 0.027, 'RADAR_FRONT_RIGHT': 0.043,
    'RADAR_BACK_LEFT': 0.059, 'RADAR_BACK_RIGHT': 0.071,
}
LIDAR_TRANSLATION_M = (0.943, 0.0, 1.84)
LIDAR_YAW_RAD = -np.pi / 2.0


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera: ``ego_T_cam`` 4x4 (optical frame), ``intrinsic`` 3x3, size in px."""
    name: str
    ego_T_cam: np.ndarray
    intrinsic: np.ndarray
    width: int
    height: int


@dataclass(frozen=True)
class RadarModel:
    """A radar: ``ego_T_radar`` 4x4 (x forward along its boresight). Its coverage, accuracy
    and detection are the ARS 408's, in ``radar_ars408``."""
    name: str
    ego_T_radar: np.ndarray


@dataclass(frozen=True)
class SensorRig:
    """All sensor calibrations of the synthetic car (ego frame poses)."""
    ego_T_lidar: np.ndarray
    cameras: Dict[str, CameraModel]
    radars: Dict[str, RadarModel]

    @property
    def lidar_name(self) -> str:
        return LIDAR


def build_rig(image_size: Tuple[int, int] = (1600, 900)) -> SensorRig:
    """The rig for images of ``image_size = (width, height)`` px (intrinsics scale with it)."""
    width, height = int(image_size[0]), int(image_size[1])
    if width < 16 or height < 16:
        raise ValueError(f'image_size {image_size} is too small (need at least 16x16 px)')
    sx, sy = width / 1600.0, height / 900.0
    cameras = {}
    for name in CAMERAS:
        x, y, z, heading, focal, cx, cy = _CAMERA_MOUNTS[name]
        rot = yaw_matrix(np.deg2rad(heading)) @ _OPTICAL_TO_FORWARD
        intrinsic = np.array([[focal * sx, 0.0, cx * sx], [0.0, focal * sy, cy * sy],
                              [0.0, 0.0, 1.0]])
        cameras[name] = CameraModel(name, make_pose(rot, (x, y, z)), intrinsic, width, height)
    radars = {}
    for name in RADARS:
        x, y, z, heading = _RADAR_MOUNTS[name]
        radars[name] = RadarModel(name, yaw_pose(np.deg2rad(heading), (x, y, z)))
    return SensorRig(yaw_pose(LIDAR_YAW_RAD, LIDAR_TRANSLATION_M), cameras, radars)
