"""The Continental ARS 408-21 as nuScenes recorded it: coverage, accuracy, resolution,
detection and the cluster state fields, as numbers with their sources.

Sources:
- [DS] Continental "ARS 408-21 Premium Long Range Radar Sensor 77 GHz" technical data sheet:
  far range 0.20-250 m within +-9 deg; near range 0.20-70 m within +-45 deg, 20 m at +-60 deg;
  distance resolution 1.79 m (far) / 0.39 m (near), distance accuracy +-0.40 m (far) /
  +-0.10 m (near); azimuth resolution 1.6 deg (far) / 3.2 deg at 0, 4.5 deg at +-45,
  12.3 deg at +-60 deg (near); azimuth accuracy +-0.1 deg (far) / +-0.3 deg at 0, +-1 deg at
  +-45, +-5 deg at +-60 deg (near); velocity accuracy 0.1 km/h; cycle time about 72 ms.
- [FX] the three real nuScenes scans of ``shared/data/nuscenes-real/radar`` (375 points,
  measured with the devkit's ``RadarPointCloud`` with filters disabled): every scan holds
  125 points (the cluster list nuScenes recorded is capped there); the (invalid_state,
  ambig_state, pdh0) combinations and their shares below; ego-motion-compensated radial
  speed of stationary returns: median |v| 0.14 m/s, 90th percentile 0.26 m/s.
- [KF] the real keyframe's annotations (same fixture): cars carry 1.25 radar points on average
  (all five radars, half of them none; 1-6 within 40 m, none beyond 70 m), pedestrians 0.17
  (3 of 5 detected within 16 m, none of 25 beyond), barriers 0.55.
- [RE] the radar equation (received power proportional to RCS / range^4) with Swerling-1
  fluctuation (exponentially distributed power per scan): a target of mean SNR s is detected
  with probability exp(-1 / s). The reference range below was set so that the detection rates
  by class and range follow [KF]; the far-range beam's higher antenna gain is why [DS] gives it
  250 m.
What the devkit reads of the state fields is its default filter (invalid_state 0, dyn_prop 0-6,
ambig_state 3): [FX] keeps 56 % of the points with it.
"""
from typing import Dict, Tuple

import numpy as np

# ---- coverage and resolution [DS] (its point-target accuracy: see the measurement noise) ---
FAR_HALF_FOV_DEG = 9.0
FAR_MAX_RANGE_M = 250.0
NEAR_HALF_FOV_DEG = 60.0
NEAR_RANGE_BY_AZ = ((0.0, 45.0, 60.0), (70.0, 70.0, 20.0))   # |azimuth| deg -> max range m
RANGE_RESOLUTION_M = {'far': 1.79, 'near': 0.39}
AZ_RESOLUTION_BY_AZ_DEG = ((0.0, 45.0, 60.0), (3.2, 4.5, 12.3))  # near range; far: 1.6 deg
FAR_AZ_RESOLUTION_DEG = 1.6
DOPPLER_SIGMA_MPS = 0.1 / 3.6 / 2.0     # velocity accuracy 0.1 km/h [DS], taken as 2 sigma
MAX_CLUSTERS = 125                      # [FX]
RCS_STEP_DBSM = 0.5                     # RCS is reported in 0.5 dBsm steps [FX]

# ---- measurement noise: what the sensor reports of each cluster [FX] --------------------------
# Every nuScenes cluster carries its standard deviations as ARS 408 quality codes (x_rms, y_rms,
# vx_rms; code c means sigma < 0.005 * 2000 ** (c / 30): 16 -> 0.288 m/s, 19 -> 0.616 m,
# 21 -> 1.02 m). The generator draws each cluster's codes with the real shares and its noise at
# REPORTED_TO_ACTUAL_SIGMA x the decoded value (the code is an upper bound: the true sigma lies
# between it and the code below, ~0.8 x), so positions scatter by 0.5-0.8 m, as real radar
# points scatter about their objects.
REPORTED_TO_ACTUAL_SIGMA = 0.9
# nuScenes' vx_comp / vy_comp add back the ego velocity estimated by the car's odometry; the
# stationary returns of [FX] keep a compensated radial speed of median 0.14 m/s, which a
# per-scan ego velocity error and a per-return error of 0.7 x the reported vx_rms (~0.2 m/s)
# reproduce.
EGO_VELOCITY_SIGMA_MPS = 0.12
COMP_TO_REPORTED_SIGMA = 0.7

# ---- detection [RE], [KF] -----------------------------------------------------------------------
# Mean SNR [dB] of a scatterer of RCS sigma [dBsm] at range r: sigma - 40 log10(r / REF) (+ the
# far beam's gain). A 0 dBsm scatterer is at the detection threshold at REF in the near beam.
NEAR_REFERENCE_RANGE_M = 40.0
FAR_BEAM_GAIN_DB = 10.0
# dyn_prop from the measured, compensated radial speed (the sensor has nothing else)
MOVING_THRESHOLD_MPS = 0.5

