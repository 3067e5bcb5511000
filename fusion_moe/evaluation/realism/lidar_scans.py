"""LiDAR statistics of a spinning scan (nuScenes LIDAR_TOP, Velodyne HDL-32E): points per scan
and per ring, the intensity and range distributions, and the share of ground returns.

Input: (N, 5) float32 ``x, y, z, intensity, ring`` in the LiDAR frame (metres, z up from the
sensor; intensity 0-255; ring 0-31, 0 the lowest beam), as ``fusion_moe.data.lidar_file``
reads a ``.pcd.bin`` (the devkit's ``LidarPointCloud`` drops the ring column).

Returns within ``CLOSE_RADIUS_M`` of the sensor (|x| and |y| both below it, as the devkit's
``LidarPointCloud.remove_close``) are rays without a return and hits on the ego vehicle: the real
scan stores every one of its 32 x 1084 rays, 23% of them there. ``points_per_scan`` counts all
records, every other statistic only the returns beyond.

Ground: the plane with the most returns within ``GROUND_TOLERANCE_M`` among
``GROUND_CANDIDATES`` planes through three random points (seeded RANSAC) of those more than
``GROUND_SEARCH_BELOW_M`` below the sensor, counting only nearly horizontal candidates
(normal within ``GROUND_MAX_TILT_DEG`` of z), refined by least squares on its inliers
(``GROUND_REFINE_STEPS`` times); the ground share is the share of all returns within
``GROUND_TOLERANCE_M`` of it. The same procedure on both data sets, so its own bias cancels
in the comparison. Written in numpy rather than with open3d's ``segment_plane``, whose
parallel RANSAC gives a different plane from run to run even seeded.
"""
from typing import Dict, Sequence

import numpy as np

from fusion_moe.data.lidar_file import read_lidar_bin

NUM_RINGS = 32
CLOSE_RADIUS_M = 1.0
GROUND_SEARCH_BELOW_M = 1.0
GROUND_TOLERANCE_M = 0.2
GROUND_MAX_TILT_DEG = 10.0
GROUND_REFINE_STEPS = 3
GROUND_CANDIDATES = 200
INTENSITY_BINS = np.arange(0, 257, 1)
RANGE_BINS_M = np.arange(0.0, 101.0, 1.0)


def ground_mask(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N,) bool ground returns of (N, >=3) LiDAR-frame points (see the module docstring)."""
    xyz = points[:, :3].astype(np.float64)
    low = xyz[xyz[:, 2] < -GROUND_SEARCH_BELOW_M]
    mask = np.zeros(len(points), dtype=bool)
    if len(low) < 3:
        return mask
    rng = np.random.default_rng(seed)
    p0, p1, p2 = (low[rng.integers(0, len(low), GROUND_CANDIDATES)] for _ in range(3))
    normals = np.cross(p1 - p0, p2 - p0)                           # (C, 3)
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-9
    normals[ok] /= norms[ok, None]
    ok &= np.abs(normals[:, 2]) >= np.cos(np.radians(GROUND_MAX_TILT_DEG))
    if not ok.any():
        return mask
    normals, p0 = normals[ok], p0[ok]
    offsets = -np.einsum('cj,cj->c', normals, p0)
    counts = (np.abs(low @ normals.T + offsets) <= GROUND_TOLERANCE_M).sum(axis=0)
    best = int(np.argmax(counts))
    dist = np.abs(xyz @ normals[best] + offsets[best])
    for _ in range(GROUND_REFINE_STEPS):                # z = a x + b y + c on the inliers
        inliers = xyz[dist <= GROUND_TOLERANCE_M]
        if len(inliers) < 3:
            break
        design = np.column_stack([inliers[:, 0], inliers[:, 1], np.ones(len(inliers))])
        (ga, gb, gc), *_ = np.linalg.lstsq(design, inliers[:, 2], rcond=None)
        dist = np.abs(xyz[:, 2] - (ga * xyz[:, 0] + gb * xyz[:, 1] + gc)) / np.sqrt(
            1.0 + ga * ga + gb * gb)
    return dist <= GROUND_TOLERANCE_M


def far_mask(points: np.ndarray) -> np.ndarray:
    """(N,) bool: outside the ``CLOSE_RADIUS_M`` square around the sensor (devkit's
    ``remove_close``)."""
    return ~((np.abs(points[:, 0]) < CLOSE_RADIUS_M) & (np.abs(points[:, 1]) < CLOSE_RADIUS_M))


def scan_statistics(points: np.ndarray) -> Dict[str, np.ndarray]:
    """One scan: ``records`` (count of all rows), ``points`` (count of returns beyond
    ``CLOSE_RADIUS_M``) and of those: ``ring_counts`` (32,), ``intensity`` (N,), ``range_m``
    (N,) (3-D distance from the sensor), ``ground`` (N,) bool."""
    if points.ndim != 2 or points.shape[1] < 5:
        raise ValueError(f'expected (N, 5) x, y, z, intensity, ring points, got {points.shape}')
    records = len(points)
    points = points[far_mask(points)]
    rings = points[:, 4].astype(np.int64)
    if len(rings) and (rings.min() < 0 or rings.max() >= NUM_RINGS):
        raise ValueError(f'ring indices outside 0..{NUM_RINGS - 1}: {rings.min()}..{rings.max()}')
    return {'records': np.array(records), 'points': np.array(len(points)),
            'ring_counts': np.bincount(rings, minlength=NUM_RINGS),
            'intensity': points[:, 3].astype(np.float64),
            'range_m': np.linalg.norm(points[:, :3].astype(np.float64), axis=1),
            'ground': ground_mask(points)}


def set_statistics(paths: Sequence[str]) -> Dict[str, np.ndarray]:
    """``scan_statistics`` over several scan files: per-scan ``records`` and ``points``, summed
    ``ring_counts``, pooled ``intensity`` / ``range_m`` histograms (``INTENSITY_BINS``,
    ``RANGE_BINS_M``) and per-scan ``ground_share``."""
    if not paths:
        raise ValueError('no LiDAR scans to describe')
    records, counts, rings, ground = [], [], np.zeros(NUM_RINGS, dtype=np.int64), []
    hist_i = np.zeros(len(INTENSITY_BINS) - 1)
    hist_r = np.zeros(len(RANGE_BINS_M) - 1)
    for path in paths:
        s = scan_statistics(read_lidar_bin(path))
        records.append(int(s['records']))
        counts.append(int(s['points']))
        rings += s['ring_counts']
        hist_i += np.histogram(s['intensity'], INTENSITY_BINS)[0]
        hist_r += np.histogram(s['range_m'], RANGE_BINS_M)[0]
        ground.append(float(s['ground'].mean()) if len(s['ground']) else float('nan'))
    return {'records_per_scan': np.array(records), 'points_per_scan': np.array(counts),
            'ring_counts': rings,
            'intensity_hist': hist_i, 'range_hist': hist_r, 'ground_share': np.array(ground)}


def bin_centres(edges: np.ndarray) -> np.ndarray:
    return 0.5 * (edges[:-1] + edges[1:])
