"""Point painting with pixels: each LiDAR point gets the image colour it projects to.

The point (LiDAR frame, metres) is projected by each camera's ``lidar2img`` (LiDAR metres ->
pixels of the packed, normalised image), kept where it lands in front of the camera (depth
> ``min_depth`` m) and inside the image, and sampled bilinearly (``torch.nn.functional.
grid_sample``). Colours of the views that see the point are averaged. PointPainting (Vora et
al., 2020) paints segmentation scores; painting raw normalised pixels keeps the early
placement free of a camera network.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

PAINT_DIMS = ('cam_r', 'cam_g', 'cam_b', 'cam_hit')


def paint_points(xyz_N3: Tensor, imgs_V3HW: Tensor, lidar2img_V44: Tensor,
                 view_present_V: Optional[Tensor] = None, min_depth: float = 0.1) -> Tensor:
    """(N, 4): mean normalised RGB over the views that see each point, and a 0/1 hit flag.

    Args:
        xyz_N3: points, LiDAR frame, metres.
        imgs_V3HW: the sample's V normalised images.
        lidar2img_V44: LiDAR metres -> pixels of ``imgs_V3HW``.
        view_present_V: (V,) bool; absent views paint nothing.
    """
    n = xyz_N3.shape[0]
    if n == 0:
        return xyz_N3.new_zeros(0, len(PAINT_DIMS))
    v, _, h, w = imgs_V3HW.shape
    homo_N4 = torch.cat([xyz_N3.float(), xyz_N3.new_ones(n, 1)], dim=1)
    cam_VN4 = torch.einsum('vij,nj->vni', lidar2img_V44.float(), homo_N4)
    depth_VN = cam_VN4[..., 2]
    uv_VN2 = cam_VN4[..., :2] / depth_VN.clamp_min(min_depth)[..., None]
    hit_VN = ((depth_VN > min_depth) & (uv_VN2[..., 0] >= 0) & (uv_VN2[..., 0] <= w - 1)
              & (uv_VN2[..., 1] >= 0) & (uv_VN2[..., 1] <= h - 1))
    if view_present_V is not None:
        hit_VN = hit_VN & view_present_V.bool()[:, None]
    # pixel centres -> [-1, 1] (align_corners=True: -1 and 1 are the first and last pixel)
    grid = torch.stack([uv_VN2[..., 0] / max(w - 1, 1), uv_VN2[..., 1] / max(h - 1, 1)], -1)
    grid_V1N2 = (grid * 2 - 1)[:, None]
    rgb_V3N = F.grid_sample(imgs_V3HW.float(), grid_V1N2, align_corners=True)[:, :, 0]
    weight_VN = hit_VN.float()
    hits_N = weight_VN.sum(0)
    rgb_N3 = (rgb_V3N * weight_VN[:, None]).sum(0).t() / hits_N.clamp_min(1)[:, None]
    return torch.cat([rgb_N3, (hits_N > 0).float()[:, None]], dim=1).to(xyz_N3.dtype)
