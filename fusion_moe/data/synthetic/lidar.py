"""LIDAR_TOP: a 32-beam Velodyne HDL-32E-like spinning LiDAR, ray-cast against the flat ground
and the scene's parts (all numpy; written by hand because no maintained library casts LiDAR
rays against a box world on CPU without a GPU or a game engine).

One scan = 32 beams (elevation -30.67 deg to +10.67 deg in 1.33 deg steps, the HDL-32E
datasheet's pattern) x 1084 azimuth steps (20 Hz), 34,688 rays. Output points are in the LiDAR
frame (x, y, z in metres), with intensity 0-255 and the ring (beam index, 0 = lowest beam),
like nuScenes' ``.pcd.bin`` files.

Set against the real fixture scan (``shared/data/nuscenes-real/lidar``, 34,688 points):
- nuScenes writes a point for every ray, 1084 per ring: rays without an echo (sky, beyond
  range, dropouts, too weak) and echoes closer than the sensor's minimum range are written at
  a few centimetres to 1 m from the sensor (23 % of the real scan lies within 1 m, on the
  upward rings and the lowest rings that look at the car's roof); we write them the same way.
- the lowest rings see the ego car: its roof within 1 m (written as above) and its bonnet at
  1-3.5 m (rings 4-8 in the real scan); ``EGO_BODY_EGO`` is the car's outline for that.
- range noise 2 cm (HDL-32E datasheet accuracy < 2 cm), 2 % random dropouts (8 % in rain).
- intensity: reflectivity x incidence x range falloff with speckle (log-normal, sigma 0.45):
  real median 12 (10th / 90th percentile 3 / 48), ground median 11.
Not modelled: the rolling shutter of the spin (each scan is taken at one instant).
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .geometry import box_corners
from .street import SURFACE_REFLECTIVITY, surface_at
from .world import WorldParts

NUM_BEAMS = 32
NUM_AZIMUTHS = 1084
ELEVATIONS_RAD = np.deg2rad(-30.67 + 1.3333 * np.arange(NUM_BEAMS))
MAX_RANGE_M = 100.0
RANGE_NOISE_M = 0.02
GROUND = -3   # owner id of ground returns
NO_HIT = -2   # owner id of rays without a return (written near the sensor, see above)
EGO = -4      # owner id of returns from the ego car's body
MIN_RANGE_M = 1.0          # echoes closer than this are written as no-returns
NEAR_POINT_RANGE_M = (0.02, 0.95)  # where no-return rays are written [m] (real fixture)
SPECKLE_SIGMA = 0.45       # log-normal intensity speckle (real fixture's intensity spread)
INTENSITY_GAIN = 0.4       # reflectivity 1 at normal incidence and short range -> 102
EGO_REFLECTIVITY = 0.3
# ego car body (Renault Zoe, nuScenes' car) as boxes in the ego frame: centre (x, y, z) and
# half extents [m]: the lower body with the bonnet, and the cabin
EGO_BODY_EGO = (((1.25, 0.0, 0.62), (2.05, 0.87, 0.33)), ((1.0, 0.0, 1.2), (0.9, 0.6, 0.25)))
_AZ0 = -np.pi
_DAZ = 2.0 * np.pi / NUM_AZIMUTHS
_AZIMUTHS = _AZ0 + _DAZ * (np.arange(NUM_AZIMUTHS) + 0.5)
_COS_EL = np.cos(ELEVATIONS_RAD)[:, None]
DIRS = np.stack([_COS_EL * np.cos(_AZIMUTHS)[None], _COS_EL * np.sin(_AZIMUTHS)[None],
                 np.broadcast_to(np.sin(ELEVATIONS_RAD)[:, None], (NUM_BEAMS, NUM_AZIMUTHS))],
                axis=-1)  # (32, 1084, 3) unit ray directions, LiDAR frame
DIRS32 = DIRS.astype(np.float32)


@dataclass
class LidarScan:
    """One scan in the LiDAR frame.

    Attributes:
        points: (N, 5) float32: x, y, z [m], intensity [0-255], ring [0-31].
        owner: (N,) int: index of the track hit, STATIC_OWNER (-1) or GROUND (-3).
    """
    points: np.ndarray
    owner: np.ndarray


def _cast_parts(parts: WorldParts, ranges: np.ndarray, owner: np.ndarray, refl: np.ndarray,
                cos_inc: np.ndarray) -> None:
    """Nearest ray-box hits (slab test), updating the (32, 1084) buffers in place.

    Each part only tests the rays of its azimuth / elevation window, so the cost is the number
    of rays that can hit it, not rays x parts.
    """
    corners = box_corners(parts.centers, parts.half, parts.yaw)  # (P, 8, 3)
    az_c = np.arctan2(parts.centers[:, 1], parts.centers[:, 0])
    az_corner = np.arctan2(corners[..., 1], corners[..., 0])
    span = np.abs((az_corner - az_c[:, None] + np.pi) % (2 * np.pi) - np.pi).max(axis=1)
    near = np.hypot(parts.centers[:, 0], parts.centers[:, 1]) - np.linalg.norm(
        parts.half[:, :2], axis=1)  # lower bound of the horizontal distance [m]
    far = np.hypot(corners[..., 0], corners[..., 1]).max(axis=1)
    # elevation extremes of a box are not always at corners (the nearest point of its
    # footprint may lie mid-edge): bound them with the nearest / farthest horizontal distance
    z_top = parts.centers[:, 2] + parts.half[:, 2]
    z_bot = parts.centers[:, 2] - parts.half[:, 2]
    safe_near = np.maximum(near, 1e-3)
    el_hi = np.arctan2(z_top, np.where(z_top > 0, safe_near, far))
    el_lo = np.arctan2(z_bot, np.where(z_bot < 0, safe_near, far))
    row_lo = np.searchsorted(ELEVATIONS_RAD, el_lo, side='left')
    row_hi = np.searchsorted(ELEVATIONS_RAD, el_hi, side='right')
    todo = np.flatnonzero((near < MAX_RANGE_M) & (row_hi > row_lo) & (near > 0.0))
    for p in todo[np.argsort(near[todo])]:  # near to far, so hidden parts can be skipped
        c0 = int(np.floor((az_c[p] - span[p] - _AZ0) / _DAZ))
        c1 = int(np.ceil((az_c[p] + span[p] - _AZ0) / _DAZ))
        cols = np.arange(c0, c1 + 1) % NUM_AZIMUTHS
        rows = slice(row_lo[p], row_hi[p])
        sub_r = ranges[rows][:, cols]
        if sub_r.max() < near[p]:  # every ray of the window already hit something nearer
            continue
        d = DIRS32[rows][:, cols]  # (nb, nc, 3)
        c, s = np.float32(np.cos(parts.yaw[p])), np.float32(np.sin(parts.yaw[p]))
        cx, cy, cz = parts.centers[p]
        dx = c * d[..., 0] + s * d[..., 1]
        dy = c * d[..., 1] - s * d[..., 0]
        dz = d[..., 2]
        ox, oy, oz = -(c * cx + s * cy), -(-s * cx + c * cy), -cz
        hx, hy, hz = parts.half[p]
        ix, iy, iz = 1.0 / dx, 1.0 / dy, 1.0 / dz
        tx1, tx2 = (-hx - ox) * ix, (hx - ox) * ix
        ty1, ty2 = (-hy - oy) * iy, (hy - oy) * iy
        tz1, tz2 = (-hz - oz) * iz, (hz - oz) * iz
        ex, ey, ez = np.minimum(tx1, tx2), np.minimum(ty1, ty2), np.minimum(tz1, tz2)
        t_in = np.maximum(np.maximum(ex, ey), ez)
        t_out = np.minimum(np.minimum(np.maximum(tx1, tx2), np.maximum(ty1, ty2)),
                           np.maximum(tz1, tz2))
        hit = (t_out >= t_in) & (t_in > 0.0) & (t_in < sub_r)
        if not hit.any():
            continue
        t_hit = t_in[hit]
        # the entry face is the slab whose entry time is the latest
        cos_hit = np.where(ex[hit] == t_hit, np.abs(dx[hit]),
                           np.where(ey[hit] == t_hit, np.abs(dy[hit]), np.abs(dz[hit])))
        r_idx, c_idx = np.nonzero(hit)
        r_idx = r_idx + rows.start
        c_idx = cols[c_idx]
        ranges[r_idx, c_idx] = t_hit
        owner[r_idx, c_idx] = parts.owner[p]
        refl[r_idx, c_idx] = parts.reflectivity[p]
        cos_inc[r_idx, c_idx] = cos_hit


def ego_body_ranges(lidar_T_ego: np.ndarray) -> np.ndarray:
    """(32, 1084) range [m] at which each ray meets the ego car's body (``EGO_BODY_EGO``),
    inf where it does not. The body surrounds the sensor's footprint, which the windowed
    caster of ``_cast_parts`` does not handle, and never moves: one slab test per rig."""
    out = np.full((NUM_BEAMS, NUM_AZIMUTHS), np.inf, dtype=np.float32)
    rot = lidar_T_ego[:3, :3]
    d = DIRS @ rot  # ray directions in the ego frame (rot is orthonormal)
    origin = -lidar_T_ego[:3, :3].T @ lidar_T_ego[:3, 3]  # LiDAR origin in the ego frame
    with np.errstate(divide='ignore', invalid='ignore'):
        for centre, half in EGO_BODY_EGO:
            lo = (np.array(centre) - half - origin) / d
            hi = (np.array(centre) + half - origin) / d
            t_in = np.minimum(lo, hi).max(axis=-1)
            t_out = np.maximum(lo, hi).min(axis=-1)
            hit = (t_out >= t_in) & (t_out > 0.0)
            out = np.minimum(out, np.where(hit, np.maximum(t_in, 0.0), np.inf))
    return out


def cast_scan(parts_lidar: WorldParts, road_T_lidar: np.ndarray, sensor_height_m: float,
              wet: bool, rng: np.random.Generator,
              ego_body_m: Optional[np.ndarray] = None) -> LidarScan:
    """Simulate one scan.

    Args:
        parts_lidar: the world's parts in the LiDAR frame.
        road_T_lidar: 4x4 LiDAR pose in the road frame (for the ground markings).
        sensor_height_m: height of the LiDAR origin above the ground [m].
        wet: rain: darker ground, more dropouts and a few near-range spray returns.
        rng: noise source (range noise, dropouts, intensity noise).
        ego_body_m: (32, 1084) ranges to the ego car's body (``ego_body_ranges``), or None.
    """
    shape = (NUM_BEAMS, NUM_AZIMUTHS)
    ranges = np.full(shape, np.inf, dtype=np.float32)
    owner = np.full(shape, NO_HIT, dtype=np.int64)
    refl = np.zeros(shape, dtype=np.float32)
    cos_inc = np.zeros(shape, dtype=np.float32)
    down = ELEVATIONS_RAD < 0
    ground_r = sensor_height_m / np.sin(-ELEVATIONS_RAD[down])
    ranges[down] = ground_r[:, None]
    owner[down] = GROUND
    cos_inc[down] = np.sin(-ELEVATIONS_RAD[down])[:, None]
    if ego_body_m is not None:
        body = ego_body_m < ranges
        ranges[body] = ego_body_m[body]
        owner[body] = EGO
        refl[body] = EGO_REFLECTIVITY
        cos_inc[body] = 0.5
    with np.errstate(divide='ignore', invalid='ignore'):  # axis-parallel rays: +-inf slabs
        _cast_parts(parts_lidar, ranges, owner, refl, cos_inc)

    ground = owner == GROUND
    gpts = DIRS[ground] * ranges[ground][:, None]
    road_xy = gpts[:, :2] @ road_T_lidar[:2, :2].T + road_T_lidar[:2, 3]
    surf = surface_at(road_xy[:, 0], road_xy[:, 1])
    refl[ground] = SURFACE_REFLECTIVITY['wet' if wet else 'dry'][surf]

    valid = (ranges < MAX_RANGE_M) & (ranges >= MIN_RANGE_M)
    drop_p = 0.08 if wet else 0.02
    valid &= rng.random(shape) >= drop_p
    speckle = np.exp(SPECKLE_SIGMA * rng.standard_normal(shape, dtype=np.float32))
    intensity = (refl * (255.0 * INTENSITY_GAIN) * (0.35 + 0.65 * cos_inc)
                 * (1.0 - ranges / 250.0).clip(0.2, 1.0) * speckle)
    valid &= intensity > 0.5  # too weak an echo: no return
    noise = rng.standard_normal(shape, dtype=np.float32)
    lo, hi = NEAR_POINT_RANGE_M
    r = np.where(valid, ranges + RANGE_NOISE_M * noise,
                 lo + (hi - lo) * rng.random(shape, dtype=np.float32))
    # no-returns as nuScenes writes them: near the sensor, weak (real median intensity 13; the
    # same normal draw serves, the two uses never meet on one ray)
    intensity = np.where(valid, intensity, 13.0 * np.exp(noise))
    xyz = DIRS * r[..., None]
    rings = np.broadcast_to(np.arange(NUM_BEAMS)[:, None], shape)
    points = np.concatenate([xyz.reshape(-1, 3), np.round(intensity).clip(0, 255).reshape(-1, 1),
                             rings.reshape(-1, 1)], axis=1).astype(np.float32)
    hit_owner = np.where(valid, owner, NO_HIT).reshape(-1)
    if wet:  # spray and drops: a few weak returns within 1-4 m
        n = int(rng.integers(50, 150))
        az = rng.uniform(-np.pi, np.pi, n)
        ring = rng.integers(0, NUM_BEAMS, n)
        rr = rng.uniform(1.0, 4.0, n)
        el = ELEVATIONS_RAD[ring]
        spray = np.stack([rr * np.cos(el) * np.cos(az), rr * np.cos(el) * np.sin(az),
                          rr * np.sin(el), rng.integers(0, 4, n), ring], axis=1)
        points = np.concatenate([points, spray.astype(np.float32)])
        hit_owner = np.concatenate([hit_owner, np.full(n, NO_HIT)])
    return LidarScan(points, hit_owner)
