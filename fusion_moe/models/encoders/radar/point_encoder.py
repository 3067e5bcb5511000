"""Radar to BEV: a per-point MLP, max-pooled per BEV cell, plus the cell's mean velocity.

Written by hand: no library ships a radar BEV encoder for mmdet3d 1.x on CPU. Cost is linear
in the number of radar points (one ``scatter_reduce`` over cell indices).

Shape legend: B batch, M radar points of one sample, C channels, H x W BEV grid.
"""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import RADAR_POINT_DIMS, BEVGrid

_X, _Y, _Z = (RADAR_POINT_DIMS.index(d) for d in ('x', 'y', 'z'))
_VX, _VY = RADAR_POINT_DIMS.index('vx_comp'), RADAR_POINT_DIMS.index('vy_comp')

#: channels appended after the learned ones: mean vx_comp [m/s], mean vy_comp [m/s],
#: log(1 + number of radar points in the cell).
VELOCITY_CHANNELS: Tuple[str, ...] = ('mean_vx_comp', 'mean_vy_comp', 'log1p_count')


@MODELS.register_module()
class RadarPointEncoder(nn.Module):
    """Per-point MLP on all ``RADAR_POINT_DIMS`` plus the offset to the cell centre.

    Args:
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max), metres, LiDAR frame.
            Injected by the detector from its ``bev_grid``.
        cell_m: BEV cell edge, metres. Injected by the detector.
        mlp_channels: widths of the per-point MLP; the last one is the learned channels.
        feature_scale: one multiplier per ``RADAR_POINT_DIMS`` entry so inputs are O(1)
            (positions in tens of metres, rcs in dBsm, velocities in m/s, time lag in s).

    The returned map has ``out_channels = mlp_channels[-1] + 3`` channels: the learned
    max-pooled features, then ``VELOCITY_CHANNELS`` (raw velocities are kept, not learned).
    """

    def __init__(self,
                 point_cloud_range: Sequence[float],
                 cell_m: float,
                 mlp_channels: Sequence[int] = (32, 32),
                 feature_scale: Sequence[float] = (0.02, 0.02, 0.5, 0.05, 0.1, 0.1, 1.0,
                                                   0.15)) -> None:
        super().__init__()
        self.grid = BEVGrid.from_config(point_cloud_range, cell_m)
        if len(feature_scale) != len(RADAR_POINT_DIMS):
            raise ValueError(f'feature_scale needs {len(RADAR_POINT_DIMS)} values '
                             f'({RADAR_POINT_DIMS}), got {len(feature_scale)}')
        self.register_buffer('feature_scale', torch.tensor(feature_scale, dtype=torch.float32),
                             persistent=False)
        layers, c_in = [], len(RADAR_POINT_DIMS) + 2
        for c_out in mlp_channels:
            layers += [nn.Linear(c_in, c_out, bias=False), nn.LayerNorm(c_out),
                       nn.ReLU(inplace=True)]
            c_in = c_out
        self.mlp = nn.Sequential(*layers)
        self.learned_channels = c_in
        self.out_channels = c_in + len(VELOCITY_CHANNELS)

    def forward(self, radar_points: List[Tensor], present: Tensor) -> Tuple[Tensor, Tensor]:
        """Encode one batch.

        Args:
            radar_points: B tensors (M_b, len(RADAR_POINT_DIMS)), LiDAR frame, metres, m/s.
            present: (B,) bool radar presence flag.

        Returns:
            (bev (B, C, H, W), present (B,)). Cells without radar points are zero; samples
            without radar (or with no point inside the range) are all zero with present False.
        """
        B = len(radar_points)
        H, W = self.grid.shape
        x_min, y_min = self.grid.point_cloud_range[:2]
        present = present.clone()
        flat_idx, pts_kept = [], []
        for b, pts in enumerate(radar_points):
            if not bool(present[b]) or pts.shape[0] == 0:
                present[b] = False
                continue
            ix = torch.floor((pts[:, _X] - x_min) / self.grid.cell_m).long()
            iy = torch.floor((pts[:, _Y] - y_min) / self.grid.cell_m).long()
            inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H) & torch.isfinite(pts).all(1)
            if not bool(inside.any()):
                present[b] = False
                continue
            flat_idx.append(b * H * W + iy[inside] * W + ix[inside])
            pts_kept.append(pts[inside])
        C = self.out_channels
        out = self.feature_scale.new_zeros(B * H * W, C)
        if pts_kept:
            idx = torch.cat(flat_idx)
            pts = torch.cat(pts_kept)
            cell_x = x_min + ((idx % W).to(pts.dtype) + 0.5) * self.grid.cell_m
            cell_y = y_min + (((idx // W) % H).to(pts.dtype) + 0.5) * self.grid.cell_m
            offsets = torch.stack([pts[:, _X] - cell_x, pts[:, _Y] - cell_y], 1) / self.grid.cell_m
            feats = self.mlp(torch.cat([pts * self.feature_scale, offsets], dim=1))
            learned = self.feature_scale.new_zeros(B * H * W, self.learned_channels)
            # features are >= 0 after ReLU, so amax over a zero-initialised map is exact; the
            # map stays fp32 when the MLP ran in bf16 / fp16 under autocast
            learned = learned.scatter_reduce(0, idx[:, None].expand_as(feats),
                                             feats.to(learned.dtype), reduce='amax',
                                             include_self=True)
            count = self.feature_scale.new_zeros(B * H * W).index_add(
                0, idx, torch.ones_like(idx, dtype=pts.dtype))
            vel = self.feature_scale.new_zeros(B * H * W, 2).index_add(
                0, idx, pts[:, [_VX, _VY]])
            vel = vel / count.clamp(min=1)[:, None]
            out = torch.cat([learned, vel, torch.log1p(count)[:, None]], dim=1)
        bev = out.reshape(B, H, W, C).permute(0, 3, 1, 2).contiguous()
        return bev, present
