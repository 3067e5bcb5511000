"""The realism table's rows: each statistic of the real fixture beside the synthetic set's,
with its distance and target.

Targets are set from what a detector would notice and from the sensors' documented
behaviour, not from either data set (the reasons are in ``TARGETS``' comments). The real
fixture is small (one keyframe, three radar scans from other logs); where it lacks an input,
the row's ``reference`` says what stands in for it:

- radar position / velocity error against ground truth: the fixture's radar scans have no
  annotations, so the real side is the sensor's own reported accuracy (decoded ``x_rms`` /
  ``vx_rms`` of its scans), a lower bound of the error against a box;
- where returns fall on the object: no real scan with boxes, so the target is the physics
  (the ARS 408 sees reflections off the sensor-facing surface);
- clutter share: the real keyframe's radar sweeps are not in the fixture; its annotations'
  ``num_radar_pts`` are, and the points per sample are taken as 5 x the mean scan of the
  three real scans;
- night and rain images: the real keyframe is a clear day; those rows are not judged.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np

from .camera_images import BRIGHTNESS_BINS
from .distances import abs_log_ratio, shares, total_variation, wasserstein1
from .lidar_scans import INTENSITY_BINS, RANGE_BINS_M, bin_centres
from .radar_objects import RANGE_BINS_M as OBJECT_RANGE_BINS_M
from .radar_objects import AssociatedReturns
from .radar_scans import STATE_CODES
from .table import Row

NUM_RADARS = 5
#: Target on each row's distance.
TARGETS: Dict[str, str] = {
    'radar_points_per_scan': '<= 0.405',     # |ln ratio|: within a factor 1.5
    'radar_kept_share': '<= 0.15',           # share kept by the default filters, +-0.15
    'radar_rcs': '<= 3',                     # W1 [dB]: the RCS noise of one target is ~3 dB
    'radar_states': '<= 0.2',                # TV: at most 20% of points in another state
    'radar_rms_position': '<= 0.25',         # W1 [m] of the reported position accuracy
    'radar_rms_velocity': '<= 0.1',          # W1 [m/s] of the reported velocity accuracy
    'radar_error_over_reported': '>= 0.5',   # synthetic error vs GT / real reported sigma
    'radar_interior_share': '<= 0.3',        # returns off the visible surface
    'radar_zero_share': '<= 0.2',            # |difference| of the share of objects without
    'radar_clutter_share': '<= 0.15',        # |difference|
    'lidar_points_per_scan': '<= 0.2',       # |ln ratio|: within 22%
    'lidar_rings': '<= 0.1',                 # TV over the 32 rings
    'lidar_intensity': '<= 5',               # W1 [of 0-255]
    'lidar_range': '<= 3',                   # W1 [m]
    'lidar_ground_share': '<= 0.1',          # |difference|
    'camera_brightness': '<= 15',            # W1 [grey levels of 255]
    'camera_noise': '<= 0.693',              # |ln ratio|: within a factor 2
}
#: Classes whose per-object counts are judged: at least this many real objects in range.
MIN_REAL_OBJECTS = 5


def _median(values) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float('nan')


def _pct(value: float) -> str:
    return 'nan' if np.isnan(value) else f'{100 * value:.1f}%'


def radar_scan_rows(real: dict, synth: dict) -> List[Row]:
    """Rows from ``radar_scans.scan_statistics`` of both sides."""
    rows = []
    r_n, s_n = float(real['points_per_scan'].mean()), float(synth['points_per_scan'].mean())
    rows.append(Row('radar', 'points per scan, all (mean)', r_n, s_n, '|ln ratio|',
                    abs_log_ratio(s_n, r_n), TARGETS['radar_points_per_scan']))
    r_k, s_k = float(real['kept_per_scan'].mean()), float(synth['kept_per_scan'].mean())
    rows.append(Row('radar', 'points per scan, devkit default filters', r_k, s_k,
                    '|ln ratio|', abs_log_ratio(s_k, r_k), TARGETS['radar_points_per_scan']))
    r_share, s_share = r_k / r_n, s_k / s_n
    rows.append(Row('radar', 'share kept by the default filters', _pct(r_share),
                    _pct(s_share), '|diff|', abs(s_share - r_share),
                    TARGETS['radar_kept_share']))
    rows.append(Row('radar', 'RCS of kept points [dBsm] (median)', _median(real['rcs']),
                    _median(synth['rcs']), 'W1 [dB]', wasserstein1(synth['rcs'], real['rcs']),
                    TARGETS['radar_rcs']))
    for name, codes in STATE_CODES.items():
        p, q = shares(real[name], codes), shares(synth[name], codes)
        top = int(np.argmax(p))
        rows.append(Row('radar', f'{name} shares (all points; real mode {codes[top]})',
                        _pct(p[top]), _pct(q[top]), 'TV', total_variation(q, p),
                        TARGETS['radar_states']))
    for field, unit, key in (('x_rms_m', 'm', 'radar_rms_position'),
                             ('y_rms_m', 'm', 'radar_rms_position'),
                             ('vx_rms_mps', 'm/s', 'radar_rms_velocity'),
                             ('vy_rms_mps', 'm/s', 'radar_rms_velocity')):
        rs, ss = real[field][np.isfinite(real[field])], synth[field][np.isfinite(synth[field])]
        rows.append(Row('radar', f'reported {field.rsplit("_", 1)[0]} [{unit}] (median)',
                        _median(rs), _median(ss), f'W1 [{unit}]', wasserstein1(ss, rs),
                        TARGETS[key]))
    return rows


def object_count_rows(real: Dict[str, list], synth: Dict[str, list]) -> List[Row]:
    """Rows from ``radar_objects.object_counts`` of both sides: the count distribution and
    the share of objects without a return per class, judged (and split by range) where the
    real keyframe has at least ``MIN_REAL_OBJECTS`` objects of the class; the other classes
    get one row for information. The count target: W1 at most the real mean (or 0.5), i.e.
    no farther from the real distribution than moving all of it by its own mean."""
    rows = []
    for name in sorted(set(real) | set(synth), key=lambda c: -len(real.get(c, []))):
        r = np.array([n for n, _ in real.get(name, [])], dtype=np.float64)
        s = np.array([n for n, _ in synth.get(name, [])], dtype=np.float64)
        judged = len(r) >= MIN_REAL_OBJECTS and len(s) > 0
        r_mean = float(r.mean()) if len(r) else float('nan')
        rows.append(Row('radar', f'returns per {name} (mean; n real {len(r)}, synth {len(s)})',
                        r_mean, float(s.mean()) if len(s) else float('nan'), 'W1 [points]',
                        wasserstein1(s, r), f'<= {max(0.5, r_mean):.3g}' if judged else None))
        if not judged:
            continue
        r0, s0 = float((r == 0).mean()), float((s == 0).mean())
        rows.append(Row('radar', f'{name} objects without a return', _pct(r0), _pct(s0),
                        '|diff|', abs(s0 - r0), TARGETS['radar_zero_share']))
        for lo, hi in OBJECT_RANGE_BINS_M:
            rb = [n for n, d in real[name] if lo <= d < hi]
            sb = [n for n, d in synth.get(name, []) if lo <= d < hi]
            span = f'{lo:.0f}-{hi:.0f} m' if np.isfinite(hi) else f'> {lo:.0f} m'
            rows.append(Row('radar', f'  {name} {span} (mean; n {len(rb)} / {len(sb)})',
                            float(np.mean(rb)) if rb else float('nan'),
                            float(np.mean(sb)) if sb else float('nan'), 'W1 [points]',
                            wasserstein1(sb, rb)))
    return rows


def placement_rows(real_scans: dict, synth: Optional[AssociatedReturns]) -> List[Row]:
    """Where on the object the synthetic returns fall and how exact they are, against the
    physics and the real sensor's reported accuracy."""
    if synth is None or len(synth.label) == 0:
        return [Row('radar', 'returns associated with objects', None, 0.0, '-', float('nan'),
                    reference='no calibrated radar scans with boxes')]
    interior = float(synth.interior.mean())
    rows = [Row('radar', 'interior share of object returns', '-', _pct(interior),
                'share', interior, TARGETS['radar_interior_share'],
                reference='no real scan with boxes in the fixture; target from the physics '
                          '(reflections off the sensor-facing surface)'),
            Row('radar', 'object returns inside the footprint', '-',
                _pct(float(synth.inside.mean())), '-', float('nan'))]
    reported_pos = _median(np.concatenate([real_scans['x_rms_m'], real_scans['y_rms_m']]))
    err = _median(synth.surface_m)
    rows.append(Row('radar', 'distance to the visible surface [m] (median)', reported_pos, err,
                    'synth / real', err / reported_pos, TARGETS['radar_error_over_reported'],
                    reference='the real scans\' reported sigma (decoded x_rms, y_rms): the '
                              'sensor\'s own accuracy, a lower bound of its error vs a box'))
    reported_vel = _median(real_scans['vx_rms_mps'])
    verr = _median(np.abs(synth.radial_error_mps))
    rows.append(Row('radar', 'radial velocity error vs GT [m/s] (median |e|)', reported_vel,
                    verr, 'synth / real', verr / reported_vel,
                    TARGETS['radar_error_over_reported'],
                    reference='the real scans\' reported sigma of the radial velocity '
                              '(decoded vx_rms)'))
    return rows


