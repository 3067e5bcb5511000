"""Radar: one Continental ARS 408-21 cluster scan (objects, clutter on structures and the
ground, multipath ghosts and false alarms), with the sensor's coverage, accuracy, resolution,
detection and state fields from ``radar_ars408`` (datasheet and real nuScenes figures there).

Frame: the radar frame (x along the boresight, y left; metres; z = 0 as nuScenes writes it).
What the sensor sees of an object: a few scattering centres on the part of its outline that
faces the sensor (the nearest corner strongest, then points along the visible faces and just
behind them: bumpers, wheel houses), each detected or not by the radar equation with Swerling
fluctuation, merged with every other return of its resolution cell into one cluster, and
measured with the accuracy the sensor reports per cluster in nuScenes (x_rms, y_rms: 0.5-1 m,
well above the datasheet's point-target accuracy, which holds for a corner reflector, not for
a car whose scattering centre wanders over its surface). Velocity is what a Doppler radar
measures: the radial component only, with noise; ``vx, vy`` are relative to the moving sensor,
``vx_comp, vy_comp`` add back the ego velocity as the car's odometry estimates it (with a
per-scan error), both as a vector along the line of sight as nuScenes reports them. dyn_prop
comes from that measured, compensated radial speed, so a crossing car looks stationary.
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from . import radar_ars408 as ars
from .radar_pcd import PCD_DTYPE
from .world import STATIC_OWNER, WorldParts

GROUND_CLUTTER = -2   # owner of returns from the ground, kerbs and vegetation, and false alarms
GHOST = -3            # owner of multipath ghosts
SCATTER_SPACING_M = 1.0   # one candidate scattering centre per metre of visible outline
CORNER_RCS_SHARE = 0.4    # the nearest corner (a dihedral) returns most of the power
STRUCTURE_RAYS = 160      # rays cast at the buildings and poles per scan (near beam)
FAR_STRUCTURE_RAYS = 120  # and inside the far beam
GROUND_CLUTTER_MEAN = 70  # candidate ground / kerb / vegetation scatterers per scan
FALSE_ALARM_MEAN = 3.0
GHOST_PROBABILITY = 0.12  # per detected object return: a multipath echo further away
BUILDING_CELL_RCS = (10.0, 6.0)   # dBsm mean, std per resolution cell of a facade
POLE_RCS = (12.0, 3.0)
GROUND_CLUTTER_RCS = (-6.0, 5.0)


@dataclass
class RadarScan:
    """One radar scan.

    Attributes:
        records: (M,) of PCD_DTYPE, radar frame.
        owner: (M,) track index, STATIC_OWNER (buildings, poles), GROUND_CLUTTER or GHOST.
        true_xy: (M, 2) where the return's scatterer really is (radar frame) [m].
        true_radial_mps: (M,) its true ego-compensated radial velocity [m/s].
    """
    records: np.ndarray
    owner: np.ndarray
    true_xy: np.ndarray
    true_radial_mps: np.ndarray


def first_hit(origins: np.ndarray, dirs: np.ndarray, parts: WorldParts):
    """Nearest hit distance (R,) and part index (R,) of level rays against parts (slab test)."""
    if len(parts.yaw) == 0:
        return np.full(len(dirs), np.inf), np.zeros(len(dirs), dtype=np.int64)
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


def _object_scatterers(centers, yaws, sizes, rcs_dbsm, rng):
    """Candidate scattering centres on the sensor-facing outline of every box (vectorised over
    boxes): the nearest corner, and one point per SCATTER_SPACING_M of every face whose outward
    normal points at the sensor, each just behind the surface (a few deeper: wheel houses,
    under-body).

    Returns xy (S, 2), owner (S,) (index into the given boxes), rcs (S,) [dBsm] (the object's
    mean RCS shared out: CORNER_RCS_SHARE to the corner, the rest evenly)."""
    n_box = len(centers)
    if n_box == 0:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros(0)
    c, s = np.cos(yaws), np.sin(yaws)
    half = sizes[:, :2] / 2.0
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
    local = signs[None] * half[:, None, :]                              # (N, 4, 2)
    corners = np.stack([c[:, None] * local[..., 0] - s[:, None] * local[..., 1],
                        s[:, None] * local[..., 0] + c[:, None] * local[..., 1]], axis=-1)
    corners += centers[:, None, :2]
    p0, p1 = corners, np.roll(corners, -1, axis=1)                      # faces a -> a+1
    normal = (p0 + p1) / 2.0 - centers[:, None, :2]
    facing = np.einsum('nfk,nfk->nf', normal, (p0 + p1) / 2.0) < 0.0
    length = np.linalg.norm(p1 - p0, axis=-1)
    count = np.where(facing, np.maximum(1, np.ceil(length / SCATTER_SPACING_M)), 0).astype(int)
    box_f, face_f = np.nonzero(count)
    reps = count[box_f, face_f]
    box_s, face_s = np.repeat(box_f, reps), np.repeat(face_f, reps)
    t = rng.random(len(box_s))[:, None]
    face_pts = p0[box_s, face_s] + t * (p1[box_s, face_s] - p0[box_s, face_s])
    unit_normal = normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-9)
    face_in = -unit_normal[box_s, face_s]
    nearest = np.argmin(np.linalg.norm(corners, axis=-1), axis=1)
    corner_pts = corners[np.arange(n_box), nearest]
    corner_in = centers[:, :2] - corner_pts
    corner_in /= np.maximum(np.linalg.norm(corner_in, axis=1, keepdims=True), 1e-9)
    xy = np.concatenate([corner_pts, face_pts])
    inward = np.concatenate([corner_in, face_in])
    owner = np.concatenate([np.arange(n_box), box_s])
    deep = rng.random(len(xy)) < 0.15
    deep_max = np.maximum(0.3, 0.5 * sizes[owner, 1])
    depth = np.where(deep, 0.25 + rng.random(len(xy)) * (deep_max - 0.25),
                     rng.uniform(0.0, 0.25, len(xy)))
    xy = xy + inward * depth[:, None]
    n_face = np.bincount(box_s, minlength=n_box)
    share = np.concatenate([np.where(n_face > 0, CORNER_RCS_SHARE, 1.0),
                            (1.0 - CORNER_RCS_SHARE) / np.maximum(n_face[box_s], 1)])
    return xy, owner, rcs_dbsm[owner] + 10.0 * np.log10(share)


def _visible(xy: np.ndarray, owner: np.ndarray, parts: WorldParts) -> np.ndarray:
    """Line of sight at the sensor's height from the origin to each scatterer."""
    dist = np.hypot(xy[:, 0], xy[:, 1])
    dirs = np.zeros((len(xy), 3))
    dirs[:, :2] = xy / np.maximum(dist, 1e-6)[:, None]
    t_hit, part = first_hit(np.zeros_like(dirs), dirs, parts)
    return (parts.owner[part] == owner) | (t_hit >= dist - 0.3) if len(parts.yaw) else \
        np.ones(len(xy), dtype=bool)


