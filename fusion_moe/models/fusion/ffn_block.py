"""The token FFN of a placement: an MoE layer, or its dense twin, with a residual connection.

``FusionFFN(moe=cfg)`` builds a :class:`~fusion_moe.models.moe.MoELayer`; ``FusionFFN(moe=None)``
builds a :class:`~fusion_moe.models.moe.DenseFFN` of hidden width ``dense_hidden_channels``,
which the shared config bases set to the MoE's *active* width (``top_k * hidden_channels``
plus shared experts), so the twin spends the same FLOPs per token as the routed experts (router
and generalist excluded; ``tools/model_info.py`` shows the figures). Both compute
``y = x + f(x)`` on (T, D) tokens; cells or points that are not valid (absent modality, padding)
pass through as ``x`` (zero for an absent modality's map).

Shape legend: T tokens, D channels, B batch, H x W BEV grid.
"""
import copy
from typing import Dict, Mapping, Optional, Sequence, Tuple

from mmengine.logging import print_log
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from ..moe import DenseFFN, MoELayer, MoERecord
from ..moe.bev_tokens import bev_to_tokens, maps_to_tokens, tokens_to_bev, tokens_to_maps

_FILLED = ('in_channels', 'loss_prefix', 'modalities')


def active_hidden_channels(moe: Mapping) -> Optional[int]:
    """Hidden width a token passes through in ``moe`` (token choice: ``top_k * F`` plus shared
    experts); None for expert-choice and soft routers, whose per-token work is not fixed."""
    router = dict(moe.get('router') or dict(type='TopKRouter', top_k=2))
    if router.get('type') in ('ExpertChoiceRouter', 'SoftMoERouter'):
        return None
    top_k = int(router.get('top_k', 2))
    return (top_k + int(moe.get('num_shared_experts', 0))) * int(moe['hidden_channels'])


class FusionFFN(nn.Module):
    """Residual MoE layer or dense twin over tokens.

    Args:
        in_channels: D (the layer's in and out channels).
        moe: ``MoELayer`` config without ``in_channels`` / ``loss_prefix`` / ``modalities``
            (filled here), or None for the dense twin.
        dense_hidden_channels: hidden width of the dense twin; with ``moe`` given, a mismatch
            with the MoE's active width is logged (an ablation may change ``top_k`` alone).
        name: the layer's name, used as the MoE ``loss_prefix`` (``loss_<name>_balance``...).
        modalities: names of the per-modality routers (None = one router).
    """

    def __init__(self, in_channels: int, moe: Optional[dict], dense_hidden_channels: int,
                 name: str, modalities: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        self.name = name
        self.in_channels = in_channels
        self.modalities = tuple(modalities) if modalities else None
        if moe is None:
            self.moe = None
            self.dense = DenseFFN(in_channels, dense_hidden_channels, in_channels)
            return
        cfg = copy.deepcopy(dict(moe))
        for key in _FILLED:
            if cfg.get(key) is not None:
                raise ValueError(f'{name}.moe.{key} is set by the placement; leave it out '
                                 f'(got {cfg[key]!r})')
        if cfg.get('out_channels', in_channels) != in_channels:
            raise ValueError(f'{name}.moe.out_channels must equal in_channels {in_channels}')
        cfg.update(in_channels=in_channels, loss_prefix=name, modalities=self.modalities)
        active = active_hidden_channels(cfg)
        if active is not None and active != dense_hidden_channels:
            print_log(f'{name}: MoE active hidden width {active} != dense_hidden_channels '
                      f'{dense_hidden_channels}; the dense twin is not FLOP-matched',
                      logger='current', level=30)
        self.moe: Optional[MoELayer] = MODELS.build(cfg)
        self.dense = None

    @property
    def context_mode(self) -> str:
        """``'off'`` / ``'oracle'`` / ``'estimated'`` (the dense twin: ``'off'``)."""
        if self.moe is None or self.moe.context_bias is None:
            return 'off'
        return self.moe.context_bias.mode

    def modality_index(self, modality: str) -> int:
        if self.modalities is None:
            return 0
        if modality not in self.modalities:
            raise KeyError(f'{self.name}: no router for {modality!r}; routers: {self.modalities}')
        return self.modalities.index(modality)

    def forward(self, x_TD: Tensor, modality_ids: Optional[Tensor] = None,
                sample_ids: Optional[Tensor] = None, valid_T: Optional[Tensor] = None,
                context_ids: Optional[Mapping[str, Tensor]] = None,
                spatial_shape: Optional[Tuple[int, int, int]] = None
                ) -> Tuple[Tensor, Optional[MoERecord]]:
        """(T, D) -> ((T, D) = x + f(x), routing record or None for the twin)."""
        if self.moe is None:
            y_TD = self.dense(x_TD)
            if valid_T is not None:
                y_TD = y_TD * valid_T[:, None].to(y_TD.dtype)
            return x_TD + y_TD, None
        y_TD, record = self.moe(x_TD, modality_ids=modality_ids, context_ids=context_ids,
                                sample_ids=sample_ids, valid_mask=valid_T,
                                spatial_shape=spatial_shape)
        return x_TD + y_TD.to(x_TD.dtype), record

    def forward_bev(self, x_BCHW: Tensor, context_ids: Optional[Mapping[str, Tensor]] = None,
                    modality_ids_B: Optional[Tensor] = None, valid_B: Optional[Tensor] = None
                    ) -> Tuple[Tensor, Optional[MoERecord]]:
        """Every cell of (B, C, H, W) as a token, laid out as :meth:`MoELayer.forward_bev`
        does (bev_tokens.py); ``modality_ids_B`` (B,) picks each sample's router, ``valid_B``
        (B,) leaves a sample's cells unrouted."""
        b, _, h, w = x_BCHW.shape
        x_TD, sample_ids = bev_to_tokens(x_BCHW)
        modality_ids = None if modality_ids_B is None else modality_ids_B[sample_ids]
        valid_T = None if valid_B is None else valid_B.bool()[sample_ids]
        y_TD, record = self(x_TD, modality_ids, sample_ids, valid_T, context_ids, (b, h, w))
        return tokens_to_bev(y_TD, b, h, w), record

    def forward_maps(self, maps: Mapping[str, Tuple[Tensor, Tensor]],
                     context_ids: Optional[Mapping[str, Tensor]] = None
                     ) -> Tuple[Dict[str, Tuple[Tensor, Tensor]], Optional[MoERecord]]:
        """``{modality: (map (B, C, H, W), present (B,))}`` -> same, each modality through its
        own router in one MoE call, laid out as :meth:`MoELayer.forward_maps` does (tokens
        modality-major; local/global experts see each (modality, sample) map alone). An absent
        modality's cells are not routed."""
        names = list(maps)
        for name in names:
            self.modality_index(name)  # an unknown modality is an error naming this layer
        x_TD, modality_ids, sample_ids, valid_T, (b, h, w) = maps_to_tokens(
            maps, self.modalities or ('all',))
        y_TD, record = self(x_TD, modality_ids, sample_ids, valid_T, context_ids,
                            (len(names) * b, h, w))
        outs = tokens_to_maps(y_TD, names, b, h, w)
        return {n: (outs[n], maps[n][1]) for n in names}, record
