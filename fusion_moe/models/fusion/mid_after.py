"""``mid_after`` placement, "fusion, then MoE": the fuser first, then the MoE on fused BEV cells.

    {m: (B, C_m, H, W), present} -> [reliability gate] -> fuser -> (B, C, H, W)
      -> x + MoE(x) per cell (one router, or one router per presence pattern) -> 'fused'

``router_key='presence'`` gives each set of present modalities its own router (7 patterns of
camera / lidar / radar plus 'none'): a sample with only LiDAR is routed by the LiDAR-only
router, so the router knows what kind of fused feature it is looking at.
"""
from typing import Dict, List, Literal, Optional, Tuple

import torch
from torch import Tensor

from fusion_moe.registry import MODELS
from .ffn_block import FusionFFN
from .placement_base import BasePlacement, Features, PlacementOutput


def presence_patterns(modalities: Tuple[str, ...]) -> Tuple[str, ...]:
    """Router names for every presence pattern, index = sum of 2**m over present modalities."""
    names = []
    for bits in range(2 ** len(modalities)):
        present = [m for i, m in enumerate(modalities) if bits >> i & 1]
        names.append('+'.join(present) if present else 'none')
    return tuple(names)


@MODELS.register_module()
class MidAfterFusion(BasePlacement):
    """Fuse, then route fused cells.

    Args:
        in_channels: ``{modality: C_m}`` (filled by the detector from its encoders).
        fuser: fuser config (e.g. ``ConcatConvFuser``); ``in_channels`` filled in.
        moe: ``MoELayer`` config (``in_channels`` = the fuser's out channels, filled in), or
            None for the dense twin.
        dense_hidden_channels: hidden width of the dense twin (the MoE's active width).
        router_key: ``'single'`` (one router) or ``'presence'`` (one per presence pattern).
        reliability_gate, reliability_min_severity: see :class:`BasePlacement`.
    """

    def __init__(self, in_channels: Dict[str, int], fuser: dict, moe: Optional[dict],
                 dense_hidden_channels: int,
                 router_key: Literal['single', 'presence'] = 'single',
                 reliability_gate: Optional[dict] = None,
                 reliability_min_severity: int = 1) -> None:
        super().__init__(reliability_gate, reliability_min_severity)
        if router_key not in ('single', 'presence'):
            raise ValueError("fusion.router_key must be 'single' or 'presence', "
                             f'got {router_key!r}')
        self.modalities = tuple(in_channels)
        self.build_gate(in_channels)
        self.fuser = MODELS.build(dict(fuser, in_channels=dict(in_channels)))
        self.out_channels = self.fuser.out_channels
        self.router_key = router_key
        routers = presence_patterns(self.modalities) if router_key == 'presence' else None
        self.moe = FusionFFN(self.out_channels, moe, dense_hidden_channels, 'mid_after', routers)
        self.stream_names = ('fused', )

    def _pattern_ids(self, features: Features) -> Optional[Tensor]:
        if self.router_key != 'presence':
            return None
        ids = 0
        for i, m in enumerate(self.modalities):
            ids = ids + features[m][1].long() * (2 ** i)
        return ids

    def forward(self, features: Features, inputs: dict, metas: List[dict]) -> PlacementOutput:
        losses, records = {}, {}
        features = self.gate(features, metas, losses, 'mid_after')
        fused = self.fuser(features)
        present = torch.stack([p.bool() for _, p in features.values()]).any(0)
        fused, record = self.moe.forward_bev(
            fused, self.context_ids(metas, fused.device), self._pattern_ids(features))
        self.add_record(records, losses, 'mid_after', record)
        return PlacementOutput({'fused': fused}, {'fused': present}, losses, records)
