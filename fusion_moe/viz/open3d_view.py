"""Offscreen 3D view of a sample with open3d: LiDAR, radar and box wireframes.

Uses ``open3d.visualization.rendering.OffscreenRenderer`` (no window needed). The camera looks
at the ego from behind and above, in the ego frame's orientation (``lidar2ego`` from the
results dict). Colours: LiDAR by height (grey-blue), radar magenta, boxes in their class colour.
"""
from typing import Tuple

import numpy as np

from .sample_render import BOX_EDGES, CLASS_COLOURS


def render_open3d(results: dict, size_wh: Tuple[int, int] = (960, 720),
                  eye_behind_m: float = 25.0, eye_height_m: float = 18.0) -> np.ndarray:
    """Render the sample; returns an (H, W, 3) uint8 BGR image."""
    import open3d as o3d
    from open3d.visualization import rendering

    lidar2ego = np.asarray((results.get('lidar_points') or {}).get('lidar2ego', np.eye(4)))
    rot = lidar2ego[:3, :3]
    renderer = rendering.OffscreenRenderer(*size_wh)
    renderer.scene.set_background([0.05, 0.05, 0.08, 1.0])
    unlit = rendering.MaterialRecord()
    unlit.shader = 'defaultUnlit'
    unlit.point_size = 2.0

    points = results.get('points')
    if points is not None and len(points):
        xyz = points.tensor[:, :3].numpy().astype(np.float64) @ rot.T  # ego orientation
        height = np.clip((xyz[:, 2] + 2.0) / 5.0, 0, 1)[:, None]
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz))
        cloud.colors = o3d.utility.Vector3dVector(0.35 + 0.6 * height * np.array([[0.6, 0.8, 1]]))
        renderer.scene.add_geometry('lidar', cloud, unlit)
    radar = np.asarray(results.get('radar_points', np.zeros((0, 8))), dtype=np.float64)
    if len(radar):
        radar_mat = rendering.MaterialRecord()
        radar_mat.shader, radar_mat.point_size = 'defaultUnlit', 7.0
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(radar[:, :3] @ rot.T))
        cloud.paint_uniform_color([1.0, 0.0, 1.0])
        renderer.scene.add_geometry('radar', cloud, radar_mat)
    boxes = results.get('gt_bboxes_3d')
    if boxes is not None and len(boxes):
        labels = np.asarray(results.get('gt_labels_3d', np.zeros(len(boxes), np.int64)))
        line_mat = rendering.MaterialRecord()
        line_mat.shader, line_mat.line_width = 'unlitLine', 2.0
        for i, (corners, label) in enumerate(zip(boxes.corners.numpy(), labels)):
            lines = o3d.geometry.LineSet(o3d.utility.Vector3dVector(corners.astype(np.float64)
                                                                    @ rot.T),
                                         o3d.utility.Vector2iVector(np.array(BOX_EDGES)))
            bgr = CLASS_COLOURS[label] if 0 <= label < len(CLASS_COLOURS) else (128, 128, 128)
            lines.paint_uniform_color([c / 255 for c in bgr[::-1]])
            renderer.scene.add_geometry(f'box{i}', lines, line_mat)
    renderer.setup_camera(60.0, [8.0, 0.0, 0.0], [-eye_behind_m, 0.0, eye_height_m],
                          [0.0, 0.0, 1.0])
    rgb = np.asarray(renderer.render_to_image())
    return np.ascontiguousarray(rgb[:, :, ::-1])
