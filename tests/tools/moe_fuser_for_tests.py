"""A fuser with a reliability gate and an MoE layer, registered for the robustness tool's tests
(the MoE placements of the detector are built elsewhere; the tool must work for any model that
contains MoE layers)."""
from typing import Dict, Mapping, Tuple

from torch import Tensor, nn

from fusion_moe.models.fusion.concat import ConcatConvFuser
from fusion_moe.models.moe import ModalityReliabilityGate, MoELayer
from fusion_moe.registry import MODELS


@MODELS.register_module(force=True)
class GatedMoEFuserForTests(nn.Module):
    """1x1 projections -> reliability gate -> one MoE layer over every modality's cells ->
    concat fuser. Same interface as ``ConcatConvFuser``."""

    def __init__(self, in_channels: Mapping[str, int], out_channels: int, hidden: int = 8,
                 num_experts: int = 4) -> None:
        super().__init__()
        self.proj = nn.ModuleDict({m: nn.Conv2d(c, hidden, 1) for m, c in in_channels.items()})
        self.gate = ModalityReliabilityGate({m: hidden for m in in_channels}, threshold=0.3)
        self.moe = MoELayer(hidden, 2 * hidden, num_experts=num_experts,
                            router=dict(type='TopKRouter', top_k=2),
                            modalities=tuple(in_channels), generalist_hidden_channels=hidden,
                            fallback_threshold=0.01)
        self.fuse = ConcatConvFuser({m: hidden for m in in_channels}, out_channels)
        self.out_channels = out_channels  # the fuser interface (FuserOnly reads it)

    def forward(self, features: Dict[str, Tuple[Tensor, Tensor]]) -> Tensor:
        maps = {m: (self.proj[m](x), present) for m, (x, present) in features.items()}
        maps, _, _ = self.gate(maps)
        routed, _ = self.moe.forward_maps(maps)
        return self.fuse({m: (routed[m], maps[m][1]) for m in routed})
