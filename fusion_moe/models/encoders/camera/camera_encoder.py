"""Cameras to BEV: mmdet's ResNet + FPN per image, then the Simple-BEV sampling transform.

Shape legend: B batch, N cameras, C channels, Hi x Wi input image, h x w feature map,
H x W BEV grid.
"""
from typing import Optional, Sequence, Tuple

from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import BEVGrid

from .pretrained import resolve_pretrained_backbone
from .view_transform import SamplingViewTransform


@MODELS.register_module()
class CameraSamplingEncoder(nn.Module):
    """Per-image CNN features, lifted to BEV by projection sampling with ``lidar2img``.

    Args:
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max), metres, LiDAR frame.
            Injected by the detector from its ``bev_grid``.
        cell_m: BEV cell edge, metres. Injected by the detector.
        backbone: mmdet backbone config, e.g. ``dict(type='mmdet.ResNet', depth=18, ...)``;
            ``init_cfg=dict(type='Pretrained', checkpoint=PATH | URL | 'torchvision://NAME')``
            loads pretrained weights when they are at hand, otherwise the backbone trains
            from scratch with nothing frozen (logged; see ``pretrained.py``).
        neck: mmdet neck config (e.g. ``mmdet.FPN``) or None to use the backbone outputs.
        feature_level: which neck (or backbone) output the view transform samples.
        feature_channels: C of that output.
        out_channels: C of the returned BEV map.
        heights_m: heights sampled per BEV cell, metres (LiDAR frame z).
        sample_stride: view-transform grid coarsening factor (see SamplingViewTransform).
        download_pretrained: let mmengine download an URL checkpoint that is not in the torch
            hub cache (off by default: offline machines train from scratch instead).
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 cell_m: float,
                 backbone: dict,
                 neck: dict | None,
                 feature_channels: int,
                 out_channels: int = 64,
                 feature_level: int = 0,
                 heights_m: Sequence[float] = (-1.0, 0.0, 1.0, 2.0),
                 sample_stride: int = 1,
                 download_pretrained: bool = False) -> None:
        super().__init__()
        self.grid = BEVGrid.from_config(point_cloud_range, cell_m)
        self.backbone = MODELS.build(resolve_pretrained_backbone(backbone, download_pretrained))
        self.neck = MODELS.build(neck) if neck is not None else None
        self.feature_level = feature_level
        self.view_transform = SamplingViewTransform(self.grid, feature_channels, out_channels,
                                                    heights_m, sample_stride)
        self.out_channels = out_channels

    def forward(self, imgs: Tensor, lidar2img: Tensor, present: Tensor,
                view_present: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Encode one batch.

        Args:
            imgs: (B, N, 3, Hi, Wi) normalised images (all samples padded to one size).
            lidar2img: (B, N, 4, 4) LiDAR frame -> pixels of ``imgs`` (after any resize).
            present: (B,) bool camera presence flag.
            view_present: optional (B, N) bool per-view flag (a missing image is left out
                of the camera average instead of contributing zeros).

        Returns:
            (bev (B, C, H, W), present (B,)); absent samples get an all-zero map.
        """
        B, N = imgs.shape[:2]
        x = self.backbone(imgs.flatten(0, 1))
        if self.neck is not None:
            x = self.neck(x)
        feats = x[self.feature_level]
        feats = feats.reshape(B, N, *feats.shape[1:])
        bev = self.view_transform(feats, lidar2img, tuple(imgs.shape[-2:]), view_present)
        return bev * present.to(bev.dtype)[:, None, None, None], present
