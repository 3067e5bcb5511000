"""The plain dense detector's placement: the fuser alone, no token FFN (``model.fuser=...``).

Kept so the dense detector configs (``configs/detector/``, ``configs/demo/detector_cpu.py``)
read as before: ``FusionDetector(fuser=cfg)`` builds ``FuserOnly(fuser=cfg)``.
"""
from typing import Dict, List

import torch

from fusion_moe.registry import MODELS
from .placement_base import BasePlacement, Features, PlacementOutput


@MODELS.register_module()
class FuserOnly(BasePlacement):
    """``{m: (map, present)} -> fuser -> 'fused' (B, C, H, W)``.

    Args:
        in_channels: ``{modality: C_m}`` (filled by the detector). fuser: fuser config.
    """

    def __init__(self, in_channels: Dict[str, int], fuser: dict) -> None:
        super().__init__()
        self.fuser = MODELS.build(dict(fuser, in_channels=dict(in_channels)))
        # a fuser module may not expose its width; its config then names it
        self.out_channels = getattr(self.fuser, 'out_channels', fuser.get('out_channels'))
        self.stream_names = ('fused', )

    def forward(self, features: Features, inputs: dict, metas: List[dict]) -> PlacementOutput:
        present = torch.stack([p.bool() for _, p in features.values()]).any(0)
        return PlacementOutput({'fused': self.fuser(features)}, {'fused': present})
