"""``mid_before`` placement, "MoE, then fusion": each modality's BEV map through its own router
and experts, then the fuser.

    {m: (B, C_m, H, W), present} -> [reliability gate] -> 1x1 projection to D per modality
      -> x + MoE(x) with one router per modality (one MoE call; optional MoMa expert groups
         ``moe.expert_groups={modality: expert ids}``) -> fuser -> 'fused'

The fuser sees the MoE outputs; an absent modality's cells are not routed and stay zero.
"""
from typing import Dict, List, Optional

import torch

from fusion_moe.registry import MODELS
from .ffn_block import FusionFFN
from .placement_base import BasePlacement, Features, PlacementOutput
from .projection import ModalityProjection


@MODELS.register_module()
class MidBeforeFusion(BasePlacement):
    """Route each modality's cells with its own router, then fuse.

    Args:
        in_channels: ``{modality: C_m}`` (filled by the detector).
        fuser: fuser config; its ``in_channels`` become ``{m: moe_channels}``.
        moe: ``MoELayer`` config (``modalities`` and ``in_channels`` filled in) or None.
        dense_hidden_channels: hidden width of the dense twin.
        moe_channels: D, the common width the modality maps are projected to.
        reliability_gate, reliability_min_severity: see :class:`BasePlacement`.
    """

    def __init__(self, in_channels: Dict[str, int], fuser: dict, moe: Optional[dict],
                 dense_hidden_channels: int, moe_channels: int,
                 reliability_gate: Optional[dict] = None,
                 reliability_min_severity: int = 1) -> None:
        super().__init__(reliability_gate, reliability_min_severity)
        self.modalities = tuple(in_channels)
        self.build_gate(in_channels)
        self.projection = ModalityProjection(in_channels, moe_channels)
        self.moe = FusionFFN(moe_channels, moe, dense_hidden_channels, 'mid_before',
                             self.modalities)
        self.fuser = MODELS.build(dict(fuser, in_channels={m: moe_channels
                                                           for m in self.modalities}))
        self.out_channels = self.fuser.out_channels
        self.stream_names = ('fused', )

    def forward(self, features: Features, inputs: dict, metas: List[dict]) -> PlacementOutput:
        losses, records = {}, {}
        features = self.gate(features, metas, losses, 'mid_before')
        maps = self.projection(features)
        device = next(iter(maps.values()))[0].device
        maps, record = self.moe.forward_maps(maps, self.context_ids(metas, device))
        self.add_record(records, losses, 'mid_before', record)
        present = torch.stack([p.bool() for _, p in maps.values()]).any(0)
        return PlacementOutput({'fused': self.fuser(maps)}, {'fused': present}, losses, records)
