"""Severity -> physical parameters: one table per degradation and preset, nowhere else.

A *preset* is a family of tables. ``'default'`` is ours (severities 1-5); the others hold the
published suites' own numbers, so that a robustness score can be compared with the literature:

- ``'default'``: fog visibility follows the published robustness benchmarks (meteorological
  optical range of about 600, 300, 150, 100 and 50 m, e.g. Hahner et al. ICCV 2021 and Dong et
  al. CVPR 2023); the other tables are chosen to span "barely noticeable" to "sensor nearly
  useless" and are documented next to each entry.
- ``'multicorrupt'``: MultiCorrupt (T. Beemelmanns, Q. Zhang, C. Geller, L. Eckstein,
  "MultiCorrupt: A Multi-Modal Robustness Dataset and Benchmark of LiDAR-Camera Fusion for 3D
  Object Detection", IEEE IV 2024, arXiv:2402.11677), severities 1-3, read from the scripts
  that made the dataset: github.com/ika-rwth-aachen/MultiCorrupt (commit 6cd6225),
  ``converter/lidar.py``, ``converter/img.py``, ``converter/img_converter.py`` and
  ``converter/lidar_converter.py`` (run with ``--sweep true``: every LiDAR sweep corrupted).
- ``'nuscenes_c'``: nuScenes-C of Dong et al., "Benchmarking Robustness of 3D Object Detection
  to Common Corruptions in Autonomous Driving", CVPR 2023, github.com/thu-ml/3D_Corruptions_AD
  (``LiDAR_corruptions.py: fog_sim``, ``utils/fog_sim.py``); only its LiDAR fog, severities 1-5.

:data:`SEVERITY_TABLES` maps ``preset -> degradation short name -> severity -> parameters``
(a dict of keyword values the transform reads); :func:`severity_table` looks one up with an
error that names what exists. The published corruptions our injector does not reproduce are
listed with their parameters at the end of the module (``NOT_REPRODUCED``);
:mod:`fusion_moe.degradation.suites` turns all of this into a suite's list of conditions.
"""
from typing import Any, Dict, Mapping, Tuple

import numpy as np

DEFAULT_PRESET = 'default'
PRESETS: Tuple[str, ...] = (DEFAULT_PRESET, 'multicorrupt', 'nuscenes_c')

# --- ours ('default', severities 1-5) -----------------------------------------------------

#: Fog: meteorological optical range (MOR, visibility) in metres, shared by all sensors.
FOG_VISIBILITY_M: Dict[int, float] = {1: 600.0, 2: 300.0, 3: 150.0, 4: 100.0, 5: 50.0}

#: Night: scene light level as a fraction of daylight exposure (linear sensor signal scale).
NIGHT_LIGHT_LEVEL: Dict[int, float] = {1: 0.30, 2: 0.15, 3: 0.08, 4: 0.04, 5: 0.02}

#: Camera failure: number of the 6 camera views lost (5 = all cameras lost).
CAMERA_DROPOUT_COUNT: Dict[int, int] = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6}

#: LiDAR beam reduction: beams kept out of the HDL-32E's 32 (32 -> 24, 16, 12, 8, 4).
LIDAR_BEAMS_KEPT: Dict[int, int] = {1: 24, 2: 16, 3: 12, 4: 8, 5: 4}

#: LiDAR points reduction: fraction of the returns of every sweep dropped uniformly at random
#: (MultiCorrupt's 0.7 / 0.8 / 0.9 are our severities 2-4).
LIDAR_POINTS_DROPPED: Dict[int, float] = {1: 0.5, 2: 0.7, 3: 0.8, 4: 0.9, 5: 0.95}

#: LiDAR field-of-view loss: width in degrees of the azimuth sector that returns nothing.
LIDAR_FOV_LOST_DEG: Dict[int, float] = {1: 60.0, 2: 120.0, 3: 180.0, 4: 240.0, 5: 300.0}

