"""Per-modality 1x1 projection of BEV maps to a common width (so one MoE layer sees them all).

``{m: (B, C_m, H, W), present} -> {m: (B, D, H, W), present}``; an absent modality's map stays
exactly zero (the projection's bias and BatchNorm shift are masked out).
"""
from typing import Dict, Mapping, Tuple

from torch import Tensor, nn


class ModalityProjection(nn.Module):
    """Conv1x1 + BN + ReLU per modality. Args: in_channels ``{m: C_m}``; out_channels D."""

    def __init__(self, in_channels: Mapping[str, int], out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.proj = nn.ModuleDict({
            m: nn.Sequential(nn.Conv2d(c, out_channels, 1, bias=False),
                             nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
            for m, c in in_channels.items()})

    def forward(self, features: Mapping[str, Tuple[Tensor, Tensor]]
                ) -> Dict[str, Tuple[Tensor, Tensor]]:
        out = {}
        for m, (bev, present) in features.items():
            y = self.proj[m](bev)
            out[m] = (y * present.to(y.dtype)[:, None, None, None], present)
        return out
