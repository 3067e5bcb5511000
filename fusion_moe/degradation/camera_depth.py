"""Per-pixel range for a camera: ground-plane geometry refined with projected LiDAR.

Used by camera fog, where the transmission depends on the distance light travels from the
scene to the camera. Written by hand (no library does this combination); the sparse-to-dense
step follows the classical image-processing depth completion of Ku et al., "In Defense of
Classical Image Processing: Fast Depth Completion on the CPU", CRV 2018 (IP-Basic), reduced
to its spirit at low resolution: hole filling on inverse depth (here a horizontal dilation
and linear interpolation between scan lines) and extension of the topmost depth upwards
(here capped by height above the ground).

All maps are "range" maps: Euclidean distance in metres from the camera centre to the scene
point seen by the pixel (not the z-depth), on a grid ``scale`` times coarser than the image:
cell (r, c) samples full-resolution pixel ((c + 0.5) * scale - 0.5, (r + 0.5) * scale - 0.5).

Frames: ``lidar2cam`` maps LiDAR-frame points (metres) into the camera frame (x right, y down,
z forward); ``cam2img`` is the 3x3 (or padded 4x4) intrinsic matrix in pixels.
"""
from functools import lru_cache
from typing import Optional, Tuple

import cv2
import numpy as np
from scipy.ndimage import median_filter

#: Ground height in the nuScenes LiDAR frame: the LIDAR_TOP sits about 1.84 m above the road.
NUSCENES_GROUND_Z_M = -1.84
#: Range given to pixels whose ray never meets the ground (sky, far horizon) [m].
SKY_RANGE_M = 1000.0


def _low_res_shape(image_hw: Tuple[int, int], scale: int) -> Tuple[int, int]:
    return (int(np.ceil(image_hw[0] / scale)), int(np.ceil(image_hw[1] / scale)))


def pixel_rays(cam2img: np.ndarray, lidar2cam: np.ndarray, image_hw: Tuple[int, int],
               scale: int) -> Tuple[float, np.ndarray]:
    """Camera height and the vertical component of the cells' unit viewing rays.

    Both in the LiDAR frame; only the z components are needed (for the ground plane and the
    height cap). Cached per calibration (a dataset has few distinct camera calibrations).

    Returns:
        origin_z: camera centre height [m]; ray_z: (h, w) float32, read-only.
    """
    K = np.ascontiguousarray(np.asarray(cam2img, dtype=np.float64)[:3, :3])
    l2c = np.ascontiguousarray(np.asarray(lidar2cam, dtype=np.float64))
    return _pixel_rays_cached(K.tobytes(), l2c.tobytes(), int(image_hw[0]), int(image_hw[1]),
                              int(scale))


@lru_cache(maxsize=64)
def _pixel_rays_cached(k_bytes: bytes, l2c_bytes: bytes, img_h: int, img_w: int, scale: int
                       ) -> Tuple[float, np.ndarray]:
    K = np.frombuffer(k_bytes, dtype=np.float64).reshape(3, 3)
    cam2lidar = np.linalg.inv(np.frombuffer(l2c_bytes, dtype=np.float64).reshape(4, 4))
    h, w = _low_res_shape((img_h, img_w), scale)
    u = ((np.arange(w) + 0.5) * scale - 0.5)[None, :]
    v = ((np.arange(h) + 0.5) * scale - 0.5)[:, None]
    M = cam2lidar[:3, :3] @ np.linalg.inv(K)          # pixel (u, v, 1) -> LiDAR direction
    x, y, z = (M[i, 0] * u + M[i, 1] * v + M[i, 2] for i in range(3))
    ray_z = (z / np.sqrt(x * x + y * y + z * z)).astype(np.float32)
    ray_z.setflags(write=False)
    return float(cam2lidar[2, 3]), ray_z


def ground_plane_range(cam2img: np.ndarray, lidar2cam: np.ndarray, image_hw: Tuple[int, int],
                       scale: int = 4, ground_z_m: float = NUSCENES_GROUND_Z_M,
                       far_m: float = SKY_RANGE_M) -> np.ndarray:
    """Range to the plane z = ``ground_z_m`` (LiDAR frame) along each pixel's ray.

    Returns:
        (h, w) float32 range [m], ``far_m`` where the ray points above the horizon or meets
        the ground beyond ``far_m``.
    """
    origin_z, ray_z = pixel_rays(cam2img, lidar2cam, image_hw, scale)
    with np.errstate(divide='ignore', invalid='ignore'):
        rng_m = np.float32(ground_z_m - origin_z) / ray_z   # unit rays: parameter = range
    rng_m = np.where((ray_z < 0) & (rng_m > 0), rng_m, np.float32(far_m))
    return np.minimum(rng_m, np.float32(far_m))