def _per_cell(xy: np.ndarray, owner: np.ndarray, rcs: np.ndarray):
    """Scatterers of one object within one resolution cell add up into one fluctuating target
    (their powers summed), placed at the strongest of them."""
    if len(xy) == 0:
        return xy, owner, rcs
    r, az = np.hypot(xy[:, 0], xy[:, 1]), np.arctan2(xy[:, 1], xy[:, 0])
    keys = np.column_stack([owner, ars.resolution_cells(r, az, ars.uses_far_beam(r, az))])
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    power = 10.0 ** (rcs / 10.0)
    total = np.bincount(inv, power)
    order = np.argsort(-power, kind='stable')
    _, first = np.unique(inv[order], return_index=True)
    strongest = order[first]
    return xy[strongest], owner[strongest], 10.0 * np.log10(total)


def _structure_clutter(parts: WorldParts, rng: np.random.Generator):
    """Returns from buildings and poles along random lines of sight (first hit only)."""
    static = parts.owner == STATIC_OWNER
    sub = WorldParts(parts.centers[static], parts.half[static], parts.yaw[static],
                     parts.owner[static], parts.colours[static], parts.reflectivity[static])
    angles = np.concatenate([
        rng.uniform(-np.radians(ars.NEAR_HALF_FOV_DEG), np.radians(ars.NEAR_HALF_FOV_DEG),
                    STRUCTURE_RAYS),
        rng.uniform(-np.radians(ars.FAR_HALF_FOV_DEG), np.radians(ars.FAR_HALF_FOV_DEG),
                    FAR_STRUCTURE_RAYS)])
    dirs = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
    t_hit, part = first_hit(np.zeros_like(dirs), dirs, sub)
    hit = np.isfinite(t_hit)
    xy = dirs[hit, :2] * t_hit[hit, None]
    pole = sub.half[part[hit], 0] < 0.5
    rcs = np.where(pole, rng.normal(*POLE_RCS, len(xy)), rng.normal(*BUILDING_CELL_RCS, len(xy)))
    return xy, rcs


