"""LiDAR fog on the real keyframe, per alpha: ours, and Hahner et al.'s reference side by side.

For each alpha of the authors' lookup tables (beta = 0.046 / MOR, MOR = ln(20) / alpha) it
prints, on the real nuScenes keyframe scan (HDL-32E, 34,688 points): the fraction of points
that became fog returns, the fraction lost, and the mean (and median) range of the fog returns
(seed 0, and the mean and standard deviation of that mean over ``--seeds`` seeds).
With ``--reference DIR`` (a checkout of github MartinHahner/LiDAR_fog_sim; this script only
imports its ``fog_simulation.py`` and calls ``simulate_fog`` as its ``__main__`` does, with
``noise=10``, variant 'v1', but passes beta = 0.046 / MOR: its ``ParameterSet(alpha=...)``
leaves beta at the value of its default alpha 0.06) the same for the reference, plus how the
two compare:

- decisions (hard return kept vs fog return) are deterministic in both: ``disagree`` counts
  the points decided differently;
- fog-return intensities are deterministic too: median / max relative difference;
- fog-return ranges carry random noise in both (different streams), so they are compared as
  distributions: mean and median, the reference's share of physically impossible fog returns
  (behind their own target, nearer than the overlap start, or mirrored through the sensor;
  ours are drawn from the same law conditioned on lying in front of the target) and the
  mean over its possible ones, and the two-sample Kolmogorov-Smirnov p-value of the ranges of
  the fog returns whose target is at least 15 m away (there both laws are the same; the
  reference's peaks lie on its 0.1 m table grid, up to 4.5 cm off ours, which a KS test on
  8,000 ranges can just see); ``U p`` checks the law itself: the reference's draws recovered
  from its ranges and its own table, d = peak R0 / range, against U(R0 - 10, R0 + 10).

Speed (1 thread, medians, the implementations timed alternately in one run at alpha 0.06): ours
on the whole scan against ``fog_lidar_loop`` (the plain per-point loop of the paper's
equations; timed on a subsample and compared per point) and, when given, the reference.

    python benchmarks/lidar_fog_fidelity.py [--json PATH] [--reference DIR] [--repeats N]
        [--seeds N] [--loop-points N]
"""
import argparse
import glob
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT  # noqa: E402
from fusion_moe.degradation.fog_lidar import (OVERLAP_R1_M, BACKSCATTER_PER_MOR,  # noqa: E402
                                              simulate_lidar_fog, soft_target_table)
from fusion_moe.degradation.fog_lidar_loop import simulate_lidar_fog_loop  # noqa: E402

#: The alphas [1/m] of the reference's lookup tables.
REFERENCE_ALPHAS = (0.005, 0.01, 0.02, 0.03, 0.06, 0.1, 0.12, 0.15, 0.2)
TIMING_ALPHA = 0.06
KS_MIN_TARGET_RANGE_M = 15.0
REFERENCE_NOISE_M = 10                # ``simulate_fog(..., noise=10)`` in its __main__


def load_scan(root: str) -> np.ndarray:
    """(N, 5) float32 keyframe scan: x, y, z, intensity, ring."""
    paths = glob.glob(os.path.join(root, 'lidar', '*LIDAR_TOP*.pcd.bin'))
    if len(paths) != 1:
        raise FileNotFoundError(f'expected one LIDAR_TOP .pcd.bin under {root}/lidar, '
                                f'found {paths}')
    return np.fromfile(paths[0], dtype=np.float32).reshape(-1, 5)


def ranges(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[:, :3].astype(np.float64), axis=1)


def visibility(alpha: float) -> float:
    return float(np.log(20.0) / alpha)


class Reference:
    """The authors' ``simulate_fog`` on one scan, as their ``__main__`` calls it."""

    def __init__(self, checkout: str) -> None:
        sys.path.insert(0, os.path.abspath(checkout))
        import fog_simulation                        # the reference's module, from DIR
        self.module = fog_simulation

    def __call__(self, scan: np.ndarray, alpha: float) -> Dict[str, Any]:
        params = self.module.ParameterSet(alpha=alpha,
                                          beta=BACKSCATTER_PER_MOR / visibility(alpha))
        out, _, info = self.module.simulate_fog(params, scan.astype(np.float64),
                                                REFERENCE_NOISE_M)
        is_fog = np.abs(ranges(out) - ranges(scan)) > 1e-6
        if int(is_fog.sum()) != info['num_fog_responses']:
            raise RuntimeError('could not tell the reference fog returns from the moved rows')
        # its fog peak per point, looked up in its own table as it does
        table = self.module.get_integral_dict(params)
        peak = np.array([table[min(float(str(round(r, 1))), 200)][0] for r in ranges(scan)])
        return {'points': out, 'is_fog_return': is_fog, 'peak_m': peak}


