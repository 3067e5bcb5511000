"""BEVRandomFlip3D: random bird's-eye-view flips of LiDAR points and 3D boxes that leave the
camera images alone.

mmdet3d's ``RandomFlip3D`` also flips ``img`` whenever the results hold one (it is written for
a single front camera). Flipping six surround images does not mirror the scene, so for
multi-view pipelines the flip has to stay in the LiDAR frame: this transform flips ``points``
and ``gt_bboxes_3d`` with mmdet3d's own structure methods (which also mirror box yaw and
velocity) and records the flip the way ``RandomFlip3D`` does (``pcd_horizontal_flip``,
``pcd_vertical_flip``, ``transformation_3d_flow``). ``PropagateLidarAugmentation`` then carries
it to the radar points and the camera projections.
"""
import numpy as np
from mmcv.transforms import BaseTransform

from fusion_moe.registry import TRANSFORMS

# (direction as mmdet3d names it, results key, flow code). LiDAR frame: 'horizontal' negates y,
# 'vertical' negates x.
_FLIPS = (('horizontal', 'pcd_horizontal_flip', 'HF'), ('vertical', 'pcd_vertical_flip', 'VF'))


@TRANSFORMS.register_module()
class BEVRandomFlip3D(BaseTransform):
    """Flip the scene in BEV with the given probabilities (training augmentation).

    Args:
        flip_ratio_bev_horizontal: probability of negating y (LiDAR frame).
        flip_ratio_bev_vertical: probability of negating x (LiDAR frame).

    A flip already decided in ``results`` (e.g. by test-time augmentation) is kept.
    """

    def __init__(self, flip_ratio_bev_horizontal: float = 0.5,
                 flip_ratio_bev_vertical: float = 0.5) -> None:
        for name, value in (('flip_ratio_bev_horizontal', flip_ratio_bev_horizontal),
                            ('flip_ratio_bev_vertical', flip_ratio_bev_vertical)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{name} must be in [0, 1], got {value}')
        self.ratios = {'horizontal': flip_ratio_bev_horizontal,
                       'vertical': flip_ratio_bev_vertical}

    def transform(self, results: dict) -> dict:
        flow = results.setdefault('transformation_3d_flow', [])
        for direction, key, code in _FLIPS:
            if key not in results:
                results[key] = bool(np.random.rand() < self.ratios[direction])
            if not results[key]:
                continue
            if results.get('points') is not None:
                results['points'].flip(direction)
            if results.get('gt_bboxes_3d') is not None:
                results['gt_bboxes_3d'].flip(direction)
            flow.append(code)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(flip_ratio_bev_horizontal={self.ratios["horizontal"]}, '
                f'flip_ratio_bev_vertical={self.ratios["vertical"]})')
