"""Reliability targets for ``ModalityReliabilityGate``: is a modality usable in this sample?

Target of modality m for one sample = 1 when m is present (``metainfo['modality_present']``)
and no recorded degradation (``metainfo['degradations']``, DESIGN.md "Degradations") acts on
m at severity >= ``min_severity``; 0 otherwise. Which sensors a degradation acts on comes from
its name (the injector's short names, ``fusion_moe.degradation.DEGRADATIONS``); an unknown name
is an error, so a new degradation cannot silently count as harmless.
"""
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from fusion_moe.degradation import DEGRADATIONS
from fusion_moe.structures import MODALITIES

# Degradations acting on more than one sensor, or named without their sensor's prefix.
_AFFECTS: Dict[str, Tuple[str, ...]] = {
    'fog': ('camera', 'lidar', 'radar'),
    'night': ('camera', ),
    'spatial_misalignment': ('camera', 'radar'),   # moves cameras and radar against LiDAR
    'temporal_misalignment': ('camera', 'lidar', 'radar'),
    'image_corruption': ('camera', ),
}


def affected_modalities(name: str) -> Tuple[str, ...]:
    """Sensors a degradation record of this name acts on."""
    if name in _AFFECTS:
        return _AFFECTS[name]
    prefix = name.split('_', 1)[0]
    if prefix in MODALITIES:
        return (prefix, )
    if name in DEGRADATIONS:  # the remaining short names are imagecorruptions' (camera)
        return ('camera', )
    raise KeyError(f'degradation {name!r} is not one of fusion_moe.degradation.DEGRADATIONS; '
                   f'say which sensors it affects in {__name__}._AFFECTS')


def reliability_targets(metas: List[dict], modalities: Sequence[str], device: torch.device,
                        min_severity: int = 1) -> Dict[str, Tensor]:
    """``{modality: (B,) float32 in {0, 1}}`` from presence flags and degradation records."""
    out = {m: torch.ones(len(metas), dtype=torch.float32) for m in modalities}
    for b, meta in enumerate(metas):
        present = meta.get('modality_present', {})
        for m in modalities:
            if not bool(present.get(m, True)):
                out[m][b] = 0.0
        for record in meta.get('degradations', []) or []:
            if int(record.get('severity', 1)) < min_severity:
                continue
            for m in affected_modalities(str(record['name'])):
                if m in out:
                    out[m][b] = 0.0
    return {m: t.to(device) for m, t in out.items()}