#: Whole-sensor failure (LiDAR or radar): probability that the sensor is dead for a sample.
#: Severity 5 always drops it; lower severities drop it for that share of samples, decided by
#: the per-sample seeded stream (so a given sample is dropped or not, reproducibly).
SENSOR_DROPOUT_PROBABILITY: Dict[int, float] = {1: 0.2, 2: 0.4, 3: 0.6, 4: 0.8, 5: 1.0}

#: Spatial misalignment: (rotation error in degrees, translation error in metres) applied to
#: every camera's extrinsics (about a random axis / along a random direction) and to the radar;
#: ``LidarMisalignment`` moves the LiDAR cloud by the same magnitudes.
SPATIAL_MISALIGNMENT: Dict[int, Tuple[float, float]] = {
    1: (0.5, 0.02), 2: (1.0, 0.05), 3: (2.0, 0.10), 4: (3.0, 0.15), 5: (5.0, 0.20)}

#: Temporal misalignment: delay in seconds of LiDAR and radar with respect to the cameras
#: (nuScenes LiDAR sweeps come every 0.05 s, radar every ~0.077 s).
TEMPORAL_DELAY_S: Dict[int, float] = {1: 0.05, 2: 0.10, 3: 0.15, 4: 0.20, 5: 0.30}

# --- MultiCorrupt ('multicorrupt', severities 1-3; file and function of each source) --------

#: LiDAR fog, ``lidar.py: simulate_fog``: (alpha [1/m], beta [1/(m sr)]) of Hahner et al.'s
#: model, set independently (beta is not 0.046 / MOR: 0.008 is 26x, 0.05 is 54x that).
MULTICORRUPT_LIDAR_FOG: Dict[int, Tuple[float, float]] = {
    1: (0.02, 0.008), 2: (0.03, 0.008), 3: (0.06, 0.05)}
#: The fog-return range noise MultiCorrupt passes to the reference model (``noise=10``:
#: uniform +-10 m, the reference's default and ours).
MULTICORRUPT_LIDAR_FOG_RANGE_NOISE_M = 10.0

#: Beams reducing, ``lidar.py: reduce_LiDAR_beamsV2``: 16 / 8 / 4 beams kept, every k-th ring
#: starting at ring 1 (rings 1, 3, ..., 31 / 1, 5, ..., 29 / 1, 9, 17, 25).
MULTICORRUPT_BEAMS_KEPT: Dict[int, int] = {1: 16, 2: 8, 3: 4}
MULTICORRUPT_FIRST_RING = 1

#: Points reducing, ``lidar.py: pointsreducing``: 70 / 80 / 90 % of each sweep's points
#: dropped uniformly at random (round(N * (1 - fraction)) kept).
MULTICORRUPT_POINTS_DROPPED: Dict[int, float] = {1: 0.7, 2: 0.8, 3: 0.9}

#: Missing camera, ``img_converter.py``: each of the 6 images independently replaced by a
#: black (all-zero) image with this probability; the model is not told which.
MULTICORRUPT_MISSING_CAMERA_PROBABILITY: Dict[int, float] = {1: 0.2, 2: 0.4, 3: 0.6}

#: Spatial misalignment, ``lidar.py: transform_points``: (probability, rotation [deg]). With
#: that probability the LiDAR cloud is rotated by R = Rx(-theta) Ry(-theta) Rz(-theta) (their
#: matrices are the transposes of the right-handed rotations) and translated by +2 m along the
#: LiDAR x axis; the draw is made per sweep file (each sweep on its own). Cameras untouched.
MULTICORRUPT_SPATIAL_MISALIGNMENT: Dict[int, Tuple[float, float]] = {
    1: (0.2, 1.0), 2: (0.4, 2.0), 3: (0.6, 3.0)}
MULTICORRUPT_SPATIAL_TRANSLATION_M = 2.0

#: Brightness, ``img.py: brightness``: shift added to the HSV value channel (in [0, 1]), the
#: ImageNet-C formula with shifts beyond ImageNet-C's largest (0.5).
MULTICORRUPT_BRIGHTNESS_SHIFT: Dict[int, float] = {1: 0.5, 2: 0.6, 3: 0.7}