def clutter_rows(real_share: float, synth_share: float,
                 synth: Optional[AssociatedReturns]) -> List[Row]:
    rows = [Row('radar', 'clutter share (points in no box, unfiltered)', _pct(real_share),
                _pct(synth_share), '|diff|', abs(synth_share - real_share),
                TARGETS['radar_clutter_share'],
                reference='the real keyframe\'s num_radar_pts over 5 x the mean real scan')]
    if synth is not None and synth.kept_points:
        rows.append(Row('radar', 'filtered points near no box (ghosts, clutter)', '-',
                        _pct(synth.unassociated / synth.kept_points), '-', float('nan')))
    return rows


def lidar_rows(real: dict, synth: dict) -> List[Row]:
    """Rows from ``lidar_scans.set_statistics`` of both sides."""
    rows = []
    for key, what in (('records_per_scan', 'records per scan (all rays written)'),
                      ('points_per_scan', 'returns per scan (beyond 1 m)')):
        r, s = float(real[key].mean()), float(synth[key].mean())
        rows.append(Row('lidar', what, r, s, '|ln ratio|', abs_log_ratio(s, r),
                        TARGETS['lidar_points_per_scan']))
    p, q = real['ring_counts'] / real['ring_counts'].sum(), synth['ring_counts'] / max(
        synth['ring_counts'].sum(), 1)
    rows.append(Row('lidar', 'returns per ring (top ring / ring 16 share)',
                    f'{p[-1] / max(p[16], 1e-9):.2f}', f'{q[-1] / max(q[16], 1e-9):.2f}', 'TV',
                    total_variation(q, p), TARGETS['lidar_rings']))
    ci, cr = bin_centres(INTENSITY_BINS), bin_centres(RANGE_BINS_M)
    for hist, centres, what, unit, key in (
            ('intensity_hist', ci, 'intensity (mean)', '', 'lidar_intensity'),
            ('range_hist', cr, 'range [m] (mean)', ' [m]', 'lidar_range')):
        rh, sh = real[hist], synth[hist]
        rows.append(Row('lidar', what, float((centres * rh).sum() / rh.sum()),
                        float((centres * sh).sum() / sh.sum()), f'W1{unit}',
                        wasserstein1(centres, centres, sh, rh), TARGETS[key]))
    r_g, s_g = float(np.nanmean(real['ground_share'])), float(np.nanmean(synth['ground_share']))
    rows.append(Row('lidar', 'ground share of returns', _pct(r_g), _pct(s_g), '|diff|',
                    abs(s_g - r_g), TARGETS['lidar_ground_share']))
    return rows


