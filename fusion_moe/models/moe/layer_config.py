"""Checks and builders for :class:`~.layer.MoELayer`'s constructor and forward arguments.

Each turns one config argument into what the layer holds (a router, expert-kind ranges, an
expert-group mask, merged loss weights) or rejects it with an error naming the argument.
Shapes: see router.py.
"""
import copy
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from fusion_moe.registry import MODELS
from .router import BaseRouter
from .spatial_features import EXPERT_KINDS

AUX_LOSS_NAMES = ('balance', 'z', 'entropy', 'usage', 'context')
DEFAULT_AUX_LOSS_WEIGHTS: Dict[str, float] = {
    'balance': 0.01, 'z': 0.001, 'entropy': 0.0, 'usage': 0.0, 'context': 0.1}


def build_router(cfg: Optional[dict], in_channels: int, num_experts: int) -> BaseRouter:
    """Build a registered router from ``cfg`` (default top-2), filling in D and E."""
    cfg = copy.deepcopy(cfg) if cfg is not None else dict(type='TopKRouter', top_k=2)
    if 'type' not in cfg:
        raise ValueError(f"router config needs a 'type', got {cfg}")
    for key, value in (('in_channels', in_channels), ('num_experts', num_experts)):
        if cfg.get(key, value) != value:
            raise ValueError(f'router config {key}={cfg[key]} conflicts with the layer '
                             f'({value}); leave it out')
        cfg[key] = value
    router = MODELS.build(cfg)
    if not isinstance(router, BaseRouter):
        raise TypeError(f"router type {cfg['type']!r} is not a fusion_moe BaseRouter")
    return router


def expert_kind_ranges(kinds: Tuple[str, ...], num_experts: int) -> Dict[str, Tuple[int, int]]:
    """``{kind: (first expert id, last + 1)}``; each kind's experts must be contiguous."""
    if len(kinds) != num_experts:
        raise ValueError(f'expert_kinds has {len(kinds)} entries for {num_experts} experts')
    ranges: Dict[str, Tuple[int, int]] = {}
    for e, kind in enumerate(kinds):
        if kind not in EXPERT_KINDS:
            raise ValueError(f'expert_kinds[{e}]={kind!r} is not one of {EXPERT_KINDS}')
        if kind in ranges and ranges[kind][1] != e:
            raise ValueError(f'experts of kind {kind!r} must be contiguous: {kinds}')
        ranges[kind] = (ranges[kind][0] if kind in ranges else e, e + 1)
    return ranges


def expert_group_mask(modalities: Tuple[str, ...], num_experts: int,
                      groups: Optional[Mapping[str, Sequence[int]]], top_k: int) -> Tensor:
    """(M, E) bool: which experts each modality's tokens may reach (MoMa groups; all if None).

    ``modalities == ('all',)`` means one router for all tokens, where groups are an error.
    Every group needs at least ``top_k`` experts.
    """
    mask = torch.ones(len(modalities), num_experts, dtype=torch.bool)
    if groups is None:
        return mask
    if modalities == ('all',):
        raise ValueError('expert_groups needs modalities (one router per modality)')
    unknown = set(groups) - set(modalities)
    if unknown:
        raise ValueError(f'expert_groups names unknown modalities {sorted(unknown)}; '
                         f'modalities are {modalities}')
    for m, name in enumerate(modalities):
        if name not in groups:
            continue
        ids = list(groups[name])
        if not ids or min(ids) < 0 or max(ids) >= num_experts:
            raise ValueError(f'expert_groups[{name!r}]={ids} must be non-empty ids in '
                             f'[0, {num_experts})')
        mask[m] = False
        mask[m, ids] = True
    if int(mask.sum(1).min()) < top_k:
        raise ValueError(f'every expert group needs at least top_k={top_k} experts')
    return mask


def merged_loss_weights(weights: Optional[Mapping[str, float]]) -> Dict[str, float]:
    """``DEFAULT_AUX_LOSS_WEIGHTS`` updated by ``weights``; unknown keys are an error."""
    merged = dict(DEFAULT_AUX_LOSS_WEIGHTS)
    for key, value in (weights or {}).items():
        if key not in AUX_LOSS_NAMES:
            raise ValueError(f'aux_loss_weights has unknown key {key!r}; '
                             f'expected a subset of {AUX_LOSS_NAMES}')
        merged[key] = float(value)
    return merged


def ids_or_zeros(ids: Optional[Tensor], num_tokens: int, device: torch.device, name: str,
                 upper: Optional[int]) -> Tensor:
    """(T,) int64 ids checked to lie in [0, upper), or zeros when ``ids`` is None."""
    if ids is None:
        return torch.zeros(num_tokens, dtype=torch.long, device=device)
    if ids.shape != (num_tokens,) or ids.dtype not in (torch.int32, torch.int64):
        raise ValueError(f'{name} must be ({num_tokens},) integers, got '
                         f'{tuple(ids.shape)} {ids.dtype}')
    if ids.numel() and (int(ids.min()) < 0 or (upper is not None and int(ids.max()) >= upper)):
        raise ValueError(f'{name} outside [0, {upper}): min {int(ids.min())}, '
                         f'max {int(ids.max())}')
    return ids.to(device=device, dtype=torch.long)


def token_inputs(x_TD: Tensor, in_channels: int, num_modalities: int,
                 modality_ids: Optional[Tensor], sample_ids: Optional[Tensor],
                 context_ids: Optional[Mapping[str, Tensor]], valid_mask: Optional[Tensor]
                 ) -> Tuple[Tensor, Tensor, int, Tensor]:
    """Check the forward's token arguments (see :meth:`~.layer.MoELayer.forward`).

    Returns:
        ``(modality_ids_T, sample_ids_T, num_samples, valid_T)``: (T,) int64 ids (zeros when
        not given), B = samples seen in ``sample_ids`` or ``context_ids`` (1 when neither says),
        (T,) bool valid tokens (all when ``valid_mask`` is None).
    """
    num_tokens = x_TD.shape[0]
    device = x_TD.device
    if x_TD.dim() != 2 or x_TD.shape[1] != in_channels:
        raise ValueError(f'expected tokens (T, {in_channels}), got {tuple(x_TD.shape)}')
    modality_ids = ids_or_zeros(modality_ids, num_tokens, device, 'modality_ids', num_modalities)
    samples_given = sample_ids is not None
    sample_ids = ids_or_zeros(sample_ids, num_tokens, device, 'sample_ids', None)
    num_samples = (int(sample_ids.max()) + 1 if num_tokens and samples_given else 1)
    if context_ids:
        num_samples = max(num_samples, *(int(v.shape[0]) for v in context_ids.values()))
    valid_T = (torch.ones(num_tokens, dtype=torch.bool, device=device)
               if valid_mask is None else valid_mask.to(device=device, dtype=torch.bool))
    if valid_T.shape != (num_tokens,):
        raise ValueError(f'valid_mask must have shape ({num_tokens},), '
                         f'got {tuple(valid_T.shape)}')
    return modality_ids, sample_ids, num_samples, valid_T