def _ground_clutter(rng: np.random.Generator, n_mean: float, rcs: tuple):
    n = int(rng.poisson(n_mean))
    az = rng.uniform(-np.radians(ars.NEAR_HALF_FOV_DEG), np.radians(ars.NEAR_HALF_FOV_DEG), n)
    r = ars.FAR_MAX_RANGE_M * np.sqrt(rng.uniform(0.0, 1.0, n)) * 0.6 + 1.0  # uniform in area
    return np.stack([r * np.cos(az), r * np.sin(az)], axis=1), rng.normal(*rcs, n)


def _states(kind: np.ndarray, snr_margin_db: np.ndarray, az: np.ndarray, far: np.ndarray,
            moving: np.ndarray, secondary: np.ndarray, rng: np.random.Generator):
    """(invalid_state, ambig_state, pdh0) profile names per return (see radar_ars408)."""
    m = len(kind)
    names = np.full(m, 'valid', dtype=object)
    u = rng.random((m, 6))
    names[(u[:, 0] < 0.4) & secondary] = 'child'
    names[(u[:, 1] < 0.3) & (kind != 'object')] = 'no_local_max'
    names[(u[:, 1] < 0.08) & (kind == 'object')] = 'no_local_max'
    names[(u[:, 2] < 0.15) & (np.abs(np.degrees(az)) > 35.0)] = 'suspicious_angle'
    names[(u[:, 3] < 0.7) & (snr_margin_db < 5.0)] = 'low_rcs'
    names[(u[:, 4] < 0.3) & far & (kind != 'object')] = 'unconfirmed_far'
    names[(u[:, 5] < 0.03)] = 'ambiguous'
    names[(u[:, 5] > 0.55) & moving] = 'unknown_dynamics'
    ghost = kind == 'ghost'
    names[ghost & (u[:, 0] < 0.6)] = 'mirror'
    return names


@dataclass
class _Returns:
    """Candidate or detected returns: true position (M, 2) [m], RCS this scan (M,) [dBsm],
    SNR above threshold (M,) [dB], velocity over ground (M, 2) [m/s], owner (M,), kind (M,)
    ('object', 'clutter', 'ghost', 'false_alarm')."""
    xy: np.ndarray
    rcs: np.ndarray
    snr: np.ndarray
    vel: np.ndarray
    owner: np.ndarray
    kind: np.ndarray

    @classmethod
    def cat(cls, *parts: '_Returns') -> '_Returns':
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ('xy', 'rcs', 'snr', 'vel', 'owner', 'kind')))

    def take(self, idx: np.ndarray) -> '_Returns':
        return _Returns(self.xy[idx], self.rcs[idx], self.snr[idx], self.vel[idx],
                        self.owner[idx], self.kind[idx])

    @property
    def range_az(self) -> Tuple[np.ndarray, np.ndarray]:
        return np.hypot(self.xy[:, 0], self.xy[:, 1]), np.arctan2(self.xy[:, 1], self.xy[:, 0])


def _returns(xy, rcs, vel, owner, kind: str) -> _Returns:
    return _Returns(xy, rcs, np.zeros(len(xy)), vel, np.asarray(owner, dtype=np.int64),
                    np.full(len(xy), kind, dtype=object))


def _candidates(parts, centers, yaws, sizes, velocities, rcs_dbsm, rng) -> _Returns:
    """Object scatterers (covered, in line of sight, summed per resolution cell) and clutter
    on the structures and the ground."""
    dist = np.hypot(centers[:, 0], centers[:, 1])
    reach = np.linalg.norm(sizes[:, :2], axis=1) / 2.0
    az_c = np.arctan2(centers[:, 1], centers[:, 0])
    spread = np.arcsin(np.clip(reach / np.maximum(dist, 1e-3), 0.0, 1.0))
    near = np.flatnonzero(  # boxes that can reach into the near or far field of view
        (dist > 1.0)
        & (((dist - reach < np.interp(0.0, *ars.NEAR_RANGE_BY_AZ))
            & (np.abs(az_c) - spread < np.radians(ars.NEAR_HALF_FOV_DEG)))
           | ((dist - reach < ars.FAR_MAX_RANGE_M)
              & (np.abs(az_c) - spread < np.radians(ars.FAR_HALF_FOV_DEG)))))
    oxy, oown, orcs = _object_scatterers(centers[near], yaws[near], sizes[near],
                                         rcs_dbsm[near], rng)
    oown = near[oown]
    keep = ars.covered(np.hypot(oxy[:, 0], oxy[:, 1]), np.arctan2(oxy[:, 1], oxy[:, 0]))
    oxy, oown, orcs = oxy[keep], oown[keep], orcs[keep]
    vis = _visible(oxy, oown, parts)
    oxy, oown, orcs = _per_cell(oxy[vis], oown[vis], orcs[vis])
    sxy, srcs = _structure_clutter(parts, rng)
    gxy, grcs = _ground_clutter(rng, GROUND_CLUTTER_MEAN, GROUND_CLUTTER_RCS)
    return _Returns.cat(
        _returns(oxy, orcs, velocities[oown].reshape(-1, 2), oown, 'object'),
        _returns(sxy, srcs, np.zeros((len(sxy), 2)), np.full(len(sxy), STATIC_OWNER),
                 'clutter'),
        _returns(gxy, grcs, np.zeros((len(gxy), 2)), np.full(len(gxy), GROUND_CLUTTER),
                 'clutter'))


