"""MultiViewImageAug: resize, crop, flip and rotate each camera image, and its projection with it.

BEVFusion's ``ImageAug3D`` (mit-han-lab/bevfusion and mmdet3d's ``projects/BEVFusion``; not in
the mmdet3d package) rewritten for this package's results dict: per view, a random scale,
a crop to the network's input size (bottom rows kept, random horizontal offset), an optional
horizontal flip and a small rotation about the crop centre, composed into one 2D affine map
``A`` (pixels of the decoded image -> pixels of the augmented image) and applied with a single
``cv2.warpAffine`` (bilinear; the border is black). The projection follows the pixels:
``cam2img`` and ``lidar2img`` become ``A @ M`` (A as 4x4), so every LiDAR-frame point still
projects to the pixel that now shows it; ``lidar2cam`` is unchanged. ``img_aug_matrix`` (list
of 4x4, BEVFusion's name) records ``A``.

With the 3D augmentation this commutes: ``PropagateLidarAugmentation`` right-multiplies
``lidar2img`` by the inverse 3D map, this transform left-multiplies by the image map, so the two
can come in either order (the nuScenes pipelines put the image augmentation first).
``img_aug_matrix`` acts on projected homogeneous pixels ``(u d, v d, d, 1)`` (so its shift sits
in column 2), which is what left-multiplying ``cam2img`` / ``lidar2img`` needs.

Scales are relative to the decoded image: ``resize_range`` multiplies the scale ``s0`` that makes
the image as wide as ``final_hw[1]``, so one config serves any image size. BEVFusion's nuScenes
values (1600 px images to 256 x 704, scales 0.38-0.55, test 0.48) are ``resize_range`` (0.864,
1.25) and ``test_resize`` 1.09, with rotations of +-5.4 degrees and random flips.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from ..registry import TRANSFORMS


def _affine(scale: float, crop_xy: Tuple[float, float], flip: bool, angle_deg: float,
            final_hw: Tuple[int, int]) -> np.ndarray:
    """3x3 pixel map: scale about the origin, shift by -crop, mirror x in the crop, rotate
    by ``angle_deg`` (counter-clockwise on screen) about the crop centre."""
    h, w = final_hw
    m = np.diag([scale, scale, 1.0])
    m = np.array([[1.0, 0.0, -crop_xy[0]], [0.0, 1.0, -crop_xy[1]], [0.0, 0.0, 1.0]]) @ m
    if flip:
        m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    if angle_deg:
        rot = np.eye(3)
        rot[:2] = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle_deg, 1.0)
        m = rot @ m
    return m


@TRANSFORMS.register_module()
class MultiViewImageAug(BaseTransform):
    """Augment every camera view and its projection matrices (see module docstring).

    Reads ``img`` (list of (H, W, 3) uint8), ``cam2img`` and ``lidar2img`` (lists of 4x4).
    Writes the augmented ``img`` (each ``final_hw``), ``cam2img``, ``lidar2img``,
    ``img_aug_matrix`` (list of 4x4), ``img_shape`` / ``pad_shape`` = ``final_hw``.

    Args:
        final_hw: (height, width) in pixels of every output image.
        resize_range: (low, high) scale draws, as multiples of the scale that fits the image
            width to ``final_hw[1]`` (training).
        rotate_deg: (low, high) rotation draws in degrees (training).
        flip_ratio: probability of a horizontal flip per view (training).
        test_resize: the scale multiple used with ``training=False`` (no flip, no rotation,
            centred crop).
        training: draw random augmentations (True) or apply the fixed test-time resize/crop.
    """

    def __init__(self, final_hw: Sequence[int], resize_range: Sequence[float] = (0.864, 1.25),
                 rotate_deg: Sequence[float] = (-5.4, 5.4), flip_ratio: float = 0.5,
                 test_resize: float = 1.09, training: bool = True) -> None:
        if len(final_hw) != 2 or min(final_hw) <= 0:
            raise ValueError(f'final_hw must be (height, width) > 0, got {final_hw}')
        if len(resize_range) != 2 or not 0 < resize_range[0] <= resize_range[1]:
            raise ValueError(f'resize_range must be (low, high) with 0 < low <= high, got '
                             f'{resize_range}')
        if not 0.0 <= flip_ratio <= 1.0:
            raise ValueError(f'flip_ratio must be in [0, 1], got {flip_ratio}')
        if test_resize <= 0:
            raise ValueError(f'test_resize must be > 0, got {test_resize}')
        self.final_hw = (int(final_hw[0]), int(final_hw[1]))
        self.resize_range = tuple(float(r) for r in resize_range)
        self.rotate_deg = tuple(float(r) for r in rotate_deg)
        self.flip_ratio = float(flip_ratio)
        self.test_resize = float(test_resize)
        self.training = bool(training)

    def _draw(self, img_hw: Tuple[int, int]) -> np.ndarray:
        h_out, w_out = self.final_hw
        fit = w_out / img_hw[1]
        if self.training:
            scale = fit * np.random.uniform(*self.resize_range)
        else:
            scale = fit * self.test_resize
        new_w, new_h = img_hw[1] * scale, img_hw[0] * scale
        crop_y = new_h - h_out  # keep the bottom rows (the road), drop the sky
        if self.training:
            crop_x = np.random.uniform(0.0, max(0.0, new_w - w_out))
            flip = bool(np.random.rand() < self.flip_ratio)
            angle = float(np.random.uniform(*self.rotate_deg))
        else:
            crop_x, flip, angle = max(0.0, new_w - w_out) / 2.0, False, 0.0
        return _affine(scale, (crop_x, crop_y), flip, angle, self.final_hw)

    def transform(self, results: dict) -> dict:
        h_out, w_out = self.final_hw
        imgs, aug_mats, cam2img, lidar2img = [], [], [], []
        for i, img in enumerate(results['img']):
            a = self._draw(img.shape[:2])
            imgs.append(cv2.warpAffine(img, a[:2], (w_out, h_out), flags=cv2.INTER_LINEAR,
                                       borderMode=cv2.BORDER_CONSTANT, borderValue=0))
            # acts on projected homogeneous pixels (u d, v d, d, 1): the shift scales with d
            a4 = np.eye(4)
            a4[:2, :3] = a[:2]
            aug_mats.append(a4)
            cam2img.append(a4 @ np.asarray(results['cam2img'][i], dtype=np.float64))
            lidar2img.append(a4 @ np.asarray(results['lidar2img'][i], dtype=np.float64))
        results.update(img=imgs, img_aug_matrix=aug_mats, cam2img=cam2img, lidar2img=lidar2img,
                       img_shape=self.final_hw, pad_shape=self.final_hw)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(final_hw={self.final_hw}, resize_range='
                f'{self.resize_range}, rotate_deg={self.rotate_deg}, flip_ratio='
                f'{self.flip_ratio}, test_resize={self.test_resize}, training={self.training})')
