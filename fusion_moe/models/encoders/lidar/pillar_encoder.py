"""LiDAR to BEV: hard voxelisation into pillars, PointNet per pillar, scatter to the grid.

Library pieces (not rewritten here): mmcv's ``Voxelization`` (hard voxelisation, CPU kernel,
linear in the number of points), mmdet3d's ``PillarFeatureNet`` and ``PointPillarsScatter``.
This module only wires them to the shared :class:`~fusion_moe.structures.BEVGrid`, normalises
the raw point features; the forward that handles samples without LiDAR is
:class:`~.point_batch.VoxelBEVEncoder`'s.

Shape legend: B batch, N points of one sample, P pillars in the batch, C channels,
H x W the BEV grid (rows along y, columns along x).
"""
from typing import Sequence, Tuple

from mmdet3d.models.middle_encoders import PointPillarsScatter
from mmdet3d.models.voxel_encoders import PillarFeatureNet
from torch import Tensor

from fusion_moe.registry import MODELS

from .point_batch import VoxelBEVEncoder, pillar_voxelization


@MODELS.register_module()
class LidarPillarEncoder(VoxelBEVEncoder):
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
        super().__init__(point_cloud_range, cell_m, use_dims, feature_scale)
        pcr = list(self.grid.point_cloud_range)
        self.voxelize, pillar_size = pillar_voxelization(self.grid, max_points_per_pillar,
                                                         max_pillars)
        self.pillar_net = PillarFeatureNet(
            in_channels=len(use_dims), feat_channels=(out_channels, ), with_distance=False,
            voxel_size=pillar_size, point_cloud_range=pcr, legacy=False)
        self.scatter = PointPillarsScatter(in_channels=out_channels,
                                           output_shape=list(self.grid.shape))
        self.out_channels = out_channels

    def encode_voxels(self, voxels: Tensor, coors: Tensor, counts: Tensor,
                      batch_size: int) -> Tensor:
        """Voxels (V, M, F), coors (V, 4) as (batch, z, y, x), counts (V,) -> (B, C, H, W)."""
        pillar_feats = self.pillar_net(voxels, counts, coors)
        return self.scatter(pillar_feats, coors, batch_size)