def camera_rows(real: Dict[str, dict], synth: Dict[str, dict],
                conditions: Sequence[str] = ('day', 'night', 'rain')) -> List[Row]:
    """Rows from ``camera_images.image_statistics`` of both sides, per condition; a
    condition without real images is shown against the real day and not judged."""
    rows = []
    centres = bin_centres(BRIGHTNESS_BINS.astype(np.float64))
    for cond in conditions:
        if cond not in synth:
            continue
        ref = real.get(cond)
        judged = ref is not None
        ref = ref if judged else real.get('day')
        note = '' if judged else f'no real {cond} image in the fixture: the real day frame'
        s = synth[cond]
        n = f'{cond}, {s["images"]} synth images'
        r_b = float((centres * ref['brightness_hist']).sum() / ref['brightness_hist'].sum())
        s_b = float((centres * s['brightness_hist']).sum() / s['brightness_hist'].sum())
        rows.append(Row('camera', f'brightness (mean luma; {n})', r_b, s_b, 'W1 [grey]',
                        wasserstein1(centres, centres, s['brightness_hist'],
                                     ref['brightness_hist']),
                        TARGETS['camera_brightness'] if judged else None, note))
        r_n, s_n = _median(ref['noise_sigma']), _median(s['noise_sigma'])
        rows.append(Row('camera', f'noise in flat regions [grey] (median; {cond})', r_n, s_n,
                        '|ln ratio|', abs_log_ratio(s_n, r_n),
                        TARGETS['camera_noise'] if judged else None, note))
    return rows