def ours(scan: np.ndarray, alpha: float, seed: int = 0) -> Dict[str, Any]:
    result = simulate_lidar_fog(scan, visibility(alpha), np.random.default_rng(seed))
    return {'points': result.points, 'is_fog_return': result.is_fog_return,
            'lost': result.counts['lost'], 'alpha': alpha}


def summary(scan: np.ndarray, run: Dict[str, Any]) -> Dict[str, float]:
    fog = run['is_fog_return']
    r_fog = ranges(run['points'][fog])
    return {'fog_fraction': float(fog.mean()),
            'lost_fraction': 1.0 - len(run['points']) / len(scan),
            'mean_fog_range_m': float(r_fog.mean()) if fog.any() else float('nan'),
            'median_fog_range_m': float(np.median(r_fog)) if fog.any() else float('nan')}


def compare(scan: np.ndarray, mine: Dict[str, Any], theirs: Dict[str, Any]) -> Dict[str, Any]:
    """Decisions, intensities and range distributions of the two (same row order, none lost)."""
    from scipy.stats import ks_2samp, kstest
    r0 = ranges(scan)
    fog, fog_ref = mine['is_fog_return'], theirs['is_fog_return']
    both = fog & fog_ref
    rel = (np.abs(mine['points'][both, 3] - theirs['points'][both, 3])
           / np.maximum(theirs['points'][both, 3], 1e-12))
    pts_ref = theirs['points']
    r_ref = ranges(pts_ref)
    same_side = np.einsum('ij,ij->i', pts_ref[:, :3], scan[:, :3].astype(np.float64)) > 0
    possible = fog_ref & same_side & (r_ref >= OVERLAP_R1_M - 1e-6) & (r_ref <= r0 + 1e-6)
    far = r0 >= KS_MIN_TARGET_RANGE_M
    a, b = ranges(mine['points'][fog & far]), r_ref[fog_ref & far]
    # the reference's draw d = peak R0 / range should be U(R0 - n, R0 + n) there
    sel = fog_ref & far
    u = (theirs['peak_m'][sel] * r0[sel] / r_ref[sel] - (r0[sel] - REFERENCE_NOISE_M)) \
        / (2 * REFERENCE_NOISE_M)
    return {
        'disagree': int((fog != fog_ref).sum()),
        'intensity_rel_diff_median': float(np.median(rel)) if both.any() else 0.0,
        'intensity_rel_diff_max': float(rel.max()) if both.any() else 0.0,
        'reference_impossible_fraction': (float(1.0 - possible.sum() / fog_ref.sum())
                                          if fog_ref.any() else 0.0),
        'reference_mean_possible_fog_range_m': (float(r_ref[possible].mean())
                                                if possible.any() else float('nan')),
        'ks_p_far_targets': float(ks_2samp(a, b).pvalue) if min(len(a), len(b)) > 20
        else float('nan'),
        'ks_n_far_targets': [len(a), len(b)],
        'fog_peak_m_far_target': [float(soft_target_table(mine['alpha'])[1][-1]),
                                  float(theirs['peak_m'][r0.argmax()])],
        'near_fog_returns_within_5m': int((both & (r0 < 5.0)).sum()),
        'ks_p_reference_draws_uniform': (float(kstest(u, 'uniform').pvalue) if len(u) > 20
                                         else float('nan')),
    }


def timed(fn: Callable[[], Any], times: List[float]) -> None:
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)


