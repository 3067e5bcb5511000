"""Radar statistics of whole scans (Continental ARS 408 clusters as nuScenes stores them):
points per scan before and after the devkit's default filters, the RCS distribution, the shares
of the state codes, and the sensor's own reported position / velocity accuracy.

Input: ``RadarScanRecord.points`` (18, K), every point of a scan in ``RadarPointCloud`` field
order (radar frame: x along the boresight, y left, metres; velocities m/s; RCS dBsm).
"""
from typing import Dict, List, Sequence

import numpy as np

from fusion_moe.data.radar_file import RADAR_PCD_FIELDS, RadarFilter

from .sources import RadarScanRecord

FIELD = {name: k for k, name in enumerate(RADAR_PCD_FIELDS)}
#: The code ranges of the state fields (the devkit's RadarPointCloud.from_file docstring).
STATE_CODES: Dict[str, Sequence[int]] = {
    'dyn_prop': range(8), 'ambig_state': range(5), 'invalid_state': range(18),
    'pdh0': range(8)}
RMS_FIELDS = ('x_rms', 'y_rms', 'vx_rms', 'vy_rms')


def decode_rms(codes: np.ndarray) -> np.ndarray:
    """Standard deviations [m or m/s] from the ARS 408's 5-bit quality codes.

    The sensor's cluster quality message (Cluster_DistLong_rms, _DistLat_rms, _VrelLong_rms,
    _VrelLat_rms: nuScenes' x_rms, y_rms, vx_rms, vy_rms) encodes the standard deviation on a
    geometric scale from 0.005 (code 0) to 10 (code 30): code c means "< 0.005 * 2000**(c/30)"
    (e.g. 16 -> 0.288, 19 -> 0.616, 21 -> 1.023); code 31 is "invalid" (NaN here). Written
    by hand: the devkit reads the codes but does not decode them.
    """
    codes = np.asarray(codes, dtype=np.float64)
    out = 0.005 * 2000.0 ** (codes / 30.0)
    return np.where((codes >= 0) & (codes <= 30), out, np.nan)


def default_filter_mask(points: np.ndarray) -> np.ndarray:
    """(K,) bool: the points the devkit's default filters keep (invalid_state 0, dyn_prop 0-6,
    ambig_state 3), for (18, K) points."""
    return RadarFilter().mask(points.T)


def scan_statistics(scans: Sequence[RadarScanRecord]) -> Dict[str, np.ndarray]:
    """Per-scan counts and per-point values over ``scans``.

    Returns ``points_per_scan`` and ``kept_per_scan`` (K before / after the default filters),
    ``rcs`` [dBsm] of the kept points, every point's state codes under their field names, and
    the decoded ``*_rms`` [m, m/s] of the kept points.
    """
    if not scans:
        raise ValueError('no radar scans to describe')
    per_scan: List[int] = []
    kept: List[int] = []
    rcs, codes, rms = [], {k: [] for k in STATE_CODES}, {k: [] for k in RMS_FIELDS}
    for scan in scans:
        pts = scan.points
        pts = pts[:, np.isfinite(pts[:2]).all(axis=0)]          # nuScenes' empty-scan marker
        keep = default_filter_mask(pts)
        per_scan.append(pts.shape[1])
        kept.append(int(keep.sum()))
        rcs.append(pts[FIELD['rcs'], keep])
        for name in STATE_CODES:
            codes[name].append(pts[FIELD[name]].astype(np.int64))
        for name in RMS_FIELDS:
            rms[name].append(decode_rms(pts[FIELD[name], keep]))
    out = {'points_per_scan': np.array(per_scan), 'kept_per_scan': np.array(kept),
           'rcs': np.concatenate(rcs)}
    out.update({k: np.concatenate(v) for k, v in codes.items()})
    out.update({f'{k}_m' if k[0] != 'v' else f'{k}_mps': np.concatenate(v)
                for k, v in rms.items()})
    return out
