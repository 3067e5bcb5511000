"""Conditional modality suppression (Mixpert-style): a modality whose estimated reliability for
a sample falls below a threshold is removed from fusion for that sample, not down-weighted.

Works on the fusion contract of DESIGN.md: ``{modality: (map (B, C_m, H, W), present (B,))}``.
A removed modality's map becomes exactly zero and its presence flag False, so the fuser treats
it like a missing sensor. Reliability is a small per-modality head on the globally pooled map,
trained with binary cross-entropy on a reliability target (e.g. present and not degraded).
"""
import math
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fusion_moe.registry import MODELS

_ABSENT_LOGIT = math.log(1e-6 / (1 - 1e-6))  # logit of the reliability of an absent modality


@MODELS.register_module()
class ModalityReliabilityGate(nn.Module):
    """Estimate per-sample reliability of each modality and drop the unreliable ones.

    Args:
        in_channels: ``{modality: C_m}``.
        threshold: reliability in (0, 1) below which a modality is removed for that sample
            (strictly below; equal stays).
        hidden_channels: width of each reliability head.
        suppress_in_training: also remove modalities in training (default: inference only,
            training sees all modalities and only learns the reliability).
    """

    def __init__(self, in_channels: Mapping[str, int], threshold: float = 0.5,
                 hidden_channels: int = 32, suppress_in_training: bool = False) -> None:
        super().__init__()
        if not 0.0 < threshold < 1.0:
            raise ValueError(f'threshold must be in (0, 1), got {threshold}')
        self.threshold = threshold
        self.suppress_in_training = suppress_in_training
        self.heads = nn.ModuleDict({
            name: nn.Sequential(nn.Linear(c, hidden_channels), nn.ReLU(),
                                nn.Linear(hidden_channels, 1))
            for name, c in in_channels.items()})

    @property
    def modalities(self) -> Sequence[str]:
        return tuple(self.heads)

    def _logits(self, maps: Mapping[str, Tuple[Tensor, Tensor]]) -> Dict[str, Tensor]:
        """``{modality: (B,) float32 reliability logits}``, computed with autocast off (like
        the routers: small heads whose outputs decide, kept in fp32)."""
        out = {}
        for name, (map_BCHW, _) in maps.items():
            if name not in self.heads:
                raise KeyError(f'no reliability head for modality {name!r}; '
                               f'heads: {self.modalities}')
            with torch.autocast(device_type=map_BCHW.device.type, enabled=False):
                pooled_BC = map_BCHW.float().mean(dim=(2, 3))
                out[name] = self.heads[name](pooled_BC)[:, 0]
        return out

    def reliability(self, maps: Mapping[str, Tuple[Tensor, Tensor]],
                    logits: Optional[Mapping[str, Tensor]] = None) -> Dict[str, Tensor]:
        """``{modality: (B,) float32 reliability in (0, 1)}``; absent modalities get 0."""
        logits = self._logits(maps) if logits is None else logits
        return {name: torch.sigmoid(logits[name]) * present_B.float()
                for name, (_, present_B) in maps.items()}

    def forward(self, maps: Mapping[str, Tuple[Tensor, Tensor]],
                reliability_targets: Optional[Mapping[str, Tensor]] = None
                ) -> Tuple[Dict[str, Tuple[Tensor, Tensor]], Dict[str, Tensor], Dict[str, Tensor]]:
        """Returns ``(maps, reliability, losses)``.

        ``maps`` has removed modalities zeroed with ``present`` False for those samples;
        ``reliability`` holds the (B,) scores; ``losses`` holds ``loss_reliability`` when
        ``reliability_targets`` ``{modality: (B,) in [0, 1]}`` are given.
        """
        logits = self._logits(maps)
        scores = self.reliability(maps, logits)
        losses = {}
        if reliability_targets is not None:
            # BCE on logits, fp32: F.binary_cross_entropy on probabilities is refused under
            # CUDA autocast and loses precision near 0 and 1. An absent modality's score is 0
            # by definition; its logit is the one of the smallest probability used before
            # (1e-6), a constant without gradient.
            losses['loss_reliability'] = sum(
                F.binary_cross_entropy_with_logits(
                    torch.where(maps[m][1].bool(), logits[m],
                                logits[m].new_tensor(_ABSENT_LOGIT)),
                    reliability_targets[m].float()) for m in scores
            ) / max(len(scores), 1)
        if self.training and not self.suppress_in_training:
            return dict(maps), scores, losses
        out = {}
        for name, (map_BCHW, present_B) in maps.items():
            keep_B = (scores[name] >= self.threshold) & present_B.bool()
            out[name] = (map_BCHW * keep_B[:, None, None, None].to(map_BCHW.dtype), keep_B)
        return out, scores, losses
