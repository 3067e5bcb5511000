"""The MoE layer: composition of routers, context bias, dispatch, experts, fallback and losses.

``MoELayer(x_TD, ...) -> (y_TD, MoERecord)`` for tokens (T, D): BEV cells flattened from
(B, C, H, W) (see :meth:`MoELayer.forward_bev`) or point / pillar features. Per forward:

1. logits (T, E*S) in fp32 from one router, or one router per modality (``modality_ids``);
2. ``+ bias(context)`` (additive, per modality, see context_bias.py);
3. expert-group mask: a modality's tokens may only reach its group's experts (MoMa);
4. the router's rule turns logits into a dispatch plan (token choice / expert choice / soft);
5. at inference, tokens or samples with a small gate gap go to the generalist (fallback.py);
6. experts run on their contiguous slices (dispatch.py), grouped by kind (ffn/local/global);
7. optional shared experts are added for every token; auxiliary losses and statistics.

Steps 4 and 6 live in expert_paths.py, argument checks in layer_config.py, the per-modality
logits of step 1 in router.py, the BEV-map token layout in bev_tokens.py, the auxiliary losses
and the record of step 7 in record.py.

Shapes: see router.py. Frames and units do not apply: the layer is agnostic to what tokens mean.
"""
import math
from typing import Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from fusion_moe.registry import MODELS
from .bev_tokens import bev_to_tokens, maps_to_tokens, tokens_to_bev, tokens_to_maps
from .context_bias import ContextBias
from .dispatch import reference_token_choice
from .expert_paths import routing_gate_gap, run_expert_choice, run_soft, run_token_choice
from .experts import DenseFFN, GroupedFFNExperts
from .fallback import fallback_mask
from .layer_config import (AUX_LOSS_NAMES, DEFAULT_AUX_LOSS_WEIGHTS, build_router,
                           expert_group_mask, expert_kind_ranges, merged_loss_weights,
                           token_inputs)
from .losses import UsageRegularizer
from .record import MoERecord, build_record, weighted_aux_losses
from .router import Routing, per_modality_logits
from .spatial_features import KIND_CHANNEL_MULTIPLIER, feature_builder

__all__ = ['AUX_LOSS_NAMES', 'DEFAULT_AUX_LOSS_WEIGHTS', 'MoELayer', 'MoERecord',
           'find_moe_layers']

STAGES = ('dense', 'moe')
# Logit given to experts outside a modality's group: exp() underflows to exactly 0 in fp32,
# while staying finite keeps 0 * log(0)-style terms and logsumexp well defined.
_MASKED_LOGIT = -1e9


