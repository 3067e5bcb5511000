"""LiDAR in fog: the physical model of Hahner et al., ICCV 2021, vectorised.

M. Hahner, C. Sakaridis, D. Dai, L. Van Gool, "Fog Simulation on Real LiDAR Point Clouds for
3D Object Detection in Adverse Weather", ICCV 2021 (after Rasshofer et al. 2011). Written here
by hand because no maintained library packages it. The authors' reference code
(github MartinHahner/LiDAR_fog_sim, ``fog_simulation.py``) loops over the points in Python and
reads precomputed pickles; this module makes the same decisions in closed vectorised form and
agrees with it on the real nuScenes keyframe (``benchmarks/lidar_fog_fidelity.py``).

Model, for a point at range R0 (metres, from the LiDAR origin) with clean intensity i (the
sensor's integer count, 0-255 in nuScenes):

- Pulse: P0(t) = P0 sin^2(pi t / (2 tau_H)) for 0 <= t <= 2 tau_H (half-power width tau_H).
- Hard target (the object that made the point): two-way attenuation of its echo,
  i_hard = round(i exp(-2 alpha R0)), alpha = ln(20) / MOR. The sensor reports integer counts,
  and so does the reference: an echo attenuated below half a count reads 0.
- Soft target (the fog itself, backscattering coefficient beta = 0.046 / MOR per sr): the
  received power at range R is C_A P0 beta J(R) with
  J(R) = int_0^{2 tau_H} sin^2(pi t / (2 tau_H)) xi(R') exp(-2 alpha R') / R'^2 dt,
  R' = R - c t / 2, where xi is the transmitter/receiver overlap (0 below r1, linear to 1 at
  r2). Divided by the clear hard-target power C_A P0 beta0 / R0^2 (beta0 = Gamma / pi, the
  target's differential reflectivity) it is in intensity units:
  i_soft = min(i R0^2 (beta / beta0) max_{R <= R0} J(R), 255), and the peak lies at
  R_peak(R0) = argmax_{R <= R0} J(R) (about 4.5-4.7 m once R0 is past it).
- If i_soft > i_hard the sensor reports the fog peak instead of the object: the point moves
  along its ray to R_peak R0 / d with intensity i_soft, where d ~ U(R0 - n, R0 + n), n = 10 m
  (the reference's ``noise=10``, variant 'v1'). Otherwise it stays, with intensity i_hard.
  Nothing is deleted: a weak echo is replaced by a weak fog return or kept at 0 counts.

Where this differs from the reference, on purpose:

- The reference lets d fall near or below 0 for R0 < n + R_peak, which puts fog returns behind
  their own target, kilometres away or mirrored through the sensor. Here d is drawn from the
  same law conditioned on the return lying between the overlap start r1 and R0 (fog echoes
  come from the air in front of the target). For R0 >= n + R_peak (about 15 m, most fog
  returns) the condition removes nothing and the law is the reference's.
- J is tabulated on a 1 cm grid of R (the reference: 0.1 m) and interpolated linearly in R0;
  the reference's default table is the unshifted one ('original'), as here by default.
  ``shift_to_pulse_peak=True`` subtracts c tau_H / 2 from R_peak so that fog and hard echoes
  use the same convention (the hard echo peaks c tau_H / 2 after its pulse start).
- The reference's ``__main__`` builds ``ParameterSet(alpha=...)``, which keeps the beta of its
  default alpha 0.06 for every alpha; here beta = 0.046 / MOR, as the paper states.
- The reference zeroes the columns after the fifth of a fog return; here they are carried over
  (ring, time_lag).
- ``noise_floor`` (off by default; the reference has none) deletes points whose reported
  intensity is below it, as a detection threshold would.

The range of older sweeps is measured from the keyframe LiDAR origin (the ego moves at most a
few metres within the sweep window, which hardly changes exp(-2 alpha R)).
"""
from functools import lru_cache
from typing import Dict, NamedTuple, Optional, Tuple

import numpy as np

SPEED_OF_LIGHT_M_S = 299_792_458.0

