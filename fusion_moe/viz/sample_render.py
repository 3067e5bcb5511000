"""Render one loaded sample as a single picture: six cameras and a bird's-eye view.

Input is the loading pipeline's results dict (``structures/sensors.py``): ``img`` (6 BGR
arrays), ``lidar2img``, ``points`` (LiDAR frame), ``radar_points`` (LiDAR frame, with
compensated velocities), ``gt_bboxes_3d`` (LiDARInstance3DBoxes) and optionally
``lidar_points['lidar2ego']`` to draw the BEV with the ego's forward axis pointing up.

Camera tiles: LiDAR points projected with ``lidar2img`` and coloured by depth (red near,
blue far, up to ``max_depth_m``), box edges in their class colour. BEV panel: LiDAR points
(grey, brighter when higher), radar points (magenta) with velocity arrows showing where each
return moves in ``arrow_seconds``, box footprints with a heading tick, the ego at the centre.
Drawing is plain OpenCV, so a picture costs milliseconds and needs no display.
"""
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

from ..structures import CAMERAS, CLASSES, LIDAR_POINT_DIMS

# BGR colours per class, in CLASSES order.
CLASS_COLOURS: Tuple[Tuple[int, int, int], ...] = (
    (0, 165, 255), (0, 0, 255), (0, 100, 200), (0, 255, 255), (0, 200, 100),
    (255, 0, 0), (255, 100, 0), (255, 255, 0), (0, 255, 0), (200, 200, 200))
GRID_ORDER: Tuple[Tuple[str, ...], ...] = (
    ('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT'),
    ('CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT'))
# Edges of LiDARInstance3DBoxes.corners (x0y0z0, x0y0z1, x0y1z1, x0y1z0, x1y0z0, ...).
BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
             (0, 4), (1, 5), (2, 6), (3, 7))
BOTTOM_FACE = (0, 3, 7, 4)
FRONT_FACE = (4, 5, 6, 7)


def _box_corners_and_labels(results: dict) -> Tuple[np.ndarray, np.ndarray]:
    """(G, 8, 3) box corners in the LiDAR frame and (G,) labels (empty when no boxes)."""
    boxes = results.get('gt_bboxes_3d')
    if boxes is None or len(boxes) == 0:
        return np.zeros((0, 8, 3)), np.zeros(0, np.int64)
    labels = np.asarray(results.get('gt_labels_3d', np.zeros(len(boxes), np.int64)))
    return boxes.corners.numpy().astype(np.float64), labels


def _colour(label: int) -> Tuple[int, int, int]:
    return CLASS_COLOURS[label] if 0 <= label < len(CLASS_COLOURS) else (128, 128, 128)


