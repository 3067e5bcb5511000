"""Concatenate the modality BEV maps and mix them with a convolution (BEVFusion's ConvFuser).

The fuser interface every fuser in this package shares (an MoE fuser swaps in by config)::

    forward(features: dict[modality -> (map (B, C_m, H, W), present (B,) bool)]) -> (B, C, H, W)

Shape legend: B batch, C channels, H x W BEV grid.
"""
from typing import Dict, Mapping, Tuple

import torch
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures import MODALITIES


@MODELS.register_module()
class ConcatConvFuser(nn.Module):
    """Concatenation in a fixed modality order + one presence channel per modality, then conv.

    Args:
        in_channels: C_m per modality, e.g. ``{'lidar': 64, 'camera': 64}``; the keys fix the
            concatenation order and must be names from ``MODALITIES``.
        out_channels: C of the fused map.
        modality_dropout: in training, the probability of blanking each modality of a sample
            (map zeroed, present False), never all of a sample's present modalities at once;
            teaches the model to run with any subset of sensors. 0 disables it.
    """

    def __init__(self, in_channels: Mapping[str, int], out_channels: int,
                 modality_dropout: float = 0.0) -> None:
        super().__init__()
        unknown = [m for m in in_channels if m not in MODALITIES]
        if unknown:
            raise ValueError(f'in_channels has unknown modality {unknown}; '
                             f'known modalities: {MODALITIES}')
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f'modality_dropout must be in [0, 1), got {modality_dropout}')
        self.modalities = tuple(in_channels)
        self.modality_dropout = modality_dropout
        c_in = sum(in_channels.values()) + len(self.modalities)
        self.fuse = nn.Sequential(
            nn.Conv2d(c_in, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
        self.out_channels = out_channels

    def _drop_modalities(self, present: Tensor) -> Tensor:
        """(B, M) presence -> (B, M) presence with random modalities removed (>= 1 kept)."""
        keep = torch.rand(present.shape, device=present.device) >= self.modality_dropout
        kept = present & keep
        # a sample that would lose all of its modalities keeps its original set
        lost_all = ~kept.any(dim=1) & present.any(dim=1)
        return torch.where(lost_all[:, None], present, kept)

    def forward(self, features: Dict[str, Tuple[Tensor, Tensor]]) -> Tensor:
        """Fuse ``{modality: (map (B, C_m, H, W), present (B,))}`` into (B, C, H, W)."""
        missing = [m for m in self.modalities if m not in features]
        extra = [m for m in features if m not in self.modalities]
        if missing or extra:
            raise KeyError(f'fuser expects modalities {self.modalities}; missing {missing}, '
                           f'unexpected {extra}')
        present = torch.stack([features[m][1].bool() for m in self.modalities], dim=1)
        if self.training and self.modality_dropout > 0:
            present = self._drop_modalities(present)
        maps = []
        for i, m in enumerate(self.modalities):
            bev = features[m][0]
            maps.append(bev * present[:, i].to(bev.dtype)[:, None, None, None])
        ref = maps[0]
        flags = present.to(ref.dtype)[:, :, None, None].expand(-1, -1, *ref.shape[-2:])
        return self.fuse(torch.cat(maps + [flags], dim=1))
