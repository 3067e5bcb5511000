"""GT sampling (CenterPoint / BEVFusion's "ObjectSample") with radar kept consistent.

mmdet3d's ``ObjectSample`` pastes objects from the ground-truth database (their LiDAR points and
boxes, drawn per class by ``DataBaseSampler`` without colliding with the scene's boxes) and
removes the scene's LiDAR points inside the pasted boxes. It knows nothing of radar, so a pasted
car would have no radar return and a scene's radar returns would sit inside pasted boxes.
``FusionObjectSample`` does the same for LiDAR (mmdet3d's own code) and also:

- removes the scene's radar points inside the pasted boxes;
- adds each pasted object's radar points from the database (``radar_path``, written by
  :func:`~fusion_moe.data.gt_database.create_gt_database`), moved back to the box position.

Objects are pasted where they were recorded (same LiDAR-frame position, yaw and velocity), so
radar velocities stay valid unchanged. Cameras are not changed: pasted objects are absent from
the images, as in BEVFusion's and TransFusion's nuScenes recipes (which also paste into the
LiDAR only). ``DisableObjectSampleHook`` (mmdet3d) can switch sampling off for the last epochs.

``FusionDataBaseSampler`` is mmdet3d's ``DataBaseSampler`` (same database format, filters,
per-class draws through its ``sample_class_v2``) whose ``sample_all`` also returns the drawn
objects' radar points; it is rewritten here because mmdet3d 1.4's ``sample_all`` calls
``np.long``, which numpy >= 1.24 no longer has, and returns no handle on the drawn objects.
"""
import os.path as osp
from typing import Optional

import numpy as np
from mmdet3d.datasets.transforms import ObjectSample
from mmdet3d.datasets.transforms.dbsampler import DataBaseSampler
from mmdet3d.structures.ops import box_np_ops

from ..registry import TRANSFORMS
from ..structures import RADAR_POINT_DIMS


@TRANSFORMS.register_module()
class FusionDataBaseSampler(DataBaseSampler):
    """``DataBaseSampler`` whose draws carry radar points too (see module docstring).

    Takes ``DataBaseSampler``'s arguments (``info_path``, ``data_root``, ``rate``,
    ``prepare``, ``sample_groups``, ``classes``, ``points_loader``, ``backend_args``); a
    missing ``info_path`` is an error that says how to write the database.
    """

    def __init__(self, info_path: str, data_root: str, **kwargs) -> None:
        if '://' not in info_path and not osp.isfile(info_path):
            raise FileNotFoundError(
                f'GT-sampling database {info_path} not found; write it with python '
                f'tools/create_data.py nuscenes --root-path {data_root} --version VERSION '
                f'--gt-database')
        super().__init__(info_path=info_path, data_root=data_root, **kwargs)

    def _load_radar(self, info: dict) -> np.ndarray:
        """(M, len(RADAR_POINT_DIMS)) float32 radar points of one database object, moved
        from box-relative back to the keyframe LiDAR frame of its sample."""
        if 'radar_path' not in info:
            raise KeyError(f'GT database entry {info.get("path")} has no radar_path; rebuild '
                           f'the database with tools/create_data.py --gt-database')
        path = osp.join(self.data_root, info['radar_path']) if self.data_root \
            else info['radar_path']
        radar = np.fromfile(path, dtype=np.float32).reshape(-1, len(RADAR_POINT_DIMS))
        radar[:, :3] += info['box3d_lidar'][:3]
        return radar

    def sample_all(self, gt_bboxes: np.ndarray, gt_labels: np.ndarray,
                   img: Optional[np.ndarray] = None,
                   ground_plane: Optional[np.ndarray] = None) -> Optional[dict]:
        """Draw objects for every class up to its ``sample_groups`` count.

        Args:
            gt_bboxes: (G, 9) scene boxes (LiDAR frame, bottom centre), avoided by the draws.
            gt_labels: (G,) scene labels (indices into ``classes``).

        Returns:
            None when nothing was drawn, else ``gt_bboxes_3d`` (S, 9), ``gt_labels_3d`` (S,)
            int64, ``points`` (LiDARPoints of all drawn objects), ``radar_points`` (M, 8)
            float32 and ``group_ids`` (S,).
        """
        if img is not None or ground_plane is not None:
            raise ValueError('FusionDataBaseSampler pastes into the LiDAR frame only; '
                             'sample_2d and use_ground_plane are not supported')
        drawn, drawn_boxes = [], []
        avoid = gt_bboxes
        for name, max_num in zip(self.sample_classes, self.sample_max_nums):
            label = self.cat2label[name]
            wanted = int(np.round(self.rate * (max_num - int(np.sum(gt_labels == label)))))
            if wanted <= 0:
                continue
            objects = self.sample_class_v2(name, wanted, avoid)
            if objects:
                boxes = np.stack([o['box3d_lidar'] for o in objects])
                drawn += objects
                drawn_boxes.append(boxes)
                avoid = np.concatenate([avoid, boxes])
        if not drawn:
            return None
        points = []
        for info in drawn:
            path = osp.join(self.data_root, info['path']) if self.data_root else info['path']
            obj = self.points_loader(dict(lidar_points=dict(lidar_path=path)))['points']
            obj.translate(info['box3d_lidar'][:3])
            points.append(obj)
        return dict(
            gt_labels_3d=np.array([self.cat2label[o['name']] for o in drawn], dtype=np.int64),
            gt_bboxes_3d=np.concatenate(drawn_boxes).astype(np.float32),
            points=points[0].cat(points),
            radar_points=np.concatenate([self._load_radar(o) for o in drawn]),
            group_ids=np.arange(len(gt_bboxes), len(gt_bboxes) + len(drawn)))


