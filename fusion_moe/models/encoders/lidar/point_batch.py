"""What the LiDAR encoders (and the early-fusion pillar net) share: checking the point
dimensions they use, the pillar voxelisation of a BEV grid, hard-voxelising a batch of clouds
sample by sample (mmcv's ``Voxelization``) into one list of voxels with their batch index,
marking samples without usable points absent, and the forward around it
(:class:`VoxelBEVEncoder`: all-zero maps for samples without LiDAR).

Shape legend: B batch, N points of one sample, V voxels in the batch, M points per voxel,
F used point dims, C channels, H x W the BEV grid (rows along y, columns along x).
"""
import abc
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.ops import Voxelization
from torch import Tensor, nn

from fusion_moe.structures import LIDAR_POINT_DIMS, BEVGrid


def point_dim_index(use_dims: Sequence[str], feature_scale: Sequence[float]) -> List[int]:
    """Columns of ``LIDAR_POINT_DIMS`` named by ``use_dims`` (which must start with x, y, z and
    have one ``feature_scale`` each)."""
    unknown = [d for d in use_dims if d not in LIDAR_POINT_DIMS]
    if unknown:
        raise ValueError(f'use_dims {unknown} not in LIDAR_POINT_DIMS {LIDAR_POINT_DIMS}')
    if tuple(use_dims[:3]) != ('x', 'y', 'z'):
        raise ValueError(f'use_dims must start with x, y, z, got {tuple(use_dims)}')
    if len(feature_scale) != len(use_dims):
        raise ValueError(f'feature_scale has {len(feature_scale)} values for '
                         f'{len(use_dims)} use_dims')
    return [LIDAR_POINT_DIMS.index(d) for d in use_dims]


def pillar_voxelization(grid: BEVGrid, max_points_per_pillar: int,
                        max_pillars: Sequence[int]) -> Tuple[Voxelization, List[float]]:
    """mmcv hard voxelisation into pillars: one pillar per cell of ``grid``, spanning its whole
    z range; at most ``max_points_per_pillar`` points per pillar and ``max_pillars`` pillars
    per sample as (train, test).

    Returns:
        ``(voxelize, pillar_size)``, pillar_size = [cell_m, cell_m, z_max - z_min] in metres.
    """
    pcr = list(grid.point_cloud_range)
    pillar_size = [grid.cell_m, grid.cell_m, pcr[5] - pcr[2]]
    voxelize = Voxelization(voxel_size=pillar_size, point_cloud_range=pcr,
                            max_num_points=max_points_per_pillar,
                            max_voxels=tuple(max_pillars), deterministic=True)
    return voxelize, pillar_size


def voxelize_batch(points: List[Tensor], present: Tensor, voxelize: nn.Module,
                   dim_index: Sequence[int], feature_scale: Tensor
                   ) -> Tuple[Optional[Tuple[Tensor, Tensor, Tensor]], Tensor]:
    """Voxelise each sample's scaled used dims.

    Args:
        points: B tensors (N_b, len(LIDAR_POINT_DIMS)), LiDAR frame, metres.
        present: (B,) bool LiDAR presence flags.
        voxelize: an mmcv ``Voxelization`` (hard voxelisation).
        dim_index: columns to keep (:func:`point_dim_index`); feature_scale: (F,) multipliers.

    Returns:
        ((voxels (V, M, F), coors (V, 4) as (batch, z, y, x), counts (V,)) or None when no
        sample has a point in range, present (B,) with False for absent, empty or
        out-of-range samples).
    """
    feats, coors, counts = [], [], []
    present = present.clone()
    for b, pts in enumerate(points):
        if not bool(present[b]) or pts.shape[0] == 0:
            present[b] = False
            continue
        voxels, coor_zyx, num = voxelize((pts[:, dim_index] * feature_scale).contiguous())
        if voxels.shape[0] == 0:
            present[b] = False
            continue
        feats.append(voxels)
        coors.append(nn.functional.pad(coor_zyx, (1, 0), value=b))
        counts.append(num)
    if not feats:
        return None, present
    return (torch.cat(feats), torch.cat(coors), torch.cat(counts)), present


class VoxelBEVEncoder(nn.Module, metaclass=abc.ABCMeta):
    """Base of the LiDAR encoders: points -> voxels (:func:`voxelize_batch`) -> BEV map.

    Subclasses set ``self.voxelize`` (an mmcv ``Voxelization``) and ``self.out_channels`` (C)
    and define :meth:`encode_voxels`; the forward here handles batching and presence.

    Args:
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max) in metres, LiDAR frame.
        cell_m: BEV cell edge in metres.
        use_dims: names from ``LIDAR_POINT_DIMS`` the encoder reads; must start with x, y, z.
        feature_scale: per used dim, a multiplier applied before encoding.
    """
    voxelize: nn.Module
    out_channels: int

    def __init__(self, point_cloud_range: Sequence[float], cell_m: float,
                 use_dims: Sequence[str], feature_scale: Sequence[float]) -> None:
        super().__init__()
        self.grid = BEVGrid.from_config(point_cloud_range, cell_m)
        self.dim_index = point_dim_index(use_dims, feature_scale)
        self.register_buffer('feature_scale', torch.tensor(feature_scale, dtype=torch.float32),
                             persistent=False)

    @abc.abstractmethod
    def encode_voxels(self, voxels: Tensor, coors: Tensor, counts: Tensor,
                      batch_size: int) -> Tensor:
        """Voxels (V, M, F), coors (V, 4) as (batch, z, y, x), counts (V,) -> (B, C, H, W)."""

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
        bev = self.encode_voxels(*batch, batch_size)
        return bev * present.to(bev.dtype)[:, None, None, None], present