def _detect(cand: _Returns, rng: np.random.Generator) -> _Returns:
    """Radar equation with Swerling-1 fluctuation inside the coverage; the detected returns
    carry their RCS and SNR of this scan."""
    r, az = cand.range_az
    far = ars.uses_far_beam(r, az)
    snr = ars.mean_snr_db(cand.rcs, r, far)
    hit, fluct = ars.detected(snr, rng)
    hit &= ars.covered(r, az)
    out = cand.take(np.flatnonzero(hit))
    out.rcs = out.rcs + fluct[hit]
    out.snr = snr[hit] + fluct[hit]
    return out


def _ghosts(det: _Returns, rng: np.random.Generator) -> _Returns:
    """Multipath echoes of detected object returns: same bearing (+- 2 deg), 1.5-6 m further,
    6-12 dB weaker, same Doppler; kept where still above the threshold."""
    src = np.flatnonzero((det.kind == 'object') & (rng.random(len(det.kind)) < GHOST_PROBABILITY))
    r, az = det.range_az
    g_r = r[src] + rng.uniform(1.5, 6.0, len(src))
    g_az = az[src] + rng.normal(0.0, np.radians(2.0), len(src))
    g_rcs = det.rcs[src] - rng.uniform(6.0, 12.0, len(src))
    g_snr = ars.mean_snr_db(g_rcs, g_r, ars.uses_far_beam(g_r, g_az))
    ok = (g_snr > 0.0) & ars.covered(g_r, g_az)
    ghosts = _returns(np.stack([g_r * np.cos(g_az), g_r * np.sin(g_az)], 1)[ok], g_rcs[ok],
                      det.vel[src[ok]], np.full(int(ok.sum()), GHOST), 'ghost')
    ghosts.snr = g_snr[ok]
    return ghosts


def _false_alarms(rng: np.random.Generator) -> _Returns:
    """Noise crossing the threshold anywhere in the near field of view (weak, random
    Doppler)."""
    n = int(rng.poisson(FALSE_ALARM_MEAN))
    az = rng.uniform(-np.radians(ars.NEAR_HALF_FOV_DEG), np.radians(ars.NEAR_HALF_FOV_DEG), n)
    r = rng.uniform(1.0, 1.0 + ars.near_max_range_m(az), n)
    fa = _returns(np.stack([r * np.cos(az), r * np.sin(az)], 1), rng.uniform(-10.0, 0.0, n),
                  rng.normal(0.0, 3.0, (n, 2)), np.full(n, GROUND_CLUTTER), 'false_alarm')
    fa.snr = rng.uniform(0.0, 2.0, n)
    return fa


def _clusters(det: _Returns) -> _Returns:
    """One cluster per resolution cell (the strongest return), the MAX_CLUSTERS strongest
    kept, ordered by range as the sensor lists them."""
    r, az = det.range_az
    idx = np.argsort(-det.snr, kind='stable')
    _, first = np.unique(ars.resolution_cells(r[idx], az[idx], ars.uses_far_beam(r[idx],
                                                                                 az[idx])),
                         axis=0, return_index=True)
    idx = np.sort(idx[first])
    idx = idx[np.argsort(-det.snr[idx], kind='stable')][:ars.MAX_CLUSTERS]
    return det.take(idx[np.argsort(r[idx], kind='stable')])


