"""``late`` placement (decision level): per-modality encoder, MoE and head; decisions fused.

    {m: (B, C_m, H, W), present} -> [reliability gate] -> 1x1 projection to D per modality
      -> x + MoE_m(x) (one MoE layer per modality) -> streams {m: (B, D, H, W)}
    detector: shared BEV trunk on every stream (weights shared, streams batched), one CenterHead
      per stream (``bbox_heads``), then :class:`LateDecisionFusion` (``fuse_decisions``) before
      decoding; an absent modality drops out of the rule.

The trunk is shared across streams to keep the demo within its CPU budget (it is still
decision-level fusion: nothing mixes modalities before the heads).
"""
from typing import Dict, List, Optional

from torch import nn

from fusion_moe.registry import MODELS
from .ffn_block import FusionFFN
from .late_rule import LateDecisionFusion
from .placement_base import BasePlacement, Features, PlacementOutput
from .projection import ModalityProjection


@MODELS.register_module()
class LateFusion(BasePlacement):
    """One stream per modality; the detector gives each its own head.

    Args:
        in_channels: ``{modality: C_m}`` (filled by the detector).
        moe: ``MoELayer`` config for every modality's layer (named ``late_<modality>``) or
            None for the dense twin.
        dense_hidden_channels: hidden width of the dense twin.
        moe_channels: D, each stream's width (= the trunk's input channels).
        stream_loss_weight: weight of each stream's own CenterHead loss next to the fused one
            (``loss_*_<modality>``); 0 trains through the fused outputs only.
        reliability_gate, reliability_min_severity: see :class:`BasePlacement`.
    """

    def __init__(self, in_channels: Dict[str, int], moe: Optional[dict],
                 dense_hidden_channels: int, moe_channels: int, stream_loss_weight: float = 0.0,
                 reliability_gate: Optional[dict] = None,
                 reliability_min_severity: int = 1) -> None:
        super().__init__(reliability_gate, reliability_min_severity)
        self.modalities = tuple(in_channels)
        self.build_gate(in_channels)
        self.projection = ModalityProjection(in_channels, moe_channels)
        self.moe = nn.ModuleDict({
            m: FusionFFN(moe_channels, moe, dense_hidden_channels, f'late_{m}')
            for m in self.modalities})
        self.out_channels = moe_channels
        self.stream_names = self.modalities
        self.stream_loss_weight = stream_loss_weight
        self.decision_fusion: Optional[LateDecisionFusion] = None

    def build_decision_fusion(self, num_tasks: int, output_keys) -> None:
        """Called by the detector once it knows its heads' tasks and output maps."""
        self.decision_fusion = LateDecisionFusion(self.modalities, num_tasks, output_keys)

    def fuse_decisions(self, outputs: dict, present: dict) -> tuple:
        return self.decision_fusion(outputs, present)

    def forward(self, features: Features, inputs: dict, metas: List[dict]) -> PlacementOutput:
        losses, records = {}, {}
        features = self.gate(features, metas, losses, 'late')
        maps = self.projection(features)
        device = next(iter(maps.values()))[0].device
        context = self.context_ids(metas, device)
        streams, present = {}, {}
        for m, (bev, flag) in maps.items():
            streams[m], record = self.moe[m].forward_bev(bev, context, valid_B=flag)
            present[m] = flag.bool()
            self.add_record(records, losses, f'late_{m}', record)
        return PlacementOutput(streams, present, losses, records)
