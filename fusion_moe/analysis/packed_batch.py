"""Packed detector batches of nuScenes-like size with random content, for cost measurements.

Speed and FLOPs depend on how much data a model sees (points, images, grid), not on what the
data shows, so ``tools/model_info.py`` and the speed benchmarks feed the detector generated
batches instead of reading a dataset: ``{'inputs': {points, img, radar_points},
'data_samples': [Det3DDataSample]}`` exactly as ``PackFusionInputs`` + ``pseudo_collate`` give
them (the data preprocessor runs on it). Sizes follow the config's test pipeline
(:func:`sizes_from_config`). Frames: points, radar and boxes in the LiDAR frame (metres);
``lidar2img`` maps LiDAR to pixels of six cameras 60 degrees apart.
"""
import math
from dataclasses import dataclass
from typing import Any, Iterator, Tuple

import numpy as np
import torch
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
from mmengine.structures import InstanceData

from fusion_moe.structures import CAMERAS, CLASSES, LIDAR_POINT_DIMS, RADAR_POINT_DIMS

#: nuScenes averages: ~34,700 LiDAR points per sweep (keyframe or previous sweep); ~100 kept
#: radar points per scan summed over the five radars; 1600 x 900 camera images.
LIDAR_POINTS_PER_SWEEP = 34700
RADAR_POINTS_PER_SCAN = 100
IMAGE_HW = (900, 1600)


@dataclass(frozen=True)
class BatchSizes:
    """Per-sample sizes: LiDAR points, radar points, cameras and image (H, W) in pixels."""
    lidar_points: int
    radar_points: int
    cameras: int
    image_hw: Tuple[int, int]


def _transforms(node: Any) -> Iterator[dict]:
    """Every dict with a ``type`` anywhere inside a (config) tree."""
    if isinstance(node, dict):
        if 'type' in node:
            yield node
        for value in node.values():
            yield from _transforms(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _transforms(value)


def sizes_from_config(cfg) -> BatchSizes:
    """Sizes the config's test pipeline loads: LiDAR points from ``LoadLidarSweeps.sweeps_num``
    (keyframe + previous sweeps), radar from ``LoadRadarSweeps.sweeps_num``, images at
    ``LoadCameraImages.downscale`` (defaults of those transforms where the config omits them;
    nuScenes averages per sweep, see the constants above)."""
    pipeline = cfg.get('test_dataloader', {}).get('dataset', {})
    lidar_sweeps, radar_scans, downscale = 11, 6, 1
    for t in _transforms(pipeline):
        if t['type'] == 'LoadLidarSweeps':
            lidar_sweeps = int(t.get('sweeps_num', 10)) + 1
        elif t['type'] == 'LoadRadarSweeps':
            radar_scans = int(t.get('sweeps_num', 6))
        elif t['type'] == 'LoadCameraImages':
            downscale = int(t.get('downscale', 1))
    h, w = IMAGE_HW
    return BatchSizes(lidar_points=LIDAR_POINTS_PER_SWEEP * lidar_sweeps,
                      radar_points=RADAR_POINTS_PER_SCAN * radar_scans, cameras=len(CAMERAS),
                      image_hw=(-(-h // downscale), -(-w // downscale)))


def ring_lidar2img(image_hw: Tuple[int, int], num_cameras: int) -> list:
    """(4, 4) LiDAR -> pixel matrices of pinhole cameras at the LiDAR origin, yaw-spaced evenly
    (focal length W / 2, principal point at the image centre)."""
    h, w = image_hw
    f = w / 2
    cam2img = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    axes = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
    out = []
    for yaw in np.linspace(0, 2 * math.pi, num_cameras, endpoint=False):
        c, s = math.cos(yaw), math.sin(yaw)
        rot = np.array([[c, s, 0, 0], [-s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
        out.append(cam2img @ axes @ rot)
    return out


def packed_sample(rng: np.random.Generator, sizes: BatchSizes, num_boxes: int = 30
                  ) -> Tuple[dict, Det3DDataSample]:
    """One packed sample: points in +-50 m, random images, radar, boxes of every class, clear-day
    context and all modalities present. Returns ``(inputs, data_sample)``."""
    n = sizes.lidar_points
    pts = np.zeros((n, len(LIDAR_POINT_DIMS)), np.float32)
    pts[:, :2] = rng.uniform(-50, 50, (n, 2))
    pts[:, 2] = rng.uniform(-2, 2, n)
    pts[:, 3] = rng.uniform(0, 255, n)
    pts[:, 4] = rng.integers(0, 32, n)
    pts[:, 5] = rng.uniform(0, 0.5, n)
    m = sizes.radar_points
    radar = np.zeros((m, len(RADAR_POINT_DIMS)), np.float32)
    radar[:, :2] = rng.uniform(-50, 50, (m, 2))
    radar[:, 3:6] = rng.normal(0, 3, (m, 3))
    boxes = np.zeros((num_boxes, 9), np.float32)
    boxes[:, :2] = rng.uniform(-45, 45, (num_boxes, 2))
    boxes[:, 3:6] = rng.uniform(0.5, 5, (num_boxes, 3))
    boxes[:, 6] = rng.uniform(-math.pi, math.pi, num_boxes)
    sample = Det3DDataSample()
    sample.set_metainfo(dict(
        lidar2img=ring_lidar2img(sizes.image_hw, sizes.cameras),
        box_type_3d=LiDARInstance3DBoxes,
        modality_present=dict(camera=True, lidar=True, radar=True),
        cameras_present=[True] * sizes.cameras, degradations=[],
        context={'lighting': 'day', 'weather': 'clear', 'source': 'metadata'}))
    gt = InstanceData()
    gt.bboxes_3d = LiDARInstance3DBoxes(torch.from_numpy(boxes), box_dim=9)
    gt.labels_3d = torch.arange(num_boxes) % len(CLASSES)
    sample.gt_instances_3d = gt
    h, w = sizes.image_hw
    inputs = dict(points=torch.from_numpy(pts), radar_points=torch.from_numpy(radar),
                  img=torch.from_numpy(rng.integers(0, 255, (sizes.cameras, 3, h, w),
                                                    dtype=np.uint8)))
    return inputs, sample


def packed_batch(sizes: BatchSizes, batch_size: int = 1, seed: int = 0) -> dict:
    """``batch_size`` samples collated as the dataloader does (lists per input key)."""
    rng = np.random.default_rng(seed)
    pairs = [packed_sample(rng, sizes) for _ in range(batch_size)]
    return {'inputs': {k: [p[0][k] for p in pairs] for k in pairs[0][0]},
            'data_samples': [p[1] for p in pairs]}
