"""LiDAR in fog: the physical model of Hahner et al., ICCV 2021, vectorised.

M. Hahner, C. Sakaridis, D. Dai, L. Van Gool, "Fog Simulation on Real LiDAR Point Clouds for
3D Object Detection in Adverse Weather", ICCV 2021 (after Rasshofer et al. 2011). Written here
by hand because no maintained library packages it; the authors' reference code loops over
points in Python with precomputed pickles, this module computes the same quantities in closed
vectorised form.

Model, for a point at range R0 (metres, from the LiDAR origin) with clean intensity i:

- Pulse: P0(t) = P0 sin^2(pi t / (2 tau_H)) for 0 <= t <= 2 tau_H (half-power width tau_H).
- Hard target (the object that made the point): its peak received power in fog is the clear
  power times the two-way attenuation, i_hard = i exp(-2 alpha R0), alpha = ln(20) / MOR.
- Soft target (the fog itself, backscattering coefficient beta = 0.046 / MOR per sr): the
  received power at range R is the pulse integrated over the fog between the sensor and R0,
  P_soft(R) = C_A P0 beta * J(R) with
  J(R) = int_0^{2 tau_H} sin^2(pi t / (2 tau_H)) xi(R') exp(-2 alpha R') / R'^2 dt,
  R' = R - c t / 2, where xi is the transmitter/receiver overlap (0 below r1, linear to 1 at
  r2). Dividing by the clear hard-target power C_A P0 beta0 / R0^2 (beta0 = Gamma / pi, the
  target's differential reflectivity) expresses it in intensity units:
  i_soft = i * R0^2 * (beta / beta0) * max_{R <= R0} J(R), capped at 255.
- If i_soft > i_hard the sensor reports the fog peak instead of the object: the point moves
  along its ray to the range of the fog peak (shifted by c tau_H / 2 so that a hard target
  peaks at R0, as the authors do), jittered uniformly by +-c tau_H / 2 because the soft
  response is flat over about one pulse length, with intensity i_soft.
- If the stronger of the two returns falls below the noise floor (default 0.5 intensity
  counts: it would read 0 in nuScenes' integer intensity) the point is lost. Points whose
  clean intensity is already 0 are kept as they are (the clean scan shows their power was
  above the detector's threshold, and 0 carries no attenuation information).

Approximations (stated): J is tabulated on a 1 cm grid of R and looked up at the nearest
node; the range of older sweeps is measured from the keyframe LiDAR origin (the ego moves at
most a few metres within the sweep window, which hardly changes exp(-2 alpha R)).
"""
from functools import lru_cache
from typing import Dict, Optional, Tuple

import numpy as np

SPEED_OF_LIGHT_M_S = 299_792_458.0

#: Sensor and target constants of the authors' default parameter set.
TAU_H_S = 20e-9          # half-power pulse width [s]
OVERLAP_R1_M = 0.9       # range where the receiver starts to see the transmitted beam [m]
OVERLAP_R2_M = 1.0       # range where it sees all of it [m]
BACKSCATTER_PER_MOR = 0.046   # beta = 0.046 / MOR [1/(m sr)]
TARGET_GAMMA = 1e-6      # hard-target reflectivity Gamma; beta0 = Gamma / pi [1/sr]

_TABLE_STEP_M = 0.01
_TABLE_MAX_M = 40.0


def attenuation_coefficient(visibility_m: float) -> float:
    """alpha [1/m] from the meteorological optical range: MOR = ln(20) / alpha."""
    if not visibility_m > 0:
        raise ValueError(f'visibility must be positive, got {visibility_m} m')
    return float(np.log(20.0) / visibility_m)