@MODELS.register_module()
class MoELayer(nn.Module):
    """Mixture-of-Experts layer over (T, D) tokens, output (T, out_channels).

    Args:
        in_channels: D.
        hidden_channels: F, hidden width of each routed expert.
        num_experts: E routed experts.
        out_channels: output channels (default D).
        router: router config, ``type`` one of the registered routers (TopKRouter,
            NoisyTopKRouter, LaplaceRouter, CosineRouter, ExpertChoiceRouter, SoftMoERouter);
            ``in_channels`` and ``num_experts`` are filled in by the layer.
        expert_kinds: kind per expert (``'ffn'``, ``'local'``, ``'global'``), each kind's
            experts contiguous; default all ``'ffn'``. Spatial kinds need BEV tokens.
        activation: expert activation.
        modalities: names of the modalities with their own router (``modality_ids`` index
            this tuple); None = one router for all tokens.
        expert_groups: ``{modality: expert ids}``: a modality's tokens may only reach these
            experts (MoMa). Needs ``modalities``; groups may overlap.
        num_shared_experts: always-on dense experts of width F each, added for every token.
        capacity_factor: None = dropless (default); else token choice keeps at most
            ``ceil(cf * T*K / E)`` rows per expert in batch-priority order.
        context_bias: ``'off'``, ``'oracle'`` or ``'estimated'`` (context_bias.py).
        aux_loss_weights: weights for ``balance``, ``z``, ``entropy``, ``usage``, ``context``;
            missing keys keep ``DEFAULT_AUX_LOSS_WEIGHTS``, unknown keys are an error.
        usage_momentum: EMA momentum of the usage regulariser.
        generalist_hidden_channels: hidden width of the generalist dense expert; None = none.
            Needed by the fallback and by staged training.
        fallback_threshold: gate-gap threshold below which tokens/samples use the generalist.
        fallback_level: ``'token'`` or ``'sample'``.
        fallback_in_training: apply the fallback in training too (default inference only).
        use_expert_bias: aux-loss-free balancing (DeepSeek-V3): a per-expert bias, updated by
            ``ExpertLoadBiasHook`` from ``tokens_per_expert``, shifts top-k selection only.
        global_pool: block size (cells) of the pooled context of 'global' experts.
        loss_prefix: loss names are ``loss_<prefix>_<name>``; unique per layer in a model.
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_experts: int = 8,
                 out_channels: Optional[int] = None, router: Optional[dict] = None,
                 expert_kinds: Optional[Sequence[str]] = None,
                 activation: Literal['gelu', 'relu', 'silu'] = 'gelu',
                 modalities: Optional[Sequence[str]] = None,
                 expert_groups: Optional[Mapping[str, Sequence[int]]] = None,
                 num_shared_experts: int = 0, capacity_factor: Optional[float] = None,
                 context_bias: Literal['off', 'oracle', 'estimated'] = 'off',
                 aux_loss_weights: Optional[Mapping[str, float]] = None,
                 usage_momentum: float = 0.99,
                 generalist_hidden_channels: Optional[int] = None,
                 fallback_threshold: Optional[float] = None,
                 fallback_level: Literal['token', 'sample'] = 'token',
                 fallback_in_training: bool = False, use_expert_bias: bool = False,
                 global_pool: int = 8, loss_prefix: str = 'moe') -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels or in_channels
        self.num_experts = num_experts
        self.modalities = tuple(modalities) if modalities else ('all',)
        self.capacity_factor = capacity_factor
        self.fallback_threshold = fallback_threshold
        self.fallback_level = fallback_level
        self.fallback_in_training = fallback_in_training
        self.use_expert_bias = use_expert_bias
        self.global_pool = global_pool
        self.loss_prefix = loss_prefix

        self.routers = nn.ModuleList(
            [build_router(router, in_channels, num_experts) for _ in self.modalities])
        if len({type(r) for r in self.routers}) != 1:
            raise ValueError('all modality routers must be of one type')
        self.routing_kind = self.routers[0].kind
        self.slots_per_expert = self.routers[0].slots_per_expert

        kinds = tuple(expert_kinds) if expert_kinds is not None else ('ffn',) * num_experts
        self._kind_ranges = expert_kind_ranges(kinds, num_experts)
        if self.routing_kind == 'soft' and set(kinds) != {'ffn'}:
            raise ValueError("soft MoE mixes tokens into slots, so only 'ffn' experts apply; "
                             f'got expert_kinds={kinds}')
        if capacity_factor is not None and self.routing_kind != 'token_choice':
            raise ValueError('capacity_factor applies to token-choice routers; expert choice '
                             "sets its capacity in the router's config")
        self.expert_kinds = kinds
        self.experts = nn.ModuleDict({
            kind: GroupedFFNExperts(end - start, KIND_CHANNEL_MULTIPLIER[kind] * in_channels,
                                    hidden_channels, self.out_channels, activation)
            for kind, (start, end) in self._kind_ranges.items()})

        top_k = self.routers[0].top_k if self.routing_kind == 'token_choice' else 1
        self.register_buffer(
            'group_mask_ME', expert_group_mask(self.modalities, num_experts, expert_groups, top_k),
            persistent=False)
        self._has_expert_groups = not bool(self.group_mask_ME.all())  # fixed at construction
        self.shared_experts = (DenseFFN(in_channels, hidden_channels * num_shared_experts,
                                        self.out_channels, activation)
                               if num_shared_experts > 0 else None)
        self.context_bias = (ContextBias(len(self.modalities), num_experts, context_bias,
                                         in_channels) if context_bias != 'off' else None)
        self.aux_loss_weights = merged_loss_weights(aux_loss_weights)
        self.usage_regularizer = UsageRegularizer(num_experts, usage_momentum)
        self.generalist = (DenseFFN(in_channels, generalist_hidden_channels, self.out_channels,
                                    activation)
                           if generalist_hidden_channels is not None else None)
        if fallback_threshold is not None and self.generalist is None:
            raise ValueError('fallback_threshold needs generalist_hidden_channels (the dense '
                             'generalist expert the fallback routes to)')
        if fallback_level not in ('token', 'sample'):
            raise ValueError(f"fallback_level must be 'token' or 'sample', got {fallback_level!r}")

        # Load-balance state (torchtitan): usage since the last bias update, and the bias.
        self.register_buffer('tokens_per_expert', torch.zeros(num_experts), persistent=False)
        self.register_buffer('expert_bias', torch.zeros(num_experts), persistent=True)
        # Training stage, saved in checkpoints so a resumed staged run keeps its stage.
        self.register_buffer('dense_stage', torch.tensor(False), persistent=True)
        self._last_stats_fn: Optional[Callable[[], Dict[str, Tensor]]] = None

    @property
    def last_stats(self) -> Dict[str, Tensor]:
        """Statistics sums of the last forward (computed when first read); {} after a reset."""
        return self._last_stats_fn() if self._last_stats_fn is not None else {}

    @last_stats.setter
    def last_stats(self, value: Dict[str, Tensor]) -> None:
        """Only ``layer.last_stats = {}`` (reset, as the statistics hook does) is allowed."""
        if value:
            raise ValueError('last_stats can only be reset (assign {}); it is computed by forward')
        self._last_stats_fn = None

    def __getstate__(self) -> dict:
        # The pending statistics are a closure over the last pass: not picklable, and not
        # state of the layer. A pickled or copied layer starts with none.
        state = super().__getstate__()
        state['_last_stats_fn'] = None
        return state

    # ----------------------------------------------------------------------------- stages
    @property
    def stage(self) -> str:
        """``'dense'`` (generalist only) or ``'moe'``."""
        return 'dense' if bool(self.dense_stage) else 'moe'

    def set_stage(self, stage: Literal['dense', 'moe']) -> None:
        """Switch between the dense warm-up stage and routed MoE (see upcycle.py)."""
        if stage not in STAGES:
            raise ValueError(f'stage must be one of {STAGES}, got {stage!r}')
        if stage == 'dense' and self.generalist is None:
            raise ValueError('the dense stage trains the generalist; set '
                             'generalist_hidden_channels')
        self.dense_stage.fill_(stage == 'dense')

    # ----------------------------------------------------------------------------- forward
    def forward_bev(self, x_BCHW: Tensor, valid_BHW: Optional[Tensor] = None,
                    context_ids: Optional[Mapping[str, Tensor]] = None,
                    modality_id: int = 0) -> Tuple[Tensor, MoERecord]:
        """Route the cells of one BEV map: (B, C, H, W) -> (B, C_out, H, W)."""
        b, _, h, w = x_BCHW.shape
        x_TD, sample_ids = bev_to_tokens(x_BCHW)
        modality_ids = torch.full_like(sample_ids, modality_id)
        valid = valid_BHW.reshape(-1) if valid_BHW is not None else None
        y_TD, record = self(x_TD, modality_ids=modality_ids, context_ids=context_ids,
                            sample_ids=sample_ids, valid_mask=valid, spatial_shape=(b, h, w))
        return tokens_to_bev(y_TD, b, h, w), record

    def forward_maps(self, maps: Mapping[str, Tuple[Tensor, Tensor]],
                     context_ids: Optional[Mapping[str, Tensor]] = None
                     ) -> Tuple[Dict[str, Tensor], MoERecord]:
        """Route the cells of several modality BEV maps on one grid in one call.

        Args:
            maps: ``{modality: (map (B, C, H, W), present (B,) bool)}`` as in DESIGN.md "BEV
                features"; with ``modalities`` set, names must be among them (their router is
                used), otherwise any names share the single router.
            context_ids: ``{factor: (B,)}`` per-sample context ids.
        Returns:
            ``({modality: (B, C_out, H, W)}, record)``. Tokens are ordered modality-major, then
            (b, h, w); an absent modality's cells are not routed and come out as zeros. Local and
            global experts see each (modality, sample) map on its own.
        """
        x_TD, modality_ids, sample_ids, valid, (b, h, w) = maps_to_tokens(maps, self.modalities)
        names = list(maps)
        y_TD, record = self(x_TD, modality_ids=modality_ids, context_ids=context_ids,
                            sample_ids=sample_ids, valid_mask=valid,
                            spatial_shape=(len(names) * b, h, w))
        return tokens_to_maps(y_TD, names, b, h, w), record

    def forward(self, x_TD: Tensor, modality_ids: Optional[Tensor] = None,
                context_ids: Optional[Mapping[str, Tensor]] = None,
                sample_ids: Optional[Tensor] = None, valid_mask: Optional[Tensor] = None,
                spatial_shape: Optional[Tuple[int, int, int]] = None
                ) -> Tuple[Tensor, MoERecord]:
        """Route tokens.

        Args:
            x_TD: (T, D) tokens.
            modality_ids: (T,) int64 index into ``modalities``; None = all modality 0.
            context_ids: ``{'lighting': (B,), 'weather': (B,)}`` int64 per-sample ids from
                ``fusion_moe.structures.context.context_to_ids``.
            sample_ids: (T,) int64 sample of each token in [0, B); None = one sample.
            valid_mask: (T,) bool; invalid tokens (padding, empty cells) are not routed and
                get zero output.
            spatial_shape: (B, H, W) when tokens are BEV cells (needed by local/global experts).
        Returns:
            ``(y_TD, record)``: y (T, out_channels) in the activation dtype, the routing record.
        """
        modality_ids, sample_ids, num_samples, valid_T = token_inputs(
            x_TD, self.in_channels, len(self.modalities), modality_ids, sample_ids,
            context_ids, valid_mask)
        if self.stage == 'dense':
            return self._forward_dense(x_TD, valid_T)

        logits_TL = per_modality_logits(self.routers, x_TD, modality_ids)
        # One reduction on the hot path; the per-row search only runs when something is wrong.
        if not math.isfinite(float(logits_TL.detach().sum())):
            finite_T = torch.isfinite(logits_TL).all(dim=1)
            bad = torch.nonzero(~finite_T).squeeze(1)[:5].tolist()
            raise ValueError(f'MoELayer({self.loss_prefix}): non-finite router logits for '
                             f'{int((~finite_T).sum())} token(s), e.g. rows {bad}; the input '
                             'tokens contain NaN/inf (check the encoder feeding this layer)')
        aux_raw: Dict[str, Tensor] = {}
        ctx_used = dict(context_ids or {})
        if self.context_bias is not None:
            bias_TE, ctx_losses, ctx_used = self.context_bias(
                x_TD, modality_ids, sample_ids, num_samples, context_ids, valid_T)
            if bias_TE is not None:  # None when switched off (tools/robustness.py --context-mode)
                logits_TL = logits_TL + self._per_slot(bias_TE)
            aux_raw.update({k.replace('loss_', ''): v for k, v in ctx_losses.items()})
        if self._has_expert_groups:
            allowed_TL = self._per_slot(self.group_mask_ME[modality_ids])
            logits_TL = logits_TL.masked_fill(~allowed_TL, _MASKED_LOGIT)

        router = self.routers[0]
        selection_bias = self.expert_bias if self.use_expert_bias else None
        all_valid = valid_mask is None or bool(valid_T.all())
        routing = router.route(logits_TL, sample_ids, None if all_valid else valid_T,
                               selection_bias)
        use_fallback = self.fallback_threshold is not None and (
            not self.training or self.fallback_in_training)
        # The gate gap drives the fallback; otherwise only the (lazy) statistics need it.
        gap_T = routing_gate_gap(routing) if use_fallback else None
        fallback_T = None
        if use_fallback:
            fallback_T = fallback_mask(gap_T, self.fallback_threshold, self.fallback_level,
                                       sample_ids, num_samples, valid_T)
        any_fallback = use_fallback and bool(fallback_T.any())
        routed_T = valid_T & ~fallback_T if any_fallback else valid_T
        # None = every token is routed: lets the hot path skip boolean-mask copies.
        routed_mask = None if all_valid and not any_fallback else routed_T
        if any_fallback and routing.kind != 'token_choice':
            routing = router.route(logits_TL, sample_ids, routed_T, selection_bias)

        y_TD, load_E, num_dropped = self._run_experts(
            x_TD, routing, routed_mask, sample_ids, num_samples, spatial_shape)
        if any_fallback:
            fb_ids = torch.nonzero(fallback_T).squeeze(1)
            y_TD = y_TD.index_put((fb_ids,), self.generalist(x_TD[fb_ids]).to(y_TD.dtype))
        if self.shared_experts is not None:
            y_TD = y_TD + self.shared_experts(x_TD).to(y_TD.dtype)
        if not all_valid:
            y_TD = y_TD * valid_T[:, None].to(y_TD.dtype)

        aux_losses = weighted_aux_losses(aux_raw, self.aux_loss_weights, self.loss_prefix,
                                         routing, logits_TL, routed_mask, load_E, num_dropped,
                                         self.usage_regularizer, self.training)
        if self.training:
            self.tokens_per_expert += load_E.to(self.tokens_per_expert)
        record = build_record(routing, logits_TL, aux_losses, fallback_T=fallback_T,
                              any_fallback=any_fallback, gap_T=gap_T,
                              valid_T=None if all_valid else valid_T, routed_T=routed_mask,
                              num_dropped=num_dropped, load_E=load_E, sample_ids_T=sample_ids,
                              context_ids=context_ids, context_used=ctx_used)
        self._last_stats_fn = record.stats_fn
        return y_TD, record

    # ----------------------------------------------------------------------------- helpers
    def _per_slot(self, t_TE: Tensor) -> Tensor:
        """(T, E) -> (T, E*S): repeat each expert's column over its slots."""
        if self.slots_per_expert == 1:
            return t_TE
        return t_TE.repeat_interleave(self.slots_per_expert, dim=1)

    def _forward_dense(self, x_TD: Tensor, valid_T: Tensor) -> Tuple[Tensor, MoERecord]:
        y_TD = self.generalist(x_TD)
        if self.shared_experts is not None:
            y_TD = y_TD + self.shared_experts(x_TD)
        if not bool(valid_T.all()):
            y_TD = y_TD * valid_T[:, None].to(y_TD.dtype)
        self.last_stats = {}
        return y_TD, MoERecord(experts=None, gates=None, probs=None, logits=None)

    def _run_experts(self, x_TD: Tensor, routing: Routing, routed_T: Optional[Tensor],
                     sample_ids: Tensor, num_samples: int,
                     spatial_shape: Optional[Tuple[int, int, int]]) -> Tuple[Tensor, Tensor, int]:
        """Returns ``(y_TD, expert_load_E, num_dropped)`` (expert_paths.py)."""
        if routing.kind == 'token_choice':
            return run_token_choice(self.experts, self._kind_ranges, x_TD, routing, routed_T,
                                    self.num_experts, self.capacity_factor, spatial_shape,
                                    self.global_pool)
        if routing.kind == 'expert_choice':
            return run_expert_choice(self.experts, self._kind_ranges, x_TD, routing,
                                     self.num_experts, spatial_shape, self.global_pool)
        return run_soft(self.experts['ffn'], x_TD, routing, sample_ids, num_samples,
                        self.num_experts, self.slots_per_expert)

    # ----------------------------------------------------------------------------- reference
    def reference_forward(self, x_TD: Tensor, experts_TK: Tensor, gates_TK: Tensor,
                          valid_T: Optional[Tensor] = None,
                          spatial_shape: Optional[Tuple[int, int, int]] = None) -> Tensor:
        """Readable per-expert loop computing the routed part of the output for a given
        token-choice assignment (no capacity); the sorted fast path must match it."""
        def expert_fn(e: int, token_ids: Tensor) -> Tensor:
            kind = self.expert_kinds[e]
            start = self._kind_ranges[kind][0]
            features = feature_builder(kind, x_TD, spatial_shape, self.global_pool)(token_ids)
            return self.experts[kind].forward_expert(e - start, features)
        return reference_token_choice(x_TD, experts_TK, gates_TK, expert_fn, self.num_experts,
                                      self.out_channels, valid_T)

    def expert_modules(self) -> List[Tuple[str, GroupedFFNExperts, int]]:
        """``(kind, experts, first global expert id)`` for every expert kind."""
        return [(kind, self.experts[kind], start)
                for kind, (start, _) in self._kind_ranges.items()]


def find_moe_layers(model: nn.Module) -> List[Tuple[str, MoELayer]]:
    """``(qualified name, layer)`` of every :class:`MoELayer` in ``model`` (DDP wrappers are
    unwrapped, so names match the bare model's ``state_dict``)."""
    model = getattr(model, 'module', model)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, MoELayer)]