def simulate_scan(parts: WorldParts, centers: np.ndarray, yaws: np.ndarray, sizes: np.ndarray,
                  velocities: np.ndarray, rcs_dbsm: np.ndarray, sensor_velocity: np.ndarray,
                  rng: np.random.Generator) -> RadarScan:
    """Simulate one scan; every array is in the radar frame at the scan's time.

    Args:
        parts: the world's parts (radar frame).
        centers, yaws, sizes: (N, 3), (N,), (N, 3) annotation boxes of the tracks [m, rad].
        velocities: (N, 2) track velocities over ground [m/s] (radar frame axes).
        rcs_dbsm: (N,) mean radar cross-section per track [dBsm].
        sensor_velocity: (2,) velocity of the sensor over ground [m/s] (radar frame axes).
        rng: every random draw of the scan.
    """
    det = _detect(_candidates(parts, centers, yaws, sizes, velocities, rcs_dbsm, rng), rng)
    det = _clusters(_Returns.cat(det, _ghosts(det, rng), _false_alarms(rng)))
    xy, snr, vel, owner, kind = det.xy, det.snr, det.vel, det.owner, det.kind
    r, az = det.range_az
    far = ars.uses_far_beam(r, az)
    m = len(xy)

    # ---- measurement: the cluster's own reported accuracy (x_rms, y_rms, vx_rms codes drawn
    # with the real shares, then the noise drawn at that sigma: the sensor is as exact as it
    # says it is), Doppler along the line of sight, ego compensation with the odometry's error
    x_code = rng.choice(ars.X_RMS_CODES, m, p=ars.X_RMS_P)
    y_code = rng.choice(ars.Y_RMS_CODES, m, p=np.array(ars.Y_RMS_P) / sum(ars.Y_RMS_P))
    vx_code = rng.choice(ars.VX_RMS_CODES, m, p=ars.VX_RMS_P)
    meas = xy + rng.standard_normal((m, 2)) * ars.REPORTED_TO_ACTUAL_SIGMA * np.stack(
        [ars.decode_rms(x_code), ars.decode_rms(y_code)], axis=1)
    r_m = np.hypot(meas[:, 0], meas[:, 1])
    u = meas / np.maximum(r_m, 1e-6)[:, None]
    u_true = np.stack([np.cos(az), np.sin(az)], axis=1)
    true_radial = np.einsum('mk,mk->m', u_true, vel)
    rel_radial = (np.einsum('mk,mk->m', u_true, vel - sensor_velocity)
                  + rng.normal(0.0, ars.DOPPLER_SIGMA_MPS, m))
    ego_estimate = sensor_velocity + rng.normal(0.0, ars.EGO_VELOCITY_SIGMA_MPS, 2)
    comp_radial = (rel_radial + u @ ego_estimate + rng.standard_normal(m)
                   * ars.COMP_TO_REPORTED_SIGMA * ars.decode_rms(vx_code))
    rec = np.zeros(m, dtype=PCD_DTYPE)
    rec['x'], rec['y'] = meas[:, 0], meas[:, 1]
    rec['vx'], rec['vy'] = rel_radial * u[:, 0], rel_radial * u[:, 1]
    rec['vx_comp'], rec['vy_comp'] = comp_radial * u[:, 0], comp_radial * u[:, 1]
    rec['x_rms'], rec['y_rms'], rec['vx_rms'] = x_code, y_code, vx_code
    rec['rcs'] = np.round((det.rcs + rng.normal(0.0, 1.0, m)) / ars.RCS_STEP_DBSM) \
        * ars.RCS_STEP_DBSM

    # ---- state fields
    moving = np.abs(comp_radial) > ars.MOVING_THRESHOLD_MPS
    dyn = np.where(moving, np.where(comp_radial < 0.0, ars.ONCOMING, ars.MOVING),
                   np.where(rng.random(m) < np.clip(0.1 + r / 150.0, 0.0, 0.6),
                            ars.STATIONARY_CANDIDATE, ars.STATIONARY))
    secondary = np.zeros(m, dtype=bool)
    obj = owner >= 0
    if obj.any():  # every return of an object but its strongest
        order = np.lexsort((-snr[obj], owner[obj]))
        own_sorted = owner[obj][order]
        first_of = np.r_[True, own_sorted[1:] != own_sorted[:-1]]
        sec = np.zeros(int(obj.sum()), dtype=bool)
        sec[order] = ~first_of
        secondary[obj] = sec
    profiles = _states(kind, snr, az, far, moving, secondary, rng)
    states = np.array([ars.STATE_PROFILES[p] for p in profiles], dtype=np.int64).reshape(m, 3)
    rec['invalid_state'], rec['ambig_state'], rec['pdh0'] = states.T
    unknown = profiles == 'unknown_dynamics'
    dyn[unknown] = ars.UNKNOWN
    rec['dyn_prop'] = dyn
    rec['id'] = np.arange(m)
    rec['is_quality_valid'] = 1
    rec['vy_rms'] = ars.VY_RMS_CODE
    for field in ('x_rms', 'y_rms', 'vx_rms', 'vy_rms'):
        rec[field][unknown] = 0
    return RadarScan(rec, owner, xy, true_radial)
