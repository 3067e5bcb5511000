"""Severity 1-5 -> physical parameters: one table per degradation, nowhere else.

Fog visibility follows the published robustness benchmarks (meteorological optical range of
about 600, 300, 150, 100 and 50 m, e.g. Hahner et al. ICCV 2021 and Dong et al. CVPR 2023).
The other tables are chosen to span "barely noticeable" to "sensor nearly useless" and are
documented next to each entry. Each table is a ``Dict[int, ...]`` keyed by severity.
"""
from typing import Dict, Tuple

#: Fog: meteorological optical range (MOR, visibility) in metres, shared by all sensors.
FOG_VISIBILITY_M: Dict[int, float] = {1: 600.0, 2: 300.0, 3: 150.0, 4: 100.0, 5: 50.0}

#: Night: scene light level as a fraction of daylight exposure (linear sensor signal scale).
NIGHT_LIGHT_LEVEL: Dict[int, float] = {1: 0.30, 2: 0.15, 3: 0.08, 4: 0.04, 5: 0.02}

#: Camera failure: number of the 6 camera views blanked (5 = all cameras lost).
CAMERA_DROPOUT_COUNT: Dict[int, int] = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6}

#: LiDAR beam reduction: beams kept out of the HDL-32E's 32 (32 -> 24, 16, 12, 8, 4).
LIDAR_BEAMS_KEPT: Dict[int, int] = {1: 24, 2: 16, 3: 12, 4: 8, 5: 4}

#: LiDAR field-of-view loss: width in degrees of the azimuth sector that returns nothing.
LIDAR_FOV_LOST_DEG: Dict[int, float] = {1: 60.0, 2: 120.0, 3: 180.0, 4: 240.0, 5: 300.0}

#: Whole-sensor failure (LiDAR or radar): probability that the sensor is dead for a sample.
#: Severity 5 always drops it; lower severities drop it for that share of samples, decided by
#: the per-sample seeded stream (so a given sample is dropped or not, reproducibly).
SENSOR_DROPOUT_PROBABILITY: Dict[int, float] = {1: 0.2, 2: 0.4, 3: 0.6, 4: 0.8, 5: 1.0}

#: Spatial misalignment: (rotation error in degrees, translation error in metres) applied to
#: every camera's extrinsics (about a random axis / along a random direction) and to the radar.
SPATIAL_MISALIGNMENT: Dict[int, Tuple[float, float]] = {
    1: (0.5, 0.02), 2: (1.0, 0.05), 3: (2.0, 0.10), 4: (3.0, 0.15), 5: (5.0, 0.20)}

#: Temporal misalignment: delay in seconds of LiDAR and radar with respect to the cameras
#: (nuScenes LiDAR sweeps come every 0.05 s, radar every ~0.077 s).
TEMPORAL_DELAY_S: Dict[int, float] = {1: 0.05, 2: 0.10, 3: 0.15, 4: 0.20, 5: 0.30}
