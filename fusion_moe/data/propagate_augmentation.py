"""PropagateLidarAugmentation: make radar points and camera projections follow the global 3D
augmentation that mmdet3d's transforms applied to the LiDAR points and boxes.

``GlobalRotScaleTrans`` (mmdet3d) and ``BEVRandomFlip3D`` move ``points`` and ``gt_bboxes_3d``
into an augmented LiDAR frame and record how (``pcd_rotation``, ``pcd_scale_factor``,
``pcd_trans``, flips, in the order of ``transformation_3d_flow``). They do not know about radar
points or the cameras. Left alone, the radar would disagree with the LiDAR and the boxes, and the
camera encoder would sample image features for the wrong BEV cells. This transform, placed after
them:

- builds the 4x4 affine ``lidar_aug_matrix`` A (original LiDAR frame -> augmented frame, metres)
  by replaying the recorded flow with mmdet3d's ``apply_3d_transformation`` (the function
  mmdet3d's own fusion models use to undo augmentation), so the order and conventions are
  mmdet3d's;
- moves radar positions by A and turns radar velocities (``vx_comp``, ``vy_comp``, m/s) by A's
  linear part, as ``LiDARInstance3DBoxes`` does for box velocities;
- replaces every ``lidar2img`` / ``lidar2cam`` M by ``M A^-1``: a point of the augmented frame
  projects to the pixel its original position projected to, so images need no change.

The matrix goes into the results (and the packed metainfo) as ``lidar_aug_matrix``, BEVFusion's
name for it. Without any recorded augmentation the transform changes nothing.
"""
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet3d.models.layers.fusion_layers.coord_transform import apply_3d_transformation

from fusion_moe.registry import TRANSFORMS

_AUG_KEYS = ('pcd_rotation', 'pcd_scale_factor', 'pcd_trans', 'pcd_horizontal_flip',
             'pcd_vertical_flip', 'transformation_3d_flow')


def lidar_augmentation_matrix(results: dict) -> np.ndarray:
    """(4, 4) float64 affine map from the original to the augmented LiDAR frame.

    An affine map is fixed by where it sends the origin and the three unit vectors; those four
    points go through mmdet3d's replay of ``transformation_3d_flow``.
    """
    meta = {}
    for key in _AUG_KEYS:
        if key in results:
            value = results[key]
            meta[key] = value.cpu().numpy() if torch.is_tensor(value) else value
    # float32: mmdet3d's point structures hold float32 (float32 rounding, ~1e-7 relative).
    basis = torch.tensor([[0., 0., 0.], [1., 0., 0.], [0., 1., 0.], [0., 0., 1.]])
    moved = apply_3d_transformation(basis, 'LIDAR', meta).double().numpy()
    matrix = np.eye(4)
    matrix[:3, 3] = moved[0]
    matrix[:3, :3] = (moved[1:] - moved[0]).T  # column i: image of unit vector i
    return matrix


@TRANSFORMS.register_module()
class PropagateLidarAugmentation(BaseTransform):
    """Carry the recorded global 3D augmentation to ``radar_points``, ``lidar2img`` and
    ``lidar2cam`` (see module docstring). Place it after ``GlobalRotScaleTrans`` /
    ``BEVRandomFlip3D`` and before ``PackFusionInputs``."""

    def transform(self, results: dict) -> dict:
        if not results.get('transformation_3d_flow'):
            return results
        aug = lidar_augmentation_matrix(results)
        results['lidar_aug_matrix'] = aug
        radar = results.get('radar_points')
        if radar is not None and len(radar):
            radar = np.array(radar, dtype=np.float64)  # copy
            linear = aug[:3, :3]
            radar[:, 0:3] = radar[:, 0:3] @ linear.T + aug[:3, 3]
            velocity = np.zeros((len(radar), 3))
            velocity[:, :2] = radar[:, 4:6]
            radar[:, 4:6] = (velocity @ linear.T)[:, :2]
            results['radar_points'] = radar.astype(np.float32)
        undo = np.linalg.inv(aug)
        for key in ('lidar2img', 'lidar2cam'):
            if results.get(key) is not None:
                results[key] = [np.asarray(m, dtype=np.float64) @ undo for m in results[key]]
        return results
