"""``early`` placement (sensor level): raw inputs combined before one shared encoder.

    LiDAR points painted with the camera pixels they project to (painting.py)
    + radar points, both in one point format (``EARLY_POINT_DIMS``, modality channel is_radar)
      -> one shared pillar net (mmcv ``Voxelization`` + mmdet3d ``PillarFeatureNet``, the same
         weights for both sensors; LiDAR and radar pillars are kept as separate tokens)
      -> x + MoE(x) on the pillar tokens, one router per modality (ids: lidar 0, radar 1)
      -> pillars summed into their BEV cell -> conv3x3 + BN + ReLU -> 'fused' (B, C, H, W)

The camera enters through the paint of the LiDAR points (a sample without LiDAR loses it).
Point features (LiDAR frame, metres): x, y, z, intensity / 255, time_lag [s], the painted
normalised RGB and hit flag, radar rcs / 10 [dBsm], compensated vx, vy [m/s], is_radar.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmdet3d.models.voxel_encoders import PillarFeatureNet
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import LIDAR_POINT_DIMS, RADAR_POINT_DIMS, BEVGrid
from ..encoder_inputs import camera_views, point_clouds, presence
from ..encoders.lidar.point_batch import pillar_voxelization
from .ffn_block import FusionFFN
from .painting import PAINT_DIMS, paint_points
from .placement_base import BasePlacement, Features, PlacementOutput

EARLY_POINT_DIMS = ('x', 'y', 'z', 'intensity', 'time_lag', *PAINT_DIMS, 'rcs', 'vx', 'vy',
                    'is_radar')
TOKEN_MODALITIES = ('lidar', 'radar')
_L = {d: LIDAR_POINT_DIMS.index(d) for d in ('x', 'y', 'z', 'intensity', 'time_lag')}
_R = {d: RADAR_POINT_DIMS.index(d) for d in ('x', 'y', 'z', 'rcs', 'vx_comp', 'vy_comp',
                                             'time_lag')}


def lidar_point_features(points: Tensor, paint: Tensor) -> Tensor:
    """(N, 6) LiDAR points + (N, 4) paint -> (N, len(EARLY_POINT_DIMS))."""
    n = points.shape[0]
    z = points.new_zeros(n, 1)
    return torch.cat([points[:, [_L['x'], _L['y'], _L['z']]],
                      points[:, [_L['intensity']]] / 255.0, points[:, [_L['time_lag']]],
                      paint, z, z, z, z], dim=1)


def radar_point_features(points: Tensor) -> Tensor:
    """(M, 8) radar points -> (M, len(EARLY_POINT_DIMS))."""
    m = points.shape[0]
    return torch.cat([points[:, [_R['x'], _R['y'], _R['z']]], points.new_zeros(m, 1),
                      points[:, [_R['time_lag']]], points.new_zeros(m, len(PAINT_DIMS)),
                      points[:, [_R['rcs']]] / 10.0, points[:, [_R['vx_comp'], _R['vy_comp']]],
                      points.new_ones(m, 1)], dim=1)


@MODELS.register_module()
class EarlyFusion(BasePlacement):
    """Sensor-level fusion with one shared pillar encoder whose tokens the MoE routes.

    Args:
        point_cloud_range, cell_m: the shared BEV grid (injected by the detector).
        moe: ``MoELayer`` config (``modalities`` = lidar, radar; ffn experts only: pillar
            tokens have no BEV layout) or None for the dense twin.
        dense_hidden_channels: hidden width of the dense twin.
        pillar_channels: D of the pillar tokens.
        out_channels: C of the output map.
        max_points_per_pillar: points kept per pillar.
        max_pillars: per sample and sensor, (train, test).
        paint: paint LiDAR points with camera pixels (else the paint channels are 0).
        in_channels: must be empty: early fusion has no per-modality encoders.
    """
    needs_encoders = False

    def __init__(self, point_cloud_range: Sequence[float], cell_m: float, moe: Optional[dict],
                 dense_hidden_channels: int, pillar_channels: int = 32, out_channels: int = 32,
                 max_points_per_pillar: int = 10, max_pillars: Tuple[int, int] = (16384, 16384),
                 paint: bool = True, in_channels: Optional[Dict[str, int]] = None) -> None:
        super().__init__()
        if in_channels:
            raise ValueError(f'fusion.type=EarlyFusion encodes raw inputs itself; the detector '
                             f'must have no encoders (got {sorted(in_channels)})')
        self.grid = BEVGrid.from_config(point_cloud_range, cell_m)
        pcr = list(self.grid.point_cloud_range)
        self.voxelize, pillar_size = pillar_voxelization(self.grid, max_points_per_pillar,
                                                         max_pillars)
        self.pillar_net = PillarFeatureNet(
            in_channels=len(EARLY_POINT_DIMS), feat_channels=(pillar_channels, ),
            with_distance=False, voxel_size=pillar_size, point_cloud_range=pcr, legacy=False)
        self.moe = FusionFFN(pillar_channels, moe, dense_hidden_channels, 'early',
                             TOKEN_MODALITIES)
        self.mix = nn.Sequential(nn.Conv2d(pillar_channels, out_channels, 3, padding=1,
                                           bias=False),
                                 nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        self.paint = paint
        self.pillar_channels = pillar_channels
        self.out_channels = out_channels
        self.stream_names = ('fused', )

    def point_sets(self, inputs: dict, metas: List[dict], device: torch.device
                   ) -> Dict[str, List[Tensor]]:
        """``{'lidar': B x (N_b, F), 'radar': B x (M_b, F)}`` in ``EARLY_POINT_DIMS``;
        absent sensors give empty sets."""
        b = len(metas)
        present = {m: presence(metas, m, device) for m in ('camera', 'lidar', 'radar')}
        lidar = point_clouds(inputs, 'points', len(LIDAR_POINT_DIMS), b, device)
        radar = point_clouds(inputs, 'radar_points', len(RADAR_POINT_DIMS), b, device)
        views = camera_views(inputs, metas, device) if self.paint and 'imgs' in inputs else None
        sets = {'lidar': [], 'radar': []}
        for i in range(b):
            pts = lidar[i] if bool(present['lidar'][i]) else lidar[i][:0]
            if views is not None and bool(present['camera'][i]):
                imgs, lidar2img, view_present = views
                paint = paint_points(pts[:, :3], imgs[i], lidar2img[i],
                                     None if view_present is None else view_present[i])
            else:
                paint = pts.new_zeros(pts.shape[0], len(PAINT_DIMS))
            sets['lidar'].append(lidar_point_features(pts, paint))
            rad = radar[i] if bool(present['radar'][i]) else radar[i][:0]
            sets['radar'].append(radar_point_features(rad))
        return sets

    def _pillars(self, sets: Dict[str, List[Tensor]]) -> Tuple[Tensor, Tensor, Tensor]:
        """Pillar tokens (P, D), coords (P, 4) as (b, z, y, x), modality ids (P,)."""
        voxels, coors, counts, mods = [], [], [], []
        for m, clouds in sets.items():
            for b, pts in enumerate(clouds):
                if pts.shape[0] == 0:
                    continue
                vox, coor_zyx, num = self.voxelize(pts.contiguous())
                if vox.shape[0] == 0:
                    continue
                voxels.append(vox)
                coors.append(nn.functional.pad(coor_zyx, (1, 0), value=b))
                counts.append(num)
                mods.append(torch.full((vox.shape[0], ), TOKEN_MODALITIES.index(m),
                                       dtype=torch.long, device=vox.device))
        if not voxels:
            dev = self.mix[0].weight.device
            return (torch.zeros(0, self.pillar_channels, device=dev),
                    torch.zeros(0, 4, dtype=torch.long, device=dev),
                    torch.zeros(0, dtype=torch.long, device=dev))
        voxels, coors, counts = torch.cat(voxels), torch.cat(coors), torch.cat(counts)
        return self.pillar_net(voxels, counts, coors), coors.long(), torch.cat(mods)

    def forward(self, features: Features, inputs: dict, metas: List[dict]) -> PlacementOutput:
        device = self.mix[0].weight.device
        b = len(metas)
        tokens, coors, modality_ids = self._pillars(self.point_sets(inputs, metas, device))
        losses, records = {}, {}
        if tokens.shape[0]:
            tokens, record = self.moe(tokens, modality_ids, coors[:, 0].contiguous(), None,
                                      self.context_ids(metas, device))
            self.add_record(records, losses, 'early', record)
        h, w = self.grid.shape
        flat = coors[:, 0] * (h * w) + coors[:, 2] * w + coors[:, 3]
        bev = tokens.new_zeros(b * h * w, self.pillar_channels).index_add(0, flat, tokens)
        bev = bev.view(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
        present = torch.zeros(b, dtype=torch.bool, device=device)
        present[coors[:, 0].unique()] = True
        return PlacementOutput({'fused': self.mix(bev)}, {'fused': present}, losses, records)