def _project(xyz: np.ndarray, lidar2img: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(N, 2) pixel coordinates and (N,) depths [m] of LiDAR-frame points."""
    hom = xyz @ lidar2img[:3, :3].T + lidar2img[:3, 3]
    depth = hom[:, 2]
    return hom[:, :2] / np.maximum(depth[:, None], 1e-6), depth


def render_camera_tile(img: np.ndarray, lidar2img: np.ndarray, points_xyz: np.ndarray,
                       corners: np.ndarray, labels: np.ndarray, tile_wh: Tuple[int, int],
                       name: str, max_depth_m: float = 60.0) -> np.ndarray:
    """One camera image with projected LiDAR (coloured by depth) and 3D box edges.

    Args:
        img: (H, W, 3) uint8 BGR image as decoded.
        lidar2img: 4x4, LiDAR frame -> pixels of ``img``.
        points_xyz: (N, 3) LiDAR points, LiDAR frame, metres.
        corners: (G, 8, 3) box corners, LiDAR frame; labels: (G,) class indices.
        tile_wh: output (width, height) in pixels.
    """
    h, w = img.shape[:2]
    sx, sy = tile_wh[0] / w, tile_wh[1] / h
    tile = cv2.resize(img, tile_wh, interpolation=cv2.INTER_AREA)
    uv, depth = _project(points_xyz, lidar2img)
    keep = (depth > 0.5) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    if keep.any():
        order = np.argsort(-depth[keep])  # far first, near drawn on top
        uv_k, d_k = uv[keep][order], depth[keep][order]
        shade = np.clip(255 * (1 - d_k / max_depth_m), 0, 255).astype(np.uint8)
        colours = cv2.applyColorMap(shade[:, None], cv2.COLORMAP_JET)[:, 0]
        px = np.stack([uv_k[:, 0] * sx, uv_k[:, 1] * sy], axis=1).astype(np.int32)
        offsets = ((0, 0), (1, 0), (0, 1), (1, 1)) if tile_wh[0] >= 400 else ((0, 0),)
        for dx, dy in offsets:  # 2 x 2 pixel dots on large tiles, single pixels on small
            x = np.clip(px[:, 0] + dx, 0, tile_wh[0] - 1)
            y = np.clip(px[:, 1] + dy, 0, tile_wh[1] - 1)
            tile[y, x] = colours
    for box, label in zip(corners, labels):
        cuv, cdepth = _project(box, lidar2img)
        if (cdepth < 0.5).any():
            continue  # partly behind the camera
        if (cuv[:, 0].max() < 0 or cuv[:, 0].min() >= w or cuv[:, 1].max() < 0
                or cuv[:, 1].min() >= h):
            continue
        pts = np.stack([cuv[:, 0] * sx, cuv[:, 1] * sy], axis=1)
        for a, b in BOX_EDGES:
            cv2.line(tile, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]),
                     _colour(int(label)), 1, cv2.LINE_AA)
    cv2.putText(tile, name, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    return tile


def render_bev(points_xyz: np.ndarray, radar_points: np.ndarray, corners: np.ndarray,
               labels: np.ndarray, lidar2ego_rot: np.ndarray, size_px: int,
               range_m: float = 55.0, arrow_seconds: float = 1.0) -> np.ndarray:
    """Bird's-eye view, ego forward up and ego left to the left, ``range_m`` each way.

    Args:
        points_xyz: (N, 3) LiDAR points; radar_points: (M, >=6) x, y, z, rcs, vx, vy
            (LiDAR frame, metres, m/s); corners: (G, 8, 3); labels: (G,).
        lidar2ego_rot: 3x3 rotation LiDAR -> ego, used only to orient the picture.
        size_px: the panel is size_px x size_px.
    """
    panel = np.full((size_px, size_px, 3), 20, np.uint8)
    scale = size_px / (2 * range_m)

    def to_px(xyz: np.ndarray) -> np.ndarray:
        ego = xyz @ lidar2ego_rot.T
        return np.stack([size_px / 2 - ego[:, 1] * scale, size_px / 2 - ego[:, 0] * scale],
                        axis=1)

    for r in range(10, int(range_m) + 1, 10):
        cv2.circle(panel, (size_px // 2, size_px // 2), int(r * scale), (55, 55, 55), 1)
    if len(points_xyz):
        px = to_px(points_xyz).astype(np.int32)
        z = points_xyz @ lidar2ego_rot[2]
        shade = np.clip(90 + (z + 2.0) * 45, 60, 255).astype(np.uint8)
        ok = (px[:, 0] >= 0) & (px[:, 0] < size_px) & (px[:, 1] >= 0) & (px[:, 1] < size_px)
        panel[px[ok, 1], px[ok, 0]] = np.repeat(shade[ok, None], 3, axis=1)
    for box, label in zip(corners, labels):
        foot = to_px(box[list(BOTTOM_FACE)]).astype(np.int32)
        cv2.polylines(panel, [foot], True, _colour(int(label)), 1, cv2.LINE_AA)
        centre = to_px(box.mean(axis=0, keepdims=True))[0]
        front = to_px(box[list(FRONT_FACE)].mean(axis=0, keepdims=True))[0]
        cv2.line(panel, tuple(int(v) for v in centre), tuple(int(v) for v in front),
                 _colour(int(label)), 1, cv2.LINE_AA)
    if len(radar_points):
        rp = to_px(radar_points[:, :3].astype(np.float64))
        vel = np.concatenate([radar_points[:, 4:6], np.zeros((len(radar_points), 1))], axis=1)
        tip = to_px(radar_points[:, :3].astype(np.float64) + arrow_seconds * vel)
        for (x0, y0), (x1, y1) in zip(rp, tip):
            if np.hypot(x1 - x0, y1 - y0) > 2:
                cv2.arrowedLine(panel, (int(x0), int(y0)), (int(x1), int(y1)), (255, 0, 255), 1,
                                cv2.LINE_AA, tipLength=0.3)
            cv2.circle(panel, (int(x0), int(y0)), 2, (255, 0, 255), -1)
    c = size_px // 2
    cv2.rectangle(panel, (c - 3, c - 6), (c + 3, c + 6), (255, 255, 255), -1)
    cv2.putText(panel, f'BEV +-{range_m:.0f} m (rings 10 m), radar arrows = {arrow_seconds:g} s',
                (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def describe(results: dict) -> str:
    """One-line caption: token, context, modalities present, degradations."""
    ctx = results.get('context', {})
    present = results.get('modality_present', {})
    degr = ', '.join(f'{d["name"]}:{d["severity"]}' for d in results.get('degradations', []))
    return (f'{results.get("token", "?")}  {ctx.get("lighting", "?")}/{ctx.get("weather", "?")}'
            f' ({ctx.get("source", "?")})  present: '
            f'{",".join(m for m, p in present.items() if p) or "none"}'
            f'{"  degraded: " + degr if degr else ""}')


def render_sample(results: dict, tile_width: int = 480, max_points_per_camera: int = 60000,
                  bev_range_m: float = 55.0) -> np.ndarray:
    """The full picture of one sample: 2 x 3 camera grid, BEV panel to the right, caption.

    Returns:
        (H, W, 3) uint8 BGR image.
    """
    imgs = results.get('img') or []
    lidar2img = results.get('lidar2img') or []
    points = results.get('points')
    all_points = (points.tensor.numpy() if hasattr(points, 'tensor')
                  else np.zeros((0, len(LIDAR_POINT_DIMS)), np.float32))
    xyz = all_points[:, :3].astype(np.float64)
    # Cameras show the keyframe scan only (sweeps smear moving objects); the BEV shows all.
    lag = LIDAR_POINT_DIMS.index('time_lag')
    cam_xyz = xyz[all_points[:, lag] == 0] if all_points.shape[1] > lag else xyz
    if len(cam_xyz) > max_points_per_camera:
        cam_xyz = cam_xyz[np.random.default_rng(0).choice(len(cam_xyz), max_points_per_camera,
                                                          False)]
    corners, labels = _box_corners_and_labels(results)
    h0, w0 = imgs[0].shape[:2] if imgs else (900, 1600)
    tile_wh = (tile_width, int(round(tile_width * h0 / w0)))
    rows = []
    for row in GRID_ORDER:
        tiles = []
        for cam in row:
            i = CAMERAS.index(cam)
            if i < len(imgs):
                tiles.append(render_camera_tile(imgs[i], np.asarray(lidar2img[i]), cam_xyz,
                                                corners, labels, tile_wh, cam))
            else:
                tiles.append(np.zeros((tile_wh[1], tile_wh[0], 3), np.uint8))
        rows.append(np.concatenate(tiles, axis=1))
    grid = np.concatenate(rows, axis=0)
    lidar2ego = np.asarray((results.get('lidar_points') or {}).get('lidar2ego', np.eye(4)))
    radar = np.asarray(results.get('radar_points', np.zeros((0, 8))), dtype=np.float64)
    bev = render_bev(xyz, radar, corners, labels, lidar2ego[:3, :3], grid.shape[0],
                     bev_range_m)
    body = np.concatenate([grid, bev], axis=1)
    caption = np.full((24, body.shape[1], 3), 0, np.uint8)
    cv2.putText(caption, describe(results), (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([caption, body], axis=0)


def stack_renders(renders: Sequence[np.ndarray]) -> np.ndarray:
    """Stack pictures vertically (clean first, then each degraded version)."""
    width = max(r.shape[1] for r in renders)
    padded = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in renders]
    return np.concatenate(padded, axis=0)


def legend() -> Dict[str, Tuple[int, int, int]]:
    """Class name -> BGR colour used for its boxes."""
    return dict(zip(CLASSES, CLASS_COLOURS))


__all__: List[str] = ['render_sample', 'render_camera_tile', 'render_bev', 'stack_renders',
                      'describe', 'legend', 'CLASS_COLOURS']