def extend_upwards(dense: np.ndarray, origin_z: float, ray_z: np.ndarray,
                   ground_z_m: float, max_height_m: float,
                   cut_by_fov: Optional[np.ndarray] = None, median_cols: int = 15
                   ) -> np.ndarray:
    """Continue each column's topmost LiDAR range up the image (IP-Basic's "extend to top"),
    for surfaces the LiDAR's vertical field of view cut off, and only while the surface
    stays below ``max_height_m`` above the ground. A wall seen by the top beam continues above
    it; a vehicle roof seen by a lower beam, with nothing above, ends there (sky above).

    Args:
        dense: (h, w) float32 range [m], ``inf`` where unknown.
        origin_z, ray_z: from :func:`pixel_rays`.
        cut_by_fov: (h, w) bool, cells hit by the LiDAR's top beams; a column is extended
            only if its topmost valid cell is one of them. None: every column qualifies.
        median_cols: width (cells) of the median taken over the columns' top ranges.
    """
    valid = np.isfinite(dense)
    has_any = valid.any(axis=0)
    top = np.argmax(valid, axis=0)                              # first valid row per column
    cols = np.arange(dense.shape[1])
    if cut_by_fov is not None:
        has_any &= cut_by_fov[top, cols]
    d_top = np.where(has_any, dense[top, cols], SKY_RANGE_M)    # (w,)
    # a median across neighbouring columns keeps thin objects (poles, trunks, branches)
    # from painting vertical streaks up the image
    d_top = median_filter(d_top, size=median_cols, mode='nearest')
    has_any &= d_top < SKY_RANGE_M
    above = np.arange(dense.shape[0])[:, None] < top[None, :]
    height = origin_z + d_top[None, :] * ray_z - ground_z_m
    fill = above & has_any[None, :] & (height <= max_height_m)
    return np.where(fill, d_top[None, :], dense).astype(np.float32)


