"""Parameters, active parameters per token and FLOPs of a detector, per component.

Components are the detector's top-level modules, grouped as the composition reads
(DESIGN.md "Fusion placements"): ``encoders``, ``fusion`` (the placement, or the legacy
``fuser``), ``trunk`` (``backbone`` + ``neck``), ``head`` (``bbox_head`` / ``bbox_heads``); any
other module with parameters is its own component under its attribute name. Every MoE layer
(:func:`~fusion_moe.models.moe.find_moe_layers`) is also listed on its own.

- ``params``: from mmengine's ``parameter_count`` (mmengine.analysis).
- ``flops``: one inference forward (``mode='predict'``, eval mode, no grad) on the given packed
  batch, counted by ``torch.utils.flop_counter.FlopCounterMode``: matrix products and
  convolutions, 2 FLOPs per multiply-add, per module call stack. Elementwise ops, gathers,
  sorting/NMS and the numba routing loops are not counted. (mmengine's jit-tracing
  ``FlopAnalyzer`` cannot trace data-dependent routing, so it does not serve here.)
- ``active_params``: parameters one token passes through. Equal to ``params`` except in MoE
  layers, where routed experts count ``experts_per_token / E`` of their parameters
  (``experts_per_token`` measured on the batch: rows the experts ran per routed token; top-k
  for dropless token choice, the capacity factor for expert choice, all E for soft MoE, whose
  every slot mixes into every token) and the generalist counts its fallback share (all of it in
  the dense stage, where the routed experts and routers count nothing).
"""
from collections import defaultdict
from typing import Dict, List, Mapping, Tuple

import torch
from mmengine.analysis import parameter_count
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from fusion_moe.models.moe import MoELayer, MoERecord, find_moe_layers

#: top-level module name -> component
COMPONENT_OF = {'encoders': 'encoders', 'fusion': 'fusion', 'fuser': 'fusion',
                'backbone': 'trunk', 'neck': 'trunk', 'bbox_head': 'head', 'bbox_heads': 'head'}
COMPONENT_ORDER = ('encoders', 'fusion', 'trunk', 'head')


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _moe_inactive(layer: MoELayer, records: List[MoERecord]) -> Tuple[float, float]:
    """``(inactive params per token, experts per routed token)`` of one layer over its calls."""
    routed = sum(_numel(e) for e in layer.experts.values())
    generalist = _numel(layer.generalist) if layer.generalist is not None else 0
    if layer.stage == 'dense' or not records:
        return float(routed + sum(_numel(r) for r in layer.routers)), 0.0
    tokens = rows = fallback = 0.0
    for record in records:
        stats = record.stats
        tokens += float(stats['tokens'])
        fallback += float(stats['fallback'])
        rows += float(stats['expert_load'].sum())
    if layer.routing_kind == 'soft':
        experts_per_token = float(layer.num_experts)
    else:
        experts_per_token = rows / max(tokens - fallback, 1.0)
    fallback_share = fallback / max(tokens, 1.0)
    inactive = (routed * (1.0 - experts_per_token / layer.num_experts)
                + generalist * (1.0 - fallback_share))
    return inactive, experts_per_token


def _module_flops(module: nn.Module, name: str, flops: Mapping[str, int]) -> int:
    """FLOPs under ``name``: its own count when it was called, else its children's (a
    ``ModuleDict`` is never called itself)."""
    if name in flops:
        return flops[name]
    return sum(_module_flops(child, f'{name}.{n}', flops) for n, child in module.named_children())


def _entry(params: float, active_params: float, flops: float) -> Dict[str, float]:
    return {'params': int(params), 'active_params': int(round(active_params)),
            'flops': int(flops)}


def model_cost(model: nn.Module, batch: Mapping) -> dict:
    """``{'total': {...}, 'components': {name: {...}}, 'moe_layers': {qualified name: {...,
    experts_per_token, component}}}``, each entry ``{params, active_params, flops}``.

    Args:
        model: a built detector (its data preprocessor runs on ``batch``).
        batch: ``{'inputs': ..., 'data_samples': [...]}`` as the dataloader packs it.
    """
    model = getattr(model, 'module', model)
    was_training = model.training
    model.eval()
    layers = find_moe_layers(model)
    records: Dict[str, List[MoERecord]] = defaultdict(list)
    hooks = [layer.register_forward_hook(
        lambda _m, _a, out, name=name: records[name].append(out[1]))
        for name, layer in layers]
    try:
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            with FlopCounterMode(display=False) as counter:
                model(**data, mode='predict')
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    root = type(model).__name__
    flops = {name[len(root) + 1:] if name.startswith(root + '.') else name: sum(ops.values())
             for name, ops in counter.get_flop_counts().items()}
    params = parameter_count(model)

    components: Dict[str, Dict[str, float]] = {}
    for child, module in model.named_children():
        if child == 'data_preprocessor':
            continue
        comp = COMPONENT_OF.get(child, child)
        child_flops = _module_flops(module, child, flops)
        if not params.get(child) and not child_flops:
            continue
        acc = components.setdefault(comp, {'params': 0, 'active_params': 0, 'flops': 0})
        acc['params'] += params.get(child, 0)
        acc['active_params'] += params.get(child, 0)
        acc['flops'] += child_flops
    moe = {}
    for name, layer in layers:
        inactive, per_token = _moe_inactive(layer, records.get(name, []))
        comp = COMPONENT_OF.get(name.split('.')[0], name.split('.')[0])
        entry = _entry(params[name], params[name] - inactive, _module_flops(layer, name, flops))
        entry.update(experts_per_token=per_token, component=comp,
                     calls=len(records.get(name, [])))
        moe[name] = entry
        if comp in components:
            components[comp]['active_params'] -= inactive
    total_flops = flops.get('Global', sum(c['flops'] for c in components.values()))
    unattributed = total_flops - sum(c['flops'] for c in components.values())
    if unattributed > 0:  # matmuls in the detector's own forward, outside any child module
        components['detector'] = {'params': 0, 'active_params': 0, 'flops': unattributed}
    order = [c for c in COMPONENT_ORDER if c in components] + sorted(
        c for c in components if c not in COMPONENT_ORDER)
    components = {c: _entry(**components[c]) for c in order}
    total = _entry(params[''], sum(c['active_params'] for c in components.values()),
                   total_flops)
    return {'total': total, 'components': components, 'moe_layers': moe}


def format_cost_table(cost: Mapping) -> str:
    """The cost as a fixed-width text table (parameters in thousands, FLOPs in GFLOPs)."""
    rows = [f"{'component':<44} {'params':>10} {'active':>10} {'GFLOPs':>9}"]

    def row(name, e):
        rows.append(f"{name:<44} {e['params'] / 1e3:>9.1f}k {e['active_params'] / 1e3:>9.1f}k "
                    f"{e['flops'] / 1e9:>9.4f}")
    for name, entry in cost['components'].items():
        row(name, entry)
        for layer, e in cost['moe_layers'].items():
            if e['component'] == name:
                row(f'  MoE {layer} ({e["experts_per_token"]:.2f} exp/token)', e)
    row('total', cost['total'])
    return '\n'.join(rows)
