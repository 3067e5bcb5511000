"""LiDAR to BEV: hard voxelisation into small 3D voxels, mean per voxel, sparse 3D convolutions
(spconv) down to the shared BEV grid. The voxel encoder of CenterPoint's and BEVFusion's
nuScenes models (0.075 m voxels, 8x downsampling to 0.6 m BEV cells).

Library pieces (not rewritten here): mmcv's ``Voxelization`` (hard voxelisation; its CPU kernel
works here, unlike ``DynamicScatter`` which has none), mmdet3d's ``HardSimpleVFE`` (mean of the
points of each voxel) and ``SparseEncoder`` (spconv 2; on a CPU-only torch its backward needs
the stream shim in ``fusion_moe/compat/spconv_cpu.py``). This module wires them to the shared
:class:`~fusion_moe.structures.BEVGrid`, checks that the voxel size and the encoder's
downsampling land exactly on that grid and scales the raw point features; samples without
LiDAR are handled by :class:`~.point_batch.VoxelBEVEncoder`'s forward. Same interface as
:class:`LidarPillarEncoder`: a drop-in chosen by config.

Shape legend: B batch, N points of one sample, V voxels in the batch, C channels, D height
bins left after the encoder, H x W the BEV grid (rows along y, columns along x, LiDAR frame).
"""
from typing import Sequence, Tuple

from mmcv.ops import Voxelization
from mmdet3d.models.middle_encoders import SparseEncoder
from mmdet3d.models.voxel_encoders import HardSimpleVFE
from torch import Tensor

from fusion_moe.registry import MODELS

from .point_batch import VoxelBEVEncoder

# CenterPoint's nuScenes 0.075 m voxel encoder (mmdet3d configs/centerpoint/
# centerpoint_voxel0075_second_secfpn_8xb4-cyclic-20e_nus-3d.py; BEVFusion uses the same).
CENTERPOINT_ENCODER_CHANNELS = ((16, 16, 32), (32, 32, 64), (64, 64, 128), (128, 128))
CENTERPOINT_ENCODER_PADDINGS = ((0, 0, 1), (0, 0, 1), (0, 0, (0, 1, 1)), (0, 0))


def _height_after(nz: int, encoder_paddings: Sequence, block_type: str) -> int:
    """Height bins D left by mmdet3d's SparseEncoder from ``nz`` input bins. Its stride-2,
    kernel-3 convolutions sit at the first block of every stage but the first
    (``conv_module``) or at the last block of every stage but the last (``basicblock``), with
    that block's padding; ``conv_out`` is kernel 3, stride 2, no padding along z."""
    stages = list(encoder_paddings)
    if block_type == 'conv_module':
        down = [paddings[0] for paddings in stages[1:]]
    else:
        down = [paddings[-1] for paddings in stages[:-1]]
    for pad in down:
        pad_z = pad[0] if isinstance(pad, (tuple, list)) else pad
        nz = (nz + 2 * pad_z - 3) // 2 + 1
    return (nz - 3) // 2 + 1