def project_to_cells(points_xyz: np.ndarray, cam2img: np.ndarray, lidar2cam: np.ndarray,
                     image_hw: Tuple[int, int], scale: int = 4, min_depth_m: float = 0.5
                     ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low-resolution cell and camera range of the LiDAR points that land in the image.

    Args:
        points_xyz: (N, 3) LiDAR frame [m].

    Returns:
        index: (N,) bool, which points land in the image (in front of the camera);
        flat: (n,) int64 flat cell index (row * w + col) of those points;
        range_m: (n,) float32 distance from the camera centre [m].
    """
    h, w = _low_res_shape(image_hw, scale)
    l2c = np.asarray(lidar2cam, dtype=np.float64)
    K = np.asarray(cam2img, dtype=np.float64)[:3, :3]
    cam = points_xyz.astype(np.float64) @ l2c[:3, :3].T + l2c[:3, 3]
    with np.errstate(divide='ignore', invalid='ignore'):
        uvw = cam @ K.T
        col = (uvw[:, 0] / uvw[:, 2] + 0.5) / scale
        row = (uvw[:, 1] / uvw[:, 2] + 0.5) / scale
    index = (cam[:, 2] > min_depth_m) & (col >= 0) & (col < w) & (row >= 0) & (row < h)
    flat = row[index].astype(np.int64) * w + col[index].astype(np.int64)
    return index, flat, np.linalg.norm(cam[index], axis=1).astype(np.float32)


def _nearest_per_cell(flat: np.ndarray, range_m: np.ndarray, hw_cells: Tuple[int, int]
                      ) -> np.ndarray:
    out = np.full(hw_cells[0] * hw_cells[1], np.inf, dtype=np.float32)
    np.minimum.at(out, flat, range_m)
    return out.reshape(hw_cells)


def lidar_range_image(points_xyz: np.ndarray, cam2img: np.ndarray, lidar2cam: np.ndarray,
                      image_hw: Tuple[int, int], scale: int = 4,
                      min_depth_m: float = 0.5) -> np.ndarray:
    """Nearest LiDAR range per low-resolution cell.

    Args:
        points_xyz: (N, 3) LiDAR frame [m].

    Returns:
        (h, w) float32 range [m] from the camera centre, ``inf`` where no point projects.
    """
    _, flat, range_m = project_to_cells(points_xyz, cam2img, lidar2cam, image_hw, scale,
                                        min_depth_m)
    return _nearest_per_cell(flat, range_m, _low_res_shape(image_hw, scale))


def densify_scan_lines(sparse_range: np.ndarray, scale: int = 4,
                       max_gap_px: float = 80.0) -> np.ndarray:
    """Fill the gaps between LiDAR scan lines.

    Two steps, both on inverse range (disparity-like, so near surfaces dominate): a 3-cell
    horizontal dilation closes the gaps between returns of one ring (0.33 deg apart), then
    each column is interpolated linearly between consecutive rings when they are at most
    ``max_gap_px`` full-resolution pixels apart (HDL-32E rings are 1.33 deg, about 29 px at
    nuScenes' 1266 px focal length, apart). Interpolating rather than dilating vertically
    avoids blocky halos around thin near objects (poles, trunks).

    Args:
        sparse_range: (h, w) float32 [m], ``inf`` where empty.

    Returns:
        (h, w) float32 [m], ``inf`` where no ring lies within reach.
    """
    inv = np.where(np.isfinite(sparse_range), 1.0 / np.maximum(sparse_range, 1e-3), 0.0)
    inv = cv2.dilate(inv.astype(np.float32), np.ones((1, 3), np.uint8))
    h, w = inv.shape
    valid = inv > 0
    rows = np.arange(h, dtype=np.int32)[:, None]
    prev = np.maximum.accumulate(np.where(valid, rows, np.int32(-1)), axis=0)
    nxt = np.minimum.accumulate(np.where(valid, rows, np.int32(h))[::-1], axis=0)[::-1]
    gap = nxt - prev
    bridge = ~valid & (prev >= 0) & (nxt < h) & (gap <= max_gap_px / scale)
    prev_c, nxt_c = np.clip(prev, 0, h - 1), np.clip(nxt, 0, h - 1)
    weight = (rows - prev_c).astype(np.float32) / np.maximum(gap, 1).astype(np.float32)
    interp = ((1 - weight) * np.take_along_axis(inv, prev_c, axis=0)
              + weight * np.take_along_axis(inv, nxt_c, axis=0))
    inv = np.where(bridge, interp, inv)
    with np.errstate(divide='ignore'):
        return np.where(inv > 0, 1.0 / inv, np.inf).astype(np.float32)


def camera_range_map(cam2img: np.ndarray, lidar2cam: np.ndarray, image_hw: Tuple[int, int],
                     points_xyz: Optional[np.ndarray] = None, scale: int = 4,
                     ground_z_m: float = NUSCENES_GROUND_Z_M, far_m: float = SKY_RANGE_M,
                     max_height_m: float = 20.0, top_beam_min_deg: float = 8.5
                     ) -> np.ndarray:
    """Range map of one camera: LiDAR where it reaches (continued upwards, up to
    ``max_height_m`` above the ground, where the top beams show the surface goes on), the
    ground-plane prior elsewhere.

    Args:
        points_xyz: (N, 3) LiDAR points [m, LiDAR frame]; None for the prior alone.
        top_beam_min_deg: elevation [deg] above which a return counts as a top-beam return
            (the HDL-32E's two upper beams are at +9.3 and +10.7 deg).

    Returns:
        (h, w) float32 range [m] at 1/``scale`` resolution, finite everywhere, <= ``far_m``.
    """
    prior = ground_plane_range(cam2img, lidar2cam, image_hw, scale, ground_z_m, far_m)
    if points_xyz is None or len(points_xyz) == 0:
        return prior
    cells = _low_res_shape(image_hw, scale)
    index, flat, range_m = project_to_cells(points_xyz, cam2img, lidar2cam, image_hw, scale)
    dense = densify_scan_lines(_nearest_per_cell(flat, range_m, cells), scale)
    seen = points_xyz[index]
    top_beam = np.arctan2(seen[:, 2], np.hypot(seen[:, 0], seen[:, 1])) >= np.radians(
        top_beam_min_deg)
    top_hits = np.zeros(cells[0] * cells[1], dtype=np.uint8)
    top_hits[flat[top_beam]] = 1
    cut_by_fov = cv2.dilate(top_hits.reshape(cells), np.ones((3, 5), np.uint8)).astype(bool)
    origin_z, ray_z = pixel_rays(cam2img, lidar2cam, image_hw, scale)
    dense = extend_upwards(dense, origin_z, ray_z, ground_z_m, max_height_m, cut_by_fov)
    return np.where(np.isfinite(dense), np.minimum(dense, far_m), prior).astype(np.float32)