@lru_cache(maxsize=32)
def soft_target_table(alpha: float, tau_h_s: float = TAU_H_S, r1_m: float = OVERLAP_R1_M,
                      r2_m: float = OVERLAP_R2_M) -> Tuple[np.ndarray, np.ndarray]:
    """Peak fog response and its range as functions of the hard-target range R0.

    Returns:
        j_max: (K,) float64, max_{R <= R0} J(R) in s/m^2 for R0 = k * 1 cm.
        fog_range: (K,) float64, range [m] of that peak, shifted by -c tau_H / 2.
        Beyond the last node both are constant (the peak lies well inside the table).
    """
    r = np.arange(0.0, _TABLE_MAX_M, _TABLE_STEP_M)
    overlap = np.clip((r - r1_m) / max(r2_m - r1_m, 1e-9), 0.0, 1.0)
    with np.errstate(divide='ignore', invalid='ignore'):
        g = np.where(r > r1_m, overlap * np.exp(-2.0 * alpha * r) / r ** 2, 0.0)
    pulse_len_m = SPEED_OF_LIGHT_M_S * tau_h_s
    lag = np.arange(0.0, pulse_len_m, _TABLE_STEP_M)
    kernel = np.sin(np.pi * lag / pulse_len_m) ** 2
    # J(R) = (2 / c) * int g(R') k(R - R') dR'  (t = 2 (R - R') / c)
    j = np.convolve(g, kernel)[:len(r)] * _TABLE_STEP_M * 2.0 / SPEED_OF_LIGHT_M_S
    j_max = np.maximum.accumulate(j)
    argmax = np.maximum.accumulate(np.where(j == j_max, np.arange(len(j)), 0))
    if argmax[-1] >= len(r) - len(lag):
        raise RuntimeError(f'fog response peak beyond the table for alpha={alpha}')
    fog_range = np.maximum(r[argmax] - pulse_len_m / 2.0, r2_m)
    return j_max, fog_range


def simulate_lidar_fog(points: np.ndarray, visibility_m: float, rng: np.random.Generator,
                       noise_floor: float = 0.5, tau_h_s: float = TAU_H_S,
                       backscatter_per_m_sr: Optional[float] = None
                       ) -> Tuple[np.ndarray, Dict[str, int]]:
    """Apply fog to a point cloud.

    Args:
        points: (N, C) float32, C >= 4: x, y, z [m, LiDAR frame], intensity [0-255], then any
            further columns (ring, time_lag, ...) which are carried over unchanged.
        visibility_m: meteorological optical range [m].
        rng: random stream for the range jitter of fog returns.
        noise_floor: returns weaker than this (intensity units) are lost.
        backscatter_per_m_sr: beta [1/(m sr)]; None for 0.046 / MOR (suite presets set it).

    Returns:
        (N', C) float32 with N' <= N (lost points removed, fog returns replacing the points
        they hid, in the input order), and counts ``{'lost', 'fog_returns', 'kept'}``.
    """
    alpha = attenuation_coefficient(visibility_m)
    beta = (BACKSCATTER_PER_MOR / visibility_m if backscatter_per_m_sr is None
            else backscatter_per_m_sr)
    beta_over_beta0 = beta / (TARGET_GAMMA / np.pi)
    j_max, fog_range = soft_target_table(alpha, tau_h_s)

    xyz = points[:, :3].astype(np.float64)
    intensity = points[:, 3].astype(np.float64)
    r0 = np.sqrt(np.einsum('ij,ij->i', xyz, xyz))
    idx = np.minimum((r0 / _TABLE_STEP_M + 0.5).astype(np.int64), len(j_max) - 1)

    i_hard = intensity * np.exp(-2.0 * alpha * r0)
    i_soft = np.minimum(intensity * r0 ** 2 * beta_over_beta0 * j_max[idx], 255.0)
    is_fog = i_soft > i_hard
    lost = (np.maximum(i_soft, i_hard) < noise_floor) & (intensity > 0)
    is_fog &= ~lost
    keep = ~lost

    out = points.copy()
    out[:, 3] = np.where(is_fog, i_soft, i_hard)
    n_fog = int(is_fog.sum())
    if n_fog:
        half_pulse_m = SPEED_OF_LIGHT_M_S * tau_h_s / 2.0
        new_range = np.maximum(
            fog_range[idx[is_fog]] + rng.uniform(-half_pulse_m, half_pulse_m, n_fog),
            OVERLAP_R2_M)
        scale = new_range / np.maximum(r0[is_fog], 1e-6)
        out[is_fog, :3] = xyz[is_fog] * scale[:, None]
    out = out[keep]
    return out.astype(np.float32, copy=False), {
        'lost': int(lost.sum()), 'fog_returns': n_fog, 'kept': int(keep.sum())}