def speed(scan: np.ndarray, reference: Optional[Reference], repeats: int, loop_points: int
          ) -> Dict[str, Any]:
    """Per-point seconds of ours, the loop and the reference, timed alternately."""
    sub = scan[np.random.default_rng(0).choice(len(scan), loop_points, replace=False)]
    vis = visibility(TIMING_ALPHA)
    t_ours: List[float] = []
    t_loop: List[float] = []
    t_ref: List[float] = []
    ours(scan, TIMING_ALPHA)                                    # warm the table cache
    for _ in range(repeats):
        timed(lambda: ours(scan, TIMING_ALPHA), t_ours)
        timed(lambda: simulate_lidar_fog_loop(sub, vis, np.random.default_rng(0)), t_loop)
        if reference is not None:
            timed(lambda: reference(scan, TIMING_ALPHA), t_ref)
    out: Dict[str, Any] = {'alpha': TIMING_ALPHA, 'repeats': repeats, 'points': len(scan),
                           'loop_points': loop_points,
                           'ours_ms': 1e3 * statistics.median(t_ours),
                           'loop_ms_per_1k_points': 1e6 * statistics.median(t_loop) / loop_points}
    per_point_ours = statistics.median(t_ours) / len(scan)
    out['loop_over_ours'] = statistics.median(t_loop) / loop_points / per_point_ours
    if t_ref:
        out['reference_ms'] = 1e3 * statistics.median(t_ref)
        out['reference_over_ours'] = statistics.median(t_ref) / statistics.median(t_ours)
    return out


def print_table(rows: List[Dict[str, Any]], with_reference: bool) -> None:
    head = (f"{'alpha':>6} {'MOR m':>6} | {'fog':>7} {'lost':>6} {'mean R':>6} "
            f"{'seeds':>11} {'med R':>6}")
    if with_reference:
        head += (f" || {'ref fog':>7} {'ref lost':>8} {'mean R':>6} {'poss.':>6} {'med R':>6} "
                 f"{'imposs':>6} | {'disagr':>6} {'I rel med':>9} {'KS p':>5} {'U p':>5}")
    print(head)
    for row in rows:
        o = row['ours']
        seeds_mean, seeds_sd = o['mean_fog_range_m_over_seeds']
        line = (f"{row['alpha']:>6} {row['visibility_m']:>6.1f} | {o['fog_fraction']:>7.4f} "
                f"{o['lost_fraction']:>6.4f} {o['mean_fog_range_m']:>6.2f} "
                f"{seeds_mean:>5.2f}+-{seeds_sd:<4.2f} "
                f"{o['median_fog_range_m']:>6.2f}")
        if with_reference:
            r, c = row['reference'], row['comparison']
            line += (f" || {r['fog_fraction']:>7.4f} {r['lost_fraction']:>8.4f} "
                     f"{r['mean_fog_range_m']:>6.2f} "
                     f"{c['reference_mean_possible_fog_range_m']:>6.2f} "
                     f"{r['median_fog_range_m']:>6.2f} "
                     f"{c['reference_impossible_fraction']:>6.4f} | {c['disagree']:>6d} "
                     f"{c['intensity_rel_diff_median']:>9.1e} {c['ks_p_far_targets']:>5.2f} "
                     f"{c['ks_p_reference_draws_uniform']:>5.2f}")
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--reference', help='checkout of MartinHahner/LiDAR_fog_sim')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--loop-points', type=int, default=300,
                        help='subsample on which the slow per-point loop is timed')
    parser.add_argument('--seeds', type=int, default=20,
                        help='seeds over which our mean fog range is averaged')
    parser.add_argument('--real-root', default=REAL_FIXTURE_ROOT)
    args = parser.parse_args()

    scan = load_scan(args.real_root)
    reference = Reference(args.reference) if args.reference else None
    rows = []
    for alpha in REFERENCE_ALPHAS:
        mine = ours(scan, alpha)
        row: Dict[str, Any] = {'alpha': alpha, 'visibility_m': visibility(alpha),
                               'ours': summary(scan, mine)}
        # the spread of our mean fog range over seeds, to judge a gap to the reference's
        means = [summary(scan, ours(scan, alpha, seed))['mean_fog_range_m']
                 for seed in range(args.seeds)]
        row['ours']['mean_fog_range_m_over_seeds'] = [float(np.mean(means)),
                                                      float(np.std(means))]
        if reference is not None:
            theirs = reference(scan, alpha)
            row['reference'] = summary(scan, theirs)
            row['comparison'] = compare(scan, mine, theirs)
        rows.append(row)
    out = {'points': len(scan), 'threads': torch.get_num_threads(),
           'load_average_1m_at_start': os.getloadavg()[0], 'per_alpha': rows,
           'speed': speed(scan, reference, args.repeats, args.loop_points)}
    print_table(rows, reference is not None)
    print(json.dumps(out['speed'], indent=2))
    if args.json:
        with open(args.json, 'w') as f:
            f.write(json.dumps(out, indent=2) + '\n')


if __name__ == '__main__':
    main()
