"""What every fusion placement shares (DESIGN.md, "Fusion placements").

A placement is one registered module from ``model.fusion``. The detector calls
``placement(features, inputs, metas)`` with

- ``features``: ``{modality: (map (B, C_m, H, W), present (B,) bool)}`` from the detector's
  encoders (empty for ``early``, which encodes raw inputs itself: ``needs_encoders = False``),
- ``inputs``: the data preprocessor's batch (points, radar_points, imgs),
- ``metas``: the data samples' metainfo (context, modality_present, degradations, lidar2img),

and gets a :class:`PlacementOutput`: BEV ``streams`` for the trunk (one ``'fused'`` stream, or
one per modality for ``late``), their presence, ``aux_losses`` under unique ``loss_*`` names and
the routing records by layer name.

Context ids (``context_ids``): in ``oracle`` mode from ``metainfo['context']`` always; in
``estimated`` mode only while training (the labels train the context head), never at test time.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from fusion_moe.structures.context import FACTORS, context_to_ids
from ..moe import MoERecord
from .ffn_block import FusionFFN
from .reliability_target import reliability_targets

Features = Dict[str, Tuple[Tensor, Tensor]]


@dataclass
class PlacementOutput:
    """Streams (B, C, H, W) for the trunk, their (B,) presence, losses and routing records."""
    streams: Dict[str, Tensor]
    present: Dict[str, Tensor]
    aux_losses: Dict[str, Tensor] = field(default_factory=dict)
    records: Dict[str, MoERecord] = field(default_factory=dict)


def merge_losses(into: Dict[str, Tensor], new: Mapping[str, Tensor], where: str) -> None:
    """Add ``new`` to ``into``; a name already there is an error (losses must stay apart)."""
    for key, value in new.items():
        if not key.startswith('loss_'):
            raise ValueError(f'{where}: auxiliary loss {key!r} must be named loss_*')
        if key in into:
            raise ValueError(f'{where}: auxiliary loss {key!r} is produced twice; give the '
                             f'layers distinct names')
        into[key] = value


def context_ids_from_metas(metas: List[dict], device: torch.device) -> Dict[str, Tensor]:
    """``{factor: (B,) int64}`` from ``metainfo['context']`` (DESIGN.md "Driving context")."""
    missing = [i for i, m in enumerate(metas) if 'context' not in m]
    if missing:
        raise KeyError(f"samples {missing[:5]} carry no metainfo['context']; the MoE context "
                       "bias needs it (pack it, or set context_bias='off')")
    ids = [context_to_ids(m['context']) for m in metas]
    return {f: torch.tensor([i[f] for i in ids], dtype=torch.long, device=device)
            for f in FACTORS}


class BasePlacement(nn.Module):
    """Shared parts: the context ids the MoE layers need, the optional reliability gate.

    Args:
        reliability_gate: optional ``ModalityReliabilityGate`` config (``in_channels`` filled
            in); it sees the modality maps before the MoE and removes unreliable ones per
            sample at inference; trained on :func:`reliability_targets`.
        reliability_min_severity: degradations below this severity do not count as unreliable.
    """
    needs_encoders = True

    def __init__(self, reliability_gate: Optional[dict] = None,
                 reliability_min_severity: int = 1) -> None:
        super().__init__()
        self._gate_cfg = reliability_gate
        self.reliability_min_severity = reliability_min_severity
        self.reliability_gate: Optional[nn.Module] = None

    def build_gate(self, in_channels: Mapping[str, int]) -> None:
        if self._gate_cfg is None:
            return
        cfg = dict(self._gate_cfg)
        if cfg.get('in_channels') not in (None, dict(in_channels)):
            raise ValueError(f'fusion.reliability_gate.in_channels {cfg["in_channels"]} != the '
                             f'encoders\' {dict(in_channels)}; leave it out')
        cfg['in_channels'] = dict(in_channels)
        self.reliability_gate = MODELS.build(cfg)

    def ffn_layers(self) -> List[FusionFFN]:
        return [m for m in self.modules() if isinstance(m, FusionFFN)]

    @property
    def context_mode(self) -> str:
        """The context mode of the MoE layers (``'off'`` for a dense twin)."""
        modes = {layer.context_mode for layer in self.ffn_layers()} - {'off'}
        if len(modes) > 1:
            raise ValueError(f'MoE layers of one placement use different context modes {modes}')
        return modes.pop() if modes else 'off'

    def context_ids(self, metas: List[dict], device: torch.device
                    ) -> Optional[Dict[str, Tensor]]:
        """Ids for the MoE layers: oracle always; estimated only in training (labels for the
        context head; at test time the head alone decides); off: none."""
        mode = self.context_mode
        if mode == 'oracle' or (mode == 'estimated' and self.training):
            return context_ids_from_metas(metas, device)
        return None

    def gate(self, features: Features, metas: List[dict], losses: Dict[str, Tensor],
             name: str) -> Features:
        """Apply the reliability gate (if any); its loss goes to ``losses`` as
        ``loss_<name>_reliability``."""
        if self.reliability_gate is None:
            return features
        device = next(iter(features.values()))[0].device
        targets = reliability_targets(metas, list(features), device,
                                      self.reliability_min_severity) if self.training else None
        kept, _, gate_losses = self.reliability_gate(features, targets)
        merge_losses(losses, {f'loss_{name}_reliability': v for v in gate_losses.values()},
                     name)
        return kept

    @staticmethod
    def add_record(records: Dict[str, MoERecord], losses: Dict[str, Tensor], name: str,
                   record: Optional[MoERecord]) -> None:
        if record is not None:
            records[name] = record
            merge_losses(losses, record.aux_losses, name)
