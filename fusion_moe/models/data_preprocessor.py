"""Batch collation for PackFusionInputs: images normalised and stacked, point clouds kept as lists.

mmdet3d's ``Det3DDataPreprocessor`` drops input keys it does not know (``radar_points``) and
voxelises for one modality only, so the fusion detector uses this small preprocessor; each
encoder voxelises its own modality.

Shape legend: B batch, N cameras, Hi x Wi image.
"""
from typing import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from fusion_moe.registry import MODELS


@MODELS.register_module()
class FusionDataPreprocessor(BaseDataPreprocessor):
    """Move a packed batch to the device and normalise the camera images.

    Args:
        mean: per-channel mean (after the optional BGR->RGB swap), 0-255 scale.
        std: per-channel std, 0-255 scale.
        bgr_to_rgb: images arrive as BGR (mmcv decoding); swap to RGB before normalising.

    Output ``inputs``: ``points`` list of B (N_b, 6) float32, ``radar_points`` list of B
    (M_b, 8) float32, ``imgs`` (B, N, 3, Hi, Wi) float32 (each present only if in the batch).
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 bgr_to_rgb: bool = True, non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(1, 1, 3, 1, 1),
                             persistent=False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(1, 1, 3, 1, 1),
                             persistent=False)
        self.bgr_to_rgb = bgr_to_rgb

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        out = {}
        for key in ('points', 'radar_points'):
            if key in inputs:
                out[key] = [p.float() for p in inputs[key]]
        if 'img' in inputs:
            imgs = inputs['img']
            if isinstance(imgs, (list, tuple)):
                shapes = {tuple(i.shape) for i in imgs}
                if len(shapes) != 1:
                    raise ValueError(f'inputs["img"] differ in shape across the batch: {shapes}; '
                                     f'resize every sample to one size in the pipeline')
                imgs = torch.stack(list(imgs))
            if imgs.dim() != 5 or imgs.shape[2] != 3:
                raise ValueError(f'inputs["img"] must be (B, N, 3, H, W), got {tuple(imgs.shape)}')
            imgs = imgs.float()
            if self.bgr_to_rgb:
                imgs = imgs.flip(2)
            out['imgs'] = (imgs - self.mean) / self.std
        extra = set(inputs) - {'points', 'radar_points', 'img'}
        if extra:
            raise KeyError(f'unknown input keys {sorted(extra)}; expected points, img, '
                           f'radar_points')
        return {'inputs': out, 'data_samples': data.get('data_samples')}
