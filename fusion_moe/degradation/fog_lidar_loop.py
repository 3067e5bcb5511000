"""LiDAR fog as a plain per-point loop from the paper's equations: the slow twin of ``fog_lidar``.

Hahner et al., ICCV 2021, eqs. for the received power of a hard and a soft target in fog (see
``fog_lidar``'s docstring for the model). Nothing here reuses the fast path's lookup table,
convolution or interpolation: for every point the soft-target integral J(R) is evaluated by
Simpson's rule over the pulse time t at each candidate range R <= R0 (a 1 cm grid plus R0
itself), and the search for its maximum stops once an upper bound on J past R (the pulse
energy over the nearest possible range squared) is below the best value found. It exists so
that tests and ``benchmarks/lidar_fog_fidelity.py`` can hold the vectorised path against it;
per point it is tens of thousands of times slower (a few ms a point).
"""
import math
from typing import Dict, Optional, Tuple

import numpy as np

from .fog_lidar import (BACKSCATTER_PER_MOR, MAX_INTENSITY, OVERLAP_R1_M, OVERLAP_R2_M,
                        RANGE_NOISE_M, SPEED_OF_LIGHT_M_S, TARGET_GAMMA, TAU_H_S)

_SEARCH_STEP_M = 0.01
_TIME_SAMPLES = 201                   # odd, for Simpson's rule: 3 cm of R' per sample
_CHUNK = 128                          # candidate ranges evaluated at once


def _overlap(r_m: np.ndarray) -> np.ndarray:
    """xi(R): 0 up to r1, linear to 1 at r2, then 1."""
    return np.clip((r_m - OVERLAP_R1_M) / (OVERLAP_R2_M - OVERLAP_R1_M), 0.0, 1.0)


def soft_target_integral(range_m: np.ndarray, alpha: float, tau_h_s: float = TAU_H_S
                         ) -> np.ndarray:
    """J(R) = int_0^{2 tau_H} sin^2(pi t / 2 tau_H) xi(R') exp(-2 alpha R') / R'^2 dt.

    R' = R - c t / 2 is the range of the fog that scatters the pulse back at time t.

    Args:
        range_m: (M,) ranges R [m].
    Returns:
        (M,) J [s/m^2], by Simpson's rule on _TIME_SAMPLES samples of t.
    """
    t = np.linspace(0.0, 2.0 * tau_h_s, _TIME_SAMPLES)
    r_prime = range_m[:, None] - SPEED_OF_LIGHT_M_S * t[None, :] / 2.0
    with np.errstate(divide='ignore', invalid='ignore'):
        f = np.where(r_prime > OVERLAP_R1_M,
                     np.sin(np.pi * t / (2.0 * tau_h_s)) ** 2 * _overlap(r_prime)
                     * np.exp(-2.0 * alpha * r_prime) / r_prime ** 2, 0.0)
    weights = np.ones(_TIME_SAMPLES)
    weights[1:-1:2], weights[2:-1:2] = 4.0, 2.0
    return f @ weights * (t[1] - t[0]) / 3.0


def peak_soft_response(r0_m: float, alpha: float, tau_h_s: float = TAU_H_S
                       ) -> Tuple[float, float]:
    """(max_{R <= R0} J(R), argmax) for one hard target at R0; (0, R0) if R0 <= r1."""
    if r0_m <= OVERLAP_R1_M:
        return 0.0, r0_m
    pulse_len_m = SPEED_OF_LIGHT_M_S * tau_h_s
    best_j, best_r = 0.0, r0_m
    start = OVERLAP_R1_M
    while start < r0_m:
        candidates = start + _SEARCH_STEP_M * np.arange(_CHUNK)
        candidates = np.append(candidates[candidates < r0_m], r0_m)
        j = soft_target_integral(candidates, alpha, tau_h_s)
        k = int(np.argmax(j))
        if j[k] > best_j:
            best_j, best_r = float(j[k]), float(candidates[k])
        start += _SEARCH_STEP_M * _CHUNK
        # past `start` every R' >= start - c tau_H: J <= tau_H exp(-2 alpha R'_min) / R'_min^2
        nearest = start - pulse_len_m
        if nearest > OVERLAP_R2_M and \
                tau_h_s * math.exp(-2.0 * alpha * nearest) / nearest ** 2 < best_j:
            break
    return best_j, best_r


def simulate_lidar_fog_loop(points: np.ndarray, visibility_m: float, rng: np.random.Generator,
                            range_noise_m: float = RANGE_NOISE_M, noise_floor: float = 0.0,
                            tau_h_s: float = TAU_H_S, beta_per_m_sr: Optional[float] = None
                            ) -> Tuple[np.ndarray, np.ndarray, Dict[str, int]]:
    """Same contract as ``fog_lidar.simulate_lidar_fog`` (without the pulse-peak shift).

    Returns ``(points (N', C) float32, is_fog_return (N',) bool, counts)``. Draws one
    ``rng.random()`` per fog return, in input order.
    """
    alpha = math.log(20.0) / visibility_m
    beta = BACKSCATTER_PER_MOR / visibility_m if beta_per_m_sr is None else beta_per_m_sr
    beta_over_beta0 = beta / (TARGET_GAMMA / math.pi)
    rows, fog_flags = [], []
    lost = 0
    for point in points:
        x, y, z, intensity = (float(v) for v in point[:4])
        r0 = math.sqrt(x * x + y * y + z * z)
        i_hard = float(round(intensity * math.exp(-2.0 * alpha * r0)))
        j, peak_m = peak_soft_response(r0, alpha, tau_h_s)
        i_soft = min(intensity * r0 * r0 * beta_over_beta0 * j, MAX_INTENSITY)
        is_fog = i_soft > i_hard
        reported = i_soft if is_fog else i_hard
        if reported < noise_floor and intensity > 0:
            lost += 1
            continue
        row = point.astype(np.float64)
        row[3] = reported
        if is_fog:
            # d ~ U(R0 - n, R0 + n), kept to the d for which r1 <= peak R0 / d <= R0
            d_low = max(r0 - range_noise_m, peak_m)
            d_high = max(min(r0 + range_noise_m, peak_m * r0 / OVERLAP_R1_M), d_low)
            d = d_low + (d_high - d_low) * rng.random()
            row[:3] *= (peak_m * r0 / d) / r0
        rows.append(row)
        fog_flags.append(is_fog)
    out = np.array(rows, dtype=np.float32).reshape(-1, points.shape[1])
    is_fog_return = np.array(fog_flags, dtype=bool)
    return out, is_fog_return, {'lost': lost, 'fog_returns': int(is_fog_return.sum()),
                                'kept': len(out)}