# dyn_prop codes [DS]
MOVING, STATIONARY, ONCOMING, STATIONARY_CANDIDATE, UNKNOWN, CROSSING_STATIONARY, \
    CROSSING_MOVING, STOPPED = range(8)

# (invalid_state, ambig_state, pdh0) profiles seen in [FX], with their share there
# (invalid_state: 0 valid, 3 far-range cluster not confirmed in near range, 4 valid with low
# RCS, 6 high mirror probability, 7 outside the field of view / unknown dynamics, 9 valid with
# high child probability, 11 valid without local maximum, 16 valid with suspicious angle;
# ambig_state 3 unambiguous, 1 ambiguous, 0 invalid; pdh0: false alarm probability class,
# 1 < 25 %, 3 < 75 %, 6 < 99.9 %).
STATE_PROFILES: Dict[str, Tuple[int, int, int]] = {
    'valid': (0, 3, 1),            # 55 % of [FX]
    'ambiguous': (0, 1, 1),        # 1 %
    'no_local_max': (11, 3, 3),    # 11 %
    'low_rcs': (4, 3, 3),          # 9 %
    'unknown_dynamics': (7, 0, 6),  # 7 %, always with dyn_prop 4 and zero rms fields
    'child': (9, 3, 3),            # 7 %
    'suspicious_angle': (16, 3, 1),  # 6 %
    'unconfirmed_far': (3, 0, 6),  # 1 %
    'mirror': (6, 0, 6),           # ghosts
}
# rms fields [FX]: x_rms / y_rms codes 19-22 (y up to 28), vx_rms 16-18, vy_rms 3; all zero for
# 'unknown_dynamics' clusters
X_RMS_CODES = (19, 20, 21, 22)
X_RMS_P = (0.48, 0.29, 0.19, 0.04)
Y_RMS_CODES = (19, 20, 21, 22, 23, 24, 25, 26, 27, 28)
Y_RMS_P = (0.43, 0.19, 0.19, 0.11, 0.03, 0.015, 0.01, 0.015, 0.005, 0.005)
VX_RMS_CODES = (16, 17, 18)
VX_RMS_P = (0.80, 0.165, 0.035)
VY_RMS_CODE = 3


def decode_rms(codes: np.ndarray) -> np.ndarray:
    """Standard deviation [m or m/s] of an ARS 408 quality code (0-30; see above)."""
    return 0.005 * 2000.0 ** (np.asarray(codes, dtype=np.float64) / 30.0)


def near_max_range_m(az_rad: np.ndarray) -> np.ndarray:
    """Near-range coverage [m] by azimuth [rad] (0 outside +-60 deg) [DS]."""
    az = np.abs(np.degrees(az_rad))
    rng = np.interp(az, *NEAR_RANGE_BY_AZ)
    return np.where(az <= NEAR_HALF_FOV_DEG, rng, 0.0)


def in_far_beam(az_rad: np.ndarray) -> np.ndarray:
    return np.abs(np.degrees(az_rad)) <= FAR_HALF_FOV_DEG


def covered(range_m: np.ndarray, az_rad: np.ndarray) -> np.ndarray:
    """Whether (range, azimuth) lies in the near or far field of view [DS]."""
    return (range_m > 0.2) & ((range_m <= near_max_range_m(az_rad))
                              | (in_far_beam(az_rad) & (range_m <= FAR_MAX_RANGE_M)))


def uses_far_beam(range_m: np.ndarray, az_rad: np.ndarray) -> np.ndarray:
    """Returns measured by the far-range scan: beyond near coverage, inside the far beam."""
    return in_far_beam(az_rad) & (range_m > near_max_range_m(az_rad))


def mean_snr_db(rcs_dbsm: np.ndarray, range_m: np.ndarray, far: np.ndarray) -> np.ndarray:
    """Mean SNR above the detection threshold [dB] [RE]."""
    return (rcs_dbsm - 40.0 * np.log10(np.maximum(range_m, 0.5) / NEAR_REFERENCE_RANGE_M)
            + np.where(far, FAR_BEAM_GAIN_DB, 0.0))


def detected(snr_db: np.ndarray, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Swerling-1 detection: (detected mask, the scan's power fluctuation in dB) [RE]."""
    fluctuation_db = 10.0 * np.log10(np.maximum(rng.exponential(1.0, np.shape(snr_db)), 1e-6))
    return snr_db + fluctuation_db > 0.0, fluctuation_db


def resolution_cells(range_m: np.ndarray, az_rad: np.ndarray, far: np.ndarray) -> np.ndarray:
    """(M, 3) integer cell ids (beam, range cell, azimuth cell): returns sharing a cell are one
    cluster, the sensor cannot separate them [DS]."""
    dr = np.where(far, RANGE_RESOLUTION_M['far'], RANGE_RESOLUTION_M['near'])
    daz = np.radians(np.where(far, FAR_AZ_RESOLUTION_DEG,
                              np.interp(np.abs(np.degrees(az_rad)), *AZ_RESOLUTION_BY_AZ_DEG)))
    return np.stack([far.astype(np.int64), np.floor(range_m / dr).astype(np.int64),
                     np.floor(az_rad / daz).astype(np.int64)], axis=1)