# --- nuScenes-C ('nuscenes_c', LiDAR fog only) ---------------------------------------------

#: LiDAR fog alpha [1/m] (``LiDAR_corruptions.py: fog_sim``, "from original paper":
#: MOR = ln 20 / alpha = 599, 300, 150, 100, 50 m).
NUSCENES_C_LIDAR_FOG_ALPHA: Dict[int, float] = {1: 0.005, 2: 0.01, 3: 0.02, 4: 0.03, 5: 0.06}
#: Their beta [1/(m sr)] is the same at every severity: ``ParameterSet(alpha=c)`` computes
#: beta = 0.046 / MOR from its default alpha 0.06 *before* the keyword sets alpha, so every
#: severity runs with beta = 0.046 * 0.06 / ln 20 (= 9.21e-4), not 0.046 * alpha / ln 20.
NUSCENES_C_LIDAR_FOG_BETA = 0.046 * 0.06 / float(np.log(20.0))
#: Their fog-return range noise (``simulate_fog(..., noise=1)``: uniform +-1 m).
NUSCENES_C_LIDAR_FOG_RANGE_NOISE_M = 1.0


def _column(table: Mapping[int, Any], key: str) -> Dict[int, Dict[str, Any]]:
    return {s: {key: v} for s, v in table.items()}


def _lidar_fog(table: Mapping[int, Tuple[float, float]], range_noise_m: float
               ) -> Dict[int, Dict[str, float]]:
    return {s: {'alpha_per_m': a, 'beta_per_m_sr': b, 'range_noise_m': range_noise_m}
            for s, (a, b) in table.items()}


_DEFAULT_FOG = _column(FOG_VISIBILITY_M, 'visibility_m')
_DEFAULT_DROPOUT = _column(SENSOR_DROPOUT_PROBABILITY, 'probability')

#: preset -> degradation short name -> severity -> parameters read by the transform.
SEVERITY_TABLES: Dict[str, Dict[str, Dict[int, Dict[str, Any]]]] = {
    DEFAULT_PRESET: {
        'fog': _DEFAULT_FOG, 'camera_fog': _DEFAULT_FOG, 'lidar_fog': _DEFAULT_FOG,
        'radar_fog': _DEFAULT_FOG,
        'night': _column(NIGHT_LIGHT_LEVEL, 'light_level'),
        'camera_dropout': _column(CAMERA_DROPOUT_COUNT, 'count'),
        'lidar_beams': {s: {'beams_kept': n, 'first_ring': 0}
                        for s, n in LIDAR_BEAMS_KEPT.items()},
        'lidar_points': _column(LIDAR_POINTS_DROPPED, 'fraction_dropped'),
        'lidar_fov': _column(LIDAR_FOV_LOST_DEG, 'lost_deg'),
        'lidar_dropout': _DEFAULT_DROPOUT, 'radar_dropout': _DEFAULT_DROPOUT,
        'spatial_misalignment': {s: {'rotation_deg': r, 'translation_m': t}
                                 for s, (r, t) in SPATIAL_MISALIGNMENT.items()},
        'lidar_misalignment': {
            s: {'probability': 1.0, 'rotation_deg': r, 'translation_m': t,
                'error_model': 'random', 'per_sweep': False}
            for s, (r, t) in SPATIAL_MISALIGNMENT.items()},
        'temporal_misalignment': _column(TEMPORAL_DELAY_S, 'delay_s'),
    },
    'multicorrupt': {
        # 'fog' is LiDAR fog with MultiCorrupt's (alpha, beta) plus our camera and radar fog
        # at MOR = ln 20 / alpha (MultiCorrupt's own camera haze is not reproduced).
        'fog': _lidar_fog(MULTICORRUPT_LIDAR_FOG, MULTICORRUPT_LIDAR_FOG_RANGE_NOISE_M),
        'lidar_fog': _lidar_fog(MULTICORRUPT_LIDAR_FOG, MULTICORRUPT_LIDAR_FOG_RANGE_NOISE_M),
        'lidar_beams': {s: {'beams_kept': n, 'first_ring': MULTICORRUPT_FIRST_RING}
                        for s, n in MULTICORRUPT_BEAMS_KEPT.items()},
        'lidar_points': _column(MULTICORRUPT_POINTS_DROPPED, 'fraction_dropped'),
        'lidar_misalignment': {
            s: {'probability': p, 'rotation_deg': r,
                'translation_m': MULTICORRUPT_SPATIAL_TRANSLATION_M, 'error_model': 'xyz',
                'per_sweep': True}
            for s, (p, r) in MULTICORRUPT_SPATIAL_MISALIGNMENT.items()},
        'camera_dropout': _column(MULTICORRUPT_MISSING_CAMERA_PROBABILITY, 'probability'),
        'brightness': _column(MULTICORRUPT_BRIGHTNESS_SHIFT, 'value_shift'),
    },
    'nuscenes_c': {
        'lidar_fog': _lidar_fog({s: (a, NUSCENES_C_LIDAR_FOG_BETA)
                                 for s, a in NUSCENES_C_LIDAR_FOG_ALPHA.items()},
                                NUSCENES_C_LIDAR_FOG_RANGE_NOISE_M),
    },
}

