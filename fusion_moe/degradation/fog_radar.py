"""Radar (77 GHz, Continental ARS 408) in fog: mild two-way attenuation and a little clutter.

Fog droplets are tiny against a 3.9 mm wavelength, so fog attenuates radar in the Rayleigh
regime, proportionally to the liquid water content (LWC); the effect is small, which is why
radar is the sensor of choice in fog. The model, written by hand (no library covers it):

- LWC [g/m^3] from the visibility with Kunkel's (1984) fit of extinction to LWC,
  beta_ext [1/km] = 144.7 LWC^0.88, taking beta_ext = ln(20) / MOR.
- Specific attenuation gamma [dB/km] = K_l LWC with K_l ~ 3 (dB/km)/(g/m^3), the ITU-R P.840
  cloud/fog coefficient near 77 GHz at about 10 degC.
- The radar estimates RCS from received power assuming clear air, so the two-way loss shows
  up as a lower reported RCS: rcs -= 2 gamma R / 1000 (dB), R the range in metres (measured
  from the LiDAR origin; the radars sit within ~2.5 m of it, a negligible difference here).
- A few spurious near-range detections (fog clutter): Poisson count with mean
  ``CLUTTER_PER_LWC`` * LWC (about 7 at 50 m visibility), uniform in azimuth, 1-10 m away,
  weak (RCS ~ N(-10, 3) dBsm), stationary (dyn_prop 3, "stationary candidate"), at the height
  of the real returns. This clutter model is a plausible heuristic, not a measured one.
"""
from typing import Dict, Tuple

import numpy as np

KUNKEL_A = 144.7          # beta_ext [1/km] = A * LWC^B
KUNKEL_B = 0.88
K_LIQUID_77GHZ = 3.0      # (dB/km) / (g/m^3)
CLUTTER_PER_LWC = 20.0    # expected clutter points per g/m^3 of liquid water
CLUTTER_RANGE_M = (1.0, 10.0)
CLUTTER_RCS_DBSM = (-10.0, 3.0)   # mean, std
CLUTTER_DYN_PROP = 3.0
#: Height of radar returns in the nuScenes LiDAR frame when there are none to copy it from.
DEFAULT_RADAR_Z_M = -1.3


def liquid_water_content(visibility_m: float) -> float:
    """LWC [g/m^3] of fog with the given MOR [m] (Kunkel 1984)."""
    if not visibility_m > 0:
        raise ValueError(f'visibility must be positive, got {visibility_m} m')
    beta_ext_per_km = np.log(20.0) / (visibility_m / 1000.0)
    return float((beta_ext_per_km / KUNKEL_A) ** (1.0 / KUNKEL_B))


def simulate_radar_fog(radar: np.ndarray, visibility_m: float, rng: np.random.Generator
                       ) -> Tuple[np.ndarray, Dict[str, float]]:
    """Apply fog to radar returns.

    Args:
        radar: (M, 8) float32, ``RADAR_POINT_DIMS``: x, y, z [m, LiDAR frame], rcs [dBsm],
            vx_comp, vy_comp [m/s], time_lag [s], dyn_prop.
        visibility_m: MOR [m].

    Returns:
        (M + K, 8) float32 (the M attenuated returns first, then K clutter points) and
        ``{'lwc_g_m3', 'attenuation_db_per_km', 'clutter_points'}``.
    """
    lwc = liquid_water_content(visibility_m)
    gamma_db_km = K_LIQUID_77GHZ * lwc
    out = radar.astype(np.float32, copy=True)
    rng_m = np.linalg.norm(out[:, :3].astype(np.float64), axis=1)
    out[:, 3] -= (2.0 * gamma_db_km * rng_m / 1000.0).astype(np.float32)

    n_clutter = int(rng.poisson(CLUTTER_PER_LWC * lwc))
    clutter = np.zeros((n_clutter, radar.shape[1]), dtype=np.float32)
    if n_clutter:
        azimuth = rng.uniform(-np.pi, np.pi, n_clutter)
        dist = rng.uniform(*CLUTTER_RANGE_M, n_clutter)
        z = float(np.median(radar[:, 2])) if len(radar) else DEFAULT_RADAR_Z_M
        clutter[:, 0] = dist * np.cos(azimuth)
        clutter[:, 1] = dist * np.sin(azimuth)
        clutter[:, 2] = z
        clutter[:, 3] = rng.normal(*CLUTTER_RCS_DBSM, n_clutter)
        clutter[:, 7] = CLUTTER_DYN_PROP
    return np.concatenate([out, clutter], axis=0), {
        'lwc_g_m3': lwc, 'attenuation_db_per_km': gamma_db_km, 'clutter_points': n_clutter}
