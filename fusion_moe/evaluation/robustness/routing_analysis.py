"""Routing analysis of one condition, from the hooks' outputs (pure functions, JSON in and out).

Inputs: the per-layer summaries of ``RoutingStatisticsHook`` (``last_summary``: expert load,
routing entropy, gate gap, fallback rate, dropped fraction, per-context utilisation; see
``fusion_moe.models.moe.summarize_statistics``) and ``RoutingCaptureHook.last_capture``
(top-1 flips against the clean run, suppression per modality). Output, per condition::

    {'layers': {layer: {<summary keys>, 'top1_flip_rate', 'flips': {...}}},
     'suppression': {gate: {modality: {present, suppressed, rate}}},
     'overall': {routing_entropy, fallback_rate (token-weighted over layers),
                 top1_flip_rate (pooled over layers), suppression_rate: {modality: rate}}}

A model without MoE layers gets ``{}``.
"""
from typing import Dict, Mapping, Optional


def _weighted(layers: Mapping[str, Mapping], key: str) -> Optional[float]:
    tokens = sum(int(s['num_tokens']) for s in layers.values())
    if not tokens:
        return None
    return sum(float(s[key]) * int(s['num_tokens']) for s in layers.values()) / tokens


def pooled_rate(counts: Mapping[str, Mapping[str, int]], numerator: str,
                denominator: str) -> Optional[float]:
    """``sum numerator / sum denominator`` over entries; None when the denominator is 0."""
    den = sum(int(c[denominator]) for c in counts.values())
    return sum(int(c[numerator]) for c in counts.values()) / den if den else None


def condition_routing(layer_summaries: Mapping[str, Mapping], capture: Mapping) -> Dict:
    """Merge the hooks' outputs into the ``routing`` entry of a condition (see module doc)."""
    flips = capture.get('flips') or {}
    suppression = capture.get('suppression') or {}
    if not layer_summaries and not suppression:
        return {}
    layers = {}
    for name, summary in sorted(layer_summaries.items()):
        entry = dict(summary)
        layer_flips = flips.get(name)
        entry['flips'] = dict(layer_flips) if layer_flips else None
        entry['top1_flip_rate'] = layer_flips['rate'] if layer_flips else None
        layers[name] = entry
    per_modality: Dict[str, Dict[str, int]] = {}
    for gate in suppression.values():
        for modality, c in gate.items():
            total = per_modality.setdefault(modality, {'present': 0, 'suppressed': 0})
            total['present'] += int(c['present'])
            total['suppressed'] += int(c['suppressed'])
    overall = {
        'routing_entropy': _weighted(layers, 'routing_entropy'),
        'fallback_rate': _weighted(layers, 'fallback_rate'),
        'top1_flip_rate': pooled_rate(flips, 'flipped', 'compared') if flips else None,
        'suppression_rate': {m: (c['suppressed'] / c['present'] if c['present'] else None)
                             for m, c in sorted(per_modality.items())},
    }
    return {'layers': layers, 'suppression': {g: dict(v) for g, v in suppression.items()},
            'overall': overall}
