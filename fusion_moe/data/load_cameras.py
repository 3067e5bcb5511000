"""Camera loading: the six images of a sample and their projection matrices.

Like mmdet3d's ``LoadMultiViewImageFromFiles`` (same decoder, ``cv2.imdecode``), with the
camera order fixed to ``CAMERAS``, ``lidar2img`` computed here, optional DCT-domain downscaling
at decode time, and the missing-sensor policy of :mod:`.errors`.
"""
import logging
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from ..registry import TRANSFORMS
from ..structures import CAMERAS
from .calib import pad_intrinsics
from .errors import (SensorFileError, check_missing_sensor_policy, handle_sensor_error,
                     record_sensor_fault)
from .image_file import read_image

_NUSCENES_IMAGE_HW = (900, 1600)


@TRANSFORMS.register_module()
class LoadCameraImages(BaseTransform):
    """Load the six camera images of a sample.

    Reads ``results['images'][CAM]['img_path' | 'cam2img' (3x3) | 'lidar2cam' (4x4)]``.
    Writes, in ``cameras`` order: ``img`` (list of (H, W, 3) uint8 BGR), ``img_path``,
    ``cam2img`` (4x4, intrinsics scaled to the decoded size), ``lidar2cam`` (4x4, keyframe
    LiDAR -> camera, metres), ``lidar2img`` (4x4 = cam2img @ lidar2cam, LiDAR metres -> pixels
    of the decoded image, homogeneous), ``img_shape``/``ori_shape``/``pad_shape`` (H, W),
    ``cameras_present`` (list of bool) and ``modality_present['camera']``.

    Args:
        downscale: decode at 1/downscale resolution (1, 2, 4 or 8) with libjpeg's scaled DCT;
            intrinsics are scaled by 1/downscale (pixel-centre offsets of a quarter pixel at
            downscale 2 are ignored, as an image resize would).
        cameras: camera names, default the six nuScenes cameras in ``CAMERAS`` order.
        on_missing: 'raise' for a missing / undecodable / truncated image, or 'mark_absent':
            that view becomes a zero image of the sample's image size, its
            ``cameras_present`` entry False and a warning is logged; ``modality_present
            ['camera']`` is False only when no view could be read.
    """

    def __init__(self, downscale: int = 1, cameras: Sequence[str] = CAMERAS,
                 on_missing: str = 'raise') -> None:
        if downscale not in (1, 2, 4, 8):
            raise ValueError(f'downscale must be 1, 2, 4 or 8, got {downscale}')
        unknown = [c for c in cameras if c not in CAMERAS]
        if unknown:
            raise ValueError(f'unknown camera names {unknown}; expected names from {CAMERAS}')
        self.downscale = downscale
        self.cameras = tuple(cameras)
        self.on_missing = check_missing_sensor_policy(on_missing)

    def _fallback_shape(self, results: dict, decoded: Sequence[Optional[np.ndarray]]
                        ) -> Tuple[int, int, int]:
        for img in decoded:
            if img is not None:
                return img.shape
        cam = results['images'][self.cameras[0]]
        h, w = cam.get('height', _NUSCENES_IMAGE_HW[0]), cam.get('width', _NUSCENES_IMAGE_HW[1])
        return -(-h // self.downscale), -(-w // self.downscale), 3

    def transform(self, results: dict) -> dict:
        images = results.get('images', {})
        missing = [c for c in self.cameras if c not in images]
        if missing:
            raise KeyError(f'sample {results.get("token")} has no info for cameras {missing}; '
                           f'the info file lacks them')
        decoded, present = [], []
        for cam in self.cameras:
            try:
                decoded.append(read_image(images[cam]['img_path'], self.downscale))
                present.append(True)
            except SensorFileError as err:
                if self.on_missing == 'raise':
                    raise
                print_log(f'{cam}: {err}; view replaced by zeros', logger='current',
                          level=logging.WARNING)
                record_sensor_fault(results, 'camera', err.path,
                                    f'{cam} replaced by zeros: {err.problem}')
                decoded.append(None)
                present.append(False)
        shape = self._fallback_shape(results, decoded)
        imgs = [img if img is not None else np.zeros(shape, np.uint8) for img in decoded]
        if any(img.shape != shape for img in imgs):
            raise ValueError(f'sample {results.get("token")}: camera images differ in size '
                             f'{[img.shape for img in imgs]}')

        scale = np.diag([1.0 / self.downscale, 1.0 / self.downscale, 1.0, 1.0])
        cam2img = [scale @ pad_intrinsics(images[c]['cam2img']) for c in self.cameras]
        lidar2cam = [np.asarray(images[c]['lidar2cam'], dtype=np.float64) for c in self.cameras]
        results.update(
            img=imgs, img_path=[images[c]['img_path'] for c in self.cameras],
            cam2img=cam2img, lidar2cam=lidar2cam,
            lidar2img=[k @ e for k, e in zip(cam2img, lidar2cam)],
            img_shape=shape[:2], ori_shape=shape[:2], pad_shape=shape[:2],
            scale_factor=1.0 / self.downscale, num_views=len(self.cameras),
            cameras_present=present)
        results.setdefault('modality_present', {})['camera'] = any(present)
        if not any(present):
            handle_sensor_error(SensorFileError(images[self.cameras[0]]['img_path'],
                                                'no camera image of the sample could be read'),
                                results, 'camera', 'mark_absent')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(downscale={self.downscale}, '
                f'cameras={self.cameras}, on_missing={self.on_missing!r})')