@MODELS.register_module()
class LidarSparseEncoder(VoxelBEVEncoder):
    """Sparse voxel encoder on the shared BEV grid.

    Args:
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max) in metres, LiDAR frame.
            Injected by the detector from its ``bev_grid``.
        cell_m: BEV cell edge in metres. Injected by the detector; must equal
            ``voxel_m[0] * 2 ** (len(encoder_channels) - 1)`` (the encoder's xy downsampling).
        voxel_m: voxel edges (x, y, z) in metres.
        use_dims: names from ``LIDAR_POINT_DIMS`` averaged per voxel; must start with x, y, z.
        feature_scale: per used dim, a multiplier applied before averaging (1/255 for
            intensity) so every input is O(1).
        max_points_per_voxel: points kept per voxel (hard voxelisation, extra points dropped).
        max_voxels: voxels kept per sample, as (train, test).
        base_channels, output_channels, encoder_channels, encoder_paddings, block_type:
            mmdet3d ``SparseEncoder`` arguments (defaults: CenterPoint's 0.075 m encoder).

    ``out_channels`` (C of the BEV map) is ``output_channels * D``, the encoder's remaining
    height bins folded into channels as mmdet3d's SparseEncoder does.
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 cell_m: float,
                 voxel_m: Sequence[float] = (0.075, 0.075, 0.2),
                 use_dims: Sequence[str] = ('x', 'y', 'z', 'intensity', 'time_lag'),
                 feature_scale: Sequence[float] = (1.0, 1.0, 1.0, 1.0 / 255.0, 1.0),
                 max_points_per_voxel: int = 10,
                 max_voxels: Tuple[int, int] = (120000, 160000),
                 base_channels: int = 16,
                 output_channels: int = 128,
                 encoder_channels: Sequence[Sequence[int]] = CENTERPOINT_ENCODER_CHANNELS,
                 encoder_paddings: Sequence[Sequence] = CENTERPOINT_ENCODER_PADDINGS,
                 block_type: str = 'basicblock') -> None:
        super().__init__(point_cloud_range, cell_m, use_dims, feature_scale)
        if len(voxel_m) != 3 or voxel_m[0] != voxel_m[1]:
            raise ValueError(f'voxel_m must be (edge, edge, height) with square voxels in BEV, '
                             f'got {tuple(voxel_m)}')
        stride = 2 ** (len(encoder_channels) - 1)
        if abs(voxel_m[0] * stride - cell_m) > 1e-6:
            raise ValueError(f'voxel_m[0] = {voxel_m[0]} m downsampled {stride}x by the '
                             f'encoder gives {voxel_m[0] * stride:g} m cells, but the BEV grid '
                             f'has cell_m = {cell_m}; set bev_grid.cell_m = voxel_m[0] * '
                             f'{stride} or change voxel_m')
        pcr = list(self.grid.point_cloud_range)
        nz = round((pcr[5] - pcr[2]) / voxel_m[2])
        ny, nx = self.grid.H * stride, self.grid.W * stride
        self.voxelize = Voxelization(voxel_size=list(voxel_m), point_cloud_range=pcr,
                                     max_num_points=max_points_per_voxel,
                                     max_voxels=tuple(max_voxels), deterministic=True)
        self.voxel_mean = HardSimpleVFE(num_features=len(use_dims))
        # one extra z bin, as CenterPoint's sparse_shape [41, 1440, 1440] for 40 bins of 0.2 m
        self.sparse_shape = [nz + 1, ny, nx]
        self.encoder = SparseEncoder(
            in_channels=len(use_dims), sparse_shape=self.sparse_shape,
            order=('conv', 'norm', 'act'), base_channels=base_channels,
            output_channels=output_channels,
            encoder_channels=tuple(tuple(c) for c in encoder_channels),
            encoder_paddings=tuple(tuple(p) for p in encoder_paddings), block_type=block_type)
        height_bins = _height_after(nz + 1, encoder_paddings, block_type)
        if height_bins < 1:
            raise ValueError(f'{nz} height bins of voxel_m[2] = {voxel_m[2]} m vanish in the '
                             f'encoder\'s stride-2 z convolutions; use smaller voxels in z')
        self.out_channels = output_channels * height_bins

    def encode_voxels(self, voxels: Tensor, coors: Tensor, counts: Tensor,
                      batch_size: int) -> Tensor:
        """Voxels (V, M, F), coors (V, 4) as (batch, z, y, x), counts (V,) -> (B, C, H, W)."""
        voxel_feats = self.voxel_mean(voxels, counts, coors)  # (V, len(use_dims))
        bev = self.encoder(voxel_feats, coors, batch_size)
        H, W = self.grid.shape
        if tuple(bev.shape[1:]) != (self.out_channels, H, W):
            raise RuntimeError(f'SparseEncoder gave {tuple(bev.shape[1:])}, expected '
                               f'{(self.out_channels, H, W)} on the BEV grid')
        return bev