#: Published corruptions our injector does not reproduce: (suite, corruption) -> what they
#: do, with their parameters, and what we would need.
NOT_REPRODUCED: Dict[Tuple[str, str], str] = {
    ('multicorrupt', 'snow'): (
        'LiDAR: Hahner et al. CVPR 2022 snowfall simulation (per-beam particle occlusion, '
        'laser parameters estimated from the lidarseg-labelled ground), (snowfall rate '
        '[mm/h], terminal velocity [m/s]) = (0.5, 1.2) / (2.5, 1.6) / (1.5, 0.4); camera: an '
        'ImageNet-C-like snow layer with their own parameters. Needs a snow particle '
        'simulation and lidarseg labels; we have neither.'),
    ('multicorrupt', 'motionblur'): (
        'camera: linear motion blur, kernel radius 15 px, Gaussian weights of sigma '
        '6 / 10 / 13 px, angle U(-45, 45) deg; LiDAR: one N(0, s) translation of the cloud '
        'plus per-point jitter, s = 0.06 / 0.10 / 0.13 m. imagecorruptions\' motion_blur has '
        'other tables and no LiDAR counterpart; not reproduced.'),
    ('multicorrupt', 'temporalmisalignment'): (
        'with p = 0.2 / 0.4 / 0.6 the LiDAR keyframe and sweeps are replaced by those of the '
        'previous sample (~0.5 s older, not re-registered), and independently each camera '
        'image by the previous sample\'s. A per-sample transform has no previous sample; '
        'our TemporalMisalignment (0.05-0.3 s delays from the sweeps) is a different '
        'corruption.'),
    ('multicorrupt', 'dark'): (
        'camera: intensities rescaled to [0, 0.6 / 0.4 / 0.3] with gamma 2, then Poisson '
        'noise (250 / 120 / 50 photons at full scale) and Gaussian noise (sigma 0.008 / '
        '0.018 / 0.026). Our Night is a different (physical low-light) model; not reproduced.'),
}


def severity_table(name: str, preset: str = DEFAULT_PRESET) -> Dict[int, Dict[str, Any]]:
    """``{severity: parameters}`` of degradation ``name`` under ``preset`` (a copy).

    Raises:
        ValueError: unknown preset, or a preset without a table for ``name`` (the message
            lists the presets that have one).
    """
    if preset not in SEVERITY_TABLES:
        raise ValueError(f'unknown severity preset {preset!r}; known presets: {PRESETS}')
    table = SEVERITY_TABLES[preset].get(name)
    if table is None:
        having = [p for p in PRESETS if name in SEVERITY_TABLES[p]]
        raise ValueError(f'degradation {name!r} has no {preset!r} severity table; presets '
                         f'that have one: {having}')
    return {s: dict(params) for s, params in table.items()}
