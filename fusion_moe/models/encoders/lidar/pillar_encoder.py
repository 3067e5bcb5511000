"""LiDAR to BEV: hard voxelisation into pillars, PointNet per pillar, scatter to the grid.

Library pieces (not rewritten here): mmcv's ``Voxelization`` (hard voxelisation, CPU kernel,
linear in the number of points), mmdet3d's ``PillarFeatureNet`` and ``PointPillarsScatter``.
This module only wires them to the shared :class:`~fusion_moe.structures.BEVGrid`, normalises
the raw point features and handles samples without LiDAR.

Shape legend: B batch, N points of one sample, P pillars in the batch, C channels,
H x W the BEV grid (rows along y, columns along x).
"""
from typing import List, Sequence, Tuple

import torch
from mmcv.ops import Voxelization
from mmdet3d.models.middle_encoders import PointPillarsScatter
from mmdet3d.models.voxel_encoders import PillarFeatureNet
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import BEVGrid

from .point_batch import point_dim_index, voxelize_batch


@MODELS.register_module()
class LidarPillarEncoder(nn.Module):
    """Pillars on the shared BEV grid: one pillar per BEV cell, full z range.

    Args:
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max) in metres, LiDAR frame.
            Injected by the detector from its ``bev_grid``.
        cell_m: BEV cell edge in metres (= pillar edge). Injected by the detector.
        use_dims: names from ``LIDAR_POINT_DIMS`` fed to the pillar net; must start with
            x, y, z.
        feature_scale: per used dim, a multiplier applied before the pillar net (e.g. 1/255
            for intensity) so every input is O(1).
        out_channels: C of the returned BEV map.
        max_points_per_pillar: points kept per pillar (hard voxelisation, extra points dropped).
        max_pillars: pillars kept per sample, as (train, test).
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 cell_m: float,
                 use_dims: Sequence[str] = ('x', 'y', 'z', 'intensity', 'time_lag'),
                 feature_scale: Sequence[float] = (1.0, 1.0, 1.0, 1.0 / 255.0, 1.0),
                 out_channels: int = 64,
                 max_points_per_pillar: int = 20,
                 max_pillars: Tuple[int, int] = (30000, 40000)) -> None:
        super().__init__()
        self.grid = BEVGrid.from_config(point_cloud_range, cell_m)
        self.dim_index = point_dim_index(use_dims, feature_scale)
        self.register_buffer('feature_scale', torch.tensor(feature_scale, dtype=torch.float32),
                             persistent=False)
        pcr = list(self.grid.point_cloud_range)
        pillar_size = [cell_m, cell_m, pcr[5] - pcr[2]]
        self.voxelize = Voxelization(voxel_size=pillar_size, point_cloud_range=pcr,
                                     max_num_points=max_points_per_pillar,
                                     max_voxels=tuple(max_pillars), deterministic=True)
        self.pillar_net = PillarFeatureNet(
            in_channels=len(use_dims), feat_channels=(out_channels, ), with_distance=False,
            voxel_size=pillar_size, point_cloud_range=pcr, legacy=False)
        self.scatter = PointPillarsScatter(in_channels=out_channels,
                                           output_shape=list(self.grid.shape))
        self.out_channels = out_channels

    def forward(self, points: List[Tensor], present: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode one batch.

        Args:
            points: B tensors (N_b, len(LIDAR_POINT_DIMS)), LiDAR frame, metres. An absent or
                empty cloud gives an all-zero map.
            present: (B,) bool, the LiDAR presence flag per sample.

        Returns:
            (bev (B, C, H, W), present (B,) bool). Samples without LiDAR (flag False or no
            point inside the range) have an all-zero map and present False.
        """
        batch_size = len(points)
        batch, present = voxelize_batch(points, present, self.voxelize, self.dim_index,
                                        self.feature_scale)
        H, W = self.grid.shape
        if batch is None:
            ref = self.feature_scale
            return ref.new_zeros(batch_size, self.out_channels, H, W), present
        voxels, coors, counts = batch
        pillar_feats = self.pillar_net(voxels, counts, coors)
        bev = self.scatter(pillar_feats, coors, batch_size)
        return bev * present.to(bev.dtype)[:, None, None, None], present