#: Sensor and target constants of the authors' default parameter set.
TAU_H_S = 20e-9          # half-power pulse width [s]
OVERLAP_R1_M = 0.9       # range where the receiver starts to see the transmitted beam [m]
OVERLAP_R2_M = 1.0       # range where it sees all of it [m]
BACKSCATTER_PER_MOR = 0.046   # beta = 0.046 / MOR [1/(m sr)]
TARGET_GAMMA = 1e-6      # hard-target reflectivity Gamma; beta0 = Gamma / pi [1/sr]
RANGE_NOISE_M = 10.0     # n of the fog-return range noise (the reference's ``noise=10``)
MAX_INTENSITY = 255.0

TABLE_STEP_M = 0.01
_TABLE_MAX_M = 40.0


def attenuation_coefficient(visibility_m: float) -> float:
    """alpha [1/m] from the meteorological optical range: MOR = ln(20) / alpha."""
    if not visibility_m > 0:
        raise ValueError(f'visibility must be positive, got {visibility_m} m')
    return float(np.log(20.0) / visibility_m)


def backscatter_ratio(visibility_m: float, beta_per_m_sr: Optional[float] = None) -> float:
    """beta / beta0: fog backscatter (default 0.046 / MOR) over the target's Gamma / pi."""
    attenuation_coefficient(visibility_m)                  # validates the visibility
    if beta_per_m_sr is None:
        beta_per_m_sr = BACKSCATTER_PER_MOR / visibility_m
    elif not beta_per_m_sr >= 0:
        raise ValueError(f'backscattering coefficient must be >= 0, got {beta_per_m_sr}')
    return beta_per_m_sr / (TARGET_GAMMA / np.pi)


@lru_cache(maxsize=32)
def soft_target_table(alpha: float, tau_h_s: float = TAU_H_S, r1_m: float = OVERLAP_R1_M,
                      r2_m: float = OVERLAP_R2_M) -> Tuple[np.ndarray, np.ndarray]:
    """Peak fog response and its range as functions of the hard-target range R0.

    Returns:
        j_max: (K,) float64, max_{R <= R0} J(R) in s/m^2 for R0 = k * TABLE_STEP_M.
        peak_range: (K,) float64, R [m] of that maximum (unshifted, as the reference).
        Beyond the last node both are constant (the peak lies well inside the table).
    """
    r = np.arange(0.0, _TABLE_MAX_M, TABLE_STEP_M)
    overlap = np.clip((r - r1_m) / max(r2_m - r1_m, 1e-9), 0.0, 1.0)
    with np.errstate(divide='ignore', invalid='ignore'):
        g = np.where(r > r1_m, overlap * np.exp(-2.0 * alpha * r) / r ** 2, 0.0)
    pulse_len_m = SPEED_OF_LIGHT_M_S * tau_h_s
    lag = np.arange(0.0, pulse_len_m, TABLE_STEP_M)
    kernel = np.sin(np.pi * lag / pulse_len_m) ** 2
    # J(R) = (2 / c) * int g(R') k(R - R') dR'  (t = 2 (R - R') / c)
    j = np.convolve(g, kernel)[:len(r)] * TABLE_STEP_M * 2.0 / SPEED_OF_LIGHT_M_S
    j_max = np.maximum.accumulate(j)
    argmax = np.maximum.accumulate(np.where(j == j_max, np.arange(len(j)), 0))
    if argmax[-1] >= len(r) - len(lag):
        raise RuntimeError(f'fog response peak beyond the table for alpha={alpha}')
    return j_max, r[argmax]


def _interpolate(table: np.ndarray, range_m: np.ndarray) -> np.ndarray:
    """Linear interpolation of a table on the TABLE_STEP_M grid; constant past its end."""
    pos = np.minimum(range_m / TABLE_STEP_M, len(table) - 1.0)
    k = np.minimum(pos.astype(np.int64), len(table) - 2)
    w = pos - k
    return table[k] * (1.0 - w) + table[k + 1] * w


