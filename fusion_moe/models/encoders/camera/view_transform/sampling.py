"""Simple-BEV style view transform: sample image features at the projections of BEV points.

Written by hand (pure torch, CPU and GPU) because no maintained library ships it: mmdet3d's
BEVFusion port only has a CUDA ``bev_pool``. Follows Simple-BEV's ``unproject_image_to_mem``:
take the 3D centre of every (BEV cell, height) pair in the LiDAR frame, project it into each
camera with that image's ``lidar2img`` exactly, bilinearly sample the feature map there, mask
points behind the camera or outside the image, average over the cameras that see the point, then
fold the heights into channels and mix them with a 1x1 convolution.

Cost is linear in B x N x Z x H x W (cameras are processed one at a time to bound memory).

Shape legend: B batch, N cameras, C channels, h x w feature map, Z heights, H x W BEV grid.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.structures import BEVGrid


def bev_points_lidar(grid: BEVGrid, heights_m: Sequence[float],
                     sample_stride: int = 1) -> Tensor:
    """3D sampling points of the grid, LiDAR frame, metres.

    Args:
        grid: the shared BEV grid.
        heights_m: Z heights (metres, LiDAR frame z) to sample at every cell.
        sample_stride: sample every ``sample_stride``-th cell centre of a coarser grid whose
            cells are ``sample_stride`` times larger (H and W must be divisible by it).

    Returns:
        (Z, H', W', 3) with H' = H // sample_stride; point [k, iy, ix] is the centre of coarse
        cell (iy, ix) at height heights_m[k].
    """
    H, W = grid.shape
    if H % sample_stride or W % sample_stride:
        raise ValueError(f'sample_stride {sample_stride} does not divide the grid {H}x{W}')
    step = grid.cell_m * sample_stride
    x0, y0 = grid.point_cloud_range[0], grid.point_cloud_range[1]
    xs = x0 + (torch.arange(W // sample_stride, dtype=torch.float32) + 0.5) * step
    ys = y0 + (torch.arange(H // sample_stride, dtype=torch.float32) + 0.5) * step
    zs = torch.tensor(list(heights_m), dtype=torch.float32)
    z, y, x = torch.meshgrid(zs, ys, xs, indexing='ij')
    return torch.stack([x, y, z], dim=-1)


def sample_cameras_to_bev(feats: Tensor, lidar2img: Tensor, points_lidar: Tensor,
                          img_hw: Tuple[int, int], min_depth_m: float = 0.1,
                          view_present: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """Average image features over the cameras that see each 3D point.

    Args:
        feats: (B, N, C, h, w) image features; the feature map covers the whole image.
        lidar2img: (B, N, 4, 4) projection from the LiDAR frame to pixels of the
            (possibly resized) input image of size ``img_hw``.
        points_lidar: (Z, H, W, 3) points in the LiDAR frame, metres.
        img_hw: (height, width) in pixels of the image that ``lidar2img`` projects into.
        min_depth_m: points closer than this along the camera axis count as not seen.
        view_present: optional (B, N) bool; a False view (missing image) sees nothing.

    Returns:
        (mean (B, C, Z, H, W), seen (B, Z, H, W) number of cameras that saw each point), float32.

    Precision: the projection and the sampling run in float32 with autocast off. In fp16 or
    bf16 the projected pixel coordinates of points near a camera's image plane exceed the
    format's range or resolution (fp16 overflows past 65504, bf16 keeps 8 bits, i.e. 4-pixel
    steps at u = 1000); the normalised coordinates are clamped before ``grid_sample`` and
    masked points are zeroed with ``where``, so no Inf or NaN reaches the features.
    """
    B, N, C = feats.shape[:3]
    Z, H, W, _ = points_lidar.shape
    img_h, img_w = img_hw
    with torch.autocast(device_type=feats.device.type, enabled=False):
        feats = feats.float()
        pts = points_lidar.reshape(-1, 3).to(feats)
        pts_h = torch.cat([pts, pts.new_ones(pts.shape[0], 1)], dim=1)  # (P, 4)
        total = feats.new_zeros(B, C, Z * H * W)
        seen = feats.new_zeros(B, Z * H * W)
        for cam in range(N):
            proj = torch.einsum('bij,pj->bpi', lidar2img[:, cam].to(feats), pts_h)  # (B, P, 4)
            depth = proj[..., 2]
            uv = proj[..., :2] / depth.clamp(min=1e-5)[..., None]
            # pixel i is centred at coordinate i (pinhole convention); grid_sample with
            # align_corners=False puts -1 at the left edge of pixel 0.
            u_norm = (uv[..., 0] + 0.5) / img_w * 2 - 1
            v_norm = (uv[..., 1] + 0.5) / img_h * 2 - 1
            valid = (depth > min_depth_m) & (u_norm.abs() <= 1) & (v_norm.abs() <= 1)
            grid = torch.stack([u_norm, v_norm], dim=-1).clamp(-2.0, 2.0)[:, None]  # (B,1,P,2)
            sampled = F.grid_sample(feats[:, cam], grid, mode='bilinear', padding_mode='zeros',
                                    align_corners=False)[:, :, 0]  # (B, C, P)
            if view_present is not None:
                valid = valid & view_present[:, cam, None].bool()
            total = total + torch.where(valid[:, None], sampled, sampled.new_zeros(()))
            seen = seen + valid.to(feats.dtype)
        mean = total / seen.clamp(min=1)[:, None]
    return mean.reshape(B, C, Z, H, W), seen.reshape(B, Z, H, W)


class SamplingViewTransform(nn.Module):
    """Image features to BEV by projection sampling (Simple-BEV); no depth head.

    Args:
        grid: the shared BEV grid (LiDAR frame).
        in_channels: C of the image feature map.
        out_channels: C of the returned BEV map.
        heights_m: Z heights (metres, LiDAR frame z) sampled per cell.
        sample_stride: sample a grid ``sample_stride`` times coarser than ``grid`` and
            upsample bilinearly (bounds cost at fine grids).
    """

    def __init__(self, grid: BEVGrid, in_channels: int, out_channels: int,
                 heights_m: Sequence[float] = (-1.0, 0.0, 1.0, 2.0),
                 sample_stride: int = 1) -> None:
        super().__init__()
        self.grid = grid
        self.sample_stride = sample_stride
        self.register_buffer('points_lidar', bev_points_lidar(grid, heights_m, sample_stride),
                             persistent=False)
        z = len(heights_m)
        self.reduce_z = nn.Sequential(
            nn.Conv2d(in_channels * z, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    def forward(self, feats: Tensor, lidar2img: Tensor, img_hw: Tuple[int, int],
                view_present: Optional[Tensor] = None) -> Tensor:
        """(B, N, C, h, w) features + (B, N, 4, 4) lidar2img [+ (B, N) view_present]
        -> (B, out_channels, H, W)."""
        mean, _ = sample_cameras_to_bev(feats, lidar2img, self.points_lidar, img_hw,
                                        view_present=view_present)
        B, C, Z, Hs, Ws = mean.shape
        bev = self.reduce_z(mean.reshape(B, C * Z, Hs, Ws))
        if self.sample_stride > 1:
            bev = F.interpolate(bev, size=self.grid.shape, mode='bilinear', align_corners=False)
        return bev