@TRANSFORMS.register_module()
class FusionObjectSample(ObjectSample):
    """mmdet3d's ``ObjectSample`` for LiDAR + radar (see module docstring).

    Reads and updates ``points``, ``radar_points`` ((M, 8), ``RADAR_POINT_DIMS``, keyframe
    LiDAR frame), ``gt_bboxes_3d``, ``gt_labels_3d``; adds ``gt_sampled`` ((G + S,) bool, True
    for pasted boxes, for tests and visualisation; box filters after it do not update it). Place it after ``LoadAnnotations3D`` and
    before any augmentation.

    Args:
        db_sampler: database sampler config; ``type`` defaults to ``FusionDataBaseSampler``.
    """

    def __init__(self, db_sampler: dict) -> None:
        db_sampler = dict(db_sampler)
        db_sampler.setdefault('type', 'FusionDataBaseSampler')
        super().__init__(db_sampler=db_sampler)

    def transform(self, input_dict: dict) -> dict:
        boxes, labels = input_dict['gt_bboxes_3d'], input_dict['gt_labels_3d']
        input_dict['gt_sampled'] = np.zeros(len(labels), dtype=bool)
        if self.disabled:
            return input_dict
        sampled = self.db_sampler.sample_all(boxes.numpy(), np.asarray(labels))
        if sampled is None:
            return input_dict
        new_boxes = sampled['gt_bboxes_3d']
        points = self.remove_points_in_boxes(input_dict['points'], new_boxes)
        input_dict['points'] = points.cat([sampled['points'], points])
        radar = input_dict.get('radar_points')
        if radar is not None:
            if len(radar):
                inside = box_np_ops.points_in_rbbox(radar[:, :3], new_boxes[:, :7]).any(-1)
                radar = radar[~inside]
            input_dict['radar_points'] = np.concatenate(
                [sampled['radar_points'], radar]).astype(np.float32)
        input_dict['gt_bboxes_3d'] = boxes.new_box(np.concatenate([boxes.numpy(), new_boxes]))
        input_dict['gt_labels_3d'] = np.concatenate(
            [np.asarray(labels), sampled['gt_labels_3d']]).astype(np.int64)
        input_dict['gt_sampled'] = np.concatenate(
            [input_dict['gt_sampled'], np.ones(len(new_boxes), dtype=bool)])
        return input_dict
