"""What the LiDAR encoders share: checking the point dimensions they use, and hard-voxelising a
batch of clouds sample by sample (mmcv's ``Voxelization``) into one list of voxels with their
batch index, marking samples without usable points absent.

Shape legend: B batch, N points of one sample, V voxels in the batch, M points per voxel,
F used point dims.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from fusion_moe.structures import LIDAR_POINT_DIMS


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
