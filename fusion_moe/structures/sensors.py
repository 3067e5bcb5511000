"""Sensor names and the layout of per-sample data in the loading pipeline's results dict.

These names are the contract between the data pipeline, the degradation injector and the
detector (DESIGN.md). Frames: every array below is in the LiDAR frame of the keyframe
(nuScenes LIDAR_TOP as recorded: x right, y forward, z up; metres; mmdet3d uses it unrotated)
unless its name says otherwise.

Results-dict keys after the loading pipeline (before packing):

- ``points``: mmdet3d ``LiDARPoints``, (N, 6) float32, dims ``LIDAR_POINT_DIMS``:
  x, y, z [m], intensity [0-255], ring [0-31 beam index, as float], time_lag [s; 0 for the
  keyframe, >0 for older sweeps].
- ``img``: list of 6 (H, W, 3) uint8 BGR arrays in ``CAMERAS`` order; ``lidar2img``,
  ``cam2img``, ``lidar2cam``: lists of 6 float64 4x4 arrays in the same order
  (``cam2img`` padded to 4x4); ``img_path``: list of 6 paths.
- ``radar_points``: (M, len(RADAR_POINT_DIMS)) float32 numpy array, dims ``RADAR_POINT_DIMS``,
  all 5 radars and their sweeps accumulated and ego-motion compensated into the LiDAR frame.
- ``modality_present``: ``{'camera': bool, 'lidar': bool, 'radar': bool}``; an absent modality
  keeps a correctly shaped empty / zero entry, never garbage.
- ``context``: ``{'lighting', 'weather', 'source'}`` (see ``structures/context.py``).
- ``degradations``: list of ``{'name': str, 'severity': int, 'params': dict}``.
- ``train_epoch``: int, only in training (the dataset writes it); degradations seed their
  streams with it, so each epoch degrades a sample anew.
- ``sensor_faults``: list of ``{'modality', 'path', 'problem'}``, one per sensor input that
  could not be used and was replaced by the documented fallback (file unreadable and the
  sensor marked absent, no points left after degradations, all cameras black); counted and
  summarised by ``MissingSensorSummaryHook``.
- ``gt_bboxes_3d``: ``LiDARInstance3DBoxes`` with box_dim 9 (x, y, z_bottom, l, w, h, yaw,
  vx, vy); ``gt_labels_3d``: (G,) int64 indices into ``CLASSES``.
"""
from typing import Tuple

MODALITIES: Tuple[str, ...] = ('camera', 'lidar', 'radar')

CAMERAS: Tuple[str, ...] = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK',
                            'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')
RADARS: Tuple[str, ...] = ('RADAR_FRONT', 'RADAR_FRONT_LEFT', 'RADAR_FRONT_RIGHT',
                           'RADAR_BACK_LEFT', 'RADAR_BACK_RIGHT')
LIDAR: str = 'LIDAR_TOP'

LIDAR_POINT_DIMS: Tuple[str, ...] = ('x', 'y', 'z', 'intensity', 'ring', 'time_lag')
RADAR_POINT_DIMS: Tuple[str, ...] = ('x', 'y', 'z', 'rcs', 'vx_comp', 'vy_comp', 'time_lag',
                                     'dyn_prop')

# The 10 nuScenes detection classes, in mmdet3d's order (label index = position).
CLASSES: Tuple[str, ...] = ('car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle',
                            'motorcycle', 'pedestrian', 'traffic_cone', 'barrier')
