"""Radar: Continental ARS 408-like returns (objects, building and pole clutter, false alarms)
and the binary PCD v0.7 files with nuScenes' 18 fields.

Returns are in the radar frame (x along the boresight, y left; metres; z = 0 as in nuScenes).
Velocities follow nuScenes: the radar measures only the radial (Doppler) velocity, reported as a
vector along the line of sight; ``vx, vy`` are relative to the moving sensor, ``vx_comp,
vy_comp`` are compensated for the ego motion. State fields use the sensor's codes (dyn_prop,
ambig_state, invalid_state, pdh0) so that the devkit's default filters (invalid_state 0,
dyn_prop 0-6, ambig_state 3) keep the object returns and drop part of the clutter.
"""
from dataclasses import dataclass

import numpy as np

from .rig import RadarModel
from .world import STATIC_OWNER, WorldParts

PCD_FIELDS = ('x', 'y', 'z', 'dyn_prop', 'id', 'rcs', 'vx', 'vy', 'vx_comp', 'vy_comp',
              'is_quality_valid', 'ambig_state', 'x_rms', 'y_rms', 'invalid_state', 'pdh0',
              'vx_rms', 'vy_rms')
PCD_DTYPE = np.dtype([('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('dyn_prop', 'i1'),
                      ('id', '<i2'), ('rcs', '<f4'), ('vx', '<f4'), ('vy', '<f4'),
                      ('vx_comp', '<f4'), ('vy_comp', '<f4'), ('is_quality_valid', 'i1'),
                      ('ambig_state', 'i1'), ('x_rms', 'i1'), ('y_rms', 'i1'),
                      ('invalid_state', 'i1'), ('pdh0', 'i1'), ('vx_rms', 'i1'),
                      ('vy_rms', 'i1')])
assert PCD_DTYPE.itemsize == 43
_PCD_HEADER = ('# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n'
               'FIELDS ' + ' '.join(PCD_FIELDS) + '\n'
               'SIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1\n'
               'TYPE F F F I I F F F F F I I I I I I I I\n'
               'COUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n'
               'WIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA binary\n')
# dyn_prop codes
MOVING, STATIONARY, ONCOMING, STATIONARY_CANDIDATE = 0, 1, 2, 3
CLUTTER_RAYS = 48
MOVING_MPS = 0.5


@dataclass
class RadarScan:
    """One radar scan: ``records`` (M,) of PCD_DTYPE and ``owner`` (M,) (track index,
    STATIC_OWNER for clutter on structures, -2 for false alarms)."""
    records: np.ndarray
    owner: np.ndarray


def _first_hit(origins: np.ndarray, dirs: np.ndarray, parts: WorldParts):
    """Nearest hit distance (R,) and part index (R,) of 2D-level rays against parts."""
    c, s = np.cos(parts.yaw)[None], np.sin(parts.yaw)[None]
    rel = origins[:, None, :] - parts.centers[None]  # (R, P, 3)
    ox = c * rel[..., 0] + s * rel[..., 1]
    oy = -s * rel[..., 0] + c * rel[..., 1]
    oz = rel[..., 2]
    dx = c * dirs[:, None, 0] + s * dirs[:, None, 1]
    dy = -s * dirs[:, None, 0] + c * dirs[:, None, 1]
    hx, hy, hz = (parts.half[None, :, k] for k in range(3))
    with np.errstate(divide='ignore', invalid='ignore'):
        tx1, tx2 = (-hx - ox) / dx, (hx - ox) / dx
        ty1, ty2 = (-hy - oy) / dy, (hy - oy) / dy
    t_in = np.maximum(np.minimum(tx1, tx2), np.minimum(ty1, ty2))
    t_out = np.minimum(np.maximum(tx1, tx2), np.maximum(ty1, ty2))
    hit = (t_out >= t_in) & (t_in > 0) & (np.abs(oz) <= hz)
    t = np.where(hit, t_in, np.inf)
    idx = np.argmin(t, axis=1)
    return t[np.arange(len(idx)), idx], idx


def simulate_scan(parts: WorldParts, centers: np.ndarray, yaws: np.ndarray, sizes: np.ndarray,
                  velocities: np.ndarray, mean_returns: np.ndarray, rcs_dbsm: np.ndarray,
                  sensor_velocity: np.ndarray, model: RadarModel,
                  rng: np.random.Generator) -> RadarScan:
    """Simulate one scan; every array is in the radar frame at the scan's time.

    Args:
        parts: the world's parts (radar frame).
        centers, yaws, sizes: (N, 3), (N,), (N, 3) annotation boxes of the tracks [m, rad].
        velocities: (N, 2) track velocities [m/s] (radar frame axes).
        mean_returns, rcs_dbsm: (N,) per-track radar signature.
        sensor_velocity: (2,) velocity of the sensor over ground [m/s] (radar frame axes).
        model: field of view and range.
    """
    recs, owners = [], []
    dist = np.hypot(centers[:, 0], centers[:, 1])
    az = np.arctan2(centers[:, 1], centers[:, 0])
    cand = np.flatnonzero((np.abs(az) < model.half_fov_rad) & (dist < model.max_range_m)
                          & (dist > 1.0))
    if len(cand):
        # line of sight from the sensor to each candidate's centre at the sensor's height
        aim = centers[cand].copy()
        aim[:, 2] = 0.0
        dirs = aim / np.linalg.norm(aim, axis=1, keepdims=True)
        t_hit, part = _first_hit(np.zeros_like(aim), dirs, parts)
        seen = (parts.owner[part] == cand) | (t_hit >= dist[cand] - 0.5)
        for k in cand[seen]:
            lam = mean_returns[k] * float(np.clip(20.0 / dist[k], 0.35, 2.0))
            n = int(rng.poisson(lam))
            if n == 0:
                continue
            c, s = np.cos(yaws[k]), np.sin(yaws[k])
            local = rng.uniform(-0.4, 0.4, size=(n, 2)) * sizes[k, :2]
            xy = centers[k, :2] + np.stack([c * local[:, 0] - s * local[:, 1],
                                           s * local[:, 0] + c * local[:, 1]], axis=1)
            xy += rng.normal(0.0, 0.08, size=(n, 2))
            rec = np.zeros(n, dtype=PCD_DTYPE)
            rec['x'], rec['y'] = xy[:, 0], xy[:, 1]
            u = xy / np.linalg.norm(xy, axis=1, keepdims=True)
            radial = u @ velocities[k]
            radial_rel = u @ (velocities[k] - sensor_velocity)
            rec['vx_comp'], rec['vy_comp'] = radial * u[:, 0], radial * u[:, 1]
            rec['vx'], rec['vy'] = radial_rel * u[:, 0], radial_rel * u[:, 1]
            speed = np.linalg.norm(velocities[k])
            if speed > MOVING_MPS:
                rec['dyn_prop'] = np.where(radial < 0, ONCOMING, MOVING)
            else:
                rec['dyn_prop'] = STATIONARY
            rec['rcs'] = rcs_dbsm[k] + rng.normal(0.0, 2.5, n)
            rec['ambig_state'] = 3
            rec['pdh0'] = 1
            recs.append(rec)
            owners.append(np.full(n, k))
    # clutter: returns from buildings and poles along random lines of sight
    static = parts.owner == STATIC_OWNER
    if static.any():
        sparts = WorldParts(parts.centers[static], parts.half[static], parts.yaw[static],
                            parts.owner[static], parts.colours[static],
                            parts.reflectivity[static])
        angles = rng.uniform(-model.half_fov_rad, model.half_fov_rad, CLUTTER_RAYS)
        dirs = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
        t_hit, _ = _first_hit(np.zeros_like(dirs), dirs, sparts)
        hit = t_hit < model.max_range_m
        n = int(hit.sum())
        rec = np.zeros(n, dtype=PCD_DTYPE)
        xy = dirs[hit, :2] * t_hit[hit, None] + rng.normal(0.0, 0.15, size=(n, 2))
        rec['x'], rec['y'] = xy[:, 0], xy[:, 1]
        u = xy / np.linalg.norm(xy, axis=1, keepdims=True)
        radial_rel = u @ (-sensor_velocity)
        rec['vx'], rec['vy'] = radial_rel * u[:, 0], radial_rel * u[:, 1]
        rec['dyn_prop'] = rng.choice([STATIONARY, STATIONARY_CANDIDATE], size=n, p=[0.7, 0.3])
        rec['rcs'] = rng.uniform(-5.0, 20.0, n)
        rec['ambig_state'] = rng.choice([3, 4], size=n, p=[0.8, 0.2])
        rec['invalid_state'] = rng.choice([0, 1, 4], size=n, p=[0.8, 0.1, 0.1])
        rec['pdh0'] = rng.choice([1, 2], size=n, p=[0.8, 0.2])
        recs.append(rec)
        owners.append(np.full(n, STATIC_OWNER))
    # false alarms: weak returns anywhere in the field of view
    n = int(rng.integers(2, 8))
    rec = np.zeros(n, dtype=PCD_DTYPE)
    angles = rng.uniform(-model.half_fov_rad, model.half_fov_rad, n)
    rr = rng.uniform(2.0, model.max_range_m, n)
    rec['x'], rec['y'] = rr * np.cos(angles), rr * np.sin(angles)
    rec['dyn_prop'] = rng.choice([STATIONARY, 4, 7], size=n)
    rec['rcs'] = rng.uniform(-15.0, 0.0, n)
    rec['ambig_state'] = rng.choice([1, 3], size=n)
    rec['invalid_state'] = rng.choice([0, 2, 6], size=n)
    rec['pdh0'] = rng.integers(3, 8, n)
    recs.append(rec)
    owners.append(np.full(n, -2))
    records = np.concatenate(recs)
    records['id'] = np.arange(len(records))
    records['is_quality_valid'] = 1
    records['x_rms'] = rng.integers(3, 12, len(records))
    records['y_rms'] = rng.integers(3, 12, len(records))
    records['vx_rms'] = rng.integers(0, 8, len(records))
    records['vy_rms'] = rng.integers(0, 8, len(records))
    return RadarScan(records, np.concatenate(owners))


def encode_radar_pcd(records: np.ndarray) -> bytes:
    """Binary PCD v0.7 bytes as the nuScenes radar files: header in the standard order, 43-byte
    records, and trailing zero padding (the devkit's reader requires at least one byte after the
    last record). An empty scan is written as one NaN point, nuScenes' marker for "no returns".
    """
    if records.dtype != PCD_DTYPE:
        raise TypeError(f'radar records must have dtype {PCD_DTYPE}, got {records.dtype}')
    if len(records) == 0:
        records = np.zeros(1, dtype=PCD_DTYPE)
        records['x'] = np.nan
    body = records.tobytes()
    padding = b'\x00' * (64 - len(body) % 64 or 64)
    return _PCD_HEADER.format(n=len(records)).encode('ascii') + body + padding