def fog_return_range(peak_m: np.ndarray, r0_m: np.ndarray, u: np.ndarray,
                     noise_m: float = RANGE_NOISE_M, r_min_m: float = OVERLAP_R1_M
                     ) -> np.ndarray:
    """Reported range of fog returns: peak R0 / d, d ~ U(R0 - n, R0 + n), r_min <= range <= R0.

    Args:
        peak_m, r0_m: (F,) fog peak range and hard-target range [m], peak <= R0.
        u: (F,) uniform [0, 1) draws, one per fog return.
    Returns:
        (F,) float64 range [m] in [min(r_min, peak), R0].
    """
    peak_m = np.minimum(peak_m, r0_m)
    low = np.maximum(r0_m - noise_m, peak_m)
    high = np.maximum(np.minimum(r0_m + noise_m, peak_m * r0_m / r_min_m), low)
    return peak_m * r0_m / np.maximum(low + (high - low) * u, 1e-9)


class LidarFogResult(NamedTuple):
    """Output of :func:`simulate_lidar_fog`.

    points: (N', C) float32, N' <= N (N' = N unless ``noise_floor`` > 0), input order.
    is_fog_return: (N',) bool, rows that are fog returns (moved along their ray).
    counts: ``{'lost', 'fog_returns', 'kept'}``.
    """
    points: np.ndarray
    is_fog_return: np.ndarray
    counts: Dict[str, int]


def simulate_lidar_fog(points: np.ndarray, visibility_m: float, rng: np.random.Generator,
                       range_noise_m: float = RANGE_NOISE_M, noise_floor: float = 0.0,
                       shift_to_pulse_peak: bool = False, tau_h_s: float = TAU_H_S,
                       beta_per_m_sr: Optional[float] = None) -> LidarFogResult:
    """Apply fog to a point cloud (module docstring: model and differences to the reference).

    Args:
        points: (N, C) float32, C >= 4: x, y, z [m, LiDAR frame], intensity [0-255 counts; the
            attenuated hard echo is rounded to whole counts, as the sensor reports], then any
            further columns (ring, time_lag, ...) which are carried over unchanged.
        visibility_m: meteorological optical range [m].
        rng: random stream for the range noise of fog returns (one uniform draw per fog
            return, in input order).
        range_noise_m: n of the fog-return range noise; 0 puts every fog return at its peak.
        noise_floor: if > 0, points whose reported intensity is below it are deleted (clean
            intensity-0 points are kept: their power was above the detector's threshold).
        shift_to_pulse_peak: report fog peaks c tau_H / 2 nearer (see module docstring).
        beta_per_m_sr: backscattering coefficient beta [1/(m sr)]; default 0.046 / MOR.
    """
    alpha = attenuation_coefficient(visibility_m)
    j_max, peak_range = soft_target_table(alpha, tau_h_s)

    xyz = points[:, :3].astype(np.float64)
    intensity = points[:, 3].astype(np.float64)
    r0 = np.sqrt(np.einsum('ij,ij->i', xyz, xyz))

    i_hard = np.round(intensity * np.exp(-2.0 * alpha * r0))
    i_soft = np.minimum(intensity * r0 ** 2 * backscatter_ratio(visibility_m, beta_per_m_sr)
                        * _interpolate(j_max, r0), MAX_INTENSITY)
    is_fog = i_soft > i_hard
    reported = np.maximum(i_soft, i_hard)
    if noise_floor > 0:
        lost = (reported < noise_floor) & (intensity > 0)
        is_fog &= ~lost
    else:
        lost = np.zeros(len(points), bool)

    out = points.astype(np.float32)                     # a copy
    out[:, 3] = reported
    fog_idx = np.flatnonzero(is_fog)
    if len(fog_idx):
        r0_fog = r0[fog_idx]
        peak = _interpolate(peak_range, r0_fog)
        if shift_to_pulse_peak:
            peak = np.maximum(peak - SPEED_OF_LIGHT_M_S * tau_h_s / 2.0, OVERLAP_R2_M)
        new_range = fog_return_range(peak, r0_fog, rng.random(len(fog_idx)), range_noise_m)
        out[fog_idx, :3] = xyz[fog_idx] * (new_range / r0_fog)[:, None]
    counts = {'lost': int(lost.sum()), 'fog_returns': len(fog_idx),
              'kept': len(points) - int(lost.sum())}
    if counts['lost']:
        out, is_fog = out[~lost], is_fog[~lost]
    return LidarFogResult(out, is_fog, counts)
